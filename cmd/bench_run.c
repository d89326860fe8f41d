/* normlab bench --run: the speed of a real `normlab run` of a config, end to
 * end, against the PyTorch training script that mirrors it
 * (experiments/bench/torch_run.py), alternated round by round. Each side
 * runs as a child process into a scratch directory; its steady state comes
 * from the metrics.csv it wrote (core/bench/run_records.h), so what is
 * timed is what a user's run does: data, steps, logging; evaluations are
 * counted apart. With --step, the same model's training step timed alone
 * (the `normlab bench --training` loop) joins each round, to see what a run
 * loses against its own step. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/registry.h"
#include "backend.h"
#include "base/number.h"
#include "bench/bench.h"
#include "bench/run_records.h"
#include "cmd.h"
#include "int_options.h"
#include "config/config.h"
#include "data/registry.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"
#include "train/check.h"
#include "train/run.h"
#include "train/summary.h"
#include "version_git.h"

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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab bench --run CONFIG.yaml [--set KEY=VALUE]... [--rounds N] [--torch]\n"
            "                     [--step] [--threads N] [--skip F] [--csv FILE] [--keep DIR]\n"
            "                     [--torch-mode MODE] [--python PATH] [--peer SCRIPT]\n\n"
            "Times real runs of CONFIG, end to end: each round runs `normlab run CONFIG` (the\n"
            "--set overrides applied) as a child process into a scratch directory and reads\n"
            "its steady state from the metrics.csv it wrote: the steps between train rows,\n"
            "after the first window and the first --skip share of the steps, evaluations\n"
            "taken out. Rates are samples/s (tokens/s for an lm). Each round prints a\n"
            "line per side; the end, the median, min and max of each side and of the\n"
            "ratio normlab / PyTorch over the rounds. Each side is credited the model's\n"
            "FLOPs per step (its products, forward and backward) at its own rate, and its\n"
            "shares of the peaks measured first (bench --peak: FMA, then sgemm).\n\n"
            "  --rounds N     rounds (default 3); the order within a round alternates\n"
            "  --torch        also run the PyTorch training script of the same config\n"
            "                 (experiments/bench/torch_run.py; a config it does not mirror\n"
            "                 is refused, naming what it mirrors) on the thread count the\n"
            "                 normlab run took\n"
            "  --torch-mode M eager, compile (torch.compile's default), max-autotune, or best\n"
            "                 (the default): each of the three, the compiled ones where they\n"
            "                 compile, the fastest per round taken as the peer; compilation is\n"
            "                 timed apart (compile s) and before the run's clock starts\n"
            "  --step         also time the model's training step alone in this process (the\n"
            "                 --training loop: random data, SGD momentum 0.9, the lm AdamW;\n"
            "                 the mean over its timed steps, and the median repetition)\n"
            "  --threads N    both sides' threads (default: a run picks the cores other\n"
            "                 processes leave free; PyTorch then gets the same count)\n"
            "  --skip F       warm-up share of the steps left out (default 0.1)\n"
            "  --csv FILE     one row per side and round, with the machine's description,\n"
            "                 FLOPs per step, GFLOP/s and shares of the FMA and sgemm peaks\n"
            "  --keep DIR     keep the runs' directories there (default: a scratch directory,\n"
            "                 removed at the end)\n"
            "  --python PATH  the Python with PyTorch (default %s, the pinned peer\n"
            "                 installed as below; /usr/bin/python3 is Debian's torch 1.13:\n"
            "                 --torch-mode eager only)\n"
            "  --peer SCRIPT  the PyTorch script (default %s)\n\n"
            "Both sides run in this command's environment, so the OpenMP setting normlab\n"
            "takes (GOMP_SPINCOUNT=3000 unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set)\n"
            "holds for PyTorch too. The config must train on the CPU, without checkpoints.\n"
            "Numbers from a loaded machine are noisy: the spread over the rounds says how much.\n"
            "A compiled mode's process seconds include its compilation.\n\n"
            "The pinned PyTorch peer (torch 2.15), from the repository's root:\n"
            "  %s\n",
            DEFAULT_PYTHON, DEFAULT_PEER, INSTALL_PEER);
}

/* ---- options ---- */

/* the step bench's options, which the config replaces with --run */
static const char *const step_only[] = {"--kernels", "--training", "--quick", "--busy", "--reps",
                                        "--warmup", "--model", "--norm", "--batch", "--groups",
                                        "--d-model", "--heads", "--layers", "--context",
                                        "--vocab", "--placement", "--patch"};

