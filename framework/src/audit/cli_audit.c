/* `audit`: the audit trail from the command line (docs/audit-store.md).
 *
 *   audit verify                      walk the chain; exit 0 intact, 1 broken, 2 error
 *   audit tail [-n N]                 the last N records (default 20), oldest first
 *   audit search [--event E|PREFIX.*] [--actor A] [--since T] [--until T] [--limit N]
 *                [--before SEQ]       matching records, newest first
 *
 * T is Unix seconds or YYYY-MM-DDTHH:MM:SSZ. Records print as JSON lines (the export format).
 * The shared option parser hands these flags over as positional pairs. `verify` appends an
 * "audit.verify" record with its result, so checks leave a trace in the chain they check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/audit.h"
#include "bulwark/cli.h"
#include "bulwark/config.h"
#include "bulwark/secret.h"

#define TAIL_DEFAULT 20
#define SEARCH_DEFAULT 50
#define QUERY_MAX 1000
/* 9999-12-31T23:59:59Z */
#define UNIX_MAX 253402300799LL

static const char usage_text[] =
    "usage: audit verify | tail [-n N] | search [--event E|PREFIX.*] [--actor A]\n"
    "       [--since T] [--until T] [--limit N] [--before SEQ]\n"
    "       (T: Unix seconds or YYYY-MM-DDTHH:MM:SSZ)\n";

/* A decimal number in [lo, hi]; -1 otherwise. */
static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* T: Unix seconds, or YYYY-MM-DDTHH:MM:SSZ (UTC); into milliseconds. */
static int parse_time(const char *s, long long *ms)
{
    struct tm tm, back;
    long long secs;
    time_t t;

    if (parse_num(s, 0, UNIX_MAX, &secs) == 0) {
        *ms = secs * 1000;
        return 0;
    }
    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = digits(s, 4);
    tm.tm_mon = digits(s + 5, 2);
    tm.tm_mday = digits(s + 8, 2);
    tm.tm_hour = digits(s + 11, 2);
    tm.tm_min = digits(s + 14, 2);
    tm.tm_sec = digits(s + 17, 2);
    if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
        tm.tm_sec < 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    back = tm;
    t = timegm(&tm);
    /* timegm normalises 02-30 into 03-02: a date that changed was not a real one. */
    if (t < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year != back.tm_year ||
        tm.tm_mon != back.tm_mon || tm.tm_mday != back.tm_mday || tm.tm_hour != back.tm_hour ||
        tm.tm_min != back.tm_min || tm.tm_sec != back.tm_sec)
        return -1;
    *ms = (long long)t * 1000;
    return 0;
}

