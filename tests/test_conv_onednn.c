/* The convolutions on oneDNN (core/cpu/conv_onednn.c) against a direct
 * convolution summed in double: forward with and without a bias, the data
 * gradient written and added into, the weight and bias gradients, on 1x1
 * stride 1 and 2, 3x3 pad 1 stride 1 and 2, 7x7 stride 2 pad 3, odd
 * sizes and one input channel; at the planned batch and at a smaller one
 * (primitives created at their first use); bit-identical reruns; and
 * NORMLAB_CONV's choices and refusal; the AMX set's order (Linux's tile
 * state, then oneDNN's cap, then the first primitive), with the system
 * calls stubbed, and on an AMX CPU its convolutions on the tiles. In a
 * build without oneDNN the ops must refuse, so that normlab's path runs. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/precision.h"
#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "testutil.h"

#define TOL 1e-5

typedef struct {
    int in_c, side, out_c, kernel, stride, pad, n;
} conv_case;

static const conv_case cases[] = {
    {16, 8, 32, 1, 1, 0, 3},  /* 1x1 shortcut-like */
    {16, 9, 32, 1, 2, 0, 3},  /* 1x1 stride 2, odd side */
    {32, 8, 32, 3, 1, 1, 4},  /* 3x3 pad 1 */
    {16, 11, 32, 3, 2, 1, 2}, /* 3x3 stride 2, odd side */
    {3, 17, 16, 7, 2, 3, 2},  /* a ResNet stem on an odd image */
    {1, 13, 8, 3, 1, 1, 3},   /* a first layer on one channel */
    {5, 7, 6, 3, 1, 0, 2},    /* channels that fill no block */
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

static nl_conv_geom geom_of(const conv_case *c)
{
    nl_conv_geom g = {.in_c = c->in_c, .in_h = c->side, .in_w = c->side, .out_c = c->out_c,
                      .kernel = c->kernel, .stride = c->stride, .pad = c->pad};
    g.out_h = g.out_w = (c->side + 2 * c->pad - c->kernel) / c->stride + 1;
    return g;
}

#ifdef NORMLAB_HAVE_ONEDNN

#include <oneapi/dnnl/dnnl.h>

typedef struct {
    size_t x, w, y;
    float *in, *weight, *bias, *dy;
} operands;

static operands operands_of(const nl_conv_geom *g, int n, uint64_t seed)
{
    operands o = {.x = (size_t)n * g->in_c * g->in_h * g->in_w,
                  .w = (size_t)g->out_c * g->in_c * g->kernel * g->kernel,
                  .y = (size_t)n * g->out_c * g->out_h * g->out_w};
    o.in = malloc(o.x * sizeof(float));
    o.weight = malloc(o.w * sizeof(float));
    o.bias = malloc((size_t)g->out_c * sizeof(float));
    o.dy = malloc(o.y * sizeof(float));
    tu_fill_normal(o.in, o.x, seed, 0.0f, 1.0f);
    tu_fill_normal(o.weight, o.w, seed + 1, 0.0f, 0.3f);
    tu_fill_normal(o.bias, (size_t)g->out_c, seed + 2, 0.0f, 1.0f);
    tu_fill_normal(o.dy, o.y, seed + 3, 0.0f, 1.0f);
    return o;
}

static void operands_free(operands *o)
{
    free(o->in);
    free(o->weight);
    free(o->bias);
    free(o->dy);
}

/* the input index under output position o and kernel tap k, -1 in the padding */
static int tap(const nl_conv_geom *g, int o, int k, int size)
{
    const int i = o * g->stride - g->pad + k;
    return i >= 0 && i < size ? i : -1;
}

/* visits every (sample, out channel, in channel, output pixel, tap) that
 * touches the input, with the flat indices of x, w and y */
