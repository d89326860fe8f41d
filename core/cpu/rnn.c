/* Recurrent layers (nn.LSTM, nn.GRU): one layer, one direction.
 *
 * The input projection of all T steps is one product over the N*T rows
 * (the linear layer's kernels); each step then adds the recurrent
 * projection of the previous hidden state (a product over N rows) and
 * applies the cell's gates elementwise. Backward runs the steps in
 * reverse, each passing the gradient of h_{t-1} back through w_hh with one
 * product, and ends with the weight gradients as two products over all
 * steps at once.
 *
 * The hidden and cell states are kept time-major, (T+1, N, H) with slot 0
 * the zero initial state, so that the recurrent product of a step reads
 * contiguous rows and the states h_0 .. h_{T-1} of all steps are one
 * (T*N, H) matrix for w_hh's gradient. The gates' pre-activation
 * gradients are kept twice: in the token layout, rows of x, for w_ih's
 * gradient and dx, and time-major, rows of the states, for w_hh's; they
 * differ for the GRU, whose recurrent n-gate term is scaled by r.
 *
 * The gates' arithmetic runs 8 units at a time on vmath's exp and tanh:
 * libm's scalar expf and tanhf, five per unit and step forward and one
 * backward, made the gates a large share of the step once the products
 * are blocked. A hidden size that is not a multiple of 8 ends with a
 * partial vector.
 *
 * The per-step products (h_{s-1} w_hh^T forward, dgates w_hh backward)
 * go to sgemm from RECURRENT_SGEMM_MIN_ROWS samples on, where its blocking
 * matches or beats the linear layer's unpacked kernels; below, their
 * skinny paths win (experiments/bench/rnn_step_ceiling.c times the op
 * against the sgemm calls alone). On the sgemm path the gates add b_hh
 * themselves instead of a pass over the product, and step 0's product, of
 * the zero initial state, is skipped.
 *
 * Precision (be->product_precision low): autocast's products, the gate
 * arithmetic in fp32. The input projection of all steps, each step's
 * recurrent projection and the backward's products are autocast's linear:
 * x, h_{s-1}, W_ih, W_hh and the biases rounded, fp32 accumulation, the
 * projections rounded; backward, the gates' pre-activation gradients
 * rounded before each product, dx, each step's contribution to dh_{s-1}
 * (added in fp32 to the GRU's direct z dh), dW_ih, dW_hh (one product over
 * all steps) and the bias gradients rounded. The gates, the cell and
 * hidden states and their gradients are fp32, as normlab keeps every
 * activation. torch 1.13 has no autocast rule for nn.LSTM/nn.GRU, but its
 * CPU cells (aten RNN.cpp's LSTMCell/GRUCell) are autocast's addmm plus
 * elementwise ops on the bf16 projections, so torch also rounds the summed
 * gates, each activated gate and i*g (r*h_n in the GRU) to bf16 until the
 * fp32 states promote. Measured with torch 1.13 (N, T, D, H) = (4, 6, 5, 8)
 * and (16, 20, 32, 64), relative L2 distance of y to torch.autocast's own
 * output: this definition 3.7e-3 / 4.2e-3 (LSTM), 2.7e-3 / 3.8e-3 (GRU);
 * with the gate roundings added 2.9e-3 / 3.4e-3 and 1.9e-3 / 3.3e-3; fp32
 * 5.0e-3 / 4.6e-3 and 3.1e-3 / 4.2e-3. The gradients are 0.6-2.2e-2 from
 * torch's under every choice, fp32 included: torch's bf16 matmul here
 * accumulates in bf16 (tests/golden/make_goldens.py). The gate roundings
 * buy under 1e-3 of distance in y against torch's own kernel noise, so the
 * gates stay fp32, as normalizers and activations do everywhere else.
 *
 * The low-precision products are the linear kernels' (each step's
 * recurrent projection a linear of n rows) and rnn_state_grad's, the
 * normalized cells' primitive for dh; the fp32 paths above are unchanged. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/lowp.h"
#include "cpu/vmath.h"
#include "backend/rnn_layout.h"

#define RECURRENT_SGEMM_MIN_ROWS 8

static size_t linear_bytes(nl_backend *be, int n, int t, int in, int hidden, int gates)
{
    const size_t whole = nl_cpu_linear_workspace(be, n * t, in, gates);
    const size_t step = nl_cpu_linear_workspace(be, n, hidden, gates);
    return whole > step ? whole : step;
}

static size_t work_of(nl_backend *be, nl_rnn_cell cell, int n, int t, int in, int hidden,
                      void *workspace, nl_rnn_work_parts *p)
{
    const int g = nl_rnn_gate_count(cell) * hidden;
    return nl_rnn_work_layout(cell, n, t, hidden, linear_bytes(be, n, t, in, hidden, g),
                              workspace, p);
}

size_t nl_cpu_rnn_saved_bytes(nl_backend *be, nl_rnn_cell cell, int n, int t, int hidden)
{
    (void)be;
    return nl_rnn_saved_layout(cell, n, t, hidden, NULL, NULL);
}

/* Under a low product precision the backward's products take the linear
 * kernels' copies from a region past the layout both backends share (its
 * backward part holds no linear workspace). */
