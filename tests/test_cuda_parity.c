// ctest-labels: cuda
/* The CUDA backend against the CPU backend: every op on random inputs of
 * several shapes (odd ones, feature vectors, large maps), each compared as
 * max|gpu - cpu| / max|cpu| (1e-5 for norms and elementwise ops, 1e-4
 * where cuBLAS sums in another order), plus bit-for-bit repeatability of
 * the GPU results, and whole training runs compared step by step.
 *
 * Skips itself (exit 77, "SKIPPED: ..." on stdout) when normlab was built
 * without CUDA or no usable GPU is visible. CUDA is only ever initialized in
 * child processes: the probe runs in a forked child, and check forks every
 * test (with CK_FORK=no everything runs in one process, which works too:
 * each test opens and closes its own CUDA backend).
 *
 * The normalization tests run under four planner modes (NORMLAB_CUDA_*
 * knobs, see core/cuda/cuda_common.h): automatic, one fused block per group
 * with the group kept in shared memory, the same re-reading global memory,
 * and every group split over 5 blocks, so each kernel path meets every
 * shape whatever the GPU.
 *
 * The resident case: gather_rows and gather_windows, and runs (images and
 * tokens) fed from a dataset resident on the GPU against the same runs fed
 * from the host (train.device_data).
 *
 * The threads case: runs training at once on threads of this process, each
 * on its own backend, give the rows they give alone.
 *
 * The formula case: a formula normalizer's programs (model.norm.type
 * expr) on the GPU against the CPU's row interpreter, op by op for six
 * formulas in every mode, then in whole models.
 *
 * The coverage case, last: every op that both backends implement was
 * reached on both by the cases before it, counted through the op list
 * (a new op needs no case of its own when a registry row's training
 * reaches it).
 *
 * NL_PARITY_QUICK=1 leaves out the large shapes (for slow debugging runs). */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/counter_rng.h"
#include "base/precision.h"
#include "base/rng.h"
#include "config/config.h"
#include "model/model.h"
#include "norm/formula.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "norm_space.h"
#include "testutil.h"
#include "backend/rnn_layout.h"
#include "train/check.h"
#include "train/probe_landscape.h"
#include "train/probe_sigprop.h"
#include "train/probe_varshift.h"
#include "train/series.h"

static nl_backend *cpu_be, *gpu_be;

static nl_backend *be_of(int b) { return b ? gpu_be : cpu_be; }

static int quick(void)
{
    const char *q = getenv("NL_PARITY_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* ---- op coverage: each backend's calls of each op of backend_ops.def ----
 * A backend the parity cases open gets a table of trampolines in place of
 * its ops, one per op and backend, generated from the op list: each adds
 * one to its op's count and jumps to the backend's own function with the
 * caller's registers and stack untouched, so one body serves every
 * signature (x86-64 System V; elsewhere nothing is counted and the
 * coverage case says so). The counts live in memory shared with the
 * forked processes the tests run in. */
enum {
#define NL_OP(backends, ret, op, params) OP_##op,
#include "backend/backend_ops.def"
    OP_COUNT
};

typedef struct {
    void (*target)(void);  /* the backend's own function */
    unsigned long *calls;  /* its count, in op_calls */
} op_trampoline;

static unsigned long (*op_calls)[2]; /* [OP_COUNT][cpu, cuda], shared */

#if defined(__x86_64__) && defined(__linux__)
#define OP_COVERAGE 1
#define NL_OP(backends, ret, op, params)                                                           \
    op_trampoline nl_test_cover_cpu_##op, nl_test_cover_cuda_##op;                                 \
    void nl_test_enter_cpu_##op(void), nl_test_enter_cuda_##op(void);                              \
    __asm__(".text\n"                                                                              \
            "nl_test_enter_cpu_" #op ":\n"                                                         \
            "\tmovq nl_test_cover_cpu_" #op "+8(%rip), %r11\n"                                     \
            "\tlock incq (%r11)\n"                                                                 \
            "\tjmp *nl_test_cover_cpu_" #op "(%rip)\n"                                             \
            "nl_test_enter_cuda_" #op ":\n"                                                        \
            "\tmovq nl_test_cover_cuda_" #op "+8(%rip), %r11\n"                                    \
            "\tlock incq (%r11)\n"                                                                 \
            "\tjmp *nl_test_cover_cuda_" #op "(%rip)\n");
#include "backend/backend_ops.def"

/* puts the counting table of its device (0: CPU, 1: CUDA) in place of a
 * backend's ops, its slots NULL where the backend's are; every backend of
 * a device has the same ops */
static void count_ops(nl_backend *be)
{
    static nl_ops counting[2];
    const int b = be->device == NL_DEVICE_CUDA;
    if (!op_calls || be->ops == &counting[b])
        return;
    counting[b].name = be->ops->name;
#define NL_OP(backends, ret, op, params)                                                           \
    {                                                                                              \
        op_trampoline *t = b ? &nl_test_cover_cuda_##op : &nl_test_cover_cpu_##op;                \
        t->target = (void (*)(void))be->ops->op;                                                   \
        t->calls = &op_calls[OP_##op][b];                                                          \
        counting[b].op = !be->ops->op ? NULL                                                       \
                         : b          ? (ret(*) params)nl_test_enter_cuda_##op                    \
                                      : (ret(*) params)nl_test_enter_cpu_##op;                     \
    }
#include "backend/backend_ops.def"
    be->ops = &counting[b];
}
#else
#define OP_COVERAGE 0
static void count_ops(nl_backend *be) { (void)be; }
#endif

static void open_gpu(void)
{
    nl_error err = {0};
    cpu_be = tu_cpu(0);
    ck_assert_msg(nl_backend_open(NL_DEVICE_CUDA, NULL, &gpu_be, &err) == NL_OK, "%s", err.msg);
    count_ops(cpu_be);
    count_ops(gpu_be);
}

static void close_gpu(void)
{
    if (gpu_be)
        nl_backend_close(gpu_be);
    gpu_be = NULL;
}

static void gpu_sync_ok(void)
{
    nl_error err = {0};
    ck_assert_msg(gpu_be->ops->synchronize(gpu_be, &err) == NL_OK, "%s", err.msg);
}

/* ---- one buffer on both backends: d[0] CPU, d[1] GPU ---- */
typedef struct {
    void *d[2];
    size_t bytes;
} twin;

static twin twin_new(const void *host, size_t bytes)
{
    twin t = {{NULL, NULL}, bytes};
    for (int b = 0; b < 2; b++) {
        nl_backend *be = be_of(b);
        nl_error err = {0};
        ck_assert_msg(be->ops->alloc(be, bytes ? bytes : 4, &t.d[b], &err) == NL_OK, "%s",
                      err.msg);
        if (host && bytes)
            be->ops->upload(be, t.d[b], host, bytes);
    }
    return t;
}

/* an empty twin has nothing to upload: no host buffer that nobody wrote */
static twin twin_normal(size_t n, uint64_t seed, float mean, float std)
{
    if (n == 0)
        return twin_new(NULL, 0);
    float *h = malloc(n * sizeof *h);
    ck_assert(h != NULL);
    tu_fill_normal(h, n, seed, mean, std);
    twin t = twin_new(h, n * sizeof *h);
    free(h);
    return t;
}

static twin twin_const(size_t n, float v)
{
    if (n == 0)
        return twin_new(NULL, 0);
    float *h = malloc(n * sizeof *h);
    ck_assert(h != NULL);
    for (size_t i = 0; i < n; i++)
        h[i] = v;
    twin t = twin_new(h, n * sizeof *h);
    free(h);
    return t;
}

static twin twin_empty(size_t n) { return twin_const(n, NAN); }

static float *F(twin t, int b) { return (float *)t.d[b]; }
/* NULL for an unused (zero-byte) twin */
static float *FN(twin t, int b) { return t.bytes ? (float *)t.d[b] : NULL; }

static void twin_free(twin *t)
{
    for (int b = 0; b < 2; b++)
        if (t->d[b])
            be_of(b)->ops->release(be_of(b), t->d[b]);
    t->d[0] = t->d[1] = NULL;
}

static void *fetch(twin t, int b)
{
    void *h = malloc(t.bytes ? t.bytes : 4);
    be_of(b)->ops->download(be_of(b), h, t.d[b], t.bytes);
    return h;
}

/* the GPU copy against the CPU copy */
static void check_close(twin t, double tol, const char *what)
{
    gpu_sync_ok();
    float *g = fetch(t, 1), *c = fetch(t, 0);
    tu_assert_close(g, c, t.bytes / sizeof(float), tol, what);
    free(g);
    free(c);
}

/* as check_close, the error relative to max(max |CPU|, scale): for a
 * result that cancels, the size of the terms it was computed from */
static void check_close_to_scale(twin t, double scale, double tol, const char *what)
{
    gpu_sync_ok();
    float *g = fetch(t, 1), *c = fetch(t, 0);
    double diff = 0.0, ref = scale;
    for (size_t i = 0; i < t.bytes / sizeof(float); i++) {
        const double d = fabs((double)g[i] - c[i]), r = fabs((double)c[i]);
        diff = d > diff || isnan(d) ? d : diff;
        ref = r > ref ? r : ref;
    }
    ck_assert_msg(diff <= tol * ref, "%s: error %.3g of the scale %.3g > %.3g", what,
                  ref > 0 ? diff / ref : diff, ref, tol);
    free(g);
    free(c);
}

/* bit for bit; a failure names the first 4-byte word that differs, as a
 * float and as bits, since a GPU run's log is often all that comes back */
static void check_equal_bytes(twin t, const char *what)
{
    gpu_sync_ok();
    void *g = fetch(t, 1), *c = fetch(t, 0);
    if (memcmp(g, c, t.bytes) != 0) {
        size_t at = 0;
        while (at + 4 <= t.bytes && !memcmp((char *)g + at, (char *)c + at, 4))
            at += 4;
        uint32_t gw = 0, cw = 0;
        memcpy(&gw, (char *)g + at, t.bytes - at < 4 ? t.bytes - at : 4);
        memcpy(&cw, (char *)c + at, t.bytes - at < 4 ? t.bytes - at : 4);
        float gf, cf;
        memcpy(&gf, &gw, 4);
        memcpy(&cf, &cw, 4);
        ck_abort_msg("%s: GPU and CPU differ, first at word %zu of %zu: GPU %a (0x%08x), CPU %a "
                     "(0x%08x)", what, at / 4, t.bytes / 4, (double)gf, gw, (double)cf, cw);
    }
    free(g);
    free(c);
}

/* floats bit for bit, except that a NaN equals any NaN: IEEE 754 leaves
 * the payload of an arithmetic NaN to the hardware (x86 keeps the input's,
 * an NVIDIA GPU writes its canonical 0x7fffffff), and nothing downstream
 * reads it */
static void check_equal_floats(twin t, const char *what)
{
    gpu_sync_ok();
    float *g = fetch(t, 1), *c = fetch(t, 0);
    for (size_t i = 0; i < t.bytes / sizeof(float); i++)
        ck_assert_msg(memcmp(&g[i], &c[i], sizeof(float)) == 0 || (isnan(g[i]) && isnan(c[i])),
                      "%s: element %zu: GPU %a, CPU %a", what, i, (double)g[i], (double)c[i]);
    free(g);
    free(c);
}

/* the GPU buffer now equals the snapshot taken before (bit for bit) */
static void *snapshot(twin t) { return fetch(t, 1); }
static void check_repeat(twin t, void *snap, const char *what)
{
    gpu_sync_ok();
    void *g = fetch(t, 1);
    ck_assert_msg(memcmp(g, snap, t.bytes) == 0, "%s: the GPU gave other bits on a second run",
                  what);
    free(g);
    free(snap);
}

/* copies src into dst on both backends */
static void twin_copy(twin dst, twin src)
{
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->copy(be_of(b), F(dst, b), F(src, b), src.bytes / sizeof(float));
}

/* ------------------------------------------------------------------------ */
/* memory, elementwise, optimizer                                            */

START_TEST(test_memory_and_errors)
{
    const size_t n = 1000003;
    twin a = twin_normal(n, 1, 0.0f, 1.0f), c = twin_empty(n);
    twin_copy(c, a);
    check_equal_bytes(c, "copy");
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->fill(be_of(b), F(c, b) + 1, 2.5f, n - 2);
    check_equal_bytes(c, "fill 2.5 (unaligned)");
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->fill(be_of(b), F(c, b), 0.0f, n);
    check_equal_bytes(c, "fill 0");
    twin_free(&a);
    twin_free(&c);

    /* an upload larger than the staging slots, then reused host memory */
    const size_t big = (size_t)5 << 20; /* 20 MiB of floats */
    float *h = malloc(big * sizeof *h), *back = malloc(big * sizeof *back);
    tu_fill_uniform(h, big, 5, -1.0f, 1.0f);
    void *d = NULL;
    nl_error err = {0};
    ck_assert_msg(gpu_be->ops->alloc(gpu_be, big * sizeof *h, &d, &err) == NL_OK, "%s", err.msg);
    gpu_be->ops->upload(gpu_be, d, h, big * sizeof *h);
    const float first = h[0];
    h[0] = first + 1.0f; /* upload has copied the source already */
    gpu_be->ops->download(gpu_be, back, d, big * sizeof *h);
    h[0] = first;
    ck_assert_msg(memcmp(back, h, big * sizeof *h) == 0, "upload/download round trip differs");
    gpu_be->ops->release(gpu_be, d);
    free(h);
    free(back);

    /* an impossible allocation fails cleanly and names the GPU */
    nl_error e2 = {0};
    void *huge = NULL;
    ck_assert_int_eq(gpu_be->ops->alloc(gpu_be, (size_t)1 << 52, &huge, &e2), NL_ERR_NOMEM);
    ck_assert_msg(strstr(e2.msg, "GPU") != NULL, "message: %s", e2.msg);
    gpu_sync_ok(); /* a failed allocation leaves no deferred error */

    /* the memory free and in all: none of its own on the CPU (the host's),
     * the device's on the GPU */
    size_t free_bytes = 1, total_bytes = 1;
    cpu_be->ops->memory_info(cpu_be, &free_bytes, &total_bytes);
    ck_assert(free_bytes == 0 && total_bytes == 0);
    gpu_be->ops->memory_info(gpu_be, &free_bytes, &total_bytes);
    ck_assert_msg(total_bytes > 0 && free_bytes <= total_bytes, "free %zu of %zu", free_bytes,
                  total_bytes);
    gpu_sync_ok();
}
END_TEST

START_TEST(test_elementwise)
{
    const size_t sizes[] = {1, 3, 1000, 1000003};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int offset = 0; offset < 2; offset++) { /* 1: misaligned, scalar path */
            const size_t n = sizes[si];
            char what[160];
            twin x = twin_normal(n + 1, 10 + si, 0.0f, 2.0f);
            /* the element outside [offset, offset + n) is never written: 0 on both */
            twin y = twin_const(n + 1, 0.0f), dy = twin_normal(n + 1, 20 + si, 0.0f, 1.0f);
            twin dx0 = twin_normal(n + 1, 30 + si, 0.0f, 1.0f), dx = twin_empty(n + 1);
            for (int kind = 0; kind < NL_ACT_COUNT; kind++) {
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->activation_forward(be_of(b), (nl_activation)kind, n,
                                                      F(x, b) + offset, F(y, b) + offset);
                snprintf(what, sizeof what, "activation %d forward, n=%zu offset %d", kind, n,
                         offset);
                check_close(y, 1e-5, what);
                for (int acc = 0; acc < 2; acc++) {
                    twin_copy(dx, dx0);
                    for (int b = 0; b < 2; b++)
                        be_of(b)->ops->activation_backward(be_of(b), (nl_activation)kind, n,
                                                           F(y, b) + offset, F(dy, b) + offset,
                                                           F(dx, b) + offset, acc);
                    snprintf(what, sizeof what, "activation %d backward acc=%d, n=%zu offset %d",
                             kind, acc, n, offset);
                    check_close(dx, 1e-5, what);
                }
            }
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->add_forward(be_of(b), n, F(x, b) + offset, F(dy, b) + offset,
                                           F(y, b) + offset);
            snprintf(what, sizeof what, "add, n=%zu offset %d", n, offset);
            check_equal_bytes(y, what);
            for (int acc = 0; acc < 2; acc++) {
                twin_copy(dx, dx0);
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->pass_gradient(be_of(b), n, F(dy, b) + offset,
                                                 F(dx, b) + offset, acc);
                snprintf(what, sizeof what, "pass_gradient acc=%d, n=%zu offset %d", acc, n,
                         offset);
                check_equal_bytes(dx, what);
            }
            twin_free(&x);
            twin_free(&y);
            twin_free(&dy);
            twin_free(&dx0);
            twin_free(&dx);
        }
    }
}
END_TEST

/* dropout draws the same mask on both backends (the counter-based draw
 * of base/counter_rng.h) and gives the same bits; noisy batch norm's
 * per-channel affine map the CPU's to rounding (its kernel sets may fuse
 * the multiply-add) */
START_TEST(test_dropout_and_channel_affine)
{
    const size_t sizes[] = {3, 1000, 100003};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const size_t n = sizes[si];
        char what[160];
        const uint64_t key = nl_counter_key(7, 3, si);
        const uint32_t words[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
        unsigned char *zeros = calloc(n, 1);
        twin k = twin_new(words, sizeof words), mask = twin_new(zeros, n);
        free(zeros);
        twin x = twin_normal(n, 40 + si, 0.0f, 1.0f), y = twin_empty(n);
        twin dy = twin_normal(n, 50 + si, 0.0f, 1.0f), dx0 = twin_normal(n, 60 + si, 0.0f, 1.0f);
        twin dx = twin_empty(n);
        const float p = 0.3f, scale = 1.0f / (1.0f - p);
        const uint32_t threshold = (uint32_t)llround((1.0 - p) * (double)(1u << NL_COUNTER_BITS));
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->dropout_forward(be_of(b), n, threshold, scale, F(k, b), F(x, b),
                                           F(y, b), (uint8_t *)mask.d[b]);
        snprintf(what, sizeof what, "dropout forward, n=%zu", n);
        check_equal_bytes(y, what);
        snprintf(what, sizeof what, "dropout mask, n=%zu", n);
        check_equal_bytes(mask, what);
        for (int acc = 0; acc < 2; acc++) {
            twin_copy(dx, dx0);
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->dropout_backward(be_of(b), n, scale, (const uint8_t *)mask.d[b],
                                                F(dy, b), F(dx, b), acc);
            snprintf(what, sizeof what, "dropout backward acc=%d, n=%zu", acc, n);
            if (acc)
                check_close(dx, 1e-6, what);
            else
                check_equal_bytes(dx, what);
        }
        /* the same floats as (rows, channels, plane) */
        const int c = 7, plane = si == 0 ? 1 : 5, rows = (int)(n / (size_t)(c * plane));
        if (rows > 0) {
            twin s = twin_normal((size_t)c, 70 + si, 1.5f, 0.5f);
            twin t = twin_normal((size_t)c, 80 + si, 0.5f, 0.5f);
            const size_t used = (size_t)rows * c * plane;
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->channel_affine_forward(be_of(b), rows, c, plane, F(s, b), F(t, b),
                                                      F(x, b), F(y, b));
            snprintf(what, sizeof what, "channel affine forward, %d x %d x %d", rows, c, plane);
            twin yu = y;
            yu.bytes = used * sizeof(float);
            check_close(yu, 1e-6, what);
            for (int acc = 0; acc < 2; acc++) {
                twin_copy(dx, dx0);
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->channel_affine_backward(be_of(b), rows, c, plane, F(s, b),
                                                           F(dy, b), F(dx, b), acc);
                snprintf(what, sizeof what, "channel affine backward acc=%d, %d x %d x %d", acc,
                         rows, c, plane);
                if (acc)
                    check_close(dx, 1e-6, what);
                else
                    check_equal_bytes(dx, what);
            }
            twin_free(&s);
            twin_free(&t);
        }
        twin_free(&k);
        twin_free(&mask);
        twin_free(&x);
        twin_free(&y);
        twin_free(&dy);
        twin_free(&dx0);
        twin_free(&dx);
    }
}
END_TEST

START_TEST(test_sgd)
{
    const size_t n = 1001;
    const nl_sgd_args cases[] = {
        {0.1f, 0.0f, 0.0f, 0.0f, false, false},  {0.05f, 0.9f, 0.0f, 0.0f, false, true},
        {0.05f, 0.9f, 0.0f, 0.0f, false, false}, {0.05f, 0.9f, 0.1f, 5e-4f, false, false},
        {0.05f, 0.9f, 0.0f, 1e-4f, true, false}, {0.02f, 0.5f, 0.0f, 1e-3f, true, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int offset = 0; offset < 2; offset++) {
            twin p = twin_normal(n + 1, 40 + k, 0.0f, 1.0f);
            twin g = twin_normal(n + 1, 50 + k, 0.0f, 1.0f);
            twin v = twin_normal(n + 1, 60 + k, 0.0f, 0.1f);
            twin args = twin_new(&cases[k], sizeof cases[k]); /* per-step scalars: device */
            for (int rep = 0; rep < 3; rep++)
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->sgd_step(be_of(b), n, F(p, b) + offset, F(g, b) + offset,
                                            F(v, b) + offset, args.d[b]);
            char what[96];
            snprintf(what, sizeof what, "sgd case %zu offset %d: parameters", k, offset);
            check_close(p, 1e-6, what);
            snprintf(what, sizeof what, "sgd case %zu offset %d: velocity", k, offset);
            check_close(v, 1e-6, what);
            twin_free(&p);
            twin_free(&g);
            twin_free(&v);
            twin_free(&args);
        }
    }
}
END_TEST

/* AdamW's scalars as nl_adamw_step makes them, at 1-based step t */
static nl_adamw_args adamw_args(float lr, float beta1, float beta2, float eps, float wd, int t)
{
    const double bc1 = 1.0 - pow(beta1, t), bc2 = 1.0 - pow(beta2, t);
    nl_adamw_args a = {(float)(1.0 - (double)lr * wd), beta1, (float)(1.0 - beta1), beta2,
                       (float)(1.0 - beta2), (float)(-(double)lr / bc1), (float)sqrt(bc2), eps};
    return a;
}

START_TEST(test_adamw)
{
    const size_t n = 1001;
    const struct {
        nl_adamw_args args;
        float grad_std, exp_avg_std, exp_avg_sq; /* the state it starts from */
    } cases[] = {
        {adamw_args(1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), 1.0f, 0.0f, 0.0f},
        {adamw_args(1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, 2), 1.0f, 0.1f, 0.01f},
        {adamw_args(3e-3f, 0.8f, 0.95f, 1e-6f, 0.1f, 50), 1.0f, 0.1f, 0.01f},
        /* gradients near eps, where its place outside the square root shows */
        {adamw_args(1e-2f, 0.9f, 0.999f, 1e-6f, 0.0f, 1), 1e-6f, 0.0f, 0.0f},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        /* offset 1: the scalar path (pointers not 16-byte aligned) */
        for (int offset = 0; offset < 2; offset++) {
            twin p = twin_normal(n + 1, 70 + k, 0.0f, 0.1f);
            twin g = twin_normal(n + 1, 80 + k, 0.0f, cases[k].grad_std);
            twin m = twin_normal(n + 1, 90 + k, 0.0f, cases[k].exp_avg_std);
            twin v = twin_const(n + 1, cases[k].exp_avg_sq);
            twin args = twin_new(&cases[k].args, sizeof cases[k].args);
            for (int rep = 0; rep < 3; rep++)
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->adamw_step(be_of(b), n, F(p, b) + offset, F(g, b) + offset,
                                              F(m, b) + offset, F(v, b) + offset, args.d[b]);
            char what[96];
            snprintf(what, sizeof what, "adamw case %zu offset %d: parameters", k, offset);
            check_close(p, 1e-6, what);
            snprintf(what, sizeof what, "adamw case %zu offset %d: exp_avg", k, offset);
            check_close(m, 1e-6, what);
            snprintf(what, sizeof what, "adamw case %zu offset %d: exp_avg_sq", k, offset);
            check_close(v, 1e-6, what);
            twin_free(&p);
            twin_free(&g);
            twin_free(&m);
            twin_free(&v);
            twin_free(&args);
        }
    }
}
END_TEST

/* Every row of the optimizer table, its whole step (the row's scalars and
 * op, through the shared launcher) on a small model on both backends: from the same parameters and
 * gradients (scales from 1e-3 to 1, so updates of either sign and size),
 * weight decay on, norms and biases exempt every other step, the same
 * parameters and optimizer state. Twice per row: with its defaults, then
 * with momentum 0.5 where the row has momentum and RMSprop centered. */
START_TEST(test_optimizer_rows)
{
    const nl_optim_kind kind = (nl_optim_kind)(_i % NL_OPTIM_COUNT);
    const bool variant = _i >= NL_OPTIM_COUNT;
    const nl_optim_info *row = nl_optim_info_of(kind);
    nl_model *m[2];
    for (int b = 0; b < 2; b++) {
        nl_model_spec spec;
        nl_model_spec_defaults(&spec);
        spec.in_h = spec.in_w = 4;
        spec.n_widths = 1;
        spec.widths[0] = 8;
        spec.optimizer_state_slots = row->state_slots;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be_of(b), 4, 4, 1, &m[b], &err) == NL_OK, "%s",
                      err.msg);
    }
    const size_t n = m[0]->param_floats;
    ck_assert_uint_eq(m[1]->param_floats, n);
    float *host = malloc(n * sizeof *host);
    ck_assert(host != NULL);
    tu_fill_normal(host, n, 11 + (uint64_t)_i, 0.0f, 0.5f);
    for (int b = 0; b < 2; b++) {
        be_of(b)->ops->upload(be_of(b), m[b]->param_arena, host, n * sizeof *host);
        be_of(b)->ops->fill(be_of(b), m[b]->optim_arena, 0.0f, n * (size_t)row->state_slots);
    }
    nl_optim_spec optim;
    nl_optim_spec_defaults(&optim, kind);
    optim.weight_decay = 0.05f;
    if (variant) {
        if (row->keys & NL_OPTIM_KEY_MOMENTUM)
            optim.momentum = 0.5f;
        optim.centered = true;
    }
    for (int step = 0; step < 6; step++) {
        optim.decay_norm_and_bias = step % 2 == 0;
        tu_fill_normal(host, n, 100 + (uint64_t)step, 0.0f, step % 3 == 0 ? 1e-3f : 1.0f);
        for (int b = 0; b < 2; b++) {
            be_of(b)->ops->upload(be_of(b), m[b]->grad_arena, host, n * sizeof *host);
            nl_optim_step(m[b], &optim, 1e-2f, step);
        }
    }
    char what[96];
    snprintf(what, sizeof what, "optimizer %s%s: parameters", nl_name_of(&nl_optim_names, kind),
             variant ? " (momentum, centered)" : "");
    check_close((twin){{m[0]->param_arena, m[1]->param_arena}, n * sizeof(float)}, 1e-6, what);
    snprintf(what, sizeof what, "optimizer %s%s: state", nl_name_of(&nl_optim_names, kind),
             variant ? " (momentum, centered)" : "");
    check_close((twin){{m[0]->optim_arena, m[1]->optim_arena}, n * row->state_slots * sizeof(float)},
                1e-6, what);
    free(host);
    for (int b = 0; b < 2; b++)
        nl_model_free(m[b]);
}
END_TEST

/* gradient-norm clipping's ops: the parts' sums of squares, then, from the
 * same partials on both, the norm added to the running sum and the scale
 * (below 1, and not at all above) */
