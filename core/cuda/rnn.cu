/* Recurrent layers (nn.LSTM, nn.GRU) on cuBLAS, the CPU's algorithm
 * (core/cpu/rnn.c, which explains the layouts): the input projection of
 * all steps as one linear forward, per step the recurrent projection on
 * cuBLAS and one elementwise kernel for the gates, and backward in reverse
 * with the weight gradients as two products over all steps at the end.
 * The states are time-major (T+1, N, H), slot 0 the zero initial state;
 * the gates' gradients are kept in the token layout and time-major.
 *
 * Under a low product precision the products follow core/cpu/rnn.c's
 * definition (autocast's linear for the projections and their backward,
 * the gates in fp32): the projections and weight gradients through the
 * linear kernels' low-precision path, each step's dh product through
 * rnn_state_grad's; their copies live past the layout both backends share
 * (lowp_region_bytes). */
#include "cuda/cuda_common.h"
#include "backend/rnn_layout.h"

size_t nl_cuda_rnn_saved_bytes(nl_backend *be, nl_rnn_cell cell, int n, int t, int hidden)
{
    (void)be;
    return nl_rnn_saved_layout(cell, n, t, hidden, NULL, NULL);
}

/* Past the layout both backends share, under a low product precision:
 * the linear kernels' copies for the projections, the weight gradients
 * and each step's dh product (rnn_state_grad, sized as a linear of n
 * rows); fp32 needs none, cuBLAS keeps its own. */
static size_t lowp_region_bytes(nl_backend *be, int n, int t, int in, int hidden, int g)
{
    if (be->product_precision == NL_PRECISION_FP32)
        return 0;
    const size_t most = nl_rnn_lowp_product_bytes(be, n, t, in, hidden, g);
    return (most + 255) / 256 * 256;
}

size_t nl_cuda_rnn_workspace(nl_backend *be, nl_rnn_cell cell, int n, int t, int in, int hidden)
{
    const int g = nl_rnn_gate_count(cell) * hidden;
    return nl_rnn_work_layout(cell, n, t, hidden, 0, NULL, NULL) +
           lowp_region_bytes(be, n, t, in, hidden, g);
}

/* Where a forward or backward of n samples works: the parts of saved and
 * workspace that the layout both backends share places, and the region
 * past it (NULL under fp32). */
typedef struct {
    int g;        /* the gates' width */
    size_t state; /* floats of one state slot (n, hidden) */
    nl_rnn_saved_parts sv;
    nl_rnn_work_parts w;
    void *lowp;
} rnn_frame;

static rnn_frame frame_of(nl_backend *be, nl_rnn_cell cell, int n, int t, int hidden,
                          const void *saved, void *workspace)
{
    rnn_frame f;
    f.g = nl_rnn_gate_count(cell) * hidden;
    f.state = (size_t)n * hidden;
    nl_rnn_saved_layout(cell, n, t, hidden, (void *)saved, &f.sv);
    const size_t shared = nl_rnn_work_layout(cell, n, t, hidden, 0, workspace, &f.w);
    f.lowp = be->product_precision == NL_PRECISION_FP32 ? NULL : (char *)workspace + shared;
    return f;
}

__device__ static inline float sigmoid_of(float v) { return 1.0f / (1.0f + expf(-v)); }

/* step s of either cell for the n*hidden (sample, unit) pairs */
__global__ void __launch_bounds__(256)
    rnn_step_kernel(int lstm, int n, int t, int s, int hidden, const float *__restrict__ xproj,
                    const float *__restrict__ hproj, float *__restrict__ hs,
                    float *__restrict__ cs, float *__restrict__ gates, float *__restrict__ y)
{
    const size_t total = (size_t)n * hidden, stride = (size_t)gridDim.x * blockDim.x;
    const int g = (lstm ? 4 : 3) * hidden;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total; k += stride) {
        const int i = (int)(k / hidden), j = (int)(k - (size_t)i * hidden);
        const float *a = xproj + ((size_t)i * t + s) * g, *b = hproj + (size_t)i * g;
        const size_t prev = (size_t)s * total + k, next = prev + total;
        float *gate = gates + ((size_t)s * n + i) * 4 * hidden;
        float h;
        if (lstm) {
            const float in_gate = sigmoid_of(a[j] + b[j]);
            const float forget = sigmoid_of(a[hidden + j] + b[hidden + j]);
            const float cand = tanhf(a[2 * hidden + j] + b[2 * hidden + j]);
            const float out_gate = sigmoid_of(a[3 * hidden + j] + b[3 * hidden + j]);
            const float c = forget * cs[prev] + in_gate * cand;
            cs[next] = c;
            h = out_gate * tanhf(c);
            gate[j] = in_gate;
            gate[hidden + j] = forget;
            gate[2 * hidden + j] = cand;
            gate[3 * hidden + j] = out_gate;
        } else {
            const float reset = sigmoid_of(a[j] + b[j]);
            const float update = sigmoid_of(a[hidden + j] + b[hidden + j]);
            const float rec_n = b[2 * hidden + j];
            const float cand = tanhf(a[2 * hidden + j] + reset * rec_n);
            h = (1.0f - update) * cand + update * hs[prev];
            gate[j] = reset;
            gate[hidden + j] = update;
            gate[2 * hidden + j] = cand;
            gate[3 * hidden + j] = rec_n;
        }
        hs[next] = h;
        if (y)
            y[((size_t)i * t + s) * hidden + j] = h;
    }
}

