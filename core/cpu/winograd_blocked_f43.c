/* Winograd F(4x4, 3x3) for 3x3 stride-1 pad-1 convolutions in the
 * channel-blocked layout (nChw8c on AVX2, nChw16c on AVX-512): the forward
 * and the data gradient (a 3x3 stride-1 pad-1 convolution of dy with the
 * kernel turned by 180 degrees, in and out channels swapped), beside
 * winograd_blocked.c's F(2x2, 3x3), whose structure it keeps: a chunk of
 * tiles is transformed into V[xi] (tiles x in_c, one matrix per plane xi),
 * multiplied by U[xi] (in_c x out_c) on the calling thread
 * (nl_cpu_gemm_nn_serial), and M[xi] transformed back. A chunk's size
 * depends on the channel counts alone and its sums run on one thread in a
 * fixed order, so the bits do not depend on the thread count. The weight
 * gradient stays on F(2x2, 3x3) (winograd_blocked.c) or direct.
 *
 * A 6x6 input tile d gives a 4x4 output tile as A^T [(G g G^T) . (B^T d B)] A:
 * 36 products per 16 outputs, 4x fewer multiplies than direct (F(2x2, 3x3):
 * 16 per 4, 2.25x), and V and M are 36 values per 16 pixels (F(2x2, 3x3):
 * 16 per 4), so less of them passes through L2 per output.
 *
 * The matrices, from the points p = 0, 1, -1, 2, -2 and infinity (Lavin &
 * Gray 2016, the Toom-Cook construction). The 4-output correlation of d
 * with the 3-tap g is the transpose of the product of the polynomials
 * g(x) (degree 2) and h(x) (degree 3), whose 6 coefficients c follow from
 * c(p) at the five points and the leading coefficient c_5 (the point at
 * infinity): with L_j(x) = prod over the other finite points k of
 * (x - p_k), N_j = L_j(p_j) and M(x) = prod over all five of (x - p_k),
 *   c(x) = sum_j c(p_j) L_j(x) / N_j + c_5 M(x).
 * So, transposed:
 *   A^T (4x6): column j is (1, p_j, p_j^2, p_j^3), infinity's (0, 0, 0, 1):
 *     [1 1  1 1  1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1];
 *   G (6x3): row j is (1, p_j, p_j^2) / N_j, N = (4, -6, -6, 24, 24),
 *     infinity's (0, 0, 1):
 *     [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1];
 *   B^T (6x6): row j holds L_j's coefficients from x^0 up, infinity's M's:
 *     L_0 = (x^2 - 1)(x^2 - 4) = x^4 - 5x^2 + 4, L_1 = x(x + 1)(x^2 - 4),
 *     L_-1 = x(x - 1)(x^2 - 4), L_2 = x(x^2 - 1)(x + 2),
 *     L_-2 = x(x^2 - 1)(x - 2), M = x(x^2 - 1)(x^2 - 4):
 *     [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *      0 2 -1 -2 1 0; 0 4 0 -5 0 1].
 * test_conv_winograd checks the result against a direct convolution in
 * double. The coefficients up to 8 (and G's sixths, not exact in binary)
 * make it less accurate than F(2x2, 3x3): the bound there is the measured
 * error with a margin. G is applied in double and rounded once. */
#include <stddef.h>
#include <string.h>

#include "cpu/cpu.h"

/* V and M of one chunk, 64 Ki floats (256 KiB), as winograd_blocked.c's */
enum { F43_CHUNK_FLOATS = 64 * 1024, F43_CHUNK_STEP = 6, F43_MAX_CHUNK = 96, F43_ALIGN = 16 };
enum { F43_PLANES = 36 };

/* The transforms' rows, for floats or vectors alike; with a constant row
 * the unused operands are not evaluated (nor loaded). The sums shared by
 * rows 1-4 of B^T and A^T are written alike so that the compiler keeps
 * one of each.
 * BT6_ROW: row a of B^T applied to (d0 .. d5);
 * AT6_ROW: row i of A^T applied to (m0 .. m5). */
