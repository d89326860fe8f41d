/* Token ops written to be read, forward and backward side by side.
 *
 * Embedding: y[i,t] = E[tok[i,t]] + P[t]
 *            dE[v] (+)= sum over p with tok[p] == v of dy[p], p increasing
 *            dP[t] = sum over i of dy[i,t], i increasing
 * Attention, per sample i and head h (S = scale, rows s are queries, u keys):
 *            L[s,u] = S q_s.k_u (u <= s; every u when bidirectional),
 *            P = softmax_u(L), y_s = sum_u P[s,u] v_u
 *            dP[s,u] = dy_s.v_u,  dL = P * (dP - rowsum(P * dP))
 *            dq_s = S sum_u dL[s,u] k_u,  dk_u = S sum_s dL[s,u] q_s,
 *            dv_u = sum_s P[s,u] dy_s
 * GELU:      see backend.h */
#include "tfm/reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nl_embedding_reference_forward(int n, int t, int d, const int32_t *tokens,
                                    const float *token_table, const float *pos_table, float *y)
{
    for (long p = 0; p < (long)n * t; p++) {
        const float *e = token_table + (size_t)tokens[p] * d;
        const float *pos = pos_table ? pos_table + (size_t)(p % t) * d : NULL;
        for (int j = 0; j < d; j++)
            y[(size_t)p * d + j] = pos ? e[j] + pos[j] : e[j];
    }
}

void nl_embedding_reference_backward(int n, int t, int d, int vocab, const int32_t *tokens,
                                     const float *dy, float *dtoken_table,
                                     bool accumulate_dtoken, float *dpos_table)
{
    if (!accumulate_dtoken)
        memset(dtoken_table, 0, (size_t)vocab * d * sizeof *dtoken_table);
    for (long p = 0; p < (long)n * t; p++)
        for (int j = 0; j < d; j++)
            dtoken_table[(size_t)tokens[p] * d + j] += dy[(size_t)p * d + j];
    if (!dpos_table)
        return;
    for (int s = 0; s < t; s++)
        for (int j = 0; j < d; j++) {
            float sum = 0.0f;
            for (int i = 0; i < n; i++)
                sum += dy[((size_t)i * t + s) * d + j];
            dpos_table[(size_t)s * d + j] = sum;
        }
}

/* head h of token (i, s) of a tensor with rows ld apart */
static const float *head_row(const nl_attn_geom *g, const float *base, int ld, int i, int s,
                             int h)
{
    return base + ((size_t)i * g->t + s) * ld + (size_t)h * g->head_dim;
}

static float *head_row_mut(const nl_attn_geom *g, float *base, int ld, int i, int s, int h)
{
    return base + ((size_t)i * g->t + s) * ld + (size_t)h * g->head_dim;
}

/* the last key query s sees */
static int last_key(const nl_attn_geom *g, int s)
{
    return g->bidirectional ? g->t - 1 : s;
}

static double dot(const float *a, const float *b, int count)
{
    double sum = 0.0;
    for (int j = 0; j < count; j++)
        sum += (double)a[j] * b[j];
    return sum;
}

void nl_attention_reference_forward(const nl_attn_geom *g, const float *q, const float *k,
                                    const float *v, float *probs, float *y, float *max_logit)
{
    const int T = g->t, hd = g->head_dim, D = g->heads * hd;
    double *logit = malloc((size_t)T * sizeof *logit);
    double largest = -INFINITY;
    for (int i = 0; i < g->n; i++)
        for (int h = 0; h < g->heads; h++)
            for (int s = 0; s < T; s++) {
                float *p = probs + (((size_t)i * g->heads + h) * T + s) * T;
                double row_max = -INFINITY, sum = 0.0;
                const int last = last_key(g, s);
                for (int u = 0; u <= last; u++) {
                    logit[u] = g->scale * dot(head_row(g, q, g->ld_q, i, s, h),
                                              head_row(g, k, g->ld_k, i, u, h), hd);
                    row_max = fmax(row_max, logit[u]);
                }
                largest = fmax(largest, row_max);
                for (int u = 0; u <= last; u++)
                    sum += exp(logit[u] - row_max);
                for (int u = 0; u < T; u++)
                    p[u] = u <= last ? (float)(exp(logit[u] - row_max) / sum) : 0.0f;
                float *out = y + ((size_t)i * T + s) * D + (size_t)h * hd;
                for (int j = 0; j < hd; j++) {
                    double acc = 0.0;
                    for (int u = 0; u <= last; u++)
                        acc += (double)p[u] * head_row(g, v, g->ld_v, i, u, h)[j];
                    out[j] = (float)acc;
                }
            }
    if (max_logit)
        *max_logit = (float)largest;
    free(logit);
}