#define FOR_EACH_PRODUCT(g, n, body)                                                       \
    for (int s = 0; s < (n); s++)                                                          \
        for (int co = 0; co < (g)->out_c; co++)                                            \
            for (int ci = 0; ci < (g)->in_c; ci++)                                         \
                for (int oh = 0; oh < (g)->out_h; oh++)                                    \
                    for (int ow = 0; ow < (g)->out_w; ow++)                                \
                        for (int kh = 0; kh < (g)->kernel; kh++)                           \
                            for (int kw = 0; kw < (g)->kernel; kw++) {                     \
                                const int ih = tap(g, oh, kh, (g)->in_h);                  \
                                const int iw = tap(g, ow, kw, (g)->in_w);                  \
                                if (ih < 0 || iw < 0)                                      \
                                    continue;                                              \
                                const size_t xi =                                          \
                                    (((size_t)s * (g)->in_c + ci) * (g)->in_h + ih) *      \
                                        (g)->in_w + iw;                                    \
                                const size_t wi =                                          \
                                    (((size_t)co * (g)->in_c + ci) * (g)->kernel + kh) *   \
                                        (g)->kernel + kw;                                  \
                                const size_t yi =                                          \
                                    (((size_t)s * (g)->out_c + co) * (g)->out_h + oh) *    \
                                        (g)->out_w + ow;                                   \
                                body;                                                      \
                            }

typedef struct {
    float *y, *dx, *dw, *db;
} results;

static results results_alloc(const operands *o, int out_c)
{
    return (results){.y = calloc(o->y, sizeof(float)), .dx = calloc(o->x, sizeof(float)),
                     .dw = calloc(o->w, sizeof(float)), .db = calloc((size_t)out_c, sizeof(float))};
}

static void results_free(results *r)
{
    free(r->y);
    free(r->dx);
    free(r->dw);
    free(r->db);
}

/* the direct convolution and its gradients, summed in double */
static results reference(const nl_conv_geom *g, int n, const operands *o, bool bias)
{
    double *y = calloc(o->y, sizeof *y), *dx = calloc(o->x, sizeof *dx);
    double *dw = calloc(o->w, sizeof *dw);
    FOR_EACH_PRODUCT(g, n, {
        y[yi] += (double)o->in[xi] * o->weight[wi];
        dx[xi] += (double)o->dy[yi] * o->weight[wi];
        dw[wi] += (double)o->dy[yi] * o->in[xi];
    });
    results r = results_alloc(o, g->out_c);
    const size_t pixels = (size_t)g->out_h * g->out_w;
    for (size_t i = 0; i < o->y; i++) {
        const int co = (int)(i / pixels % (size_t)g->out_c);
        r.y[i] = (float)(y[i] + (bias ? o->bias[co] : 0.0f));
        r.db[co] += o->dy[i];
    }
    for (size_t i = 0; i < o->x; i++)
        r.dx[i] = (float)dx[i];
    for (size_t i = 0; i < o->w; i++)
        r.dw[i] = (float)dw[i];
    free(y);
    free(dx);
    free(dw);
    return r;
}

static void check_close(const char *what, const conv_case *c, const float *got,
                        const float *want, size_t count)
{
    const double e = tu_norm_err(got, want, count);
    ck_assert_msg(e < TOL, "%s of %dx%d stride %d pad %d, %d->%d channels, side %d: error %g",
                  what, c->kernel, c->kernel, c->stride, c->pad, c->in_c, c->out_c, c->side, e);
}

/* oneDNN's ops on backend be at batch n (planned at `planned`); accumulate:
 * dx starts as `start` and the gradient is added */
static results run_onednn(nl_backend *be, const nl_conv_geom *g, int n, const operands *o,
                          bool bias, bool accumulate, const float *start, void *ws,
                          size_t ws_bytes)
{
    results r = results_alloc(o, g->out_c);
    if (accumulate)
        memcpy(r.dx, start, o->x * sizeof(float));
    ck_assert(nl_cpu_onednn_conv_forward(be, g, n, o->in, o->weight, bias ? o->bias : NULL, r.y,
                                         ws, ws_bytes));
    ck_assert(nl_cpu_onednn_conv_backward(be, g, n, o->in, o->weight, o->dy, r.dx, accumulate,
                                          r.dw, bias ? r.db : NULL, ws, ws_bytes));
    return r;
}

static nl_backend *onednn_backend(int threads)
{
    setenv("NORMLAB_CONV", "onednn", 1);
    nl_backend *be = NULL;
    nl_error err = {0};
    const nl_backend_options opt = {.threads = threads};
    ck_assert_msg(nl_backend_open(NL_DEVICE_CPU, &opt, &be, &err) == NL_OK, "%s", err.msg);
    unsetenv("NORMLAB_CONV");
    return be;
}

