// ctest-labels: kernels
/* model.layout blocked (issue 84): the ResNet's activations in oneDNN's
 * channel-blocked layout from the stem to the pooling, no reorder between
 * convolutions.
 *   - the ops: a convolution with blocked input and output (forward,
 *     backward writing and accumulating dx) writes, bit for bit, the
 *     blocked copy of what the NCHW convolution writes (the primitive is
 *     the same; only the reorders around it are gone); global average
 *     pooling and the probes' channel moments read a blocked tensor into
 *     the same bits as its NCHW copy;
 *   - models (every convolution on oneDNN in both layouts, NORMLAB_CONV=
 *     onednn): for every normalizer kind of the registry that takes images,
 *     at its default point, and custom at the points the fused kernels do
 *     not compute, both ResNets built blocked step as the NCHW model does
 *     (loss, logits, gradients, running statistics, eval logits, 3 steps
 *     from the same parameters: bit for bit without a normalizer, to float
 *     rounding with one, whose sums run in another order);
 *   - the ops DyT and FRN's threshold (their CPU_ONLY *_blocked twins):
 *     elements bit for bit, parameter gradients to rounding; Switchable
 *     Normalization's backward (switch_backward_blocked): bit for bit;
 *   - the layout pass's refusals (core/plan/layout.c): widths (the stages',
 *     the stem's) that are not a multiple of the block, convolutions that
 *     are not oneDNN's (NORMLAB_CONV=normlab); statistics in bf16, which
 *     the normalizers' blocked kernels do not keep, run behind reorder
 *     layers instead (issue 90);
 *   - the command line: every refusal results/usage.md documents for the
 *     blocked layout (device cuda, train.precision, NORMLAB_CONV, a kernel
 *     set without a block, the widths and the stem's), in every kernel set
 *     this CPU runs, through validate, the sweep's pre-check and run: exit
 *     2, the key's file and line, and nothing written (issue 89); the
 *     statistics' precision and norm noise accepted (reorders). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "backend/shape.h"
#include "config/config.h"
#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "cpu/isa.h"
#include "model/model.h"
#include "norm/registry.h"
#include "plan/plan.h"
#include "sweep/sweep.h"
#include "train/channel_moments.h"
#include "testutil.h"

static float *floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* (n, c, hw) NCHW -> (n, c/b, hw, b), each plane where nl_plane_of puts it */
static void to_blocked(const float *x, float *out, int n, int c, int hw, int b)
{
    for (long nc = 0; nc < (long)n * c; nc++) {
        const nl_plane_at at = nl_plane_of(c, hw, b, nc);
        for (int p = 0; p < hw; p++)
            out[at.first + p * at.step] = x[(size_t)nc * hw + p];
    }
}

static bool same_bits(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
            fprintf(stderr, "%s: [%zu] %.9g vs %.9g\n", what, i, a[i], b[i]);
            return false;
        }
    return true;
}

/* |a - b| <= tol * (max |b| + floor) over the tensor */
static bool close_to(const float *a, const float *b, size_t n, double tol, double floor,
                     const char *what)
{
    double scale = floor, worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs((double)b[i]));
        worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    }
    if (!(worst <= tol * scale)) {
        fprintf(stderr, "%s: max |blocked - nchw| %.3g, scale %.3g\n", what, worst, scale);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* the ops */

START_TEST(test_conv_ops)
{
    nl_backend *be = tu_onednn_blocked_cpu();
    if (!be)
        return; /* no oneDNN here: the model tests check the refusal */
    const int block = be->ops->conv_block(be);
    const nl_conv_geom shapes[] = {
        {.in_c = 16, .in_h = 9, .in_w = 7, .out_c = 32, .out_h = 9, .out_w = 7, .kernel = 3,
         .stride = 1, .pad = 1},
        {.in_c = 32, .in_h = 9, .in_w = 7, .out_c = 16, .out_h = 5, .out_w = 4, .kernel = 3,
         .stride = 2, .pad = 1},
        {.in_c = 16, .in_h = 9, .in_w = 7, .out_c = 32, .out_h = 5, .out_w = 4, .kernel = 1,
         .stride = 2, .pad = 0},
    };
    const int n = 3;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        nl_conv_geom plain = shapes[s], blocked = plain;
        blocked.in_block = blocked.out_block = block;
        const int hw_in = plain.in_h * plain.in_w, hw_out = plain.out_h * plain.out_w;
        const size_t nx = (size_t)n * plain.in_c * hw_in, ny = (size_t)n * plain.out_c * hw_out;
        const size_t nw = (size_t)plain.out_c * plain.in_c * plain.kernel * plain.kernel;
        float *x = floats(nx), *xb = floats(nx), *w = floats(nw), *bias = floats(plain.out_c);
        float *dy = floats(ny), *dyb = floats(ny), *y = floats(ny), *yb = floats(ny);
        float *want = floats(ny > nx ? ny : nx);
        tu_fill_normal(x, nx, 3 + s, 0.0f, 1.0f);
        tu_fill_normal(w, nw, 5 + s, 0.0f, 0.3f);
        tu_fill_normal(bias, plain.out_c, 7 + s, 0.0f, 0.1f);
        tu_fill_normal(dy, ny, 11 + s, 0.0f, 1.0f);
        to_blocked(x, xb, n, plain.in_c, hw_in, block);
        to_blocked(dy, dyb, n, plain.out_c, hw_out, block);
        const size_t bytes_plain = be->ops->conv2d_workspace(be, &plain, n);
        const size_t bytes_blocked = be->ops->conv2d_workspace(be, &blocked, n);
        const size_t ws_bytes = bytes_plain > bytes_blocked ? bytes_plain : bytes_blocked;
        void *ws = malloc(ws_bytes);
        be->ops->conv2d_forward(be, &plain, n, x, w, bias, y, ws, ws_bytes);
        be->ops->conv2d_forward(be, &blocked, n, xb, w, bias, yb, ws, ws_bytes);
        to_blocked(y, want, n, plain.out_c, hw_out, block);
        ck_assert_msg(same_bits(yb, want, ny, "y"), "shape %zu: forward", s);
        for (int acc = 0; acc < 2; acc++) {
            float *dx = floats(nx), *dxb = floats(nx), *dw = floats(nw), *dwb = floats(nw);
            float *db = floats(plain.out_c), *dbb = floats(plain.out_c);
            if (acc) {
                tu_fill_normal(dx, nx, 13 + s, 0.0f, 1.0f);
                to_blocked(dx, dxb, n, plain.in_c, hw_in, block);
            }
            be->ops->conv2d_backward(be, &plain, n, x, w, dy, dx, acc, dw, db, ws, ws_bytes);
            be->ops->conv2d_backward(be, &blocked, n, xb, w, dyb, dxb, acc, dwb, dbb, ws, ws_bytes);
            to_blocked(dx, want, n, plain.in_c, hw_in, block);
            ck_assert_msg(same_bits(dxb, want, nx, "dx"), "shape %zu accumulate %d: dx", s, acc);
            ck_assert_msg(same_bits(dwb, dw, nw, "dw"), "shape %zu: dweight", s);
            ck_assert_msg(same_bits(dbb, db, plain.out_c, "db"), "shape %zu: dbias", s);
            free(dx), free(dxb), free(dw), free(dwb), free(db), free(dbb);
        }
        ck_assert_int_eq(be->conv_fallbacks, 0);
        free(ws), free(x), free(xb), free(w), free(bias), free(dy), free(dyb), free(y), free(yb);
        free(want);
    }
}
END_TEST

