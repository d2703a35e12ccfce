/* The service's commands. Every command loads the same configuration
 * (defaults < --config file < BULWARK_* environment) and fails with exit
 * status 2 and a message naming the key when it is wrong. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "bulwark/cli.h"
#include "bulwark/log.h"
#include "bulwark/monitor.h"
#include "bulwark/schema.h"
#include "bulwark/secret.h"
#include "bulwark/store.h"
#include "bulwark/tlscert.h"
#include "bulwark/version.h"

/* Validity of the development certificate `init` and `gen-dev-cert` make. */
#define BW_DEV_CERT_DAYS 90
/* How often `serve` looks at the certificate and JWT key files for a change. */
#define BW_CERT_POLL_SECONDS 2

static void usage(const char *name, FILE *f)
{
    fprintf(f,
            "usage: %s COMMAND [--config FILE] [--data-dir DIR]\n"
            "\n"
            "commands:\n"
            "  serve          start the service\n"
            "  init           create the data folder: database, migrations, secrets,\n"
            "                 and a development TLS certificate when none exists\n"
            "  gen-dev-cert   write a self-signed certificate for localhost (tls.cert/tls.key)\n"
            "  migrate        apply pending database migrations\n"
            "  check-config   print the effective configuration (secrets redacted)\n"
            "  validate       --schema FILE --instance FILE: check a JSON document against a\n"
            "                 JSON Schema (2020-12); exit 0 valid, 1 invalid, 2 bad schema\n"
            "  user add NAME --roles R[,R...]     create a user; the password is read\n"
            "                                     from standard input\n"
            "  user set-password NAME | set-roles NAME R[,R...] | disable NAME |\n"
            "       enable NAME | mfa-reset NAME | list\n"
            "  apikey create USER NAME --roles R[,R...] [--expires-days N]\n"
            "                                     print a new API key (shown once)\n"
            "  apikey list [USER] | revoke ID\n"
            "  ban list | add ADDRESS [MINUTES [REASON]] | remove ADDRESS\n"
            "                                     address bans (an IPv6 address bans its /64);\n"
            "                                     a ban lasts MINUTES, by default 1440\n"
            "  audit verify | tail [-n N] | search [--event E|PREFIX.*] [--actor A]\n"
            "       [--since T] [--until T] [--limit N] [--before SEQ]\n"
            "                                     check the audit chain, print records as\n"
            "                                     JSON lines (T: Unix seconds or UTC ISO-8601)\n"
            "  version        print the version\n"
            "\n"
            "environment: BULWARK_CONFIG, BULWARK_LISTEN, BULWARK_DATA_DIR, and the other\n"
            "BULWARK_* variables in docs/configuration.md\n",
            name);
}

