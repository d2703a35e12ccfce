/* Shared by the config module's files only: the key descriptors and the
 * helpers that read, check, free and dump values through them. */
#ifndef BULWARK_CONFIG_INTERNAL_H
#define BULWARK_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "bulwark/config.h"

/* Longest config string value (paths, references, listen address). */
#define BW_CFG_MAX_STRING 4096
/* Longest key path we build, e.g. "cors.allowed_origins[255]". */
#define BW_CFG_MAX_PATH 128

typedef enum bw_cfg_type {
    BW_CFG_STRING,  /* char * */
    BW_CFG_BOOL,    /* bool */
    BW_CFG_INT,     /* int */
    BW_CFG_INT64,   /* long long */
    BW_CFG_LIST,    /* char ** with a size_t count */
    BW_CFG_HEADERS, /* the headers section (config_headers.c) */
} bw_cfg_type;

/* Extra syntax check for a string: 0, or -1 with a reason in why. */
typedef int (*bw_cfg_check_fn)(const char *s, size_t len, char *why, size_t whylen);

/* One configuration key; config_table.c holds one per key. */
typedef struct bw_cfg_key {
    const char *path; /* "server.threads" */
    bw_cfg_type type;
    size_t offset;               /* of the value in bw_config */
    size_t count_offset;         /* LIST: of its size_t count */
    long long min, max;          /* INT, INT64: range; LIST: max entries */
    const char *const *allowed;  /* STRING: NULL-terminated enum values, or NULL */
    bw_cfg_check_fn check;       /* STRING, LIST items: syntax check, or NULL */
    const char *env;             /* BULWARK_* variable, or NULL */
    bool secret;                 /* STRING: must be a file:/env: reference */
    bool may_be_empty;           /* STRING: "" is accepted (and means "off"); no check runs */
    long long def_num;           /* BOOL, INT, INT64 default */
    const char *def_str;         /* STRING default */
    const char *const *def_list; /* LIST default, NULL-terminated */
} bw_cfg_key;

/* The key table and its length. */
const bw_cfg_key *bw_cfg_keys(size_t *n);

/* The key whose path is exactly path[0..len), or NULL. */
const bw_cfg_key *bw_cfg_find(const char *path, size_t len);

/* True when some key path starts with prefix[0..len) followed by '.'. */
bool bw_cfg_is_section(const char *prefix, size_t len);

/* Sets every key to its default. 0, or -1 when out of memory. */
int bw_cfg_set_defaults(bw_config *c);

/* Sets key k from JSON value v (not for HEADERS). where names the key in
 * errors. 0, or -1 with "where: reason" in err. */
int bw_cfg_set_json(bw_config *c, const bw_cfg_key *k, const json_t *v, const char *where,
                    char *err, size_t errlen);

/* Sets scalar key k from the text s[0..len) of an environment variable.
 * 0, or -1 with "where: reason" in err. */
int bw_cfg_set_text(bw_config *c, const bw_cfg_key *k, const char *s, size_t len, const char *where,
                    char *err, size_t errlen);

/* Frees every value the table owns in c (not c itself, not headers). */
void bw_cfg_free_values(bw_config *c);

/* Adds key k's value in c to root, creating section objects on the way.
 * 0, or -1 when out of memory. */
int bw_cfg_dump_key(const bw_config *c, const bw_cfg_key *k, json_t *root);

/* Splits a listen address "host:port" / "[v6]:port". On success returns 0,
 * sets *host and *hostlen to the host (without brackets), *v6 when
 * bracketed, and *port. -1 with a reason in why otherwise. */
int bw_cfg_listen_split(const char *s, size_t len, const char **host, size_t *hostlen, bool *v6,
                        unsigned *port, char *why, size_t whylen);

/* Checks a listen address (see bw_cfg_listen_split). */
int bw_cfg_check_listen(const char *s, size_t len, char *why, size_t whylen);
/* Checks an https:// URL with a host (the webhook). */
int bw_cfg_check_https_url(const char *s, size_t len, char *why, size_t whylen);

/* Checks an HTTP token (bw_http_token_valid), for CORS methods and headers. */
int bw_cfg_check_token(const char *s, size_t len, char *why, size_t whylen);

/* Checks an exact CORS origin "scheme://host[:port]" or "*". */
int bw_cfg_check_rate(const char *s, size_t len, char *why, size_t whylen);
/* Checks an alert rule "EVENT COUNT/WINDOW" (alert.h). */
int bw_cfg_check_alert(const char *s, size_t len, char *why, size_t whylen);
int bw_cfg_check_cidr(const char *s, size_t len, char *why, size_t whylen);
int bw_cfg_check_origin(const char *s, size_t len, char *why, size_t whylen);

/* Headers section: parse from JSON (replacing c->headers), free, dump. */
int bw_cfg_headers_set_json(bw_config *c, const json_t *v, char *err, size_t errlen);
void bw_cfg_headers_free(bw_config *c);
int bw_cfg_headers_dump(const bw_config *c, json_t *root);

/* Writes "where: <formatted reason>" into err (truncating safely). */
void bw_cfg_err(char *err, size_t errlen, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* snprintf into out that marks a truncated result with a trailing "...";
 * for key paths and messages, where a shortened text is still useful. */
void bw_cfg_fmt(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies s[0..len) into out for an error message: printable ASCII only
 * (others become '?'), truncated with "..." to fit. */
void bw_cfg_clean(const char *s, size_t len, char *out, size_t outlen);

/* strndup that checks for NULL; NULL when out of memory. */
char *bw_cfg_strndup(const char *s, size_t len);

#endif
