/* The normalization family on the channel-blocked layout (norm_blocked.h):
 * (N, C/B, HW, B), the B channels of one pixel contiguous. An item is one
 * (sample, channel block) run of HW*B floats; the passes stream items, B
 * channels across the vector lanes, 8 lanes per vector.
 *
 * Every statistic starts as per-(sample, channel) sums over the pixels:
 * float partials over chunks of PIXEL_CHUNK pixels, pixel p into the
 * accumulator of phase p % 4 (four independent chains per lane, so the pass
 * is not held up by the adds' latency), the chunk's phases added pairwise
 * and the chunk total added into a double. A lane is one channel, so these
 * operations are the same whatever B is and whichever thread runs the item.
 * The per-(sample, channel) doubles are then added in a fixed order: over
 * samples in sample order (batch statistics, the parameter gradients) or
 * over a group's channels in channel order (per-sample groups). Nothing
 * depends on B or the thread count; against the plain layout's kernels
 * (batchnorm.c, groupnorm.c) only the order of the sums differs, so the
 * results agree to float rounding. The sums are one-pass about a shift, as
 * those kernels take them: a value of the statistics group (the same value
 * they shift by), or in the backward the saved mean; the statistics, rstd
 * and the coefficients are then computed and rounded as they compute them.
 *
 * The forward keeps its per-(sample, channel) sums in a fixed buffer on the
 * stack (TILE entries) and takes the samples in tiles of it: training steps
 * do not allocate, and the order of the sums does not change with the tile
 * (a channel's running totals go on in sample order across tiles). Per-sample
 * groups need a whole sample's channels in one tile, hence
 * NL_NORM_BLOCKED_MAX_C. The backward keeps them in its workspace. The
 * passes are memory-bound: the statistics pass, then the apply pass (the
 * backward: the sums pass, then the dx pass), each parallel over items;
 * per-sample groups take both passes a tile of samples at a time, the
 * second reading from the cache (nl_cpu_blocked_cached_samples). The
 * backward is norm_blocked_backward.c's. Vector code uses explicit
 * multiply-adds only: the kernels are compiled with -ffp-contract=fast,
 * and the copies specialized for B = 8 and B = 16 must not round
 * differently.
 *
 * Operands the caller stores as bf16 or fp16 (nl_norm_geom.io: x, y, dx, dy)
 * are widened where they are loaded and rounded to nearest even where
 * they are stored, in registers (norm_blocked_internal.h): the results
 * are the fp32 kernels' on the widened values, the 16-bit outputs rounded,
 * at half the memory traffic for those operands. The mask is a constant
 * of each loop's copy. norm_stats and norm_apply take fp32 alone. */
#include <assert.h>
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/norm_blocked.h"
#include "cpu/norm_blocked_internal.h"
#include "cpu/reduce.h"

enum { TILE = NL_NORM_BLOCKED_MAX_C }; /* (sample, channel) entries of the stack buffer */

/* the value channel c of sample i is summed about (shift_kind) */
static inline float shift_of(const layout *L, const nl_norm_geom *g, shift_kind kind,
                             const float *x, const float *save_mean, int i, int c)
{
    const unsigned st = IO_ST(io_word(g), IO_X);
    if (kind == SHIFT_MEAN)
        return save_mean[stat_of(L, i, c)];
    if (kind == SHIFT_PLANE)
        return io_get(x, value_at(L, i, c, 0), st);
    if (L->groups == 0)
        return io_get(x, value_at(L, 0, c, 0), st);
    return g->center ? io_get(x, value_at(L, i, c / L->cpg * L->cpg, 0), st) : 0.0f;
}

/* mean and biased variance from sums about shift over `count` values, as
 * batchnorm.c's block_finish_stats and groupnorm.c's block_finish take them */
