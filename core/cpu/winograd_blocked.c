/* Winograd F(2x2, 3x3) for 3x3 stride-1 pad-1 convolutions in the
 * channel-blocked layout (nChw8c on AVX2, nChw16c on AVX-512), where the
 * plan chose it for a layer (nl_conv_geom.algorithm): the forward, the
 * data gradient (a 3x3 stride-1 pad-1 convolution of dy with the flipped,
 * transposed kernel) and the weight gradient.
 *
 * A 4x4 input tile d gives a 2x2 output tile as A^T [(G g G^T) . (B^T d B)] A
 * (Lavin & Gray 2016). The layout suits it: a tile position's B channels
 * lie side by side, so the transforms work on whole B-float vectors of
 * channels. Each transform is written once, as the row macros below (one
 * row of a matrix applied to four or three values, down a column and then
 * along a row), and every product uses the same ones.
 *
 * Forward and data gradient: the transformed tiles are written as 16
 * row-major matrices V[xi] (tiles x in_c) whose products with U[xi] (in_c
 * x out_c) are the 16 GEMMs, run by gemm.c's register-tiled product on the
 * calling thread (nl_cpu_gemm_nn_serial, the project's GEMM for callers
 * that split the work themselves), each M[xi] row a tile's out_c channels
 * in block order, read back by the output transform as vectors again.
 * Tiles go in chunks whose V and M fit L2 (CHUNK_FLOATS); a chunk's size
 * depends on the channel counts alone and its sums run in one thread in a
 * fixed order, so the bits do not depend on the thread count or on which
 * thread runs which chunk.
 *
 * Weight gradient, the forward's adjoint: with V = B^T d B of a 4x4 input
 * tile and D = A dy A^T of its 2x2 tile of dy (zero past the map),
 * dU[xi] = sum over tiles of D[xi]^T V[xi] (out_c x in_c) and
 * dg = G^T dU G. Written out for a chunk of tiles as the forward's are, V
 * and D are 16 values per 4 pixels each, and at 16 channels their stores
 * and reloads through L2 took twice the 16 GEMMs' time. So V is never
 * written: a unit (a plane xi, a block of B input channels, a block of B
 * output channels) keeps its B x B block of dU in B vector registers and,
 * tile after tile, computes its V vector from the 4 input vectors that
 * plane's rows use (read where they lie) and adds D's B values, broadcast
 * from memory, times it. D is written for a block of WG_BLOCK_TILES tiles
 * at a time (16 KiB-32 KiB, in L1), once for each output block, and read
 * by the 16 x in_c / B units that share it; the input and dy lines of the
 * next block are prefetched while one is summed. Each block's sums are
 * added into dU; each unit's sums run on one thread in tile order, so the
 * bits do not depend on the thread count. The bias gradient is D[1][1]'s
 * sum (a tile's four dy values summed), run by plane 5's units.
 *
 * The coefficients are 0, +-1 and 0.5: results differ from the direct sum
 * by float roundings (the bounds test_conv_winograd states, measured in
 * double). */
#include <stddef.h>
#include <string.h>

#include "cpu/cpu.h"

/* V and M of one chunk: 64 Ki floats, 256 KiB, half the L2 of the hosts
 * measured (results/speed.md) with room for U's planes being read */
enum { CHUNK_FLOATS = 64 * 1024, CHUNK_STEP = 6, MAX_CHUNK = 96, ALIGN_FLOATS = 16 };
/* the weight gradient's tiles per block: their offsets (two tables) and
 * D (16 x WG_BLOCK_TILES x B floats) on each thread's stack; 16-48 measured
 * within the host's noise of each other on the ResNet's layers */
#ifndef WG_BLOCK_TILES
#define WG_BLOCK_TILES 32
#endif

/* The transforms' rows, for floats or vectors alike; with a constant row
 * a the unused operands are not evaluated (nor loaded).
 * BT_ROW: row a of B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] (input);
 * G_ROW: row a of G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1] (filter);
 * AT_ROW: row i of A^T = [1 1 1 0; 0 1 -1 -1] (output);
 * A_ROW: row a of A, A^T's transpose (dy, the weight gradient);
 * GT_ROW: row r of G^T, G's transpose (dU back to dg). */
#define BT_ROW(a, d0, d1, d2, d3)                                                                 \
    ((a) == 0 ? (d0) - (d2) : (a) == 1 ? (d1) + (d2) : (a) == 2 ? (d2) - (d1) : (d1) - (d3))