START_TEST(test_clip_ops)
{
    const size_t sizes[] = {1, 63, 1000, 70001};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        twin x = twin_normal(n, 100 + k, 0.5f, 2.0f);
        twin slots = twin_empty(2 * NL_CLIP_SLOTS);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->sum_squares(be_of(b), n, F(x, b), (double *)slots.d[b]);
        gpu_sync_ok();
        double *got = fetch(slots, 1), *want = fetch(slots, 0);
        for (int i = 0; i < NL_SUM_SQUARES_PARTS; i++)
            ck_assert_msg(fabs(got[i] - want[i]) <= 1e-12 * fabs(want[i]),
                          "size %zu part %d: GPU %.17g, CPU %.17g", n, i, got[i], want[i]);
        double sum = 0.0;
        for (int i = 0; i < NL_SUM_SQUARES_PARTS; i++)
            sum += want[i];
        const double norm = sqrt(sum);
        /* the CPU's partials on both, and a sum of earlier norms */
        want[NL_CLIP_NORM_SUM] = 0.25;
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->upload(be_of(b), slots.d[b], want, NL_CLIP_SLOTS * sizeof(double));
        const float max_norms[] = {(float)(2.0 * norm), (float)(0.37 * norm)};
        double expected_sum = 0.25;
        for (int c = 0; c < 2; c++) {
            expected_sum += norm;
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->clip_by_norm(be_of(b), n, F(x, b), (double *)slots.d[b], max_norms[c]);
            gpu_sync_ok();
            char what[64];
            snprintf(what, sizeof what, "clip of %zu to %g", n, (double)max_norms[c]);
            check_equal_bytes(x, what);
            double *gs = fetch(slots, 1), *cs = fetch(slots, 0);
            ck_assert_msg(gs[NL_CLIP_NORM_SUM] == cs[NL_CLIP_NORM_SUM] &&
                              cs[NL_CLIP_NORM_SUM] == expected_sum,
                          "%s: sum of norms GPU %.17g, CPU %.17g, expected %.17g", what,
                          gs[NL_CLIP_NORM_SUM], cs[NL_CLIP_NORM_SUM], expected_sum);
            free(gs);
            free(cs);
        }
        free(got);
        free(want);
        twin_free(&x);
        twin_free(&slots);
    }
}
END_TEST

/* loss scaling's pass: the products, the flag (an inf, a NaN, none) and
 * the zero counts of every part, bit for bit */
START_TEST(test_scale_check_finite)
{
    const size_t sizes[] = {1, 63, 1000, 70001};
    const float specials[] = {1.0f, INFINITY, NAN};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int sp = 0; sp < 3; sp++) {
            const size_t n = sizes[k];
            float *h = malloc(n * sizeof *h);
            ck_assert(h != NULL);
            tu_fill_normal(h, n, 300 + k, 0.0f, 2.0f);
            for (size_t i = 0; i < n; i += 5)
                h[i] = 0.0f;
            h[n / 2] = specials[sp];
            twin x = twin_new(h, n * sizeof *h);
            free(h);
            twin factor = twin_const(1, 1.0f / 65536.0f * 3.0f), flag = twin_const(1, 0.0f);
            twin slots = twin_const(2 * NL_UNSCALE_SLOTS, 0.0f); /* doubles 0: 2x the floats */
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->scale_check_finite(be_of(b), n, F(x, b), F(factor, b), F(flag, b),
                                                  (double *)slots.d[b]);
            char what[64];
            snprintf(what, sizeof what, "scale_check_finite of %zu, special %d", n, sp);
            check_equal_floats(x, what);
            check_equal_bytes(flag, what);
            check_equal_bytes(slots, what);
            float *f = fetch(flag, 0);
            ck_assert_msg(*f == (sp > 0 ? 1.0f : 0.0f), "%s: flag %g", what, (double)*f);
            free(f);
            twin_free(&x);
            twin_free(&factor);
            twin_free(&flag);
            twin_free(&slots);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* dense, convolution, pooling, loss                                         */

START_TEST(test_linear)
{
    const int shapes[][3] = {{7, 10, 3}, {32, 784, 256}, {5, 1, 7}, {1, 33, 65}, {130, 64, 10}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        char what[128];
        twin x = twin_normal((size_t)n * in, 70 + s, 0.0f, 1.0f);
        twin w = twin_normal((size_t)out * in, 71 + s, 0.0f, 0.2f);
        twin bias = twin_normal(out, 72 + s, 0.0f, 1.0f);
        twin y = twin_empty((size_t)n * out), dy = twin_normal((size_t)n * out, 73 + s, 0, 1);
        twin dx0 = twin_normal((size_t)n * in, 74 + s, 0.0f, 1.0f), dx = twin_empty((size_t)n * in);
        twin dw = twin_empty((size_t)out * in), db = twin_empty(out);
        void *ws[2];
        for (int b = 0; b < 2; b++) {
            nl_error err = {0};
            size_t bytes = be_of(b)->ops->linear_workspace(be_of(b), n, in, out);
            ck_assert_msg(be_of(b)->ops->alloc(be_of(b), bytes ? bytes : 4, &ws[b], &err) == NL_OK,
                          "%s", err.msg);
        }
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->linear_forward(be_of(b), n, in, out, F(x, b), F(w, b),
                                              with_bias ? F(bias, b) : NULL, F(y, b), ws[b]);
            snprintf(what, sizeof what, "linear forward %dx%d->%d bias=%d", n, in, out,
                     with_bias);
            check_close(y, 1e-4, what);
        }
        for (int mode = 0; mode < 3; mode++) { /* dx written, accumulated, absent */
            twin_copy(dx, dx0);
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->linear_backward(be_of(b), n, in, out, F(x, b), F(w, b), F(dy, b),
                                               mode == 2 ? NULL : F(dx, b), mode == 1, F(dw, b),
                                               F(db, b), ws[b]);
            snprintf(what, sizeof what, "linear backward %dx%d->%d mode %d: dx", n, in, out, mode);
            check_close(dx, 1e-4, what);
            snprintf(what, sizeof what, "linear backward %dx%d->%d mode %d: dweight", n, in, out,
                     mode);
            check_close(dw, 1e-4, what);
            snprintf(what, sizeof what, "linear backward %dx%d->%d mode %d: dbias", n, in, out,
                     mode);
            check_close(db, 1e-5, what);
        }
        void *snap = snapshot(dw);
        gpu_be->ops->linear_backward(gpu_be, n, in, out, F(x, 1), F(w, 1), F(dy, 1), NULL, false,
                                     F(dw, 1), F(db, 1), ws[1]);
        check_repeat(dw, snap, "linear dweight");
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->release(be_of(b), ws[b]);
        twin_free(&x);
        twin_free(&w);
        twin_free(&bias);
        twin_free(&y);
        twin_free(&dy);
        twin_free(&dx0);
        twin_free(&dx);
        twin_free(&dw);
        twin_free(&db);
    }
}
END_TEST

typedef struct {
    int n, in_c, h, w, out_c, k, s, p;
    int large;
} conv_case;

/* ---- train.precision: the product ops under bf16 and fp16 ----
 * The expectation is the autocast semantics written out on the host: the
 * inputs rounded with nl_round_to, the CPU's fp32 op run on them (products
 * of rounded values are exact in fp32, so this is a 16-bit product with
 * fp32 accumulation), its outputs rounded, and an accumulated dx the old
 * value plus the rounded product. Once the CPU side of the product
 * precision is merged, the CPU op runs under be->product_precision itself
 * and this case can compare the two backends' ops directly. */

/* host copy of n normal values (seeded), rounded to p */
static float *rounded_normal(nl_precision p, size_t n, uint64_t seed, float std)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    ck_assert(h != NULL);
    tu_fill_normal(h, n, seed, 0.0f, std);
    for (size_t i = 0; i < n; i++)
        h[i] = nl_round_to(p, h[i]);
    return h;
}

static void upload_to(int b, twin t, const float *h)
{
    if (t.bytes)
        be_of(b)->ops->upload(be_of(b), t.d[b], h, t.bytes);
}

/* The GPU's result against the host expectation `want` (already rounded,
 * or for an accumulated output base + rounded product, base given). The
 * CPU's and cuBLAS's fp32 sums differ in their order by a few fp32 ulps,
 * which moves a value across a rounding boundary of p now and then: one
 * ulp of p is the tolerance, relative to the value. Every value without a
 * base must be exactly representable in p (the rounding happened). */
static void check_rounded(nl_precision p, twin t, const float *want, const float *base,
                          const char *what)
{
    gpu_sync_ok();
    float *g = fetch(t, 1);
    const size_t n = t.bytes / sizeof(float);
    const double ulp = p == NL_PRECISION_BF16 ? 0x1p-7 : 0x1p-10;
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) {
        const float product = base ? g[i] - base[i] : g[i];
        const float want_product = base ? want[i] - base[i] : want[i];
        if (!base)
            ck_assert_msg(nl_round_to(p, g[i]) == g[i], "%s[%zu] = %.9g is not a %s value", what,
                          i, g[i], nl_name_of(&nl_precision_names, p));
        const double diff = fabs((double)product - want_product);
        ck_assert_msg(diff <= ulp * fabs(want_product) + 1e-6, "%s[%zu]: GPU %.9g, expected %.9g",
                      what, i, g[i], want[i]);
        moved += product != want_product;
    }
    /* a boundary crossing is rare; a systematic difference is not */
    ck_assert_msg(moved * 20 <= n + 20, "%s: %zu of %zu values one rounding step apart", what,
                  moved, n);
    free(g);
}

static float *round_all(nl_precision p, float *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] = nl_round_to(p, h[i]);
    return h;
}

START_TEST(test_precision_linear)
{
    const int shapes[][3] = {{7, 10, 3}, {32, 96, 40}, {5, 1, 7}, {65, 64, 10}};
    const nl_precision precisions[] = {NL_PRECISION_BF16, NL_PRECISION_FP16};
    for (size_t pi = 0; pi < 2; pi++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const nl_precision p = precisions[pi];
            const int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
            const uint64_t seed = 300 + 10 * s + pi;
            char what[160];
            /* the unrounded inputs go to the GPU, their rounded twins to the CPU */
            float *hx = rounded_normal(NL_PRECISION_FP32, (size_t)n * in, seed, 1.0f);
            float *hw = rounded_normal(NL_PRECISION_FP32, (size_t)out * in, seed + 1, 0.2f);
            float *hb = rounded_normal(NL_PRECISION_FP32, out, seed + 2, 1.0f);
            float *hdy = rounded_normal(NL_PRECISION_FP32, (size_t)n * out, seed + 3, 1.0f);
            float *hdx0 = rounded_normal(NL_PRECISION_FP32, (size_t)n * in, seed + 4, 1.0f);
            twin x = twin_new(hx, (size_t)n * in * 4), w = twin_new(hw, (size_t)out * in * 4);
            twin bias = twin_new(hb, (size_t)out * 4), dy = twin_new(hdy, (size_t)n * out * 4);
            twin dx0 = twin_new(hdx0, (size_t)n * in * 4), dx = twin_empty((size_t)n * in);
            twin y = twin_empty((size_t)n * out), dw = twin_empty((size_t)out * in);
            twin db = twin_empty(out);
            upload_to(0, x, round_all(p, hx, (size_t)n * in));
            upload_to(0, w, round_all(p, hw, (size_t)out * in));
            upload_to(0, bias, round_all(p, hb, out));
            upload_to(0, dy, round_all(p, hdy, (size_t)n * out));
            gpu_be->product_precision = p;
            void *ws[2];
            for (int b = 0; b < 2; b++) {
                nl_error err = {0};
                const size_t bytes = be_of(b)->ops->linear_workspace(be_of(b), n, in, out);
                ck_assert_msg(be_of(b)->ops->alloc(be_of(b), bytes ? bytes : 4, &ws[b], &err) ==
                                  NL_OK,
                              "%s", err.msg);
            }
            ck_assert_msg(gpu_be->ops->linear_workspace(gpu_be, n, in, out) >=
                              (size_t)(n * in + out * in + n * out) * 2,
                          "the workspace must hold the 16-bit copies");
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->linear_forward(be_of(b), n, in, out, F(x, b), F(w, b),
                                                  with_bias ? F(bias, b) : NULL, F(y, b), ws[b]);
                float *want = round_all(p, fetch(y, 0), (size_t)n * out);
                snprintf(what, sizeof what, "%s linear forward %dx%d->%d bias=%d",
                         nl_name_of(&nl_precision_names, p), n, in, out, with_bias);
                check_rounded(p, y, want, NULL, what);
                free(want);
            }
            for (int mode = 0; mode < 3; mode++) { /* dx written, accumulated, absent */
                twin_copy(dx, dx0);
                /* the CPU computes the plain product; the old value is added below */
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->linear_backward(be_of(b), n, in, out, F(x, b), F(w, b),
                                                   F(dy, b), mode == 2 ? NULL : F(dx, b),
                                                   b == 1 && mode == 1, F(dw, b), F(db, b),
                                                   ws[b]);
                if (mode != 2) {
                    float *want = round_all(p, fetch(dx, 0), (size_t)n * in);
                    if (mode == 1)
                        for (size_t i = 0; i < (size_t)n * in; i++)
                            want[i] += hdx0[i];
                    snprintf(what, sizeof what, "%s linear backward %dx%d->%d mode %d: dx",
                             nl_name_of(&nl_precision_names, p), n, in, out, mode);
                    check_rounded(p, dx, want, mode == 1 ? hdx0 : NULL, what);
                    free(want);
                }
                float *want_w = round_all(p, fetch(dw, 0), (size_t)out * in);
                float *want_b = round_all(p, fetch(db, 0), out);
                snprintf(what, sizeof what, "%s linear backward %dx%d->%d mode %d: dweight",
                         nl_name_of(&nl_precision_names, p), n, in, out, mode);
                check_rounded(p, dw, want_w, NULL, what);
                snprintf(what, sizeof what, "%s linear backward %dx%d->%d mode %d: dbias",
                         nl_name_of(&nl_precision_names, p), n, in, out, mode);
                check_rounded(p, db, want_b, NULL, what);
                free(want_w);
                free(want_b);
            }
            gpu_be->product_precision = NL_PRECISION_FP32;
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->release(be_of(b), ws[b]);
            twin *all[] = {&x, &w, &bias, &dy, &dx0, &dx, &y, &dw, &db};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                twin_free(all[i]);
            free(hx), free(hw), free(hb), free(hdy), free(hdx0);
        }
}
END_TEST

START_TEST(test_conv2d)
{
    const conv_case cases[] = {
        {3, 6, 5, 7, 4, 3, 1, 1, 0},  {3, 6, 5, 7, 4, 3, 2, 1, 0},   {2, 5, 9, 8, 7, 1, 1, 0, 0},
        {4, 6, 9, 7, 8, 1, 2, 0, 0},  {2, 3, 11, 13, 5, 5, 2, 2, 0}, {1, 1, 3, 3, 1, 3, 1, 0, 0},
        {16, 8, 12, 12, 16, 3, 1, 1, 0},
        /* 64 samples of (64, 32, 32): two workspace chunks */
        {64, 64, 32, 32, 64, 3, 1, 1, 1},
    };
    /* the channel block each side's convolutions read in place: none on the
     * GPU (model.layout: blocked is the CPU's, refused on a CUDA device);
     * on the CPU oneDNN's (8 on AVX2, 16 on AVX-512) or none without it */
    ck_assert_int_eq(gpu_be->ops->conv_block(gpu_be), 0);
    const int cpu_block = cpu_be->ops->conv_block(cpu_be);
    ck_assert_msg(cpu_block == 0 || cpu_block == 8 || cpu_block == 16, "CPU block %d", cpu_block);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const conv_case cc = cases[t];
        if (cc.large && quick())
            continue;
        nl_conv_geom g = {cc.in_c, cc.h, cc.w, cc.out_c, 0, 0, cc.k, cc.s, cc.p, 0, 0, NL_CONV_DIRECT, {0}};
        g.out_h = (cc.h + 2 * cc.p - cc.k) / cc.s + 1;
        g.out_w = (cc.w + 2 * cc.p - cc.k) / cc.s + 1;
        const size_t in_n = (size_t)cc.n * cc.in_c * cc.h * cc.w;
        const size_t out_n = (size_t)cc.n * cc.out_c * g.out_h * g.out_w;
        const size_t w_n = (size_t)cc.out_c * cc.in_c * cc.k * cc.k;
        char what[160];
        twin x = twin_normal(in_n, 80 + t, 0.0f, 1.0f), w = twin_normal(w_n, 81 + t, 0.0f, 0.3f);
        twin bias = twin_normal(cc.out_c, 82 + t, 0.0f, 1.0f), y = twin_empty(out_n);
        twin dy = twin_normal(out_n, 83 + t, 0.0f, 1.0f), dx0 = twin_normal(in_n, 84 + t, 0, 1);
        twin dx = twin_empty(in_n), dw = twin_empty(w_n), db = twin_empty(cc.out_c);
        void *ws[2];
        size_t ws_bytes[2];
        for (int b = 0; b < 2; b++) {
            nl_error err = {0};
            size_t bytes = ws_bytes[b] = be_of(b)->ops->conv2d_workspace(be_of(b), &g, cc.n);
            ck_assert_msg(be_of(b)->ops->alloc(be_of(b), bytes ? bytes : 4, &ws[b], &err) == NL_OK,
                          "%s", err.msg);
        }
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->conv2d_forward(be_of(b), &g, cc.n, F(x, b), F(w, b),
                                              with_bias ? F(bias, b) : NULL, F(y, b), ws[b],
                                              ws_bytes[b]);
            snprintf(what, sizeof what, "conv forward case %zu (k%d s%d p%d) bias=%d", t, cc.k,
                     cc.s, cc.p, with_bias);
            check_close(y, 1e-4, what);
        }
        for (int mode = 0; mode < 3; mode++) {
            twin_copy(dx, dx0);
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->conv2d_backward(be_of(b), &g, cc.n, F(x, b), F(w, b), F(dy, b),
                                               mode == 2 ? NULL : F(dx, b), mode == 1, F(dw, b),
                                               F(db, b), ws[b], ws_bytes[b]);
            snprintf(what, sizeof what, "conv backward case %zu mode %d: dx", t, mode);
            check_close(dx, 1e-4, what);
            snprintf(what, sizeof what, "conv backward case %zu mode %d: dweight", t, mode);
            check_close(dw, 1e-4, what);
            snprintf(what, sizeof what, "conv backward case %zu mode %d: dbias", t, mode);
            check_close(db, 1e-5, what);
        }
        void *snap = snapshot(dw);
        gpu_be->ops->conv2d_backward(gpu_be, &g, cc.n, F(x, 1), F(w, 1), F(dy, 1), NULL, false,
                                     F(dw, 1), NULL, ws[1], ws_bytes[1]);
        check_repeat(dw, snap, "conv dweight");
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->release(be_of(b), ws[b]);
        twin_free(&x);
        twin_free(&w);
        twin_free(&bias);
        twin_free(&y);
        twin_free(&dy);
        twin_free(&dx0);
        twin_free(&dx);
        twin_free(&dw);
        twin_free(&db);
    }
}
END_TEST

/* train.precision on conv2d, the expectation written out as in
 * test_precision_linear (the CPU's fp32 convolution of rounded operands,
 * its outputs rounded) */
START_TEST(test_precision_conv2d)
{
    const conv_case cases[] = {
        {3, 6, 5, 7, 4, 3, 1, 1, 0}, {2, 5, 9, 8, 7, 1, 1, 0, 0}, {2, 3, 11, 13, 5, 5, 2, 2, 0}};
    const nl_precision precisions[] = {NL_PRECISION_BF16, NL_PRECISION_FP16};
    for (size_t pi = 0; pi < 2; pi++)
        for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
            const nl_precision p = precisions[pi];
            const conv_case cc = cases[t];
            nl_conv_geom g = {cc.in_c, cc.h, cc.w, cc.out_c, 0, 0, cc.k, cc.s, cc.p, 0, 0, NL_CONV_DIRECT, {0}};
            g.out_h = (cc.h + 2 * cc.p - cc.k) / cc.s + 1;
            g.out_w = (cc.w + 2 * cc.p - cc.k) / cc.s + 1;
            const size_t in_n = (size_t)cc.n * cc.in_c * cc.h * cc.w;
            const size_t out_n = (size_t)cc.n * cc.out_c * g.out_h * g.out_w;
            const size_t w_n = (size_t)cc.out_c * cc.in_c * cc.k * cc.k;
            const uint64_t seed = 400 + 10 * t + pi;
            char what[160];
            float *hx = rounded_normal(NL_PRECISION_FP32, in_n, seed, 1.0f);
            float *hw = rounded_normal(NL_PRECISION_FP32, w_n, seed + 1, 0.3f);
            float *hb = rounded_normal(NL_PRECISION_FP32, cc.out_c, seed + 2, 1.0f);
            float *hdy = rounded_normal(NL_PRECISION_FP32, out_n, seed + 3, 1.0f);
            float *hdx0 = rounded_normal(NL_PRECISION_FP32, in_n, seed + 4, 1.0f);
            twin x = twin_new(hx, in_n * 4), w = twin_new(hw, w_n * 4);
            twin bias = twin_new(hb, (size_t)cc.out_c * 4), dy = twin_new(hdy, out_n * 4);
            twin dx0 = twin_new(hdx0, in_n * 4), dx = twin_empty(in_n), y = twin_empty(out_n);
            twin dw = twin_empty(w_n), db = twin_empty(cc.out_c);
            upload_to(0, x, round_all(p, hx, in_n));
            upload_to(0, w, round_all(p, hw, w_n));
            upload_to(0, bias, round_all(p, hb, cc.out_c));
            upload_to(0, dy, round_all(p, hdy, out_n));
            gpu_be->product_precision = p;
            void *ws[2];
            size_t ws_bytes[2];
            for (int b = 0; b < 2; b++) {
                nl_error err = {0};
                const size_t bytes = ws_bytes[b] = be_of(b)->ops->conv2d_workspace(be_of(b), &g, cc.n);
                ck_assert_msg(be_of(b)->ops->alloc(be_of(b), bytes ? bytes : 4, &ws[b], &err) ==
                                  NL_OK,
                              "%s", err.msg);
            }
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->conv2d_forward(be_of(b), &g, cc.n, F(x, b), F(w, b),
                                                  with_bias ? F(bias, b) : NULL, F(y, b), ws[b],
                                                  ws_bytes[b]);
                float *want = round_all(p, fetch(y, 0), out_n);
                snprintf(what, sizeof what, "%s conv forward case %zu bias=%d",
                         nl_name_of(&nl_precision_names, p), t, with_bias);
                check_rounded(p, y, want, NULL, what);
                free(want);
            }
            for (int mode = 0; mode < 3; mode++) { /* dx written, accumulated, absent */
                twin_copy(dx, dx0);
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->conv2d_backward(be_of(b), &g, cc.n, F(x, b), F(w, b),
                                                   F(dy, b), mode == 2 ? NULL : F(dx, b),
                                                   b == 1 && mode == 1, F(dw, b), F(db, b),
                                                   ws[b], ws_bytes[b]);
                if (mode != 2) {
                    float *want = round_all(p, fetch(dx, 0), in_n);
                    if (mode == 1)
                        for (size_t i = 0; i < in_n; i++)
                            want[i] += hdx0[i];
                    snprintf(what, sizeof what, "%s conv backward case %zu mode %d: dx",
                             nl_name_of(&nl_precision_names, p), t, mode);
                    check_rounded(p, dx, want, mode == 1 ? hdx0 : NULL, what);
                    free(want);
                }
                float *want_w = round_all(p, fetch(dw, 0), w_n);
                float *want_b = round_all(p, fetch(db, 0), cc.out_c);
                snprintf(what, sizeof what, "%s conv backward case %zu mode %d: dweight",
                         nl_name_of(&nl_precision_names, p), t, mode);
                check_rounded(p, dw, want_w, NULL, what);
                snprintf(what, sizeof what, "%s conv backward case %zu mode %d: dbias",
                         nl_name_of(&nl_precision_names, p), t, mode);
                check_rounded(p, db, want_b, NULL, what);
                free(want_w);
                free(want_b);
            }
            gpu_be->product_precision = NL_PRECISION_FP32;
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->release(be_of(b), ws[b]);
            twin *all[] = {&x, &w, &bias, &dy, &dx0, &dx, &y, &dw, &db};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                twin_free(all[i]);
            free(hx), free(hw), free(hb), free(hdy), free(hdx0);
        }
}
END_TEST

START_TEST(test_pool)
{
    /* kind, c, in_h, in_w, kernel_h, kernel_w, stride, pad, relu_input;
     * kernel 0: global */
    const int cases[][9] = {
        {NL_POOL_MAX, 3, 5, 7, 2, 2, 2, 0, 0}, {NL_POOL_AVG, 3, 5, 7, 2, 2, 2, 0, 0},
        {NL_POOL_MAX, 2, 6, 6, 3, 3, 2, 1, 0}, {NL_POOL_AVG, 2, 6, 6, 3, 3, 2, 1, 0},
        {NL_POOL_MAX, 4, 7, 5, 3, 3, 1, 1, 0}, {NL_POOL_AVG, 5, 5, 7, 0, 0, 1, 0, 0},
        {NL_POOL_MAX, 8, 32, 32, 2, 2, 2, 0, 0}, {NL_POOL_MAX, 3, 5, 7, 2, 2, 2, 0, 1},
        {NL_POOL_MAX, 2, 6, 6, 3, 3, 2, 1, 1},   {NL_POOL_MAX, 8, 32, 33, 2, 2, 2, 0, 1},
    };
    const int n = 3;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        /* block 0: NCHW, the GPU's layout (a field left to the stack
         * could send the CPU down its channel-blocked path) */
        nl_pool_geom g = {0};
        g.kind = (nl_pool_kind)cases[t][0];
        g.c = cases[t][1];
        g.in_h = cases[t][2];
        g.in_w = cases[t][3];
        g.kernel_h = cases[t][4] ? cases[t][4] : g.in_h;
        g.kernel_w = cases[t][5] ? cases[t][5] : g.in_w;
        g.stride = cases[t][6];
        g.pad = cases[t][7];
        g.relu_input = cases[t][8] != 0;
        g.out_h = (g.in_h + 2 * g.pad - g.kernel_h) / g.stride + 1;
        g.out_w = (g.in_w + 2 * g.pad - g.kernel_w) / g.stride + 1;
        const size_t in_n = (size_t)n * g.c * g.in_h * g.in_w;
        const size_t out_n = (size_t)n * g.c * g.out_h * g.out_w;
        /* values on a coarse grid, so windows hold ties */
        float *h = malloc(in_n * sizeof *h);
        tu_fill_normal(h, in_n, 90 + t, 0.0f, 1.0f);
        for (size_t i = 0; i < in_n; i++)
            h[i] = roundf(h[i] * 2.0f) / 2.0f;
        twin x = twin_new(h, in_n * sizeof *h);
        free(h);
        twin y = twin_empty(out_n), am = twin_new(NULL, out_n * sizeof(int32_t));
        twin dy = twin_normal(out_n, 91 + t, 0.0f, 1.0f), dx0 = twin_normal(in_n, 92 + t, 0, 1);
        twin dx = twin_empty(in_n);
        char what[96];
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->pool_forward(be_of(b), &g, n, F(x, b), F(y, b), (int32_t *)am.d[b]);
        snprintf(what, sizeof what, "pool forward case %zu", t);
        check_equal_bytes(y, what);
        if (g.kind == NL_POOL_MAX) {
            snprintf(what, sizeof what, "pool argmax case %zu", t);
            check_equal_bytes(am, what);
        }
        for (int acc = 0; acc < 2; acc++) {
            twin_copy(dx, dx0);
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->pool_backward(be_of(b), &g, n, F(dy, b), (int32_t *)am.d[b],
                                             F(dx, b), acc);
            snprintf(what, sizeof what, "pool backward case %zu acc=%d", t, acc);
            check_equal_bytes(dx, what);
        }
        twin_free(&x);
        twin_free(&y);
        twin_free(&am);
        twin_free(&dy);
        twin_free(&dx0);
        twin_free(&dx);
    }
}
END_TEST

