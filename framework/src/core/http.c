/* HTTP syntax helpers; see http.h. */
#include "bulwark/http.h"

#include <sodium.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_ID_MIN 16
#define REQUEST_ID_MAX 64

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool bw_http_token_valid(const char *p, size_t len)
{
    if (p == NULL || len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)p[i]))
            return false;
    }
    return true;
}

bool bw_http_header_value_valid(const char *p, size_t len)
{
    if (len == 0)
        return true;
    if (p == NULL)
        return false;
    if (p[0] == ' ' || p[0] == '\t' || p[len - 1] == ' ' || p[len - 1] == '\t')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return false;
    }
    return true;
}

const char *bw_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

bool bw_http_request_id_valid(const char *p, size_t len)
{
    if (p == NULL || len < REQUEST_ID_MIN || len > REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-'))
            return false;
    }
    return true;
}

/* Request ids need to be unpredictable, not secret: each thread draws 4 KiB
 * from the system at a time (one getrandom per 256 ids, not one per
 * request) and wipes what it used. The pool lives on the heap, not in
 * thread-local storage: glibc carves static TLS out of each thread's stack,
 * and CivetWeb's 100 KiB worker stacks leave wolfSSL's ECDSA signing little
 * room to spare. */
#define BW_ID_POOL 4096

typedef struct id_pool {
    size_t used;
    unsigned char bytes[BW_ID_POOL];
} id_pool;

static pthread_key_t id_pool_key;
static pthread_once_t id_pool_once = PTHREAD_ONCE_INIT;
static int id_pool_key_ok;

static void id_pool_free(void *p)
{
    sodium_memzero(p, sizeof(id_pool));
    free(p);
}

static void id_pool_init(void)
{
    id_pool_key_ok = pthread_key_create(&id_pool_key, id_pool_free) == 0;
}

static id_pool *thread_pool(void)
{
    id_pool *p;

    if (pthread_once(&id_pool_once, id_pool_init) != 0 || !id_pool_key_ok)
        return NULL;
    p = pthread_getspecific(id_pool_key);
    if (p == NULL) {
        p = malloc(sizeof(*p));
        if (p == NULL || pthread_setspecific(id_pool_key, p) != 0) {
            free(p);
            return NULL;
        }
        p->used = BW_ID_POOL;
    }
    return p;
}

void bw_http_request_id_new(char out[33])
{
    id_pool *p = thread_pool();
    unsigned char direct[16], *raw = direct;

    if (p != NULL) {
        if (p->used + 16 > BW_ID_POOL) {
            randombytes_buf(p->bytes, sizeof(p->bytes));
            p->used = 0;
        }
        raw = p->bytes + p->used;
        p->used += 16;
    } else {
        randombytes_buf(direct, sizeof(direct));
    }
    /* Cannot fail: 33 bytes is exactly 2 * 16 + 1. */
    (void)sodium_bin2hex(out, 33, raw, 16);
    sodium_memzero(raw, 16);
}

bool bw_http_method_safe(const char *m, size_t len)
{
    static const struct {
        const char *name;
        size_t len;
    } safe[] = {{"GET", 3}, {"HEAD", 4}, {"OPTIONS", 7}, {"TRACE", 5}};
    if (m == NULL)
        return false;
    for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
        if (len == safe[i].len && memcmp(m, safe[i].name, len) == 0)
            return true;
    }
    return false;
}