/* an option's value into o; an exit status (0: taken) */
/* an option's value into o; an exit status (0: taken) */
static int take_value(run_options *o, const char *a, const char *v)
{
    int rc = 0;
    if (!strcmp(a, "--run")) {
        if (o->config)
            return nl_cmd_usage_error("bench", "--run: one config at a time");
        o->config = v;
    } else if (!strcmp(a, "--rounds")) {
        rc = nl_cmd_int_arg("bench --run", a, v, &o->rounds);
    } else if (!strcmp(a, "--threads")) {
        rc = nl_cmd_int_arg("bench --run", a, v, &o->threads);
    } else if (!strcmp(a, "--skip")) {
        if (!nl_parse_finite(v, &o->skip) || !(o->skip >= 0.0 && o->skip < 1.0))
            return nl_cmd_usage_error("bench", "--skip: '%s' is not a share in [0, 1)", v);
    } else if (!strcmp(a, "--csv")) {
        o->csv = v;
    } else if (!strcmp(a, "--keep")) {
        o->keep = v;
    } else if (!strcmp(a, "--python")) {
        o->python = v;
    } else if (!strcmp(a, "--torch-mode")) {
        char choices[128];
        o->torch_mode = nl_name_lookup(&nl_torch_mode_names, v);
        o->torch_mode_given = true;
        if (o->torch_mode < 0)
            return nl_cmd_usage_error("bench", "--torch-mode: '%s' is not one of %s", v,
                                      nl_name_choices(&nl_torch_mode_names, choices,
                                                      sizeof choices));
    } else {
        o->peer = v;
    }
    return rc;
}

static int parse_run_options(int argc, char **argv, run_options *o, bool *help)
{
    memset(o, 0, sizeof *o);
    o->rounds = 3;
    o->skip = 0.1;
    o->peer = DEFAULT_PEER;
    o->torch_mode = NL_TORCH_BEST;
    for (int i = 1; i < argc; i++)
        if (nl_cmd_is_help(argv[i])) {
            *help = true;
            return 0;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nl_cmd_is_help(a)) {
            *help = true;
            return 0;
        }
        if (!strcmp(a, "--torch")) {
            o->torch = true;
            continue;
        }
        if (!strcmp(a, "--step")) {
            o->step = true;
            continue;
        }
        if (!strcmp(a, "--set")) {
            int rc = nl_cmd_take_set("bench", argc, argv, &i, o->sets, &o->n_sets, MAX_SETS);
            if (rc)
                return rc;
            continue;
        }
        for (size_t k = 0; k < sizeof step_only / sizeof step_only[0]; k++)
            if (!strcmp(a, step_only[k]))
                return nl_cmd_usage_error("bench", "%s is the step bench's; with --run the "
                                          "config says what trains (--set changes it)", a);
        const bool takes = !strcmp(a, "--run") || !strcmp(a, "--rounds") ||
                           !strcmp(a, "--threads") || !strcmp(a, "--skip") ||
                           !strcmp(a, "--csv") || !strcmp(a, "--keep") ||
                           !strcmp(a, "--python") || !strcmp(a, "--peer") ||
                           !strcmp(a, "--torch-mode");
        if (!takes)
            return nl_cmd_usage_error("bench", "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return nl_cmd_usage_error("bench", "%s needs a value", a);
        const int rc = take_value(o, a, argv[++i]);
        if (rc)
            return rc;
    }
    if (!*help && !o->config)
        return nl_cmd_usage_error("bench", "--run needs a config file");
    if (!*help && o->torch_mode_given && !o->torch)
        return nl_cmd_usage_error("bench", "--torch-mode: only with --torch");
    return 0;
}

/* the rows of table t that pick(row, ctx) takes, "a, b and c", into buf */
static const char *join_picked(const nl_name_table *t, bool (*pick)(int, const void *),
                               const void *ctx, char *buf, size_t size)
{
    int picked = 0, shown = 0;
    for (int i = 0; i < t->count; i++)
        picked += pick(i, ctx);
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < t->count && used < size; i++)
        if (pick(i, ctx)) {
            shown++;
            used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                     shown == 1 ? "" : shown == picked ? " and " : ", ",
                                     nl_name_of(t, i));
        }
    return buf;
}

static bool arch_mirrored(int a, const void *ctx)
{
    (void)ctx;
    return nl_arch_info_of((nl_arch)a)->bench_torch != 0;
}

static bool norm_mirrored(int k, const void *ctx)
{
    (void)ctx;
    return nl_norm_info_of((nl_norm_kind)k)->bench_torch;
}

/* ctx: the architecture's row */
static bool placement_mirrored(int p, const void *ctx)
{
    return (((const nl_arch_info *)ctx)->bench_torch >> p) & 1u;
}

/* What the PyTorch script mirrors, by the architecture's and the
 * normalizer's rows: NULL, or what it does not. The script's own check
 * (torch_run.py --check, which peer_mirrors asks) has the last word; this
 * one needs no PyTorch. */
