/* GroupNorm of feature vectors (groupnorm_features.h): a (row, group) unit
 * is cpg adjacent floats, reduced in double as groupnorm.c's blocks are. */
#include <math.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "cpu/groupnorm_features.h"
#include "cpu/reduce.h"

/* mean and 1/std of k groups of `count` values each, from their sums about
 * their shifts (without centring the shifts are 0, the mean is 0 and the
 * variance is the mean square): a loop over groups, so the divisions and
 * square roots run as vectors (one latency chain per batch of groups rather
 * than one per group) */
enum { STATS_BATCH = 16 };

/* Narrow units (short groups, or short rows) are taken in batches of up to
 * this many floats, forward and backward, so that one latency chain of
 * finish_stats (or of the backward's coefficients) serves several of them;
 * a batch's x and dy then still sit in L1 when it is normalized. */
enum { NARROW_BATCH_FLOATS = 1024 };

static void finish_stats(const double *sum, const double *sum_sq, const float *shift, int k,
                         size_t count, bool center, float eps, float *mean_out, float *rstd_out)
{
    const double n = (double)count;
    #pragma omp simd
    for (int q = 0; q < k; q++) {
        const double dmean = center ? sum[q] / n : 0.0, mean = (double)shift[q] + dmean;
        double var = sum_sq[q] / n - dmean * dmean;
        var = var < 0.0 ? 0.0 : var;
        mean_out[q] = (float)mean;
        rstd_out[q] = (float)(1.0 / sqrt(var + (double)eps));
    }
}

/* y = (x - mean) * (rstd * gamma_j) + beta_j, rounded as the fused pass in
 * nl_moments_normalizing rounds it */
static void normalize_features(const float *x, float *y, int count, float mean, float rstd,
                               const float *gamma, const float *beta)
{
    if (gamma && beta) {
        #pragma omp simd
        for (int j = 0; j < count; j++)
            y[j] = nl_fmaf(x[j] - mean, rstd * gamma[j], beta[j]);
    } else if (gamma) {
        #pragma omp simd
        for (int j = 0; j < count; j++)
            y[j] = nl_fmaf(x[j] - mean, rstd * gamma[j], 0.0f);
    } else {
        #pragma omp simd
        for (int j = 0; j < count; j++)
            y[j] = nl_fmaf(x[j] - mean, rstd, 0.0f);
    }
}

/* Feature vectors (hw == 1): a group is cpg adjacent features whose gamma and
 * beta differ element by element, and a thread's rows are one contiguous run
 * of (row, group) units of cpg floats. The run is pipelined in batches of
 * units, as BatchNorm pipelines its channel blocks: unit k of batch b is
 * normalized in the loop that sums unit k of batch b+1, so the reads of the
 * next units overlap the writes of these, and a batch's statistics are
 * finished together, one vector loop of divisions and square roots (their
 * latency, paid row by row, holds up the reorder buffer). A batch is 2048
 * floats: two rows of 1024 share that latency, while larger batches make the
 * normalizing pass read rows back from too far (NOTES.md).
 * The sums do not depend on the fusion (reduce.h) nor on the batching, so
 * nothing depends on the thread count. */
enum { FEATURE_BATCH_FLOATS = 2048 };

/* the sums of unit x_next, normalizing unit xn into yn on the way; one
 * call per case, so that no test on gamma is left in the loop */
static inline void unit_sums_normalizing(const float *x_next, int cpg, float shift, double *sum,
                                         double *sum_sq, const float *xn, float *yn, float mean,
                                         float rstd, const float *gamma, const float *beta)
{
    if (gamma && beta)
        nl_moments_normalizing(x_next, (size_t)cpg, shift, sum, sum_sq, xn, yn, mean, rstd, 0.0f,
                               gamma, beta);
    else if (gamma)
        nl_moments_normalizing(x_next, (size_t)cpg, shift, sum, sum_sq, xn, yn, mean, rstd, 0.0f,
                               gamma, NULL);
    else
        nl_moments_normalizing(x_next, (size_t)cpg, shift, sum, sum_sq, xn, yn, mean, rstd, 0.0f,
                               NULL, NULL);
}

/* how many of a batch's units remain from unit `from` to `end` */
static inline int units_in_batch(size_t from, size_t end, int batch)
{
    return from >= end ? 0 : end - from < (size_t)batch ? (int)(end - from) : batch;
}