void nl_cuda_rnn_forward(nl_backend *be, nl_rnn_cell cell, int n, int t, int in, int hidden,
                         const float *x, const float *w_ih, const float *w_hh, const float *b_ih,
                         const float *b_hh, float *y, float *h_last, float *c_last, void *saved,
                         void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || t <= 0)
        return;
    const rnn_frame f = frame_of(be, cell, n, t, hidden, saved, workspace);
    nl_cuda_linear_forward(be, n * t, in, f.g, x, w_ih, b_ih, f.w.xproj, f.lowp);
    NL_CU(cu, cudaMemsetAsync(f.sv.h, 0, f.state * sizeof(float), cu->stream));
    if (f.sv.c)
        NL_CU(cu, cudaMemsetAsync(f.sv.c, 0, f.state * sizeof(float), cu->stream));
    for (int s = 0; s < t; s++) {
        nl_cuda_linear_forward(be, n, hidden, f.g, f.sv.h + s * f.state, w_hh, b_hh, f.w.hproj,
                               f.lowp);
        rnn_step_kernel<<<nl_cuda_grid(cu, f.state, 256), 256, 0, cu->stream>>>(
            cell == NL_RNN_LSTM, n, t, s, hidden, f.w.xproj, f.w.hproj, f.sv.h, f.sv.c, f.sv.gates,
            y);
        NL_CU_LAUNCHED(cu, "rnn_step_kernel");
    }
    if (h_last)
        NL_CU(cu, cudaMemcpyAsync(h_last, f.sv.h + t * f.state, f.state * sizeof(float),
                                  cudaMemcpyDeviceToDevice, cu->stream));
    if (c_last && f.sv.c)
        NL_CU(cu, cudaMemcpyAsync(c_last, f.sv.c + t * f.state, f.state * sizeof(float),
                                  cudaMemcpyDeviceToDevice, cu->stream));
}

/* step s of the backward for the n*hidden pairs: the gates' pre-activation
 * gradients in both layouts from dh (+ dy's row) and dc; dc becomes
 * c_{s-1}'s, and for the gru dh the direct part of h_{s-1}'s */
