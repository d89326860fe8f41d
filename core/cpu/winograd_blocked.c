/* Winograd F(2x2, 3x3) for 3x3 stride-1 pad-1 convolutions in the
 * channel-blocked layout (nChw8c on AVX2, nChw16c on AVX-512), where the
 * plan chose it for a layer (nl_conv_geom.algorithm): the forward and the
 * data gradient, a 3x3 stride-1 pad-1 convolution of dy with the flipped,
 * transposed kernel. The weight gradient stays oneDNN's (conv2d.c).
 *
 * A 4x4 input tile d gives a 2x2 output tile as A^T [(G g G^T) . (B^T d B)] A
 * (Lavin & Gray 2016). The layout suits it: a tile position's B channels
 * lie side by side, so both transforms work on whole B-float vectors of
 * channels, and the transformed tiles are written as 16 row-major matrices
 * V[xi] (tiles x in_c) whose products with U[xi] (in_c x out_c) are the 16
 * GEMMs, run by gemm.c's register-tiled product on the calling thread
 * (nl_cpu_gemm_nn_serial, the project's GEMM for callers that split the
 * work themselves), each M[xi] row a tile's out_c channels in block order,
 * read back by the output transform as vectors again.
 *
 * Tiles go in chunks whose V and M fit L2 (CHUNK_FLOATS); a chunk's size
 * depends on the channel counts alone and its sums run in one thread in a
 * fixed order, so the bits do not depend on the thread count or on which
 * thread runs which chunk. The transforms' coefficients are 0, +-1 and 0.5:
 * the results differ from the direct sum by a few float roundings (the
 * bound test_conv_winograd states, measured in double). */
#include <stddef.h>
#include <string.h>

#include "cpu/cpu.h"

/* V and M of one chunk: 64 Ki floats, 256 KiB, half the L2 of the hosts
 * measured (results/speed.md) with room for U's planes being read */
enum { CHUNK_FLOATS = 64 * 1024, CHUNK_STEP = 6, MAX_CHUNK = 96, ALIGN_FLOATS = 16 };

typedef struct {
    int in_c, out_c; /* of the convolution computed: swapped for the data gradient */
    int h, w, block;
    int tiles_h, tiles_w, tiles_per_sample;
    int chunk; /* tiles per chunk */
} wb_shape;

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static wb_shape shape_of(int in_c, int out_c, int h, int w, int block)
{
    wb_shape s = {.in_c = in_c, .out_c = out_c, .h = h, .w = w, .block = block};
    s.tiles_h = (h + 1) / 2;
    s.tiles_w = (w + 1) / 2;
    s.tiles_per_sample = s.tiles_h * s.tiles_w;
    /* a multiple of the GEMM's 6-row register tile, so that only a
     * chunk's last rows can fall outside one */
    int chunk = CHUNK_FLOATS / (16 * (in_c + out_c)) / CHUNK_STEP * CHUNK_STEP;
    s.chunk = chunk < CHUNK_STEP ? CHUNK_STEP : chunk > MAX_CHUNK ? MAX_CHUNK : chunk;
    return s;
}

static size_t filters_floats(const wb_shape *s) { return round_up((size_t)16 * s->in_c * s->out_c); }

static size_t per_thread_floats(const wb_shape *s)
{
    return round_up((size_t)16 * s->chunk * s->in_c) + round_up((size_t)16 * s->chunk * s->out_c);
}

bool nl_cpu_winograd_blocked_applies(const nl_conv_geom *g)
{
    const int b = g->in_block;
    return g->kernel == 3 && g->stride == 1 && g->pad == 1 && (b == 8 || b == 16) &&
           g->out_block == b && g->in_c % b == 0 && g->out_c % b == 0 &&
           g->out_h == g->in_h && g->out_w == g->in_w && nl_io_narrow(g->io) == 0;
}

size_t nl_cpu_winograd_blocked_workspace(const nl_conv_geom *g, int threads)
{
    /* the data gradient swaps the channels: the same U, the same chunk */
    const wb_shape s = shape_of(g->in_c, g->out_c, g->in_h, g->in_w, g->in_block);
    return (filters_floats(&s) + per_thread_floats(&s) * (size_t)threads) * sizeof(float);
}

/* U[xi][i][o] = (G g G^T)[xi] of the kernel g from input channel i to
 * output channel o of the convolution computed: weight[o][i] forward, and
 * for the data gradient (transpose) weight[i][o] turned by 180 degrees,
 * the weight being (s->in_c, s->out_c, 3, 3) there */
