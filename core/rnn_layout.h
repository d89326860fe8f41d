/* The memory layout of the recurrent ops (backend_ops.def's rnn_*), one
 * for both backends so that a saved buffer or workspace planned by one is
 * read the same way by the other's kernels (core/cpu/rnn.c explains why the
 * states are time-major and the gates' gradients kept twice). Host
 * arithmetic only: C and CUDA include it alike. */
#ifndef NL_RNN_LAYOUT_H
#define NL_RNN_LAYOUT_H

#include <stddef.h>

#include "backend.h"

static inline int nl_rnn_gate_count(nl_rnn_cell cell) { return cell == NL_RNN_LSTM ? 4 : 3; }

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

#endif
