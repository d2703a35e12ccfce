/* Fuzzes the rate limiter's policy parser, its header formatters and the GCRA on one key:
 *  - bw_ratelimit_policy_parse accepts exactly what an independent reading of the grammar
 *    accepts ("<digits>/<unit>", no leading zero, 1..BW_RATELIMIT_RATE_MAX, known units, burst
 *    bounds), and what it accepts has T = ceil(period / rate), tau = T * (burst - 1);
 *  - bw_ratelimit_format_policy / _state write a structured-field String that unescapes to the
 *    name, then exactly the parameters, or refuse names that are not 1..64 printable bytes;
 *  - a sequence of checks at fuzzed times (forwards and backwards, up to the 2^62 cap) never
 *    admits more than burst + (latest - earliest) / T, and every result keeps its promises:
 *    remaining > 0 means the next check at the same or a later time is allowed, retry_after
 *    says exactly when the next one will be.
 * Input: 3 bytes of burst, the policy text up to '\n', then one byte per check (time step). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/ratelimit.h"

#define S_NS 1000000000ull
#define TIME_CAP ((uint64_t)1 << 62)
#define MAX_STEPS 512

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ratelimit_policy: %s\n", what);
    abort();
}

/* The grammar, read independently: returns true and the fields when text is a policy. */
static bool ref_parse(const uint8_t *t, size_t n, uint64_t burst_in, uint64_t *T, uint64_t *tau,
                      uint64_t *rate, uint64_t *period)
{
    static const struct {
        const char *u;
        uint64_t s;
    } units[] = {{"s", 1},    {"sec", 1},     {"second", 1}, {"min", 60},   {"minute", 60},
                 {"h", 3600}, {"hour", 3600}, {"d", 86400},  {"day", 86400}};
    size_t i = 0;
    uint64_t r = 0, b;

    while (i < n && t[i] >= '0' && t[i] <= '9') {
        if (i == 0 && t[i] == '0')
            return false;
        if (r > BW_RATELIMIT_RATE_MAX)
            return false;
        r = r * 10 + (uint64_t)(t[i] - '0');
        i++;
    }
    if (i == 0 || i == n || t[i] != '/' || r == 0 || r > BW_RATELIMIT_RATE_MAX)
        return false;
    i++;
    *period = 0;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (strlen(units[u].u) == n - i && memcmp(units[u].u, t + i, n - i) == 0)
            *period = units[u].s;
    }
    if (*period == 0)
        return false;
    b = burst_in == 0 ? r : burst_in;
    if (b > BW_RATELIMIT_BURST_MAX)
        return false;
    *T = (*period * S_NS + r - 1) / r;
    if ((unsigned __int128)*T * b > TIME_CAP)
        return false;
    *tau = *T * (b - 1);
    *rate = r;
    return true;
}

/* Checks out[0..len) == "\"" escaped(name) "\"" ";a=x;b=y". */
static void check_field(const char *out, int len, const uint8_t *name, size_t nlen, char a,
                        uint64_t x, char b, uint64_t y)
{
    char tail[64];
    size_t i = 1, k = 0;
    int m;

    if (len <= 0 || (size_t)len != strlen(out) || len >= BW_RATELIMIT_FIELD_SIZE || out[0] != '"')
        fail("field shape");
    while (out[i] != '"') {
        char c = out[i];

        if (c == '\0' || (unsigned char)c < 0x20 || (unsigned char)c > 0x7e)
            fail("field byte");
        if (c == '\\') {
            c = out[++i];
            if (c != '"' && c != '\\')
                fail("bad escape");
        }
        if (k >= nlen || (uint8_t)c != name[k])
            fail("name differs");
        k++;
        i++;
    }
    if (k != nlen)
        fail("name cut");
    m = snprintf(tail, sizeof(tail), ";%c=%llu;%c=%llu", a, (unsigned long long)x, b,
                 (unsigned long long)y);
    if (m < 0 || strcmp(out + i + 1, tail) != 0)
        fail("parameters differ");
}

