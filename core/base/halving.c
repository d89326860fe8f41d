/* Successive halving's arithmetic (halving.h). */
#include "base/halving.h"

int nl_halving_rungs(long min, int eta, long length, long *rungs, int cap)
{
    int n = 0;
    if (eta < 2)
        return 0;
    for (long r = min; r > 0 && r < length && n < cap; r *= eta) {
        rungs[n++] = r;
        if (r > length / eta)
            break; /* the next would pass the length (or overflow) */
    }
    return n;
}

int nl_halving_keep(int m, int eta)
{
    if (m <= 0)
        return 0;
    const int keep = eta >= 2 ? m / eta : m;
    return keep < 1 ? 1 : keep;
}