static void moments_finish(float shift, double sum, double sum_sq, double count, bool center,
                           double *mean, double *var)
{
    const double dmean = center ? sum / count : 0.0;
    const double v = sum_sq / count - dmean * dmean;
    *mean = (double)shift + dmean;
    *var = v > 0.0 ? v : 0.0;
}

/* ---- the sums pass ---- */

/* one pixel's 8 lanes: (x - s) and its square, or with dy, g and
 * g * (x - s), g = dy (taken where y > 0 with y: a fused ReLU's output);
 * io: the constant word of the operands' storage (io_word) */
static inline __attribute__((always_inline)) void
pixel_sums(const void *x, const void *dy, const void *y, size_t at, nl_v8 s, nl_v8 *a,
           nl_v8 *b, unsigned io)
{
    const nl_v8 d = io_load(x, at, IO_ST(io, IO_X)) - s;
    if (!dy) {
        *a += d;
        *b = nl_v8_fma(d, d, *b);
        return;
    }
    const nl_v8 gv = io_dy_load(dy, y, at, io);
    *a += gv;
    *b = nl_v8_fma(gv, d, *b);
}

/* the per-channel sums of one item (hw pixels of B lanes) about shift[l],
 * into s1[l] and s2[l]. A chunk's lanes are taken 8 at a time: with B = 16
 * the second half reads the chunk (8 KiB) back from L1, and four phases of
 * two sums stay in registers. */
static inline __attribute__((always_inline)) void
item_sums(const void *x, const void *dy, const void *y, int B, int hw, const float *shift,
          double *s1, double *s2, unsigned io)
{
    for (int l = 0; l < B; l++)
        s1[l] = s2[l] = 0.0;
    const size_t stride = (size_t)B;
    for (int p0 = 0; p0 < hw; p0 += PIXEL_CHUNK) {
        const int p1 = hw - p0 < PIXEL_CHUNK ? hw : p0 + PIXEL_CHUNK;
        for (int l0 = 0; l0 < B; l0 += LANES) {
            const nl_v8 s = nl_v8_load(shift + l0);
            nl_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
            size_t at = (size_t)p0 * stride + (size_t)l0;
            int p = p0;
            for (; p + 4 <= p1; p += 4, at += 4 * stride) {
                pixel_sums(x, dy, y, at, s, &a0, &b0, io);
                pixel_sums(x, dy, y, at + stride, s, &a1, &b1, io);
                pixel_sums(x, dy, y, at + 2 * stride, s, &a2, &b2, io);
                pixel_sums(x, dy, y, at + 3 * stride, s, &a3, &b3, io);
            }
            /* the chunk's last pixels, each into its phase */
            if (p < p1)
                pixel_sums(x, dy, y, at, s, &a0, &b0, io);
            if (p + 1 < p1)
                pixel_sums(x, dy, y, at + stride, s, &a1, &b1, io);
            if (p + 2 < p1)
                pixel_sums(x, dy, y, at + 2 * stride, s, &a2, &b2, io);
            const nl_v8 t1 = (a0 + a1) + (a2 + a3), t2 = (b0 + b1) + (b2 + b3);
            for (int l = 0; l < LANES; l++) {
                s1[l0 + l] += (double)t1[l];
                s2[l0 + l] += (double)t2[l];
            }
        }
    }
}

/* one copy per case (and per word of the operands' storage), so
 * that no test on dy, y or a storage is left in the loop */
static void item_value_sums(const void *x, int B, int hw, const float *shift, double *s1,
                            double *s2, unsigned io)
{
    if (io & IO_X && io & IO_FP16)
        item_sums(x, NULL, NULL, B, hw, shift, s1, s2, IO_X | IO_FP16);
    else if (io & IO_X)
        item_sums(x, NULL, NULL, B, hw, shift, s1, s2, IO_X);
    else
        item_sums(x, NULL, NULL, B, hw, shift, s1, s2, 0);
}