/* one case at batch n after planning batch `planned` */
static void check_case(nl_backend *be, const conv_case *c, int planned, int n, bool bias,
                       bool accumulate)
{
    const nl_conv_geom g = geom_of(c);
    const size_t ws_bytes = be->ops->conv2d_workspace(be, &g, planned);
    void *ws = malloc(ws_bytes);
    operands o = operands_of(&g, n, 17u + (uint64_t)c->in_c);
    results want = reference(&g, n, &o, bias);
    float *start = malloc(o.x * sizeof(float));
    tu_fill_normal(start, o.x, 99, 0.0f, 1.0f);
    if (accumulate)
        for (size_t i = 0; i < o.x; i++)
            want.dx[i] += start[i];
    results got = run_onednn(be, &g, n, &o, bias, accumulate, start, ws, ws_bytes);
    check_close("forward", c, got.y, want.y, o.y);
    check_close("dx", c, got.dx, want.dx, o.x);
    check_close("dW", c, got.dw, want.dw, o.w);
    if (bias)
        check_close("db", c, got.db, want.db, (size_t)g.out_c);
    results_free(&got);
    results_free(&want);
    free(start);
    operands_free(&o);
    free(ws);
}

START_TEST(test_parity)
{
    nl_backend *be = onednn_backend(2);
    for (int k = 0; k < CASE_COUNT; k++)
        for (int variant = 0; variant < 4; variant++)
            check_case(be, &cases[k], cases[k].n, cases[k].n, variant & 1, variant & 2);
    nl_backend_close(be);
}
END_TEST

/* a batch smaller than the planned one: its primitives come at first use */
START_TEST(test_smaller_batch)
{
    nl_backend *be = onednn_backend(2);
    for (int k = 0; k < CASE_COUNT; k++)
        check_case(be, &cases[k], cases[k].n + 3, cases[k].n, true, true);
    /* every one ran on oneDNN: the record has nothing to take back */
    ck_assert_int_eq(be->conv_fallbacks, 0);
    nl_backend_close(be);
}
END_TEST

/* a geometry never planned is not run: normlab's path takes it, and the
 * backend counts it */
START_TEST(test_unplanned_refused)
{
    nl_backend *be = onednn_backend(1);
    const nl_conv_geom g = geom_of(&cases[2]);
    float x[1], y[1];
    ck_assert(!nl_cpu_onednn_conv_forward(be, &g, 1, x, x, NULL, y, NULL, 0));
    ck_assert(!nl_cpu_onednn_conv_forward(be, &g, 1, x, x, NULL, y, NULL, 0));
    /* counted each time, for summary.json's conv_library_fallbacks */
    ck_assert_int_eq(be->conv_fallbacks, 2);
    nl_backend_close(be);
}
END_TEST

/* A batch no plan covered (an evaluation's) runs on oneDNN where its
 * buffers fit the workspace of the model that runs it, whatever other
 * models were planned on the backend before: a run started from another
 * run's final model builds that model (smaller, at its training batch) on
 * the same backend first, and its first evaluation must give the bits the
 * source's last one gave. Where the primitive's buffers outgrow the
 * smaller model's workspace depends on the CPU (oneDNN's blocking), so the
 * batches here are chosen to outgrow it on every CPU. */
START_TEST(test_unplanned_batch_follows_its_model)
{
    const nl_conv_geom g = geom_of(&cases[2]);
    enum { SMALL = 1, LARGE = 8, EVAL = 6 };
    operands o = operands_of(&g, EVAL, 23);
    float *y[2] = {malloc(o.y * sizeof(float)), malloc(o.y * sizeof(float))};
    for (int order = 0; order < 2; order++) {
        nl_backend *be = onednn_backend(1);
        /* order 0: a smaller model planned first, as init.from's source */
        const size_t small = order == 0 ? nl_cpu_onednn_conv_workspace(be, &g, SMALL) : 0;
        const size_t large = nl_cpu_onednn_conv_workspace(be, &g, LARGE);
        ck_assert_msg(!small || small < large, "planned %zu bytes at %d, %zu at %d", small, SMALL,
                      large, LARGE);
        void *ws = malloc(large);
        if (small) {
            /* the smaller model cannot hold the batch: refused, counted ... */
            ck_assert(!nl_cpu_onednn_conv_forward(be, &g, EVAL, o.in, o.weight, o.bias, y[0], ws,
                                                  small));
            ck_assert_int_eq(be->conv_fallbacks, 1);
        }
        /* ... and the larger one runs it on oneDNN, after a refusal too */
        ck_assert_msg(nl_cpu_onednn_conv_forward(be, &g, EVAL, o.in, o.weight, o.bias, y[order],
                                                 ws, large),
                      "order %d: the batch of %d did not run in a workspace of %zu bytes", order,
                      EVAL, large);
        ck_assert_int_eq(be->conv_fallbacks, small ? 1 : 0);
        free(ws);
        nl_backend_close(be);
    }
    ck_assert_msg(!memcmp(y[0], y[1], o.y * sizeof(float)),
                  "the batch's bits depend on the models planned before it");
    free(y[0]);
    free(y[1]);
    operands_free(&o);
}
END_TEST

