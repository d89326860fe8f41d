/* Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1:
 * the forward pass, the input gradient (a 3x3 convolution of dy with the
 * flipped, transposed kernel, also stride 1 and padding 1) and the weight
 * gradient (at the end of this file).
 *
 * A 4x4 input tile d gives a 2x2 output tile as A^T [(G g G^T) . (B^T d B)] A
 * (Lavin & Gray 2016): 16 products per 4 outputs where im2col + GEMM does
 * 36, so 2.25x fewer multiplies. The 16 element-wise products, summed over
 * input channels, are 16 small GEMMs: M[xi] = U[xi] (out_c x in_c) times
 * V[xi] (in_c x tiles). With this file's transforms (only 0, +-1 and 0.5
 * coefficients) the results differ from the direct sum by a few float
 * roundings (checked against PyTorch at 1e-5 by the layer goldens).
 *
 * Work goes in blocks of up to 16 tiles (two 8-float vectors): a block
 * transforms its inputs, runs the 16 GEMMs with its own 4 x 16 register
 * kernel (sgemm's packing would cost more than these small products), and
 * writes its outputs, all within L2 (block buffers of 16 x in_c x 24 and
 * 16 x out_c x 24 floats, plus the transformed kernel, 16 x out_c x in_c).
 * Blocks are split over threads; a tile's sums run over input channels in
 * order inside one thread, so the result does not depend on the thread
 * count or on which block holds it. */
#include <stddef.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/reduce.h"
#include "cpu/vmath.h"

enum { BLOCK_TILES = 16, ROW_GROUP = 4, ALIGN_FLOATS = 16 };
/* multiply's AVX-512 kernel holds a block's tiles in one 16-float vector */
_Static_assert(BLOCK_TILES == 16, "a block is one 16-float vector of tiles");

typedef struct {
    int in_c, out_c; /* channels of the convolution computed here */
    int out_c4;      /* out_c rounded up to the register kernel's 4 rows */
    int h, w;        /* map size, the same in and out */
    int tiles_h, tiles_w, tiles_per_sample;
} wg_shape;

static wg_shape shape_of(int in_c, int out_c, int h, int w)
{
    wg_shape s;
    s.in_c = in_c;
    s.out_c = out_c;
    s.out_c4 = (out_c + ROW_GROUP - 1) / ROW_GROUP * ROW_GROUP;
    s.h = h;
    s.w = w;
    s.tiles_h = (h + 1) / 2;
    s.tiles_w = (w + 1) / 2;
    s.tiles_per_sample = s.tiles_h * s.tiles_w;
    return s;
}

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static size_t filters_floats(const wg_shape *s) { return round_up((size_t)16 * s->out_c4 * s->in_c); }

static size_t per_thread_floats(const wg_shape *s)
{
    /* V and M of one block, rows of BLOCK_TILES + 8 floats (see ROW_FLOATS) */
    return round_up((size_t)16 * s->in_c * (BLOCK_TILES + 8)) +
           round_up((size_t)16 * s->out_c4 * (BLOCK_TILES + 8) + 8);
}

bool nl_cpu_winograd_applies(const nl_conv_geom *g)
{
    /* thin channel counts leave the 16 GEMMs too little to do per tile
     * (a first layer on 1-3 input channels): im2col does better there */
    return g->kernel == 3 && g->stride == 1 && g->pad == 1 && g->in_c >= 8 && g->out_c >= 8;
}

static size_t weight_grad_floats(const wg_shape *s);

size_t nl_cpu_winograd_workspace(const nl_conv_geom *g, int threads)
{
    /* the forward and the input gradient swap the channel roles */
    const wg_shape fwd = shape_of(g->in_c, g->out_c, g->in_h, g->in_w);
    const wg_shape bwd = shape_of(g->out_c, g->in_c, g->in_h, g->in_w);
    size_t filters = filters_floats(&fwd), per_thread = per_thread_floats(&fwd);
    if (filters_floats(&bwd) > filters)
        filters = filters_floats(&bwd);
    if (per_thread_floats(&bwd) > per_thread)
        per_thread = per_thread_floats(&bwd);
    const size_t products = filters + per_thread * (size_t)threads;
    const size_t weight_grad = weight_grad_floats(&fwd) * (size_t)threads;
    return (products > weight_grad ? products : weight_grad) * sizeof(float);
}

/* U = G g G^T for every (output, input) channel pair, stored as
 * U[xi][out / 4][in][out % 4] so the register kernel reads its four rows'
 * values for one input channel with one contiguous load each. transpose:
 * the kernel of the input gradient, g'[o][i] = g[i][o] rotated by 180
 * degrees, where the convolution's weight is (in_c, out_c, 3, 3) in this
 * file's terms. */
