/* Multi-head attention, causal or bidirectional (nl_attn_geom): one
 * (sample, head) pair per loop iteration,
 * the pairs split over the threads, each pair's products by gemm.c's
 * register tiles on the calling thread: at the LM's shapes (64 x 64 x 32
 * per product) sgemm packs both operands on every call and spends longer
 * packing than multiplying. The tiles read their right operand by rows,
 * so a pair's K (V in backward) is transposed into the thread's workspace
 * first (head_dim x T floats). Rows go ROW_BLOCK at
 * a time, each block only as far along the keys as its last query sees: under
 * the causal mask the upper triangle is neither computed nor multiplied by. The skipped
 * terms are exact zeros of probs or dlogit, so the sums are those of the
 * full products. Each output is computed by one thread in a fixed order, so
 * results do not depend on the thread count.
 *
 * Under a low product precision (be->product_precision) QK^T and PV are
 * autocast's products: their operands are rounded copies in the thread's
 * workspace (Q, K, V, P; dY, and dlogit in place, backward), the logits,
 * Y, dprobs, dQ, dK and dV are rounded as written, and the softmax and
 * its backward stay fp32 (probs is saved unrounded). */
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/lowp.h"
#include "cpu/reduce.h"
#include "cpu/vmath.h"

/* gemm.c's register tile height: no tile of a block is ragged but the last */
enum { ROW_BLOCK = 6 };

/* one thread's workspace, in floats, rounded to whole cache lines so that
 * the threads' blocks share none: a transposed head (head_dim x T) and
 * backward's dlogit (T x T); under a low precision then three rounded
 * heads (T x head_dim each) and the rounded probs (T x T) */
static size_t thread_floats(const nl_attn_geom *g, nl_precision precision)
{
    const size_t head = (size_t)g->head_dim * g->t, square = (size_t)g->t * g->t;
    const size_t floats = head + square + (nl_cpu_lowp(precision) ? 3 * head + square : 0);
    return (floats + 15) / 16 * 16;
}

size_t nl_cpu_attention_workspace(nl_backend *be, const nl_attn_geom *g)
{
    return (size_t)(be->threads > 0 ? be->threads : 1) *
           thread_floats(g, be->product_precision) * sizeof(float);
}

/* the low-precision blocks of a thread's workspace */
typedef struct {
    float *a, *b, *c; /* rounded heads, T x head_dim, rows head_dim apart */
    float *probs;     /* rounded probs, T x T */
} lowp_parts;

static lowp_parts lowp_of(const nl_attn_geom *g, float *thread_base)
{
    const size_t head = (size_t)g->head_dim * g->t, square = (size_t)g->t * g->t;
    float *base = thread_base + head + square;
    return (lowp_parts){base, base + head, base + 2 * head, base + 3 * head};
}

/* rows x cols at src (rows ld_src apart) rounded into dst (rows ld_dst
 * apart); dst may be src with the same ld */
static void round_rows(nl_precision p, int rows, int cols, const float *src, int ld_src,
                       float *dst, int ld_dst)
{
    for (int r = 0; r < rows; r++)
        nl_cpu_round(p, src + (size_t)r * ld_src, dst + (size_t)r * ld_dst, (size_t)cols);
}

/* enough work to wake the team: the pairs' products are T*T*head_dim each */
static bool worth_threads(const nl_attn_geom *g)
{
    return (long)g->n * g->heads * g->t * g->t * g->head_dim >= NL_PARALLEL_MIN;
}

/* the pair's base pointers: head h of sample i */
static size_t head_offset(const nl_attn_geom *g, int ld, int i, int h)
{
    return (size_t)i * g->t * ld + (size_t)h * g->head_dim;
}

/* keys that query s sees: itself and those before it under the causal
 * mask, all of them otherwise */
static int keys_seen(const nl_attn_geom *g, int s) { return g->bidirectional ? g->t : s + 1; }

/* columns of a product to compute for a block of rows ending before `end`:
 * the keys its last row sees, rounded up to gemm.c's 16-column panels
 * (a narrower panel falls to its scalar edge) */
static int block_cols(const nl_attn_geom *g, int end)
{
    const int cols = (keys_seen(g, end - 1) + 15) / 16 * 16;
    return cols < g->t ? cols : g->t;
}

