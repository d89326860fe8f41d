/* The emulated runtime: fibers for GPU threads, barriers, shuffles, guarded memory and
 * reference GEMMs (see README.md). */
#include <sys/mman.h>
#include <unistd.h>
#include <vector>
#include "cuda_runtime.h"
#include "cublas_v2.h"

EmuFiber *emu_cur;
dim3 emu_blockIdx, emu_blockDim, emu_gridDim;
cudaError_t emu_last_error = cudaSuccess;
std::map<const void *, int> emu_smem_limit;
float4 *nl_dyn_smem;
long emu_launches, emu_threads;

enum { RUN, READY, WAIT_BLOCK, WAIT_WARP, DONE };
static const size_t STACK = 256 * 1024;
static std::vector<EmuFiber> fibers;
static std::vector<char *> stacks;
static void *sched_sp;
extern "C" void emu_switch(void **save, void *to);
asm(R"(
.text
.globl emu_switch
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
)");
static void (*cur_body)(void *);
static void *cur_arg;
static double shfl_slot[32][32];
static int shfl_in[32][32];

static void die(const char *what)
{
    fprintf(stderr, "EMU ERROR: %s (block %u,%u,%u thread %u,%u,%u)\n", what, emu_blockIdx.x,
            emu_blockIdx.y, emu_blockIdx.z, emu_cur ? emu_cur->tid.x : 0, emu_cur ? emu_cur->tid.y : 0,
            emu_cur ? emu_cur->tid.z : 0);
    abort();
}

static void trampoline(void)
{
    cur_body(cur_arg);
    emu_cur->state = DONE;
    emu_switch(&emu_cur->sp, sched_sp);
    abort();
}
static void *fresh_stack(char *stack)
{
    uintptr_t top = ((uintptr_t)(stack + STACK) & ~(uintptr_t)15) - 16; /* A: 16-aligned */
    void **a = (void **)top;
    a[1] = 0;                 /* never returned to */
    a[0] = (void *)trampoline; /* popped by ret */
    uint32_t csr[2];
    asm volatile("stmxcsr %0" : "=m"(csr[0]));
    asm volatile("fnstcw %0" : "=m"(csr[1]));
    void **sp = a - 7;        /* rbp rbx r12 r13 r14 r15, then the control words */
    for (int i = 1; i < 7; i++)
        sp[i] = 0;
    memcpy(sp, csr, 8);
    return sp;
}

void emu_syncthreads(const char *file, int line)
{
    emu_cur->state = WAIT_BLOCK;
    emu_cur->file = file;
    emu_cur->line = line;
    emu_switch(&emu_cur->sp, sched_sp);
}

static void warp_wait(void)
{
    emu_cur->state = WAIT_WARP;
    emu_switch(&emu_cur->sp, sched_sp);
}

/* every lane writes v, then lane `lane` reads lane src's value (src < 0:
 * its own; the shuffle's source is outside its segment) */
static double shfl_exchange(unsigned mask, double v, int width, int (*source)(int, int, int),
                            int arg)
{
    if (mask != 0xffffffffu)
        die("shuffle with a partial mask");
    if (width < 1 || width > 32 || (width & (width - 1)))
        die("shuffle width");
    const int lane = emu_cur->lt & 31, warp = emu_cur->lt >> 5;
    shfl_slot[warp][lane] = v;
    shfl_in[warp][lane] = 1;
    warp_wait(); /* all 32 lanes have written */
    const int src = source(lane, width, arg);
    double r = v;
    if (src >= 0) {
        if (!shfl_in[warp][src])
            die("shuffle reads a lane that did not take part");
        r = shfl_slot[warp][src];
    }
    warp_wait(); /* all have read */
    shfl_in[warp][lane] = 0;
    return r;
}

static int source_down(int lane, int width, int delta)
{
    const int seg = lane & ~(width - 1);
    return lane + delta < seg + width ? lane + delta : -1;
}

static int source_index(int lane, int width, int src_lane)
{
    return (lane & ~(width - 1)) + (src_lane & (width - 1));
}