static void item_grad_sums(const void *x, const void *dy, int B, int hw, const float *shift,
                           double *s1, double *s2, unsigned io)
{
#define GRAD_SUMS(m) item_sums(x, dy, NULL, B, hw, shift, s1, s2, m)
    IO_CASES2(io, GRAD_SUMS, IO_X, IO_DY);
#undef GRAD_SUMS
}

static void item_grad_sums_masked(const void *x, const void *dy, const void *y, int B, int hw,
                                  const float *shift, double *s1, double *s2, unsigned io)
{
#define GRAD_SUMS(m) item_sums(x, dy, y, B, hw, shift, s1, s2, m)
    IO_CASES3(io, GRAD_SUMS, IO_X, IO_DY, IO_Y);
#undef GRAD_SUMS
}

/* The sums of the items of samples [i0, i1) and channel blocks [b0, b1)
 * into part: entry (i - i0) * width + (c - b0 * B), width = (b1 - b0) * B,
 * two doubles each: the sums of (x - shift) and (x - shift)^2, or with dy
 * of g and g * (x - shift) (item_sums). */
void nl_cpu_blocked_tile_sums(const layout *L, const nl_norm_geom *g, shift_kind kind, int i0,
                              int i1, int b0, int b1, const float *x, const float *dy,
                              const float *y, const float *save_mean, double *part)
{
    const int bw = b1 - b0, width = bw * L->B;
    const long items = (long)(i1 - i0) * bw;
    const unsigned io = io_word(g);
    NL_PARALLEL_FOR_IF(items * L->hw * L->B >= NL_PARALLEL_MIN,
    for (long it = 0; it < items; it++) {
        const int i = i0 + (int)(it / bw), cb = b0 + (int)(it % bw);
        const size_t at = item_at(L, (long)i * L->nb + cb);
        float shift[BLOCK_MAX];
        double s1[BLOCK_MAX], s2[BLOCK_MAX];
        for (int l = 0; l < L->B; l++)
            shift[l] = shift_of(L, g, kind, x, save_mean, i, cb * L->B + l);
        if (!dy)
            item_value_sums(io_at(x, at, io & IO_X), L->B, L->hw, shift, s1, s2, io);
        else if (!y)
            item_grad_sums(io_at(x, at, io & IO_X), io_at(dy, at, io & IO_DY),
                           L->B, L->hw, shift, s1, s2, io);
        else
            item_grad_sums_masked(io_at(x, at, io & IO_X),
                                  io_at(dy, at, io & IO_DY),
                                  io_at(y, at, io & IO_Y), L->B, L->hw, shift, s1, s2,
                                  io);
        double *e = part + 2 * ((size_t)(i - i0) * width + (size_t)(cb - b0) * L->B);
        for (int l = 0; l < L->B; l++) {
            e[2 * l] = s1[l];
            e[2 * l + 1] = s2[l];
        }
    });
}

/* Per-sample groups take a tile of samples through their sums and then
 * their apply (or dx) pass while the tile is still in the cache, rather
 * than streaming the whole batch twice from memory: as many samples as
 * fit in CACHED_BYTES (about half a core's L2), at least one per thread.
 * The tile changes no sum's order. */
enum { CACHED_BYTES = 512 << 10 };

int nl_cpu_blocked_cached_samples(const layout *L)
{
    const size_t sample = (size_t)L->c * L->hw * sizeof(float);
    const int fit = (int)(CACHED_BYTES / (sample ? sample : 1));
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;
#endif
    return fit > threads ? fit : threads;
}

/* per channel of blocks [b0, b1): the sums over every sample, in sample
 * order, into total (two per channel), through part (entries of it) in
 * tiles of samples */
