/* `user` and `apikey`: account management from the command line. Passwords
 * are read from standard input, never from arguments (which every local
 * user can read in /proc). API keys are printed once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth_internal.h"
#include "bulwark/audit.h"
#include "bulwark/cli.h"
#include "bulwark/clock.h"
#include "bulwark/mfa.h"
#include "bulwark/store.h"

typedef struct cli_env {
    bw_store *store;
    sqlite3 *db;
    bw_auth *auth;
} cli_env;

static void env_close(cli_env *e)
{
    bw_auth_free(e->auth);
    bw_store_close(e->store);
}

/* Opens the database (which must be up to date) and the auth service. */
static int env_open(const bw_app *app, const bw_config *cfg, cli_env *e)
{
    char path[4096], err[512];
    int pending = 0;

    memset(e, 0, sizeof(*e));
    if (bw_config_path_in_data(cfg, cfg->store.file, path, sizeof(path)) == NULL) {
        fprintf(stderr, "store.file: path too long\n");
        return -1;
    }
    if (bw_store_open(path, cfg->store.busy_timeout_ms, &e->store, err, sizeof(err)) != 0 ||
        (e->db = bw_store_conn(e->store)) == NULL ||
        bw_migrate_pending(e->db, app->migrations, app->nmigrations, &pending, err, sizeof(err)) !=
            0) {
        fprintf(stderr, "store: %s\n", err);
        env_close(e);
        return -1;
    }
    if (pending > 0) {
        fprintf(stderr, "store: %d migration(s) pending; run `%s migrate` first\n", pending,
                app->name != NULL ? app->name : "service");
        env_close(e);
        return -1;
    }
    e->auth = bw_auth_new(cfg, app->rbac != NULL ? app->rbac->data : NULL,
                          app->rbac != NULL ? app->rbac->len : 0, err, sizeof(err));
    if (e->auth == NULL) {
        fprintf(stderr, "auth: %s\n", err);
        env_close(e);
        return -1;
    }
    return 0;
}

/* One line from standard input, without echo on a terminal. */
static int read_password(char *buf, size_t cap, size_t *len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &old) == 0;
    char *got;

    if (tty) {
        fputs("password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    got = fgets(buf, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (got == NULL) {
        fprintf(stderr, "no password on standard input\n");
        return -1;
    }
    *len = strlen(buf);
    if (*len > 0 && buf[*len - 1] == '\n')
        buf[--*len] = '\0';
    else if (*len == cap - 1) {
        fprintf(stderr, "the password is longer than %d bytes\n", BW_PASSWORD_MAX_BYTES);
        return -1;
    }
    if (*len > 0 && buf[*len - 1] == '\r')
        buf[--*len] = '\0';
    return 0;
}

/* why points at the variable the call fills: read only after the call. */
static int report(bw_auth_status st, const char *const *why, const char *what)
{
    switch (st) {
    case BW_AUTH_OK:
        return 0;
    case BW_AUTH_INVALID:
        fprintf(stderr, "%s: %s\n", what, *why != NULL ? *why : "invalid input");
        return 2;
    case BW_AUTH_EXISTS:
        fprintf(stderr, "%s: the username is taken\n", what);
        return 1;
    case BW_AUTH_NOT_FOUND:
        fprintf(stderr, "%s: no such user\n", what);
        return 1;
    default:
        fprintf(stderr, "%s: failed (see the log)\n", what);
        return 1;
    }
}

/* The id of user `name`, or -1 after printing why. */
static long long user_id(sqlite3 *db, const char *name)
{
    char norm[BW_USER_NAME_MAX + 1];
    bw_user u;

    if (bw_user_name_normalize(name, strlen(name), norm, sizeof(norm)) != 0 ||
        bw_user_find(db, norm, &u) != 1) {
        fprintf(stderr, "no such user: %s\n", name);
        return -1;
    }
    return u.id;
}

