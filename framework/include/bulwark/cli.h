/* The service's command line: serve, init, migrate, check-config, user, apikey, ban, audit,
 * version. */
#ifndef BULWARK_CLI_H
#define BULWARK_CLI_H

#include "bulwark/server.h"

/* Runs the command named in argv for `app` and returns the process exit
 * status (0 ok, 1 runtime failure, 2 usage or configuration error). */
int bw_main(const bw_app *app, int argc, char **argv);

/* Enough for `audit search` with all six flags (each a pair) after its subcommand. */
#define BW_CLI_MAX_ARGS 16

/* The options and positional arguments of one command. */
typedef struct bw_cli_opts {
    const char *config;                /* --config FILE */
    const char *data_dir;              /* --data-dir DIR */
    const char *schema;                /* --schema FILE (validate) */
    const char *instance;              /* --instance FILE (validate) */
    const char *roles;                 /* --roles R[,R...] (user, apikey) */
    const char *expires_days;          /* --expires-days N (apikey create) */
    const char *args[BW_CLI_MAX_ARGS]; /* positional arguments after the command */
    size_t nargs;
} bw_cli_opts;

/* `user` and `apikey` (framework/src/auth/cli_auth.c): account management
 * against the service's database, which must be initialised and migrated.
 * Return the exit status (0, 1 failure, 2 usage). */
int bw_cli_user(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o);
int bw_cli_apikey(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o);

/* `ban` (framework/src/protect/cli_ban.c): list, add and remove address
 * bans (docs/bans.md), with the same database requirement and exit statuses. */
int bw_cli_ban(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o);

/* `audit` (framework/src/audit/cli_audit.c): verify the chain (exit 0 intact, 1 broken,
 * 2 error), tail and search the audit database (0, 1 failure, 2 usage). Its flags arrive in
 * args as (flag, value) pairs. */
int bw_cli_audit(const bw_app *app, const bw_config *cfg, const bw_cli_opts *o);

#endif