/* counts[0]: elements more than one bf16 step from the reference, [1]: not equal to it */
static void bf16_compare(const float *got, const float *want, size_t count, size_t counts[2])
{
    for (size_t i = 0; i < count; i++) {
        const float step = fabsf(want[i]) * 0x1p-7f;
        counts[0] += !(fabsf(got[i] - want[i]) <= step);
        counts[1] += got[i] != want[i];
    }
}

static void round_all(float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        x[i] = nl_round_bf16(x[i]);
}

/* bf16 products (train.precision bf16) on oneDNN, in a kernel set with
 * AVX512-BF16: the operands rounded to bf16, fp32 sums, every result
 * rounded; against the double reference on the rounded operands with its
 * results rounded, each within one bf16 step (a sum rounded the other way)
 * and nearly all equal, which operands left unrounded would not be. */
START_TEST(test_bf16)
{
    nl_backend *be = onednn_backend(2);
    be->product_precision = NL_PRECISION_BF16;
    const bool runs = (nl_cpu_kernels_isa() & NL_ISA_BIT(AVX512BF16)) != 0;
    const nl_conv_geom g = geom_of(&cases[2]);
    ck_assert_int_eq(nl_cpu_onednn_runs(be, &g), runs);
    if (!runs) {
        printf("bf16 on oneDNN: not tried (the kernel set %s has no AVX512-BF16)\n",
               nl_cpu_kernels_name());
        nl_backend_close(be);
        return;
    }
    for (int k = 0; k < CASE_COUNT; k++) {
        const nl_conv_geom gk = geom_of(&cases[k]);
        const int n = cases[k].n;
        const size_t ws_bytes = be->ops->conv2d_workspace(be, &gk, n);
        void *ws = malloc(ws_bytes);
        operands o = operands_of(&gk, n, 41u + (uint64_t)k);
        operands r = o; /* the rounded operands, for the reference */
        r.in = malloc(o.x * sizeof(float)), r.weight = malloc(o.w * sizeof(float));
        r.bias = malloc((size_t)gk.out_c * sizeof(float)), r.dy = malloc(o.y * sizeof(float));
        memcpy(r.in, o.in, o.x * sizeof(float)), round_all(r.in, o.x);
        memcpy(r.weight, o.weight, o.w * sizeof(float)), round_all(r.weight, o.w);
        memcpy(r.bias, o.bias, (size_t)gk.out_c * sizeof(float)), round_all(r.bias, (size_t)gk.out_c);
        memcpy(r.dy, o.dy, o.y * sizeof(float)), round_all(r.dy, o.y);
        results want = reference(&gk, n, &r, true);
        round_all(want.y, o.y), round_all(want.dx, o.x), round_all(want.dw, o.w);
        round_all(want.db, (size_t)gk.out_c);
        results got = run_onednn(be, &gk, n, &o, true, false, NULL, ws, ws_bytes);
        size_t counts[2] = {0, 0};
        bf16_compare(got.y, want.y, o.y, counts);
        bf16_compare(got.dx, want.dx, o.x, counts);
        bf16_compare(got.dw, want.dw, o.w, counts);
        bf16_compare(got.db, want.db, (size_t)gk.out_c, counts);
        const size_t all = o.y + o.x + o.w + (size_t)gk.out_c;
        ck_assert_msg(counts[0] == 0 && counts[1] * 10 < all,
                      "case %d: %zu of %zu beyond a bf16 step, %zu not equal", k, counts[0], all,
                      counts[1]);
        results_free(&got);
        results_free(&want);
        operands_free(&r);
        operands_free(&o);
        free(ws);
    }
    ck_assert_int_eq(be->conv_fallbacks, 0);
    /* fp16 keeps normlab's path: chosen, not run, and counted when asked */
    be->product_precision = NL_PRECISION_FP16;
    ck_assert(nl_cpu_onednn_chosen(be, &g) && !nl_cpu_onednn_runs(be, &g));
    float x[1], y[1];
    ck_assert(!nl_cpu_onednn_conv_forward(be, &g, 1, x, x, NULL, y, NULL, 0));
    ck_assert_int_eq(be->conv_fallbacks, 1);
    nl_backend_close(be);
}
END_TEST

