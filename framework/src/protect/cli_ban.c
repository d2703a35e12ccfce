/* `ban`: the address ban list from the command line (docs/bans.md).
 *
 *   ban list
 *   ban add ADDRESS [MINUTES [REASON]]
 *   ban remove ADDRESS
 *
 * MINUTES and REASON are positional (the shared option parser knows no --minutes): a ban lasts
 * CLI_BAN_DEFAULT_MINUTES unless told, and its reason is "manual" unless told. ADDRESS is an
 * address or a scope as `ban list` prints it; an IPv6 address names its /64. The commands
 * write the table only: a running server picks the change up within about a second
 * (bw_banlist_refresh()). Each change is logged ("ban.added", "ban.removed") for the audit
 * trail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/audit.h"
#include "bulwark/ban.h"
#include "bulwark/cli.h"
#include "bulwark/clock.h"
#include "bulwark/log.h"
#include "bulwark/store.h"

/* A manual ban without MINUTES: one day. */
#define CLI_BAN_DEFAULT_MINUTES 1440
#define CLI_BAN_MAX_MINUTES (BW_BAN_DURATION_MAX / 60)

/* Opens the database, which must be up to date. Returns the connection, or NULL after
 * printing why (*store is then NULL too). */
static sqlite3 *open_db(const bw_app *app, const bw_config *cfg, bw_store **store)
{
    char path[4096], err[512] = "";
    int pending = 0;
    sqlite3 *db = NULL;

    *store = NULL;
    if (bw_config_path_in_data(cfg, cfg->store.file, path, sizeof(path)) == NULL) {
        fprintf(stderr, "store.file: path too long\n");
        return NULL;
    }
    if (bw_store_open(path, cfg->store.busy_timeout_ms, store, err, sizeof(err)) != 0 ||
        (db = bw_store_conn(*store)) == NULL ||
        bw_migrate_pending(db, app->migrations, app->nmigrations, &pending, err, sizeof(err)) !=
            0) {
        fprintf(stderr, "store: %s\n", err[0] != '\0' ? err : "cannot open the database");
        bw_store_close(*store);
        *store = NULL;
        return NULL;
    }
    if (pending > 0) {
        fprintf(stderr, "store: %d migration(s) pending; run `%s migrate` first\n", pending,
                app->name != NULL ? app->name : "service");
        bw_store_close(*store);
        *store = NULL;
        return NULL;
    }
    return db;
}