/* nl_plane_of, the one index of the channel-blocked layout (the rest of
 * this file rearranges through it, and the convolutions' check pins it to
 * oneDNN's own): worked by hand, and for B = 8 and 16 a one-to-one map of
 * every (sample, channel, position) onto the tensor */
START_TEST(test_plane_index)
{
    /* nChw16c, 32 channels of 5 values: channel 17 of sample 1 is lane 1 of
     * the second block of sample 1, ((1*2 + 1)*5)*16 + 1 */
    const nl_plane_at at = nl_plane_of(32, 5, 16, 32 + 17);
    ck_assert_uint_eq(at.first, 241);
    ck_assert_uint_eq(at.step, 16);
    const nl_plane_at plain = nl_plane_of(32, 5, 0, 32 + 17);
    ck_assert_uint_eq(plain.first, 49 * 5);
    ck_assert_uint_eq(plain.step, 1);
    const int n = 3, c = 32, hw = 7;
    const size_t count = (size_t)n * c * hw;
    unsigned char *seen = malloc(count);
    for (int b = 8; b <= 16; b += 8) {
        memset(seen, 0, count);
        for (long nc = 0; nc < (long)n * c; nc++) {
            const nl_plane_at a = nl_plane_of(c, hw, b, nc);
            for (int p = 0; p < hw; p++) {
                const size_t k = a.first + p * a.step;
                ck_assert_msg(k < count && !seen[k], "block %d plane %ld position %d at %zu", b,
                              nc, p, k);
                seen[k] = 1;
            }
        }
    }
    free(seen);
}
END_TEST

START_TEST(test_pool_and_moments)
{
    nl_backend *be = tu_cpu(2);
    const int n = 5, c = 32, h = 7, w = 6, hw = h * w;
    const size_t count = (size_t)n * c * hw;
    for (int block = 8; block <= 16; block += 8) {
        float *x = floats(count), *xb = floats(count), *y = floats((size_t)n * c);
        float *yb = floats((size_t)n * c), *dx = floats(count), *dxb = floats(count);
        float *want = floats(count);
        tu_fill_normal(x, count, 21, 0.5f, 1.0f);
        to_blocked(x, xb, n, c, hw, block);
        nl_pool_geom plain = {.kind = NL_POOL_AVG, .c = c, .in_h = h, .in_w = w, .out_h = 1,
                              .out_w = 1, .kernel_h = h, .kernel_w = w, .stride = 1};
        nl_pool_geom blocked = plain;
        blocked.block = block;
        be->ops->pool_forward(be, &plain, n, x, y, NULL);
        be->ops->pool_forward(be, &blocked, n, xb, yb, NULL);
        ck_assert(same_bits(yb, y, (size_t)n * c, "pooled"));
        for (int acc = 0; acc < 2; acc++) {
            tu_fill_normal(dx, count, 23, 0.0f, 1.0f);
            to_blocked(dx, dxb, n, c, hw, block);
            be->ops->pool_backward(be, &plain, n, y, NULL, dx, acc);
            be->ops->pool_backward(be, &blocked, n, y, NULL, dxb, acc);
            to_blocked(dx, want, n, c, hw, block);
            ck_assert_msg(same_bits(dxb, want, count, "pool dx"), "block %d acc %d", block, acc);
        }
        /* the probes' per-channel moments */
        double s[2][32] = {{0}}, q[2][32] = {{0}};
        nl_channel_moments_add(x, n, c, hw, 0, s[0], q[0]);
        nl_channel_moments_add(xb, n, c, hw, block, s[1], q[1]);
        ck_assert(memcmp(s[0], s[1], sizeof s[0]) == 0 && memcmp(q[0], q[1], sizeof q[0]) == 0);
        free(x), free(xb), free(y), free(yb), free(dx), free(dxb), free(want);
    }
}
END_TEST

/* Windowed pooling on the block (issue 90): 2x2 max at stride 2 (its
 * vector path; with the ReLU fused, on a map with an odd row and column
 * left over), 2x2 average and a 3x3 max at stride 2 with padding (the
 * general walk) each write the blocked copy of what NCHW writes, bit for
 * bit, values and gradients (written and accumulated), ties and NaN
 * included; and the reorders take a blocked tensor to NCHW and back. */
START_TEST(test_window_pool_and_reorder)
{
    nl_backend *be = tu_cpu(2);
    const int n = 3, c = 32, h = 9, w = 7, hw = h * w;
    const size_t count = (size_t)n * c * hw;
    const struct {
        nl_pool_kind kind;
        int kernel, stride, pad;
        bool relu;
    } cases[] = {{NL_POOL_MAX, 2, 2, 0, false}, {NL_POOL_MAX, 2, 2, 0, true},
                 {NL_POOL_AVG, 2, 2, 0, false}, {NL_POOL_MAX, 3, 2, 1, false},
                 {NL_POOL_AVG, 3, 2, 1, false}};
    for (int block = 8; block <= 16; block += 8) {
        float *x = floats(count), *xb = floats(count), *back = floats(count);
        tu_fill_normal(x, count, 31, 0.0f, 1.0f);
        /* ties and a NaN: the first of equals, NaN propagated */
        x[0] = x[1] = x[w] = 2.0f;
        x[5 * hw + 3] = NAN;
        to_blocked(x, xb, n, c, hw, block);
        be->ops->reorder_to_nchw_blocked(be, block, n, c, hw, xb, back);
        ck_assert(same_bits(back, x, count, "reordered to nchw"));
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            nl_pool_geom plain = {.kind = cases[k].kind, .c = c, .in_h = h, .in_w = w,
                                  .kernel_h = cases[k].kernel, .kernel_w = cases[k].kernel,
                                  .stride = cases[k].stride, .pad = cases[k].pad,
                                  .relu_input = cases[k].relu};
            plain.out_h = (h + 2 * plain.pad - plain.kernel_h) / plain.stride + 1;
            plain.out_w = (w + 2 * plain.pad - plain.kernel_w) / plain.stride + 1;
            nl_pool_geom blocked = plain;
            blocked.block = block;
            const size_t out_hw = (size_t)plain.out_h * plain.out_w, out = (size_t)n * c * out_hw;
            float *y = floats(out), *yb = floats(out), *want = floats(count > out ? count : out);
            int32_t *am = calloc(out, sizeof *am), *amb = calloc(out, sizeof *amb);
            be->ops->pool_forward(be, &plain, n, x, y, am);
            be->ops->pool_forward(be, &blocked, n, xb, yb, amb);
            to_blocked(y, want, n, c, (int)out_hw, block);
            for (size_t i = 0; i < out; i++)
                ck_assert_msg(memcmp(&yb[i], &want[i], sizeof *yb) == 0,
                              "block %d case %zu: pooled %zu: %g vs %g", block, k, i, yb[i],
                              want[i]);
            float *dy = floats(out), *dyb = floats(out), *dx = floats(count), *dxb = floats(count);
            tu_fill_normal(dy, out, 37, 0.0f, 1.0f);
            to_blocked(dy, dyb, n, c, (int)out_hw, block);
            for (int acc = 0; acc < 2; acc++) {
                tu_fill_normal(dx, count, 41, 0.0f, 1.0f);
                to_blocked(dx, dxb, n, c, hw, block);
                be->ops->pool_backward(be, &plain, n, dy, am, dx, acc);
                be->ops->pool_backward(be, &blocked, n, dyb, amb, dxb, acc);
                to_blocked(dx, want, n, c, hw, block);
                ck_assert_msg(same_bits(dxb, want, count, "pool dx"), "block %d case %zu acc %d",
                              block, k, acc);
            }
            /* the reorder's backward: an NCHW gradient into the blocked one */
            for (int acc = 0; acc < 2; acc++) {
                tu_fill_normal(back, count, 43, 0.0f, 1.0f);
                to_blocked(back, want, n, c, hw, block);
                memcpy(dxb, want, count * sizeof *dxb);
                be->ops->reorder_from_nchw_blocked(be, block, n, c, hw, dx, dxb, acc);
                float *sum = floats(count);
                for (size_t i = 0; i < count; i++)
                    sum[i] = acc ? back[i] + dx[i] : dx[i];
                to_blocked(sum, want, n, c, hw, block);
                ck_assert(same_bits(dxb, want, count, "reordered gradient"));
                free(sum);
            }
            free(y), free(yb), free(want), free(am), free(amb), free(dy), free(dyb), free(dx),
                free(dxb);
        }
        free(x), free(xb), free(back);
    }
}
END_TEST

