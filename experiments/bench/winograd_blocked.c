/* Winograd F(2x2, 3x3) in the blocked layout (core/cpu/winograd_blocked.c)
 * against oneDNN's direct convolution on the same nChw16c tensors: the
 * forward of the ResNet's 3x3 stride-1 layers (configs/resnet-pre-layer.yaml:
 * 16 -> 16 at 28x28, 32 -> 32 at 14x14) at batch 128 on one thread, the CPU
 * time of the calling thread, the two alternated over the repetitions and
 * the best of each kept. Winograd's time includes its filter transform;
 * oneDNN's leaves out the weights' reorder (done once), so the comparison
 * favours oneDNN. Also prints the largest difference of the two outputs
 * relative to the largest output.
 *
 *   gcc -O3 -march=x86-64-v4 -std=gnu11 -fopenmp -fno-tree-loop-distribute-patterns -Icore \
 *       -I/usr/include/oneapi/dnnl experiments/bench/winograd_blocked.c \
 *       core/cpu/winograd_blocked.c core/cpu/gemm.c -ldnnl -lm -o /tmp/winograd_blocked &&
 *   OMP_NUM_THREADS=1 /tmp/winograd_blocked [REPS] */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu/cpu.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != dnnl_success) {                                                              \
            fprintf(stderr, "winograd_blocked: %s failed\n", #call);                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 10, n = 128, block = 16;
    const int layers[][3] = {{16, 16, 28}, {32, 32, 14}};
    omp_set_num_threads(1);
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    for (int l = 0; l < 2; l++) {
        const int c_in = layers[l][0], c_out = layers[l][1], side = layers[l][2];
        const nl_conv_geom g = {.in_c = c_in, .in_h = side, .in_w = side, .out_c = c_out,
                                .out_h = side, .out_w = side, .kernel = 3, .stride = 1, .pad = 1,
                                .in_block = block, .out_block = block,
                                .algorithm = NL_CONV_WINOGRAD_F23};
        const size_t nx = (size_t)n * c_in * side * side, ny = (size_t)n * c_out * side * side;
        const size_t nw = (size_t)c_out * c_in * 9;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *bias = calloc(c_out, 4);
        float *y_dnnl = malloc(ny * 4), *y_wg = malloc(ny * 4);
        srand(7);
        for (size_t i = 0; i < nx; i++)
            x[i] = rand() / (float)RAND_MAX - 0.5f;
        for (size_t i = 0; i < nw; i++)
            w[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.3f;
        dnnl_memory_desc_t src_md, wei_md, wei_any, bia_md, dst_md;
        const dnnl_dims_t sd = {n, c_in, side, side}, dd = {n, c_out, side, side};
        const dnnl_dims_t wd = {c_out, c_in, 3, 3}, bd = {c_out}, st = {1, 1}, pd = {1, 1};
        CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_nChw16c));
        CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_nChw16c));
        CHECK(dnnl_memory_desc_init_by_tag(&wei_md, 4, wd, dnnl_f32, dnnl_oihw));
        CHECK(dnnl_memory_desc_init_by_tag(&wei_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&bia_md, 1, bd, dnnl_f32, dnnl_x));
        dnnl_convolution_desc_t cd;
        CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training,
                                                 dnnl_convolution_direct, &src_md, &wei_any,
                                                 &bia_md, &dst_md, st, pd, pd));
        dnnl_primitive_desc_t pdesc;
        CHECK(dnnl_primitive_desc_create(&pdesc, &cd, NULL, engine, NULL));
        const char *impl = "";
        CHECK(dnnl_primitive_desc_query(pdesc, dnnl_query_impl_info_str, 0, &impl));
        const dnnl_memory_desc_t *wq = dnnl_primitive_desc_query_md(pdesc, dnnl_query_weights_md, 0);
        dnnl_memory_t m_src, m_w, m_wr, m_b, m_dst;
        CHECK(dnnl_memory_create(&m_src, &src_md, engine, x));
        CHECK(dnnl_memory_create(&m_w, &wei_md, engine, w));
        CHECK(dnnl_memory_create(&m_wr, wq, engine, DNNL_MEMORY_ALLOCATE));
        CHECK(dnnl_memory_create(&m_b, &bia_md, engine, bias));
        CHECK(dnnl_memory_create(&m_dst, &dst_md, engine, y_dnnl));
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t reorder, conv;
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, &wei_md, engine, wq, engine, NULL));
        CHECK(dnnl_primitive_create(&reorder, rpd));
        CHECK(dnnl_primitive_execute(reorder, stream, 2,
                                     (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, m_w}, {DNNL_ARG_TO, m_wr}}));
        CHECK(dnnl_primitive_create(&conv, pdesc));
        const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, m_src}, {DNNL_ARG_WEIGHTS, m_wr},
                                        {DNNL_ARG_BIAS, m_b}, {DNNL_ARG_DST, m_dst}};
        void *ws = aligned_alloc(64, (nl_cpu_winograd_blocked_workspace(&g, 1) + 63) / 64 * 64);
        double best_d = 1e30, best_w = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = cpu_now();
            CHECK(dnnl_primitive_execute(conv, stream, 4, args));
            CHECK(dnnl_stream_wait(stream));
            best_d = fmin(best_d, cpu_now() - t0);
            t0 = cpu_now();
            nl_cpu_winograd_blocked_forward(&g, n, x, w, bias, y_wg, 1, ws);
            best_w = fmin(best_w, cpu_now() - t0);
        }
        double diff = 0.0, scale = 0.0;
        for (size_t i = 0; i < ny; i++) {
            diff = fmax(diff, fabs((double)y_wg[i] - y_dnnl[i]));
            scale = fmax(scale, fabs((double)y_dnnl[i]));
        }
        printf("%d -> %d at %dx%d, batch %d, 1 thread: oneDNN %s %.2f ms, winograd f23 %.2f ms "
               "(%.2fx), max |diff| / max |y| %.2g\n",
               c_in, c_out, side, side, n, impl, best_d * 1e3, best_w * 1e3, best_d / best_w,
               diff / scale);
        free(ws);
        free(x), free(w), free(bias), free(y_dnnl), free(y_wg);
    }
    return 0;
}
