/* The ViT's image-to-token ops (backend.h): patchify, position add, class
 * token, token pooling. All are copies or adds over rows of D floats; the
 * sums over samples (the position and class-token gradients) run over the
 * samples in order for each column, so they repeat bit for bit on any
 * thread count and match the reference (core/tfm/reference.c) exactly. */
#include <string.h>

#include "cpu/cpu.h"

/* offset of the first value (channel 0, row 0, column 0) of token `row`'s
 * patch in the (N, C, H, W) image batch */
static size_t patch_origin(long row, int c, int h, int w, int p)
{
    const int gw = w / p, tokens = (h / p) * gw;
    const long i = row / tokens;
    const int tk = (int)(row % tokens);
    return (size_t)i * c * h * w + (size_t)(tk / gw) * p * w + (size_t)(tk % gw) * p;
}

void nl_cpu_patchify_forward(nl_backend *be, int n, int c, int h, int w, int p, const float *x,
                             float *y)
{
    (void)be;
    const int width = c * p * p;
    const long rows = (long)n * (h / p) * (w / p);
    /* one token per iteration: p runs of p contiguous floats per channel */
    NL_PARALLEL_FOR_IF(rows * width >= NL_PARALLEL_MIN,
    for (long row = 0; row < rows; row++) {
        const float *patch = x + patch_origin(row, c, h, w, p);
        float *out = y + (size_t)row * width;
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < p; r++)
                memcpy(out + ((size_t)ch * p + r) * p, patch + ((size_t)ch * h + r) * w,
                       (size_t)p * sizeof *out);
    }
    );
}

void nl_cpu_patchify_backward(nl_backend *be, int n, int c, int h, int w, int p, const float *dy,
                              float *dx, bool accumulate_dx)
{
    (void)be;
    const int width = c * p * p;
    const long rows = (long)n * (h / p) * (w / p);
    /* patches do not overlap: each dx value has one source */
    NL_PARALLEL_FOR_IF(rows * width >= NL_PARALLEL_MIN,
    for (long row = 0; row < rows; row++) {
        float *patch = dx + patch_origin(row, c, h, w, p);
        const float *g = dy + (size_t)row * width;
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < p; r++) {
                float *to = patch + ((size_t)ch * h + r) * w;
                const float *from = g + ((size_t)ch * p + r) * p;
                for (int s = 0; s < p; s++)
                    to[s] = accumulate_dx ? to[s] + from[s] : from[s];
            }
    }
    );
}

void nl_cpu_pos_add_forward(nl_backend *be, int n, int t, int d, const float *x,
                            const float *pos, float *y)
{
    (void)be;
    const size_t per = (size_t)t * d;
    NL_PARALLEL_FOR_IF((long)n * t * d >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *in = x + (size_t)i * per;
        float *out = y + (size_t)i * per;
        for (size_t k = 0; k < per; k++)
            out[k] = in[k] + pos[k];
    }
    );
}

/* into[k] = sum over the samples of rows[i * stride + k] for k < count, in
 * sample order, one thread per slice of columns */
static void sum_over_samples(int n, size_t count, size_t stride, const float *rows, float *into)
{
    NL_PARALLEL_FOR_IF((long)n * (long)count >= NL_PARALLEL_MIN,
    for (long k = 0; k < (long)count; k++) {
        float sum = 0.0f;
        for (int i = 0; i < n; i++)
            sum += rows[(size_t)i * stride + (size_t)k];
        into[k] = sum;
    }
    );
}

void nl_cpu_pos_add_backward(nl_backend *be, int n, int t, int d, const float *dy, float *dx,
                             bool accumulate_dx, float *dpos)
{
    if (dx)
        nl_cpu_pass_gradient(be, (size_t)n * t * d, dy, dx, accumulate_dx);
    sum_over_samples(n, (size_t)t * d, (size_t)t * d, dy, dpos);
}

void nl_cpu_cls_prepend_forward(nl_backend *be, int n, int t, int d, const float *x,
                                const float *cls, float *y)
{
    (void)be;
    for (int i = 0; i < n; i++) {
        float *out = y + (size_t)i * (t + 1) * d;
        memcpy(out, cls, (size_t)d * sizeof *out);
        memcpy(out + d, x + (size_t)i * t * d, (size_t)t * d * sizeof *out);
    }
}

void nl_cpu_cls_prepend_backward(nl_backend *be, int n, int t, int d, const float *dy,
                                 float *dx, bool accumulate_dx, float *dcls)
{
    if (dx)
        for (int i = 0; i < n; i++)
            nl_cpu_pass_gradient(be, (size_t)t * d, dy + ((size_t)i * (t + 1) + 1) * d,
                                 dx + (size_t)i * t * d, accumulate_dx);
    sum_over_samples(n, (size_t)d, (size_t)(t + 1) * d, dy, dcls);
}

void nl_cpu_token_pool_forward(nl_backend *be, nl_token_pool kind, int n, int t, int d,
                               const float *x, float *y)
{
    (void)be;
    NL_PARALLEL_FOR_IF((long)n * t * d >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *in = x + (size_t)i * t * d;
        float *out = y + (size_t)i * d;
        memcpy(out, in, (size_t)d * sizeof *out);
        if (kind != NL_TOKEN_POOL_MEAN)
            continue;
        for (int s = 1; s < t; s++)
            for (int j = 0; j < d; j++)
                out[j] += in[(size_t)s * d + j];
        for (int j = 0; j < d; j++)
            out[j] /= (float)t;
    }
    );
}

void nl_cpu_token_pool_backward(nl_backend *be, nl_token_pool kind, int n, int t, int d,
                                const float *dy, float *dx, bool accumulate_dx)
{
    (void)be;
    NL_PARALLEL_FOR_IF((long)n * t * d >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *g = dy + (size_t)i * d;
        for (int s = 0; s < t; s++) {
            float *to = dx + ((size_t)i * t + s) * d;
            for (int j = 0; j < d; j++) {
                const float grad = kind == NL_TOKEN_POOL_MEAN ? g[j] / (float)t
                                   : s == 0                   ? g[j]
                                                              : 0.0f;
                to[j] = accumulate_dx ? to[j] + grad : grad;
            }
        }
    }
    );
}