/* dst[c * ldd + r] = src[r * lds + c], 8 x 8 blocks in registers */
static void transpose(int rows, int cols, const float *src, int lds, float *dst, int ldd)
{
    int r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        int c0 = 0;
        for (; c0 + 8 <= cols; c0 += 8) {
            nl_v8 v[8];
            for (int k = 0; k < 8; k++)
                v[k] = nl_v8_load(src + (size_t)(r0 + k) * lds + c0);
            nl_v8_transpose8(v);
            for (int k = 0; k < 8; k++)
                nl_v8_store(dst + (size_t)(c0 + k) * ldd + r0, v[k]);
        }
        for (int c = c0; c < cols; c++)
            for (int r = r0; r < r0 + 8; r++)
                dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
    }
    for (int r = r0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}

/* row[0..seen) = softmax(scale * row[0..seen)), the rest of the t entries
 * 0; returns the row's largest scaled logit. Exponentials 8 at a time
 * (vmath.h's exp: glibc's scalar expf was most of the softmax). The
 * scaling and the maximum go in vectors too: a scalar walk was a chain of
 * dependent compares, and the rounding of each product and the maximum
 * found are the same in any order (equal maxima are equal bits but for +0
 * and -0, where the walk's first in row order is looked for). The last
 * partial vector is the row's last 8 logits in one load when the row has 8
 * (a padded copy cost a store-forwarding stall per row at the ViT's 17
 * tokens), a padded copy otherwise; the exponential is lane by lane, so
 * either gives the same bits. */
static float masked_softmax_row(float *row, int seen, int t, float scale)
{
    const int full = seen - seen % 8;
    const nl_v8 scale8 = nl_v8_splat(scale);
    nl_v8 lane_max = nl_v8_splat(-INFINITY);
    int u = 0;
    for (; u < full; u += 8) {
        const nl_v8 s = nl_v8_load(row + u) * scale8;
        nl_v8_store(row + u, s);
        lane_max = nl_v8_select(s > lane_max, s, lane_max); /* a NaN never wins */
    }
    float max = -INFINITY;
    for (int j = 0; j < 8; j++)
        max = lane_max[j] > max ? lane_max[j] : max;
    for (; u < seen; u++) {
        row[u] *= scale;
        max = row[u] > max ? row[u] : max;
    }
    if (max == 0.0f) { /* +0 or -0: the first in row order */
        max = -INFINITY;
        for (u = 0; u < seen; u++)
            max = row[u] > max ? row[u] : max;
    }
    const nl_v8 shift = nl_v8_splat(max);
    nl_v8 sums = {0};
    for (u = 0; u < full; u += 8) {
        const nl_v8 e = nl_v8_exp(nl_v8_load(row + u) - shift);
        nl_v8_store(row + u, e);
        sums += e;
    }
    float sum = nl_v8_sum(sums);
    if (full < seen) {
        nl_v8 e;
        int first; /* the lane of row[full] */
        if (seen >= 8) {
            /* lanes before row[full] hold exponentials already: unused */
            e = nl_v8_exp(nl_v8_load(row + seen - 8) - shift);
            first = full - (seen - 8);
        } else {
            float lanes[8] = {0};
            for (u = full; u < seen; u++)
                lanes[u - full] = row[u];
            e = nl_v8_exp(nl_v8_load(lanes) - shift);
            first = 0;
        }
        for (u = full; u < seen; u++) {
            row[u] = e[first + u - full];
            sum += row[u];
        }
    }
    const nl_v8 inv = nl_v8_splat(1.0f / sum);
    for (u = 0; u < full; u += 8)
        nl_v8_store(row + u, nl_v8_load(row + u) * inv);
    for (; u < seen; u++)
        row[u] *= inv[0];
    for (; u < t; u++)
        row[u] = 0.0f;
    return max;
}

