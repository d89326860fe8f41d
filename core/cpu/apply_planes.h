/* The streaming pass of a per-channel normalization once its constants are
 * known: BatchNorm's eval forward and the low-precision statistics' apply
 * (cpu/norm_lowp.c) each compute mean, scale and shift their own way, then
 * write y = (x - mean) * scale + shift plane by plane here. */
#ifndef NL_CPU_APPLY_PLANES_H
#define NL_CPU_APPLY_PLANES_H

#include <stddef.h>

#include "cpu/cpu.h"
#include "cpu/reduce.h"

/* channels c0 .. c0+width of an (N, C, HW) batch, their constants
 * mean[j], scale[j], shift[j] for channel c0 + j; fused as nl_fmaf is */
static inline void nl_apply_planes(int n, int c, int hw, int c0, int width, const float *mean,
                                   const float *scale, const float *shift, const float *x,
                                   float *y)
{
    const long planes = (long)n * width;
    NL_PARALLEL_FOR_IF(planes * hw >= NL_PARALLEL_MIN,
    for (long plane = 0; plane < planes; plane++) {
        const int i = (int)(plane / width), j = (int)(plane % width);
        const float *xp = x + ((size_t)i * c + c0 + j) * hw;
        float *yp = y + ((size_t)i * c + c0 + j) * hw;
        const float m = mean[j], sc = scale[j], sh = shift[j];
        _Pragma("omp simd")
        for (int k = 0; k < hw; k++)
            yp[k] = nl_fmaf(xp[k] - m, sc, sh);
    });
}

#endif
