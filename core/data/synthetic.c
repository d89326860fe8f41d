/* The built-in synthetic dataset: needs no files and is the same bytes on
 * every machine for a given seed (the project RNG, and only IEEE basic
 * operations and sqrt, which are exactly rounded everywhere).
 *
 * Images (h*w > 1): every class has a prototype shape of 2-4 strokes
 * (quadratic curves and blobs) drawn from the seed, stored as a map of the
 * distance (in pixels) from each pixel to the shape. A sample renders its
 * class's shape through a random small affine map (scale, shear/rotation,
 * a shift of a few pixels) with a random stroke thickness, adds a share of
 * another class's shape (also moved), a random contrast and background, and
 * pixel noise, clipped to [0, 1]. With several channels each class also has
 * a colour. Feature vectors (h = w = 1, c = d): each class is a pair of
 * Gaussian clusters in d dimensions, overlapping their neighbours, squashed
 * into (0, 1).
 *
 * Sample i of a split is generated from its own RNG (the split's seed, i),
 * so a subset is a prefix of the full set and threads cannot change it;
 * train and test have independent seeds drawn from the prototype stream. */
/* the same bytes from every compiler and flag set: no fused multiply-adds
 * (the build's -std=c11 already implies this for gcc; this holds it when a
 * file is built some other way) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/data_internal.h"

#define SYN_MAX_CLASSES 1000
#define SYN_MAX_SIDE 1024
#define SYN_MAX_FEATURES 65536
#define SYN_CURVE_SEGMENTS 8
/* every class is 3 strokes from a pool shared by all classes */
#define SYN_STROKES 3
#define SYN_SUBSETS ((1 << SYN_STROKES) - 1)

/* the knobs that set how hard the images are (sizes for 28x28) */
#define SYN_BLOBS 0.1f      /* share of the pool's strokes that are blobs */
#define SYN_DROP 0.1f       /* chance that a sample leaves out each of its strokes */
#define SYN_SHIFT 3.5f       /* largest shift of the class shape, pixels */
#define SYN_MIX_SHIFT 4.0f   /* largest shift of the mixed-in shape */
#define SYN_MIX_MAX 0.6f     /* the mixed-in shape's share of the contrast: U(0, max) */
#define SYN_NOISE 0.25f      /* triangular pixel noise on [-n, n] (std n / sqrt 6) */

typedef struct {
    int c, h, w, classes;
    float scale;     /* min(h, w) / 28: sizes below are for 28x28 */
    float *dist;     /* classes * SYN_SUBSETS * h*w: distance (pixels) to the
                      * union of each non-empty subset of the class's strokes */
    float *color;    /* classes * c */
    float *centers;  /* feature mode: classes * 2 * c cluster centers */
} syn_model;

static float unif(nl_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * nl_rng_uniform(r);
}

/* squared distance from (px, py) to the segment (ax, ay)-(bx, by) */
static float seg_dist2(float px, float py, float ax, float ay, float bx, float by)
{
    float dx = bx - ax, dy = by - ay;
    float len2 = dx * dx + dy * dy;
    float t = 0.0f;
    if (len2 > 0.0f) {
        t = ((px - ax) * dx + (py - ay) * dy) / len2;
        t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    }
    float ex = ax + t * dx - px, ey = ay + t * dy - py;
    return ex * ex + ey * ey;
}

/* draws one stroke of the shared pool and fills its distance map: a
 * quadratic Bezier curve through the central region (as a polyline), or now
 * and then a blob (a disc) */