static size_t lowp_region_bytes(nl_backend *be, int n, int t, int in, int hidden, int g)
{
    if (!nl_cpu_lowp(be->product_precision))
        return 0;
    const size_t most = nl_rnn_lowp_product_bytes(be, n, t, in, hidden, g);
    return nl_rnn_lines((most + sizeof(float) - 1) / sizeof(float)) * sizeof(float);
}

size_t nl_cpu_rnn_workspace(nl_backend *be, nl_rnn_cell cell, int n, int t, int in, int hidden)
{
    const int g = nl_rnn_gate_count(cell) * hidden;
    return work_of(be, cell, n, t, in, hidden, NULL, NULL) +
           lowp_region_bytes(be, n, t, in, hidden, g);
}

/* `count` (1..8) floats at p as a vector, the lanes past them zero */
static inline nl_v8 load_units(const float *p, int count)
{
    if (count == 8)
        return nl_v8_load(p);
    float lanes[8] = {0};
    memcpy(lanes, p, (size_t)count * sizeof *p);
    return nl_v8_load(lanes);
}

static inline void store_units(float *p, nl_v8 v, int count)
{
    if (count == 8) {
        nl_v8_store(p, v);
        return;
    }
    float lanes[8];
    nl_v8_store(lanes, v);
    memcpy(p, lanes, (size_t)count * sizeof *p);
}

/* a gate's pre-activation on `count` units from offset k: the input
 * projection's a, plus the recurrent product's b and the recurrent bias
 * where given (NULL: zero, or already in b) */
static inline nl_v8 preact(const float *a, const float *b, const float *bias, int k, int count)
{
    nl_v8 v = load_units(a + k, count);
    if (b)
        v += load_units(b + k, count);
    if (bias)
        v += load_units(bias + k, count);
    return v;
}

static inline nl_v8 sigmoid8(nl_v8 v)
{
    const nl_v8 one = nl_v8_splat(1.0f);
    return one / (one + nl_v8_exp(-v));
}

/* step s of the lstm for the n samples: the gates from the two
 * projections (hproj NULL: the recurrent product is zero) and rec_bias
 * where the product lacks it, the new cell and hidden states, y's row */
static void lstm_step(int n, int t, int s, int hidden, const float *xproj, const float *hproj,
                      const float *rec_bias, nl_rnn_saved_parts sv, float *y)
{
    const int g = 4 * hidden;
    NL_PARALLEL_FOR_IF((long)n * g >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *a = xproj + ((size_t)i * t + s) * g;
        const float *b = hproj ? hproj + (size_t)i * g : NULL;
        const float *c_prev = sv.c + ((size_t)s * n + i) * hidden;
        float *c = sv.c + ((size_t)(s + 1) * n + i) * hidden;
        float *h = sv.h + ((size_t)(s + 1) * n + i) * hidden;
        float *gates = sv.gates + ((size_t)s * n + i) * g;
        float *y_row = y ? y + ((size_t)i * t + s) * hidden : NULL;
        for (int j = 0; j < hidden; j += 8) {
            const int m = hidden - j < 8 ? hidden - j : 8;
            const nl_v8 in_gate = sigmoid8(preact(a, b, rec_bias, j, m));
            const nl_v8 forget = sigmoid8(preact(a, b, rec_bias, hidden + j, m));
            const nl_v8 cand = nl_v8_tanh(preact(a, b, rec_bias, 2 * hidden + j, m));
            const nl_v8 out_gate = sigmoid8(preact(a, b, rec_bias, 3 * hidden + j, m));
            const nl_v8 c_new = forget * load_units(c_prev + j, m) + in_gate * cand;
            const nl_v8 h_new = out_gate * nl_v8_tanh(c_new);
            store_units(c + j, c_new, m);
            store_units(h + j, h_new, m);
            if (y_row)
                store_units(y_row + j, h_new, m);
            store_units(gates + j, in_gate, m);
            store_units(gates + hidden + j, forget, m);
            store_units(gates + 2 * hidden + j, cand, m);
            store_units(gates + 3 * hidden + j, out_gate, m);
        }
    });
}

