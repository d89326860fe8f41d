/* Gathering rows by index and token windows by their starts (the batches
 * of a dataset resident on the GPU), as core/cpu/backend.c's references:
 * bit copies of 4-byte words; rows go 16 bytes a thread when the rows and
 * both arrays allow it. */
#include "cuda/cuda_common.h"

/* word i of dst is word i % row of row index[i / row] of src (words of type
 * W: one 4-byte word, or four) */
template <class W>
__global__ void __launch_bounds__(256)
    gather_rows_kernel(const int32_t *__restrict__ index, const W *__restrict__ src,
                       W *__restrict__ dst, size_t row, size_t total)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t r = i / row;
        dst[i] = src[(size_t)index[r] * row + (i - r * row)];
    }
}

void nl_cuda_gather_rows(nl_backend *be, int n, size_t row_words, const int32_t *index,
                         const void *src, void *dst)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || row_words == 0)
        return;
    if (row_words % 4 == 0 && nl_cuda_aligned16(src, dst)) {
        const size_t row = row_words / 4, total = (size_t)n * row;
        gather_rows_kernel<uint4><<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
            index, (const uint4 *)src, (uint4 *)dst, row, total);
    } else {
        const size_t total = (size_t)n * row_words;
        gather_rows_kernel<uint32_t><<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
            index, (const uint32_t *)src, (uint32_t *)dst, row_words, total);
    }
    NL_CU_LAUNCHED(cu, "gather_rows");
}

/* word i of the batch: token i % t of window i / t, and the token after it */
__global__ void __launch_bounds__(256)
    gather_windows_kernel(const int32_t *__restrict__ starts, const int32_t *__restrict__ src,
                          int32_t *__restrict__ tokens, int32_t *__restrict__ targets, int t,
                          size_t total)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t w = i / (size_t)t;
        const size_t at = (size_t)starts[w] + (i - w * (size_t)t);
        tokens[i] = src[at];
        targets[i] = src[at + 1];
    }
}

void nl_cuda_gather_windows(nl_backend *be, int n, int t, const int32_t *starts,
                            const int32_t *src, int32_t *tokens, int32_t *targets)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || t <= 0)
        return;
    const size_t total = (size_t)n * t;
    gather_windows_kernel<<<nl_cuda_grid(cu, total, 256), 256, 0, cu->stream>>>(
        starts, src, tokens, targets, t, total);
    NL_CU_LAUNCHED(cu, "gather_windows");
}
