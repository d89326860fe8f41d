/* The pointwise parts of a recurrent cell with normalizers inside it
 * (backend_ops.def's rnn_cell_*), the CPU's (core/cpu/rnn_cell.c) one
 * (sample, unit) pair per thread; the recurrent weight's product on
 * cuBLAS. */
#include "cuda/cuda_common.h"
#include "backend/rnn_layout.h"
#include "backend/rnn_units.h"

#define PAIRS_LOOP(total)                                                                        \
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < (total);                \
         k += (size_t)gridDim.x * blockDim.x)

__global__ void __launch_bounds__(256)
    steps_transpose_kernel(int n, int t, int width, int to_time_major, const float *src,
                           float *dst)
{
    const size_t total = (size_t)n * t * width;
    PAIRS_LOOP(total)
    {
        /* k walks the destination */
        const size_t row = k / width, col = k - row * width;
        size_t from;
        if (to_time_major) { /* row = s*n + i */
            const size_t s = row / n, i = row - s * n;
            from = (i * t + s) * width + col;
        } else { /* row = i*t + s */
            const size_t i = row / t, s = row - i * t;
            from = (s * n + i) * width + col;
        }
        dst[k] = src[from];
    }
}

void nl_cuda_rnn_steps_transpose(nl_backend *be, int n, int t, int width, bool to_time_major,
                                 const float *src, float *dst)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t total = (size_t)n * t * width;
    if (!total)
        return;
    steps_transpose_kernel<<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
        n, t, width, to_time_major, src, dst);
    NL_CU_LAUNCHED(cu, "steps_transpose_kernel");
}

__global__ void __launch_bounds__(256)
    cell_forward_kernel(int lstm, int n, int hidden, const float *__restrict__ a,
                        const float *__restrict__ b, const float *__restrict__ bias,
                        const float *__restrict__ prev, float *__restrict__ gates,
                        float *__restrict__ state, float *__restrict__ y, int ld_y)
{
    const int g = (lstm ? 4 : 3) * hidden;
    PAIRS_LOOP((size_t)n * hidden)
    {
        const int i = (int)(k / hidden), j = (int)(k - (size_t)i * hidden);
        const float *ai = a + (size_t)i * g, *bi = b + (size_t)i * g;
        const float *prev_i = prev + (size_t)i * hidden;
        float *gate = gates + (size_t)i * 4 * hidden;
        if (lstm) {
            state[k] = nl_rnn_lstm_unit(hidden, j, ai, bi, bias, prev_i, gate);
        } else {
            const float h = nl_rnn_gru_unit(hidden, j, ai, bi, bias, prev_i, gate);
            state[k] = h;
            if (y)
                y[(size_t)i * ld_y + j] = h;
        }
    }
}

void nl_cuda_rnn_cell_forward(nl_backend *be, nl_rnn_cell cell, int n, int hidden, const float *a,
                              const float *b, const float *bias, const float *prev, float *gates,
                              float *state, float *y, int ld_y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t total = (size_t)n * hidden;
    if (!total)
        return;
    cell_forward_kernel<<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
        cell == NL_RNN_LSTM, n, hidden, a, b, bias, prev, gates, state, y, ld_y);
    NL_CU_LAUNCHED(cu, "cell_forward_kernel");
}

__global__ void __launch_bounds__(256)
    cell_output_kernel(int n, int hidden, const float *__restrict__ gates,
                       const float *__restrict__ cn, float *__restrict__ h, float *__restrict__ y,
                       int ld_y)
{
    PAIRS_LOOP((size_t)n * hidden)
    {
        const int i = (int)(k / hidden), j = (int)(k - (size_t)i * hidden);
        const float value = gates[(size_t)i * 4 * hidden + 3 * hidden + j] * tanhf(cn[k]);
        h[k] = value;
        if (y)
            y[(size_t)i * ld_y + j] = value;
    }
}

void nl_cuda_rnn_cell_output_forward(nl_backend *be, int n, int hidden, const float *gates,
                                     const float *cn, float *h, float *y, int ld_y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t total = (size_t)n * hidden;
    if (!total)
        return;
    cell_output_kernel<<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(n, hidden, gates,
                                                                               cn, h, y, ld_y);
    NL_CU_LAUNCHED(cu, "cell_output_kernel");
}

__global__ void __launch_bounds__(256)
    cell_output_backward_kernel(int n, int hidden, const float *__restrict__ gates,
                                const float *__restrict__ cn, const float *__restrict__ dh,
                                const float *__restrict__ dy, int ld_dy, float *__restrict__ dpre_a,
                                float *__restrict__ dpre_b, float *__restrict__ dcn)
{
    const int g = 4 * hidden;
    PAIRS_LOOP((size_t)n * hidden)
    {
        const int i = (int)(k / hidden), j = (int)(k - (size_t)i * hidden);
        const float dh_j = dh[k] + (dy ? dy[(size_t)i * ld_dy + j] : 0.0f);
        const size_t at = (size_t)i * g + 3 * hidden + j;
        const float o = gates[at], tanh_c = tanhf(cn[k]);
        const float d_out = dh_j * tanh_c * o * (1.0f - o);
        dpre_a[at] = d_out;
        dpre_b[at] = d_out;
        dcn[k] = dh_j * o * (1.0f - tanh_c * tanh_c);
    }
}