static void forward_features_share(int n, int c, int groups, bool center, float eps, const float *x,
                                   const float *gamma, const float *beta, float *y,
                                   float *save_mean, float *save_rstd)
{
    const int cpg = c / groups;
    int batch = FEATURE_BATCH_FLOATS / cpg;
    batch = batch < 1 ? 1 : batch > STATS_BATCH ? STATS_BATCH : batch;
    int first, last;
    nl_thread_range(n, &first, &last);
    const size_t unit_end = (size_t)last * groups;
    double sum[STATS_BATCH], sum_sq[STATS_BATCH];
    float shift[STATS_BATCH];
    size_t u0 = (size_t)first * groups;
    if (u0 < unit_end) {
        const int k = units_in_batch(u0, unit_end, batch);
        for (int q = 0; q < k; q++) {
            const float *xu = x + (u0 + q) * cpg;
            shift[q] = center ? xu[0] : 0.0f;
            sum[q] = sum_sq[q] = 0.0;
            nl_sum_shifted_moments(xu, (size_t)cpg, shift[q], &sum[q], &sum_sq[q]);
        }
        finish_stats(sum, sum_sq, shift, k, (size_t)cpg, center, eps, &save_mean[u0],
                     &save_rstd[u0]);
    }
    for (; u0 < unit_end; u0 += (size_t)batch) {
        const int k = units_in_batch(u0, unit_end, batch);
        const size_t u1 = u0 + (size_t)k;
        const int k_next = units_in_batch(u1, unit_end, batch);
        for (int q = 0; q < k; q++) {
            const size_t u = u0 + (size_t)q, c0 = (u % (size_t)groups) * cpg;
            const float *gamma_g = gamma ? gamma + c0 : NULL;
            const float *beta_g = gamma && beta ? beta + c0 : NULL;
            if (q < k_next) {
                const float *x_next = x + (u1 + q) * cpg;
                shift[q] = center ? x_next[0] : 0.0f;
                sum[q] = sum_sq[q] = 0.0;
                unit_sums_normalizing(x_next, cpg, shift[q], &sum[q], &sum_sq[q], x + u * cpg,
                                      y + u * cpg, save_mean[u], save_rstd[u], gamma_g, beta_g);
            } else {
                normalize_features(x + u * cpg, y + u * cpg, cpg, save_mean[u], save_rstd[u],
                                   gamma_g, beta_g);
            }
        }
        if (k_next > 0)
            finish_stats(sum, sum_sq, shift, k_next, (size_t)cpg, center, eps, &save_mean[u1],
                         &save_rstd[u1]);
    }
}

/* Small groups (8 or more groups of at most NL_CHUNK features each, multiples
 * of 8), eight at a time: at 128 features a group, the horizontal sums and
 * the set-up of a loop per group had cost as much as the group's values
 * (0.50 of copy against LayerNorm's 0.67 on (256, 1024)). Each group's lanes
 * are added in registers, the eight groups' vectors are reduced by one
 * transposed sum, and the statistics of the eight follow as vectors. */
enum { GROUP_BATCH = 8 };

static bool eight_at_a_time(int c, int groups)
{
    const int cpg = c / groups;
    return groups % GROUP_BATCH == 0 && cpg % 8 == 0 && cpg <= NL_CHUNK;
}

/* sums about shift[q] of (x - shift[q]) and its square for the 8 groups of
 * cpg values from x, into sum[q] and sum_sq[q]; with xn, the same loop
 * normalizes the 8 groups from xn into yn with mean[q] and rstd[q], rounded
 * as normalize_features rounds, and the sums do not depend on it */
static inline __attribute__((always_inline)) void
moments_of_8_groups(const float *x, int cpg, const float *shift, float *sum, float *sum_sq,
                    const float *xn, float *yn, const float *mean, const float *rstd,
                    const float *gamma, const float *beta)
{
    nl_v8 group_sum[GROUP_BATCH], group_sum_sq[GROUP_BATCH];
    for (int q = 0; q < GROUP_BATCH; q++) {
        const size_t at = (size_t)q * cpg;
        nl_moment_lanes_normalizing(x + at, 0, (size_t)cpg, shift[q], &group_sum[q],
                                    &group_sum_sq[q], xn ? xn + at : NULL, xn ? yn + at : NULL,
                                    xn ? mean[q] : 0.0f, xn ? rstd[q] : 0.0f, 0.0f,
                                    gamma ? gamma + at : NULL, beta ? beta + at : NULL);
    }
    nl_v8_store(sum, nl_v8_totals8(group_sum));
    nl_v8_store(sum_sq, nl_v8_totals8(group_sum_sq));
}

