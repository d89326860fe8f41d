/* The emulated runtime: fibers for GPU threads, barriers, shuffles, guarded memory and
 * reference GEMMs (see README.md). */
#include <sys/mman.h>
#include <unistd.h>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include "cuda_runtime.h"
#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "cuda_fp16.h"

/* Several host threads may call the runtime at once, each on its own streams, as the threads of
 * one process share a GPU. One process-wide lock is held for every runtime and cuBLAS call and
 * for each kernel, run directly or as a graph's node: the fibers, the shared-memory region, the
 * shuffle slots, kernels' static __shared__ variables, the capture list and the handle maps are
 * never used by two threads at once. A graph replay takes it node by node, so other threads' work
 * interleaves with a replay as it would on a GPU. Recursive: a replayed node takes it again. */
static std::recursive_mutex emu_mutex;
typedef std::lock_guard<std::recursive_mutex> EmuLocked;

/* what runs under the lock: the block being run and its fibers */
EmuFiber *emu_cur;
dim3 emu_blockIdx, emu_blockDim, emu_gridDim;
thread_local cudaError_t emu_last_error = cudaSuccess; /* per host thread, as in CUDA */
static std::map<const void *, int> emu_smem_limit;
float4 *nl_dyn_smem;
std::atomic<long> emu_launches, emu_threads, emu_graph_launches, emu_graph_nodes;

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

void emu_set_smem_limit(const void *kernel, int bytes)
{
    EmuLocked locked(emu_mutex);
    emu_smem_limit[kernel] = bytes;
}

bool emu_check_launch(dim3 g, dim3 b, size_t smem, const void *kernel)
{
    EmuLocked locked(emu_mutex);
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
    return true;
}

void emu_count_launch(dim3 g, dim3 b)
{
    emu_launches++;
    emu_threads += (long)(g.x * (long)g.y * g.z) * (long)(b.x * b.y * b.z);
}

/* runs under emu_mutex, taken by whoever runs the kernel (emu_enqueue or a graph replay) */
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

/* ---- streams and stream capture ----
 * A capture belongs to one stream; what is queued on that stream is recorded. The rules below
 * are CUDA's (cudaThreadExchangeStreamCaptureMode's documentation), plus one stricter rule,
 * other_stream_work(); README.md lists them. */
struct EmuNode {
    EmuNodeKind kind;
    std::function<void()> run;
};
typedef std::vector<EmuNode> EmuNodes;
struct EmuCapture {
    cudaStream_t stream;
    cudaStreamCaptureMode mode;
    std::thread::id thread;
    unsigned long long id;
    bool invalidated;
    EmuNodes nodes;
};
struct emu_stream {
    unsigned flags;
    EmuCapture *capture; /* NULL: not capturing */
};
struct emu_event {
    unsigned long long captured_in; /* the capture that last recorded it; 0: none */
};
static std::vector<EmuCapture *> open_captures; /* begun, not yet ended (invalidated or not) */
static unsigned long long capture_serial;
static thread_local cudaStreamCaptureMode thread_capture_mode = cudaStreamCaptureModeGlobal;

/* as the runtime does, every failing call leaves its code for cudaGetLastError */
static cudaError_t fail(cudaError_t e)
{
    emu_last_error = e;
    return e;
}

static bool blocking_stream_captures(void)
{
    for (EmuCapture *c : open_captures)
        if (!(c->stream->flags & cudaStreamNonBlocking))
            return true;
    return false;
}

/* allocation, freeing, synchronizing and memory queries during a capture: refused under the
 * calling thread's mode, and every capture that refuses them is invalidated */
static cudaError_t potentially_unsafe_call(void)
{
    if (thread_capture_mode == cudaStreamCaptureModeRelaxed)
        return cudaSuccess;
    const std::thread::id me = std::this_thread::get_id();
    bool refused = false;
    for (EmuCapture *c : open_captures) {
        const bool own = c->thread == me && c->mode != cudaStreamCaptureModeRelaxed;
        const bool global = thread_capture_mode == cudaStreamCaptureModeGlobal && c->thread != me &&
                            c->mode == cudaStreamCaptureModeGlobal;
        if (own || global) {
            c->invalidated = true;
            refused = true;
        }
    }
    return refused ? fail(cudaErrorStreamCaptureUnsupported) : cudaSuccess;
}

