/* The ops interface. Layers and normalizers call these and never look at the
 * device: the CPU backend (core/cpu) and the CUDA backend (core/cuda)
 * implement the same table. Pointers passed to ops are device pointers of
 * that backend; sizes are element counts unless named bytes.
 *
 * Conventions shared by all ops:
 * - Parameter gradients are written (=), never accumulated: each parameter
 *   belongs to one layer, so no zeroing pass is needed before backward.
 *   The one exception is embedding_backward's token table, which takes an
 *   accumulate flag: a table tied to the LM head gets the head's weight
 *   gradient first (linear_backward writes it; the head runs backward
 *   before the embedding) and the embedding adds its own.
 * - Input gradients honour `accumulate_dx`: false writes dx, true adds to it
 *   (the planner sets it for the second consumer of a tensor, e.g. the
 *   identity shortcut of a residual block). dx may be NULL: not needed.
 * - gamma/beta may be NULL (affine: false): gamma = 1, beta = 0, and then
 *   dgamma/dbeta are NULL too. The norm ops also take gamma without beta
 *   (a scale and no shift, as RMSNorm), except with batch statistics.
 * - Reductions use a fixed order for a given thread count, so runs repeat
 *   bit for bit. */
#ifndef NL_BACKEND_H
#define NL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/names.h"
#include "base/status.h"

typedef struct nl_backend nl_backend;

typedef struct {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int kernel, stride, pad; /* square kernels */
} nl_conv_geom;

typedef struct {
    nl_pool_kind kind;
    int c, in_h, in_w, out_h, out_w;
    int kernel_h, kernel_w, stride, pad;
    /* max pooling of relu(x), one pass instead of two over the (larger) input;
     * argmax is -1 where the output is 0, since relu passes no gradient there */
    bool relu_input;
} nl_pool_geom;

/* Where a normalizer takes its statistics. A plane is one (sample, channel)
 * run of hw floats; statistics are taken over groups of planes:
 *   groups == 0: batch statistics, per channel over its N planes (N*HW values)
 *   groups >= 1: per sample over each group of c/groups planes (1: layer
 *                norm over C*HW, c: instance norm over HW)
 * center false: no mean is subtracted (RMS normalization); the saved mean
 * is 0 and the variance is the mean square. */
typedef struct {
    int n, c, hw;
    int groups;
    bool center;
    float eps;
} nl_norm_geom;

/* statistics groups (entries of save_mean/save_rstd) and values per group */
static inline long nl_norm_stat_groups(const nl_norm_geom *g)
{
    return g->groups == 0 ? g->c : (long)g->n * g->groups;
}
static inline long nl_norm_group_count(const nl_norm_geom *g)
{
    return g->groups == 0 ? (long)g->n * g->hw : (long)(g->c / g->groups) * g->hw;
}

/* Tokens. A batch of sequences is (N, T, D), stored as nl_shape ndim 3 with
 * c = D, h = T, w = 1: token (i, t) is the row of D floats at (i*T + t)*D.
 * Ops over the last axis see N*T rows of D: linear (n = N*T), the norm
 * family (n = N*T, c = D, hw = 1; groups 1 for layer/RMS norm, 0 for batch
 * norm over the N*T tokens of each feature), dyt, softmax_xent
 * (n = N*T rows of vocabulary logits).
 *
 * Multi-head self-attention over q, k, v of shape (N, T, D) (causal unless
 * the geometry says bidirectional), D = heads * head_dim, head h in columns [h*head_dim, (h+1)*head_dim) of
 * each token's row. Rows are ld_q (ld_k, ld_v) floats apart, so that q, k
 * and v can be the three thirds of one fused (N, T, 3D) projection (ld 3D,
 * k = q + D, v = q + 2D) or separate (N, T, D) tensors (ld D, e.g. after
 * QK-norm). The output y is (N, T, D) with rows D apart. */
/* GELU's constants in float, shared by the backends' kernels (gelu_forward) */
#define NL_GELU_SQRT_2_OVER_PI 0.7978845608f /* sqrt(2/pi), the tanh form's scale */
#define NL_GELU_CUBIC 0.044715f             /* the tanh form's cubic coefficient */
#define NL_GELU_INV_SQRT_2 0.7071067812f     /* 1/sqrt 2: Phi(x) = (1 + erf(x/sqrt 2)) / 2 */
#define NL_GELU_INV_SQRT_2PI 0.3989422804f   /* 1/sqrt(2 pi): Phi's density at 0 */

