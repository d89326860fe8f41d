/* Self-test of the emulator's stream capture and CUDA graphs (README.md): what a capture
 * records, what it refuses and with which codes, and that a replay computes what the direct
 * calls compute, bit for bit. run.sh builds and runs it first; alone:
 * The 16-bit float conversions and cublasGemmEx are checked here too.
 *   g++ -std=c++17 -pthread -Itests/cuda_emu/include -Icore tests/cuda_emu/selftest.cpp \
 *       tests/cuda_emu/emu.cpp -o /tmp/emu_selftest && /tmp/emu_selftest */
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include "cuda_runtime.h"
#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "cuda_fp16.h"

static std::atomic<int> checks, failures; /* counted from several threads */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "selftest: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                          \
    } while (0)
#define CHECK_CODE(call, want)                                                                     \
    do {                                                                                           \
        const int got_ = (int)(call);                                                              \
        checks++;                                                                                  \
        if (got_ != (int)(want)) {                                                                 \
            failures++;                                                                            \
            fprintf(stderr, "selftest: %s:%d: %s returned %d, expected %s (%d)\n", __FILE__,      \
                    __LINE__, #call, got_, #want, (int)(want));                                    \
        }                                                                                          \
    } while (0)

__global__ void affine(float *out, const float *in, float scale, float bias, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        out[i] = in[i] * scale + bias;
}

/* per block: the sum of x*x over a grid-strided slice, through shuffles, dynamic shared
 * memory and a barrier, so a replay goes through the fibers the way a direct launch does */
__global__ void block_sum_squares(float *sums, const float *x, int n)
{
    float *warp_sums = (float *)nl_dyn_smem;
    float v = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        v += x[i] * x[i];
    for (int d = 16; d > 0; d /= 2)
        v += __shfl_down_sync(0xffffffffu, v, d);
    if (threadIdx.x % 32 == 0)
        warp_sums[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0.0f;
        for (unsigned w = 0; w < blockDim.x / 32; w++)
            s += warp_sums[w];
        sums[blockIdx.x] = s;
    }
}

template <class T> static T *device(size_t count)
{
    T *p = NULL;
    if (cudaMalloc(&p, count * sizeof(T)) != cudaSuccess) {
        fprintf(stderr, "selftest: cudaMalloc failed outside a capture\n");
        exit(1);
    }
    return p;
}

static cudaStream_t new_stream(unsigned flags)
{
    cudaStream_t s = NULL;
    cudaStreamCreateWithFlags(&s, flags);
    return s;
}

static cudaStreamCaptureStatus capture_status(cudaStream_t s)
{
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    CHECK_CODE(cudaStreamIsCapturing(s, &st), cudaSuccess);
    return st;
}

/* a capture that the previous call should have invalidated: later work on the stream is
 * refused with cudaErrorStreamCaptureInvalidated and does not run, and ending it gives no graph */
static void expect_invalidated(cudaStream_t s, float *probe)
{
    CHECK(capture_status(s) == cudaStreamCaptureStatusInvalidated);
    (void)cudaGetLastError();
    probe[0] = 1.0f;
    emu_launch(affine, dim3(1), dim3(32), (size_t)0, s, probe, (const float *)probe, 0.0f, 9.0f, 1);
    CHECK_CODE(cudaGetLastError(), cudaErrorStreamCaptureInvalidated);
    CHECK(probe[0] == 1.0f);
    cudaGraph_t g = (cudaGraph_t)(uintptr_t)1;
    CHECK_CODE(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
    CHECK(g == NULL);
    CHECK(capture_status(s) == cudaStreamCaptureStatusNone);
}

static void test_parameters_and_pointers(cudaStream_t s)
{
    const int n = 100;
    float *in = device<float>(n), *out = device<float>(n);
    for (int i = 0; i < n; i++)
        in[i] = (float)i;
    float scale = 2.0f;
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    CHECK(capture_status(s) == cudaStreamCaptureStatusActive);
    const long launches = emu_launches;
    emu_launch(affine, dim3(2), dim3(32), (size_t)0, s, out, (const float *)in, scale, 1.0f, n);
    CHECK_CODE(cudaGetLastError(), cudaSuccess);
    CHECK(emu_launches == launches); /* recorded, not run */
    cudaGraph_t graph = NULL;
    CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
    CHECK(graph != NULL);
    CHECK(std::isnan(out[0]) && std::isnan(out[n - 1])); /* still the NaN fill */
    cudaGraphExec_t exec = NULL;
    CHECK_CODE(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    CHECK_CODE(cudaGraphDestroy(graph), cudaSuccess); /* the exec keeps the nodes */
    scale = 100.0f;                                   /* by value: stays 2 in the graph */
    for (int i = 0; i < n; i++)
        in[i] = (float)(3 * i); /* behind a pointer: read at replay */
    const long graph_launches = emu_graph_launches;
    CHECK_CODE(cudaGraphLaunch(exec, s), cudaSuccess);
    CHECK(emu_launches == launches + 1 && emu_graph_launches == graph_launches + 1);
    bool right = true;
    for (int i = 0; i < n; i++)
        right = right && out[i] == (float)(3 * i) * 2.0f + 1.0f;
    CHECK(right);
    for (int i = 0; i < n; i++)
        in[i] = -1.0f;
    CHECK_CODE(cudaGraphLaunch(exec, s), cudaSuccess);
    CHECK(out[0] == -1.0f && out[n - 1] == -1.0f);
    CHECK_CODE(cudaGraphExecDestroy(exec), cudaSuccess);
    CHECK_CODE(cudaGraphLaunch(exec, s), cudaErrorInvalidValue);
    CHECK_CODE(cudaGetLastError(), cudaErrorInvalidValue);
    CHECK_CODE(cudaGraphExecDestroy(exec), cudaErrorInvalidValue);
    CHECK_CODE(cudaGraphLaunch(NULL, s), cudaErrorInvalidValue);
    CHECK_CODE(cudaGraphInstantiate(&exec, graph, 0), cudaErrorInvalidValue); /* destroyed */
    CHECK_CODE(cudaGraphInstantiate(&exec, NULL, 0), cudaErrorInvalidValue);
    CHECK_CODE(cudaGraphDestroy(graph), cudaErrorInvalidValue);
    cudaFree(in);
    cudaFree(out);
}

/* memset, a copy from pinned memory, two GEMMs (alpha and beta fixed at capture) and a copy
 * back to pinned memory, replayed twice with new host input each time */
static void test_copies_and_gemm(cudaStream_t s, cublasHandle_t blas)
{
    const int m = 3, k = 4, n = 2;
    float *A = device<float>(m * k), *B = device<float>(k * n), *C = device<float>(m * n);
    float *host_b = NULL, *host_c = NULL;
    CHECK_CODE(cudaHostAlloc((void **)&host_b, k * n * sizeof(float), cudaHostAllocDefault), cudaSuccess);
    CHECK_CODE(cudaHostAlloc((void **)&host_c, m * n * sizeof(float), cudaHostAllocDefault), cudaSuccess);
    for (int i = 0; i < m * k; i++)
        A[i] = (float)(i % 5 - 2);
    float alpha = 2.0f, beta = 1.0f;
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    CHECK_CODE(cudaMemsetAsync(C, 0, m * n * sizeof(float), s), cudaSuccess);
    CHECK_CODE(cudaMemcpyAsync(B, host_b, k * n * sizeof(float), cudaMemcpyHostToDevice, s), cudaSuccess);
    for (int twice = 0; twice < 2; twice++)
        CHECK_CODE(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, m, B, k, &beta, C, m),
                   CUBLAS_STATUS_SUCCESS);
    CHECK_CODE(cudaMemcpyAsync(host_c, C, m * n * sizeof(float), cudaMemcpyDeviceToHost, s), cudaSuccess);
    cudaGraph_t graph = NULL;
    CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
    cudaGraphExec_t exec = NULL;
    CHECK_CODE(cudaGraphInstantiateWithFlags(&exec, graph, 0), cudaSuccess);
    alpha = 5.0f;
    beta = 3.0f;
    for (int replay = 0; replay < 2; replay++) {
        for (int i = 0; i < k * n; i++)
            host_b[i] = (float)((i + replay) % 3 - 1);
        for (int i = 0; i < m * n; i++)
            C[i] = host_c[i] = 1e6f; /* what the memset and the copy must replace */
        const long nodes = emu_graph_nodes;
        CHECK_CODE(cudaGraphLaunch(exec, s), cudaSuccess);
        CHECK(emu_graph_nodes == nodes + 5);
        bool right = true;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                float ab = 0.0f;
                for (int l = 0; l < k; l++)
                    ab += A[i + l * m] * host_b[l + j * k];
                right = right && host_c[i + j * m] == 2.0f * (2.0f * ab);
            }
        CHECK(right);
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaFreeHost(host_b);
    cudaFreeHost(host_c);
    cudaFree(A);
    cudaFree(B);
    cudaFree(C);
}

/* each call a capture refuses: the code, and the capture invalidated */
static void test_refused_calls(cudaStream_t s, float *probe)
{
    cudaEvent_t ev = NULL;
    cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    CHECK_CODE(cudaEventRecord(ev, s), cudaSuccess);
    const cudaStreamCaptureMode strict[] = {cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal};
    for (cudaStreamCaptureMode mode : strict)
        for (int call = 0; call < 7; call++) {
            void *dev = NULL, *pinned = NULL; /* for the frees to leave alone */
            cudaMalloc(&dev, 64);
            cudaHostAlloc(&pinned, 64, cudaHostAllocDefault);
            CHECK_CODE(cudaStreamBeginCapture(s, mode), cudaSuccess);
            void *p = (void *)&p;
            size_t free_b = 7, total_b = 7;
            cudaError_t e = cudaSuccess;
            switch (call) {
            case 0: e = cudaStreamSynchronize(s); break;
            case 1: e = cudaEventSynchronize(ev); break;
            case 2: e = cudaMalloc(&p, 64); break;
            case 3: e = cudaFree(dev); break;
            case 4: e = cudaHostAlloc(&p, 64, cudaHostAllocDefault); break;
            case 5: e = cudaFreeHost(pinned); break;
            case 6: e = cudaMemGetInfo(&free_b, &total_b); break;
            }
            CHECK_CODE(e, cudaErrorStreamCaptureUnsupported);
            CHECK_CODE(cudaGetLastError(), cudaErrorStreamCaptureUnsupported);
            CHECK(p == (void *)&p && free_b == 7); /* nothing was allocated or written */
            expect_invalidated(s, probe);
            if (e != cudaSuccess) { /* the refused frees left both in place */
                memset(dev, 0, 64);
                CHECK_CODE(cudaFree(dev), cudaSuccess);
                CHECK_CODE(cudaFreeHost(pinned), cudaSuccess);
            }
        }

    /* a copy to or from pageable host memory, in any mode */
    float pageable[4] = {0, 0, 0, 0};
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
    CHECK_CODE(cudaMemcpyAsync(probe, pageable, sizeof pageable, cudaMemcpyHostToDevice, s),
               cudaErrorStreamCaptureUnsupported);
    expect_invalidated(s, probe);
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    CHECK_CODE(cudaMemcpyAsync(pageable, probe, sizeof pageable, cudaMemcpyDeviceToHost, s),
               cudaErrorStreamCaptureUnsupported);
    expect_invalidated(s, probe);

    /* relaxed: allocation is allowed, synchronizing the capturing stream is not */
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
    void *p = NULL;
    CHECK_CODE(cudaMalloc(&p, 64), cudaSuccess);
    CHECK_CODE(cudaFree(p), cudaSuccess);
    CHECK(capture_status(s) == cudaStreamCaptureStatusActive);
    CHECK_CODE(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
    expect_invalidated(s, probe);

    /* the thread's mode set to relaxed lifts the refusal of a global capture */
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    CHECK_CODE(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
    CHECK(mode == cudaStreamCaptureModeGlobal);
    CHECK_CODE(cudaMalloc(&p, 64), cudaSuccess);
    CHECK_CODE(cudaFree(p), cudaSuccess);
    CHECK_CODE(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
    CHECK_CODE(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
    expect_invalidated(s, probe);

    /* an event recorded in a capture cannot be waited for, even after the capture */
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    CHECK_CODE(cudaEventRecord(ev, s), cudaSuccess);
    cudaGraph_t graph = NULL;
    CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
    CHECK_CODE(cudaEventSynchronize(ev), cudaErrorCapturedEvent);
    CHECK_CODE(cudaEventRecord(ev, s), cudaSuccess);
    CHECK_CODE(cudaEventSynchronize(ev), cudaSuccess);
    cudaGraphDestroy(graph);
    cudaEventDestroy(ev);

    /* the capture calls' own errors */
    CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaErrorIllegalState);
    CHECK_CODE(cudaStreamBeginCapture(NULL, cudaStreamCaptureModeGlobal), cudaErrorStreamCaptureUnsupported);
    CHECK_CODE(cudaStreamBeginCapture(s, (cudaStreamCaptureMode)3), cudaErrorInvalidValue);
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaErrorIllegalState);
    CHECK_CODE(cudaStreamIsCapturing(s, NULL), cudaErrorInvalidValue);
    CHECK_CODE(cudaStreamEndCapture(s, NULL), cudaErrorInvalidValue);
    CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
    cudaGraphExec_t exec = NULL;
    CHECK_CODE(cudaGraphInstantiate(&exec, graph, cudaGraphInstantiateFlagUpload), cudaErrorInvalidValue);
    CHECK_CODE(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess); /* an empty graph is valid */
    CHECK_CODE(cudaGraphLaunch(exec, s), cudaSuccess);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    (void)cudaGetLastError();
}

/* work queued on another stream, the legacy stream, or a cuBLAS handle on another stream */
static void test_other_streams(cudaStream_t s, cublasHandle_t blas, float *probe)
{
    cudaStream_t other = new_stream(cudaStreamNonBlocking);
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    probe[0] = 1.0f;
    emu_launch(affine, dim3(1), dim3(32), (size_t)0, other, probe, (const float *)probe, 0.0f, 5.0f, 1);
    CHECK_CODE(cudaGetLastError(), cudaErrorStreamCaptureIsolation);
    CHECK(probe[0] == 1.0f);
    expect_invalidated(s, probe);

    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
    CHECK_CODE(cudaMemsetAsync(probe, 0, 4, NULL), cudaErrorStreamCaptureIsolation);
    CHECK(probe[0] == 1.0f);
    expect_invalidated(s, probe);

    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    const float one = 1.0f, zero = 0.0f;
    CHECK_CODE(cublasSetStream(blas, other), CUBLAS_STATUS_SUCCESS);
    CHECK_CODE(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, probe, 1, probe, 1, &zero, probe + 1, 1),
               CUBLAS_STATUS_EXECUTION_FAILED);
    CHECK_CODE(cublasSetStream(blas, s), CUBLAS_STATUS_SUCCESS);
    expect_invalidated(s, probe);

    /* a blocking stream's capture: the legacy stream is refused as CUDA refuses it */
    cudaStream_t blocking = new_stream(cudaStreamDefault);
    CHECK_CODE(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeGlobal), cudaSuccess);
    cudaStreamCaptureStatus st;
    CHECK_CODE(cudaStreamIsCapturing(NULL, &st), cudaErrorStreamCaptureImplicit);
    CHECK(capture_status(blocking) == cudaStreamCaptureStatusActive);
    CHECK_CODE(cudaMemsetAsync(probe, 0, 4, NULL), cudaErrorStreamCaptureImplicit);
    expect_invalidated(blocking, probe);
    CHECK_CODE(cudaStreamIsCapturing(NULL, &st), cudaSuccess);
    CHECK(st == cudaStreamCaptureStatusNone);

    /* a graph launched into a capture becomes part of it; launched on another stream it is refused */
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    emu_launch(affine, dim3(1), dim3(32), (size_t)0, s, probe, (const float *)probe, 2.0f, 0.0f, 1);
    cudaGraph_t inner = NULL, outer = NULL;
    CHECK_CODE(cudaStreamEndCapture(s, &inner), cudaSuccess);
    cudaGraphExec_t inner_exec = NULL, outer_exec = NULL;
    CHECK_CODE(cudaGraphInstantiate(&inner_exec, inner, 0), cudaSuccess);
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    CHECK_CODE(cudaGraphLaunch(inner_exec, s), cudaSuccess);
    CHECK_CODE(cudaGraphLaunch(inner_exec, s), cudaSuccess);
    CHECK_CODE(cudaStreamEndCapture(s, &outer), cudaSuccess);
    CHECK_CODE(cudaGraphInstantiate(&outer_exec, outer, 0), cudaSuccess);
    cudaGraphExecDestroy(inner_exec);
    probe[0] = 3.0f;
    CHECK_CODE(cudaGraphLaunch(outer_exec, s), cudaSuccess);
    CHECK(probe[0] == 12.0f);
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    CHECK_CODE(cudaGraphLaunch(outer_exec, other), cudaErrorStreamCaptureIsolation);
    CHECK(probe[0] == 12.0f);
    expect_invalidated(s, probe);
    cudaGraphExecDestroy(outer_exec);
    cudaGraphDestroy(inner);
    cudaGraphDestroy(outer);
    cudaStreamDestroy(blocking);
    cudaStreamDestroy(other);
}

/* A call CUDA calls potentially unsafe during a capture, made by another thread on its own
 * stream, event and memory (call < 7), or that thread's work on its own stream or on the legacy
 * stream (7, 8: never unsafe while a non-blocking stream captures). Returns the call's code. */
static cudaError_t other_thread_call(int call, cudaStream_t own, cudaEvent_t own_event, void *dev,
                                     void *pinned, float *probe)
{
    void *p = NULL;
    size_t free_b = 0, total_b = 0;
    cudaError_t e = cudaSuccess;
    switch (call) {
    case 0: e = cudaMalloc(&p, 64); break;
    case 1: e = cudaFree(dev); break;
    case 2: e = cudaHostAlloc(&p, 64, cudaHostAllocDefault); break;
    case 3: e = cudaFreeHost(pinned); break;
    case 4: e = cudaMemGetInfo(&free_b, &total_b); break;
    case 5: e = cudaStreamSynchronize(own); break;
    case 6: e = cudaEventSynchronize(own_event); break;
    case 7:
        probe[1] = 1.0f;
        emu_launch(affine, dim3(1), dim3(32), (size_t)0, own, probe + 1, (const float *)probe + 1,
                   3.0f, 0.0f, 1);
        e = cudaGetLastError();
        if (e == cudaSuccess && probe[1] != 3.0f)
            e = cudaErrorInvalidValue; /* recorded or dropped instead of run */
        break;
    case 8: e = cudaMemsetAsync(probe + 2, 0, 4, NULL); break;
    }
    if (e == cudaSuccess && call == 0)
        e = cudaFree(p);
    if (e == cudaSuccess && call == 2)
        e = cudaFreeHost(p);
    return e;
}

/* CUDA's rules for another thread while this one captures (cudaThreadExchangeStreamCaptureMode):
 * its potentially unsafe calls are refused, and the capture invalidated, only when the capture is
 * global and that thread's own mode is global; its work on its own non-blocking stream or the
 * legacy stream runs whatever the modes (the emulator's isolation rule is the capturing thread's
 * alone). Each thread keeps its own last error. Ending the capture from another thread is
 * refused unless it is relaxed. */
static void test_threads(cudaStream_t s, float *probe)
{
    const cudaStreamCaptureMode modes[] = {cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal,
                                           cudaStreamCaptureModeRelaxed};
    /* an error stays with the thread whose call failed */
    (void)cudaGetLastError();
    CHECK_CODE(cudaGraphLaunch(NULL, s), cudaErrorInvalidValue);
    cudaError_t there_before = cudaErrorInvalidValue, there_after = cudaSuccess;
    std::thread([&] {
        there_before = cudaGetLastError();
        (void)cudaGraphDestroy(NULL);
    }).join();
    std::thread([&] { there_after = cudaGetLastError(); }).join();
    CHECK_CODE(there_before, cudaSuccess);
    CHECK_CODE(there_after, cudaSuccess);
    CHECK_CODE(cudaGetLastError(), cudaErrorInvalidValue);

    cudaStream_t own = new_stream(cudaStreamNonBlocking);
    cudaEvent_t own_event = NULL;
    cudaEventCreateWithFlags(&own_event, cudaEventDisableTiming);
    CHECK_CODE(cudaEventRecord(own_event, own), cudaSuccess);
    for (cudaStreamCaptureMode capture_mode : modes)
        for (cudaStreamCaptureMode there_mode : modes)
            for (int call = 0; call < 9; call++) {
                void *dev = NULL, *pinned = NULL;
                cudaMalloc(&dev, 64);
                cudaHostAlloc(&pinned, 64, cudaHostAllocDefault);
                (void)cudaGetLastError();
                CHECK_CODE(cudaStreamBeginCapture(s, capture_mode), cudaSuccess);
                cudaError_t e = cudaSuccess, last_there = cudaSuccess;
                std::thread([&] {
                    cudaStreamCaptureMode mode = there_mode;
                    cudaThreadExchangeStreamCaptureMode(&mode);
                    e = other_thread_call(call, own, own_event, dev, pinned, probe);
                    last_there = cudaGetLastError();
                }).join();
                const bool refused = call < 7 && capture_mode == cudaStreamCaptureModeGlobal &&
                                     there_mode == cudaStreamCaptureModeGlobal;
                const cudaError_t want = refused ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
                CHECK_CODE(e, want);
                CHECK_CODE(last_there, want);
                CHECK_CODE(cudaGetLastError(), cudaSuccess); /* not this thread's error */
                if (refused) {
                    expect_invalidated(s, probe);
                } else {
                    CHECK(capture_status(s) == cudaStreamCaptureStatusActive);
                    cudaGraph_t graph = NULL;
                    CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
                    cudaGraphDestroy(graph);
                }
                if (call != 1 || refused)
                    cudaFree(dev);
                if (call != 3 || refused)
                    cudaFreeHost(pinned);
            }

    /* a blocking stream's capture: the legacy stream is refused to every thread */
    cudaStream_t blocking = new_stream(cudaStreamDefault);
    CHECK_CODE(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    cudaError_t legacy_there = cudaSuccess;
    std::thread([&] { legacy_there = cudaMemsetAsync(probe + 2, 0, 4, NULL); }).join();
    CHECK_CODE(legacy_there, cudaErrorStreamCaptureImplicit);
    expect_invalidated(blocking, probe);
    cudaStreamDestroy(blocking);

    /* another thread's work on the capturing stream itself is recorded, not run */
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    probe[1] = 2.0f;
    std::thread([&] {
        emu_launch(affine, dim3(1), dim3(32), (size_t)0, s, probe + 1, (const float *)probe + 1,
                   5.0f, 0.0f, 1);
    }).join();
    CHECK(probe[1] == 2.0f);
    cudaGraph_t recorded = NULL;
    CHECK_CODE(cudaStreamEndCapture(s, &recorded), cudaSuccess);
    cudaGraphExec_t recorded_exec = NULL;
    CHECK_CODE(cudaGraphInstantiate(&recorded_exec, recorded, 0), cudaSuccess);
    CHECK_CODE(cudaGraphLaunch(recorded_exec, s), cudaSuccess);
    CHECK(probe[1] == 10.0f);
    cudaGraphExecDestroy(recorded_exec);
    cudaGraphDestroy(recorded);

    for (cudaStreamCaptureMode mode : modes) {
        CHECK_CODE(cudaStreamBeginCapture(s, mode), cudaSuccess);
        cudaError_t end_there = cudaSuccess;
        cudaGraph_t graph = NULL;
        std::thread([&] { end_there = cudaStreamEndCapture(s, &graph); }).join();
        if (mode == cudaStreamCaptureModeRelaxed) {
            CHECK_CODE(end_there, cudaSuccess);
            CHECK(graph != NULL);
        } else {
            CHECK_CODE(end_there, cudaErrorStreamCaptureWrongThread);
            CHECK(capture_status(s) == cudaStreamCaptureStatusActive);
            CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
        }
        cudaGraphDestroy(graph);
    }
    cudaEventDestroy(own_event);
    cudaStreamDestroy(own);
    (void)cudaGetLastError();
}

/* the same work run directly and replayed from a graph: the same bits */
static void run_sequence(cudaStream_t s, cublasHandle_t blas, const float *x, float *y, float *sums,
                         float *z, int n, int blocks)
{
    const float alpha = 0.37f, beta = 0.0f;
    emu_launch(affine, dim3(blocks), dim3(64), (size_t)0, s, y, x, 1.0f / 3.0f, 0.1f, n);
    emu_launch(block_sum_squares, dim3(blocks), dim3(128), (size_t)(4 * sizeof(float)), s, sums,
               (const float *)y, n);
    cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, blocks, blocks, 1, &alpha, sums, 1, sums, 1, &beta, z, blocks);
}

static void test_replay_matches_direct(cudaStream_t s, cublasHandle_t blas)
{
    const int n = 1000, blocks = 3;
    float *x = device<float>(n), *y[2] = {device<float>(n), device<float>(n)};
    float *sums[2] = {device<float>(blocks), device<float>(blocks)};
    float *z[2] = {device<float>(blocks * blocks), device<float>(blocks * blocks)};
    for (int i = 0; i < n; i++)
        x[i] = sinf(0.1f * (float)i) * 3.7f;
    run_sequence(s, blas, x, y[0], sums[0], z[0], n, blocks);
    CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    run_sequence(s, blas, x, y[1], sums[1], z[1], n, blocks);
    cudaGraph_t graph = NULL;
    CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
    cudaGraphExec_t exec = NULL;
    CHECK_CODE(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    CHECK(std::isnan(z[1][0]));
    CHECK_CODE(cudaGraphLaunch(exec, s), cudaSuccess);
    CHECK_CODE(cudaStreamSynchronize(s), cudaSuccess);
    CHECK(memcmp(y[0], y[1], n * sizeof(float)) == 0);
    CHECK(memcmp(sums[0], sums[1], blocks * sizeof(float)) == 0);
    CHECK(memcmp(z[0], z[1], blocks * blocks * sizeof(float)) == 0);
    CHECK(z[0][0] > 0.0f && !std::isnan(z[0][blocks * blocks - 1]));
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaFree(x);
    for (int i = 0; i < 2; i++) {
        cudaFree(y[i]);
        cudaFree(sums[i]);
        cudaFree(z[i]);
    }
}

/* threads that meet at each wait() before any goes on (C++17 has no std::barrier) */
struct Rendezvous {
    std::mutex m;
    std::condition_variable cv;
    int parties, arrived = 0, generation = 0;
    explicit Rendezvous(int n) : parties(n) {}
    void wait()
    {
        std::unique_lock<std::mutex> lock(m);
        const int gen = generation;
        if (++arrived == parties) {
            arrived = 0;
            generation++;
            cv.notify_all();
        } else
            cv.wait(lock, [&] { return generation != gen; });
    }
};

/* run_sequence's input and outputs for one thread */
struct Sequence {
    int n, blocks;
    float *x, *y, *sums, *z;
    explicit Sequence(int k) : n(1000 + 237 * k), blocks(3 + k)
    {
        x = device<float>(n);
        y = device<float>(n);
        sums = device<float>(blocks);
        z = device<float>(blocks * blocks);
        for (int i = 0; i < n; i++)
            x[i] = cosf(0.07f * (float)(i + 11 * k)) * (2.0f + (float)k);
    }
    void run(cudaStream_t s, cublasHandle_t blas) { run_sequence(s, blas, x, y, sums, z, n, blocks); }
    std::vector<float> outputs() const
    {
        std::vector<float> v(y, y + n);
        v.insert(v.end(), sums, sums + blocks);
        v.insert(v.end(), z, z + blocks * blocks);
        return v;
    }
    void poison(cudaStream_t s) /* NaN, for the next replay to replace */
    {
        cudaMemsetAsync(y, 0xff, n * sizeof(float), s);
        cudaMemsetAsync(sums, 0xff, blocks * sizeof(float), s);
        cudaMemsetAsync(z, 0xff, blocks * blocks * sizeof(float), s);
    }
    ~Sequence()
    {
        cudaFree(x);
        cudaFree(y);
        cudaFree(sums);
        cudaFree(z);
    }
};

/* Two threads each capture a different sequence on their own stream and cuBLAS handle (thread-
 * local mode, as core/cuda records its step), both captures open at once while a third thread
 * allocates, frees, queries memory, synchronizes and launches on its own stream; then both replay
 * their graphs at once, node by node interleaved, while the third goes on. Every replay gives
 * the bits of the sequence run directly by one thread alone. */
static void test_concurrent_graphs(void)
{
    enum { CAPTURERS = 2, REPLAYS = 16 };
    std::vector<float> alone[CAPTURERS];
    {
        cudaStream_t s = new_stream(cudaStreamNonBlocking);
        cublasHandle_t blas = NULL;
        cublasCreate(&blas);
        cublasSetStream(blas, s);
        for (int k = 0; k < CAPTURERS; k++) {
            Sequence seq(k);
            seq.run(s, blas);
            alone[k] = seq.outputs();
        }
        cublasDestroy(blas);
        cudaStreamDestroy(s);
    }
    Rendezvous meet(CAPTURERS + 1);
    std::atomic<int> replaying(CAPTURERS);
    std::atomic<long> churned(0), churned_while_captured(0);
    std::vector<std::thread> threads;
    for (int k = 0; k < CAPTURERS; k++)
        threads.emplace_back([&, k] {
            cudaStream_t s = new_stream(cudaStreamNonBlocking);
            cublasHandle_t blas = NULL;
            cublasCreate(&blas);
            cublasSetStream(blas, s);
            Sequence seq(k);
            meet.wait(); /* 1: all set up */
            CHECK_CODE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
            seq.run(s, blas);
            meet.wait(); /* 2: both captures open and recorded */
            meet.wait(); /* 3: the third thread's calls made meanwhile */
            CHECK(capture_status(s) == cudaStreamCaptureStatusActive);
            cudaGraph_t graph = NULL;
            CHECK_CODE(cudaStreamEndCapture(s, &graph), cudaSuccess);
            cudaGraphExec_t exec = NULL;
            CHECK_CODE(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
            CHECK(std::isnan(seq.z[0])); /* recorded, not run */
            meet.wait(); /* 4: replay together */
            for (int r = 0; r < REPLAYS; r++) {
                seq.poison(s);
                CHECK_CODE(cudaGraphLaunch(exec, s), cudaSuccess);
                CHECK_CODE(cudaStreamSynchronize(s), cudaSuccess);
                const std::vector<float> got = seq.outputs();
                CHECK(got.size() == alone[k].size() &&
                      memcmp(got.data(), alone[k].data(), got.size() * sizeof(float)) == 0);
                while (r == 0 && churned < 18) /* the third thread's calls between replays */
                    std::this_thread::yield();
            }
            CHECK_CODE(cudaGetLastError(), cudaSuccess);
            replaying--;
            cudaGraphExecDestroy(exec);
            cudaGraphDestroy(graph);
            cublasDestroy(blas);
            cudaStreamDestroy(s);
        });
    threads.emplace_back([&] {
        cudaStream_t own = new_stream(cudaStreamNonBlocking);
        cudaEvent_t own_event = NULL;
        cudaEventCreateWithFlags(&own_event, cudaEventDisableTiming);
        float *probe = device<float>(4);
        /* every call of other_thread_call, until both replays are over */
        auto churn = [&] {
            for (int call = 0; call < 9; call++) {
                void *dev = NULL, *pinned = NULL;
                CHECK_CODE(cudaMalloc(&dev, 4096), cudaSuccess);
                CHECK_CODE(cudaHostAlloc(&pinned, 4096, cudaHostAllocDefault), cudaSuccess);
                CHECK_CODE(cudaEventRecord(own_event, own), cudaSuccess);
                CHECK_CODE(other_thread_call(call, own, own_event, dev, pinned, probe), cudaSuccess);
                if (call != 1)
                    cudaFree(dev);
                if (call != 3)
                    cudaFreeHost(pinned);
                churned++;
            }
        };
        meet.wait(); /* 1 */
        meet.wait(); /* 2 */
        churn();
        churned_while_captured = churned.load();
        meet.wait(); /* 3 */
        meet.wait(); /* 4 */
        while (replaying > 0)
            churn();
        CHECK_CODE(cudaGetLastError(), cudaSuccess);
        cudaFree(probe);
        cudaEventDestroy(own_event);
        cudaStreamDestroy(own);
    });
    for (std::thread &th : threads)
        th.join();
    CHECK(churned_while_captured == 9 && churned >= 18);
}

static uint32_t bits_of(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}
static float float_of(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* the conversions round as core/base/precision.h does, bit for bit, and pack the formats'
 * encodings */
static void test_half_conversions(void)
{
    int bf16_wrong = 0, fp16_wrong = 0;
    uint32_t state = 12345u;
    for (int i = 0; i < 1 << 20; i++) {
        state = state * 1664525u + 1013904223u;
        /* every exponent, and ties: the low bits of half of them cleared to the tie */
        uint32_t b = state;
        if (i & 1)
            b = (b & 0xffff0000u) | 0x8000u;
        if (i & 2)
            b = (b & 0xffffe000u) | 0x1000u;
        const float x = float_of(b);
        if (x != x)
            continue;
        if (bits_of(__bfloat162float(__float2bfloat16(x))) != bits_of(nl_round_bf16(x)))
            bf16_wrong++;
        if (bits_of(__half2float(__float2half(x))) != bits_of(nl_round_fp16(x)))
            fp16_wrong++;
    }
    CHECK(bf16_wrong == 0);
    CHECK(fp16_wrong == 0);
    CHECK(__float2bfloat16(1.0f).__x == 0x3f80u);
    CHECK(__float2bfloat16(float_of(0x3f808000u)).__x == 0x3f80u); /* tie to even: down */
    CHECK(__float2bfloat16(float_of(0x3f818000u)).__x == 0x3f82u); /* tie to even: up */
    CHECK(__float2half(1.0f).__x == 0x3c00u);
    CHECK(__float2half(-2.0f).__x == 0xc000u);
    CHECK(__float2half(65504.0f).__x == 0x7bffu);
    CHECK(__float2half(65519.0f).__x == 0x7bffu);
    CHECK(__float2half(65520.0f).__x == 0x7c00u); /* the tie above the largest half: infinity */
    CHECK(__float2half(ldexpf(1.0f, -24)).__x == 0x0001u);
    CHECK(__float2half(ldexpf(1.0f, -25)).__x == 0x0000u);              /* a tie: to even, zero */
    CHECK(__float2half(ldexpf(3.0f, -25)).__x == 0x0002u);              /* a tie: to even, 2 */
    CHECK(__float2half(ldexpf(1023.0f, -24)).__x == 0x03ffu);           /* the largest subnormal */
    CHECK(__float2half(-0.0f).__x == 0x8000u);
    CHECK(__half2float(__float2half(ldexpf(1023.0f, -24))) == ldexpf(1023.0f, -24));
    CHECK(std::isinf(__half2float(__float2half(1e6f))));
    const float nan = std::nanf("");
    CHECK(std::isnan(__half2float(__float2half(nan))) && std::isnan(__bfloat162float(__float2bfloat16(nan))));
}

/* cublasGemmEx and its strided batch: 16-bit A and B, fp32 accumulation, C in fp32 or rounded
 * to the inputs' type; the combinations cuBLAS refuses are refused */
static void test_gemm_ex(cudaStream_t s, cublasHandle_t blas)
{
    const int m = 3, k = 5, n = 2, batch = 2;
    float a[batch][m * k], b[batch][k * n];
    for (int t = 0; t < batch; t++) {
        for (int i = 0; i < m * k; i++)
            a[t][i] = 0.1f * (float)(i * 7 % 11) - 0.4f + (float)t;
        for (int i = 0; i < k * n; i++)
            b[t][i] = 0.37f * (float)(i % 4) - 0.5f;
    }
    __nv_bfloat16 *A16 = device<__nv_bfloat16>(batch * m * k), *B16 = device<__nv_bfloat16>(batch * k * n);
    __half *Ah = device<__half>(batch * m * k), *Bh = device<__half>(batch * k * n);
    float *C = device<float>(batch * m * n);
    __nv_bfloat16 *C16 = device<__nv_bfloat16>(m * n);
    for (int t = 0; t < batch; t++) {
        for (int i = 0; i < m * k; i++) {
            A16[t * m * k + i] = __float2bfloat16(a[t][i]);
            Ah[t * m * k + i] = __float2half(a[t][i]);
        }
        for (int i = 0; i < k * n; i++) {
            B16[t * k * n + i] = __float2bfloat16(b[t][i]);
            Bh[t * k * n + i] = __float2half(b[t][i]);
        }
    }
    const float alpha = 1.0f, beta = 0.0f;
    for (int prec = 0; prec < 2; prec++) {
        const cudaDataType_t type = prec == 0 ? CUDA_R_16BF : CUDA_R_16F;
        const void *A = prec == 0 ? (const void *)A16 : (const void *)Ah;
        const void *B = prec == 0 ? (const void *)B16 : (const void *)Bh;
        /* C (m x n, column-major) = A (m x k) B (k x n) for each batch entry */
        CHECK_CODE(cublasGemmStridedBatchedEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, type, m,
                                              m * k, B, type, k, k * n, &beta, C, CUDA_R_32F, m, m * n,
                                              batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   CUBLAS_STATUS_SUCCESS);
        cudaStreamSynchronize(s);
        int wrong = 0;
        for (int t = 0; t < batch; t++)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) {
                    float want = 0.0f; /* products of rounded values, added in fp32 in k order */
                    for (int l = 0; l < k; l++)
                        want += nl_round_to(prec == 0 ? NL_PRECISION_BF16 : NL_PRECISION_FP16, a[t][i + l * m]) *
                                nl_round_to(prec == 0 ? NL_PRECISION_BF16 : NL_PRECISION_FP16, b[t][l + j * k]);
                    wrong += C[t * m * n + i + j * m] != want;
                }
        CHECK(wrong == 0);
    }
    /* transposed A (k x m stored), C rounded to bf16 */
    CHECK_CODE(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, A16, CUDA_R_16BF, k, B16,
                            CUDA_R_16BF, k, &beta, C16, CUDA_R_16BF, m, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT),
               CUBLAS_STATUS_SUCCESS);
    cudaStreamSynchronize(s);
    int wrong = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float want = 0.0f;
            for (int l = 0; l < k; l++)
                want += nl_round_bf16(a[0][l + i * k]) * nl_round_bf16(b[0][l + j * k]);
            wrong += bits_of(__bfloat162float(C16[i + j * m])) != bits_of(nl_round_bf16(want));
        }
    CHECK(wrong == 0);
    /* mixed inputs, and a 16-bit C of the other type, are not GEMMs cuBLAS has */
    CHECK_CODE(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A16, CUDA_R_16BF, m, Bh,
                            CUDA_R_16F, k, &beta, C, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               CUBLAS_STATUS_NOT_SUPPORTED);
    CHECK_CODE(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A16, CUDA_R_16BF, m, B16,
                            CUDA_R_16BF, k, &beta, C16, CUDA_R_16F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               CUBLAS_STATUS_NOT_SUPPORTED);
    CHECK_CODE(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A16, CUDA_R_16BF, m, B16,
                            CUDA_R_16BF, k, &beta, C, CUDA_R_32F, m, (cublasComputeType_t)0, CUBLAS_GEMM_DEFAULT),
               CUBLAS_STATUS_NOT_SUPPORTED);
    cudaFree(A16);
    cudaFree(B16);
    cudaFree(Ah);
    cudaFree(Bh);
    cudaFree(C);
    cudaFree(C16);
}

int main(void)
{
    cudaStream_t s = new_stream(cudaStreamNonBlocking);
    cublasHandle_t blas = NULL;
    cublasCreate(&blas);
    cublasSetStream(blas, s);
    float *probe = device<float>(4);
    test_parameters_and_pointers(s);
    test_copies_and_gemm(s, blas);
    test_refused_calls(s, probe);
    test_other_streams(s, blas, probe);
    test_threads(s, probe);
    test_replay_matches_direct(s, blas);
    test_concurrent_graphs();
    test_half_conversions();
    test_gemm_ex(s, blas);
    CHECK(strcmp(cudaGetErrorName(cudaErrorStreamCaptureInvalidated), "cudaErrorStreamCaptureInvalidated") == 0);
    cudaFree(probe);
    cublasDestroy(blas);
    cudaStreamDestroy(s);
    if (failures) {
        fprintf(stderr, "selftest: %d of %d checks failed\n", failures.load(), checks.load());
        return 1;
    }
    printf("emulator self-test (stream capture, graphs, 16-bit floats, GemmEx): %d checks passed\n", checks.load());
    return 0;
}
