/* Per-channel first and second moments of a host copy of an activation,
 * the accumulation the probes that measure activations share (the
 * variance shift, signal propagation). Sums are in double: a probe adds
 * up to a whole test split per channel. */
#ifndef NL_TRAIN_CHANNEL_MOMENTS_H
#define NL_TRAIN_CHANNEL_MOMENTS_H

#include "backend/shape.h"

/* x holds `rows` rows of `channels` channels of `plane` values each (value
 * (row r, channel c, position p) at (r * channels + c) * plane + p: images
 * NCHW with a row per sample, tokens a row per position; backend/shape.h);
 * adds each channel's sum and sum of squares into sum[c] and sum_sq[c] */
static inline void nl_channel_moments_add(const float *x, long rows, int channels, int plane,
                                          int block, double *sum, double *sum_sq)
{
    /* block > 0: the channel-blocked layout (nl_shape.block), each plane
     * read through nl_plane_of in position order: the same sums in the
     * same order */
    for (long r = 0; r < rows; r++)
        for (int ch = 0; ch < channels; ch++) {
            const nl_plane_at at = nl_plane_of(channels, plane, block, r * channels + ch);
            const float *v = x + at.first;
            double s1 = 0.0, s2 = 0.0;
            for (int p = 0; p < plane; p++) {
                const float value = v[p * at.step];
                s1 += value;
                s2 += (double)value * value;
            }
            sum[ch] += s1;
            sum_sq[ch] += s2;
        }
}

#endif