typedef struct {
    int n, t;
    int heads, head_dim;
    int ld_q, ld_k, ld_v;
    float scale; /* multiplies q.k before the softmax: 1/sqrt(head_dim) */
    /* every query sees every key (an encoder: the ViT); false, the zero
     * default, keeps the causal mask (the LM). A flag that defaults to the
     * mask, so that a geometry written without it stays causal. */
    bool bidirectional;
} nl_attn_geom;

/* Per-step scalars. Values that change from one training step to the next
 * (the learning rate of a schedule, AdamW's bias corrections, a cumulative
 * running-statistics momentum, batch renorm's ramped limits) reach the
 * kernels through device memory, never as kernel arguments: the model
 * uploads them before the step's kernels, so a recorded step (a CUDA graph)
 * replays with the current values. The ops below that take such a pointer
 * read it when their kernels run. */
typedef struct {
    float lr;
    float momentum;
    float dampening;
    float weight_decay;
    bool nesterov;
    bool first_step; /* PyTorch: the velocity starts as the first gradient */
} nl_sgd_args;

/* One AdamW step (torch.optim.AdamW, amsgrad off), its scalars computed on
 * the host in double as PyTorch does and rounded to float:
 *   p = p * decay;  m = m * beta1 + (1 - beta1) * g;
 *   v = v * beta2 + (1 - beta2) * g * g;
 *   p = p + neg_step_size * (m / (sqrt(v) / bias_correction2_sqrt + eps)) */
typedef struct {
    float decay;          /* 1 - lr * weight_decay: decoupled weight decay */
    float beta1, one_minus_beta1;
    float beta2, one_minus_beta2;
    float neg_step_size;  /* -lr / (1 - beta1^t) */
    float bias_correction2_sqrt; /* sqrt(1 - beta2^t) */
    float eps;
} nl_adamw_args;

/* sum_squares splits its input into this many contiguous parts of
 * ceil(count / parts) floats and writes one double per part: the same split
 * on every backend and thread count, so the sum the caller takes over the
 * parts, in order, repeats bit for bit */
#define NL_SUM_SQUARES_PARTS 64
/* gradient-norm clipping's device slots (doubles): the partials of
 * sum_squares, then the sum of the norms since the training loop last set
 * it (its log window), then the step's coefficient */
#define NL_CLIP_NORM_SUM NL_SUM_SQUARES_PARTS
#define NL_CLIP_COEF (NL_SUM_SQUARES_PARTS + 1)
#define NL_CLIP_SLOTS (NL_SUM_SQUARES_PARTS + 2)