double emu_shfl_down(unsigned mask, double v, int delta, int width)
{
    return shfl_exchange(mask, v, width, source_down, delta);
}

double emu_shfl_idx(unsigned mask, double v, int src_lane, int width)
{
    return shfl_exchange(mask, v, width, source_index, src_lane);
}

static char *smem_guard_end;
static void setup_smem(size_t smem)
{
    static char *region;
    const size_t total = 512 * 1024;
    if (!region) {
        region = (char *)mmap(NULL, total + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(region + total, 4096, PROT_NONE);
        smem_guard_end = region + total;
    }
    size_t r = (smem + 15) / 16 * 16;
    char *p = smem_guard_end - r;
    memset(p, 0xff, r); /* NaN */
    nl_dyn_smem = (float4 *)p;
}

bool emu_check_launch(dim3 g, dim3 b, size_t smem, const void *kernel)
{
    emu_launches++;
    const unsigned long long nt = (unsigned long long)b.x * b.y * b.z;
    if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535 ||
        nt == 0 || nt > 1024 || b.z > 64) {
        fprintf(stderr, "EMU: invalid launch grid (%u,%u,%u) block (%u,%u,%u)\n", g.x, g.y, g.z, b.x, b.y, b.z);
        emu_last_error = cudaErrorInvalidConfiguration;
        abort();
    }
    size_t limit = 48 * 1024;
    auto it = emu_smem_limit.find(kernel);
    if (it != emu_smem_limit.end())
        limit = (size_t)it->second;
    if (smem > limit) {
        fprintf(stderr, "EMU: %zu bytes of dynamic shared memory over the kernel's limit %zu\n", smem, limit);
        abort();
    }
    emu_threads += (long)(g.x * (long)g.y * g.z) * (long)nt;
    return true;
}

void emu_run_block(void (*body)(void *), void *arg, size_t smem)
{
    const int n = (int)(emu_blockDim.x * emu_blockDim.y * emu_blockDim.z);
    if ((int)fibers.size() < n) {
        fibers.resize(n);
        while ((int)stacks.size() < n)
            stacks.push_back((char *)malloc(STACK));
    }
    setup_smem(smem);
    cur_body = body;
    cur_arg = arg;
    memset(shfl_in, 0, sizeof shfl_in);
    for (int t = 0; t < n; t++) {
        EmuFiber &f = fibers[t];
        f.lt = t;
        f.tid = dim3(t % emu_blockDim.x, (t / emu_blockDim.x) % emu_blockDim.y,
                     t / (emu_blockDim.x * emu_blockDim.y));
        f.state = READY;
        f.sp = fresh_stack(stacks[t]);
    }
    for (;;) {
        for (int t = 0; t < n; t++)
            if (fibers[t].state == READY) {
                fibers[t].state = RUN;
                emu_cur = &fibers[t];
                emu_switch(&sched_sp, fibers[t].sp);
            }
        int alive = 0;
        for (int t = 0; t < n; t++)
            alive += fibers[t].state != DONE;
        if (!alive)
            break;
        bool released = false;
        for (int w = 0; w * 32 < n; w++) {
            int waiting = 0, live = 0;
            for (int t = w * 32; t < n && t < w * 32 + 32; t++) {
                live += fibers[t].state != DONE;
                waiting += fibers[t].state == WAIT_WARP;
            }
            if (waiting && waiting != 32)
                die("a warp shuffle without all 32 lanes");
            if (waiting && waiting == live) {
                for (int t = w * 32; t < n && t < w * 32 + 32; t++)
                    fibers[t].state = READY;
                released = true;
            }
        }
        if (released)
            continue;
        const char *file = NULL;
        int line = -1;
        for (int t = 0; t < n; t++) {
            if (fibers[t].state == DONE)
                continue;
            if (fibers[t].state != WAIT_BLOCK)
                die("deadlock: threads wait on different barriers");
            if (file && (line != fibers[t].line || strcmp(file, fibers[t].file)))
                die("divergent __syncthreads (different call sites)");
            file = fibers[t].file;
            line = fibers[t].line;
        }
        for (int t = 0; t < n; t++)
            if (fibers[t].state == WAIT_BLOCK)
                fibers[t].state = READY;
    }
    emu_cur = NULL;
}

