/* normlab bench's own parts, shared by its files: the options (bench_options.c),
 * the table and CSV rows (bench_report.c), the kernel sections
 * (bench_kernels.c), the step sections (bench_steps.c) and the command
 * (bench.c). `bench --run` has its own (bench_run.h). */
#ifndef NL_CMD_BENCH_CMD_H
#define NL_CMD_BENCH_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include "arch/registry.h"
#include "backend/backend.h"
#include "bench/bench.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"

/* the most sizes --batch or --hidden takes */
#define MAX_LIST 16

/* ---- options (bench_options.c) ---- */

typedef struct {
    bool kernels, training, eval, quick, cpu_clock;
    bool peak; /* the peaks alone (run_sections always measures them first) */
    int threads, busy, reps, warmup, groups;
    bool reps_set, warmup_set;
    const char *csv;
    nl_precision precision; /* the product ops' (train.precision) */
    bool model[NL_ARCH_COUNT];
    bool norm[NL_NORM_COUNT];
    int batches[MAX_LIST], n_batches;
    bool lm_default_batches; /* no --batch: the lm takes its own list */
    bool context_set, layers_set; /* else the recurrent bench's own defaults */
    bool cell[NL_RNN_COUNT];      /* --model lstm, gru: the recurrent bench's cells */
    /* their normalizers: --norm inside the cell; without it, none alone */
    bool rnn_norm[NL_NORM_COUNT];
    int hiddens[MAX_LIST], n_hiddens;
    nl_bench_lm_case lm;
    int patch; /* the vit's */
    /* the transformers' benches: --norm less what each does not take */
    bool transformer_norm[NL_ARCH_COUNT][NL_NORM_COUNT];
} bench_options;

void bench_usage(FILE *out);
/* argv into *o, every model checked on paper; *help: --help was asked */
int bench_parse_options(int argc, char **argv, bench_options *o, bool *help);
/* whether --model names an architecture whose kernels the bench times
 * (its row says bench_kernels); ndim > 0: one whose normalizers see that
 * layout (2 features, 4 images) */
bool bench_kernel_model(const bench_options *o, int ndim);
/* whether --model names a recurrent cell */
bool bench_any_cell(const bench_options *o);
/* the bench's transformer (arch lm or vit) with normalizer k */
void bench_transformer_spec(const bench_options *o, nl_arch arch, int k, nl_model_spec *spec);
/* the recurrent bench's model: --layers and --context (the steps) where
 * given, else one layer over a Fashion-MNIST image's 28 rows */
nl_bench_rnn_case bench_rnn_case(const bench_options *o, nl_rnn_cell cell, nl_norm_kind norm,
                                 int hidden);
/* what a section times: kernel calls (the eval forward too) or training
 * steps, each with its own repetitions and warm-up */
typedef enum { BENCH_KERNEL_CALLS, BENCH_TRAINING_STEPS } bench_timed;
/* the timing of a section: its defaults, or --quick's, with --cpu-clock,
 * --reps and --warmup over them */
nl_bench_timing bench_timing(const bench_options *o, bench_timed what);
/* the recurrent bench's batches: --batch, else 1, 8 and 64 */
const int *bench_rnn_batch_list(const bench_options *o, int *n);

/* ---- output: one row type for every section (bench_report.c) ---- */

typedef struct {
    const char *section, *model, *norm, *kernel, *shape, *mode;
    int groups, batch; /* 0: empty */
    const nl_bench_time *time;
    double samples_per_s, median_ms, flops, gflops, ref_gflops, square_gflops, ceiling,
        bytes_per_elem, gbps, copy_gbps, fraction; /* NAN: empty */
    /* a training row's FLOPs per step (nl_model_flops at its batch); NAN: empty */
    double step_flops;
} bench_row;

/* where the results go */
typedef struct bench_output {
    nl_csv csv;
    bool open;
    char setting[256];
    int threads, busy;
    bool flush_subnormals;
    const char *cpu_kernels; /* the kernel set the backend runs */
    nl_bench_machine machine;
    /* the measured peak (bench_peak): every row's share of peak divides its
     * GFLOP/s by peak.gflops_all, the peak at the bench's threads */
    nl_bench_peak peak;
    int failures;
} bench_output;

bench_row bench_blank_row(const char *section);
/* the row to --csv, if one is open (a failure to write closes it) */
void bench_emit_csv(bench_output *out, const bench_row *r);
/* opens --csv FILE with the bench's columns */
nl_code bench_open_csv(bench_output *out, const char *path, nl_error *err);
/* a measurement that could not be taken: said on stderr, counted */
void bench_failed(bench_output *out, const char *what, const nl_error *err);
/* whether normalizer kind k takes a group count */
bool bench_uses_groups(int k);
/* "group(8)" for kinds with a group count, else the name */
void bench_norm_label(int k, int groups, char *label, size_t size);

/* ---- sections ---- */

/* bench_kernels.c: the sgemm 1024 reference (its GFLOP/s), the normalizers
 * against a copy, the layers against sgemm */
double bench_sgemm_square(bench_output *out, const bench_options *o);
/* the single-precision peak probe (nl_bench_peak_probe) at 1 and the
 * backend's threads: printed, two CSV rows, kept in out->peak */
void bench_peak(bench_output *out, const nl_backend *be);
void bench_norms(bench_output *out, const bench_options *o, nl_backend *be);
void bench_layers(bench_output *out, const bench_options *o, nl_backend *be, double square);

/* bench_steps.c: training and eval steps */
void bench_training(bench_output *out, const bench_options *o, nl_backend *be, double square);
void bench_training_lm(bench_output *out, const bench_options *o, nl_backend *be);
void bench_training_vit(bench_output *out, const bench_options *o, nl_backend *be);
void bench_training_rnn(bench_output *out, const bench_options *o, nl_backend *be,
                        double square);
void bench_eval(bench_output *out, const bench_options *o, nl_backend *be);

/* the architectures with a training bench of their own, beside the ones
 * whose rows say bench_kernels (which share bench_training) */
typedef struct {
    nl_arch arch;
    void (*run)(bench_output *out, const bench_options *o, nl_backend *be);
} bench_own_training_row;
extern const bench_own_training_row bench_own_training[];
extern const int bench_n_own_training;

#endif
