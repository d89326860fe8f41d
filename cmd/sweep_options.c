/* normlab sweep: its help text and its command line (sweep_cmd.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "int_options.h"
#include "sweep/slurm.h"
#include "sweep_cmd.h"

/* the help text in its sections: what is run and written, the experiment
 * file, the options, what happens on a second run and at Ctrl-C */
static void usage_synopsis(FILE *out)
{
    fputs("usage: normlab sweep EXPERIMENT.yaml [-j N] [--shard I/N|auto] [--claim] [--dry-run]\n"
          "                     [--merge] [--set KEY=VALUE]... [--out DIR] [--force]\n"
          "                     [--resume-stopped]\n"
          "       normlab sweep EXPERIMENT.yaml --emit-sbatch [--array-tasks N] [--array-throttle N]\n"
          "                     [--cpus-per-task C] [--time T] [--mem M] [--partition P]\n"
          "                     [--account A] [--qos Q] [--out DIR]\n\n"
          "Runs every configuration of an experiment file, each as its own `normlab run`\n"
          "process, and gathers the results in the sweep directory (default results/<name>/):\n"
          "  summary.csv         a row per run: the varied keys, status (ok, diverged, failed,\n"
          "                      pending, stopped) and the final metrics; rebuilt after\n"
          "                      every run\n"
          "  configs/<run>.yaml  the resolved config of each run\n"
          "  runs/<run>/         the run directories (config.yaml, metrics.csv, summary.json,\n"
          "                      stderr.txt: what the run printed)\n"
          "  plots/              the plots the experiment file lists (see normlab plot)\n"
          "  experiment.txt      the experiment file (relative to the directory) and the --set\n"
          "                      and --seeds it was started with: what resumes it, with --out\n"
          "  experiment.yaml     the experiment file's text as the sweep started (its hash in\n"
          "                      experiment.txt): what normlab report reads where the file is\n"
          "                      gone or changed, so that the directory can be copied or moved\n\n",
          out);
}

static void usage_experiment_file(FILE *out)
{
    fputs("Experiment file (YAML; unknown keys and wrong types are errors):\n"
          "  name: wu-he-mlp                      # the sweep directory's name (default: the\n"
          "                                       # file's name)\n"
          "  base: ../configs/mlp-batch.yaml      # relative to this file, or an inline config\n"
          "  set: {train.epochs: 3}               # fixed overrides (dotted config keys); one\n"
          "                                       # that does not apply to a run is left out\n"
          "  grid:                                # every combination, the first key slowest\n"
          "    model.norm.type: [none, batch, layer, group]\n"
          "    train.batch_size: [2, 4, 8, 16, 32, 64]\n"
          "    seed: [1, 2, 3]\n"
          "  derived:                             # KEY = base_value * (x / base_at)^power, x the\n"
          "    train.optimizer.lr:                # value of scale_with (power: 1, round: false\n"
          "      {scale_with: train.batch_size, base_value: 0.02, base_at: 32}  # by default)\n"
          "  formulas:                            # formula normalizers, named once: then in the\n"
          "    pono: {expr: \"x / rms(x, [channels])\"}  # grid, model.norm.type: [batch, pono]\n"
          "  exclude:                             # skip the runs matching every key of an entry,\n"
          "    - {model.norm.type: instance, model.arch: mlp}  # compared with the resolved config\n"
          "  threads: 0                           # per run; 0: cores / jobs\n"
          "  plots:                               # made at the end (see normlab plot --help):\n"
          "    - {kind: batch_size, metric: test_error}  # kind, metric, split, threshold, name\n"
          "    - {kind: curves, split: test, metric: error}\n"
          "    - {kind: curves, where: {train.batch_size: 8}}  # only the runs with these values\n"
          "  claims:                              # what the paper says, for normlab verdict\n"
          "    - {id: bn-collapses, paper: \"...\", metric: final_test_error, a: {model.norm.type: batch},\n"
          "       b: {model.norm.type: group}, scope: {train.batch_size: 2}, expect: a > b by 0.05}\n"
          "  stop: {rule: asha, metric: test_error, min_resource: 1, eta: 3}  # early stopping\n"
          "Every run's config is base + set + grid + derived, through the same checks as\n"
          "`normlab run`; all of them are checked before the first run starts (so a grid\n"
          "holds at most 100000 runs, and a key at most 1000 values). A run\n"
          "directory is named after its grid values: type-batch_batch_size-8_seed-1.\n"
          "A formula goes by one name everywhere (directories, summary.csv, table,\n"
          "claims, legends): its formulas: key or model.norm.name, else expr-<hash of its\n"
          "text>; two formulas of a sweep under one name are refused.\n\n",
          out);
}