#define G_ROW(a, g0, g1, g2)                                                                      \
    ((a) == 0 ? (g0) : (a) == 1 ? 0.5f * ((g0) + (g1) + (g2))                                      \
                     : (a) == 2 ? 0.5f * ((g0) - (g1) + (g2)) : (g2))
#define AT_ROW(i, m0, m1, m2, m3) ((i) == 0 ? (m0) + (m1) + (m2) : (m1) - (m2) - (m3))
#define A_ROW(a, y0, y1) ((a) == 0 ? (y0) : (a) == 1 ? (y0) + (y1) : (a) == 2 ? (y0) - (y1) : -(y1))
#define GT_ROW(r, u0, u1, u2, u3)                                                                 \
    ((r) == 0 ? (u0) + 0.5f * ((u1) + (u2)) : (r) == 1 ? 0.5f * ((u1) - (u2))                      \
                                            : 0.5f * ((u1) + (u2)) + (u3))

typedef struct {
    int in_c, out_c; /* of the convolution computed: swapped for the data gradient */
    int h, w, block;
    int tiles_h, tiles_w, tiles_per_sample;
    int chunk; /* tiles per chunk */
    /* floats from one of the 16 planes xi to the next: of V (chunk x
     * in_c), of M (chunk x out_c), of U or dU (in_c x out_c) */
    size_t in_plane, out_plane, u_plane;
} wb_shape;

/* A plane's stride, an odd count of 64-byte lines: the transforms write
 * (and read) all 16 planes of a tile at once, and planes a power-of-two
 * multiple of 4 KiB apart would fall into one L1 set */
static size_t plane_floats(size_t floats)
{
    const size_t lines = (floats + ALIGN_FLOATS - 1) / ALIGN_FLOATS;
    return (lines | 1) * ALIGN_FLOATS;
}

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
    s.in_plane = plane_floats((size_t)s.chunk * in_c);
    s.out_plane = plane_floats((size_t)s.chunk * out_c);
    s.u_plane = plane_floats((size_t)in_c * out_c);
    return s;
}

static size_t filters_floats(const wb_shape *s) { return 16 * s->u_plane; }

static size_t per_thread_floats(const wb_shape *s) { return 16 * (s->in_plane + s->out_plane); }

bool nl_cpu_winograd_blocked_applies(const nl_conv_geom *g)
{
    const int b = g->in_block;
    return g->kernel == 3 && g->stride == 1 && g->pad == 1 && (b == 8 || b == 16) &&
           g->out_block == b && g->in_c % b == 0 && g->out_c % b == 0 &&
           g->out_h == g->in_h && g->out_w == g->in_w && nl_io_narrow(g->io) == 0;
}

size_t nl_cpu_winograd_blocked_workspace(const nl_conv_geom *g, int threads)
{
    /* the data gradient swaps the channels: the same U, the same chunk;
     * the weight gradient needs dU alone, U's size */
    const wb_shape s = shape_of(g->in_c, g->out_c, g->in_h, g->in_w, g->in_block);
    return (filters_floats(&s) + per_thread_floats(&s) * (size_t)threads) * sizeof(float);
}

/* U[xi][i][o] = (G g G^T)[xi] of the kernel g from input channel i to
 * output channel o of the convolution computed: weight[o][i] forward, and
 * for the data gradient (transpose) weight[i][o] turned by 180 degrees,
 * the weight being (s->in_c, s->out_c, 3, 3) there */
static void transform_filters(const wb_shape *s, const float *weight, bool transpose, float *u)
{
    const size_t plane = s->u_plane;
    #pragma omp for schedule(static)
    for (int i = 0; i < s->in_c; i++)
        for (int o = 0; o < s->out_c; o++) {
            float g[3][3], t[4][3];
            for (int r = 0; r < 3; r++)
                for (int q = 0; q < 3; q++)
                    g[r][q] = transpose
                                  ? weight[((size_t)i * s->out_c + o) * 9 + (2 - r) * 3 + (2 - q)]
                                  : weight[((size_t)o * s->in_c + i) * 9 + r * 3 + q];
            _Pragma("GCC unroll 4") for (int a = 0; a < 4; a++) /* G g, down the columns */
                _Pragma("GCC unroll 3") for (int q = 0; q < 3; q++)
                    t[a][q] = G_ROW(a, g[0][q], g[1][q], g[2][q]);
            float *at = u + (size_t)i * s->out_c + o;
            _Pragma("GCC unroll 4") for (int a = 0; a < 4; a++) /* (G g) G^T, along the rows */
                _Pragma("GCC unroll 4") for (int b = 0; b < 4; b++)
                    at[(a * 4 + b) * plane] = G_ROW(b, t[a][0], t[a][1], t[a][2]);
        }
}

