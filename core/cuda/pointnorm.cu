/* The normalizers without statistics (backend.h): Dynamic Tanh and FRN's
 * thresholded linear unit, and ScaleNorm, the twins of core/cpu/pointnorm.c.
 * ScaleNorm runs one block per row for its norm (block_sum2's fixed tree)
 * in both directions, and dgain adds the rows' shares in row order.
 *
 * Forward passes are grid-stride loops over elements (channel = (i / hw) %
 * c). Each backward runs one block per channel: thread t takes the channel's
 * values t, t + T, ... in (sample, position) order, writes their dx and adds
 * its share of the parameter gradients in double; block_sum2 adds the
 * threads in a fixed tree. dalpha is then one block adding the channels'
 * partial sums (the workspace) in channel order. Nothing depends on timing,
 * so runs repeat bit for bit. */
#include "cuda/norm_common.cuh"

using namespace nlk;

enum { POINT_THREADS = 256 };

__global__ void __launch_bounds__(POINT_THREADS)
    dyt_forward_kernel(size_t count, int c, int hw, const float *alpha, const float *x,
                       const float *gamma, const float *beta, float *y)
{
    const float a = *alpha;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += stride) {
        const int ch = (int)(i / hw % c);
        const float t = tanhf(a * x[i]);
        y[i] = (gamma ? gamma[ch] : 1.0f) * t + (beta ? beta[ch] : 0.0f);
    }
}

/* values k = t, t + T, ... of channel ch: k = i * hw + j over samples i */
__global__ void __launch_bounds__(POINT_THREADS)
    dyt_backward_kernel(int n, int c, int hw, const float *alpha, const float *x,
                        const float *dy, const float *gamma, float *dx, int accumulate,
                        float *dgamma, float *dbeta, double *dalpha_part)
{
    const int ch = blockIdx.x;
    const float a = *alpha, gm = gamma ? gamma[ch] : 1.0f, scale = gm * a;
    const long long values = (long long)n * hw;
    double s_dy = 0.0, s_dyt = 0.0, s_da = 0.0, unused = 0.0;
    for (long long k = threadIdx.x; k < values; k += blockDim.x) {
        const size_t at = ((size_t)(k / hw) * c + ch) * hw + (size_t)(k % hw);
        const float xv = x[at], g = dy[at];
        const float t = tanhf(a * xv), slope = 1.0f - t * t;
        s_dy += g;
        s_dyt += (double)g * t;
        s_da += (double)(g * slope) * xv;
        if (dx) {
            const float d = g * scale * slope;
            dx[at] = accumulate ? dx[at] + d : d;
        }
    }
    block_sum2(s_dy, s_dyt);
    block_sum2(s_da, unused);
    if (threadIdx.x == 0) {
        write_affine_grads(dgamma, dbeta, ch, s_dyt, s_dy);
        dalpha_part[ch] = (double)gm * s_da;
    }
}

__global__ void __launch_bounds__(POINT_THREADS)
    channel_total_kernel(int c, const double *part, float *total)
{
    double s = 0.0, unused = 0.0;
    for (int ch = threadIdx.x; ch < c; ch += blockDim.x)
        s += part[ch];
    block_sum2(s, unused);
    if (threadIdx.x == 0)
        *total = (float)s;
}

__global__ void __launch_bounds__(POINT_THREADS)
    tlu_forward_kernel(size_t count, int c, int hw, const float *x, const float *tau, float *y)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += stride) {
        const float t = tau[i / hw % c], v = x[i];
        y[i] = v > t ? v : t;
    }
}

__global__ void __launch_bounds__(POINT_THREADS)
    tlu_backward_kernel(int n, int c, int hw, const float *y, const float *tau, const float *dy,
                        float *dx, int accumulate, float *dtau)
{
    const int ch = blockIdx.x;
    const float t = tau[ch];
    const long long values = (long long)n * hw;
    double held = 0.0, unused = 0.0;
    for (long long k = threadIdx.x; k < values; k += blockDim.x) {
        const size_t at = ((size_t)(k / hw) * c + ch) * hw + (size_t)(k % hw);
        const bool passes = y[at] > t;
        const float g = dy[at];
        if (!passes)
            held += g;
        if (dx) {
            const float d = passes ? g : 0.0f;
            dx[at] = accumulate ? dx[at] + d : d;
        }
    }
    block_sum2(held, unused);
    if (threadIdx.x == 0)
        dtau[ch] = (float)held;
}

void nl_cuda_dyt_forward(nl_backend *be, int n, int c, int hw, const float *alpha, const float *x,
                         const float *gamma, const float *beta, float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t count = (size_t)n * c * hw;
    if (count == 0)
        return;
    dyt_forward_kernel<<<nl_cuda_grid(cu, count, POINT_THREADS), POINT_THREADS, 0, cu->stream>>>(
        count, c, hw, alpha, x, gamma, beta, y);
    NL_CU_LAUNCHED(cu, "dyt_forward_kernel");
}

size_t nl_cuda_dyt_backward_workspace(nl_backend *be, int c)
{
    (void)be;
    return (size_t)c * sizeof(double); /* each channel's share of dalpha */
}