static const char *torch_refusal(const nl_config *cfg, char *buf, size_t size)
{
    const nl_model_spec *m = &cfg->model;
    const nl_train_spec *t = &cfg->train;
    const char *arch = nl_name_of(&nl_arch_names, m->arch);
    const char *norm = nl_name_of(&nl_norm_names, m->norm.kind);
    char names[256];
    if (cfg->device != NL_DEVICE_CPU)
        return "device: the PyTorch script trains on the CPU only";
    const nl_arch_info *row = nl_arch_info_of(m->arch);
    if (!row->bench_torch) {
        snprintf(buf, size, "model.arch: %s (the PyTorch script mirrors %s)", arch,
                 join_picked(&nl_arch_names, arch_mirrored, NULL, names, sizeof names));
        return buf;
    }
    const nl_norm_kind k = m->norm.kind;
    const nl_norm_info *norm_row = nl_norm_info_of(k);
    if (!norm_row->bench_torch) {
        snprintf(buf, size, "model.norm.type: %s (the PyTorch script mirrors %s)", norm,
                 join_picked(&nl_norm_names, norm_mirrored, NULL, names, sizeof names));
        return buf;
    }
    if (norm_row->adds_layer && !placement_mirrored((int)m->norm.placement, row)) {
        snprintf(buf, size, "model.norm.placement: %s (the PyTorch script puts a %s's "
                 "normalizer at %s)", nl_name_of(&nl_placement_names, m->norm.placement), arch,
                 join_picked(&nl_placement_names, placement_mirrored, row, names, sizeof names));
        return buf;
    }
    if (norm_row->adds_layer && m->norm.placement == NL_PLACE_IN_CELL && norm_row->running_stats) {
        snprintf(buf, size, "model.norm.type: %s at placement in_cell (the PyTorch script's "
                 "cell takes per-sample statistics, not the per-step recurrent batch norm)",
                 norm);
        return buf;
    }
    if (k == NL_NORM_BATCH && (m->norm.cumulative || m->norm.sync))
        return "model.norm: a cumulative or synchronized batch norm";
    if (m->weight_standardization)
        return "model.weight_standardization: true";
    if (m->param_norm.kind != NL_PARAM_NORM_NONE) {
        snprintf(buf, size, "model.param_norm.type: %s",
                 nl_name_of(&nl_param_norm_names, m->param_norm.kind));
        return buf;
    }
    if (!nl_dataset_info_of(cfg->data.kind)->torch_script) {
        char readable[256];
        snprintf(buf, size, "data.dataset: %s (the PyTorch script reads %s)",
                 nl_name_of(&nl_dataset_names, cfg->data.kind),
                 nl_dataset_names_joined(nl_dataset_torch_reads, ", ", " and ", readable,
                                         sizeof readable));
        return buf;
    }
    if (t->freeze_bn_after > 0 || t->bn_recalibrate_batches > 0)
        return "train.freeze_bn_after / train.bn_recalibrate: not in the PyTorch script";
    if (t->trace.activation[0])
        return "train.trace: not in the PyTorch script";
    if (t->log_grad_norms || t->log_attention_logits)
        return "train.log: not in the PyTorch script";
    return NULL;
}

/* ---- children ---- */

/* runs argv as a child with stdout and stderr into log_path (NULL: stdout
 * dropped, stderr this command's, which writes nothing); its exit status
 * (-1: it could not start), and its seconds in *seconds */
