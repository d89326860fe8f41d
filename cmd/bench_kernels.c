/* normlab bench --kernels: the sgemm 1024 reference, every normalizer against
 * a streaming copy of the same size, the bench models' conv and linear layers
 * against cblas_sgemm on their GEMM shapes. */
#include <math.h>
#include <stdio.h>

#include "bench_cmd.h"

double bench_sgemm_square(bench_output *out, const bench_options *o)
{
    const nl_gemm sq = {.m = 1024, .n = 1024, .k = 1024};
    nl_bench_timing t = bench_timing(o, BENCH_KERNEL_CALLS);
    nl_bench_time time;
    nl_error err = {0};
    if (nl_bench_sgemm(&sq, 1, &t, &time, &err) != NL_OK) {
        bench_failed(out, "sgemm 1024", &err);
        return NAN;
    }
    const double gf = nl_gemm_flops(&sq, 1) / time.median_s / 1e9;
    printf("sgemm reference (cblas_sgemm, row-major, beta 0, 2*M*N*K FLOPs)\n");
    printf("  %-16s %4s %11s %9s\n", "M x N x K", "op", "median_us", "GFLOP/s");
    printf("  %-16s %4s %11.1f %9.1f\n\n", "1024x1024x1024", "NN", time.median_s * 1e6, gf);
    bench_row r = bench_blank_row("sgemm");
    r.kernel = "sgemm";
    r.shape = "1024x1024x1024";
    r.mode = "NN";
    r.time = &time;
    r.flops = nl_gemm_flops(&sq, 1);
    r.gflops = gf;
    bench_emit_csv(out, &r);
    return gf;
}

/* the FMA peak the sgemm probe carries: printed; every CSV row has its rate
 * at the bench's threads (fma_peak_gflops) */
static void bench_fma_peak(const bench_output *out)
{
    const nl_fma_peak *f = &out->peak.fma;
    printf("FMA peak (%d independent chains of %s FMAs, %d floats each, the fastest of %d calls;\n"
           "  fma_peak_share = GFLOP/s / the %d-thread rate): 1 thread %.1f GFLOP/s, %d threads\n"
           "  %.1f GFLOP/s\n\n",
           NL_FMA_PEAK_CHAINS, nl_fma_kind_name(f->kind), nl_fma_kind_width(f->kind),
           NL_FMA_PEAK_CALLS, f->threads, f->gflops_one, f->threads, f->gflops_all);
}

void bench_peak(bench_output *out, const nl_backend *be)
{
    nl_error err = {0};
    if (nl_bench_peak_probe(be->threads, &out->peak, &err) != NL_OK) {
        bench_failed(out, "peak probe", &err);
        return;
    }
    const nl_bench_peak *p = &out->peak;
    const nl_bench_machine *m = &out->machine;
    printf("single-precision peak (cblas_sgemm %d^3, best of %d calls after a warm-up; the\n"
           "  share of peak below = GFLOP/s / the %d-thread rate): 1 thread %.1f GFLOP/s, %d\n"
           "  threads %.1f GFLOP/s on %s (%s, kernels %s, OpenBLAS core %s)\n\n",
           p->size, NL_BENCH_PEAK_CALLS, p->threads, p->gflops_one, p->threads, p->gflops_all,
           m->cpu_model[0] ? m->cpu_model : "unknown CPU", m->isa, be->cpu_kernels,
           m->openblas_core);
    char shape[48], mode[32];
    snprintf(shape, sizeof shape, "%dx%dx%d", p->size, p->size, p->size);
    const int threads[2] = {1, p->threads};
    const double gflops[2] = {p->gflops_one, p->gflops_all};
    const nl_bench_time *times[2] = {&p->time_one, &p->time_all};
    /* one row when the bench runs on one thread */
    for (int k = 0; k < (p->threads > 1 ? 2 : 1); k++) {
        bench_row r = bench_blank_row("peak");
        r.kernel = "sgemm";
        r.shape = shape;
        snprintf(mode, sizeof mode, "threads=%d", threads[k]);
        r.mode = mode;
        r.flops = nl_gemm_flops(&(nl_gemm){.m = p->size, .n = p->size, .k = p->size}, 1);
        r.gflops = gflops[k];
        r.time = times[k];
        bench_emit_csv(out, &r);
    }
    bench_fma_peak(out);
}

typedef struct {
    int n, c, h, w;
    bool features;
} norm_shape;

/* the copy reference on a shape's element count: its GB/s (printed, a CSV
 * row), or NAN if it could not be timed */
