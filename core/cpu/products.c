/* The library that runs a matrix product the layers hand to a BLAS: the
 * OpenMP OpenBLAS always, and oneDNN's sgemm where the build has it
 * (NORMLAB_HAVE_ONEDNN) and the shape is one it runs faster.
 *
 * Measured on the products of the eight timed models (experiments/bench/
 * gemm_libraries.c, results/speed.md "Products: oneDNN's sgemm"): on an
 * AVX-512 Xeon oneDNN 2.6 ran the linear layers' products 1.2-1.35x
 * OpenBLAS 0.3.21's rate on one thread and 1.4-1.5x on two at batch 16
 * and 128, and lost (0.2-0.85x) on the smallest ones: a product of a few
 * rows or columns (a 10-class head) or of under about a million and a half
 * multiply-adds, where its fixed cost per call dominates. The rule below is
 * that boundary; it depends on the shape alone, so a given build, kernel
 * set, thread count and choice repeat their results bit for bit.
 *
 * The choice is per process, like the kernel set (host.c): NORMLAB_GEMM=
 * auto (the rule), openblas or onednn; summary.json records it. Compiled
 * once, outside the kernel sets: the libraries pick their own kernels. */
#include <cblas.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NORMLAB_HAVE_ONEDNN
#include <dnnl.h>
#endif

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"

/* the rule's boundary: both output sides at least this ... */
enum { ONEDNN_MIN_SIDE = 16 };
/* ... and at least this many flops (2 m n k) */
#define ONEDNN_MIN_FLOPS 1.5e6

static const char *const library_names[NL_GEMM_CHOICE_COUNT] = {
    [NL_GEMM_AUTO] = "auto", [NL_GEMM_OPENBLAS] = "openblas", [NL_GEMM_ONEDNN] = "onednn"};

static atomic_int chosen = -1;

static bool have_onednn(void)
{
#ifdef NORMLAB_HAVE_ONEDNN
    return true;
#else
    return false;
#endif
}

nl_code nl_cpu_library_choice(const char *source, const char *what, const char *name,
                              const char *const names[], int count, int onednn, int *out,
                              nl_error *err)
{
    char accepted[128] = "";
    size_t used = 0;
    for (int i = 0; i < count && used < sizeof accepted; i++)
        if (i != onednn || have_onednn())
            used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s",
                                     used ? ", " : "", names[i]);
    if (!name || !*name)
        name = names[0];
    for (int i = 0; i < count; i++) {
        if (strcmp(name, names[i]) != 0)
            continue;
        if (i == onednn && !have_onednn())
            return nl_fail(err, NL_ERR_USAGE,
                           "%s '%s': this normlab was built without oneDNN (apt-get install "
                           "libdnnl-dev, then configure again); accepted here: %s",
                           source, name, accepted);
        *out = i;
        return NL_OK;
    }
    return nl_fail(err, NL_ERR_USAGE, "%s '%s' is not %s; accepted: %s", source, name, what,
                   accepted);
}

nl_code nl_cpu_gemm_choose(const char *name, nl_error *err)
{
    const char *source = name ? "the product library" : "NORMLAB_GEMM";
    int choice;
    const nl_code rc = nl_cpu_library_choice(source, "a product library",
                                             name ? name : getenv("NORMLAB_GEMM"), library_names,
                                             NL_GEMM_CHOICE_COUNT, NL_GEMM_ONEDNN, &choice, err);
    if (rc == NL_OK)
        atomic_store(&chosen, choice);
    return rc;
}

nl_gemm_choice nl_cpu_gemm_choice(void)
{
    int c = atomic_load(&chosen);
    if (c < 0) {
        nl_error ignored;
        if (nl_cpu_gemm_choose(NULL, &ignored) != NL_OK)
            atomic_store(&chosen, NL_GEMM_AUTO);
        c = atomic_load(&chosen);
    }
    return (nl_gemm_choice)c;
}

static const char *choice_name(void) { return library_names[nl_cpu_gemm_choice()]; }

nl_gemm_choice nl_cpu_gemm_in_effect(void)
{
    return have_onednn() ? nl_cpu_gemm_choice() : NL_GEMM_OPENBLAS;
}

const char *nl_cpu_gemm_name(nl_gemm_choice choice) { return library_names[choice]; }

const char *nl_cpu_gemm_record(void) { return library_names[nl_cpu_gemm_in_effect()]; }

bool nl_cpu_gemm_uses_onednn(int m, int n, int k)
{
    switch (nl_cpu_gemm_choice()) {
    case NL_GEMM_ONEDNN:
        return true;
    case NL_GEMM_AUTO:
        return have_onednn() && m >= ONEDNN_MIN_SIDE && n >= ONEDNN_MIN_SIDE &&
               2.0 * m * n * (double)k >= ONEDNN_MIN_FLOPS;
    default:
        return false;
    }
}

#ifdef NORMLAB_HAVE_ONEDNN
/* the kernel set's cap on oneDNN's instructions, before its first product
 * (a backend's open sets it first in a run; benches and tests call here
 * without one) */
static void cap_once(void)
{
    static atomic_bool capped;
    if (!atomic_exchange(&capped, true))
        nl_cpu_onednn_cap_instructions();
}
#endif

void nl_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
#ifdef NORMLAB_HAVE_ONEDNN
    /* row-major like cblas's CblasRowMajor; the arguments were checked by
     * the layer that planned them, so a refusal here is a bug, not input */
    if (nl_cpu_gemm_uses_onednn(m, n, k)) {
        cap_once();
        if (dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                       beta, c, ldc) == dnnl_success)
            return;
    }
#endif
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *nl_cpu_gemm_description(char *buf, size_t size)
{
#ifdef NORMLAB_HAVE_ONEDNN
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, size,
             "%s (oneDNN %d.%d.%d's sgemm for products of >= %d rows and columns and >= %.2g "
             "flops under auto, OpenBLAS's elsewhere; NORMLAB_GEMM=auto|openblas|onednn)",
             choice_name(), v->major, v->minor, v->patch, ONEDNN_MIN_SIDE,
             ONEDNN_MIN_FLOPS);
#else
    snprintf(buf, size, "%s (OpenBLAS's sgemm; built without oneDNN; NORMLAB_GEMM=auto|openblas)",
             choice_name());
#endif
    return buf;
}