/* step s of the gru, as the lstm's; gates holds r, z, n and the
 * recurrent n term */
static void gru_step(int n, int t, int s, int hidden, const float *xproj, const float *hproj,
                     const float *rec_bias, nl_rnn_saved_parts sv, float *y)
{
    const int g = 3 * hidden;
    NL_PARALLEL_FOR_IF((long)n * g >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *a = xproj + ((size_t)i * t + s) * g;
        const float *b = hproj ? hproj + (size_t)i * g : NULL;
        const float *h_prev = sv.h + ((size_t)s * n + i) * hidden;
        float *h = sv.h + ((size_t)(s + 1) * n + i) * hidden;
        float *gates = sv.gates + ((size_t)s * n + i) * 4 * hidden;
        float *y_row = y ? y + ((size_t)i * t + s) * hidden : NULL;
        for (int j = 0; j < hidden; j += 8) {
            const int m = hidden - j < 8 ? hidden - j : 8;
            const nl_v8 reset = sigmoid8(preact(a, b, rec_bias, j, m));
            const nl_v8 update = sigmoid8(preact(a, b, rec_bias, hidden + j, m));
            nl_v8 rec_n = b ? load_units(b + 2 * hidden + j, m) : nl_v8_splat(0.0f);
            if (rec_bias)
                rec_n += load_units(rec_bias + 2 * hidden + j, m);
            const nl_v8 cand = nl_v8_tanh(load_units(a + 2 * hidden + j, m) + reset * rec_n);
            const nl_v8 h_new =
                (nl_v8_splat(1.0f) - update) * cand + update * load_units(h_prev + j, m);
            store_units(h + j, h_new, m);
            if (y_row)
                store_units(y_row + j, h_new, m);
            store_units(gates + j, reset, m);
            store_units(gates + hidden + j, update, m);
            store_units(gates + 2 * hidden + j, cand, m);
            store_units(gates + 3 * hidden + j, rec_n, m);
        }
    });
}

void nl_cpu_rnn_forward(nl_backend *be, nl_rnn_cell cell, int n, int t, int in, int hidden,
                        const float *x, const float *w_ih, const float *w_hh, const float *b_ih,
                        const float *b_hh, float *y, float *h_last, float *c_last, void *saved,
                        void *workspace)
{
    const int g = nl_rnn_gate_count(cell) * hidden;
    const size_t state = (size_t)n * hidden;
    nl_rnn_saved_parts sv;
    nl_rnn_saved_layout(cell, n, t, hidden, saved, &sv);
    nl_rnn_work_parts w;
    work_of(be, cell, n, t, in, hidden, workspace, &w);
    nl_cpu_linear_forward(be, n * t, in, g, x, w_ih, b_ih, w.xproj, w.linear);
    memset(sv.h, 0, state * sizeof *sv.h);
    if (sv.c)
        memset(sv.c, 0, state * sizeof *sv.c);
    /* a low precision takes the linear kernels' rounded product */
    const bool sgemm = !nl_cpu_lowp(be->product_precision) && n >= RECURRENT_SGEMM_MIN_ROWS;
    for (int s = 0; s < t; s++) {
        const float *hproj = w.hproj;
        if (!sgemm)
            nl_cpu_linear_forward(be, n, hidden, g, sv.h + s * state, w_hh, b_hh, w.hproj,
                                  w.linear);
        else if (s > 0)
            nl_cpu_sgemm(false, true, n, g, hidden, 1.0f, sv.h + s * state, hidden, w_hh, hidden,
                         0.0f, w.hproj, g);
        else
            hproj = NULL;
        const float *rec_bias = sgemm ? b_hh : NULL;
        if (cell == NL_RNN_LSTM)
            lstm_step(n, t, s, hidden, w.xproj, hproj, rec_bias, sv, y);
        else
            gru_step(n, t, s, hidden, w.xproj, hproj, rec_bias, sv, y);
    }
    if (h_last)
        memcpy(h_last, sv.h + t * state, state * sizeof *h_last);
    if (c_last && sv.c)
        memcpy(c_last, sv.c + t * state, state * sizeof *c_last);
}

