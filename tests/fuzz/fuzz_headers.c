/* Fuzzes the header-facing code with attacker-controlled bytes:
 *  - bw_http_token_valid / bw_http_header_value_valid against an independent reading of
 *    the grammar;
 *  - bw_cors_check (allowlist with credentials, and "*") as a request with random method,
 *    Origin, Access-Control-Request-Method and -Headers: every header it emits must be a
 *    valid name/value, ACAO must echo an allowed origin byte for byte, a preflight answer
 *    needs OPTIONS and a request method;
 *  - bw_header_policy_set/remove with random route, name and value: accepted only if
 *    valid, and the resulting lists hold only valid headers;
 *  - bw_log with random keys and values: exactly one line of valid JSON, no raw control
 *    bytes.
 * Input: byte 0 is flags, the rest is split on '\n' into method, origin, acrm, acrh. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulwark/cors.h"
#include "bulwark/headers.h"
#include "bulwark/http.h"
#include "bulwark/log.h"

#define FUZZ_MAX_BYTES 8192
#define NPARTS 4

static bw_cors *g_list, *g_any;
static int g_logfd = -1;

static const char *const ORIGINS[] = {"https://app.example.com", "http://localhost:8080", "null"};
static const char *const METHODS[] = {"GET", "PUT", "DELETE"};
static const char *const HEADERS[] = {"content-type", "X-CSRF-Token"};
static const char *const STAR[] = {"*"};

static bool ref_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && memchr("!#$%&'*+-.^_`|~", c, 15) != NULL);
}

static bool ref_token(const unsigned char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!ref_tchar(p[i]))
            return false;
    }
    return true;
}

static bool ref_value(const unsigned char *p, size_t n)
{
    if (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7F)
            return false;
    }
    return true;
}

static void check_grammar(const uint8_t *p, size_t n)
{
    if (bw_http_token_valid((const char *)p, n) != ref_token(p, n))
        abort();
    if (bw_http_header_value_valid((const char *)p, n) != ref_value(p, n))
        abort();
}

static void init_once(void)
{
    if (g_list != NULL)
        return;
    g_logfd = memfd_create("fuzz_headers_log", 0);
    if (g_logfd < 0)
        abort();
    bw_log_set_fd(g_logfd);
    bw_cors_config c = {.enabled = true,
                        .origins = ORIGINS,
                        .norigins = 3,
                        .allow_credentials = true,
                        .methods = METHODS,
                        .nmethods = 3,
                        .headers = HEADERS,
                        .nheaders = 2,
                        .max_age = 600};
    g_list = bw_cors_new(&c, NULL, 0);
    c.origins = STAR;
    c.norigins = 1;
    c.allow_credentials = false;
    g_any = bw_cors_new(&c, NULL, 0);
    if (g_list == NULL || g_any == NULL)
        abort();
}

static void check_cors(const bw_cors *c, bool any, const char *const *part, const size_t *len,
                       uint8_t flags)
{
    bw_header_kv out[BW_CORS_MAX_HEADERS];
    size_t nout = 0;
    char buf[BW_CORS_BUF_SIZE];
    /* Small buffers too: they must fail closed, never overrun. */
    size_t buflen = (flags & 8) ? (size_t)(flags >> 4) * 8 : sizeof(buf);
    const char *acrm = (flags & 2) ? part[2] : NULL;
    const char *acrh = (flags & 4) ? part[3] : NULL;
    bw_cors_result r = bw_cors_check(c, part[0], len[0], (flags & 1) ? part[1] : NULL, len[1], acrm,
                                     len[2], acrh, len[3], buf, buflen, out, &nout);
    if (nout > BW_CORS_MAX_HEADERS)
        abort();
    if (!(flags & 1) && (r != BW_CORS_NOT_CORS || nout != 0))
        abort();
    bool preflight = acrm != NULL && len[0] == 7 && memcmp(part[0], "OPTIONS", 7) == 0;
    if ((r == BW_CORS_PREFLIGHT_OK || r == BW_CORS_PREFLIGHT_DENIED) && !preflight)
        abort();
    if ((r == BW_CORS_ALLOWED || r == BW_CORS_DENIED) && preflight)
        abort();
    const char *acao = NULL;
    for (size_t i = 0; i < nout; i++) {
        if (!bw_http_token_valid(out[i].name, strlen(out[i].name)) ||
            !bw_http_header_value_valid(out[i].value, strlen(out[i].value)))
            abort();
        if (strcmp(out[i].name, "Access-Control-Allow-Origin") == 0)
            acao = out[i].value;
    }
    bool granted = r == BW_CORS_ALLOWED || r == BW_CORS_PREFLIGHT_OK;
    if (granted != (acao != NULL))
        abort();
    if (granted && any && strcmp(acao, "*") != 0)
        abort();
    if (granted && !any) {
        bool listed = false;
        for (size_t i = 0; i < sizeof(ORIGINS) / sizeof(ORIGINS[0]); i++)
            listed |= strlen(ORIGINS[i]) == len[1] && memcmp(ORIGINS[i], part[1], len[1]) == 0;
        if (!listed || strlen(acao) != len[1] || memcmp(acao, part[1], len[1]) != 0)
            abort();
    }
}

