/* The CUDA backend: opening and closing it, memory, and the error record.
 *
 * Everything is queued on one non-blocking stream (nl_cuda.stream), so the
 * ops run in the order they are called, like the CPU backend, and nothing
 * depends on the legacy default stream.
 * - upload: the source is copied into one of two pinned staging slots and
 *   an asynchronous H2D copy is queued from there, so upload returns before
 *   the copy ends (from pageable memory cudaMemcpyAsync would be
 *   synchronous) and the caller may reuse its buffer at once. Before a slot
 *   is refilled, the event recorded after its last copy is waited on; the two
 *   slots let the host fill one while the other is copied.
 * - download: D2H copy on the stream, then a stream synchronize.
 * - synchronize: waits for the stream and reports the first recorded error.
 * Nothing here is parallel over data, so there is nothing to make
 * deterministic; the kernels' files document their own decompositions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"

/* ------------------------------------------------------------------------ */
/* error record                                                              */

/* the library never depends on core/base here (status.c lives in the core
 * library, which links this one): errors are written with nl_error's rules,
 * the first one wins */
static nl_code fail(nl_error *err, nl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static nl_code fail(nl_error *err, nl_code code, const char *fmt, ...)
{
    if (err && err->code == NL_OK) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void nl_cuda_record(nl_cuda *cu, nl_code code, const char *fmt, ...)
{
    if (!cu || cu->code != NL_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    cu->code = code;
    vsnprintf(cu->msg, sizeof cu->msg, fmt, ap);
    va_end(ap);
}

/* "cudaMemcpyAsync(dst, ...)" -> "cudaMemcpyAsync" */
static void call_name(const char *call, char *out, size_t size)
{
    size_t len = strcspn(call, "(");
    if (len >= size)
        len = size - 1;
    memcpy(out, call, len);
    out[len] = '\0';
}

static const char *short_file(const char *file)
{
    const char *p = strstr(file, "core/cuda/");
    return p ? p : file;
}

void nl_cuda_record_cuda(nl_cuda *cu, const char *call, cudaError_t e, const char *file, int line)
{
    char name[96];
    call_name(call, name, sizeof name);
    nl_cuda_record(cu, e == cudaErrorMemoryAllocation ? NL_ERR_NOMEM : NL_ERR_RUNTIME,
                   "CUDA: %s failed: %s (%s) at %s:%d", name, cudaGetErrorString(e),
                   cudaGetErrorName(e), short_file(file), line);
}

void nl_cuda_record_cublas(nl_cuda *cu, const char *call, cublasStatus_t s, const char *file,
                           int line)
{
    char name[96];
    call_name(call, name, sizeof name);
    nl_cuda_record(cu, s == CUBLAS_STATUS_ALLOC_FAILED ? NL_ERR_NOMEM : NL_ERR_RUNTIME,
                   "cuBLAS: %s failed: %s (%s) at %s:%d", name, cublasGetStatusString(s),
                   cublasGetStatusName(s), short_file(file), line);
}

/* ------------------------------------------------------------------------ */
/* memory                                                                    */

nl_code nl_cuda_alloc(nl_backend *be, size_t bytes, void **out, nl_error *err)
{
    nl_cuda *cu = nl_cuda_of(be);
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky: clear it */
        size_t free_b = 0, total_b = 0;
        (void)cudaMemGetInfo(&free_b, &total_b);
        (void)cudaGetLastError();
        *out = NULL;
        return fail(err, e == cudaErrorMemoryAllocation ? NL_ERR_NOMEM : NL_ERR_RUNTIME,
                    "cannot allocate %zu bytes on the GPU (cudaMalloc: %s; %.1f of %.1f GiB "
                    "free); use a smaller batch or model",
                    bytes, cudaGetErrorString(e), free_b / 1073741824.0,
                    total_b / 1073741824.0);
    }
    (void)cu;
    *out = p;
    return NL_OK;
}

void nl_cuda_release(nl_backend *be, void *ptr)
{
    if (ptr)
        NL_CU(nl_cuda_of(be), cudaFree(ptr));
}

void nl_cuda_upload(nl_backend *be, void *dst, const void *src, size_t bytes)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (bytes == 0)
        return;
    if (!cu->staging) {
        NL_CU(cu, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cu->stream));
        return;
    }
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (bytes > 0) {
        const int slot = cu->next_slot;
        cu->next_slot ^= 1;
        const size_t slot_bytes = (size_t)NL_CUDA_STAGING_SLOT;
        const size_t piece = bytes < slot_bytes ? bytes : slot_bytes;
        unsigned char *stage = cu->staging + (size_t)slot * NL_CUDA_STAGING_SLOT;
        /* the slot's previous copy must have left it before it is refilled */
        cudaError_t e = cudaEventSynchronize(cu->slot_free[slot]);
        if (e != cudaSuccess) {
            /* the run fails at its next check; until then kernels may still
             * run on the stream, and indices or labels that never arrived
             * would send them out of bounds (a fault that ends every run
             * sharing the context), so the bytes go by the runtime's own
             * staging instead */
            nl_cuda_record_cuda(cu, "cudaEventSynchronize", e, __FILE__, __LINE__);
            NL_CU(cu, cudaMemcpyAsync(d, s, bytes, cudaMemcpyHostToDevice, cu->stream));
            return;
        }
        memcpy(stage, s, piece);
        NL_CU(cu, cudaMemcpyAsync(d, stage, piece, cudaMemcpyHostToDevice, cu->stream));
        NL_CU(cu, cudaEventRecord(cu->slot_free[slot], cu->stream));
        d += piece;
        s += piece;
        bytes -= piece;
    }
}

