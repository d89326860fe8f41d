/* normlab bench --run: one side of a round, a real run as a child process
 * or the training step alone in this process, and its records read
 * (bench_run.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "base/number.h"
#include "cmd.h"
#include "model/model.h"
#include "results/files.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "train/run.h"

#include "bench_run.h"
#include "log/files.h"

/* runs argv as a child with stdout and stderr into log_path (NULL: stdout
 * dropped, stderr this command's, which writes nothing), to its end (its
 * wall and CPU seconds in *end); its exit status (128 + the signal that
 * killed it), -1 when it could not start (said on stderr) */
int bench_run_child(const char *const *argv, const char *log_path, nl_proc_end *end)
{
    *end = (nl_proc_end){0};
    int log = -1;
    nl_error open_err = {0};
    if (log_path && nl_open_write(log_path, O_WRONLY | O_CREAT | O_TRUNC, &log, &open_err) != NL_OK) {
        nl_cmd_report("bench", &open_err);
        return -1;
    }
    const nl_proc_stream to_log = {NL_PROC_FD, log};
    /* a bench stopped stops its run */
    const nl_proc_spec spec = {.argv = argv, .out = log_path ? to_log : (nl_proc_stream){.kind = NL_PROC_NULL},
                               .err = log_path ? to_log : (nl_proc_stream){.kind = NL_PROC_INHERIT},
                               .die_with_parent = true};
    nl_proc p;
    nl_error err = {0};
    nl_code rc = nl_proc_start(&spec, &p, &err);
    if (log >= 0)
        close(log);
    if (rc == NL_OK)
        rc = nl_proc_wait(&p, -1, end, &err);
    if (rc) {
        nl_cmd_report("bench", &err);
        return -1;
    }
    return nl_proc_status(end);
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
    if (nl_json_flat_get(text, NL_SUMMARY_THREADS, value, sizeof value) &&
        !nl_parse_int(value, 0, NL_CONFIG_MAX_THREADS, &s->threads))
        s->threads = 0;
    if (!nl_json_flat_get(text, NL_SUMMARY_CPU_KERNELS, s->cpu_kernels, sizeof s->cpu_kernels))
        s->cpu_kernels[0] = '\0';
    s->compile_s = NAN; /* eager writes null */
    if (nl_json_flat_get(text, NL_SUMMARY_PEER_COMPILE_S, value, sizeof value) && strcmp(value, "null"))
        s->compile_s = atof(value);
    free(text);
    if (!good)
        return false;
    nl_path_join(path, sizeof path, dir, NL_RUN_METRICS_FILE);
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
    nl_proc_end end;
    *code = bench_run_child((const char *const *)args, log, &end);
    s->process_s = end.wall_s;
    s->process_cpu_s = end.cpu_s;
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

/* times one side; false to stop. A compiled mode that does not compile the
 * model (the script's exit 3) is left out of best's later rounds: not ok,
 * but not a stop while another mode is left */
bool bench_run_time_side(session *b, int round, side *s)
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
