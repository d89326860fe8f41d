/* The normalizers without statistics (backend.h): Dynamic Tanh and FRN's
 * thresholded linear unit; and, at the end, ScaleNorm, whose one statistic
 * per row (its L2 norm) needs none of the norm family's machinery. Every output element depends on its own input
 * and its channel's parameters; the parameter gradients are sums over a
 * channel, each taken by one thread in a fixed order (planes in sample
 * order, chunks of a plane in vector lanes, chunk totals in double), so
 * nothing depends on the thread count. dalpha adds the channels' sums in
 * channel order.
 *
 * tanh is computed in 8-float vectors (nl_v8_tanh, vmath.h): glibc's scalar
 * tanhf is ~24x slower per element (results/bench/NOTES.md). Tested against the
 * reference (core/norm/reference.c) at 1e-5, and against tanh in double over
 * a sweep of inputs in test_norm_reference. */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/reduce.h"
#include "cpu/vmath.h"

/* A run of `len` contiguous floats: a plane (one gamma and beta, row NULL)
 * or a feature vector (per-element parameters from the rows). Short tails go
 * through an 8-float buffer, so they round exactly as the vector body. */
typedef struct {
    const float *gamma_row, *beta_row; /* per element, or NULL */
    float gamma, beta;                 /* otherwise */
} run_params;

static inline nl_v8 param8(const float *row, float value, int j)
{
    return row ? nl_v8_load(row + j) : nl_v8_splat(value);
}

static inline void load_tail(float *buf, const float *src, int left)
{
    memset(buf, 0, 8 * sizeof(float));
    if (src)
        memcpy(buf, src, (size_t)left * sizeof(float));
}

static void dyt_run_forward(const float *x, float *y, int len, float alpha, const run_params *p)
{
    const nl_v8 va = nl_v8_splat(alpha);
    int j = 0;
    for (; j + 8 <= len; j += 8)
        nl_v8_store(y + j, nl_v8_fma(param8(p->gamma_row, p->gamma, j),
                                     nl_v8_tanh(va * nl_v8_load(x + j)),
                                     param8(p->beta_row, p->beta, j)));
    if (j < len) {
        const int left = len - j;
        float xb[8], gb[8], bb[8], yb[8];
        load_tail(xb, x + j, left);
        load_tail(gb, p->gamma_row ? p->gamma_row + j : NULL, left);
        load_tail(bb, p->beta_row ? p->beta_row + j : NULL, left);
        const run_params tail = {p->gamma_row ? gb : NULL, p->beta_row ? bb : NULL, p->gamma,
                                 p->beta};
        nl_v8_store(yb, nl_v8_fma(param8(tail.gamma_row, tail.gamma, 0),
                                  nl_v8_tanh(va * nl_v8_load(xb)),
                                  param8(tail.beta_row, tail.beta, 0)));
        memcpy(y + j, yb, (size_t)left * sizeof(float));
    }
}

/* ---- the channel-blocked layout (block B > 0: (N, C/B, HW, B)), the
 * CPU_ONLY twins dyt_*_blocked and tlu_*_blocked ----
 * A pixel's B channels are a run of B features with their channels'
 * parameters, each element computed as on a plane (the same bits: the
 * same operations on the same values). The parameter gradients are summed
 * per channel over the samples in sample order, a sample's pixels in
 * vector lanes over ROWS-pixel chunks and the chunk totals in double:
 * another order than the planes' (float rounding), fixed by the shapes.
 * Parallel over channel blocks, so a channel's sums stay in one thread. */
enum { ROWS = 32 };

void nl_cpu_dyt_forward_blocked(nl_backend *be, int block, int n, int c, int hw,
                                const float *alpha, const float *x, const float *gamma,
                                const float *beta, float *y)
{
    (void)be;
    const float a = *alpha;
    const int blocks = c / block;
    const long items = (long)n * blocks;
    NL_PARALLEL_FOR_IF(items * hw * block >= NL_PARALLEL_MIN,
    for (long it = 0; it < items; it++) {
        const int cb = (int)(it % blocks);
        const run_params p = {gamma ? gamma + (size_t)cb * block : NULL,
                              beta ? beta + (size_t)cb * block : NULL, 1.0f, 0.0f};
        const size_t at = (size_t)it * hw * block;
        for (int q = 0; q < hw; q++)
            dyt_run_forward(x + at + (size_t)q * block, y + at + (size_t)q * block, block, a, &p);
    });
}

