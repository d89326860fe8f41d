/* What the CPU backend does once per process rather than once per kernel
 * set: choosing the set, opening the backend, describing it. Compiled once,
 * with the build's flags. */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"

/* OpenBLAS's own controls; declared here because cblas.h of some builds
 * leaves them out */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_parallel(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
/* A DYNAMIC_ARCH OpenBLAS's own core selection, run by its constructor:
 * quit forgets the core, init picks one again (OPENBLAS_CORETYPE first).
 * Weak: a build for one core lacks them, and has no core to pick. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

/* what the code compiled with the build's flags needs (cmd/isa_guard.c) */
const nl_isa_mask nl_isa_of_build = NL_ISA_COMPILED;

/* NL_CPU_KERNEL_SETS(X): X(id, "name") for each set CMakeLists.txt
 * compiled besides the build's own, best first */
#include "cpu_kernel_sets.h"

#define NL_DECLARE_SET(id, name) extern const nl_cpu_kernel_set nl_cpu_kernels_##id;
NL_CPU_KERNEL_SETS(NL_DECLARE_SET)
#undef NL_DECLARE_SET

typedef struct {
    const char *name;
    const nl_cpu_kernel_set *set;
    /* what the row needs beyond its kernels' instructions: those of a
     * library it lets run further (AMX: oneDNN's cap lifted to its tiles,
     * conv_onednn.c), which also fix its bits */
    nl_isa_mask beyond;
    /* taken by name only, never by auto */
    bool by_name;
} kernel_set_row;

/* In the order auto prefers them. A native build's own kernels come first:
 * they are compiled for exactly this CPU (isa_guard.c refuses any other).
 * A portable build's come last: compiled for the x86-64 baseline, they run
 * anywhere. The AMX set is named, not chosen: with oneDNN 2.6 its
 * convolutions did not run on the tiles (the same loss to the last digit as
 * the AVX512-BF16 set's on an AMX Xeon; conv_onednn.c's
 * nl_cpu_onednn_block), and nothing has yet shown them there
 * (summary.json's conv_kernels, test_conv_onednn's AMX check). */
#define NL_SET_BY_ID(id) &nl_cpu_kernels_##id
#define NL_SET_OF(id) NL_SET_BY_ID(id)
static const kernel_set_row kernel_sets[] = {
#ifdef NL_CPU_NATIVE
    {"native", &nl_cpu_kernels_of_build, 0, false},
#endif
#ifdef NL_CPU_KERNEL_SET_AMX_BASE
    {"x86-64-v4-bf16-amx", NL_SET_OF(NL_CPU_KERNEL_SET_AMX_BASE),
     NL_ISA_BIT(AMX_BF16) | NL_ISA_BIT(AMX_TILE), true},
#endif
#define NL_SET_ROW(id, name) {name, &nl_cpu_kernels_##id, 0, false},
    NL_CPU_KERNEL_SETS(NL_SET_ROW)
#undef NL_SET_ROW
#ifndef NL_CPU_NATIVE
#if defined(__x86_64__)
    {"x86-64", &nl_cpu_kernels_of_build, 0, false},
#else
    {"portable", &nl_cpu_kernels_of_build, 0, false},
#endif
#endif
};
enum { KERNEL_SET_COUNT = sizeof kernel_sets / sizeof kernel_sets[0] };

int nl_cpu_kernel_set_count(void) { return KERNEL_SET_COUNT; }

const char *nl_cpu_kernel_set_name(int index)
{
    return index >= 0 && index < KERNEL_SET_COUNT ? kernel_sets[index].name : NULL;
}

nl_isa_mask nl_cpu_kernel_set_isa(int index)
{
    return index >= 0 && index < KERNEL_SET_COUNT
               ? kernel_sets[index].set->needs | kernel_sets[index].beyond
               : 0;
}

nl_isa_mask nl_cpu_kernel_set_library_isa(int index)
{
    return index >= 0 && index < KERNEL_SET_COUNT ? kernel_sets[index].beyond : 0;
}

bool nl_cpu_kernel_set_automatic(int index)
{
    return index >= 0 && index < KERNEL_SET_COUNT && !kernel_sets[index].by_name;
}

bool nl_cpu_kernel_set_runs_here(int index)
{
    return index >= 0 && index < KERNEL_SET_COUNT &&
           (nl_cpu_kernel_set_isa(index) & ~nl_isa_of_this_cpu()) == 0;
}

/* OpenBLAS picks its own kernels for the CPU it is loaded on, and they add a
 * product's terms in their own order: runs of one kernel set and thread
 * count gave other bits on an AVX-512 Xeon (OpenBLAS's SkylakeX sgemm) than
 * on the Zen 3 that made them (its Haswell sgemm; its Zen core adds in the
 * same order). Each set therefore names the OpenBLAS core of the
 * instructions it assumes, and normlab loads OpenBLAS with that core
 * (cmd/main.c), so a set and a thread count fix the bits on every CPU that
 * runs the set. Prescott is OpenBLAS's oldest x86-64 core (SSE3); a CPU
 * without SSE3 keeps OpenBLAS's own choice (NULL). */
const char *nl_cpu_kernel_set_openblas_core(int index)
{
    if (index < 0 || index >= KERNEL_SET_COUNT)
        return NULL;
    const nl_isa_mask needs = kernel_sets[index].set->needs;
    const nl_isa_mask avx512 = NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512BW) |
                               NL_ISA_BIT(AVX512DQ) | NL_ISA_BIT(AVX512VL);
    const nl_isa_mask avx2 = NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA);
    if ((needs & avx512) == avx512)
        return "SkylakeX";
    if ((needs & avx2) == avx2)
        return "Haswell";