static void transform_filters(const wg_shape *s, const float *weight, bool transpose, float *u)
{
    enum { INPUTS_PER_PASS = 32 };
    const int row_groups = s->out_c4 / ROW_GROUP;
    #pragma omp for schedule(static)
    for (int og = 0; og < row_groups; og++) {
        /* the 16 planes of U lie out_c4 * in_c floats apart: writing them
         * element by element puts 16 streams on the same cache sets; a pass
         * collects 32 inputs' values per plane first and copies each
         * plane's run in one go */
        for (int i0 = 0; i0 < s->in_c; i0 += INPUTS_PER_PASS) {
            const int count = s->in_c - i0 < INPUTS_PER_PASS ? s->in_c - i0 : INPUTS_PER_PASS;
            float planes[16][INPUTS_PER_PASS * ROW_GROUP];
            for (int di = 0; di < count; di++) {
                const int i = i0 + di;
                for (int r4 = 0; r4 < ROW_GROUP; r4++) {
                    const int o = og * ROW_GROUP + r4;
                    float g[3][3];
                    for (int r = 0; r < 3; r++)
                        for (int q = 0; q < 3; q++) {
                            if (o >= s->out_c)
                                g[r][q] = 0.0f; /* padding rows of the register kernel */
                            else if (!transpose)
                                g[r][q] = weight[((size_t)o * s->in_c + i) * 9 + r * 3 + q];
                            else
                                g[r][q] = weight[((size_t)i * s->out_c + o) * 9 + (2 - r) * 3 +
                                                 (2 - q)];
                        }
                    float t[4][3]; /* G g */
                    for (int q = 0; q < 3; q++) {
                        t[0][q] = g[0][q];
                        t[1][q] = 0.5f * (g[0][q] + g[1][q] + g[2][q]);
                        t[2][q] = 0.5f * (g[0][q] - g[1][q] + g[2][q]);
                        t[3][q] = g[2][q];
                    }
                    for (int a = 0; a < 4; a++) { /* (G g) G^T */
                        float *pa = &planes[a * 4][di * ROW_GROUP + r4];
                        const size_t stride = INPUTS_PER_PASS * ROW_GROUP;
                        pa[0] = t[a][0];
                        pa[stride] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
                        pa[2 * stride] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
                        pa[3 * stride] = t[a][2];
                    }
                }
            }
            for (int xi = 0; xi < 16; xi++)
                memcpy(u + (((size_t)xi * row_groups + og) * s->in_c + i0) * ROW_GROUP, planes[xi],
                       (size_t)count * ROW_GROUP * sizeof(float));
        }
    }
}

/* A block is whole tile rows, or segments of one when a row has more than
 * 16 tiles: then each transform works on a row segment with 8-float vectors
 * (the tile at column j reads input columns 2j-1 .. 2j+2, so even and odd
 * columns, de-interleaved, give all 16 values of 8 tiles at once). Rows of
 * 7 tiles (14x14 maps) fill 14 of a block's 16 GEMM columns. */
typedef struct {
    int segments_per_row;  /* tile rows are cut into this many segments */
    int segments_per_block;
    int column_step;       /* block column of segment r: r * column_step */
    long segments;         /* over all samples */
    long blocks;
} wg_blocking;

static wg_blocking blocking_of(const wg_shape *s, int n)
{
    wg_blocking b;
    b.segments_per_row = (s->tiles_w + BLOCK_TILES - 1) / BLOCK_TILES;
    b.segments_per_block = b.segments_per_row == 1 ? BLOCK_TILES / s->tiles_w : 1;
    b.column_step = b.segments_per_row == 1 ? s->tiles_w : 0;
    b.segments = (long)n * s->tiles_h * b.segments_per_row;
    b.blocks = (b.segments + b.segments_per_block - 1) / b.segments_per_block;
    return b;
}

typedef struct {
    long sample;
    int tile_row, first_tile, tiles, column;
} wg_segment;

static wg_segment segment_at(const wg_shape *s, const wg_blocking *b, long index)
{
    wg_segment g;
    const long per_sample = (long)s->tiles_h * b->segments_per_row;
    const int within = (int)(index % per_sample), part = within % b->segments_per_row;
    g.sample = index / per_sample;
    g.tile_row = within / b->segments_per_row;
    g.first_tile = part * s->tiles_w / b->segments_per_row;
    g.tiles = (part + 1) * s->tiles_w / b->segments_per_row - g.first_tile;
    g.column = (int)(index % b->segments_per_block) * b->column_step;
    return g;
}