START_TEST(test_loss)
{
    const int shapes[][2] = {{7, 10}, {300, 10}, {3, 1000}, {1, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s][0], classes = shapes[s][1];
        const size_t count = (size_t)n * classes;
        int32_t *labels = malloc(n * sizeof *labels);
        for (int i = 0; i < n; i++)
            labels[i] = (int32_t)((i * 7 + 3) % classes);
        twin logits = twin_normal(count, 100 + s, 0.5f, 3.0f);
        twin lab = twin_new(labels, n * sizeof *labels), probs = twin_empty(count);
        twin dl = twin_empty(count);
        const double m0[2] = {1.5, 2.0};
        twin met = twin_new(m0, sizeof m0);
        for (int rep = 0; rep < 2; rep++)
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->softmax_xent_forward(be_of(b), n, classes, F(logits, b),
                                                    (int32_t *)lab.d[b], F(probs, b),
                                                    (double *)met.d[b]);
        char what[96];
        snprintf(what, sizeof what, "softmax probabilities %dx%d", n, classes);
        check_close(probs, 1e-5, what);
        gpu_sync_ok();
        double *mg = fetch(met, 1), *mc = fetch(met, 0);
        ck_assert_msg(fabs(mg[0] - mc[0]) <= 1e-5 * fabs(mc[0]), "loss sum %.17g vs %.17g",
                      mg[0], mc[0]);
        ck_assert_msg(mg[1] == mc[1], "correct count %g vs %g", mg[1], mc[1]);
        free(mg);
        free(mc);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->softmax_xent_backward(be_of(b), n, classes, F(probs, b),
                                                 (int32_t *)lab.d[b], F(dl, b));
        snprintf(what, sizeof what, "softmax backward %dx%d", n, classes);
        check_close(dl, 1e-5, what);
        free(labels);
        twin_free(&logits);
        twin_free(&lab);
        twin_free(&probs);
        twin_free(&dl);
        twin_free(&met);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* tokens: GELU, embedding, causal attention                                 */

START_TEST(test_gelu)
{
    const size_t sizes[] = {1, 3, 1000, 100003};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int offset = 0; offset < 2; offset++) { /* 1: misaligned, scalar path */
            const size_t n = sizes[si];
            char what[160];
            twin x = twin_normal(n + 1, 110 + si, 0.0f, 3.0f), y = twin_const(n + 1, 0.0f);
            twin dy = twin_normal(n + 1, 120 + si, 0.0f, 1.0f);
            twin dx0 = twin_normal(n + 1, 130 + si, 0.0f, 1.0f), dx = twin_empty(n + 1);
            for (int kind = 0; kind < NL_GELU_COUNT; kind++) {
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->gelu_forward(be_of(b), (nl_gelu_kind)kind, n, F(x, b) + offset,
                                                F(y, b) + offset);
                snprintf(what, sizeof what, "gelu %d forward, n=%zu offset %d", kind, n, offset);
                check_close(y, 1e-5, what);
                for (int acc = 0; acc < 2; acc++) {
                    twin_copy(dx, dx0);
                    for (int b = 0; b < 2; b++)
                        be_of(b)->ops->gelu_backward(be_of(b), (nl_gelu_kind)kind, n,
                                                     F(x, b) + offset, F(dy, b) + offset,
                                                     F(dx, b) + offset, acc);
                    snprintf(what, sizeof what, "gelu %d backward acc=%d, n=%zu offset %d", kind,
                             acc, n, offset);
                    check_close(dx, 1e-5, what);
                }
            }
            twin *all[] = {&x, &y, &dy, &dx0, &dx};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                twin_free(all[i]);
        }
    }
}
END_TEST

static void *alloc_workspace(int b, size_t bytes)
{
    void *ws = NULL;
    nl_error err = {0};
    ck_assert_msg(be_of(b)->ops->alloc(be_of(b), bytes ? bytes : 4, &ws, &err) == NL_OK, "%s",
                  err.msg);
    return ws;
}

/* The embedding matches the CPU bit for bit, the backward's scatter-add too
 * (backend.h fixes its order). Tokens skewed toward a few ids (many repeats,
 * some ids absent), tables with more positions than the sequence. */
START_TEST(test_embedding)
{
    /* n, t, d, vocab: odd d (scalar path), several sort tiles, a vocabulary
     * larger than the offsets kernel's threads */
    const int shapes[][4] = {{3, 7, 5, 11}, {4, 33, 16, 256}, {2, 300, 8, 50},
                             {1, 1, 1, 1},  {2, 64, 4, 5000}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        const int n = shapes[sh][0], t = shapes[sh][1], d = shapes[sh][2];
        const int vocab = shapes[sh][3], context = t + 3;
        const size_t rows = (size_t)n * t;
        int32_t *tok = malloc(rows * sizeof *tok);
        float *u = malloc(rows * sizeof *u);
        tu_fill_uniform(u, rows, 140 + sh, 0.0f, 1.0f);
        for (size_t p = 0; p < rows; p++) /* u^3: small ids far more often */
            tok[p] = (int32_t)((double)u[p] * u[p] * u[p] * vocab) % vocab;
        twin tokens = twin_new(tok, rows * sizeof *tok);
        twin table = twin_normal((size_t)vocab * d, 150 + sh, 0.0f, 1.0f);
        twin pos = twin_normal((size_t)context * d, 160 + sh, 0.0f, 1.0f);
        twin y = twin_empty(rows * d), dy = twin_normal(rows * d, 170 + sh, 0.0f, 1.0f);
        twin dtable0 = twin_normal((size_t)vocab * d, 180 + sh, 0.0f, 1.0f);
        twin dtable = twin_empty((size_t)vocab * d);
        twin dpos0 = twin_normal((size_t)context * d, 190 + sh, 0.0f, 1.0f);
        twin dpos = twin_empty((size_t)context * d);
        char what[160];
        for (int with_pos = 0; with_pos < 2; with_pos++) {
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->embedding_forward(be_of(b), n, t, d, (int32_t *)tokens.d[b],
                                                 F(table, b), with_pos ? F(pos, b) : NULL,
                                                 F(y, b));
            snprintf(what, sizeof what, "embedding forward n=%d t=%d d=%d vocab=%d pos=%d", n, t,
                     d, vocab, with_pos);
            check_equal_bytes(y, what);
        }
        void *ws[2];
        for (int b = 0; b < 2; b++)
            ws[b] = alloc_workspace(
                b, be_of(b)->ops->embedding_backward_workspace(be_of(b), n, t, vocab));
        for (int mode = 0; mode < 3; mode++) { /* written, accumulated, no position table */
            /* written: from NaN, so every row must be set (absent tokens to 0) */
            if (mode == 1)
                twin_copy(dtable, dtable0);
            else
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->fill(be_of(b), F(dtable, b), NAN, (size_t)vocab * d);
            twin_copy(dpos, dpos0); /* rows t.. of the table must stay as they are */
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->embedding_backward(be_of(b), n, t, d, vocab,
                                                  (int32_t *)tokens.d[b], F(dy, b), F(dtable, b),
                                                  mode == 1, mode == 2 ? NULL : F(dpos, b), ws[b]);
            snprintf(what, sizeof what, "embedding backward n=%d t=%d d=%d vocab=%d mode %d: token",
                     n, t, d, vocab, mode);
            check_equal_bytes(dtable, what);
            snprintf(what, sizeof what, "embedding backward n=%d t=%d d=%d vocab=%d mode %d: pos",
                     n, t, d, vocab, mode);
            check_equal_bytes(dpos, what);
        }
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->release(be_of(b), ws[b]);
        free(tok);
        free(u);
        twin *all[] = {&tokens, &table, &pos, &y, &dy, &dtable0, &dtable, &dpos0, &dpos};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            twin_free(all[i]);
    }
}
END_TEST

typedef struct {
    int n, t, heads, head_dim;
    bool fused; /* q, k, v the thirds of one (N, T, 3D) buffer */
    bool large;
    bool bidirectional; /* no causal mask (the ViT) */
} attn_case;

/* one attention case's tensors on both backends: q, k, v (fused: the
 * thirds of one (N, T, 3D) buffer at 0, D, 2D; else three), their
 * gradients, probs, y, the largest logit and dy */
typedef struct {
    nl_attn_geom g;
    int count; /* buffers behind q, k, v: 1 fused, else 3 */
    size_t out_floats; /* y's and dy's: N * T * D */
    twin qkv[3], grad[3], probs, y, big, dy;
    const float *in[2][3];
    float *gr[2][3];
    void *ws[2];
} attn_twins;

/* q, k, v ~ N(0, 1.5^2) from seeds qkv_seed + i, dy ~ N(0, 1) from dy_seed */
static attn_twins attn_twins_make(const attn_case *ac, uint64_t qkv_seed, uint64_t dy_seed)
{
    attn_twins a = {.count = ac->fused ? 1 : 3};
    const int D = ac->heads * ac->head_dim, ld = ac->fused ? 3 * D : D;
    const size_t rows = (size_t)ac->n * ac->t;
    a.g = (nl_attn_geom){ac->n, ac->t, ac->heads, ac->head_dim, ld, ld, ld,
                         1.0f / sqrtf((float)ac->head_dim), ac->bidirectional};
    a.out_floats = rows * D;
    for (int i = 0; i < a.count; i++) {
        a.qkv[i] = twin_normal(rows * ld, qkv_seed + i, 0.0f, 1.5f);
        a.grad[i] = twin_empty(rows * ld);
    }
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++) {
            a.in[b][i] = ac->fused ? F(a.qkv[0], b) + (size_t)i * D : F(a.qkv[i], b);
            a.gr[b][i] = ac->fused ? F(a.grad[0], b) + (size_t)i * D : F(a.grad[i], b);
        }
    a.probs = twin_empty((size_t)ac->n * ac->heads * ac->t * ac->t);
    a.y = twin_empty(a.out_floats);
    a.big = twin_empty(1);
    a.dy = twin_normal(a.out_floats, dy_seed, 0.0f, 1.0f);
    return a;
}

/* each backend's workspace, at its product precision as set now */
static void attn_twins_plan(attn_twins *a)
{
    for (int b = 0; b < 2; b++)
        a->ws[b] = alloc_workspace(b, be_of(b)->ops->attention_workspace(be_of(b), &a->g));
}

static void attn_twins_free(attn_twins *a)
{
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->release(be_of(b), a->ws[b]);
    for (int i = 0; i < a->count; i++) {
        twin_free(&a->qkv[i]);
        twin_free(&a->grad[i]);
    }
    twin_free(&a->probs);
    twin_free(&a->y);
    twin_free(&a->big);
    twin_free(&a->dy);
}

/* Attention against the CPU: probs, y, the largest logit, and the three
 * gradients, written over NaN (never accumulated); then a second GPU
 * backward gives the same bits. */
START_TEST(test_attention)
{
    const attn_case cases[] = {
        {2, 5, 2, 3, true, false, false},    {1, 33, 3, 16, false, false, false}, /* past one tile of keys */
        {2, 40, 2, 64, true, false, false},  {1, 1, 1, 8, false, false, false},
        {1, 70, 1, 40, false, false, false}, /* three tiles; head_dim not a multiple of 32 */
        {1, 9, 2, 200, true, false, false},  /* tiles over 48 KiB of shared memory */
        {4, 256, 4, 64, true, true, false},
        /* bidirectional: one tile; keys past the query's tile in three
         * tiles; the ViT's 17 tokens */
        {2, 5, 2, 3, true, false, true},
        {1, 70, 1, 40, false, false, true},
        {3, 17, 4, 8, true, false, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const attn_case ac = cases[c];
        if (ac.large && quick())
            continue;
        attn_twins a = attn_twins_make(&ac, 200 + 10 * c, 250 + c);
        attn_twins_plan(&a);
        char what[160];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "attention n=%d t=%d heads=%d hd=%d fused=%d bidir=%d: %s", ac.n, \
              ac.t, ac.heads, ac.head_dim, ac.fused, ac.bidirectional, part),                     \
     what)
        for (int with_max = 0; with_max < 2; with_max++) {
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->attention_forward(be_of(b), &a.g, a.in[b][0], a.in[b][1], a.in[b][2],
                                                 F(a.probs, b), F(a.y, b),
                                                 with_max ? F(a.big, b) : NULL, a.ws[b]);
            check_close(a.probs, 1e-5, WHAT("probs"));
            check_close(a.y, 1e-4, WHAT("y"));
        }
        check_close(a.big, 1e-5, WHAT("largest logit"));
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->attention_backward(be_of(b), &a.g, a.in[b][0], a.in[b][1],
                                              a.in[b][2], F(a.probs, b), F(a.dy, b), a.gr[b][0],
                                              a.gr[b][1], a.gr[b][2], a.ws[b]);
        for (int i = 0; i < a.count; i++)
            check_close(a.grad[i], 1e-4, WHAT(ac.fused ? "dqkv" : i == 0 ? "dq" : i == 1 ? "dk" : "dv"));
        void *snap = snapshot(a.grad[0]);
        gpu_be->ops->attention_backward(gpu_be, &a.g, a.in[1][0], a.in[1][1], a.in[1][2],
                                        F(a.probs, 1), F(a.dy, 1), a.gr[1][0], a.gr[1][1],
                                        a.gr[1][2], a.ws[1]);
        check_repeat(a.grad[0], snap, WHAT("gradient"));
#undef WHAT
        attn_twins_free(&a);
    }
}
END_TEST

/* The ViT's ops against the CPU bit for bit (copies, adds, and sums over
 * the samples in the order backend.h fixes): outputs and gradients written
 * over NaN, gradients also added to ones already there. */
START_TEST(test_vit_ops)
{
    /* patchify: n, c, h, w, p; the token ops read (n, t = h, d = c) */
    const int shapes[][5] = {{64, 1, 28, 28, 7}, {3, 2, 9, 9, 3}, {2, 3, 6, 4, 2}, {1, 1, 1, 1, 1},
                             {5, 24, 17, 1, 1}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        const int n = shapes[sh][0], c = shapes[sh][1], h = shapes[sh][2], w = shapes[sh][3];
        const int p = shapes[sh][4], t = h, d = c;
        const size_t image = (size_t)n * c * h * w, tokens = (size_t)n * t * d;
        char what[160];
#define VWHAT(part) (snprintf(what, sizeof what, "vit (%d,%d,%d,%d,%d): %s", n, c, h, w, p, part), what)
        twin x = twin_normal(image, 1100 + sh, 0.0f, 1.0f), y = twin_empty(image);
        twin dx0 = twin_normal(image, 1110 + sh, 0.0f, 1.0f), dx = twin_empty(image);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->patchify_forward(be_of(b), n, c, h, w, p, F(x, b), F(y, b));
        check_equal_bytes(y, VWHAT("patchify forward"));
        for (int acc = 0; acc < 2; acc++) {
            if (acc)
                twin_copy(dx, dx0);
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->patchify_backward(be_of(b), n, c, h, w, p, F(x, b), F(dx, b), acc);
            check_equal_bytes(dx, VWHAT(acc ? "patchify backward, added" : "patchify backward"));
        }
        twin_free(&x), twin_free(&y), twin_free(&dx0), twin_free(&dx);

        const size_t with_cls = tokens + (size_t)n * d;
        twin tx = twin_normal(tokens, 1120 + sh, 0.0f, 1.0f), pos = twin_normal((size_t)t * d, 1130 + sh, 0.0f, 1.0f);
        twin cls = twin_normal((size_t)d, 1140 + sh, 0.0f, 1.0f), ty = twin_empty(with_cls);
        twin dy = twin_normal(with_cls, 1150 + sh, 0.0f, 1.0f), tdx0 = twin_normal(tokens, 1160 + sh, 0.0f, 1.0f);
        twin tdx = twin_empty(tokens), dparam = twin_empty((size_t)t * d);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->pos_add_forward(be_of(b), n, t, d, F(tx, b), F(pos, b), F(ty, b));
        check_equal_bytes(ty, VWHAT("pos_add forward"));
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->cls_prepend_forward(be_of(b), n, t, d, F(tx, b), F(cls, b), F(ty, b));
        check_equal_bytes(ty, VWHAT("cls_prepend forward"));
        for (int kind = 0; kind < NL_TOKEN_POOL_COUNT; kind++) {
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->token_pool_forward(be_of(b), (nl_token_pool)kind, n, t, d, F(tx, b),
                                                  F(ty, b));
            check_equal_bytes(ty, VWHAT(kind ? "mean pool forward" : "cls pool forward"));
        }
        for (int acc = 0; acc < 2; acc++) {
            /* with_dx 0: the op without an input gradient (dx NULL) */
            for (int with_dx = 0; with_dx < 2; with_dx++) {
                twin_copy(tdx, tdx0);
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->pos_add_backward(be_of(b), n, t, d, F(dy, b),
                                                    with_dx ? F(tdx, b) : NULL, acc, F(dparam, b));
                check_equal_bytes(tdx, VWHAT("pos_add dx"));
                check_equal_bytes(dparam, VWHAT("pos_add dpos"));
                twin_copy(tdx, tdx0);
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->cls_prepend_backward(be_of(b), n, t, d, F(dy, b),
                                                        with_dx ? F(tdx, b) : NULL, acc,
                                                        F(dparam, b));
                check_equal_bytes(tdx, VWHAT("cls_prepend dx"));
                check_equal_bytes(dparam, VWHAT("cls_prepend dcls"));
            }
            for (int kind = 0; kind < NL_TOKEN_POOL_COUNT; kind++) {
                if (acc)
                    twin_copy(tdx, tdx0);
                else
                    for (int b = 0; b < 2; b++)
                        be_of(b)->ops->fill(be_of(b), F(tdx, b), NAN, tokens);
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->token_pool_backward(be_of(b), (nl_token_pool)kind, n, t, d,
                                                       F(dy, b), F(tdx, b), acc);
                check_equal_bytes(tdx, VWHAT(kind ? "mean pool backward" : "cls pool backward"));
            }
        }
#undef VWHAT
        twin *all[] = {&tx, &pos, &cls, &ty, &dy, &tdx0, &tdx, &dparam};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            twin_free(all[i]);
    }
}
END_TEST

/* heads wider than a block's shared memory holds: an error at
 * synchronize, not a crash or a result */
START_TEST(test_attention_too_wide)
{
    const int hd = 1000;
    nl_attn_geom g = {1, 2, 1, hd, hd, hd, hd, 1.0f, false};
    twin x = twin_normal(2 * hd, 300, 0.0f, 1.0f), probs = twin_empty(4), y = twin_empty(2 * hd);
    gpu_be->ops->attention_forward(gpu_be, &g, F(x, 1), F(x, 1), F(x, 1), F(probs, 1), F(y, 1),
                                   NULL, NULL);
    nl_error err = {0};
    ck_assert_int_eq(gpu_be->ops->synchronize(gpu_be, &err), NL_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "head_dim 1000") != NULL, "message: %s", err.msg);
    twin_free(&x);
    twin_free(&probs);
    twin_free(&y);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* normalization                                                             */

/* planner modes: automatic, fused + shared memory, fused from global, split */
static const char *const norm_modes[][2] = {
    {NULL, NULL}, {"1", NULL}, {"1", "0"}, {"5", NULL}};

/* the planner mode of the backends opened until clear_norm_mode() */
static void set_norm_mode(int mode)
{
    if (norm_modes[mode][0])
        setenv("NORMLAB_CUDA_NORM_SPLITS", norm_modes[mode][0], 1);
    else
        unsetenv("NORMLAB_CUDA_NORM_SPLITS");
    if (norm_modes[mode][1])
        setenv("NORMLAB_CUDA_NORM_SMEM", norm_modes[mode][1], 1);
    else
        unsetenv("NORMLAB_CUDA_NORM_SMEM");
}

static void clear_norm_mode(void)
{
    unsetenv("NORMLAB_CUDA_NORM_SPLITS");
    unsetenv("NORMLAB_CUDA_NORM_SMEM");
}

static void open_gpu_mode(int mode)
{
    set_norm_mode(mode);
    open_gpu();
    clear_norm_mode();
}

typedef struct {
    int n, c, hw;
    float mean; /* of x: a large mean tests the variance's cancellation */
    int large;
} norm_shape;

static const norm_shape norm_shapes[] = {
    {3, 6, 35, 0.0f, 0},   /* 5x7: odd plane, scalar path */
    {7, 10, 1, 0.5f, 0},   /* (7, 10) feature vectors */
    {4, 300, 4, 0.0f, 0},  /* many channels, tiny planes */
    {2, 8, 4096, 0.0f, 0}, /* few channels, 64x64 planes */
    {5, 4, 49, 100.0f, 0}, /* |mean| >> std */
    {1, 3, 12, -3.0f, 0},
    {32, 64, 3136, 0.0f, 1}, /* (32, 64, 56, 56) */
};

/* the forward in two steps, norm_stats then norm_apply, each backend from
 * its own statistics (as a run does), also against its fused forward's y */
