// ctest-labels: kernels
/* The token ops (embedding, causal and bidirectional attention, GELU, the
 * ViT's patchify, position add, class token and token pooling) on the CPU
 * backend against the plain reference of core/tfm/reference.c, over shapes
 * with odd sizes, fused (N, T, 3D) and separate q/k/v strides, 1 to 3
 * threads; the embedding's scatter-add and the ViT ops bit for bit (their
 * order is part of the op), the rest to float rounding. Then properties the
 * formulas must have (the causal mask: later tokens cannot change earlier
 * outputs, and without it they change every output; probabilities rows sum
 * to 1 with exact zeros above the diagonal) and central finite differences
 * of the CPU ops' backward against their forward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tfm/reference.h"
#include "testutil.h"

#define TOL 2e-5

typedef struct {
    int n, t, heads, head_dim;
    bool fused; /* q, k, v as thirds of one (N, T, 3D) tensor */
} attn_shape;

static const attn_shape attn_shapes[] = {
    {1, 1, 1, 4, false},  /* one token: probs = 1 */
    {2, 5, 3, 4, true},   /* odd T */
    {3, 7, 2, 5, false},  /* odd head_dim */
    {4, 16, 4, 8, true},  /* the small LM's shape, scaled down */
    {8, 64, 4, 16, true}, /* enough work to split over threads */
};

typedef struct {
    nl_attn_geom g;
    float *qkv, *q, *k, *v; /* q, k, v point into qkv */
    size_t qkv_count, out_count, probs_count;
} attn_case;

#define N_ATTN_SHAPES ((int)(sizeof attn_shapes / sizeof attn_shapes[0]))

static attn_case attn_case_make(const attn_shape *s, bool bidirectional, uint64_t seed)
{
    attn_case c;
    const int D = s->heads * s->head_dim;
    c.g = (nl_attn_geom){s->n, s->t, s->heads, s->head_dim, 0, 0, 0,
                         1.0f / sqrtf((float)s->head_dim), bidirectional};
    c.out_count = (size_t)s->n * s->t * D;
    c.qkv_count = 3 * c.out_count;
    c.probs_count = (size_t)s->n * s->heads * s->t * s->t;
    c.qkv = malloc(c.qkv_count * sizeof *c.qkv);
    tu_fill_normal(c.qkv, c.qkv_count, seed, 0.0f, 1.5f);
    if (s->fused) {
        c.g.ld_q = c.g.ld_k = c.g.ld_v = 3 * D;
        c.q = c.qkv;
        c.k = c.qkv + D;
        c.v = c.qkv + 2 * D;
    } else {
        c.g.ld_q = c.g.ld_k = c.g.ld_v = D;
        c.q = c.qkv;
        c.k = c.qkv + c.out_count;
        c.v = c.qkv + 2 * c.out_count;
    }
    return c;
}

/* gradients into a buffer laid out as qkv, at the same offsets */
static void attn_grads(const attn_case *c, float *dqkv, float **dq, float **dk, float **dv)
{
    *dq = dqkv + (c->q - c->qkv);
    *dk = dqkv + (c->k - c->qkv);
    *dv = dqkv + (c->v - c->qkv);
}