void nl_cpu_blocked_channel_totals(const layout *L, const nl_norm_geom *g, shift_kind kind, int b0,
                                   int b1, const float *x, const float *dy, const float *y,
                                   const float *save_mean, double *part, size_t entries,
                                   double *total)
{
    const int width = (b1 - b0) * L->B;
    const int per_tile = (int)(entries / (size_t)width);
    assert(per_tile >= 1);
    for (int j = 0; j < 2 * width; j++)
        total[j] = 0.0;
    for (int i0 = 0; i0 < L->n; i0 += per_tile) {
        const int i1 = L->n - i0 < per_tile ? L->n : i0 + per_tile;
        nl_cpu_blocked_tile_sums(L, g, kind, i0, i1, b0, b1, x, dy, y, save_mean, part);
        for (int i = 0; i < i1 - i0; i++) {
            const double *e = part + 2 * (size_t)i * width;
            for (int j = 0; j < 2 * width; j++)
                total[j] += e[j];
        }
    }
}

/* ---- the apply pass ---- */

/* y = (x - mean_l) * scale_l + offset_l over one item of nv vectors a
 * pixel; with relu, y = relu(that + skip) (skip NULL: no add), rounded as
 * the add and ReLU ops round it (norm_forward_act). pair (nv even): the
 * vectors stored two at a time (io_store2) */
static inline __attribute__((always_inline)) void
apply_run(const void *x, void *y, const float *skip, int nv, int hw, const float *mean,
          const float *scale, const float *offset, bool relu, unsigned io, bool pair)
{
    nl_v8 m[VECTORS_MAX], s[VECTORS_MAX], o[VECTORS_MAX];
    for (int v = 0; v < nv; v++) {
        m[v] = nl_v8_load(mean + v * LANES);
        s[v] = nl_v8_load(scale + v * LANES);
        o[v] = nl_v8_load(offset + v * LANES);
    }
    const size_t stride = (size_t)nv * LANES;
    const int step = pair ? 2 : 1;
    for (int p = 0; p < hw; p++) {
        const size_t at = (size_t)p * stride;
        for (int v = 0; v < nv; v += step) {
            nl_v8 val[2];
            for (int u = 0; u < step; u++) {
                const size_t k = at + (size_t)(v + u) * LANES;
                val[u] = nl_v8_fma(io_load(x, k, IO_ST(io, IO_X)) - m[v + u], s[v + u],
                                   o[v + u]);
                if (relu) {
                    if (skip)
                        val[u] = val[u] + nl_v8_load(skip + k);
                    val[u] = nl_v8_relu(val[u]);
                }
            }
            const size_t k = at + (size_t)v * LANES;
            if (pair)
                io_store2(y, k, val[0], val[1], IO_ST(io, IO_Y));
            else
                io_store(y, k, val[0], IO_ST(io, IO_Y));
        }
    }
}

/* one copy per case and per word of the operands' storage (x, y;
 * skip stays fp32), so that no test is left in the loop; the main masks
 * (both fp32, both 16-bit: `wide`) also one copy for B = 8 and one for 16,
 * whose vectors stay in registers, the mixed ones the copy for any B
 * alone, to bound the code */
static inline __attribute__((always_inline)) void
apply_nv(const void *x, void *y, const float *skip, int nv, int hw, const float *mean,
         const float *scale, const float *offset, bool relu, unsigned io, bool wide)
{
    if (wide && nv == 1)
        apply_run(x, y, skip, 1, hw, mean, scale, offset, relu, io, false);
    else if (wide && nv == 2)
        apply_run(x, y, skip, 2, hw, mean, scale, offset, relu, io, io & IO_Y);
    else
        apply_run(x, y, skip, nv, hw, mean, scale, offset, relu, io, false);
}

/* one item: x and y at the item's first value, in their storage */
static void apply_item(const void *x, void *y, const float *skip, int nv, int hw,
                       const float *mean, const float *scale, const float *offset, bool relu,
                       unsigned io)
{
#define APPLY(m)                                                                                   \
    do {                                                                                           \
        const bool wide = IO_MASK_OF(m) == 0 || IO_MASK_OF(m) == (IO_X | IO_Y);                        \
        if (!relu)                                                                                 \
            apply_nv(x, y, NULL, nv, hw, mean, scale, offset, false, m, wide);                     \
        else if (skip)                                                                             \
            apply_nv(x, y, skip, nv, hw, mean, scale, offset, true, m, wide);                      \
        else                                                                                       \
            apply_nv(x, y, NULL, nv, hw, mean, scale, offset, true, m, wide);                      \
    } while (0)
    IO_CASES2(io, APPLY, IO_X, IO_Y);
#undef APPLY
}