/* Copies p[0..n) up to the first NUL: the policy API takes C strings. */
static char *cstr(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static bool is_framing(const char *name)
{
    static const char *const f[] = {"content-length", "transfer-encoding", "connection",
                                    "keep-alive",     "upgrade",           "te",
                                    "trailer"};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (strcasecmp(name, f[i]) == 0)
            return true;
    }
    return false;
}

static void check_policy(const char *const *part, const size_t *len, uint8_t flags)
{
    bw_header_policy *p = bw_header_policy_new();
    if (p == NULL)
        abort();
    char *route = cstr(part[0], len[0]), *name = cstr(part[1], len[1]);
    char *value = cstr(part[2], len[2]);
    const char *r = (flags & 16) ? route : NULL;
    char err[128];
    bool want =
        (r == NULL || r[0] != '\0') && bw_http_token_valid(name, strlen(name)) && !is_framing(name);
    int rc;
    if (flags & 32) {
        rc = bw_header_policy_remove(p, r, name, err, sizeof(err));
    } else {
        want = want && bw_http_header_value_valid(value, strlen(value));
        rc = bw_header_policy_set(p, r, name, value, err, sizeof(err));
    }
    if ((rc == 0) != want)
        abort();
    const bw_header_kv *l;
    size_t n = bw_header_policy_for(p, r, &l);
    for (size_t i = 0; i < n; i++) {
        if (!bw_http_token_valid(l[i].name, strlen(l[i].name)) ||
            !bw_http_header_value_valid(l[i].value, strlen(l[i].value)))
            abort();
    }
    bw_header_policy_free(p);
    free(route);
    free(name);
    free(value);
}

static void check_log(const char *const *part, const size_t *len)
{
    if (ftruncate(g_logfd, 0) != 0 || lseek(g_logfd, 0, SEEK_SET) != 0)
        abort();
    char *key = cstr(part[1], len[1]), *nul_terminated = cstr(part[2], len[2]);
    bw_log_field f[] = {BW_LOG_SN("v", part[0], len[0]), BW_LOG_S(key, nul_terminated),
                        BW_LOG_SN("w", part[3], len[3]), BW_LOG_I("n", (long long)len[0])};
    bw_log(BW_LOG_ERROR, key, f, sizeof(f) / sizeof(f[0]));
    free(key);
    free(nul_terminated);
    char line[4097];
    ssize_t got = pread(g_logfd, line, sizeof(line), 0);
    if (got < 2 || got > 4096 || line[got - 1] != '\n')
        abort();
    for (ssize_t i = 0; i + 1 < got; i++) {
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] == 0x7F)
            abort();
    }
    json_t *j = json_loadb(line, (size_t)got - 1, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(j))
        abort();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_BYTES)
        return 0;
    init_once();
    uint8_t flags = data[0];
    const char *rest = (const char *)data + 1;
    size_t rlen = size - 1;
    check_grammar(data + 1, rlen);

    /* Split the rest on '\n' into up to NPARTS parts; the last takes what remains. */
    const char *part[NPARTS];
    size_t len[NPARTS];
    size_t at = 0;
    for (int i = 0; i < NPARTS; i++) {
        const char *nl = i < NPARTS - 1 ? memchr(rest + at, '\n', rlen - at) : NULL;
        size_t end = nl != NULL ? (size_t)(nl - rest) : rlen;
        part[i] = rest + at;
        len[i] = end - at;
        at = nl != NULL ? end + 1 : rlen;
        check_grammar((const uint8_t *)part[i], len[i]);
    }
    check_cors(g_list, false, part, len, flags);
    check_cors(g_any, true, part, len, flags);
    check_policy(part, len, flags);
    check_log(part, len);
    return 0;
}