typedef struct nl_ops {
    const char *name;

    /* ---- memory ---- */
    nl_code (*alloc)(nl_backend *be, size_t bytes, void **out, nl_error *err);
    void (*release)(nl_backend *be, void *ptr);
    /* host -> device; may return before the copy ends (ordered with later ops) */
    void (*upload)(nl_backend *be, void *dst, const void *src, size_t bytes);
    /* device -> host; returns when the data are on the host */
    void (*download)(nl_backend *be, void *dst, const void *src, size_t bytes);
    void (*fill)(nl_backend *be, float *dst, float value, size_t count);
    void (*copy)(nl_backend *be, float *dst, const float *src, size_t count);
    /* waits for queued work; reports an error a kernel left behind */
    nl_code (*synchronize)(nl_backend *be, nl_error *err);
    /* the device memory free now and in all, in bytes; both 0 on a backend
     * whose memory is the host's (the CPU) */
    void (*memory_info)(nl_backend *be, size_t *free_bytes, size_t *total_bytes);
    /* Gathers rows by index: row i of dst = row index[i] of src, i < n, rows
     * of row_words 4-byte words, copied bit for bit (floats and int32 labels
     * alike). index is a device array; its entries must name rows of src:
     * the batcher's permutation guarantees it and the op does not check. */
    void (*gather_rows)(nl_backend *be, int n, size_t row_words, const int32_t *index,
                        const void *src, void *dst);
    /* Cuts n windows of t tokens out of a token array: tokens[i*t + k] =
     * src[starts[i] + k] and targets[i*t + k] = src[starts[i] + k + 1], k < t
     * (the next-token targets). starts is a device array; every window and
     * its targets must lie in src (the window batcher guarantees it). */
    void (*gather_windows)(nl_backend *be, int n, int t, const int32_t *starts,
                           const int32_t *src, int32_t *tokens, int32_t *targets);

    /* ---- dense layers; weight is (out, in) as in PyTorch ---- */
    size_t (*linear_workspace)(nl_backend *be, int n, int in, int out); /* bytes, batches up to n */
    void (*linear_forward)(nl_backend *be, int n, int in, int out, const float *x,
                           const float *weight, const float *bias, float *y, void *workspace);
    void (*linear_backward)(nl_backend *be, int n, int in, int out, const float *x,
                            const float *weight, const float *dy, float *dx, bool accumulate_dx,
                            float *dweight, float *dbias);

    /* ---- 2-D convolution; weight is (out_c, in_c, k, k) ---- */
    size_t (*conv2d_workspace)(nl_backend *be, const nl_conv_geom *g, int n); /* bytes */
    void (*conv2d_forward)(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                           const float *weight, const float *bias, float *y, void *workspace);
    void (*conv2d_backward)(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                            const float *weight, const float *dy, float *dx, bool accumulate_dx,
                            float *dweight, float *dbias, void *workspace);

    /* ---- pooling; argmax (max pooling only) holds flat input offsets, or -1
     * for outputs that pass no gradient (relu_input) ---- */
    void (*pool_forward)(nl_backend *be, const nl_pool_geom *g, int n, const float *x, float *y,
                         int32_t *argmax);
    void (*pool_backward)(nl_backend *be, const nl_pool_geom *g, int n, const float *dy,
                          const int32_t *argmax, float *dx, bool accumulate_dx);

    /* ---- elementwise ---- */
    void (*activation_forward)(nl_backend *be, nl_activation kind, size_t count, const float *x,
                               float *y);
    /* the derivative is taken from the output y (relu: y > 0) */
    void (*activation_backward)(nl_backend *be, nl_activation kind, size_t count, const float *y,
                                const float *dy, float *dx, bool accumulate_dx);
    void (*add_forward)(nl_backend *be, size_t count, const float *a, const float *b, float *y);
    /* dst = src, or dst += src */
    void (*pass_gradient)(nl_backend *be, size_t count, const float *src, float *dst,
                          bool accumulate);

    /* ---- loss: softmax cross-entropy, mean over the batch ----
     * forward keeps the probabilities for backward and adds the batch's summed
     * loss to metrics[0] and its number of correct argmax predictions to
     * metrics[1] (device doubles, read when a point is logged). */
    void (*softmax_xent_forward)(nl_backend *be, int n, int classes, const float *logits,
                                 const int32_t *labels, float *probs, double *metrics);
    /* dlogits = (probs - onehot) / n */
    void (*softmax_xent_backward)(nl_backend *be, int n, int classes, const float *probs,
                                  const int32_t *labels, float *dlogits);

    /* ---- normalization: one family over "groups of planes" (nl_norm_geom);
     * x, y are (N, C, HW), gamma/beta (C). Training: each statistics group's
     * mean (0 when !center) and rstd = 1/sqrt(var + eps), var the biased
     * mean square about the mean, go to save_mean/save_rstd (one per
     * statistics group: C for batch statistics, N*groups otherwise), and
     * y = (x - mean) * rstd * gamma_c + beta_c. When running_mean is not NULL
     * (centred kinds with per-channel groups: groups == 0, or groups == c)
     * the per-channel running statistics take (1 - momentum) of themselves
     * plus momentum of the batch mean and unbiased variance (for groups == c
     * the batch average of the per-instance ones). momentum is one float in
     * device memory, read when the kernels run (a per-step scalar: see
     * "Per-step scalars" above); it is not read when running_mean is NULL. */
    void (*norm_forward)(nl_backend *be, const nl_norm_geom *g, const float *x,
                         const float *gamma, const float *beta, float *y, float *save_mean,
                         float *save_rstd, float *running_mean, float *running_var,
                         const float *momentum);
    /* normalizes with given per-channel statistics (eval mode of the kinds
     * with running statistics); g->groups is not used */
    void (*norm_forward_eval)(nl_backend *be, const nl_norm_geom *g, const float *x,
                              const float *gamma, const float *beta, const float *running_mean,
                              const float *running_var, float *y);
    /* The forward in two steps, for normalizers that change the statistics
     * between them (batch renormalization; synchronized batch norm merges
     * the ranks' statistics). norm_stats: each statistics group's mean (0
     * when !center) and biased variance var (the mean square about the mean;
     * variances, not rstd, so that partial statistics combine), and the
     * running statistics updated exactly as norm_forward does when
     * running_mean is not NULL. norm_apply: y = (x - mean) * rstd * gamma_c
     * + beta_c with rstd = 1/sqrt(var + eps) of the given per-group
     * statistics, rstd also written to save_rstd when it is not NULL (for
     * norm_backward, with mean as save_mean). stats then apply computes
     * norm_forward's y and saved statistics to rounding. */
    void (*norm_stats)(nl_backend *be, const nl_norm_geom *g, const float *x, float *mean,
                       float *var, float *running_mean, float *running_var,
                       const float *momentum);
    void (*norm_apply)(nl_backend *be, const nl_norm_geom *g, const float *x, const float *mean,
                       const float *var, const float *gamma, const float *beta, float *y,
                       float *save_rstd);
    /* Batch renormalization (Ioffe 2017), per channel of c, from the batch
     * statistics (norm_stats) and the running ones before this batch's
     * update, sigma = sqrt(var + eps):
     *   r = clip(sigma_batch / sigma_running, 1/r_max, r_max)
     *   d = clip((mean - running_mean) / sigma_running, -d_max, d_max)
     * writes r, d and the affine map norm_apply then takes: scale = gamma*r,
     * shift = gamma*d + beta (gamma/beta NULL: 1/0). limits: {r_max, d_max}
     * in device memory (per-step scalars: they ramp with the step). */
    void (*renorm_correction)(nl_backend *be, int c, float eps, const float *limits,
                              const float *mean, const float *var, const float *running_mean,
                              const float *running_var, const float *gamma, const float *beta,
                              float *r, float *d, float *scale, float *shift);
    /* r and d are constants to the gradient (the paper's stop-gradient): from
     * norm_backward's sums with gamma*r as the scale (dgamma = sum dy*xhat,
     * dbeta = sum dy), dgamma = r*dgamma + d*dbeta, in place */
    void (*renorm_param_grads)(nl_backend *be, int c, const float *r, const float *d,
                               float *dgamma, const float *dbeta);
    size_t (*norm_backward_workspace)(nl_backend *be, const nl_norm_geom *g); /* bytes */
    void (*norm_backward)(nl_backend *be, const nl_norm_geom *g, const float *x, const float *dy,
                          const float *gamma, const float *save_mean, const float *save_rstd,
                          float *dx, bool accumulate_dx, float *dgamma, float *dbeta,
                          void *workspace);
    /* The backward of batch statistics (g->groups == 0) in two steps, for
     * synchronized batch norm: the ranks add their per-channel sums between
     * them. norm_backward_reduce: per channel sum_dy = sum dy and
     * sum_dy_xhat = sum dy * xhat over the N*HW values (exactly
     * norm_backward's dbeta and dgamma). norm_backward_apply: dx = rstd *
     * gamma_c * (dy - (sum_dy + xhat * sum_dy_xhat) / count) from sums over
     * `count` values per channel (all ranks' N*HW). With this rank's own
     * sums and count N*HW the two give norm_backward's dx to rounding. */
    void (*norm_backward_reduce)(nl_backend *be, const nl_norm_geom *g, const float *x,
                                 const float *dy, const float *save_mean, const float *save_rstd,
                                 float *sum_dy, float *sum_dy_xhat);
    void (*norm_backward_apply)(nl_backend *be, const nl_norm_geom *g, const float *x,
                                const float *dy, const float *gamma, const float *save_mean,
                                const float *save_rstd, const float *sum_dy,
                                const float *sum_dy_xhat, double count, float *dx,
                                bool accumulate_dx);

    /* ---- normalizers without statistics, on (N, C, HW) like the norm ops ----
     * Dynamic Tanh (Zhu et al. 2025): y = gamma_c * tanh(alpha * x) + beta_c,
     * alpha one learned float (a device pointer, read by the kernel). Backward
     * writes dgamma, dbeta and dalpha, a sum over every element taken in a
     * fixed order (per channel, then over the channels); the workspace holds
     * the channels' partial sums. */
    void (*dyt_forward)(nl_backend *be, int n, int c, int hw, const float *alpha, const float *x,
                        const float *gamma, const float *beta, float *y);
    size_t (*dyt_backward_workspace)(nl_backend *be, int c); /* bytes */
    void (*dyt_backward)(nl_backend *be, int n, int c, int hw, const float *alpha,
                         const float *x, const float *dy, const float *gamma, float *dx,
                         bool accumulate_dx, float *dgamma, float *dbeta, float *dalpha,
                         void *workspace);
    /* FRN's thresholded linear unit (Singh & Krishnan 2020): y = max(x, tau_c),
     * y may be x. Backward reads y (y > tau_c exactly where x > tau_c):
     * dx = dy there, and dtau_c sums dy over the rest of channel c. */
    void (*tlu_forward)(nl_backend *be, int n, int c, int hw, const float *x, const float *tau,
                        float *y);
    void (*tlu_backward)(nl_backend *be, int n, int c, int hw, const float *y, const float *tau,
                         const float *dy, float *dx, bool accumulate_dx, float *dtau);

    /* ---- tokens (layout above nl_attn_geom) ----
     * Embedding: y[i,t,:] = token_table[tokens[i*T+t], :] + pos_table[t, :]
     * for t < T; token_table is (vocab, D), pos_table (context >= T, D) or
     * NULL (no position term). Token ids must lie in [0, vocab): the data
     * loader guarantees it and the op does not check. */
    void (*embedding_forward)(nl_backend *be, int n, int t, int d, const int32_t *tokens,
                              const float *token_table, const float *pos_table, float *y);
    size_t (*embedding_backward_workspace)(nl_backend *be, int n, int t, int vocab); /* bytes */
    /* Scatter-add in a fixed order, so that runs repeat bit for bit on any
     * backend and thread count: each row v of dtoken_table (vocab, D) starts
     * at its own value (accumulate_dtoken, see the conventions above) or at
     * 0, and the rows dy[p, :] of the positions p = i*T + t holding token v
     * are added to it one at a time, in increasing p, in float. Rows of
     * tokens absent from the batch end as they started (0 or unchanged).
     * dpos_table may be NULL; else rows t' < t are written (=) as
     * ((0 + dy[0,t',:]) + dy[1,t',:]) + ... over the samples in order, in
     * float, and rows t' >= t are left alone. The workspace is the
     * backend's (e.g. the positions sorted by token). */
    void (*embedding_backward)(nl_backend *be, int n, int t, int d, int vocab,
                               const int32_t *tokens, const float *dy, float *dtoken_table,
                               bool accumulate_dtoken, float *dpos_table, void *workspace);

    /* Multi-head scaled dot-product attention (nl_attn_geom). For sample i,
     * head h, query token s and key token u:
     *   logit[s,u] = scale * sum_j q[i,s,h,j] * k[i,u,h,j]  for u <= s,
     *                -inf for u > s (the causal mask, before the softmax);
     *                bidirectional: every u < T unmasked
     *   probs[i,h,s,u] = exp(logit[s,u] - max_u' logit[s,u']) / sum over u'
     *   y[i,s,h,:] = sum_u probs[i,h,s,u] * v[i,u,h,:]
     * probs (N, heads, T, T), saved for backward, holds exact zeros above
     * the diagonal (causal). max_logit (one device float) may be NULL; else it is
     * written as the largest unmasked logit (scaled) of the whole batch,
     * the quantity whose growth QK-norm prevents. The workspace
     * (attention_workspace bytes) serves forward and backward. */
    size_t (*attention_workspace)(nl_backend *be, const nl_attn_geom *g); /* bytes */
    void (*attention_forward)(nl_backend *be, const nl_attn_geom *g, const float *q,
                              const float *k, const float *v, float *probs, float *y,
                              float *max_logit, void *workspace);
    /* From probs, with dprobs[s,u] = dy[i,s,h,:] . v[i,u,h,:] and
     *   dlogit[s,u] = probs[s,u] * (dprobs[s,u] - sum_u' probs[s,u'] dprobs[s,u'])
     *   dq[s] = scale * sum_u dlogit[s,u] k[u],  dk[u] = scale * sum_s dlogit[s,u] q[s]
     *   dv[u] = sum_s probs[s,u] dy[s]
     * dq, dk, dv are written (=), never accumulated, with the row strides of
     * q, k, v (they may be thirds of one fused gradient buffer). */
    void (*attention_backward)(nl_backend *be, const nl_attn_geom *g, const float *q,
                               const float *k, const float *v, const float *probs,
                               const float *dy, float *dq, float *dk, float *dv,
                               void *workspace);

    /* GELU, its derivative from the input x (not the output, as
     * activation_backward: GELU is not invertible); nothing saved.
     *   erf:  y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
     *         dy/dx = Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi)
     *   tanh: u = sqrt(2/pi) (x + 0.044715 x^3), y = 0.5 x (1 + tanh u)
     *         dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) */
    void (*gelu_forward)(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                         float *y);
    void (*gelu_backward)(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                          const float *dy, float *dx, bool accumulate_dx);

    /* ---- images as tokens (the ViT; token layout above nl_attn_geom) ----
     * Patchify: an (N, C, H, W) image cut into p x p patches, the grid of
     * (H/p) x (W/p) patches in row-major order, each patch's values in
     * (channel, row, column) order (the order of a Conv2d(C, D, p, stride p)
     * weight): tokens (N, T = HW/p^2, C*p*p). p divides H and W. A pure
     * permutation; backward is its inverse, dx written or added. */
    void (*patchify_forward)(nl_backend *be, int n, int c, int h, int w, int p, const float *x,
                             float *y);
    void (*patchify_backward)(nl_backend *be, int n, int c, int h, int w, int p,
                              const float *dy, float *dx, bool accumulate_dx);
    /* Position add over (N, T, D): y[i,t,:] = x[i,t,:] + pos[t,:]. Backward:
     * dx = dy (written or added; dx may be NULL) and dpos[t,:] written as
     * ((0 + dy[0,t,:]) + dy[1,t,:]) + ... over the samples in order, in
     * float, on every backend (as embedding_backward's dpos_table). */
    void (*pos_add_forward)(nl_backend *be, int n, int t, int d, const float *x,
                            const float *pos, float *y);
    void (*pos_add_backward)(nl_backend *be, int n, int t, int d, const float *dy, float *dx,
                             bool accumulate_dx, float *dpos);
    /* Class token: x (N, T, D) -> y (N, T + 1, D), row 0 of every sample the
     * token cls (D), rows 1.. the sample's tokens. Backward: dx[i,t,:] =
     * dy[i,t+1,:] (written or added; dx may be NULL), dcls written as the
     * sum over the samples of dy[i,0,:] in the order above. */
    void (*cls_prepend_forward)(nl_backend *be, int n, int t, int d, const float *x,
                                const float *cls, float *y);
    void (*cls_prepend_backward)(nl_backend *be, int n, int t, int d, const float *dy, float *dx,
                                 bool accumulate_dx, float *dcls);
    /* Token pooling (N, T, D) -> (N, D). mean: y[i,:] = (x[i,0,:] + ... +
     * x[i,T-1,:]) / T, added in token order in float; cls: y[i,:] =
     * x[i,0,:]. Backward: dx[i,t,:] = dy[i,:] / T (mean), or dy[i,:] at t = 0
     * and 0 elsewhere (cls); written or added. */
    void (*token_pool_forward)(nl_backend *be, nl_token_pool kind, int n, int t, int d,
                               const float *x, float *y);
    void (*token_pool_backward)(nl_backend *be, nl_token_pool kind, int n, int t, int d,
                                const float *dy, float *dx, bool accumulate_dx);

    /* ---- optimizers (PyTorch's conventions); args in device memory,
     * read when the kernels run (per-step scalars) ---- */
    void (*sgd_step)(nl_backend *be, size_t count, float *param, const float *grad,
                     float *velocity, const nl_sgd_args *args);
    void (*adamw_step)(nl_backend *be, size_t count, float *param, const float *grad,
                       float *exp_avg, float *exp_avg_sq, const nl_adamw_args *args);
    /* partials (device, NL_SUM_SQUARES_PARTS doubles): the sum of x[i]^2 over
     * each part, in double (gradient-norm clipping) */
    void (*sum_squares)(nl_backend *be, size_t count, const float *x, double *partials);
    /* gradient-norm clipping after sum_squares wrote slots' partials (slots:
     * device, NL_CLIP_SLOTS doubles): the norm is the square root of the
     * partials' sum taken in order, so equal partials give the same norm on
     * every backend; x is scaled by max_norm / (norm + 1e-6) in float when
     * that is below 1 (by NaN for a NaN norm, as torch.nn.utils.clip_grad_norm_
     * does), and the norm is added to slots[NL_CLIP_NORM_SUM]. Nothing
     * comes back to the host, so no step waits for the device. */
    void (*clip_by_norm)(nl_backend *be, size_t count, float *x, double *slots, float max_norm);

    /* ---- recording a sequence of ops (a CUDA graph); NULL on a backend
     * without one ----
     * The ops queued between record_begin and record_end are recorded, not
     * run. replay runs them again in order, reading device memory as it is
     * then (per-step scalars included) and the ops' other arguments as they
     * were when recorded. No upload, download, allocation or synchronize may
     * come in between. record_end returns NULL when recording failed (the
     * backend's first error says why, at synchronize). */
    bool (*record_begin)(nl_backend *be);
    void *(*record_end)(nl_backend *be);
    void (*replay)(nl_backend *be, void *recording);
    void (*record_free)(nl_backend *be, void *recording);
} nl_ops;