static int print_records(const bw_audit_record *r, int n, int oldest_first)
{
    static char line[BW_AUDIT_JSON_MAX];
    int i;

    for (i = 0; i < n; i++) {
        const bw_audit_record *rec = &r[oldest_first ? n - 1 - i : i];

        if (bw_audit_record_json(rec, line, sizeof(line)) < 0 || puts(line) == EOF) {
            fprintf(stderr, "audit: cannot print record %lld\n", (long long)rec->seq);
            return 1;
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Opens the database read-only and runs f, newest first, printing limit records. */
static int run_query(const char *path, const bw_audit_filter *f, size_t limit, int oldest_first)
{
    bw_audit_record *recs;
    char err[512];
    sqlite3 *db;
    int n, rc;

    db = bw_audit_open_readonly(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "audit: %s\n", err);
        return 1;
    }
    recs = calloc(limit, sizeof(*recs));
    if (recs == NULL) {
        fprintf(stderr, "audit: out of memory\n");
        (void)sqlite3_close(db);
        return 1;
    }
    n = bw_audit_query(db, f, recs, limit, err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "audit: %s\n", err);
        rc = 1;
    } else {
        rc = print_records(recs, n, oldest_first);
    }
    free(recs);
    (void)sqlite3_close(db);
    return rc;
}

static int cmd_tail(const char *path, const bw_cli_opts *o)
{
    bw_audit_filter f;
    long long n = TAIL_DEFAULT;

    if (o->nargs == 3 && strcmp(o->args[1], "-n") == 0) {
        if (parse_num(o->args[2], 1, QUERY_MAX, &n) != 0) {
            fprintf(stderr, "audit tail: -n must be 1 to %d\n", QUERY_MAX);
            return 2;
        }
    } else if (o->nargs != 1) {
        fputs(usage_text, stderr);
        return 2;
    }
    memset(&f, 0, sizeof(f));
    return run_query(path, &f, (size_t)n, 1);
}

static int cmd_search(const char *path, const bw_cli_opts *o)
{
    bw_audit_filter f;
    long long limit = SEARCH_DEFAULT, v;
    size_t i;

    memset(&f, 0, sizeof(f));
    for (i = 1; i < o->nargs; i += 2) {
        const char *flag = o->args[i], *val = i + 1 < o->nargs ? o->args[i + 1] : NULL;
        int ok = val != NULL;

        if (ok && strcmp(flag, "--event") == 0) {
            f.event = val;
        } else if (ok && strcmp(flag, "--actor") == 0) {
            f.actor = val;
        } else if (ok && (strcmp(flag, "--since") == 0 || strcmp(flag, "--until") == 0)) {
            ok = parse_time(val, &v) == 0 && v > 0;
            if (ok && flag[2] == 's')
                f.since_ms = v;
            else if (ok)
                f.until_ms = v;
            if (!ok)
                fprintf(stderr, "audit search: %s wants Unix seconds or YYYY-MM-DDTHH:MM:SSZ\n",
                        flag);
        } else if (ok && strcmp(flag, "--limit") == 0) {
            ok = parse_num(val, 1, QUERY_MAX, &limit) == 0;
            if (!ok)
                fprintf(stderr, "audit search: --limit must be 1 to %d\n", QUERY_MAX);
        } else if (ok && strcmp(flag, "--before") == 0) {
            ok = parse_num(val, 1, INT64_MAX, &v) == 0;
            f.before_seq = ok ? v : 0;
            if (!ok)
                fprintf(stderr, "audit search: --before wants a record number\n");
        } else {
            fputs(usage_text, stderr);
            return 2;
        }
        if (!ok)
            return 2;
    }
    return run_query(path, &f, (size_t)limit, 0);
}

/* Appends the "audit.verify" record. 0, or -1 after printing why. */
static int record_verify(const bw_config *cfg, const char *path, const unsigned char *key,
                         size_t keylen, const bw_audit_verify_result *res)
{
    bw_log_field detail[] = {BW_LOG_I("records", res->records),
                             BW_LOG_I("first_bad", res->first_bad)};
    bw_audit_event ev = {.event = "audit.verify",
                         .outcome = res->ok ? BW_AUDIT_SUCCESS : BW_AUDIT_FAILURE,
                         .actor = "cli",
                         .detail = detail,
                         .ndetail = 2};
    bw_audit_options ao;
    char err[512], export_path[4096];
    uint64_t ticket;
    int rc;

    memset(&ao, 0, sizeof(ao));
    ao.path = path;
    ao.key = key;
    ao.keylen = keylen;
    ao.queue_capacity = 1;
    ao.batch_max = 1;
    /* The export copy gets the record too (never "-": stdout is this command's output). */
    if (cfg->audit.export_path[0] != '\0' && strcmp(cfg->audit.export_path, "-") != 0) {
        if (bw_config_path_in_data(cfg, cfg->audit.export_path, export_path, sizeof(export_path)) ==
            NULL) {
            fprintf(stderr, "audit: audit.export_path: path too long\n");
            return -1;
        }
        ao.export_path = export_path;
    }
    if (bw_audit_start(&ao, err, sizeof(err)) != 0) {
        fprintf(stderr, "audit: cannot record the verification: %s\n", err);
        return -1;
    }
    ticket = bw_audit_push(&ev);
    rc = bw_audit_wait(ticket);
    bw_audit_stop();
    if (ticket == 0 || rc != 0) {
        fprintf(stderr, "audit: cannot record the verification (see the log)\n");
        return -1;
    }
    return 0;
}

static int cmd_verify(const bw_config *cfg, const char *path)
{
    bw_audit_verify_result res;
    unsigned char *key = NULL;
    size_t keylen = 0;
    char err[512];
    sqlite3 *db;
    int rc;

    if (bw_secret_load(cfg->secrets.audit_key.ref, cfg->data_dir, &key, &keylen, err,
                       sizeof(err)) != 0) {
        fprintf(stderr, "audit: secrets.audit_key: %s\n", err);
        return 2;
    }
    db = bw_audit_open_readonly(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "audit: %s\n", err);
        bw_secret_free(key, keylen);
        return 2;
    }
    rc = bw_audit_verify(db, key, keylen, &res, err, sizeof(err));
    (void)sqlite3_close(db);
    if (rc != 0) {
        fprintf(stderr, "audit: %s\n", err);
        bw_secret_free(key, keylen);
        return 2;
    }
    if (res.ok)
        printf("audit: %lld records, chain intact\n", (long long)res.records);
    else
        printf("audit: record %lld: %s\n", (long long)res.first_bad, res.reason);
    rc = res.ok ? 0 : 1;
    /* A broken chain usually refuses a writer (its last record does not verify); the
     * result above stands either way. */
    if (record_verify(cfg, path, key, keylen, &res) != 0 && res.ok)
        rc = 2;
    bw_secret_free(key, keylen);
    return rc;
}

int bw_cli_audit(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o)
{
    const char *sub = o->nargs > 0 ? o->args[0] : "";
    char path[4096];

    (void)app;
    if (strcmp(sub, "verify") != 0 && strcmp(sub, "tail") != 0 && strcmp(sub, "search") != 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(sub, "verify") == 0 && o->nargs != 1) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (bw_config_path_in_data(cfg, cfg->audit.file, path, sizeof(path)) == NULL) {
        fprintf(stderr, "audit.file: path too long\n");
        return 2;
    }
    if (strcmp(sub, "verify") == 0)
        return cmd_verify(cfg, path);
    if (strcmp(sub, "tail") == 0)
        return cmd_tail(path, o);
    return cmd_search(path, o);
}
