/* normlab bench --run: the table it prints, its CSV rows and the spreads
 * over the rounds (bench_run.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device.h"
#include "cmd.h"
#include "results/summary_keys.h"
#include "version_git.h"

#include "bench_run.h"

static const char *const run_columns[] = {
    "section", "impl", "round", "order", "config", "model", "norm", "batch", "per_sample",
    "threads", "steps", "steady_first_step", "steady_last_step", "steady_steps", "steady_s",
    "steady_per_s", "step_ms", NL_EVAL_EVAL_S, "run_wall_s", "run_per_s", "process_s", "process_cpu_s",
    "ratio_to_torch", "step_median_per_s", "load1", "setting", "commit", "cpu_model", "isa", "build_isa", "l1d_kib",
    "l2_kib", "l3_kib", NL_SUMMARY_OPENBLAS_CORE, NL_SUMMARY_CPU_KERNELS, "step_flops", "gflops", "peak_gflops",
    "peak_share",
    /* a PyTorch row's mode and its compile seconds; every row of a round:
     * the PyTorch mode that was the peer (the fastest; ratio_to_torch's) */
    "torch_mode", NL_SUMMARY_PEER_COMPILE_S, "peer_mode",
    /* the core's FMA peak at the side's threads (bench/fma_peak.h): the
     * yardstick; peak_* above is the sgemm probe's */
    "fma_kind", "fma_peak_gflops", "fma_peak_share",
};
enum { N_RUN_COLUMNS = sizeof run_columns / sizeof run_columns[0] };

nl_code bench_run_open_csv(run_output *out, const char *path, nl_error *err)
{
    return nl_csv_open(&out->csv, path, run_columns, N_RUN_COLUMNS, err);
}

/* a side's achieved GFLOP/s at `per_s` samples (tokens) per second */
static double side_gflops(const run_output *out, double per_s)
{
    return per_s / out->per_step * out->step_flops / 1e9;
}

/* the peak at a side's threads: the probe's 1-thread rate, or its rate at
 * the threads it ran with (NAN before the probe) */
static double peak_at_threads(const run_output *out, int threads)
{
    const double peak = threads <= 1 ? out->peak.gflops_one : out->peak.gflops_all;
    return peak > 0 ? peak : NAN;
}

/* the same for the FMA peak */
static double fma_peak_at_threads(const run_output *out, int threads)
{
    const nl_fma_peak *f = &out->peak.fma;
    const double peak = threads <= 1 ? f->gflops_one : f->gflops_all;
    return peak > 0 ? peak : NAN;
}

static const char *fnum(char *buf, size_t size, double v, const char *fmt)
{
    if (!isfinite(v))
        buf[0] = '\0';
    else
        snprintf(buf, size, fmt, v);
    return buf;
}

