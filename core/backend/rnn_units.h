/* One unit of a recurrent cell with normalizers inside it (backend_ops.def's
 * rnn_cell_forward): the scalar gate arithmetic that the CUDA kernel
 * (cuda/rnn_cell.cu) runs for every unit and the CPU kernel
 * (cpu/rnn_cell.c) for the units past its vectors of 8, one definition so
 * that the two backends agree. ai and bi are one sample's normalized input
 * and recurrent projections, bias the cell's bias; gate receives the
 * sample's 4H gate values (lstm: i, f, g, o; gru: r, z, n and the
 * recurrent n term). */
#ifndef NL_RNN_UNITS_H
#define NL_RNN_UNITS_H

#include <math.h>

#if defined(__CUDACC__)
#define NL_RNN_UNIT_FN static inline __host__ __device__
#else
#define NL_RNN_UNIT_FN static inline
#endif

NL_RNN_UNIT_FN float nl_rnn_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

/* unit j of the lstm: its gates, and the new cell state from the sample's
 * previous ones */
NL_RNN_UNIT_FN float nl_rnn_lstm_unit(int hidden, int j, const float *ai, const float *bi,
                                      const float *bias, const float *prev_c, float *gate)
{
    const int f = hidden + j, c = 2 * hidden + j, o = 3 * hidden + j;
    const float in_gate = nl_rnn_sigmoid(ai[j] + bi[j] + bias[j]);
    const float forget = nl_rnn_sigmoid(ai[f] + bi[f] + bias[f]);
    const float cand = tanhf(ai[c] + bi[c] + bias[c]);
    gate[j] = in_gate;
    gate[f] = forget;
    gate[c] = cand;
    gate[o] = nl_rnn_sigmoid(ai[o] + bi[o] + bias[o]);
    return forget * prev_c[j] + in_gate * cand;
}

/* unit j of the gru: its gates, and the new hidden state from the sample's
 * previous ones */
NL_RNN_UNIT_FN float nl_rnn_gru_unit(int hidden, int j, const float *ai, const float *bi,
                                     const float *bias, const float *prev_h, float *gate)
{
    const int z = hidden + j, c = 2 * hidden + j;
    const float reset = nl_rnn_sigmoid(ai[j] + bi[j] + bias[j]);
    const float update = nl_rnn_sigmoid(ai[z] + bi[z] + bias[z]);
    const float cand = tanhf(ai[c] + bias[c] + reset * bi[c]);
    gate[j] = reset;
    gate[z] = update;
    gate[c] = cand;
    gate[3 * hidden + j] = bi[c];
    return (1.0f - update) * cand + update * prev_h[j];
}

#endif
