/* The backward of the normalization family on the channel-blocked layout
 * (norm_blocked.h; norm_blocked.c says how every sum is ordered): the sums
 * pass, then the dx pass, and batch statistics' backward in two steps for
 * norm_sync.c. */
#include <assert.h>
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/norm_blocked.h"
#include "cpu/norm_blocked_internal.h"
#include "cpu/reduce.h"

enum { TILE = NL_NORM_BLOCKED_MAX_C }; /* (sample, channel) entries of the stack buffer */

/* dx = a*g + (b*(x - mean) + k) over one item, g = dy (dy where y > 0 with
 * y), written or added; with dskip, g written or added there too; without
 * dx, dskip alone. io: the constant word of the operands' storage
 * (x, dy, y, dx; dskip stays fp32, a 16-bit dx is never added into). pair
 * (nv even): dx stored two vectors at a time (io_store2). */
static inline __attribute__((always_inline)) void
dx_run(const void *x, const void *dy, const void *y, void *dx, float *dskip, int nv, int hw,
       const float *af, const float *bf, const float *kf, const float *mean, bool accumulate_dx,
       bool accumulate_dskip, unsigned io, bool pair)
{
    nl_v8 a[VECTORS_MAX], b[VECTORS_MAX], k[VECTORS_MAX], m[VECTORS_MAX];
    for (int v = 0; v < nv; v++) {
        a[v] = nl_v8_load(af + v * LANES);
        b[v] = nl_v8_load(bf + v * LANES);
        k[v] = nl_v8_load(kf + v * LANES);
        m[v] = nl_v8_load(mean + v * LANES);
    }
    const unsigned x16 = IO_ST(io, IO_X), dx16 = IO_ST(io, IO_DX);
    const size_t stride = (size_t)nv * LANES;
    const int step = pair ? 2 : 1;
    for (int p = 0; p < hw; p++) {
        const size_t at = (size_t)p * stride;
        for (int v = 0; v < nv; v += step) {
            nl_v8 val[2];
            for (int u = 0; u < step; u++) {
                const int w = v + u;
                const size_t q = at + (size_t)w * LANES;
                const nl_v8 gv = io_dy_load(dy, y, q, io);
                if (dx) {
                    val[u] = nl_v8_fma(a[w], gv, nl_v8_fma(b[w], io_load(x, q, x16) - m[w], k[w]));
                    if (!dx16 && accumulate_dx)
                        val[u] += nl_v8_load((const float *)dx + q);
                }
                if (dskip)
                    nl_v8_store(dskip + q, accumulate_dskip ? nl_v8_load(dskip + q) + gv : gv);
            }
            const size_t q = at + (size_t)v * LANES;
            if (dx && pair)
                io_store2(dx, q, val[0], val[1], dx16);
            else if (dx)
                io_store(dx, q, val[0], dx16);
        }
    }
}

/* one copy per case and per word of the 16-bit operands, so that no test
 * is left in the loop; the main masks (all fp32, every operand 16-bit: `wide`)
 * also one copy for B = 8 and one for 16, whose vectors stay in
 * registers. Mixed masks take the copy for any B alone, to bound the code
 * (each copy is another loop). */
static inline __attribute__((always_inline)) void
dx_nv(const void *x, const void *dy, const void *y, void *dx, float *dskip, int nv, int hw,
      const float *af, const float *bf, const float *kf, const float *mean, bool accumulate_dx,
      bool accumulate_dskip, unsigned io, bool wide)
{
    if (wide && nv == 1)
        dx_run(x, dy, y, dx, dskip, 1, hw, af, bf, kf, mean, accumulate_dx, accumulate_dskip, io,
               false);
    else if (wide && nv == 2)
        dx_run(x, dy, y, dx, dskip, 2, hw, af, bf, kf, mean, accumulate_dx, accumulate_dskip, io,
               io & IO_DX);
    else
        dx_run(x, dy, y, dx, dskip, nv, hw, af, bf, kf, mean, accumulate_dx, accumulate_dskip,
               io, false);
}

/* one item, each operand at the item's first value in its storage; with y
 * (a fused ReLU's output): dx and dskip, dx alone, or dskip alone (which
 * reads neither x nor dx) */