static void transform_filters(const wb_shape *s, const float *weight, bool transpose, float *u)
{
    const size_t plane = (size_t)s->in_c * s->out_c;
    #pragma omp for schedule(static)
    for (int i = 0; i < s->in_c; i++)
        for (int o = 0; o < s->out_c; o++) {
            float g[3][3], t[4][3];
            for (int r = 0; r < 3; r++)
                for (int q = 0; q < 3; q++)
                    g[r][q] = transpose
                                  ? weight[((size_t)i * s->out_c + o) * 9 + (2 - r) * 3 + (2 - q)]
                                  : weight[((size_t)o * s->in_c + i) * 9 + r * 3 + q];
            for (int q = 0; q < 3; q++) { /* G g */
                t[0][q] = g[0][q];
                t[1][q] = 0.5f * (g[0][q] + g[1][q] + g[2][q]);
                t[2][q] = 0.5f * (g[0][q] - g[1][q] + g[2][q]);
                t[3][q] = g[2][q];
            }
            float *at = u + (size_t)i * s->out_c + o;
            for (int a = 0; a < 4; a++) { /* (G g) G^T */
                at[(a * 4 + 0) * plane] = t[a][0];
                at[(a * 4 + 1) * plane] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
                at[(a * 4 + 2) * plane] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
                at[(a * 4 + 3) * plane] = t[a][2];
            }
        }
}

#define INLINE static inline __attribute__((always_inline))

/* B^T d B of the chunk's tiles [t0, t0 + count), each block of channels
 * as B-float vectors, into V[xi][tile][in_c]; B is a constant at each call
 * so that the channel loops become whole vectors */
INLINE void input_chunk(const wb_shape *s, const float *x, long t0, int count, float *v,
                        const int B)
{
    const int blocks = s->in_c / B;
    const size_t plane = (size_t)s->chunk * s->in_c;
    for (int k = 0; k < count; k++) {
        const long t = t0 + k, sample = t / s->tiles_per_sample;
        const int within = (int)(t % s->tiles_per_sample);
        const int r0 = 2 * (within / s->tiles_w) - 1, c0 = 2 * (within % s->tiles_w) - 1;
        for (int cb = 0; cb < blocks; cb++) {
            const float *image = x + ((size_t)sample * blocks + cb) * s->h * s->w * B;
            float d[4][4][NL_MAX_CHANNEL_BLOCK], e[4][4][NL_MAX_CHANNEL_BLOCK];
            for (int r = 0; r < 4; r++)
                for (int q = 0; q < 4; q++) {
                    const int ih = r0 + r, iw = c0 + q;
                    if (ih >= 0 && ih < s->h && iw >= 0 && iw < s->w) /* else padding */
                        memcpy(d[r][q], image + ((size_t)ih * s->w + iw) * B, B * sizeof(float));
                    else
                        memset(d[r][q], 0, B * sizeof(float));
                }
            for (int q = 0; q < 4; q++) /* B^T d, down the columns */
                #pragma omp simd
                for (int c = 0; c < B; c++) {
                    e[0][q][c] = d[0][q][c] - d[2][q][c];
                    e[1][q][c] = d[1][q][c] + d[2][q][c];
                    e[2][q][c] = d[2][q][c] - d[1][q][c];
                    e[3][q][c] = d[1][q][c] - d[3][q][c];
                }
            float *out = v + (size_t)k * s->in_c + (size_t)cb * B;
            for (int a = 0; a < 4; a++) { /* (B^T d) B, along the rows */
                float *v0 = out + (a * 4 + 0) * plane, *v1 = out + (a * 4 + 1) * plane;
                float *v2 = out + (a * 4 + 2) * plane, *v3 = out + (a * 4 + 3) * plane;
                #pragma omp simd
                for (int c = 0; c < B; c++) {
                    v0[c] = e[a][0][c] - e[a][2][c];
                    v1[c] = e[a][1][c] + e[a][2][c];
                    v2[c] = e[a][2][c] - e[a][1][c];
                    v3[c] = e[a][1][c] - e[a][3][c];
                }
            }
        }
    }
}

/* A^T m A of the chunk's products M[xi][tile][out_c] into y's 2x2 tiles
 * (the rows and columns inside the map), plus the bias, or added into y */
