// ctest-labels: kernels
/* Winograd F(2x2, 3x3) in the channel-blocked layout
 * (core/cpu/winograd_blocked.c), through the backend's convolution ops
 * with the plan's choice in the geometry (nl_conv_geom.algorithm), so that
 * each kernel set's build runs (the kernels label): the forward and the
 * data gradient, written and added into, and the weight and bias
 * gradients, against the readable references, a direct convolution and a
 * direct weight gradient summed in double over the same blocked tensors,
 * on the ResNet's 3x3 stride-1 layers (16 -> 16 at 28x28, 32 -> 32 at
 * 14x14), the CNN's (32 -> 64 at 14x14) and odd maps whose last tiles hang
 * over the edge; oneDNN's direct kernels on the same tensors (Winograd's
 * ran, not theirs; their weight gradient's error printed beside); the same
 * bits on one thread and two; the kernel named in be->conv_kernels; and
 * PyTorch's convolution (the layer goldens' 3x3 stride-1 cases, channels
 * padded to the block) to test_layer_golden's 1e-5 normalized error
 * (measured at most 9.7e-7, the weight gradient of 7 samples of 13x11).
 *
 * The bounds: |winograd - direct| <= TOL * sum |w x| at every output (the
 * sum of the magnitudes of its terms, in double). F(2x2, 3x3)'s transforms
 * add at most 4 terms per stage with coefficients 0, +-1 and 0.5, so its
 * error is a few float roundings of sums no larger than 4 * 4 * 9 * in_c
 * such magnitudes; measured on these shapes at most 1.64e-7 of sum |w x|
 * (forward, data gradient and dx added into; blocks of 16 and 8, the
 * x86-64-v4 build on an AMD EPYC Zen 4), TOL keeps 6x above it. The weight
 * gradient sums over every tile of the batch (a block's tiles in order,
 * then the blocks), so its bound is on sum |dy x| over the batch:
 * measured at most 3.32e-7 of it here (oneDNN's direct weight gradient:
 * 2.6e-7; block 8, the x86-64-v3 and x86-64 sets through a standalone
 * harness: 2.8e-7), WEIGHT_TOL keeps 6x above it; the bias gradient
 * (D[1][1]'s sums) at most 6.5e-8 of sum |dy|. A sign planted in the input
 * transform's row macro fails every product at every shape.
 *
 * F(4x4, 3x3) (model.conv_algorithm winograd_f43: its forward and data
 * gradient, F(2x2, 3x3)'s weight gradient) is known to be about 10x less
 * accurate: its transforms take 6 terms with coefficients up to 8 and G's
 * sixths and twenty-fourths (not exact in binary; applied in double and
 * rounded once). Measured on the same shapes, at most 1.88e-6 of sum |w x|
 * for the forward and 2.81e-6 for the data gradient (written or added
 * into) through the backend (the x86-64-v4 set, block 16, with fused
 * multiply-adds; AMD EPYC Zen 4), 4.84e-6 through the library's own
 * x86-64 build of the kernels called directly (no fused multiply-adds;
 * blocks 16 and 8), 15-35x F(2x2, 3x3)'s; F43_TOL keeps 6x above the
 * largest. Against PyTorch's goldens its normalized error is at most
 * 4.7e-6 (dx of the 7 samples of 13x11), under GOLDEN_TOL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "testutil.h"

#define TOL 1e-6
#define WEIGHT_TOL 2e-6
#define F43_TOL 3e-5

typedef struct {
    int in_c, out_c, h, w, n;
} wg_case;

static const wg_case cases[] = {
    {16, 16, 28, 28, 2}, /* the ResNet's first stage */
    {32, 32, 14, 14, 2}, /* its second */
    {32, 64, 14, 14, 2}, /* the CNN's second convolution */
    {16, 32, 7, 9, 3},   /* odd maps: the last tiles hang over */
    {32, 16, 5, 3, 2},
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

/* a CPU backend with every convolution on oneDNN (the blocked layout's
 * library) and `threads` threads; NULL without oneDNN or a block */