void nl_cuda_download(nl_backend *be, void *dst, const void *src, size_t bytes)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (bytes == 0)
        return;
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cu->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(cu->stream);
    if (e != cudaSuccess) {
        nl_cuda_record_cuda(cu, "cudaMemcpyAsync (download)", e, __FILE__, __LINE__);
        memset(dst, 0, bytes); /* defined contents; synchronize() reports the failure */
    }
}

void nl_cuda_copy(nl_backend *be, float *dst, const float *src, size_t count)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (count)
        NL_CU(cu, cudaMemcpyAsync(dst, src, count * sizeof *dst, cudaMemcpyDeviceToDevice,
                                  cu->stream));
}

nl_code nl_cuda_synchronize(nl_backend *be, nl_error *err)
{
    nl_cuda *cu = nl_cuda_of(be);
    NL_CU(cu, cudaStreamSynchronize(cu->stream));
    if (cu->code != NL_OK)
        return fail(err, cu->code, "%s", cu->msg);
    return NL_OK;
}

void nl_cuda_memory_info(nl_backend *be, size_t *free_bytes, size_t *total_bytes)
{
    *free_bytes = *total_bytes = 0;
    NL_CU(nl_cuda_of(be), cudaMemGetInfo(free_bytes, total_bytes));
}

/* Recording: stream capture into a CUDA graph, instantiated once and
 * launched on the same stream, so a replay is ordered with the uploads
 * queued before it. Thread-local mode: only this thread's calls that a
 * capture forbids (synchronization, allocation, pageable copies) break it,
 * and such a call is a bug in the recorded region that the sticky error
 * reports. */
bool nl_cuda_record_begin(nl_backend *be)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (cu->code != NL_OK)
        return false;
    NL_CU(cu, cudaStreamBeginCapture(cu->stream, cudaStreamCaptureModeThreadLocal));
    return cu->code == NL_OK;
}

void *nl_cuda_record_end(nl_backend *be)
{
    nl_cuda *cu = nl_cuda_of(be);
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    NL_CU(cu, cudaStreamEndCapture(cu->stream, &graph));
    if (graph && cu->code == NL_OK)
        NL_CU(cu, cudaGraphInstantiateWithFlags(&exec, graph, 0));
    if (graph)
        (void)cudaGraphDestroy(graph);
    if (cu->code != NL_OK && exec) {
        (void)cudaGraphExecDestroy(exec);
        exec = NULL;
    }
    return exec;
}

void nl_cuda_replay(nl_backend *be, void *recording)
{
    nl_cuda *cu = nl_cuda_of(be);
    NL_CU(cu, cudaGraphLaunch((cudaGraphExec_t)recording, cu->stream));
}

void nl_cuda_record_free(nl_backend *be, void *recording)
{
    if (recording)
        NL_CU(nl_cuda_of(be), cudaGraphExecDestroy((cudaGraphExec_t)recording));
}

/* ------------------------------------------------------------------------ */
/* the ops table                                                             */