static void split_case(const nl_norm_geom *g, twin x, twin gamma, twin beta, twin y_fused,
                       int running, uint64_t seed, const char *what_case)
{
    const size_t stats = (size_t)nl_norm_stat_groups(g), c = (size_t)g->c;
    const size_t count = (size_t)g->n * c * g->hw;
    char what[240];
#define WHAT(part) (snprintf(what, sizeof what, "%s: split: %s", what_case, part), what)
    twin mean = twin_empty(stats), var = twin_empty(stats), rstd = twin_empty(stats);
    twin y = twin_empty(count);
    twin rm = twin_normal(c, seed + 6, 0.0f, 0.1f), rv = twin_const(c, 1.5f);
    twin momentum = twin_const(1, 0.1f);
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->norm_stats(be_of(b), g, F(x, b), F(mean, b), F(var, b),
                                  running ? F(rm, b) : NULL, running ? F(rv, b) : NULL,
                                  F(momentum, b));
    check_close(mean, 1e-5, WHAT("mean"));
    check_close(var, 1e-5, WHAT("var"));
    if (running) {
        check_close(rm, 1e-5, WHAT("running_mean"));
        check_close(rv, 1e-5, WHAT("running_var"));
    }
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->norm_apply(be_of(b), g, F(x, b), F(mean, b), F(var, b), FN(gamma, b),
                                  FN(beta, b), F(y, b), F(rstd, b));
    check_close(y, 1e-5, WHAT("y"));
    check_close(rstd, 1e-5, WHAT("rstd"));
    gpu_sync_ok();
    float *split_y = fetch(y, 1), *fused_y = fetch(y_fused, 1);
    tu_assert_close(split_y, fused_y, count, 1e-5, WHAT("GPU y against its fused forward"));
    free(split_y);
    free(fused_y);
#undef WHAT
    twin *all[] = {&mean, &var, &rstd, &y, &rm, &rv, &momentum};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

/* batch renorm's per-channel ops: r and d clipped on both sides and not */
static void renorm_ops_case(int c, twin gamma, twin beta, uint64_t seed, const char *what_case)
{
    char what[240];
#define WHAT(part) (snprintf(what, sizeof what, "%s: renorm: %s", what_case, part), what)
    twin mean = twin_normal(c, seed + 7, 0.0f, 2.0f), var = twin_normal(c, seed + 8, 3.0f, 2.0f);
    twin rm = twin_normal(c, seed + 9, 0.0f, 1.0f), rv = twin_normal(c, seed + 10, 2.0f, 0.5f);
    twin r = twin_empty(c), d = twin_empty(c), scale = twin_empty(c), shift = twin_empty(c);
    twin dg = twin_normal(c, seed + 11, 0.0f, 1.0f), db = twin_normal(c, seed + 12, 0.0f, 1.0f);
    float *h = fetch(var, 0);
    for (int ch = 0; ch < c; ch++)
        h[ch] = fabsf(h[ch]); /* variances */
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->upload(be_of(b), F(var, b), h, (size_t)c * sizeof *h);
    free(h);
    const float limit_values[2] = {1.5f, 0.7f}; /* r_max, d_max */
    twin limits = twin_new(limit_values, sizeof limit_values);
    for (int b = 0; b < 2; b++) {
        be_of(b)->ops->renorm_correction(be_of(b), c, 1e-5f, F(limits, b), F(mean, b), F(var, b),
                                         F(rm, b), F(rv, b), FN(gamma, b), FN(beta, b), F(r, b),
                                         F(d, b), F(scale, b), F(shift, b));
        be_of(b)->ops->renorm_param_grads(be_of(b), c, F(r, b), F(d, b), F(dg, b), F(db, b));
    }
    check_close(r, 1e-6, WHAT("r"));
    check_close(d, 1e-6, WHAT("d"));
    check_close(scale, 1e-6, WHAT("scale"));
    check_close(shift, 1e-6, WHAT("shift"));
    check_close(dg, 1e-6, WHAT("dgamma"));
#undef WHAT
    twin *all[] = {&mean, &var, &rm, &rv, &r, &d, &scale, &shift, &dg, &db, &limits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

/* The ReLU (and residual add) fused into the apply pass
 * (norm_forward_act, norm_backward_act) on geometry g: each backend's
 * fused ops against the other's to tolerance, and the GPU's fused ops
 * against its own ops in turn (norm_forward, add_forward, the ReLU; the
 * ReLU's backward, pass_gradient, norm_backward) bit for bit, with and
 * without the add, writing and accumulating; ws: the backward's
 * workspaces (NULL: none) */
static void act_case(const nl_norm_geom *g, twin x, twin gamma, twin beta, uint64_t seed,
                     void *ws[2], const char *what_case)
{
    const size_t count = (size_t)g->n * g->c * g->hw, stats = (size_t)nl_norm_stat_groups(g);
    char what[260];
#define WHAT(part) (snprintf(what, sizeof what, "%s: fused relu: %s", what_case, part), what)
    twin skip = twin_normal(count, seed + 40, 0.0f, 1.0f), y = twin_empty(count);
    twin y2 = twin_empty(count), sm = twin_empty(stats), sr = twin_empty(stats);
    twin dy0 = twin_normal(count, seed + 41, 0.0f, 1.0f), dy = twin_empty(count);
    twin dx0 = twin_normal(count, seed + 42, 0.0f, 1.0f), dx = twin_empty(count);
    twin ds = twin_empty(count), dg = twin_empty((size_t)g->c), db = twin_empty((size_t)g->c);
    for (int with_skip = 0; with_skip < 2; with_skip++) {
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->norm_forward_act(be_of(b), g, F(x, b), FN(gamma, b), FN(beta, b),
                                            with_skip ? F(skip, b) : NULL, F(y, b), F(sm, b),
                                            F(sr, b), NULL, NULL, NULL);
        check_close(y, 1e-5, WHAT(with_skip ? "y = relu(norm + skip)" : "y = relu(norm)"));
        /* the GPU's ops in turn give its fused bits */
        gpu_be->ops->norm_forward(gpu_be, g, F(x, 1), FN(gamma, 1), FN(beta, 1), F(y2, 1),
                                  F(sm, 1), F(sr, 1), NULL, NULL, NULL);
        if (with_skip)
            gpu_be->ops->add_forward(gpu_be, count, F(y2, 1), F(skip, 1), F(y2, 1));
        gpu_be->ops->activation_forward(gpu_be, NL_ACT_RELU, count, F(y2, 1), F(y2, 1));
        check_repeat(y, snapshot(y2), WHAT("fused y against the GPU's ops in turn"));
        for (int acc = 0; acc < 2; acc++) {
            twin_copy(dy, dy0);
            twin_copy(dx, dx0);
            twin_copy(ds, dx0);
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->norm_backward_act(be_of(b), g, F(x, b), F(y, b), F(dy, b),
                                                 FN(gamma, b), F(sm, b), F(sr, b), F(dx, b), acc,
                                                 with_skip ? F(ds, b) : NULL, acc, FN(dg, b),
                                                 FN(db, b), ws ? ws[b] : NULL);
            check_close(dx, 1e-4, WHAT(acc ? "dx accumulated" : "dx"));
            if (with_skip)
                check_close(ds, 1e-6, WHAT(acc ? "dskip accumulated" : "dskip"));
            if (gamma.bytes)
                check_close(dg, 1e-4, WHAT("dgamma"));
            if (beta.bytes)
                check_close(db, 1e-4, WHAT("dbeta"));
            void *fused_dx = snapshot(dx), *fused_ds = snapshot(ds);
            twin_copy(dy, dy0);
            twin_copy(dx, dx0);
            twin_copy(ds, dx0);
            gpu_be->ops->activation_backward(gpu_be, NL_ACT_RELU, count, F(y, 1), F(dy, 1),
                                             F(dy, 1), false);
            if (with_skip)
                gpu_be->ops->pass_gradient(gpu_be, count, F(dy, 1), F(ds, 1), acc);
            gpu_be->ops->norm_backward(gpu_be, g, F(x, 1), F(dy, 1), FN(gamma, 1), F(sm, 1),
                                       F(sr, 1), F(dx, 1), acc, FN(dg, 1), FN(db, 1),
                                       ws ? ws[1] : NULL);
            check_repeat(dx, fused_dx, WHAT("fused dx against the GPU's ops in turn"));
            check_repeat(ds, fused_ds, WHAT("fused dskip against the GPU's ops in turn"));
        }
    }
#undef WHAT
    twin *all[] = {&skip, &y, &y2, &sm, &sr, &dy0, &dy, &dx0, &dx, &ds, &dg, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

static void batchnorm_case(const norm_shape *s, int affine, int running, const char *mode)
{
    const int n = s->n, c = s->c, hw = s->hw;
    const size_t count = (size_t)n * c * hw;
    const float eps = 1e-5f;
    const uint64_t seed = 1000 + (uint64_t)n * 31 + c * 7 + hw;
    char what[200];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "batchnorm (%d,%d,%d) affine=%d running=%d [%s]: %s", n, c, hw,  \
              affine, running, mode, part),                                                        \
     what)
    twin x = twin_normal(count, seed, s->mean, 2.0f), y = twin_empty(count);
    twin gamma = affine ? twin_normal(c, seed + 1, 1.0f, 0.3f) : twin_new(NULL, 0);
    twin beta = affine ? twin_normal(c, seed + 2, 0.0f, 0.5f) : twin_new(NULL, 0);
    twin sm = twin_empty(c), sr = twin_empty(c);
    twin rm = twin_normal(c, seed + 3, 0.0f, 0.1f), rv = twin_const(c, 1.5f);
    twin momentum_slot = twin_const(1, 0.1f); /* a per-step scalar: device memory */
    const nl_norm_geom g = {.n = n, .c = c, .hw = hw, .groups = 0, .center = true, .eps = eps};
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->norm_forward(be_of(b), &g, F(x, b), FN(gamma, b), FN(beta, b), F(y, b),
                                    F(sm, b), F(sr, b), running ? F(rm, b) : NULL,
                                    running ? F(rv, b) : NULL, F(momentum_slot, b));
    check_close(y, 1e-5, WHAT("y"));
    check_close(sm, 1e-5, WHAT("save_mean"));
    check_close(sr, 1e-5, WHAT("save_rstd"));
    if (running) {
        check_close(rm, 1e-5, WHAT("running_mean"));
        check_close(rv, 1e-5, WHAT("running_var"));
    }
    void *snap = snapshot(y);
    gpu_be->ops->norm_forward(gpu_be, &g, F(x, 1), FN(gamma, 1), FN(beta, 1), F(y, 1), F(sm, 1),
                              F(sr, 1), NULL, NULL, NULL);
    check_repeat(y, snap, WHAT("y repeat"));
    split_case(&g, x, gamma, beta, y, running, seed, WHAT("batchnorm"));
    renorm_ops_case(c, gamma, beta, seed, WHAT("batchnorm"));
    act_case(&g, x, gamma, beta, seed, NULL, WHAT("batchnorm"));

    for (int b = 0; b < 2; b++)
        be_of(b)->ops->norm_forward_eval(be_of(b), &g, F(x, b), FN(gamma, b), FN(beta, b),
                                         F(rm, b), F(rv, b), F(y, b));
    check_close(y, 1e-5, WHAT("eval y"));

    twin dy = twin_normal(count, seed + 4, 0.0f, 1.0f), dx0 = twin_normal(count, seed + 5, 0, 1);
    twin dx = twin_empty(count);
    twin dg = affine ? twin_empty(c) : twin_new(NULL, 0), db = affine ? twin_empty(c) : twin_new(NULL, 0);
    for (int mode_dx = 0; mode_dx < 3; mode_dx++) { /* written, accumulated, absent */
        if (mode_dx == 2 && !affine)
            continue;
        twin_copy(dx, dx0);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->norm_backward(be_of(b), &g, F(x, b), F(dy, b), FN(gamma, b), F(sm, b),
                                         F(sr, b), mode_dx == 2 ? NULL : F(dx, b), mode_dx == 1,
                                         FN(dg, b), FN(db, b), NULL);
        check_close(dx, 1e-5, WHAT(mode_dx == 0 ? "dx" : mode_dx == 1 ? "dx accumulated" : "dx untouched"));
        if (affine) {
            check_close(dg, 1e-5, WHAT("dgamma"));
            check_close(db, 1e-5, WHAT("dbeta"));
        }
    }
    twin_copy(dx, dx0);
    gpu_be->ops->norm_backward(gpu_be, &g, F(x, 1), F(dy, 1), FN(gamma, 1), F(sm, 1), F(sr, 1),
                               F(dx, 1), true, FN(dg, 1), FN(db, 1), NULL);
    snap = snapshot(dx);
    twin_copy(dx, dx0);
    gpu_be->ops->norm_backward(gpu_be, &g, F(x, 1), F(dy, 1), FN(gamma, 1), F(sm, 1), F(sr, 1),
                               F(dx, 1), true, FN(dg, 1), FN(db, 1), NULL);
    check_repeat(dx, snap, WHAT("dx repeat"));

    /* the backward in two steps (synchronized batch norm), here with this
     * batch's own sums and count */
    twin sum_dy = twin_empty(c), sum_dy_xhat = twin_empty(c);
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->norm_backward_reduce(be_of(b), &g, F(x, b), F(dy, b), F(sm, b), F(sr, b),
                                            F(sum_dy, b), F(sum_dy_xhat, b));
    check_close(sum_dy, 1e-5, WHAT("split backward: sum dy"));
    check_close(sum_dy_xhat, 1e-5, WHAT("split backward: sum dy*xhat"));
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        twin_copy(dx, dx0);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->norm_backward_apply(be_of(b), &g, F(x, b), F(dy, b), FN(gamma, b),
                                               F(sm, b), F(sr, b), F(sum_dy, b),
                                               F(sum_dy_xhat, b), (double)n * hw, F(dx, b),
                                               accumulate);
        check_close(dx, 1e-5, WHAT(accumulate ? "split backward: dx accumulated"
                                              : "split backward: dx"));
    }
#undef WHAT
    twin *all[] = {&x, &y, &gamma, &beta, &sm, &sr, &rm, &rv, &dy, &dx0, &dx, &dg, &db,
                   &sum_dy, &sum_dy_xhat, &momentum_slot};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

/* the CUDA ops table holds exactly the ops backend_ops.def gives CUDA, the
 * recording slots (a CUDA graph of the training step) included (the CPU's:
 * test_backend_ops) */
START_TEST(test_ops_filled)
{
    char report[512];
    const int misfilled = tu_ops_misfilled(gpu_be->ops, NL_DEVICE_CUDA, report, sizeof report);
    ck_assert_msg(misfilled == 0, "cuda ops: %d slots unlike backend_ops.def: %s", misfilled,
                  report);
}
END_TEST

START_TEST(test_batchnorm)
{
    open_gpu_mode(_i);
    const char *mode = _i == 0 ? "auto" : _i == 1 ? "fused" : _i == 2 ? "fused, global" : "split";
    for (size_t s = 0; s < sizeof norm_shapes / sizeof norm_shapes[0]; s++) {
        if (norm_shapes[s].large && quick())
            continue;
        for (int affine = 0; affine < 2; affine++)
            batchnorm_case(&norm_shapes[s], affine, affine, mode);
    }
    close_gpu();
}
END_TEST

static void groupnorm_case(const norm_shape *s, int groups, bool center, int affine,
                           int running, const char *mode, void *ws[2])
{
    const int n = s->n, c = s->c, hw = s->hw;
    const size_t count = (size_t)n * c * hw, stats = (size_t)n * groups;
    const float eps = 1e-5f;
    const uint64_t seed = 2000 + (uint64_t)n * 31 + c * 7 + hw + groups;
    char what[200];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what,                                                                  \
              "%s (%d,%d,%d) groups=%d affine=%d running=%d [%s]: %s",                             \
              center ? "groupnorm" : "rmsnorm", n, c, hw, groups, affine, running, mode, part),   \
     what)
    twin x = twin_normal(count, seed, s->mean, 2.0f), y = twin_empty(count);
    twin gamma = affine ? twin_normal(c, seed + 1, 1.0f, 0.3f) : twin_new(NULL, 0);
    /* without centring, a scale and no shift, as RMSNorm has */
    twin beta = affine && center ? twin_normal(c, seed + 2, 0.0f, 0.5f) : twin_new(NULL, 0);
    twin sm = twin_empty(stats), sr = twin_empty(stats);
    twin rm = twin_normal(c, seed + 3, 0.0f, 0.1f), rv = twin_const(c, 1.5f);
    twin momentum_slot = twin_const(1, 0.1f); /* a per-step scalar: device memory */
    const nl_norm_geom g = {.n = n, .c = c, .hw = hw, .groups = groups, .center = center,
                            .eps = eps};
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->norm_forward(be_of(b), &g, F(x, b), FN(gamma, b), FN(beta, b), F(y, b),
                                    F(sm, b), F(sr, b), running ? F(rm, b) : NULL,
                                    running ? F(rv, b) : NULL, F(momentum_slot, b));
    check_close(y, 1e-5, WHAT("y"));
    check_close(sm, 1e-5, WHAT("save_mean"));
    check_close(sr, 1e-5, WHAT("save_rstd"));
    if (running) {
        check_close(rm, 1e-5, WHAT("running_mean"));
        check_close(rv, 1e-5, WHAT("running_var"));
    }
    void *snap = snapshot(y);
    gpu_be->ops->norm_forward(gpu_be, &g, F(x, 1), FN(gamma, 1), FN(beta, 1), F(y, 1), F(sm, 1),
                              F(sr, 1), NULL, NULL, NULL);
    check_repeat(y, snap, WHAT("y repeat"));
    split_case(&g, x, gamma, beta, y, running, seed, WHAT("groupnorm"));

    twin dy = twin_normal(count, seed + 4, 0.0f, 1.0f), dx0 = twin_normal(count, seed + 5, 0, 1);
    twin dx = twin_empty(count);
    twin dg = affine ? twin_empty(c) : twin_new(NULL, 0);
    twin db = affine && center ? twin_empty(c) : twin_new(NULL, 0);
    /* dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)) per group:
     * its terms' size, gamma * rstd * dy, is what rounding is relative to.
     * In a group of two values dx is their difference and nearly cancels
     * (an H200 against the CPU: 1.1e-5 of dx's largest value). */
    double dx_terms = 0.0;
    {
        float *hdy = fetch(dy, 0), *hsr = fetch(sr, 0), *hg = affine ? fetch(gamma, 0) : NULL;
        for (size_t i = 0; i < count; i++) {
            const int ch = (int)(i / hw % c), sample = (int)(i / ((size_t)hw * c));
            const double t = fabs((double)hdy[i] * (hg ? hg[ch] : 1.0f)) *
                             hsr[sample * groups + ch / (c / groups)];
            dx_terms = t > dx_terms ? t : dx_terms;
        }
        free(hdy);
        free(hsr);
        free(hg);
    }
    for (int mode_dx = 0; mode_dx < 3; mode_dx++) {
        if (mode_dx == 2 && !affine)
            continue;
        twin_copy(dx, dx0);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->norm_backward(be_of(b), &g, F(x, b), F(dy, b), FN(gamma, b), F(sm, b),
                                         F(sr, b), mode_dx == 2 ? NULL : F(dx, b), mode_dx == 1,
                                         FN(dg, b), FN(db, b), ws[b]);
        check_close_to_scale(dx, dx_terms, 1e-5,
                             WHAT(mode_dx == 0 ? "dx" : mode_dx == 1 ? "dx accumulated" : "dx untouched"));
        if (affine)
            check_close(dg, 1e-5, WHAT("dgamma"));
        if (affine && center)
            check_close(db, 1e-5, WHAT("dbeta"));
    }
    twin_copy(dx, dx0);
    gpu_be->ops->norm_backward(gpu_be, &g, F(x, 1), F(dy, 1), FN(gamma, 1), F(sm, 1), F(sr, 1),
                               F(dx, 1), false, FN(dg, 1), FN(db, 1), ws[1]);
    snap = snapshot(dx);
    gpu_be->ops->norm_backward(gpu_be, &g, F(x, 1), F(dy, 1), FN(gamma, 1), F(sm, 1), F(sr, 1),
                               F(dx, 1), false, FN(dg, 1), FN(db, 1), ws[1]);
    check_repeat(dx, snap, WHAT("dx repeat"));
    act_case(&g, x, gamma, beta, seed, ws, WHAT("groupnorm"));
#undef WHAT
    twin *all[] = {&x, &y,  &gamma, &beta, &sm, &sr, &rm,
                   &rv, &dy, &dx0,  &dx,   &dg, &db, &momentum_slot};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

START_TEST(test_groupnorm)
{
    open_gpu_mode(_i);
    const char *mode = _i == 0 ? "auto" : _i == 1 ? "fused" : _i == 2 ? "fused, global" : "split";
    for (size_t s = 0; s < sizeof norm_shapes / sizeof norm_shapes[0]; s++) {
        const norm_shape *sh = &norm_shapes[s];
        if (sh->large && quick())
            continue;
        void *ws[2];
        for (int b = 0; b < 2; b++) {
            nl_error err = {0};
            const nl_norm_geom widest = {sh->n, sh->c, sh->hw, 1, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
            size_t bytes = be_of(b)->ops->norm_backward_workspace(be_of(b), &widest);
            ck_assert_msg(be_of(b)->ops->alloc(be_of(b), bytes, &ws[b], &err) == NL_OK, "%s",
                          err.msg);
        }
        /* layer norm, a middle group count, instance norm (with running statistics) */
        int counts[3] = {1, 0, sh->c}, k = 0;
        for (int g = 2; g < sh->c; g++)
            if (sh->c % g == 0) {
                counts[1] = g;
                if (++k == 2)
                    break;
            }
        for (int gi = 0; gi < 3; gi++) {
            const int groups = counts[gi];
            if (groups == 0 || (gi == 2 && sh->c == 1))
                continue;
            for (int affine = 0; affine < 2; affine++)
                groupnorm_case(sh, groups, true, affine, gi == 2 && sh->hw > 1 && affine, mode,
                               ws);
            /* no centring (RMS): the same kernels, the mean fixed at 0 */
            groupnorm_case(sh, groups, false, 1, 0, mode, ws);
        }
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->release(be_of(b), ws[b]);
    }
    close_gpu();
}
END_TEST

/* the normalizers without statistics: DyT (alpha in tanh's linear range and
 * into saturation) and FRN's TLU, dx written, accumulated and absent, the
 * GPU's gradients repeating bit for bit (ScaleNorm's case is below) */
static void pointwise_case(const norm_shape *s, int affine, float alpha_value)
{
    const int n = s->n, c = s->c, hw = s->hw;
    const size_t count = (size_t)n * c * hw;
    const uint64_t seed = 2000 + (uint64_t)n * 31 + c * 7 + hw;
    char what[200];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "dyt/tlu (%d,%d,%d) affine=%d alpha=%g: %s", n, c, hw, affine,   \
              (double)alpha_value, part),                                                          \
     what)
    twin x = twin_normal(count, seed, s->mean / 50.0f, 2.0f), y = twin_empty(count);
    twin alpha = twin_const(1, alpha_value), dalpha = twin_empty(1);
    twin gamma = affine ? twin_normal(c, seed + 1, 1.0f, 0.3f) : twin_new(NULL, 0);
    twin beta = affine ? twin_normal(c, seed + 2, 0.0f, 0.5f) : twin_new(NULL, 0);
    twin tau = twin_normal(c, seed + 3, 0.0f, 0.5f), dtau = twin_empty(c);
    twin dy = twin_normal(count, seed + 4, 0.0f, 1.0f), dx0 = twin_normal(count, seed + 5, 0, 1);
    twin dx = twin_empty(count);
    twin dg = affine ? twin_empty(c) : twin_new(NULL, 0), db = affine ? twin_empty(c) : twin_new(NULL, 0);
    void *ws[2];
    for (int b = 0; b < 2; b++) {
        nl_error err = {0};
        ck_assert_msg(be_of(b)->ops->alloc(be_of(b), be_of(b)->ops->dyt_backward_workspace(be_of(b), c),
                                           &ws[b], &err) == NL_OK, "%s", err.msg);
        be_of(b)->ops->dyt_forward(be_of(b), n, c, hw, F(alpha, b), F(x, b), FN(gamma, b),
                                   FN(beta, b), F(y, b));
    }
    check_close(y, 1e-5, WHAT("dyt y"));
    for (int mode_dx = 0; mode_dx < 3; mode_dx++) { /* written, accumulated, absent */
        twin_copy(dx, dx0);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->dyt_backward(be_of(b), n, c, hw, F(alpha, b), F(x, b), F(dy, b),
                                        FN(gamma, b), mode_dx == 2 ? NULL : F(dx, b),
                                        mode_dx == 1, FN(dg, b), FN(db, b), F(dalpha, b), ws[b]);
        check_close(dx, 1e-5, WHAT(mode_dx == 0 ? "dyt dx" : mode_dx == 1 ? "dyt dx accumulated"
                                                                          : "dyt dx untouched"));
        check_close(dalpha, 1e-4, WHAT("dalpha"));
        if (affine) {
            check_close(dg, 1e-5, WHAT("dgamma"));
            check_close(db, 1e-5, WHAT("dbeta"));
        }
    }
    void *snap = snapshot(dalpha);
    gpu_be->ops->dyt_backward(gpu_be, n, c, hw, F(alpha, 1), F(x, 1), F(dy, 1), FN(gamma, 1),
                              F(dx, 1), false, FN(dg, 1), FN(db, 1), F(dalpha, 1), ws[1]);
    check_repeat(dalpha, snap, WHAT("dalpha repeat"));

    for (int b = 0; b < 2; b++)
        be_of(b)->ops->tlu_forward(be_of(b), n, c, hw, F(x, b), F(tau, b), F(y, b));
    check_equal_bytes(y, WHAT("tlu y"));
    for (int mode_dx = 0; mode_dx < 3; mode_dx++) {
        twin_copy(dx, dx0);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->tlu_backward(be_of(b), n, c, hw, F(y, b), F(tau, b), F(dy, b),
                                        mode_dx == 2 ? NULL : F(dx, b), mode_dx == 1, F(dtau, b));
        check_equal_bytes(dx, WHAT("tlu dx"));
        check_close(dtau, 1e-5, WHAT("dtau"));
    }
#undef WHAT
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->release(be_of(b), ws[b]);
    twin *all[] = {&x, &y, &alpha, &dalpha, &gamma, &beta, &tau, &dtau, &dy, &dx0, &dx, &dg, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

/* ScaleNorm on rows of c*hw (each sample's values; a clamped row's norm is
 * below eps), dx written, accumulated and absent, dgain repeating bit for
 * bit on the GPU */
static void scalenorm_case(const norm_shape *s, float eps)
{
    const int n = s->n, d = s->c * s->hw;
    const size_t count = (size_t)n * d;
    const uint64_t seed = 3000 + (uint64_t)n * 31 + d;
    char what[200];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "scalenorm (%d rows of %d) eps=%g: %s", n, d, (double)eps, part), \
     what)
    twin x = twin_normal(count, seed, s->mean / 50.0f, 2.0f), y = twin_empty(count);
    twin gain = twin_const(1, 1.7f), dgain = twin_empty(1), norms = twin_empty((size_t)n);
    twin dy = twin_normal(count, seed + 1, 0.0f, 1.0f), dx0 = twin_normal(count, seed + 2, 0, 1);
    twin dx = twin_empty(count);
    void *ws[2];
    for (int b = 0; b < 2; b++) {
        nl_error err = {0};
        ck_assert_msg(be_of(b)->ops->alloc(be_of(b),
                                           be_of(b)->ops->scalenorm_backward_workspace(be_of(b), n),
                                           &ws[b], &err) == NL_OK, "%s", err.msg);
        be_of(b)->ops->scalenorm_forward(be_of(b), n, d, eps, F(gain, b), F(x, b), F(y, b),
                                         F(norms, b));
    }
    check_close(y, 1e-5, WHAT("y"));
    check_close(norms, 1e-6, WHAT("norms"));
    for (int mode_dx = 0; mode_dx < 3; mode_dx++) { /* written, accumulated, absent */
        twin_copy(dx, dx0);
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->scalenorm_backward(be_of(b), n, d, eps, F(gain, b), F(x, b), F(dy, b),
                                              F(norms, b), mode_dx == 2 ? NULL : F(dx, b),
                                              mode_dx == 1, F(dgain, b), ws[b]);
        check_close(dx, 1e-5, WHAT(mode_dx == 0 ? "dx" : mode_dx == 1 ? "dx accumulated"
                                                                      : "dx untouched"));
        check_close(dgain, 1e-5, WHAT("dgain"));
    }
    void *snap = snapshot(dgain);
    gpu_be->ops->scalenorm_backward(gpu_be, n, d, eps, F(gain, 1), F(x, 1), F(dy, 1), F(norms, 1),
                                    F(dx, 1), false, F(dgain, 1), ws[1]);
    check_repeat(dgain, snap, WHAT("dgain repeat"));
#undef WHAT
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->release(be_of(b), ws[b]);
    twin *all[] = {&x, &y, &gain, &dgain, &norms, &dy, &dx0, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

START_TEST(test_pointwise_norms)
{
    open_gpu();
    for (size_t s = 0; s < sizeof norm_shapes / sizeof norm_shapes[0]; s++) {
        if (norm_shapes[s].large && quick())
            continue;
        for (int affine = 0; affine < 2; affine++)
            pointwise_case(&norm_shapes[s], affine, affine ? 1.5f : 0.5f);
        /* eps 1e-5, and one above every row's norm (std 2: ~2 * sqrt(d)) */
        scalenorm_case(&norm_shapes[s], 1e-5f);
        scalenorm_case(&norm_shapes[s], 1e6f);
    }
    close_gpu();
}
END_TEST

/* The normalization design space (model.norm.type custom) on the GPU: each
 * built-in that is a point equals custom there too (as on the CPU,
 * test_norm_space), and every point custom builds gives the CPU's results */
START_TEST(test_norm_space)
{
    open_gpu();
    ck_assert_int_ge(tu_check_norm_space(gpu_be), 6);
    ck_assert_int_ge(tu_check_norm_space_parity(cpu_be, gpu_be), 20);
    close_gpu();
}
END_TEST

/* Switchable Normalization's ops on both backends from the same inputs: the
 * CPU's instance, layer and batch statistics (norm_stats) into the mix and
 * the forward's apply, then the CPU's mixed statistics and weights into the
 * backward, with the batch term's gradient taken and not, affine and not,
 * dx written and accumulated, and repeated bit for bit on the GPU. The same
 * inputs: the logits' gradients weigh differences between the three
 * statistics, which at a mean far from 0 (|mean| >> std) each backend's
 * own float32 statistics move by more than the kernels' summation order */
/* the CPU's copies of the twins onto the GPU */
static void share_cpu(const twin *t, int n)
{
    for (int k = 0; k < n; k++) {
        float *h = fetch(t[k], 0);
        upload_to(1, t[k], h);
        free(h);
    }
}

static void switch_case(const norm_shape *sh, bool affine, bool batch, bool accumulate)
{
    const int n = sh->n, c = sh->c, hw = sh->hw;
    const size_t count = (size_t)n * c * hw, planes = (size_t)n * c;
    const uint64_t seed = 7000 + (uint64_t)n * 31 + (uint64_t)c * 7 + (uint64_t)hw;
    char what[200];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "switch (%d,%d,%d) affine %d batch %d accumulate %d: %s", n, c, \
              hw, affine, batch, accumulate, part),                                               \
     what)
    twin x = twin_normal(count, seed, sh->mean, 2.0f), y = twin_empty(count);
    twin dy = twin_normal(count, seed + 1, 0.0f, 1.0f), dx = twin_normal(count, seed + 2, 0.0f, 1.0f);
    twin gamma = twin_normal(affine ? (size_t)c : 0, seed + 3, 1.0f, 0.3f);
    twin beta = twin_normal(affine ? (size_t)c : 0, seed + 4, 0.0f, 0.5f);
    twin lambda = twin_normal(6, seed + 5, 0.0f, 1.0f), weights = twin_empty(6);
    twin mean_in = twin_empty(planes), var_in = twin_empty(planes), mean = twin_empty(planes);
    twin var = twin_empty(planes), rstd = twin_empty(planes);
    twin mean_ln = twin_empty((size_t)n), var_ln = twin_empty((size_t)n);
    twin mean_bn = twin_empty((size_t)c), var_bn = twin_empty((size_t)c);
    twin dgamma = twin_empty(affine ? (size_t)c : 0), dbeta = twin_empty(affine ? (size_t)c : 0);
    twin dlambda = twin_empty(6);
    void *ws[2];
    for (int b = 0; b < 2; b++) {
        nl_backend *be = be_of(b);
        nl_error err = {0};
        ck_assert(be->ops->alloc(be, be->ops->switch_backward_workspace(be, n, c) + 8, &ws[b],
                                 &err) == NL_OK);
        const nl_norm_geom in = {.n = n, .c = c, .hw = hw, .groups = c, .center = true, .eps = 1e-5f};
        nl_norm_geom ln = in, bn = in;
        ln.groups = 1;
        bn.groups = 0;
        if (b == 0) {
            be->ops->norm_stats(be, &in, F(x, b), F(mean_in, b), F(var_in, b), NULL, NULL, NULL);
            be->ops->norm_stats(be, &ln, F(x, b), F(mean_ln, b), F(var_ln, b), NULL, NULL, NULL);
            be->ops->norm_stats(be, &bn, F(x, b), F(mean_bn, b), F(var_bn, b), NULL, NULL, NULL);
        } else {
            share_cpu((twin[]){mean_in, var_in, mean_ln, var_ln, mean_bn, var_bn}, 6);
        }
        be->ops->switch_mix(be, n, c, F(lambda, b), F(mean_in, b), F(var_in, b), F(mean_ln, b),
                            F(var_ln, b), F(mean_bn, b), F(var_bn, b), F(mean, b), F(var, b),
                            F(weights, b));
        be->ops->norm_apply(be, &in, F(x, b), F(mean, b), F(var, b), FN(gamma, b), FN(beta, b),
                            F(y, b), F(rstd, b));
    }
    check_close(mean, 1e-5, WHAT("mixed mean"));
    check_close(var, 1e-5, WHAT("mixed var"));
    check_close(weights, 1e-6, WHAT("softmax weights"));
    check_close(y, 1e-5, WHAT("y"));
    share_cpu((twin[]){mean, rstd, weights}, 3);
    for (int rep = 0; rep < 2; rep++) {
        void *snap = rep ? snapshot(dx) : NULL, *snap_l = rep ? snapshot(dlambda) : NULL;
        if (rep) /* the same inputs again: dx starts over */
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->copy(be_of(b), F(dx, b), F(dy, b), count);
        for (int b = rep; b < 2; b++) {
            nl_backend *be = be_of(b);
            be->ops->switch_backward(be, n, c, hw, F(x, b), F(dy, b), FN(gamma, b), F(mean, b),
                                     F(rstd, b), F(weights, b), F(mean_in, b), F(mean_ln, b),
                                     F(mean_bn, b), F(var_in, b), F(var_ln, b), F(var_bn, b),
                                     batch, F(dx, b), accumulate, FN(dgamma, b), FN(dbeta, b),
                                     F(dlambda, b), ws[b]);
        }
        if (rep) {
            if (!accumulate)
                check_repeat(dx, snap, WHAT("dx repeated"));
            else
                free(snap);
            check_repeat(dlambda, snap_l, WHAT("dlambda repeated"));
            break;
        }
        check_close(dx, 1e-5, WHAT("dx"));
        check_close(dlambda, 1e-5, WHAT("dlambda"));
        if (affine) {
            check_close(dgamma, 1e-5, WHAT("dgamma"));
            check_close(dbeta, 1e-5, WHAT("dbeta"));
        }
    }
#undef WHAT
    twin *all[] = {&x, &y, &dy, &dx, &gamma, &beta, &lambda, &weights, &mean_in, &var_in, &mean,
                   &var, &rstd, &mean_ln, &var_ln, &mean_bn, &var_bn, &dgamma, &dbeta, &dlambda};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->release(be_of(b), ws[b]);
}

START_TEST(test_switch_norms)
{
    open_gpu();
    for (size_t s = 0; s < sizeof norm_shapes / sizeof norm_shapes[0]; s++) {
        /* the large shape's planes are no larger than (2, 8, 4096)'s */
        if (norm_shapes[s].large || norm_shapes[s].hw < 2)
            continue;
        for (int v = 0; v < 8; v++)
            switch_case(&norm_shapes[s], v & 1, v & 2, v & 4);
    }
    close_gpu();
}
END_TEST

/* The normalization ops with the statistics in bf16 or fp16
 * (model.norm.stats_precision): one thread sums a group in order on
 * both backends, so the rounded statistics (saved, running, norm_stats')
 * match bit for bit; y and eval mode's y within the fused multiply-add. */
static void lowp_case(const norm_shape *sh, int groups, bool center, bool running,
                      nl_precision precision)
{
    const nl_norm_geom g = {.n = sh->n, .c = sh->c, .hw = sh->hw, .groups = groups,
                            .center = center, .eps = 1e-5f, .stats_precision = precision};
    const size_t count = (size_t)g.n * g.c * g.hw, stats = (size_t)nl_norm_stat_groups(&g);
    const uint64_t seed = 5000 + (uint64_t)sh->n * 31 + sh->c * 7 + sh->hw + groups;
    char what[240];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "%s (%d,%d,%d) groups %d center %d: %s",                        \
              nl_name_of(&nl_precision_names, precision), g.n, g.c, g.hw, groups, center, part), \
     what)
    twin x = twin_normal(count, seed, sh->mean, 2.0f), y = twin_empty(count);
    twin gamma = twin_normal((size_t)g.c, seed + 1, 1.0f, 0.3f);
    twin beta = twin_normal((size_t)g.c, seed + 2, 0.0f, 0.5f);
    twin mean = twin_empty(stats), rstd = twin_empty(stats), var = twin_empty(stats);
    twin rm = twin_normal(running ? (size_t)g.c : 0, seed + 3, 0.0f, 1.0f);
    twin rv = twin_const(running ? (size_t)g.c : 0, 1.5f);
    twin momentum = twin_const(1, 0.25f);
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->norm_forward(be_of(b), &g, F(x, b), F(gamma, b), F(beta, b), F(y, b),
                                    F(mean, b), F(rstd, b), FN(rm, b), FN(rv, b),
                                    F(momentum, b));
    check_equal_bytes(mean, WHAT("forward mean"));
    check_equal_bytes(rstd, WHAT("forward rstd"));
    check_close(y, 1e-6, WHAT("forward y"));
    if (running) {
        check_equal_bytes(rm, WHAT("running mean"));
        check_equal_bytes(rv, WHAT("running var"));
        for (int b = 0; b < 2; b++)
            be_of(b)->ops->norm_forward_eval(be_of(b), &g, F(x, b), F(gamma, b), F(beta, b),
                                             F(rm, b), F(rv, b), F(y, b));
        check_close(y, 1e-6, WHAT("eval y"));
    }
    for (int b = 0; b < 2; b++) {
        be_of(b)->ops->norm_stats(be_of(b), &g, F(x, b), F(mean, b), F(var, b), FN(rm, b),
                                  FN(rv, b), F(momentum, b));
        be_of(b)->ops->norm_apply(be_of(b), &g, F(x, b), F(mean, b), F(var, b), F(gamma, b),
                                  F(beta, b), F(y, b), F(rstd, b));
    }
    check_equal_bytes(mean, WHAT("norm_stats mean"));
    check_equal_bytes(var, WHAT("norm_stats var"));
    check_equal_bytes(rstd, WHAT("norm_apply rstd"));
    check_close(y, 1e-6, WHAT("norm_apply y"));
    if (running)
        check_equal_bytes(rv, WHAT("norm_stats running var"));