void nl_cuda_rnn_cell_output_backward(nl_backend *be, int n, int hidden, const float *gates,
                                      const float *cn, const float *dh, const float *dy,
                                      int ld_dy, float *dpre_a, float *dpre_b, float *dcn)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t total = (size_t)n * hidden;
    if (!total)
        return;
    cell_output_backward_kernel<<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
        n, hidden, gates, cn, dh, dy, ld_dy, dpre_a, dpre_b, dcn);
    NL_CU_LAUNCHED(cu, "cell_output_backward_kernel");
}

__global__ void __launch_bounds__(256)
    cell_backward_kernel(int lstm, int n, int hidden, const float *__restrict__ gates,
                         const float *__restrict__ prev, const float *__restrict__ dy, int ld_dy,
                         float *__restrict__ dstate, float *__restrict__ dpre_a,
                         float *__restrict__ dpre_b)
{
    const int g = (lstm ? 4 : 3) * hidden;
    PAIRS_LOOP((size_t)n * hidden)
    {
        const int i = (int)(k / hidden), j = (int)(k - (size_t)i * hidden);
        const float *gate = gates + (size_t)i * 4 * hidden;
        float *da = dpre_a + (size_t)i * g, *db = dpre_b + (size_t)i * g;
        const float first = gate[j], second = gate[hidden + j], cand = gate[2 * hidden + j];
        if (lstm) {
            const float dc = dstate[k];
            const float d_in = dc * cand * first * (1.0f - first);
            const float d_forget = dc * prev[k] * second * (1.0f - second);
            const float d_cand = dc * first * (1.0f - cand * cand);
            da[j] = db[j] = d_in;
            da[hidden + j] = db[hidden + j] = d_forget;
            da[2 * hidden + j] = db[2 * hidden + j] = d_cand;
            dstate[k] = dc * second;
        } else {
            const float dh = dstate[k] + (dy ? dy[(size_t)i * ld_dy + j] : 0.0f);
            const float rec_n = gate[3 * hidden + j];
            const float d_cand = dh * (1.0f - second) * (1.0f - cand * cand);
            const float d_reset = d_cand * rec_n * first * (1.0f - first);
            const float d_update = dh * (prev[k] - cand) * second * (1.0f - second);
            da[j] = db[j] = d_reset;
            da[hidden + j] = db[hidden + j] = d_update;
            da[2 * hidden + j] = d_cand;
            db[2 * hidden + j] = d_cand * first;
            dstate[k] = dh * second;
        }
    }
}

void nl_cuda_rnn_cell_backward(nl_backend *be, nl_rnn_cell cell, int n, int hidden,
                               const float *gates, const float *prev, const float *dy, int ld_dy,
                               float *dstate, float *dpre_a, float *dpre_b)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t total = (size_t)n * hidden;
    if (!total)
        return;
    cell_backward_kernel<<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
        cell == NL_RNN_LSTM, n, hidden, gates, prev, dy, ld_dy, dstate, dpre_a, dpre_b);
    NL_CU_LAUNCHED(cu, "cell_backward_kernel");
}

/* dh (+)= dproj w_hh, as linear_backward's input gradient; under a low
 * product precision its 16-bit copies of w_hh and dproj and the fp32
 * product before its rounding are parts of linear_workspace(be, n,
 * hidden, g), whose layout holds x, W and dy in 16 bits and an fp32 dx */
void nl_cuda_rnn_state_grad(nl_backend *be, int n, int hidden, int g, const float *dproj,
                            const float *w_hh, float *dh, bool accumulate, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0)
        return;
    const nl_precision p = be->product_precision;
    if (p != NL_PRECISION_FP32) {
        char *base = (char *)workspace;
        void *w_r = base, *rows_r = base + nl_cuda_lowp_bytes(p, (size_t)g * hidden);
        float *product = (float *)((char *)rows_r + nl_cuda_lowp_bytes(p, (size_t)n * g));
        nl_cuda_lowp_convert(cu, p, (size_t)g * hidden, w_hh, w_r);
        nl_cuda_lowp_convert(cu, p, (size_t)n * g, dproj, rows_r);
        nl_cuda_lowp_gemm(cu, p, CUBLAS_OP_N, CUBLAS_OP_N, hidden, n, g, w_r, hidden, 0, rows_r,
                          g, 0, 0.0f, product, hidden, 0, 1);
        nl_cuda_lowp_add_rounded(cu, p, (size_t)n * hidden, product, dh, accumulate);
        return;
    }
    const float one = 1.0f, zero = 0.0f;
    NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_N, hidden, n, g, &one, w_hh,
                              hidden, dproj, g, accumulate ? &one : &zero, dh, hidden));
}

/* one thread per column, down the rows in order: the CPU's sum */
__global__ void __launch_bounds__(256)
    sum_rows_kernel(int rows, int count, const float *__restrict__ x, float *__restrict__ total)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= count)
        return;
    float sum = 0.0f;
    for (int r = 0; r < rows; r++)
        sum += x[(size_t)r * count + j];
    total[j] = sum;
}

void nl_cuda_rnn_sum_rows(nl_backend *be, int rows, int count, const float *x, float *total)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (count <= 0)
        return;
    sum_rows_kernel<<<(count + 255) / 256, 256, 0, cu->stream>>>(rows, count, x, total);
    NL_CU_LAUNCHED(cu, "sum_rows_kernel");
}