void nl_cpu_dyt_forward(nl_backend *be, int n, int c, int hw, const float *alpha, const float *x,
                        const float *gamma, const float *beta, float *y)
{
    (void)be;
    const float a = *alpha;
    const long planes = (long)n * c;
    if (hw == 1) { /* feature vectors: a row of c features per sample */
        const run_params p = {gamma, beta, 1.0f, 0.0f};
        NL_PARALLEL_FOR_IF(planes >= NL_PARALLEL_MIN,
        for (int i = 0; i < n; i++)
            dyt_run_forward(x + (size_t)i * c, y + (size_t)i * c, c, a, &p);
        );
        return;
    }
    NL_PARALLEL_FOR_IF(planes * hw >= NL_PARALLEL_MIN,
    for (long s = 0; s < planes; s++) {
        const int ch = (int)(s % c);
        const run_params p = {NULL, NULL, gamma ? gamma[ch] : 1.0f, beta ? beta[ch] : 0.0f};
        dyt_run_forward(x + (size_t)s * hw, y + (size_t)s * hw, hw, a, &p);
    });
}

/* one vector of the backward: dx, and the lanes' dy, dy * t and
 * dy * (1 - t^2) * x added to the accumulators */
static inline nl_v8 dyt_grad8(nl_v8 xv, nl_v8 dyv, nl_v8 va, nl_v8 scale, nl_v8 acc[3])
{
    const nl_v8 t = nl_v8_tanh(va * xv);
    const nl_v8 slope = nl_v8_splat(1.0f) - t * t;
    acc[0] += dyv;
    acc[1] = nl_v8_fma(dyv, t, acc[1]);
    acc[2] = nl_v8_fma(dyv * slope, xv, acc[2]);
    return dyv * scale * slope;
}

static inline void store_dx(float *dx, size_t j, nl_v8 d, bool accumulate)
{
    nl_v8_store(dx + j, accumulate ? nl_v8_load(dx + j) + d : d);
}

/* The last `left` (< 8) values of a backward run, padded with zeros: the
 * input (x or y), dy (0 in the padding adds nothing to the sums) and, when
 * accumulating, the old dx. put_tail_dx writes the run's dx back. */
static void get_tail(float in_b[8], const float *in, float dy_b[8], const float *dy,
                     float dx_b[8], const float *dx, bool accumulate, int left)
{
    load_tail(in_b, in, left);
    load_tail(dy_b, dy, left);
    load_tail(dx_b, dx && accumulate ? dx : NULL, left);
}

static void put_tail_dx(float *dx, const float dx_b[8], int left)
{
    if (dx)
        memcpy(dx, dx_b, (size_t)left * sizeof(float));
}

/* a plane of hw floats of one channel: sums[0..2] += its sum of dy, dy * t,
 * dy * (1 - t^2) * x; dx (when not NULL) = dy * gamma * alpha * (1 - t^2) */
static void dyt_plane_backward(const float *x, const float *dy, float *dx, bool accumulate, int hw,
                               float alpha, float gamma, double sums[3])
{
    const nl_v8 va = nl_v8_splat(alpha), scale = nl_v8_splat(gamma * alpha);
    int j = 0;
    while (j + 8 <= hw) {
        const int end = j + NL_CHUNK < hw ? j + NL_CHUNK : hw;
        nl_v8 acc[3] = {{0}, {0}, {0}};
        for (; j + 8 <= end; j += 8) {
            const nl_v8 d = dyt_grad8(nl_v8_load(x + j), nl_v8_load(dy + j), va, scale, acc);
            if (dx)
                store_dx(dx, j, d, accumulate);
        }
        for (int k = 0; k < 3; k++)
            sums[k] += nl_v8_sum(acc[k]);
    }
    if (j < hw) {
        const int left = hw - j;
        float xb[8], db[8], ob[8];
        get_tail(xb, x + j, db, dy + j, ob, dx ? dx + j : NULL, accumulate, left);
        nl_v8 acc[3] = {{0}, {0}, {0}};
        store_dx(ob, 0, dyt_grad8(nl_v8_load(xb), nl_v8_load(db), va, scale, acc), accumulate);
        put_tail_dx(dx ? dx + j : NULL, ob, left);
        for (int k = 0; k < 3; k++)
            sums[k] += nl_v8_sum(acc[k]);
    }
}

