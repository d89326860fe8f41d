/* The backend factory (device.h): the CUDA backend loaded or linked, the
 * CPU backend opened, and the CPU kernel sets the ranks of a run agree on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device.h"

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"

#if defined(NORMLAB_HAVE_CUDA) && defined(NORMLAB_CUDA_MODULE)
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>
#endif

#ifdef NORMLAB_HAVE_CUDA
/* The CUDA backend's entry points (core/cuda/cuda_backend.cu). */
typedef struct {
    nl_code (*open)(int threads, nl_backend **out, nl_error *err);
    void (*close)(nl_backend *be);
    int (*describe)(char *buf, size_t size);
    const nl_ops *(*ops)(void);
    const char *why; /* when they are missing: why */
} cuda_entries;

#ifdef NORMLAB_CUDA_MODULE
/* A CMake build compiles the CUDA backend into a module,
 * libnormlab_cuda.so, loaded the first time a GPU is asked about. Linked
 * into the binary, cuBLAS and the CUDA runtime cost every process ~0.15 s
 * of page faults and ~220 MB of resident memory at start, CPU runs and
 * `--help` included, and a binary built on a GPU node would not start at
 * all where they are missing. The module is the file NORMLAB_CUDA_MODULE
 * names when it is set; otherwise it is looked for beside the running
 * binary (binaries copied to a GPU machine with it), then where the build
 * wrote it. */
static cuda_entries cuda_module;
static char cuda_module_why[1024];
static char cuda_module_path[1200]; /* the file loaded */
static pthread_once_t cuda_module_once = PTHREAD_ONCE_INIT;

static void *open_module(const char *path, char *why, size_t size)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *e = dlerror();
        snprintf(why, size, "its module could not be loaded (%s; NORMLAB_CUDA_MODULE names "
                            "another)", e ? e : path);
    } else
        snprintf(cuda_module_path, sizeof cuda_module_path, "%s", path);
    return handle;
}

static void load_cuda_module(void)
{
    char beside[1200] = "", exe[1024];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(beside, sizeof beside, "%s/libnormlab_cuda.so", exe);
        }
    }
    const char *chosen = getenv("NORMLAB_CUDA_MODULE");
    void *handle = NULL;
    if (chosen && chosen[0])
        handle = open_module(chosen, cuda_module_why, sizeof cuda_module_why);
    else {
        if (beside[0] && access(beside, F_OK) == 0 && strcmp(beside, NORMLAB_CUDA_MODULE) != 0)
            handle = open_module(beside, cuda_module_why, sizeof cuda_module_why);
        if (!handle)
            handle = open_module(NORMLAB_CUDA_MODULE, cuda_module_why, sizeof cuda_module_why);
    }
    if (!handle)
        return;
    /* POSIX guarantees that a function's address survives this cast */
    *(void **)&cuda_module.open = dlsym(handle, "nl_cuda_backend_open");
    *(void **)&cuda_module.close = dlsym(handle, "nl_cuda_backend_close");
    *(void **)&cuda_module.describe = dlsym(handle, "nl_cuda_backend_describe");
    *(void **)&cuda_module.ops = dlsym(handle, "nl_cuda_backend_ops");
    if (!cuda_module.open || !cuda_module.close || !cuda_module.describe || !cuda_module.ops) {
        snprintf(cuda_module_why, sizeof cuda_module_why,
                 "its module lacks the backend's entry points (from another build?)");
        cuda_module.open = NULL;
        cuda_module.close = NULL;
        cuda_module.describe = NULL;
        cuda_module.ops = NULL;
    }
}

/* the module's entry points; false, with e->why, when it cannot be loaded */
static bool cuda_backend(cuda_entries *e)
{
    pthread_once(&cuda_module_once, load_cuda_module);
    *e = cuda_module;
    e->why = cuda_module_why;
    return e->open != NULL;
}
#else
/* linked in (tests/cuda_emu builds the backend into the binary) */
nl_code nl_cuda_backend_open(int threads, nl_backend **out, nl_error *err);
void nl_cuda_backend_close(nl_backend *be);
int nl_cuda_backend_describe(char *buf, size_t size);
const nl_ops *nl_cuda_backend_ops(void);

static bool cuda_backend(cuda_entries *e)
{
    *e = (cuda_entries){nl_cuda_backend_open, nl_cuda_backend_close, nl_cuda_backend_describe,
                        nl_cuda_backend_ops, ""};
    return true;
}
#endif

int nl_backend_cuda_built(void) { return 1; }

int nl_backend_cuda_describe(char *buf, size_t size)
{
    cuda_entries cuda;
    if (!cuda_backend(&cuda)) {
        snprintf(buf, size, "built, but %s", cuda.why);
        return 0;
    }
    const int usable = cuda.describe(buf, size);
#ifdef NORMLAB_CUDA_MODULE
    /* which file answered: binaries copied to another machine may find
     * another build's module */
    const size_t used = strlen(buf);
    if (used < size)
        snprintf(buf + used, size - used, " [%s]", cuda_module_path);
#endif
    return usable;
}
#else
int nl_backend_cuda_built(void) { return 0; }