static int run_child(char *const *argv, const char *log_path, double *seconds, double *cpu_seconds)
{
    fflush(NULL);
    const double t0 = nl_bench_now();
    const pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        const int fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644)
                                : nl_open_system("/dev/null", O_WRONLY);
        const int in = nl_open_system("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0)
            _exit(127);
        dup2(in, 0);
        dup2(fd, 1);
        if (log_path)
            dup2(fd, 2);
        /* a bench stopped stops its run */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return -1;
    *seconds = nl_bench_now() - t0;
    *cpu_seconds = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                   (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* the last lines of a child's log, to stderr */
static void show_log_tail(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    if (nl_read_file(path, &text, &len, &err) != NL_OK)
        return;
    size_t start = len > 1500 ? len - 1500 : 0;
    fprintf(stderr, "--- the end of %s ---\n%s\n---\n", path, text + start);
    free(text);
}

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

static double load_average(void)
{
    double l = NAN;
    FILE *f = nl_fopen_system("/proc/loadavg");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = NAN;
        fclose(f);
    }
    return l;
}

/* reads a finished side's records; false (and says why) when they are not
 * usable */
static bool read_side(const char *dir, const char *what, double skip, double per_step_samples,
                      side *s)
{
    char path[1200], *text = NULL, value[64];
    nl_error err = {0};
    const nl_summary_verdict verdict = nl_summary_read(dir, &text);
    if (!text) {
        fprintf(stderr, "normlab bench: %s: %s/summary.json is %s\n", what, dir,
                verdict == NL_SUMMARY_ABSENT ? "missing" : "torn or unreadable");
        return false;
    }
    bool good = verdict == NL_SUMMARY_OK;
    if (!good)
        fprintf(stderr, "normlab bench: %s: the run ended '%s', not ok\n", what,
                nl_summary_verdict_name(verdict));
    /* a count that is no thread count (torn, hand-edited) is left unknown */
    if (nl_json_flat_get(text, "threads", value, sizeof value) &&
        !nl_parse_int(value, 0, NL_CONFIG_MAX_THREADS, &s->threads))
        s->threads = 0;
    if (!nl_json_flat_get(text, "cpu_kernels", s->cpu_kernels, sizeof s->cpu_kernels))
        s->cpu_kernels[0] = '\0';
    s->compile_s = NAN; /* eager writes null */
    if (nl_json_flat_get(text, "compile_s", value, sizeof value) && strcmp(value, "null"))
        s->compile_s = atof(value);
    free(text);
    if (!good)
        return false;
    nl_path_join(path, sizeof path, dir, "metrics.csv");
    if (nl_bench_read_run_records(path, skip, &s->rec, &err) != NL_OK) {
        fprintf(stderr, "normlab bench: %s: %s\n", what, err.msg);
        return false;
    }
    const double steps_per_s = nl_bench_steady_steps_per_s(&s->rec);
    s->steady_per_s = steps_per_s * per_step_samples;
    s->step_ms = 1e3 / steps_per_s;
    s->run_per_s = s->rec.wall_s > 0 ? (double)s->rec.steps * per_step_samples / s->rec.wall_s : 0;
    s->ok = true;
    return true;
}

/* ---- the CSV ---- */

static const char *const run_columns[] = {
    "section", "impl", "round", "order", "config", "model", "norm", "batch", "per_sample",
    "threads", "steps", "steady_first_step", "steady_last_step", "steady_steps", "steady_s",
    "steady_per_s", "step_ms", "eval_s", "run_wall_s", "run_per_s", "process_s", "process_cpu_s",
    "ratio_to_torch", "step_median_per_s", "load1", "setting", "commit", "cpu_model", "isa", "build_isa", "l1d_kib",
    "l2_kib", "l3_kib", "openblas_core", "cpu_kernels", "step_flops", "gflops", "peak_gflops",
    "peak_share",
    /* a PyTorch row's mode and its compile seconds; every row of a round:
     * the PyTorch mode that was the peer (the fastest; ratio_to_torch's) */
    "torch_mode", "compile_s", "peer_mode",
    /* the core's FMA peak at the side's threads (bench/fma_peak.h): the
     * yardstick; peak_* above is the sgemm probe's */
    "fma_kind", "fma_peak_gflops", "fma_peak_share",
};
enum { N_RUN_COLUMNS = sizeof run_columns / sizeof run_columns[0] };

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

static int emit_side(run_output *out, int round, int order, const side *s, double ratio)
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

/* ---- statistics over the rounds ---- */

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

/* ---- the step alone ---- */

static bool time_step(nl_backend *be, const nl_config *cfg, const nl_run_plan *plan, side *s)
{
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    if (plan->tokens)
        spec.classes = plan->token_data.vocab;
    const nl_bench_timing t = {.reps = 5, .warmup = 5, .rep_s = 0.25};
    nl_bench_train_result res;
    nl_error err = {0};
    const float lr = cfg->train.optimizer.lr;
    const nl_code rc = nl_model_spec_tokens(&spec)
                           ? nl_bench_train_lm(be, &spec, cfg->train.batch_size, lr, &t, &res, &err)
                           : nl_bench_train(be, &spec, cfg->train.batch_size, lr, &t, &res, &err);
    if (rc != NL_OK) {
        fprintf(stderr, "normlab bench: the step alone: %s\n", err.msg);
        return false;
    }
    s->threads = be->threads;
    /* the mean over every timed step, as a run's span counts its steps;
     * the median repetition (--training's figure) drops a busy machine's
     * slow stretches, which a run cannot */
    const double per_step = nl_model_spec_tokens(&spec) ? (double)cfg->train.batch_size * spec.context
                                                   : (double)cfg->train.batch_size;
    s->step_ms = res.step.mean_s * 1e3;
    s->steady_per_s = per_step / res.step.mean_s;
    s->median_per_s = per_step / res.step.median_s;
    s->ok = true;
    return true;
}

/* ---- the command ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* the scratch directory and what this command made in it */
static void remove_tree(const char *dir)
{
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "normlab bench: could not remove %s: %s\n", dir, strerror(errno));
}

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