static void usage_stop(FILE *out)
{
    fputs("Early stopping, stop: (not with --shard, --claim or --emit-sbatch; with claims:,\n"
          "each claim names the rule, stop: asha, registered before its runs: a claim's\n"
          "cells are never stopped otherwise):\n"
          "  rule: asha      rungs at min_resource * eta^k (min_resource 1, eta >= 2, default\n"
          "                  3) below a run's length; of the n runs at a rung the best\n"
          "                  floor(n/eta) go on (at least one), the others are stopped\n"
          "  rule: median    at grace, grace+every, ... (1, 1): a run whose best value so far\n"
          "                  is worse than the median of the other runs' running averages\n"
          "                  there (given min_runs of them, default 3) is stopped\n"
          "  metric: test_error | test_accuracy | test_loss | train_loss (as last logged at\n"
          "                  or before the point); mode: min | max (max for test_accuracy);\n"
          "                  unit: steps | epochs, the one the runs' length is given in\n"
          "A point is decided once every run has reached it (each waits there, paused with\n"
          "a checkpoint), so -j and the order runs finish in change nothing. A stopped\n"
          "run's summary.json says stopped with the rule's numbers (stop_value,\n"
          "stop_threshold, stop_compared, ...); --resume-stopped finishes the stopped runs,\n"
          "bit for bit as if never stopped.\n\n",
          out);
}

static void usage_options(FILE *out)
{
    fprintf(out,
            "options:\n"
            "  -j, --jobs N     run N runs at once (default 1); with --emit-sbatch, the array's\n"
            "                   throttle (--array-throttle N)\n"
            "  --shard I/N      run only the runs whose index modulo N is I-1 (I in 1..N), e.g.\n"
            "                   one slice per Slurm array task; then --merge\n"
            "  --shard auto     the slice of this Slurm array task (SLURM_ARRAY_TASK_ID, _COUNT,\n"
            "                   _MIN, _MAX, _STEP)\n"
            "  --one-process    run the runs as threads of this process instead of processes of\n"
            "                   their own: runs on one GPU then share its CUDA context, where\n"
            "                   the kernels of different runs can overlap (processes take\n"
            "                   turns); a second Ctrl-C cannot kill them, and a run that\n"
            "                   crashes ends the sweep (run it again to redo the unfinished)\n"
            "  --claim          take the runs one at a time, together with any number of other\n"
            "                   --claim workers sharing the sweep directory (other machines over\n"
            "                   NFS too): each run runs once; a dead worker's run is done again\n"
            "  --emit-sbatch    print a script that runs the sweep as a Slurm array job (each\n"
            "                   task runs its --shard auto), then the merge as a job that waits\n"
            "                   for the whole array; runs nothing. `bash FILE` on a login node\n"
            "                   queues both (compute nodes need no sbatch) and records their\n"
            "                   ids, or sbatch's refusal, in DIR/" NL_SLURM_RECORD " (--dry-run shows it)\n"
            "  --array-tasks N  array tasks (default: one per run, at most %d)\n"
            "  --array-throttle N  tasks running at once (default %d)\n"
            "  --cpus-per-task C   CPUs per task (default 1), and runs at once in it (at most\n"
            "                   the task's share of the runs)\n"
            "  --time T, --mem M, --partition P, --account A, --qos Q\n"
            "                   sbatch's options of these names, for the array and the merge\n"
            "                   job: T minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS;\n"
            "                   M megabytes or a number with K, M, G or T; names of letters,\n"
            "                   digits, _ . - (partitions joined by commas)\n"
            "  --merge          rebuild summary.csv (and the plots) from the run directories,\n"
            "                   running nothing\n"
            "  --dry-run        list the runs and what would happen to each, run nothing\n"
            "  --out DIR        the sweep directory\n"
            "  --set KEY=VALUE  a fixed setting for every run, over the file's set: (repeatable;\n"
            "                   e.g. --set train.steps=20 --out /tmp/try to try an experiment);\n"
            "                   --set threads=N is the file's top-level threads: N\n"
            "  --seeds N        the grid's seed: values become 1..N (more seeds for a claim)\n"
            "  --resume-stopped go on with the runs stop: stopped, each to its end, running\n"
            "                   nothing else\n"
            "  --force          re-run finished runs whose saved config differs from the\n"
            "                   experiment's (without it, that is an error), and start over\n"
            "                   interrupted ones whose checkpoint is of another config\n"
            "                   (without it, their runs refuse it)\n\n",
            NL_SBATCH_MAX_TASKS, NL_SBATCH_DEFAULT_THROTTLE);
}

