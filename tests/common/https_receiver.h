/*
 * A tiny HTTPS receiver for tests that need something to call: a thread (wolfSSL) on a loopback
 * address that takes one connection at a time, reads one HTTP/1.1 request with a
 * Content-Length body, records it, optionally holds the answer for a while, answers with a
 * fixed status and closes. Used by the suites that check what the server sends out (the
 * alert webhook).
 *
 * Test code: a function that cannot do its job prints why and returns an error; nothing here
 * fails a cmocka test by itself. Functions that allocate say who frees.
 */
#ifndef BW_TEST_HTTPS_RECEIVER_H
#define BW_TEST_HTTPS_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

/* Largest body recorded; a longer request is read as failed and not recorded. */
#define BW_RECEIVER_BODY_MAX 8192
/* Requests kept; later ones are counted but not kept. */
#define BW_RECEIVER_MAX_REQUESTS 16

typedef struct bw_receiver bw_receiver;

/* One request as it arrived. Strings are NUL-terminated and cut to their buffers; a header
 * that was not sent is "". body holds body_len bytes plus a NUL. */
typedef struct bw_received {
    char method[16];
    char target[256];
    char host[128];
    char content_type[128];
    char timestamp[32];  /* X-Bulwark-Timestamp */
    char signature[128]; /* X-Bulwark-Signature */
    char body[BW_RECEIVER_BODY_MAX + 1];
    size_t body_len;
} bw_received;

/* Writes a fresh self-signed pair for localhost and 127.0.0.1 (bw_tls_cert_generate_dev) into
 * dir as receiver-cert.pem and receiver-key.pem, and their paths into cert and key (cap bytes
 * each). The certificate is also what a client trusts as its CA. 0, or -1 after printing why. */
int bw_receiver_make_cert(const char *dir, char *cert, char *key, size_t cap);

/* Listens on addr (an IPv4 loopback address) on a free port with the PEM pair cert/key and
 * starts the thread. Every request is answered with status; delay_ms (0: none) is how long
 * each answer is held after the request was recorded (bw_receiver_stop cuts it short).
 * Returns the receiver (stop it with bw_receiver_stop) or NULL after printing why. */
bw_receiver *bw_receiver_start(const char *addr, const char *cert, const char *key, int status,
                               int delay_ms);

/* The port it listens on. */
uint16_t bw_receiver_port(const bw_receiver *rv);

/* Requests recorded so far, and how many of them have been answered. */
size_t bw_receiver_count(bw_receiver *rv);
size_t bw_receiver_answered(bw_receiver *rv);

/* Waits up to timeout_ms until at least n requests were recorded. Returns the count then. */
size_t bw_receiver_wait(bw_receiver *rv, size_t n, int timeout_ms);

/* Copies request i (0 is the first) into *out. 0, or -1 when there is no such request kept. */
int bw_receiver_get(bw_receiver *rv, size_t i, bw_received *out);

/* TLS handshakes that failed (a client that does not trust the pair, or gave up). */
size_t bw_receiver_failed_handshakes(bw_receiver *rv);

/* Stops the thread (an answer being held is released at once), closes the socket and frees
 * rv. NULL is a no-op. */
void bw_receiver_stop(bw_receiver *rv);

#endif
