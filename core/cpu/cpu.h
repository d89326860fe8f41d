/* The CPU backend's kernels, one file per op family. Loops run on OpenMP's
 * pool, and OpenBLAS is the OpenMP build, so both share one set of threads
 * (mixing pools on 2 cores costs 3-5x, see ../shared/bench/README.md).
 * Static schedules and per-block reductions in a fixed order make every
 * result repeat bit for bit for a given thread count. */
#ifndef NL_CPU_H
#define NL_CPU_H

#include <stdint.h>

#include "backend/backend.h"
#include "backend/shape.h" /* nl_plane_of: the channel-blocked index */
#include "cpu/isa.h"

#ifdef _OPENMP
#include <omp.h>
static inline int omp_get_thread_num_safe(void) { return omp_get_thread_num(); }
static inline int omp_get_num_threads_safe(void) { return omp_get_num_threads(); }
static inline int omp_in_parallel_safe(void) { return omp_in_parallel(); }
#else
static inline int omp_in_parallel_safe(void) { return 0; }
static inline int omp_get_num_threads_safe(void) { return 1; }
static inline int omp_get_thread_num_safe(void) { return 0; }
#endif

/* Threads and floating-point mode (cores.c). */
int nl_cpu_usable_cores(void); /* the CPUs this process may run on */
/* cores kept busy by other processes over a sample of sample_ms */
double nl_cpu_busy_cores(int sample_ms);
/* the team for threads: 0: the usable cores not taken by `busy`, at least 1 */
int nl_cpu_auto_threads(int usable, double busy);
/* flush-to-zero and denormals-are-zero on or off in this thread and in each
 * of a team of `threads` */
void nl_cpu_set_flush_subnormals(int threads, bool flush);
bool nl_cpu_flushes_subnormals(void); /* in the calling thread */
bool nl_cpu_flush_supported(void);

/* A load whose address agrees in its low 12 bits with a store still in
 * flight waits for it (4K aliasing), and a model's arena gives tensors of one
 * size the same offset within a page. Scratch arrays that a loop stores into
 * while it streams a tensor (or loads while it stores one) are therefore
 * placed half a page from that tensor: the first float of `buffer`, which
 * must have NL_PAGE_FLOATS floats of slack, at that offset from `other`. */
enum { NL_PAGE_BYTES = 4096, NL_PAGE_FLOATS = NL_PAGE_BYTES / sizeof(float) };

static inline float *nl_half_page_from(void *buffer, const void *other)
{
    const uintptr_t want = ((uintptr_t)other + NL_PAGE_BYTES / 2) % NL_PAGE_BYTES;
    const uintptr_t have = (uintptr_t)buffer % NL_PAGE_BYTES;
    return (float *)((char *)buffer + (want - have + NL_PAGE_BYTES) % NL_PAGE_BYTES);
}

/* This thread's contiguous share [first, last) of `count` items, called
 * inside a parallel region (the pipelined norm kernels fuse item i with
 * item i+1, so a thread's items must be adjacent). */
static inline void nl_thread_range(int count, int *first, int *last)
{
    const int threads = omp_get_num_threads_safe(), t = omp_get_thread_num_safe();
    *first = (int)((long)count * t / threads);
    *last = (int)((long)count * (t + 1) / threads);
}

/* Below this many elements of work a loop runs on one thread: waking the
 * other threads costs more than the loop (small batches are full of such
 * loops, and at batch 8 fork/join dominated the step). */
#define NL_PARALLEL_MIN 32768

/* A loop split over the team only when it is worth waking it, written once
 * and expanded twice. Not an `if` clause: `omp parallel for if (0)` still
 * opens a team of one, a measurable cost in libgomp (more inside another
 * team) paid a dozen times per MLP step at batch 2. The loop must not contain
 * preprocessor directives (use _Pragma). */
#define NL_PARALLEL_FOR_IF(cond, ...)                                                     \
    do {                                                                                  \
        if (cond) {                                                                       \
            _Pragma("omp parallel for schedule(static)") __VA_ARGS__                      \
        } else {                                                                          \
            __VA_ARGS__                                                                   \
        }                                                                                 \
    } while (0)
