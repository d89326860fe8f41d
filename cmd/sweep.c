/* normlab sweep: prints what the scheduler (core/sweep/sched.h) tells it
 * as it runs an experiment's runs, and makes the experiment's plots at the
 * end; its command line is parsed in sweep_options.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "data/share.h"
#include "log/files.h"
#include "plot/plot.h"
#include "sweep/sched.h"
#include "sweep/slurm.h"
#include "sweep/stop.h"
#include "sweep/sweep.h"
#include "sweep_cmd.h"
#include "results/run_result.h"
#include "results/rundir.h"
#include "train/checkpoint.h"

/* ---- progress ---- */

typedef struct {
    bool tty;
    bool bar_shown;
    double last_line; /* when the last status line was printed (not a TTY) */
} printer;

static void clear_bar(printer *pr)
{
    if (pr->bar_shown) {
        fprintf(stderr, "\r\033[K");
        pr->bar_shown = false;
    }
}

/* `terse` (the line redrawn on a terminal) leaves out counts that are zero,
 * so the bar and the ETA fit 80 columns; a log keeps every count, to grep */
static void status_text(const nl_sweep_progress *p, bool terse, char *buf, size_t size)
{
    char elapsed[32], eta[32], failed[32] = "", diverged[32] = "";
    if (p->failed || !terse)
        snprintf(failed, sizeof failed, ", %d failed", p->failed);
    if (p->diverged || !terse)
        snprintf(diverged, sizeof diverged, ", %d diverged", p->diverged);
    snprintf(buf, size, "%d/%d done, %d running%s%s, %s elapsed, ETA %s", p->done, p->total, p->running,
             failed, diverged, nl_cmd_duration(elapsed, sizeof elapsed, p->elapsed_s),
             nl_cmd_duration(eta, sizeof eta, p->eta_s));
}

/* `event`: lines to print above the bar (TTY) or before the status line;
 * `inline_event`: a one-line event that shares the status line (not a TTY) */
static void show_progress(printer *pr, const nl_sweep_progress *p, const char *event, bool inline_event)
{
    char text[512];
    status_text(p, pr->tty, text, sizeof text);
    if (pr->tty) {
        clear_bar(pr);
        if (event)
            fprintf(stderr, "%s\n", event);
        nl_cmd_draw_bar(p->total ? (double)p->done / p->total : 1.0, text);
        pr->bar_shown = true;
    } else if (event && inline_event) {
        fprintf(stderr, "sweep: %s; %s\n", event, text);
        pr->last_line = nl_cmd_now();
    } else {
        if (event)
            fprintf(stderr, "%s\n", event);
        if (event || nl_cmd_now() - pr->last_line >= 30.0) {
            fprintf(stderr, "sweep: %s\n", text);
            pr->last_line = nl_cmd_now();
        }
    }
    fflush(stderr);
}

static void show_failed(printer *pr, const nl_sweep_event *ev)
{
    char event[2048];
    const nl_sweep_result *r = ev->result;
    if (ev->progress.stopping) {
        snprintf(event, sizeof event, "%s: stopped (%s)", ev->name, r->reason[0] ? r->reason : ev->how);
        show_progress(pr, &ev->progress, event, true);
        return;
    }
    const bool more = r->reason[0] && strcmp(r->reason, ev->how);
    snprintf(event, sizeof event, "normlab sweep: run %s failed (%s%s%s)%s%s\n  see %s", ev->name, ev->how,
             more ? ": " : "", more ? r->reason : "", ev->detail[0] ? ":\n  " : "", ev->detail, ev->log_path);
    show_progress(pr, &ev->progress, event, false);
}

static void show_finished(printer *pr, const nl_sweep_event *ev)
{
    const nl_sweep_result *r = ev->result;
    if (pr->tty && r->state == NL_SWEEP_OK) {
        show_progress(pr, &ev->progress, NULL, false);
        return;
    }
    char event[2048], acc[64] = "", wall[32];
    if (r->metrics[1][0])
        snprintf(acc, sizeof acc, ", test accuracy %.2f%%", 100.0 * atof(r->metrics[1]));
    const bool why = (r->state == NL_SWEEP_DIVERGED || r->state == NL_SWEEP_STOPPED) && r->reason[0];
    snprintf(event, sizeof event, "%s: %s%s%s%s in %s", ev->name, nl_sweep_state_name(r->state),
             why ? " (" : "", why ? r->reason : "", why ? ")" : acc,
             nl_cmd_duration(wall, sizeof wall, ev->took_s));
    show_progress(pr, &ev->progress, event, true);
}