static nl_backend *onednn_cpu(int threads)
{
    static nl_backend *opened[3];
    static bool tried[3];
    if (!tried[threads]) {
        tried[threads] = true;
        setenv("NORMLAB_CONV", "onednn", 1);
        nl_error err = {0};
        const nl_backend_options opt = {.threads = threads};
        if (nl_backend_open(NL_DEVICE_CPU, &opt, &opened[threads], &err) != NL_OK)
            opened[threads] = NULL;
        unsetenv("NORMLAB_CONV");
    }
    nl_backend *be = opened[threads];
    return be && be->ops->conv_block(be) ? be : NULL;
}

static nl_conv_geom geom_of(const wg_case *c, int block, nl_conv_algorithm algorithm)
{
    return (nl_conv_geom){.in_c = c->in_c, .in_h = c->h, .in_w = c->w, .out_c = c->out_c,
                          .out_h = c->h, .out_w = c->w, .kernel = 3, .stride = 1, .pad = 1,
                          .in_block = block, .out_block = block,
                          .algorithm = (unsigned char)algorithm};
}

/* the algorithms tested, each with its bound on the forward and the data
 * gradient (TOL's comment above); the weight gradient is F(2x2, 3x3)'s
 * under both, WEIGHT_TOL */
typedef struct {
    nl_conv_algorithm algorithm;
    const char *name, *kernel;
    double tol;
} wg_algorithm;

static const wg_algorithm algorithms[] = {
    {NL_CONV_WINOGRAD_F23, "f23", NL_CPU_WINOGRAD_BLOCKED_KERNEL, TOL},
    {NL_CONV_WINOGRAD_F43, "f43", NL_CPU_WINOGRAD_F43_BLOCKED_KERNEL, F43_TOL},
};

/* the flat index of (sample, channel, row, column) in a blocked tensor */
static size_t at(int block, int c_total, int h, int w, int s, int c, int r, int q)
{
    return ((((size_t)s * (c_total / block) + c / block) * h + r) * w + q) * block + c % block;
}

/* The reference: y[s][o] = sum over i, kh, kw of w[o][i][kh][kw] x[s][i]
 * at the tap, and the sum of the terms' magnitudes, in double; transpose
 * runs the data gradient (x is dy, w read as w[i][o] turned by 180 degrees) */
static void direct(const nl_conv_geom *g, int n, bool transpose, const float *x, const float *w,
                   const float *bias, double *y, double *mag)
{
    const int in_c = transpose ? g->out_c : g->in_c, out_c = transpose ? g->in_c : g->out_c;
    const int b = g->in_block, h = g->in_h, wd = g->in_w;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < out_c; o++)
            for (int r = 0; r < h; r++)
                for (int q = 0; q < wd; q++) {
                    double sum = bias ? bias[o] : 0.0, m = bias ? fabs(bias[o]) : 0.0;
                    for (int i = 0; i < in_c; i++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                const int ih = r - 1 + kh, iw = q - 1 + kw;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= wd)
                                    continue;
                                const double wv =
                                    transpose ? w[((size_t)i * out_c + o) * 9 + (2 - kh) * 3 + 2 - kw]
                                              : w[((size_t)o * in_c + i) * 9 + kh * 3 + kw];
                                const double t = wv * x[at(b, in_c, h, wd, s, i, ih, iw)];
                                sum += t;
                                m += fabs(t);
                            }
                    const size_t k = at(b, out_c, h, wd, s, o, r, q);
                    y[k] = sum;
                    mag[k] = m;
                }
}

/* The weight gradient's reference: dw[o][i][kh][kw] = sum over samples
 * and outputs of dy[s][o] at the output times x[s][i] at its tap, db[o]
 * = sum of dy[s][o], and the sums of the terms' magnitudes, in double */
static void direct_weight_grad(const nl_conv_geom *g, int n, const float *x, const float *dy,
                               double *dw, double *dw_mag, double *db, double *db_mag)
{
    const int b = g->in_block, h = g->in_h, wd = g->in_w;
    for (int o = 0; o < g->out_c; o++) {
        double sum = 0.0, m = 0.0;
        for (int s = 0; s < n; s++)
            for (int r = 0; r < h; r++)
                for (int q = 0; q < wd; q++) {
                    const double v = dy[at(b, g->out_c, h, wd, s, o, r, q)];
                    sum += v;
                    m += fabs(v);
                }
        db[o] = sum;
        db_mag[o] = m;
        for (int i = 0; i < g->in_c; i++)
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                    double t_sum = 0.0, t_mag = 0.0;
                    for (int s = 0; s < n; s++)
                        for (int r = 0; r < h; r++)
                            for (int q = 0; q < wd; q++) {
                                const int ih = r - 1 + kh, iw = q - 1 + kw;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= wd)
                                    continue;
                                const double t = (double)dy[at(b, g->out_c, h, wd, s, o, r, q)] *
                                                 x[at(b, g->in_c, h, wd, s, i, ih, iw)];
                                t_sum += t;
                                t_mag += fabs(t);
                            }
                    const size_t k = ((size_t)o * g->in_c + i) * 9 + kh * 3 + kw;
                    dw[k] = t_sum;
                    dw_mag[k] = t_mag;
                }
    }
}

