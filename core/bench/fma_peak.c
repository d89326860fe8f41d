/* The core's FMA peak (see fma_peak.h): independent chains of FMAs, one
 * function per instruction kind, each compiled for its instructions alone
 * (a target attribute), so the probe runs whatever the binary was built for. */
#include "bench/fma_peak.h"

#include <math.h>
#include <omp.h>

#include "cpu/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NL_FMA_X86 1
#endif

/* Chain c starts at c: chains that started equal would be one chain to the
 * optimizer, which keeps one and times a twelfth of the work. */

/* Hides a value from the optimizer: the multiplier 1 and the addend 1 are
 * constants it could fold (acc * 1 + 1 into an add, the loop into one
 * multiply) and then the probe would time something else. */
#define OPAQUE(v) __asm__("" : "+x"(v))

#ifdef NL_FMA_X86
/* one vector kind's chains: VEC its type of WIDTH floats, SET1, FMADD and
 * STORE its intrinsics; compiled for `isa` alone */
#define DEFINE_CHAINS(name, isa, VEC, WIDTH, SET1, FMADD, STORE)                                   \
    __attribute__((target(isa))) static double name(long iterations)                               \
    {                                                                                              \
        VEC one = SET1(1.0f);                                                                      \
        OPAQUE(one);                                                                               \
        VEC acc[NL_FMA_PEAK_CHAINS];                                                               \
        for (int c = 0; c < NL_FMA_PEAK_CHAINS; c++)                                               \
            acc[c] = SET1((float)c);                                                               \
        for (long i = 0; i < iterations; i++)                                                      \
            for (int c = 0; c < NL_FMA_PEAK_CHAINS; c++)                                           \
                acc[c] = FMADD(acc[c], one, one);                                                  \
        double sum = 0.0;                                                                          \
        float lanes[WIDTH];                                                                        \
        for (int c = 0; c < NL_FMA_PEAK_CHAINS; c++) {                                             \
            STORE(lanes, acc[c]);                                                                  \
            for (int k = 0; k < WIDTH; k++)                                                        \
                sum += (double)lanes[k];                                                           \
        }                                                                                          \
        return sum;                                                                                \
    }

DEFINE_CHAINS(chains_avx512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps,
              _mm512_storeu_ps)
DEFINE_CHAINS(chains_avx2, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps,
              _mm256_storeu_ps)
#endif

static double chains_scalar(long iterations)
{
    volatile float hidden = 1.0f; /* read once: the constant the optimizer must not fold */
    const float one = hidden;
    float acc[NL_FMA_PEAK_CHAINS];
    for (int c = 0; c < NL_FMA_PEAK_CHAINS; c++)
        acc[c] = (float)c;
    for (long i = 0; i < iterations; i++)
        for (int c = 0; c < NL_FMA_PEAK_CHAINS; c++)
            acc[c] = acc[c] * one + one;
    double sum = 0.0;
    for (int c = 0; c < NL_FMA_PEAK_CHAINS; c++)
        sum += (double)acc[c];
    return sum;
}

typedef struct {
    const char *name;
    int width;          /* floats per instruction */
    nl_isa_mask needs;  /* what the CPU (and a kernel set) must have to run it */
    double (*chains)(long iterations); /* NULL: not compiled for this target */
} fma_kind_row;

#ifdef NL_FMA_X86
#define X86_CHAINS(fn) fn
#else
#define X86_CHAINS(fn) NULL
#endif

static const fma_kind_row fma_kinds[NL_FMA_KIND_COUNT] = {
    [NL_FMA_AVX512] = {"avx512", 16, NL_ISA_BIT(AVX512F), X86_CHAINS(chains_avx512)},
    [NL_FMA_AVX2] = {"avx2", 8, NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA), X86_CHAINS(chains_avx2)},
    [NL_FMA_SCALAR] = {"scalar", 1, 0, chains_scalar},
};

const char *nl_fma_kind_name(nl_fma_kind kind) { return fma_kinds[kind].name; }

int nl_fma_kind_width(nl_fma_kind kind) { return fma_kinds[kind].width; }

nl_fma_kind nl_fma_kind_for(nl_isa_mask isa)
{
    for (int k = 0; k < NL_FMA_KIND_COUNT; k++)
        if (fma_kinds[k].chains && (fma_kinds[k].needs & ~isa) == 0)
            return (nl_fma_kind)k;
    return NL_FMA_SCALAR;
}

nl_code nl_fma_run_chains(nl_fma_kind kind, long iterations, int threads, nl_fma_run *out,
                          nl_error *err)
{
    const fma_kind_row *row = &fma_kinds[kind];
    if (!row->chains || (row->needs & ~nl_isa_of_this_cpu()) != 0)
        return nl_fail(err, NL_ERR_UNSUPPORTED, "the FMA probe's %s kind does not run here",
                       row->name);
    double lane_sum = 0.0;
    int team = 0;
    const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads > 0 ? threads : 1) reduction(+ : lane_sum, team)
    {
        lane_sum += row->chains(iterations);
        team += 1;
    }
    out->seconds = omp_get_wtime() - t0;
    out->lane_sum = lane_sum;
    out->flops = 2.0 * team * NL_FMA_PEAK_CHAINS * row->width * (double)iterations;
    return NL_OK;
}

/* the fastest of NL_FMA_PEAK_CALLS calls after a warm-up (which also lets
 * the core settle at the clock it keeps under wide FMAs), in GFLOP/s */
static nl_code fastest(nl_fma_kind kind, int threads, double *gflops, nl_error *err)
{
    nl_fma_run run;
    nl_code rc = nl_fma_run_chains(kind, NL_FMA_PEAK_ITERATIONS, threads, &run, err);
    double best = 0.0;
    for (int call = 0; call < NL_FMA_PEAK_CALLS && rc == NL_OK; call++) {
        rc = nl_fma_run_chains(kind, NL_FMA_PEAK_ITERATIONS, threads, &run, err);
        if (rc == NL_OK && run.seconds > 0 && run.flops / run.seconds > best)
            best = run.flops / run.seconds;
    }
    *gflops = best > 0 ? best / 1e9 : NAN;
    return rc;
}

nl_code nl_fma_peak_probe(int threads, nl_fma_peak *out, nl_error *err)
{
    *out = (nl_fma_peak){.kind = nl_fma_kind_for(nl_cpu_kernels_isa()),
                         .threads = threads < 1 ? 1 : threads, .gflops_one = NAN,
                         .gflops_all = NAN};
    nl_code rc = fastest(out->kind, 1, &out->gflops_one, err);
    if (rc == NL_OK && out->threads > 1)
        rc = fastest(out->kind, out->threads, &out->gflops_all, err);
    else
        out->gflops_all = out->gflops_one;
    return rc;
}