/* the same for a loop the compiler should vectorize on either path */
#define NL_PARALLEL_FOR_SIMD_IF(cond, ...)                                                \
    do {                                                                                  \
        if (cond) {                                                                       \
            _Pragma("omp parallel for simd schedule(static)") __VA_ARGS__                 \
        } else {                                                                          \
            _Pragma("omp simd") __VA_ARGS__                                               \
        }                                                                                 \
    } while (0)

/* The same for a parallel region around a call, whose body may hold
 * orphaned worksharing (omp for, omp barrier): with no region around them
 * they run on the calling thread as a team of one, and no team is opened. */
#define NL_PARALLEL_CALL_IF(cond, call)                                                   \
    do {                                                                                  \
        if (cond) {                                                                       \
            _Pragma("omp parallel") call;                                                 \
        } else {                                                                          \
            call;                                                                         \
        }                                                                                 \
    } while (0)

/* One compilation of the kernels: its ops and the extensions it was
 * compiled to use. Each kernel file is compiled with the build's flags
 * (nl_cpu_kernels_of_build) and again for every instruction set that
 * CMakeLists.txt names, as one object whose only global symbol is its set
 * (nl_cpu_kernels_x86_64_v3, nl_cpu_kernels_x86_64_v4,
 * nl_cpu_kernels_x86_64_v4_bf16: x86-64-v4 plus AVX512-BF16, whose bf16
 * products run on vdpbf16ps; lowp.h). */
typedef struct {
    const nl_ops *ops;
    nl_isa_mask needs;
} nl_cpu_kernel_set;
extern const nl_cpu_kernel_set nl_cpu_kernels_of_build;

/* host.c: which set a process runs. Sets are chosen for the whole process:
 * by name, NULL for NORMLAB_CPU_KERNELS from the environment, where unset,
 * empty or "auto" means the build's own kernels in a native build and the
 * best set this CPU runs otherwise. A name this binary does not hold is
 * NL_ERR_USAGE, a set this CPU cannot run NL_ERR_UNSUPPORTED. */
nl_code nl_cpu_kernels_choose(const char *name, nl_error *err);
/* the set's name, chosen as with NULL at the first use */
const char *nl_cpu_kernels_name(void);
/* its index among the sets below, and whether it was chosen by name (not
 * auto) */
int nl_cpu_kernels_index(void);
bool nl_cpu_kernels_pinned(void);
/* the sets this binary holds, in the order auto prefers them */
int nl_cpu_kernel_set_count(void);
const char *nl_cpu_kernel_set_name(int index);
bool nl_cpu_kernel_set_runs_here(int index);
/* whether auto (and the MPI ranks' agreement) may take it: not the AMX set,
 * which only a name takes */
bool nl_cpu_kernel_set_automatic(int index);
/* the extensions a set needs (0 out of range): those its kernels were
 * compiled to use, and those it lets a library run beyond them (the AMX
 * set: x86-64-v4-bf16's kernels, oneDNN on AMX tiles) */
nl_isa_mask nl_cpu_kernel_set_isa(int index);
/* the part of that only a library runs (0: the set is its own compilation) */
nl_isa_mask nl_cpu_kernel_set_library_isa(int index);
/* the OpenBLAS core a set's runs load OpenBLAS with (OPENBLAS_CORETYPE,
 * set by cmd/main.c before OpenBLAS is loaded), NULL where OpenBLAS keeps
 * its own choice; and the core OpenBLAS runs in this process */
const char *nl_cpu_kernel_set_openblas_core(int index);
const char *nl_cpu_openblas_core(void);
/* OPENBLAS_CORETYPE (NULL: the environment's) against the instructions of
 * a CPU (`cpu`; 0: this one): a core of OpenBLAS's whose kernels need
 * instructions the CPU lacks is refused (NL_ERR_USAGE, naming them and the
 * cores it runs), before its first product would die of SIGILL; a core
 * name this table does not know is left to OpenBLAS */
