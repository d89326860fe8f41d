/* The bf16 matrix product on AVX512-BF16 (vdpbf16ps: pairs of bf16
 * products accumulated into fp32 lanes), and the same product through a
 * software model of that instruction, which runs on every CPU.
 *
 * C = A B + beta C, row-major, A m x k (k x m stored when trans_a), B k x n
 * (n x k when trans_b). A and B hold fp32 values, rounded to bf16 as
 * packing reads them (core/base/precision.h: nl_round_bf16, ties to even,
 * NaN kept quiet): values rounded already pack to the same bits, so a
 * caller need not round its operands first (linear.c does not). beta 0
 * does not read C (a NaN there does not survive). Products accumulate in
 * fp32, two k a step, in an order fixed by k alone: results do not depend
 * on the thread count.
 *
 * Both operands are packed into bf16 pairs along k before the multiply,
 * into scratch: at least nl_cpu_gemm_bf16_scratch(m, n, k) bytes the
 * caller planned with the model's memory (a layer's workspace), so no call
 * allocates. The product splits itself over the threads, except inside a
 * caller's team, where it runs on the calling thread.
 *
 * Who calls which: nl_cpu_lowp_gemm (lowp.h), the bf16 products of linear
 * and conv2d, runs the native product in the kernel sets compiled with
 * AVX512-BF16 (x86-64-v4-bf16, which auto prefers on a CPU that has it,
 * or a native build on one), and the model in the test-only set
 * bf16_model (tests/test_gemm_bf16.c runs the layers through it on any
 * CPU); every other set keeps sgemm on the rounded operands, whose sums
 * run in another order. experiments/bench/bf16_gemm_ceiling.c times the
 * native product against sgemm directly. */
#ifndef NL_CPU_GEMM_BF16_H
#define NL_CPU_GEMM_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* bytes of packing scratch a product of these shapes needs */
size_t nl_cpu_gemm_bf16_scratch(int m, int n, int k);

/* whether this CPU runs the vdpbf16ps kernel (AVX512F, AVX512BW, AVX512VL
 * and AVX512_BF16, their register state saved by the operating system) and
 * this build compiled it (a compiler with the intrinsics) */
bool nl_cpu_gemm_bf16_native_runs_here(void);

/* The product with vdpbf16ps; false, touching nothing, where
 * nl_cpu_gemm_bf16_native_runs_here() is false (the caller then takes its
 * sgemm path on the same rounded operands). */
bool nl_cpu_gemm_bf16_native(bool trans_a, bool trans_b, int m, int n, int k, const float *a,
                             int lda, const float *b, int ldb, float beta, float *c, int ldc,
                             void *scratch);

/* The same product, packing and tiling with the instruction replaced by
 * nl_cpu_bf16_dot2_model: bit for bit what vdpbf16ps computes as Intel's
 * SDM describes it, on any CPU; far slower (a scalar fmaf per product), for
 * the tests and for checking the instruction against its description. */
void nl_cpu_gemm_bf16_model(bool trans_a, bool trans_b, int m, int n, int k, const float *a,
                            int lda, const float *b, int ldb, float beta, float *c, int ldc,
                            void *scratch);

/* One fp32 lane of vdpbf16ps as the SDM describes it: a_pair and b_pair
 * each hold two bf16 (the element of even k in the low 16 bits, odd k in
 * the high 16); returns acc + a.hi * b.hi + a.lo * b.lo as two fp32 fused
 * multiply-adds, high pair first, each with denormal inputs read as zero,
 * rounding to nearest even and a tiny result (x86's tininess: after
 * rounding to 24 bits, below 2^-126) flushed to zero. A NaN input
 * gives that NaN, quieted (the SDM's priority: a.lo, b.lo, a.hi, b.hi,
 * acc); an invalid operation (inf * 0, inf - inf) the x86 default NaN. */
float nl_cpu_bf16_dot2_model(float acc, uint32_t a_pair, uint32_t b_pair);

#endif
