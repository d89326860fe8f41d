/* Per-channel first and second moments of a host copy of an activation,
 * the accumulation the probes that measure activations share (the
 * variance shift, signal propagation). Sums are in double: a probe adds
 * up to a whole test split per channel. */
#ifndef NL_TRAIN_CHANNEL_MOMENTS_H
#define NL_TRAIN_CHANNEL_MOMENTS_H

/* x holds `rows` rows of `channels` channels of `plane` values each (value
 * (row r, channel c, position p) at (r * channels + c) * plane + p: images
 * NCHW with a row per sample, tokens a row per position, tensor.h); adds
 * each channel's sum and sum of squares into sum[c] and sum_sq[c] */
static inline void nl_channel_moments_add(const float *x, long rows, int channels, int plane,
                                          double *sum, double *sum_sq)
{
    for (long r = 0; r < rows; r++)
        for (int ch = 0; ch < channels; ch++) {
            const float *v = x + ((size_t)r * channels + ch) * plane;
            double s1 = 0.0, s2 = 0.0;
            for (int p = 0; p < plane; p++) {
                s1 += v[p];
                s2 += (double)v[p] * v[p];
            }
            sum[ch] += s1;
            sum_sq[ch] += s2;
        }
}

#endif