static int parse_opts(int argc, char **argv, bw_cli_opts *o)
{
    int i;

    memset(o, 0, sizeof(*o));
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            o->config = argv[++i];
        } else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
            o->data_dir = argv[++i];
        } else if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
            o->schema = argv[++i];
        } else if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
            o->instance = argv[++i];
        } else if (strcmp(argv[i], "--roles") == 0 && i + 1 < argc) {
            o->roles = argv[++i];
        } else if (strcmp(argv[i], "--expires-days") == 0 && i + 1 < argc) {
            o->expires_days = argv[++i];
        } else if (strcmp(argv[1], "audit") == 0 && argv[i][0] == '-' && i + 1 < argc &&
                   o->nargs + 2 <= BW_CLI_MAX_ARGS) {
            /* audit's own flags (-n, --event, ...) reach bw_cli_audit as pairs. */
            o->args[o->nargs++] = argv[i];
            o->args[o->nargs++] = argv[++i];
        } else if (argv[i][0] != '-' && o->nargs < BW_CLI_MAX_ARGS) {
            o->args[o->nargs++] = argv[i];
        } else {
            fprintf(stderr, "unknown or incomplete option: %s\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

/* Loads the configuration; prints the error and returns NULL on failure. */
static bw_config *load_config(const bw_cli_opts *o)
{
    bw_config *cfg = NULL;
    char err[512];
    bw_log_level level;

    if (o->data_dir != NULL && setenv("BULWARK_DATA_DIR", o->data_dir, 1) != 0) {
        fprintf(stderr, "cannot set the data folder: %s\n", strerror(errno));
        return NULL;
    }
    if (bw_config_load(o->config, NULL, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "configuration error: %s\n", err);
        return NULL;
    }
    if (bw_log_level_parse(cfg->log.level, &level) == 0)
        bw_log_set_level(level);
    return cfg;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Creates each secret referenced as a file that does not exist yet. */
static int init_secrets(const bw_config *cfg)
{
    const bw_secret_ref *refs[] = {&cfg->secrets.session_key, &cfg->secrets.audit_key,
                                   &cfg->secrets.webhook_key};
    char path[4096], err[256];
    size_t i;

    for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        const char *ref = refs[i]->ref;
        int rc;

        if (strncmp(ref, "file:", 5) != 0)
            continue; /* env: secrets are the operator's to provide */
        if (bw_config_path_in_data(cfg, ref + 5, path, sizeof(path)) == NULL) {
            fprintf(stderr, "secret path too long: %s\n", ref);
            return -1;
        }
        rc = bw_secret_generate_file(path, 32, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "cannot create secret %s: %s\n", path, err);
            return -1;
        }
        printf("%s %s\n", rc == 1 ? "created" : "kept   ", path);
    }
    return 0;
}

static int migrate_store(const bw_app *app, const bw_config *cfg)
{
    char path[4096], err[512];
    bw_store *store = NULL;
    sqlite3 *db;
    int applied = 0;

    if (bw_config_path_in_data(cfg, cfg->store.file, path, sizeof(path)) == NULL) {
        fprintf(stderr, "store.file: path too long\n");
        return -1;
    }
    if (bw_store_open(path, cfg->store.busy_timeout_ms, &store, err, sizeof(err)) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return -1;
    }
    db = bw_store_conn(store);
    if (db == NULL ||
        bw_migrate_apply(db, app->migrations, app->nmigrations, &applied, err, sizeof(err)) != 0) {
        fprintf(stderr, "migration failed: %s\n", db == NULL ? "cannot open database" : err);
        bw_store_close(store);
        return -1;
    }
    printf("database %s: %d migration(s) applied, %zu known\n", path, applied, app->nmigrations);
    bw_store_close(store);
    return 0;
}

static int cert_paths(const bw_config *cfg, char *cert, char *key, size_t cap)
{
    if (bw_config_path_in_data(cfg, cfg->tls.cert, cert, cap) == NULL ||
        bw_config_path_in_data(cfg, cfg->tls.key, key, cap) == NULL) {
        fprintf(stderr, "tls.cert / tls.key: path too long\n");
        return -1;
    }
    return 0;
}

static int gen_dev_cert(const bw_config *cfg)
{
    char cert[4096], key[4096], dir[4096], err[512];

    if (cert_paths(cfg, cert, key, sizeof(cert)) != 0 ||
        bw_config_path_in_data(cfg, "tls", dir, sizeof(dir)) == NULL || make_dir(dir) != 0)
        return -1;
    if (bw_tls_cert_generate_dev(cert, key, BW_DEV_CERT_DAYS, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot create the development certificate: %s\n", err);
        return -1;
    }
    printf("created %s (self-signed for localhost, %d days)\ncreated %s\n", cert, BW_DEV_CERT_DAYS,
           key);
    return 0;
}

/* A development certificate only where no certificate is configured yet:
 * an operator's own pair is never touched. */
static int init_tls(const bw_config *cfg)
{
    char cert[4096], key[4096];
    struct stat st;

    if (cfg->server.plain_http)
        return 0;
    if (cert_paths(cfg, cert, key, sizeof(cert)) != 0)
        return -1;
    if (stat(cert, &st) == 0 || stat(key, &st) == 0) {
        printf("kept    %s\n", cert);
        return 0;
    }
    return gen_dev_cert(cfg);
}

static int cmd_init(const bw_app *app, const bw_config *cfg)
{
    char secrets[4096];

    if (make_dir(cfg->data_dir) != 0)
        return 1;
    if (bw_config_path_in_data(cfg, "secrets", secrets, sizeof(secrets)) == NULL ||
        make_dir(secrets) != 0)
        return 1;
    if (init_secrets(cfg) != 0 || init_tls(cfg) != 0 || migrate_store(app, cfg) != 0)
        return 1;
    return 0;
}

/* Identity of the certificate files, to notice a renewal (certbot replaces
 * the files or the links to them). */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id;

static void file_id_read(const char *path, file_id *id)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if (stat(path, &st) == 0) {
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        id->size = st.st_size;
        id->mtime = st.st_mtim;
    }
}

static bool file_id_changed(const file_id *a, const file_id *b)
{
    return a->dev != b->dev || a->ino != b->ino || a->size != b->size ||
           a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec;
}

static int cmd_serve(const bw_app *app, const bw_config *cfg)
{
    sigset_t set;
    bw_server *srv;
    char err[512], cert[4096], key[4096];
    file_id cert_id, key_id;
    int sig = 0;

    /* Workers inherit this mask, so only the main thread takes the signals. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        fprintf(stderr, "cannot block signals\n");
        return 1;
    }
    srv = bw_server_start(app, cfg, err, sizeof(err));
    if (srv == NULL) {
        bw_log(BW_LOG_ERROR, "server.refused", (bw_log_field[]){BW_LOG_S("reason", err)}, 1);
        fprintf(stderr, "cannot start: %s\n", err);
        return 1;
    }
    if (cert_paths(cfg, cert, key, sizeof(cert)) != 0) {
        bw_server_stop(srv);
        return 1;
    }
    file_id_read(cert, &cert_id);
    file_id_read(key, &key_id);
    for (;;) {
        struct timespec poll_every = {BW_CERT_POLL_SECONDS, 0};
        file_id c, k;

        sig = sigtimedwait(&set, NULL, &poll_every);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            bw_log_msg(BW_LOG_INFO, "server.sighup", "reloading the TLS certificate and JWT keys");
            (void)bw_server_reload(srv, err, sizeof(err));
            continue;
        }
        /* A timeout: has a renewal replaced the certificate files? Reload
         * once both have settled (the pair is checked as a whole). */
        file_id_read(cert, &c);
        file_id_read(key, &k);
        if (file_id_changed(&c, &cert_id) || file_id_changed(&k, &key_id)) {
            cert_id = c;
            key_id = k;
            bw_log_msg(BW_LOG_INFO, "tls.files_changed", "reloading the TLS certificate");
            (void)bw_server_reload(srv, err, sizeof(err));
            continue;
        }
        /* The same for the JWT issuers file and the JWKS files it names (key rotation). */
        (void)bw_server_poll_jwt(srv);
    }
    bw_log(BW_LOG_INFO, "server.signal", (bw_log_field[]){BW_LOG_I("signal", sig)}, 1);
    return bw_server_stop(srv) == 0 ? 0 : 1;
}