/* block buffers: rows of ROW_FLOATS so that 8-wide stores and loads at any
 * segment start stay inside their row */
enum { ROW_FLOATS = BLOCK_TILES + 8, WINDOW = 2 * BLOCK_TILES + 8 };


/* p[l] for the lanes lo <= l < hi, zero elsewhere; nothing outside those
 * lanes is read. Building a transform's window this way, in registers, and
 * not by stores into a zeroed buffer that 8-wide loads then straddle,
 * avoids a store-forwarding stall on every load. The lane masks depend on
 * the column alone, so the transforms make them once per segment, not once
 * per channel and row. */
#if defined(__AVX2__)
typedef __m256i lane_mask;

static inline lane_mask lanes_between(int lo, int hi)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), lane),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
}

static inline nl_v8 load_masked(const float *p, lane_mask m)
{
    return (nl_v8)_mm256_maskload_ps(p, m);
}

static inline void store_masked(float *p, lane_mask m, nl_v8 v)
{
    _mm256_maskstore_ps(p, m, (__m256)v);
}
#else
typedef struct {
    int lo, hi;
} lane_mask;

static inline lane_mask lanes_between(int lo, int hi) { return (lane_mask){lo, hi}; }

static inline nl_v8 load_masked(const float *p, lane_mask m)
{
    nl_v8 v = {0};
    for (int l = m.lo < 0 ? 0 : m.lo; l < m.hi && l < 8; l++)
        v[l] = p[l];
    return v;
}

static inline void store_masked(float *p, lane_mask m, nl_v8 v)
{
    for (int l = m.lo < 0 ? 0 : m.lo; l < m.hi && l < 8; l++)
        p[l] = v[l];
}
#endif

/* (a[1..8), b[0]): the vector one lane on */
static inline nl_v8 next_lane(nl_v8 a, nl_v8 b)
{
    return NL_V8_SHUFFLE(a, b, 1, 2, 3, 4, 5, 6, 7, 8);
}

/* V[xi][c][column + j] = (B^T d B)[xi] of the segment's tiles */
static void transform_inputs(const wg_shape *s, const float *x, const wg_segment *g, float *v)
{
    const size_t plane = (size_t)s->h * s->w;
    const size_t xi_stride = (size_t)s->in_c * ROW_FLOATS;
    const int x_first = 2 * g->first_tile - 1, span = 2 * g->tiles + 2;
    /* window columns [k_lo, k_hi) lie inside the map, the rest is padding;
     * the 8-tile steps below read up to column 2 * (tiles rounded up to 8) + 2 */
    const int k_lo = x_first < 0 ? -x_first : 0;
    const int k_hi = x_first + span <= s->w ? span : s->w - x_first;
    /* whole vectors; the column stage's 8-tile step reads one vector past its
     * 16 columns for the last tile's right neighbour, needed only when that
     * tile exists (a 14x14 map's 7-tile rows skip a third of the row work) */
    const int used = 2 * ((g->tiles + 7) / 8 * 8) + (g->tiles % 8 ? 0 : 8);
    bool inside[4];
    for (int r = 0; r < 4; r++) {
        const int y = 2 * g->tile_row - 1 + r;
        inside[r] = y >= 0 && y < s->h;
    }
    const int y0 = 2 * g->tile_row - 1;
    /* zero: a vector the rows do not reach still feeds the unused last lane */
    float e[4][WINDOW] __attribute__((aligned(32))) = {{0}};
    lane_mask mask[WINDOW / 8];
    for (int k = 0; k < used; k += 8)
        mask[k / 8] = lanes_between(k_lo - k, k_hi - k);
    for (int c = 0; c < s->in_c; c++) {
        const float *xc = x + ((size_t)g->sample * s->in_c + c) * plane + x_first;
        /* B^T d along the rows, the window's rows loaded straight into registers */
        for (int k = 0; k < used; k += 8) {
            nl_v8 d[4];
            for (int r = 0; r < 4; r++)
                d[r] = inside[r] ? load_masked(xc + (ptrdiff_t)(y0 + r) * s->w + k, mask[k / 8])
                                 : (nl_v8){0};
            *(nl_v8u *)(e[0] + k) = d[0] - d[2];
            *(nl_v8u *)(e[1] + k) = d[1] + d[2];
            *(nl_v8u *)(e[2] + k) = d[2] - d[1];
            *(nl_v8u *)(e[3] + k) = d[1] - d[3];
        }
        /* ... B along the columns, 8 tiles at a time; every load matches a
         * store above, and the columns one on come from lane shifts */
        for (int j0 = 0; j0 < g->tiles; j0 += 8) {
            for (int a = 0; a < 4; a++) {
                const float *ea = e[a] + 2 * j0;
                const nl_v8 lo = nl_v8_load(ea), hi = nl_v8_load(ea + 8);
                const nl_v8 next = nl_v8_load(ea + 16);
                const nl_v8 col0 = nl_v8_evens(lo, hi), col1 = nl_v8_odds(lo, hi); /* 2j-1, 2j */
                const nl_v8 col2 = next_lane(col0, nl_v8_evens(next, next));  /* 2j+1 */
                const nl_v8 col3 = next_lane(col1, nl_v8_odds(next, next));   /* 2j+2 */
                float *va = v + (size_t)(a * 4) * xi_stride + (size_t)c * ROW_FLOATS + g->column + j0;
                *(nl_v8u *)va = col0 - col2;
                *(nl_v8u *)(va + xi_stride) = col1 + col2;
                *(nl_v8u *)(va + 2 * xi_stride) = col2 - col1;
                *(nl_v8u *)(va + 3 * xi_stride) = col1 - col3;
            }
        }
    }
}