static bool name_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n > BW_RATELIMIT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    }
    return true;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static void run_checks(const bw_rate_policy *p, const uint8_t *steps, size_t nsteps)
{
    bw_ratelimit *rl = bw_ratelimit_new(1, NULL, 0);
    const uint64_t T = p->interval_ns;
    uint64_t now = 5 * S_NS, lo = now, hi = now, allowed = 0, prev_now = 0;
    bw_rate_result prev = {0};
    bool have_prev = false;
    char buf[BW_RATELIMIT_FIELD_SIZE];

    if (rl == NULL)
        fail("new");
    for (size_t i = 0; i < nsteps && i < MAX_STEPS; i++) {
        int8_t s = (int8_t)steps[i];
        uint64_t step = T / 8 * (uint64_t)(s < 0 ? -(int)s : s) + (uint64_t)(s & 7);
        uint64_t capped;
        bw_rate_result r;

        if (s == -128)
            now = UINT64_MAX - steps[i]; /* far beyond the cap */
        else if (s < 0)
            now = now > step ? now - step : 0;
        else
            now = now + step < now ? UINT64_MAX : now + step;
        capped = min_u64(now, TIME_CAP);
        if (bw_ratelimit_check(rl, p, "k", 1, now, &r) != 0)
            fail("check failed");
        lo = min_u64(capped, lo);
        hi = max_u64(capped, hi);
        allowed += r.allowed;
        if (allowed > p->burst + (hi - lo) / T)
            fail("more than the policy allows");
        if (r.remaining > p->burst || (r.retry_after_ns == 0) != (r.remaining > 0) ||
            (!r.allowed && r.remaining != 0) || r.reset_ns < r.retry_after_ns)
            fail("inconsistent result");
        if (have_prev && capped >= prev_now) {
            bool due = capped - prev_now >= prev.retry_after_ns;

            if (r.allowed != due)
                fail("retry_after / remaining promise broken");
        }
        int n = bw_ratelimit_format_state("default", 7, p, &r, buf, sizeof(buf));
        uint64_t t = r.remaining > 0 ? r.reset_ns + r.remaining * T : r.retry_after_ns;

        /* r / t at most the policy's rate; while something remains, t at most burst * T (with
         * nothing left, t is the wait, which a clock gone backwards can make longer) */
        if (r.remaining * T > t || (r.remaining > 0 && t > p->burst * T))
            fail("effective window");
        check_field(buf, n, (const uint8_t *)"default", 7, 'r', r.remaining, 't',
                    t / S_NS + (t % S_NS != 0));
        prev = r;
        prev_now = capped;
        have_prev = true;
    }
    bw_ratelimit_free(rl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *text, *nl;
    size_t tlen;
    unsigned burst;
    uint64_t T, tau, rate, period;
    bw_rate_policy p;
    bool ok, ref;
    char buf[BW_RATELIMIT_FIELD_SIZE];
    int n;

    if (size < 3)
        return 0;
    burst = (unsigned)(data[0] | data[1] << 8 | data[2] << 16) % (BW_RATELIMIT_BURST_MAX + 2);
    text = data + 3;
    nl = memchr(text, '\n', size - 3);
    tlen = nl != NULL ? (size_t)(nl - text) : size - 3;

    memset(&p, 0, sizeof(p));
    ok = bw_ratelimit_policy_parse((const char *)text, tlen, burst, &p, buf, sizeof(buf)) == 0;
    ref = ref_parse(text, tlen, burst, &T, &tau, &rate, &period);
    if (ok != ref)
        fail(ok ? "accepted what the grammar refuses" : "refused a valid policy");
    if (!ok)
        return 0;
    if (p.interval_ns != T || p.tolerance_ns != tau || p.rate != rate || p.period_s != period ||
        p.burst != (burst == 0 ? rate : burst))
        fail("fields differ");

    /* the policy text doubles as a header name */
    n = bw_ratelimit_format_policy((const char *)text, tlen, &p, buf, sizeof(buf));
    if ((n >= 0) != name_ok(text, tlen))
        fail("name acceptance");
    if (n >= 0)
        check_field(buf, n, text, tlen, 'q', p.rate, 'w', p.period_s);

    if (nl != NULL)
        run_checks(&p, nl + 1, size - (size_t)(nl + 1 - data));
    return 0;
}