/* the largest |got - want| / mag over the tensor */
static double worst_error(const float *got, const double *want, const double *mag, size_t count)
{
    double worst = 0.0;
    for (size_t k = 0; k < count; k++) {
        const double e = fabs((double)got[k] - want[k]) / (mag[k] > 0.0 ? mag[k] : 1.0);
        worst = e > worst || e != e ? e : worst;
    }
    return worst;
}

typedef struct {
    float *y, *dx, *dw, *db;
} outputs;

/* the forward, then the backward with dx written (add: added into a dx
 * holding `dx_start`), on be */
static outputs run_ops(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                       const float *w, const float *bias, const float *dy, const float *dx_start)
{
    const size_t nx = (size_t)n * g->in_c * g->in_h * g->in_w;
    const size_t ny = (size_t)n * g->out_c * g->in_h * g->in_w, nw = (size_t)g->out_c * g->in_c * 9;
    outputs o = {malloc(ny * sizeof(float)), malloc(nx * sizeof(float)),
                 malloc(nw * sizeof(float)), malloc((size_t)g->out_c * sizeof(float))};
    const size_t bytes = be->ops->conv2d_workspace(be, g, n);
    void *ws = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    be->ops->conv2d_forward(be, g, n, x, w, bias, o.y, ws, bytes);
    if (dx_start)
        memcpy(o.dx, dx_start, nx * sizeof(float));
    be->ops->conv2d_backward(be, g, n, x, w, dy, o.dx, dx_start != NULL, o.dw, o.db, ws, bytes);
    free(ws);
    return o;
}

static void outputs_free(outputs *o)
{
    free(o->y);
    free(o->dx);
    free(o->dw);
    free(o->db);
}

static bool same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* the algorithm's three products against the references on every case,
 * blocked as this build and CPU block, through the backend */
