#include "base/number.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool nl_parse_ll(const char *text, long long lo, long long hi, long long *out)
{
    if (!text || lo > hi)
        return false;
    const char *digits = text;
    if (lo < 0 && (*digits == '-' || *digits == '+'))
        digits++;
    /* strtoll itself would skip blanks and take a sign: checked first, so
     * what it reads is exactly the digits (and the sign allowed above) */
    if (!isdigit((unsigned char)*digits))
        return false;
    for (const char *p = digits; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    errno = 0;
    char *end;
    const long long v = strtoll(text, &end, 10);
    if (errno == ERANGE || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool nl_parse_int(const char *text, int lo, int hi, int *out)
{
    long long v;
    if (!nl_parse_ll(text, lo, hi, &v))
        return false;
    *out = (int)v;
    return true;
}

const char *nl_range_text(char *buf, size_t size, long long lo, long long hi)
{
    /* the top always named: "0 or more" would refuse 2^63 for being what it says */
    snprintf(buf, size, "a whole number from %lld to %lld", lo, hi);
    return buf;
}

bool nl_parse_finite(const char *text, double *out)
{
    if (!text || !*text || isspace((unsigned char)*text))
        return false;
    char *end;
    const double v = strtod(text, &end);
    /* isfinite refuses "inf", "nan" and the overflow to HUGE_VAL ("1e400");
     * a trailing blank is junk like any other */
    if (end == text || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}