#if defined(__AVX512F__)
#define WG_IN_REGISTER(v) __asm__("" : "+v"(v))
#endif

/* M[xi][o][j] = sum_i U[xi][o][i] V[xi][i][j]: 4 output rows x 16 tiles in
 * eight accumulators, input channels in order */
static void multiply(const wg_shape *s, const float *u, const float *v, float *m)
{
    const int row_groups = s->out_c4 / ROW_GROUP;
    for (int xi = 0; xi < 16; xi++) {
        const float *vx = v + (size_t)xi * s->in_c * ROW_FLOATS;
        int og = 0;
#if defined(__AVX512F__)
        /* a block's 16 tiles are one 16-float vector: two row groups at a
         * time keep eight of them accumulating, as many FMAs in flight as
         * the 8-float kernel below with half the instructions. Each lane
         * takes the same FMAs in the same order, so the bits do not change. */
        for (; og + 2 <= row_groups; og += 2) {
            const float *ug = u + ((size_t)xi * row_groups + og) * s->in_c * ROW_GROUP;
            const float *ug_next = ug + (size_t)s->in_c * ROW_GROUP;
            nl_v16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};
            for (int i = 0; i < s->in_c; i++) {
                nl_v16 tiles = *(const nl_v16u *)(vx + (size_t)i * ROW_FLOATS);
                WG_IN_REGISTER(tiles); /* one load for the eight FMAs */
                const float *ui = ug + (size_t)i * ROW_GROUP;
                const float *un = ug_next + (size_t)i * ROW_GROUP;
                c0 += nl_v16_splat(ui[0]) * tiles;
                c1 += nl_v16_splat(ui[1]) * tiles;
                c2 += nl_v16_splat(ui[2]) * tiles;
                c3 += nl_v16_splat(ui[3]) * tiles;
                c4 += nl_v16_splat(un[0]) * tiles;
                c5 += nl_v16_splat(un[1]) * tiles;
                c6 += nl_v16_splat(un[2]) * tiles;
                c7 += nl_v16_splat(un[3]) * tiles;
            }
            float *mo = m + ((size_t)xi * s->out_c4 + (size_t)og * ROW_GROUP) * ROW_FLOATS;
            *(nl_v16u *)(mo + 0 * ROW_FLOATS) = c0;
            *(nl_v16u *)(mo + 1 * ROW_FLOATS) = c1;
            *(nl_v16u *)(mo + 2 * ROW_FLOATS) = c2;
            *(nl_v16u *)(mo + 3 * ROW_FLOATS) = c3;
            *(nl_v16u *)(mo + 4 * ROW_FLOATS) = c4;
            *(nl_v16u *)(mo + 5 * ROW_FLOATS) = c5;
            *(nl_v16u *)(mo + 6 * ROW_FLOATS) = c6;
            *(nl_v16u *)(mo + 7 * ROW_FLOATS) = c7;
        }
#endif
        for (; og < row_groups; og++) {
            const float *ug = u + ((size_t)xi * row_groups + og) * s->in_c * ROW_GROUP;
            nl_v8 a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0};
            for (int i = 0; i < s->in_c; i++) {
                nl_v8 lo = nl_v8_load(vx + (size_t)i * ROW_FLOATS);
                nl_v8 hi = nl_v8_load(vx + (size_t)i * ROW_FLOATS + 8);
                /* into registers once: folded into all four multiply-adds
                 * they were 12 loads per 8 FMAs */
                NL_IN_REGISTER(lo);
                NL_IN_REGISTER(hi);
                const float *ui = ug + (size_t)i * ROW_GROUP;
                const nl_v8 u0 = nl_v8_splat(ui[0]), u1 = nl_v8_splat(ui[1]);
                const nl_v8 u2 = nl_v8_splat(ui[2]), u3 = nl_v8_splat(ui[3]);
                a0 += u0 * lo;
                b0 += u0 * hi;
                a1 += u1 * lo;
                b1 += u1 * hi;
                a2 += u2 * lo;
                b2 += u2 * hi;
                a3 += u3 * lo;
                b3 += u3 * hi;
            }
            float *mo = m + ((size_t)xi * s->out_c4 + (size_t)og * ROW_GROUP) * ROW_FLOATS;
            *(nl_v8u *)(mo + 0 * ROW_FLOATS) = a0;
            *(nl_v8u *)(mo + 0 * ROW_FLOATS + 8) = b0;
            *(nl_v8u *)(mo + 1 * ROW_FLOATS) = a1;
            *(nl_v8u *)(mo + 1 * ROW_FLOATS + 8) = b1;
            *(nl_v8u *)(mo + 2 * ROW_FLOATS) = a2;
            *(nl_v8u *)(mo + 2 * ROW_FLOATS + 8) = b2;
            *(nl_v8u *)(mo + 3 * ROW_FLOATS) = a3;
            *(nl_v8u *)(mo + 3 * ROW_FLOATS + 8) = b3;
        }
    }
}