static void make_stroke(nl_rng *r, const syn_model *m, float *dist)
{
    int h = m->h, w = m->w;
    float pts[SYN_CURVE_SEGMENTS + 1][2] = {{0}};
    int npts;
    float radius = 0.0f;
    if (nl_rng_uniform(r) < SYN_BLOBS) {
        pts[0][0] = unif(r, 0.3f, 0.7f) * (float)w;
        pts[0][1] = unif(r, 0.3f, 0.7f) * (float)h;
        npts = 1;
        radius = unif(r, 1.0f, 2.5f) * m->scale;
    } else {
        /* in unit coordinates; the ends at least 0.35 apart, so no stroke is a dot */
        float p[3][2], dx, dy;
        do {
            for (int k = 0; k < 3; k++) {
                p[k][0] = unif(r, 0.18f, 0.82f);
                p[k][1] = unif(r, 0.18f, 0.82f);
            }
            dx = p[2][0] - p[0][0];
            dy = p[2][1] - p[0][1];
        } while (dx * dx + dy * dy < 0.35f * 0.35f);
        for (int k = 0; k < 3; k++) {
            p[k][0] *= (float)w;
            p[k][1] *= (float)h;
        }
        for (int j = 0; j <= SYN_CURVE_SEGMENTS; j++) {
            float t = (float)j / SYN_CURVE_SEGMENTS, u = 1.0f - t;
            for (int k = 0; k < 2; k++)
                pts[j][k] = u * u * p[0][k] + 2.0f * u * t * p[1][k] + t * t * p[2][k];
        }
        npts = SYN_CURVE_SEGMENTS + 1;
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float px = (float)x + 0.5f, py = (float)y + 0.5f, d2;
            if (npts == 1) {
                float dx = px - pts[0][0], dy = py - pts[0][1];
                d2 = dx * dx + dy * dy;
            } else {
                d2 = 1e30f;
                for (int j = 0; j + 1 < npts; j++) {
                    float e = seg_dist2(px, py, pts[j][0], pts[j][1], pts[j + 1][0], pts[j + 1][1]);
                    d2 = e < d2 ? e : d2;
                }
            }
            dist[(size_t)y * w + x] = sqrtf(d2) - radius;
        }
    }
}

/* The class shapes: a pool of K + 2 strokes, and for every class 3 of them
 * (no two classes the same 3), so classes share parts and a sample that
 * lost a stroke can look like another class. For each class the distance
 * maps of all 7 non-empty subsets of its strokes are kept. */
static nl_code make_classes(nl_rng *r, syn_model *m, nl_error *err)
{
    int K = m->classes, P = K + 2;
    size_t hw = (size_t)m->h * m->w;
    float *pool = malloc((size_t)P * hw * sizeof(float));
    int (*combo)[SYN_STROKES] = malloc((size_t)K * sizeof *combo);
    if (!pool || !combo) {
        free(pool);
        free(combo);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the synthetic prototypes");
    }
    for (int p = 0; p < P; p++)
        make_stroke(r, m, pool + (size_t)p * hw);
    for (int k = 0; k < K; k++) {
        for (;;) {
            /* 3 distinct strokes, sorted, not used by an earlier class;
             * C(K + 2, 3) >= K combinations exist, so this ends */
            int a[SYN_STROKES];
            for (int j = 0; j < SYN_STROKES; j++) {
                bool again;
                do {
                    a[j] = (int)nl_rng_below(r, (uint32_t)P);
                    again = false;
                    for (int i = 0; i < j; i++)
                        again |= a[i] == a[j];
                } while (again);
            }
            for (int i = 1; i < SYN_STROKES; i++)
                for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
                    int t = a[j];
                    a[j] = a[j - 1];
                    a[j - 1] = t;
                }
            bool used = false;
            for (int q = 0; q < k && !used; q++)
                used = memcmp(combo[q], a, sizeof a) == 0;
            if (!used) {
                memcpy(combo[k], a, sizeof a);
                break;
            }
        }
        for (int mask = 1; mask <= SYN_SUBSETS; mask++) {
            float *d = m->dist + ((size_t)k * SYN_SUBSETS + (size_t)(mask - 1)) * hw;
            for (size_t i = 0; i < hw; i++) {
                float best = 1e30f;
                for (int j = 0; j < SYN_STROKES; j++)
                    if (mask & (1 << j)) {
                        float v = pool[(size_t)combo[k][j] * hw + i];
                        best = v < best ? v : best;
                    }
                d[i] = best;
            }
        }
        for (int ch = 0; ch < m->c; ch++)
            m->color[(size_t)k * m->c + ch] = m->c == 1 ? 1.0f : unif(r, 0.3f, 1.0f);
    }
    free(pool);
    free(combo);
    return NL_OK;
}

/* a random placement of a shape: source = A (p - center) + center + shift */
typedef struct {
    float a00, a01, a10, a11, tx, ty;
} syn_affine;

