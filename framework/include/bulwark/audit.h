/* Audit trail: security-relevant events become records in their own SQLite database
 * (WAL, synchronous=FULL), appended by one writer thread that commits many records per
 * transaction (group commit). Each record carries an HMAC-SHA256 over the previous record's
 * MAC and its own content, so `notes audit verify` finds an edited, deleted, inserted or
 * reordered record. The taxonomy of events is docs/audit.md.
 *
 * Anything in the process reports an event with bw_audit_emit(): it is written as a log
 * line, counted (metrics.h), checked against the alert rules (alert.h), and, while the
 * writer runs, queued as a record. Without a writer (unit tests, most CLI commands) only
 * the log line, the count and the alert check happen.
 *
 * Redaction by construction: a record holds only the fixed fields below and detail fields
 * whose keys are on a compile-time allow-list (bw_audit_detail_allowed); other detail keys
 * are dropped from the record and from the log line. No caller passes a password, token,
 * key, cookie or Authorization value as any field. */
#ifndef BULWARK_AUDIT_H
#define BULWARK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "bulwark/log.h"

typedef enum bw_audit_outcome {
    BW_AUDIT_SUCCESS, /* "success": the action happened */
    BW_AUDIT_FAILURE, /* "failure": it was refused or failed */
    BW_AUDIT_INFO,    /* "info": an observation (alert, suspected attack, start-up) */
} bw_audit_outcome;

/* Longest accepted length of each text field of a record, in bytes; longer values are cut
 * (at a UTF-8 boundary) and the record says so ("truncated": true in its detail). */
#define BW_AUDIT_EVENT_MAX 64
#define BW_AUDIT_FIELD_MAX 256
#define BW_AUDIT_DETAIL_MAX 2048

/* One event, as reported. Every pointer may be NULL except event; none is kept after
 * bw_audit_emit returns. */
typedef struct bw_audit_event {
    const char *event; /* taxonomy name, [a-z0-9_.]{1,64}: "auth.login.failure" */
    bw_audit_outcome outcome;
    const char *actor;      /* who: a principal name ("alice", "apikey:bw_0123abcd..."), "cli" */
    const char *source;     /* the client address; NULL outside a request */
    const char *request_id; /* NULL outside a request */
    const char *target;     /* what was acted on: "user:42", "/v1/notes/7", an address */
    const bw_log_field *detail; /* extra fields; keys off the allow-list are dropped */
    size_t ndetail;
} bw_audit_event;

/* A record as stored and read back (bw_audit_query, bw_audit_verify). Strings are
 * NUL-terminated copies; absent fields are empty strings. detail is a JSON object text. */
typedef struct bw_audit_record {
    int64_t seq;   /* 1, 2, 3, ...: position in the chain */
    int64_t ts_ms; /* Unix time in milliseconds (wall clock) */
    char event[BW_AUDIT_EVENT_MAX + 1];
    char outcome[8];
    char actor[BW_AUDIT_FIELD_MAX + 1];
    char source[BW_AUDIT_FIELD_MAX + 1];
    char request_id[BW_AUDIT_FIELD_MAX + 1];
    char target[BW_AUDIT_FIELD_MAX + 1];
    char detail[BW_AUDIT_DETAIL_MAX + 1];
    unsigned char mac[32]; /* HMAC-SHA256(key, previous mac || this record's content) */
} bw_audit_record;

/* ---- Reporting (emit.c) ---- */

/* "success", "failure" or "info". */
const char *bw_audit_outcome_name(bw_audit_outcome o);

/* 1 when s (NUL-terminated) is a valid event name, [a-z0-9_.]{1,64}, else 0. */
int bw_audit_event_name_valid(const char *s);

/* 1 when key (NUL-terminated) is an allowed detail key, else 0. The list is in emit.c and
 * docs/audit.md: it names no field that can hold a credential. */
int bw_audit_detail_allowed(const char *key);

/* Reports ev: the log line (level info, or warn for failures of security controls), the
 * metrics count, the alert check, and the record when the writer runs. Returns the record's
 * ticket (> 0) for bw_audit_wait, or 0 when no record was queued (no writer, or ev->event is
 * not a valid name, which is also logged as "audit.bad_event"). Blocks while the writer's
 * queue is full: a record is never dropped. Thread-safe. */
uint64_t bw_audit_emit(const bw_audit_event *ev);

/* bw_audit_emit for an event of the request req: the actor is the authenticated principal
 * (if any), the source the client address, plus the request id. Returns the ticket. */
struct bw_req;
uint64_t bw_audit_req(const struct bw_req *req, const char *event, bw_audit_outcome outcome,
                      const char *target, const bw_log_field *detail, size_t ndetail);

/* ---- The writer (audit.c) ---- */

typedef struct bw_audit_options {
    const char *path;         /* the audit database; created (mode 0600) if missing */
    const unsigned char *key; /* HMAC-SHA256 key for the chain (copied into locked memory) */
    size_t keylen;            /* 16..BW_SECRET_MAX_BYTES */
    size_t queue_capacity;    /* records waiting at most; emit blocks beyond */
    size_t batch_max;         /* records per transaction at most */
    const char *export_path;  /* JSON lines: NULL or "" none, "-" stdout, else a file (append) */
} bw_audit_options;