/* Rows of features: each thread takes a contiguous span of 8-feature units
 * and walks its rows whole, up to FEATURE_BLOCK features at a time (a few
 * features walked down the rows read 32 bytes a row and wait on every
 * load), each feature's sums kept in a float lane over ROWS rows, then
 * added in double. A feature's sums see the same operations in the same
 * order whatever the span, so nothing depends on the thread count. */
enum { FEATURE_BLOCK = 256 };

/* each of `vecs` vectors' three float accumulators into the double totals
 * of its 8 features, tot[feature][k] as the sums are laid out */
static inline void add_lanes(double (*tot)[3], nl_v8 (*acc)[3], int vecs)
{
    for (int v = 0; v < vecs; v++)
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 8; l++)
                tot[v * 8 + l][k] += acc[v][k][l];
}

static void dyt_features_block(int n, int c, int b0, int width, const float *x, const float *dy,
                               const float *gamma, float alpha, float *dx, bool accumulate,
                               double *sums)
{
    const int vecs = (width + 7) / 8, tail = width - (vecs - 1) * 8;
    const nl_v8 va = nl_v8_splat(alpha);
    float gb[FEATURE_BLOCK];
    for (int j = 0; j < vecs * 8; j++)
        gb[j] = j >= width ? 0.0f : gamma ? gamma[b0 + j] : 1.0f;
    double tot[FEATURE_BLOCK][3] = {{0}};
    for (int i0 = 0; i0 < n; i0 += ROWS) {
        const int i1 = i0 + ROWS < n ? i0 + ROWS : n;
        nl_v8 acc[FEATURE_BLOCK / 8][3];
        memset(acc, 0, sizeof acc);
        for (int i = i0; i < i1; i++) {
            const size_t at = (size_t)i * c + b0;
            for (int v = 0; v < vecs; v++) {
                const size_t j = at + (size_t)v * 8;
                const nl_v8 scale = nl_v8_load(gb + v * 8) * va;
                if (v < vecs - 1 || tail == 8) {
                    const nl_v8 d = dyt_grad8(nl_v8_load(x + j), nl_v8_load(dy + j), va, scale,
                                              acc[v]);
                    if (dx)
                        store_dx(dx, j, d, accumulate);
                    continue;
                }
                float xb[8], db[8], ob[8];
                get_tail(xb, x + j, db, dy + j, ob, dx ? dx + j : NULL, accumulate, tail);
                store_dx(ob, 0, dyt_grad8(nl_v8_load(xb), nl_v8_load(db), va, scale, acc[v]),
                         accumulate);
                put_tail_dx(dx ? dx + j : NULL, ob, tail);
            }
        }
        add_lanes(tot, acc, vecs);
    }
    memcpy(sums + (size_t)b0 * 3, tot, (size_t)width * sizeof *tot);
}

static void dyt_features_share(int n, int c, const float *x, const float *dy, const float *gamma,
                               float alpha, float *dx, bool accumulate, double *sums)
{
    int first, last;
    nl_thread_range((c + 7) / 8, &first, &last);
    const int end = last * 8 < c ? last * 8 : c;
    for (int b0 = first * 8; b0 < end; b0 += FEATURE_BLOCK)
        dyt_features_block(n, c, b0, end - b0 < FEATURE_BLOCK ? end - b0 : FEATURE_BLOCK, x, dy,
                           gamma, alpha, dx, accumulate, sums);
}

static void dyt_features_backward(int n, int c, const float *x, const float *dy,
                                  const float *gamma, float alpha, float *dx, bool accumulate,
                                  double *sums /* (c, 3) */)
{
    NL_PARALLEL_CALL_IF((long)n * c >= NL_PARALLEL_MIN,
                        dyt_features_share(n, c, x, dy, gamma, alpha, dx, accumulate, sums));
}