/* DyT and FRN's threshold: every element as the planes compute it (the
 * same bits; a gradient added into dx to rounding), the parameters'
 * gradients to rounding (summed in another order) */
START_TEST(test_pointwise_ops)
{
    nl_backend *be = tu_cpu(2);
    const int n = 3, c = 32, hw = 45;
    const size_t count = (size_t)n * c * hw;
    float *x = floats(count), *dy = floats(count), *y = floats(count), *dx = floats(count);
    float *xb = floats(count), *dyb = floats(count), *yb = floats(count), *dxb = floats(count);
    float *want = floats(count), gamma[32], beta[32], tau[32], alpha = 0.7f;
    tu_fill_normal(x, count, 31, 0.0f, 1.5f);
    tu_fill_normal(dy, count, 33, 0.0f, 1.0f);
    tu_fill_normal(gamma, c, 35, 1.0f, 0.2f);
    tu_fill_normal(beta, c, 37, 0.0f, 0.2f);
    tu_fill_normal(tau, c, 39, 0.0f, 0.5f);
    double ws[2][3 * 32];
    for (int block = 8; block <= 16; block += 8) {
        to_blocked(x, xb, n, c, hw, block);
        to_blocked(dy, dyb, n, c, hw, block);
        for (int acc = 0; acc < 2; acc++) {
            float g[2][3][32], a[2];
            be->ops->dyt_forward(be, n, c, hw, &alpha, x, gamma, beta, y);
            be->ops->dyt_forward_blocked(be, block, n, c, hw, &alpha, xb, gamma, beta, yb);
            to_blocked(y, want, n, c, hw, block);
            ck_assert_msg(same_bits(yb, want, count, "dyt y"), "block %d", block);
            tu_fill_normal(dx, count, 41, 0.0f, 1.0f);
            to_blocked(dx, dxb, n, c, hw, block);
            be->ops->dyt_backward(be, n, c, hw, &alpha, x, dy, gamma, dx, acc, g[0][0], g[0][1],
                                  &a[0], ws[0]);
            be->ops->dyt_backward_blocked(be, block, n, c, hw, &alpha, xb, dyb, gamma, dxb, acc,
                                          g[1][0], g[1][1], &a[1], ws[1]);
            to_blocked(dx, want, n, c, hw, block);
            /* added into dx, the kernels' multiply-adds may contract
             * differently (-ffp-contract=fast): to rounding there */
            ck_assert_msg(acc ? close_to(dxb, want, count, 1e-6, 1.0, "dyt dx")
                              : same_bits(dxb, want, count, "dyt dx"),
                          "block %d acc %d", block, acc);
            ck_assert(close_to(g[1][0], g[0][0], c, 1e-5, 1.0, "dgamma"));
            ck_assert(close_to(g[1][1], g[0][1], c, 1e-5, 1.0, "dbeta"));
            ck_assert(close_to(&a[1], &a[0], 1, 1e-5, 1.0, "dalpha"));
            be->ops->tlu_forward(be, n, c, hw, x, tau, y);
            be->ops->tlu_forward_blocked(be, block, n, c, hw, xb, tau, yb);
            to_blocked(y, want, n, c, hw, block);
            ck_assert_msg(same_bits(yb, want, count, "tlu y"), "block %d", block);
            tu_fill_normal(dx, count, 43, 0.0f, 1.0f);
            to_blocked(dx, dxb, n, c, hw, block);
            be->ops->tlu_backward(be, n, c, hw, y, tau, dy, dx, acc, g[0][2]);
            be->ops->tlu_backward_blocked(be, block, n, c, hw, yb, tau, dyb, dxb, acc, g[1][2]);
            to_blocked(dx, want, n, c, hw, block);
            ck_assert_msg(same_bits(dxb, want, count, "tlu dx"), "block %d acc %d", block, acc);
            ck_assert(close_to(g[1][2], g[0][2], c, 1e-5, 1.0, "dtau"));
        }
    }
    free(x), free(dy), free(y), free(dx), free(xb), free(dyb), free(yb), free(dxb), free(want);
}
END_TEST

/* Switchable Normalization's backward reads each plane through
 * nl_plane_of in pixel order in either layout: dx, dgamma, dbeta and
 * dlambda the same bits, the batch term's gradient taken and not, dx
 * written and added */