void nl_cpu_attention_forward(nl_backend *be, const nl_attn_geom *g, const float *q,
                              const float *k, const float *v, float *probs, float *y,
                              float *max_logit, void *workspace)
{
    const nl_precision lowp = be->product_precision;
    const bool rounds = nl_cpu_lowp(lowp);
    const int T = g->t, hd = g->head_dim, D = g->heads * hd, pairs = g->n * g->heads;
    float largest = -INFINITY;
    #pragma omp parallel for schedule(static) reduction(max : largest) if (worth_threads(g))
    for (int pair = 0; pair < pairs; pair++) {
        const int i = pair / g->heads, h = pair % g->heads;
        const float *qh = q + head_offset(g, g->ld_q, i, h);
        const float *vh = v + head_offset(g, g->ld_v, i, h);
        float *p = probs + (size_t)pair * T * T, *yh = y + head_offset(g, D, i, h);
        float *k_t =
            (float *)workspace + (size_t)omp_get_thread_num_safe() * thread_floats(g, lowp);
        transpose(T, hd, k + head_offset(g, g->ld_k, i, h), g->ld_k, k_t, T);
        int ld_q = g->ld_q, ld_v = g->ld_v;
        const float *pv = p; /* P as Y's product reads it */
        const lowp_parts r = rounds ? lowp_of(g, k_t) : (lowp_parts){0};
        if (rounds) {
            nl_cpu_round(lowp, k_t, k_t, (size_t)hd * T);
            round_rows(lowp, T, hd, qh, ld_q, r.a, hd);
            round_rows(lowp, T, hd, vh, ld_v, r.b, hd);
            qh = r.a;
            vh = r.b;
            ld_q = ld_v = hd;
            pv = r.probs;
        }
        /* logits = Q K^T, scaled in the softmax */
        for (int s0 = 0; s0 < T; s0 += ROW_BLOCK) {
            const int rows = T - s0 < ROW_BLOCK ? T - s0 : ROW_BLOCK;
            nl_cpu_gemm_nn_serial(rows, block_cols(g, s0 + rows), hd, qh + (size_t)s0 * ld_q, ld_q,
                                  k_t, T, NULL, p + (size_t)s0 * T, T, false);
        }
        for (int s = 0; s < T; s++) {
            if (rounds) /* the product's output; the softmax is fp32 */
                nl_cpu_round(lowp, p + (size_t)s * T, p + (size_t)s * T, (size_t)keys_seen(g, s));
            const float row_max = masked_softmax_row(p + (size_t)s * T, keys_seen(g, s), T, g->scale);
            largest = row_max > largest ? row_max : largest;
        }
        if (rounds)
            nl_cpu_round(lowp, p, r.probs, (size_t)T * T);
        /* Y = P V */
        for (int s0 = 0; s0 < T; s0 += ROW_BLOCK) {
            const int rows = T - s0 < ROW_BLOCK ? T - s0 : ROW_BLOCK;
            nl_cpu_gemm_nn_serial(rows, hd, keys_seen(g, s0 + rows - 1), pv + (size_t)s0 * T, T, vh,
                                  ld_v, NULL, yh + (size_t)s0 * D, D, false);
        }
        if (rounds)
            round_rows(lowp, T, hd, yh, D, yh, D);
    }
    if (max_logit)
        *max_logit = largest;
}

/* c = a^T b for a (T x T), b (T x cols). Under the causal mask a is zero
 * above its diagonal: row u of c sums over a's column u, which is zero
 * before row u, so each block of rows starts its sum at its first row.
 * gemm.c's tn product reads a down its columns as cheaply as along its rows
 * (one float a multiply-add, splat); at these sizes it stays on the calling
 * thread. */
static void masked_tn(const nl_attn_geom *g, int cols, const float *a, const float *b, int ldb,
                      float *c, int ldc)
{
    const int T = g->t;
    for (int u0 = 0; u0 < T; u0 += ROW_BLOCK) {
        const int rows = T - u0 < ROW_BLOCK ? T - u0 : ROW_BLOCK;
        const int first = g->bidirectional ? 0 : u0;
        nl_cpu_gemm_tn(rows, cols, T - first, a + (size_t)first * T + u0, T,
                       b + (size_t)first * ldb, ldb, c + (size_t)u0 * ldc, ldc);
    }
}

