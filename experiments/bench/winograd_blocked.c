/* Winograd F(2x2, 3x3) in the blocked layout (core/cpu/winograd_blocked.c)
 * against oneDNN's direct convolution on the same nChw16c tensors, for the
 * three products of a training step: the forward, the data gradient and
 * the weight gradient (with the bias gradient), and F(4x4, 3x3)
 * (core/cpu/winograd_blocked_f43.c) for the forward and the data gradient,
 * of the ResNet's 3x3 stride-1 layers (configs/resnet-pre-layer.yaml: 16 -> 16 at 28x28,
 * 32 -> 32 at 14x14), the CNN's 32 -> 64 at 14x14 and the quickstart CNN's
 * (configs/quickstart-cnn.yaml) 16 -> 32 at 14x14, at batch 128 on one
 * thread (or the second argument's count), the two sides alternated over
 * the repetitions (oneDNN, F(2x2, 3x3), F(4x4, 3x3), in turn) and the best
 * of each kept: on one thread its CPU time (the machines are shared: wall time carries the others'), on more the
 * wall time (the process's CPU clock counts the other threads' time only
 * at the scheduler's ticks, too coarse for a few milliseconds).
 *
 * Winograd's times include its filter transforms (forward and data
 * gradient) and its inverse filter transform into OIHW (weight gradient).
 * oneDNN's primitives run on weights already in their own layout: its
 * forward and data gradient leave out the weights' reorder, and its weight
 * gradient leaves out the reorder of dW to OIHW, which conv2d.c pays (the
 * column "+ reorder" adds it). So the comparison favours oneDNN. Also
 * prints the largest difference of each pair of outputs relative to the
 * largest output, and F(4x4, 3x3)'s time split into its filter transform,
 * input transform, 36 GEMMs and output transform (one thread, one more
 * pass timed by stages, best of REPS).
 *
 *   gcc -O3 -march=x86-64-v4 -std=gnu11 -fopenmp -ffp-contract=fast -fno-tree-loop-distribute-patterns \
 *       -Wno-psabi -Icore \
 *       -I/usr/include/oneapi/dnnl experiments/bench/winograd_blocked.c \
 *       core/cpu/winograd_blocked.c core/cpu/gemm.c -ldnnl -lm -o /tmp/winograd_blocked &&
 *   /tmp/winograd_blocked [REPS [THREADS]] */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu/cpu.h"
/* included, not linked: the stage timing below calls its static stages */
#include "cpu/winograd_blocked_f43.c"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != dnnl_success) {                                                              \
            fprintf(stderr, "winograd_blocked: %s failed\n", #call);                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int timed_threads = 1;

/* the calling thread's CPU time on one thread, else the wall time */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(timed_threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *filled(size_t count, float scale)
{
    float *p = malloc(count * sizeof *p);
    for (size_t i = 0; i < count; i++)
        p[i] = (rand() / (float)RAND_MAX - 0.5f) * scale;
    return p;
}

/* max |a - b| / max |b| */
static double relative_diff(const float *a, const float *b, size_t count)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < count; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / scale;
}

static dnnl_memory_t memory_of(const dnnl_memory_desc_t *md, dnnl_engine_t engine, void *data)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, data ? data : DNNL_MEMORY_ALLOCATE));
    return m;
}

static dnnl_primitive_t reorder_of(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                   dnnl_engine_t engine)
{
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t r;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, from, engine, to, engine, NULL));
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_primitive_desc_destroy(rpd);
    return r;
}

typedef struct {
    double best_cpu;
} best;

static void keep(best *b, double cpu0)
{
    b->best_cpu = fmin(b->best_cpu, cpu_now() - cpu0);
}

/* F(4x4, 3x3)'s forward on one thread, its stages timed apart, best of
 * reps each; prints each stage's share and the GEMMs' rate (multiply-adds
 * a second) */
