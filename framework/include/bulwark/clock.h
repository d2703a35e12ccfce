/* The wall clock in the stored formats: ISO-8601 UTC text for records people
 * read (created_at, updated_at) and Unix seconds for times compared on every
 * request (session and key expiry). */
#ifndef BULWARK_CLOCK_H
#define BULWARK_CLOCK_H

/* Buffer size for bw_clock_iso8601: "2024-01-31T12:00:00.000Z" and its NUL. */
#define BW_CLOCK_ISO_SIZE 32

/* Writes the current UTC time with milliseconds, e.g.
 * "2024-01-31T12:00:00.000Z". Returns 0, or -1 when the clock cannot be read. */
int bw_clock_iso8601(char out[BW_CLOCK_ISO_SIZE]);

/* The current Unix time in seconds. */
long long bw_clock_unix(void);

#endif