/* auto's rule: the 3x3 and larger on 8 or more channels, not 1x1 nor a
 * first layer; onednn takes all, normlab none */
START_TEST(test_rule)
{
    static const char *const names[] = {"auto", "onednn", "normlab"};
    for (int i = 0; i < 3; i++) {
        setenv("NORMLAB_CONV", names[i], 1);
        nl_backend *be = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_backend_open(NL_DEVICE_CPU, &(nl_backend_options){.threads = 1}, &be,
                                      &err) == NL_OK, "%s", err.msg);
        for (int k = 0; k < CASE_COUNT; k++) {
            const nl_conv_geom g = geom_of(&cases[k]);
            const bool want = i == 1 || (i == 0 && g.kernel >= 3 && g.in_c >= 8);
            ck_assert_msg(nl_cpu_onednn_runs(be, &g) == want, "%s, case %d", names[i], k);
        }
        nl_backend_close(be);
    }
    unsetenv("NORMLAB_CONV");
}
END_TEST

/* two runs of the ops at one thread count give the same bits */
START_TEST(test_reruns_repeat)
{
    const conv_case *c = &cases[3];
    const nl_conv_geom g = geom_of(c);
    operands o = operands_of(&g, c->n, 5);
    results r[2];
    for (int run = 0; run < 2; run++) {
        nl_backend *be = onednn_backend(2);
        const size_t ws_bytes = be->ops->conv2d_workspace(be, &g, c->n);
        void *ws = malloc(ws_bytes);
        r[run] = run_onednn(be, &g, c->n, &o, true, false, NULL, ws, ws_bytes);
        free(ws);
        nl_backend_close(be);
    }
    ck_assert(!memcmp(r[0].y, r[1].y, o.y * sizeof(float)));
    ck_assert(!memcmp(r[0].dx, r[1].dx, o.x * sizeof(float)));
    ck_assert(!memcmp(r[0].dw, r[1].dw, o.w * sizeof(float)));
    ck_assert(!memcmp(r[0].db, r[1].db, (size_t)g.out_c * sizeof(float)));
    results_free(&r[0]);
    results_free(&r[1]);
    operands_free(&o);
}
END_TEST

#endif

/* NORMLAB_CONV: each name, unset, and a refusal that lists them */
START_TEST(test_choice)
{
    nl_conv_library choice;
    nl_error err = {0};
    static const char *const names[] = {"auto", "normlab", "onednn"};
    for (int i = 0; i < 3; i++) {
        setenv("NORMLAB_CONV", names[i], 1);
        const bool built = i != NL_CONV_LIBRARY_ONEDNN || nl_cpu_onednn_version();
        ck_assert_int_eq(nl_cpu_conv_library_from_env(&choice, &err), built ? NL_OK : NL_ERR_USAGE);
        if (built)
            ck_assert_int_eq(choice, i);
    }
    unsetenv("NORMLAB_CONV");
    ck_assert_int_eq(nl_cpu_conv_library_from_env(&choice, &err), NL_OK);
    ck_assert_int_eq(choice, NL_CONV_LIBRARY_AUTO);
    setenv("NORMLAB_CONV", "mkl", 1);
    err = (nl_error){0}; /* the first error wins: onednn's refusal where it is not built */
    ck_assert_int_eq(nl_cpu_conv_library_from_env(&choice, &err), NL_ERR_USAGE);
    /* the accepted names are this build's */
    ck_assert_msg(strstr(err.msg, "'mkl'") &&
                      strstr(err.msg, nl_cpu_onednn_version() ? "accepted: auto, normlab, onednn"
                                                              : "accepted: auto, normlab"),
                  "%s", err.msg);
    if (!nl_cpu_onednn_version())
        ck_assert_msg(!strstr(err.msg, "onednn"), "%s", err.msg);
    unsetenv("NORMLAB_CONV");
}
END_TEST