static void dx_item(const void *x, const void *dy, const void *y, void *dx, float *dskip, int nv,
                    int hw, const float *af, const float *bf, const float *kf, const float *mean,
                    bool accumulate_dx, bool accumulate_dskip, unsigned io)
{
    enum { X = IO_X, Y = IO_Y, DX = IO_DX, DY = IO_DY };
#define DX_RUN(y_, dx_, dskip_, m, all)                                                            \
    dx_nv(x, dy, y_, dx_, dskip_, nv, hw, af, bf, kf, mean, accumulate_dx, accumulate_dskip, m,    \
          IO_MASK_OF(m) == 0 || IO_MASK_OF(m) == (all))
#define DX_PLAIN(m) DX_RUN(NULL, dx, NULL, m, X | DY | DX)
#define DSKIP_ONLY(m) DX_RUN(y, NULL, dskip, m, DY | Y)
#define DX_MASKED(m)                                                                               \
    do {                                                                                           \
        if (dskip)                                                                                 \
            DX_RUN(y, dx, dskip, m, X | DY | DX | Y);                                              \
        else                                                                                       \
            DX_RUN(y, dx, NULL, m, X | DY | DX | Y);                                               \
    } while (0)
#define DX_MASKED_WITH(m) DX_MASKED((m) | Y)
    if (!y)
        IO_CASES3(io, DX_PLAIN, X, DY, DX);
    else if (!dx)
        IO_CASES2(io, DSKIP_ONLY, DY, Y);
    else
        IO_CASES4(io, DX_MASKED, X, DY, DX, Y);
#undef DX_MASKED_WITH
#undef DX_MASKED
#undef DSKIP_ONLY
#undef DX_PLAIN
#undef DX_RUN
}

/* the workspace: the per-(sample, channel) sums (two doubles each), then
 * the dx pass's coefficients: per channel a, b, k and the mean (batch
 * statistics), or per statistics group b and k */
static size_t coefficient_floats(const nl_norm_geom *g)
{
    return g->groups == 0 ? 4 * (size_t)g->c : 2 * (size_t)g->n * g->groups;
}

size_t nl_cpu_norm_blocked_backward_workspace(nl_backend *be, const nl_norm_geom *g)
{
    (void)be;
    return 2 * (size_t)g->n * g->c * sizeof(double) + coefficient_floats(g) * sizeof(float);
}

/* Batch statistics: batchnorm.c's backward, dx = a*dy + (b*(x - mean) + k)
 * with a = gamma*rstd, b = -a*rstd*sum(dy*xhat)/count,
 * k = -a*sum(dy)/count. Per-sample groups: groupnorm.c's, with
 * dxhat = gamma*dy and M the group's count, dx = rstd*gamma*dy
 * + (b*(x - mean) + k), b = -rstd^2*sum(dxhat*xhat)/M, k = -rstd*sum(dxhat)/M
 * (0 without centring). */
/* the dx pass over the items of samples [i0, i1) */
static void dx_pass(const layout *L, const nl_norm_geom *g, int i0, int i1, const float *x,
                    const float *dy, const float *y, const float *gamma, const float *save_mean,
                    const float *save_rstd, const float *coef, float *dx, bool accumulate_dx,
                    float *dskip, bool accumulate_dskip)
{
    const int c = L->c, nv = L->B / LANES;
    const long items = (long)(i1 - i0) * L->nb;
    const unsigned io = io_word(g);
    NL_PARALLEL_FOR_IF(items * L->hw * L->B >= NL_PARALLEL_MIN,
    for (long k = 0; k < items; k++) {
        const long it = (long)i0 * L->nb + k;
        const int i = (int)(it / L->nb), cb = (int)(it % L->nb);
        float af[BLOCK_MAX], bf[BLOCK_MAX], kf[BLOCK_MAX], mf[BLOCK_MAX];
        for (int l = 0; l < L->B; l++) {
            const int ch = cb * L->B + l;
            if (g->groups == 0) {
                af[l] = coef[ch];
                bf[l] = coef[c + ch];
                kf[l] = coef[2 * c + ch];
                mf[l] = coef[3 * c + ch];
            } else {
                const long s = stat_of(L, i, ch);
                af[l] = (float)((double)save_rstd[s] * gamma_at(gamma, ch));
                bf[l] = coef[2 * s];
                kf[l] = coef[2 * s + 1];
                mf[l] = save_mean[s];
            }
        }
        const size_t at = item_at(L, it);
        dx_item(io_at(x, at, io & IO_X), io_at(dy, at, io & IO_DY),
                y ? io_at(y, at, io & IO_Y) : NULL,
                dx ? io_at_w(dx, at, io & IO_DX) : NULL, y && dskip ? dskip + at : NULL,
                nv, L->hw, af, bf, kf, mf, accumulate_dx, accumulate_dskip, io);
    });
}

/* Per-sample groups, a tile of samples at a time
 * (nl_cpu_blocked_cached_samples): their sums, their groups' coefficients
 * and their dx pass while the tile is in the cache; the parameter
 * gradients at the end from every sample's sums, in sample order. */