/* ---- memory: each allocation ends at a PROT_NONE page ---- */
static std::map<void *, std::pair<void *, size_t>> allocs;

cudaError_t cudaMalloc(void **p, size_t bytes)
{
    if (bytes > ((size_t)1 << 40)) {
        emu_last_error = cudaErrorMemoryAllocation;
        return cudaErrorMemoryAllocation;
    }
    const size_t pg = 4096, r = (bytes + 255) / 256 * 256, pages = (r + pg - 1) / pg;
    char *base = (char *)mmap(NULL, (pages + 1) * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return cudaErrorMemoryAllocation;
    mprotect(base + pages * pg, pg, PROT_NONE);
    char *q = base + pages * pg - r;
    memset(q, 0xff, r);
    allocs[q] = {base, (pages + 1) * pg};
    *p = q;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p)
{
    auto it = allocs.find(p);
    if (it == allocs.end()) {
        fprintf(stderr, "EMU: cudaFree of an unknown pointer\n");
        abort();
    }
    munmap(it->second.first, it->second.second);
    allocs.erase(it);
    return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned) { *p = malloc(bytes); return cudaSuccess; }
cudaError_t cudaFreeHost(void *p) { free(p); return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t *f, size_t *t) { *f = 1ull << 36; *t = 1ull << 37; return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) { memmove(d, s, n); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) { memset(d, v, n); return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { *s = (cudaStream_t)malloc(1); return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t s) { free(s); return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { *e = (cudaEvent_t)malloc(1); return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) { free(e); return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDevice(int *d) { *d = 0; return cudaSuccess; }
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "Emulated GPU");
    p->major = 9;
    p->minor = 0;
    const char *s = getenv("EMU_SMS");
    p->multiProcessorCount = s ? atoi(s) : 2;
    p->sharedMemPerBlockOptin = 232448;
    p->sharedMemPerMultiprocessor = 233472;
    p->totalGlobalMem = 80ull << 30;
    return cudaSuccess;
}
const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
const char *cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }
cudaError_t cudaGetLastError(void) { cudaError_t e = emu_last_error; emu_last_error = cudaSuccess; return e; }

/* ---- cuBLAS: column-major reference with cuBLAS's argument checks ---- */
cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = (cublasHandle_t)malloc(1); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { free(h); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetAtomicsMode(cublasHandle_t, cublasAtomicsMode_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetPointerMode(cublasHandle_t, cublasPointerMode_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *, size_t) { return CUBLAS_STATUS_SUCCESS; }
const char *cublasGetStatusString(cublasStatus_t) { return "emulated cublas error"; }
const char *cublasGetStatusName(cublasStatus_t) { return "CUBLAS_STATUS_EMULATED"; }

static cublasStatus_t gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           float alpha, const float *A, int lda, const float *B, int ldb,
                           float beta, float *C, int ldc)
{
    auto mx = [](int a) { return a > 1 ? a : 1; };
    if (m < 0 || n < 0 || k < 0 || lda < mx(ta == CUBLAS_OP_N ? m : k) ||
        ldb < mx(tb == CUBLAS_OP_N ? k : n) || ldc < mx(m)) {
        fprintf(stderr, "EMU: cublasSgemm invalid value m=%d n=%d k=%d lda=%d ldb=%d ldc=%d\n", m, n, k, lda, ldb, ldc);
        abort();
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int l = 0; l < k; l++) {
                const float a = ta == CUBLAS_OP_N ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda];
                const float b = tb == CUBLAS_OP_N ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb];
                s += a * b;
            }
            float *c = &C[i + (size_t)j * ldc];
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc)
{
    return gemm(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long sa, const float *B, int ldb, long long sb,
                                         const float *beta, float *C, int ldc, long long sc,
                                         int batch)
{
    for (int i = 0; i < batch; i++)
        gemm(ta, tb, m, n, k, *alpha, A + i * sa, lda, B + i * sb, ldb, *beta, C + i * sc, ldc);
    return CUBLAS_STATUS_SUCCESS;
}