static void usage_reruns(FILE *out)
{
    fputs("Running the same sweep again skips finished runs (ok or diverged: a diverged run\n"
          "is a result) and runs again the failed and the interrupted ones; a run another\n"
          "process is still writing is waited for, never started twice. The runs get\n"
          "SIGTERM when the sweep dies.\n"
          "Ctrl-C stops the running runs (a second Ctrl-C kills them), writes summary.csv and\n"
          "exits 1.\n"
          "Exit status: 0 every run ok or diverged, 1 some failed or interrupted (or gnuplot\n"
          "failed on a plot), 2 bad usage or experiment file, or a directory, FIFO or link\n"
          "where a plot's file goes (each plot's files are replaced all or none).\n",
          out);
}

static void usage(FILE *out)
{
    usage_synopsis(out);
    usage_experiment_file(out);
    usage_stop(out);
    usage_options(out);
    usage_reruns(out);
}



static const char *const slurm_option_names[5] = {"--time", "--mem", "--partition", "--account", "--qos"};

/* -j N, -jN, --jobs N, --jobs=N */
static int parse_jobs(int argc, char **argv, int *i, sweep_args *a)
{
    const char *arg = argv[*i];
    const char *v = !strcmp(arg, "-j") || !strcmp(arg, "--jobs") ? (*i + 1 < argc ? argv[++*i] : NULL)
                    : arg[1] == 'j' ? arg + 2 : arg + 7;
    if (!v)
        return nl_cmd_usage_error("sweep", "%s needs a number of jobs", arg);
    return nl_cmd_int_arg("sweep", arg[1] == 'j' ? "-j" : "--jobs", v, &a->jobs);
}

/* --array-tasks, --array-throttle, --cpus-per-task N */
static int parse_sbatch_number(int argc, char **argv, int *i, sweep_args *a)
{
    const char *arg = argv[*i];
    const char *v = *i + 1 < argc ? argv[++*i] : NULL;
    return nl_cmd_int_arg("sweep", arg, v ? v : "",
                          !strcmp(arg, "--array-tasks")      ? &a->array_tasks
                          : !strcmp(arg, "--array-throttle") ? &a->array_throttle
                                                             : &a->cpus_per_task);
}

/* which of --time, --mem, --partition, --account, --qos (or --NAME=VALUE)
 * `arg` is; -1: none */