/* y (+)= A^T M A (+ bias) for the segment's tiles, 8 at a time: the two
 * output columns of each tile come out as even and odd vectors and are
 * interleaved back; outputs past an odd map edge are dropped */
static void transform_outputs(const wg_shape *s, const float *m, const wg_segment *g,
                              const float *bias, bool accumulate, float *y)
{
    const size_t plane = (size_t)s->h * s->w;
    const size_t xi_stride = (size_t)s->out_c4 * ROW_FLOATS;
    const int oy = 2 * g->tile_row;
    for (int o = 0; o < s->out_c; o++) {
        const float *mo = m + (size_t)o * ROW_FLOATS + g->column;
        const float b = bias ? bias[o] : 0.0f;
        float *yo = y + ((size_t)g->sample * s->out_c + o) * plane;
        for (int j0 = 0; j0 < g->tiles; j0 += 8) {
            nl_v8 t[2][4]; /* A^T M */
            for (int q = 0; q < 4; q++) {
                const nl_v8 m0 = nl_v8_load(mo + (size_t)(0 * 4 + q) * xi_stride + j0);
                const nl_v8 m1 = nl_v8_load(mo + (size_t)(1 * 4 + q) * xi_stride + j0);
                const nl_v8 m2 = nl_v8_load(mo + (size_t)(2 * 4 + q) * xi_stride + j0);
                const nl_v8 m3 = nl_v8_load(mo + (size_t)(3 * 4 + q) * xi_stride + j0);
                t[0][q] = m0 + m1 + m2;
                t[1][q] = m1 - m2 - m3;
            }
            const int ox = 2 * (g->first_tile + j0);
            const int tiles = g->tiles - j0 < 8 ? g->tiles - j0 : 8;
            const int width = 2 * tiles <= s->w - ox ? 2 * tiles : s->w - ox;
            /* straight from registers to the row, masked at its end: staged
             * through a stack buffer, the AVX-512 kernel sets read the two
             * 8-float stores back as one 16-float load, which cannot be
             * forwarded from them and stalled on every row (a fifth of this
             * function's time) */
            const lane_mask first = lanes_between(0, width), second = lanes_between(0, width - 8);
            const nl_v8 bias8 = nl_v8_splat(b);
            for (int a = 0; a < 2 && oy + a < s->h; a++) {
                const nl_v8 even = t[a][0] + t[a][1] + t[a][2];
                const nl_v8 odd = t[a][1] - t[a][2] - t[a][3];
                const nl_v8 out0 = NL_V8_SHUFFLE(even, odd, 0, 8, 1, 9, 2, 10, 3, 11);
                const nl_v8 out1 = NL_V8_SHUFFLE(even, odd, 4, 12, 5, 13, 6, 14, 7, 15);
                float *row = yo + (size_t)(oy + a) * s->w + ox;
                if (width == 16) {
                    nl_v8_store(row, accumulate ? nl_v8_load(row) + out0 : out0 + bias8);
                    nl_v8_store(row + 8, accumulate ? nl_v8_load(row + 8) + out1 : out1 + bias8);
                } else {
                    store_masked(row, first,
                                 accumulate ? load_masked(row, first) + out0 : out0 + bias8);
                    if (width > 8)
                        store_masked(row + 8, second,
                                     accumulate ? load_masked(row + 8, second) + out1
                                                : out1 + bias8);
                }
            }
        }
    }
}

