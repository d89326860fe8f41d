/* The pointwise parts of a recurrent cell with normalizers inside it
 * (backend_ops.def's rnn_cell_*; layers/rnn.c runs them between the
 * linear and norm ops). The plain cell's fused kernels (rnn.c) stay as
 * they are: these read the normalized projections of a step from two
 * time-major (N, G) blocks instead of forming them.
 *
 * The lstm's gates and the output tanh run 8 units at a time on vmath's
 * exp and tanh, as the plain cell's do: libm's scalar expf and tanhf were
 * the larger part of these kernels; the units past the last multiple of 8
 * go through libm. */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/lowp.h"
#include "cpu/vmath.h"
#include "backend/rnn_layout.h"
#include "backend/rnn_units.h"

static inline nl_v8 sigmoid8(nl_v8 v)
{
    const nl_v8 one = nl_v8_splat(1.0f);
    return one / (one + nl_v8_exp(-v));
}

/* the units of whole vectors of 8 */
static inline int vector_units(int hidden) { return hidden - hidden % 8; }

/* a + b + bias over the 8 units from k */
static inline nl_v8 preact8(const float *a, const float *b, const float *bias, int k)
{
    return nl_v8_load(a + k) + nl_v8_load(b + k) + nl_v8_load(bias + k);
}

void nl_cpu_rnn_steps_transpose(nl_backend *be, int n, int t, int width, bool to_time_major,
                                const float *src, float *dst)
{
    (void)be;
    const size_t row = (size_t)width * sizeof(float);
    NL_PARALLEL_FOR_IF((long)n * t * width >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++)
        for (int s = 0; s < t; s++) {
            const size_t token = ((size_t)i * t + s) * width, step = ((size_t)s * n + i) * width;
            if (to_time_major)
                memcpy(dst + step, src + token, row);
            else
                memcpy(dst + token, src + step, row);
        });
}

void nl_cpu_rnn_cell_forward(nl_backend *be, nl_rnn_cell cell, int n, int hidden, const float *a,
                             const float *b, const float *bias, const float *prev, float *gates,
                             float *state, float *y, int ld_y)
{
    (void)be;
    const int g = nl_rnn_gate_count(cell) * hidden;
    NL_PARALLEL_FOR_IF((long)n * g >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *ai = a + (size_t)i * g, *bi = b + (size_t)i * g;
        const float *prev_i = prev + (size_t)i * hidden;
        float *gate = gates + (size_t)i * 4 * hidden, *state_i = state + (size_t)i * hidden;
        const int vec = cell == NL_RNN_LSTM ? vector_units(hidden) : 0;
        for (int j = 0; j < vec; j += 8) {
            const int f = hidden + j, c = 2 * hidden + j, o = 3 * hidden + j;
            const nl_v8 in_gate = sigmoid8(preact8(ai, bi, bias, j));
            const nl_v8 forget = sigmoid8(preact8(ai, bi, bias, f));
            const nl_v8 cand = nl_v8_tanh(preact8(ai, bi, bias, c));
            nl_v8_store(gate + j, in_gate);
            nl_v8_store(gate + f, forget);
            nl_v8_store(gate + c, cand);
            nl_v8_store(gate + o, sigmoid8(preact8(ai, bi, bias, o)));
            nl_v8_store(state_i + j, forget * nl_v8_load(prev_i + j) + in_gate * cand);
        }
        for (int j = vec; j < hidden; j++)
            state_i[j] = cell == NL_RNN_LSTM
                             ? nl_rnn_lstm_unit(hidden, j, ai, bi, bias, prev_i, gate)
                             : nl_rnn_gru_unit(hidden, j, ai, bi, bias, prev_i, gate);
        if (y && cell == NL_RNN_GRU)
            memcpy(y + (size_t)i * ld_y, state_i, (size_t)hidden * sizeof *state_i);
    });
}

void nl_cpu_rnn_cell_output_forward(nl_backend *be, int n, int hidden, const float *gates,
                                    const float *cn, float *h, float *y, int ld_y)
{
    (void)be;
    NL_PARALLEL_FOR_IF((long)n * hidden >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *out_gate = gates + (size_t)i * 4 * hidden + 3 * hidden;
        const float *cn_i = cn + (size_t)i * hidden;
        float *h_i = h + (size_t)i * hidden;
        const int vec = vector_units(hidden);
        for (int j = 0; j < vec; j += 8)
            nl_v8_store(h_i + j, nl_v8_load(out_gate + j) * nl_v8_tanh(nl_v8_load(cn_i + j)));
        for (int j = vec; j < hidden; j++)
            h_i[j] = out_gate[j] * tanhf(cn_i[j]);
        if (y)
            memcpy(y + (size_t)i * ld_y, h_i, (size_t)hidden * sizeof *h_i);
    });
}

