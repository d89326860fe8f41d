/* The memory layout of the recurrent ops (backend_ops.def's rnn_*), one
 * for both backends so that a saved buffer or workspace planned by one is
 * read the same way by the other's kernels (core/cpu/rnn.c explains why the
 * states are time-major and the gates' gradients kept twice). Host
 * arithmetic only: C and CUDA include it alike. */
#ifndef NL_RNN_LAYOUT_H
#define NL_RNN_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"

static inline int nl_rnn_gate_count(nl_rnn_cell cell) { return cell == NL_RNN_LSTM ? 4 : 3; }

/* The most workspace a low-precision backward's products take, as the
 * backend's linear kernels size it: the weight gradients' products over
 * all steps (n*t rows of in and of hidden) and each step's dh product
 * (rnn_state_grad, sized as a linear of n rows). */
static inline size_t nl_rnn_lowp_product_bytes(nl_backend *be, int n, int t, int in, int hidden,
                                               int g)
{
    const size_t sizes[3] = {be->ops->linear_workspace(be, n * t, hidden, g),
                             be->ops->linear_workspace(be, n * t, in, g),
                             be->ops->linear_workspace(be, n, hidden, g)};
    size_t most = 0;
    for (int k = 0; k < 3; k++)
        most = sizes[k] > most ? sizes[k] : most;
    return most;
}

/* floats rounded up to whole 64-byte lines, so every part starts on one */
static inline size_t nl_rnn_lines(size_t floats) { return (floats + 15) / 16 * 16; }

/* The saved tensors of a batch of n: the hidden states and (lstm) the cell
 * states, (T+1, n, H) each, slot 0 the zero initial state; and per step
 * and sample 4H floats: the activated gates i, f, g, o (lstm), or r, z, n
 * and the recurrent n-gate term h w_hn^T + b_hn (gru), which the gradient
 * of r needs. */
typedef struct {
    float *h, *c, *gates;
} nl_rnn_saved_parts;

/* the parts of `saved` (NULL: none) and the bytes they take */
static inline size_t nl_rnn_saved_layout(nl_rnn_cell cell, int n, int t, int hidden, void *saved,
                                         nl_rnn_saved_parts *p)
{
    const size_t states = nl_rnn_lines((size_t)(t + 1) * n * hidden);
    const size_t state_sets = cell == NL_RNN_LSTM ? 2 : 1;
    if (p) {
        float *base = (float *)saved;
        p->h = base;
        p->c = cell == NL_RNN_LSTM ? base + states : NULL;
        p->gates = base + state_sets * states;
    }
    return (state_sets * states + nl_rnn_lines((size_t)t * n * 4 * hidden)) * sizeof(float);
}

/* The workspace. Forward: the input projection (N*T, G) in the token
 * layout, the step's recurrent projection (N, G) and linear_bytes for the
 * backend's linear kernels; backward: the gates' gradients in the token
 * layout and time-major, and the gradients of h and c carried from step to
 * step (N, H each). */
typedef struct {
    float *xproj, *hproj;
    void *linear;
    float *dgates_x, *dgates_h, *dh, *dc;
} nl_rnn_work_parts;

/* the parts of `workspace` (NULL: none) and the bytes they take */
static inline size_t nl_rnn_work_layout(nl_rnn_cell cell, int n, int t, int hidden,
                                        size_t linear_bytes, void *workspace,
                                        nl_rnn_work_parts *p)
{
    const size_t g = (size_t)nl_rnn_gate_count(cell) * hidden;
    const size_t seq = nl_rnn_lines((size_t)n * t * g), state = nl_rnn_lines((size_t)n * hidden);
    const size_t step = nl_rnn_lines((size_t)n * g);
    const size_t forward = (seq + step) * sizeof(float) + linear_bytes;
    const size_t backward = (2 * seq + 2 * state) * sizeof(float);
    if (p) {
        float *base = (float *)workspace;
        p->xproj = base;
        p->hproj = base + seq;
        p->linear = linear_bytes ? (void *)(base + seq + step) : NULL;
        p->dgates_x = base;
        p->dgates_h = base + seq;
        p->dh = base + 2 * seq;
        p->dc = base + 2 * seq + state;
    }
    return forward > backward ? forward : backward;
}

/* ---- the normalized cell (layers/rnn.c's in-cell normalizers) ----
 * Its kernels are the pointwise rnn_cell_* ops between the backend's
 * linear and norm ops, so both backends read this one layout. Everything
 * is time-major, (T, N, .) with step s at row s*N: the input projection
 * is moved there from the token layout once per pass, so that a step's
 * rows are one contiguous (N, G) block that a per-step normalizer
 * (recurrent batch norm) takes as its batch. stats_*: the floats one
 * normalizer saves per step (its mean, and as many rstd): N for
 * per-sample statistics, the normalized width for per-step batch ones. */
typedef struct {
    nl_rnn_cell cell;
    int n, t, hidden;
    int stats_x, stats_h, stats_c; /* stats_c 0: the cell state is not normalized */
} nl_rnn_norm_dims;

static inline int nl_rnn_norm_width(const nl_rnn_norm_dims *d)
{
    return nl_rnn_gate_count(d->cell) * d->hidden;
}

/* the part of `floats` (whole lines) at *used floats into base (NULL:
 * none, only counting), *used moved past it */
static inline float *nl_rnn_carve(float *base, size_t *used, size_t floats)
{
    float *part = base ? base + *used : NULL;
    *used += nl_rnn_lines(floats);
    return part;
}