/* one copy per case, so that no test on gamma or xn is left in the loops */
static void moments_of_8(const float *x, int cpg, const float *shift, float *sum, float *sum_sq,
                         const float *xn, float *yn, const float *mean, const float *rstd,
                         const float *gamma, const float *beta)
{
    if (xn && gamma && beta)
        moments_of_8_groups(x, cpg, shift, sum, sum_sq, xn, yn, mean, rstd, gamma, beta);
    else if (xn && gamma)
        moments_of_8_groups(x, cpg, shift, sum, sum_sq, xn, yn, mean, rstd, gamma, NULL);
    else if (xn)
        moments_of_8_groups(x, cpg, shift, sum, sum_sq, xn, yn, mean, rstd, NULL, NULL);
    else
        moments_of_8_groups(x, cpg, shift, sum, sum_sq, NULL, NULL, NULL, NULL, NULL, NULL);
}

enum { MAX_OCTET_BATCH = 4 };

/* the shifts and float sums of the 8 groups (an octet of units) from x,
 * normalizing the octet xn into yn on the way when xn is given */
static void octet_sums(const float *x, int cpg, bool center, float *shift, float *sum,
                       float *sum_sq, const float *xn, float *yn, const float *mean,
                       const float *rstd, const float *gamma, const float *beta)
{
    for (int q = 0; q < GROUP_BATCH; q++)
        shift[q] = center ? x[(size_t)q * cpg] : 0.0f;
    moments_of_8(x, cpg, shift, sum, sum_sq, xn, yn, mean, rstd, gamma, beta);
}

static void finish_octets(const float *sum, const float *sum_sq, const float *shift, int units,
                          int cpg, bool center, float eps, float *mean_out, float *rstd_out)
{
    double sum_d[MAX_OCTET_BATCH * GROUP_BATCH], sum_sq_d[MAX_OCTET_BATCH * GROUP_BATCH];
    for (int q = 0; q < units; q++) {
        sum_d[q] = sum[q];
        sum_sq_d[q] = sum_sq[q];
    }
    finish_stats(sum_d, sum_sq_d, shift, units, (size_t)cpg, center, eps, mean_out, rstd_out);
}

/* forward_features_share's pipeline, eight groups at a time: a thread's
 * units as octets (eight groups of one row, since groups is a multiple of
 * eight), in batches of up to NARROW_BATCH_FLOATS whose statistics are
 * finished together: finished octet by octet, the divisions' and square
 * roots' latency holds up retirement at every octet. 8 groups of 128 keep
 * one octet a batch, since a batch of two 1024-float rows makes the
 * normalizing pass read 8 KiB back. A separate driver rather than one
 * shared with forward_features_share: the shared one was slower on both
 * paths (NOTES.md). */