int nl_backend_cuda_describe(char *buf, size_t size)
{
    snprintf(buf, size, "not built (configure with the CUDA toolkit and -DNORMLAB_CUDA=ON)");
    return 0;
}
#endif

nl_code nl_backend_open(nl_device device, const nl_backend_options *options, nl_backend **out,
                        nl_error *err)
{
    const nl_backend_options defaults = {0};
    const nl_backend_options *opt = options ? options : &defaults;
    if (device == NL_DEVICE_CUDA) {
#ifdef NORMLAB_HAVE_CUDA
        cuda_entries cuda;
        if (!cuda_backend(&cuda))
            return nl_fail(err, NL_ERR_UNSUPPORTED,
                           "device 'cuda' was asked for, but this normlab's CUDA backend is "
                           "not usable: %s; use device: cpu, or rebuild",
                           cuda.why);
        nl_code rc = cuda.open(opt->threads, out, err);
        if (rc == NL_OK) {
            (*out)->usable_cores = nl_cpu_usable_cores();
            (*out)->flush_subnormals = false; /* the GPU keeps IEEE subnormals */
        }
        return rc;
#else
        return nl_fail(err, NL_ERR_UNSUPPORTED,
                       "device 'cuda' was asked for, but this normlab was built without CUDA "
                       "support (rebuild with the CUDA toolkit in /usr/local/cuda and "
                       "-DNORMLAB_CUDA=ON), or use device: cpu");
#endif
    }
    return nl_cpu_backend_open(opt, out, err);
}

void nl_backend_close(nl_backend *be)
{
    if (!be)
        return;
#ifdef NORMLAB_HAVE_CUDA
    if (be->device == NL_DEVICE_CUDA) {
        cuda_entries cuda;
        /* a CUDA backend was opened, so its entry points are there */
        if (cuda_backend(&cuda))
            cuda.close(be);
        return;
    }
#endif
    nl_cpu_backend_close(be);
}

const char *nl_backend_cpu_description(char *buf, size_t size)
{
    return nl_cpu_description(buf, size);
}

const char *nl_backend_cpu_kernels_description(char *buf, size_t size)
{
    return nl_cpu_kernels_description(buf, size);
}

int nl_backend_max_threads(int threads) { return threads > 0 ? threads : nl_cpu_usable_cores(); }

nl_backend nl_backend_probe(int threads, nl_precision precision)
{
    /* the CPU's ops answer every workspace question from shapes alone; the
     * precision changes the answers (a low one's products keep rounded
     * copies, and oneDNN runs only some: nl_cpu_onednn_block) */
    return (nl_backend){.ops = nl_cpu_ops(), .device = NL_DEVICE_CPU,
                        .threads = threads > 0 ? threads : 1, .product_precision = precision};
}

bool nl_backend_probe_on(nl_device device, int threads, nl_precision precision, nl_backend *out)
{
    *out = nl_backend_probe(threads, precision);
    if (device == NL_DEVICE_CPU)
        return true;
#ifdef NORMLAB_HAVE_CUDA
    /* the CUDA kernels size their workspaces from the geometry too: its
     * table answers without a device or a context */
    cuda_entries cuda;
    if (cuda_backend(&cuda)) {
        out->ops = cuda.ops();
        out->device = NL_DEVICE_CUDA;
        return true;
    }
#endif
    return false;
}

nl_device_caps nl_device_caps_of(nl_device device)
{
    nl_device_caps caps = {.device = device};
    for (int p = 0; p < NL_PRECISION_COUNT; p++) {
        nl_backend probe;
        /* a device this build cannot open runs nothing here: no block */
        if (nl_backend_probe_on(device, 1, (nl_precision)p, &probe))
            caps.channel_block[p] = probe.ops->conv_block(&probe);
    }
    return caps;
}

/* Each rank of a data-parallel run updates its own copy of the parameters
 * (and of synchronized running statistics) from values every rank shares,
 * so the ranks must run the same CPU kernels or their copies drift apart
 * bit by bit, unseen: the x86-64 set's optimizers round multiply-adds twice
 * where the AVX2 set's round once (after one step a third of SGD's
 * velocities differ: experiments/bench/kernel_set_rounding.c), and the
 * AVX-512 set's sums may add in another order. Ranks on different CPUs that
 * chose automatically take the best set they all run; sets pinned by
 * NORMLAB_CPU_KERNELS must be one set.
 *
 * A vote: per set, 1 when this rank runs it, then per set 1 for the one it
 * uses, then 1 when that one is pinned. */
_Static_assert(NL_GEMM_CHOICE_COUNT + NL_CONV_LIBRARY_COUNT <= NL_LIBRARY_VOTES_MAX,
               "the library votes fit their room");

/* a one-hot vote for the product library in effect, then one for the
 * convolutions' (a NORMLAB_CONV the backend will refuse votes for none) */
