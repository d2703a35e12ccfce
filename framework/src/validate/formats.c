/* bw_format_check dispatch, plus the formats too small for a file of their own: uuid,
 * json-pointer and the UTF-8 well-formedness check the others share. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bulwark/format.h"
#include "bulwark/text.h"
#include "format_internal.h"

#define UUID_LEN 36

/* 8-4-4-4-12 hex digits. */
static bool uuid(const char *s, size_t len)
{
    if (len != UUID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

/* RFC 6901: empty, or "/"-prefixed reference tokens in which '~' is followed by '0' or '1'. */
static bool json_pointer(const char *s, size_t len)
{
    if (len > 0 && s[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '~' && (i + 1 == len || (s[i + 1] != '0' && s[i + 1] != '1')))
            return false;
    return bw_utf8_valid((const unsigned char *)s, len);
}

typedef struct format_entry {
    const char *name;
    bool (*check)(const char *s, size_t len);
} format_entry;

static const format_entry formats[] = {
    {"date-time", bw_format_date_time},
    {"date", bw_format_date},
    {"time", bw_format_time},
    {"duration", bw_format_duration},
    {"email", bw_format_email},
    {"hostname", bw_format_hostname},
    {"ipv4", bw_format_ipv4},
    {"ipv6", bw_format_ipv6},
    {"uuid", uuid},
    {"uri", bw_format_uri},
    {"uri-reference", bw_format_uri_reference},
    {"json-pointer", json_pointer},
    {"regex", bw_format_regex},
};

static const format_entry *find(const char *format)
{
    if (format == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(format, formats[i].name) == 0)
            return &formats[i];
    return NULL;
}

bool bw_format_known(const char *format)
{
    return find(format) != NULL;
}

bool bw_format_check(const char *format, const char *s, size_t len)
{
    const format_entry *f = find(format);

    if (f == NULL)
        return true;
    if (s == NULL)
        return len == 0 && f->check("", 0);
    return f->check(s, len);
}
