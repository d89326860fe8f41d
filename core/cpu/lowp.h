/* Low-precision products on the CPU (train.precision, be->product_precision).
 *
 * Tensors stay fp32. A product op under a low precision rounds copies of
 * its operands with nl_cpu_round (bit for bit base/precision.h's
 * nl_round_to, round to nearest even), multiplies the rounded copies with
 * fp32 accumulation (nl_cpu_lowp_gemm) and rounds what it writes: what
 * torch.autocast's bf16/fp16 products compute. The rounded copies live in
 * the op's planned workspace; nl_cpu_lowp_floats counts them. */
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

/* Row-major C = A B + beta C with A (m x k) or its transpose when trans_a,
 * B (k x n) or its transpose when trans_b; A and B already rounded to
 * `precision`, so every product of two of their elements is exact in fp32
 * and the sums are fp32 sums. C is not rounded here (the caller adds the
 * bias first or rounds afterwards). */
void nl_cpu_lowp_gemm(nl_precision precision, bool trans_a, bool trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);

/* whether a precision rounds at all */
static inline bool nl_cpu_lowp(nl_precision precision) { return precision != NL_PRECISION_FP32; }

/* floats of a workspace block, rounded up to whole 64-byte lines so that
 * blocks laid end to end stay aligned */
static inline size_t nl_cpu_lowp_floats(size_t count) { return (count + 15) / 16 * 16; }

#endif