int bench_run_emit_side(run_output *out, int round, int order, const side *s, double ratio)
{
    if (!out->open)
        return 0;
    char b[N_RUN_COLUMNS][64];
    const char *f[N_RUN_COLUMNS];
    int i = 0;
    const bool step = !strcmp(s->impl, "step");
    f[i++] = step ? "step" : "run";
    f[i++] = s->impl;
    snprintf(b[i], sizeof b[i], "%d", round), f[i] = b[i], i++;
    snprintf(b[i], sizeof b[i], "%d", order), f[i] = b[i], i++;
    f[i++] = out->config;
    f[i++] = out->model;
    f[i++] = out->norm;
    snprintf(b[i], sizeof b[i], "%d", out->batch), f[i] = b[i], i++;
    f[i++] = out->unit;
    snprintf(b[i], sizeof b[i], "%d", s->threads), f[i] = b[i], i++;
    const nl_bench_run_records *r = &s->rec;
    snprintf(b[i], sizeof b[i], "%ld", r->steps), f[i] = step ? "" : b[i], i++;
    snprintf(b[i], sizeof b[i], "%ld", r->first_step), f[i] = step ? "" : b[i], i++;
    snprintf(b[i], sizeof b[i], "%ld", r->last_step), f[i] = step ? "" : b[i], i++;
    snprintf(b[i], sizeof b[i], "%ld", r->steady_steps), f[i] = step ? "" : b[i], i++;
    f[i] = fnum(b[i], sizeof b[i], step ? NAN : r->steady_s, "%.6f"), i++;
    f[i] = fnum(b[i], sizeof b[i], s->steady_per_s, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], s->step_ms, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], step ? NAN : r->eval_s, "%.6f"), i++;
    f[i] = fnum(b[i], sizeof b[i], step ? NAN : r->wall_s, "%.6f"), i++;
    f[i] = fnum(b[i], sizeof b[i], step ? NAN : s->run_per_s, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], step ? NAN : s->process_s, "%.3f"), i++;
    f[i] = fnum(b[i], sizeof b[i], step ? NAN : s->process_cpu_s, "%.3f"), i++;
    f[i] = fnum(b[i], sizeof b[i], ratio, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], step ? s->median_per_s : NAN, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], s->load1, "%.2f"), i++;
    f[i++] = out->setting;
    f[i++] = NORMLAB_GIT_COMMIT;
    const nl_bench_machine *m = &out->machine;
    f[i++] = m->cpu_model;
    f[i++] = m->isa;
    f[i++] = m->build_isa;
    snprintf(b[i], sizeof b[i], "%d", m->l1d_kib), f[i] = b[i], i++;
    snprintf(b[i], sizeof b[i], "%d", m->l2_kib), f[i] = b[i], i++;
    snprintf(b[i], sizeof b[i], "%d", m->l3_kib), f[i] = b[i], i++;
    f[i++] = m->openblas_core;
    const bool torch = !strcmp(s->impl, "torch");
    f[i++] = torch ? "" : out->cpu_kernels; /* normlab's kernel set */
    const double gflops = side_gflops(out, s->steady_per_s);
    const double peak = peak_at_threads(out, s->threads);
    f[i] = fnum(b[i], sizeof b[i], out->step_flops, "%.9g"), i++;
    f[i] = fnum(b[i], sizeof b[i], gflops, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], peak, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], gflops / peak, "%.6g"), i++;
    f[i++] = torch ? nl_name_of(&nl_torch_mode_names, s->mode) : "";
    f[i] = fnum(b[i], sizeof b[i], torch ? s->compile_s : NAN, "%.3f"), i++;
    f[i++] = out->peer_mode;
    const double fma = fma_peak_at_threads(out, s->threads);
    f[i++] = nl_fma_kind_name(out->peak.fma.kind);
    f[i] = fnum(b[i], sizeof b[i], fma, "%.6g"), i++;
    f[i] = fnum(b[i], sizeof b[i], gflops / fma, "%.6g"), i++;
    nl_error err = {0};
    if (nl_csv_row(&out->csv, f, &err) != NL_OK) {
        out->open = false;
        return nl_cmd_report("bench", &err);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void spread(const double *v, int n, double *median, double *lo, double *hi)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    *median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    *lo = s[0];
    *hi = s[n - 1];
}

static void print_spread(const char *what, const double *v, int n, const char *fmt_unit)
{
    if (n == 0)
        return;
    double med, lo, hi;
    spread(v, n, &med, &lo, &hi);
    printf("  %-30s median ", what);
    printf(fmt_unit, med);
    printf("  min ");
    printf(fmt_unit, lo);
    printf("  max ");
    printf(fmt_unit, hi);
    printf("  (%d round%s)\n", n, n == 1 ? "" : "s");
}

void bench_run_print_header(const session *b)
{
    char cpu[512];
    const nl_bench_machine *m = &b->out.machine;
    printf("normlab bench --run %s (normlab %s, commit %s)\n", b->o.config, NORMLAB_VERSION,
           NORMLAB_GIT_COMMIT);
    printf("cpu: %s\n", nl_backend_cpu_description(cpu, sizeof cpu));
    printf("machine: %s; %s (built for %s); OpenBLAS core %s; setting %s\n",
           m->cpu_model[0] ? m->cpu_model : "unknown CPU", m->isa, m->build_isa, m->openblas_core,
           b->out.setting);
    printf("model: %s, norm %s, batch %d, %ld steps; steady state: the train rows after the "
           "first window and the first %.0f%% of the steps, evaluations taken out; rates in "
           "%s/s\n",
           b->out.model, b->out.norm, b->out.batch, b->plan.total_steps, 100 * b->o.skip, b->out.unit);
    const nl_bench_peak *p = &b->out.peak;
    printf("FLOPs per step %.4g (nl_model_flops: products, forward and backward; the same for "
           "both sides); peak (sgemm %d^3, best of %d): 1 thread %.1f GFLOP/s, %d threads "
           "%.1f GFLOP/s; share = a side's GFLOP/s / the peak at its threads\n",
           b->out.step_flops, p->size, NL_BENCH_PEAK_CALLS, p->gflops_one, p->threads,
           p->gflops_all);
    printf("FMA peak (%s, %d floats; bench/fma_peak.h): 1 thread %.1f GFLOP/s, %d threads %.1f "
           "GFLOP/s; fma = a side's GFLOP/s / the FMA peak at its threads\n",
           nl_fma_kind_name(p->fma.kind), nl_fma_kind_width(p->fma.kind), p->fma.gflops_one,
           p->fma.threads, p->fma.gflops_all);
    printf("runs in %s%s\n\n", b->dir, b->o.keep ? "" : " (removed at the end)");
    printf("  %5s %-18s %7s %12s %9s %12s %9s %9s %9s %6s %8s %6s %6s %9s\n", "round", "side",
           "threads", "steady/s", "ms/step", "run/s", "eval s", "process s", "cpu s", "load",
           "GFLOP/s", "share", "fma", "compile s");
}

