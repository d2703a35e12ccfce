/* The credential a request carries. Header values are untrusted: every
 * read is bounded by the lengths given, nothing is copied. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "bulwark/credential.h"

static bool is_token_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

static bool token_ok(const char *p, size_t len)
{
    if (len == 0 || len > BW_CREDENTIAL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_token_char((unsigned char)p[i]))
            return false;
    }
    return true;
}

int bw_credential_cookie(const char *cookie, size_t clen, const char *name, const char **value,
                         size_t *vlen)
{
    size_t nlen = strlen(name), i = 0;
    int found = 0;

    *value = NULL;
    *vlen = 0;
    while (i < clen) {
        size_t start, end, eq;

        while (i < clen && (cookie[i] == ' ' || cookie[i] == '\t'))
            i++;
        start = i;
        while (i < clen && cookie[i] != ';')
            i++;
        end = i;
        if (i < clen)
            i++; /* the ';' */
        /* Spaces and tabs around a pair are whitespace; any control byte
         * inside one makes the whole header malformed. */
        while (end > start && (cookie[end - 1] == ' ' || cookie[end - 1] == '\t'))
            end--;
        for (size_t k = start; k < end; k++) {
            unsigned char ch = (unsigned char)cookie[k];
            if (ch < 0x20 || ch == 0x7f)
                return -1;
        }
        for (eq = start; eq < end && cookie[eq] != '='; eq++)
            ;
        /* A pair without '=' names nothing we look for. */
        if (eq == end || eq - start != nlen || memcmp(cookie + start, name, nlen) != 0)
            continue;
        if (found)
            return -1; /* two session cookies: which one a proxy saw is unknowable */
        found = 1;
        *value = cookie + eq + 1;
        *vlen = end - eq - 1;
        if (*vlen >= 2 && (*value)[0] == '"' && (*value)[*vlen - 1] == '"') {
            (*value)++;
            *vlen -= 2;
        }
    }
    return found;
}

void bw_credential_parse(const char *authorization, size_t alen, const char *cookie, size_t clen,
                         bw_credential *out)
{
    static const char scheme[] = "Bearer ";
    const size_t slen = sizeof(scheme) - 1;

    out->kind = BW_CREDENTIAL_NONE;
    out->token = NULL;
    out->len = 0;
    if (authorization != NULL) {
        if (alen <= slen || strncasecmp(authorization, scheme, slen - 1) != 0 ||
            authorization[slen - 1] != ' ' || !token_ok(authorization + slen, alen - slen)) {
            out->kind = BW_CREDENTIAL_BAD;
            return;
        }
        out->kind = BW_CREDENTIAL_BEARER;
        out->token = authorization + slen;
        out->len = alen - slen;
        return;
    }
    if (cookie != NULL) {
        const char *v;
        size_t vlen;
        int rc = bw_credential_cookie(cookie, clen, BW_SESSION_COOKIE, &v, &vlen);

        if (rc == 0)
            return;
        if (rc < 0 || !token_ok(v, vlen)) {
            out->kind = BW_CREDENTIAL_BAD;
            return;
        }
        out->kind = BW_CREDENTIAL_COOKIE;
        out->token = v;
        out->len = vlen;
    }
}
