/* normlab bench's results: one row type for every section, written as CSV
 * rows beside the tables the sections print. */
#include <math.h>
#include <stdio.h>

#include "bench_cmd.h"
#include "cmd.h"
#include "results/summary_keys.h"

/* the CSV's columns: experiments/bench/ writes the same for PyTorch */
static const char *const columns[] = {
    "section", "impl", "setting", "threads", "model", "norm", "groups", "batch", "kernel",
    "shape", "mode", "reps", "calls", "median_us", "min_us", NL_SUMMARY_SAMPLES_PER_S, "median_ms",
    "flops", "gflops", "ref_gflops", "square_gflops", "ceiling_samples_per_s",
    "bytes_per_elem", "gbps", "copy_gbps", "fraction", "busy", "flush_subnormals", "cpu_model",
    "isa", "build_isa", "l1d_kib", "l2_kib", "l3_kib", NL_SUMMARY_OPENBLAS_CORE, NL_SUMMARY_CPU_KERNELS,
    "step_flops", "peak_gflops", "peak_share",
    /* the core's FMA peak (bench/fma_peak.h): the yardstick; peak_* above is sgemm's */
    "fma_kind", "fma_peak_gflops", "fma_peak_share",
};
enum { N_COLUMNS = sizeof columns / sizeof columns[0] };

bench_row bench_blank_row(const char *section)
{
    return (bench_row){.section = section, .samples_per_s = NAN, .median_ms = NAN, .flops = NAN,
                 .gflops = NAN, .ref_gflops = NAN, .square_gflops = NAN, .ceiling = NAN,
                 .bytes_per_elem = NAN, .gbps = NAN, .copy_gbps = NAN, .fraction = NAN,
                 .step_flops = NAN};
}

static const char *num(char *buf, size_t size, double v)
{
    if (isnan(v))
        buf[0] = '\0';
    else
        snprintf(buf, size, "%.9g", v);
    return buf;
}

static const char *inum(char *buf, size_t size, long v)
{
    if (v <= 0)
        buf[0] = '\0';
    else
        snprintf(buf, size, "%ld", v);
    return buf;
}

void bench_emit_csv(bench_output *out, const bench_row *r)
{
    if (!out->open)
        return;
    char b[N_COLUMNS][48];
    const char *f[N_COLUMNS];
    const nl_bench_time *t = r->time;
    int i = 0;
    f[i++] = r->section;
    f[i++] = "normlab";
    f[i++] = out->setting;
    f[i] = inum(b[i], sizeof b[i], out->threads), i++;
    f[i++] = r->model ? r->model : "";
    f[i++] = r->norm ? r->norm : "";
    f[i] = inum(b[i], sizeof b[i], r->groups), i++;
    f[i] = inum(b[i], sizeof b[i], r->batch), i++;
    f[i++] = r->kernel ? r->kernel : "";
    f[i++] = r->shape ? r->shape : "";
    f[i++] = r->mode ? r->mode : "";
    f[i] = inum(b[i], sizeof b[i], t ? t->reps : 0), i++;
    f[i] = inum(b[i], sizeof b[i], t ? t->calls : 0), i++;
    f[i] = num(b[i], sizeof b[i], t ? t->median_s * 1e6 : NAN), i++;
    f[i] = num(b[i], sizeof b[i], t ? t->min_s * 1e6 : NAN), i++;
    const double v[] = {r->samples_per_s, r->median_ms, r->flops, r->gflops, r->ref_gflops,
                        r->square_gflops, r->ceiling, r->bytes_per_elem, r->gbps, r->copy_gbps,
                        r->fraction};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++, i++)
        f[i] = num(b[i], sizeof b[i], v[k]);
    const nl_bench_machine *m = &out->machine;
    snprintf(b[i], sizeof b[i], "%d", out->busy), f[i] = b[i], i++;
    f[i++] = out->flush_subnormals ? "true" : "false";
    f[i++] = m->cpu_model;
    f[i++] = m->isa;
    f[i++] = m->build_isa;
    f[i] = inum(b[i], sizeof b[i], m->l1d_kib), i++;
    f[i] = inum(b[i], sizeof b[i], m->l2_kib), i++;
    f[i] = inum(b[i], sizeof b[i], m->l3_kib), i++;
    f[i++] = m->openblas_core;
    f[i++] = out->cpu_kernels;
    const double peak = out->peak.gflops_all;
    f[i] = num(b[i], sizeof b[i], r->step_flops), i++;
    f[i] = num(b[i], sizeof b[i], peak > 0 ? peak : NAN), i++;
    f[i] = num(b[i], sizeof b[i], peak > 0 ? r->gflops / peak : NAN), i++;
    const double fma = out->peak.fma.gflops_all;
    f[i++] = nl_fma_kind_name(out->peak.fma.kind);
    f[i] = num(b[i], sizeof b[i], fma > 0 ? fma : NAN), i++;
    f[i] = num(b[i], sizeof b[i], fma > 0 ? r->gflops / fma : NAN), i++;
    nl_error err = {0};
    if (nl_csv_row(&out->csv, f, &err) != NL_OK) {
        nl_cmd_report("bench", &err);
        out->failures++;
        out->open = false;
    }
}

void bench_failed(bench_output *out, const char *what, const nl_error *err)
{
    fprintf(stderr, "normlab bench: %s: %s\n", what, err->msg[0] ? err->msg : nl_code_name(err->code));
    out->failures++;
}

/* whether normalizer kind k takes a group count */
bool bench_uses_groups(int k)
{
    return (nl_norm_info_of((nl_norm_kind)k)->keys & NL_NORM_KEY_GROUPS) != 0;
}

/* "group(8)" for kinds with a group count, else the name */
void bench_norm_label(int k, int groups, char *label, size_t size)
{
    if (bench_uses_groups(k))
        snprintf(label, size, "%s(%d)", nl_name_of(&nl_norm_names, k), groups);
    else
        nl_copy_string(label, size, nl_name_of(&nl_norm_names, k));
}


nl_code bench_open_csv(bench_output *out, const char *path, nl_error *err)
{
    const nl_code rc = nl_csv_open(&out->csv, path, columns, N_COLUMNS, err);
    out->open = rc == NL_OK;
    return rc;
}
