/* Test helpers for the second factor: the current TOTP code of a base32 secret (computed with
 * the framework's bw_totp_code, as an authenticator app would), logins that send a code or a
 * recovery code, and a whole enrolment over HTTPS, so a suite can get a session with mfa =
 * true for routes marked .mfa. Functions return 0, or -1 after printing why (usable in group
 * set-ups). Single-threaded test code; functions that allocate say who frees.
 *
 * Each code is good once per account: the server records the last accepted 30 s step and
 * refuses that step and every earlier one. A caller keeps, per account, the last step it used
 * (a uint64_t starting at 0) and passes it to every helper here, which picks the next step the
 * server will take (at most one step either side of now) and waits when three codes were
 * already used within the current step's window. */
#ifndef BW_TEST_TOTP_CLIENT_H
#define BW_TEST_TOTP_CLIENT_H

#include <stdint.h>

#include "harness.h"

#include "bulwark/totp.h"

/* Characters of a secret's base32 text (20 bytes: 32) and its NUL. */
#define BW_TEST_TOTP_B32_SIZE (BW_TOTP_BASE32_LEN(BW_TOTP_SECRET_BYTES) + 1)

/* The code of step for the base32 secret b32 into out. 0, or -1 (b32 not base32 of 16 to 64
 * bytes). */
int bw_test_totp_code(const char *b32, uint64_t step, char out[BW_TOTP_DIGITS + 1]);

/* The current time step (time(NULL) / 30). */
uint64_t bw_test_totp_step_now(void);

/* The code of the next step the server accepts after *last_step: the previous step when
 * there is time left in the current one, else the current one or the next; sleeps until the
 * clock allows it when all three are used. Sets *last_step to the step used. 0, or -1. */
int bw_test_totp_next(const char *b32, uint64_t *last_step, char out[BW_TOTP_DIGITS + 1]);

/* POST /v1/auth/login with {"username", "password"} plus "code" and "recovery_code" when not
 * NULL, and "session": mode when mode is not NULL. 0 with resp filled (free with
 * bw_resp_free), or -1. */
int bw_test_login_factor(bw_srv *srv, const char *name, const char *pw, const char *code,
                         const char *recovery, const char *mode, bw_resp *resp);

/* A bearer login of an account with the factor enabled: the next code (bw_test_totp_next on
 * *last_step) is sent along. On 200 returns 0 and a malloc'd token in *token (caller frees);
 * otherwise -1 after printing the status and body. */
int bw_test_mfa_login(bw_srv *srv, const char *name, const char *pw, const char *b32,
                      uint64_t *last_step, char **token);

/* Enrols the caller of the bearer session token: POST /v1/auth/mfa/enroll, then
 * /v1/auth/mfa/confirm with the next code. Writes the secret's base32 into b32, the new
 * session's token (mfa = true; the old token is ended) into *new_token (malloc'd, caller
 * frees), sets *last_step, and copies the recovery codes into codes when not NULL. 0, or -1
 * after printing why. */
int bw_test_mfa_enrol(bw_srv *srv, const char *token, char b32[BW_TEST_TOTP_B32_SIZE],
                      uint64_t *last_step, char **new_token,
                      char codes[BW_TOTP_RECOVERY_COUNT][BW_TOTP_RECOVERY_LEN + 1]);

/* bw_test_mfa_enrol of the bearer session *token, swapping it for the new session's: on 0,
 * the old token is freed and *token is the mfa session's (malloc'd, caller frees); on -1,
 * *token is left as it was. b32 and last_step as bw_test_mfa_enrol. */
int bw_test_mfa_upgrade(bw_srv *srv, char **token, char b32[BW_TEST_TOTP_B32_SIZE],
                        uint64_t *last_step);

/* The problem type of a refusal for want of a second factor on a route marked .mfa. */
#define BW_TEST_MFA_REQUIRED_TYPE "urn:bulwark:problem:mfa-required"

/* Sends method path (json body, may be NULL) as the bearer token and checks the answer is 403
 * with type BW_TEST_MFA_REQUIRED_TYPE. 0, or -1 after printing the status and body. */
int bw_test_mfa_refused(bw_srv *srv, const char *token, const char *method, const char *path,
                        const char *json);

#endif
