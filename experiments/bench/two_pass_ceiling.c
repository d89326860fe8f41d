/* What a normalization kernel can reach against the copy `normlab bench`
 * measures, when it must read its input twice.
 *
 * BatchNorm's statistics run over the whole batch, so no value of y (or dx)
 * can be written before every x (and dy) of its channel has been read; when
 * a channel's data does not fit in L2 (a (256, 1024) feature input is 512 KB
 * a thread; a (32, 64, 28, 28) channel block of 8 channels is 800 KB), the
 * second pass reads from L3 again. LayerNorm on images is in the same place
 * for its backward (a sample's x and dy are 400 KB). This program times plain
 * OpenMP loops with the same memory traffic as such kernels and no arithmetic
 * to speak of:
 *   copy      y = x                                  (the bench's reference)
 *   read      sum of x                               (a statistics pass)
 *   read2     sum of x * dy                          (the backward's sums)
 *   axpb      y = a x + b                            (a normalizing pass)
 *   bwdlike   dx = a x + b dy + c                    (an input-gradient pass)
 * and reports, as fractions of copy with the bench's byte counts (forward 8
 * bytes an element, backward 12, forward+backward 20):
 *   one-pass  forward = copy / axpb, backward = 1.5 copy / bwdlike
 *   two-pass  forward = copy / (read + axpb), backward = 1.5 copy / (read2 +
 *             bwdlike), forward+backward = 2.5 copy / (all four, back to back)
 * The best of many repetitions of each; the host's slow phases move every
 * number, so run it two or three times.
 *
 *   gcc -O3 -march=native -std=gnu11 -fopenmp experiments/bench/two_pass_ceiling.c \
 *       -o /tmp/two_pass_ceiling && OMP_NUM_THREADS=2 /tmp/two_pass_ceiling
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "best_time.h"

typedef float v8 __attribute__((vector_size(32), aligned(4)));

static float *make(long count)
{
    float *p = aligned_alloc(4096, ((size_t)count * sizeof(float) + 4095) / 4096 * 4096);
    if (!p) {
        fprintf(stderr, "two_pass_ceiling: cannot allocate %ld floats\n", count);
        exit(1);
    }
#pragma omp parallel for schedule(static)
    for (long i = 0; i < count; i++)
        p[i] = (float)(i % 1021) * 1e-3f - 0.5f;
    return p;
}

static volatile float sink;

/* this thread's share, whole 32-float steps */
static void share(long count, long *first, long *last)
{
    const int t = omp_get_thread_num(), threads = omp_get_num_threads();
    *first = count * t / threads / 32 * 32;
    *last = t == threads - 1 ? count : count * (t + 1) / threads / 32 * 32;
}

static void copy(long count, const float *x, float *y)
{
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < count; i++)
        y[i] = x[i];
}

/* four independent sums, as the kernels' statistics keep */
static void read_x(long count, const float *x)
{
#pragma omp parallel
    {
        long first, last;
        share(count, &first, &last);
        v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        long i = first;
        for (; i + 32 <= last; i += 32) {
            s0 += *(const v8 *)(x + i);
            s1 += *(const v8 *)(x + i + 8);
            s2 += *(const v8 *)(x + i + 16);
            s3 += *(const v8 *)(x + i + 24);
        }
        for (; i < last; i++)
            s0[0] += x[i];
        s0 += s1 + s2 + s3;
        sink = s0[0] + s0[7];
    }
}

static void read_x_dy(long count, const float *x, const float *dy)
{
#pragma omp parallel
    {
        long first, last;
        share(count, &first, &last);
        v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        long i = first;
        for (; i + 16 <= last; i += 16) {
            const v8 d0 = *(const v8 *)(dy + i), d1 = *(const v8 *)(dy + i + 8);
            s0 += d0;
            s1 += d1;
            s2 += d0 * *(const v8 *)(x + i);
            s3 += d1 * *(const v8 *)(x + i + 8);
        }
        for (; i < last; i++)
            s0[0] += dy[i] * x[i];
        s0 += s1 + s2 + s3;
        sink = s0[0] + s0[7];
    }
}

static void axpb(long count, const float *x, float *y)
{
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < count; i++)
        y[i] = x[i] * 1.5f + 0.25f;
}

static void backward_like(long count, const float *x, const float *dy, float *dx)
{
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < count; i++)
        dx[i] = x[i] * 1.5f + dy[i] * 0.5f + 0.25f;
}

int main(void)
{
    const struct {
        const char *name;
        long count;
        int reps;
    } shapes[] = {{"(32,64,28,28)", 32L * 64 * 28 * 28, 400},
                  {"(128,256,14,14)", 128L * 256 * 14 * 14, 60},
                  {"(256,1024)", 256L * 1024, 3000}};
    printf("%d threads; times in us, best of the repetitions; fractions of copy with the\n"
           "bench's byte counts (forward 8 B/elem, backward 12, forward+backward 20)\n\n",
           omp_get_max_threads());
    printf("%-16s %8s %8s %8s %8s %8s | %-17s | %-24s\n", "shape", "copy", "read", "read2", "axpb",
           "bwdlike", "one-pass fwd/bwd", "two-pass fwd/bwd/fwd+bwd");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const long n = shapes[s].count;
        const int reps = shapes[s].reps;
        float *x = make(n), *y = make(n), *dy = make(n), *dx = make(n);
        const double t_copy = BEST(copy(n, x, y), reps);
        const double t_read = BEST(read_x(n, x), reps);
        const double t_read2 = BEST(read_x_dy(n, x, dy), reps);
        const double t_axpb = BEST(axpb(n, x, y), reps);
        const double t_bwd = BEST(backward_like(n, x, dy, dx), reps);
        const double t_fwd2 = BEST((read_x(n, x), axpb(n, x, y)), reps);
        const double t_bwd2 = BEST((read_x_dy(n, x, dy), backward_like(n, x, dy, dx)), reps);
        const double t_fb2 =
            BEST((read_x(n, x), axpb(n, x, y), read_x_dy(n, x, dy), backward_like(n, x, dy, dx)),
                 reps);
        printf("%-16s %8.1f %8.1f %8.1f %8.1f %8.1f | %7.2f %7.2f   | %6.2f %6.2f %6.2f\n",
               shapes[s].name, t_copy * 1e6, t_read * 1e6, t_read2 * 1e6, t_axpb * 1e6,
               t_bwd * 1e6, t_copy / t_axpb, 1.5 * t_copy / t_bwd, t_copy / t_fwd2,
               1.5 * t_copy / t_bwd2, 2.5 * t_copy / t_fb2);
        free(x);
        free(y);
        free(dy);
        free(dx);
    }
    return 0;
}