/* a result another process or --claim worker left */
static void show_taken(printer *pr, const nl_sweep_event *ev)
{
    char event[1200];
    const nl_sweep_result *r = ev->result;
    if (r->state == NL_SWEEP_FAILED && ev->detail) {
        snprintf(event, sizeof event, "normlab sweep: run %s: %s (%s); the next sweep reports it", ev->name,
                 r->reason, ev->detail);
        show_progress(pr, &ev->progress, event, false);
        return;
    }
    if (r->state == NL_SWEEP_FAILED)
        snprintf(event, sizeof event, "%s: failed, in another worker", ev->name);
    else
        snprintf(event, sizeof event, "%s: %s, finished by the other process", ev->name,
                 nl_sweep_state_name(r->state));
    show_progress(pr, &ev->progress, event, true);
}

static void show_waiting(printer *pr, const nl_sweep_event *ev)
{
    char who[200] = "", line[1600];
    if (ev->writer_pid > 0)
        snprintf(who, sizeof who, " (pid %ld%s%s)", ev->writer_pid, ev->writer_host[0] ? " on " : "",
                 ev->writer_host);
    snprintf(line, sizeof line, "%s: %s%s; waiting for it", ev->name, ev->how, who);
    show_progress(pr, &ev->progress, line, true);
}

typedef struct {
    printer pr;
    const nl_sweep_job *job;
} sweep_display;

/* the events that are one run's line, each with its own words */
static void (*const run_line[])(printer *pr, const nl_sweep_event *ev) = {
    [NL_SWEEP_EV_FINISHED] = show_finished,
    [NL_SWEEP_EV_FAILED] = show_failed,
    [NL_SWEEP_EV_WAITING] = show_waiting,
    [NL_SWEEP_EV_TAKEN] = show_taken,
};

static void on_event(void *ctx, const nl_sweep_event *ev)
{
    sweep_display *d = ctx;
    printer *pr = &d->pr;
    const nl_sweep_progress *p = &ev->progress;
    switch (ev->kind) {
    case NL_SWEEP_EV_BEGIN:
        fprintf(stderr, "normlab sweep: %s: %d run%s%s, %d to run (%d finished before), %d at a time on "
                "%d thread%s each\n", d->job->dir, p->total, p->total == 1 ? "" : "s",
                d->job->shard.count > 1 ? " in this shard" : "", p->to_run, p->done, p->jobs, ev->threads,
                ev->threads == 1 ? "" : "s");
        break;
    case NL_SWEEP_EV_STARTED:
        if (pr->tty)
            show_progress(pr, p, NULL, false);
        break;
    case NL_SWEEP_EV_TICK:
        show_progress(pr, p, NULL, false);
        break;
    case NL_SWEEP_EV_FINISHED:
    case NL_SWEEP_EV_FAILED:
    case NL_SWEEP_EV_WAITING:
    case NL_SWEEP_EV_TAKEN:
        run_line[ev->kind](pr, ev);
        break;
    case NL_SWEEP_EV_INTERRUPTED:
        clear_bar(pr);
        if (p->stopping == 1)
            fprintf(stderr, "normlab sweep: interrupted; stopping %d running run%s (again to kill "
                    "them)\n", p->running, p->running == 1 ? "" : "s");
        break;
    case NL_SWEEP_EV_ERROR:
        clear_bar(pr);
        nl_cmd_report("sweep", ev->error);
        break;
    case NL_SWEEP_EV_SKIPPED:
        break;
    }
}

/* ---- plots ---- */

/* one plot's script, data and figure as an output set (nl_outset): drawn
 * beside plots/, placed all or none; *skipped: the kind cannot apply */
static nl_code draw_plot(const char *dir, const nl_plot_spec *spec, nl_plot_report *rep, bool *skipped,
                         nl_error *err)
{
    nl_outset *set = nl_outset_begin(true, NULL);
    if (!set)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = nl_plot_write_staged(dir, spec, 1, NULL, NULL, set, rep, err);
    *skipped = rc == NL_ERR_USAGE;
    if (rc == NL_OK)
        rc = nl_plot_render(rep, NL_PLOT_PNG, err);
    if (rc == NL_OK)
        rc = nl_plot_stage(rep, set, err);
    if (rc == NL_OK)
        rc = nl_outset_commit(set, NULL, err);
    nl_outset_end(set);
    return rc;
}