/* _i: the shapes causal, then bidirectional */
START_TEST(test_attention_matches_reference)
{
    const attn_shape *s = &attn_shapes[_i % N_ATTN_SHAPES];
    attn_case c = attn_case_make(s, _i >= N_ATTN_SHAPES, 100 + _i);
    float *want_y = malloc(c.out_count * sizeof(float)), *got_y = malloc(c.out_count * sizeof(float));
    float *want_p = malloc(c.probs_count * sizeof(float)), *got_p = malloc(c.probs_count * sizeof(float));
    float *dy = malloc(c.out_count * sizeof(float));
    float *want_d = calloc(c.qkv_count, sizeof(float)), *got_d = calloc(c.qkv_count, sizeof(float));
    tu_fill_normal(dy, c.out_count, 200 + _i, 0.0f, 1.0f);
    float want_max = 0.0f;
    nl_attention_reference_forward(&c.g, c.q, c.k, c.v, want_p, want_y, &want_max);
    float *dq, *dk, *dv;
    attn_grads(&c, want_d, &dq, &dk, &dv);
    nl_attention_reference_backward(&c.g, c.q, c.k, c.v, want_p, dy, dq, dk, dv);
    for (int threads = 1; threads <= 3; threads++) {
        nl_backend *be = tu_cpu(threads);
        void *ws = malloc(be->ops->attention_workspace(be, &c.g));
        float got_max = 0.0f;
        be->ops->attention_forward(be, &c.g, c.q, c.k, c.v, got_p, got_y, &got_max, ws);
        char what[128];
        snprintf(what, sizeof what, "attention (%d,%d,%d,%d) fused=%d bidirectional=%d threads=%d",
                 s->n, s->t, s->heads, s->head_dim, s->fused, c.g.bidirectional, threads);
        tu_assert_close(got_y, want_y, c.out_count, TOL, what);
        tu_assert_close(got_p, want_p, c.probs_count, TOL, what);
        ck_assert_msg(fabsf(got_max - want_max) <= 1e-5f * fmaxf(1.0f, fabsf(want_max)),
                      "%s: max logit %g, reference %g", what, got_max, want_max);
        attn_grads(&c, got_d, &dq, &dk, &dv);
        be->ops->attention_backward(be, &c.g, c.q, c.k, c.v, got_p, dy, dq, dk, dv, ws);
        tu_assert_close(got_d, want_d, c.qkv_count, TOL, what);
        free(ws);
    }
    free(want_y), free(got_y), free(want_p), free(got_p), free(dy), free(want_d), free(got_d);
    free(c.qkv);
}
END_TEST

/* causal (_i 0): changing the keys and values of the last token changes
 * only the last token's output; every probability row sums to 1 with zeros
 * above s. Bidirectional (_i 1): it changes every output, and no
 * probability is 0. */
START_TEST(test_attention_mask)
{
    const attn_shape *s = &attn_shapes[3];
    const bool bidirectional = _i == 1;
    attn_case c = attn_case_make(s, bidirectional, 300);
    nl_backend *be = tu_cpu(2);
    const int T = s->t, D = s->heads * s->head_dim;
    float *y0 = malloc(c.out_count * sizeof(float)), *y1 = malloc(c.out_count * sizeof(float));
    float *p = malloc(c.probs_count * sizeof(float));
    void *ws = malloc(be->ops->attention_workspace(be, &c.g));
    be->ops->attention_forward(be, &c.g, c.q, c.k, c.v, p, y0, NULL, ws);
    for (size_t row = 0; row < (size_t)s->n * s->heads * T; row++) {
        const int q_at = (int)(row % T);
        double sum = 0.0;
        for (int u = 0; u < T; u++) {
            const float pu = p[row * T + u];
            if (u > q_at && !bidirectional)
                ck_assert_msg(pu == 0.0f, "probs row %zu: %g above the diagonal", row, pu);
            if (bidirectional)
                ck_assert_msg(pu > 0.0f, "probs row %zu: key %d masked", row, u);
            sum += pu;
        }
        ck_assert_msg(fabs(sum - 1.0) < 1e-5, "probs row %zu sums to %.8f", row, sum);
    }
    for (int i = 0; i < s->n; i++)
        for (int j = 0; j < D; j++) {
            c.k[((size_t)i * T + T - 1) * c.g.ld_k + j] += 3.0f;
            c.v[((size_t)i * T + T - 1) * c.g.ld_v + j] -= 2.0f;
        }
    be->ops->attention_forward(be, &c.g, c.q, c.k, c.v, p, y1, NULL, ws);
    for (size_t r = 0; r < (size_t)s->n * T; r++) {
        const bool sees_last = bidirectional || r % T == (size_t)T - 1;
        const int same = memcmp(y0 + r * D, y1 + r * D, D * sizeof(float)) == 0;
        ck_assert_msg(same != sees_last, "token row %zu: output %s when the last token changed",
                      r, same ? "unchanged" : "changed");
    }
    free(y0), free(y1), free(p), free(ws), free(c.qkv);
}
END_TEST

typedef struct {
    int n, t, d, vocab;
    bool positions;
} emb_shape;

static const emb_shape emb_shapes[] = {
    {1, 1, 3, 2, true},
    {3, 5, 7, 11, true},
    {2, 9, 16, 4, false},    /* few tokens: every row hit many times */
    {16, 64, 48, 67, true},  /* enough for several threads */
};