/* the PyTorch side's Python (the pinned peer's venv unless --python) and
 * whether its torch runs the mode asked for (the script's --probe: torch
 * there and new enough), before anything is written; an exit status, or -1
 * to go on */
static int check_peer(run_options *o)
{
    if (access(o->peer, R_OK) != 0)
        return nl_cmd_usage_error("bench", "--torch: %s is not there (--peer)", o->peer);
    if (!o->python) {
        if (access(DEFAULT_PYTHON, X_OK) != 0)
            return nl_cmd_usage_error("bench", "--torch: no %s here: install the pinned PyTorch "
                                      "peer from the repository's root with `%s`, or give "
                                      "--python PATH (/usr/bin/python3: Debian's torch 1.13, "
                                      "--torch-mode eager)", DEFAULT_PYTHON, INSTALL_PEER);
        o->python = DEFAULT_PYTHON;
    } else if (access(o->python, X_OK) != 0) {
        return nl_cmd_usage_error("bench", "--torch: %s is not there (--python)", o->python);
    }
    /* best runs the compiled modes too, which need the newest torch */
    const bool best = o->torch_mode == NL_TORCH_BEST;
    const char *mode = nl_name_of(&nl_torch_mode_names, best ? NL_TORCH_COMPILE : o->torch_mode);
    char *const argv[] = {(char *)o->python, (char *)o->peer, "--probe", "--mode", (char *)mode, NULL};
    double seconds, cpu_seconds;
    const int code = run_child(argv, NULL, &seconds, &cpu_seconds);
    if (code == 0)
        return -1;
    if (code == 2)
        return nl_cmd_usage_error("bench", "--torch-mode %s: %s cannot run it (its reason above)%s",
                                  nl_name_of(&nl_torch_mode_names, o->torch_mode), o->python,
                                  best ? "; --torch-mode eager runs PyTorch eager alone" : "");
    fprintf(stderr, "normlab bench: %s %s --probe: exit status %d\n", o->python, o->peer, code);
    return 1;
}

/* The PyTorch script's own verdict on the resolved config (`--check` with
 * the config on its standard input, so that nothing is written): -1 when it
 * mirrors it, else an exit status (2 with its reason, which it printed). */
static int peer_mirrors(const session *b)
{
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "normlab bench: a pipe to %s: %s\n", b->o.peer, strerror(errno));
        return 1;
    }
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        fprintf(stderr, "normlab bench: cannot start %s: %s\n", b->o.python, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        char *const argv[] = {(char *)b->o.python, (char *)b->o.peer, "-", "--check", NULL};
        const int quiet = nl_open_system("/dev/null", O_WRONLY);
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        if (quiet >= 0)
            dup2(quiet, 1); /* its "mirrored" line; a refusal goes to stderr */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[0]);
    /* a script that exits unread must not end this command with SIGPIPE */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, before;
    sigaction(SIGPIPE, &ignore, &before);
    FILE *to = fdopen(fds[1], "w");
    nl_error err = {0};
    if (to) {
        nl_config_write(b->cfg, to, &err);
        fclose(to);
    } else {
        close(fds[1]);
    }
    sigaction(SIGPIPE, &before, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (code == 0)
        return -1;
    if (code == 2)
        return nl_cmd_usage_error("bench", "--run %s: the PyTorch script (%s) does not mirror "
                                  "this config: its reason above", b->o.config, b->o.peer);
    fprintf(stderr, "normlab bench: %s %s --check: exit status %d\n", b->o.python, b->o.peer,
            code);
    return 1;
}

/* the config loaded and every refusal made before anything is written; an
 * exit status, or -1 to go on */
static int load_and_check(session *b)
{
    const run_options *o = &b->o;
    nl_error err = {0};
    if (nl_config_load(o->config, o->sets, o->n_sets, b->cfg, &err) != NL_OK ||
        nl_run_check(b->cfg, -1, false, NULL, &b->plan, &err) != NL_OK) {
        if (!strcmp(err.key, "base") || !strcmp(err.key, "grid"))
            return nl_cmd_usage_error("bench", "--run %s: an experiment file; give a config "
                                      "(normlab sweep %s --dry-run lists its runs)",
                                      o->config, o->config);
        return nl_cmd_report("bench", &err);
    }
    char why[256];
    const char *refused = NULL;
    if (b->cfg->device != NL_DEVICE_CPU)
        refused = "device: --run times CPU runs";
    else if (b->cfg->train.checkpoint_every > 0)
        refused = "train.checkpoint_every: a run that writes checkpoints is not timed "
                  "(--set train.checkpoint_every=0)";
    else if (o->torch)
        refused = torch_refusal(b->cfg, why, sizeof why);
    if (refused)
        return nl_cmd_usage_error("bench", "--run %s: %s", o->config, refused);
    if (o->torch) {
        int peer = check_peer(&b->o);
        if (peer < 0)
            peer = peer_mirrors(b);
        if (peer >= 0)
            return peer;
    }
    if (o->keep && nl_path_exists(o->keep))
        return nl_cmd_usage_error("bench", "--keep %s: exists; give a new directory", o->keep);
    return -1;
}