nl_code nl_cpu_openblas_core_check(const char *core, nl_isa_mask cpu, nl_error *err);
/* the chosen set's ops: what a backend opened now would run */
const nl_ops *nl_cpu_ops(void);
/* what the chosen set's bf16 products (linear, conv2d) run: "vdpbf16ps"
 * in a set compiled with AVX512-BF16 (lowp.h), else "sgemm" */
const char *nl_cpu_kernels_bf16_product(void);
/* the extensions the chosen set needs (nl_cpu_kernel_set_isa) */
nl_isa_mask nl_cpu_kernels_isa(void);
/* the CPU backend (nl_backend_open picks it; opt not NULL); freed with free() */
nl_code nl_cpu_backend_open(const nl_backend_options *opt, nl_backend **out, nl_error *err);
/* frees it and its oneDNN state */
void nl_cpu_backend_close(nl_backend *be);
/* OpenBLAS's build and threading and the OpenMP threads; the kernel set in
 * use, those the binary holds and those this CPU runs (device/device.h
 * hands both to --version and `list`) */
const char *nl_cpu_description(char *buf, size_t size);
const char *nl_cpu_kernels_description(char *buf, size_t size);

/* products.c: the library behind the layers' BLAS products, chosen per
 * process like the kernel set: by name, NULL for NORMLAB_GEMM (unset or
 * empty: auto). auto runs oneDNN's sgemm on the shapes it was measured to
 * win (where the build has oneDNN) and OpenBLAS's elsewhere; onednn in a
 * build without it and an unknown name are NL_ERR_USAGE (nl_cpu_library_choice). */
typedef enum { NL_GEMM_AUTO, NL_GEMM_OPENBLAS, NL_GEMM_ONEDNN, NL_GEMM_CHOICE_COUNT } nl_gemm_choice;
/* The one parser of a library choice (NORMLAB_GEMM, NORMLAB_CONV): name
 * (NULL or "" is names[0], auto) among names[0..count), where names[onednn]
 * needs a build with oneDNN; source says where it came from in an error
 * and what what it is ("a product library"). An unknown name, or onednn in
 * a build without it, is NL_ERR_USAGE naming the accepted ones. */
nl_code nl_cpu_library_choice(const char *source, const char *what, const char *name,
                              const char *const names[], int count, int onednn, int *out,
                              nl_error *err);
nl_code nl_cpu_gemm_choose(const char *name, nl_error *err);
nl_gemm_choice nl_cpu_gemm_choice(void);
/* the choice that runs: the chosen one, or openblas in a build without oneDNN */
nl_gemm_choice nl_cpu_gemm_in_effect(void);
/* a choice's NORMLAB_GEMM name */
const char *nl_cpu_gemm_name(nl_gemm_choice choice);
/* what a run records and a rerun sets NORMLAB_GEMM to: the name of the
 * choice in effect */
const char *nl_cpu_gemm_record(void);
/* whether the product C (m x n) = op(A) op(B) with depth k runs in oneDNN */
bool nl_cpu_gemm_uses_onednn(int m, int n, int k);
/* cblas_sgemm's row-major product through the chosen library */
void nl_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* the choice and the libraries behind it, for --version */
const char *nl_cpu_gemm_description(char *buf, size_t size);

/* The ops: nl_cpu_<op> for each op backend_ops.def gives the CPU, one
 * file per family (linear.c, conv2d.c, norm.c, ...; memory and gathers in
 * backend.c), all of them kernel files compiled once per kernel set. */
#define NL_OP(backends, ret, op, params) NL_OP_IF(NL_OP_ON_CPU_##backends, ret nl_cpu_##op params;)
#include "backend/backend_ops.def"

/* ---- what the ops' kernels share (not ops) ---- */
/* gemm.c: register-tiled products without packing, for the linear layer's
 * backward at small and mid-size batches. Row-major; C = A B (nn) or
 * A^T B (tn), rows x cols, summed over depth; nn adds row_bias[row] to
 * every column of a row when row_bias is not NULL. */