#if defined(__x86_64__)
    if (nl_isa_of_this_cpu() & NL_ISA_BIT(SSE3))
        return "Prescott";
#endif
    return NULL;
}

const char *nl_cpu_openblas_core(void) { return openblas_get_corename(); }

/* OpenBLAS's x86-64 cores by the names OPENBLAS_CORETYPE takes, each with
 * the instructions its kernels execute (OpenBLAS's kernel/x86_64 files
 * per core: SSE3 for the oldest, AVX for Sandy Bridge and Bulldozer, AVX2
 * and FMA from Haswell and Zen, AVX-512 from Skylake-X, AVX512-BF16 from
 * Cooper Lake) */
#define AVX512_CORE (NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512CD) | NL_ISA_BIT(AVX512BW) | \
                     NL_ISA_BIT(AVX512DQ) | NL_ISA_BIT(AVX512VL))
static const struct {
    const char *name;
    nl_isa_mask needs;
} openblas_cores[] = {
    {"Prescott", NL_ISA_BIT(SSE3)},      {"Core2", NL_ISA_BIT(SSSE3)},
    {"Penryn", NL_ISA_BIT(SSE4_1)},      {"Dunnington", NL_ISA_BIT(SSE4_1)},
    {"Nehalem", NL_ISA_BIT(SSE4_2)},     {"Atom", NL_ISA_BIT(SSSE3)},
    {"Opteron", 0},                      {"Opteron_SSE3", NL_ISA_BIT(SSE3)},
    {"Barcelona", NL_ISA_BIT(SSE3)},     {"Bobcat", NL_ISA_BIT(SSSE3)},
    {"Nano", NL_ISA_BIT(SSSE3)},         {"SandyBridge", NL_ISA_BIT(AVX)},
    {"Bulldozer", NL_ISA_BIT(AVX)},      {"Piledriver", NL_ISA_BIT(AVX) | NL_ISA_BIT(FMA)},
    {"Steamroller", NL_ISA_BIT(AVX) | NL_ISA_BIT(FMA)},
    {"Excavator", NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA)},
    {"Haswell", NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA)}, {"Zen", NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA)},
    {"SkylakeX", AVX512_CORE},           {"Cooperlake", AVX512_CORE | NL_ISA_BIT(AVX512BF16)},
    {"SapphireRapids", AVX512_CORE | NL_ISA_BIT(AVX512BF16)},
};