static int32_t *tokens_make(size_t count, int vocab, uint64_t seed)
{
    float *u = malloc(count * sizeof *u);
    int32_t *tok = malloc(count * sizeof *tok);
    tu_fill_uniform(u, count, seed, 0.0f, 1.0f);
    for (size_t p = 0; p < count; p++)
        tok[p] = (int32_t)(u[p] * (float)vocab) % vocab;
    /* token vocab-1 left out when there is room: a row no position adds to */
    if (vocab > 2)
        for (size_t p = 0; p < count; p++)
            if (tok[p] == vocab - 1)
                tok[p] = 0;
    free(u);
    return tok;
}

START_TEST(test_embedding_matches_reference)
{
    const emb_shape *s = &emb_shapes[_i];
    const size_t rows = (size_t)s->n * s->t, out = rows * s->d, table = (size_t)s->vocab * s->d;
    int32_t *tok = tokens_make(rows, s->vocab, 400 + _i);
    float *e = malloc(table * sizeof(float)), *pos = malloc((size_t)(s->t + 2) * s->d * sizeof(float));
    float *dy = malloc(out * sizeof(float));
    tu_fill_normal(e, table, 401, 0.0f, 1.0f);
    tu_fill_normal(pos, (size_t)(s->t + 2) * s->d, 402, 0.0f, 1.0f);
    tu_fill_normal(dy, out, 403, 0.0f, 1.0f);
    const float *p_table = s->positions ? pos : NULL;
    float *want_y = malloc(out * sizeof(float)), *got_y = malloc(out * sizeof(float));
    nl_embedding_reference_forward(s->n, s->t, s->d, tok, e, p_table, want_y);
    for (int threads = 1; threads <= 3; threads++)
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            nl_backend *be = tu_cpu(threads);
            be->ops->embedding_forward(be, s->n, s->t, s->d, tok, e, p_table, got_y);
            ck_assert_msg(memcmp(got_y, want_y, out * sizeof(float)) == 0,
                          "embedding forward (%d,%d,%d) threads %d", s->n, s->t, s->d, threads);
            /* the tables' gradients start as garbage (written) or as a
             * gradient already there (accumulated, the tied head's) */
            float *want_de = malloc(table * sizeof(float)), *got_de = malloc(table * sizeof(float));
            const size_t pos_rows = (size_t)s->t + 2;
            float *want_dp = malloc(pos_rows * s->d * sizeof(float));
            float *got_dp = malloc(pos_rows * s->d * sizeof(float));
            tu_fill_normal(want_de, table, 404, 0.0f, 1.0f);
            memcpy(got_de, want_de, table * sizeof(float));
            tu_fill_normal(want_dp, pos_rows * s->d, 405, 0.0f, 1.0f);
            memcpy(got_dp, want_dp, pos_rows * s->d * sizeof(float));
            float *const before = malloc(table * sizeof(float));
            memcpy(before, want_de, table * sizeof(float));
            nl_embedding_reference_backward(s->n, s->t, s->d, s->vocab, tok, dy, want_de,
                                            accumulate, s->positions ? want_dp : NULL);
            void *ws = malloc(be->ops->embedding_backward_workspace(be, s->n, s->t, s->vocab));
            be->ops->embedding_backward(be, s->n, s->t, s->d, s->vocab, tok, dy, got_de,
                                        accumulate, s->positions ? got_dp : NULL, ws);
            ck_assert_msg(memcmp(got_de, want_de, table * sizeof(float)) == 0,
                          "embedding dtable (%d,%d,%d) accumulate %d threads %d: not bit for bit",
                          s->n, s->t, s->d, accumulate, threads);
            ck_assert_msg(memcmp(got_dp, want_dp, pos_rows * s->d * sizeof(float)) == 0,
                          "embedding dpos (%d,%d,%d) threads %d: not bit for bit (rows >= t "
                          "must stay)", s->n, s->t, s->d, threads);
            if (s->vocab > 2) { /* the unused last row: 0, or what was there */
                const float *row = got_de + (size_t)(s->vocab - 1) * s->d;
                for (int j = 0; j < s->d; j++)
                    ck_assert(row[j] == (accumulate ? before[(size_t)(s->vocab - 1) * s->d + j] : 0.0f));
            }
            free(want_de), free(got_de), free(want_dp), free(got_dp), free(before), free(ws);
        }
    free(tok), free(e), free(pos), free(dy), free(want_y), free(got_y);
}
END_TEST