START_TEST(test_switch_backward)
{
    nl_backend *be = tu_cpu(2);
    const int n = 3, c = 32, hw = 45;
    const size_t count = (size_t)n * c * hw, planes = (size_t)n * c;
    float *x = floats(count), *dy = floats(count), *dx = floats(count), *xb = floats(count);
    float *dyb = floats(count), *dxb = floats(count), *want = floats(count);
    float *st = floats(4 * planes + 2 * (size_t)n + 2 * (size_t)c);
    float *mean = st, *rstd = st + planes, *mean_in = rstd + planes, *var_in = mean_in + planes;
    float *mean_ln = var_in + planes, *var_ln = mean_ln + n, *mean_bn = var_ln + n;
    float *var_bn = mean_bn + c, gamma[32];
    const float weights[6] = {0.2f, 0.3f, 0.5f, 0.1f, 0.6f, 0.3f};
    tu_fill_normal(x, count, 51, 0.3f, 1.5f);
    tu_fill_normal(dy, count, 53, 0.0f, 1.0f);
    tu_fill_normal(gamma, c, 55, 1.0f, 0.2f);
    tu_fill_normal(mean, planes, 57, 0.3f, 0.2f);
    tu_fill_uniform(rstd, planes, 59, 0.5f, 1.5f);
    tu_fill_normal(mean_in, planes, 61, 0.3f, 0.2f);
    tu_fill_normal(mean_ln, n, 71, 0.3f, 0.2f);
    tu_fill_normal(mean_bn, c, 73, 0.3f, 0.2f);
    tu_fill_uniform(var_in, planes, 63, 0.5f, 2.0f);
    tu_fill_uniform(var_ln, n, 65, 0.5f, 2.0f);
    tu_fill_uniform(var_bn, c, 67, 0.5f, 2.0f);
    void *ws[2];
    for (int k = 0; k < 2; k++)
        ws[k] = malloc(be->ops->switch_backward_workspace(be, n, c));
    for (int block = 8; block <= 16; block += 8) {
        to_blocked(x, xb, n, c, hw, block);
        to_blocked(dy, dyb, n, c, hw, block);
        for (int variant = 0; variant < 4; variant++) {
            const bool batch = variant & 1, acc = variant & 2;
            float g[2][2][32], dl[2][6];
            tu_fill_normal(dx, count, 69, 0.0f, 1.0f);
            to_blocked(dx, dxb, n, c, hw, block);
            be->ops->switch_backward(be, n, c, hw, x, dy, gamma, mean, rstd, weights, mean_in,
                                     mean_ln, mean_bn, var_in, var_ln, var_bn, batch, dx, acc,
                                     g[0][0], g[0][1], dl[0], ws[0]);
            be->ops->switch_backward_blocked(be, block, n, c, hw, xb, dyb, gamma, mean, rstd,
                                             weights, mean_in, mean_ln, mean_bn, var_in, var_ln,
                                             var_bn, batch, dxb, acc, g[1][0], g[1][1], dl[1],
                                             ws[1]);
            to_blocked(dx, want, n, c, hw, block);
            ck_assert_msg(same_bits(dxb, want, count, "switch dx"), "block %d batch %d acc %d",
                          block, batch, acc);
            ck_assert(same_bits(g[1][0], g[0][0], (size_t)2 * c, "switch dgamma, dbeta"));
            ck_assert(same_bits(dl[1], dl[0], 6, "switch dlambda"));
        }
    }
    free(ws[0]), free(ws[1]), free(st);
    free(x), free(dy), free(dx), free(xb), free(dyb), free(dxb), free(want);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* whole models */

static nl_arch pair_arch = NL_ARCH_RESNET; /* the architecture check_pair builds */
static nl_pool_kind pair_pool = NL_POOL_MAX; /* the CNN's pooling */

static nl_model_spec model_spec(nl_placement placement, nl_norm_kind kind, nl_layout layout)
{
    nl_model_spec spec = tu_small_image_spec(pair_arch, kind, placement);
    spec.pool = pair_pool;
    spec.layout = layout;
    return spec;
}

/* the error of a gradient: ||a - b|| / (||b|| + floor), in L2 */
static double l2_error(const float *a, const float *b, size_t n, double floor)
{
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        norm += (double)b[i] * b[i];
    }
    return sqrt(diff) / (sqrt(norm) + floor);
}


/* Activations whose sign differs between the layouts. A ReLU whose input
 * lies within rounding of 0 (exactly 0 where a value equals its group's
 * mean and the shift is 0) passes its gradient in one layout and not in
 * the other, and that one value moves every gradient before it by a few
 * per cent on these small batches: such a step's gradients are not
 * compared (a wrong index moves them by their whole size, with no flip). */
static int sign_flips(const nl_model *plain, const nl_model *blocked, int n)
{
    int flips = 0;
    for (int a = 0; a < plain->n_acts; a++) {
        const nl_act *p0 = plain->acts[a], *p1 = nl_model_act(blocked, p0->name);
        if (!p1 || !p1->shape.block)
            continue;
        const int c = p0->shape.c, hw = p0->shape.h * p0->shape.w;
        for (long nc = 0; nc < (long)n * c; nc++) {
            const nl_plane_at at = nl_plane_of(c, hw, p1->shape.block, nc);
            for (int q = 0; q < hw; q++) {
                const float v0 = p0->data[(size_t)nc * hw + q];
                const float v1 = p1->data[at.first + q * at.step];
                flips += (v0 > 0) != (v1 > 0);
            }
        }
    }
    return flips;
}

static int blocked_acts(const nl_model *m)
{
    int count = 0;
    for (int i = 0; i < m->n_acts; i++)
        count += m->acts[i]->shape.block != 0;
    return count;
}

/* builds kind at placement in both layouts and takes 3 steps from the same
 * parameters (the NCHW model's after each step are copied into the blocked
 * one, so that a step's differences are that step's); true when compared */