void nl_cuda_dyt_backward(nl_backend *be, int n, int c, int hw, const float *alpha, const float *x,
                          const float *dy, const float *gamma, float *dx, bool accumulate_dx,
                          float *dgamma, float *dbeta, float *dalpha, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    double *part = (double *)workspace;
    dyt_backward_kernel<<<c, POINT_THREADS, 0, cu->stream>>>(
        n, c, hw, alpha, x, dy, gamma, dx, accumulate_dx ? 1 : 0, dgamma, dbeta, part);
    NL_CU_LAUNCHED(cu, "dyt_backward_kernel");
    channel_total_kernel<<<1, POINT_THREADS, 0, cu->stream>>>(c, part, dalpha);
    NL_CU_LAUNCHED(cu, "channel_total_kernel");
}

void nl_cuda_tlu_forward(nl_backend *be, int n, int c, int hw, const float *x, const float *tau,
                         float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t count = (size_t)n * c * hw;
    if (count == 0)
        return;
    tlu_forward_kernel<<<nl_cuda_grid(cu, count, POINT_THREADS), POINT_THREADS, 0, cu->stream>>>(
        count, c, hw, x, tau, y);
    NL_CU_LAUNCHED(cu, "tlu_forward_kernel");
}

void nl_cuda_tlu_backward(nl_backend *be, int n, int c, int hw, const float *y, const float *tau,
                          const float *dy, float *dx, bool accumulate_dx, float *dtau)
{
    nl_cuda *cu = nl_cuda_of(be);
    tlu_backward_kernel<<<c, POINT_THREADS, 0, cu->stream>>>(n, c, hw, y, tau, dy, dx,
                                                            accumulate_dx ? 1 : 0, dtau);
    NL_CU_LAUNCHED(cu, "tlu_backward_kernel");
}

__global__ void __launch_bounds__(POINT_THREADS)
    scalenorm_forward_kernel(int d, float eps, const float *gain, const float *x, float *y,
                             float *save_norm)
{
    __shared__ float scale;
    const size_t row = (size_t)blockIdx.x * d;
    double sq = 0.0, unused = 0.0;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        const float v = x[row + j];
        sq += (double)v * v;
    }
    block_sum2(sq, unused);
    if (threadIdx.x == 0) {
        const float norm = (float)sqrt(sq);
        save_norm[blockIdx.x] = norm;
        scale = *gain / (norm > eps ? norm : eps);
    }
    __syncthreads();
    for (int j = threadIdx.x; j < d; j += blockDim.x)
        y[row + j] = x[row + j] * scale;
}

__global__ void __launch_bounds__(POINT_THREADS)
    scalenorm_backward_kernel(int d, float eps, const float *gain, const float *x, const float *dy,
                              const float *save_norm, float *dx, int accumulate, double *part)
{
    __shared__ float scale, coef;
    const size_t row = (size_t)blockIdx.x * d;
    double dot = 0.0, unused = 0.0;
    for (int j = threadIdx.x; j < d; j += blockDim.x)
        dot += (double)dy[row + j] * x[row + j];
    block_sum2(dot, unused);
    if (threadIdx.x == 0) {
        const float norm = save_norm[blockIdx.x], clamped = norm > eps ? norm : eps;
        part[blockIdx.x] = dot / clamped;
        scale = *gain / clamped;
        coef = norm < eps ? 0.0f : (float)(dot / ((double)clamped * clamped));
    }
    __syncthreads();
    if (!dx)
        return;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        const float v = scale * (dy[row + j] - x[row + j] * coef);
        dx[row + j] = accumulate ? dx[row + j] + v : v;
    }
}

void nl_cuda_scalenorm_forward(nl_backend *be, int n, int d, float eps, const float *gain,
                               const float *x, float *y, float *save_norm)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n == 0)
        return;
    scalenorm_forward_kernel<<<n, POINT_THREADS, 0, cu->stream>>>(d, eps, gain, x, y, save_norm);
    NL_CU_LAUNCHED(cu, "scalenorm_forward_kernel");
}

size_t nl_cuda_scalenorm_backward_workspace(nl_backend *be, int n)
{
    (void)be;
    return (size_t)n * sizeof(double); /* each row's share of dgain */
}

void nl_cuda_scalenorm_backward(nl_backend *be, int n, int d, float eps, const float *gain,
                                const float *x, const float *dy, const float *save_norm,
                                float *dx, bool accumulate_dx, float *dgain, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    double *part = (double *)workspace;
    if (n == 0)
        return;
    scalenorm_backward_kernel<<<n, POINT_THREADS, 0, cu->stream>>>(
        d, eps, gain, x, dy, save_norm, dx, accumulate_dx ? 1 : 0, part);
    NL_CU_LAUNCHED(cu, "scalenorm_backward_kernel");
    if (!dgain)
        return;
    channel_total_kernel<<<1, POINT_THREADS, 0, cu->stream>>>(n, part, dgain);
    NL_CU_LAUNCHED(cu, "channel_total_kernel");
}