/* item `at`'s apply: x and y where their storage puts the item */
static void apply_item_at(const float *x, float *y, const float *skip, size_t at, int nv, int hw,
                          const float *mean, const float *scale, const float *offset, bool relu,
                          unsigned io)
{
    apply_item(io_at(x, at, io & IO_X), io_at_w(y, at, io & IO_Y),
               skip ? skip + at : NULL, nv, hw, mean, scale, offset, relu, io);
}

/* the apply pass of every sample over channel blocks [b0, b1), with
 * per-channel coefficients indexed from channel b0 * B */
static void apply_channels(const layout *L, int b0, int b1, const float *x, float *y,
                           const float *skip, bool relu, const float *mean, const float *scale,
                           const float *offset, unsigned io)
{
    const int bw = b1 - b0, nv = L->B / LANES;
    const long items = (long)L->n * bw;
    NL_PARALLEL_FOR_IF(items * L->hw * L->B >= NL_PARALLEL_MIN,
    for (long it = 0; it < items; it++) {
        const int i = (int)(it / bw), cb = b0 + (int)(it % bw);
        const size_t at = item_at(L, (long)i * L->nb + cb), j0 = (size_t)(cb - b0) * L->B;
        apply_item_at(x, y, skip, at, nv, L->hw, mean + j0, scale + j0, offset + j0, relu, io);
    });
}

/* ---- running statistics ---- */

/* batch statistics: batchnorm.c's update_running (from the double mean and
 * biased variance; count > 1 is checked when the model is built) */
static void update_running(float *running_mean, float *running_var, int c, double mean,
                           double var_biased, double count, float momentum)
{
    const double unbiased = count > 1.0 ? var_biased * count / (count - 1.0) : var_biased;
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mean;
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
}

/* instance statistics (groups == c) tracked: the batch average of the
 * per-instance means and unbiased variances, as groupnorm.c's
 * instance_running takes it, from a pass of its own over x (that
 * configuration is rare) */
static void instance_running(const layout *L, const nl_norm_geom *g, const float *x,
                             float *running_mean, float *running_var, float momentum)
{
    double part[2 * TILE], mean_sum[PANEL], var_sum[PANEL];
    const int panel_blocks = PANEL / L->B;
    const double hw = (double)L->hw;
    for (int b0 = 0; b0 < L->nb; b0 += panel_blocks) {
        const int b1 = L->nb - b0 < panel_blocks ? L->nb : b0 + panel_blocks;
        const int width = (b1 - b0) * L->B, per_tile = TILE / width;
        for (int j = 0; j < width; j++)
            mean_sum[j] = var_sum[j] = 0.0;
        for (int i0 = 0; i0 < L->n; i0 += per_tile) {
            const int i1 = L->n - i0 < per_tile ? L->n : i0 + per_tile;
            nl_cpu_blocked_tile_sums(L, g, SHIFT_PLANE, i0, i1, b0, b1, x, NULL, NULL, NULL, part);
            for (int i = i0; i < i1; i++)
                for (int j = 0; j < width; j++) {
                    const double *e = part + 2 * ((size_t)(i - i0) * width + (size_t)j);
                    const float shift = io_get(x, value_at(L, i, b0 * L->B + j, 0),
                                               IO_ST(io_word(g), IO_X));
                    double mean, var;
                    moments_finish(shift, e[0], e[1], hw, true, &mean, &var);
                    mean_sum[j] += mean;
                    var_sum[j] += L->hw > 1 ? var * hw / (hw - 1.0) : var;
                }
        }
        for (int j = 0; j < width; j++) {
            const int c = b0 * L->B + j;
            running_mean[c] =
                (1.0f - momentum) * running_mean[c] + momentum * (float)(mean_sum[j] / L->n);
            running_var[c] =
                (1.0f - momentum) * running_var[c] + momentum * (float)(var_sum[j] / L->n);
        }
    }
}