/* Work queued on a stream that does not capture while this thread captures another one. CUDA
 * refuses it only on the legacy stream when a blocking stream captures; elsewhere it would run
 * once, at capture time, and never on replay: for a program that captures its one stream that is
 * a capture bug, so the emulator refuses it too. */
static cudaError_t other_stream_work(cudaStream_t s)
{
    const std::thread::id me = std::this_thread::get_id();
    cudaError_t e = cudaSuccess;
    for (EmuCapture *c : open_captures) {
        if (!s && !(c->stream->flags & cudaStreamNonBlocking)) {
            c->invalidated = true;
            e = cudaErrorStreamCaptureImplicit;
        } else if (c->thread == me) {
            c->invalidated = true;
            if (e == cudaSuccess)
                e = cudaErrorStreamCaptureIsolation;
        }
    }
    return e == cudaSuccess ? e : fail(e);
}

cudaError_t emu_enqueue(cudaStream_t s, EmuNodeKind kind, std::function<void()> work)
{
    std::unique_lock<std::recursive_mutex> locked(emu_mutex);
    if (s && s->capture) {
        if (s->capture->invalidated)
            return fail(cudaErrorStreamCaptureInvalidated);
        s->capture->nodes.push_back(EmuNode{kind, std::move(work)});
        return cudaSuccess;
    }
    if (!open_captures.empty()) {
        const cudaError_t e = other_stream_work(s);
        if (e != cudaSuccess)
            return e;
    }
    if (kind == EMU_NODE_GRAPH)
        locked.unlock(); /* the replay takes it for each node */
    work();
    return cudaSuccess;
}

static EmuCapture *live_capture(cudaStream_t s)
{
    return s && s->capture && !s->capture->invalidated ? s->capture : NULL;
}

/* ---- memory: each allocation ends at a PROT_NONE page ---- */
static std::map<void *, std::pair<void *, size_t>> allocs; /* user pointer -> mapping */
static std::map<void *, size_t> pinned;                   /* cudaHostAlloc pointer -> bytes */

/* [p, p + n) lies in one cudaMalloc or cudaHostAlloc block: memory a graph's copy may touch */
static bool graph_visible(const void *p, size_t n)
{
    const char *c = (const char *)p;
    auto d = allocs.upper_bound((void *)p);
    if (d != allocs.begin()) {
        --d;
        const char *end = (const char *)d->second.first + d->second.second - 4096;
        if (c >= (const char *)d->first && c + n <= end)
            return true;
    }
    auto h = pinned.upper_bound((void *)p);
    if (h != pinned.begin()) {
        --h;
        if (c >= (const char *)h->first && c + n <= (const char *)h->first + h->second)
            return true;
    }
    return false;
}