static void random_affine(nl_rng *r, const syn_model *m, float max_shift, syn_affine *a)
{
    float s = unif(r, 0.85f, 1.15f);
    a->a00 = s * unif(r, 0.92f, 1.08f);
    a->a11 = s * unif(r, 0.92f, 1.08f);
    a->a01 = unif(r, -0.22f, 0.22f);
    a->a10 = unif(r, -0.22f, 0.22f);
    a->tx = unif(r, -max_shift, max_shift) * m->scale;
    a->ty = unif(r, -max_shift, max_shift) * m->scale;
}

/* bilinear lookup of a distance map at pixel-centre coordinates (clamped) */
static inline __attribute__((always_inline)) float sample_dist(const float *d, int h, int w, float sx, float sy)
{
    float fx = sx - 0.5f, fy = sy - 0.5f;
    fx = fx < 0.0f ? 0.0f : (fx > (float)(w - 1) ? (float)(w - 1) : fx);
    fy = fy < 0.0f ? 0.0f : (fy > (float)(h - 1) ? (float)(h - 1) : fy);
    int x0 = (int)fx, y0 = (int)fy; /* fx, fy >= 0: truncation is floor */
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float ax = fx - (float)x0, ay = fy - (float)y0;
    const float *r0 = d + (size_t)y0 * w, *r1 = d + (size_t)y1 * w;
    float top = r0[x0] + ax * (r0[x1] - r0[x0]);
    float bot = r1[x0] + ax * (r1[x1] - r1[x0]);
    return top + ay * (bot - top);
}

/* stroke intensity at distance d from the shape for half-thickness t:
 * 1 inside, a smoothstep edge about one pixel wide, 0 outside */
static inline float profile(float d, float t, float edge)
{
    float e = (d - t) / edge;
    if (e <= 0.0f)
        return 1.0f;
    if (e >= 1.0f)
        return 0.0f;
    return 1.0f - e * e * (3.0f - 2.0f * e);
}

static float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static void render_image(const syn_model *m, nl_rng *r, float *x, int32_t *label)
{
    int h = m->h, w = m->w, c = m->c, K = m->classes;
    int y = (int)nl_rng_below(r, (uint32_t)K);
    int z = (int)nl_rng_below(r, (uint32_t)(K - 1));
    if (z >= y)
        z++;
    int mask = SYN_SUBSETS;
    for (int j = 0; j < SYN_STROKES; j++)
        if (nl_rng_uniform(r) < SYN_DROP)
            mask &= ~(1 << j);
    if (!mask)
        mask = 1 << nl_rng_below(r, SYN_STROKES);
    syn_affine ay, az;
    random_affine(r, m, SYN_SHIFT, &ay);
    random_affine(r, m, SYN_MIX_SHIFT, &az);
    float thick_y = unif(r, 0.4f, 1.6f) * m->scale;
    float thick_z = unif(r, 0.4f, 1.6f) * m->scale;
    float edge = 1.0f * m->scale;
    float mix = unif(r, 0.0f, SYN_MIX_MAX);
    float contrast = unif(r, 0.55f, 1.0f);
    float cy[16], cz[16], bg[16];
    for (int ch = 0; ch < c; ch++) {
        float jitter = c > 1 ? unif(r, 0.8f, 1.2f) : 1.0f;
        cy[ch] = contrast * m->color[(size_t)y * c + ch] * jitter;
        cz[ch] = contrast * mix * m->color[(size_t)z * c + ch] * jitter;
        bg[ch] = unif(r, 0.0f, 0.2f);
    }
    const float noise_scale = SYN_NOISE / 65536.0f;
    size_t hw = (size_t)h * w;
    const float *dy = m->dist + ((size_t)y * SYN_SUBSETS + (size_t)(mask - 1)) * hw;
    const float *dz = m->dist + ((size_t)z * SYN_SUBSETS + (SYN_SUBSETS - 1)) * hw;
    float cxm = 0.5f * (float)w, cym = 0.5f * (float)h;
    for (int py = 0; py < h; py++) {
        float qy = (float)py + 0.5f - cym;
        for (int px = 0; px < w; px++) {
            float qx = (float)px + 0.5f - cxm;
            float sx = ay.a00 * qx + ay.a01 * qy + cxm + ay.tx;
            float sy = ay.a10 * qx + ay.a11 * qy + cym + ay.ty;
            float fy = profile(sample_dist(dy, h, w, sx, sy), thick_y, edge);
            sx = az.a00 * qx + az.a01 * qy + cxm + az.tx;
            sy = az.a10 * qx + az.a11 * qy + cym + az.ty;
            float fz = profile(sample_dist(dz, h, w, sx, sy), thick_z, edge);
            for (int ch = 0; ch < c; ch++) {
                /* the sum of two 16-bit uniforms: triangular on [-noise, noise] */
                uint32_t u = nl_rng_u32(r);
                float n = (float)((int32_t)(u & 0xffffu) + (int32_t)(u >> 16) - 65535) * noise_scale;
                x[ch * hw + (size_t)py * w + px] = clamp01(bg[ch] + cy[ch] * fy + cz[ch] * fz + n);
            }
        }
    }
    *label = y;
}