void nl_cpu_attention_backward(nl_backend *be, const nl_attn_geom *g, const float *q,
                               const float *k, const float *v, const float *probs,
                               const float *dy, float *dq, float *dk, float *dv, void *workspace)
{
    const nl_precision lowp = be->product_precision;
    const bool rounds = nl_cpu_lowp(lowp);
    const int T = g->t, hd = g->head_dim, D = g->heads * hd, pairs = g->n * g->heads;
    #pragma omp parallel for schedule(static) if (worth_threads(g))
    for (int pair = 0; pair < pairs; pair++) {
        const int i = pair / g->heads, h = pair % g->heads;
        const float *p = probs + (size_t)pair * T * T;
        const float *qh = q + head_offset(g, g->ld_q, i, h);
        const float *kh = k + head_offset(g, g->ld_k, i, h);
        const float *dyh = dy + head_offset(g, D, i, h);
        float *v_t =
            (float *)workspace + (size_t)omp_get_thread_num_safe() * thread_floats(g, lowp);
        float *dlogit = v_t + (size_t)hd * T;
        transpose(T, hd, v + head_offset(g, g->ld_v, i, h), g->ld_v, v_t, T);
        int ld_q = g->ld_q, ld_k = g->ld_k, ld_dy = D;
        const float *p_tn = p; /* P as dV's product reads it */
        if (rounds) {
            const lowp_parts r = lowp_of(g, v_t);
            nl_cpu_round(lowp, v_t, v_t, (size_t)hd * T);
            round_rows(lowp, T, hd, dyh, D, r.a, hd);
            round_rows(lowp, T, hd, qh, ld_q, r.b, hd);
            round_rows(lowp, T, hd, kh, ld_k, r.c, hd);
            nl_cpu_round(lowp, p, r.probs, (size_t)T * T);
            dyh = r.a;
            qh = r.b;
            kh = r.c;
            p_tn = r.probs;
            ld_q = ld_k = ld_dy = hd;
        }
        /* dprobs = dY V^T, as far as the mask lets the keys be seen */
        for (int s0 = 0; s0 < T; s0 += ROW_BLOCK) {
            const int rows = T - s0 < ROW_BLOCK ? T - s0 : ROW_BLOCK;
            nl_cpu_gemm_nn_serial(rows, block_cols(g, s0 + rows), hd, dyh + (size_t)s0 * ld_dy,
                                  ld_dy, v_t, T, NULL, dlogit + (size_t)s0 * T, T, false);
        }
        if (rounds) /* the product's output */
            for (int s = 0; s < T; s++)
                nl_cpu_round(lowp, dlogit + (size_t)s * T, dlogit + (size_t)s * T,
                             (size_t)keys_seen(g, s));
        /* dlogit, with the scale of both of its products folded in */
        for (int s = 0; s < T; s++) {
            const float *ps = p + (size_t)s * T;
            float *ds = dlogit + (size_t)s * T;
            const int seen = keys_seen(g, s), full = seen - seen % 8;
            nl_v8 acc = {0};
            int u = 0;
            for (; u < full; u += 8)
                acc = nl_v8_fma(nl_v8_load(ps + u), nl_v8_load(ds + u), acc);
            float weighted = nl_v8_sum(acc);
            for (; u < seen; u++)
                weighted += ps[u] * ds[u];
            const nl_v8 w = nl_v8_splat(weighted), scale = nl_v8_splat(g->scale);
            for (u = 0; u < full; u += 8)
                nl_v8_store(ds + u, scale * (nl_v8_load(ps + u) * (nl_v8_load(ds + u) - w)));
            for (; u < seen; u++)
                ds[u] = g->scale * (ps[u] * (ds[u] - weighted));
            for (; u < T; u++)
                ds[u] = 0.0f;
            if (rounds) /* the gradient the logits' product receives */
                nl_cpu_round(lowp, ds, ds, (size_t)seen);
        }
        /* dV = P^T dY */
        float *dvh = dv + head_offset(g, g->ld_v, i, h);
        masked_tn(g, hd, p_tn, dyh, ld_dy, dvh, g->ld_v);
        /* dQ = dlogit K */
        float *dqh = dq + head_offset(g, g->ld_q, i, h);
        for (int s0 = 0; s0 < T; s0 += ROW_BLOCK) {
            const int rows = T - s0 < ROW_BLOCK ? T - s0 : ROW_BLOCK;
            nl_cpu_gemm_nn_serial(rows, hd, keys_seen(g, s0 + rows - 1), dlogit + (size_t)s0 * T, T,
                                  kh, ld_k, NULL, dqh + (size_t)s0 * g->ld_q, g->ld_q, false);
        }
        /* dK = dlogit^T Q */
        float *dkh = dk + head_offset(g, g->ld_k, i, h);
        masked_tn(g, hd, dlogit, qh, ld_q, dkh, g->ld_k);
        if (rounds) {
            round_rows(lowp, T, hd, dvh, g->ld_v, dvh, g->ld_v);
            round_rows(lowp, T, hd, dqh, g->ld_q, dqh, g->ld_q);
            round_rows(lowp, T, hd, dkh, g->ld_k, dkh, g->ld_k);
        }
    }
}