void nl_cpu_rnn_cell_output_backward(nl_backend *be, int n, int hidden, const float *gates,
                                     const float *cn, const float *dh, const float *dy, int ld_dy,
                                     float *dpre_a, float *dpre_b, float *dcn)
{
    (void)be;
    const int g = 4 * hidden;
    NL_PARALLEL_FOR_IF((long)n * hidden >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *out_gate = gates + (size_t)i * g + 3 * hidden;
        const float *cn_i = cn + (size_t)i * hidden, *dh_i = dh + (size_t)i * hidden;
        const float *dy_i = dy ? dy + (size_t)i * ld_dy : NULL;
        float *da = dpre_a + (size_t)i * g + 3 * hidden, *db = dpre_b + (size_t)i * g + 3 * hidden;
        float *dcn_i = dcn + (size_t)i * hidden;
        const int vec = vector_units(hidden);
        const nl_v8 one = nl_v8_splat(1.0f);
        for (int j = 0; j < vec; j += 8) {
            nl_v8 dh_j = nl_v8_load(dh_i + j);
            if (dy_i)
                dh_j += nl_v8_load(dy_i + j);
            const nl_v8 o = nl_v8_load(out_gate + j), tanh_c = nl_v8_tanh(nl_v8_load(cn_i + j));
            const nl_v8 d_out = dh_j * tanh_c * o * (one - o);
            nl_v8_store(da + j, d_out);
            nl_v8_store(db + j, d_out);
            nl_v8_store(dcn_i + j, dh_j * o * (one - tanh_c * tanh_c));
        }
        for (int j = vec; j < hidden; j++) {
            const float dh_j = dh_i[j] + (dy_i ? dy_i[j] : 0.0f);
            const float o = out_gate[j], tanh_c = tanhf(cn_i[j]);
            da[j] = db[j] = dh_j * tanh_c * o * (1.0f - o);
            dcn_i[j] = dh_j * o * (1.0f - tanh_c * tanh_c);
        }
    });
}

void nl_cpu_rnn_cell_backward(nl_backend *be, nl_rnn_cell cell, int n, int hidden,
                              const float *gates, const float *prev, const float *dy, int ld_dy,
                              float *dstate, float *dpre_a, float *dpre_b)
{
    (void)be;
    const int g = nl_rnn_gate_count(cell) * hidden;
    NL_PARALLEL_FOR_IF((long)n * g >= NL_PARALLEL_MIN,
    for (int i = 0; i < n; i++) {
        const float *gate = gates + (size_t)i * 4 * hidden, *prev_i = prev + (size_t)i * hidden;
        const float *dy_i = dy ? dy + (size_t)i * ld_dy : NULL;
        float *ds = dstate + (size_t)i * hidden;
        float *da = dpre_a + (size_t)i * g, *db = dpre_b + (size_t)i * g;
        for (int j = 0; j < hidden; j++) {
            const float first = gate[j], second = gate[hidden + j], cand = gate[2 * hidden + j];
            if (cell == NL_RNN_LSTM) {
                /* first: the input gate, second: the forget gate */
                const float dc = ds[j];
                da[j] = db[j] = dc * cand * first * (1.0f - first);
                da[hidden + j] = db[hidden + j] = dc * prev_i[j] * second * (1.0f - second);
                da[2 * hidden + j] = db[2 * hidden + j] = dc * first * (1.0f - cand * cand);
                ds[j] = dc * second;
            } else {
                /* first: the reset gate, second: the update gate */
                const float dh = ds[j] + (dy_i ? dy_i[j] : 0.0f), rec_n = gate[3 * hidden + j];
                const float d_cand = dh * (1.0f - second) * (1.0f - cand * cand);
                da[j] = db[j] = d_cand * rec_n * first * (1.0f - first);
                da[hidden + j] = db[hidden + j] = dh * (prev_i[j] - cand) * second * (1.0f - second);
                da[2 * hidden + j] = d_cand;
                db[2 * hidden + j] = d_cand * first;
                ds[j] = dh * second;
            }
        }
    });
}

void nl_cpu_rnn_state_grad(nl_backend *be, int n, int hidden, int g, const float *dproj,
                           const float *w_hh, float *dh, bool accumulate, void *workspace)
{
    const nl_precision p = be->product_precision;
    if (!nl_cpu_lowp(p)) {
        nl_cpu_gemm_nn(n, hidden, g, dproj, g, w_hh, hidden, NULL, dh, hidden, accumulate);
        return;
    }
    /* the rounded dproj, w_hh, the product and the packing scratch: parts
     * of linear_workspace(be, n, hidden, g), whose low-precision layout
     * holds copies of x, W, the bias, dy and dx and the scratch of this
     * same product */
    const size_t rows = nl_cpu_lowp_floats((size_t)n * g);
    const size_t weight = nl_cpu_lowp_floats((size_t)g * hidden);
    const size_t product = nl_cpu_lowp_floats((size_t)n * hidden);
    float *base = (float *)workspace;
    float *rows_r = base, *w_r = base + rows, *out = base + rows + weight;
    nl_cpu_round_parallel(p, dproj, rows_r, (size_t)n * g);
    nl_cpu_round_parallel(p, w_hh, w_r, (size_t)g * hidden);
    nl_cpu_lowp_gemm(p, false, false, n, hidden, g, rows_r, g, w_r, hidden, 0.0f, out, hidden,
                     base + rows + weight + product);
    if (accumulate)
        nl_cpu_round_add(p, out, dh, (size_t)n * hidden);
    else
        nl_cpu_round_parallel(p, out, dh, (size_t)n * hidden);
}

void nl_cpu_rnn_sum_rows(nl_backend *be, int rows, int count, const float *x, float *total)
{
    (void)be;
    memset(total, 0, (size_t)count * sizeof *total);
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * count;
        for (int j = 0; j < count; j++)
            total[j] += row[j];
    }
}