void nl_attention_reference_backward(const nl_attn_geom *g, const float *q, const float *k,
                                     const float *v, const float *probs, const float *dy,
                                     float *dq, float *dk, float *dv)
{
    const int T = g->t, hd = g->head_dim, D = g->heads * hd;
    double *dlogit = malloc((size_t)T * T * sizeof *dlogit);
    for (int i = 0; i < g->n; i++)
        for (int h = 0; h < g->heads; h++) {
            const float *p = probs + ((size_t)i * g->heads + h) * T * T;
            for (int s = 0; s < T; s++) {
                const float *dys = dy + ((size_t)i * T + s) * D + (size_t)h * hd;
                double weighted = 0.0;
                const int last = last_key(g, s);
                for (int u = 0; u <= last; u++)
                    weighted += p[s * T + u] * dot(dys, head_row(g, v, g->ld_v, i, u, h), hd);
                for (int u = 0; u < T; u++)
                    dlogit[s * T + u] =
                        u <= last ? p[s * T + u] *
                                     (dot(dys, head_row(g, v, g->ld_v, i, u, h), hd) - weighted)
                               : 0.0;
            }
            for (int s = 0; s < T; s++) {
                float *dqs = head_row_mut(g, dq, g->ld_q, i, s, h);
                float *dks = head_row_mut(g, dk, g->ld_k, i, s, h);
                float *dvs = head_row_mut(g, dv, g->ld_v, i, s, h);
                for (int j = 0; j < hd; j++) {
                    double q_acc = 0.0, k_acc = 0.0, v_acc = 0.0;
                    for (int u = 0; u <= last_key(g, s); u++) /* s as the query */
                        q_acc += dlogit[s * T + u] * head_row(g, k, g->ld_k, i, u, h)[j];
                    /* s as the key of query r */
                    for (int r = g->bidirectional ? 0 : s; r < T; r++) {
                        k_acc += dlogit[r * T + s] * head_row(g, q, g->ld_q, i, r, h)[j];
                        v_acc += (double)p[r * T + s] *
                                 dy[((size_t)i * T + r) * D + (size_t)h * hd + j];
                    }
                    dqs[j] = (float)(g->scale * q_acc);
                    dks[j] = (float)(g->scale * k_acc);
                    dvs[j] = (float)v_acc;
                }
            }
        }
    free(dlogit);
}

static const double SQRT_2_OVER_PI = 0.7978845608028654, GELU_CUBIC = 0.044715;

double nl_gelu_reference(nl_gelu_kind kind, double x)
{
    if (kind == NL_GELU_TANH)
        return 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)));
    return 0.5 * x * erfc(-x / sqrt(2.0)); /* 1 + erf would cancel for x < 0 */
}

double nl_gelu_reference_derivative(nl_gelu_kind kind, double x)
{
    if (kind == NL_GELU_TANH) {
        const double th = tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
        return 0.5 * (1.0 + th) +
               0.5 * x * (1.0 - th * th) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x);
    }
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

void nl_gelu_reference_forward(nl_gelu_kind kind, size_t count, const float *x, float *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = (float)nl_gelu_reference(kind, x[i]);
}

void nl_gelu_reference_backward(nl_gelu_kind kind, size_t count, const float *x,
                                const float *dy, float *dx, bool accumulate_dx)
{
    for (size_t i = 0; i < count; i++) {
        const float grad = (float)(dy[i] * nl_gelu_reference_derivative(kind, x[i]));
        dx[i] = accumulate_dx ? dx[i] + grad : grad;
    }
}

/* ---- images as tokens ---- */

/* offset of patch value (c, r, s) of patch (py, px) in image i */
static size_t image_offset(int c, int h, int w, int p, int i, int ch, int py, int px, int r, int s)
{
    return (((size_t)i * c + ch) * h + (size_t)py * p + r) * w + (size_t)px * p + s;
}

