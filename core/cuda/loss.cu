/* Softmax cross-entropy on the GPU.
 *
 * Forward: a single block; thread t handles rows t, t + 256, ... (max,
 * exponentials summed in double in class order, probabilities, the row's
 * loss log(sum) - (x_label - max) in double), keeping its rows' loss and
 * correct count in double. The block then adds the threads' sums in a
 * fixed tree (block_sum2) and thread 0 adds the batch's totals to
 * metrics[0] and metrics[1]. Batches are small (rows of a few to a few
 * hundred classes), so one block is enough, and one adder keeps the metrics
 * free of atomics and bit-reproducible.
 * Backward: elementwise, dlogits = probs / n, minus 1/n at the label, as in
 * core/cpu/loss.c (bit for bit).
 * A label outside [0, classes) makes that row's loss NaN (the CPU backend
 * would read out of bounds); it is never counted correct. */
#include <math.h>

#include "cuda/norm_common.cuh"
#include "backend/twins.h"

using namespace nlk;

__global__ void __launch_bounds__(256)
    softmax_xent_forward_kernel(int n, int classes, const float *__restrict__ logits,
                                const int32_t *__restrict__ labels, float *__restrict__ probs,
                                double *metrics)
{
    double loss = 0.0, correct = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float *row = logits + (size_t)i * classes;
        float *p = probs + (size_t)i * classes;
        float max;
        const int argmax = nl_row_argmax(row, classes, &max);
        double sum = 0.0;
        for (int k = 0; k < classes; k++) {
            const float e = expf(row[k] - max);
            p[k] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int k = 0; k < classes; k++)
            p[k] *= inv;
        const int label = labels[i];
        if (label >= 0 && label < classes) {
            loss += log(sum) - ((double)row[label] - (double)max);
            correct += argmax == label ? 1.0 : 0.0;
        } else {
            loss += nan("");
        }
    }
    block_sum2(loss, correct);
    if (threadIdx.x == 0) {
        metrics[0] += loss;
        metrics[1] += correct;
    }
}

__global__ void __launch_bounds__(256)
    softmax_xent_backward_kernel(int n, int classes, const float *__restrict__ probs,
                                 const int32_t *__restrict__ labels, float *__restrict__ dlogits)
{
    const size_t total = (size_t)n * classes;
    const float scale = 1.0f / (float)n;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        const size_t i = e / classes;
        const int k = (int)(e - i * classes);
        float d = probs[e] * scale;
        if (k == labels[i])
            d -= scale;
        dlogits[e] = d;
    }
}

void nl_cuda_softmax_xent_forward(nl_backend *be, int n, int classes, const float *logits,
                                  const int32_t *labels, float *probs, double *metrics)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || classes <= 0)
        return;
    softmax_xent_forward_kernel<<<1, 256, 0, cu->stream>>>(n, classes, logits, labels, probs,
                                                           metrics);
    NL_CU_LAUNCHED(cu, "softmax_xent_forward_kernel");
}

void nl_cuda_softmax_xent_backward(nl_backend *be, int n, int classes, const float *probs,
                                   const int32_t *labels, float *dlogits)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || classes <= 0)
        return;
    const size_t total = (size_t)n * classes;
    softmax_xent_backward_kernel<<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
        n, classes, probs, labels, dlogits);
    NL_CU_LAUNCHED(cu, "softmax_xent_backward_kernel");
}