cudaError_t cudaMalloc(void **p, size_t bytes)
{
    EmuLocked locked(emu_mutex);
    if (cudaError_t e = potentially_unsafe_call())
        return e;
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
    EmuLocked locked(emu_mutex);
    if (cudaError_t e = potentially_unsafe_call())
        return e;
    auto it = allocs.find(p);
    if (it == allocs.end()) {
        fprintf(stderr, "EMU: cudaFree of an unknown pointer\n");
        abort();
    }
    munmap(it->second.first, it->second.second);
    allocs.erase(it);
    return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned)
{
    EmuLocked locked(emu_mutex);
    if (cudaError_t e = potentially_unsafe_call())
        return e;
    *p = malloc(bytes);
    pinned[*p] = bytes;
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p)
{
    EmuLocked locked(emu_mutex);
    if (cudaError_t e = potentially_unsafe_call())
        return e;
    pinned.erase(p);
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *f, size_t *t)
{
    EmuLocked locked(emu_mutex);
    if (cudaError_t e = potentially_unsafe_call())
        return e;
    *f = 1ull << 36;
    *t = 1ull << 37;
    return cudaSuccess;
}
/* pointers are kept, so a replayed copy moves what the memory holds at replay time */
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t st)
{
    EmuLocked locked(emu_mutex);
    if (EmuCapture *c = live_capture(st))
        if (!graph_visible(d, n) || !graph_visible(s, n)) { /* pageable host memory */
            c->invalidated = true;
            return fail(cudaErrorStreamCaptureUnsupported);
        }
    return emu_enqueue(st, EMU_NODE_MEMCPY, [d, s, n] { memmove(d, s, n); });
}
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t st)
{
    return emu_enqueue(st, EMU_NODE_MEMSET, [d, v, n] { memset(d, v, n); });
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
    *s = new emu_stream{flags, NULL};
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    EmuLocked locked(emu_mutex);
    if (s && s->capture) { /* the capture must be ended first */
        s->capture->invalidated = true;
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    EmuLocked locked(emu_mutex);
    if (s && s->capture) { /* refused in every mode */
        s->capture->invalidated = true;
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    if (!s && blocking_stream_captures())
        return other_stream_work(s);
    return potentially_unsafe_call();
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { *e = new emu_event{0}; return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
/* recorded in a capture, the event only orders work inside the graph: the replayed node does
 * nothing, and the event stays one the host cannot wait for until it is recorded outside */
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    EmuLocked locked(emu_mutex);
    EmuCapture *c = live_capture(s);
    const cudaError_t r = emu_enqueue(s, EMU_NODE_EVENT, [] {});
    if (r == cudaSuccess)
        e->captured_in = c ? c->id : 0;
    return r;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    EmuLocked locked(emu_mutex);
    if (e->captured_in) {
        for (EmuCapture *c : open_captures)
            if (c->id == e->captured_in)
                c->invalidated = true;
        return fail(cudaErrorCapturedEvent);
    }
    return potentially_unsafe_call();
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode)
{
    EmuLocked locked(emu_mutex);
    if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
        mode != cudaStreamCaptureModeRelaxed)
        return fail(cudaErrorInvalidValue);
    if (!s)
        return fail(cudaErrorStreamCaptureUnsupported); /* the legacy stream cannot capture */
    if (s->capture)
        return fail(cudaErrorIllegalState);
    s->capture = new EmuCapture{s, mode, std::this_thread::get_id(), ++capture_serial, false, {}};
    open_captures.push_back(s->capture);
    return cudaSuccess;
}

static uintptr_t handle_serial; /* graph and exec handles are never reused */
typedef std::shared_ptr<const EmuNodes> EmuNodeList;
template <class H> struct EmuHandles {
    std::map<H, EmuNodeList> live;
    H add(EmuNodeList nodes)
    {
        const H h = (H)(++handle_serial * 64);
        live[h] = std::move(nodes);
        return h;
    }
    const EmuNodeList *find(H h) const
    {
        auto it = live.find(h);
        return it == live.end() ? NULL : &it->second;
    }
};
static EmuHandles<cudaGraph_t> graphs;
static EmuHandles<cudaGraphExec_t> execs;

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph)
{
    EmuLocked locked(emu_mutex);
    if (!graph)
        return fail(cudaErrorInvalidValue);
    if (!s || !s->capture)
        return fail(cudaErrorIllegalState);
    EmuCapture *c = s->capture;
    if (c->mode != cudaStreamCaptureModeRelaxed && c->thread != std::this_thread::get_id())
        return fail(cudaErrorStreamCaptureWrongThread);
    s->capture = NULL;
    for (size_t i = 0; i < open_captures.size(); i++)
        if (open_captures[i] == c)
            open_captures.erase(open_captures.begin() + (long)i);
    const bool invalidated = c->invalidated;
    *graph = invalidated ? NULL : graphs.add(std::make_shared<const EmuNodes>(std::move(c->nodes)));
    delete c;
    return invalidated ? fail(cudaErrorStreamCaptureInvalidated) : cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *status)
{
    EmuLocked locked(emu_mutex);
    if (!status)
        return fail(cudaErrorInvalidValue);
    if (!s) {
        if (blocking_stream_captures())
            return fail(cudaErrorStreamCaptureImplicit); /* and invalidates nothing */
        *status = cudaStreamCaptureStatusNone;
    } else
        *status = !s->capture ? cudaStreamCaptureStatusNone
                  : s->capture->invalidated ? cudaStreamCaptureStatusInvalidated
                                            : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode *mode)
{
    if (!mode || (*mode != cudaStreamCaptureModeGlobal && *mode != cudaStreamCaptureModeThreadLocal &&
                  *mode != cudaStreamCaptureModeRelaxed))
        return fail(cudaErrorInvalidValue);
    std::swap(*mode, thread_capture_mode);
    return cudaSuccess;
}

/* an executable graph shares the captured node list: the graph may be destroyed after */
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags)
{
    EmuLocked locked(emu_mutex);
    const unsigned long long known = cudaGraphInstantiateFlagAutoFreeOnLaunch |
                                     cudaGraphInstantiateFlagDeviceLaunch |
                                     cudaGraphInstantiateFlagUseNodePriority;
    const EmuNodeList *nodes = graphs.find(graph);
    if (!exec || !nodes || (flags & ~known) ||
        ((flags & cudaGraphInstantiateFlagAutoFreeOnLaunch) && (flags & cudaGraphInstantiateFlagDeviceLaunch)))
        return fail(cudaErrorInvalidValue);
    *exec = execs.add(*nodes);
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags)
{
    return cudaGraphInstantiateWithFlags(exec, graph, flags);
}
/* replays the nodes in order on this thread, through the code the direct calls run; launched
 * into a capturing stream, the graph becomes one node of the new capture */
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s)
{
    EmuNodeList nodes; /* shared: an exec destroyed by another thread replays to its end */
    {
        EmuLocked locked(emu_mutex);
        const EmuNodeList *found = execs.find(exec);
        if (!found)
            return fail(cudaErrorInvalidValue);
        nodes = *found;
    }
    return emu_enqueue(s, EMU_NODE_GRAPH, [nodes] {
        emu_graph_launches++;
        for (const EmuNode &n : *nodes) {
            EmuLocked locked(emu_mutex);
            emu_graph_nodes++;
            n.run();
        }
    });
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec)
{
    EmuLocked locked(emu_mutex);
    return execs.live.erase(exec) ? cudaSuccess : fail(cudaErrorInvalidValue);
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
    EmuLocked locked(emu_mutex);
    return graphs.live.erase(graph) ? cudaSuccess : fail(cudaErrorInvalidValue);
}

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
const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
#define EMU_ERROR_TEXT(name, value, text)                                                          \
    case name:                                                                                     \
        return text;
        EMU_CUDA_ERRORS(EMU_ERROR_TEXT)