START_TEST(test_gelu_matches_reference)
{
    const nl_gelu_kind kind = (nl_gelu_kind)_i;
    enum { COUNT = 70001 }; /* above the parallel threshold, odd */
    float *x = malloc(COUNT * sizeof(float)), *dy = malloc(COUNT * sizeof(float));
    float *want = malloc(COUNT * sizeof(float)), *got = malloc(COUNT * sizeof(float));
    for (int i = 0; i < COUNT; i++)
        x[i] = -9.0f + 18.0f * (float)i / (COUNT - 1);
    tu_fill_normal(dy, COUNT, 500, 0.0f, 1.0f);
    nl_backend *be = tu_cpu(2);
    nl_gelu_reference_forward(kind, COUNT, x, want);
    be->ops->gelu_forward(be, kind, COUNT, x, got);
    for (int i = 0; i < COUNT; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 2e-6f * fmaxf(1.0f, fabsf(want[i])),
                      "gelu %s(%g) = %.9g, reference %.9g", nl_name_of(&nl_gelu_names, kind),
                      x[i], got[i], want[i]);
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        tu_fill_normal(want, COUNT, 501, 0.0f, 1.0f);
        memcpy(got, want, COUNT * sizeof(float));
        nl_gelu_reference_backward(kind, COUNT, x, dy, want, accumulate);
        be->ops->gelu_backward(be, kind, COUNT, x, dy, got, accumulate);
        tu_assert_close(got, want, COUNT, 1e-6, "gelu backward");
    }
    free(x), free(dy), free(want), free(got);
}
END_TEST

/* the two forms are different functions: 1.5e-4 apart at most (PyTorch's
 * documentation), 0 at x = 0, and the exact one at hand-computed values */
START_TEST(test_gelu_by_hand)
{
    ck_assert(fabs(nl_gelu_reference(NL_GELU_ERF, 1.0) - 0.8413447460685429) < 1e-12);
    ck_assert(fabs(nl_gelu_reference(NL_GELU_ERF, -2.0) - -0.04550026389635842) < 1e-12);
    ck_assert(fabs(nl_gelu_reference(NL_GELU_TANH, 1.0) - 0.8411919906082768) < 1e-12);
    double largest = 0.0;
    for (double x = -6.0; x <= 6.0; x += 1e-3)
        largest = fmax(largest, fabs(nl_gelu_reference(NL_GELU_ERF, x) -
                                     nl_gelu_reference(NL_GELU_TANH, x)));
    ck_assert_msg(largest > 1e-5 && largest < 1e-3, "erf - tanh form: %g", largest);
}
END_TEST

/* ---- the ViT's ops ---- */

typedef enum { VIT_PATCHIFY, VIT_POS_ADD, VIT_CLS, VIT_POOL_MEAN, VIT_POOL_CLS, VIT_OPS } vit_op;

static const char *const vit_op_names[VIT_OPS] = {"patchify", "pos_add", "cls_prepend",
                                                  "token_pool mean", "token_pool cls"};

/* patchify: an (n, c, h, w) image and patch side p; the token ops: (n, t =
 * h, d = c) tokens, w and p unused */
typedef struct {
    int n, c, h, w, p;
} vit_shape;

static const vit_shape vit_shapes[] = {
    {1, 1, 1, 1, 1},    /* one value, one token */
    {2, 3, 6, 4, 2},    /* several channels, a non-square grid */
    {3, 2, 9, 9, 3},    /* odd sides */
    {64, 1, 28, 28, 7}, /* Fashion-MNIST's 16 tokens, enough work for the threads */
};

#define N_VIT_SHAPES ((int)(sizeof vit_shapes / sizeof vit_shapes[0]))