static nl_ops make_ops(void)
{
    nl_ops o;
    memset(&o, 0, sizeof o);
    o.name = "cuda";
#define NL_OP(backends, ret, op, params) NL_OP_IF(NL_OP_ON_CUDA_##backends, o.op = nl_cuda_##op;)
#include "backend/backend_ops.def"
    return o;
}

/* ---- the norm ops: batch statistics to batchnorm.cu, per-sample groups
 * (centred or not) to groupnorm.cu ---- */

static bool uncentred_batch(nl_backend *be, const nl_norm_geom *g)
{
    if (g->center || g->groups != 0)
        return false;
    nl_cuda_record(nl_cuda_of(be), NL_ERR_UNSUPPORTED,
                   "CUDA normalization: uncentred statistics need per-sample groups");
    return true;
}

/* the forward kernels' arguments for geometry g, all outputs unset */
static nl_cuda_norm_fwd_args norm_args(const nl_norm_geom *g, const float *x)
{
    nl_cuda_norm_fwd_args a;
    memset(&a, 0, sizeof a);
    a.n = g->n;
    a.c = g->c;
    a.hw = g->hw;
    a.groups = g->groups;
    a.center = g->center;
    a.eps = g->eps;
    a.x = x;
    return a;
}

static void norm_run(nl_backend *be, const nl_norm_geom *g, const nl_cuda_norm_fwd_args *a)
{
    if (uncentred_batch(be, g))
        return;
    if (g->stats_precision != NL_PRECISION_FP32)
        nl_cuda_norm_lowp_run(be, g, a);
    else if (g->groups == 0)
        nl_cuda_batchnorm_run(be, a);
    else
        nl_cuda_groupnorm_run(be, a);
}

/* the forward's arguments, without an epilogue (nl_cuda_norm_forward_act adds one) */
static nl_cuda_norm_fwd_args forward_args(const nl_norm_geom *g, const float *x, const float *gamma,
                                          const float *beta, float *y, float *save_mean, float *save_rstd,
                                          float *running_mean, float *running_var, const float *momentum)
{
    nl_cuda_norm_fwd_args a = norm_args(g, x);
    a.gamma = gamma;
    a.beta = beta;
    a.y = y;
    a.save_mean = save_mean;
    a.save_rstd = save_rstd;
    a.running_mean = running_mean;
    a.running_var = running_var;
    a.momentum = momentum;
    return a;
}

void nl_cuda_norm_forward(nl_backend *be, const nl_norm_geom *g, const float *x,
                          const float *gamma, const float *beta, float *y, float *save_mean,
                          float *save_rstd, float *running_mean, float *running_var,
                          const float *momentum)
{
    nl_cuda_norm_fwd_args a = forward_args(g, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                                           running_var, momentum);
    norm_run(be, g, &a);
}

void nl_cuda_norm_stats(nl_backend *be, const nl_norm_geom *g, const float *x, float *mean,
                        float *var, float *running_mean, float *running_var,
                        const float *momentum)
{
    nl_cuda_norm_fwd_args a = forward_args(g, x, NULL, NULL, NULL, mean, NULL, running_mean,
                                           running_var, momentum);
    a.save_var = var;
    norm_run(be, g, &a);
}

void nl_cuda_norm_apply(nl_backend *be, const nl_norm_geom *g, const float *x,
                        const float *mean, const float *var, const float *gamma,
                        const float *beta, float *y, float *save_rstd)
{
    nl_cuda_norm_fwd_args a =
        forward_args(g, x, gamma, beta, y, NULL, save_rstd, NULL, NULL, NULL);
    a.eval_mean = mean;
    a.eval_var = var;
    norm_run(be, g, &a);
}

void nl_cuda_norm_forward_eval(nl_backend *be, const nl_norm_geom *g, const float *x,
                               const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float *y)
{
    /* per-channel statistics, whatever geometry the kind trains with */
    const nl_norm_geom per_channel = {g->n, g->c, g->hw, 0, true, g->eps, g->stats_precision, 0, 0};
    nl_cuda_norm_apply(be, &per_channel, x, running_mean, running_var, gamma, beta, y, NULL);
}

size_t nl_cuda_norm_backward_workspace(nl_backend *be, const nl_norm_geom *g)
{
    return g->groups == 0 ? 0 : nl_cuda_groupnorm_backward_workspace(be, g);
}