static void forward_features_by_8_share(int n, int c, int groups, bool center, float eps,
                                        const float *x,
                                        const float *gamma, const float *beta, float *y,
                                        float *save_mean, float *save_rstd)
{
    const int cpg = c / groups;
    const size_t octet_floats = (size_t)GROUP_BATCH * cpg;
    int first, last;
    nl_thread_range(n, &first, &last);
    const size_t octet_end = (size_t)last * (groups / GROUP_BATCH);
    int batch = (int)(NARROW_BATCH_FLOATS / octet_floats);
    batch = batch < 1 ? 1 : batch > MAX_OCTET_BATCH ? MAX_OCTET_BATCH : batch;
    float shift[MAX_OCTET_BATCH * GROUP_BATCH], sum[MAX_OCTET_BATCH * GROUP_BATCH],
        sum_sq[MAX_OCTET_BATCH * GROUP_BATCH];
    size_t o0 = (size_t)first * (groups / GROUP_BATCH);
    if (o0 < octet_end) {
        const int k = units_in_batch(o0, octet_end, batch);
        for (int q = 0; q < k; q++)
            octet_sums(x + (o0 + q) * octet_floats, cpg, center, shift + q * GROUP_BATCH,
                       sum + q * GROUP_BATCH, sum_sq + q * GROUP_BATCH, NULL, NULL, NULL, NULL,
                       NULL, NULL);
        finish_octets(sum, sum_sq, shift, k * GROUP_BATCH, cpg, center, eps,
                      &save_mean[o0 * GROUP_BATCH], &save_rstd[o0 * GROUP_BATCH]);
    }
    for (; o0 < octet_end; o0 += (size_t)batch) {
        const int k = units_in_batch(o0, octet_end, batch);
        const size_t o1 = o0 + (size_t)k;
        const int k_next = units_in_batch(o1, octet_end, batch);
        size_t c0 = o0 * octet_floats % (size_t)c;
        for (int q = 0; q < k; q++, c0 = c0 + octet_floats == (size_t)c ? 0 : c0 + octet_floats) {
            const size_t u = (o0 + q) * GROUP_BATCH;
            const float *gamma_g = gamma ? gamma + c0 : NULL;
            const float *beta_g = gamma && beta ? beta + c0 : NULL;
            const float *xn = x + u * cpg;
            float *yn = y + u * cpg;
            if (q < k_next) {
                octet_sums(x + (o1 + q) * octet_floats, cpg, center, shift + q * GROUP_BATCH,
                           sum + q * GROUP_BATCH, sum_sq + q * GROUP_BATCH, xn, yn,
                           &save_mean[u], &save_rstd[u], gamma_g, beta_g);
                continue;
            }
            for (int g = 0; g < GROUP_BATCH; g++)
                normalize_features(xn + (size_t)g * cpg, yn + (size_t)g * cpg, cpg,
                                   save_mean[u + g], save_rstd[u + g],
                                   gamma_g ? gamma_g + (size_t)g * cpg : NULL,
                                   beta_g ? beta_g + (size_t)g * cpg : NULL);
        }
        if (k_next > 0)
            finish_octets(sum, sum_sq, shift, k_next * GROUP_BATCH, cpg, center, eps,
                          &save_mean[o1 * GROUP_BATCH], &save_rstd[o1 * GROUP_BATCH]);
    }
}

void nl_cpu_groupnorm_features_forward(int n, int c, int groups, bool center, float eps,
                                       const float *x, const float *gamma, const float *beta,
                                       float *y, float *save_mean, float *save_rstd)
{
    if (eight_at_a_time(c, groups))
        NL_PARALLEL_CALL_IF((long)n * c >= NL_PARALLEL_MIN,
                            forward_features_by_8_share(n, c, groups, center, eps, x, gamma,
                                                        beta, y, save_mean, save_rstd));
    else
        NL_PARALLEL_CALL_IF((long)n * c >= NL_PARALLEL_MIN,
                            forward_features_share(n, c, groups, center, eps, x, gamma, beta, y,
                                                   save_mean, save_rstd));
}

enum { FEATURE_ROW_CHUNK = 32 }; /* rows per float partial of the parameter gradients */

/* The loop that reads x and dy stores into the partials as it goes: partials
 * at x's offset within a page, or just past it, alias x's loads (4K
 * aliasing, see nl_half_page_from). Each partial
 * array therefore starts half a page from x, and arrays are a whole number
 * of pages apart, which the workspace leaves room for. */
static size_t feature_partial_stride(int c)
{
    return ((size_t)c + NL_PAGE_FLOATS - 1) / NL_PAGE_FLOATS * NL_PAGE_FLOATS;
}

size_t nl_cpu_groupnorm_features_workspace(int n, int c)
{
    const size_t chunks = ((size_t)n + FEATURE_ROW_CHUNK - 1) / FEATURE_ROW_CHUNK;
    return chunks * 2 * feature_partial_stride(c) * sizeof(float) + NL_PAGE_BYTES;
}

/* The lanes of a group's sums of g*dy and g*dy * (x - mean) over [i, end),
 * g = gamma[i] (1 without gamma), stepping while 8 values remain, into
 * *lanes_dy and *lanes_dyx; returns where it stopped. With acc_dy, in the
 * same loop, the group's terms of the parameter gradients are added to the
 * chunk partials acc_dy and acc_dyx, so x and dy are loaded once for both.
 * As a separate loop before the sums, the partials had cost a third pass over
 * the row, more than the memory pass itself (the backward is bound by loads
 * and stores into L1, not memory). The partials do not change the sums'
 * operations, so dx has the same bits with or without them; the multiply-adds
 * are written out for that: left to gcc's contraction, one copy of the loop
 * had an FMA where another had a multiply and an add (rows of 1000 features
 * then gave another dx when the parameter gradients were not asked for). */