/* ---- the forward: statistics, then apply ---- */

/* Batch statistics, a panel of channels at a time: the panel's sums over
 * every sample, its statistics, then (with y) its apply pass. With y:
 * norm_forward's save_mean, save_rstd and running update; without:
 * norm_stats' mean and biased variance. */
static void batch_forward(const layout *L, const nl_norm_geom *g, const float *x,
                          const float *gamma, const float *beta, const float *skip, bool relu,
                          float *y, float *save_mean, float *save_rstd, float *running_mean,
                          float *running_var, float momentum, float *mean_out, float *var_out)
{
    assert(g->center && "uncentred statistics need per-sample groups");
    double part[2 * TILE], total[2 * PANEL];
    float cmean[PANEL], cscale[PANEL], coffset[PANEL];
    const int panel_blocks = PANEL / L->B;
    const double count = (double)L->n * L->hw;
    for (int b0 = 0; b0 < L->nb; b0 += panel_blocks) {
        const int b1 = L->nb - b0 < panel_blocks ? L->nb : b0 + panel_blocks;
        const int width = (b1 - b0) * L->B;
        nl_cpu_blocked_channel_totals(L, g, SHIFT_STATS, b0, b1, x, NULL, NULL, NULL, part, TILE,
                                      total);
        for (int j = 0; j < width; j++) {
            const int c = b0 * L->B + j;
            const float shift = shift_of(L, g, SHIFT_STATS, x, NULL, 0, c);
            double mean, var;
            moments_finish(shift, total[2 * j], total[2 * j + 1], count, true, &mean, &var);
            if (!y) {
                mean_out[c] = (float)mean;
                var_out[c] = (float)var;
                continue;
            }
            const double rstd = 1.0 / sqrt(var + (double)g->eps);
            cmean[j] = save_mean[c] = (float)mean;
            save_rstd[c] = (float)rstd;
            cscale[j] = (float)(rstd * gamma_at(gamma, c));
            coffset[j] = beta_at(beta, c);
            if (running_mean)
                update_running(running_mean, running_var, c, mean, var, count, momentum);
        }
        if (y)
            apply_channels(L, b0, b1, x, y, skip, relu, cmean, cscale, coffset, io_word(g));
    }
}

/* Per-sample groups, a tile of whole samples at a time: the sums, each
 * group's over its channels in channel order, its statistics, then (with
 * y) the tile's apply pass, from the group's float mean and double rstd
 * (kept in the group's first entry) as groupnorm.c applies them. Outputs as
 * batch_forward's. */