#define INLINE static inline __attribute__((always_inline))

/* zeros for a tile's values past the map's edge (its padding) */
static const float zero_block[NL_MAX_CHANNEL_BLOCK] __attribute__((aligned(64)));

/* B^T d B of the chunk's tiles [t0, t0 + count), each block of channels
 * as B-float vectors, into V[xi][tile][in_c]; B is a constant at each call
 * so that the channel loops become whole vectors. (The tile's values are
 * copied next to each other first: read where they lie through a table
 * of pointers, the forward at 16 channels took 8 % longer.) */
INLINE void input_chunk(const wb_shape *s, const float *x, long t0, int count, float *v,
                        const int B)
{
    const int blocks = s->in_c / B;
    const size_t plane = s->in_plane;
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
            _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) /* B^T d, down the columns */
                _Pragma("GCC unroll 4") for (int a = 0; a < 4; a++)
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        e[a][q][c] = BT_ROW(a, d[0][q][c], d[1][q][c], d[2][q][c], d[3][q][c]);
            float *out = v + (size_t)k * s->in_c + (size_t)cb * B;
            _Pragma("GCC unroll 4") for (int a = 0; a < 4; a++) /* (B^T d) B, along the rows */
                _Pragma("GCC unroll 4") for (int b = 0; b < 4; b++) {
                    float *vb = out + (a * 4 + b) * plane;
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        vb[c] = BT_ROW(b, e[a][0][c], e[a][1][c], e[a][2][c], e[a][3][c]);
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
    const size_t plane = s->out_plane;
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
                _Pragma("GCC unroll 2") for (int i = 0; i < 2; i++)
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        e[i][q][c] = AT_ROW(i, m0[c], m1[c], m2[c], m3[c]);
            }
            _Pragma("GCC unroll 2") for (int i = 0; i < 2; i++) /* (A^T m) A, along the rows */
                _Pragma("GCC unroll 2") for (int j = 0; j < 2; j++)
                    #pragma omp simd
                    for (int c = 0; c < B; c++)
                        o[i][j][c] = AT_ROW(j, e[i][0][c], e[i][1][c], e[i][2][c], e[i][3][c]) + b[c];
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
    float *m = v + 16 * s->in_plane;
    #pragma omp for schedule(static)
    for (long ch = 0; ch < chunks; ch++) {
        const long t0 = ch * s->chunk;
        const int count = (int)(tiles - t0 < s->chunk ? tiles - t0 : s->chunk);
        if (s->block == 16)
            input_chunk(s, x, t0, count, v, 16);
        else
            input_chunk(s, x, t0, count, v, 8);
        for (int xi = 0; xi < 16; xi++)
            nl_cpu_gemm_nn_serial(count, s->out_c, s->in_c, v + xi * s->in_plane, s->in_c,
                                  u + xi * s->u_plane, s->out_c, NULL, m + xi * s->out_plane,
                                  s->out_c, false);
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

/* ---- the weight gradient ---- */

/* a block's tile: where its 4x4 input values and 2x2 dy values lie, from
 * channel block 0 of its sample (-1: padding, or past the map) */
typedef struct {
    long x[16], y[4];
} tile_at;

/* the block's tiles into at; prefetch: and their input and dy lines into
 * the cache (the block after the one being summed) */
static void block_tiles(const wb_shape *s, long t0, int count, tile_at *at, const float *x,
                        const float *dy, bool prefetch)
{
    const int B = s->block;
    const long map = (long)s->h * s->w * B;
    const long x_sample = (long)s->in_c * s->h * s->w, y_sample = (long)s->out_c * s->h * s->w;
    long sample = t0 / s->tiles_per_sample;
    const int within = (int)(t0 % s->tiles_per_sample);
    int tr = within / s->tiles_w, tc = within % s->tiles_w;
    for (int k = 0; k < count; k++) {
        const int r0 = 2 * tr, c0 = 2 * tc;
        const long xs = sample * x_sample, ys = sample * y_sample;
        for (int r = 0; r < 4; r++) {
            const int ih = r0 - 1 + r;
            for (int q = 0; q < 4; q++) {
                const int iw = c0 - 1 + q;
                at[k].x[r * 4 + q] = ih >= 0 && ih < s->h && iw >= 0 && iw < s->w
                                         ? xs + ((long)ih * s->w + iw) * B
                                         : -1;
            }
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                at[k].y[i * 2 + j] = r0 + i < s->h && c0 + j < s->w
                                         ? ys + ((long)(r0 + i) * s->w + c0 + j) * B
                                         : -1;
        if (prefetch) { /* the lines this tile reads first (its right half), on their way in */
            for (int r = 0; r < 4; r++)
                for (int q = 2; q < 4; q++) {
                    const long o = at[k].x[r * 4 + q];
                    for (int cb = 0; o >= 0 && cb < s->in_c / B; cb++)
                        __builtin_prefetch(x + o + (long)cb * map);
                }
            for (int p = 0; p < 4; p++)
                for (int cb = 0; at[k].y[p] >= 0 && cb < s->out_c / B; cb++)
                    __builtin_prefetch(dy + at[k].y[p] + (long)cb * map);
        }
        if (++tc == s->tiles_w) { /* the next tile: along the row, then down, then the next sample */
            tc = 0;
            if (++tr == s->tiles_h)
                tr = 0, sample++;
        }
    }
}

typedef float wb_v16 __attribute__((vector_size(64)));
typedef float wb_v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef float wb_v8 __attribute__((vector_size(32)));
typedef float wb_v8u __attribute__((vector_size(32), aligned(4), may_alias));

/* D = A dy A^T of the block's tiles for the B output channels from yb,
 * into d[xi][k][c] (WG_BLOCK_TILES * B floats a plane), as B-float
 * vectors VT (VU unaligned) */
#define DEFINE_BLOCK_GRADS(B, VT, VU)                                                             \
    static void block_grads_##B(const tile_at *at, int count, const float *yb, float *d)         \
    {                                                                                             \
        for (int k = 0; k < count; k++) {                                                         \
            VT y[4];                                                                              \
            _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++)                                   \
                y[p] = *(const VU *)(at[k].y[p] < 0 ? zero_block : yb + at[k].y[p]);              \
            VT e[4][2];                                                                           \
            _Pragma("GCC unroll 4") for (int a = 0; a < 4; a++) /* A dy, down the columns */      \
                _Pragma("GCC unroll 2") for (int j = 0; j < 2; j++)                               \
                    e[a][j] = A_ROW(a, y[j], y[2 + j]);                                           \
            _Pragma("GCC unroll 4") for (int a = 0; a < 4; a++) /* (A dy) A^T, along the rows */  \
                _Pragma("GCC unroll 4") for (int b = 0; b < 4; b++)                               \
                    *(VT *)(d + ((size_t)(a * 4 + b) * WG_BLOCK_TILES + k) * B) =                 \
                        A_ROW(b, e[a][0], e[a][1]);                                               \
        }                                                                                         \
    }

DEFINE_BLOCK_GRADS(16, wb_v16, wb_v16u)
DEFINE_BLOCK_GRADS(8, wb_v8, wb_v8u)

/* One unit's block of tiles: plane xi = 4a + b of dU, the B input channels
 * from xb, the B output channels' D[xi] in d (a row of B per tile); du's B
 * rows (one per output channel, ldu apart, a vector of the B inputs each)
 * set (first) or added the block's sums, and where db is not NULL (plane
 * 5) the block's dy sums likewise. The V vector is computed from the 4
 * input vectors its rows use (a and b are constants at each expansion,
 * UNIT_CASES: the others are never loaded), D's values are broadcast from
 * memory into the B multiply-adds. VT is the B-float vector, VU its
 * unaligned twin. */
#define DEFINE_UNIT(B, VT, VU)                                                                    \
    INLINE void unit_##B(const tile_at *at, int count, const float *xb, const float *d,          \
                         float *du, size_t ldu, float *db, bool first, const int a, const int b)  \
    {                                                                                             \
        VT acc[B], bias_sum = {0};                                                                \
        _Pragma("GCC unroll 16") for (int o = 0; o < B; o++) acc[o] = (VT){0};                    \
        for (int k = 0; k < count; k++) {                                                         \
            const long *xo = at[k].x;                                                             \
            VT xv[16];                                                                            \
            _Pragma("GCC unroll 16") for (int p = 0; p < 16; p++)                                 \
                xv[p] = *(const VU *)(xo[p] < 0 ? zero_block : xb + xo[p]);                       \
            const VT v = BT_ROW(b, BT_ROW(a, xv[0], xv[4], xv[8], xv[12]),                        \
                                BT_ROW(a, xv[1], xv[5], xv[9], xv[13]),                           \
                                BT_ROW(a, xv[2], xv[6], xv[10], xv[14]),                          \
                                BT_ROW(a, xv[3], xv[7], xv[11], xv[15]));                         \
            const float *dk = d + (size_t)k * B;                                                  \
            _Pragma("GCC unroll 16") for (int o = 0; o < B; o++) acc[o] += dk[o] * v;             \
            if (db)                                                                               \
                bias_sum += *(const VU *)dk;                                                      \
        }                                                                                         \
        _Pragma("GCC unroll 16") for (int o = 0; o < B; o++) {                                    \
            VU *row = (VU *)(du + (size_t)o * ldu);                                               \
            *row = first ? acc[o] : (VT)*row + acc[o];                                            \
        }                                                                                         \
        if (db)                                                                                   \
            *(VU *)db = first ? bias_sum : (VT) * (VU *)db + bias_sum;                            \
    }