static bool check_pair(nl_backend *be, nl_placement placement, nl_norm_kind kind,
                       const nl_norm_spec *norm, int *compared)
{
    char what[128];
    snprintf(what, sizeof what, "%s/%s/%s%s%s", nl_name_of(&nl_arch_names, pair_arch),
             pair_arch == NL_ARCH_CNN ? nl_name_of(&nl_pool_names, pair_pool) : "",
             nl_name_of(&nl_placement_names, placement),
             nl_name_of(&nl_norm_names, kind), norm ? " (a point of its own)" : "");
    nl_model *m[2] = {NULL, NULL};
    for (int l = 0; l < 2; l++) {
        nl_model_spec spec = model_spec(placement, kind, l ? NL_LAYOUT_BLOCKED : NL_LAYOUT_NCHW);
        if (norm) {
            spec.norm = *norm;
            spec.norm.placement = placement;
        }
        /* what the layout pass decides for blocked on this backend */
        spec.channel_block = l ? be->ops->conv_block(be) : 0;
        nl_error err = {0};
        const nl_code rc = nl_model_create(&spec, be, 6, 6, 11, &m[l], &err);
        ck_assert_msg(rc == NL_OK, "%s: %s", what, err.msg);
    }
    ck_assert_int_eq(blocked_acts(m[0]), 0);
    ck_assert_msg(blocked_acts(m[1]) >= 4, "%s: %d blocked activations", what,
                  blocked_acts(m[1]));
    ck_assert_int_eq(m[0]->n_params, m[1]->n_params);
    /* without a normalizer no sum runs over channels in another order */
    const bool exact = kind == NL_NORM_NONE;
    const double tol = exact ? 0.0 : 2e-4;
    const int n = 6;
    float x[6 * 8 * 8];
    int32_t labels[6] = {1, 4, 0, 2, 4, 3};
    tu_fill_normal(x, sizeof x / sizeof x[0], 17, 0.2f, 1.0f);
    for (int step = 0; step < 3; step++) {
        double loss[2];
        for (int l = 0; l < 2; l++) {
            nl_model_load_batch(m[l], x, labels, n);
            nl_model_reset_metrics(m[l]);
            nl_model_forward(m[l], n, NL_MODE_TRAIN);
            double metrics[2];
            nl_model_read_metrics(m[l], metrics);
            loss[l] = metrics[0];
            nl_model_backward(m[l], n);
        }
        ck_assert_msg(fabs(loss[1] - loss[0]) <= tol * fabs(loss[0]), "%s step %d: loss %.17g "
                      "vs %.17g", what, step, loss[1], loss[0]);
        ck_assert_msg(close_to(m[1]->logits->data, m[0]->logits->data,
                               nl_shape_count(m[0]->logits->shape), tol, 1.0, what),
                      "%s step %d: logits", what, step);
        const bool kinked = !exact && sign_flips(m[0], m[1], n) > 0;
        *compared += !kinked;
        for (int i = 0; i < m[0]->n_params; i++) {
            nl_param *p0 = m[0]->params[i], *p1 = m[1]->params[i];
            ck_assert_str_eq(p0->name, p1->name);
            /* the floor: a batch-normalized channel's bias before it has a
             * gradient that sums to 0, rounding alone */
            const double e = l2_error(p1->grad, p0->grad, p0->count, 1e-4);
            ck_assert_msg(exact ? memcmp(p0->grad, p1->grad, p0->count * sizeof(float)) == 0
                                : kinked || e <= 2e-2,
                          "%s step %d: d %s off by %.3g", what, step, p0->name, e);
            for (size_t k = 0; k < p0->count; k++)
                p0->data[k] -= 0.1f * p0->grad[k];
            memcpy(p1->data, p0->data, p0->count * sizeof(float));
        }
        for (int i = 0; i < m[0]->n_states; i++) {
            nl_state *s0 = m[0]->states[i], *s1 = m[1]->states[i];
            ck_assert_msg(close_to(s1->data, s0->data, s0->count, tol, 1.0, s0->name),
                          "%s step %d: %s", what, step, s0->name);
            memcpy(s1->data, s0->data, s0->count * sizeof(float));
        }
    }
    for (int l = 0; l < 2; l++) {
        nl_model_load_batch(m[l], x, labels, n);
        nl_model_forward(m[l], n, NL_MODE_EVAL);
    }
    ck_assert_msg(close_to(m[1]->logits->data, m[0]->logits->data,
                           nl_shape_count(m[0]->logits->shape), 5 * tol, 1.0, what),
                  "%s: eval logits", what);
    /* a smaller batch than planned (an evaluation's last) runs too */
    for (int l = 0; l < 2; l++) {
        nl_model_load_batch(m[l], x, labels, 4);
        nl_model_forward(m[l], 4, NL_MODE_EVAL);
    }
    ck_assert_msg(close_to(m[1]->logits->data, m[0]->logits->data, 4 * 5, 5 * tol, 1.0, what),
                  "%s: eval logits of 4 samples", what);
    ck_assert_int_eq(be->conv_fallbacks, 0);
    nl_model_free(m[0]);
    nl_model_free(m[1]);
    return true;
}

/* the run the layout pass plans for in these tests: batch 6, one thread */
static const nl_plan_run batch6 = {.train_batch = 6, .capacity = 6, .threads = 1};

START_TEST(test_models)
{
    nl_backend *be = tu_onednn_blocked_cpu();
    if (!be) {
        /* no block here: the layout pass refuses blocked */
        nl_model_spec spec = model_spec(NL_PLACE_POST, NL_NORM_BATCH, NL_LAYOUT_BLOCKED);
        const nl_device_caps caps = nl_device_caps_of(NL_DEVICE_CPU);
        nl_error err = {0};
        ck_assert_int_eq(nl_plan_layout(&spec, &caps, &batch6, &err), NL_ERR_CONFIG);
        ck_assert_str_eq(err.key, "model.layout");
        return;
    }
    int taken = 0, compared = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        if (!row->images)
            continue;
        for (int p = 0; p < 2; p++) {
            const bool ok = check_pair(be, p ? NL_PLACE_PRE : NL_PLACE_POST, (nl_norm_kind)k,
                                       NULL, &compared);
            /* every kind of the registry that takes images has blocked kernels */
            ck_assert_msg(ok, "%s refused", nl_name_of(&nl_norm_names, k));
            taken += ok;
        }
    }
    /* the design space's points the fused kernels do not compute
     * (norm_backward_point): the mean off with the RMS, the standard
     * deviation without the mean off, nothing divided by */
    const struct {
        bool center;
        nl_norm_scale scale;
    } points[] = {{true, NL_SCALE_RMS}, {false, NL_SCALE_STD}, {true, NL_SCALE_NONE}};
    for (size_t q = 0; q < sizeof points / sizeof points[0]; q++) {
        nl_norm_spec norm;
        nl_norm_spec_defaults(&norm, NL_NORM_CUSTOM);
        norm.groups = 4;
        norm.center = points[q].center;
        norm.scale = points[q].scale;
        ck_assert(check_pair(be, NL_PLACE_PRE, NL_NORM_CUSTOM, &norm, &compared));
        taken++;
    }
    /* the CNN: every kind before the activation (its last ReLU fused into
     * the max pooling), after it, and average pooling */
    pair_arch = NL_ARCH_CNN;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        if (!nl_norm_info_of((nl_norm_kind)k)->images)
            continue;
        ck_assert(check_pair(be, NL_PLACE_BEFORE, (nl_norm_kind)k, NULL, &compared));
        taken++;
    }
    ck_assert(check_pair(be, NL_PLACE_AFTER, NL_NORM_BATCH, NULL, &compared));
    pair_pool = NL_POOL_AVG;
    ck_assert(check_pair(be, NL_PLACE_BEFORE, NL_NORM_GROUP, NULL, &compared));
    taken += 2;
    pair_arch = NL_ARCH_RESNET;
    pair_pool = NL_POOL_MAX;
    fprintf(stderr, "blocked: %d models taken, %d steps compared\n", taken, compared);
    /* nearly every step's gradients are compared */
    ck_assert_msg(compared >= 3 * taken - 3, "%d models taken, %d steps' gradients compared",
                  taken, compared);
}
END_TEST