nl_code nl_cpu_openblas_core_check(const char *core, nl_isa_mask cpu, nl_error *err)
{
    if (!core)
        core = getenv("OPENBLAS_CORETYPE");
    if (!core || !*core)
        return NL_OK;
    if (!cpu)
        cpu = nl_isa_of_this_cpu();
    const int n = (int)(sizeof openblas_cores / sizeof openblas_cores[0]);
    int found = -1;
    for (int i = 0; i < n; i++)
        if (!strcasecmp(core, openblas_cores[i].name))
            found = i;
    if (found < 0 || (openblas_cores[found].needs & ~cpu) == 0)
        return NL_OK;
    char lacks[256] = "", runs[512] = "";
    size_t used = 0;
    const nl_isa_mask missing = openblas_cores[found].needs & ~cpu;
    for (int f = 0; f < 64 && used < sizeof lacks; f++)
        if (missing & ((nl_isa_mask)1 << f))
            used += (size_t)snprintf(lacks + used, sizeof lacks - used, "%s%s", used ? ", " : "",
                                     nl_isa_name(f));
    used = 0;
    for (int i = 0; i < n && used < sizeof runs; i++)
        if ((openblas_cores[i].needs & ~cpu) == 0)
            used += (size_t)snprintf(runs + used, sizeof runs - used, "%s%s", used ? ", " : "",
                                     openblas_cores[i].name);
    return nl_fail(err, NL_ERR_USAGE,
                   "OPENBLAS_CORETYPE=%s: OpenBLAS's %s kernels need %s, which this CPU lacks "
                   "(its products would die of SIGILL); accepted here: %s, or unset it (normlab "
                   "pins the kernel set's core)",
                   core, openblas_cores[found].name, lacks, runs);
}

static int chosen_set(void);

/* OpenBLAS chose its core when it was loaded, before any caller could ask:
 * cmd/main.c sets OPENBLAS_CORETYPE and re-executes normlab, but a program
 * that embeds the library (the test binaries, a run as a thread of another
 * program) kept OpenBLAS's own choice, and its runs gave other bits than
 * the same run as a normlab process: on an Emerald Rapids Xeon (family 6
 * model 207) test_sched's loss at step 0 was 2.87841524 in a thread and
 * 2.87841515 in a process, the numbers its x86-64-v4-bf16 set gives on a
 * Zen 4 with OpenBLAS's Prescott core and with the set's pin, SkylakeX
 * (OpenBLAS 0.3.21 predates that CPU). So every backend opens with the core
 * its kernel set pins, chosen here again in this process where it differs,
 * the way OpenBLAS's constructor chose it (OPENBLAS_CORETYPE, read by
 * gotoblas_dynamic_init): the same core, the same blocking, the same bits.
 * A core the user named in OPENBLAS_CORETYPE wins, as in main (which sets
 * the variable itself, so that a normlab process finds its pin in place).
 * The variable is set only while OpenBLAS reads it, under a lock every
 * backend's open takes before its first product, so runs opening at once
 * wait for one pin. The core changes again only where a caller picks
 * another kernel set by name between runs (a bench comparing sets): it must
 * not do so while another thread's run computes, nor while another thread
 * reads the environment (setenv). */
static void pin_openblas_core(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    const char *pin = nl_cpu_kernel_set_openblas_core(chosen_set());
    if (!pin || !gotoblas_dynamic_init || !gotoblas_dynamic_quit)
        return;
    pthread_mutex_lock(&lock);
    if (!getenv("OPENBLAS_CORETYPE") && strcasecmp(openblas_get_corename(), pin) != 0 &&
        setenv("OPENBLAS_CORETYPE", pin, 1) == 0) {
        gotoblas_dynamic_quit();
        gotoblas_dynamic_init();
        unsetenv("OPENBLAS_CORETYPE");
    }
    pthread_mutex_unlock(&lock);
}

/* the set in use, -1 before the first choice; sets are the same for every
 * thread, so threads that choose at once store the same index. named: a
 * caller chose it by name, which the environment no longer overrides. */