void nl_cuda_norm_backward(nl_backend *be, const nl_norm_geom *g, const float *x,
                           const float *dy, const float *gamma, const float *save_mean,
                           const float *save_rstd, float *dx, bool accumulate_dx,
                           float *dgamma, float *dbeta, void *workspace)
{
    if (uncentred_batch(be, g))
        return;
    if (g->groups == 0)
        nl_cuda_batchnorm_backward(be, g->n, g->c, g->hw, x, dy, gamma, save_mean, save_rstd, dx,
                                   accumulate_dx, dgamma, dbeta);
    else
        nl_cuda_groupnorm_backward(be, g, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx,
                                   dgamma, dbeta, workspace);
}

/* a ReLU (and a residual add) fused into the apply pass: the fp32
 * kernels take the epilogue (every geometry's forward, batch statistics'
 * backward); the low-precision statistics and the per-sample groups'
 * backward run the ops one after the other, as the CPU's do */
void nl_cuda_norm_forward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                              const float *gamma, const float *beta, const float *skip, float *y,
                              float *save_mean, float *save_rstd, float *running_mean,
                              float *running_var, const float *momentum)
{
    if (g->stats_precision != NL_PRECISION_FP32) {
        nl_cuda_norm_forward(be, g, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                             running_var, momentum);
        const size_t count = (size_t)g->n * g->c * g->hw;
        if (skip)
            nl_cuda_add_forward(be, count, y, skip, y);
        nl_cuda_activation_forward(be, NL_ACT_RELU, count, y, y);
        return;
    }
    nl_cuda_norm_fwd_args a = forward_args(g, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                                           running_var, momentum);
    a.skip = skip;
    a.relu = 1;
    norm_run(be, g, &a);
}

void nl_cuda_norm_backward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                               const float *y, float *dy, const float *gamma,
                               const float *save_mean, const float *save_rstd, float *dx,
                               bool accumulate_dx, float *dskip, bool accumulate_dskip,
                               float *dgamma, float *dbeta, void *workspace)
{
    if (uncentred_batch(be, g))
        return;
    if (g->groups == 0 && (dx || !dskip)) {
        nl_cuda_batchnorm_backward_act(be, g->n, g->c, g->hw, x, y, dy, gamma, save_mean,
                                       save_rstd, dx, accumulate_dx, dskip, accumulate_dskip,
                                       dgamma, dbeta);
        return;
    }
    const size_t count = (size_t)g->n * g->c * g->hw;
    nl_cuda_activation_backward(be, NL_ACT_RELU, count, y, dy, dy, false);
    if (dskip)
        nl_cuda_pass_gradient(be, count, dy, dskip, accumulate_dskip);
    nl_cuda_norm_backward(be, g, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                          dbeta, workspace);
}

/* the CUDA kernels read NCHW fp32 alone (cuDNN's NHWC would be a layout of
 * its own, not the CPU's channel block) */
bool nl_cuda_runs(nl_backend *be, nl_op_family family, int block, nl_storage storage)
{
    (void)be, (void)family;
    return block == 0 && storage == NL_STORAGE_FP32;
}

static const nl_ops cuda_ops = make_ops();

/* the ops table without a device: a plan asks it its shapes and
 * workspaces (device/device.h: nl_backend_probe), which these kernels
 * compute from the geometry alone */
extern "C" const nl_ops *nl_cuda_backend_ops(void) { return &cuda_ops; }

/* ------------------------------------------------------------------------ */
/* discovery                                                                 */

/* any kernel of this library: asking for its attributes fails when the
 * binary has no code this GPU can run */
__global__ void nl_cuda_probe_kernel(int *p)
{
    if (p)
        *p = 0;
}

typedef struct {
    int usable;
    int device;
    cudaDeviceProp prop;
    char why[512]; /* when not usable */
} probe_result;