void nl_cpu_gemm_nn(int rows, int cols, int depth, const float *a, int lda, const float *b,
                    int ldb, const float *row_bias, float *c, int ldc, bool accumulate);
void nl_cpu_gemm_tn(int rows, int cols, int depth, const float *a, int lda, const float *b,
                    int ldb, float *c, int ldc);
/* whether nl_cpu_gemm_tn copies B's panels before its row tiles read them
 * (enough rows to reuse a copy, a depth that fits the stack block) */
bool nl_cpu_gemm_tn_packs(int rows, int depth);
/* nl_cpu_gemm_nn on the calling thread alone, for callers that split the work */
void nl_cpu_gemm_nn_serial(int rows, int cols, int depth, const float *a, int lda,
                           const float *b, int ldb, const float *row_bias, float *c, int ldc,
                           bool accumulate);
/* C^T = A B (+ row_bias[row]), written as c[col * ldc + row]: the share
 * `part` of `parts` of the (row tile, panel) pairs, for callers that run
 * it inside their own team. B comes as whole 16-column panels one after another, each depth x 16
 * floats in row order (NL_GEMM_PANEL_AT); columns past `cols` must be
 * readable (their sums are dropped). */
#define NL_GEMM_PANEL_COLS 16
#define NL_GEMM_PANEL_AT(depth, row, col)                                                  \
    (((size_t)(col) / NL_GEMM_PANEL_COLS * (size_t)(depth) + (size_t)(row)) *              \
         NL_GEMM_PANEL_COLS +                                                              \
     (size_t)(col) % NL_GEMM_PANEL_COLS)
void nl_cpu_gemm_nn_transposed_share(int rows, int cols, int depth, const float *a, int lda,
                                     const float *b_panels, const float *row_bias, float *c,
                                     int ldc, int part, int parts);
/* C (+)= A B^T on the calling thread: dot products, for long depths and few outputs */
void nl_cpu_gemm_nt_serial(int rows, int cols, int depth, const float *a, int lda,
                           const float *b, int ldb, float *c, int ldc, bool accumulate);
/* winograd.c: F(2x2, 3x3) for 3x3 stride-1 padding-1 convolutions */
bool nl_cpu_winograd_applies(const nl_conv_geom *g);
size_t nl_cpu_winograd_workspace(const nl_conv_geom *g, int threads);
void nl_cpu_winograd_forward(const nl_conv_geom *g, int n, const float *x, const float *weight,
                             const float *bias, float *y, int threads, void *workspace);
void nl_cpu_winograd_input_grad(const nl_conv_geom *g, int n, const float *weight,
                                const float *dy, float *dx, bool accumulate, int threads,
                                void *workspace);
void nl_cpu_winograd_weight_grad(const nl_conv_geom *g, int n, const float *x, const float *dy,
                                 float *dweight, float *dbias, int threads, void *workspace);
/* winograd_blocked.c: F(2x2, 3x3) on channel-blocked 3x3 stride-1 pad-1
 * convolutions (in and out in the same block B, channels multiples of B,
 * the weight OIHW as the model holds it), forward, data gradient and
 * weight gradient (dweight and dbias written, not added into; dbias may be
 * NULL); the bits do not depend on the thread count */
bool nl_cpu_winograd_blocked_applies(const nl_conv_geom *g);
size_t nl_cpu_winograd_blocked_workspace(const nl_conv_geom *g, int threads);
void nl_cpu_winograd_blocked_forward(const nl_conv_geom *g, int n, const float *x,
                                     const float *weight, const float *bias, float *y,
                                     int threads, void *workspace);
void nl_cpu_winograd_blocked_input_grad(const nl_conv_geom *g, int n, const float *weight,
                                        const float *dy, float *dx, bool accumulate_dx,
                                        int threads, void *workspace);
void nl_cpu_winograd_blocked_weight_grad(const nl_conv_geom *g, int n, const float *x,
                                         const float *dy, float *dweight, float *dbias,
                                         int threads, void *workspace);