/* without oneDNN the ops refuse and every choice records normlab */
START_TEST(test_record)
{
    char buf[NL_CONV_LIBRARY_RECORD_BYTES];
    const char *version = nl_cpu_onednn_version();
    ck_assert_str_eq(nl_cpu_conv_library_record(NL_CONV_LIBRARY_NORMLAB, buf, sizeof buf),
                     "normlab");
    if (!version) {
        ck_assert_str_eq(nl_cpu_conv_library_record(NL_CONV_LIBRARY_ONEDNN, buf, sizeof buf),
                         "normlab");
        const nl_conv_geom g = geom_of(&cases[0]);
        float v[1];
        ck_assert(!nl_cpu_onednn_conv_forward(tu_cpu(1), &g, 1, v, v, NULL, v, NULL, 0));
        return;
    }
    ck_assert_msg(!strncmp(version, "onednn ", 7), "%s", version);
    ck_assert_str_eq(nl_cpu_conv_library_record(NL_CONV_LIBRARY_ONEDNN, buf, sizeof buf), version);
    char want[64];
    snprintf(want, sizeof want, "auto: %s where ", version);
    nl_cpu_conv_library_record(NL_CONV_LIBRARY_AUTO, buf, sizeof buf);
    ck_assert_msg(!strncmp(buf, want, strlen(want)) && strstr(buf, ", else normlab"), "%s", buf);
}
END_TEST
#ifdef NORMLAB_HAVE_ONEDNN
/* ---- the AMX set ---- */

/* what the stubbed system calls saw, in order */
enum { LOG_MAX = 24 };
static char sys_log[LOG_MAX][96];
static int sys_calls;
static long prctl_answer; /* the stubbed arch_prctl's: 0 granted, -1 refused */

static void log_call(const char *fmt, ...)
{
    if (sys_calls >= LOG_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sys_log[sys_calls++], sizeof sys_log[0], fmt, ap);
    va_end(ap);
}

static const nl_isa_mask avx512 = NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512BW) |
                                  NL_ISA_BIT(AVX512DQ) | NL_ISA_BIT(AVX512VL) |
                                  NL_ISA_BIT(AVX512BF16);
static nl_isa_mask isa_with_tiles(void)
{
    return avx512 | NL_ISA_BIT(AMX_BF16) | NL_ISA_BIT(AMX_TILE);
}
static nl_isa_mask isa_without_tiles(void) { return avx512; }
static long stub_arch_prctl(int code, unsigned long arg)
{
    log_call("arch_prctl %#x %lu", code, arg);
    return prctl_answer;
}
static int stub_set_max_cpu_isa(int isa)
{
    log_call("cap %#x", isa);
    return 0;
}
static void stub_primitive(const char *impl) { log_call("primitive %s", impl); }

/* the first call the stubs saw that starts with prefix, -1 for none */
static int first_call(const char *prefix)
{
    for (int i = 0; i < sys_calls; i++)
        if (!strncmp(sys_log[i], prefix, strlen(prefix)))
            return i;
    return -1;
}

/* The AMX set's way onto the tiles on any CPU, the system calls stubbed: a
 * kernel set with AMX asks Linux for the tile state (arch_prctl
 * ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) before oneDNN's cap is lifted
 * to avx512_core_amx, and both come before oneDNN makes its first
 * primitive (which fixes the cap for the process); where Linux refuses,
 * the cap stays at avx512_core_bf16; a set without AMX never asks. The
 * primitives are real, on this CPU's own instructions. */