static atomic_int chosen = -1;
static atomic_bool named;
static atomic_bool pinned; /* a set was asked for by name, not auto */

static int first_runnable(void)
{
    int own = 0;
    for (int i = 0; i < KERNEL_SET_COUNT; i++) {
        if (nl_cpu_kernel_set_runs_here(i) && nl_cpu_kernel_set_automatic(i))
            return i;
        if (kernel_sets[i].set == &nl_cpu_kernels_of_build)
            own = i;
    }
    /* none (a native build on a CPU isa_guard.c would have refused): the
     * build's own, as the binary's other code is */
    return own;
}

static void list_sets(char *buf, size_t size, bool runnable_only)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < KERNEL_SET_COUNT && used < size; i++)
        if (!runnable_only || nl_cpu_kernel_set_runs_here(i))
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     kernel_sets[i].name);
}

nl_code nl_cpu_kernels_choose(const char *name, nl_error *err)
{
    const char *source = "the kernel set";
    atomic_store(&named, name != NULL);
    if (!name) {
        name = getenv("NORMLAB_CPU_KERNELS");
        source = "NORMLAB_CPU_KERNELS";
    }
    if (!name || !*name || strcmp(name, "auto") == 0) {
        atomic_store(&pinned, false);
        atomic_store(&chosen, first_runnable());
        return NL_OK;
    }
    char names[256];
    for (int i = 0; i < KERNEL_SET_COUNT; i++) {
        if (strcmp(name, kernel_sets[i].name) != 0)
            continue;
        if (!nl_cpu_kernel_set_runs_here(i)) {
            char missing[512];
            list_sets(names, sizeof names, true);
            nl_isa_list(nl_cpu_kernel_set_isa(i) & ~nl_isa_of_this_cpu(), missing,
                        sizeof missing);
            return nl_fail(err, NL_ERR_UNSUPPORTED,
                           "%s '%s' needs %s, which this CPU lacks; it runs: %s", source, name,
                           missing, names);
        }
        atomic_store(&pinned, true);
        atomic_store(&chosen, i);
        return NL_OK;
    }
    list_sets(names, sizeof names, false);
    return nl_fail(err, NL_ERR_USAGE,
                   "%s '%s' is not one this normlab holds; accepted: auto, %s", source, name, names);
}

/* the chosen set; at the first use, the environment's choice, or auto where
 * that is refused (nl_cpu_backend_open reports the refusal) */
static int chosen_set(void)
{
    int index = atomic_load(&chosen);
    if (index >= 0)
        return index;
    nl_error ignored;
    if (nl_cpu_kernels_choose(NULL, &ignored) != NL_OK)
        atomic_store(&chosen, first_runnable());
    return atomic_load(&chosen);
}

const char *nl_cpu_kernels_name(void) { return kernel_sets[chosen_set()].name; }

int nl_cpu_kernels_index(void) { return chosen_set(); }

bool nl_cpu_kernels_pinned(void)
{
    (void)chosen_set();
    return atomic_load(&pinned);
}

const nl_ops *nl_cpu_ops(void) { return kernel_sets[chosen_set()].set->ops; }

const char *nl_cpu_kernels_bf16_product(void)
{
    /* a set compiled with AVX512-BF16 packs its bf16 products (lowp.h:
     * NL_CPU_BF16_PACKED), and its mask says what it was compiled with */
    return kernel_sets[chosen_set()].set->needs & NL_ISA_BIT(AVX512BF16) ? "vdpbf16ps" : "sgemm";
}

nl_isa_mask nl_cpu_kernels_isa(void) { return nl_cpu_kernel_set_isa(chosen_set()); }

/* how long the other processes' load is sampled when threads: 0 picks the
 * team: 5 scheduler ticks of /proc/stat at USER_HZ 100 */
#define BUSY_SAMPLE_MS 50

/* the most threads a run takes, as threads: and --threads accept
 * (NL_CONFIG_MAX_THREADS): OMP_NUM_THREADS=100000 reached the first
 * parallel region unchecked and libgomp crashed starting the team */