/* element counts of the input, the output and the parameter (0: none) */
static void vit_sizes(vit_op op, const vit_shape *s, size_t *in, size_t *out, size_t *param)
{
    const size_t tokens = (size_t)s->n * s->h * s->c;
    *param = 0;
    *in = *out = op == VIT_PATCHIFY ? (size_t)s->n * s->c * s->h * s->w : tokens;
    if (op == VIT_POS_ADD)
        *param = (size_t)s->h * s->c;
    if (op == VIT_CLS) {
        *param = (size_t)s->c;
        *out = tokens + (size_t)s->n * s->c;
    }
    if (op == VIT_POOL_MEAN || op == VIT_POOL_CLS)
        *out = (size_t)s->n * s->c;
}

static nl_token_pool vit_pool(vit_op op)
{
    return op == VIT_POOL_MEAN ? NL_TOKEN_POOL_MEAN : NL_TOKEN_POOL_CLS;
}

/* be NULL: the reference */
static void vit_forward(nl_backend *be, vit_op op, const vit_shape *s, const float *x,
                        const float *param, float *y)
{
    const int n = s->n, t = s->h, d = s->c;
    switch (op) {
    case VIT_PATCHIFY:
        if (be)
            be->ops->patchify_forward(be, n, s->c, s->h, s->w, s->p, x, y);
        else
            nl_patchify_reference_forward(n, s->c, s->h, s->w, s->p, x, y);
        break;
    case VIT_POS_ADD:
        if (be)
            be->ops->pos_add_forward(be, n, t, d, x, param, y);
        else
            nl_pos_add_reference_forward(n, t, d, x, param, y);
        break;
    case VIT_CLS:
        if (be)
            be->ops->cls_prepend_forward(be, n, t, d, x, param, y);
        else
            nl_cls_prepend_reference_forward(n, t, d, x, param, y);
        break;
    default:
        if (be)
            be->ops->token_pool_forward(be, vit_pool(op), n, t, d, x, y);
        else
            nl_token_pool_reference_forward(vit_pool(op), n, t, d, x, y);
    }
}

static void vit_backward(nl_backend *be, vit_op op, const vit_shape *s, const float *dy,
                         float *dx, bool accumulate, float *dparam)
{
    const int n = s->n, t = s->h, d = s->c;
    switch (op) {
    case VIT_PATCHIFY:
        if (be)
            be->ops->patchify_backward(be, n, s->c, s->h, s->w, s->p, dy, dx, accumulate);
        else
            nl_patchify_reference_backward(n, s->c, s->h, s->w, s->p, dy, dx, accumulate);
        break;
    case VIT_POS_ADD:
        if (be)
            be->ops->pos_add_backward(be, n, t, d, dy, dx, accumulate, dparam);
        else
            nl_pos_add_reference_backward(n, t, d, dy, dx, accumulate, dparam);
        break;
    case VIT_CLS:
        if (be)
            be->ops->cls_prepend_backward(be, n, t, d, dy, dx, accumulate, dparam);
        else
            nl_cls_prepend_reference_backward(n, t, d, dy, dx, accumulate, dparam);
        break;
    default:
        if (be)
            be->ops->token_pool_backward(be, vit_pool(op), n, t, d, dy, dx, accumulate);
        else
            nl_token_pool_reference_backward(vit_pool(op), n, t, d, dy, dx, accumulate);
    }
}

static float *normal_floats(size_t count, uint64_t seed)
{
    float *v = malloc((count ? count : 1) * sizeof *v);
    tu_fill_normal(v, count, seed, 0.0f, 1.0f);
    return v;
}

static float *copy_floats(const float *v, size_t count)
{
    float *c = malloc((count ? count : 1) * sizeof *c);
    memcpy(c, v, count * sizeof *c);
    return c;
}

/* _i: op * shapes + shape. Bit for bit against the reference, on 1 to 3
 * threads; dx written over garbage and added to a gradient already there;
 * the parameter's gradient written over garbage. */