static void winograd(const wg_shape *s, int n, const float *x, const float *weight,
                     bool transpose, const float *bias, float *y, bool accumulate, int threads,
                     void *workspace)
{
    float *u = workspace;
    float *thread_space = u + filters_floats(s);
    const wg_blocking b = blocking_of(s, n);
    const size_t per_thread = per_thread_floats(s);
    #pragma omp parallel num_threads(threads) if (b.blocks > 1)
    {
        transform_filters(s, weight, transpose, u); /* ends with the for's barrier */
        float *v = thread_space + per_thread * (size_t)omp_get_thread_num_safe();
        float *m = v + round_up((size_t)16 * s->in_c * ROW_FLOATS);
        /* columns no segment fills still go through the GEMM: keep them finite */
        memset(v, 0, (size_t)16 * s->in_c * ROW_FLOATS * sizeof *v);
        #pragma omp for schedule(static)
        for (long blk = 0; blk < b.blocks; blk++) {
            const long first = blk * b.segments_per_block;
            const long last = first + b.segments_per_block < b.segments ? first + b.segments_per_block
                                                                       : b.segments;
            for (long seg = first; seg < last; seg++) {
                const wg_segment g = segment_at(s, &b, seg);
                transform_inputs(s, x, &g, v);
            }
            multiply(s, u, v, m);
            for (long seg = first; seg < last; seg++) {
                const wg_segment g = segment_at(s, &b, seg);
                transform_outputs(s, m, &g, bias, accumulate, y);
            }
        }
    }
}

void nl_cpu_winograd_forward(const nl_conv_geom *g, int n, const float *x, const float *weight,
                             const float *bias, float *y, int threads, void *workspace)
{
    const wg_shape s = shape_of(g->in_c, g->out_c, g->in_h, g->in_w);
    winograd(&s, n, x, weight, false, bias, y, false, threads, workspace);
}

void nl_cpu_winograd_input_grad(const nl_conv_geom *g, int n, const float *weight,
                                const float *dy, float *dx, bool accumulate, int threads,
                                void *workspace)
{
    const wg_shape s = shape_of(g->out_c, g->in_c, g->in_h, g->in_w);
    winograd(&s, n, dy, weight, true, NULL, dx, accumulate, threads, workspace);
}

/* The weight gradient in the Winograd domain. With M = sum_i U[i] . V[i]
 * and Y = A^T M A per tile, the chain rule gives dM = A dY A^T for each
 * tile and output channel, dU[o][i] = sum over tiles of dM[o] . V[i] (16
 * GEMMs, out_c x in_c, summed over tiles), and, since U = G g G^T, dg =
 * G^T dU G: 2.25x fewer multiplies than the lowered GEMM, and no im2col.
 *
 * A thread takes a run of segments (tile rows or parts of them). For each
 * it transforms the inputs (the forward's transform, into the block buffer)
 * and the output gradients, and gathers up to CHUNK_TILES tiles: dM as
 * [xi][o][tile] and V transposed to [xi][tile][i], so each of the 16 GEMMs
 * reads dM by broadcast and V by vector with the register tile of gemm.c. Each thread sums its tiles in
 * order into its own dU; the threads' dU are added in thread order, so a
 * given thread count always gives the same bits (as the lowered path). */
enum { CHUNK_TILES = 64, DM_ROW = CHUNK_TILES + 8, REDUCE_SPAN = 1024 };

static size_t weight_grad_floats(const wg_shape *s)
{
    return round_up((size_t)16 * s->in_c * ROW_FLOATS) +        /* V of a block */
           round_up((size_t)16 * CHUNK_TILES * s->in_c) +       /* V^T of a chunk */
           round_up((size_t)16 * s->out_c * DM_ROW) +           /* dM of a chunk */
           round_up((size_t)16 * s->out_c * s->in_c);           /* this thread's dU */
}

/* dM[xi][o][column + j] = (A dY A^T)[xi] for the segment's tiles; dY is
 * zero past the map's edge, and so are the lanes past the segment */