static void against_direct(const wg_algorithm *alg)
{
    nl_backend *be = onednn_cpu(2), *one = onednn_cpu(1);
    if (!be || !one)
        return; /* no oneDNN: no blocked layout to run it in */
    const int block = be->ops->conv_block(be);
    double worst_y = 0.0, worst_dx = 0.0, worst_dw = 0.0, worst_db = 0.0, onednn_dw = 0.0;
    for (int k = 0; k < CASE_COUNT; k++) {
        const wg_case *c = &cases[k];
        const nl_conv_geom g = geom_of(c, block, alg->algorithm);
        const size_t nx = (size_t)c->n * c->in_c * c->h * c->w;
        const size_t ny = (size_t)c->n * c->out_c * c->h * c->w, nw = (size_t)c->out_c * c->in_c * 9;
        float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *bias = malloc((size_t)c->out_c * sizeof(float)), *dy = malloc(ny * sizeof(float));
        float *dx_start = malloc(nx * sizeof(float));
        tu_fill_normal(x, nx, 11 + k, 0.0f, 1.0f);
        tu_fill_normal(w, nw, 23 + k, 0.0f, 0.3f);
        tu_fill_normal(bias, (size_t)c->out_c, 37 + k, 0.0f, 1.0f);
        tu_fill_normal(dy, ny, 41 + k, 0.0f, 1.0f);
        tu_fill_normal(dx_start, nx, 53 + k, 0.0f, 1.0f);
        double *y_ref = malloc(ny * sizeof(double)), *y_mag = malloc(ny * sizeof(double));
        double *dx_ref = malloc(nx * sizeof(double)), *dx_mag = malloc(nx * sizeof(double));
        direct(&g, c->n, false, x, w, bias, y_ref, y_mag);
        direct(&g, c->n, true, dy, w, NULL, dx_ref, dx_mag);
        double *dw_ref = malloc(nw * sizeof(double)), *dw_mag = malloc(nw * sizeof(double));
        double *db_ref = malloc((size_t)c->out_c * sizeof(double));
        double *db_mag = malloc((size_t)c->out_c * sizeof(double));
        direct_weight_grad(&g, c->n, x, dy, dw_ref, dw_mag, db_ref, db_mag);

        outputs two = run_ops(be, &g, c->n, x, w, bias, dy, NULL);
        const double ey = worst_error(two.y, y_ref, y_mag, ny);
        const double edx = worst_error(two.dx, dx_ref, dx_mag, nx);
        ck_assert_msg(ey <= alg->tol, "%s case %d forward: error %.3g of sum |w x| > %g",
                      alg->name, k, ey, alg->tol);
        ck_assert_msg(edx <= alg->tol, "%s case %d data gradient: error %.3g > %g", alg->name, k,
                      edx, alg->tol);
        const double edw = worst_error(two.dw, dw_ref, dw_mag, nw);
        const double edb = worst_error(two.db, db_ref, db_mag, (size_t)c->out_c);
        ck_assert_msg(edw <= WEIGHT_TOL, "case %d weight gradient: error %.3g of sum |dy x| > %g",
                      k, edw, WEIGHT_TOL);
        ck_assert_msg(edb <= WEIGHT_TOL, "case %d bias gradient: error %.3g > %g", k, edb,
                      WEIGHT_TOL);
        worst_y = fmax(worst_y, ey);
        worst_dx = fmax(worst_dx, edx);
        worst_dw = fmax(worst_dw, edw);
        worst_db = fmax(worst_db, edb);

        /* added into a dx already holding values: the same sums plus those */
        outputs added = run_ops(be, &g, c->n, x, w, bias, dy, dx_start);
        for (size_t i = 0; i < nx; i++) {
            dx_ref[i] += dx_start[i];
            dx_mag[i] += fabs(dx_start[i]);
        }
        const double eadd = worst_error(added.dx, dx_ref, dx_mag, nx);
        ck_assert_msg(eadd <= alg->tol, "%s case %d added dx: error %.3g > %g", alg->name, k,
                      eadd, alg->tol);
        worst_dx = fmax(worst_dx, eadd);

        /* oneDNN's direct kernels on the same tensors: Winograd's ran, not
         * theirs, and their weight gradient's error for scale */
        nl_conv_geom direct_g = g;
        direct_g.algorithm = NL_CONV_DIRECT;
        outputs plain = run_ops(be, &direct_g, c->n, x, w, bias, dy, NULL);
        ck_assert_msg(!same_bits(two.y, plain.y, ny) || ey == 0.0,
                      "case %d: the forward ran oneDNN's direct kernel, not Winograd", k);
        ck_assert_msg(!same_bits(two.dw, plain.dw, nw) || edw == 0.0,
                      "case %d: the weight gradient ran oneDNN's direct kernel, not Winograd", k);
        onednn_dw = fmax(onednn_dw, worst_error(plain.dw, dw_ref, dw_mag, nw));
        /* F(4x4, 3x3) ran its own forward and data gradient, not F(2x2, 3x3)'s */
        if (alg->algorithm == NL_CONV_WINOGRAD_F43) {
            const nl_conv_geom f23_g = geom_of(c, block, NL_CONV_WINOGRAD_F23);
            outputs f23 = run_ops(be, &f23_g, c->n, x, w, bias, dy, NULL);
            ck_assert_msg(!same_bits(two.y, f23.y, ny) && !same_bits(two.dx, f23.dx, nx),
                          "case %d: winograd_f43 ran F(2x2, 3x3)'s forward or data gradient", k);
            outputs_free(&f23);
        }

        /* one thread: the same bits */
        outputs single = run_ops(one, &g, c->n, x, w, bias, dy, NULL);
        ck_assert_msg(same_bits(single.y, two.y, ny) && same_bits(single.dx, two.dx, nx) &&
                          same_bits(single.dw, two.dw, nw) &&
                          same_bits(single.db, two.db, (size_t)c->out_c),
                      "case %d: one thread's bits differ from two's", k);

        outputs_free(&two);
        outputs_free(&added);
        outputs_free(&plain);
        outputs_free(&single);
        free(x), free(w), free(bias), free(dy), free(dx_start);
        free(y_ref), free(y_mag), free(dx_ref), free(dx_mag);
        free(dw_ref), free(dw_mag), free(db_ref), free(db_mag);
    }
    fprintf(stderr, "winograd %s blocked (block %d): worst error / sum |w x|: forward %.3g, "
                    "data gradient %.3g; / sum |dy x|: weight gradient %.3g (oneDNN's direct "
                    "%.3g), bias gradient %.3g\n", alg->name, block, worst_y, worst_dx, worst_dw,
            onednn_dw, worst_db);
    ck_assert_msg(be->conv_kernels && strstr(be->conv_kernels, alg->kernel),
                  "conv_kernels '%s' does not name %s",
                  be->conv_kernels ? be->conv_kernels : "(null)", alg->kernel);
}

