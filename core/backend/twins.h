/* Steps that a CPU kernel and its CUDA twin take alike, one definition so
 * that the two backends agree (compiled for the host and, from .cu files,
 * for the device too). */
#ifndef NL_BACKEND_TWINS_H
#define NL_BACKEND_TWINS_H

#include "backend/backend.h"

#if defined(__CUDACC__)
#define NL_TWIN_FN static inline __host__ __device__
#else
#define NL_TWIN_FN static inline
#endif

/* the largest of row[0..classes) and the first index that holds it (a NaN
 * never compares larger, so it wins only from row[0]) */
NL_TWIN_FN int nl_row_argmax(const float *row, int classes, float *max)
{
    float best = row[0];
    int at = 0;
    for (int k = 1; k < classes; k++)
        if (row[k] > best) {
            best = row[k];
            at = k;
        }
    *max = best;
    return at;
}

/* scale_check_finite's outcome from its parts' counts (slots: each part's
 * zeros, then each part's infs and NaNs), added in part order: the zeros to
 * their running total, and found_inf set when any value was not finite */
NL_TWIN_FN void nl_scale_check_total(double *slots, float *found_inf)
{
    double zeros = 0.0, bad = 0.0;
    for (int k = 0; k < NL_SUM_SQUARES_PARTS; k++) {
        zeros += slots[k];
        bad += slots[NL_SUM_SQUARES_PARTS + k];
    }
    slots[NL_UNSCALE_ZEROS] += zeros;
    if (bad > 0.0)
        *found_inf = 1.0f;
}

#endif