static void transform_output_grads(const wg_shape *s, const float *dy, const wg_segment *g,
                                   float *dm, int column)
{
    const size_t plane = (size_t)s->h * s->w;
    const size_t xi_stride = (size_t)s->out_c * DM_ROW;
    const int x_first = 2 * g->first_tile;
    const int width = 2 * g->tiles <= s->w - x_first ? 2 * g->tiles : s->w - x_first;
    const bool second_row = 2 * g->tile_row + 1 < s->h;
    lane_mask mask[2 * BLOCK_TILES / 8]; /* a segment has at most BLOCK_TILES tiles */
    for (int k = 0; k < 2 * ((g->tiles + 7) / 8 * 8); k += 8)
        mask[k / 8] = lanes_between(0, width - k);
    for (int o = 0; o < s->out_c; o++) {
        const float *dyo = dy + ((size_t)g->sample * s->out_c + o) * plane +
                           (size_t)(2 * g->tile_row) * s->w + x_first;
        float *dmo = dm + (size_t)o * DM_ROW + column;
        for (int j0 = 0; j0 < g->tiles; j0 += 8) {
            const int k = 2 * j0;
            const nl_v8 a0 = load_masked(dyo + k, mask[k / 8]);
            const nl_v8 b0 = load_masked(dyo + k + 8, mask[k / 8 + 1]);
            const nl_v8 a1 = second_row ? load_masked(dyo + s->w + k, mask[k / 8]) : (nl_v8){0};
            const nl_v8 b1 = second_row ? load_masked(dyo + s->w + k + 8, mask[k / 8 + 1])
                                        : (nl_v8){0};
            const nl_v8 e0 = nl_v8_evens(a0, b0), o0 = nl_v8_odds(a0, b0); /* row 0: columns 2j, 2j+1 */
            const nl_v8 e1 = nl_v8_evens(a1, b1), o1 = nl_v8_odds(a1, b1); /* row 1 */
            /* A dY: rows y0, y0 + y1, y0 - y1, -y1 */
            const nl_v8 te[4] = {e0, e0 + e1, e0 - e1, -e1};
            const nl_v8 to[4] = {o0, o0 + o1, o0 - o1, -o1};
            for (int a = 0; a < 4; a++) { /* ... A^T: the same along the columns */
                float *row = dmo + (size_t)(a * 4) * xi_stride + j0;
                *(nl_v8u *)row = te[a];
                *(nl_v8u *)(row + xi_stride) = te[a] + to[a];
                *(nl_v8u *)(row + 2 * xi_stride) = te[a] - to[a];
                *(nl_v8u *)(row + 3 * xi_stride) = -to[a];
            }
        }
    }
}

/* V^T[xi][row0 + t][i] = V[xi][i][t] for the block's first `tiles` columns */
static void transpose_inputs(const wg_shape *s, const float *v, int tiles, float *vt, int row0)
{
    for (int xi = 0; xi < 16; xi++) {
        const float *src = v + (size_t)xi * s->in_c * ROW_FLOATS;
        float *dst = vt + ((size_t)xi * CHUNK_TILES + row0) * s->in_c;
        int i = 0;
        for (; i + 8 <= s->in_c; i += 8)
            for (int t = 0; t < tiles; t += 8) {
                nl_v8 r[8];
                for (int k = 0; k < 8; k++)
                    r[k] = nl_v8_load(src + (size_t)(i + k) * ROW_FLOATS + t);
                nl_v8_transpose8(r);
                const int rows = tiles - t < 8 ? tiles - t : 8;
                for (int k = 0; k < rows; k++)
                    *(nl_v8u *)(dst + (size_t)(t + k) * s->in_c + i) = r[k];
            }
        for (; i < s->in_c; i++)
            for (int t = 0; t < tiles; t++)
                dst[(size_t)t * s->in_c + i] = src[(size_t)i * ROW_FLOATS + t];
    }
}

/* dU[xi] (+)= dM[xi] V^T[xi] over the chunk's tiles */
static void accumulate_chunk(const wg_shape *s, const float *dm, const float *vt, int tiles,
                             float *du, bool first)
{
    for (int xi = 0; xi < 16; xi++)
        nl_cpu_gemm_nn_serial(s->out_c, s->in_c, tiles, dm + (size_t)xi * s->out_c * DM_ROW,
                              DM_ROW, vt + (size_t)xi * CHUNK_TILES * s->in_c, s->in_c, NULL,
                              du + (size_t)xi * s->out_c * s->in_c, s->in_c, !first);
}