static double time_copy(bench_output *out, nl_backend *be, const nl_bench_timing *t,
                        const norm_shape *sh, const char *shape, size_t count)
{
    nl_bench_time copy;
    nl_error err = {0};
    if (nl_bench_copy(count, be->threads, t, &copy, &err) != NL_OK) {
        bench_failed(out, "copy", &err);
        return NAN;
    }
    const double copy_gbps = 8.0 * (double)count / copy.median_s / 1e9;
    printf("  %-10s %-16s %-10s %11.1f %8.1f %9.1f %9s\n", "(copy)", shape, "copy",
           copy.median_s * 1e6, copy_gbps, copy_gbps, "");
    bench_row r = bench_blank_row("copy");
    r.kernel = "copy";
    r.shape = shape;
    r.mode = "copy";
    r.batch = sh->n;
    r.time = &copy;
    r.bytes_per_elem = 8.0;
    r.gbps = r.copy_gbps = copy_gbps;
    r.fraction = 1.0;
    bench_emit_csv(out, &r);
    return copy_gbps;
}

/* normalizer k on one shape, every mode against the copy's GB/s */
static void time_norm(bench_output *out, const bench_options *o, nl_backend *be,
                      const nl_bench_timing *t, int k, const norm_shape *sh, const char *shape,
                      size_t count, double copy_gbps)
{
    const nl_bench_norm_case nc = {.kind = (nl_norm_kind)k, .groups = o->groups, .n = sh->n,
                                   .c = sh->c, .h = sh->h, .w = sh->w, .features = sh->features};
    nl_bench_time times[NL_BENCH_NORM_MODES];
    const char *name = nl_name_of(&nl_norm_names, k);
    char kernel[32];
    snprintf(kernel, sizeof kernel, "%snorm", name);
    nl_error err = {0};
    if (nl_bench_norm(be, &nc, t, times, &err) != NL_OK) {
        char what[160];
        snprintf(what, sizeof what, "%s on %s", kernel, shape);
        bench_failed(out, what, &err);
        return;
    }
    for (int mode = 0; mode < NL_BENCH_NORM_MODES; mode++) {
        const double bytes = nl_bench_norm_mode_bytes(mode);
        const double gbps = bytes * (double)count / times[mode].median_s / 1e9;
        char label[32];
        bench_norm_label(k, o->groups, label, sizeof label);
        printf("  %-10s %-16s %-10s %11.1f %8.1f %9.1f %9.3f\n", label, shape,
               nl_bench_norm_mode_name(mode), times[mode].median_s * 1e6, gbps, copy_gbps,
               gbps / copy_gbps);
        bench_row r = bench_blank_row("norm");
        r.norm = name;
        r.groups = bench_uses_groups(k) ? o->groups : 0;
        r.batch = sh->n;
        r.kernel = kernel;
        r.shape = shape;
        r.mode = nl_bench_norm_mode_name(mode);
        r.time = &times[mode];
        r.bytes_per_elem = bytes;
        r.gbps = gbps;
        r.copy_gbps = copy_gbps;
        r.fraction = gbps / copy_gbps;
        bench_emit_csv(out, &r);
    }
}

void bench_norms(bench_output *out, const bench_options *o, nl_backend *be)
{
    const norm_shape shapes[] = {
        {32, 64, 28, 28, false}, {128, 256, 14, 14, false}, {256, 1024, 1, 1, true}};
    const nl_bench_timing t = bench_timing(o, BENCH_KERNEL_CALLS);
    printf("normalizers: effective GB/s = minimal bytes / median time; minimal traffic counted:\n"
           "  fwd_train, fwd_eval 8 B/elem (read x, write y); bwd 12 B/elem (read x, dy; write\n"
           "  dx); fwd_bwd 20 B/elem. copy = OpenMP float copy loop over the same element count,\n"
           "  8 B/elem; fraction = GB/s / copy GB/s. group norm: %d groups; layer = one group\n"
           "  (per-channel affine); affine everywhere; batch norm eval uses running statistics.\n",
           o->groups);
    printf("  %-10s %-16s %-10s %11s %8s %9s %9s\n", "norm", "shape", "mode", "median_us", "GB/s",
           "copy GB/s", "fraction");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const norm_shape *sh = &shapes[s];
        const int ndim = sh->features ? 2 : 4;
        if (!bench_kernel_model(o, ndim))
            continue;
        char shape[64];
        if (sh->features)
            snprintf(shape, sizeof shape, "%dx%d", sh->n, sh->c);
        else
            snprintf(shape, sizeof shape, "%dx%dx%dx%d", sh->n, sh->c, sh->h, sh->w);
        const size_t count = (size_t)sh->n * sh->c * sh->h * sh->w;
        const double copy_gbps = time_copy(out, be, &t, sh, shape, count);
        if (isnan(copy_gbps))
            continue;
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            const nl_norm_info *info = nl_norm_info_of((nl_norm_kind)k);
            if (o->norm[k] && info->adds_layer && nl_norm_accepts(info, ndim))
                time_norm(out, o, be, &t, k, sh, shape, count, copy_gbps);
        }
    }
    printf("\n");
}