static void probe(probe_result *r)
{
    memset(r, 0, sizeof *r);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        snprintf(r->why, sizeof r->why, "no CUDA device is visible (cudaGetDeviceCount: %s)",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        (void)cudaGetLastError();
        return;
    }
    e = cudaGetDevice(&r->device);
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&r->prop, r->device);
    if (e != cudaSuccess) {
        snprintf(r->why, sizeof r->why, "cannot query CUDA device %d (%s)", r->device,
                 cudaGetErrorString(e));
        (void)cudaGetLastError();
        return;
    }
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, nl_cuda_probe_kernel);
    if (e != cudaSuccess) {
        snprintf(r->why, sizeof r->why,
                 "%s (compute capability %d.%d) cannot run this build's kernels (%s); "
                 "rebuild with -DCMAKE_CUDA_ARCHITECTURES=%d%d",
                 r->prop.name, r->prop.major, r->prop.minor, cudaGetErrorString(e),
                 r->prop.major, r->prop.minor);
        (void)cudaGetLastError();
        return;
    }
    r->usable = 1;
}

/* the three entry points core/device/device.c calls (through dlsym when this
 * backend is the module libnormlab_cuda.so) */
extern "C" int nl_cuda_backend_describe(char *buf, size_t size)
{
    probe_result r;
    probe(&r);
    if (!r.usable) {
        snprintf(buf, size, "built, but %s", r.why);
        return 0;
    }
    int driver = 0, runtime = 0;
    (void)cudaDriverGetVersion(&driver);
    (void)cudaRuntimeGetVersion(&runtime);
    (void)cudaGetLastError();
    snprintf(buf, size,
             "%s (device %d), compute capability %d.%d, %d SMs, %.1f GiB, driver %d.%d, "
             "runtime %d.%d",
             r.prop.name, r.device, r.prop.major, r.prop.minor, r.prop.multiProcessorCount,
             r.prop.totalGlobalMem / 1073741824.0, driver / 1000, (driver % 1000) / 10,
             runtime / 1000, (runtime % 1000) / 10);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* open and close                                                            */

/* the fused normalization kernels ask for more than 48 KiB of dynamic shared
 * memory; defined in batchnorm.cu and groupnorm.cu */
cudaError_t nl_cuda_batchnorm_setup(size_t smem_bytes);
cudaError_t nl_cuda_groupnorm_setup(size_t smem_bytes);

static void destroy(nl_cuda *cu)
{
    if (!cu)
        return;
    if (cu->stream)
        (void)cudaStreamSynchronize(cu->stream);
    if (cu->cublas)
        (void)cublasDestroy(cu->cublas);
    if (cu->cublas_ws)
        (void)cudaFree(cu->cublas_ws);
    if (cu->scratch)
        (void)cudaFree(cu->scratch);
    for (int i = 0; i < 2; i++)
        if (cu->slot_free[i])
            (void)cudaEventDestroy(cu->slot_free[i]);
    if (cu->staging)
        (void)cudaFreeHost(cu->staging);
    if (cu->stream)
        (void)cudaStreamDestroy(cu->stream);
    (void)cudaGetLastError();
    free(cu);
}

static long env_long(const char *name, long fallback)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    return (end && *end == '\0' && x >= 0) ? x : fallback;
}

/* in nl_cuda_backend_open: where `failed`, the open fails with `status`,
 * naming the call and saying why (evaluated only then) */
#define OPEN_FAIL_IF(failed, status, call, why)                                                    \
    do {                                                                                           \
        if (failed) {                                                                              \
            char name_[96];                                                                        \
            call_name(call, name_, sizeof name_);                                                  \
            fail(err, status, "opening the CUDA backend on %s: %s failed: %s", r.prop.name, name_, \
                 why);                                                                             \
            destroy(cu);                                                                           \
            return err ? err->code : NL_ERR_RUNTIME;                                               \
        }                                                                                          \
    } while (0)
#define OPEN_CHECK(call)                                                                           \
    do {                                                                                           \
        const cudaError_t e_ = (call);                                                             \
        OPEN_FAIL_IF(e_ != cudaSuccess,                                                            \
                     e_ == cudaErrorMemoryAllocation ? NL_ERR_NOMEM : NL_ERR_RUNTIME, #call,       \
                     cudaGetErrorString(e_));                                                      \
    } while (0)
#define OPEN_CHECK_CUBLAS(call)                                                                    \
    do {                                                                                           \
        const cublasStatus_t s_ = (call);                                                          \
        OPEN_FAIL_IF(s_ != CUBLAS_STATUS_SUCCESS, NL_ERR_RUNTIME, #call,                           \
                     cublasGetStatusString(s_));                                                   \
    } while (0)

