/* normlab bench --run's own parts, shared by its files: the options
 * (bench_run_options.c), what the PyTorch peer mirrors (bench_run_peer.c),
 * one side of a round (bench_run_side.c), the table, CSV and spreads
 * (bench_run_output.c), and the session that runs the rounds
 * (bench_run.c). */
#ifndef NL_CMD_BENCH_RUN_H
#define NL_CMD_BENCH_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "device/device.h"
#include "bench/bench.h"
#include "bench/run_records.h"
#include "config/config.h"
#include "int_options.h"
#include "log/files.h"
#include "proc/proc.h"
#include "train/check.h"

#define MAX_SETS 64
#define MAX_ROUNDS NL_CMD_BENCH_RUN_MAX_ROUNDS
/* relative to the current directory: run from the repository's root */
#define DEFAULT_PEER "experiments/bench/torch_run.py"
/* the pinned peer's virtual environment, as README's one command makes it */
#define DEFAULT_PYTHON ".venv-peer/bin/python"
#define INSTALL_PEER                                                                               \
    "python3 -m venv .venv-peer && .venv-peer/bin/pip install -r "                                 \
    "experiments/bench/requirements-peer.txt"
/* torch_run.py's exit status for a compiled mode that does not compile the
 * model: --torch-mode best leaves that mode out and goes on */
#define PEER_DOES_NOT_COMPILE 3

typedef struct {
    const char *config;
    const char *sets[MAX_SETS];
    int n_sets;
    int rounds, threads;
    int torch_mode; /* nl_torch_mode */
    bool torch, step, torch_mode_given;
    double skip;
    const char *csv, *python, *peer, *keep;
} run_options;

typedef struct {
    bool ok;
    int threads;
    nl_bench_run_records rec;
    double process_s;    /* the child process, start to exit */
    double process_cpu_s; /* its CPU seconds, user + system: on a busy machine the
                           * cost that depends least on what else runs */
    double steady_per_s; /* samples (tokens) per second, steady state */
    double run_per_s;    /* over the run's training wall time, evaluations included */
    double step_ms;      /* steady seconds per step */
    double load1;        /* the 1-minute load average when it started */
    double median_per_s; /* the step alone: from the median repetition, as --training reports */
    char impl[16];
    int mode;             /* a PyTorch side's nl_torch_mode */
    double compile_s;     /* its compilation (the compiled modes' warm-up), NAN eager */
    char cpu_kernels[32]; /* a normlab run's, from its summary.json */
} side;

typedef struct {
    nl_csv csv;
    bool open;
    const char *config, *model, *norm, *unit;
    int batch;
    int per_sample;
    char setting[256];
    char cpu_kernels[32]; /* the normlab runs' kernel set */
    const char *peer_mode; /* this round's fastest PyTorch mode ("" without --torch) */
    nl_bench_machine machine;
    /* the model's FLOPs per training step (nl_model_flops), the samples
     * (tokens) a step takes, and the measured peak: both sides are credited
     * the same FLOPs at their own steady rate */
    double step_flops, per_step;
    nl_bench_peak peak;
} run_output;

/* one --run session: what every round reads, and what the rounds gather */
typedef struct {
    run_options o;
    nl_config *cfg;
    nl_run_plan plan;
    nl_backend *be; /* the step alone's backend, opened on first use */
    char dir[1024];       /* the rounds' run directories */
    char resolved[1200];  /* the resolved config the PyTorch script reads */
    char data_path[1100]; /* what the resolved config leaves to defaults the */
    char sizes[64];       /* script cannot know: the dataset's path and split sizes */
    char self[1024];      /* this program, for `normlab run` */
    double per_step;      /* samples (tokens) a step takes */
    int last_threads;
    run_output out;
    /* per round: steady rates, their ratios, and the whole runs' rates */
    double v_normlab[MAX_ROUNDS], v_torch[MAX_ROUNDS], v_step[MAX_ROUNDS], v_ratio[MAX_ROUNDS],
        v_step_ratio[MAX_ROUNDS], v_proc_ratio[MAX_ROUNDS], v_run[MAX_ROUNDS],
        v_step_median[MAX_ROUNDS], v_cpu_ratio[MAX_ROUNDS];
    int n_normlab, n_torch, n_step, n_ratio, n_step_ratio;
    /* per PyTorch mode: its steady rates and compile seconds over the
     * rounds, the rounds it was the peer, and whether best left it out (a
     * compiled mode that does not compile the model) */
    double v_mode[NL_TORCH_BEST][MAX_ROUNDS], v_compile[NL_TORCH_BEST][MAX_ROUNDS];
    int n_mode[NL_TORCH_BEST], n_compile[NL_TORCH_BEST], peer_rounds[NL_TORCH_BEST];
    bool left_out[NL_TORCH_BEST];
} session;

/* ---- options (bench_run_options.c) ---- */

void bench_run_usage(FILE *out);
/* argv into *o; *help: --help was asked; an exit status (0: go on) */
int bench_run_parse_options(int argc, char **argv, run_options *o, bool *help);

/* ---- the PyTorch peer (bench_run_peer.c) ---- */

/* What the PyTorch script mirrors, by the architecture's and the
 * normalizer's rows: NULL, or what it does not (in buf, or a constant) */
const char *bench_run_torch_refusal(const nl_config *cfg, char *buf, size_t size);
/* the peer's Python and whether its torch runs the mode asked for; an
 * exit status, or -1 to go on */
int bench_run_check_peer(run_options *o);
/* the script's own verdict on the resolved config; -1 when it mirrors it,
 * else an exit status */
int bench_run_peer_mirrors(const session *b);

/* ---- a side of a round (bench_run_side.c) ---- */

/* argv as a child to its end, stdout and stderr into log_path (NULL:
 * stdout dropped); its exit status (128 + a signal), -1 when it could not
 * start */
int bench_run_child(const char *const *argv, const char *log_path, nl_proc_end *end);
/* times one side; false to stop */
bool bench_run_time_side(session *b, int round, side *s);

/* ---- output (bench_run_output.c) ---- */

/* the --csv file, its header written */
nl_code bench_run_open_csv(run_output *out, const char *path, nl_error *err);
/* a side's CSV row (none without --csv); an exit status */
int bench_run_emit_side(run_output *out, int round, int order, const side *s, double ratio);
void bench_run_print_header(const session *b);
void bench_run_print_side(const run_output *out, int round, const side *s);
void bench_run_print_summary(const session *b);

#endif