/* Step s of the lstm backward: from dh (the gradient reaching h_s from
 * the step after it and from h_T) plus dy's row, and dc (c_s's from the
 * step after), the gates' pre-activation gradients in both layouts; dc
 * becomes c_{s-1}'s. */
static void lstm_step_backward(int n, int t, int s, int hidden, const float *dy,
                               nl_rnn_saved_parts sv, const nl_rnn_work_parts *w)
{
    const int g = 4 * hidden;
    NL_PARALLEL_FOR_IF((long)n * g >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *gates = sv.gates + ((size_t)s * n + i) * g;
        const float *c = sv.c + ((size_t)(s + 1) * n + i) * hidden;
        const float *c_prev = sv.c + ((size_t)s * n + i) * hidden;
        const float *dy_row = dy ? dy + ((size_t)i * t + s) * hidden : NULL;
        float *dh = w->dh + (size_t)i * hidden, *dc = w->dc + (size_t)i * hidden;
        float *dx_row = w->dgates_x + ((size_t)i * t + s) * g;
        float *dh_row = w->dgates_h + ((size_t)s * n + i) * g;
        const nl_v8 one = nl_v8_splat(1.0f);
        for (int j = 0; j < hidden; j += 8) {
            const int m = hidden - j < 8 ? hidden - j : 8;
            const nl_v8 in_gate = load_units(gates + j, m);
            const nl_v8 forget = load_units(gates + hidden + j, m);
            const nl_v8 cand = load_units(gates + 2 * hidden + j, m);
            const nl_v8 out_gate = load_units(gates + 3 * hidden + j, m);
            nl_v8 dh_j = load_units(dh + j, m);
            if (dy_row)
                dh_j += load_units(dy_row + j, m);
            const nl_v8 tanh_c = nl_v8_tanh(load_units(c + j, m));
            const nl_v8 dc_j = load_units(dc + j, m) + dh_j * out_gate * (one - tanh_c * tanh_c);
            const nl_v8 d_in = dc_j * cand * in_gate * (one - in_gate);
            const nl_v8 d_forget = dc_j * load_units(c_prev + j, m) * forget * (one - forget);
            const nl_v8 d_cand = dc_j * in_gate * (one - cand * cand);
            const nl_v8 d_out = dh_j * tanh_c * out_gate * (one - out_gate);
            store_units(dc + j, dc_j * forget, m);
            const nl_v8 d[4] = {d_in, d_forget, d_cand, d_out};
            for (int k = 0; k < 4; k++) {
                store_units(dx_row + k * hidden + j, d[k], m);
                store_units(dh_row + k * hidden + j, d[k], m);
            }
        }
    });
}

/* Step s of the gru backward: as the lstm's, and dh becomes the direct
 * part of h_{s-1}'s gradient (z dh), to which the recurrent product adds */