#undef EMU_ERROR_TEXT
    }
    return "unrecognized error code";
}
const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
#define EMU_ERROR_NAME(name, value, text)                                                          \
    case name:                                                                                     \
        return #name;
        EMU_CUDA_ERRORS(EMU_ERROR_NAME)
#undef EMU_ERROR_NAME
    }
    return "cudaErrorUnknown";
}
cudaError_t cudaGetLastError(void) { cudaError_t e = emu_last_error; emu_last_error = cudaSuccess; return e; }

/* ---- cuBLAS: column-major reference with cuBLAS's argument checks ---- */
struct emu_cublas {
    cudaStream_t stream; /* the GEMMs are queued on it: run, or recorded while it captures */
};
cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = new emu_cublas{NULL}; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s)
{
    EmuLocked locked(emu_mutex);
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetAtomicsMode(cublasHandle_t, cublasAtomicsMode_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetPointerMode(cublasHandle_t, cublasPointerMode_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *, size_t) { return CUBLAS_STATUS_SUCCESS; }
const char *cublasGetStatusString(cublasStatus_t) { return "emulated cublas error"; }
const char *cublasGetStatusName(cublasStatus_t) { return "CUBLAS_STATUS_EMULATED"; }

static void check_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda,
                       int ldb, int ldc)
{
    auto mx = [](int a) { return a > 1 ? a : 1; };
    if (m < 0 || n < 0 || k < 0 || lda < mx(ta == CUBLAS_OP_N ? m : k) ||
        ldb < mx(tb == CUBLAS_OP_N ? k : n) || ldc < mx(m)) {
        fprintf(stderr, "EMU: cuBLAS GEMM invalid value m=%d n=%d k=%d lda=%d ldb=%d ldc=%d\n", m, n, k, lda, ldb, ldc);
        abort();
    }
}
static void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
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
}
/* host pointer mode: alpha and beta are read now, the matrices when the GEMM runs */
cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc)
{
    EmuLocked locked(emu_mutex);
    check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
    const float al = *alpha, be = *beta;
    const cudaError_t e = emu_enqueue(h->stream, EMU_NODE_GEMM, [=] {
        gemm(ta, tb, m, n, k, al, A, lda, B, ldb, be, C, ldc);
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long sa, const float *B, int ldb, long long sb,
                                         const float *beta, float *C, int ldc, long long sc,
                                         int batch)
{
    EmuLocked locked(emu_mutex);
    if (batch > 0)
        check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
    const float al = *alpha, be = *beta;
    const cudaError_t e = emu_enqueue(h->stream, EMU_NODE_GEMM, [=] {
        for (int i = 0; i < batch; i++)
            gemm(ta, tb, m, n, k, al, A + i * sa, lda, B + i * sb, ldb, be, C + i * sc, ldc);
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

/* ---- cublasGemmEx: typed elements, fp32 accumulation ---- */
static bool gemm_ex_type_known(cudaDataType_t t)
{
    return t == CUDA_R_32F || t == CUDA_R_16F || t == CUDA_R_16BF;
}
/* the combinations CUBLAS_COMPUTE_32F takes among these types */
static bool gemm_ex_supported(cudaDataType_t at, cudaDataType_t bt, cudaDataType_t ct,
                              cublasComputeType_t compute)
{
    return compute == CUBLAS_COMPUTE_32F && gemm_ex_type_known(at) && at == bt &&
           (ct == CUDA_R_32F || ct == at);
}
static float load_typed(const void *p, cudaDataType_t t, size_t i)
{
    switch (t) {
    case CUDA_R_16BF:
        return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    case CUDA_R_16F:
        return __half2float(((const __half *)p)[i]);
    default:
        return ((const float *)p)[i];
    }
}
static void store_typed(void *p, cudaDataType_t t, size_t i, float v)
{
    switch (t) {
    case CUDA_R_16BF:
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16(v);
        break;
    case CUDA_R_16F:
        ((__half *)p)[i] = __float2half(v);
        break;
    default:
        ((float *)p)[i] = v;
    }
}
static size_t type_bytes(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }
static void gemm_ex(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                    const void *A, cudaDataType_t at, int lda, const void *B, cudaDataType_t bt,
                    int ldb, float beta, void *C, cudaDataType_t ct, int ldc)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int l = 0; l < k; l++) {
                const float a = load_typed(A, at, ta == CUBLAS_OP_N ? i + (size_t)l * lda : l + (size_t)i * lda);
                const float b = load_typed(B, bt, tb == CUBLAS_OP_N ? l + (size_t)j * ldb : j + (size_t)l * ldb);
                s += a * b;
            }
            const size_t c = i + (size_t)j * ldc;
            store_typed(C, ct, c, beta == 0.0f ? alpha * s : alpha * s + beta * load_typed(C, ct, c));
        }
}
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta,
                                          cublasOperation_t tb, int m, int n, int k,
                                          const void *alpha, const void *A, cudaDataType_t Atype,
                                          int lda, long long sa, const void *B,
                                          cudaDataType_t Btype, int ldb, long long sb,
                                          const void *beta, void *C, cudaDataType_t Ctype,
                                          int ldc, long long sc, int batch,
                                          cublasComputeType_t compute, cublasGemmAlgo_t)
{
    EmuLocked locked(emu_mutex);
    if (!gemm_ex_supported(Atype, Btype, Ctype, compute))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (batch > 0)
        check_gemm(ta, tb, m, n, k, lda, ldb, ldc);
    const float al = *(const float *)alpha, be = *(const float *)beta;
    const size_t ea = type_bytes(Atype), eb = type_bytes(Btype), ec = type_bytes(Ctype);
    const cudaError_t e = emu_enqueue(h->stream, EMU_NODE_GEMM, [=] {
        for (int i = 0; i < batch; i++)
            gemm_ex(ta, tb, m, n, k, al, (const char *)A + i * sa * ea, Atype, lda,
                    (const char *)B + i * sb * eb, Btype, ldb, be, (char *)C + i * sc * ec, Ctype,
                    ldc);
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType_t Atype,
                            int lda, const void *B, cudaDataType_t Btype, int ldb,
                            const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo)
{
    return cublasGemmStridedBatchedEx(h, ta, tb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb,
                                      0, beta, C, Ctype, ldc, 0, 1, compute, algo);
}