START_TEST(test_refusals)
{
    const nl_device_caps caps = nl_device_caps_of(NL_DEVICE_CPU);
    const int block = caps.channel_block[NL_PRECISION_FP32];
    if (!block)
        return;
    nl_error err = {0};
    /* widths that are not a multiple of the block */
    nl_model_spec spec = model_spec(NL_PLACE_POST, NL_NORM_BATCH, NL_LAYOUT_BLOCKED);
    spec.widths[1] = block + 4;
    ck_assert_int_eq(nl_plan_layout(&spec, &caps, &batch6, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "model.widths");
    ck_assert_ptr_nonnull(strstr(err.msg, "multiples"));
    /* the stem's own width is the stem's key, not the stages' */
    spec = model_spec(NL_PLACE_POST, NL_NORM_BATCH, NL_LAYOUT_BLOCKED);
    spec.stem_width = block + 4;
    err = (nl_error){0};
    ck_assert_int_eq(nl_plan_layout(&spec, &caps, &batch6, &err), NL_ERR_CONFIG);
    ck_assert_msg(strcmp(err.key, "model.stem_width") == 0 &&
                      strcmp(err.with_key, "model.layout") == 0,
                  "key '%s' with '%s': %s", err.key, err.with_key, err.msg);
    /* statistics in bf16: the normalizers read NCHW behind reorder layers */
    spec = model_spec(NL_PLACE_POST, NL_NORM_BATCH, NL_LAYOUT_BLOCKED);
    spec.norm.stats_precision = NL_PRECISION_BF16;
    err = (nl_error){0};
    ck_assert_int_eq(nl_plan_layout(&spec, &caps, &batch6, &err), NL_OK);
    ck_assert_int_eq(spec.channel_block, block);
    nl_model *m = NULL;
    nl_backend cpu = nl_backend_probe(1, spec.product_precision);
    ck_assert_msg(nl_model_plan(&spec, 6, 6, 1, &m, &err) == NL_OK, "%s", err.msg);
    int reorders = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const nl_layer *l = m->layers[i];
        reorders += !strcmp(l->vt->kind, "reorder");
        const int block_in = l->in[0]->shape.block;
        const bool conv = nl_layer_family(l) == NL_OP_FAMILY_CONV; /* the plan's block */
        ck_assert(!block_in || (conv && block_in == spec.channel_block) ||
                  cpu.ops->runs(&cpu, nl_layer_family(l), block_in, NL_STORAGE_FP32));
    }
    ck_assert_int_ge(reorders, 3);
    nl_model_free(m);
    /* convolutions that are not oneDNN's */
    setenv("NORMLAB_CONV", "normlab", 1);
    const nl_device_caps own = nl_device_caps_of(NL_DEVICE_CPU);
    unsetenv("NORMLAB_CONV");
    ck_assert_int_eq(own.channel_block[NL_PRECISION_FP32], 0);
    spec = model_spec(NL_PLACE_POST, NL_NORM_BATCH, NL_LAYOUT_BLOCKED);
    err = (nl_error){0};
    ck_assert_int_eq(nl_plan_layout(&spec, &own, &batch6, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "model.layout");
    ck_assert_ptr_nonnull(strstr(err.msg, "oneDNN"));
}
END_TEST

/* the command line: a blocked run records its layout; device cuda and a
 * normalizer without blocked kernels are refused before anything is
 * written */
START_TEST(test_runs)
{
    tu_tmp_make("layout");
    tu_tmp_write("r.yaml", "data:\n  dataset: synthetic\n  train_size: 128\n  test_size: 32\n"
                           "model:\n  arch: resnet\n  widths: [16, 32]\n  layout: blocked\n"
                           "  norm:\n    type: batch\n"
                           "train:\n  batch_size: 32\n  steps: 4\n  eval_every: 4\n");
    const bool blocked = tu_onednn_blocked_cpu() != NULL;
    const int status = tu_normlab("run r.yaml --out run --threads 1");
    char *out = tu_normlab_output();
    if (blocked) {
        ck_assert_msg(status == 0, "%s", out);
        char *summary = tu_tmp_read("run/summary.json"), *config = tu_tmp_read("run/config.yaml");
        ck_assert_msg(strstr(summary, "\"layout\": \"blocked (nChw"), "%s", summary);
        ck_assert_msg(strstr(config, "  layout: blocked\n"), "%s", config);
        ck_assert_msg(strstr(summary, "\"conv_library_fallbacks\": 0"), "%s", summary);
        free(summary), free(config);
    } else {
        ck_assert_msg(status == 2 && strstr(out, "model.layout"), "%s", out);
    }
    free(out);
    const char *refused[][2] = {{"--set device=cuda", "device is cuda"}};
    for (int k = 0; k < 1 && blocked; k++) {
        char args[256];
        snprintf(args, sizeof args, "run r.yaml %s --out refused", refused[k][0]);
        const int rc = tu_normlab(args);
        char *text = tu_normlab_output();
        ck_assert_msg(rc == 2 && strstr(text, "model.layout") && strstr(text, refused[k][1]) &&
                          strstr(text, "nchw"),
                      "%s: exit %d: %s", refused[k][0], rc, text);
        char path[512];
        snprintf(path, sizeof path, "%s/refused", tu_tmp);
        ck_assert_msg(access(path, F_OK) != 0, "%s: wrote refused/", refused[k][0]);
        free(text);
    }
    tu_tmp_remove();
}
END_TEST


/* A run's record names the layout its host planned: read back as a record
 * (a sweep comparing it, eval, init.from) on a host whose block it does not
 * fit, it is planned again for this host, not refused. Widths of 4 and 12
 * fit no block (8 or 16), so the record is one no host can run blocked and
 * the check holds wherever it runs. */
START_TEST(test_record_of_another_host)
{
    tu_tmp_make("layout-record");
    const char *asked = "data:\n  dataset: synthetic\n  train_size: 128\n  test_size: 32\n"
                        "model:\n  arch: resnet\n  widths: [4, 12]\n  norm:\n    type: batch\n"
                        "train:\n  batch_size: 32\n  steps: 4\n  eval_every: 4\n";
    nl_config *cfg = calloc(1, sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    char *resolved = tu_resolved_config(asked, cfg);
    /* what a host with a block of 4 would have recorded: the layout its
     * plan took in place of the auto asked */
    char *auto_line = strstr(resolved, "  layout: auto\n");
    ck_assert_msg(auto_line, "%s", resolved);
    char recorded[8192];
    snprintf(recorded, sizeof recorded, "%.*s  layout: blocked\n%s", (int)(auto_line - resolved),
             resolved, auto_line + strlen("  layout: auto\n"));
    tu_tmp_write("config.yaml", recorded);
    char path[512];
    snprintf(path, sizeof path, "%s/config.yaml", tu_tmp);
    /* as a plan for this host it is refused, naming the key */
    nl_error err = {0};
    ck_assert_int_eq(nl_config_load(path, NULL, 0, cfg, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "model.layout"), "%s", err.msg);
    /* as a record it is read, its layout left to this host's plan */
    err = (nl_error){0};
    ck_assert_msg(nl_config_load_record(path, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(cfg->model.layout, NL_LAYOUT_AUTO);
    ck_assert_int_eq(cfg->model.widths[1], 12);
    /* and a sweep takes the finished run as the run its experiment asks */
    char why[512];
    ck_assert_msg(nl_sweep_config_diff(path, resolved, why, sizeof why) == 0, "%s", why);
    free(resolved);
    free(cfg);
    /* a finished run with that record: eval and show read it */
    tu_tmp_write("asked.yaml", asked);
    ck_assert_int_eq(tu_normlab("run asked.yaml --out run --threads 1 --set model.layout=nchw"), 0);
    char *ran = tu_tmp_read("run/config.yaml");
    char *nchw = strstr(ran, "  layout: nchw\n");
    ck_assert_msg(nchw, "%s", ran);
    snprintf(recorded, sizeof recorded, "%.*s  layout: blocked\n%s", (int)(nchw - ran), ran,
             nchw + strlen("  layout: nchw\n"));
    free(ran);
    tu_tmp_write("run/config.yaml", recorded);
    const struct {
        const char *args, *says;
    } readers[] = {{"eval run", "accuracy"}, {"show run", "this CPU cannot plan the run as it recorded"}};
    for (size_t k = 0; k < sizeof readers / sizeof *readers; k++) {
        const int rc = tu_normlab(readers[k].args);
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 0 && strstr(out, readers[k].says), "%s: exit %d: %s", readers[k].args, rc, out);
        free(out);
    }
    tu_tmp_remove();
}
END_TEST


/* ---------------------------------------------------------------------- */
/* every refusal of the blocked layout that results/usage.md documents,
 * through validate, the sweep's pre-check and run (issue 89) */

/* The block oneDNN's kernels take in a kernel set compiled for `needs`, as
 * results/usage.md says: 16 with AVX-512, 8 with AVX2 and FMA; none below,
 * nor in a build without oneDNN (or where NORMLAB_CONV keeps normlab's). */
static int documented_block(nl_isa_mask needs)
{
    const nl_isa_mask avx512 = NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512BW) |
                               NL_ISA_BIT(AVX512DQ) | NL_ISA_BIT(AVX512VL);
    const nl_isa_mask avx2 = NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA);
    if (!nl_cpu_onednn_version())
        return 0;
    return (needs & avx512) == avx512 ? 16 : (needs & avx2) == avx2 ? 8 : 0;
}

/* the product precisions the documentation says oneDNN runs in a set:
 * fp32, and bf16 with AVX512-BF16 */
static bool documented_precision(nl_isa_mask needs, nl_precision p)
{
    /* the AMX set's bf16 convolutions are oneDNN's AMX kernels, which read
     * nhwc: no block there */
    const nl_isa_mask tiles = NL_ISA_BIT(AMX_BF16) | NL_ISA_BIT(AMX_TILE);
    return p == NL_PRECISION_FP32 || (p == NL_PRECISION_BF16 && (needs & NL_ISA_BIT(AVX512BF16)) &&
                                      (needs & tiles) != tiles);
}

/* One config the blocked layout refuses (or, accepted, takes): lines added
 * to the base config's sections, the environment the commands run in, the
 * key the refusal names and a word of its message. */
typedef struct {
    char what[96];
    char top[64], model[96], norm[64], train[64], widths[32];
    const char *conv;     /* NORMLAB_CONV for the commands (NULL: unset) */
    char set[64];         /* --set KEY=VALUE that makes the same refusal ("" none) */
    const char *key;      /* the key refused */
    char word[96];        /* what its message says */
    bool accepted;        /* not refused: validate takes it */
} layout_case;

static void layout_config(const layout_case *c, char *text, size_t size)
{
    snprintf(text, size,
             "data:\n  dataset: synthetic\n  train_size: 128\n  test_size: 32\n%s"
             "model:\n  arch: resnet\n  widths: %s\n  layout: blocked\n%s"
             "  norm:\n    type: batch\n%s"
             "train:\n  batch_size: 32\n  steps: 4\n  eval_every: 4\n%s",
             c->top, c->widths[0] ? c->widths : "[16, 32]", c->model, c->norm, c->train);
}

/* the line a dotted key is set on in a config written with two spaces of
 * indent per level (0: not set there) */
static int key_line(const char *text, const char *key)
{
    char needle[128];
    int depth = 0;
    for (const char *k = key; *k; k++)
        depth += *k == '.';
    const char *leaf = strrchr(key, '.');
    snprintf(needle, sizeof needle, "\n%*s%s:", 2 * depth, "", leaf ? leaf + 1 : key);
    const char *at = strstr(text, needle);
    if (!at)
        return 0;
    int line = 2;
    for (const char *q = text; q < at; q++)
        line += *q == '\n';
    return line;
}

/* the message leads with "<file>:<line>:<column>: <key>: " */
static bool names_line(const char *out, const char *file, int line, const char *key)
{
    char lead[128];
    snprintf(lead, sizeof lead, "%s:%d:", file, line);
    for (const char *at = strstr(out, lead); at; at = strstr(at + 1, lead)) {
        const char *q = at + strlen(lead);
        while (*q >= '0' && *q <= '9')
            q++;
        if (!strncmp(q, ": ", 2) && !strncmp(q + 2, key, strlen(key)) &&
            q[2 + strlen(key)] == ':')
            return true;
    }
    return false;
}

/* nothing but the inputs and the output's log in the test's directory: no
 * run or sweep directory, no .lock, configs/ or runs/ anywhere */
static void nothing_written(const char *what, const char *command)
{
    static const char *const inputs[] = {"r.yaml", "plain.yaml", "exp.yaml", "out.txt"};
    DIR *dir = opendir(tu_tmp);
    ck_assert_ptr_nonnull(dir);
    for (struct dirent *e; (e = readdir(dir));) {
        bool input = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
        for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
            input |= !strcmp(e->d_name, inputs[i]);
        ck_assert_msg(input, "%s: %s wrote %s", what, command, e->d_name);
    }
    closedir(dir);
}

static void setenv_or_unset(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

/* the three commands on one case: exit 2, the key's file:line (and
 * model.layout's, where another key is refused for it), nothing written */
static void check_layout_case(const layout_case *c)
{
    char text[1024], plain[1024];
    layout_config(c, text, sizeof text);
    layout_config(&(layout_case){.widths = ""}, plain, sizeof plain);
    tu_tmp_write("r.yaml", text);
    tu_tmp_write("plain.yaml", plain);
    tu_tmp_write("exp.yaml", "name: refused\nbase: r.yaml\ngrid:\n  seed: [1]\n");
    setenv_or_unset("NORMLAB_CONV", c->conv);
    if (c->accepted) {
        const int rc = tu_normlab("validate r.yaml");
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 0, "%s: refused (exit %d): %s", c->what, rc, out);
        free(out);
        unsetenv("NORMLAB_CONV");
        return;
    }
    const int line = key_line(text, c->key), layout = key_line(text, "model.layout");
    const int plain_layout = key_line(plain, "model.layout");
    ck_assert_msg(line > 0 && layout > 0, "%s: %s is not in the config", c->what, c->key);
    /* --set names the key it sets, else the line of the key refused */
    const bool sets_key = !strncmp(c->set, c->key, strlen(c->key)) && c->set[strlen(c->key)] == '=';
    char with_set[160];
    snprintf(with_set, sizeof with_set, "run plain.yaml --set %s --out out", c->set);
    const char *commands[] = {"validate r.yaml", "sweep exp.yaml --out sw", "run r.yaml --out out",
                              with_set};
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        const bool by_set = commands[k] == with_set;
        if (by_set && !c->set[0])
            continue;
        const int rc = tu_normlab(commands[k]);
        char *out = tu_normlab_output();
        char lead[192], layout_at[64];
        snprintf(lead, sizeof lead, "--set %s: %s: ", c->set, c->key);
        snprintf(layout_at, sizeof layout_at, "model.layout blocked: %s:%d:",
                 by_set ? "plain.yaml" : "r.yaml", by_set ? plain_layout : layout);
        ck_assert_msg(rc == 2, "%s: %s: exit %d: %s", c->what, commands[k], rc, out);
        const bool named = !by_set ? names_line(out, "r.yaml", line, c->key)
                           : sets_key ? strstr(out, lead) != NULL
                                      : names_line(out, "plain.yaml", plain_layout, c->key);
        ck_assert_msg(named, "%s: %s names not %s where it is set: %s", c->what, commands[k],
                      c->key, out);
        ck_assert_msg(!strcmp(c->key, "model.layout") || strstr(out, layout_at),
                      "%s: %s names not model.layout's line (%s): %s", c->what, commands[k],
                      layout_at, out);
        ck_assert_msg(strstr(out, c->word), "%s: %s says not '%s': %s", c->what, commands[k],
                      c->word, out);
        free(out);
        nothing_written(c->what, commands[k]);
    }
    unsetenv("NORMLAB_CONV");
}