START_TEST(test_against_direct) { against_direct(&algorithms[0]); }
END_TEST

START_TEST(test_f43_against_direct) { against_direct(&algorithms[1]); }
END_TEST

/* F(4x4, 3x3)'s kernels called directly (the library's own build of
 * them, whatever block this CPU's kernel set takes), blocks 16 and 8, on
 * one thread and two: the forward and the data gradient, written and
 * added into, against the direct references to F43_TOL, and the same bits
 * on both thread counts (the chunks are fixed by the channel counts) */
START_TEST(test_f43_blocks)
{
    static const int blocks[] = {16, 8};
    double worst[2] = {0.0, 0.0};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
        for (int k = 0; k < CASE_COUNT; k++) {
            const wg_case *c = &cases[k];
            const nl_conv_geom g = geom_of(c, blocks[b], NL_CONV_WINOGRAD_F43);
            const size_t nx = (size_t)c->n * c->in_c * c->h * c->w;
            const size_t ny = (size_t)c->n * c->out_c * c->h * c->w;
            const size_t nw = (size_t)c->out_c * c->in_c * 9;
            float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
            float *bias = malloc((size_t)c->out_c * sizeof(float)), *dy = malloc(ny * sizeof(float));
            float *dx_start = malloc(nx * sizeof(float));
            tu_fill_normal(x, nx, 61 + k, 0.0f, 1.0f);
            tu_fill_normal(w, nw, 67 + k, 0.0f, 0.3f);
            tu_fill_normal(bias, (size_t)c->out_c, 71 + k, 0.0f, 1.0f);
            tu_fill_normal(dy, ny, 73 + k, 0.0f, 1.0f);
            tu_fill_normal(dx_start, nx, 79 + k, 0.0f, 1.0f);
            double *y_ref = malloc(ny * sizeof(double)), *y_mag = malloc(ny * sizeof(double));
            double *dx_ref = malloc(nx * sizeof(double)), *dx_mag = malloc(nx * sizeof(double));
            direct(&g, c->n, false, x, w, bias, y_ref, y_mag);
            direct(&g, c->n, true, dy, w, NULL, dx_ref, dx_mag);
            float *y[2], *dx[2], *dx_added[2];
            for (int threads = 1; threads <= 2; threads++) {
                const size_t bytes = nl_cpu_winograd_blocked_f43_workspace(&g, threads);
                void *ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
                y[threads - 1] = malloc(ny * sizeof(float));
                dx[threads - 1] = malloc(nx * sizeof(float));
                dx_added[threads - 1] = malloc(nx * sizeof(float));
                memcpy(dx_added[threads - 1], dx_start, nx * sizeof(float));
                nl_cpu_winograd_blocked_f43_forward(&g, c->n, x, w, bias, y[threads - 1], threads,
                                                    ws);
                nl_cpu_winograd_blocked_f43_input_grad(&g, c->n, w, dy, dx[threads - 1], false,
                                                       threads, ws);
                nl_cpu_winograd_blocked_f43_input_grad(&g, c->n, w, dy, dx_added[threads - 1],
                                                       true, threads, ws);
                free(ws);
            }
            const double ey = worst_error(y[0], y_ref, y_mag, ny);
            const double edx = worst_error(dx[0], dx_ref, dx_mag, nx);
            for (size_t i = 0; i < nx; i++) {
                dx_ref[i] += dx_start[i];
                dx_mag[i] += fabs(dx_start[i]);
            }
            const double eadd = worst_error(dx_added[0], dx_ref, dx_mag, nx);
            ck_assert_msg(ey <= F43_TOL && edx <= F43_TOL && eadd <= F43_TOL,
                          "block %d case %d: errors forward %.3g, data gradient %.3g, added "
                          "%.3g > %g", blocks[b], k, ey, edx, eadd, F43_TOL);
            ck_assert_msg(same_bits(y[0], y[1], ny) && same_bits(dx[0], dx[1], nx) &&
                              same_bits(dx_added[0], dx_added[1], nx),
                          "block %d case %d: one thread's bits differ from two's", blocks[b], k);
            worst[b] = fmax(worst[b], fmax(ey, fmax(edx, eadd)));
            for (int t = 0; t < 2; t++)
                free(y[t]), free(dx[t]), free(dx_added[t]);
            free(x), free(w), free(bias), free(dy), free(dx_start);
            free(y_ref), free(y_mag), free(dx_ref), free(dx_mag);
        }
    fprintf(stderr, "winograd f43 kernels called directly: worst error / sum |w x| %.3g at "
                    "block 16, %.3g at block 8\n", worst[0], worst[1]);
}
END_TEST