static void group_backward(const layout *L, const nl_norm_geom *g, const float *x,
                           const float *dy, const float *y, const float *gamma,
                           const float *save_mean, const float *save_rstd, float *dx,
                           bool accumulate_dx, float *dskip, bool accumulate_dskip, float *dgamma,
                           float *dbeta, double *part, float *coef)
{
    const int c = L->c, per_tile = nl_cpu_blocked_cached_samples(L);
    const double block = (double)L->cpg * L->hw;
    const bool passes = dx || (y && dskip);
    for (int i0 = 0; i0 < L->n; i0 += per_tile) {
        const int i1 = L->n - i0 < per_tile ? L->n : i0 + per_tile;
        nl_cpu_blocked_tile_sums(L, g, SHIFT_MEAN, i0, i1, 0, L->nb, x, dy, y, save_mean,
                  part + 2 * (size_t)i0 * c);
        for (int i = i0; i < i1; i++)
            for (int q = 0; q < L->groups; q++) {
                const long s = (long)i * L->groups + q;
                const double rstd = save_rstd[s];
                double *e = part + 2 * ((size_t)i * c + (size_t)q * L->cpg);
                double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
                for (int j = 0; j < L->cpg; j++) {
                    const double gm = gamma_at(gamma, q * L->cpg + j);
                    e[2 * j + 1] *= rstd; /* sum dy * xhat */
                    sum_dxhat += gm * e[2 * j];
                    sum_dxhat_xhat += gm * e[2 * j + 1];
                }
                coef[2 * s] = (float)(-rstd * rstd * sum_dxhat_xhat / block);
                coef[2 * s + 1] = g->center ? (float)(-rstd * sum_dxhat / block) : 0.0f;
            }
        if (passes)
            dx_pass(L, g, i0, i1, x, dy, y, gamma, save_mean, save_rstd, coef, dx, accumulate_dx,
                    dskip, accumulate_dskip);
    }
    for (int ch = 0; (dgamma || dbeta) && ch < c; ch++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int i = 0; i < L->n; i++) {
            sum_dy += part[2 * ((size_t)i * c + ch)];
            sum_dy_xhat += part[2 * ((size_t)i * c + ch) + 1];
        }
        if (dbeta)
            dbeta[ch] = (float)sum_dy;
        if (dgamma)
            dgamma[ch] = (float)sum_dy_xhat;
    }
}

static void backward(const nl_norm_geom *g, const float *x, const float *dy, const float *y,
                     const float *gamma, const float *save_mean, const float *save_rstd,
                     float *dx, bool accumulate_dx, float *dskip, bool accumulate_dskip,
                     float *dgamma, float *dbeta, void *workspace)
{
    const layout L = layout_of(g);
    assert(!(accumulate_dx && (io_word(g) & IO_DX)) && "a 16-bit dx is written, not added");
    const int c = L.c;
    double *part = workspace;
    float *coef = (float *)(part + 2 * (size_t)L.n * c);
    if (g->groups > 0) {
        group_backward(&L, g, x, dy, y, gamma, save_mean, save_rstd, dx, accumulate_dx, dskip,
                       accumulate_dskip, dgamma, dbeta, part, coef);
        return;
    }
    /* batch statistics: every sample's sums before any dx */
    nl_cpu_blocked_tile_sums(&L, g, SHIFT_MEAN, 0, L.n, 0, L.nb, x, dy, y, save_mean, part);
    const double count = (double)L.n * L.hw;
    for (int ch = 0; ch < c; ch++) {
        double sum_dy = 0.0, sum_dy_xc = 0.0;
        for (int i = 0; i < L.n; i++) {
            sum_dy += part[2 * ((size_t)i * c + ch)];
            sum_dy_xc += part[2 * ((size_t)i * c + ch) + 1];
        }
        const double rstd = save_rstd[ch], sum_dy_xhat = sum_dy_xc * rstd;
        if (dbeta)
            dbeta[ch] = (float)sum_dy;
        if (dgamma)
            dgamma[ch] = (float)sum_dy_xhat;
        const double a = gamma_at(gamma, ch) * rstd;
        coef[ch] = (float)a;
        coef[c + ch] = (float)(-a * rstd * (sum_dy_xhat / count));
        coef[2 * c + ch] = (float)(-a * (sum_dy / count));
        coef[3 * c + ch] = save_mean[ch];
    }
    if (dx || (y && dskip))
        dx_pass(&L, g, 0, L.n, x, dy, y, gamma, save_mean, save_rstd, coef, dx, accumulate_dx,
                dskip, accumulate_dskip);
}