static void render_features(const syn_model *m, nl_rng *r, float *x, int32_t *label)
{
    int d = m->c;
    int y = (int)nl_rng_below(r, (uint32_t)m->classes);
    int mode = (int)nl_rng_below(r, 2);
    const float *mu = m->centers + ((size_t)y * 2 + (size_t)mode) * d;
    for (int k = 0; k < d; k++) {
        float v = (mu[k] + (float)nl_rng_normal(r)) * 0.5f;
        /* softsign squash into (0, 1) */
        x[k] = 0.5f + 0.5f * v / (1.0f + fabsf(v));
    }
    *label = y;
}

static nl_code check_shape(const nl_data_spec *spec, long ntr, long nte, nl_error *err)
{
    bool features = spec->synthetic_h == 1 && spec->synthetic_w == 1;
    if (features && (spec->synthetic_c < 1 || spec->synthetic_c > SYN_MAX_FEATURES))
        return nl_fail(err, NL_ERR_CONFIG,
                       "synthetic data: feature vectors need 1..%d features, got %d",
                       SYN_MAX_FEATURES, spec->synthetic_c);
    if (!features && (spec->synthetic_c < 1 || spec->synthetic_c > 16))
        return nl_fail(err, NL_ERR_CONFIG, "synthetic data: images need 1..16 channels, got %d",
                       spec->synthetic_c);
    if (spec->synthetic_h < 1 || spec->synthetic_w < 1 || spec->synthetic_h > SYN_MAX_SIDE ||
        spec->synthetic_w > SYN_MAX_SIDE)
        return nl_fail(err, NL_ERR_CONFIG, "synthetic data: height and width must be 1..%d, got %dx%d",
                       SYN_MAX_SIDE, spec->synthetic_h, spec->synthetic_w);
    if (spec->synthetic_classes < 2 || spec->synthetic_classes > SYN_MAX_CLASSES)
        return nl_fail(err, NL_ERR_CONFIG, "synthetic data: classes must be 2..%d, got %d",
                       SYN_MAX_CLASSES, spec->synthetic_classes);
    if (ntr < 1 || nte < 1)
        return nl_fail(err, NL_ERR_CONFIG,
                       "synthetic data: the splits need at least one sample (train %ld, test %ld)",
                       ntr, nte);
    return NL_OK;
}

static void generate(const syn_model *m, uint64_t seed, nl_split *s)
{
    bool features = m->h == 1 && m->w == 1;
    size_t chw = (size_t)m->c * m->h * m->w;
    long n = s->n;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        nl_rng r;
        nl_rng_seed(&r, seed, (uint64_t)i);
        if (features)
            render_features(m, &r, s->x + (size_t)i * chw, &s->y[i]);
        else
            render_image(m, &r, s->x + (size_t)i * chw, &s->y[i]);
    }
}