static int print_user(const bw_user *u, void *ud)
{
    *(long long *)ud = u->id;
    printf("%lld\t%s\t%s\t%s\n", u->id, u->name, u->roles[0] != '\0' ? u->roles : "-",
           u->disabled ? "disabled" : "active");
    return 0;
}

static int user_cmd(cli_env *e, const bw_cli_opts *o)
{
    const char *sub = o->args[0], *why = NULL;
    char pw[BW_PASSWORD_MAX_BYTES + 2];
    size_t pwlen = 0;
    long long id = -1;
    int rc;

    if (strcmp(sub, "list") == 0 && o->nargs == 1) {
        long long after = 0;

        /* Pages of 100; print_user moves `after` to the last id printed. */
        do
            rc = bw_user_list(e->db, after, 100, print_user, &after);
        while (rc == 100);
        return rc < 0 ? 1 : 0;
    }
    if (o->nargs < 2)
        return -1;
    if (strcmp(sub, "add") == 0 && o->nargs == 2) {
        if (o->roles == NULL) {
            fprintf(stderr, "user add: --roles is required\n");
            return 2;
        }
        if (read_password(pw, sizeof(pw), &pwlen) != 0)
            return 1;
        rc = report(bw_auth_user_create(e->auth, e->db, o->args[1], strlen(o->args[1]), pw, pwlen,
                                        o->roles, &id, &why),
                    &why, "user add");
        sodium_memzero(pw, sizeof(pw));
        if (rc == 0)
            printf("created user %lld\n", id);
        return rc;
    }
    id = user_id(e->db, o->args[1]);
    if (id < 0)
        return 1;
    if (strcmp(sub, "set-password") == 0 && o->nargs == 2) {
        if (read_password(pw, sizeof(pw), &pwlen) != 0)
            return 1;
        rc = report(bw_auth_user_set_password(e->auth, e->db, id, pw, pwlen, &why), &why,
                    "user set-password");
        sodium_memzero(pw, sizeof(pw));
        return rc;
    }
    if (strcmp(sub, "set-roles") == 0 && o->nargs == 3)
        return report(bw_auth_user_set_roles(e->auth, e->db, id, o->args[2], &why), &why,
                      "user set-roles");
    if ((strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) && o->nargs == 2)
        return report(bw_auth_user_set_disabled(e->auth, e->db, id, sub[0] == 'd'), &why,
                      "user disable");
    /* A lost authenticator and lost recovery codes: the operator removes the factor; every
     * session ends, and the user enrols again after logging in with the password. */
    if (strcmp(sub, "mfa-reset") == 0 && o->nargs == 2) {
        rc = bw_mfa_disable(e->db, id);
        if (rc < 0 || bw_session_revoke_user(e->db, id) < 0) {
            fprintf(stderr, "user mfa-reset: failed (see the log)\n");
            return 1;
        }
        if (rc == 0) {
            fprintf(stderr, "user mfa-reset: %s has no second factor\n", o->args[1]);
            return 1;
        }
        printf("removed the second factor of %s\n", o->args[1]);
        return 0;
    }
    return -1;
}

/* The audit record of a management command that succeeded (list changes nothing). */
static void cli_event(const char *event, const char *target, const char *roles)
{
    bw_log_field d[] = {BW_LOG_S("roles", roles)};
    bw_audit_event ev = {.event = event,
                         .outcome = BW_AUDIT_SUCCESS,
                         .actor = "cli",
                         .target = target,
                         .detail = d,
                         .ndetail = roles != NULL ? 1 : 0};

    (void)bw_audit_emit(&ev);
}

static const char *user_event(const char *sub)
{
    static const char *const map[][2] = {
        {"add", "admin.user.create"},          {"set-password", "admin.user.set_password"},
        {"set-roles", "admin.user.set_roles"}, {"disable", "admin.user.disable"},
        {"enable", "admin.user.enable"},       {"mfa-reset", "admin.user.mfa_reset"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(sub, map[i][0]) == 0)
            return map[i][1];
    }
    return NULL;
}