/* PyTorch's convolution (tests/fixtures/layer_goldens.nlfx, made by
 * tests/golden/make_goldens.py from nn.Conv2d: x, weight, bias, dy and
 * torch's y, dx, dweight, dbias) through the blocked Winograd kernels: the
 * channels padded with zeros to the block (zero input channels, zero
 * weights to and from them), the tensors put in the block, the padded
 * channels dropped on the way back; normalized error <= GOLDEN_TOL, as
 * test_layer_golden's. The cases are its 3x3 stride-1 ones: odd and even
 * maps, a row of 19 tiles, 7 samples of 13x11. */
#define GOLDEN_TOL 1e-5

static void check_golden(nl_backend *be, const tu_fixture *fx, const char *name, int block,
                         const wg_algorithm *alg)
{
    const tu_tensor *xt = tu_get_in(fx, name, "x"), *wt = tu_get_in(fx, name, "weight");
    char key[128];
    snprintf(key, sizeof key, "%s.bias", name);
    const tu_tensor *bt = tu_find(fx, key);
    const int n = xt->dims[0], c = xt->dims[1], h = xt->dims[2], w = xt->dims[3];
    const int o = wt->dims[0];
    const int cp = (c + block - 1) / block * block, op = (o + block - 1) / block * block;
    const wg_case padded = {cp, op, h, w, n};
    const nl_conv_geom g = geom_of(&padded, block, alg->algorithm);
    const size_t nx = (size_t)n * cp * h * w, ny = (size_t)n * op * h * w;
    float *x = calloc(nx, sizeof(float)), *dy = calloc(ny, sizeof(float));
    float *wp = calloc((size_t)op * cp * 9, sizeof(float)), *bp = calloc((size_t)op, sizeof(float));
    const float *xs = xt->data, *ws = wt->data, *dys = tu_getf_in(fx, name, "dy");
    for (int s = 0; s < n; s++)
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++) {
                for (int i = 0; i < c; i++)
                    x[at(block, cp, h, w, s, i, r, q)] = xs[(((size_t)s * c + i) * h + r) * w + q];
                for (int k = 0; k < o; k++)
                    dy[at(block, op, h, w, s, k, r, q)] = dys[(((size_t)s * o + k) * h + r) * w + q];
            }
    for (int k = 0; k < o; k++) {
        for (int i = 0; i < c; i++)
            memcpy(wp + ((size_t)k * cp + i) * 9, ws + ((size_t)k * c + i) * 9, 9 * sizeof(float));
        bp[k] = bt ? ((const float *)bt->data)[k] : 0.0f;
    }
    outputs got = run_ops(be, &g, n, x, wp, bt ? bp : NULL, dy, NULL);
    /* back to torch's NCHW and OIHW, the padding dropped */
    float *y = malloc((size_t)n * o * h * w * sizeof(float));
    float *dx = malloc((size_t)n * c * h * w * sizeof(float));
    float *dw = malloc((size_t)o * c * 9 * sizeof(float));
    for (int s = 0; s < n; s++)
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++) {
                for (int k = 0; k < o; k++)
                    y[(((size_t)s * o + k) * h + r) * w + q] = got.y[at(block, op, h, w, s, k, r, q)];
                for (int i = 0; i < c; i++)
                    dx[(((size_t)s * c + i) * h + r) * w + q] = got.dx[at(block, cp, h, w, s, i, r, q)];
            }
    for (int k = 0; k < o; k++)
        for (int i = 0; i < c; i++)
            memcpy(dw + ((size_t)k * c + i) * 9, got.dw + ((size_t)k * cp + i) * 9, 9 * sizeof(float));
    char what[160];
    snprintf(what, sizeof what, "%s (Winograd %s, block %d) forward", name, alg->name, block);
    tu_assert_close(y, tu_getf_in(fx, name, "y"), (size_t)n * o * h * w, GOLDEN_TOL, what);
    snprintf(what, sizeof what, "%s (Winograd %s, block %d) dx", name, alg->name, block);
    tu_assert_close(dx, tu_getf_in(fx, name, "dx"), (size_t)n * c * h * w, GOLDEN_TOL, what);
    snprintf(what, sizeof what, "%s (Winograd %s, block %d) dweight", name, alg->name, block);
    tu_assert_close(dw, tu_getf_in(fx, name, "dweight"), (size_t)o * c * 9, GOLDEN_TOL, what);
    if (bt) {
        snprintf(what, sizeof what, "%s (Winograd %s, block %d) dbias", name, alg->name, block);
        tu_assert_close(got.db, tu_getf_in(fx, name, "dbias"), (size_t)o, GOLDEN_TOL, what);
    }
    fprintf(stderr, "%s against torch (Winograd %s, block %d): normalized errors y %.3g, "
                    "dx %.3g, dweight %.3g\n", name, alg->name, block,
            tu_norm_err(y, tu_getf_in(fx, name, "y"), (size_t)n * o * h * w),
            tu_norm_err(dx, tu_getf_in(fx, name, "dx"), (size_t)n * c * h * w),
            tu_norm_err(dw, tu_getf_in(fx, name, "dweight"), (size_t)o * c * 9));
    outputs_free(&got);
    free(x), free(dy), free(wp), free(bp), free(y), free(dx), free(dw);
}