/* t as "2024-01-31T12:00:00Z", or as the plain number if it is out of gmtime's range. */
static const char *utc(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if ((long long)tt != t || gmtime_r(&tt, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", t);
    return out;
}

/* Text from the table as printed: a row edited by hand must not send escape sequences to the
 * terminal, so anything bw_ban_add() would not have written shows as "?". */
static const char *printable(const char *s)
{
    return bw_ban_reason_valid(s) ? s : "?";
}

static int print_ban(const bw_ban_info *b, void *ud)
{
    char created[32], expires[32];

    (void)ud;
    printf("%s\t%s\t%s\t%s\t%s\n", printable(b->address),
           b->source == BW_BAN_MANUAL ? "manual" : "auto", utc(b->created_at, created),
           utc(b->expires_at, expires), printable(b->reason));
    return 0;
}

/* ADDRESS as bw_ban_parse() reads it; prints why not. */
static int parse_address(const char *text, bw_netaddr *a, char scope[BW_BAN_ADDRESS_SIZE])
{
    if (bw_ban_parse(text, strlen(text), a) != 0 ||
        bw_ban_address(a, scope, BW_BAN_ADDRESS_SIZE) < 0) {
        fprintf(stderr, "ban: not an address, IPv4 /32 or IPv6 /64: %s\n", text);
        return -1;
    }
    return 0;
}

/* MINUTES: plain decimal, 1..CLI_BAN_MAX_MINUTES. */
static int parse_minutes(const char *text, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = text[0] >= '0' && text[0] <= '9' ? strtoll(text, &end, 10) : 0;
    if (v < 1 || v > CLI_BAN_MAX_MINUTES || errno != 0 || *end != '\0') {
        fprintf(stderr, "ban add: MINUTES must be a whole number from 1 to %lld\n",
                CLI_BAN_MAX_MINUTES);
        return -1;
    }
    *out = v;
    return 0;
}

static int ban_add(sqlite3 *db, const bw_cli_opts *o)
{
    const char *reason = o->nargs == 4 ? o->args[3] : "manual";
    char scope[BW_BAN_ADDRESS_SIZE], until[32];
    long long minutes = CLI_BAN_DEFAULT_MINUTES, now = bw_clock_unix();
    bw_netaddr a;

    if (parse_address(o->args[1], &a, scope) != 0 ||
        (o->nargs >= 3 && parse_minutes(o->args[2], &minutes) != 0))
        return 2;
    if (!bw_ban_reason_valid(reason)) {
        fprintf(stderr,
                "ban add: REASON must be 1 to %d bytes of UTF-8 text without control "
                "characters\n",
                BW_BAN_REASON_MAX);
        return 2;
    }
    if (bw_ban_add(db, &a, reason, now, minutes * 60, BW_BAN_MANUAL) != 1) {
        fprintf(stderr, "ban add: failed: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    bw_log_field d[] = {BW_LOG_S("reason", reason), BW_LOG_I("duration_s", minutes * 60),
                        BW_LOG_I("until", now + minutes * 60)};
    bw_audit_event ev = {.event = "ban.added",
                         .outcome = BW_AUDIT_SUCCESS,
                         .actor = "cli",
                         .target = scope,
                         .detail = d,
                         .ndetail = sizeof(d) / sizeof(d[0])};
    (void)bw_audit_emit(&ev);
    printf("banned %s until %s\n", scope, utc(now + minutes * 60, until));
    return 0;
}

static int ban_remove(sqlite3 *db, const bw_cli_opts *o)
{
    char scope[BW_BAN_ADDRESS_SIZE];
    bw_netaddr a;
    int rc;

    if (parse_address(o->args[1], &a, scope) != 0)
        return 2;
    rc = bw_ban_remove(db, &a);
    if (rc < 0) {
        fprintf(stderr, "ban remove: failed: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    if (rc == 0) {
        fprintf(stderr, "ban remove: %s is not banned\n", scope);
        return 1;
    }
    bw_audit_event ev = {
        .event = "ban.removed", .outcome = BW_AUDIT_SUCCESS, .actor = "cli", .target = scope};
    (void)bw_audit_emit(&ev);
    printf("removed the ban on %s\n", scope);
    return 0;
}

static bool usage_ok(const bw_cli_opts *o)
{
    const char *sub = o->nargs > 0 ? o->args[0] : "";

    return (strcmp(sub, "list") == 0 && o->nargs == 1) ||
           (strcmp(sub, "add") == 0 && o->nargs >= 2 && o->nargs <= 4) ||
           (strcmp(sub, "remove") == 0 && o->nargs == 2);
}

int bw_cli_ban(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o)
{
    bw_store *store = NULL;
    sqlite3 *db;
    int rc;

    /* Usage first: a typo should not need a database. */
    if (!usage_ok(o)) {
        fprintf(stderr, "usage: ban list | add ADDRESS [MINUTES [REASON]] | remove ADDRESS\n");
        return 2;
    }
    db = open_db(app, cfg, &store);
    if (db == NULL)
        return 1;
    if (strcmp(o->args[0], "list") == 0)
        rc = bw_ban_list(db, bw_clock_unix(), print_ban, NULL) < 0 ? 1 : 0;
    else if (strcmp(o->args[0], "add") == 0)
        rc = ban_add(db, o);
    else
        rc = ban_remove(db, o);
    bw_store_close(store);
    return rc;
}