DEFINE_UNIT(16, wb_v16, wb_v16u)
DEFINE_UNIT(8, wb_v8, wb_v8u)

#define UNIT_CASE(B, XI, ...)                                                                     \
    case XI:                                                                                      \
        unit_##B(__VA_ARGS__, (XI) / 4, (XI) % 4);                                                \
        break;
#define UNIT_CASES(B, ...)                                                                        \
    UNIT_CASE(B, 0, __VA_ARGS__) UNIT_CASE(B, 1, __VA_ARGS__) UNIT_CASE(B, 2, __VA_ARGS__)       \
    UNIT_CASE(B, 3, __VA_ARGS__) UNIT_CASE(B, 4, __VA_ARGS__) UNIT_CASE(B, 5, __VA_ARGS__)       \
    UNIT_CASE(B, 6, __VA_ARGS__) UNIT_CASE(B, 7, __VA_ARGS__) UNIT_CASE(B, 8, __VA_ARGS__)       \
    UNIT_CASE(B, 9, __VA_ARGS__) UNIT_CASE(B, 10, __VA_ARGS__) UNIT_CASE(B, 11, __VA_ARGS__)     \
    UNIT_CASE(B, 12, __VA_ARGS__) UNIT_CASE(B, 13, __VA_ARGS__) UNIT_CASE(B, 14, __VA_ARGS__)    \
    UNIT_CASE(B, 15, __VA_ARGS__)

