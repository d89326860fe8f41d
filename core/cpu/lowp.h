/* Low-precision products on the CPU (train.precision, be->product_precision).
 *
 * Tensors stay fp32. A product op under a low precision rounds copies of
 * its operands with nl_cpu_round (bit for bit base/precision.h's
 * nl_round_to, round to nearest even), multiplies the rounded copies with
 * fp32 accumulation (nl_cpu_lowp_gemm) and rounds what it writes: what
 * torch.autocast's bf16/fp16 products compute. The rounded copies (and the
 * packed operands of a bf16 product on vdpbf16ps) live in the op's planned
 * workspace; nl_cpu_lowp_floats counts them. */
#ifndef NL_CPU_LOWP_H
#define NL_CPU_LOWP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/names.h"

/* dst[i] = nl_round_to(precision, src[i]), i < count; dst may be src. fp32
 * copies (or leaves in place). Serial: callers inside a team call it on
 * their share. */
void nl_cpu_round(nl_precision precision, const float *src, float *dst, size_t count);
/* the same, split over the threads when the array is large (outside a team) */
void nl_cpu_round_parallel(nl_precision precision, const float *src, float *dst, size_t count);
/* dst[i] += nl_round_to(precision, src[i]): a rounded gradient added into
 * an accumulating one in fp32 */
void nl_cpu_round_add(nl_precision precision, const float *src, float *dst, size_t count);

/* Which product a kernel set's bf16 products run, fixed when the set is
 * compiled (CMakeLists.txt, normlab_kernel_set_flags):
 *  - vdpbf16ps (core/cpu/gemm_bf16.c's native tile) in a set compiled with
 *    AVX512-BF16 (the -bf16 sets, or a native build on such a CPU);
 *  - the software model of that instruction (the same packing, tiling and
 *    order, one modelled lane a product) in the test-only set compiled with
 *    NL_CPU_BF16_PRODUCT_MODEL: what tests/test_gemm_bf16.c runs through
 *    the layers on every CPU. It differs from the shipped -bf16 sets in the
 *    instruction alone, whose lanes the test checks against the model
 *    where a CPU has it;
 *  - sgemm on the rounded operands in every other set, and for fp16.
 * The packed products' sums run in another order than sgemm's, so their
 * results differ in the last bits (hence a set of their own: MPI ranks
 * and NORMLAB_CPU_KERNELS pin sets, core/device/device.c). */
#if defined(NL_CPU_BF16_PRODUCT_MODEL)
#define NL_CPU_BF16_PACKED 1
#elif defined(__AVX512BF16__)
#define NL_CPU_BF16_PACKED 1
#else
#define NL_CPU_BF16_PACKED 0
#endif

/* whether this set's products in `precision` pack their operands into
 * scratch (bf16 where NL_CPU_BF16_PACKED): such a product splits itself
 * over the threads (its results do not depend on their count), so callers
 * make one call for the whole product, with one scratch */
static inline bool nl_cpu_lowp_gemm_packs(nl_precision precision)
{
    return NL_CPU_BF16_PACKED && precision == NL_PRECISION_BF16;
}

/* bytes of scratch nl_cpu_lowp_gemm needs for an m x n x k product in
 * `precision`: 0 where it does not pack */
size_t nl_cpu_lowp_gemm_scratch(nl_precision precision, int m, int n, int k);

/* Row-major C = A B + beta C with A (m x k) or its transpose when trans_a,
 * B (k x n) or its transpose when trans_b; A and B already rounded to
 * `precision`, so every product of two of their elements is exact in fp32
 * and the sums are fp32 sums. Where the product packs, packing rounds them
 * (to bf16, as nl_round_bf16 does), so they may also be given unrounded,
 * with the same result. C is not rounded here (the caller adds the
 * bias first or rounds afterwards). scratch: nl_cpu_lowp_gemm_scratch
 * bytes planned with the model's memory; NULL takes sgemm in any set. */
void nl_cpu_lowp_gemm(nl_precision precision, bool trans_a, bool trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc, void *scratch);

/* whether a precision rounds at all */
static inline bool nl_cpu_lowp(nl_precision precision) { return precision != NL_PRECISION_FP32; }

/* floats of a workspace block, rounded up to whole 64-byte lines so that
 * blocks laid end to end stay aligned */
static inline size_t nl_cpu_lowp_floats(size_t count) { return (count + 15) / 16 * 16; }

#endif