/* a side's name in the table: normlab, step, or torch and its mode */
static const char *side_name(const side *s, char *buf, size_t size)
{
    if (strcmp(s->impl, "torch"))
        return s->impl;
    snprintf(buf, size, "torch %s", nl_name_of(&nl_torch_mode_names, s->mode));
    return buf;
}

void bench_run_print_side(const run_output *out, int round, const side *s)
{
    char run_s[32] = "", eval_s[32] = "", proc_s[32] = "", cpu_s[32] = "", compile_s[32] = "";
    char name[48];
    if (strcmp(s->impl, "step")) {
        snprintf(run_s, sizeof run_s, "%.1f", s->run_per_s);
        snprintf(eval_s, sizeof eval_s, "%.2f", s->rec.eval_s);
        snprintf(proc_s, sizeof proc_s, "%.2f", s->process_s);
        snprintf(cpu_s, sizeof cpu_s, "%.2f", s->process_cpu_s);
    }
    if (!strcmp(s->impl, "torch") && isfinite(s->compile_s))
        snprintf(compile_s, sizeof compile_s, "%.2f", s->compile_s);
    const double gflops = side_gflops(out, s->steady_per_s);
    printf("  %5d %-18s %7d %12.1f %9.3f %12s %9s %9s %9s %6.2f %8.2f %6.3f %6.3f %9s\n", round,
           side_name(s, name, sizeof name), s->threads, s->steady_per_s, s->step_ms, run_s, eval_s,
           proc_s, cpu_s, s->load1, gflops, gflops / peak_at_threads(out, s->threads),
           gflops / fma_peak_at_threads(out, s->threads), compile_s);
}

/* the steady rates over the rounds as shares of `peak`, the same FLOPs on
 * both sides */
static void print_shares(const session *b, const char *of, double peak)
{
    double share[2][MAX_ROUNDS];
    for (int r = 0; r < b->n_normlab; r++)
        share[0][r] = side_gflops(&b->out, b->v_normlab[r]) / peak;
    for (int r = 0; r < b->n_torch; r++)
        share[1][r] = side_gflops(&b->out, b->v_torch[r]) / peak;
    char what[64];
    snprintf(what, sizeof what, "share of %s, normlab", of);
    print_spread(what, share[0], b->n_normlab, "%.3f");
    snprintf(what, sizeof what, "share of %s, PyTorch", of);
    print_spread(what, share[1], b->n_torch, "%.3f");
}

void bench_run_print_summary(const session *b)
{
    char fmt[32], what[64];
    snprintf(fmt, sizeof fmt, "%%.1f %s/s", b->out.unit);
    printf("\nover the rounds:\n");
    print_spread("normlab run, steady", b->v_normlab, b->n_normlab, fmt);
    print_spread("normlab run, whole", b->v_run, b->n_normlab, fmt);
    for (int m = 0; m < NL_TORCH_BEST; m++) {
        snprintf(what, sizeof what, "PyTorch %s, steady", nl_name_of(&nl_torch_mode_names, m));
        print_spread(what, b->v_mode[m], b->n_mode[m], fmt);
        snprintf(what, sizeof what, "PyTorch %s, compile", nl_name_of(&nl_torch_mode_names, m));
        print_spread(what, b->v_compile[m], b->n_compile[m], "%.1f s");
    }
    print_spread("PyTorch peer, steady", b->v_torch, b->n_torch, fmt);
    print_spread("step alone (mean)", b->v_step, b->n_step, fmt);
    print_spread("step alone (median rep)", b->v_step_median, b->n_step, fmt);
    print_spread("ratio normlab / PyTorch peer", b->v_ratio, b->n_ratio, "%.3f");
    print_spread("process time PyTorch/normlab", b->v_proc_ratio, b->n_ratio, "%.3f");
    print_spread("process CPU s PyTorch/normlab", b->v_cpu_ratio, b->n_ratio, "%.3f");
    print_spread("run / step alone", b->v_step_ratio, b->n_step_ratio, "%.3f");
    print_shares(b, "peak", peak_at_threads(&b->out, b->last_threads));
    print_shares(b, "FMA peak", fma_peak_at_threads(&b->out, b->last_threads));
    if (b->o.torch) {
        const char *sep = "";
        printf("  peer (the fastest PyTorch mode of a round):");
        for (int m = 0; m < NL_TORCH_BEST; m++)
            if (b->n_mode[m] || b->left_out[m]) {
                printf("%s %s %d of %d rounds%s", sep, nl_name_of(&nl_torch_mode_names, m),
                       b->peer_rounds[m], b->n_mode[m],
                       b->left_out[m] ? " (left out: it does not compile)" : "");
                sep = ";";
            }
        printf("\n");
    }
}