static layout_case *next_case(layout_case *cases, int *n, int room)
{
    ck_assert_int_lt(*n, room);
    memset(&cases[*n], 0, sizeof cases[*n]);
    return &cases[(*n)++];
}

/* the cases of one kernel set, from the registries' tables: precisions,
 * noise distributions, convolution libraries */
static int layout_cases(nl_isa_mask needs, const char *set, layout_case *cases, int room)
{
    const int block = documented_block(needs);
    int n = 0;
    if (!block) {
        layout_case *c = next_case(cases, &n, room);
        snprintf(c->what, sizeof c->what, "%s: no block", set);
        c->key = "model.layout";
        snprintf(c->word, sizeof c->word, "oneDNN");
        return n;
    }
    layout_case *c = next_case(cases, &n, room);
    snprintf(c->what, sizeof c->what, "%s: device cuda", set);
    snprintf(c->top, sizeof c->top, "device: cuda\n");
    snprintf(c->set, sizeof c->set, "device=cuda");
    c->key = "model.layout";
    snprintf(c->word, sizeof c->word, "cuda");
    char taken[64] = "";
    for (int p = 0; p < NL_PRECISION_COUNT; p++)
        if (documented_precision(needs, (nl_precision)p))
            snprintf(taken + strlen(taken), sizeof taken - strlen(taken), "%s%s",
                     taken[0] ? " | " : "", nl_name_of(&nl_precision_names, p));
    for (int p = 0; p < NL_PRECISION_COUNT; p++) {
        const char *name = nl_name_of(&nl_precision_names, p);
        c = next_case(cases, &n, room);
        snprintf(c->what, sizeof c->what, "%s: train.precision %s", set, name);
        snprintf(c->train, sizeof c->train, "  precision: %s\n", name);
        c->accepted = documented_precision(needs, (nl_precision)p);
        snprintf(c->set, sizeof c->set, "train.precision=%s", name);
        c->key = "train.precision";
        snprintf(c->word, sizeof c->word, "accepted with blocked here: %s,", taken);
        if (p == NL_PRECISION_FP32)
            continue;
        /* the normalizers keep low-precision statistics in NCHW: reorders */
        c = next_case(cases, &n, room);
        snprintf(c->what, sizeof c->what, "%s: statistics in %s", set, name);
        snprintf(c->norm, sizeof c->norm, "    stats_precision: %s\n", name);
        c->accepted = true;
    }
    for (int d = 0; d < NL_NOISE_COUNT; d++) {
        if (d == NL_NOISE_NONE)
            continue;
        c = next_case(cases, &n, room);
        snprintf(c->what, sizeof c->what, "%s: norm noise %s", set,
                 nl_name_of(&nl_noise_distribution_names, d));
        snprintf(c->model, sizeof c->model, "  norm_noise: {distribution: %s}\n",
                 nl_name_of(&nl_noise_distribution_names, d));
        c->accepted = true; /* the noisy normalizer reads NCHW: reorders */
    }
    for (int l = 0; l < NL_CONV_LIBRARY_COUNT; l++) {
        c = next_case(cases, &n, room);
        snprintf(c->what, sizeof c->what, "%s: NORMLAB_CONV=%s", set,
                 nl_cpu_conv_library_name((nl_conv_library)l));
        c->conv = nl_cpu_conv_library_name((nl_conv_library)l);
        c->accepted = l != NL_CONV_LIBRARY_NORMLAB;
        c->key = "model.layout";
        snprintf(c->word, sizeof c->word, "oneDNN");
    }
    /* a stage's width and the stem's, each half a block off */
    c = next_case(cases, &n, room);
    snprintf(c->what, sizeof c->what, "%s: a stage's width", set);
    snprintf(c->widths, sizeof c->widths, "[16, %d]", 2 * block + block / 2);
    c->key = "model.widths";
    snprintf(c->word, sizeof c->word, "multiples of %d", block);
    c = next_case(cases, &n, room);
    snprintf(c->what, sizeof c->what, "%s: the stem's width", set);
    snprintf(c->model, sizeof c->model, "  stem_width: %d\n", block + block / 2);
    c->key = "model.stem_width";
    snprintf(c->word, sizeof c->word, "multiples of %d", block);
    return n;
}