START_TEST(test_vit_ops_match_reference)
{
    const vit_op op = (vit_op)(_i / N_VIT_SHAPES);
    const vit_shape *s = &vit_shapes[_i % N_VIT_SHAPES];
    size_t in, out, param;
    vit_sizes(op, s, &in, &out, &param);
    float *x = normal_floats(in, 900 + _i), *w = normal_floats(param, 901 + _i);
    float *dy = normal_floats(out, 902 + _i), *dx0 = normal_floats(in, 903 + _i);
    float *want_y = normal_floats(out, 904), *got_y = normal_floats(out, 905);
    vit_forward(NULL, op, s, x, w, want_y);
    for (int threads = 1; threads <= 3; threads++) {
        nl_backend *be = tu_cpu(threads);
        char what[160];
        snprintf(what, sizeof what, "%s (%d,%d,%d,%d,%d) threads %d", vit_op_names[op], s->n,
                 s->c, s->h, s->w, s->p, threads);
        vit_forward(be, op, s, x, w, got_y);
        ck_assert_msg(memcmp(got_y, want_y, out * sizeof(float)) == 0, "%s: forward", what);
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            float *want_dx = copy_floats(dx0, in), *got_dx = copy_floats(dx0, in);
            float *want_dw = normal_floats(param, 906), *got_dw = normal_floats(param, 907);
            vit_backward(NULL, op, s, dy, want_dx, accumulate, want_dw);
            vit_backward(be, op, s, dy, got_dx, accumulate, got_dw);
            ck_assert_msg(memcmp(got_dx, want_dx, in * sizeof(float)) == 0,
                          "%s: dx (accumulate %d)", what, accumulate);
            ck_assert_msg(memcmp(got_dw, want_dw, param * sizeof(float)) == 0,
                          "%s: parameter gradient", what);
            free(want_dx), free(got_dx), free(want_dw), free(got_dw);
        }
    }
    free(x), free(w), free(dy), free(dx0), free(want_y), free(got_y);
}
END_TEST

/* the conventions themselves, by hand: a 1x4x4 image x[r][c] = 10r + c in
 * 2x2 patches is 4 tokens in row-major grid order, each patch row-major;
 * the class token is row 0; the mean pool of rows 1, 2, 6 is 3 */
START_TEST(test_vit_ops_by_hand)
{
    float img[16], tokens[16];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            img[r * 4 + c] = (float)(10 * r + c);
    nl_backend *be = tu_cpu(1);
    be->ops->patchify_forward(be, 1, 1, 4, 4, 2, img, tokens);
    const float want[16] = {0, 1, 10, 11, 2, 3, 12, 13, 20, 21, 30, 31, 22, 23, 32, 33};
    for (int k = 0; k < 16; k++)
        ck_assert_msg(tokens[k] == want[k], "patch value %d: %g, want %g", k, tokens[k], want[k]);
    const float rows[3] = {1, 2, 6}, cls = -5;
    float with_cls[4], pooled;
    be->ops->cls_prepend_forward(be, 1, 3, 1, rows, &cls, with_cls);
    ck_assert(with_cls[0] == -5 && with_cls[1] == 1 && with_cls[3] == 6);
    be->ops->token_pool_forward(be, NL_TOKEN_POOL_MEAN, 1, 3, 1, rows, &pooled);
    ck_assert(pooled == 3);
    be->ops->token_pool_forward(be, NL_TOKEN_POOL_CLS, 1, 3, 1, rows, &pooled);
    ck_assert(pooled == 1);
}
END_TEST

/* ---- finite differences of the CPU ops ---- */

typedef double (*objective)(void *ctx);

/* central differences of `f` over `samples` entries of `values` against grad */
static double fd_error(objective f, void *ctx, float *values, const float *grad, size_t count,
                       float h, uint64_t seed)
{
    float *pick = malloc(24 * sizeof *pick);
    tu_fill_uniform(pick, 24, seed, 0.0f, 1.0f);
    double max_diff = 0.0, max_grad = 0.0;
    for (int s = 0; s < 24; s++) {
        const size_t i = count <= 24 ? (size_t)s % count : (size_t)(pick[s] * count) % count;
        const float saved = values[i];
        values[i] = saved + h;
        const double plus = f(ctx);
        values[i] = saved - h;
        const double minus = f(ctx);
        values[i] = saved;
        const double d = fabs((plus - minus) / (2.0 * h) - grad[i]);
        max_diff = isnan(d) ? INFINITY : fmax(max_diff, d);
        max_grad = fmax(max_grad, fabs(grad[i]));
    }
    free(pick);
    return max_diff / (max_grad > 1e-12 ? max_grad : 1.0);
}

