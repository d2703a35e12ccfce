/* Structured logging: one JSON object per line on a file descriptor (stderr by default).
 *
 *   {"ts":"2026-11-25T12:00:00.123Z","level":"info","event":"server.start","port":8443}
 *
 * Every line is built in a 4096-byte stack buffer and written with a single write(), so
 * lines from concurrent threads never interleave (on a pipe, PIPE_BUF is 4096). Keys and
 * values are escaped so that no input can end a line or break the JSON: quote, backslash,
 * bytes below 0x20 and 0x7F become escapes and invalid UTF-8 becomes \ufffd. A line that
 * would not fit has its string values cut, later fields dropped, and "truncated":true
 * appended; it stays valid JSON. Keys should be constants chosen by the code; a field
 * named like a top-level key ("ts", "level", "event") produces a duplicate key.
 * Never pass secrets (passwords, tokens, keys) as field values. */
#ifndef BULWARK_LOG_H
#define BULWARK_LOG_H

#include <stdatomic.h>
#include <stddef.h>

typedef enum bw_log_level { BW_LOG_DEBUG, BW_LOG_INFO, BW_LOG_WARN, BW_LOG_ERROR } bw_log_level;

typedef enum bw_log_type { BW_LF_STR, BW_LF_INT } bw_log_type;

/* One field. For BW_LF_STR, s == NULL logs JSON null; slen == BW_LOG_NUL means s is
 * NUL-terminated (read only as far as fits in the line). */
typedef struct bw_log_field {
    const char *key;
    bw_log_type type;
    const char *s;
    size_t slen;
    long long i;
} bw_log_field;

#define BW_LOG_NUL ((size_t)-1)

/* Field constructors, usable in array initialisers; each argument is evaluated once. */
#define BW_LOG_S(k, v) ((bw_log_field){.key = (k), .type = BW_LF_STR, .s = (v), .slen = BW_LOG_NUL})
#define BW_LOG_SN(k, p, n) ((bw_log_field){.key = (k), .type = BW_LF_STR, .s = (p), .slen = (n)})
#define BW_LOG_I(k, v) ((bw_log_field){.key = (k), .type = BW_LF_INT, .i = (v)})

/* Sets the minimum level written (default BW_LOG_INFO). Out-of-range values are ignored. */
void bw_log_set_level(bw_log_level l);

/* Returns the current minimum level. */
bw_log_level bw_log_get_level(void);

/* Parses "debug", "info", "warn" or "error" (exact, lowercase) into *out and returns 0;
 * returns -1 and leaves *out alone for anything else, including NULL. */
int bw_log_level_parse(const char *s, bw_log_level *out);

/* Sets the descriptor lines are written to (default 2). Negative values are ignored. The
 * caller keeps ownership of fd. */
void bw_log_set_fd(int fd);

/* Writes one line if l is at or above the current level. event is the dotted event name;
 * fields may be NULL when n is 0. Write errors are ignored: there is nowhere to report
 * them. Thread-safe. */
void bw_log(bw_log_level l, const char *event, const bw_log_field *fields, size_t n);

/* bw_log() with one string field, "msg". */
void bw_log_msg(bw_log_level l, const char *event, const char *msg);

/* A budget of lines per second for a source an attacker can make noisy (CivetWeb's own
 * messages: one per refused connection). Zero-initialise it with per_second set. */
typedef struct bw_log_budget {
    unsigned per_second;
    _Atomic long long second; /* the second the budget is counting */
    _Atomic unsigned used;
    _Atomic unsigned long dropped; /* lines refused and not yet reported */
} bw_log_budget;

/* Takes one line from b at Unix second now_s: 1 when it may be written, 0 when the second's
 * budget is spent (the line is counted as dropped). On the first line allowed after some were
 * dropped, *dropped gets their number (else 0), for the caller to log once. Thread-safe
 * (lock-free; at a second's boundary a few lines more or fewer may pass). */
int bw_log_budget_take(bw_log_budget *b, long long now_s, unsigned long *dropped);

#endif