START_TEST(test_commands_refuse_before_writing)
{
    /* the set the environment pins (a variant of this test), else every set
     * this CPU runs, each through NORMLAB_CPU_KERNELS */
    const char *pinned = getenv("NORMLAB_CPU_KERNELS");
    char *saved = pinned ? strdup(pinned) : NULL;
    tu_tmp_make("layout-refused");
    int sets = 0, refused = 0;
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++) {
        if (nl_cpu_kernels_pinned() ? i != nl_cpu_kernels_index() : !nl_cpu_kernel_set_runs_here(i))
            continue;
        const char *set = nl_cpu_kernel_set_name(i);
        setenv("NORMLAB_CPU_KERNELS", set, 1);
        layout_case cases[32];
        const int n = layout_cases(nl_cpu_kernel_set_isa(i), set, cases, 32);
        for (int k = 0; k < n; k++) {
            check_layout_case(&cases[k]);
            refused += !cases[k].accepted;
        }
        sets++;
    }
    setenv_or_unset("NORMLAB_CPU_KERNELS", saved);
    free(saved);
    ck_assert_int_ge(sets, 1);
    fprintf(stderr, "blocked: %d refusals in %d kernel set%s, each through validate, sweep and run\n",
            refused, sets, sets == 1 ? "" : "s");
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layout");
    TCase *ops = tcase_create("ops");
    tcase_add_test(ops, test_conv_ops);
    tcase_add_test(ops, test_plane_index);
    tcase_add_test(ops, test_pool_and_moments);
    tcase_add_test(ops, test_window_pool_and_reorder);
    tcase_add_test(ops, test_pointwise_ops);
    tcase_add_test(ops, test_switch_backward);
    suite_add_tcase(s, ops);
    TCase *models = tcase_create("models");
    tcase_set_timeout(models, 120);
    tcase_add_test(models, test_models);
    tcase_add_test(models, test_refusals);
    tcase_add_test(models, test_runs);
    tcase_add_test(models, test_record_of_another_host);
    tcase_add_test(models, test_commands_refuse_before_writing);
    suite_add_tcase(s, models);
    return tu_run_suite(s);
}