static void unit(int B, int xi, const tile_at *at, int count, const float *xb, const float *d,
                 float *du, size_t ldu, float *db, bool first)
{
    if (B == 16) {
        switch (xi) { UNIT_CASES(16, at, count, xb, d, du, ldu, db, first) }
    } else {
        switch (xi) { UNIT_CASES(8, at, count, xb, d, du, ldu, db, first) }
    }
}

/* dweight[o][i] = G^T dU[.][o][i] G for output channel o, B input
 * channels at a time (dU's rows are in_c long, so B of them a vector) */
INLINE void inverse_filters(const wb_shape *s, const float *du, int o, float *dweight,
                            const int B)
{
    const size_t plane = s->u_plane;
    for (int i0 = 0; i0 < s->in_c; i0 += B) {
        float h[4][3][NL_MAX_CHANNEL_BLOCK], dw[3][3][NL_MAX_CHANNEL_BLOCK];
        for (int a = 0; a < 4; a++) { /* dU G, along the rows */
            const float *u0 = du + (a * 4 + 0) * plane + (size_t)o * s->in_c + i0;
            const float *u1 = u0 + plane, *u2 = u0 + 2 * plane, *u3 = u0 + 3 * plane;
            _Pragma("GCC unroll 3") for (int q = 0; q < 3; q++)
                #pragma omp simd
                for (int c = 0; c < B; c++)
                    h[a][q][c] = GT_ROW(q, u0[c], u1[c], u2[c], u3[c]);
        }
        _Pragma("GCC unroll 3") for (int r = 0; r < 3; r++) /* G^T (dU G), down the columns */
            _Pragma("GCC unroll 3") for (int q = 0; q < 3; q++)
                #pragma omp simd
                for (int c = 0; c < B; c++)
                    dw[r][q][c] = GT_ROW(r, h[0][q][c], h[1][q][c], h[2][q][c], h[3][q][c]);
        float *dst = dweight + ((size_t)o * s->in_c + i0) * 9;
        for (int c = 0; c < B; c++)
            for (int r = 0; r < 3; r++)
                for (int q = 0; q < 3; q++)
                    dst[c * 9 + r * 3 + q] = dw[r][q][c];
    }
}