static void gru_step_backward(int n, int t, int s, int hidden, const float *dy,
                              nl_rnn_saved_parts sv, const nl_rnn_work_parts *w)
{
    const int g = 3 * hidden;
    NL_PARALLEL_FOR_IF((long)n * g >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *gates = sv.gates + ((size_t)s * n + i) * 4 * hidden;
        const float *h_prev = sv.h + ((size_t)s * n + i) * hidden;
        const float *dy_row = dy ? dy + ((size_t)i * t + s) * hidden : NULL;
        float *dh = w->dh + (size_t)i * hidden;
        float *dx_row = w->dgates_x + ((size_t)i * t + s) * g;
        float *dh_row = w->dgates_h + ((size_t)s * n + i) * g;
        const nl_v8 one = nl_v8_splat(1.0f);
        for (int j = 0; j < hidden; j += 8) {
            const int m = hidden - j < 8 ? hidden - j : 8;
            const nl_v8 reset = load_units(gates + j, m);
            const nl_v8 update = load_units(gates + hidden + j, m);
            const nl_v8 cand = load_units(gates + 2 * hidden + j, m);
            const nl_v8 rec_n = load_units(gates + 3 * hidden + j, m);
            nl_v8 dh_j = load_units(dh + j, m);
            if (dy_row)
                dh_j += load_units(dy_row + j, m);
            const nl_v8 d_cand = dh_j * (one - update) * (one - cand * cand);
            const nl_v8 d_reset = d_cand * rec_n * reset * (one - reset);
            const nl_v8 d_update =
                dh_j * (load_units(h_prev + j, m) - cand) * update * (one - update);
            store_units(dh + j, dh_j * update, m);
            store_units(dx_row + j, d_reset, m);
            store_units(dh_row + j, d_reset, m);
            store_units(dx_row + hidden + j, d_update, m);
            store_units(dh_row + hidden + j, d_update, m);
            store_units(dx_row + 2 * hidden + j, d_cand, m);
            store_units(dh_row + 2 * hidden + j, d_cand * reset, m);
        }
    });
}

void nl_cpu_rnn_backward(nl_backend *be, nl_rnn_cell cell, int n, int t, int in, int hidden,
                         const float *x, const float *w_ih, const float *w_hh, const void *saved,
                         const float *dy, const float *dh_last, const float *dc_last, float *dx,
                         bool accumulate_dx, float *dw_ih, float *dw_hh, float *db_ih,
                         float *db_hh, void *workspace)
{
    const int g = nl_rnn_gate_count(cell) * hidden;
    const size_t state = (size_t)n * hidden;
    const bool lowp = nl_cpu_lowp(be->product_precision);
    nl_rnn_saved_parts sv;
    nl_rnn_saved_layout(cell, n, t, hidden, (void *)saved, &sv);
    nl_rnn_work_parts w;
    work_of(be, cell, n, t, in, hidden, workspace, &w);
    if (dh_last)
        memcpy(w.dh, dh_last, state * sizeof *w.dh);
    else
        memset(w.dh, 0, state * sizeof *w.dh);
    if (dc_last && cell == NL_RNN_LSTM)
        memcpy(w.dc, dc_last, state * sizeof *w.dc);
    else
        memset(w.dc, 0, state * sizeof *w.dc);
    void *lowp_region =
        lowp ? (char *)workspace + work_of(be, cell, n, t, in, hidden, NULL, NULL) : NULL;
    for (int s = t - 1; s >= 0; s--) {
        if (cell == NL_RNN_LSTM)
            lstm_step_backward(n, t, s, hidden, dy, sv, &w);
        else
            gru_step_backward(n, t, s, hidden, dy, sv, &w);
        /* h_{-1} is the constant zero state: nothing to pass it */
        const float *dgates = w.dgates_h + s * (size_t)n * g;
        if (s > 0 && lowp)
            nl_cpu_rnn_state_grad(be, n, hidden, g, dgates, w_hh, w.dh, cell == NL_RNN_GRU,
                                  lowp_region);
        else if (s > 0 && n >= RECURRENT_SGEMM_MIN_ROWS)
            nl_cpu_sgemm(false, false, n, hidden, g, 1.0f, dgates, g, w_hh, hidden,
                         cell == NL_RNN_GRU ? 1.0f : 0.0f, w.dh, hidden);
        else if (s > 0)
            nl_cpu_gemm_nn(n, hidden, g, dgates, g, w_hh, hidden, NULL, w.dh, hidden,
                           cell == NL_RNN_GRU);
    }
    /* w_hh's gradient over every step's h_{s-1} (slot s of the states) */
    /* fp32's backward uses no workspace; the low precision's copies go
     * to the region past the shared layout */
    nl_cpu_linear_backward(be, n * t, hidden, g, sv.h, w_hh, w.dgates_h, NULL, false, dw_hh,
                           db_hh, lowp_region);
    nl_cpu_linear_backward(be, n * t, in, g, x, w_ih, w.dgates_x, dx, accumulate_dx, dw_ih,
                           db_ih, lowp_region);
}