static void dyt_backward_blocked(int n, int c, int hw, int block, const float *x,
                                 const float *dy, const float *gamma, float alpha, float *dx,
                                 bool accumulate, double *sums /* (c, 3) */)
{
    const int blocks = c / block, nv = block / 8;
    const nl_v8 va = nl_v8_splat(alpha);
    NL_PARALLEL_FOR_IF((long)n * c * hw >= NL_PARALLEL_MIN,
    for (int cb = 0; cb < blocks; cb++) {
        nl_v8 scale[NL_MAX_CHANNEL_BLOCK / 8];
        for (int v = 0; v < nv; v++) {
            float g[8];
            for (int l = 0; l < 8; l++)
                g[l] = gamma ? gamma[cb * block + v * 8 + l] : 1.0f;
            scale[v] = nl_v8_load(g) * va;
        }
        double tot[NL_MAX_CHANNEL_BLOCK][3] = {{0}};
        for (int i = 0; i < n; i++) {
            const size_t item = ((size_t)i * blocks + cb) * hw * block;
            for (int q0 = 0; q0 < hw; q0 += ROWS) {
                const int q1 = hw - q0 < ROWS ? hw : q0 + ROWS;
                nl_v8 acc[NL_MAX_CHANNEL_BLOCK / 8][3];
                memset(acc, 0, sizeof acc);
                for (int q = q0; q < q1; q++)
                    for (int v = 0; v < nv; v++) {
                        const size_t j = item + (size_t)q * block + (size_t)v * 8;
                        const nl_v8 d = dyt_grad8(nl_v8_load(x + j), nl_v8_load(dy + j), va,
                                                  scale[v], acc[v]);
                        if (dx)
                            store_dx(dx, j, d, accumulate);
                    }
                add_lanes(tot, acc, nv);
            }
        }
        memcpy(sums + (size_t)cb * block * 3, tot, (size_t)block * sizeof *tot);
    });
}

size_t nl_cpu_dyt_backward_workspace(nl_backend *be, int c)
{
    (void)be;
    return (size_t)c * 3 * sizeof(double); /* each channel's three sums */
}

/* the parameter gradients from each channel's three sums (c, 3): dy,
 * dy * t, dy * (1 - t^2) * x; dalpha adds the channels' in channel order */
static void dyt_param_grads(int c, const double *sums, const float *gamma, float *dgamma,
                            float *dbeta, float *dalpha)
{
    double total = 0.0;
    for (int ch = 0; ch < c; ch++) {
        const double *cs = sums + (size_t)ch * 3;
        if (dbeta)
            dbeta[ch] = (float)cs[0];
        if (dgamma)
            dgamma[ch] = (float)cs[1];
        total += (gamma ? gamma[ch] : 1.0) * cs[2];
    }
    *dalpha = (float)total;
}

void nl_cpu_dyt_backward(nl_backend *be, int n, int c, int hw, const float *alpha, const float *x,
                         const float *dy, const float *gamma, float *dx, bool accumulate_dx,
                         float *dgamma, float *dbeta, float *dalpha, void *workspace)
{
    (void)be;
    const float a = *alpha;
    double *sums = workspace; /* (c, 3) */
    if (hw == 1) {
        dyt_features_backward(n, c, x, dy, gamma, a, dx, accumulate_dx, sums);
    } else {
        NL_PARALLEL_FOR_IF((long)n * c * hw >= NL_PARALLEL_MIN,
        for (int ch = 0; ch < c; ch++) {
            double *cs = sums + (size_t)ch * 3;
            cs[0] = cs[1] = cs[2] = 0.0;
            for (int i = 0; i < n; i++) {
                const size_t at = ((size_t)i * c + ch) * hw;
                dyt_plane_backward(x + at, dy + at, dx ? dx + at : NULL, accumulate_dx, hw, a,
                                   gamma ? gamma[ch] : 1.0f, cs);
            }
        });
    }
    dyt_param_grads(c, sums, gamma, dgamma, dbeta, dalpha);
}

void nl_cpu_dyt_backward_blocked(nl_backend *be, int block, int n, int c, int hw,
                                 const float *alpha, const float *x, const float *dy,
                                 const float *gamma, float *dx, bool accumulate_dx,
                                 float *dgamma, float *dbeta, float *dalpha, void *workspace)
{
    (void)be;
    double *sums = workspace; /* (c, 3) */
    dyt_backward_blocked(n, c, hw, block, x, dy, gamma, *alpha, dx, accumulate_dx, sums);
    dyt_param_grads(c, sums, gamma, dgamma, dbeta, dalpha);
}