#define BT6_ROW(a, d0, d1, d2, d3, d4, d5)                                                        \
    ((a) == 0   ? 4.0f * (d0) - 5.0f * (d2) + (d4)                                                 \
     : (a) == 1 ? ((d3) + (d4)) - 4.0f * ((d1) + (d2))                                             \
     : (a) == 2 ? ((d4) - (d3)) + 4.0f * ((d1) - (d2))                                             \
     : (a) == 3 ? ((d4) - (d2)) + 2.0f * ((d3) - (d1))                                             \
     : (a) == 4 ? ((d4) - (d2)) - 2.0f * ((d3) - (d1))                                             \
                : 4.0f * (d1) - 5.0f * (d3) + (d5))
#define AT6_ROW(i, m0, m1, m2, m3, m4, m5)                                                        \
    ((i) == 0   ? (m0) + ((m1) + (m2)) + ((m3) + (m4))                                             \
     : (i) == 1 ? ((m1) - (m2)) + 2.0f * ((m3) - (m4))                                             \
     : (i) == 2 ? ((m1) + (m2)) + 4.0f * ((m3) + (m4))                                             \
                : ((m1) - (m2)) + 8.0f * ((m3) - (m4)) + (m5))

/* G's rows in double (the filter transform runs once a call, on
 * in_c x out_c kernels: its cost is nothing beside the tiles') */
static const double f43_g[6][3] = {
    {1.0 / 4, 0.0, 0.0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0.0, 0.0, 1.0},
};

typedef struct {
    int in_c, out_c; /* of the convolution computed: swapped for the data gradient */
    int h, w, block;
    int tiles_h, tiles_w, tiles_per_sample;
    int chunk; /* tiles per chunk */
    /* floats from one of the 36 planes xi to the next: of V (chunk x
     * in_c), of M (chunk x out_c), of U (in_c x out_c) */
    size_t in_plane, out_plane, u_plane;
} f43_shape;

/* A plane's stride, an odd count of 64-byte lines: the transforms write
 * (and read) all 36 planes of a tile at once, and planes a power-of-two
 * multiple of 4 KiB apart would fall into one L1 set */
static size_t f43_plane_floats(size_t floats)
{
    const size_t lines = (floats + F43_ALIGN - 1) / F43_ALIGN;
    return (lines | 1) * F43_ALIGN;
}

static f43_shape f43_shape_of(int in_c, int out_c, int h, int w, int block)
{
    f43_shape s = {.in_c = in_c, .out_c = out_c, .h = h, .w = w, .block = block};
    s.tiles_h = (h + 3) / 4;
    s.tiles_w = (w + 3) / 4;
    s.tiles_per_sample = s.tiles_h * s.tiles_w;
    /* a multiple of the GEMM's 6-row register tile, so that only a
     * chunk's last rows can fall outside one */
    int chunk = F43_CHUNK_FLOATS / (F43_PLANES * (in_c + out_c)) / F43_CHUNK_STEP * F43_CHUNK_STEP;
    s.chunk = chunk < F43_CHUNK_STEP ? F43_CHUNK_STEP : chunk > F43_MAX_CHUNK ? F43_MAX_CHUNK : chunk;
    s.in_plane = f43_plane_floats((size_t)s.chunk * in_c);
    s.out_plane = f43_plane_floats((size_t)s.chunk * out_c);
    s.u_plane = f43_plane_floats((size_t)in_c * out_c);
    return s;
}

static size_t f43_filters_floats(const f43_shape *s) { return F43_PLANES * s->u_plane; }

static size_t f43_per_thread_floats(const f43_shape *s)
{
    return F43_PLANES * (s->in_plane + s->out_plane);
}

size_t nl_cpu_winograd_blocked_f43_workspace(const nl_conv_geom *g, int threads)
{
    /* the data gradient swaps the channels: the same U, the same chunk */
    const f43_shape s = f43_shape_of(g->in_c, g->out_c, g->in_h, g->in_w, g->in_block);
    return (f43_filters_floats(&s) + f43_per_thread_floats(&s) * (size_t)threads) * sizeof(float);
}

