/* CPU emulation of the parts of the CUDA runtime that core/cuda uses: see README.md. */
#pragma once
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <tuple>
#include <utility>
#include <ucontext.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct float4 {
    float x, y, z, w;
};
struct uint4 {
    unsigned x, y, z, w;
};
static inline float4 make_float4(float a, float b, float c, float d) { return float4{a, b, c, d}; }

struct EmuFiber {
    void *sp;
    dim3 tid;
    int lt, state;
    const char *file;
    int line;
};
extern EmuFiber *emu_cur;
extern dim3 emu_blockIdx, emu_blockDim, emu_gridDim;
#define threadIdx (emu_cur->tid)
#define blockIdx emu_blockIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim

void emu_syncthreads(const char *file, int line);
#define __syncthreads() emu_syncthreads(__FILE__, __LINE__)
double emu_shfl_down(unsigned mask, double v, int delta, int width);
template <class T> static inline T __shfl_down_sync(unsigned mask, T v, int delta, int width = 32)
{
    return (T)emu_shfl_down(mask, (double)v, delta, width);
}
double emu_shfl_idx(unsigned mask, double v, int src_lane, int width);
template <class T> static inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32)
{
    return (T)emu_shfl_idx(mask, (double)v, src_lane, width);
}
template <class T> static inline T __ldg(const T *p) { return *p; }
template <class T> static inline T __ldcs(const T *p) { return *p; }
static inline int min(int a, int b) { return a < b ? a : b; }
using std::signbit;

/* name, value (driver_types.h), what it means; cudaGetErrorName/String read the same list */
#define EMU_CUDA_ERRORS(X)                                                                         \
    X(cudaSuccess, 0, "no error")                                                                  \
    X(cudaErrorInvalidValue, 1, "invalid argument")                                                \
    X(cudaErrorMemoryAllocation, 2, "out of memory")                                               \
    X(cudaErrorInvalidConfiguration, 9, "invalid configuration argument")                          \
    X(cudaErrorNoDevice, 100, "no CUDA-capable device is detected")                                \
    X(cudaErrorInvalidResourceHandle, 400, "invalid resource handle")                              \
    X(cudaErrorIllegalState, 401, "the operation cannot be performed in the present state")        \
    X(cudaErrorStreamCaptureUnsupported, 900, "operation not permitted when stream is capturing") \
    X(cudaErrorStreamCaptureInvalidated, 901, "capture was invalidated by an earlier error")       \
    X(cudaErrorStreamCaptureIsolation, 905, "work would cross the capture sequence boundary")      \
    X(cudaErrorStreamCaptureImplicit, 906, "legacy stream would depend on a capturing stream")     \
    X(cudaErrorCapturedEvent, 907, "event was last recorded in a capturing stream")                \
    X(cudaErrorStreamCaptureWrongThread, 908, "capture ended on a different thread")
typedef enum {
#define EMU_ERROR_ENUM(name, value, text) name = value,
    EMU_CUDA_ERRORS(EMU_ERROR_ENUM)
#undef EMU_ERROR_ENUM
} cudaError_t;
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
typedef struct CUgraph_st *cudaGraph_t;
typedef struct CUgraphExec_st *cudaGraphExec_t;
enum cudaStreamCaptureMode {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2
};
enum cudaStreamCaptureStatus {
    cudaStreamCaptureStatusNone = 0,
    cudaStreamCaptureStatusActive = 1,
    cudaStreamCaptureStatusInvalidated = 2
};
enum cudaGraphInstantiateFlags {
    cudaGraphInstantiateFlagAutoFreeOnLaunch = 1,
    cudaGraphInstantiateFlagUpload = 2,
    cudaGraphInstantiateFlagDeviceLaunch = 4,
    cudaGraphInstantiateFlagUseNodePriority = 8
};
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
#define cudaStreamDefault 0
#define cudaStreamNonBlocking 1
#define cudaEventDisableTiming 2
#define cudaHostAllocDefault 0
struct cudaDeviceProp {
    char name[256];
    int major, minor, multiProcessorCount;
    size_t sharedMemPerBlockOptin, sharedMemPerMultiprocessor, totalGlobalMem;
};
struct cudaFuncAttributes {
    int numRegs;
};

extern thread_local cudaError_t emu_last_error; /* per host thread, as in CUDA */
extern float4 *nl_dyn_smem;

cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaGetDevice(int *d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d);
template <class F> cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *a, F) { a->numRegs = 32; return cudaSuccess; }
void emu_set_smem_limit(const void *kernel, int bytes);
template <class F> cudaError_t cudaFuncSetAttribute(F f, cudaFuncAttribute, int v)
{
    emu_set_smem_limit((const void *)f, v);
    return cudaSuccess;
}
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaMalloc(void **p, size_t bytes);
template <class T> cudaError_t cudaMalloc(T **p, size_t bytes) { return cudaMalloc((void **)p, bytes); }
cudaError_t cudaFree(void *p);
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemGetInfo(size_t *f, size_t *t);
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k, cudaStream_t st);
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t st);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned f);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned f);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaDriverGetVersion(int *v);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *pGraph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus *pCaptureStatus);
cudaError_t cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode *mode);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *pGraphExec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t *pGraphExec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaRuntimeGetVersion(int *v);

/* Work queued on a stream runs at once, or, while the stream captures, is recorded as a graph
 * node that cudaGraphLaunch runs later; a call the capture rules refuse returns the error and
 * runs nothing (see README.md). */
enum EmuNodeKind { EMU_NODE_KERNEL, EMU_NODE_MEMCPY, EMU_NODE_MEMSET, EMU_NODE_GEMM, EMU_NODE_EVENT, EMU_NODE_GRAPH };
cudaError_t emu_enqueue(cudaStream_t stream, EmuNodeKind kind, std::function<void()> work);
/* counted over all host threads */
extern std::atomic<long> emu_launches, emu_threads, emu_graph_launches, emu_graph_nodes;

/* kernel launches: one block after another, each block's threads as fibers */
void emu_run_block(void (*body)(void *), void *arg, size_t smem);
bool emu_check_launch(dim3 g, dim3 b, size_t smem, const void *kernel);
void emu_count_launch(dim3 g, dim3 b);

template <class... P, class... A>
void emu_launch(void (*k)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, A... args)
{
    if (!emu_check_launch(grid, block, smem, (const void *)k))
        return;
    using Args = std::tuple<A...>;
    /* the arguments are copied now, as a graph's kernel node keeps its parameters */
    auto run_kernel = [k, grid, block, smem, tup = Args(args...)]() {
        if (!emu_check_launch(grid, block, smem, (const void *)k))
            return;
        emu_count_launch(grid, block);
        emu_gridDim = grid;
        emu_blockDim = block;
        auto run = [](void *p) {
            auto *c = (std::pair<void (*)(P...), const Args *> *)p;
            std::apply([&](const auto &...a) { c->first(a...); }, *c->second);
        };
        std::pair<void (*)(P...), const Args *> c(k, &tup);
        for (unsigned z = 0; z < grid.z; z++)
            for (unsigned y = 0; y < grid.y; y++)
                for (unsigned x = 0; x < grid.x; x++) {
                    emu_blockIdx = dim3(x, y, z);
                    emu_run_block(run, &c, smem);
                }
    };
    const cudaError_t e = emu_enqueue(stream, EMU_NODE_KERNEL, std::move(run_kernel));
    if (e != cudaSuccess)
        emu_last_error = e;
}