void nl_cpu_norm_blocked_backward(nl_backend *be, const nl_norm_geom *g, const float *x,
                                  const float *dy, const float *gamma, const float *save_mean,
                                  const float *save_rstd, float *dx, bool accumulate_dx,
                                  float *dgamma, float *dbeta, void *workspace)
{
    (void)be;
    backward(g, x, dy, NULL, gamma, save_mean, save_rstd, dx, accumulate_dx, NULL, false, dgamma,
             dbeta, workspace);
}

void nl_cpu_norm_blocked_backward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                                      const float *y, float *dy, const float *gamma,
                                      const float *save_mean, const float *save_rstd, float *dx,
                                      bool accumulate_dx, float *dskip, bool accumulate_dskip,
                                      float *dgamma, float *dbeta, void *workspace)
{
    (void)be;
    backward(g, x, dy, y, gamma, save_mean, save_rstd, dx, accumulate_dx, dskip,
             accumulate_dskip, dgamma, dbeta, workspace);
}

/* ---- the backward of batch statistics in two steps (norm_sync.c) ----
 * fp32 operands only: the precision pass gives these no bf16 one */

void nl_cpu_norm_blocked_backward_reduce(nl_backend *be, const nl_norm_geom *g, const float *x,
                                         const float *dy, const float *save_mean,
                                         const float *save_rstd, float *sum_dy,
                                         float *sum_dy_xhat)
{
    (void)be;
    assert(g->groups == 0);
    assert(nl_io_narrow(g->io) == 0 && "synchronized statistics take fp32 operands");
    const layout L = layout_of(g);
    double part[2 * TILE], total[2 * PANEL];
    const int panel_blocks = PANEL / L.B;
    for (int b0 = 0; b0 < L.nb; b0 += panel_blocks) {
        const int b1 = L.nb - b0 < panel_blocks ? L.nb : b0 + panel_blocks;
        nl_cpu_blocked_channel_totals(&L, g, SHIFT_MEAN, b0, b1, x, dy, NULL, save_mean, part,
                                      TILE, total);
        for (int j = 0; j < (b1 - b0) * L.B; j++) {
            const int c = b0 * L.B + j;
            sum_dy[c] = (float)total[2 * j];
            sum_dy_xhat[c] = (float)(total[2 * j + 1] * save_rstd[c]);
        }
    }
}

/* dx = rstd*gamma * (dy - sum_dy/count - xhat * sum_dy_xhat/count), as
 * norm_sync.c rounds it: the per-channel means in float */
void nl_cpu_norm_blocked_backward_apply(nl_backend *be, const nl_norm_geom *g, const float *x,
                                        const float *dy, const float *gamma,
                                        const float *save_mean, const float *save_rstd,
                                        const float *sum_dy, const float *sum_dy_xhat,
                                        double count, float *dx, bool accumulate_dx)
{
    (void)be;
    assert(g->groups == 0);
    assert(nl_io_narrow(g->io) == 0 && "synchronized statistics take fp32 operands");
    const layout L = layout_of(g);
    const long items = (long)L.n * L.nb;
    NL_PARALLEL_FOR_IF(items * L.hw * L.B >= NL_PARALLEL_MIN,
    for (long it = 0; it < items; it++) {
        const int cb = (int)(it % L.nb);
        float r[BLOCK_MAX], m[BLOCK_MAX], sc[BLOCK_MAX], mdy[BLOCK_MAX], mdx[BLOCK_MAX];
        for (int l = 0; l < L.B; l++) {
            const int c = cb * L.B + l;
            r[l] = save_rstd[c];
            m[l] = save_mean[c];
            sc[l] = save_rstd[c] * gamma_at(gamma, c);
            mdy[l] = (float)(sum_dy[c] / count);
            mdx[l] = (float)(sum_dy_xhat[c] / count);
        }
        const size_t at = item_at(&L, it);
        for (int p = 0; p < L.hw; p++)
            for (int l0 = 0; l0 < L.B; l0 += LANES) {
                const size_t q = at + (size_t)p * L.B + (size_t)l0;
                const nl_v8 xhat = (nl_v8_load(x + q) - nl_v8_load(m + l0)) * nl_v8_load(r + l0);
                const nl_v8 inner = nl_v8_fma(-xhat, nl_v8_load(mdx + l0),
                                              nl_v8_load(dy + q) - nl_v8_load(mdy + l0));
                nl_v8 d = nl_v8_load(sc + l0) * inner;
                if (accumulate_dx)
                    d += nl_v8_load(dx + q);
                nl_v8_store(dx + q, d);
            }
    });
}
