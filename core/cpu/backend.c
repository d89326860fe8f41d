/* The CPU backend's ops table (one kernel set), generated from the list of
 * ops (backend_ops.def), and the ops that move memory. This file and every
 * other kernel file of core/cpu are compiled once with the build's flags and
 * again for each instruction set of NORMLAB_CPU_KERNEL_SETS (CMakeLists.txt);
 * host.c picks the set a process runs. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cpu/cpu.h"

nl_code nl_cpu_alloc(nl_backend *be, size_t bytes, void **out, nl_error *err)
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

void nl_cpu_release(nl_backend *be, void *ptr)
{
    (void)be;
    free(ptr);
}

/* A batch upload (hundreds of KB for the MLP at batch 128) is split over
 * the threads: one core's memcpy does not reach the memory bandwidth that
 * two do. Each share starts on a cache line. */
#define COPY_SPLIT_BYTES (256 * 1024)

static void copy_share(void *dst, const void *src, size_t bytes, int part, int parts)
{
    const size_t lines = (bytes + 63) / 64;
    const size_t begin = lines * part / parts * 64, end = lines * (part + 1) / parts * 64;
    const size_t stop = end < bytes ? end : bytes;
    if (begin < stop)
        memcpy((char *)dst + begin, (const char *)src + begin, stop - begin);
}

static void host_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes >= COPY_SPLIT_BYTES) {
        #pragma omp parallel
        copy_share(dst, src, bytes, omp_get_thread_num_safe(), omp_get_num_threads_safe());
        return;
    }
    if (bytes)
        memcpy(dst, src, bytes);
}

/* the device is the host: both directions are one copy */
void nl_cpu_upload(nl_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    host_copy(dst, src, bytes);
}

void nl_cpu_download(nl_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    host_copy(dst, src, bytes);
}

void nl_cpu_fill(nl_backend *be, float *dst, float value, size_t count)
{
    (void)be;
    for (size_t i = 0; i < count; i++)
        dst[i] = value;
}

void nl_cpu_copy(nl_backend *be, float *dst, const float *src, size_t count)
{
    (void)be;
    memcpy(dst, src, count * sizeof *dst);
}

/* the host's memory is no device's: nothing to report */
void nl_cpu_memory_info(nl_backend *be, size_t *free_bytes, size_t *total_bytes)
{
    (void)be;
    *free_bytes = *total_bytes = 0;
}

/* the reference the CUDA gather is tested against: one row at a time */
void nl_cpu_gather_rows(nl_backend *be, int n, size_t row_words, const int32_t *index,
                            const void *src, void *dst)
{
    (void)be;
    const size_t row_bytes = row_words * sizeof(int32_t);
    for (int i = 0; i < n; i++)
        memcpy((char *)dst + (size_t)i * row_bytes,
               (const char *)src + (size_t)index[i] * row_bytes, row_bytes);
}

/* the reference the CUDA window gather is tested against */
void nl_cpu_gather_windows(nl_backend *be, int n, int t, const int32_t *starts,
                               const int32_t *src, int32_t *tokens, int32_t *targets)
{
    (void)be;
    for (int i = 0; i < n; i++) {
        memcpy(tokens + (size_t)i * t, src + starts[i], (size_t)t * sizeof *src);
        memcpy(targets + (size_t)i * t, src + starts[i] + 1, (size_t)t * sizeof *src);
    }
}

nl_code nl_cpu_synchronize(nl_backend *be, nl_error *err)
{
    (void)be;
    (void)err;
    return NL_OK;
}

/* The CPU's blocked kernels take any block (the plan gives the one its
 * convolutions read: conv_block); oneDNN's convolutions read their own
 * block alone, and of the 16-bit storage types only the one their
 * products round to (bf16: oneDNN runs no fp16 convolution here). The
 * statistics normalizers' blocked kernels and the plain add convert every
 * row of the storage table on the way in and out; the other families read
 * fp32. */
bool nl_cpu_runs(nl_backend *be, nl_op_family family, int block, nl_storage storage)
{
    if (!block)
        return storage == NL_STORAGE_FP32;
    switch (family) {
    case NL_OP_FAMILY_NONE:
    case NL_OP_FAMILY_NORM_LOWP: /* the blocked kernels keep fp32 statistics alone */
        return false;
    case NL_OP_FAMILY_CONV:
        return block == nl_cpu_conv_block(be) &&
               (storage == NL_STORAGE_FP32 ||
                storage == nl_storage_of_precision(be->product_precision));
    case NL_OP_FAMILY_NORM:
    case NL_OP_FAMILY_ADD:
        return true;
    case NL_OP_FAMILY_POOL:
    case NL_OP_FAMILY_ELEMENTWISE:
    case NL_OP_FAMILY_REORDER:
    case NL_OP_FAMILY_POINT_NORM:
    case NL_OP_FAMILY_SWITCH:
    case NL_OP_FAMILY_FORMULA:
    case NL_OP_FAMILY_SAMPLE_ROWS:
    case NL_OP_FAMILY_COUNT:
        break;
    }
    return storage == NL_STORAGE_FP32;
}

static const nl_ops cpu_ops = {
    .name = "cpu",
#define NL_OP(backends, ret, op, params) NL_OP_IF(NL_OP_ON_CPU_##backends, .op = nl_cpu_##op, )
#include "backend/backend_ops.def"
};

/* The set's entry point: every other symbol of a set compiled for another
 * instruction set is made local to it (CMakeLists.txt), and this one renamed. */
const nl_cpu_kernel_set nl_cpu_kernels_of_build = {.ops = &cpu_ops, .needs = NL_ISA_COMPILED};