/* the scratch (or --keep) directory, the resolved config in it, the CSV,
 * and the paths the children need; an exit status, or -1 to go on */
static int prepare(session *b)
{
    const nl_config *cfg = b->cfg;
    nl_error err = {0};
    if (b->o.keep) {
        if (nl_make_dirs(b->o.keep, &err) != NL_OK)
            return nl_cmd_report("bench", &err);
        nl_copy_string(b->dir, sizeof b->dir, b->o.keep);
    } else {
        nl_copy_string(b->dir, sizeof b->dir, "/tmp/normlab-bench-run-XXXXXX");
        if (!mkdtemp(b->dir)) {
            b->dir[0] = '\0';
            fprintf(stderr, "normlab bench: cannot make a scratch directory: %s\n", strerror(errno));
            return 1;
        }
    }
    nl_path_join(b->resolved, sizeof b->resolved, b->dir, "config.yaml");
    FILE *rf = fopen(b->resolved, "w");
    if (!rf || nl_config_write(cfg, rf, &err) != NL_OK || fclose(rf) != 0) {
        if (!err.msg[0])
            nl_fail(&err, NL_ERR_IO, "%s: %s", b->resolved, strerror(errno));
        return nl_cmd_report("bench", &err);
    }
    if (b->o.csv) {
        if (nl_csv_open(&b->out.csv, b->o.csv, run_columns, N_RUN_COLUMNS, &err) != NL_OK)
            return nl_cmd_report("bench", &err);
        b->out.open = true;
    }
    nl_copy_string(b->data_path, sizeof b->data_path,
                   cfg->data.path[0] ? cfg->data.path : nl_data_default_path(cfg->data.kind));
    if (b->plan.tokens)
        snprintf(b->sizes, sizeof b->sizes, "%ld,%ld", b->plan.token_data.train_length,
                 b->plan.token_data.valid_length);
    else
        snprintf(b->sizes, sizeof b->sizes, "%ld,%ld", b->plan.data.train_n, b->plan.data.test_n);
    const ssize_t self_len = readlink("/proc/self/exe", b->self, sizeof b->self - 1);
    if (self_len <= 0) {
        fprintf(stderr, "normlab bench: cannot find this program (/proc/self/exe)\n");
        return 1;
    }
    b->self[self_len] = '\0';
    return -1;
}

static void describe_output(session *b)
{
    const nl_config *cfg = b->cfg;
    const bool lm = nl_model_spec_tokens(&cfg->model);
    const int batch = cfg->train.batch_size;
    b->per_step = (double)batch * (lm ? cfg->model.context : 1);
    b->out = (run_output){.config = b->o.config, .model = nl_name_of(&nl_arch_names, cfg->model.arch),
                          .norm = nl_name_of(&nl_norm_names, cfg->model.norm.kind), .batch = batch,
                          .unit = lm ? "tokens" : "samples", .per_sample = lm ? cfg->model.context : 1};
    nl_bench_machine_describe(&b->out.machine);
    nl_bench_describe_setting(b->out.setting, sizeof b->out.setting);
    b->out.per_step = b->per_step;
    b->out.step_flops = NAN;
    nl_model *m = NULL;
    nl_error err = {0};
    if (nl_model_plan(&cfg->model, batch, batch, 1, &m, &err) == NL_OK) {
        nl_step_flops f;
        nl_model_flops(m, batch, &f);
        b->out.step_flops = f.forward + f.backward;
        nl_model_free(m);
    }
    /* the peak at the threads the runs take: --threads, else every usable
     * core (a run on a busy machine may take fewer: its rows divide by the
     * 1-thread peak when it runs on one) */
    if (nl_bench_peak_probe(nl_backend_max_threads(b->o.threads), &b->out.peak, &err) != NL_OK)
        fprintf(stderr, "normlab bench: peak probe: %s\n", err.msg);
}

static void print_header(const session *b)
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

/* the child's command line: the PyTorch script in a mode (an
 * nl_torch_mode) on the resolved config, or (mode -1) `normlab run` on the
 * config as given */