void nl_cpu_winograd_weight_grad(const nl_conv_geom *geom, int n, const float *x,
                                 const float *dy, float *dweight, float *dbias, int threads,
                                 void *workspace)
{
    const wg_shape s = shape_of(geom->in_c, geom->out_c, geom->in_h, geom->in_w);
    const wg_blocking b = blocking_of(&s, n);
    const size_t per_thread = weight_grad_floats(&s);
    const size_t v_floats = round_up((size_t)16 * s.in_c * ROW_FLOATS);
    const size_t du_offset = v_floats + round_up((size_t)16 * CHUNK_TILES * s.in_c) +
                             round_up((size_t)16 * s.out_c * DM_ROW);
    const size_t pairs = (size_t)s.out_c * s.in_c;
    float *ws = workspace;
    #pragma omp parallel num_threads(threads)
    {
        const int team = omp_get_num_threads_safe();
        float *v = ws + per_thread * (size_t)omp_get_thread_num_safe();
        float *vt = v + v_floats;
        float *dm = vt + round_up((size_t)16 * CHUNK_TILES * s.in_c);
        float *du = v + du_offset;
        /* the transpose reads whole vectors past a block's last tile */
        memset(v, 0, v_floats * sizeof *v);
        bool first = true;
        int filled = 0;
        /* segments, not the forward's blocks, are split over the threads:
         * nothing here needs 16 columns at once, and at batch 2 the bench
         * CNN has 7 blocks (4 + 3 per thread) but 14 segments */
        #pragma omp for schedule(static)
        for (long seg = 0; seg < b.segments; seg++) {
            wg_segment g = segment_at(&s, &b, seg);
            g.column = 0;
            if (filled + g.tiles > CHUNK_TILES) {
                accumulate_chunk(&s, dm, vt, filled, du, first);
                first = false;
                filled = 0;
            }
            transform_inputs(&s, x, &g, v);
            transform_output_grads(&s, dy, &g, dm, filled);
            transpose_inputs(&s, v, g.tiles, vt, filled);
            filled += g.tiles;
        }
        if (filled > 0) {
            accumulate_chunk(&s, dm, vt, filled, du, first);
            first = false;
        }
        if (first) /* a thread without blocks contributes zeros */
            memset(du, 0, (size_t)16 * pairs * sizeof *du);
        #pragma omp barrier
        /* the threads' dU added in thread order, into the first thread's;
         * threads outermost so that the element loop is a vector loop */
        float *total = ws + du_offset;
        #pragma omp for schedule(static)
        for (size_t e0 = 0; e0 < 16 * pairs; e0 += REDUCE_SPAN) {
            const size_t e1 = 16 * pairs - e0 < REDUCE_SPAN ? 16 * pairs : e0 + REDUCE_SPAN;
            for (int u = 1; u < team; u++) {
                const float *part = ws + per_thread * (size_t)u + du_offset;
                #pragma omp simd
                for (size_t e = e0; e < e1; e++)
                    total[e] += part[e];
            }
        }
        /* dg = G^T dU G, for 8 channel pairs at a time: each of the 16
         * planes of dU gives one contiguous vector (one pair at a time read
         * the planes 16 x 8 KiB apart, a gather per value) */
        const nl_v8 half = nl_v8_splat(0.5f);
        #pragma omp for schedule(static)
        for (size_t p0 = 0; p0 < pairs; p0 += 8) {
            const int count = pairs - p0 < 8 ? (int)(pairs - p0) : 8;
            nl_v8 d[4][4];
            for (int xi = 0; xi < 16; xi++) {
                const float *plane = total + (size_t)xi * pairs + p0;
                if (count == 8) {
                    d[xi / 4][xi % 4] = nl_v8_load(plane);
                } else {
                    nl_v8 v = {0};
                    for (int l = 0; l < count; l++)
                        v[l] = plane[l];
                    d[xi / 4][xi % 4] = v;
                }
            }
            nl_v8 h[4][3]; /* dU G */
            for (int a = 0; a < 4; a++) {
                h[a][0] = d[a][0] + half * (d[a][1] + d[a][2]);
                h[a][1] = half * (d[a][1] - d[a][2]);
                h[a][2] = half * (d[a][1] + d[a][2]) + d[a][3];
            }
            nl_v8 dw[9];
            for (int q = 0; q < 3; q++) { /* G^T (dU G) */
                dw[0 * 3 + q] = h[0][q] + half * (h[1][q] + h[2][q]);
                dw[1 * 3 + q] = half * (h[1][q] - h[2][q]);
                dw[2 * 3 + q] = half * (h[1][q] + h[2][q]) + h[3][q];
            }
            for (int l = 0; l < count; l++)
                for (int k = 0; k < 9; k++)
                    dweight[(p0 + l) * 9 + k] = dw[k][l];
        }
        if (dbias) {
            const size_t plane = (size_t)s.h * s.w;
            #pragma omp for schedule(static)
            for (int o = 0; o < s.out_c; o++) {
                float sum = 0.0f;
                for (int i = 0; i < n; i++) {
                    const float *r = dy + ((size_t)i * s.out_c + o) * plane;
                    float part = 0.0f;
                    #pragma omp simd reduction(+ : part)
                    for (size_t q = 0; q < plane; q++)
                        part += r[q];
                    sum += part;
                }
                dbias[o] = sum;
            }
        }
    }
}