#undef WHAT
    twin *all[] = {&x, &y, &gamma, &beta, &mean, &rstd, &var, &rm, &rv, &momentum};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(all[i]);
}

START_TEST(test_lowp_norms)
{
    open_gpu();
    const nl_precision low[] = {NL_PRECISION_BF16, NL_PRECISION_FP16};
    for (size_t s = 0; s < sizeof norm_shapes / sizeof norm_shapes[0]; s++) {
        const norm_shape *sh = &norm_shapes[s];
        if (sh->large && quick())
            continue;
        for (int p = 0; p < 2; p++) {
            lowp_case(sh, 0, true, true, low[p]); /* batch statistics */
            lowp_case(sh, 1, true, false, low[p]); /* layer */
            lowp_case(sh, 1, false, false, low[p]); /* rms */
            if (sh->c % 2 == 0)
                lowp_case(sh, sh->c / 2, true, false, low[p]); /* group */
            if (sh->hw > 1)
                lowp_case(sh, sh->c, true, true, low[p]); /* instance */
        }
    }
    close_gpu();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* training                                                                  */

typedef struct {
    nl_arch arch;
    nl_norm_kind norm;
    nl_placement placement;
    nl_activation act;
    nl_pool_kind pool;
    nl_optim_kind optim; /* SGD when not named */
    nl_token_pool token_pool; /* vit: what its classifier reads */
    float clip;          /* train.clip_grad_norm; 0 = off */
    bool weight_standardization;
    nl_param_norm_kind param_norm; /* model.param_norm.type */
    /* > 0: the steps from this one on train with frozen running statistics,
     * and they are recalibrated over 3 batches before the evaluation */
    int freeze_after;
    bool smooth; /* FRN's thresholds start far below every value (see add_smooth_cases) */
    int steps;   /* 0: STEPS */
    /* model.norm.type expr: the formula and its parameters (NULL: the row's example) */
    const char *expr, *expr_params;
} train_case;

enum { BATCH = 16, STEPS = 100 };

static void teacher_labels(const float *x, int n, size_t per, int32_t *y)
{
    /* the argmax of fixed projections: learnable, so the loss moves */
    for (int i = 0; i < n; i++) {
        int best = 0;
        double bv = -1e300;
        for (int k = 0; k < 10; k++) {
            double v = 0.0;
            for (size_t e = 0; e < per; e++)
                v += x[i * per + e] * (double)((int)((e * 31 + k * 17) % 13) - 6);
            if (v > bv) {
                bv = v;
                best = k;
            }
        }
        y[i] = best;
    }
}

/* STEPS steps of tc on be: each step's loss, then the eval loss on a fresh
 * batch. With keep, the trained model is handed back (the eval batch still
 * loaded) instead of freed. */
/* the small model a training case trains */
static void train_spec(const train_case *tc, nl_model_spec *out)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = tc->arch;
    if (tc->arch == NL_ARCH_MLP) {
        spec.in_c = 1;
        spec.in_h = spec.in_w = 8;
        spec.widths[0] = 32;
        spec.widths[1] = 24;
    } else if (tc->arch == NL_ARCH_VIT || tc->arch == NL_ARCH_MIXER) {
        /* 9 patches of 4x4x3, 2 blocks of 16 features (the mixer's token
         * MLP 9 -> 8 -> 9 per feature) */
        spec.in_c = 3;
        spec.in_h = spec.in_w = 12;
        spec.patch = 4;
        spec.d_model = 16;
        spec.heads = 2;
        spec.layers = 2;
        spec.mlp_ratio = 2;
        spec.token_pool = tc->token_pool;
    } else {
        spec.in_c = 3;
        spec.in_h = spec.in_w = 12;
        spec.widths[0] = 8;
        spec.widths[1] = 16;
    }
    spec.n_widths = 2;
    spec.activation = tc->act;
    spec.pool = tc->pool;
    nl_norm_spec_defaults(&spec.norm, tc->norm);
    spec.norm.groups = 4;
    spec.norm.virtual_batch = 4; /* read by the kinds with that key only */
    spec.norm.placement = tc->placement;
    spec.norm.track_running_stats = nl_norm_info_of(tc->norm)->running_stats;
    spec.optimizer_state_slots = nl_optim_info_of(tc->optim)->state_slots;
    spec.weight_standardization = tc->weight_standardization;
    spec.param_norm.kind = tc->param_norm;
    spec.norm.freezable = tc->freeze_after > 0;
    if (tc->expr) {
        snprintf(spec.norm.expr, sizeof spec.norm.expr, "%s", tc->expr);
        snprintf(spec.norm.params, sizeof spec.norm.params, "%s", tc->expr_params);
    }
    *out = spec;
}

static void train_kept(nl_backend *be, const train_case *tc, double *loss, double *eval_loss,
                       nl_model **keep)
{
    nl_model_spec spec;
    train_spec(tc, &spec);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, BATCH, BATCH, 7, &m, &err) == NL_OK, "%s", err.msg);
    for (int i = 0; tc->smooth && i < m->n_params; i++)
        if (strstr(m->params[i]->name, ".tau")) {
            float *below = malloc(m->params[i]->count * sizeof *below);
            for (size_t k = 0; k < m->params[i]->count; k++)
                below[k] = -100.0f;
            be->ops->upload(be, m->params[i]->data, below, m->params[i]->count * sizeof *below);
            be->ops->synchronize(be, &err);
            free(below);
        }
    const size_t per = (size_t)spec.in_c * spec.in_h * spec.in_w;
    float *x = malloc(BATCH * per * sizeof *x);
    int32_t y[BATCH];
    nl_optim_spec optim;
    nl_optim_spec_defaults(&optim, tc->optim);
    if (tc->optim == NL_OPTIM_SGD)
        optim.weight_decay = 1e-4f;
    for (int step = 0; step < (tc->steps ? tc->steps : STEPS); step++) {
        tu_fill_normal(x, BATCH * per, 5000 + step, 0.0f, 1.0f);
        teacher_labels(x, BATCH, per, y);
        nl_model_reset_metrics(m);
        nl_model_load_batch(m, x, y, BATCH);
        const bool frozen = tc->freeze_after > 0 && step >= tc->freeze_after;
        nl_model_forward(m, BATCH, frozen ? NL_MODE_RUNNING_STATS : NL_MODE_TRAIN);
        nl_model_backward(m, BATCH);
        if (tc->clip > 0.0f)
            nl_clip_grad_norm(m, tc->clip);
        nl_optim_step(m, &optim, tc->optim == NL_OPTIM_SGD ? 0.05f : 0.003f, step);
        double met[2];
        nl_model_read_metrics(m, met);
        loss[step] = met[0] / BATCH;
    }
    for (int k = 0; tc->freeze_after > 0 && k < 3; k++) {
        tu_fill_normal(x, BATCH * per, 7000 + k, 0.0f, 1.0f);
        nl_model_load_batch(m, x, y, BATCH);
        nl_model_recalibrate_forward(m, BATCH, k);
    }
    /* eval mode (running statistics) on a fresh batch */
    tu_fill_normal(x, BATCH * per, 9999, 0.0f, 1.0f);
    teacher_labels(x, BATCH, per, y);
    nl_model_reset_metrics(m);
    nl_model_load_batch(m, x, y, BATCH);
    nl_model_forward(m, BATCH, NL_MODE_EVAL);
    double met[2];
    nl_model_read_metrics(m, met);
    *eval_loss = met[0] / BATCH;
    ck_assert_msg(be->ops->synchronize(be, &err) == NL_OK, "%s", err.msg);
    free(x);
    if (keep)
        *keep = m;
    else
        nl_model_free(m);
}

static void train(nl_backend *be, const train_case *tc, double *loss, double *eval_loss)
{
    train_kept(be, tc, loss, eval_loss, NULL);
}

/* the eval loss of `to`'s loaded batch with `from`'s parameters and
 * running statistics (two builds of one spec: the same tensors in order) */
static double eval_with_weights_of(nl_model *to, const nl_model *from)
{
    ck_assert_int_eq(to->n_params, from->n_params);
    ck_assert_int_eq(to->n_states, from->n_states);
    for (int i = 0; i < to->n_params + to->n_states; i++) {
        const bool param = i < to->n_params;
        const size_t count = param ? to->params[i]->count : to->states[i - to->n_params]->count;
        float *dst = param ? to->params[i]->data : to->states[i - to->n_params]->data;
        const float *src = param ? from->params[i]->data : from->states[i - from->n_params]->data;
        float *h = malloc(count * sizeof *h + 1);
        from->be->ops->download(from->be, h, src, count * sizeof *h);
        to->be->ops->upload(to->be, dst, h, count * sizeof *h);
        free(h);
    }
    nl_error err = {0};
    ck_assert_msg(to->be->ops->synchronize(to->be, &err) == NL_OK, "%s", err.msg);
    nl_model_reset_metrics(to);
    nl_model_forward(to, BATCH, NL_MODE_EVAL);
    double met[2];
    nl_model_read_metrics(to, met);
    return met[0] / BATCH;
}

/* smooth models (tanh, average pooling): the GPU follows the CPU's loss
 * curve. With ReLU and max pooling a 1e-7 difference can flip a ReLU or an
 * argmax and the runs then part by more than rounding; those layers are
 * checked op by op above and by the repeatability test below. FRN's TLU,
 * max(z, tau), is such a kink too (a ResNet's runs parted by 1.2e-3 at step
 * 13): here its thresholds start far below every value, so the TLU passes
 * all and the FRN layer's glue still runs on both backends. Every
 * normalizer on the cnn, the mlp (where it takes feature vectors) and the
 * post-activation resnet; then the other placements once. */
static train_case smooth_cases[3 * NL_NORM_COUNT + NL_OPTIM_COUNT + 7];
static int n_smooth_cases;

static void add_smooth_cases(void)
{
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_kind kind = (nl_norm_kind)k;
        if (nl_norm_info_of(kind)->cpu_only)
            continue; /* test_kinds_on_the_gpu holds its refusal */
        smooth_cases[n_smooth_cases++] =
            (train_case){NL_ARCH_CNN, kind, NL_PLACE_BEFORE, NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_SGD, .smooth = true};
        if (nl_norm_info_of(kind)->features)
            smooth_cases[n_smooth_cases++] =
                (train_case){NL_ARCH_MLP, kind, NL_PLACE_BEFORE, NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_SGD, .smooth = true};
        smooth_cases[n_smooth_cases++] =
            (train_case){NL_ARCH_RESNET, kind, NL_PLACE_POST, NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_SGD, .smooth = true};
    }
    smooth_cases[n_smooth_cases++] =
        (train_case){NL_ARCH_MLP, NL_NORM_GROUP, NL_PLACE_AFTER, NL_ACT_SIGMOID, NL_POOL_AVG, .optim = NL_OPTIM_SGD, .smooth = true};
    smooth_cases[n_smooth_cases++] =
        (train_case){NL_ARCH_RESNET, NL_NORM_GROUP, NL_PLACE_PRE, NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_SGD, .smooth = true};
    /* weight standardization (GN + WS, BN + WS): the norm ops on the weights */
    smooth_cases[n_smooth_cases++] =
        (train_case){NL_ARCH_CNN, NL_NORM_GROUP, NL_PLACE_BEFORE, NL_ACT_TANH, NL_POOL_AVG,
                     .weight_standardization = true, .smooth = true};
    smooth_cases[n_smooth_cases++] =
        (train_case){NL_ARCH_RESNET, NL_NORM_BATCH, NL_PLACE_POST, NL_ACT_TANH, NL_POOL_AVG,
                     .weight_standardization = true, .smooth = true};
    /* frozen batch norm, where a norm adds into the shortcut's gradient, then
     * recalibrated */
    smooth_cases[n_smooth_cases++] =
        (train_case){NL_ARCH_RESNET, NL_NORM_BATCH, NL_PLACE_PRE, NL_ACT_TANH, NL_POOL_AVG,
                     .freeze_after = STEPS / 2, .smooth = true};
    /* AdamW, with gradient-norm clipping on one */
    smooth_cases[n_smooth_cases++] = (train_case){NL_ARCH_CNN, NL_NORM_BATCH, NL_PLACE_BEFORE,
                                                  NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_ADAMW, .smooth = true};
    smooth_cases[n_smooth_cases++] = (train_case){NL_ARCH_MLP, NL_NORM_LAYER, NL_PLACE_BEFORE,
                                                  NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_ADAMW,
                                                  .clip = 0.5f, .smooth = true};
    /* every optimizer row, so that its step's op is reached in training */
    for (int o = 0; o < NL_OPTIM_COUNT; o++)
        smooth_cases[n_smooth_cases++] =
            (train_case){NL_ARCH_MLP, NL_NORM_BATCH, NL_PLACE_BEFORE, NL_ACT_TANH, NL_POOL_AVG,
                         .optim = (nl_optim_kind)o, .smooth = true};
}

/* the image token models (GELU and softmax: smooth), in the tokens case
 * with the other transformer tests. The vit: a class token with layer
 * norm before each block and clipping, the tokens' mean with batch norm
 * after. The mixer (its token transposes are patchify's 1x1 patches):
 * layer norm before each branch with AdamW and clipping, batch norm
 * before each with SGD */
static const train_case image_token_cases[] = {
    {NL_ARCH_VIT, NL_NORM_LAYER, NL_PLACE_PRE, NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_ADAMW,
     .clip = 1.0f, .token_pool = NL_TOKEN_POOL_CLS, .smooth = true},
    {NL_ARCH_VIT, NL_NORM_BATCH, NL_PLACE_POST, NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_ADAMW,
     .token_pool = NL_TOKEN_POOL_MEAN, .smooth = true},
    {NL_ARCH_MIXER, NL_NORM_LAYER, NL_PLACE_PRE, NL_ACT_TANH, NL_POOL_AVG,
     .optim = NL_OPTIM_ADAMW, .clip = 1.0f, .smooth = true},
    {NL_ARCH_MIXER, NL_NORM_BATCH, NL_PLACE_PRE, NL_ACT_TANH, NL_POOL_AVG, .optim = NL_OPTIM_SGD,
     .smooth = true},
};

/* STEPS steps on each backend: the GPU's losses within 1e-3 of the CPU's;
 * then the GPU's trained weights and running statistics evaluated on both
 * backends, within 1e-5. The eval of the two separately trained models is
 * not compared: on an H200 the post-norm ViT under batch norm had every
 * step within 1e-3 and the two eval losses 1.3e-3 apart, which by itself
 * cannot tell a wrong eval from a hundred steps of AdamW's rounding carried
 * into the running statistics; the same weights on both backends can. */
static void check_training_parity(const train_case *tc)
{
    double lc[STEPS], lg[STEPS], ec, eg;
    const int steps = tc->steps ? tc->steps : STEPS;
    nl_model *mc = NULL, *mg = NULL;
    train_kept(cpu_be, tc, lc, &ec, &mc);
    train_kept(gpu_be, tc, lg, &eg, &mg);
    for (int s = 0; s < steps; s++)
        ck_assert_msg(fabs(lg[s] - lc[s]) <= 1e-3 * fabs(lc[s]),
                      "arch %d norm %d: step %d loss %.9g on the GPU, %.9g on the CPU", tc->arch,
                      tc->norm, s, lg[s], lc[s]);
    const double ec_same = eval_with_weights_of(mc, mg);
    ck_assert_msg(fabs(eg - ec_same) <= 1e-5 * fabs(ec_same),
                  "arch %d norm %d: the GPU's trained model evaluates to %.9g on the GPU, %.9g on "
                  "the CPU (the CPU's own: %.9g)",
                  tc->arch, tc->norm, eg, ec_same, ec);
    nl_model_free(mc);
    nl_model_free(mg);
    for (int s = 0; s < steps; s++)
        ck_assert_msg(isfinite(lg[s]), "arch %d norm %d: step %d loss %g", tc->arch, tc->norm, s,
                      lg[s]);
}

/* Every kind's CNN on the GPU: built where the row says the GPU runs it,
 * refused naming the device where it says cpu_only. The training cases
 * leave cpu_only kinds out on the row's word, so a row that says less
 * than the backend does (a kind without GPU kernels not marked, as expr
 * was) fails here, in the case the emulated GPU runs, instead of in the
 * training case on a real GPU alone. */
START_TEST(test_kinds_on_the_gpu)
{
    const nl_norm_kind kind = (nl_norm_kind)_i;
    const train_case tc = {NL_ARCH_CNN, kind, NL_PLACE_BEFORE, NL_ACT_TANH, NL_POOL_AVG,
                           .optim = NL_OPTIM_SGD};
    nl_model_spec spec;
    train_spec(&tc, &spec);
    nl_model *m = NULL;
    nl_error err = {0};
    const nl_code rc = nl_model_create(&spec, gpu_be, BATCH, BATCH, 7, &m, &err);
    /* the plan for the GPU asks the GPU's backend, not the CPU's: what it
     * sizes is what the GPU allocates, and what it lacks is refused */
    nl_model *plan = NULL;
    nl_error plan_err = {0};
    const nl_code planned =
        nl_model_plan_on(&spec, NL_DEVICE_CUDA, BATCH, BATCH, 1, &plan, &plan_err);
    ck_assert_int_eq(planned, rc);
    if (rc == NL_OK)
        ck_assert_msg(plan->planned.total == m->planned.total,
                      "%s: planned for the GPU %.0f bytes, the GPU allocated %.0f",
                      nl_name_of(&nl_norm_names, kind), plan->planned.total, m->planned.total);
    nl_model_free(plan);
    nl_model_free(m);
    if (nl_norm_info_of(kind)->cpu_only)
        ck_assert_msg(rc == NL_ERR_UNSUPPORTED && !strcmp(err.key, "device") &&
                          !strcmp(plan_err.key, "device"),
                      "%s is marked cpu_only, but the GPU built it (%d: %s)",
                      nl_name_of(&nl_norm_names, kind), rc, err.msg);
    else
        ck_assert_msg(rc == NL_OK, "%s: the GPU refused it (%s), but its row does not say cpu_only",
                      nl_name_of(&nl_norm_names, kind), err.msg);
}
END_TEST

/* each backend answers for its own kernels (backend_ops.def: runs): both
 * run every family on NCHW fp32, and the GPU neither a channel block nor a
 * 16-bit storage between layers */
START_TEST(test_device_answers)
{
    for (int f = 0; f < NL_OP_FAMILY_COUNT; f++)
        for (int s = 0; s < NL_STORAGE_COUNT; s++)
            for (int b = 0; b < 2; b++) {
                nl_backend *be = be_of(b);
                const bool fp32 = s == NL_STORAGE_FP32;
                ck_assert_int_eq(be->ops->runs(be, (nl_op_family)f, 0, (nl_storage)s), fp32);
                if (be->device == NL_DEVICE_CUDA) {
                    ck_assert(!be->ops->runs(be, (nl_op_family)f, 8, (nl_storage)s));
                    ck_assert(!be->ops->runs(be, (nl_op_family)f, 16, (nl_storage)s));
                }
            }
}
END_TEST

START_TEST(test_training_parity)
{
    check_training_parity(&smooth_cases[_i]);
}
END_TEST

/* every parameter normalizer row after none (param_norm_kinds.def) in
 * training: the CNN under mean-only batch norm (weight normalization's
 * partner in Salimans & Kingma) and the post-activation ResNet under batch
 * norm, shortcuts and stem included */
static train_case param_norm_cases[2 * NL_PARAM_NORM_COUNT];
static int n_param_norm_cases;

static void add_param_norm_cases(void)
{
    for (int k = 1; k < NL_PARAM_NORM_COUNT; k++) {
        param_norm_cases[n_param_norm_cases++] =
            (train_case){NL_ARCH_CNN, NL_NORM_MEAN_ONLY, NL_PLACE_BEFORE, NL_ACT_TANH, NL_POOL_AVG,
                         .param_norm = (nl_param_norm_kind)k, .smooth = true};
        param_norm_cases[n_param_norm_cases++] =
            (train_case){NL_ARCH_RESNET, NL_NORM_BATCH, NL_PLACE_POST, NL_ACT_TANH, NL_POOL_AVG,
                         .param_norm = (nl_param_norm_kind)k, .smooth = true};
    }
}

START_TEST(test_param_norm_training_parity)
{
    check_training_parity(&param_norm_cases[_i]);
}
END_TEST

/* the signal-propagation probe (train.log.signal_propagation) at
 * initialization: the same ResNet on each backend, the same two batches;
 * every site's channel mean^2 and variance within 1e-4 of the CPU's, and
 * the GPU's running statistics untouched by the probe's pass */
START_TEST(test_sigprop_parity)
{
    static const nl_norm_kind kinds[] = {NL_NORM_BATCH, NL_NORM_GROUP, NL_NORM_NONE};
    enum { SP_BATCH = 8, SP_BATCHES = 2, SP_C = 3, SP_HW = 8 };
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_RESNET;
    spec.in_c = SP_C;
    spec.in_h = spec.in_w = SP_HW;
    spec.widths[0] = 4;
    spec.widths[1] = 8;
    spec.n_widths = 2;
    spec.blocks_per_stage = 2;
    nl_norm_spec_defaults(&spec.norm, kinds[_i]);
    spec.norm.placement = NL_PLACE_PRE;
    spec.norm.groups = 2;
    static float x[SP_BATCHES * SP_BATCH * SP_C * SP_HW * SP_HW];
    static int32_t y[SP_BATCHES * SP_BATCH];
    tu_fill_normal(x, sizeof x / sizeof x[0], 11, 0.7f, 2.0f);
    for (int i = 0; i < SP_BATCHES * SP_BATCH; i++)
        y[i] = i % spec.classes;
    const nl_split split = {.n = SP_BATCHES * SP_BATCH, .c = SP_C, .h = SP_HW, .w = SP_HW,
                            .x = x, .y = y};
    nl_sigprop probe[2];
    nl_model *m[2];
    for (int b = 0; b < 2; b++) {
        nl_error err = {0};
        m[b] = NULL;
        ck_assert_msg(nl_model_create(&spec, be_of(b), SP_BATCH, SP_BATCH, 9, &m[b], &err) ==
                          NL_OK, "%s", err.msg);
        ck_assert_msg(nl_sigprop_open(&probe[b], m[b], SP_BATCH, &err) == NL_OK, "%s", err.msg);
        nl_sigprop_measure(&probe[b], m[b], &split, SP_BATCH, SP_BATCHES);
    }
    ck_assert_int_eq(probe[0].n_sites, probe[1].n_sites);
    ck_assert_int_gt(probe[0].n_sites, 0);
    for (int k = 0; k < probe[0].n_sites; k++) {
        const double c_ms = probe[0].mean_sq[k], g_ms = probe[1].mean_sq[k];
        const double c_v = probe[0].var[k], g_v = probe[1].var[k];
        ck_assert_msg(fabs(g_ms - c_ms) <= 1e-6 + 1e-4 * c_ms && fabs(g_v - c_v) <= 1e-4 * c_v,
                      "norm %d, %s: mean^2 %.9g / %.9g, variance %.9g / %.9g (GPU / CPU)",
                      kinds[_i], probe[0].layers[k]->name, g_ms, c_ms, g_v, c_v);
    }
    /* the probe's pass left the GPU's running statistics at their start */
    const size_t floats = m[1]->state_floats;
    float *states = malloc((floats ? floats : 1) * sizeof *states);
    ck_assert_ptr_nonnull(states);
    gpu_be->ops->download(gpu_be, states, m[1]->state_arena, floats * sizeof *states);
    for (int i = 0; i < m[1]->n_states; i++) {
        const nl_state *st = m[1]->states[i];
        const float *v = states + (st->data - m[1]->state_arena);
        for (size_t j = 0; j < st->count; j++)
            ck_assert_msg(v[j] == st->init_value, "%s[%zu] moved to %g", st->name, j, v[j]);
    }
    free(states);
    for (int b = 0; b < 2; b++) {
        nl_sigprop_free(&probe[b]);
        nl_model_free(m[b]);
    }
}
END_TEST