static double project(const float *y, const float *r, size_t count)
{
    double s = 0.0;
    for (size_t i = 0; i < count; i++)
        s += (double)r[i] * y[i];
    return s;
}

typedef struct {
    nl_backend *be;
    attn_case c;
    float *probs, *y, *r;
    void *ws;
} attn_fd;

static double attn_objective(void *ctx)
{
    attn_fd *a = ctx;
    a->be->ops->attention_forward(a->be, &a->c.g, a->c.q, a->c.k, a->c.v, a->probs, a->y, NULL,
                                  a->ws);
    return project(a->y, a->r, a->c.out_count);
}

START_TEST(test_attention_gradcheck)
{
    const attn_shape *s = &attn_shapes[1 + _i % 3];
    attn_fd a = {.be = tu_cpu(2), .c = attn_case_make(s, _i >= 3, 600 + _i)};
    a.probs = malloc(a.c.probs_count * sizeof(float));
    a.y = malloc(a.c.out_count * sizeof(float));
    a.r = malloc(a.c.out_count * sizeof(float));
    a.ws = malloc(a.be->ops->attention_workspace(a.be, &a.c.g));
    tu_fill_normal(a.r, a.c.out_count, 601, 0.0f, 1.0f);
    float *d = calloc(a.c.qkv_count, sizeof(float)), *dq, *dk, *dv;
    attn_objective(&a);
    attn_grads(&a.c, d, &dq, &dk, &dv);
    a.be->ops->attention_backward(a.be, &a.c.g, a.c.q, a.c.k, a.c.v, a.probs, a.r, dq, dk, dv,
                                  a.ws);
    const double e = fd_error(attn_objective, &a, a.c.qkv, d, a.c.qkv_count, 1e-2f, 602);
    ck_assert_msg(e < 1e-2, "attention (%d,%d,%d,%d): d qkv normalized error %.3g", s->n, s->t,
                  s->heads, s->head_dim, e);
    free(a.probs), free(a.y), free(a.r), free(a.ws), free(d), free(a.c.qkv);
}
END_TEST

typedef struct {
    nl_backend *be;
    const emb_shape *s;
    int32_t *tok;
    float *e, *pos, *y, *r;
} emb_fd;

static double emb_objective(void *ctx)
{
    emb_fd *a = ctx;
    a->be->ops->embedding_forward(a->be, a->s->n, a->s->t, a->s->d, a->tok, a->e, a->pos, a->y);
    return project(a->y, a->r, (size_t)a->s->n * a->s->t * a->s->d);
}

START_TEST(test_embedding_gradcheck)
{
    const emb_shape *s = &emb_shapes[1];
    const size_t rows = (size_t)s->n * s->t, out = rows * s->d, table = (size_t)s->vocab * s->d;
    emb_fd a = {.be = tu_cpu(2), .s = s, .tok = tokens_make(rows, s->vocab, 700)};
    a.e = malloc(table * sizeof(float));
    a.pos = malloc((size_t)s->t * s->d * sizeof(float));
    a.y = malloc(out * sizeof(float));
    a.r = malloc(out * sizeof(float));
    tu_fill_normal(a.e, table, 701, 0.0f, 1.0f);
    tu_fill_normal(a.pos, (size_t)s->t * s->d, 702, 0.0f, 1.0f);
    tu_fill_normal(a.r, out, 703, 0.0f, 1.0f);
    float *de = malloc(table * sizeof(float)), *dp = malloc((size_t)s->t * s->d * sizeof(float));
    void *ws = malloc(a.be->ops->embedding_backward_workspace(a.be, s->n, s->t, s->vocab));
    a.be->ops->embedding_backward(a.be, s->n, s->t, s->d, s->vocab, a.tok, a.r, de, false, dp, ws);
    double e = fd_error(emb_objective, &a, a.e, de, table, 1e-2f, 704);
    ck_assert_msg(e < 1e-3, "embedding: d token table normalized error %.3g", e);
    e = fd_error(emb_objective, &a, a.pos, dp, (size_t)s->t * s->d, 1e-2f, 705);
    ck_assert_msg(e < 1e-3, "embedding: d position table normalized error %.3g", e);
    free(a.tok), free(a.e), free(a.pos), free(a.y), free(a.r), free(de), free(dp), free(ws);
}
END_TEST