INLINE void output_chunk(const wb_shape *s, const float *m, long t0, int count, const float *bias,
                         float *y, bool accumulate, const int B)
{
    const int blocks = s->out_c / B;
    const size_t plane = (size_t)s->chunk * s->out_c;
    for (int k = 0; k < count; k++) {
        const long t = t0 + k, sample = t / s->tiles_per_sample;
        const int within = (int)(t % s->tiles_per_sample);
        const int r0 = 2 * (within / s->tiles_w), c0 = 2 * (within % s->tiles_w);
        for (int cb = 0; cb < blocks; cb++) {
            const float *in = m + (size_t)k * s->out_c + (size_t)cb * B;
            float e[2][4][NL_MAX_CHANNEL_BLOCK], o[2][2][NL_MAX_CHANNEL_BLOCK], b[NL_MAX_CHANNEL_BLOCK];
            for (int c = 0; c < B; c++)
                b[c] = bias ? bias[cb * B + c] : 0.0f;
            for (int q = 0; q < 4; q++) { /* A^T m, down the columns */
                const float *m0 = in + (0 * 4 + q) * plane, *m1 = in + (1 * 4 + q) * plane;
                const float *m2 = in + (2 * 4 + q) * plane, *m3 = in + (3 * 4 + q) * plane;
                #pragma omp simd
                for (int c = 0; c < B; c++) {
                    e[0][q][c] = m0[c] + m1[c] + m2[c];
                    e[1][q][c] = m1[c] - m2[c] - m3[c];
                }
            }
            for (int i = 0; i < 2; i++) /* (A^T m) A, along the rows */
                #pragma omp simd
                for (int c = 0; c < B; c++) {
                    o[i][0][c] = e[i][0][c] + e[i][1][c] + e[i][2][c] + b[c];
                    o[i][1][c] = e[i][1][c] - e[i][2][c] - e[i][3][c] + b[c];
                }
            float *image = y + ((size_t)sample * blocks + cb) * s->h * s->w * B;
            for (int i = 0; i < 2 && r0 + i < s->h; i++)
                for (int j = 0; j < 2 && c0 + j < s->w; j++) {
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
static void convolve(const wb_shape *s, int n, const float *x, const float *bias, float *y,
                     bool accumulate, float *u, float *scratch)
{
    const long tiles = (long)n * s->tiles_per_sample;
    const long chunks = (tiles + s->chunk - 1) / s->chunk;
    float *v = scratch + per_thread_floats(s) * (size_t)omp_get_thread_num_safe();
    float *m = v + round_up((size_t)16 * s->chunk * s->in_c);
    #pragma omp for schedule(static)
    for (long ch = 0; ch < chunks; ch++) {
        const long t0 = ch * s->chunk;
        const int count = (int)(tiles - t0 < s->chunk ? tiles - t0 : s->chunk);
        if (s->block == 16)
            input_chunk(s, x, t0, count, v, 16);
        else
            input_chunk(s, x, t0, count, v, 8);
        for (int xi = 0; xi < 16; xi++)
            nl_cpu_gemm_nn_serial(count, s->out_c, s->in_c, v + (size_t)xi * s->chunk * s->in_c,
                                  s->in_c, u + (size_t)xi * s->in_c * s->out_c, s->out_c, NULL,
                                  m + (size_t)xi * s->chunk * s->out_c, s->out_c, false);
        if (s->block == 16)
            output_chunk(s, m, t0, count, bias, y, accumulate, 16);
        else
            output_chunk(s, m, t0, count, bias, y, accumulate, 8);
    }
}

void nl_cpu_winograd_blocked_forward(const nl_conv_geom *g, int n, const float *x,
                                     const float *weight, const float *bias, float *y,
                                     int threads, void *workspace)
{
    const wb_shape s = shape_of(g->in_c, g->out_c, g->in_h, g->in_w, g->in_block);
    float *u = workspace, *scratch = u + filters_floats(&s);
    #pragma omp parallel num_threads(threads)
    {
        transform_filters(&s, weight, false, u); /* its omp for ends in a barrier */
        convolve(&s, n, x, bias, y, false, u, scratch);
    }
}

void nl_cpu_winograd_blocked_input_grad(const nl_conv_geom *g, int n, const float *weight,
                                        const float *dy, float *dx, bool accumulate_dx,
                                        int threads, void *workspace)
{
    const wb_shape s = shape_of(g->out_c, g->in_c, g->in_h, g->in_w, g->in_block);
    float *u = workspace, *scratch = u + filters_floats(&s);
    #pragma omp parallel num_threads(threads)
    {
        transform_filters(&s, weight, true, u);
        convolve(&s, n, dy, NULL, dx, accumulate_dx, u, scratch);
    }
}