/* the variance-shift probe (train.log.variance_shift): the same CNN with
 * batch norm on each backend, one eval-mode pass over the same batches;
 * each normalizer's running-over-test-time variance ratio within 1e-4 of
 * the CPU's */
START_TEST(test_varshift_parity)
{
    enum { VS_BATCH = 8, VS_BATCHES = 2, VS_C = 3, VS_HW = 8 };
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_CNN;
    spec.in_c = VS_C;
    spec.in_h = spec.in_w = VS_HW;
    spec.widths[0] = 4;
    spec.widths[1] = 8;
    spec.n_widths = 2;
    nl_norm_spec_defaults(&spec.norm, NL_NORM_BATCH);
    static float x[VS_BATCHES * VS_BATCH * VS_C * VS_HW * VS_HW];
    static int32_t y[VS_BATCHES * VS_BATCH];
    tu_fill_normal(x, sizeof x / sizeof x[0], 13, 0.5f, 1.5f);
    for (int i = 0; i < VS_BATCHES * VS_BATCH; i++)
        y[i] = i % spec.classes;
    const size_t per_sample = (size_t)VS_C * VS_HW * VS_HW;
    nl_varshift probe[2];
    nl_model *m[2];
    for (int b = 0; b < 2; b++) {
        nl_error err = {0};
        m[b] = NULL;
        ck_assert_msg(nl_model_create(&spec, be_of(b), VS_BATCH, VS_BATCH, 9, &m[b], &err) ==
                          NL_OK, "%s", err.msg);
        ck_assert_msg(nl_varshift_open(&probe[b], m[b], &err) == NL_OK, "%s", err.msg);
        nl_varshift_begin(&probe[b]);
        for (int k = 0; k < VS_BATCHES; k++) {
            nl_model_load_batch(m[b], x + (size_t)k * VS_BATCH * per_sample, y + k * VS_BATCH,
                                VS_BATCH);
            nl_model_forward(m[b], VS_BATCH, NL_MODE_EVAL);
            nl_varshift_add(&probe[b], m[b], VS_BATCH);
        }
        nl_varshift_finish(&probe[b], m[b]);
    }
    ck_assert_int_eq(probe[0].n_layers, probe[1].n_layers);
    ck_assert_int_gt(probe[0].n_layers, 0);
    for (int l = 0; l < probe[0].n_layers; l++) {
        const double c = probe[0].ratio[l], g = probe[1].ratio[l];
        ck_assert_msg(isfinite(c) && fabs(g - c) <= 1e-4 * fabs(c),
                      "%s: ratio %.9g / %.9g (GPU / CPU)", probe[0].layers[l]->name, g, c);
    }
    for (int b = 0; b < 2; b++) {
        nl_varshift_free(&probe[b]);
        nl_model_free(m[b]);
    }
}
END_TEST

START_TEST(test_image_token_training_parity)
{
    check_training_parity(&image_token_cases[_i]);
}
END_TEST

START_TEST(test_training_repeats)
{
    /* the default ReLU / max-pooling models: two GPU runs, the same bits */
    train_case tc = {_i < NL_NORM_COUNT ? NL_ARCH_CNN : NL_ARCH_MLP,
                     (nl_norm_kind)(_i % NL_NORM_COUNT), NL_PLACE_BEFORE, NL_ACT_RELU,
                     NL_POOL_MAX, .optim = NL_OPTIM_SGD};
    if ((tc.arch == NL_ARCH_MLP && !nl_norm_info_of(tc.norm)->features) ||
        nl_norm_info_of(tc.norm)->cpu_only)
        return;
    double a[STEPS], b[STEPS], ea, eb;
    train(gpu_be, &tc, a, &ea);
    train(gpu_be, &tc, b, &eb);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0 && ea == eb,
                  "arch %d norm %d: two GPU runs gave different losses", tc.arch, tc.norm);
    for (int s = 0; s < STEPS; s++)
        ck_assert_msg(isfinite(a[s]), "step %d loss %g", s, a[s]);
}
END_TEST

/* ---- the transformer (arch lm) ---- */
typedef struct {
    nl_norm_kind norm;
    nl_placement placement;
    bool qk_norm, tie;
    nl_gelu_kind gelu;
    nl_optim_kind optim;
    float clip;
    /* the depth schemes (model.residual_scale at post, depth_scaling at pre) */
    nl_residual_scale residual;
    bool depth_scaling;
} lm_case;

enum { LM_BATCH = 8, LM_T = 12, LM_VOCAB = 13 };

/* a learnable task: each target is the token before it (the first: 0) */
static void lm_batch(int32_t *tokens, int32_t *targets, uint64_t seed)
{
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    for (int i = 0; i < LM_BATCH; i++)
        for (int t = 0; t < LM_T; t++) {
            const int p = i * LM_T + t;
            tokens[p] = (int32_t)nl_rng_below(&rng, LM_VOCAB);
            targets[p] = t ? tokens[p - 1] : 0;
        }
}

/* the logged series of one step (train.log.*): the layers' gradient norms,
 * the attention layers' largest logits, the landscape probe's five ranges
 * (from landscape_at), then each weight's norm and update ratio over the
 * step */
enum { LM_SERIES_MAX = 64, LM_LANDSCAPE_VALUES = 5 };
typedef struct {
    double v[LM_SERIES_MAX];
    int n, landscape_at;
} lm_series;

/* the residual adds named `block`.* drop their branches, or take them back */
static void lm_drop_block(nl_model *m, const char *block, bool drop)
{
    const size_t len = strlen(block);
    for (int i = 0; i < m->n_layers; i++) {
        nl_layer *l = m->layers[i];
        if (l->vt->drop_branch && strncmp(l->name, block, len) == 0 && l->name[len] == '.')
            l->vt->drop_branch(l, drop);
    }
}

/* the eval loss of the model's loaded batch with `block` removed
 * (train.log.block_skip's pass) */
static double lm_loss_without(nl_model *m, const char *block)
{
    lm_drop_block(m, block, true);
    nl_model_reset_metrics(m);
    nl_model_forward(m, LM_BATCH, NL_MODE_EVAL);
    lm_drop_block(m, block, false);
    double met[2];
    nl_model_read_metrics(m, met);
    return met[0] / (LM_BATCH * LM_T);
}

/* STEPS steps of a 2-layer LM; loss per token at each step, then the eval
 * loss on a fresh batch, and with each block removed in turn
 * (eval_loss[1..2]); the series of the first and the last step */
static void train_lm(nl_backend *be, const lm_case *lc, double *loss, double eval_loss[3],
                     lm_series series[2])
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_LM;
    spec.classes = LM_VOCAB;
    spec.d_model = 32;
    spec.heads = 2;
    spec.layers = 2;
    spec.context = LM_T;
    spec.mlp_ratio = 2;
    spec.qk_norm = lc->qk_norm;
    spec.gelu = lc->gelu;
    spec.tie_embeddings = lc->tie;
    nl_norm_spec_defaults(&spec.norm, lc->norm);
    spec.norm.placement = lc->placement;
    spec.norm.track_running_stats = nl_norm_info_of(lc->norm)->running_stats;
    spec.norm.depth_scaling = lc->depth_scaling;
    spec.residual_scale = lc->residual;
    spec.optimizer_state_slots = nl_optim_info_of(lc->optim)->state_slots;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, LM_BATCH, LM_BATCH, 11, &m, &err) == NL_OK, "%s",
                  err.msg);
    nl_optim_spec optim;
    nl_optim_spec_defaults(&optim, lc->optim);
    nl_series ser;
    ck_assert_msg(nl_series_init(&ser, m, true, true, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_series_plan_weights(&ser, m, &err) == NL_OK, "%s", err.msg);
    /* train.log.landscape at the logged steps: its five ranges */
    nl_landscape_spec along = {.every = 1, .lr_multiples = {0.5f, 1.0f, 4.0f}, .n_lr_multiples = 3};
    nl_landscape probe;
    ck_assert_msg(nl_landscape_open(&probe, &along, m, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_le(ser.n_layers + ser.n_attention + 2 * ser.n_weights + LM_LANDSCAPE_VALUES,
                     LM_SERIES_MAX);
    const float lr = lc->optim == NL_OPTIM_SGD ? 0.1f : 3e-3f;
    int32_t tokens[LM_BATCH * LM_T], targets[LM_BATCH * LM_T];
    for (int step = 0; step < STEPS; step++) {
        const bool logs = step == 0 || step == STEPS - 1;
        lm_batch(tokens, targets, 8000 + step);
        nl_model_reset_metrics(m);
        nl_model_load_tokens(m, tokens, targets, LM_BATCH);
        m->record_max_logit = logs;
        nl_model_forward(m, LM_BATCH, NL_MODE_TRAIN);
        m->record_max_logit = false;
        nl_model_backward(m, LM_BATCH);
        if (logs) {
            lm_series *out = &series[step > 0];
            nl_series_measure_grads(&ser, m);
            nl_series_read_logits(&ser, m);
            out->n = 0;
            for (int l = 0; l < ser.n_layers; l++)
                out->v[out->n++] = ser.grad_norm[l];
            for (int l = 0; l < ser.n_attention; l++)
                out->v[out->n++] = ser.max_logit[l];
            nl_landscape_probe(&probe, m, LM_BATCH, NL_MODE_TRAIN, lr, LM_BATCH * LM_T);
            const double ranges[LM_LANDSCAPE_VALUES] = {probe.loss_min, probe.loss_max,
                                                        probe.grad_pred_min, probe.grad_pred_max,
                                                        probe.beta_smoothness};
            out->landscape_at = out->n;
            for (int k = 0; k < LM_LANDSCAPE_VALUES; k++)
                out->v[out->n++] = ranges[k];
        }
        if (lc->clip > 0.0f)
            nl_clip_grad_norm(m, lc->clip);
        nl_optim_prepare(m, &optim, lr, step);
        nl_model_upload_scalars(m);
        if (logs)
            nl_series_weights_before(&ser, m);
        nl_optim_launch(m, &optim);
        if (logs) {
            lm_series *out = &series[step > 0];
            nl_series_weights_after(&ser, m);
            for (int k = 0; k < ser.n_weights; k++) {
                out->v[out->n++] = ser.weight_norm[k];
                out->v[out->n++] = ser.update_ratio[k];
            }
        }
        double met[2];
        nl_model_read_metrics(m, met);
        loss[step] = met[0] / (LM_BATCH * LM_T);
    }
    lm_batch(tokens, targets, 9999);
    nl_model_reset_metrics(m);
    nl_model_load_tokens(m, tokens, targets, LM_BATCH);
    nl_model_forward(m, LM_BATCH, NL_MODE_EVAL);
    double met[2];
    nl_model_read_metrics(m, met);
    eval_loss[0] = met[0] / (LM_BATCH * LM_T);
    eval_loss[1] = lm_loss_without(m, "blocks.0");
    eval_loss[2] = lm_loss_without(m, "blocks.1");
    ck_assert_msg(be->ops->synchronize(be, &err) == NL_OK, "%s", err.msg);
    nl_landscape_free(&probe, m);
    nl_series_free(&ser, m);
    nl_model_free(m);
}

/* Every piece of the LM is smooth (GELU, softmax, the norms on tokens), so
 * the GPU follows the CPU's loss curve; then a second GPU run repeats the
 * first bit for bit (the embedding's scatter-add included). */
static const lm_case lm_cases[] = {
    {NL_NORM_LAYER, NL_PLACE_PRE, false, true, NL_GELU_ERF, NL_OPTIM_ADAMW, 1.0f,
     NL_RESIDUAL_SCALE_NONE, false},
    {NL_NORM_RMS, NL_PLACE_POST, true, false, NL_GELU_TANH, NL_OPTIM_ADAMW, 0.0f,
     NL_RESIDUAL_SCALE_NONE, false},
    {NL_NORM_BATCH, NL_PLACE_PERI, false, false, NL_GELU_ERF, NL_OPTIM_SGD, 0.0f,
     NL_RESIDUAL_SCALE_NONE, false},
    /* DeepNorm's shortcut factor and LayerNorm Scaling's norm factor */
    {NL_NORM_LAYER, NL_PLACE_POST, false, false, NL_GELU_ERF, NL_OPTIM_ADAMW, 1.0f,
     NL_RESIDUAL_SCALE_DEEPNORM, false},
    {NL_NORM_RMS, NL_PLACE_PRE, true, true, NL_GELU_TANH, NL_OPTIM_ADAMW, 0.0f,
     NL_RESIDUAL_SCALE_NONE, true},
};

START_TEST(test_lm_training_parity)
{
    const lm_case *lc = &lm_cases[_i];
    double lc_[STEPS], lg[STEPS], lg2[STEPS], ec[3], eg[3], eg2[3];
    lm_series sc[2], sg[2], sg2[2];
    train_lm(cpu_be, lc, lc_, ec, sc);
    train_lm(gpu_be, lc, lg, eg, sg);
    const char *name = nl_name_of(&nl_norm_names, lc->norm);
    /* 1e-3 relative, with a floor of 1e-5 nats for the late steps, where
     * the losses fall to ~0.03 and differences carried from the early
     * steps weigh more (batch norm: 4e-4 of the loss on the emulated GPU,
     * whose expf and erff are the host's; a real GPU's differ) */
    for (int s = 0; s < STEPS; s++)
        ck_assert_msg(isfinite(lg[s]) && fabs(lg[s] - lc_[s]) <= 1e-3 * fabs(lc_[s]) + 1e-5,
                      "lm %s: step %d loss %.9g on the GPU, %.9g on the CPU", name, s, lg[s],
                      lc_[s]);
    /* the whole model's, then each block removed (train.log.block_skip's) */
    for (int k = 0; k < 3; k++)
        ck_assert_msg(fabs(eg[k] - ec[k]) <= 1e-3 * fabs(ec[k]) + 1e-5,
                      "lm %s: eval loss %d %.9g vs %.9g", name, k, eg[k], ec[k]);
    ck_assert_msg(ec[1] != ec[0] && ec[2] != ec[0], "lm %s: removing a block changed nothing",
                  name);
    /* it learned something: the last steps' loss is below the first's */
    ck_assert_msg(lc_[STEPS - 1] < 0.9 * lc_[0], "lm %s: loss %.4g -> %.4g", name, lc_[0],
                  lc_[STEPS - 1]);
    /* the logged series: gradient norms, largest logits and weight
     * statistics as the CPU's (the tolerance of the losses), at
     * initialization and after training. The landscape probe's ranges to
     * 1e-2: they are losses and gradient differences up to 4 learning
     * rates away along the gradient, where the late steps' small
     * differences between the two trajectories grow (1.5e-3 of a range at
     * the last step on the emulated GPU) */
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(sg[k].n, sc[k].n);
        ck_assert_int_eq(sg[k].landscape_at, sc[k].landscape_at);
        for (int i = 0; i < sc[k].n; i++) {
            const bool landscape = i >= sc[k].landscape_at &&
                                   i < sc[k].landscape_at + LM_LANDSCAPE_VALUES;
            const double tolerance = landscape ? 1e-2 : 1e-3;
            ck_assert_msg(isfinite(sg[k].v[i]) &&
                              fabs(sg[k].v[i] - sc[k].v[i]) <= tolerance * fabs(sc[k].v[i]) + 1e-5,
                          "lm %s: series value %d%s of step %s %.9g on the GPU, %.9g on the CPU",
                          name, i, landscape ? " (landscape)" : "", k ? "last" : "0", sg[k].v[i],
                          sc[k].v[i]);
        }
    }
    train_lm(gpu_be, lc, lg2, eg2, sg2);
    ck_assert_msg(memcmp(lg, lg2, sizeof lg) == 0 && memcmp(eg, eg2, sizeof eg) == 0,
                  "lm %s: two GPU runs gave different losses", name);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(sg2[k].n == sg[k].n && memcmp(sg[k].v, sg2[k].v, (size_t)sg[k].n * sizeof(double)) == 0,
                      "lm %s: two GPU runs logged different series", name);
}
END_TEST

/* ---- train.precision: attention's products under bf16 and fp16 ----
 * Both backends run the op under the precision (core/cpu/attention.c
 * defines the rounding points), on the same unrounded inputs. Products of
 * rounded values are exact in fp32 and only the order of the fp32 sums
 * differs, but a sum that lands on the other side of a rounding boundary
 * moves that value by one step of the format, and a moved logit or dlogit
 * carries on into its row's probabilities and gradients. */

/* the spacing of the format's values at |x| (fp16: no finer than its
 * subnormals' 2^-24) */
static double lowp_step(nl_precision p, double x)
{
    int e;
    frexp(x, &e);
    const double step = ldexp(1.0, e - 1 - (p == NL_PRECISION_BF16 ? 7 : 10));
    return p == NL_PRECISION_FP16 && step < 0x1p-24 ? 0x1p-24 : step;
}

typedef struct {
    size_t n, unrounded; /* values; those that are not values of the format */
    size_t moved;        /* those further from the CPU's than the exact tolerance */
    double max_steps;    /* largest difference, in steps of the format at the value */
    double max_rel;      /* largest difference over the CPU's largest |value| */
} lowp_diff;

/* rounded: the output is a product's, rounded (every value of the format,
 * moved when it differs at all); else fp32 (probs, the largest logit:
 * moved beyond 1e-5 of the largest, the fp32 tolerance of test_attention) */
static lowp_diff lowp_compare(nl_precision p, const float *g, const float *c, size_t n,
                              bool rounded)
{
    lowp_diff d = {n, 0, 0, 0.0, 0.0};
    double top = 0.0;
    for (size_t i = 0; i < n; i++)
        top = fmax(top, fabs(c[i]));
    top = top > 0.0 ? top : 1.0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(g[i]) && isfinite(c[i]), "value %zu: GPU %g, CPU %g", i, g[i],
                      c[i]);
        d.unrounded += rounded && nl_round_to(p, g[i]) != g[i];
        const double diff = fabs((double)g[i] - c[i]);
        d.moved += rounded ? diff > 0.0 : diff > 1e-5 * top;
        if (diff > 0.0)
            d.max_steps = fmax(d.max_steps, diff / lowp_step(p, fmax(fabs(g[i]), fabs(c[i]))));
        d.max_rel = fmax(d.max_rel, diff / top);
    }
    return d;
}

/* The tolerance. A sum that lands across a rounding boundary on one
 * backend moves that value one step, and a moved logit or dlogit moves
 * its row's probabilities and gradients on: at most one value in 64 may
 * move, a rounded one by at most 8 steps of the format at the value, an
 * fp32 one (probs) by at most 5e-2 of the largest. Measured on the
 * emulated GPU over the cases below: under bf16 y, dq, dk and dv equal
 * the CPU's bit for bit; under fp16 11 of 30720 dqkv values (t=40,
 * head_dim 64) and 3 of 4896 (the ViT's shape) moved, by at most 3 steps
 * (7.6e-5 of the largest); probs within 1.8e-7 of the largest, none moved. */
static bool lowp_attn_close(const lowp_diff *d, bool rounded)
{
    return d->unrounded == 0 && d->moved * 64 <= d->n &&
           (rounded ? d->max_steps <= 8.0 : d->max_rel <= 5e-2);
}

static void check_lowp_attn(nl_precision p, twin t, bool rounded, const char *what)
{
    gpu_sync_ok();
    float *g = fetch(t, 1), *c = fetch(t, 0);
    const size_t n = t.bytes / sizeof(float);
    const lowp_diff d = lowp_compare(p, g, c, n, rounded);
    printf("%s: %zu of %zu moved, up to %.3g steps, %.3g of the largest\n", what, d.moved, n,
           d.max_steps, d.max_rel);
    ck_assert_msg(d.unrounded == 0, "%s: %zu values not %s values", what, d.unrounded,
                  nl_name_of(&nl_precision_names, p));
    ck_assert_msg(lowp_attn_close(&d, rounded),
                  "%s: %zu of %zu moved, by up to %.3g steps, %.3g of the largest", what, d.moved,
                  n, d.max_steps, d.max_rel);
    free(g);
    free(c);
}

START_TEST(test_precision_attention)
{
    const attn_case cases[] = {
        {2, 5, 2, 3, true, false, false},
        {1, 33, 3, 16, false, false, false}, /* past one tile of keys */
        {2, 40, 2, 64, true, false, false},
        {1, 70, 1, 40, false, false, true}, /* three tiles, bidirectional */
        {3, 17, 4, 8, true, false, true},   /* the ViT's 17 tokens */
    };
    const nl_precision precisions[] = {NL_PRECISION_BF16, NL_PRECISION_FP16};
    for (size_t pi = 0; pi < 2; pi++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const nl_precision p = precisions[pi];
            const attn_case ac = cases[c];
            attn_twins a = attn_twins_make(&ac, 600 + 10 * c, 650 + c);
            cpu_be->product_precision = gpu_be->product_precision = p;
            attn_twins_plan(&a);
            char what[160];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "%s attention n=%d t=%d heads=%d hd=%d fused=%d bidir=%d: %s",    \
              nl_name_of(&nl_precision_names, p), ac.n, ac.t, ac.heads, ac.head_dim, ac.fused,     \
              ac.bidirectional, part),                                                             \
     what)
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->attention_forward(be_of(b), &a.g, a.in[b][0], a.in[b][1],
                                                 a.in[b][2], F(a.probs, b), F(a.y, b),
                                                 F(a.big, b), a.ws[b]);
            check_lowp_attn(p, a.probs, false, WHAT("probs"));
            check_lowp_attn(p, a.y, true, WHAT("y"));
            check_lowp_attn(p, a.big, false, WHAT("largest logit"));
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->attention_backward(be_of(b), &a.g, a.in[b][0], a.in[b][1],
                                                  a.in[b][2], F(a.probs, b), F(a.dy, b),
                                                  a.gr[b][0], a.gr[b][1], a.gr[b][2], a.ws[b]);
            for (int i = 0; i < a.count; i++)
                check_lowp_attn(p, a.grad[i], true,
                                WHAT(ac.fused ? "dqkv" : i == 0 ? "dq" : i == 1 ? "dk" : "dv"));
            /* the check can fail: fp32 kernels on the GPU miss the CPU's result */
            float *want = fetch(a.y, 0);
            gpu_be->product_precision = NL_PRECISION_FP32;
            gpu_be->ops->attention_forward(gpu_be, &a.g, a.in[1][0], a.in[1][1], a.in[1][2],
                                           F(a.probs, 1), F(a.y, 1), NULL, a.ws[1]);
            gpu_sync_ok();
            float *got = fetch(a.y, 1);
            const lowp_diff fp32 = lowp_compare(p, got, want, a.out_floats, true);
            ck_assert_msg(!lowp_attn_close(&fp32, true), "%s",
                          WHAT("fp32 kernels pass for the rounded ones"));
            free(want);
            free(got);
#undef WHAT
            cpu_be->product_precision = NL_PRECISION_FP32;
            attn_twins_free(&a);
        }
}
END_TEST

/* Training under bf16 (linear layers, attention; the norms, softmax and
 * GELU fp32) on both backends, the LM (layer norm, qk-norm, tied head)
 * and the vit (class token, clipping) of the cases above. A sum that lands
 * across a rounding boundary on one backend and not on the other moves a
 * value by a step of bf16 (2^-8), 2^16 times fp32's, so the two runs part
 * as the steps go on: the first LOWP_STEPS losses are compared. Measured
 * on the emulated GPU: step 0 within 1e-9 of the CPU's, the first 10
 * within 4.9e-4 (lm) and 3.5e-5 (vit); by step 50 the lm's are 2% apart.
 * (An fp32 run's first loss is only 2.8e-5 (lm) and 1.8e-6 (vit) from the
 * bf16 run's, too close to tell the precisions apart here: the op case
 * above is the one that fails fp32 kernels.) */
enum { LOWP_STEPS = 10 };
static const double lowp_first_rel = 1e-5, lowp_rel = 2e-3;

START_TEST(test_precision_token_training)
{
    double lc[STEPS], lg[STEPS], ec[3], eg[3];
    const char *name = _i == 0 ? "lm" : "vit";
    const lm_case lm = {NL_NORM_LAYER, NL_PLACE_PRE, true, true, NL_GELU_ERF, NL_OPTIM_ADAMW,
                        1.0f, NL_RESIDUAL_SCALE_NONE, false};
    lm_series series[2];
    for (int b = 0; b < 2; b++) {
        nl_backend *be = be_of(b);
        be->product_precision = NL_PRECISION_BF16; /* before the model plans its memory */
        if (_i == 0)
            train_lm(be, &lm, b ? lg : lc, b ? eg : ec, series);
        else
            train(be, &image_token_cases[0], b ? lg : lc, b ? eg : ec);
        be->product_precision = NL_PRECISION_FP32;
    }
    double worst = 0.0;
    for (int s = 0; s < LOWP_STEPS; s++)
        worst = fmax(worst, fabs(lg[s] - lc[s]) / fabs(lc[s]));
    printf("bf16 %s: step 0 GPU within %.3g of the CPU, steps 0-%d within %.3g\n", name,
           fabs(lg[0] - lc[0]) / fabs(lc[0]), LOWP_STEPS - 1, worst);
    for (int s = 0; s < LOWP_STEPS; s++)
        ck_assert_msg(fabs(lg[s] - lc[s]) <= (s ? lowp_rel : lowp_first_rel) * fabs(lc[s]),
                      "bf16 %s: step %d loss %.9g on the GPU, %.9g on the CPU", name, s, lg[s],
                      lc[s]);
    for (int s = 0; s < STEPS; s++)
        ck_assert_msg(isfinite(lg[s]), "bf16 %s: step %d loss %g on the GPU", name, s, lg[s]);
    ck_assert_msg(isfinite(eg[0]) && isfinite(ec[0]), "bf16 %s: eval loss %g, %g", name, eg[0],
                  ec[0]);
    /* the lm learns its task under bf16 on both (the vit's 100 steps barely move) */
    if (_i == 0)
        ck_assert_msg(lc[STEPS - 1] < 0.5 * lc[0] && lg[STEPS - 1] < 0.5 * lg[0],
                      "bf16 lm: loss %.4g -> %.4g (CPU), %.4g -> %.4g (GPU)", lc[0],
                      lc[STEPS - 1], lg[0], lg[STEPS - 1]);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* the dataset resident on the device (train.device_data)                    */

START_TEST(test_gather_rows)
{
    /* one word (labels), odd widths, multiples of 4 (16 bytes a thread) and
     * an MNIST image; every row index, out of order, with repeats */
    const size_t widths[] = {1, 3, 4, 12, 784};
    enum { ROWS = 300, N = 257 };
    int32_t index[N];
    for (int i = 0; i < N; i++)
        index[i] = i == 0 ? ROWS - 1 : (int32_t)((i * 7919L + 13) % ROWS);
    twin idx = twin_new(index, sizeof index);
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        for (int offset = 0; offset < 2; offset++) { /* 1: misaligned, one word a thread */
            const size_t w = widths[wi];
            char what[96];
            twin src = twin_normal(ROWS * w + 1, 40 + wi, 0.0f, 1.0f);
            twin dst = twin_empty(N * w + 2); /* the words past the batch stay NaN */
            for (int b = 0; b < 2; b++)
                be_of(b)->ops->gather_rows(be_of(b), N, w, (const int32_t *)idx.d[b],
                                           F(src, b) + offset, F(dst, b) + offset);
            snprintf(what, sizeof what, "gather_rows width %zu offset %d", w, offset);
            check_equal_bytes(dst, what);
            twin_free(&src);
            twin_free(&dst);
        }
    }
    twin_free(&idx);
}
END_TEST