static inline __attribute__((always_inline)) int
group_lane_sums(const float *x, const float *dy, const float *gamma, int i, int end, float mean,
                float rstd, nl_v8 *lanes_dy, nl_v8 *lanes_dyx, float *acc_dy, float *acc_dyx)
{
    const nl_v8 s = nl_v8_splat(mean), r = nl_v8_splat(rstd), one = nl_v8_splat(1.0f);
    nl_v8 a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0};
    for (; i + 16 <= end; i += 16) {
        const nl_v8 d0 = nl_v8_load(dy + i), d1 = nl_v8_load(dy + i + 8);
        const nl_v8 c0 = nl_v8_load(x + i) - s, c1 = nl_v8_load(x + i + 8) - s;
        const nl_v8 g0 = d0 * (gamma ? nl_v8_load(gamma + i) : one);
        const nl_v8 g1 = d1 * (gamma ? nl_v8_load(gamma + i + 8) : one);
        a0 += g0;
        a1 += g1;
        b0 = nl_v8_fma(g0, c0, b0);
        b1 = nl_v8_fma(g1, c1, b1);
        if (acc_dy) {
            nl_v8_store(acc_dy + i, nl_v8_load(acc_dy + i) + d0);
            nl_v8_store(acc_dy + i + 8, nl_v8_load(acc_dy + i + 8) + d1);
            nl_v8_store(acc_dyx + i, nl_v8_fma(d0, c0 * r, nl_v8_load(acc_dyx + i)));
            nl_v8_store(acc_dyx + i + 8, nl_v8_fma(d1, c1 * r, nl_v8_load(acc_dyx + i + 8)));
        }
    }
    for (; i + 8 <= end; i += 8) {
        const nl_v8 d = nl_v8_load(dy + i), c = nl_v8_load(x + i) - s;
        const nl_v8 g = d * (gamma ? nl_v8_load(gamma + i) : one);
        a0 += g;
        b0 = nl_v8_fma(g, c, b0);
        if (acc_dy) {
            nl_v8_store(acc_dy + i, nl_v8_load(acc_dy + i) + d);
            nl_v8_store(acc_dyx + i, nl_v8_fma(d, c * r, nl_v8_load(acc_dyx + i)));
        }
    }
    *lanes_dy = a0 + a1;
    *lanes_dyx = b0 + b1;
    return i;
}

/* The sums of `count` adjacent groups of cpg values (count 1, or
 * GROUP_BATCH where eight_at_a_time), into sum[q] and sum_x[q]. One
 * group is summed in float lanes per chunk added in double (see reduce.h);
 * eight at a time, each group's lanes are reduced with the other seven's by
 * one transposed sum, as the forward does. */
static inline __attribute__((always_inline)) void
group_sums_body(const float *x, const float *dy, const float *gamma, int cpg, int count,
                const float *mean, const float *rstd, double *sum, double *sum_x, float *acc_dy,
                float *acc_dyx)
{
    if (count == GROUP_BATCH) {
        nl_v8 lanes_dy[GROUP_BATCH], lanes_dyx[GROUP_BATCH];
        for (int q = 0; q < GROUP_BATCH; q++) {
            const size_t at = (size_t)q * cpg;
            group_lane_sums(x + at, dy + at, gamma ? gamma + at : NULL, 0, cpg, mean[q], rstd[q],
                            &lanes_dy[q], &lanes_dyx[q], acc_dy ? acc_dy + at : NULL,
                            acc_dy ? acc_dyx + at : NULL);
        }
        float total_dy[GROUP_BATCH], total_dyx[GROUP_BATCH];
        nl_v8_store(total_dy, nl_v8_totals8(lanes_dy));
        nl_v8_store(total_dyx, nl_v8_totals8(lanes_dyx));
        for (int q = 0; q < GROUP_BATCH; q++) {
            sum[q] = total_dy[q];
            sum_x[q] = total_dyx[q];
        }
        return;
    }
    const float m = mean[0], r = rstd[0];
    double t1 = 0.0, t2 = 0.0;
    int i = 0;
    while (i + 8 <= cpg) {
        const int end = i + NL_CHUNK < cpg ? i + NL_CHUNK : cpg;
        nl_v8 lanes_dy, lanes_dyx;
        i = group_lane_sums(x, dy, gamma, i, end, m, r, &lanes_dy, &lanes_dyx, acc_dy, acc_dyx);
        t1 += nl_v8_total(lanes_dy);
        t2 += nl_v8_total(lanes_dyx);
    }
    for (; i < cpg; i++) {
        const double g = (double)dy[i] * (gamma ? gamma[i] : 1.0f);
        t1 += g;
        t2 = fma(g, (double)x[i] - m, t2);
        if (acc_dy) {
            acc_dy[i] += dy[i];
            acc_dyx[i] = nl_fmaf(dy[i], (x[i] - m) * r, acc_dyx[i]);
        }
    }
    sum[0] = t1;
    sum_x[0] = t2;
}