void nl_cpu_tlu_forward(nl_backend *be, int n, int c, int hw, const float *x, const float *tau,
                        float *y)
{
    (void)be;
    const long planes = (long)n * c;
    NL_PARALLEL_FOR_IF(planes * hw >= NL_PARALLEL_MIN,
    for (long s = 0; s < planes; s++) {
        const float t = tau[s % c];
        const float *xs = x + (size_t)s * hw;
        float *ys = y + (size_t)s * hw;
        _Pragma("omp simd")
        for (int j = 0; j < hw; j++)
            ys[j] = xs[j] > t ? xs[j] : t;
    });
}

/* each pixel's run of channels against their thresholds */
void nl_cpu_tlu_forward_blocked(nl_backend *be, int block, int n, int c, int hw, const float *x,
                                const float *tau, float *y)
{
    (void)be;
    const int blocks = c / block;
    const long items = (long)n * blocks;
    NL_PARALLEL_FOR_IF(items * hw * block >= NL_PARALLEL_MIN,
    for (long it = 0; it < items; it++) {
        const float *t = tau + (size_t)(it % blocks) * block;
        const float *xs = x + (size_t)it * hw * block;
        float *ys = y + (size_t)it * hw * block;
        for (int q = 0; q < hw; q++)
            _Pragma("omp simd")
            for (int l = 0; l < block; l++) {
                const float v = xs[(size_t)q * block + l];
                ys[(size_t)q * block + l] = v > t[l] ? v : t[l];
            }
    });
}

/* one plane of the TLU's backward: dx where y passes the threshold, and the
 * plane's sum of dy where it does not, in one pass (vector lanes in chunks,
 * chunk totals in double, the tail through a buffer of zeros) */
static double tlu_plane_backward(const float *y, const float *dy, float *dx, bool accumulate,
                                 int hw, float tau)
{
    const nl_v8 vt = nl_v8_splat(tau);
    double total = 0.0;
    int j = 0;
    while (j + 8 <= hw) {
        const int end = j + NL_CHUNK < hw ? j + NL_CHUNK : hw;
        nl_v8 held = {0};
        for (; j + 8 <= end; j += 8) {
            const nl_v8i passes = nl_v8_load(y + j) > vt;
            const nl_v8 d = nl_v8_load(dy + j);
            held += (nl_v8)((nl_v8i)d & ~passes);
            if (dx)
                store_dx(dx, (size_t)j, (nl_v8)((nl_v8i)d & passes), accumulate);
        }
        total += nl_v8_sum(held);
    }
    if (j < hw) {
        const int left = hw - j;
        float yb[8], db[8], ob[8];
        get_tail(yb, y + j, db, dy + j, ob, dx ? dx + j : NULL, accumulate, left);
        const nl_v8i passes = nl_v8_load(yb) > vt;
        const nl_v8 d = nl_v8_load(db);
        total += nl_v8_sum((nl_v8)((nl_v8i)d & ~passes));
        store_dx(ob, 0, (nl_v8)((nl_v8i)d & passes), accumulate);
        put_tail_dx(dx ? dx + j : NULL, ob, left);
    }
    return total;
}

/* Channels in blocks of TLU_BLOCK, each block's planes walked sample by
 * sample, so a thread streams through contiguous runs of planes rather than
 * one plane every c; every channel's plane sums are still added in sample
 * order, so nothing depends on the blocks or the thread count. */
enum { TLU_BLOCK = 64 };

/* the blocked backward: each channel block in one thread, its lanes'
 * held sums over ROWS-pixel chunks, chunk totals in double, samples in
 * order */