START_TEST(test_amx_order)
{
    const struct {
        nl_isa_mask (*isa)(void);
        long answer;
        bool asks;
        int cap;
    } runs[] = {
        {isa_with_tiles, 0, true, dnnl_cpu_isa_avx512_core_amx},
        {isa_with_tiles, -1, true, dnnl_cpu_isa_avx512_core_bf16},
        {isa_without_tiles, 0, false, dnnl_cpu_isa_avx512_core_bf16},
    };
    const nl_conv_geom g = geom_of(&cases[2]);
    nl_backend probe = {.product_precision = NL_PRECISION_FP32}; /* no state: a probe */
    setenv("NORMLAB_CONV", "onednn", 1); /* a probe's choice is the environment's */
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        sys_calls = 0;
        prctl_answer = runs[r].answer;
        const nl_cpu_onednn_system stub = {runs[r].isa, stub_arch_prctl, stub_set_max_cpu_isa,
                                           stub_primitive};
        nl_cpu_onednn_system_set(&stub);
        const size_t bytes = nl_cpu_onednn_conv_workspace(&probe, &g, 4);
        nl_cpu_onednn_system_set(NULL);
        char calls[LOG_MAX * 100] = "";
        for (int i = 0; i < sys_calls; i++)
            strcat(strcat(calls, "\n  "), sys_log[i]);
        const int asked = first_call("arch_prctl"), capped = first_call("cap"),
                  made = first_call("primitive");
        ck_assert_msg(bytes > 0 && made >= 0, "run %zu: no primitive made:%s", r, calls);
        if (runs[r].asks)
            ck_assert_msg(asked >= 0 && asked < capped && !strcmp(sys_log[asked], "arch_prctl 0x1023 18"),
                          "run %zu: the tile state not asked for before the cap:%s", r, calls);
        else
            ck_assert_msg(asked < 0, "run %zu: a set without AMX asked for the tiles:%s", r, calls);
        char want[32];
        snprintf(want, sizeof want, "cap %#x", runs[r].cap);
        ck_assert_msg(capped >= 0 && capped < made && !strcmp(sys_log[capped], want),
                      "run %zu: not %s before the first primitive:%s", r, want, calls);
    }
    unsetenv("NORMLAB_CONV");
}
END_TEST

/* On a CPU with AMX (and Linux's permission for its tiles), the AMX set's
 * bf16 convolutions run on the tiles: every implementation oneDNN picks
 * for a ResNet stage's 3x3 convolution, in the layout the plan gives it
 * (nl_cpu_onednn_block), forward and both backward, is an AMX one.
 * Elsewhere it says why it did not try. */
START_TEST(test_amx_tiles)
{
    int amx = -1;
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++)
        if (!strcmp(nl_cpu_kernel_set_name(i), "x86-64-v4-bf16-amx"))
            amx = i;
    if (amx < 0) {
        printf("AMX tiles: not tried (this build holds no AMX kernel set)\n");
        return;
    }
    if (!nl_cpu_kernel_set_runs_here(amx)) {
        char missing[128];
        nl_isa_list(nl_cpu_kernel_set_isa(amx) & ~nl_isa_of_this_cpu(), missing, sizeof missing);
        printf("AMX tiles: not tried (this CPU, or Linux's permission, lacks %s)\n", missing);
        return;
    }
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose("x86-64-v4-bf16-amx", &err), NL_OK);
    nl_backend *be = onednn_backend(2);
    be->product_precision = NL_PRECISION_BF16;
    nl_conv_geom g = {.in_c = 64, .in_h = 16, .in_w = 16, .out_c = 64, .out_h = 16, .out_w = 16,
                      .kernel = 3, .stride = 1, .pad = 1};
    g.in_block = g.out_block = nl_cpu_onednn_block(be);
    ck_assert(nl_cpu_onednn_conv_workspace(be, &g, 8) > 0);
    char names[512];
    snprintf(names, sizeof names, "%s", be->conv_kernels);
    for (char *name = strtok(names, ", "); name; name = strtok(NULL, ", "))
        ck_assert_msg(strstr(name, "amx"), "not on the tiles: %s (all: %s)", name,
                      be->conv_kernels);
    nl_backend_close(be);
    ck_assert_int_eq(nl_cpu_kernels_choose(NULL, &err), NL_OK);
}
END_TEST
#endif

static Suite *suite(void)
{
    Suite *s = suite_create("conv_onednn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
#ifdef NORMLAB_HAVE_ONEDNN
    tcase_add_test(tc, test_parity);
    tcase_add_test(tc, test_smaller_batch);
    tcase_add_test(tc, test_unplanned_refused);
    tcase_add_test(tc, test_unplanned_batch_follows_its_model);
    tcase_add_test(tc, test_reruns_repeat);
    tcase_add_test(tc, test_rule);
    tcase_add_test(tc, test_bf16);
    tcase_add_test(tc, test_amx_order);
    tcase_add_test(tc, test_amx_tiles);
#endif
    tcase_add_test(tc, test_choice);
    tcase_add_test(tc, test_record);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