static void f43_stages(const nl_conv_geom *g, int n, const float *x, const float *w,
                       const float *bias, float *y, void *ws, int reps)
{
    const f43_shape s = f43_shape_of(g->in_c, g->out_c, g->in_h, g->in_w, g->in_block);
    float *u = ws, *v = u + f43_filters_floats(&s), *m = v + F43_PLANES * s.in_plane;
    const long tiles = (long)n * s.tiles_per_sample;
    double best_f = 1e30, best_i = 1e30, best_g = 1e30, best_o = 1e30;
    for (int r = 0; r < reps; r++) {
        /* each stage over the whole batch by itself (a clock read per
         * chunk and stage cost more than the output transform on this
         * host's virtual machine), the chunks' V and M in the same
         * buffers as f43_convolve's */
        double t0 = cpu_now();
        f43_transform_filters(&s, w, false, u);
        double t1 = cpu_now();
        for (long c0 = 0; c0 < tiles; c0 += s.chunk)
            f43_input_chunk(&s, x, tiles, c0, (int)(tiles - c0 < s.chunk ? tiles - c0 : s.chunk), v,
                            16);
        double t2 = cpu_now();
        for (long c0 = 0; c0 < tiles; c0 += s.chunk)
            for (int xi = 0; xi < F43_PLANES; xi++)
                nl_cpu_gemm_nn_serial((int)(tiles - c0 < s.chunk ? tiles - c0 : s.chunk), s.out_c,
                                      s.in_c, v + xi * s.in_plane, s.in_c, u + xi * s.u_plane,
                                      s.out_c, NULL, m + xi * s.out_plane, s.out_c, false);
        double t3 = cpu_now();
        for (long c0 = 0; c0 < tiles; c0 += s.chunk)
            f43_output_chunk(&s, m, tiles, c0, (int)(tiles - c0 < s.chunk ? tiles - c0 : s.chunk),
                             bias, y, false, 16);
        double t4 = cpu_now();
        best_f = fmin(best_f, t1 - t0), best_i = fmin(best_i, t2 - t1);
        best_g = fmin(best_g, t3 - t2), best_o = fmin(best_o, t4 - t3);
    }
    const double total = best_f + best_i + best_g + best_o;
    /* the GEMMs' multiply-adds: 36 planes x tiles x in_c x out_c */
    const double fmas = 36.0 * tiles * s.in_c * s.out_c;
    printf("  f43 forward by stages (chunk %d tiles): filters %.2f ms (%.0f%%), input %.2f ms "
           "(%.0f%%), 36 GEMMs %.2f ms (%.0f%%, %.1f GFMA/s), output %.2f ms (%.0f%%), sum %.2f ms\n",
           s.chunk, best_f * 1e3, 100 * best_f / total, best_i * 1e3, 100 * best_i / total,
           best_g * 1e3, 100 * best_g / total, fmas / best_g * 1e-9, best_o * 1e3,
           100 * best_o / total, total * 1e3);
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 10, n = 128, block = 16;
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    const int layers[][3] = {{16, 16, 28}, {32, 32, 14}, {32, 64, 14}, {16, 32, 14}};
    omp_set_num_threads(threads);
    timed_threads = threads;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const dnnl_version_t *version = dnnl_version();
    printf("oneDNN %d.%d.%d, batch %d, %d thread(s), best of %d, %s\n", version->major,
           version->minor, version->patch, n, threads, reps,
           threads == 1 ? "CPU time of the thread" : "wall time");
    for (int l = 0; l < (int)(sizeof layers / sizeof layers[0]); l++) {
        const int c_in = layers[l][0], c_out = layers[l][1], side = layers[l][2];
        const nl_conv_geom g = {.in_c = c_in, .in_h = side, .in_w = side, .out_c = c_out,
                                .out_h = side, .out_w = side, .kernel = 3, .stride = 1, .pad = 1,
                                .in_block = block, .out_block = block,
                                .algorithm = NL_CONV_WINOGRAD_F23};
        const size_t nx = (size_t)n * c_in * side * side, ny = (size_t)n * c_out * side * side;
        const size_t nw = (size_t)c_out * c_in * 9;
        srand(7);
        float *x = filled(nx, 1.0f), *w = filled(nw, 0.3f), *dy = filled(ny, 1.0f);
        float *bias = calloc(c_out, 4);
        float *y_d = malloc(ny * 4), *y_w = malloc(ny * 4), *dx_d = malloc(nx * 4);
        float *dx_w = malloc(nx * 4), *dw_d = malloc(nw * 4), *dw_w = malloc(nw * 4);
        float *db_d = malloc(c_out * 4), *db_w = malloc(c_out * 4);

        dnnl_memory_desc_t src_md, dst_md, wei_md, wei_any, bia_md;
        const dnnl_dims_t sd = {n, c_in, side, side}, dd = {n, c_out, side, side};
        const dnnl_dims_t wd = {c_out, c_in, 3, 3}, bd = {c_out}, st = {1, 1}, pd = {1, 1};
        CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_nChw16c));
        CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_nChw16c));
        CHECK(dnnl_memory_desc_init_by_tag(&wei_md, 4, wd, dnnl_f32, dnnl_oihw));
        CHECK(dnnl_memory_desc_init_by_tag(&wei_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&bia_md, 1, bd, dnnl_f32, dnnl_x));
        dnnl_convolution_desc_t fd, bdd, bwd;
        CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                 dnnl_convolution_direct, &src_md, &wei_any,
                                                 &bia_md, &dst_md, st, pd, pd));
        CHECK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &src_md,
                                                       &wei_any, &dst_md, st, pd, pd));
        CHECK(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &src_md,
                                                          &wei_any, &bia_md, &dst_md, st, pd,
                                                          pd));
        dnnl_primitive_desc_t fpd, dpd, wpd;
        CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
        CHECK(dnnl_primitive_desc_create(&dpd, &bdd, NULL, engine, fpd));
        CHECK(dnnl_primitive_desc_create(&wpd, &bwd, NULL, engine, fpd));
        const char *impl_f = "", *impl_d = "", *impl_w = "";
        CHECK(dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &impl_f));
        CHECK(dnnl_primitive_desc_query(dpd, dnnl_query_impl_info_str, 0, &impl_d));
        CHECK(dnnl_primitive_desc_query(wpd, dnnl_query_impl_info_str, 0, &impl_w));
        const dnnl_memory_desc_t *fw_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *dw_md = dnnl_primitive_desc_query_md(dpd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *ww_md =
            dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
        dnnl_memory_t m_x = memory_of(&src_md, engine, x), m_y = memory_of(&dst_md, engine, y_d);
        dnnl_memory_t m_dy = memory_of(&dst_md, engine, dy);
        dnnl_memory_t m_dx = memory_of(&src_md, engine, dx_d);
        dnnl_memory_t m_w = memory_of(&wei_md, engine, w), m_b = memory_of(&bia_md, engine, bias);
        dnnl_memory_t m_fw = memory_of(fw_md, engine, NULL), m_dw_in = memory_of(dw_md, engine, NULL);
        dnnl_memory_t m_dw = memory_of(ww_md, engine, NULL);
        dnnl_memory_t m_dw_plain = memory_of(&wei_md, engine, dw_d);
        dnnl_memory_t m_db = memory_of(&bia_md, engine, db_d);
        dnnl_primitive_t r_f = reorder_of(&wei_md, fw_md, engine);
        dnnl_primitive_t r_d = reorder_of(&wei_md, dw_md, engine);
        dnnl_primitive_t r_w = reorder_of(ww_md, &wei_md, engine);
        CHECK(dnnl_primitive_execute(r_f, stream, 2,
                                     (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, m_w}, {DNNL_ARG_TO, m_fw}}));
        CHECK(dnnl_primitive_execute(
            r_d, stream, 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, m_w}, {DNNL_ARG_TO, m_dw_in}}));
        dnnl_primitive_t conv_f, conv_d, conv_w;
        CHECK(dnnl_primitive_create(&conv_f, fpd));
        CHECK(dnnl_primitive_create(&conv_d, dpd));
        CHECK(dnnl_primitive_create(&conv_w, wpd));
        const dnnl_exec_arg_t f_args[] = {{DNNL_ARG_SRC, m_x}, {DNNL_ARG_WEIGHTS, m_fw},
                                          {DNNL_ARG_BIAS, m_b}, {DNNL_ARG_DST, m_y}};
        const dnnl_exec_arg_t d_args[] = {{DNNL_ARG_DIFF_DST, m_dy}, {DNNL_ARG_WEIGHTS, m_dw_in},
                                          {DNNL_ARG_DIFF_SRC, m_dx}};
        const dnnl_exec_arg_t w_args[] = {{DNNL_ARG_SRC, m_x}, {DNNL_ARG_DIFF_DST, m_dy},
                                          {DNNL_ARG_DIFF_WEIGHTS, m_dw},
                                          {DNNL_ARG_DIFF_BIAS, m_db}};
        const dnnl_exec_arg_t r_args[] = {{DNNL_ARG_FROM, m_dw}, {DNNL_ARG_TO, m_dw_plain}};

        const size_t bytes_f23 = nl_cpu_winograd_blocked_workspace(&g, threads);
        const size_t bytes_f43 = nl_cpu_winograd_blocked_f43_workspace(&g, threads);
        const size_t bytes = bytes_f23 > bytes_f43 ? bytes_f23 : bytes_f43;
        float *y_4 = malloc(ny * 4), *dx_4 = malloc(nx * 4);
        void *ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
        best f_d = {1e30}, f_w = f_d, d_d = f_d, d_w = f_d, w_d = f_d, w_dr = f_d, w_w = f_d;
        best f_4 = f_d, d_4 = f_d;
        for (int r = 0; r < reps; r++) {
            double c0 = cpu_now();
            CHECK(dnnl_primitive_execute(conv_f, stream, 4, f_args));
            CHECK(dnnl_stream_wait(stream));
            keep(&f_d, c0);
            c0 = cpu_now();
            nl_cpu_winograd_blocked_forward(&g, n, x, w, bias, y_w, threads, ws);
            keep(&f_w, c0);
            c0 = cpu_now();
            nl_cpu_winograd_blocked_f43_forward(&g, n, x, w, bias, y_4, threads, ws);
            keep(&f_4, c0);
            c0 = cpu_now();
            CHECK(dnnl_primitive_execute(conv_d, stream, 3, d_args));
            CHECK(dnnl_stream_wait(stream));
            keep(&d_d, c0);
            c0 = cpu_now();
            nl_cpu_winograd_blocked_input_grad(&g, n, w, dy, dx_w, false, threads, ws);
            keep(&d_w, c0);
            c0 = cpu_now();
            nl_cpu_winograd_blocked_f43_input_grad(&g, n, w, dy, dx_4, false, threads, ws);
            keep(&d_4, c0);
            c0 = cpu_now();
            CHECK(dnnl_primitive_execute(conv_w, stream, 4, w_args));
            CHECK(dnnl_stream_wait(stream));
            keep(&w_d, c0);
            CHECK(dnnl_primitive_execute(r_w, stream, 2, r_args));
            CHECK(dnnl_stream_wait(stream));
            keep(&w_dr, c0);
            c0 = cpu_now();
            nl_cpu_winograd_blocked_weight_grad(&g, n, x, dy, dw_w, db_w, threads, ws);
            keep(&w_w, c0);
        }
        printf("%d -> %d at %dx%d:\n", c_in, c_out, side, side);
        printf("  forward:         oneDNN %-18s %6.2f ms, winograd f23 %6.2f ms: %.2fx, "
               "max |diff| / max |y| %.2g\n",
               impl_f, f_d.best_cpu * 1e3, f_w.best_cpu * 1e3, f_d.best_cpu / f_w.best_cpu,
               relative_diff(y_w, y_d, ny));
        printf("  forward f43:     winograd f43 %6.2f ms: %.2fx oneDNN, %.2fx f23, "
               "max |diff| / max |y| %.2g\n",
               f_4.best_cpu * 1e3, f_d.best_cpu / f_4.best_cpu, f_w.best_cpu / f_4.best_cpu,
               relative_diff(y_4, y_d, ny));
        printf("  data gradient:   oneDNN %-18s %6.2f ms, winograd f23 %6.2f ms: %.2fx, "
               "max |diff| / max |dx| %.2g\n",
               impl_d, d_d.best_cpu * 1e3, d_w.best_cpu * 1e3, d_d.best_cpu / d_w.best_cpu,
               relative_diff(dx_w, dx_d, nx));
        printf("  data grad f43:   winograd f43 %6.2f ms: %.2fx oneDNN, %.2fx f23, "
               "max |diff| / max |dx| %.2g\n",
               d_4.best_cpu * 1e3, d_d.best_cpu / d_4.best_cpu, d_w.best_cpu / d_4.best_cpu,
               relative_diff(dx_4, dx_d, nx));
        printf("  weight gradient: oneDNN %-18s %6.2f ms (+ reorder %6.2f ms), winograd f23 "
               "%6.2f ms: %.2fx (%.2fx with the reorder), max |diff| / max |dw| %.2g, |db| %.2g\n",
               impl_w, w_d.best_cpu * 1e3, w_dr.best_cpu * 1e3, w_w.best_cpu * 1e3,
               w_d.best_cpu / w_w.best_cpu, w_dr.best_cpu / w_w.best_cpu,
               relative_diff(dw_w, dw_d, nw), relative_diff(db_w, db_d, c_out));
        const double step_d = f_d.best_cpu + d_d.best_cpu + w_dr.best_cpu;
        const double step_w = f_w.best_cpu + d_w.best_cpu + w_w.best_cpu;
        printf("  the three:       oneDNN %6.2f ms, winograd f23 %6.2f ms: %.2fx\n", step_d * 1e3,
               step_w * 1e3, step_d / step_w);
        const double step_4 = f_4.best_cpu + d_4.best_cpu + w_w.best_cpu;
        printf("  the three, f43 forward and data gradient, f23 weight gradient: %6.2f ms: "
               "%.2fx oneDNN\n", step_4 * 1e3, step_d / step_4);
        if (threads == 1)
            f43_stages(&g, n, x, w, bias, y_4, ws, reps);
        fflush(stdout);
        free(ws);
        free(y_4), free(dx_4);
        dnnl_primitive_destroy(conv_f), dnnl_primitive_destroy(conv_d);
        dnnl_primitive_destroy(conv_w), dnnl_primitive_destroy(r_f);
        dnnl_primitive_destroy(r_d), dnnl_primitive_destroy(r_w);
        dnnl_primitive_desc_destroy(fpd), dnnl_primitive_desc_destroy(dpd);
        dnnl_primitive_desc_destroy(wpd);
        const dnnl_memory_t mems[] = {m_x, m_y, m_dy, m_dx, m_w, m_b, m_fw, m_dw_in, m_dw,
                                      m_dw_plain, m_db};
        for (size_t k = 0; k < sizeof mems / sizeof mems[0]; k++)
            dnnl_memory_destroy(mems[k]);
        free(x), free(w), free(dy), free(bias), free(y_d), free(y_w), free(dx_d), free(dx_w);
        free(dw_d), free(dw_w), free(db_d), free(db_w);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