START_TEST(test_against_torch)
{
    nl_backend *be = onednn_cpu(2);
    if (!be)
        return;
    tu_fixture *fx = tu_fixture_load("layer_goldens.nlfx");
    const char *names[] = {"conv3x3", "conv3x3_winograd", "conv3x3_winograd_wide",
                           "conv3x3_winograd_chunks"};
    for (size_t a = 0; a < sizeof algorithms / sizeof algorithms[0]; a++)
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            check_golden(be, fx, names[k], be->ops->conv_block(be), &algorithms[a]);
    tu_fixture_free(fx);
}
END_TEST

/* the direct algorithm's geometry does not list the Winograd kernel: a
 * fresh backend planned without it */
START_TEST(test_direct_not_listed)
{
    setenv("NORMLAB_CONV", "onednn", 1);
    nl_error err = {0};
    const nl_backend_options opt = {.threads = 1};
    nl_backend *be = NULL;
    const nl_code rc = nl_backend_open(NL_DEVICE_CPU, &opt, &be, &err);
    unsetenv("NORMLAB_CONV");
    if (rc != NL_OK || !be->ops->conv_block(be)) {
        if (be)
            nl_backend_close(be);
        return;
    }
    const nl_conv_geom g = geom_of(&cases[1], be->ops->conv_block(be), NL_CONV_DIRECT);
    (void)be->ops->conv2d_workspace(be, &g, 2);
    ck_assert_msg(!strstr(be->conv_kernels, NL_CPU_WINOGRAD_BLOCKED_KERNEL) &&
                      !strstr(be->conv_kernels, NL_CPU_WINOGRAD_F43_BLOCKED_KERNEL),
                  "listed: %s", be->conv_kernels);
    nl_backend_close(be);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conv_winograd");
    TCase *tc = tcase_create("blocked");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_against_direct);
    tcase_add_test(tc, test_f43_against_direct);
    tcase_add_test(tc, test_f43_blocks);
    tcase_add_test(tc, test_against_torch);
    tcase_add_test(tc, test_direct_not_listed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
