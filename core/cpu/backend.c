/* The CPU backend's ops table: one kernel set. This file and every other
 * kernel file of core/cpu are compiled once with the build's flags and again
 * for each instruction set of NORMLAB_CPU_KERNEL_SETS (CMakeLists.txt);
 * host.c picks the set a process runs. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cpu/cpu.h"

static nl_code cpu_alloc(nl_backend *be, size_t bytes, void **out, nl_error *err)
{
    (void)be;
    /* 64-byte alignment keeps vector loads on cache lines */
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0)
        rounded = 64;
    void *p = nl_aligned_alloc(64, rounded);
    if (!p)
        return nl_fail(err, NL_ERR_NOMEM, "cannot allocate %zu bytes of host memory", bytes);
    *out = p;
    return NL_OK;
}

static void cpu_release(nl_backend *be, void *ptr)
{
    (void)be;
    free(ptr);
}

/* A batch upload (400 KB for the MLP at batch 128) is split over the
 * threads: one core's memcpy ran at ~35 GB/s, 12 us of a 1.26 ms step;
 * split, 9 us. Each share starts on a cache line. */
#define COPY_SPLIT_BYTES (256 * 1024)

static void copy_share(void *dst, const void *src, size_t bytes, int part, int parts)
{
    const size_t lines = (bytes + 63) / 64;
    const size_t begin = lines * part / parts * 64, end = lines * (part + 1) / parts * 64;
    const size_t stop = end < bytes ? end : bytes;
    if (begin < stop)
        memcpy((char *)dst + begin, (const char *)src + begin, stop - begin);
}

static void cpu_memcpy(nl_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes >= COPY_SPLIT_BYTES) {
        #pragma omp parallel
        copy_share(dst, src, bytes, omp_get_thread_num_safe(), omp_get_num_threads_safe());
        return;
    }
    if (bytes)
        memcpy(dst, src, bytes);
}

static void cpu_fill(nl_backend *be, float *dst, float value, size_t count)
{
    (void)be;
    for (size_t i = 0; i < count; i++)
        dst[i] = value;
}

static void cpu_copy(nl_backend *be, float *dst, const float *src, size_t count)
{
    (void)be;
    memcpy(dst, src, count * sizeof *dst);
}

/* the host's memory is no device's: nothing to report */
static void cpu_memory_info(nl_backend *be, size_t *free_bytes, size_t *total_bytes)
{
    (void)be;
    *free_bytes = *total_bytes = 0;
}

/* the reference the CUDA gather is tested against: one row at a time */
static void cpu_gather_rows(nl_backend *be, int n, size_t row_words, const int32_t *index,
                            const void *src, void *dst)
{
    (void)be;
    const size_t row_bytes = row_words * sizeof(int32_t);
    for (int i = 0; i < n; i++)
        memcpy((char *)dst + (size_t)i * row_bytes,
               (const char *)src + (size_t)index[i] * row_bytes, row_bytes);
}

/* the reference the CUDA window gather is tested against */
static void cpu_gather_windows(nl_backend *be, int n, int t, const int32_t *starts,
                               const int32_t *src, int32_t *tokens, int32_t *targets)
{
    (void)be;
    for (int i = 0; i < n; i++) {
        memcpy(tokens + (size_t)i * t, src + starts[i], (size_t)t * sizeof *src);
        memcpy(targets + (size_t)i * t, src + starts[i] + 1, (size_t)t * sizeof *src);
    }
}

static nl_code cpu_synchronize(nl_backend *be, nl_error *err)
{
    (void)be;
    (void)err;
    return NL_OK;
}

static const nl_ops cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .fill = cpu_fill,
    .copy = cpu_copy,
    .synchronize = cpu_synchronize,
    .memory_info = cpu_memory_info,
    .gather_rows = cpu_gather_rows,
    .gather_windows = cpu_gather_windows,
    .linear_workspace = nl_cpu_linear_workspace,
    .linear_forward = nl_cpu_linear_forward,
    .linear_backward = nl_cpu_linear_backward,
    .conv2d_workspace = nl_cpu_conv2d_workspace,
    .conv2d_forward = nl_cpu_conv2d_forward,
    .conv2d_backward = nl_cpu_conv2d_backward,
    .pool_forward = nl_cpu_pool_forward,
    .pool_backward = nl_cpu_pool_backward,
    .activation_forward = nl_cpu_activation_forward,
    .activation_backward = nl_cpu_activation_backward,
    .add_forward = nl_cpu_add_forward,
    .pass_gradient = nl_cpu_pass_gradient,
    .softmax_xent_forward = nl_cpu_softmax_xent_forward,
    .softmax_xent_backward = nl_cpu_softmax_xent_backward,
    .norm_forward = nl_cpu_norm_forward,
    .norm_forward_eval = nl_cpu_norm_forward_eval,
    .norm_stats = nl_cpu_norm_stats,
    .norm_apply = nl_cpu_norm_apply,
    .renorm_correction = nl_cpu_renorm_correction,
    .renorm_param_grads = nl_cpu_renorm_param_grads,
    .norm_backward_workspace = nl_cpu_norm_backward_workspace,
    .norm_backward = nl_cpu_norm_backward,
    .norm_backward_reduce = nl_cpu_norm_backward_reduce,
    .norm_backward_apply = nl_cpu_norm_backward_apply,
    .dyt_forward = nl_cpu_dyt_forward,
    .dyt_backward_workspace = nl_cpu_dyt_backward_workspace,
    .dyt_backward = nl_cpu_dyt_backward,
    .tlu_forward = nl_cpu_tlu_forward,
    .tlu_backward = nl_cpu_tlu_backward,
    .embedding_forward = nl_cpu_embedding_forward,
    .embedding_backward_workspace = nl_cpu_embedding_backward_workspace,
    .embedding_backward = nl_cpu_embedding_backward,
    .attention_workspace = nl_cpu_attention_workspace,
    .attention_forward = nl_cpu_attention_forward,
    .attention_backward = nl_cpu_attention_backward,
    .patchify_forward = nl_cpu_patchify_forward,
    .patchify_backward = nl_cpu_patchify_backward,
    .pos_add_forward = nl_cpu_pos_add_forward,
    .pos_add_backward = nl_cpu_pos_add_backward,
    .cls_prepend_forward = nl_cpu_cls_prepend_forward,
    .cls_prepend_backward = nl_cpu_cls_prepend_backward,
    .token_pool_forward = nl_cpu_token_pool_forward,
    .token_pool_backward = nl_cpu_token_pool_backward,
    .gelu_forward = nl_cpu_gelu_forward,
    .gelu_backward = nl_cpu_gelu_backward,
    .sgd_step = nl_cpu_sgd_step,
    .adamw_step = nl_cpu_adamw_step,
    .sum_squares = nl_cpu_sum_squares,
    .clip_by_norm = nl_cpu_clip_by_norm,
};

/* The set's entry point: every other symbol of a set compiled for another
 * instruction set is made local to it (CMakeLists.txt), and this one renamed. */
const nl_cpu_kernel_set nl_cpu_kernels_of_build = {.ops = &cpu_ops, .needs = NL_ISA_COMPILED};