/* U[xi][i][o] = (G g G^T)[xi] of the kernel g from input channel i to
 * output channel o of the convolution computed: weight[o][i] forward, and
 * for the data gradient (transpose) weight[i][o] turned by 180 degrees,
 * the weight being (s->in_c, s->out_c, 3, 3) there */
static void f43_transform_filters(const f43_shape *s, const float *weight, bool transpose, float *u)
{
    const size_t plane = s->u_plane;
    #pragma omp for schedule(static)
    for (int i = 0; i < s->in_c; i++)
        for (int o = 0; o < s->out_c; o++) {
            double g[3][3], t[6][3];
            for (int r = 0; r < 3; r++)
                for (int q = 0; q < 3; q++)
                    g[r][q] = transpose
                                  ? weight[((size_t)i * s->out_c + o) * 9 + (2 - r) * 3 + (2 - q)]
                                  : weight[((size_t)o * s->in_c + i) * 9 + r * 3 + q];
            for (int a = 0; a < 6; a++) /* G g, down the columns */
                for (int q = 0; q < 3; q++)
                    t[a][q] = f43_g[a][0] * g[0][q] + f43_g[a][1] * g[1][q] + f43_g[a][2] * g[2][q];
            float *at = u + (size_t)i * s->out_c + o;
            for (int a = 0; a < 6; a++) /* (G g) G^T, along the rows */
                for (int b = 0; b < 6; b++)
                    at[(a * 6 + b) * plane] = (float)(f43_g[b][0] * t[a][0] + f43_g[b][1] * t[a][1] +
                                                      f43_g[b][2] * t[a][2]);
        }
}

#define INLINE static inline __attribute__((always_inline))

#ifndef F43_PREFETCH_TILES
#define F43_PREFETCH_TILES 4
#endif

/* Tile t's lines of the map `image` (6x6 of them from (r0, c0) with a
 * channel block of B floats a line at B = 16, two lines a 64-byte line at
 * B = 8) on their way into L1, for each channel block (map floats apart):
 * the input of a layer at batch 128 (6.4 MB at 16 channels of 28x28) is
 * past L2, and read tile by tile without it the input transform waited on
 * its loads for half its time (perf, 16 -> 16 at 28x28). `rows` x `cols`
 * from (r0, c0); write: with the intent to write (the output's lines). */
INLINE void f43_prefetch_tile(const float *image, size_t map, int blocks, int h, int w, int r0,
                              int c0, int rows, int cols, bool write, const int B)
{
    for (int cb = 0; cb < blocks; cb++)
        for (int r = r0 < 0 ? 0 : r0; r < r0 + rows && r < h; r++)
            for (int q = c0 < 0 ? 0 : c0; q < c0 + cols && q < w; q += 64 / (B * (int)sizeof(float))) {
                const float *line = image + cb * map + ((size_t)r * w + q) * B;
                if (write)
                    __builtin_prefetch(line, 1, 3);
                else
                    __builtin_prefetch(line, 0, 3);
            }
}

/* B^T d B of the chunk's tiles [t0, t0 + count) of the batch's `tiles`, each block of channels
 * as B-float vectors, into V[xi][tile][in_c]; B is a constant at each call
 * so that the channel loops become whole vectors. The tile's 36 vectors
 * are copied next to each other first (zeros for the padding and past the
 * map), as winograd_blocked.c does. */