int bw_cli_user(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o)
{
    cli_env e;
    int rc;

    if (o->nargs == 0) {
        fprintf(stderr, "usage: user add|set-password|set-roles|disable|enable|list ...\n");
        return 2;
    }
    if (env_open(app, cfg, &e) != 0)
        return 1;
    rc = user_cmd(&e, o);
    env_close(&e);
    if (rc == 0 && user_event(o->args[0]) != NULL)
        cli_event(user_event(o->args[0]), o->args[1],
                  strcmp(o->args[0], "set-roles") == 0 ? o->args[2] : o->roles);
    if (rc < 0) {
        fprintf(stderr, "usage: user add NAME --roles R | set-password NAME | set-roles NAME R | "
                        "disable NAME | enable NAME | mfa-reset NAME | list\n");
        return 2;
    }
    return rc;
}

static int print_key(const bw_apikey_info *k, void *ud)
{
    (void)ud;
    printf("%s\tuser=%lld\t%s\troles=%s\texpires=%lld\tlast_used=%lld\t%s\n", k->id, k->user_id,
           k->name, k->roles, k->expires_at, k->last_used_at,
           k->revoked_at != 0 ? "revoked" : "active");
    return 0;
}

static int apikey_cmd(cli_env *e, const bw_cli_opts *o)
{
    const char *sub = o->args[0], *why = NULL;
    long long now = bw_clock_unix(), expires = 0, id;
    char key[BW_APIKEY_LEN + 1];
    int rc;

    if (strcmp(sub, "list") == 0 && o->nargs <= 2) {
        id = o->nargs == 2 ? user_id(e->db, o->args[1]) : -1;
        if (o->nargs == 2 && id < 0)
            return 1;
        return bw_apikey_list(e->db, id, print_key, NULL) < 0 ? 1 : 0;
    }
    if (strcmp(sub, "revoke") == 0 && o->nargs == 2) {
        rc = bw_apikey_revoke(e->db, o->args[1], now);
        if (rc != 1)
            fprintf(stderr, "apikey revoke: %s\n",
                    rc == 0 ? "no such active key" : "failed (see the log)");
        else
            cli_event("apikey.revoked", o->args[1], NULL);
        return rc == 1 ? 0 : 1;
    }
    if (strcmp(sub, "create") != 0 || o->nargs != 3)
        return -1;
    if (o->roles == NULL) {
        fprintf(stderr, "apikey create: --roles is required\n");
        return 2;
    }
    if (o->expires_days != NULL) {
        char *end;
        long days;

        errno = 0;
        days = strtol(o->expires_days, &end, 10);
        if (errno != 0 || *end != '\0' || days < 1 || days > 3650) {
            fprintf(stderr, "apikey create: --expires-days must be 1 to 3650\n");
            return 2;
        }
        expires = now + days * 86400L;
    }
    id = user_id(e->db, o->args[1]);
    if (id < 0)
        return 1;
    rc = report(
        bw_auth_apikey_create(e->auth, e->db, id, o->args[2], o->roles, expires, now, key, &why),
        &why, "apikey create");
    if (rc == 0) {
        char kid[BW_APIKEY_ID_LEN + 1];
        /* The target is the key's public id ("bw_" ID "_" secret), never the key. */
        memcpy(kid, key + 3, BW_APIKEY_ID_LEN);
        kid[BW_APIKEY_ID_LEN] = '\0';
        printf("%s\n", key);
        cli_event("apikey.created", kid, o->roles);
    }
    sodium_memzero(key, sizeof(key));
    return rc;
}

int bw_cli_apikey(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o)
{
    cli_env e;
    int rc;

    if (o->nargs == 0) {
        fprintf(stderr, "usage: apikey create|list|revoke ...\n");
        return 2;
    }
    if (env_open(app, cfg, &e) != 0)
        return 1;
    rc = apikey_cmd(&e, o);
    env_close(&e);
    if (rc < 0) {
        fprintf(stderr, "usage: apikey create USER NAME --roles R [--expires-days N] | "
                        "list [USER] | revoke ID\n");
        return 2;
    }
    return rc;
}
