/* Internal header of the CUDA backend (the .cu files of core/cuda, C++ compiled by nvcc).
 *
 * be->impl points at an nl_cuda: the device, one non-blocking stream that
 * every op is queued on (so ops are ordered with each other and with
 * upload/download), a cuBLAS handle bound to that stream, the pinned staging
 * buffer for uploads, and a small reduction scratch buffer.
 *
 * Errors: ops return void, so the first failing CUDA or cuBLAS call is
 * recorded here (call name, error string, file:line) and synchronize()
 * reports it. The record is sticky: after a failure the backend's results are
 * not trusted any more, and every later synchronize() reports the same error.
 *
 * Memory: all tensors come from ops->alloc at model build time. Besides that,
 * the backend owns, from open() on: the cuBLAS workspace (NL_CUDA_CUBLAS_WS),
 * the pinned staging slots, and the reduction scratch (nl_cuda.scratch). The
 * scratch holds the per-(group, split) partial sums of the multi-block
 * normalization reductions; the planner (norm_common.cuh) only splits a group
 * over several blocks when there are few groups, so groups * splits stays
 * below NL_CUDA_SCRATCH_PAIRS_PER_SM * SMs pairs whatever the tensor shape,
 * and nothing is allocated while training.
 *
 * Testing knobs (read once at open; for tests and benchmarks only):
 *   NORMLAB_CUDA_NORM_SPLITS=<s>  force s blocks per normalization group
 *                                 (1: the fused path, whole groups per
 *                                 block; clamped to what the scratch holds)
 *   NORMLAB_CUDA_NORM_SMEM=<bytes> shared-memory budget of the fused path for
 *                                 keeping a group on chip (0: re-read it)
 *   NORMLAB_CUDA_FORMULA_BLOCKS=1 a formula's passes without reductions run
 *                                 as the others do, a block per sample
 *                                 (formula.cu), not a thread per value */
#ifndef NL_CUDA_COMMON_H
#define NL_CUDA_COMMON_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "backend/backend.h"
}

enum {
    NL_CUDA_STAGING_SLOT = 8 << 20,    /* bytes per pinned upload slot (two slots) */
    NL_CUDA_CUBLAS_WS = 32 << 20,      /* cuBLAS workspace (NVIDIA's advice for Hopper) */
    NL_CUDA_SCRATCH_PAIRS_PER_SM = 64, /* reduction scratch: (sum, sum2) double pairs per SM */
    NL_CUDA_MSG_MAX = 1024,
};

typedef struct nl_cuda {
    int device;
    int sm_count;
    int cc_major, cc_minor;
    size_t smem_optin;     /* largest dynamic shared memory a block may ask for */
    size_t smem_budget;    /* fused normalization path: bytes of a group kept on chip */
    int force_splits;      /* NORMLAB_CUDA_NORM_SPLITS, 0 = automatic */
    bool formula_blocks;   /* NORMLAB_CUDA_FORMULA_BLOCKS */
    cudaStream_t stream;
    cublasHandle_t cublas;
    void *cublas_ws;
    unsigned char *staging; /* pinned, 2 slots; NULL: uploads go straight from pageable memory */
    cudaEvent_t slot_free[2];
    int next_slot;
    double *scratch;
    size_t scratch_pairs;
    /* the first error, reported by synchronize() */
    nl_code code;
    char msg[NL_CUDA_MSG_MAX];
} nl_cuda;

static inline nl_cuda *nl_cuda_of(nl_backend *be) { return (nl_cuda *)be->impl; }