void bench_layers(bench_output *out, const bench_options *o, nl_backend *be, double square)
{
    const nl_bench_timing t = bench_timing(o, BENCH_KERNEL_CALLS);
    printf("conv and linear layers (the bench models' weight layers; conv/linear before a norm\n"
           "  have no bias, the classifier has one): GFLOP/s = 2*MACs / median time; bwd = dW,\n"
           "  plus dX where the layer passes a gradient on (not conv1/fc1: their input is the\n"
           "  data); sgemm = cblas_sgemm on the layer's whole-batch GEMM shapes (M x N x K, ops)\n"
           "  timed alone, square = 1024^3 (%.1f GFLOP/s); fraction = GFLOP/s / sgemm GFLOP/s.\n",
           square);
    printf("  %-5s %-11s %5s %-4s %-32s %11s %8s %8s %8s\n", "model", "layer", "batch", "mode",
           "GEMM shapes", "median_us", "GFLOP/s", "sgemm", "fraction");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        if (!o->model[a] || !nl_arch_info_of((nl_arch)a)->bench_kernels)
            continue;
        const char *model = nl_name_of(&nl_arch_names, a);
        nl_model_spec spec;
        /* with a normalizer: the layers before it have no bias, as in the norm runs */
        nl_bench_model_spec((nl_arch)a, NL_NORM_BATCH, o->groups, &spec);
        for (int bi = 0; bi < o->n_batches; bi++) {
            const int n = o->batches[bi];
            nl_bench_layer_case cases[32];
            int count = 0;
            nl_error err = {0};
            if (nl_bench_model_layers(be, &spec, n, cases, 32, &count, &err) != NL_OK) {
                bench_failed(out, "layers", &err);
                continue;
            }
            for (int i = 0; i < count; i++) {
                const nl_bench_layer_case *lc = &cases[i];
                nl_bench_layer_result res;
                if (nl_bench_layer(be, lc, &t, &res, &err) != NL_OK) {
                    bench_failed(out, lc->name, &err);
                    nl_error_clear(&err);
                    continue;
                }
                nl_gemm fwd, bwd[2];
                const int n_bwd = nl_bench_layer_gemms(lc, &fwd, bwd);
                for (int mode = 0; mode < 2; mode++) {
                    const nl_gemm *g = mode ? bwd : &fwd;
                    const int ng = mode ? n_bwd : 1;
                    nl_bench_time ref;
                    double ref_gf = NAN;
                    if (nl_bench_sgemm(g, ng, &t, &ref, &err) == NL_OK)
                        ref_gf = nl_gemm_flops(g, ng) / ref.median_s / 1e9;
                    else {
                        bench_failed(out, "sgemm", &err);
                        nl_error_clear(&err);
                    }
                    const nl_bench_time *time = mode ? &res.bwd : &res.fwd;
                    const double flops = mode ? res.bwd_flops : res.fwd_flops;
                    const double gf = flops / time->median_s / 1e9;
                    char shapes[128];
                    nl_gemm_describe(g, ng, shapes, sizeof shapes);
                    printf("  %-5s %-11s %5d %-4s %-32s %11.1f %8.1f %8.1f %8.3f\n", model,
                           lc->name, n, mode ? "bwd" : "fwd", shapes, time->median_s * 1e6, gf,
                           ref_gf, gf / ref_gf);
                    bench_row r = bench_blank_row("layer");
                    r.model = model;
                    r.batch = n;
                    r.kernel = lc->name;
                    r.shape = shapes;
                    r.mode = mode ? "bwd" : "fwd";
                    r.time = time;
                    r.flops = flops;
                    r.gflops = gf;
                    r.ref_gflops = ref_gf;
                    r.square_gflops = square;
                    r.fraction = gf / ref_gf;
                    bench_emit_csv(out, &r);
                }
            }
        }
    }
    printf("\n");
}