static int slurm_option_index(const char *arg)
{
    for (int k = 0; k < 5; k++) {
        const size_t len = strlen(slurm_option_names[k]);
        if (!strncmp(arg, slurm_option_names[k], len) && (!arg[len] || arg[len] == '='))
            return k;
    }
    return -1;
}

/* one of them and its value, checked: nothing that could add a line to the
 * script */
static int parse_slurm_option(int argc, char **argv, int *i, sweep_args *a)
{
    const char *arg = argv[*i];
    const int k = slurm_option_index(arg);
    const char *name = slurm_option_names[k];
    const size_t len = strlen(name);
    const char *v = arg[len] == '=' ? arg + len + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    nl_error err = {0};
    if (!v)
        return nl_cmd_usage_error("sweep", "%s needs a value", name);
    if (nl_sbatch_check_option(name, v, &err) != NL_OK)
        return nl_cmd_usage_error("sweep", "%s", err.msg);
    a->slurm_options[k] = v;
    return 0;
}

/* one argument (and its value) at argv[*i]; 0, or the exit status of a
 * usage error (-1: --help was printed) */
int sweep_parse_arg(int argc, char **argv, int *i, sweep_args *a)
{
    const char *arg = argv[*i];
    nl_error err = {0};
    if (nl_cmd_is_help(arg)) {
        usage(stdout);
        return -1;
    } else if (!strcmp(arg, "-j") || !strcmp(arg, "--jobs") || !strncmp(arg, "-j", 2) ||
               !strncmp(arg, "--jobs=", 7)) {
        a->jobs_given = true;
        return parse_jobs(argc, argv, i, a);
    } else if (!strcmp(arg, "--shard") || !strncmp(arg, "--shard=", 8)) {
        const char *v = arg[7] == '=' ? arg + 8 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!v)
            return nl_cmd_usage_error("sweep", "--shard needs I/N, e.g. --shard 2/4, or auto");
        a->shard_auto = !strcmp(v, "auto");
        if (!a->shard_auto && nl_shard_parse(v, &a->shard, &err) != NL_OK)
            return nl_cmd_usage_error("sweep", "%s", err.msg);
    } else if (!strcmp(arg, "--array-tasks") || !strcmp(arg, "--array-throttle") ||
               !strcmp(arg, "--cpus-per-task")) {
        return parse_sbatch_number(argc, argv, i, a);
    } else if (!strcmp(arg, "--emit-sbatch")) {
        a->emit_sbatch = true;
    } else if (slurm_option_index(arg) >= 0) {
        return parse_slurm_option(argc, argv, i, a);
    } else if (!strcmp(arg, "--claim")) {
        a->claim = true;
    } else if (!strcmp(arg, "--one-process")) {
        a->one_process = true;
    } else if (!strcmp(arg, "--out")) {
        if (*i + 1 >= argc)
            return nl_cmd_usage_error("sweep", "--out needs a directory");
        a->out_dir = argv[++*i];
        /* "" would put runs/ and summary.csv at the root ("" + "/runs") */
        if (!a->out_dir[0])
            return nl_cmd_usage_error("sweep", "--out needs a directory, got ''");
    } else if (!strcmp(arg, "--set")) {
        return nl_cmd_take_set("sweep", argc, argv, i, a->sets, &a->n_sets, 64);
    } else if (!strcmp(arg, "--seeds")) {
        const char *v = *i + 1 < argc ? argv[++*i] : "";
        const int rc = nl_cmd_int_arg("sweep", arg, v, &a->seeds);
        if (rc)
            return rc;
    } else if (!strcmp(arg, "--dry-run") || !strcmp(arg, "-n")) {
        a->dry_run = true;
    } else if (!strcmp(arg, "--merge")) {
        a->merge = true;
    } else if (!strcmp(arg, "--force")) {
        a->force = true;
    } else if (!strcmp(arg, "--resume-stopped")) {
        a->resume_stopped = true;
    } else {
        return nl_cmd_operand("sweep", arg, &a->path, "experiment file");
    }
    return 0;
}