static nl_code synthetic_load(const nl_data_spec *spec, long ntr, long nte, nl_dataset *out,
                              nl_error *err)
{
    nl_code rc = check_shape(spec, ntr, nte, err);
    if (rc != NL_OK)
        return rc;
    syn_model m = {0};
    m.c = spec->synthetic_c;
    m.h = spec->synthetic_h;
    m.w = spec->synthetic_w;
    m.classes = spec->synthetic_classes;
    m.scale = (float)(m.h < m.w ? m.h : m.w) / 28.0f;
    bool features = m.h == 1 && m.w == 1;

    nl_rng proto;
    nl_rng_seed(&proto, spec->seed, NL_STREAM_SYNTHETIC);
    uint64_t train_seed = ((uint64_t)nl_rng_u32(&proto) << 32) | nl_rng_u32(&proto);
    uint64_t test_seed = ((uint64_t)nl_rng_u32(&proto) << 32) | nl_rng_u32(&proto);
    if (test_seed == train_seed)
        test_seed ^= 1;

    size_t K = (size_t)m.classes;
    if (features)
        m.centers = malloc(K * 2 * (size_t)m.c * sizeof(float));
    else {
        m.dist = malloc(K * SYN_SUBSETS * (size_t)m.h * m.w * sizeof(float));
        m.color = malloc(K * (size_t)m.c * sizeof(float));
    }
    if (features ? !m.centers : (!m.dist || !m.color)) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory for the synthetic prototypes");
        goto done;
    }
    if (features) {
        /* cluster centres ~ N(0, s^2) per coordinate: the distance between two
         * centres is about 2.5 sqrt(2) noise deviations whatever d is, so
         * neighbouring classes overlap */
        float s = 2.5f / sqrtf((float)m.c);
        for (size_t k = 0; k < K * 2 * (size_t)m.c; k++)
            m.centers[k] = s * (float)nl_rng_normal(&proto);
    } else {
        rc = make_classes(&proto, &m, err);
        if (rc != NL_OK)
            goto done;
    }

    rc = nl_split_alloc(&out->train, ntr, m.c, m.h, m.w, err);
    if (rc == NL_OK)
        rc = nl_split_alloc(&out->test, nte, m.c, m.h, m.w, err);
    if (rc != NL_OK)
        goto done;
    generate(&m, train_seed, &out->train);
    generate(&m, test_seed, &out->test);
    out->classes = m.classes;

done:
    free(m.dist);
    free(m.color);
    free(m.centers);
    return rc;
}

/* ---- the row ---- */

/* the split sizes: data.train_size and data.test_size, or the synthetic defaults */
static void synthetic_sizes(const nl_data_spec *spec, const nl_data_request *req, long *ntr,
                            long *nte)
{
    *ntr = req->train_size ? req->train_size : spec->synthetic_train;
    *nte = req->test_size ? req->test_size : spec->synthetic_test;
}

static nl_code synthetic_read(const nl_dataset_info *row, const nl_data_spec *spec,
                              const nl_data_request *req, nl_dataset *out, char *dir_used,
                              size_t dir_used_size, nl_error *err)
{
    (void)row, (void)dir_used, (void)dir_used_size;
    long ntr, nte;
    synthetic_sizes(spec, req, &ntr, &nte);
    return synthetic_load(spec, ntr, nte, out, err);
}

/* data.shape and data.classes */
static void synthetic_planned_shape(const nl_data_spec *spec, nl_dataset_shape *out)
{
    out->c = spec->synthetic_c;
    out->h = spec->synthetic_h;
    out->w = spec->synthetic_w;
    out->classes = spec->synthetic_classes;
}

static nl_code synthetic_probe(const nl_dataset_info *row, const nl_data_spec *spec,
                               const nl_data_request *req, nl_dataset_shape *out, nl_error *err)
{
    (void)row, (void)err;
    synthetic_sizes(spec, req, &out->train_n, &out->test_n);
    synthetic_planned_shape(spec, out);
    return NL_OK;
}

const nl_dataset_info nl_dataset_row_synthetic = {
    .id = {"synthetic", "built in, generated from the seed, needs no files"},
    .yields = NL_DATA_YIELDS_IMAGES,
    .from_seed = true,
    .default_path = "",
    .files = "",
    .planned_shape = synthetic_planned_shape,
    .size_key = "data.train_size",
    .keys = {NL_DATA_IMAGE_KEYS, "data.shape", "data.classes"},
    .torch_script = true,
    .read = synthetic_read,
    .probe = synthetic_probe,
};