static int library_votes(double *votes)
{
    votes[nl_cpu_gemm_in_effect()] = 1;
    nl_conv_library conv;
    nl_error ignored;
    if (nl_cpu_conv_library_from_env(&conv, &ignored) == NL_OK)
        votes[NL_GEMM_CHOICE_COUNT + nl_cpu_conv_library_in_effect(conv)] = 1;
    return NL_GEMM_CHOICE_COUNT + NL_CONV_LIBRARY_COUNT;
}

/* NL_ERR_USAGE when the ranks' votes for one library (count choices, named
 * by name) are split */
static nl_code libraries_agree(const double *sums, int count, const char *(*name)(int),
                               const char *what, const char *variable, int ranks, nl_error *err)
{
    char uses[256] = "";
    size_t used = 0;
    int in_use = 0;
    for (int i = 0; i < count; i++)
        if (sums[i] > 0) {
            in_use++;
            used += (size_t)snprintf(uses + used, used < sizeof uses ? sizeof uses - used : 0,
                                     "%s%s on %.0f rank%s", used ? ", " : "", name(i), sums[i],
                                     sums[i] == 1 ? "" : "s");
        }
    if (in_use <= 1)
        return NL_OK;
    return nl_fail(err, NL_ERR_USAGE,
                   "the %d MPI ranks would run their %s on different libraries (%s), which sum "
                   "in other orders, and their copies of the parameters would drift apart: set "
                   "%s to one value on every rank (and build every rank alike)",
                   ranks, what, uses, variable);
}

static const char *gemm_name(int i) { return nl_cpu_gemm_name((nl_gemm_choice)i); }
static const char *conv_name(int i) { return nl_cpu_conv_library_name((nl_conv_library)i); }

int nl_backend_cpu_kernel_votes(double votes[NL_KERNEL_VOTES_MAX])
{
    const int sets = nl_cpu_kernel_set_count() < NL_KERNEL_SETS_MAX ? nl_cpu_kernel_set_count()
                                                                     : NL_KERNEL_SETS_MAX;
    memset(votes, 0, NL_KERNEL_VOTES_MAX * sizeof *votes);
    for (int i = 0; i < sets; i++)
        votes[i] = nl_cpu_kernel_set_runs_here(i);
    if (nl_cpu_kernels_index() < sets)
        votes[sets + nl_cpu_kernels_index()] = 1;
    votes[2 * sets] = nl_cpu_kernels_pinned();
    return 2 * sets + 1 + library_votes(votes + 2 * sets + 1);
}

nl_code nl_backend_cpu_kernels_agree(const double *sums, int ranks, char *note, size_t note_size,
                                     nl_error *err)
{
    note[0] = '\0';
    const int sets = nl_cpu_kernel_set_count();
    if (sets > NL_KERNEL_SETS_MAX)
        return nl_fail(err, NL_ERR_RUNTIME, "%d CPU kernel sets: at most %d can be agreed on",
                       sets, NL_KERNEL_SETS_MAX);
    int in_use = 0, common = -1;
    char uses[512] = "";
    size_t used = 0;
    for (int i = 0; i < sets; i++) {
        if (common < 0 && sums[i] == ranks && nl_cpu_kernel_set_automatic(i))
            common = i;
        if (sums[sets + i] > 0) {
            in_use++;
            used += (size_t)snprintf(uses + used, used < sizeof uses ? sizeof uses - used : 0,
                                     "%s%s on %.0f rank%s", used ? ", " : "",
                                     nl_cpu_kernel_set_name(i), sums[sets + i],
                                     sums[sets + i] == 1 ? "" : "s");
        }
    }
    const double *libraries = sums + 2 * sets + 1;
    nl_code rc = libraries_agree(libraries, NL_GEMM_CHOICE_COUNT, gemm_name, "matrix products",
                                 "NORMLAB_GEMM", ranks, err);
    if (rc == NL_OK)
        rc = libraries_agree(libraries + NL_GEMM_CHOICE_COUNT, NL_CONV_LIBRARY_COUNT, conv_name,
                             "convolutions", "NORMLAB_CONV", ranks, err);
    if (rc)
        return rc;
    if (in_use == 1)
        return NL_OK;
    if (sums[2 * sets] > 0 || common < 0) {
        char fix[128];
        if (common >= 0)
            snprintf(fix, sizeof fix, "NORMLAB_CPU_KERNELS=%s on every rank, or unset on all",
                     nl_cpu_kernel_set_name(common));
        else
            snprintf(fix, sizeof fix, "ranks on CPUs that share a kernel set");
        return nl_fail(err, NL_ERR_USAGE,
                       "the %d MPI ranks would run different CPU kernel sets (%s), and "
                       "their copies of the parameters would drift apart: use %s",
                       ranks, uses, fix);
    }
    if ((rc = nl_cpu_kernels_choose(nl_cpu_kernel_set_name(common), err)))
        return rc;
    snprintf(note, note_size,
             "the MPI ranks run on different CPUs (kernel sets %s): every rank uses %s, "
             "the best set all of them run, so their parameters stay identical",
             uses, nl_cpu_kernel_set_name(common));
    return NL_OK;
}
