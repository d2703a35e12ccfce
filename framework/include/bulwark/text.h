/* Byte-level text checks shared by every parser that reads network input
 * (paths, query strings, headers): hex digits and UTF-8 well-formedness. */
#ifndef BULWARK_TEXT_H
#define BULWARK_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Value of a hexadecimal digit (either case), or -1. */
int bw_hex_digit(unsigned char c);

/* Length in bytes of the well-formed UTF-8 sequence at p (at most len bytes
 * are read), or 0 when it is malformed: overlong forms, surrogates, code
 * points above U+10FFFF and truncated sequences are all malformed. */
size_t bw_utf8_seq_len(const unsigned char *p, size_t len);

/* True when all len bytes are well-formed UTF-8. */
bool bw_utf8_valid(const unsigned char *p, size_t len);

#endif