/* the options that do not go together; --shard auto read from Slurm's
 * environment */
int sweep_check_args(sweep_args *a)
{
    if (!a->path)
        return nl_cmd_usage_error("sweep", "no experiment file given");
    if (a->merge && a->dry_run)
        return nl_cmd_usage_error("sweep", "--merge and --dry-run do not go together");
    if (a->resume_stopped && (a->merge || a->dry_run || a->claim || a->emit_sbatch || a->shard_auto ||
                              a->shard.count > 1))
        return nl_cmd_usage_error("sweep", "--resume-stopped runs the stopped runs from one scheduler; it "
                                  "does not go with --merge, --dry-run, --claim, --shard or --emit-sbatch");
    if (a->claim && (a->merge || a->dry_run || a->shard_auto || a->shard.count > 1))
        return nl_cmd_usage_error("sweep", "--claim does not go with %s: claim workers share all the runs",
                                  a->merge ? "--merge" : a->dry_run ? "--dry-run" : "--shard");
    if (a->emit_sbatch && a->n_sets)
        return nl_cmd_usage_error("sweep", "--set is for trying an experiment out; for a cluster run "
                                  "write the settings into the experiment's set:");
    if (a->one_process && (a->merge || a->emit_sbatch))
        return nl_cmd_usage_error("sweep", "--one-process is how runs run; %s runs nothing",
                                  a->merge ? "--merge" : "--emit-sbatch");
    if (a->emit_sbatch && (a->merge || a->dry_run || a->claim || a->shard_auto || a->shard.count > 1 || a->force))
        return nl_cmd_usage_error("sweep", "--emit-sbatch runs nothing; it goes with --out, --array-tasks, "
                                  "--array-throttle, --cpus-per-task, --time, --mem, --partition, "
                                  "--account and --qos only");
    /* -j N with --emit-sbatch: N runs at once over the whole array, which
     * the array throttle says when each task runs one run at a time (one
     * CPU each); beside more CPUs per task, or another throttle, N could
     * not be what runs at once, so it is refused rather than ignored */
    if (a->emit_sbatch && a->jobs_given) {
        if (a->array_throttle && a->array_throttle != a->jobs)
            return nl_cmd_usage_error("sweep", "-j %d and --array-throttle %d disagree: with --emit-sbatch, -j N is "
                                      "the array's throttle (N tasks, each running one run, at once); give one",
                                      a->jobs, a->array_throttle);
        if (a->cpus_per_task != 1)
            return nl_cmd_usage_error("sweep", "-j %d with --cpus-per-task %d: each array task then runs up to %d "
                                      "runs at once, so -j cannot bound the runs at once; give --array-throttle "
                                      "(tasks at once) instead", a->jobs, a->cpus_per_task, a->cpus_per_task);
        a->array_throttle = a->jobs;
    }
    if (!a->emit_sbatch && (a->array_tasks || a->array_throttle || a->cpus_per_task != 1))
        return nl_cmd_usage_error("sweep", "--array-tasks, --array-throttle and --cpus-per-task go with "
                                  "--emit-sbatch");
    for (int k = 0; k < 5; k++)
        if (!a->emit_sbatch && a->slurm_options[k])
            return nl_cmd_usage_error("sweep", "%s is an option of the Slurm jobs; it goes with --emit-sbatch",
                                      slurm_option_names[k]);
    if (a->shard_auto) {
        nl_error err = {0};
        const nl_slurm_array_env env = {getenv("SLURM_ARRAY_TASK_ID"), getenv("SLURM_ARRAY_TASK_COUNT"),
                                        getenv("SLURM_ARRAY_TASK_MIN"), getenv("SLURM_ARRAY_TASK_MAX"),
                                        getenv("SLURM_ARRAY_TASK_STEP")};
        if (nl_shard_from_slurm(&env, &a->shard, &err) != NL_OK)
            return nl_cmd_usage_error("sweep", "%s", err.msg);
    }
    return 0;
}