void nl_cpu_winograd_blocked_weight_grad(const nl_conv_geom *g, int n, const float *x,
                                         const float *dy, float *dweight, float *dbias,
                                         int threads, void *workspace)
{
    const wb_shape s = shape_of(g->in_c, g->out_c, g->in_h, g->in_w, g->in_block);
    const int B = s.block, in_blocks = s.in_c / B, out_blocks = s.out_c / B;
    const int units = 16 * in_blocks * out_blocks;
    const size_t map = (size_t)s.h * s.w * B;
    const long tiles = (long)n * s.tiles_per_sample;
    float *du = workspace; /* dU[xi][o][i] */
    #pragma omp parallel num_threads(threads)
    {
        /* the units split over the team, each run whole by one thread:
         * unit u is plane u % 16 of input block u / 16 % in_blocks and
         * output block u / 16 / in_blocks, so a thread's units share few
         * output blocks, and D is computed once a block for each */
        const int team = omp_get_num_threads_safe(), me = omp_get_thread_num_safe();
        const int u0 = (int)((long)units * me / team), u1 = (int)((long)units * (me + 1) / team);
        tile_at tables[2][WG_BLOCK_TILES];
        float d[16 * WG_BLOCK_TILES * NL_MAX_CHANNEL_BLOCK] __attribute__((aligned(64)));
        for (long t0 = 0; t0 < tiles && u0 < u1; t0 += WG_BLOCK_TILES) {
            const int count = (int)(tiles - t0 < WG_BLOCK_TILES ? tiles - t0 : WG_BLOCK_TILES);
            /* the tables of this block (made, with its prefetches, while
             * the last one was summed) and of the next */
            tile_at *at = tables[(t0 / WG_BLOCK_TILES) % 2], *next = tables[(t0 / WG_BLOCK_TILES + 1) % 2];
            if (t0 == 0)
                block_tiles(&s, t0, count, at, x, dy, false);
            if (t0 + WG_BLOCK_TILES < tiles) {
                const long left = tiles - t0 - WG_BLOCK_TILES;
                block_tiles(&s, t0 + WG_BLOCK_TILES, left < WG_BLOCK_TILES ? (int)left : WG_BLOCK_TILES,
                            next, x, dy, true);
            }
            int ob_done = -1;
            for (int u = u0; u < u1; u++) {
                const int xi = u % 16, ib = u / 16 % in_blocks, ob = u / 16 / in_blocks;
                if (ob != ob_done) {
                    if (B == 16)
                        block_grads_16(at, count, dy + ob * map, d);
                    else
                        block_grads_8(at, count, dy + ob * map, d);
                    ob_done = ob;
                }
                float *db = dbias && xi == 5 && ib == 0 ? dbias + (size_t)ob * B : NULL;
                unit(B, xi, at, count, x + ib * map, d + (size_t)xi * WG_BLOCK_TILES * B,
                     du + xi * s.u_plane + (size_t)ob * B * s.in_c + (size_t)ib * B,
                     (size_t)s.in_c, db, t0 == 0);
            }
        }
        if (tiles == 0) /* nothing was summed */
            #pragma omp single
            {
                memset(du, 0, filters_floats(&s) * sizeof *du);
                if (dbias)
                    memset(dbias, 0, (size_t)s.out_c * sizeof *dbias);
            }
        #pragma omp barrier
        #pragma omp for schedule(static)
        for (int o = 0; o < s.out_c; o++) {
            if (B == 16)
                inverse_filters(&s, du, o, dweight, 16);
            else
                inverse_filters(&s, du, o, dweight, 8);
        }
    }
}