static void group_forward(const layout *L, const nl_norm_geom *g, const float *x,
                          const float *gamma, const float *beta, const float *skip, bool relu,
                          float *y, float *save_mean, float *save_rstd, float *mean_out,
                          float *var_out)
{
    assert(L->c <= TILE && "per-sample groups of at most NL_NORM_BLOCKED_MAX_C channels");
    double part[2 * TILE];
    const int fit = TILE / L->c, near = nl_cpu_blocked_cached_samples(L);
    const int per_tile = near < fit ? near : fit, nv = L->B / LANES;
    const double count = (double)L->cpg * L->hw;
    for (int i0 = 0; i0 < L->n; i0 += per_tile) {
        const int i1 = L->n - i0 < per_tile ? L->n : i0 + per_tile;
        nl_cpu_blocked_tile_sums(L, g, SHIFT_STATS, i0, i1, 0, L->nb, x, NULL, NULL, NULL, part);
        for (int i = i0; i < i1; i++)
            for (int q = 0; q < L->groups; q++) {
                double *e = part + 2 * ((size_t)(i - i0) * L->c + (size_t)q * L->cpg);
                double s1 = 0.0, s2 = 0.0;
                for (int j = 0; j < L->cpg; j++) {
                    s1 += e[2 * j];
                    s2 += e[2 * j + 1];
                }
                const float shift = shift_of(L, g, SHIFT_STATS, x, NULL, i, q * L->cpg);
                double mean, var;
                moments_finish(shift, s1, s2, count, g->center, &mean, &var);
                const long s = (long)i * L->groups + q;
                if (!y) {
                    mean_out[s] = (float)mean;
                    var_out[s] = (float)var;
                    continue;
                }
                const double rstd = 1.0 / sqrt(var + (double)g->eps);
                save_mean[s] = (float)mean;
                save_rstd[s] = (float)rstd;
                e[0] = (double)(float)mean;
                e[1] = rstd;
            }
        if (!y)
            continue;
        const long items = (long)(i1 - i0) * L->nb;
        NL_PARALLEL_FOR_IF(items * L->hw * L->B >= NL_PARALLEL_MIN,
        for (long it = 0; it < items; it++) {
            const int i = i0 + (int)(it / L->nb), cb = (int)(it % L->nb);
            float m[BLOCK_MAX], sc[BLOCK_MAX], of[BLOCK_MAX];
            for (int l = 0; l < L->B; l++) {
                const int c = cb * L->B + l;
                const size_t first = (size_t)(c / L->cpg * L->cpg); /* of the group */
                const double *e = part + 2 * ((size_t)(i - i0) * L->c + first);
                m[l] = (float)e[0];
                sc[l] = (float)(e[1] * gamma_at(gamma, c));
                of[l] = beta_at(beta, c);
            }
            const size_t at = item_at(L, (long)i * L->nb + cb);
            apply_item_at(x, y, skip, at, nv, L->hw, m, sc, of, relu, io_word(g));
        });
    }
}

static void forward(const nl_norm_geom *g, const float *x, const float *gamma, const float *beta,
                    const float *skip, bool relu, float *y, float *save_mean, float *save_rstd,
                    float *running_mean, float *running_var, const float *momentum_slot)
{
    const layout L = layout_of(g);
    const float momentum = running_mean ? *momentum_slot : 0.0f;
    if (g->groups == 0) {
        batch_forward(&L, g, x, gamma, beta, skip, relu, y, save_mean, save_rstd, running_mean,
                      running_var, momentum, NULL, NULL);
        return;
    }
    assert((gamma || !beta) && "a shift comes with a scale");
    group_forward(&L, g, x, gamma, beta, skip, relu, y, save_mean, save_rstd, NULL, NULL);
    if (running_mean) {
        assert(g->groups == g->c && "running statistics are per channel");
        instance_running(&L, g, x, running_mean, running_var, momentum);
    }
}

void nl_cpu_norm_blocked_forward(nl_backend *be, const nl_norm_geom *g, const float *x,
                                 const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_rstd, float *running_mean,
                                 float *running_var, const float *momentum)
{
    (void)be;
    forward(g, x, gamma, beta, NULL, false, y, save_mean, save_rstd, running_mean, running_var,
            momentum);
}

void nl_cpu_norm_blocked_forward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                                     const float *gamma, const float *beta, const float *skip,
                                     float *y, float *save_mean, float *save_rstd,
                                     float *running_mean, float *running_var,
                                     const float *momentum)
{
    (void)be;
    forward(g, x, gamma, beta, skip, true, y, save_mean, save_rstd, running_mean, running_var,
            momentum);
}

/* norm_stats and norm_apply (the two steps of synchronized statistics)
 * take fp32 operands only: the precision pass gives them no bf16 one */
