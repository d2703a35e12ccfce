/* Attack signatures: defence in depth, not a filter.
 *
 * The schemas, the canonical path and parameterised SQL are what protect a service; this
 * module only recognises the well-known shapes of path traversal, SQL injection, script
 * injection and command injection in a piece of input, so the pipeline can report
 * attack.suspected and count the request toward ban.attacks. A match never blocks anything
 * by itself. docs/attack-signatures.md says what each class matches, what it deliberately
 * does not, and where it can misfire.
 *
 * Before matching, a value is normalised on a copy in a fixed stack buffer: only its first
 * BW_ATTACK_SCAN_MAX bytes are looked at; %XX escapes are decoded, then decoded again (double
 * encoding; '+' stays '+'); overlong UTF-8 forms of ASCII characters (%c0%ae for '.') become
 * the character; NUL bytes are dropped; ASCII letters are folded to lower case. The SQL
 * checks also see each run of whitespace and SQL block comments as one space. Every check
 * looks a bounded distance from each byte, so a scan costs time linear in the bytes scanned.
 *
 * Nothing here allocates, keeps a pointer to its arguments or has global state: every
 * function is thread-safe. */
#ifndef BULWARK_ATTACK_H
#define BULWARK_ATTACK_H

#include <stddef.h>

#include <jansson.h>

/* The classes, as bits of a scan's result. */
#define BW_ATTACK_TRAVERSAL 0x1u /* "traversal": ../, ..\, /etc/passwd, win.ini, boot.ini */
#define BW_ATTACK_SQLI 0x2u      /* "sqli": quote tautologies, union select, stacked drops */
#define BW_ATTACK_XSS 0x4u       /* "xss": <script, javascript: URLs, on<event>= in a tag */
#define BW_ATTACK_CMDI 0x8u      /* "cmdi": ; | || && ` $( followed by a shell command */
#define BW_ATTACK_ALL 0xFu

/* Bytes of one value scanned, from its start (the rest is not looked at). This is also the
 * size of the stack buffer a scan uses. */
#define BW_ATTACK_SCAN_MAX 8192

/* Bounds of bw_attack_scan_json(): containers nested deeper than MAX_DEPTH (the top-level
 * value is depth 1) are not entered; at most MAX_ITEMS values and keys are visited and at
 * most MAX_BYTES string bytes scanned in all (each string counting at most
 * BW_ATTACK_SCAN_MAX); what lies beyond a bound is not looked at. */
#define BW_ATTACK_JSON_MAX_DEPTH 64
#define BW_ATTACK_JSON_MAX_ITEMS 8192
#define BW_ATTACK_JSON_MAX_BYTES 65536

/* Scans p[0..len) (not NUL-terminated; any bytes) and returns the BW_ATTACK_* classes whose
 * signatures match its first BW_ATTACK_SCAN_MAX bytes, or 0 when none does. A NULL p scans
 * as empty whatever len is. Never fails. */
unsigned bw_attack_scan(const char *p, size_t len);

/* Scans every string value and object key of doc, depth-first in document order, within
 * the BW_ATTACK_JSON_* bounds; numbers, booleans and null are not scanned (every value,
 * container or not, and every key counts as an item). Returns the union of
 * the classes found (0 for none or a NULL doc). Stops early once every class is found. Does
 * not change doc or its reference count. */
unsigned bw_attack_scan_json(const json_t *doc);

/* The name of one class bit: "traversal", "sqli", "xss" or "cmdi"; NULL for 0, an unknown
 * bit or more than one bit. The string is static. */
const char *bw_attack_class_name(unsigned bit);

#endif