/* `validate`: for people writing schemas. Exit 0 valid, 1 invalid, 2 for a
 * bad schema, instance or usage. */
static int cmd_validate(const bw_cli_opts *o)
{
    enum { MAX_ERRORS = 50 };
    bw_schema_error errs[MAX_ERRORS];
    char err[1024], uri[4200], abs[4096];
    bw_schema_registry *reg;
    bw_schema *schema = NULL;
    json_error_t jerr;
    json_t *doc, *instance;
    bw_arena *arena;
    size_t n = 0, i;
    int rc;

    if (o->schema == NULL || o->instance == NULL) {
        fprintf(stderr, "usage: validate --schema FILE --instance FILE\n");
        return 2;
    }
    if (realpath(o->schema, abs) == NULL) {
        fprintf(stderr, "%s: %s\n", o->schema, strerror(errno));
        return 2;
    }
    doc = json_load_file(o->schema, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "%s:%d: %s\n", o->schema, jerr.line, jerr.text);
        return 2;
    }
    snprintf(uri, sizeof(uri), "file://%s", abs);
    reg = bw_schema_registry_new();
    if (reg == NULL || bw_schema_registry_add(reg, uri, doc, err, sizeof(err)) != 0 ||
        (schema = bw_schema_compile(reg, uri, 0, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s\n", reg == NULL ? "out of memory" : err);
        bw_schema_registry_free(reg);
        return 2;
    }
    bw_schema_registry_free(reg);
    instance = json_load_file(o->instance, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (instance == NULL) {
        fprintf(stderr, "%s:%d: %s\n", o->instance, jerr.line, jerr.text);
        bw_schema_free(schema);
        return 2;
    }
    arena = bw_arena_new((size_t)64 * 1024, (size_t)256 * 1024 * 1024);
    rc = arena == NULL ? -1 : bw_schema_validate(schema, instance, arena, errs, MAX_ERRORS, &n);
    if (rc == 1) {
        printf("valid\n");
    } else if (rc == 0) {
        for (i = 0; i < n; i++)
            printf("%s: %s: %s\n", errs[i].pointer[0] ? errs[i].pointer : "(root)",
                   errs[i].keyword ? errs[i].keyword : "", errs[i].message);
    } else {
        printf("invalid: a validation limit was exceeded\n");
    }
    bw_arena_free(arena);
    json_decref(instance);
    bw_schema_free(schema);
    return rc == 1 ? 0 : 1;
}

/* user, apikey and ban change who may do what: their records must be committed before
 * the command reports success, so the audit writer runs around them (fail closed). */
static int cmd_manage(const bw_app *app, const bw_config *cfg, const char *cmd,
                      const bw_cli_opts *opts)
{
    char err[512];
    int rc;

    if (bw_monitor_cli_start(cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "audit trail: %s\n", err);
        return 1;
    }
    if (strcmp(cmd, "user") == 0)
        rc = bw_cli_user(app, cfg, opts);
    else if (strcmp(cmd, "apikey") == 0)
        rc = bw_cli_apikey(app, cfg, opts);
    else
        rc = bw_cli_ban(app, cfg, opts);
    bw_monitor_cli_stop();
    return rc;
}

int bw_main(const bw_app *app, int argc, char **argv)
{
    const char *name = app->name != NULL ? app->name : "service";
    const char *cmd = argc > 1 ? argv[1] : NULL;
    bw_cli_opts opts;
    bw_config *cfg;
    int rc;

    if (cmd == NULL || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(name, cmd == NULL ? stderr : stdout);
        return cmd == NULL ? 2 : 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("%s (bulwark %s)\n", name, bw_version());
        return 0;
    }
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "init") != 0 && strcmp(cmd, "migrate") != 0 &&
        strcmp(cmd, "check-config") != 0 && strcmp(cmd, "gen-dev-cert") != 0 &&
        strcmp(cmd, "validate") != 0 && strcmp(cmd, "user") != 0 && strcmp(cmd, "apikey") != 0 &&
        strcmp(cmd, "ban") != 0 && strcmp(cmd, "audit") != 0) {
        fprintf(stderr, "unknown command: %s\n", cmd);
        usage(name, stderr);
        return 2;
    }
    if (parse_opts(argc, argv, &opts) != 0)
        return 2;
    if (opts.nargs > 0 && strcmp(cmd, "user") != 0 && strcmp(cmd, "apikey") != 0 &&
        strcmp(cmd, "ban") != 0 && strcmp(cmd, "audit") != 0) {
        fprintf(stderr, "unexpected argument: %s\n", opts.args[0]);
        return 2;
    }
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(&opts);
    if (sodium_init() < 0) {
        fprintf(stderr, "libsodium failed to initialise\n");
        return 1;
    }
    cfg = load_config(&opts);
    if (cfg == NULL)
        return 2;
    if (strcmp(cmd, "check-config") == 0)
        rc = bw_config_dump(cfg, stdout) == 0 ? 0 : 1;
    else if (strcmp(cmd, "init") == 0)
        rc = cmd_init(app, cfg);
    else if (strcmp(cmd, "gen-dev-cert") == 0)
        rc = gen_dev_cert(cfg) == 0 ? 0 : 1;
    else if (strcmp(cmd, "migrate") == 0)
        rc = migrate_store(app, cfg) == 0 ? 0 : 1;
    else if (strcmp(cmd, "user") == 0 || strcmp(cmd, "apikey") == 0 || strcmp(cmd, "ban") == 0)
        rc = cmd_manage(app, cfg, cmd, &opts);
    else if (strcmp(cmd, "audit") == 0)
        rc = bw_cli_audit(app, cfg, &opts);
    else
        rc = cmd_serve(app, cfg);
    bw_config_free(cfg);
    return rc;
}