void nl_cpu_norm_blocked_stats(nl_backend *be, const nl_norm_geom *g, const float *x,
                               float *mean, float *var, float *running_mean, float *running_var,
                               const float *momentum)
{
    (void)be;
    assert(nl_io_narrow(g->io) == 0 && "synchronized statistics take fp32 operands");
    const layout L = layout_of(g);
    if (g->groups == 0)
        batch_forward(&L, g, x, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, 0.0f,
                      mean, var);
    else
        group_forward(&L, g, x, NULL, NULL, NULL, false, NULL, NULL, NULL, mean, var);
    if (running_mean)
        nl_cpu_running_from_groups(g, mean, var, running_mean, running_var, *momentum);
}

/* per-channel statistics given (norm_forward_eval; norm_apply with batch
 * statistics): batchnorm.c's forward_eval coefficients, a panel at a time */
static void apply_given_channels(const layout *L, float eps, const float *x, const float *gamma,
                                 const float *beta, const float *mean, const float *var,
                                 float *y, float *save_rstd, unsigned io)
{
    float cmean[PANEL], cscale[PANEL], coffset[PANEL];
    const int panel_blocks = PANEL / L->B;
    for (int b0 = 0; b0 < L->nb; b0 += panel_blocks) {
        const int b1 = L->nb - b0 < panel_blocks ? L->nb : b0 + panel_blocks;
        for (int j = 0; j < (b1 - b0) * L->B; j++) {
            const int c = b0 * L->B + j;
            const double rstd = 1.0 / sqrt((double)var[c] + (double)eps);
            cmean[j] = mean[c];
            cscale[j] = (float)(rstd * gamma_at(gamma, c));
            coffset[j] = beta_at(beta, c);
            if (save_rstd)
                save_rstd[c] = (float)rstd;
        }
        apply_channels(L, b0, b1, x, y, NULL, false, cmean, cscale, coffset, io);
    }
}

void nl_cpu_norm_blocked_forward_eval(nl_backend *be, const nl_norm_geom *g, const float *x,
                                      const float *gamma, const float *beta,
                                      const float *running_mean, const float *running_var,
                                      float *y)
{
    (void)be;
    const layout L = layout_of(g);
    apply_given_channels(&L, g->eps, x, gamma, beta, running_mean, running_var, y, NULL,
                         io_word(g));
}

void nl_cpu_norm_blocked_apply(nl_backend *be, const nl_norm_geom *g, const float *x,
                               const float *mean, const float *var, const float *gamma,
                               const float *beta, float *y, float *save_rstd)
{
    (void)be;
    assert(nl_io_narrow(g->io) == 0 && "synchronized statistics take fp32 operands");
    const layout L = layout_of(g);
    if (g->groups == 0) {
        apply_given_channels(&L, g->eps, x, gamma, beta, mean, var, y, save_rstd, 0);
        return;
    }
    const long groups = nl_norm_stat_groups(g);
    for (long s = 0; save_rstd && s < groups; s++)
        save_rstd[s] = (float)(1.0 / sqrt((double)var[s] + (double)g->eps));
    const long items = (long)L.n * L.nb;
    const int nv = L.B / LANES;
    NL_PARALLEL_FOR_IF(items * L.hw * L.B >= NL_PARALLEL_MIN,
    for (long it = 0; it < items; it++) {
        const int i = (int)(it / L.nb), cb = (int)(it % L.nb);
        float m[BLOCK_MAX], sc[BLOCK_MAX], of[BLOCK_MAX];
        for (int l = 0; l < L.B; l++) {
            const int c = cb * L.B + l;
            const long s = stat_of(&L, i, c);
            const double rstd = 1.0 / sqrt((double)var[s] + (double)g->eps);
            m[l] = mean[s];
            sc[l] = (float)(rstd * gamma_at(gamma, c));
            of[l] = beta_at(beta, c);
        }
        const size_t at = item_at(&L, it);
        apply_item(x + at, y + at, NULL, nv, L.hw, m, sc, of, false, 0);
    });
}