/* one copy of the loop per case, the group count included: a gamma test
 * inside the loop, or one loop body serving both counts, took a register, and
 * gcc then kept a sum on the stack, a store and a load in the loop's
 * dependency chain (6-7 cycles per 8 values) */
#define GROUP_SUMS_CASE(count, gamma_or_null, acc_dy_or_null, acc_dyx_or_null)                    \
    group_sums_body(x, dy, gamma_or_null, cpg, count, mean, rstd, sum, sum_x, acc_dy_or_null,      \
                    acc_dyx_or_null)
#define GROUP_SUMS_CASES(count)                                                                    \
    do {                                                                                           \
        if (acc_dy && gamma)                                                                       \
            GROUP_SUMS_CASE(count, gamma, acc_dy, acc_dyx);                                        \
        else if (acc_dy)                                                                           \
            GROUP_SUMS_CASE(count, NULL, acc_dy, acc_dyx);                                         \
        else if (gamma)                                                                            \
            GROUP_SUMS_CASE(count, gamma, NULL, NULL);                                             \
        else                                                                                       \
            GROUP_SUMS_CASE(count, NULL, NULL, NULL);                                              \
    } while (0)

static void group_sums_of_1(const float *x, const float *dy, const float *gamma, int cpg,
                            const float *mean, const float *rstd, double *sum, double *sum_x,
                            float *acc_dy, float *acc_dyx)
{
    GROUP_SUMS_CASES(1);
}

static void group_sums_of_8(const float *x, const float *dy, const float *gamma, int cpg,
                            const float *mean, const float *rstd, double *sum, double *sum_x,
                            float *acc_dy, float *acc_dyx)
{
    GROUP_SUMS_CASES(GROUP_BATCH);
}

/* The input gradient of a (row, group) needs the group's sums first; the
 * per-feature parameter gradients are summed in the same pass (x and dy are
 * in L1 then), as float partials over chunks of 32 rows that are then added
 * in double in chunk order, so the result does not depend on the thread
 * count and x and dy are read from memory once, not twice. */