void nl_patchify_reference_forward(int n, int c, int h, int w, int p, const float *x, float *y)
{
    const int gw = w / p, tokens = (h / p) * gw, width = c * p * p;
    for (int i = 0; i < n; i++)
        for (int tk = 0; tk < tokens; tk++)
            for (int ch = 0; ch < c; ch++)
                for (int r = 0; r < p; r++)
                    for (int s = 0; s < p; s++)
                        y[((size_t)i * tokens + tk) * width + ((size_t)ch * p + r) * p + s] =
                            x[image_offset(c, h, w, p, i, ch, tk / gw, tk % gw, r, s)];
}

void nl_patchify_reference_backward(int n, int c, int h, int w, int p, const float *dy,
                                    float *dx, bool accumulate_dx)
{
    const int gw = w / p, tokens = (h / p) * gw, width = c * p * p;
    for (int i = 0; i < n; i++)
        for (int tk = 0; tk < tokens; tk++)
            for (int ch = 0; ch < c; ch++)
                for (int r = 0; r < p; r++)
                    for (int s = 0; s < p; s++) {
                        const float g =
                            dy[((size_t)i * tokens + tk) * width + ((size_t)ch * p + r) * p + s];
                        float *to = dx + image_offset(c, h, w, p, i, ch, tk / gw, tk % gw, r, s);
                        *to = accumulate_dx ? *to + g : g;
                    }
}

void nl_pos_add_reference_forward(int n, int t, int d, const float *x, const float *pos,
                                  float *y)
{
    for (long row = 0; row < (long)n * t; row++)
        for (int j = 0; j < d; j++)
            y[(size_t)row * d + j] = x[(size_t)row * d + j] + pos[(size_t)(row % t) * d + j];
}

/* into[j] = sum over the samples of rows[i * stride + j], in sample order, in
 * float (the position and class-token gradients) */
static void sum_over_samples(int n, int d, size_t stride, const float *rows, float *into)
{
    for (int j = 0; j < d; j++) {
        float sum = 0.0f;
        for (int i = 0; i < n; i++)
            sum += rows[(size_t)i * stride + j];
        into[j] = sum;
    }
}

static void pass_rows(size_t count, const float *src, float *dst, bool accumulate)
{
    for (size_t k = 0; k < count; k++)
        dst[k] = accumulate ? dst[k] + src[k] : src[k];
}

void nl_pos_add_reference_backward(int n, int t, int d, const float *dy, float *dx,
                                   bool accumulate_dx, float *dpos)
{
    if (dx)
        pass_rows((size_t)n * t * d, dy, dx, accumulate_dx);
    for (int s = 0; s < t; s++)
        sum_over_samples(n, d, (size_t)t * d, dy + (size_t)s * d, dpos + (size_t)s * d);
}

void nl_cls_prepend_reference_forward(int n, int t, int d, const float *x, const float *cls,
                                      float *y)
{
    for (int i = 0; i < n; i++) {
        float *out = y + (size_t)i * (t + 1) * d;
        memcpy(out, cls, (size_t)d * sizeof *out);
        memcpy(out + d, x + (size_t)i * t * d, (size_t)t * d * sizeof *out);
    }
}

void nl_cls_prepend_reference_backward(int n, int t, int d, const float *dy, float *dx,
                                       bool accumulate_dx, float *dcls)
{
    if (dx)
        for (int i = 0; i < n; i++)
            pass_rows((size_t)t * d, dy + ((size_t)i * (t + 1) + 1) * d, dx + (size_t)i * t * d,
                      accumulate_dx);
    sum_over_samples(n, d, (size_t)(t + 1) * d, dy, dcls);
}

void nl_token_pool_reference_forward(nl_token_pool kind, int n, int t, int d, const float *x,
                                     float *y)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            const float *col = x + (size_t)i * t * d + j;
            if (kind == NL_TOKEN_POOL_CLS) {
                y[(size_t)i * d + j] = col[0];
                continue;
            }
            float sum = 0.0f;
            for (int s = 0; s < t; s++)
                sum += col[(size_t)s * d];
            y[(size_t)i * d + j] = sum / (float)t;
        }
}

void nl_token_pool_reference_backward(nl_token_pool kind, int n, int t, int d, const float *dy,
                                      float *dx, bool accumulate_dx)
{
    for (int i = 0; i < n; i++)
        for (int s = 0; s < t; s++)
            for (int j = 0; j < d; j++) {
                const float g = dy[(size_t)i * d + j];
                const float grad = kind == NL_TOKEN_POOL_MEAN ? g / (float)t : s == 0 ? g : 0.0f;
                float *to = dx + ((size_t)i * t + s) * d + j;
                *to = accumulate_dx ? *to + grad : grad;
            }
}