__global__ void __launch_bounds__(256)
    rnn_step_backward_kernel(int lstm, int n, int t, int s, int hidden,
                             const float *__restrict__ hs, const float *__restrict__ cs,
                             const float *__restrict__ gates, const float *__restrict__ dy,
                             float *__restrict__ dh, float *__restrict__ dc,
                             float *__restrict__ dgates_x, float *__restrict__ dgates_h)
{
    const size_t total = (size_t)n * hidden, stride = (size_t)gridDim.x * blockDim.x;
    const int g = (lstm ? 4 : 3) * hidden;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total; k += stride) {
        const int i = (int)(k / hidden), j = (int)(k - (size_t)i * hidden);
        const size_t prev = (size_t)s * total + k, next = prev + total;
        const float *gate = gates + ((size_t)s * n + i) * 4 * hidden;
        float *dx_row = dgates_x + ((size_t)i * t + s) * g;
        float *dh_row = dgates_h + ((size_t)s * n + i) * g;
        const float dh_j = dh[k] + (dy ? dy[((size_t)i * t + s) * hidden + j] : 0.0f);
        if (lstm) {
            const float in_gate = gate[j], forget = gate[hidden + j];
            const float cand = gate[2 * hidden + j], out_gate = gate[3 * hidden + j];
            const float tanh_c = tanhf(cs[next]);
            const float dc_j = dc[k] + dh_j * out_gate * (1.0f - tanh_c * tanh_c);
            const float d_in = dc_j * cand * in_gate * (1.0f - in_gate);
            const float d_forget = dc_j * cs[prev] * forget * (1.0f - forget);
            const float d_cand = dc_j * in_gate * (1.0f - cand * cand);
            const float d_out = dh_j * tanh_c * out_gate * (1.0f - out_gate);
            dc[k] = dc_j * forget;
            dx_row[j] = dh_row[j] = d_in;
            dx_row[hidden + j] = dh_row[hidden + j] = d_forget;
            dx_row[2 * hidden + j] = dh_row[2 * hidden + j] = d_cand;
            dx_row[3 * hidden + j] = dh_row[3 * hidden + j] = d_out;
        } else {
            const float reset = gate[j], update = gate[hidden + j];
            const float cand = gate[2 * hidden + j], rec_n = gate[3 * hidden + j];
            const float d_cand = dh_j * (1.0f - update) * (1.0f - cand * cand);
            const float d_reset = d_cand * rec_n * reset * (1.0f - reset);
            const float d_update = dh_j * (hs[prev] - cand) * update * (1.0f - update);
            dh[k] = dh_j * update;
            dx_row[j] = dh_row[j] = d_reset;
            dx_row[hidden + j] = dh_row[hidden + j] = d_update;
            dx_row[2 * hidden + j] = d_cand;
            dh_row[2 * hidden + j] = d_cand * reset;
        }
    }
}

void nl_cuda_rnn_backward(nl_backend *be, nl_rnn_cell cell, int n, int t, int in, int hidden,
                          const float *x, const float *w_ih, const float *w_hh, const void *saved,
                          const float *dy, const float *dh_last, const float *dc_last, float *dx,
                          bool accumulate_dx, float *dw_ih, float *dw_hh, float *db_ih,
                          float *db_hh, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || t <= 0)
        return;
    const rnn_frame f = frame_of(be, cell, n, t, hidden, saved, workspace);
    if (dh_last)
        NL_CU(cu, cudaMemcpyAsync(f.w.dh, dh_last, f.state * sizeof(float),
                                  cudaMemcpyDeviceToDevice, cu->stream));
    else
        NL_CU(cu, cudaMemsetAsync(f.w.dh, 0, f.state * sizeof(float), cu->stream));
    if (dc_last && cell == NL_RNN_LSTM)
        NL_CU(cu, cudaMemcpyAsync(f.w.dc, dc_last, f.state * sizeof(float),
                                  cudaMemcpyDeviceToDevice, cu->stream));
    else
        NL_CU(cu, cudaMemsetAsync(f.w.dc, 0, f.state * sizeof(float), cu->stream));
    const float one = 1.0f, zero = 0.0f;
    for (int s = t - 1; s >= 0; s--) {
        rnn_step_backward_kernel<<<nl_cuda_grid(cu, f.state, 256), 256, 0, cu->stream>>>(
            cell == NL_RNN_LSTM, n, t, s, hidden, f.sv.h, f.sv.c, f.sv.gates, dy, f.w.dh, f.w.dc,
            f.w.dgates_x, f.w.dgates_h);
        NL_CU_LAUNCHED(cu, "rnn_step_backward_kernel");
        /* dh (+)= dgates_h[s] w_hh, as linear_backward's input gradient;
         * h_{-1} is the constant zero state: nothing to pass it */
        if (s > 0 && f.lowp)
            nl_cuda_rnn_state_grad(be, n, hidden, f.g, f.w.dgates_h + s * (size_t)n * f.g, w_hh,
                                   f.w.dh, cell == NL_RNN_GRU, f.lowp);
        else if (s > 0)
            NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_N, hidden, n, f.g, &one,
                                      w_hh, hidden, f.w.dgates_h + s * (size_t)n * f.g, f.g,
                                      cell == NL_RNN_GRU ? &one : &zero, f.w.dh, hidden));
    }
    nl_cuda_linear_backward(be, n * t, hidden, f.g, f.sv.h, w_hh, f.w.dgates_h, NULL, false, dw_hh,
                            db_hh, f.lowp);
    nl_cuda_linear_backward(be, n * t, in, f.g, x, w_ih, f.w.dgates_x, dx, accumulate_dx, dw_ih,
                            db_ih, f.lowp);
}
