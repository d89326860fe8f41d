/* Multi-head attention, causal or bidirectional (backend.h): one (sample, head) pair per loop iteration,
 * the pairs split over the threads, each pair's products by single-threaded
 * sgemm (OpenBLAS's OpenMP build runs one thread inside our parallel
 * region). The logits are written straight into the saved probabilities
 * and turned into them in place; backward's dprobs/dlogits take one T x T
 * block of workspace per thread. Each output is computed by one thread in a
 * fixed order, so results do not depend on the thread count. */
#include <cblas.h>
#include <math.h>

#include "cpu/cpu.h"

size_t nl_cpu_attention_workspace(nl_backend *be, const nl_attn_geom *g)
{
    return (size_t)(be->threads > 0 ? be->threads : 1) * g->t * g->t * sizeof(float);
}

/* enough work to wake the team: the pairs' products are T*T*head_dim each */
static bool worth_threads(const nl_attn_geom *g)
{
    return (long)g->n * g->heads * g->t * g->t * g->head_dim >= NL_PARALLEL_MIN;
}

/* the pair's base pointers: head h of sample i */
static size_t head_offset(const nl_attn_geom *g, int ld, int i, int h)
{
    return (size_t)i * g->t * ld + (size_t)h * g->head_dim;
}

/* the last key query s sees: s under the causal mask, else every key */
static int last_key(const nl_attn_geom *g, int s)
{
    return g->bidirectional ? g->t - 1 : s;
}

/* softmax of a row over its first last+1 entries, the rest 0; returns the
 * row's largest logit */
static float masked_softmax_row(float *row, int last, int t)
{
    float max = row[0];
    for (int u = 1; u <= last; u++)
        max = row[u] > max ? row[u] : max;
    float sum = 0.0f;
    for (int u = 0; u <= last; u++) {
        row[u] = expf(row[u] - max);
        sum += row[u];
    }
    const float inv = 1.0f / sum;
    for (int u = 0; u <= last; u++)
        row[u] *= inv;
    for (int u = last + 1; u < t; u++)
        row[u] = 0.0f;
    return max;
}

void nl_cpu_attention_forward(nl_backend *be, const nl_attn_geom *g, const float *q,
                              const float *k, const float *v, float *probs, float *y,
                              float *max_logit, void *workspace)
{
    (void)be;
    (void)workspace;
    const int T = g->t, hd = g->head_dim, D = g->heads * hd, pairs = g->n * g->heads;
    float largest = -INFINITY;
    #pragma omp parallel for schedule(static) reduction(max : largest) if (worth_threads(g))
    for (int pair = 0; pair < pairs; pair++) {
        const int i = pair / g->heads, h = pair % g->heads;
        float *p = probs + (size_t)pair * T * T;
        /* logits = scale * Q K^T; the masked upper triangle is computed and
         * then overwritten, cheaper than T small products */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, g->scale,
                    q + head_offset(g, g->ld_q, i, h), g->ld_q, k + head_offset(g, g->ld_k, i, h),
                    g->ld_k, 0.0f, p, T);
        for (int s = 0; s < T; s++) {
            const float row_max = masked_softmax_row(p + (size_t)s * T, last_key(g, s), T);
            largest = row_max > largest ? row_max : largest;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, p, T,
                    v + head_offset(g, g->ld_v, i, h), g->ld_v, 0.0f, y + head_offset(g, D, i, h),
                    D);
    }
    if (max_logit)
        *max_logit = largest;
}

void nl_cpu_attention_backward(nl_backend *be, const nl_attn_geom *g, const float *q,
                               const float *k, const float *v, const float *probs,
                               const float *dy, float *dq, float *dk, float *dv, void *workspace)
{
    (void)be;
    const int T = g->t, hd = g->head_dim, D = g->heads * hd, pairs = g->n * g->heads;
    #pragma omp parallel for schedule(static) if (worth_threads(g))
    for (int pair = 0; pair < pairs; pair++) {
        const int i = pair / g->heads, h = pair % g->heads;
        const float *p = probs + (size_t)pair * T * T;
        const float *dyh = dy + head_offset(g, D, i, h);
        float *dlogit = (float *)workspace + (size_t)omp_get_thread_num_safe() * T * T;
        /* dprobs = dY V^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dyh, D,
                    v + head_offset(g, g->ld_v, i, h), g->ld_v, 0.0f, dlogit, T);
        for (int s = 0; s < T; s++) {
            const float *ps = p + (size_t)s * T;
            float *ds = dlogit + (size_t)s * T;
            const int last = last_key(g, s);
            float weighted = 0.0f;
            for (int u = 0; u <= last; u++)
                weighted += ps[u] * ds[u];
            for (int u = 0; u <= last; u++)
                ds[u] = ps[u] * (ds[u] - weighted);
            for (int u = last + 1; u < T; u++)
                ds[u] = 0.0f;
        }
        /* dV = P^T dY, dQ = scale dL K, dK = scale dL^T Q */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, p, T, dyh, D, 0.0f,
                    dv + head_offset(g, g->ld_v, i, h), g->ld_v);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, g->scale, dlogit, T,
                    k + head_offset(g, g->ld_k, i, h), g->ld_k, 0.0f,
                    dq + head_offset(g, g->ld_q, i, h), g->ld_q);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, g->scale, dlogit, T,
                    q + head_offset(g, g->ld_q, i, h), g->ld_q, 0.0f,
                    dk + head_offset(g, g->ld_k, i, h), g->ld_k);
    }
}