struct nl_backend {
    const nl_ops *ops;
    nl_device device;
    int threads;
    /* how the thread count was chosen: the cores this process may use, and
     * those other processes kept busy when it was opened (threads: 0 only) */
    int usable_cores;
    double busy_cores;
    bool flush_subnormals; /* host threads flush subnormal floats to zero */
    /* the CPU kernel set the ops come from (cpu/host.c: "native",
     * "x86-64-v4", ...); NULL for a GPU */
    const char *cpu_kernels;
    void *impl; /* backend-private state (CUDA handles and streams) */
};

typedef struct {
    /* > 0: exactly this many host threads; <= 0: OMP_NUM_THREADS when set,
     * else the usable cores less those other processes keep busy at the
     * start (at least one) */
    int threads;
    /* false (the zero default): host threads flush subnormal floats to zero
     * (FTZ and DAZ); true keeps IEEE gradual underflow */
    bool keep_subnormals;
} nl_backend_options;

/* Opens a backend; opt NULL means the defaults. CUDA is an error in a build
 * without it. */
nl_code nl_backend_open(nl_device device, const nl_backend_options *opt, nl_backend **out,
                        nl_error *err);
void nl_backend_close(nl_backend *be);

/* A backend that only answers shape questions (workspace sizes for
 * `threads` host threads): for planning a model's memory without opening a
 * device. It allocates nothing and must not run ops or be closed. */