void nl_cpu_groupnorm_features_backward(int n, int c, int groups, bool center, const float *x,
                                        const float *dy, const float *gamma,
                                        const float *save_mean, const float *save_rstd, float *dx,
                                        bool accumulate_dx, float *dgamma, float *dbeta,
                                        void *workspace)
{
    const int cpg = c / groups, by = eight_at_a_time(c, groups) ? GROUP_BATCH : 1;
    /* A chunk's (row, group) units are taken in batches of up to
     * NARROW_BATCH_FLOATS (and STATS_BATCH units), across rows: the sums of
     * a batch, its coefficients as one vector loop, then its dx. Row by row,
     * the coefficients' divisions hold up retirement at every row of a
     * narrow input. Rows of 1024 floats keep one row a batch. */
    int batch = NARROW_BATCH_FLOATS / cpg;
    batch = batch < by ? by : batch > STATS_BATCH ? STATS_BATCH : batch / by * by;
    const bool params = dgamma || dbeta;
    float *partial = nl_half_page_from(workspace, x);
    const size_t stride = feature_partial_stride(c);
    const int chunks = (n + FEATURE_ROW_CHUNK - 1) / FEATURE_ROW_CHUNK;
    NL_PARALLEL_FOR_IF((long)n * c >= NL_PARALLEL_MIN,
    for (int chunk = 0; chunk < chunks; chunk++) {
        float *sum_dy = partial + (size_t)chunk * 2 * stride, *sum_dy_xhat = sum_dy + stride;
        if (params) {
            _Pragma("omp simd")
            for (int j = 0; j < c; j++)
                sum_dy[j] = sum_dy_xhat[j] = 0.0f;
        }
        const int i0 = chunk * FEATURE_ROW_CHUNK;
        const int i1 = n - i0 < FEATURE_ROW_CHUNK ? n : i0 + FEATURE_ROW_CHUNK;
        const size_t unit_end = (size_t)i1 * groups;
        for (size_t u0 = (size_t)i0 * groups; u0 < unit_end; u0 += (size_t)batch) {
            const int k = units_in_batch(u0, unit_end, batch);
            const float *mean = save_mean + u0, *rstd = save_rstd + u0;
            double s1[STATS_BATCH], s2[STATS_BATCH];
            /* Without dx the sums run all the same, so that the partials
             * have the same bits with or without dx. A unit's feature
             * offset c0 is carried from unit to unit rather than taken
             * by a 64-bit modulo per unit, which is slow on short units. */
            const size_t first_c0 = u0 % (size_t)groups * cpg, step = (size_t)by * cpg;
            size_t c0 = first_c0;
            for (int q = 0; q < k; q += by, c0 = c0 + step == (size_t)c ? 0 : c0 + step) {
                const size_t u = u0 + (size_t)q;
                (by == GROUP_BATCH ? group_sums_of_8 : group_sums_of_1)(
                    x + u * cpg, dy + u * cpg, gamma ? gamma + c0 : NULL, cpg, &mean[q], &rstd[q],
                    &s1[q], &s2[q], params ? sum_dy + c0 : NULL, sum_dy_xhat + c0);
            }
            if (!dx)
                continue;
            /* the units' coefficients as one vector loop: a double division
             * per group, one after the other, had cost more than the
             * group's 128 values at 8 groups of (256, 1024) */
            float bf[STATS_BATCH], kf[STATS_BATCH];
            _Pragma("omp simd")
            for (int q = 0; q < k; q++) {
                const double r = rstd[q];
                bf[q] = (float)(-r * r * r * s2[q] / cpg);
                kf[q] = center ? (float)(-r * s1[q] / cpg) : 0.0f;
            }
            c0 = first_c0;
            for (int q = 0; q < k; q++, c0 = c0 + cpg == (size_t)c ? 0 : c0 + cpg) {
                const size_t u = u0 + (size_t)q;
                const float *xb = x + u * cpg, *dyb = dy + u * cpg;
                const float *gamma_g = gamma ? gamma + c0 : NULL;
                const float m = mean[q], r = rstd[q], b = bf[q], kq = kf[q];
                float *dxb = dx + u * cpg;
                _Pragma("omp simd")
                for (int j = 0; j < cpg; j++) {
                    const float v =
                        r * (gamma_g ? gamma_g[j] : 1.0f) * dyb[j] + b * (xb[j] - m) + kq;
                    dxb[j] = accumulate_dx ? dxb[j] + v : v;
                }
            }
        }
    });
    if (!params)
        return;
    /* chunks outermost, features across the vector lanes: each feature's
     * partials are still added in chunk order, but not as one scalar chain
     * per feature with strided loads */
    enum { FEATURE_BLOCK = 64 };
    const int feature_blocks = (c + FEATURE_BLOCK - 1) / FEATURE_BLOCK;
    NL_PARALLEL_FOR_IF((long)n * c >= NL_PARALLEL_MIN,
    for (int fb = 0; fb < feature_blocks; fb++) {
        const int j0 = fb * FEATURE_BLOCK;
        const int width = c - j0 < FEATURE_BLOCK ? c - j0 : FEATURE_BLOCK;
        double total_dy[FEATURE_BLOCK] = {0}, total_dy_xhat[FEATURE_BLOCK] = {0};
        for (int chunk = 0; chunk < chunks; chunk++) {
            const float *part_dy = partial + (size_t)chunk * 2 * stride + j0;
            const float *part_dy_xhat = part_dy + stride;
            _Pragma("omp simd")
            for (int j = 0; j < width; j++) {
                total_dy[j] += part_dy[j];
                total_dy_xhat[j] += part_dy_xhat[j];
            }
        }
        for (int j = 0; j < width; j++) {
            if (dbeta)
                dbeta[j0 + j] = (float)total_dy[j];
            if (dgamma)
                dgamma[j0 + j] = (float)total_dy_xhat[j];
        }
    });
}