START_TEST(test_gather_windows)
{
    enum { LENGTH = 2000, N = 33, T = 24 };
    int32_t *src = malloc(LENGTH * sizeof *src), starts[N];
    for (int i = 0; i < LENGTH; i++)
        src[i] = (int32_t)((i * 2654435761u) >> 8);
    for (int i = 0; i < N; i++) /* the first and the last window, out of order, a repeat */
        starts[i] = i == 0 ? LENGTH - T - 1 : i == N - 1 ? 0 : (int32_t)((i * 613L) % (LENGTH - T));
    starts[5] = starts[4];
    twin text = twin_new(src, LENGTH * sizeof *src), at = twin_new(starts, sizeof starts);
    twin tokens = twin_empty(N * T + 1), targets = twin_empty(N * T + 1);
    for (int b = 0; b < 2; b++)
        be_of(b)->ops->gather_windows(be_of(b), N, T, (const int32_t *)at.d[b],
                                      (const int32_t *)text.d[b], (int32_t *)tokens.d[b],
                                      (int32_t *)targets.d[b]);
    check_equal_bytes(tokens, "gather_windows tokens");
    check_equal_bytes(targets, "gather_windows targets");
    twin_free(&text);
    twin_free(&at);
    twin_free(&tokens);
    twin_free(&targets);
    free(src);
}
END_TEST

/* An MLP with batch norm (test and train-mode evaluation, shuffled epochs),
 * a CNN and an LM with batch norm: fed from resident splits, the GPU's rows are the rows it gives
 * fed from the host, bit for bit */
static const char *const resident_configs[] = {
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: mlp, widths: [16], norm: {type: batch}}\n"
    "train: {batch_size: 16, eval_batch_size: 16, steps: 20, eval_every: 7, log_every: 3}\n",
    "data: {dataset: synthetic, train_size: 60, test_size: 20, shape: [3, 8, 8]}\n"
    "model: {arch: cnn, widths: [4, 8], norm: {type: batch}}\n"
    "train: {batch_size: 8, eval_batch_size: 16, steps: 12, eval_every: 5, log_every: 4}\n",
    "data: {dataset: synthetic_text, markov: {vocab: 8, length: 3000}}\n"
    "model: {arch: lm, context: 16, d_model: 16, heads: 2, layers: 1, norm: {type: batch}}\n"
    "train: {batch_size: 8, eval_batch_size: 7, steps: 30, eval_every: 11, log_every: 5}\n",
};

START_TEST(test_resident_training)
{
    tu_assert_resident_repeats_host(gpu_be, resident_configs[_i], _i);
}
END_TEST

/* The training step recorded as a CUDA graph and replayed gives the rows of
 * the step launched kernel by kernel, bit for bit: every value that changes
 * from step to step must come from GPU memory, not a recorded argument.
 * Each config changes some: a cosine schedule with warmup and SGD's first
 * step over two parameter groups, clipped; AdamW's bias corrections and a
 * cumulative momentum per virtual batch; batch renorm's ramps and the
 * switch to frozen statistics (a second recording); an LM with AdamW. */
static const char *const recorded_configs[] = {
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: mlp, widths: [16, 12], norm: {type: batch}}\n"
    "train: {batch_size: 16, eval_batch_size: 16, steps: 20, eval_every: 7, log_every: 3,\n"
    "        eval_trainmode: true, clip_grad_norm: 0.5,\n"
    "        optimizer: {type: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.01,\n"
    "                    decay_norm_and_bias: false},\n"
    "        schedule: {type: cosine, warmup_steps: 4}}\n",
    "data: {dataset: synthetic, train_size: 60, test_size: 20, shape: [3, 8, 8]}\n"
    "model: {arch: cnn, widths: [4, 8],\n"
    "        norm: {type: ghost_batch, virtual_batch: 4, momentum: cumulative}}\n"
    "train: {batch_size: 8, eval_batch_size: 16, steps: 12, eval_every: 5, log_every: 4,\n"
    "        optimizer: {type: adamw, lr: 0.003, decay_norm_and_bias: false}}\n",
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: mlp, widths: [16], norm: {type: batch_renorm, r_max_ramp: [2, 9],\n"
    "        d_max_ramp: [3, 8]}}\n"
    "train: {batch_size: 16, eval_batch_size: 16, steps: 16, eval_every: 5, log_every: 2,\n"
    "        freeze_bn_after: 12}\n",
    "data: {dataset: synthetic_text, markov: {vocab: 8, length: 3000}}\n"
    "model: {arch: lm, context: 16, d_model: 16, heads: 2, layers: 1, norm: {type: layer}}\n"
    "train: {batch_size: 8, eval_batch_size: 7, steps: 15, eval_every: 6, log_every: 5,\n"
    "        optimizer: {type: adamw, lr: 0.003}}\n",
    /* dropout's key and the noise's draws are per-step scalars: a replayed
     * step must read this step's */
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: mlp, widths: [16, 12], norm: {type: batch}, dropout: {p: 0.4, placement:\n"
    "        before_norm}, norm_noise: {distribution: uniform}}\n"
    "train: {batch_size: 16, eval_batch_size: 16, steps: 14, eval_every: 5, log_every: 2}\n",
    /* a formula's running statistics with a cumulative momentum, which the
     * layer's prepare writes into the step's scalars */
    "data: {dataset: synthetic, train_size: 60, test_size: 20, shape: [3, 8, 8]}\n"
    "model: {arch: cnn, widths: [4, 8], norm: {type: expr, momentum: cumulative,\n"
    "        expr: 'weight * (x - running(mean(x, [batch, spatial]))) /\n"
    "               sqrt(running(var(x, [batch, spatial])) + eps) + bias',\n"
    "        params: 'weight = 1 per channel, bias = 0 per channel'}}\n"
    "train: {batch_size: 8, eval_batch_size: 16, steps: 12, eval_every: 5, log_every: 4}\n",
};

START_TEST(test_recorded_training)
{
    tu_assert_replayed_repeats_direct(gpu_be, recorded_configs[_i], _i);
}
END_TEST

/* Runs sharing one GPU as threads of one process, each with its own backend
 * (stream, cuBLAS handle, workspaces), as a sweep's threads will: every run
 * trained alone first, then all at once, each opened and built in its own
 * thread and started together, two recording and replaying their steps
 * (thread-local captures) and one launching kernel by kernel, while another
 * thread builds and frees models, allocates, copies, synchronizes and frees.
 * Each recording waits, capture open, for two rounds of that thread's calls,
 * so they surely meet. Each run's rows are its rows alone, bit for bit, and
 * a recorded run still replays every step. Planned automatically, and with
 * every normalization split over blocks (the split path reduces through the
 * backend's scratch buffer). */
typedef struct {
    int config; /* into recorded_configs */
    bool recorded;
} thread_run_spec;
static const thread_run_spec thread_runs[] = {{0, true}, {3, true}, {1, false}};
enum { THREAD_RUNS = sizeof thread_runs / sizeof thread_runs[0], THREAD_MAX_ROWS = 64 };
static const int thread_norm_modes[] = {0, 3}; /* into norm_modes */

typedef struct {
    pthread_barrier_t start;
    atomic_int training;      /* runs not yet done */
    atomic_long churn_rounds; /* rounds the churning thread has finished */
    atomic_bool churning;
} thread_share;

typedef struct {
    const thread_run_spec *spec; /* NULL: the thread that churns */
    thread_share *share;
    const nl_ops *backend_ops;   /* the backend's own, under the hooked copy */
    long captures_met;           /* recordings that churn rounds ran inside */
    nl_metric_row rows[THREAD_MAX_ROWS];
    int n;
    tu_train_variant variant;
    nl_error err;
} thread_run;

static _Thread_local thread_run *this_run;

/* opens the capture, then lets two churn rounds go by: one begins and ends inside it */
static bool record_begin_amid_churn(nl_backend *be)
{
    if (!this_run->backend_ops->record_begin(be))
        return false;
    thread_share *share = this_run->share;
    const long until = atomic_load(&share->churn_rounds) + 2;
    while (atomic_load(&share->churn_rounds) < until && atomic_load(&share->churning))
        sched_yield();
    this_run->captures_met += atomic_load(&share->churn_rounds) >= until;
    return true;
}

/* builds and frees the model of recorded_configs[2], and allocates, uploads,
 * downloads, checks and frees a buffer, until every run is done */
static void churn(nl_backend *be, thread_run *tr)
{
    nl_config *cfg = malloc(sizeof *cfg);
    if (!cfg || nl_config_load_string(recorded_configs[2], "churn.yaml", NULL, 0, cfg,
                                      &tr->err) != NL_OK) {
        free(cfg);
        return;
    }
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    enum { WORDS = 4096 };
    int32_t sent[WORDS], back[WORDS];
    for (long round = 0; atomic_load(&tr->share->training) > 0; round++) {
        nl_model *m = NULL;
        if (nl_model_create(&spec, be, nl_run_capacity(cfg), cfg->train.batch_size,
                           cfg->seed + (uint64_t)round, &m, &tr->err) != NL_OK)
            break;
        nl_model_free(m);
        void *buf = NULL;
        if (be->ops->alloc(be, sizeof sent, &buf, &tr->err) != NL_OK)
            break;
        for (int i = 0; i < WORDS; i++)
            sent[i] = (int32_t)(i * 7919 + round);
        be->ops->upload(be, buf, sent, sizeof sent);
        be->ops->download(be, back, buf, sizeof back);
        be->ops->release(be, buf);
        size_t free_bytes = 0, total_bytes = 0;
        be->ops->memory_info(be, &free_bytes, &total_bytes);
        if (be->ops->synchronize(be, &tr->err) != NL_OK)
            break;
        if (memcmp(sent, back, sizeof sent) != 0) {
            nl_fail(&tr->err, NL_ERR_RUNTIME, "churn round %ld: the download differs from "
                    "the upload", round);
            break;
        }
        atomic_fetch_add(&tr->share->churn_rounds, 1);
    }
    free(cfg);
}

static void *thread_run_main(void *arg)
{
    thread_run *tr = arg;
    this_run = tr;
    nl_backend *be = NULL;
    nl_error open_err = {0};
    const nl_code opened = nl_backend_open(NL_DEVICE_CUDA, NULL, &be, &open_err);
    pthread_barrier_wait(&tr->share->start); /* all open (or failed), then all build and start */
    if (opened != NL_OK) {
        tr->err = open_err;
    } else if (tr->spec) {
        nl_ops hooked = *be->ops;
        hooked.record_begin = record_begin_amid_churn;
        nl_backend run_be = *be;
        run_be.ops = &hooked;
        tr->backend_ops = be->ops;
        tr->variant.recorded = tr->spec->recorded;
        tr->n = tu_train_rows_try(&run_be, recorded_configs[tr->spec->config], &tr->variant,
                                  tr->rows, THREAD_MAX_ROWS, &tr->err);
    } else {
        churn(be, tr);
    }
    if (tr->spec)
        atomic_fetch_sub(&tr->share->training, 1);
    else
        atomic_store(&tr->share->churning, false);
    if (be)
        nl_backend_close(be);
    return NULL;
}

START_TEST(test_threads_share_gpu)
{
    static thread_run alone[THREAD_RUNS], together[THREAD_RUNS + 1];
    set_norm_mode(thread_norm_modes[_i]);
    for (int r = 0; r < THREAD_RUNS; r++) {
        nl_backend *be = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_backend_open(NL_DEVICE_CUDA, NULL, &be, &err) == NL_OK, "%s", err.msg);
        alone[r].variant.recorded = thread_runs[r].recorded;
        alone[r].n = tu_train_rows(be, recorded_configs[thread_runs[r].config], &alone[r].variant,
                                   alone[r].rows, THREAD_MAX_ROWS);
        nl_backend_close(be);
    }
    static thread_share share;
    ck_assert_int_eq(pthread_barrier_init(&share.start, NULL, THREAD_RUNS + 1), 0);
    atomic_init(&share.training, THREAD_RUNS);
    atomic_init(&share.churn_rounds, 0);
    atomic_init(&share.churning, true);
    pthread_t threads[THREAD_RUNS + 1];
    for (int r = 0; r <= THREAD_RUNS; r++) {
        together[r] = (thread_run){.spec = r < THREAD_RUNS ? &thread_runs[r] : NULL,
                                   .share = &share};
        ck_assert_int_eq(pthread_create(&threads[r], NULL, thread_run_main, &together[r]), 0);
    }
    for (int r = 0; r <= THREAD_RUNS; r++)
        pthread_join(threads[r], NULL);
    pthread_barrier_destroy(&share.start);
    for (int r = 0; r <= THREAD_RUNS; r++)
        ck_assert_msg(together[r].err.code == NL_OK, "thread %d: %s", r, together[r].err.msg);
    for (int r = 0; r < THREAD_RUNS; r++) {
        const int config = thread_runs[r].config;
        ck_assert_int_eq(together[r].n, alone[r].n);
        tu_assert_same_rows(alone[r].rows, together[r].rows, alone[r].n, "alone",
                            "beside other threads", config);
        const tu_train_variant *ran[2] = {&alone[r].variant, &together[r].variant};
        for (int k = 0; k < 2; k++)
            ck_assert_msg(ran[k]->replayed_steps == (thread_runs[r].recorded ? ran[k]->steps : 0),
                          "config %d %s: %ld of %ld steps replayed", config,
                          k ? "beside other threads" : "alone", ran[k]->replayed_steps,
                          ran[k]->steps);
        ck_assert_msg(thread_runs[r].recorded ? together[r].captures_met > 0
                                              : together[r].captures_met == 0,
                      "config %d: %ld recordings met the churning thread", config,
                      together[r].captures_met);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */

/* Is a GPU usable? Asked in a child so that this process never initializes
 * CUDA before check forks. Without one, the child also checks that opening
 * the backend fails cleanly. Returns 1 usable, 0 not, -1 the probe failed. */
static int probe_gpu(char *msg, size_t size)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fd[0]);
        char buf[1024];
        int usable = nl_backend_cuda_describe(buf, sizeof buf);
        char out[4096];
        if (usable) {
            snprintf(out, sizeof out, "1%s", buf);
        } else {
            nl_backend *be = NULL;
            nl_error err = {0};
            nl_code rc = nl_backend_open(NL_DEVICE_CUDA, NULL, &be, &err);
            if (rc == NL_ERR_UNSUPPORTED && be == NULL && err.msg[0])
                snprintf(out, sizeof out, "0%s; opening the CUDA backend fails cleanly: %s", buf,
                         err.msg);
            else
                snprintf(out, sizeof out, "Eopening the CUDA backend without a GPU returned %d "
                         "(%s) instead of NL_ERR_UNSUPPORTED", (int)rc, err.msg);
        }
        ssize_t wr = write(fd[1], out, strlen(out));
        (void)wr;
        close(fd[1]);
        _exit(0);
    }
    close(fd[1]);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got == 0) {
        snprintf(msg, size, "the CUDA probe crashed (status %d)", status);
        return -1;
    }
    snprintf(msg, size, "%s", buf + 1);
    return buf[0] == '1' ? 1 : buf[0] == '0' ? 0 : -1;
}

/* The recurrent ops (nn.LSTM / nn.GRU layers) for both cells: forward's
 * outputs and final states, backward through every step with gradients on
 * the outputs and the final states, dx written and added; the recurrent
 * product on a few samples and on 17. Under fp32 and under each low
 * train.precision (core/cpu/rnn.c's definition on both backends): the two
 * round the same operands, so they part only where an fp32 sum in another
 * order lands across a rounding boundary, an ulp of the low precision at
 * a time: rnn_tolerance allows one at the tensor's largest magnitude
 * (bf16 2^-8, fp16 2^-11). Measured on the emulated GPU: bf16 2.3e-7,
 * fp16 8.7e-5, fp32 3.9e-7; fp32 products against bf16's differ by tens
 * of bf16 ulps (test_autocast_golden), past the bound. */
static double rnn_tolerance(nl_precision p)
{
    return p == NL_PRECISION_BF16 ? 4e-3 : p == NL_PRECISION_FP16 ? 5e-4 : 1e-4;
}

START_TEST(test_rnn_ops)
{
    const int shapes[][4] = {{3, 5, 4, 6}, {17, 4, 9, 32}}; /* n, t, in, hidden */
    for (int pi = 0; pi < NL_PRECISION_COUNT; pi++)
    for (int cell = 0; cell < NL_RNN_COUNT; cell++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int n = shapes[s][0], t = shapes[s][1], in = shapes[s][2], h = shapes[s][3];
            const int g = nl_rnn_gate_count(cell) * h;
            const size_t seq = (size_t)n * t * h, state = (size_t)n * h;
            const uint64_t seed = 900 + 10 * s + cell;
            const nl_precision precision = (nl_precision)pi;
            const double tol = rnn_tolerance(precision);
            char name[64];
            snprintf(name, sizeof name, "%s %s", nl_name_of(&nl_rnn_cell_names, cell),
                     nl_name_of(&nl_precision_names, precision));
            cpu_be->product_precision = gpu_be->product_precision = precision;
            twin x = twin_normal((size_t)n * t * in, seed, 0.0f, 1.0f);
            twin w_ih = twin_normal((size_t)g * in, seed + 1, 0.0f, 0.4f);
            twin w_hh = twin_normal((size_t)g * h, seed + 2, 0.0f, 0.4f);
            twin b_ih = twin_normal(g, seed + 3, 0.0f, 0.4f), b_hh = twin_normal(g, seed + 4, 0, 0.4f);
            twin y = twin_empty(seq), h_last = twin_empty(state), c_last = twin_empty(state);
            twin dy = twin_normal(seq, seed + 5, 0.0f, 1.0f);
            twin dh = twin_normal(state, seed + 6, 0.0f, 1.0f), dc = twin_normal(state, seed + 7, 0, 1);
            twin dx0 = twin_normal((size_t)n * t * in, seed + 8, 0.0f, 1.0f);
            twin dx = twin_empty((size_t)n * t * in);
            twin dw_ih = twin_empty((size_t)g * in), dw_hh = twin_empty((size_t)g * h);
            twin db_ih = twin_empty(g), db_hh = twin_empty(g);
            void *saved[2], *ws[2];
            for (int b = 0; b < 2; b++) {
                nl_error err = {0};
                nl_backend *be = be_of(b);
                ck_assert_msg(be->ops->alloc(be, be->ops->rnn_saved_bytes(be, cell, n, t, h),
                                             &saved[b], &err) == NL_OK,
                              "%s", err.msg);
                ck_assert_msg(be->ops->alloc(be, be->ops->rnn_workspace(be, cell, n, t, in, h),
                                             &ws[b], &err) == NL_OK,
                              "%s", err.msg);
                be->ops->rnn_forward(be, cell, n, t, in, h, F(x, b), F(w_ih, b), F(w_hh, b),
                                     F(b_ih, b), F(b_hh, b), F(y, b), F(h_last, b),
                                     cell == NL_RNN_LSTM ? F(c_last, b) : NULL, saved[b], ws[b]);
            }
            char what[128];
            snprintf(what, sizeof what, "%s %dx%dx%d->%d: y", name, n, t, in, h);
            check_close(y, tol, what);
            snprintf(what, sizeof what, "%s %dx%dx%d->%d: h_T", name, n, t, in, h);
            check_close(h_last, tol, what);
            if (cell == NL_RNN_LSTM) {
                snprintf(what, sizeof what, "%s %dx%dx%d->%d: c_T", name, n, t, in, h);
                check_close(c_last, tol, what);
            }
            for (int accumulate = 0; accumulate < 2; accumulate++) {
                twin_copy(dx, dx0);
                for (int b = 0; b < 2; b++)
                    be_of(b)->ops->rnn_backward(be_of(b), cell, n, t, in, h, F(x, b), F(w_ih, b),
                                                F(w_hh, b), saved[b], F(dy, b), F(dh, b),
                                                cell == NL_RNN_LSTM ? F(dc, b) : NULL, F(dx, b),
                                                accumulate, F(dw_ih, b), F(dw_hh, b),
                                                F(db_ih, b), F(db_hh, b), ws[b]);
                const struct {
                    twin *t;
                    const char *what;
                } grads[] = {{&dx, "dx"}, {&dw_ih, "dweight_ih"}, {&dw_hh, "dweight_hh"},
                             {&db_ih, "dbias_ih"}, {&db_hh, "dbias_hh"}};
                for (size_t k = 0; k < sizeof grads / sizeof grads[0]; k++) {
                    snprintf(what, sizeof what, "%s %dx%dx%d->%d accumulate %d: %s", name, n, t,
                             in, h, accumulate, grads[k].what);
                    check_close(*grads[k].t, tol, what);
                }
            }
            for (int b = 0; b < 2; b++) {
                be_of(b)->ops->release(be_of(b), saved[b]);
                be_of(b)->ops->release(be_of(b), ws[b]);
            }
            twin *all[] = {&x, &w_ih, &w_hh, &b_ih, &b_hh, &y, &h_last, &c_last, &dy, &dh, &dc,
                           &dx0, &dx, &dw_ih, &dw_hh, &db_ih, &db_hh};
            for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
                twin_free(all[k]);
            cpu_be->product_precision = gpu_be->product_precision = NL_PRECISION_FP32;
        }
}
END_TEST

/* Training the recurrent architectures: the GPU's losses follow the CPU's
 * (the cells are smooth), and the step recorded as a CUDA graph and replayed
 * repeats the step launched kernel by kernel, bit for bit (the per-step
 * kernels, copies and clears of the recurrence inside one recording): a
 * stacked LSTM LM with clipping, and a GRU on images with the fixed pixel
 * permutation. */
static const char *const rnn_configs[] = {
    "data: {dataset: synthetic_text, markov: {vocab: 8, length: 3000}}\n"
    "model: {arch: rnn_lm, cell: lstm, context: 12, hidden: 16, layers: 2, norm: {type: none}}\n"
    "train: {batch_size: 8, eval_batch_size: 7, steps: 15, eval_every: 6, log_every: 5,\n"
    "        clip_grad_norm: 1.0, optimizer: {type: adamw, lr: 0.01}}\n",
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: rnn, cell: gru, hidden: 12, layers: 1, permute_pixels: true,\n"
    "        norm: {type: none}}\n"
    "train: {batch_size: 16, eval_batch_size: 16, steps: 20, eval_every: 7, log_every: 3,\n"
    "        optimizer: {type: adamw, lr: 0.01}}\n",
};

START_TEST(test_rnn_training)
{
    enum { MAX_ROWS = 16 };
    nl_metric_row on_cpu[MAX_ROWS], on_gpu[MAX_ROWS];
    tu_train_variant plain_cpu = {0}, plain_gpu = {0};
    const int n = tu_train_rows(cpu_be, rnn_configs[_i], &plain_cpu, on_cpu, MAX_ROWS);
    ck_assert_int_eq(tu_train_rows(gpu_be, rnn_configs[_i], &plain_gpu, on_gpu, MAX_ROWS), n);
    ck_assert_int_gt(n, 3);
    for (int r = 0; r < n; r++)
        ck_assert_msg(on_gpu[r].step == on_cpu[r].step && isfinite(on_gpu[r].loss) &&
                          fabs(on_gpu[r].loss - on_cpu[r].loss) <= 1e-3 * fabs(on_cpu[r].loss) + 1e-5,
                      "rnn config %d, row %d (step %ld): loss %.9g on the GPU, %.9g on the CPU", _i,
                      r, on_cpu[r].step, on_gpu[r].loss, on_cpu[r].loss);
    tu_assert_replayed_repeats_direct(gpu_be, rnn_configs[_i], _i);
}
END_TEST

/* The cells with normalizers inside (placement in_cell) train alike on
 * both backends, and the recorded step replays the direct one: a stacked
 * LN-LSTM LM with clipping, a recurrent-batch-norm GRU on images (per-step
 * statistics, its eval with the per-step running ones at another batch
 * size), and an RMS-LSTM on images with the cell state left plain. The LM
 * learns at 0.003: at 0.01 AdamW's first steps turn the backends'
 * rounding (gradients within 3e-6, test_rnn_norm_gradients) into a loss
 * apart by 1.4e-3 after 15 steps. */
static const char *const rnn_norm_configs[] = {
    "data: {dataset: synthetic_text, markov: {vocab: 8, length: 3000}}\n"
    "model: {arch: rnn_lm, cell: lstm, context: 12, hidden: 16, layers: 2,\n"
    "        norm: {type: layer, placement: in_cell}}\n"
    "train: {batch_size: 8, eval_batch_size: 7, steps: 15, eval_every: 6, log_every: 5,\n"
    "        clip_grad_norm: 1.0, optimizer: {type: adamw, lr: 0.003}}\n",
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: rnn, cell: gru, hidden: 12, layers: 1,\n"
    "        norm: {type: batch, placement: in_cell}}\n"
    "train: {batch_size: 16, eval_batch_size: 10, steps: 20, eval_every: 7, log_every: 3,\n"
    "        optimizer: {type: adamw, lr: 0.01}}\n",
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: rnn, cell: lstm, hidden: 12, layers: 1,\n"
    "        norm: {type: rms, placement: in_cell, cell_state: false}}\n"
    "train: {batch_size: 16, eval_batch_size: 16, steps: 20, eval_every: 7, log_every: 3,\n"
    "        optimizer: {type: adamw, lr: 0.01}}\n",
};

/* One pass of each in-cell kind for both cells, the stacked LM with the
 * cell state normalized: the logits' loss and every parameter's gradient
 * alike on both backends from the same parameters and tokens; in fp32,
 * then under bf16 products (the recurrence's rnn_state_grad included),
 * where the backends' fp32 rounding (the normalizers' sums) can move a
 * product across a bf16 rounding boundary: an ulp, 2^-8, per crossing,
 * the bound one such ulp (measured on the emulated GPU: 1.1e-6). */