/* makes the experiment's plots, one at a time: a plot the results cannot
 * give (no run wrote a trace) is skipped with the reason; a script gnuplot
 * rejects is a failure, so is something in a figure's way (a directory,
 * a FIFO). Returns the exit status to add (0, 1, or 2 for a plots/ or a
 * file of it that is not the kind normlab writes). */
static int make_plots(const nl_experiment *e, const char *dir, char *where, size_t where_size)
{
    where[0] = '\0';
    if (e->n_plots == 0)
        return 0;
    char plots[1100];
    nl_path_join(plots, sizeof plots, dir, "plots");
    /* refused here, not taken for a plot that cannot apply */
    if (nl_path_exists(plots) && !nl_is_dir(plots)) {
        nl_error dir_err = {0};
        nl_fail(&dir_err, NL_ERR_USAGE, "%s is not a directory: no plots drawn", plots);
        return nl_cmd_report("sweep", &dir_err);
    }
    nl_plot_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return 1;
    int status = 0;
    size_t used = 0;
    bool missing = false;
    char plots_dir[1100] = "";
    for (int i = 0; i < e->n_plots; i++) {
        nl_error err = {0};
        char name[64];
        nl_plot_spec_name(&e->plots[i].spec, name, sizeof name);
        bool skipped = false;
        const nl_code rc = draw_plot(dir, &e->plots[i].spec, rep, &skipped, &err);
        if (skipped) {
            fprintf(stderr, "normlab sweep: plot %s skipped: %s\n", name, err.msg);
            continue;
        }
        if (rc != NL_OK) {
            fprintf(stderr, "normlab sweep: plot %s: %s\n", name, err.msg);
            if (nl_code_exit_status(rc) > status)
                status = nl_code_exit_status(rc);
            continue;
        }
        if (rep->messages[0])
            fprintf(stderr, "normlab sweep: gnuplot said about %s:\n%s\n", name, rep->messages);
        for (int k = 0; k < rep->n; k++) {
            if (rep->items[k].note[0])
                printf("%s\n", rep->items[k].note);
            if (used < where_size)
                used += (size_t)snprintf(where + used, where_size - used, "%s%s.%s", used ? ", " : "",
                                         rep->items[k].name, rep->items[k].rendered ? "png" : "gp");
        }
        missing |= rep->gnuplot_missing;
        nl_copy_string(plots_dir, sizeof plots_dir, rep->plots_dir);
    }
    if (missing)
        fprintf(stderr, "normlab sweep: gnuplot is not on PATH: wrote the plot scripts to %s but "
                "rendered nothing (install gnuplot, then: cd %s && gnuplot NAME.gp)\n", plots_dir, plots_dir);
    if (plots_dir[0]) {
        char list[1500];
        nl_copy_string(list, sizeof list, where);
        snprintf(where, where_size, "; plots in %s/ (%s)", plots_dir, list);
    }
    free(rep);
    return status;
}

/* ---- Slurm ---- */

/* `path` made absolute against the working directory (it need not exist) */
static bool absolute_path(const char *path, char *out, size_t size)
{
    char cwd[1024];
    if (path[0] == '/')
        return (size_t)snprintf(out, size, "%s", path) < size;
    if (!getcwd(cwd, sizeof cwd))
        return false;
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return (size_t)snprintf(out, size, "%s/%s", cwd, path) < size;
}

/* prints the sbatch script, with absolute paths, so that it can be
 * submitted from anywhere; returns the exit status */
