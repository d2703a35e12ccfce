/* Error messages for callers: every fallible set-up function takes a
 * caller-owned buffer `char *err, size_t errlen` and fills it on failure. */
#ifndef BULWARK_ERR_H
#define BULWARK_ERR_H

#include <stddef.h>

/* Formats a message into err (cut to fit: a cut message is still useful).
 * Does nothing when err is NULL or errlen is 0. */
__attribute__((format(printf, 3, 4))) void bw_err_set(char *err, size_t errlen, const char *fmt,
                                                      ...);

#endif