INLINE void f43_input_chunk(const f43_shape *s, const float *x, long tiles, long t0, int count,
                            float *v, const int B)
{
    const int blocks = s->in_c / B;
    const size_t plane = s->in_plane;
    for (int k = 0; k < count; k++) {
        const long t = t0 + k, sample = t / s->tiles_per_sample;
        const int within = (int)(t % s->tiles_per_sample);
        const int r0 = 4 * (within / s->tiles_w) - 1, c0 = 4 * (within % s->tiles_w) - 1;
        if (t + F43_PREFETCH_TILES < tiles) {
            const long ahead = t + F43_PREFETCH_TILES, ahead_sample = ahead / s->tiles_per_sample;
            const int ahead_within = (int)(ahead % s->tiles_per_sample);
            f43_prefetch_tile(x + (size_t)ahead_sample * blocks * s->h * s->w * B,
                              (size_t)s->h * s->w * B, blocks, s->h, s->w,
                              4 * (ahead_within / s->tiles_w) - 1, 4 * (ahead_within % s->tiles_w) - 1,
                              6, 6, false, B);
        }
        for (int cb = 0; cb < blocks; cb++) {
            const float *image = x + ((size_t)sample * blocks + cb) * s->h * s->w * B;
            float d[6][6][NL_MAX_CHANNEL_BLOCK], e[6][6][NL_MAX_CHANNEL_BLOCK];
            for (int r = 0; r < 6; r++)
                for (int q = 0; q < 6; q++) {
                    const int ih = r0 + r, iw = c0 + q;
                    if (ih >= 0 && ih < s->h && iw >= 0 && iw < s->w)
                        memcpy(d[r][q], image + ((size_t)ih * s->w + iw) * B, B * sizeof(float));
                    else
                        memset(d[r][q], 0, B * sizeof(float));
                }
            _Pragma("GCC unroll 6") for (int q = 0; q < 6; q++) /* B^T d, down the columns */
                _Pragma("GCC unroll 6") for (int a = 0; a < 6; a++)
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        e[a][q][c] = BT6_ROW(a, d[0][q][c], d[1][q][c], d[2][q][c], d[3][q][c],
                                             d[4][q][c], d[5][q][c]);
            float *out = v + (size_t)k * s->in_c + (size_t)cb * B;
            _Pragma("GCC unroll 6") for (int a = 0; a < 6; a++) /* (B^T d) B, along the rows */
                _Pragma("GCC unroll 6") for (int b = 0; b < 6; b++) {
                    float *vb = out + (a * 6 + b) * plane;
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        vb[c] = BT6_ROW(b, e[a][0][c], e[a][1][c], e[a][2][c], e[a][3][c],
                                        e[a][4][c], e[a][5][c]);
                }
        }
    }
}

/* A^T m A of the chunk's products M[xi][tile][out_c] into y's 4x4 tiles
 * (the rows and columns inside the map), plus the bias, or added into y */
INLINE void f43_output_chunk(const f43_shape *s, const float *m, long tiles, long t0, int count,
                             const float *bias, float *y, bool accumulate, const int B)
{
    const int blocks = s->out_c / B;
    const size_t plane = s->out_plane;
    for (int k = 0; k < count; k++) {
        const long t = t0 + k, sample = t / s->tiles_per_sample;
        const int within = (int)(t % s->tiles_per_sample);
        const int r0 = 4 * (within / s->tiles_w), c0 = 4 * (within % s->tiles_w);
        if (t + F43_PREFETCH_TILES < tiles) { /* y's lines ahead, to be written (or added to) */
            const long ahead = t + F43_PREFETCH_TILES, ahead_sample = ahead / s->tiles_per_sample;
            const int ahead_within = (int)(ahead % s->tiles_per_sample);
            f43_prefetch_tile(y + (size_t)ahead_sample * blocks * s->h * s->w * B,
                              (size_t)s->h * s->w * B, blocks, s->h, s->w,
                              4 * (ahead_within / s->tiles_w), 4 * (ahead_within % s->tiles_w), 4, 4,
                              true, B);
        }
        if (k + F43_PREFETCH_TILES < count) /* and M's 36 planes of that tile, from L2 */
            for (int xi = 0; xi < F43_PLANES; xi++)
                for (int cb = 0; cb < s->out_c; cb += 64 / (int)sizeof(float))
                    __builtin_prefetch(m + xi * plane + (size_t)(k + F43_PREFETCH_TILES) * s->out_c + cb);
        for (int cb = 0; cb < blocks; cb++) {
            const float *in = m + (size_t)k * s->out_c + (size_t)cb * B;
            float e[4][6][NL_MAX_CHANNEL_BLOCK], o[4][4][NL_MAX_CHANNEL_BLOCK], b[NL_MAX_CHANNEL_BLOCK];
            for (int c = 0; c < B; c++)
                b[c] = bias ? bias[cb * B + c] : 0.0f;
            _Pragma("GCC unroll 6") for (int q = 0; q < 6; q++) { /* A^T m, down the columns */
                const float *m0 = in + (0 * 6 + q) * plane, *m1 = in + (1 * 6 + q) * plane;
                const float *m2 = in + (2 * 6 + q) * plane, *m3 = in + (3 * 6 + q) * plane;
                const float *m4 = in + (4 * 6 + q) * plane, *m5 = in + (5 * 6 + q) * plane;
                _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        e[i][q][c] = AT6_ROW(i, m0[c], m1[c], m2[c], m3[c], m4[c], m5[c]);
            }
            _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) /* (A^T m) A, along the rows */
                _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        o[i][j][c] = AT6_ROW(j, e[i][0][c], e[i][1][c], e[i][2][c], e[i][3][c],
                                             e[i][4][c], e[i][5][c]) + b[c];
            float *image = y + ((size_t)sample * blocks + cb) * s->h * s->w * B;
            for (int i = 0; i < 4 && r0 + i < s->h; i++)
                for (int j = 0; j < 4 && c0 + j < s->w; j++) {
                    float *dst = image + ((size_t)(r0 + i) * s->w + c0 + j) * B;
                    if (accumulate) {
                        #pragma omp simd
                        for (int c = 0; c < B; c++)
                            dst[c] += o[i][j][c];
                    } else {
                        memcpy(dst, o[i][j], B * sizeof(float));
                    }
                }
        }
    }
}