START_TEST(test_rnn_norm_gradients)
{
    static const nl_norm_kind kinds[] = {NL_NORM_LAYER, NL_NORM_RMS, NL_NORM_BATCH};
    const nl_norm_kind kind = kinds[_i % 3];
    const nl_rnn_cell cell = (nl_rnn_cell)(_i / 3 % NL_RNN_COUNT);
    const bool bf16 = _i >= 3 * NL_RNN_COUNT;
    const double tol_loss = bf16 ? 4e-3 : 1e-5, tol_grad = bf16 ? 4e-3 : 2e-5;
    enum { N = 6, T = 7, VOCAB = 9 };
    nl_model *m[2];
    for (int b = 0; b < 2; b++) {
        be_of(b)->product_precision = bf16 ? NL_PRECISION_BF16 : NL_PRECISION_FP32;
        nl_model_spec spec;
        nl_model_spec_defaults(&spec);
        spec.arch = NL_ARCH_RNN_LM;
        spec.cell = cell;
        spec.hidden = 12;
        spec.layers = 2;
        spec.context = T;
        spec.classes = VOCAB;
        nl_norm_spec_defaults(&spec.norm, kind);
        spec.norm.placement = NL_PLACE_IN_CELL;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be_of(b), N, N, 1, &m[b], &err) == NL_OK, "%s",
                      err.msg);
    }
    const size_t floats = m[0]->param_floats;
    float *host = malloc(floats * sizeof *host);
    tu_fill_normal(host, floats, 21 + (uint64_t)_i, 0.0f, 0.5f);
    int32_t tokens[N * T], targets[N * T];
    for (int i = 0; i < N * T; i++) {
        tokens[i] = (i * 5 + i / 3) % VOCAB;
        targets[i] = (i * 7 + 2) % VOCAB;
    }
    double metrics[2][2];
    for (int b = 0; b < 2; b++) {
        be_of(b)->ops->upload(be_of(b), m[b]->param_arena, host, floats * sizeof *host);
        nl_model_load_tokens(m[b], tokens, targets, N);
        nl_model_reset_metrics(m[b]);
        nl_model_forward(m[b], N, NL_MODE_TRAIN);
        nl_model_backward(m[b], N);
        nl_model_read_metrics(m[b], metrics[b]);
    }
    ck_assert_msg(fabs(metrics[1][0] - metrics[0][0]) <= tol_loss * fabs(metrics[0][0]),
                  "%s: loss %.9g on the GPU, %.9g on the CPU", bf16 ? "bf16" : "fp32",
                  metrics[1][0], metrics[0][0]);
    for (int p = 0; p < m[0]->n_params; p++) {
        char what[160];
        snprintf(what, sizeof what, "in-cell %s %s %s: d%s", nl_name_of(&nl_norm_names, kind),
                 nl_name_of(&nl_rnn_cell_names, cell), bf16 ? "bf16" : "fp32",
                 m[0]->params[p]->name);
        check_close((twin){{m[0]->params[p]->grad, m[1]->params[p]->grad},
                           m[0]->params[p]->count * sizeof(float)},
                    tol_grad, what);
    }
    free(host);
    for (int b = 0; b < 2; b++) {
        nl_model_free(m[b]);
        be_of(b)->product_precision = NL_PRECISION_FP32;
    }
}
END_TEST

START_TEST(test_rnn_norm_training)
{
    enum { MAX_ROWS = 16 };
    nl_metric_row on_cpu[MAX_ROWS], on_gpu[MAX_ROWS];
    tu_train_variant plain_cpu = {0}, plain_gpu = {0};
    const char *config = rnn_norm_configs[_i];
    const int n = tu_train_rows(cpu_be, config, &plain_cpu, on_cpu, MAX_ROWS);
    ck_assert_int_eq(tu_train_rows(gpu_be, config, &plain_gpu, on_gpu, MAX_ROWS), n);
    ck_assert_int_gt(n, 3);
    for (int r = 0; r < n; r++)
    for (int r = 0; r < n; r++)
        ck_assert_msg(on_gpu[r].step == on_cpu[r].step && isfinite(on_gpu[r].loss) &&
                          fabs(on_gpu[r].loss - on_cpu[r].loss) <= 1e-3 * fabs(on_cpu[r].loss) + 1e-5,
                      "rnn_norm config %d, row %d (step %ld): loss %.9g on the GPU, %.9g on the CPU",
                      _i, r, on_cpu[r].step, on_gpu[r].loss, on_cpu[r].loss);
    tu_assert_replayed_repeats_direct(gpu_be, config, _i);
}
END_TEST

/* ---- a formula normalizer's programs (model.norm.type expr) ----
 * The GPU's program runner (core/cuda/formula.cu) against the CPU's row
 * interpreter, from one plan: forward and backward in training (running
 * statistics updated), training with them kept, and evaluation, plain and
 * with a fused ReLU and residual add (dx then accumulated); images over
 * more than one segment of a row, token sequences whose rows are grouped
 * channels, feature vectors. The sums are the interpreter's in its order,
 * so a formula of + - * / sqrt min max abs and squares gives the CPU's
 * bits (exact); exp, tanh, sigmoid and erf are the device's own against
 * the CPU's vector kernels, a few ulps apart, so within 1e-5 of the
 * largest value. The running statistics' update, (1 - m) r + m v, is one
 * FMA where the CPU's kernel set contracts it (core/cpu is built with
 * -ffp-contract=fast) and two roundings on the GPU (--fmad=false): within
 * 1e-6, and each mode starts from the CPU's. The GPU repeats its bits.
 * amax and amin (accumulated by max, from -infinity, a NaN passed over)
 * reduce along rows and across them, per sample and over the batch, and
 * of small values; nan_x puts a NaN in x, which an amax passes over. The
 * residual a fused add takes holds a NaN in every case, which the fused
 * ReLU keeps (issue 118) and whose backward passes dy through. */
static const struct {
    const char *name, *expr, *params;
    int ndim, n, c, p, groups;
    bool exact, nan_x;
} formula_cases[] = {
    {"batch", "weight * (x - running(mean(x, [batch, spatial]))) / "
              "sqrt(running(var(x, [batch, spatial])) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel", 4, 3, 6, 300, 1, true, false},
    {"layer, grouped tokens", "weight * (x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel", 3, 3, 20, 7, 4, true, false},
    {"rms, running", "weight * x / sqrt(running(mean(x^2, [batch])) + eps)", "weight = 1 per channel",
     2, 6, 24, 1, 1, true, false},
    {"min, max, abs", "max(x, 0.5 * x) - min(x, -1) + w * abs(x - mean(x, [spatial])) / "
                      "(mean(abs(x - mean(x, [batch, spatial])), [batch, spatial]) + eps)",
     "w = 0.5 per channel", 4, 2, 4, 49, 1, true, false},
    {"evonorm-s0, groups", "weight * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel, v = 1 per channel", 4, 2, 8, 30, 4, false, false},
    {"functions, tokens", "max(x, 0.5 * x) - min(x, -1) + erf(x) * relu(x) + log(1 + exp(-abs(x))) + "
                          "rsqrt(x^2 + 1) + tanh(x) * sum(x, [channels, tokens]) * 0.01",
     "", 3, 2, 12, 5, 1, false, false},
    {"amax over channels", "(x - amax(x, [channels, spatial])) * w", "w = 1 per channel",
     4, 3, 6, 300, 1, true, true},
    {"amax over batch, tokens", "x / (amax(abs(x), [batch, tokens]) + eps)", "", 3, 3, 20, 7, 4,
     true, true},
    {"amax, amin of small values", "x * w - amax(x, [batch]) + amin(mean(x, [spatial]), [channels])",
     "w = 1 per channel", 4, 2, 4, 49, 1, true, false},
    /* parameters per channel group (issue 114): read per group, their
     * gradients summed over each group's channels */
    {"per-group parameters", "gamma * (x - mean(x, [channels, spatial])) / "
                             "sqrt(var(x, [channels, spatial]) + eps) + beta * v",
     "gamma = 1 per group, beta = 0 per group, v = 2 per channel", 4, 2, 8, 30, 4, true, false},
};

enum { FORMULA_CASES = sizeof formula_cases / sizeof formula_cases[0] };

typedef struct {
    nl_formula_plan *plan;
    int n_params, n_running;
    size_t count, param_count[NL_FORMULA_MAX_PARAMS], running_count[NL_FORMULA_MAX_RUNNING];
    twin x, dy, skip, y, dx, dskip, momentum, image;
    twin params[NL_FORMULA_MAX_PARAMS], dparams[NL_FORMULA_MAX_PARAMS];
    twin running[NL_FORMULA_MAX_RUNNING];
    void *saved[2], *workspace[2];
} formula_twins;

/* normal values, one of them (at < n) a NaN */
static twin twin_normal_nan(size_t n, uint64_t seed, float mean, float std, size_t at)
{
    float *h = malloc(n * sizeof *h);
    ck_assert(h != NULL);
    tu_fill_normal(h, n, seed, mean, std);
    if (at < n)
        h[at] = NAN;
    twin t = twin_new(h, n * sizeof *h);
    free(h);
    return t;
}

static void formula_twins_make(formula_twins *t, int i)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_formula_parse(formula_cases[i].expr, formula_cases[i].params, &f, &err) == NL_OK,
                  "%s: %s", formula_cases[i].name, err.msg);
    const nl_formula_input in = {.ndim = formula_cases[i].ndim, .n_capacity = formula_cases[i].n,
                                 .c = formula_cases[i].c, .p = formula_cases[i].p,
                                 .groups = formula_cases[i].groups};
    ck_assert_msg(nl_formula_plan_make(f, in, 1e-5f, &t->plan, &err) == NL_OK, "%s: %s",
                  formula_cases[i].name, err.msg);
    t->n_params = nl_formula_param_count(f);
    t->n_running = nl_formula_plan_running_count(t->plan);
    t->count = (size_t)in.n_capacity * (size_t)in.c * (size_t)in.p;
    t->x = twin_normal_nan(t->count, 300 + (uint64_t)i, 0.3f, 1.2f,
                           formula_cases[i].nan_x ? t->count / 3 + 1 : t->count);
    t->dy = twin_normal(t->count, 301, 0, 1);
    t->skip = twin_normal_nan(t->count, 302, 0, 1, t->count / 2);
    t->y = twin_empty(t->count);
    t->dx = twin_empty(t->count);
    t->dskip = twin_empty(t->count);
    t->momentum = twin_const(1, 0.1f);
    for (int k = 0; k < t->n_params; k++) {
        const nl_formula_param *fp = nl_formula_param_at(f, k);
        t->param_count[k] = (size_t)nl_formula_param_count_of(t->plan, k);
        t->params[k] = twin_normal(t->param_count[k], 310 + (uint64_t)k, fp->init, 0.2f);
        t->dparams[k] = twin_empty(t->param_count[k]);
    }
    for (int k = 0; k < t->n_running; k++) {
        float init;
        const char *what;
        nl_formula_plan_running_at(t->plan, k, &t->running_count[k], &init, &what);
        t->running[k] = twin_normal(t->running_count[k], 320 + (uint64_t)k, 1.0f, 0.2f);
    }
    nl_formula_free(f);
    const size_t image_bytes = nl_formula_image_layout(t->plan).bytes;
    void *image = malloc(image_bytes);
    ck_assert(image != NULL);
    nl_formula_plan_image(t->plan, image);
    t->image = twin_new(image, image_bytes);
    free(image);
    for (int b = 0; b < 2; b++) {
        nl_formula_plan_set_threads(t->plan, b ? in.n_capacity : 1);
        t->saved[b] = alloc_workspace(b, (nl_formula_plan_saved_floats(t->plan) + 1) * sizeof(float));
        t->workspace[b] = alloc_workspace(b, nl_formula_plan_workspace_bytes(t->plan));
    }
}

static void formula_twins_free(formula_twins *t)
{
    twin *all[] = {&t->x, &t->dy, &t->skip, &t->y, &t->dx, &t->dskip, &t->momentum, &t->image};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        twin_free(all[k]);
    for (int k = 0; k < t->n_params; k++)
        twin_free(&t->params[k]), twin_free(&t->dparams[k]);
    for (int k = 0; k < t->n_running; k++)
        twin_free(&t->running[k]);
    for (int b = 0; b < 2; b++) {
        be_of(b)->ops->release(be_of(b), t->saved[b]);
        be_of(b)->ops->release(be_of(b), t->workspace[b]);
    }
    nl_formula_plan_free(t->plan);
}

/* one forward and backward on backend b; fused: a ReLU and residual add,
 * dx and dskip accumulated */
static void formula_run(formula_twins *t, int b, nl_formula_mode mode, bool fused)
{
    nl_backend *be = be_of(b);
    nl_formula_plan_set_threads(t->plan, b ? t->plan->in.n_capacity : 1);
    nl_formula_io io = {.n = t->plan->in.n_capacity, .relu = fused, .skip = fused ? F(t->skip, b) : NULL,
                        .x = F(t->x, b), .y = F(t->y, b), .momentum = 0.1f,
                        .momentum_at = F(t->momentum, b), .saved = t->saved[b],
                        .workspace = t->workspace[b], .program = t->image.d[b]};
    for (int k = 0; k < t->n_params; k++) {
        io.params[k] = F(t->params[k], b);
        io.dparams[k] = F(t->dparams[k], b);
    }
    for (int k = 0; k < t->n_running; k++)
        io.running[k] = F(t->running[k], b);
    be->ops->formula_forward(be, t->plan, mode, &io);
    io.dy = F(t->dy, b);
    io.dx = F(t->dx, b);
    io.accumulate_dx = fused;
    io.dskip = fused ? F(t->dskip, b) : NULL;
    io.accumulate_dskip = fused;
    be->ops->formula_backward(be, t->plan, mode, &io);
}

/* exact: bit for bit (NaN where the CPU has NaN); else within 1e-5 of the
 * largest value, the NaNs where the CPU's are */
static void formula_compare(twin t, bool exact, const char *what)
{
    if (exact) {
        check_equal_floats(t, what);
        return;
    }
    gpu_sync_ok();
    float *g = fetch(t, 1), *c = fetch(t, 0);
    for (size_t i = 0; i < t.bytes / sizeof(float); i++) {
        ck_assert_msg(isnan(g[i]) == isnan(c[i]), "%s: element %zu: GPU %g, CPU %g", what, i,
                      (double)g[i], (double)c[i]);
        if (isnan(c[i]))
            g[i] = c[i] = 0;
    }
    tu_assert_close(g, c, t.bytes / sizeof(float), 1e-5, what);
    free(g);
    free(c);
}

static void formula_check(formula_twins *t, bool exact, const char *where)
{
    char what[256];
    const twin *outs[] = {&t->y, &t->dx, &t->dskip};
    const char *names[] = {"y", "dx", "dskip"};
    for (int k = 0; k < 3; k++) {
        snprintf(what, sizeof what, "%.200s: %s", where, names[k]);
        formula_compare(*outs[k], exact, what);
    }
    for (int k = 0; k < t->n_params; k++) {
        snprintf(what, sizeof what, "%.200s: dparam %d", where, k);
        formula_compare(t->dparams[k], exact, what);
    }
    for (int k = 0; k < t->n_running; k++) {
        snprintf(what, sizeof what, "%.200s: running %d", where, k);
        check_close(t->running[k], 1e-6, what);
    }
}

START_TEST(test_formula_programs)
{
    /* the second half of the cases' runs: every pass by blocks of samples */
    if (_i >= FORMULA_CASES)
        setenv("NORMLAB_CUDA_FORMULA_BLOCKS", "1", 1);
    else
        unsetenv("NORMLAB_CUDA_FORMULA_BLOCKS");
    const int fc = _i % FORMULA_CASES;
    open_gpu();
    formula_twins t = {0};
    formula_twins_make(&t, fc);
    const nl_formula_mode modes[3] = {NL_FORMULA_TRAIN, NL_FORMULA_TRAIN_KEEP, NL_FORMULA_EVAL};
    char where[256];
    for (int fused = 0; fused < 2; fused++)
        for (int mi = 0; mi < 3; mi++) {
            /* the same starting values on both: outputs a fused run adds
             * to, and the CPU's running statistics */
            twin_copy(t.dx, t.dy);
            twin_copy(t.dskip, t.skip);
            for (int k = 0; k < t.n_running; k++) {
                float *cpu = fetch(t.running[k], 0);
                upload_to(1, t.running[k], cpu);
                free(cpu);
            }
            for (int b = 0; b < 2; b++)
                formula_run(&t, b, modes[mi], fused);
            snprintf(where, sizeof where, "%s, mode %d, %s%s", formula_cases[fc].name, mi,
                     fused ? "ReLU and add fused, accumulated" : "plain",
                     _i >= FORMULA_CASES ? ", every pass by blocks" : "");
            formula_check(&t, formula_cases[fc].exact, where);
            /* the GPU again from the same inputs: the same bits (its
             * running statistics put back after) */
            float *kept[NL_FORMULA_MAX_RUNNING];
            for (int k = 0; k < t.n_running; k++)
                kept[k] = fetch(t.running[k], 1);
            void *y = snapshot(t.y);
            twin_copy(t.dx, t.dy);
            twin_copy(t.dskip, t.skip);
            formula_run(&t, 1, modes[mi], fused);
            check_repeat(t.y, y, where);
            void *dx = fetch(t.dx, 1);
            twin_copy(t.dx, t.dy);
            twin_copy(t.dskip, t.skip);
            formula_run(&t, 1, modes[mi], fused);
            check_repeat(t.dx, dx, where);
            for (int k = 0; k < t.n_running; k++) {
                upload_to(1, t.running[k], kept[k]);
                free(kept[k]);
            }
        }
    formula_twins_free(&t);
    close_gpu();
    unsetenv("NORMLAB_CUDA_FORMULA_BLOCKS");
}
END_TEST

/* formula layers in whole models, a few steps on each backend (the
 * training cases' bounds): the plan's image uploaded as a constant, the
 * workspace sized for the GPU, the momentum through the step's scalars,
 * a ReLU fused after the formula (and a residual add before it) */
static const train_case formula_train_cases[] = {
    {NL_ARCH_CNN, NL_NORM_EXPR, NL_PLACE_BEFORE, NL_ACT_RELU, NL_POOL_AVG, .optim = NL_OPTIM_SGD,
     .steps = 4, .expr = "weight * (x - running(mean(x, [batch, spatial]))) / "
                         "sqrt(running(var(x, [batch, spatial])) + eps) + bias",
     .expr_params = "weight = 1 per channel, bias = 0 per channel"},
    {NL_ARCH_RESNET, NL_NORM_EXPR, NL_PLACE_POST, NL_ACT_RELU, NL_POOL_AVG, .optim = NL_OPTIM_SGD,
     .steps = 3, .expr = "weight * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + bias",
     .expr_params = "weight = 1 per channel, bias = 0 per channel, v = 1 per channel"},
};

START_TEST(test_formula_training)
{
    open_gpu();
    check_training_parity(&formula_train_cases[_i]);
    close_gpu();
}
END_TEST

/* a channel-blocked input is refused by the GPU (it has no such layout),
 * as an error synchronize reports, nothing written */
START_TEST(test_formula_refuses_a_block)
{
    open_gpu();
    formula_twins t = {0};
    formula_twins_make(&t, 0);
    nl_formula_io io = {.n = 1, .block = 8, .x = F(t.x, 1), .y = F(t.y, 1),
                        .momentum_at = F(t.momentum, 1), .saved = t.saved[1],
                        .workspace = t.workspace[1], .program = t.image.d[1]};
    void *before = snapshot(t.y);
    gpu_be->ops->formula_forward(gpu_be, t.plan, NL_FORMULA_TRAIN_KEEP, &io);
    nl_error err = {0};
    ck_assert_int_eq(gpu_be->ops->synchronize(gpu_be, &err), NL_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "channel-blocked") != NULL, "%s", err.msg);
    void *after = fetch(t.y, 1);
    ck_assert_msg(memcmp(before, after, t.y.bytes) == 0, "the refused forward wrote y");
    free(before);
    free(after);
    formula_twins_free(&t);
    close_gpu();
}
END_TEST

/* Every op both backends implement was called on both by the cases that
 * ran before this one in this process (its tests' forks included): a CUDA
 * op no parity case reaches is named. Run on the whole suite: with
 * CK_RUN_CASE naming another case this one does not run. */
START_TEST(test_every_op_reached)
{
    if (!OP_COVERAGE) {
        printf("op coverage: not counted on this platform (the trampolines are x86-64's)\n");
        return;
    }
    static const struct {
        const char *op;
        bool both; /* listed for every backend */
    } ops[OP_COUNT] = {
#define NL_OP(backends, ret, op, params)                                                           \
    [OP_##op] = {#op, NL_OP_ON_CPU_##backends && NL_OP_ON_CUDA_##backends},
#include "backend/backend_ops.def"
    };
    char missed[2048] = "";
    size_t used = 0;
    int n_missed = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        if (!ops[k].both || (op_calls[k][0] && op_calls[k][1]))
            continue;
        n_missed++;
        if (used < sizeof missed)
            used += (size_t)snprintf(missed + used, sizeof missed - used, "%s%s (cpu %lu, cuda %lu)",
                                     used ? ", " : "", ops[k].op, op_calls[k][0], op_calls[k][1]);
    }
    ck_assert_msg(n_missed == 0, "%d ops of backend_ops.def reached by no parity case on both "
                                 "backends: %s", n_missed, missed);
}
END_TEST

int main(void)
{
    if (!nl_backend_cuda_built()) {
        printf("SKIPPED: this normlab was built without CUDA (configure with -DNORMLAB_CUDA=ON)\n");
        return 77;
    }
    char msg[4096];
    int usable = probe_gpu(msg, sizeof msg);
    if (usable < 0) {
        printf("FAILED: %s\n", msg);
        return 1;
    }
    if (!usable) {
        printf("SKIPPED: %s\n", msg);
        return 77;
    }
    printf("GPU: %s\n", msg);
    fflush(stdout);

    op_calls = mmap(NULL, sizeof(unsigned long[OP_COUNT][2]), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (op_calls == MAP_FAILED) {
        printf("FAILED: no shared memory for the op counts\n");
        return 1;
    }
    Suite *s = suite_create("cuda_parity");
    TCase *ops = tcase_create("ops");
    tcase_add_checked_fixture(ops, open_gpu, close_gpu);
    tcase_set_timeout(ops, 600);
    tcase_add_test(ops, test_ops_filled);
    tcase_add_test(ops, test_memory_and_errors);
    tcase_add_test(ops, test_elementwise);
    tcase_add_test(ops, test_dropout_and_channel_affine);
    tcase_add_test(ops, test_sgd);
    tcase_add_test(ops, test_adamw);
    tcase_add_loop_test(ops, test_optimizer_rows, 0, 2 * NL_OPTIM_COUNT);
    tcase_add_test(ops, test_clip_ops);
    tcase_add_test(ops, test_scale_check_finite);
    tcase_add_test(ops, test_linear);
    tcase_add_test(ops, test_conv2d);
    tcase_add_test(ops, test_pool);
    tcase_add_test(ops, test_loss);
    tcase_add_loop_test(ops, test_kinds_on_the_gpu, 0, NL_NORM_COUNT);
    tcase_add_test(ops, test_device_answers);
    suite_add_tcase(s, ops);

    TCase *norms = tcase_create("norms"); /* each test opens its own backend (planner mode) */
    tcase_set_timeout(norms, 600);
    tcase_add_loop_test(norms, test_batchnorm, 0, 4);
    tcase_add_loop_test(norms, test_groupnorm, 0, 4);
    tcase_add_test(norms, test_pointwise_norms);
    tcase_add_test(norms, test_lowp_norms);
    tcase_add_test(norms, test_norm_space);
    tcase_add_test(norms, test_switch_norms);
    suite_add_tcase(s, norms);

    TCase *formula = tcase_create("formula"); /* each test opens its own backend */
    tcase_set_timeout(formula, 600);
    tcase_add_loop_test(formula, test_formula_programs, 0, 2 * FORMULA_CASES);
    tcase_add_test(formula, test_formula_refuses_a_block);
    tcase_add_loop_test(formula, test_formula_training, 0,
                        (int)(sizeof formula_train_cases / sizeof formula_train_cases[0]));
    suite_add_tcase(s, formula);

    TCase *tokens = tcase_create("tokens");
    tcase_add_checked_fixture(tokens, open_gpu, close_gpu);
    tcase_set_timeout(tokens, 600);
    tcase_add_test(tokens, test_gelu);
    tcase_add_test(tokens, test_embedding);
    tcase_add_test(tokens, test_attention);
    tcase_add_test(tokens, test_attention_too_wide);
    tcase_add_test(tokens, test_vit_ops);
    tcase_add_loop_test(tokens, test_image_token_training_parity, 0,
                        (int)(sizeof image_token_cases / sizeof image_token_cases[0]));
    tcase_add_loop_test(tokens, test_lm_training_parity, 0,
                        (int)(sizeof lm_cases / sizeof lm_cases[0]));
    suite_add_tcase(s, tokens);

    TCase *training = tcase_create("training");
    tcase_add_checked_fixture(training, open_gpu, close_gpu);
    tcase_set_timeout(training, 600);
    add_smooth_cases();
    tcase_add_loop_test(training, test_training_parity, 0, n_smooth_cases);
    suite_add_tcase(s, training);

    /* a case of its own, so that the checklist's per-case processes split
     * the training tests in two */
    TCase *repeats = tcase_create("repeats");
    tcase_add_checked_fixture(repeats, open_gpu, close_gpu);
    tcase_set_timeout(repeats, 600);
    tcase_add_loop_test(repeats, test_training_repeats, 0, 2 * NL_NORM_COUNT);
    suite_add_tcase(s, repeats);

    TCase *param_norm = tcase_create("param_norm");
    tcase_add_checked_fixture(param_norm, open_gpu, close_gpu);
    tcase_set_timeout(param_norm, 600);
    add_param_norm_cases();
    tcase_add_loop_test(param_norm, test_param_norm_training_parity, 0, n_param_norm_cases);
    suite_add_tcase(s, param_norm);

    TCase *probes = tcase_create("probes");
    tcase_add_checked_fixture(probes, open_gpu, close_gpu);
    tcase_set_timeout(probes, 600);
    tcase_add_loop_test(probes, test_sigprop_parity, 0, 3);
    tcase_add_test(probes, test_varshift_parity);
    suite_add_tcase(s, probes);

    TCase *resident = tcase_create("resident");
    tcase_add_checked_fixture(resident, open_gpu, close_gpu);
    tcase_set_timeout(resident, 600);
    tcase_add_test(resident, test_gather_rows);
    tcase_add_test(resident, test_gather_windows);
    tcase_add_loop_test(resident, test_resident_training, 0,
                        (int)(sizeof resident_configs / sizeof resident_configs[0]));
    suite_add_tcase(s, resident);

    TCase *recorded = tcase_create("recorded");
    tcase_add_checked_fixture(recorded, open_gpu, close_gpu);
    tcase_set_timeout(recorded, 600);
    tcase_add_loop_test(recorded, test_recorded_training, 0,
                        (int)(sizeof recorded_configs / sizeof recorded_configs[0]));
    suite_add_tcase(s, recorded);

    TCase *precision = tcase_create("precision"); /* train.precision's product ops */
    tcase_add_checked_fixture(precision, open_gpu, close_gpu);
    tcase_set_timeout(precision, 600);
    tcase_add_test(precision, test_precision_linear);
    tcase_add_test(precision, test_precision_conv2d);
    tcase_add_test(precision, test_precision_attention);
    tcase_add_loop_test(precision, test_precision_token_training, 0, 2); /* lm, vit */
    suite_add_tcase(s, precision);

    TCase *rnn = tcase_create("rnn");
    tcase_add_checked_fixture(rnn, open_gpu, close_gpu);
    tcase_set_timeout(rnn, 600);
    tcase_add_test(rnn, test_rnn_ops);
    tcase_add_loop_test(rnn, test_rnn_training, 0, sizeof rnn_configs / sizeof rnn_configs[0]);
    suite_add_tcase(s, rnn);
    TCase *rnn_norm = tcase_create("rnn_norm");
    tcase_add_checked_fixture(rnn_norm, open_gpu, close_gpu);
    tcase_set_timeout(rnn_norm, 600);
    tcase_add_loop_test(rnn_norm, test_rnn_norm_gradients, 0, 2 * 3 * NL_RNN_COUNT);
    tcase_add_loop_test(rnn_norm, test_rnn_norm_training, 0,
                        sizeof rnn_norm_configs / sizeof rnn_norm_configs[0]);
    suite_add_tcase(s, rnn_norm);

    TCase *threads = tcase_create("threads"); /* each run opens its own backend */
    tcase_add_checked_fixture(threads, NULL, clear_norm_mode);
    tcase_set_timeout(threads, 600);
    tcase_add_loop_test(threads, test_threads_share_gpu, 0,
                        (int)(sizeof thread_norm_modes / sizeof thread_norm_modes[0]));
    suite_add_tcase(s, threads);
    TCase *coverage = tcase_create("coverage"); /* last: it reads what the others counted */
    tcase_add_test(coverage, test_every_op_reached);
    suite_add_tcase(s, coverage);
    return tu_run_suite(s);
}