void nl_cpu_tlu_backward_blocked(nl_backend *be, int block, int n, int c, int hw, const float *y,
                                 const float *tau, const float *dy, float *dx, bool accumulate_dx,
                                 float *dtau)
{
    (void)be;
    const int blocks = c / block, nv = block / 8;
    NL_PARALLEL_FOR_IF((long)n * c * hw >= NL_PARALLEL_MIN,
    for (int cb = 0; cb < blocks; cb++) {
        nl_v8 vt[NL_MAX_CHANNEL_BLOCK / 8];
        for (int v = 0; v < nv; v++)
            vt[v] = nl_v8_load(tau + cb * block + v * 8);
        double total[NL_MAX_CHANNEL_BLOCK] = {0};
        for (int i = 0; i < n; i++) {
            const size_t item = ((size_t)i * blocks + cb) * hw * block;
            for (int q0 = 0; q0 < hw; q0 += ROWS) {
                const int q1 = hw - q0 < ROWS ? hw : q0 + ROWS;
                nl_v8 held[NL_MAX_CHANNEL_BLOCK / 8];
                memset(held, 0, sizeof held);
                for (int q = q0; q < q1; q++)
                    for (int v = 0; v < nv; v++) {
                        const size_t j = item + (size_t)q * block + (size_t)v * 8;
                        const nl_v8i passes = nl_v8_load(y + j) > vt[v];
                        const nl_v8 d = nl_v8_load(dy + j);
                        held[v] += (nl_v8)((nl_v8i)d & ~passes);
                        if (dx)
                            store_dx(dx, j, (nl_v8)((nl_v8i)d & passes), accumulate_dx);
                    }
                for (int v = 0; v < nv; v++)
                    for (int l = 0; l < 8; l++)
                        total[v * 8 + l] += held[v][l];
            }
        }
        for (int l = 0; l < block; l++)
            dtau[cb * block + l] = (float)total[l];
    });
}

void nl_cpu_tlu_backward(nl_backend *be, int n, int c, int hw, const float *y, const float *tau,
                         const float *dy, float *dx, bool accumulate_dx, float *dtau)
{
    (void)be;
    const int blocks = (c + TLU_BLOCK - 1) / TLU_BLOCK;
    NL_PARALLEL_FOR_IF((long)n * c * hw >= NL_PARALLEL_MIN,
    for (int blk = 0; blk < blocks; blk++) {
        const int ch0 = blk * TLU_BLOCK, width = c - ch0 < TLU_BLOCK ? c - ch0 : TLU_BLOCK;
        double total[TLU_BLOCK] = {0};
        for (int i = 0; i < n; i++)
            for (int k = 0; k < width; k++) {
                const size_t at = ((size_t)i * c + ch0 + k) * hw;
                total[k] += tlu_plane_backward(y + at, dy + at, dx ? dx + at : NULL,
                                               accumulate_dx, hw, tau[ch0 + k]);
            }
        for (int k = 0; k < width; k++)
            dtau[ch0 + k] = (float)total[k];
    });
}

/* ScaleNorm: every row in one thread, its sums in double in element order,
 * so nothing depends on the thread count */
void nl_cpu_scalenorm_forward(nl_backend *be, int n, int d, float eps, const float *gain,
                              const float *x, float *y, float *save_norm)
{
    (void)be;
    const float g = *gain;
    NL_PARALLEL_FOR_IF((long)n * d >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *xr = x + (size_t)i * d;
        float *yr = y + (size_t)i * d;
        double sq = 0.0;
        for (int j = 0; j < d; j++)
            sq += (double)xr[j] * xr[j];
        const float norm = (float)sqrt(sq);
        const float scale = g / (norm > eps ? norm : eps);
        save_norm[i] = norm;
        for (int j = 0; j < d; j++)
            yr[j] = xr[j] * scale;
    });
}

size_t nl_cpu_scalenorm_backward_workspace(nl_backend *be, int n)
{
    (void)be;
    return (size_t)n * sizeof(double); /* each row's share of dgain */
}

void nl_cpu_scalenorm_backward(nl_backend *be, int n, int d, float eps, const float *gain,
                               const float *x, const float *dy, const float *save_norm,
                               float *dx, bool accumulate_dx, float *dgain, void *workspace)
{
    (void)be;
    const float g = *gain;
    double *part = workspace;
    NL_PARALLEL_FOR_IF((long)n * d >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *xr = x + (size_t)i * d, *dyr = dy + (size_t)i * d;
        double dot = 0.0;
        for (int j = 0; j < d; j++)
            dot += (double)dyr[j] * xr[j];
        const float norm = save_norm[i], clamped = norm > eps ? norm : eps;
        part[i] = dot / clamped;
        if (!dx)
            continue;
        const float scale = g / clamped;
        const float coef = norm < eps ? 0.0f : (float)(dot / ((double)clamped * clamped));
        float *dxr = dx + (size_t)i * d;
        for (int j = 0; j < d; j++) {
            const float v = scale * (dyr[j] - xr[j] * coef);
            dxr[j] = accumulate_dx ? dxr[j] + v : v;
        }
    });
    if (!dgain)
        return;
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += part[i];
    *dgain = (float)total;
}
