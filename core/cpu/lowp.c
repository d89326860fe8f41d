/* Rounding arrays to bf16 or fp16 and the low-precision GEMM entry, which
 * runs the product this kernel set was compiled for (lowp.h).
 *
 * bf16 rounds with integer arithmetic on 8 lanes (the scalar reference's
 * add-and-mask, ties to even); fp16 through the F16C conversions where the
 * kernel set has them (vcvtps2ph rounds to nearest even, overflows to
 * infinity from 65520 and keeps fp16's subnormals, as the reference does),
 * else the scalar reference. NaN lanes are rebuilt as the reference builds
 * them (the input with its quiet bit set), so the results agree bit for
 * bit (tests/test_lowp.c). */
#include <cblas.h>
#include <string.h>

#include "base/precision.h"
#include "cpu/cpu.h"
#include "cpu/gemm_bf16.h"
#include "cpu/lowp.h"
#include "cpu/vmath.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

/* NaN lanes of the input: their magnitude bits above infinity's */
static inline nl_v8i nan_lanes(nl_v8u32 bits)
{
    return (nl_v8i)((bits & 0x7fffffffu) > 0x7f800000u);
}

static inline nl_v8 round_bf16_v8(nl_v8 x)
{
    const nl_v8u32 bits = (nl_v8u32)x;
    const nl_v8u32 rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
    return nl_v8_select(nan_lanes(bits), (nl_v8)(bits | 0x00400000u), (nl_v8)rounded);
}

#if defined(__AVX512F__)
/* the same integer rounding on 16 lanes where the set has AVX-512: each
 * lane's bits are round_bf16_v8's (test_lowp), at half the instructions */
static inline nl_v16 round_bf16_v16(nl_v16 x)
{
    const nl_v16u32 bits = (nl_v16u32)x;
    const nl_v16u32 rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
    const nl_v16i nan = (nl_v16i)((bits & 0x7fffffffu) > 0x7f800000u);
    return nl_v16_select(nan, (nl_v16)(bits | 0x00400000u), (nl_v16)rounded);
}
#endif

#if defined(__F16C__)
static inline nl_v8 round_fp16_v8(nl_v8 x)
{
    const __m256 v = (__m256)x;
    const nl_v8 rounded =
        (nl_v8)_mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const nl_v8u32 bits = (nl_v8u32)x;
    return nl_v8_select(nan_lanes(bits), (nl_v8)(bits | 0x00400000u), rounded);
}
#define NL_HAVE_VECTOR_FP16 1
#else
#define NL_HAVE_VECTOR_FP16 0
#endif

void nl_cpu_round(nl_precision precision, const float *src, float *dst, size_t count)
{
    size_t i = 0;
    switch (precision) {
    case NL_PRECISION_BF16:
#if defined(__AVX512F__)
        for (; i + 16 <= count; i += 16)
            nl_v16_store(dst + i, round_bf16_v16(nl_v16_load(src + i)));
#endif
        for (; i + 8 <= count; i += 8)
            nl_v8_store(dst + i, round_bf16_v8(nl_v8_load(src + i)));
        for (; i < count; i++)
            dst[i] = nl_round_bf16(src[i]);
        return;
    case NL_PRECISION_FP16:
#if NL_HAVE_VECTOR_FP16
        for (; i + 8 <= count; i += 8)
            nl_v8_store(dst + i, round_fp16_v8(nl_v8_load(src + i)));
#endif
        for (; i < count; i++)
            dst[i] = nl_round_fp16(src[i]);
        return;
    default:
        if (dst != src)
            memcpy(dst, src, count * sizeof *dst);
        return;
    }
}

/* blocks of this many floats (a multiple of 8) per thread's turn */
enum { ROUND_BLOCK = 4096 };

void nl_cpu_round_parallel(nl_precision precision, const float *src, float *dst, size_t count)
{
    const long blocks = (long)((count + ROUND_BLOCK - 1) / ROUND_BLOCK);
    NL_PARALLEL_FOR_IF(count >= 4 * NL_PARALLEL_MIN && !omp_in_parallel_safe(),
    for (long b = 0; b < blocks; b++) {
        const size_t first = (size_t)b * ROUND_BLOCK;
        const size_t len = count - first < ROUND_BLOCK ? count - first : ROUND_BLOCK;
        nl_cpu_round(precision, src + first, dst + first, len);
    });
}

void nl_cpu_round_add(nl_precision precision, const float *src, float *dst, size_t count)
{
    float rounded[ROUND_BLOCK];
    for (size_t first = 0; first < count; first += ROUND_BLOCK) {
        const size_t len = count - first < ROUND_BLOCK ? count - first : ROUND_BLOCK;
        nl_cpu_round(precision, src + first, rounded, len);
        float *d = dst + first;
        #pragma omp simd
        for (size_t i = 0; i < len; i++)
            d[i] += rounded[i];
    }
}

size_t nl_cpu_lowp_gemm_scratch(nl_precision precision, int m, int n, int k)
{
    return nl_cpu_lowp_gemm_packs(precision) ? nl_cpu_gemm_bf16_scratch(m, n, k) : 0;
}

/* the packed bf16 product of this set (lowp.h); false where it does not run */
static bool packed_product(nl_precision precision, bool trans_a, bool trans_b, int m, int n,
                           int k, const float *a, int lda, const float *b, int ldb, float beta,
                           float *c, int ldc, void *scratch)
{
    if (!scratch || !nl_cpu_lowp_gemm_packs(precision))
        return false;
#if defined(NL_CPU_BF16_PRODUCT_MODEL)
    nl_cpu_gemm_bf16_model(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, scratch);
    return true;
#else
    /* false only in a native build run where isa_guard.c would have refused */
    return nl_cpu_gemm_bf16_native(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc,
                                   scratch);
#endif
}

void nl_cpu_lowp_gemm(nl_precision precision, bool trans_a, bool trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc, void *scratch)
{
    if (packed_product(precision, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc,
                       scratch))
        return;
    /* a and b hold rounded values: each product of two of them is exact in
     * fp32, so sgemm's fp32 multiply-adds compute the low-precision product
     * with fp32 accumulation */
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