static void child_args(const session *b, int mode, char *run_dir, char *threads, char **args)
{
    const run_options *o = &b->o;
    int na = 0;
    if (mode >= 0) {
        args[na++] = (char *)o->python;
        args[na++] = (char *)o->peer;
        args[na++] = (char *)b->resolved;
        args[na++] = "--mode";
        args[na++] = (char *)nl_name_of(&nl_torch_mode_names, mode);
        args[na++] = "--out";
        args[na++] = run_dir;
        if (b->last_threads > 0) {
            args[na++] = "--threads";
            args[na++] = threads;
        }
        args[na++] = "--data-path";
        args[na++] = (char *)b->data_path;
        args[na++] = "--sizes";
        args[na++] = (char *)b->sizes;
    } else {
        args[na++] = (char *)b->self;
        args[na++] = "run";
        args[na++] = (char *)o->config;
        for (int k = 0; k < o->n_sets; k++) {
            args[na++] = "--set";
            args[na++] = (char *)o->sets[k];
        }
        args[na++] = "--out";
        args[na++] = run_dir;
        args[na++] = "--quiet";
        if (o->threads > 0) {
            args[na++] = "--threads";
            args[na++] = threads;
        }
    }
    args[na] = NULL;
}

/* one side of a round as a child process: normlab, or PyTorch in
 * s->mode; false on failure, with the child's exit status in *code */
static bool time_child(session *b, int round, side *s, int *code)
{
    char run_dir[1200], log[1300], threads[16], what[96], name[48];
    const bool torch = !strcmp(s->impl, "torch");
    if (torch)
        snprintf(name, sizeof name, "torch-%s", nl_name_of(&nl_torch_mode_names, s->mode));
    else
        nl_copy_string(name, sizeof name, s->impl);
    snprintf(run_dir, sizeof run_dir, "%s/%s-%d", b->dir, name, round);
    snprintf(log, sizeof log, "%s.log", run_dir);
    snprintf(threads, sizeof threads, "%d", b->last_threads);
    snprintf(what, sizeof what, "round %d, %s", round, name);
    char *args[2 * MAX_SETS + 16];
    child_args(b, torch ? s->mode : -1, run_dir, threads, args);
    /* both sides in this process's environment: the OpenMP spin bound
     * normlab sets for itself (cmd/main.c) holds for PyTorch's libgomp
     * too, which unbounded spins its team to a crawl on a busy machine */
    *code = run_child(args, log, &s->process_s, &s->process_cpu_s);
    if (*code != 0) {
        fprintf(stderr, "normlab bench: %s: exit status %d\n", what, *code);
        show_log_tail(log);
        return false;
    }
    if (!read_side(run_dir, what, b->o.skip, b->per_step, s))
        return false;
    if (!torch) {
        if (!b->out.cpu_kernels[0])
            nl_copy_string(b->out.cpu_kernels, sizeof b->out.cpu_kernels, s->cpu_kernels);
        if (b->o.threads == 0 && b->last_threads == 0)
            b->last_threads = s->threads;
    }
    return true;
}

/* the training step alone, in this process; false on failure */
static bool time_step_side(session *b, side *s)
{
    if (!b->be) {
        nl_error err = {0};
        const nl_backend_options bo = {.threads = b->last_threads,
                                       .keep_subnormals = !b->cfg->flush_subnormals};
        if (nl_backend_open(NL_DEVICE_CPU, &bo, &b->be, &err) != NL_OK) {
            nl_cmd_report("bench", &err);
            return false;
        }
    }
    return time_step(b->be, b->cfg, &b->plan, s);
}

/* a side's name in the table: normlab, step, or torch and its mode */
static const char *side_name(const side *s, char *buf, size_t size)
{
    if (strcmp(s->impl, "torch"))
        return s->impl;
    snprintf(buf, size, "torch %s", nl_name_of(&nl_torch_mode_names, s->mode));
    return buf;
}

static void print_side(const run_output *out, int round, const side *s)
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

/* the round's sides into the series over the rounds; the ratio for
 * normlab's row, against st, the round's peer (its fastest PyTorch mode) */
static double gather_round(session *b, const side *sn, const side *st, const side *ss)
{
    double ratio = NAN;
    if (sn) {
        b->v_normlab[b->n_normlab] = sn->steady_per_s;
        b->v_run[b->n_normlab++] = sn->run_per_s;
    }
    if (st)
        b->peer_rounds[st->mode]++;
    if (sn && st) {
        b->v_torch[b->n_torch++] = st->steady_per_s;
        ratio = sn->steady_per_s / st->steady_per_s;
        b->v_ratio[b->n_ratio] = ratio;
        b->v_cpu_ratio[b->n_ratio] = st->process_cpu_s / sn->process_cpu_s;
        b->v_proc_ratio[b->n_ratio++] = st->process_s / sn->process_s;
    }
    if (sn && ss) {
        b->v_step_median[b->n_step] = ss->median_per_s;
        b->v_step[b->n_step++] = ss->steady_per_s;
        b->v_step_ratio[b->n_step_ratio++] = sn->steady_per_s / ss->steady_per_s;
    }
    return ratio;
}