nl_backend nl_backend_probe(int threads);
/* The ranks of a data-parallel run on the CPU agree on one CPU kernel set
 * before opening their backends: each fills its vote, the ranks sum the
 * votes, and each decides from the sums alike. Ranks that chose
 * automatically take the best set all of them run, with *note saying so
 * when that changed a set; pinned sets that differ are NL_ERR_USAGE on
 * every rank. */
enum { NL_KERNEL_SETS_MAX = 32, NL_KERNEL_VOTES_MAX = 2 * NL_KERNEL_SETS_MAX + 1 };
/* returns how many of the votes count */
int nl_backend_cpu_kernel_votes(double votes[NL_KERNEL_VOTES_MAX]);
nl_code nl_backend_cpu_kernels_agree(const double *sums, int ranks, char *note, size_t note_size,
                                     nl_error *err);

/* What this build and machine offer, for --version and `list`. */
const char *nl_backend_cpu_description(char *buf, size_t size);
/* the CPU kernel set in use, those the binary holds and those this CPU runs */
const char *nl_backend_cpu_kernels_description(char *buf, size_t size);
int nl_backend_cuda_built(void);
/* The most host threads a run with `threads` (the config's or --threads;
 * <= 0: the usable cores, before busy ones are left out) can use: what the
 * memory plan sizes per-thread workspaces for. */
int nl_backend_max_threads(int threads);
/* Describes the visible GPU, or why there is none; returns 1 when usable. */
int nl_backend_cuda_describe(char *buf, size_t size);

#endif