static int emit_sbatch_script(nl_sbatch_spec spec, const char *experiment, const char *sweep_dir)
{
    char exe[1024], exp_abs[4096], dir_abs[2048];
    const ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (exe_len <= 0) {
        fprintf(stderr, "normlab sweep: cannot find the normlab binary (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    exe[exe_len] = '\0';
    if (!realpath(experiment, exp_abs) || !absolute_path(sweep_dir, dir_abs, sizeof dir_abs)) {
        fprintf(stderr, "normlab sweep: cannot make %s and %s absolute paths: %s\n", experiment, sweep_dir,
                strerror(errno));
        return 1;
    }
    spec.normlab = exe;
    spec.experiment = exp_abs;
    spec.sweep_dir = dir_abs;
    nl_buf script = {0};
    nl_error err = {0};
    if (nl_sbatch_script(&spec, &script, &err) != NL_OK) {
        nl_buf_free(&script);
        return nl_cmd_report("sweep", &err);
    }
    fputs(script.data, stdout);
    nl_buf_free(&script);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* ---- what the sweep would do, and why it will not ---- */

static void dry_run_line(const nl_sweep_job *j, int i)
{
    char overrides[2048], detail[700] = "", run_dir[1200];
    nl_sweep_run_overrides(j->e, j->p, &j->p->runs[i], overrides, sizeof overrides);
    nl_sweep_run_dir(j, i, run_dir, sizeof run_dir);
    const char *what = "run";
    switch (j->action[i]) {
    case NL_SWEEP_SKIP:
        what = "skip";
        snprintf(detail, sizeof detail, " (%s)", nl_sweep_state_name(j->results[i].state));
        break;
    case NL_SWEEP_RERUN:
        what = "rerun";
        /* the word the report's page gives the run's state: interrupted,
         * failed, killed or pending, one word for one state */
        snprintf(detail, sizeof detail, " (%s)", nl_run_phase_name(nl_run_phase_read(run_dir)));
        break;
    case NL_SWEEP_FORCE:
        what = "rerun";
        snprintf(detail, sizeof detail, " (--force; config changed: %.600s)", j->why[i]);
        break;
    case NL_SWEEP_CHANGED:
        what = "changed";
        snprintf(detail, sizeof detail, " (config changed: %.600s; needs --force)", j->why[i]);
        break;
    default:
        break;
    }
    nl_run_writer w;
    if (j->action[i] != NL_SWEEP_SKIP && nl_run_dir_busy(run_dir, &w)) {
        what = "wait";
        snprintf(detail, sizeof detail, " (another process is writing it: pid %ld%s%s)", w.pid,
                 w.host[0] ? " on " : "", w.host);
    }
    printf("%4d  %-40s  %s  %s%s\n", i, j->p->runs[i].dir, overrides, what, detail);
}

static void print_dry_run(const nl_sweep_job *j)
{
    const nl_experiment *e = j->e;
    const nl_sweep_plan *p = j->p;
    printf("sweep %s: %ld combinations, %d excluded, %d runs", j->dir, p->n_combos, p->n_excluded, p->n_runs);
    if (j->shard.count > 1)
        printf(", shard %d/%d: %d runs", j->shard.index, j->shard.count, j->total);
    printf("\n");
    if (e->n_sets) {
        printf("fixed:");
        for (int i = 0; i < e->n_sets; i++)
            printf(" %s=%s", e->sets[i].key, e->sets[i].value);
        printf("\n");
    }
    if (e->stop.rule != NL_STOP_NONE)
        printf("stop: %s on %s (%s, in %s): the runs pause at its check points; a stopped run stays "
               "stopped (--resume-stopped goes on with it)\n", nl_stop_rule_name(e->stop.rule), e->stop.metric,
               e->stop.maximize ? "max" : "min", e->stop.unit == NL_STOP_EPOCHS ? "epochs" : "steps");
    for (int i = 0; i < p->n_runs; i++)
        if (nl_shard_has(j->shard, i))
            dry_run_line(j, i);
    for (int i = 0; i < p->n_excluded; i++)
        printf("   -  %-40s  excluded (exclude entry at line %d)\n", p->excluded[i].label,
               e->excludes[p->excluded[i].exclusion].pos.line);
}

/* finished runs whose config differs, without --force: exit status 2 */
static int refuse_changed(const nl_sweep_job *j)
{
    const int n = j->changed;
    fprintf(stderr, "normlab sweep: %d finished run%s in %s %s a config that differs from the "
            "experiment's; use --force to run %s again, or --out DIR for a new sweep:\n",
            n, n == 1 ? "" : "s", j->dir, n == 1 ? "has" : "have", n == 1 ? "it" : "them");
    int shown = 0;
    for (int i = 0; i < j->p->n_runs && shown < 5; i++)
        if (j->action[i] == NL_SWEEP_CHANGED) {
            fprintf(stderr, "  runs/%s: %s\n", j->p->runs[i].dir, j->why[i]);
            shown++;
        }
    if (n > shown)
        fprintf(stderr, "  ... and %d more\n", n - shown);
    return 2;
}

/* ---- the Slurm jobs' record ---- */

/* What the sweep directory's slurm.txt says of the Slurm jobs that run it:
 * in a dry run, a line on stdout; otherwise a warning while runs are
 * `pending` and the merge job could not be queued (nothing else will
 * complete summary.csv and the plots). */
static void report_slurm_jobs(const char *dir, const sweep_args *a, int pending, bool dry_run)
{
    nl_slurm_record rec;
    nl_error err = {0};
    if (nl_slurm_record_read(dir, &rec, &err) != NL_OK) {
        fprintf(stderr, "normlab sweep: warning: %s\n", err.msg);
        return;
    }
    if (!rec.present)
        return;
    char merge[2400];
    snprintf(merge, sizeof merge, "normlab sweep %s%s%s --merge", a->path, a->out_dir ? " --out " : "",
             a->out_dir ? a->out_dir : "");
    if (dry_run && rec.merge_job[0])
        printf("slurm: array job %s, then merge job %s (%s/" NL_SLURM_RECORD ")\n", rec.array_job, rec.merge_job,
               dir);
    else if (dry_run)
        printf("slurm: array job %s; its merge job was NOT queued (%s); once the array has ended, run: %s\n",
               rec.array_job, rec.merge_error[0] ? rec.merge_error : "no reason recorded", merge);
    else if (!rec.merge_job[0] && pending > 0)
        fprintf(stderr, "normlab sweep: warning: the merge job of Slurm array job %s was not queued (%s; see "
                "%s/" NL_SLURM_RECORD "); %d run%s pending: once the array has ended, run: %s\n", rec.array_job,
                rec.merge_error[0] ? rec.merge_error : "no reason recorded", dir, pending, pending == 1 ? "" : "s",
                merge);
}

/* ---- merging and running ---- */

/* The runs a merge finds unfinished, by name: a merge job runs once the
 * array has ended, so a run still pending then was lost with its task (a
 * node that failed, a time limit), and the sweep run again finishes it,
 * from its checkpoint where it has one. */
static void report_unfinished(const nl_sweep_job *j, int pending)
{
    enum { SHOWN = 20 };
    if (pending == 0)
        return;
    printf("%d unfinished run%s (pending in summary.csv):", pending, pending == 1 ? "" : "s");
    int shown = 0;
    for (int i = 0; i < j->p->n_runs && shown < SHOWN; i++) {
        if (j->results[i].state != NL_SWEEP_PENDING)
            continue;
        char dir[1200];
        nl_sweep_run_dir(j, i, dir, sizeof dir);
        nl_run_progress p;
        nl_read_run_progress(dir, &p);
        printf("%s runs/%s", shown ? "," : "", j->p->runs[i].dir);
        const long checkpoint_step = nl_checkpoint_step(dir);
        if (checkpoint_step >= 0)
            printf(" (checkpoint at step %ld)", checkpoint_step);
        else if (p.last_step < 0)
            printf(" (not started)");
        else
            printf(" (step %ld logged, no checkpoint)", p.last_step);
        shown++;
    }
    if (pending > shown)
        printf(", and %d more", pending - shown);
    printf("\n  once no task runs them (a node lost, a time limit): run the sweep again (bash "
           "FILE queues the array anew), and each goes on from its checkpoint\n");
}

static int merge_sweep(nl_sweep_job *j, const sweep_args *a)
{
    nl_error err = {0};
    nl_sweep_counts c;
    if (nl_sweep_merge(j, &c, &err) != NL_OK)
        return nl_cmd_report("sweep", &err);
    char where[2048] = "";
    int status = 0;
    if (c.n[NL_SWEEP_OK] + c.n[NL_SWEEP_DIVERGED] > 0)
        status = make_plots(j->e, j->dir, where, sizeof where);
    char stopped[48] = "";
    if (c.n[NL_SWEEP_STOPPED])
        snprintf(stopped, sizeof stopped, ", %d stopped", c.n[NL_SWEEP_STOPPED]);
    printf("%s/summary.csv: %d runs: %d ok, %d diverged, %d failed, %d pending%s%s\n", j->dir, j->p->n_runs,
           c.n[NL_SWEEP_OK], c.n[NL_SWEEP_DIVERGED], c.n[NL_SWEEP_FAILED], c.n[NL_SWEEP_PENDING], stopped, where);
    report_unfinished(j, c.n[NL_SWEEP_PENDING]);
    report_slurm_jobs(j->dir, a, c.n[NL_SWEEP_PENDING], false);
    return status;
}

static int run_sweep(nl_sweep_job *j, const sweep_args *a)
{
    char exe[1024];
    const ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (exe_len <= 0) {
        fprintf(stderr, "normlab sweep: cannot find the normlab binary (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    exe[exe_len] = '\0';
    sweep_display d = {.pr = {.tty = isatty(STDERR_FILENO), .last_line = -1e9}, .job = j};
    /* a TTY's bar shows the clock; plain output needs a heartbeat only */
    /* runs as threads load each dataset once between them */
    nl_data_share *share = NULL;
    nl_error err = {0};
    if (a->one_process && nl_data_share_new(&share, &err) != NL_OK)
        return nl_cmd_report("sweep", &err);
    const nl_sweep_exec_options opt = {.exe = exe, .command_line = nl_cmd_run_command_line,
                                       .jobs = a->jobs, .tick_s = d.pr.tty ? 0.5 : 5.0,
                                       .run_in_thread = a->one_process ? nl_cmd_run_in_thread : NULL,
                                       .thread_ctx = share, .on_event = on_event, .ctx = &d};
    nl_sweep_outcome out;
    const nl_code rc = j->e->stop.rule != NL_STOP_NONE || a->resume_stopped
                           ? nl_stop_execute(j, &opt, a->resume_stopped, &out, &err)
                           : nl_sweep_execute(j, &opt, &out, &err);
    nl_data_share_free(share);
    clear_bar(&d.pr);
    if (rc != NL_OK)
        return nl_cmd_report("sweep", &err);
    const nl_sweep_counts *c = &out.counts;
    char where[2048] = "";
    int status = 1;
    if (!out.stopping) {
        status = out.shard_failed || out.shard_pending || out.start_failed ? 1 : 0;
        if (c->n[NL_SWEEP_PENDING] == 0 && j->e->n_plots) {
            const int plotted = make_plots(j->e, j->dir, where, sizeof where);
            status = plotted > status ? plotted : status; /* 2: something in a figure's way */
        } else if (j->e->n_plots && j->shard.count > 1) {
            snprintf(where, sizeof where, "; plots wait for the other shards (%d runs pending): "
                     "normlab sweep %s%s%s --merge", c->n[NL_SWEEP_PENDING], a->path, a->out_dir ? " --out " : "",
                     a->out_dir ? a->out_dir : "");
        }
    }
    char elapsed[32];
    char stopped[48] = "";
    if (c->n[NL_SWEEP_STOPPED])
        snprintf(stopped, sizeof stopped, ", %d stopped", c->n[NL_SWEEP_STOPPED]);
    fprintf(stderr, "normlab sweep: %s: %d ok, %d diverged, %d failed, %d pending%s, in %s\n", j->dir,
            c->n[NL_SWEEP_OK], c->n[NL_SWEEP_DIVERGED], c->n[NL_SWEEP_FAILED], c->n[NL_SWEEP_PENDING], stopped,
            nl_cmd_duration(elapsed, sizeof elapsed, out.elapsed_s));
    printf("%s/summary.csv%s\n", j->dir, where);
    /* the whole command, --set's included: one typed without them plans
     * the finished runs as changed (a shard's or a claim worker's pending
     * runs may be others', which that command would not wait for) */
    if (c->n[NL_SWEEP_PENDING] > 0 && j->shard.count == 1 && !a->claim) {
        nl_buf cmd = {0};
        nl_sweep_resume_command(a->path, j->dir, &cmd);
        if (!cmd.failed)
            fprintf(stderr, "normlab sweep: %d run%s left; to resume: %s\n", c->n[NL_SWEEP_PENDING],
                    c->n[NL_SWEEP_PENDING] == 1 ? "" : "s", cmd.data);
        nl_buf_free(&cmd);
    }
    report_slurm_jobs(j->dir, a, c->n[NL_SWEEP_PENDING], false);
    return status;
}

/* the sweep of a planned experiment in `dir`: listed, refused, merged or run */
static int sweep_plan(const nl_experiment *e, const nl_sweep_plan *p, const char *dir, const sweep_args *a)
{
    nl_sweep_job j;
    nl_error err = {0};
    if (nl_sweep_prepare(&j, e, p, dir, a->shard, a->claim, a->force, &err) != NL_OK)
        return nl_cmd_report("sweep", &err);
    int status;
    if (a->dry_run) {
        print_dry_run(&j);
        report_slurm_jobs(j.dir, a, 0, true);
        status = 0;
    } else if (j.changed) {
        status = refuse_changed(&j);
    } else {
        /* what a kill -9 during an atomic write left: the sweep's own files,
         * and those of this shard's runs (other shards' writers may be alive
         * elsewhere) */
        if (!a->merge || nl_is_dir(j.dir))
            nl_sweep_clean_temps(&j, a->merge);
        status = a->merge ? merge_sweep(&j, a) : run_sweep(&j, a);
    }
    nl_sweep_job_free(&j);
    return status;
}

/* ---- the command ---- */

int cmd_sweep(int argc, char **argv)
{
    sweep_args a = {.jobs = 1, .cpus_per_task = 1, .shard = {1, 1}};
    for (int i = 1; i < argc; i++) {
        const int bad = sweep_parse_arg(argc, argv, &i, &a);
        if (bad)
            return bad < 0 ? 0 : bad;
    }
    int bad = sweep_check_args(&a);
    if (bad)
        return bad;

    nl_error err = {0};
    nl_experiment e;
    if (nl_experiment_load(a.path, &e, &err) != NL_OK)
        return nl_cmd_report("sweep", &err);
    for (int i = 0; i < a.n_sets; i++)
        if (nl_experiment_set(&e, a.sets[i], &err) != NL_OK) {
            nl_experiment_free(&e);
            return nl_cmd_report("sweep", &err);
        }
    if (a.seeds && nl_experiment_set_seeds(&e, a.seeds, &err) != NL_OK) {
        nl_experiment_free(&e);
        return nl_cmd_report("sweep", &err);
    }
    /* recorded in the sweep directory: its resume command repeats them */
    e.cli_sets = a.sets;
    e.n_cli_sets = a.n_sets;
    e.cli_seeds = a.seeds;
    char dir[1024];
    if (a.out_dir)
        snprintf(dir, sizeof dir, "%s", a.out_dir);
    else
        snprintf(dir, sizeof dir, "results/%s", e.name);
    nl_copy_string(e.out_dir, sizeof e.out_dir, dir);
    nl_sweep_plan p;
    if (nl_sweep_plan_build(&e, &p, &err) != NL_OK) {
        nl_experiment_free(&e);
        return nl_cmd_report("sweep", &err);
    }
    if (nl_stop_check_plan(&e, &p, &err) != NL_OK ||
        (e.stop.rule != NL_STOP_NONE && a.emit_sbatch &&
         nl_fail(&err, NL_ERR_USAGE, "%s:%d:%d: stop: decides over every run of the sweep at once; accepted: "
                 "a sweep on one host (without --emit-sbatch)", e.path, e.stop.pos.line, e.stop.pos.column))) {
        nl_sweep_plan_free(&p);
        nl_experiment_free(&e);
        return nl_cmd_report("sweep", &err);
    }
    for (int i = 0; i < p.n_warnings; i++)
        fprintf(stderr, "normlab sweep: warning: %s\n", p.warnings[i]);

    int status;
    if (a.emit_sbatch) {
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/')
            dir[--len] = '\0';
        const nl_sbatch_spec spec = {.name = e.name, .n_runs = p.n_runs, .tasks = a.array_tasks,
                                     .throttle = a.array_throttle, .cpus_per_task = a.cpus_per_task,
                                     .time = a.slurm_options[0], .mem = a.slurm_options[1],
                                     .partition = a.slurm_options[2], .account = a.slurm_options[3],
                                     .qos = a.slurm_options[4]};
        status = emit_sbatch_script(spec, a.path, dir);
    } else {
        status = sweep_plan(&e, &p, dir, &a);
    }
    nl_sweep_plan_free(&p);
    nl_experiment_free(&e);
    return status;
}