typedef struct {
    nl_backend *be;
    nl_gelu_kind kind;
    float *x, *y, *r;
    size_t count;
} gelu_fd;

static double gelu_objective(void *ctx)
{
    gelu_fd *a = ctx;
    a->be->ops->gelu_forward(a->be, a->kind, a->count, a->x, a->y);
    return project(a->y, a->r, a->count);
}

START_TEST(test_gelu_gradcheck)
{
    gelu_fd a = {.be = tu_cpu(1), .kind = (nl_gelu_kind)_i, .count = 48};
    a.x = malloc(a.count * sizeof(float));
    a.y = malloc(a.count * sizeof(float));
    a.r = malloc(a.count * sizeof(float));
    tu_fill_normal(a.x, a.count, 800, 0.0f, 2.0f);
    tu_fill_normal(a.r, a.count, 801, 0.0f, 1.0f);
    float *dx = malloc(a.count * sizeof(float));
    a.be->ops->gelu_backward(a.be, a.kind, a.count, a.x, a.r, dx, false);
    const double e = fd_error(gelu_objective, &a, a.x, dx, a.count, 1e-2f, 802);
    ck_assert_msg(e < 1e-3, "gelu %s: dx normalized error %.3g", nl_name_of(&nl_gelu_names, _i), e);
    free(a.x), free(a.y), free(a.r), free(dx);
}
END_TEST

typedef struct {
    nl_backend *be;
    vit_op op;
    const vit_shape *s;
    float *x, *w, *y, *r;
    size_t out;
} vit_fd;

static double vit_objective(void *ctx)
{
    vit_fd *a = ctx;
    vit_forward(a->be, a->op, a->s, a->x, a->w, a->y);
    return project(a->y, a->r, a->out);
}

/* _i: the op; the input's gradient and the parameter's */
START_TEST(test_vit_ops_gradcheck)
{
    size_t in, param;
    vit_fd a = {.be = tu_cpu(2), .op = (vit_op)_i, .s = &vit_shapes[2]};
    vit_sizes(a.op, a.s, &in, &a.out, &param);
    a.x = normal_floats(in, 1000);
    a.w = normal_floats(param, 1001);
    a.r = normal_floats(a.out, 1002);
    a.y = malloc(a.out * sizeof(float));
    float *dx = malloc(in * sizeof(float)), *dw = malloc((param ? param : 1) * sizeof(float));
    vit_backward(a.be, a.op, a.s, a.r, dx, false, dw);
    double e = fd_error(vit_objective, &a, a.x, dx, in, 1e-2f, 1003);
    ck_assert_msg(e < 1e-3, "%s: dx normalized error %.3g", vit_op_names[_i], e);
    if (param) {
        e = fd_error(vit_objective, &a, a.w, dw, param, 1e-2f, 1004);
        ck_assert_msg(e < 1e-3, "%s: parameter gradient normalized error %.3g", vit_op_names[_i],
                      e);
    }
    free(a.x), free(a.w), free(a.r), free(a.y), free(dx), free(dw);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tfm_ops");
    TCase *tc = tcase_create("cpu");
    tcase_add_loop_test(tc, test_attention_matches_reference, 0, 2 * N_ATTN_SHAPES);
    tcase_add_loop_test(tc, test_attention_mask, 0, 2);
    tcase_add_loop_test(tc, test_embedding_matches_reference, 0,
                        (int)(sizeof emb_shapes / sizeof emb_shapes[0]));
    tcase_add_loop_test(tc, test_gelu_matches_reference, 0, NL_GELU_COUNT);
    tcase_add_test(tc, test_gelu_by_hand);
    tcase_add_loop_test(tc, test_attention_gradcheck, 0, 6);
    tcase_add_test(tc, test_embedding_gradcheck);
    tcase_add_loop_test(tc, test_gelu_gradcheck, 0, NL_GELU_COUNT);
    tcase_add_loop_test(tc, test_vit_ops_match_reference, 0, VIT_OPS * N_VIT_SHAPES);
    tcase_add_test(tc, test_vit_ops_by_hand);
    tcase_add_loop_test(tc, test_vit_ops_gradcheck, 0, VIT_OPS);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