/* a round's sides in their order: odd rounds normlab first, even rounds
 * the others first, so a drift in the machine's load falls on both sides
 * alike; PyTorch in each mode --torch-mode asks for (best: every mode not
 * left out); the count */
static int round_order(const session *b, int round, side *got)
{
    int n = 0;
    const bool normlab_first = round % 2 == 1;
    memset(got, 0, (2 + NL_TORCH_BEST) * sizeof *got);
    if (normlab_first)
        nl_copy_string(got[n++].impl, sizeof got->impl, "normlab");
    for (int m = 0; b->o.torch && m < NL_TORCH_BEST; m++)
        if (b->o.torch_mode == m || (b->o.torch_mode == NL_TORCH_BEST && !b->left_out[m])) {
            got[n].mode = m;
            nl_copy_string(got[n++].impl, sizeof got->impl, "torch");
        }
    if (b->o.step)
        nl_copy_string(got[n++].impl, sizeof got->impl, "step");
    if (!normlab_first)
        nl_copy_string(got[n++].impl, sizeof got->impl, "normlab");
    return n;
}

/* times one side; false to stop. A compiled mode that does not compile the
 * model (the script's exit 3) is left out of best's later rounds: not ok,
 * but not a stop while another mode is left */
static bool time_side(session *b, int round, side *s)
{
    s->load1 = load_average();
    if (!strcmp(s->impl, "step"))
        return time_step_side(b, s);
    int code = 0;
    if (time_child(b, round, s, &code))
        return true;
    if (strcmp(s->impl, "torch") || b->o.torch_mode != NL_TORCH_BEST ||
        code != PEER_DOES_NOT_COMPILE || s->mode == NL_TORCH_EAGER)
        return false;
    b->left_out[s->mode] = true;
    fprintf(stderr, "normlab bench: torch %s does not compile this model: left out of the "
            "peer from here on\n", nl_name_of(&nl_torch_mode_names, s->mode));
    return true;
}

/* one round; an exit status */
static int run_round(session *b, int round)
{
    side got[2 + NL_TORCH_BEST];
    const int n = round_order(b, round, got);
    const side *sn = NULL, *st = NULL, *ss = NULL;
    for (int j = 0; j < n; j++) {
        side *s = &got[j];
        if (!time_side(b, round, s))
            return 1;
        if (!s->ok)
            continue;
        print_side(&b->out, round, s);
        if (!strcmp(s->impl, "torch")) {
            b->v_mode[s->mode][b->n_mode[s->mode]++] = s->steady_per_s;
            if (isfinite(s->compile_s))
                b->v_compile[s->mode][b->n_compile[s->mode]++] = s->compile_s;
            if (!st || s->steady_per_s > st->steady_per_s)
                st = s;
        } else {
            *(!strcmp(s->impl, "step") ? &ss : &sn) = s;
        }
    }
    if (b->o.torch && !st) {
        fprintf(stderr, "normlab bench: round %d: no PyTorch mode ran\n", round);
        return 1;
    }
    b->out.peer_mode = st ? nl_name_of(&nl_torch_mode_names, st->mode) : "";
    if (st && b->o.torch_mode == NL_TORCH_BEST)
        printf("  %5d peer: torch %s, the fastest\n", round, b->out.peer_mode);
    const double ratio = gather_round(b, sn, st, ss);
    int status = 0;
    for (int j = 0; j < n && status == 0; j++)
        if (got[j].ok)
            status = emit_side(&b->out, round, j + 1, &got[j], &got[j] == sn ? ratio : NAN);
    return status;
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

static void print_summary(const session *b)
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

int nl_cmd_bench_run(int argc, char **argv)
{
    session *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    bool help = false;
    int status = parse_run_options(argc, argv, &b->o, &help);
    if (!status && help)
        usage(stdout);
    if (status || help) {
        free(b);
        return status;
    }
    b->cfg = calloc(1, sizeof *b->cfg);
    status = b->cfg ? load_and_check(b) : 1;
    /* everything is checked: from here on things are written */
    if (status < 0) {
        b->last_threads = b->o.threads;
        describe_output(b);
        status = prepare(b);
    }
    if (status < 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        print_header(b);
        status = 0;
        for (int round = 1; round <= b->o.rounds && status == 0; round++)
            status = run_round(b, round);
        if (status == 0)
            print_summary(b);
    }
    nl_error err = {0};
    if (b->out.open && nl_csv_close(&b->out.csv, &err) != NL_OK && status == 0)
        status = nl_cmd_report("bench", &err);
    if (b->be)
        nl_backend_close(b->be);
    if (!b->o.keep && b->dir[0])
        remove_tree(b->dir);
    free(b->cfg);
    free(b);
    return status;
}