#define HOST_MAX_THREADS 1024

static int host_threads(const nl_backend_options *opt, nl_backend *be)
{
    be->usable_cores = nl_cpu_usable_cores();
    be->busy_cores = 0.0;
    if (opt->threads > 0)
        return opt->threads;
    const char *omp = getenv("OMP_NUM_THREADS");
    if (omp && *omp)
        return omp_get_max_threads();
    if (be->usable_cores > 1)
        be->busy_cores = nl_cpu_busy_cores(BUSY_SAMPLE_MS);
    return nl_cpu_auto_threads(be->usable_cores, be->busy_cores);
}

/* what each convolution library choice records, for be->conv_library */
static char conv_records[3][NL_CONV_LIBRARY_RECORD_BYTES];

void nl_cpu_backend_close(nl_backend *be)
{
    nl_cpu_onednn_close(be->impl);
    free(be);
}

nl_code nl_cpu_backend_open(const nl_backend_options *opt, nl_backend **out, nl_error *err)
{
    /* a kernel set the environment names but this binary or CPU cannot run
     * is an error here, even where planning a model already fell back to
     * auto, so that nothing trains with a set other than the one asked for */
    if (!atomic_load(&named)) {
        nl_code rc = nl_cpu_kernels_choose(NULL, err);
        if (rc)
            return rc;
    }
    nl_conv_library conv;
    nl_code rc = nl_cpu_conv_library_from_env(&conv, err);
    if (rc)
        return rc;
    pin_openblas_core();
    nl_backend *be = calloc(1, sizeof *be);
    if (!be)
        return nl_fail(err, NL_ERR_NOMEM, "cannot allocate the CPU backend");
    rc = nl_cpu_onednn_open(conv, (nl_cpu_onednn **)&be->impl, err);
    if (rc) {
        free(be);
        return rc;
    }
    be->conv_library = nl_cpu_conv_library_record(conv, conv_records[conv], sizeof conv_records[conv]);
    be->conv_kernels = nl_cpu_onednn_kernels(be->impl);
    be->ops = nl_cpu_ops();
    be->cpu_kernels = nl_cpu_kernels_name();
    be->products = nl_cpu_gemm_record();
    be->openblas_core = nl_cpu_openblas_core();
    be->device = NL_DEVICE_CPU;
    const int threads = host_threads(opt, be);
    if (threads > HOST_MAX_THREADS) {
        nl_cpu_backend_close(be);
        return nl_fail(err, NL_ERR_USAGE, "OMP_NUM_THREADS=%s asks for %d threads; accepted: at "
                       "most %d (unset it, or give threads: / --threads)",
                       getenv("OMP_NUM_THREADS"), threads, HOST_MAX_THREADS);
    }
    omp_set_num_threads(threads);
    be->threads = omp_get_max_threads();
    /* the OpenMP build of OpenBLAS takes its threads from the same pool */
    openblas_set_num_threads(be->threads);
    be->flush_subnormals = !opt->keep_subnormals && nl_cpu_flush_supported();
    nl_cpu_set_flush_subnormals(be->threads, be->flush_subnormals);
    *out = be;
    return NL_OK;
}

const char *nl_cpu_description(char *buf, size_t size)
{
    static const char *const parallel[] = {"sequential", "pthreads", "OpenMP"};
    int mode = openblas_get_parallel();
    snprintf(buf, size, "OpenBLAS (%s, %s threading), %d OpenMP threads",
             openblas_get_config(), (mode >= 0 && mode <= 2) ? parallel[mode] : "unknown",
             omp_get_max_threads());
    return buf;
}

const char *nl_cpu_kernels_description(char *buf, size_t size)
{
    char held[256], runnable[256];
    list_sets(held, sizeof held, false);
    list_sets(runnable, sizeof runnable, true);
    snprintf(buf, size, "%s (this binary holds %s; this CPU runs %s; NORMLAB_CPU_KERNELS picks one)",
             nl_cpu_kernels_name(), held, runnable);
    return buf;
}