extern "C" nl_code nl_cuda_backend_open(int threads, nl_backend **out, nl_error *err)
{
    probe_result r;
    probe(&r);
    if (!r.usable)
        return fail(err, NL_ERR_UNSUPPORTED,
                    "device 'cuda' was asked for, but %s; use device: cpu", r.why);
    nl_cuda *cu = (nl_cuda *)calloc(1, sizeof *cu);
    if (!cu)
        return fail(err, NL_ERR_NOMEM, "cannot allocate the CUDA backend");
    cu->device = r.device;
    cu->sm_count = r.prop.multiProcessorCount;
    cu->cc_major = r.prop.major;
    cu->cc_minor = r.prop.minor;
    cu->smem_optin = r.prop.sharedMemPerBlockOptin;
    OPEN_CHECK(cudaSetDevice(cu->device));
    OPEN_CHECK(cudaStreamCreateWithFlags(&cu->stream, cudaStreamNonBlocking));

    /* cuBLAS: on our stream, its workspace allocated now (not on first use),
     * no tensor-core TF32 (CUBLAS_DEFAULT_MATH keeps FP32 arithmetic; it is
     * the default, set explicitly so a future default cannot change results),
     * and no atomics, so results repeat run to run */
    OPEN_CHECK_CUBLAS(cublasCreate(&cu->cublas));
    OPEN_CHECK_CUBLAS(cublasSetStream(cu->cublas, cu->stream));
    OPEN_CHECK_CUBLAS(cublasSetMathMode(cu->cublas, CUBLAS_DEFAULT_MATH));
    OPEN_CHECK_CUBLAS(cublasSetAtomicsMode(cu->cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
    OPEN_CHECK_CUBLAS(cublasSetPointerMode(cu->cublas, CUBLAS_POINTER_MODE_HOST));
    OPEN_CHECK(cudaMalloc(&cu->cublas_ws, NL_CUDA_CUBLAS_WS));
    OPEN_CHECK_CUBLAS(cublasSetWorkspace(cu->cublas, cu->cublas_ws, NL_CUDA_CUBLAS_WS));

    /* pinned staging for uploads; without it uploads still work, synchronously */
    if (cudaHostAlloc((void **)&cu->staging, 2 * (size_t)NL_CUDA_STAGING_SLOT,
                      cudaHostAllocDefault) != cudaSuccess) {
        cu->staging = NULL;
        (void)cudaGetLastError();
    }
    for (int i = 0; i < 2; i++)
        OPEN_CHECK(cudaEventCreateWithFlags(&cu->slot_free[i], cudaEventDisableTiming));

    cu->scratch_pairs = (size_t)NL_CUDA_SCRATCH_PAIRS_PER_SM * (size_t)cu->sm_count;
    OPEN_CHECK(cudaMalloc(&cu->scratch, cu->scratch_pairs * 2 * sizeof(double)));

    /* the fused normalization path keeps a group in shared memory when it
     * fits in half an SM (two blocks per SM stay resident) */
    size_t budget = r.prop.sharedMemPerMultiprocessor / 2;
    budget = budget > 4096 ? budget - 4096 : 0; /* leave room for static shared memory */
    if (budget > cu->smem_optin - 1024)
        budget = cu->smem_optin - 1024;
    cu->smem_budget = (size_t)env_long("NORMLAB_CUDA_NORM_SMEM", (long)budget);
    if (cu->smem_budget > budget)
        cu->smem_budget = budget;
    cu->force_splits = (int)env_long("NORMLAB_CUDA_NORM_SPLITS", 0);
    cu->formula_blocks = env_long("NORMLAB_CUDA_FORMULA_BLOCKS", 0) != 0;
    OPEN_CHECK(nl_cuda_batchnorm_setup(budget));
    OPEN_CHECK(nl_cuda_groupnorm_setup(budget));

    nl_backend *be = (nl_backend *)calloc(1, sizeof *be);
    if (!be) {
        destroy(cu);
        return fail(err, NL_ERR_NOMEM, "cannot allocate the CUDA backend");
    }
    be->ops = &cuda_ops;
    be->device = NL_DEVICE_CUDA;
    /* host threads play no part: every op is queued on the GPU */
    be->threads = threads > 0 ? threads : 1;
    be->impl = cu;
    *out = be;
    return NL_OK;
}

extern "C" void nl_cuda_backend_close(nl_backend *be)
{
    if (!be)
        return;
    destroy(nl_cuda_of(be));
    free(be);
}