/* winograd_blocked_f43.c: F(4x4, 3x3) on the same convolutions as
 * winograd_blocked.c's (nl_cpu_winograd_blocked_applies), forward and data
 * gradient (the weight gradient stays on F(2x2, 3x3) or direct); the bits
 * do not depend on the thread count */
size_t nl_cpu_winograd_blocked_f43_workspace(const nl_conv_geom *g, int threads);
void nl_cpu_winograd_blocked_f43_forward(const nl_conv_geom *g, int n, const float *x,
                                         const float *weight, const float *bias, float *y,
                                         int threads, void *workspace);
void nl_cpu_winograd_blocked_f43_input_grad(const nl_conv_geom *g, int n, const float *weight,
                                            const float *dy, float *dx, bool accumulate_dx,
                                            int threads, void *workspace);
/* batchnorm.c */
void nl_cpu_batchnorm_forward_train(nl_backend *be, int n, int c, int hw, float eps,
                                    const float *x, const float *gamma, const float *beta,
                                    float *y, float *save_mean, float *save_rstd,
                                    float *running_mean, float *running_var, float momentum);
void nl_cpu_batchnorm_forward_eval(nl_backend *be, int n, int c, int hw, float eps,
                                   const float *x, const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var, float *y);
void nl_cpu_batchnorm_backward(nl_backend *be, int n, int c, int hw, const float *x,
                               const float *dy, const float *gamma, const float *save_mean,
                               const float *save_rstd, float *dx, bool accumulate_dx,
                               float *dgamma, float *dbeta);
/* batch statistics of images (hw > 1) with a ReLU, and the residual add
 * before it where skip / dskip are given, fused into the apply pass and
 * the backward (norm_forward_act / norm_backward_act); fp32 statistics */
void nl_cpu_batchnorm_forward_train_act(int n, int c, int hw, float eps, const float *x,
                                        const float *gamma, const float *beta, const float *skip,
                                        float *y, float *save_mean, float *save_rstd,
                                        float *running_mean, float *running_var, float momentum);
void nl_cpu_batchnorm_backward_act(int n, int c, int hw, const float *x, const float *y,
                                   const float *dy, const float *gamma, const float *save_mean,
                                   const float *save_rstd, float *dx, bool accumulate_dx,
                                   float *dskip, bool accumulate_dskip, float *dgamma,
                                   float *dbeta);
/* groupnorm.c */
void nl_cpu_groupnorm_forward(nl_backend *be, int n, int c, int hw, int groups, bool center,
                              float eps, const float *x, const float *gamma, const float *beta,
                              float *y, float *save_mean, float *save_rstd, float *running_mean,
                              float *running_var, float momentum);
size_t nl_cpu_groupnorm_backward_workspace(nl_backend *be, int n, int c, int hw, int groups);
void nl_cpu_groupnorm_backward(nl_backend *be, int n, int c, int hw, int groups, bool center,
                               const float *x, const float *dy, const float *gamma,
                               const float *save_mean, const float *save_rstd, float *dx,
                               bool accumulate_dx, float *dgamma, float *dbeta, void *workspace);
/* per-sample groups of images (hw > 1) with a ReLU, and the residual add
 * before it where skip / dskip are given, fused into the apply pass and
 * the backward's passes (norm_forward_act / norm_backward_act), bit for bit
 * the ops in turn; fp32 statistics */
void nl_cpu_groupnorm_forward_act(int n, int c, int hw, int groups, bool center, float eps,
                                  const float *x, const float *gamma, const float *beta,
                                  const float *skip, float *y, float *save_mean,
                                  float *save_rstd, float *running_mean, float *running_var,
                                  float momentum);
void nl_cpu_groupnorm_backward_act(int n, int c, int hw, int groups, bool center, const float *x,
                                   const float *y, const float *dy, const float *gamma,
                                   const float *save_mean, const float *save_rstd, float *dx,
                                   bool accumulate_dx, float *dskip, bool accumulate_dskip,
                                   float *dgamma, float *dbeta, void *workspace);

#endif