/* records the first error (later ones are dropped) */
void nl_cuda_record(nl_cuda *cu, nl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void nl_cuda_record_cuda(nl_cuda *cu, const char *call, cudaError_t e, const char *file, int line);
void nl_cuda_record_cublas(nl_cuda *cu, const char *call, cublasStatus_t s, const char *file,
                           int line);

/* A call's status checked: anything but `ok` goes to `record` with what
 * failed. NL_CU and NL_CUBLAS stringize `call` up to its '(' so the message
 * names the function; NL_CU_LAUNCHED follows a kernel launch, where a bad
 * configuration or a missing kernel image shows. */
#define NL_CU_STATUS(cu, type, ok, record, call, what)                                             \
    do {                                                                                           \
        type nl_s_ = (call);                                                                       \
        if (nl_s_ != (ok))                                                                         \
            record((cu), what, nl_s_, __FILE__, __LINE__);                                         \
    } while (0)
#define NL_CU(cu, call)                                                                            \
    NL_CU_STATUS(cu, cudaError_t, cudaSuccess, nl_cuda_record_cuda, call, #call)
#define NL_CUBLAS(cu, call)                                                                        \
    NL_CU_STATUS(cu, cublasStatus_t, CUBLAS_STATUS_SUCCESS, nl_cuda_record_cublas, call, #call)
#define NL_CU_LAUNCHED(cu, kernel_name)                                                            \
    NL_CU_STATUS(cu, cudaError_t, cudaSuccess, nl_cuda_record_cuda, cudaGetLastError(),          \
                 "launch of " kernel_name)

/* blocks for a grid-stride elementwise kernel over `count` items */
static inline unsigned nl_cuda_grid(const nl_cuda *cu, size_t count, unsigned threads)
{
    size_t blocks = (count + threads - 1) / threads;
    size_t cap = (size_t)cu->sm_count * 16; /* enough to fill the GPU; the loops stride */
    if (blocks > cap)
        blocks = cap;
    return blocks ? (unsigned)blocks : 1u;
}

/* true when every pointer is 16-byte aligned (float4 access) */
static inline bool nl_cuda_aligned16(const void *a, const void *b = NULL, const void *c = NULL,
                                     const void *d = NULL)
{
    return ((uintptr_t)a | (uintptr_t)b | (uintptr_t)c | (uintptr_t)d) % 16 == 0;
}

/* ---- the ops: nl_cuda_<op> for each op backend_ops.def gives CUDA, one
 * .cu per family as on the CPU (memory, recording and the norm ops'
 * dispatch in cuda_backend.cu) ---- */
#define NL_OP(backends, ret, op, params)                                                           \
    NL_OP_IF(NL_OP_ON_CUDA_##backends, ret nl_cuda_##op params;)
#include "backend/backend_ops.def"

/* ---- train.precision's product ops (lowp.cu) ----
 * Under a low be->product_precision a product op converts its operands to
 * bf16 or fp16 storage in its planned workspace (the *_workspace ops count
 * the copies), multiplies them on cuBLAS with fp32 accumulation, and rounds
 * its fp32 outputs to the precision: the autocast semantics of
 * core/base/precision.h, on the GPU's own 16-bit GEMMs. */
/* bytes of `count` values stored in p (2 each), whole 256-byte lines so
 * that copies laid end to end stay aligned for cuBLAS; 0 under fp32 */
size_t nl_cuda_lowp_bytes(nl_precision p, size_t count);
/* dst (p's storage) = src rounded to p */
void nl_cuda_lowp_convert(nl_cuda *cu, nl_precision p, size_t count, const float *src, void *dst);
/* x = x rounded to p, in place */
void nl_cuda_lowp_round(nl_cuda *cu, nl_precision p, size_t count, float *x);
/* dst = src rounded to p, added in fp32 to dst's own value when accumulating */
void nl_cuda_lowp_add_rounded(nl_cuda *cu, nl_precision p, size_t count, const float *src,
                              float *dst, bool accumulate);
/* C (fp32) = A B + beta C for `batch` column-major products of operands
 * stored in p (nl_cuda_lowp_convert's output), fp32 accumulation
 * (cublasGemmEx; batches strided by sa, sb, sc elements) */
void nl_cuda_lowp_gemm(nl_cuda *cu, nl_precision p, cublasOperation_t ta, cublasOperation_t tb,
                       int m, int n, int k, const void *A, int lda, long long sa, const void *B,
                       int ldb, long long sb, float beta, float *C, int ldc, long long sc,
                       int batch);

/* ---- the norm ops' halves: batch statistics (batchnorm.cu) and
 * per-sample groups, centred or not (groupnorm.cu, g->groups >= 1) ---- */
void nl_cuda_batchnorm_backward(nl_backend *be, int n, int c, int hw, const float *x,
                                const float *dy, const float *gamma, const float *save_mean,
                                const float *save_rstd, float *dx, bool accumulate_dx,
                                float *dgamma, float *dbeta);
/* the same with a fused ReLU's output y (dy counts where y > 0) and the
 * residual add's other input's gradient dskip (norm_backward_act) */
void nl_cuda_batchnorm_backward_act(nl_backend *be, int n, int c, int hw, const float *x,
                                    const float *y, const float *dy, const float *gamma,
                                    const float *save_mean, const float *save_rstd, float *dx,
                                    bool accumulate_dx, float *dskip, bool accumulate_dskip,
                                    float *dgamma, float *dbeta);
size_t nl_cuda_groupnorm_backward_workspace(nl_backend *be, const nl_norm_geom *g);
void nl_cuda_groupnorm_backward(nl_backend *be, const nl_norm_geom *g, const float *x,
                                const float *dy, const float *gamma, const float *save_mean,
                                const float *save_rstd, float *dx, bool accumulate_dx,
                                float *dgamma, float *dbeta, void *workspace);

/* ---- shared by batchnorm.cu and groupnorm.cu (defined in groupnorm.cu) ----
 * The normalizing forward over "groups" of planes, a plane being one
 * (sample, channel) run of hw floats: BatchNorm's group is a channel over the
 * batch, GroupNorm's a (sample, group of channels). */
typedef struct {
    int n, c, hw;
    int groups;        /* GroupNorm: groups per sample; 0: BatchNorm (a group per channel) */
    int center;        /* 0: RMS, no mean subtracted (GroupNorm geometry only) */
    float eps;
    const float *x, *gamma, *beta;
    float *y; /* NULL: statistics only (norm_stats) */
    /* training: statistics of the batch, saved for backward; each may be
     * NULL. save_var: the biased variance (norm_stats) */
    float *save_mean, *save_rstd, *save_var;
    /* BatchNorm training: running statistics to update (NULL: none) */
    float *running_mean, *running_var;
    const float *momentum; /* device: read when running_mean is not NULL */
    /* normalize with these per-group statistics instead (BatchNorm eval,
     * norm_apply); save_rstd then receives their rstd unless NULL */
    const float *eval_mean, *eval_var;
    /* with relu, y = relu(normalized + skip) (skip NULL: no add), the fused
     * ReLU and residual add of norm_forward_act; fp32 kernels only */
    const float *skip;
    int relu;
} nl_cuda_norm_fwd_args;

void nl_cuda_norm_forward_launch(nl_cuda *cu, const nl_cuda_norm_fwd_args *a);
/* any variant of the forward (train, eval, statistics only, given
 * statistics): batch statistics (groups 0, features or planes) and
 * per-sample groups, whose running statistics (instance norm) are per channel */
void nl_cuda_batchnorm_run(nl_backend *be, const nl_cuda_norm_fwd_args *a);
void nl_cuda_groupnorm_run(nl_backend *be, const nl_cuda_norm_fwd_args *a);
/* the same with the statistics in g->stats_precision, bf16 or fp16 (norm_lowp.cu) */
void nl_cuda_norm_lowp_run(nl_backend *be, const nl_norm_geom *g, const nl_cuda_norm_fwd_args *a);

#endif