/* Opens (creating the schema if needed) the audit database and starts the writer thread.
 * The chain continues from the last record in the file. At most one writer per process.
 * Returns 0, or -1 with a message in err (bad options, the database or export file cannot
 * be opened, the chain's last record does not verify against the key, already started). */
int bw_audit_start(const bw_audit_options *o, char *err, size_t errlen);

/* Queues a copy of ev (already filtered by emit) and returns its ticket, 0 when the writer
 * does not run. Blocks while the queue is full. Called by bw_audit_emit only. */
uint64_t bw_audit_push(const bw_audit_event *ev);

/* Blocks until the record with ticket t is committed (durable): returns 0; -1 when its
 * transaction failed (after retries) or t was never handed out. t == 0 (nothing queued)
 * returns at once: 0 when no writer runs, -1 while one runs (the event was not recorded).
 * Works after bw_audit_stop too: stop commits everything queued first. Thread-safe. */
int bw_audit_wait(uint64_t ticket);

/* Reopens the export file by its path (log rotation, SIGHUP): lines after it go to the new
 * file. 0, or -1 when it cannot be opened (logged; the old descriptor is kept). No-op
 * returning 0 without an export file or with "-". Thread-safe. */
int bw_audit_reopen_export(void);

/* Commits what is queued (including pushes already blocked on a full queue; later pushes
 * return 0), stops the writer, wipes the key and closes the database and export file. No-op
 * when not started. */
void bw_audit_stop(void);

typedef struct bw_audit_stats {
    uint64_t queued;        /* records waiting now */
    uint64_t committed;     /* records committed since start */
    uint64_t batches;       /* transactions committed */
    uint64_t failed;        /* records whose transaction failed */
    uint64_t commit_us_sum; /* time spent in committed transactions */
    uint64_t commit_us_max;
    /* Committed transactions by duration: <= 1, 2, 5, 10, 25, 50, 100, 250, 1000 ms, more. */
    uint64_t commit_buckets[10];
} bw_audit_stats;

/* Fills *out (zeros when the writer never ran). Thread-safe. */
void bw_audit_stats_get(bw_audit_stats *out);

/* ---- Reading (store.c): CLI and GET /v1/admin/audit ---- */

/* Opens the audit database at path read-only. Returns the handle (close with
 * sqlite3_close) or NULL with a message in err. */
sqlite3 *bw_audit_open_readonly(const char *path, char *err, size_t errlen);

typedef struct bw_audit_filter {
    const char *event;  /* exact name, or a prefix ending in ".*" ("auth.*"); NULL: any */
    const char *actor;  /* exact; NULL: any */
    int64_t since_ms;   /* ts_ms >= since_ms; 0: no bound */
    int64_t until_ms;   /* ts_ms < until_ms; 0: no bound */
    int64_t before_seq; /* keyset page: seq < before_seq; 0: from the newest */
} bw_audit_filter;

/* Reads up to limit (1..1000) records matching f, newest first, into out (caller's array
 * of limit entries). Returns how many, or -1 with a message in err. */
int bw_audit_query(sqlite3 *db, const bw_audit_filter *f, bw_audit_record *out, size_t limit,
                   char *err, size_t errlen);

typedef struct bw_audit_verify_result {
    bool ok;           /* every record verified */
    int64_t records;   /* records read */
    int64_t first_bad; /* seq (or position, for a missing seq) of the first broken record */
    char reason[160];  /* what is wrong with it: "MAC mismatch", "seq 7 missing", ... */
} bw_audit_verify_result;

/* Walks the whole chain in seq order and recomputes every MAC with key. Returns 0 with *out
 * filled (ok or not), or -1 with a message in err when the database cannot be read. */
int bw_audit_verify(sqlite3 *db, const unsigned char *key, size_t keylen,
                    bw_audit_verify_result *out, char *err, size_t errlen);

/* Handler of GET /v1/admin/audit (an app mounts it with permission audit:read and
 * app/schemas/audit_query.json): query event (name or "prefix.*"), actor, since and until
 * (Unix seconds), limit (1..100, default 50), before (a seq: the next page). Answers
 * {"items": [records, newest first], "next_before": seq or null}. */
struct bw_res;
int bw_audit_handle_list(struct bw_req *req, struct bw_res *res);

/* A buffer of this many bytes holds the JSON line of any record (every field at its limit and
 * every byte escaped), with its NUL. */
#define BW_AUDIT_JSON_MAX 24576

/* Writes r as one JSON line (no newline, NUL-terminated) into buf; returns its length, or -1
 * if it does not fit (cap below BW_AUDIT_JSON_MAX can be too small). The export file and
 * `notes audit tail` use this format:
 *   {"seq":7,"ts":"2026-11-25T12:00:00.123Z","event":"auth.login.failure","outcome":"failure",
 *    "actor":"alice","source":"192.0.2.1","request_id":"...","target":null,"detail":{...},
 *    "mac":"<64 hex digits>"}
 * Empty text fields are null. Strings are escaped (quote, backslash, control bytes, 0x7F;
 * invalid UTF-8 as \ufffd), so no stored byte can end the line or break the JSON. detail is
 * re-serialised compactly when it is a JSON object (always, unless the file was altered), else
 * written as a JSON string holding the stored text. */
int bw_audit_record_json(const bw_audit_record *r, char *buf, size_t cap);

#endif
