/* Numbers a user types (command-line options, environment variables,
 * config scalars, claim fields) are read here and nowhere else, so that
 * every one refuses the same things: empty text, blanks around it, trailing
 * junk, a value out of range and one that overflowed on the way (strtol's
 * ERANGE, or the long -> int cast that made --seeds 4294967298 plan 2
 * seeds). Callers name the option or key in their message; the range text
 * below says what is accepted. */
#ifndef NL_NUMBER_H
#define NL_NUMBER_H

#include <stdbool.h>
#include <stddef.h>

/* `text`, all of it, as a decimal integer in [lo, hi] into *out (left alone
 * when false). Digits only, no blanks, no "0x": a sign is taken only where
 * lo < 0 ('-' or '+'), so where lo >= 0 even "-0" and "+1" are refused (a
 * sign on a count is a mistake more often than a spelling). */
bool nl_parse_ll(const char *text, long long lo, long long hi, long long *out);

/* the same into an int; lo and hi must lie within int's range */
bool nl_parse_int(const char *text, int lo, int hi, int *out);

/* "a whole number from LO to HI", for messages: "--seeds: '0' is not a
 * whole number from 1 to 1000" */
const char *nl_range_text(char *buf, size_t size, long long lo, long long hi);

/* `text`, all of it, as a finite number into *out (left alone when false):
 * strtod's forms, but no blanks, no inf or nan, and nothing that overflows
 * to infinity ("1e400"); underflow to 0 or a subnormal is taken. Ranges are
 * the caller's (they are open or closed by meaning). */
bool nl_parse_finite(const char *text, double *out);

#endif