/* the convolution of s over n samples with the transformed filters u */
static void f43_convolve(const f43_shape *s, int n, const float *x, const float *bias, float *y,
                         bool accumulate, const float *u, float *scratch)
{
    const long tiles = (long)n * s->tiles_per_sample;
    const long chunks = (tiles + s->chunk - 1) / s->chunk;
    float *v = scratch + f43_per_thread_floats(s) * (size_t)omp_get_thread_num_safe();
    float *m = v + F43_PLANES * s->in_plane;
    #pragma omp for schedule(static)
    for (long ch = 0; ch < chunks; ch++) {
        const long t0 = ch * s->chunk;
        const int count = (int)(tiles - t0 < s->chunk ? tiles - t0 : s->chunk);
        if (s->block == 16)
            f43_input_chunk(s, x, tiles, t0, count, v, 16);
        else
            f43_input_chunk(s, x, tiles, t0, count, v, 8);
        for (int xi = 0; xi < F43_PLANES; xi++)
            nl_cpu_gemm_nn_serial(count, s->out_c, s->in_c, v + xi * s->in_plane, s->in_c,
                                  u + xi * s->u_plane, s->out_c, NULL, m + xi * s->out_plane,
                                  s->out_c, false);
        if (s->block == 16)
            f43_output_chunk(s, m, tiles, t0, count, bias, y, accumulate, 16);
        else
            f43_output_chunk(s, m, tiles, t0, count, bias, y, accumulate, 8);
    }
}

void nl_cpu_winograd_blocked_f43_forward(const nl_conv_geom *g, int n, const float *x,
                                         const float *weight, const float *bias, float *y,
                                         int threads, void *workspace)
{
    const f43_shape s = f43_shape_of(g->in_c, g->out_c, g->in_h, g->in_w, g->in_block);
    float *u = workspace, *scratch = u + f43_filters_floats(&s);
    #pragma omp parallel num_threads(threads)
    {
        f43_transform_filters(&s, weight, false, u); /* its omp for ends in a barrier */
        f43_convolve(&s, n, x, bias, y, false, u, scratch);
    }
}

void nl_cpu_winograd_blocked_f43_input_grad(const nl_conv_geom *g, int n, const float *weight,
                                            const float *dy, float *dx, bool accumulate_dx,
                                            int threads, void *workspace)
{
    const f43_shape s = f43_shape_of(g->out_c, g->in_c, g->in_h, g->in_w, g->in_block);
    float *u = workspace, *scratch = u + f43_filters_floats(&s);
    #pragma omp parallel num_threads(threads)
    {
        f43_transform_filters(&s, weight, true, u);
        f43_convolve(&s, n, dy, NULL, dx, accumulate_dx, u, scratch);
    }
}