/* Saved for backward: the states h and (lstm) c, (T+1, N, H) with slot 0
 * the zero initial state; the normalized cell states cn (T, N, H) when
 * the cell state is normalized; the activated gates (T, N, 4H) as the
 * plain cell keeps them; the raw projections xproj and hproj (T, N, G);
 * each normalizer's mean and rstd per step. */
typedef struct {
    float *h, *c, *cn, *gates, *xproj, *hproj;
    float *mean_x, *rstd_x, *mean_h, *rstd_h, *mean_c, *rstd_c;
} nl_rnn_norm_saved_parts;

/* the parts of `saved` (NULL: none) and the bytes they take */
static inline size_t nl_rnn_norm_saved_layout(const nl_rnn_norm_dims *d, void *saved,
                                              nl_rnn_norm_saved_parts *p)
{
    const size_t t = (size_t)d->t, n = (size_t)d->n, h = (size_t)d->hidden;
    const size_t g = (size_t)nl_rnn_norm_width(d);
    const bool lstm = d->cell == NL_RNN_LSTM;
    float *base = (float *)saved;
    size_t used = 0;
    nl_rnn_norm_saved_parts parts;
    parts.h = nl_rnn_carve(base, &used, (t + 1) * n * h);
    parts.c = lstm ? nl_rnn_carve(base, &used, (t + 1) * n * h) : NULL;
    parts.cn = d->stats_c ? nl_rnn_carve(base, &used, t * n * h) : NULL;
    parts.gates = nl_rnn_carve(base, &used, t * n * 4 * h);
    parts.xproj = nl_rnn_carve(base, &used, t * n * g);
    parts.hproj = nl_rnn_carve(base, &used, t * n * g);
    parts.mean_x = nl_rnn_carve(base, &used, t * (size_t)d->stats_x);
    parts.rstd_x = nl_rnn_carve(base, &used, t * (size_t)d->stats_x);
    parts.mean_h = nl_rnn_carve(base, &used, t * (size_t)d->stats_h);
    parts.rstd_h = nl_rnn_carve(base, &used, t * (size_t)d->stats_h);
    parts.mean_c = d->stats_c ? nl_rnn_carve(base, &used, t * (size_t)d->stats_c) : NULL;
    parts.rstd_c = d->stats_c ? nl_rnn_carve(base, &used, t * (size_t)d->stats_c) : NULL;
    if (p)
        *p = parts;
    return used * sizeof(float);
}

/* The workspace. Forward: the input projection in the token layout
 * (N*T, G), the normalized input projection (T, N, G), the step's
 * normalized recurrent projection (N, G), and linear_bytes for the
 * backend's linear kernels. Backward: the pre-activation gradients of
 * the input and recurrent sides (T, N, G each: they differ in the gru's
 * n gate), the gradient of the raw recurrent projection (T, N, G) and of
 * the raw input projection in the token layout (N*T, G), that of the
 * normalized cell states (N, H), the gradients of h and c carried from
 * step to step (N, H each), each step's normalizer parameter gradients
 * (the projections' gain, T rows of G; the cell state's gain and shift,
 * T rows of H each) summed over the steps at the end, and norm_bytes for
 * the norm kernels. */
typedef struct {
    float *xproj_tokens, *xnorm, *hnorm;
    void *linear;
    float *dpre_x, *dpre_h, *dhproj, *dxproj_tokens, *dcn, *dh, *dc;
    float *dgain_steps, *dgain_c_steps, *dshift_c_steps;
    void *norm;
} nl_rnn_norm_work_parts;

static inline size_t nl_rnn_norm_work_layout(const nl_rnn_norm_dims *d, size_t linear_bytes,
                                             size_t norm_bytes, void *workspace,
                                             nl_rnn_norm_work_parts *p)
{
    const size_t t = (size_t)d->t, n = (size_t)d->n, h = (size_t)d->hidden;
    const size_t g = (size_t)nl_rnn_norm_width(d);
    nl_rnn_norm_work_parts parts;
    float *base = (float *)workspace;
    size_t used = 0;
    parts.xproj_tokens = nl_rnn_carve(base, &used, t * n * g);
    parts.xnorm = nl_rnn_carve(base, &used, t * n * g);
    parts.hnorm = nl_rnn_carve(base, &used, n * g);
    parts.linear = base ? (void *)(base + used) : NULL;
    const size_t forward = used * sizeof(float) + linear_bytes;
    used = 0;
    parts.dpre_x = nl_rnn_carve(base, &used, t * n * g);
    parts.dpre_h = nl_rnn_carve(base, &used, t * n * g);
    parts.dhproj = nl_rnn_carve(base, &used, t * n * g);
    parts.dxproj_tokens = nl_rnn_carve(base, &used, t * n * g);
    parts.dcn = nl_rnn_carve(base, &used, n * h);
    parts.dh = nl_rnn_carve(base, &used, n * h);
    parts.dc = nl_rnn_carve(base, &used, n * h);
    parts.dgain_steps = nl_rnn_carve(base, &used, t * g);
    parts.dgain_c_steps = nl_rnn_carve(base, &used, t * h);
    parts.dshift_c_steps = nl_rnn_carve(base, &used, t * h);
    parts.norm = base ? (void *)(base + used) : NULL;
    const size_t backward = used * sizeof(float) + norm_bytes;
    if (p)
        *p = parts;
    return forward > backward ? forward : backward;
}

#endif
