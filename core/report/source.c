/* A directory given to normlab report, read: its results (nl_results, as
 * table and plot read them), each run's summary.json and config.yaml, and
 * the experiment file that made it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/internal.h"
#include "results/files.h"
#include "results/store.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "verdict/verdict.h"

bool rp_run_finished(const rp_run *r)
{
    return r->result.state == NL_SWEEP_OK || r->result.state == NL_SWEEP_DIVERGED;
}

const char *rp_status_name(const rp_run *r)
{
    return nl_run_phase_name(r->phase);
}

/* summary.json's provenance fields and config.yaml's keys */
static void read_run(const nl_results_run *pr, rp_run *r)
{
    nl_sweep_read_result(pr->dir, &r->result);
    r->last_step = -1;
    /* an unfinished run's state as its directory tells it now: a killed
     * sweep's runs are not running, and a run interrupted with it did not fail */
    r->phase = r->result.state == NL_SWEEP_OK         ? NL_PHASE_OK
               : r->result.state == NL_SWEEP_DIVERGED ? NL_PHASE_DIVERGED
                                                      : nl_run_phase_read(pr->dir);
    char *json = NULL;
    nl_summary_read(pr->dir, &json);
    if (json) {
        nl_json_flat_get(json, NL_SUMMARY_GIT_COMMIT, r->commit, sizeof r->commit);
        nl_json_flat_get(json, NL_SUMMARY_CPU, r->cpu, sizeof r->cpu);
        nl_json_flat_get(json, NL_SUMMARY_CPU_KERNELS, r->kernels, sizeof r->kernels);
        nl_json_flat_get(json, NL_SUMMARY_THREADS, r->threads, sizeof r->threads);
        nl_json_flat_get(json, NL_SUMMARY_STARTED_AT, r->started, sizeof r->started);
        nl_json_flat_get(json, NL_SUMMARY_FINISHED_AT, r->finished, sizeof r->finished);
        nl_json_flat_get(json, NL_SUMMARY_HOST, r->host, sizeof r->host);
        nl_json_flat_get(json, NL_SUMMARY_DEVICE, r->device, sizeof r->device);
        free(json);
    }
    if (!rp_run_finished(r) && r->result.state != NL_SWEEP_FAILED) {
        nl_run_progress progress;
        nl_read_run_progress(pr->dir, &progress);
        r->last_step = progress.last_step;
    }
    char path[1300], *text = NULL;
    nl_error ignored = {0};
    snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, pr->dir);
    if (nl_run_file_exists(pr->dir, NL_RUN_CONFIG_FILE) &&
        nl_run_file_read(pr->dir, NL_RUN_CONFIG_FILE, &text, NULL, &ignored) == NL_OK) {
        r->have_config = strlen(text) <= NL_READ_TEXT_MAX && nl_flat_from_yaml(text, path, &r->config, &ignored) == NL_OK;
        free(text);
    }
}

/* the experiment file found by its name (nl_verdict_find_experiment) in
 * dir, or, where no directory was named, in the experiments/ of the sweep
 * directory's nearest ancestor that has one (a committed sweep's
 * repository, whatever directory the report runs in) */
static bool find_by_name(rp_source *s, const nl_report_options *opt, char *why, size_t size)
{
    nl_error err = {0};
    const char *dir = opt->experiments_dir ? opt->experiments_dir : "experiments";
    if (nl_verdict_find_experiment(s->res.dir, dir, s->experiment, sizeof s->experiment, &err) == NL_OK)
        return true;
    nl_copy_string(why, size, err.msg);
    char up[PATH_MAX], exps[PATH_MAX + 16];
    if (opt->experiments_dir || !realpath(s->res.dir, up))
        return false;
    for (char *slash; (slash = strrchr(up, '/')) && slash > up;) {
        *slash = '\0';
        snprintf(exps, sizeof exps, "%s/experiments", up);
        nl_error ignored = {0};
        if (nl_is_dir(exps) &&
            nl_verdict_find_experiment(s->res.dir, exps, s->experiment, sizeof s->experiment, &ignored) == NL_OK)
            return true;
    }
    return false;
}

/* the experiment file: the one given, the one the sweep recorded when it
 * ran (NL_SWEEP_EXPERIMENT_FILE: found whatever the directory is named and
 * wherever the report runs) while its text is the sweep's, else the copy
 * of that text the sweep kept (NL_SWEEP_EXPERIMENT_COPY: a directory
 * copied or moved, or a file edited since), or the one in experiments/
 * that names the sweep. One found by looking may be missing (the page says
 * so, at its top: without it the description, declared plots and claim
 * texts are missing); one the user named must load, else the page would
 * quietly lack what was asked for. */
static nl_code find_experiment(rp_source *s, const nl_report_options *opt, nl_error *out_err)
{
    nl_error err = {0};
    if (!s->res.sweep) {
        if (opt->experiment)
            return nl_fail(out_err, NL_ERR_USAGE,
                           "--experiment %s: %s is a single run, which has no experiment file; "
                           "give --experiment with a sweep directory", opt->experiment, s->res.dir);
        nl_copy_string(s->no_experiment, sizeof s->no_experiment, "a single run has no experiment file");
        return NL_OK;
    }
    static const char missing[] = "descriptions, declared plots and claim texts missing; give --experiment FILE";
    char why[1024];
    if (!opt->experiment)
        nl_sweep_experiment_source_of(s->res.dir, &s->from);
    if (opt->experiment) {
        nl_copy_string(s->experiment, sizeof s->experiment, opt->experiment);
    } else if (s->from.from != NL_SWEEP_EXP_NONE) {
        nl_copy_string(s->experiment, sizeof s->experiment, s->from.read);
    } else if (!find_by_name(s, opt, why, sizeof why)) {
        s->experiment[0] = '\0';
        if (s->from.record_is_link)
            snprintf(s->no_experiment, sizeof s->no_experiment, "%s/%s is a symbolic link, which normlab never "
                     "writes there: not read (and no experiment file found by the sweep's name: %s): %s",
                     s->res.dir, NL_SWEEP_EXPERIMENT_FILE, why, missing);
        else if (s->from.recorded)
            snprintf(s->no_experiment, sizeof s->no_experiment, "experiment file %s (recorded in %s/%s) not found: "
                     "%s (the directory keeps no copy of its text, %s)", s->from.path, s->res.dir,
                     NL_SWEEP_EXPERIMENT_FILE, missing, NL_SWEEP_EXPERIMENT_COPY);
        else
            snprintf(s->no_experiment, sizeof s->no_experiment, "no experiment file found for %s (it records none, "
                     "and %s): %s", s->res.dir, why, missing);
        return NL_OK;
    }
    nl_code rc = NL_OK;
    if (s->from.from == NL_SWEEP_EXP_KEPT) {
        /* the kept text, read as the file it was: named by the recorded
         * path (the sweep's name, a relative base), its base not needed */
        char *text = NULL;
        rc = nl_read_file_max(s->experiment, NL_READ_TEXT_MAX, &text, NULL, &err);
        if (rc == NL_OK)
            rc = nl_experiment_parse_text(text, s->from.path, false, &s->exp, &err);
        free(text);
    } else {
        rc = nl_experiment_load(s->experiment, &s->exp, &err);
    }
    if (rc != NL_OK) {
        if (opt->experiment)
            return nl_fail(out_err, err.code, "--experiment: %s", err.msg);
        snprintf(s->no_experiment, sizeof s->no_experiment, "experiment file %s does not load (%s): %s",
                 s->experiment, err.msg, missing);
        s->experiment[0] = '\0';
        return NL_OK;
    }
    s->have_exp = true;
    return NL_OK;
}

/* what reading found that the page must say: rows left out, unfinished runs */
static void warn_unfinished(rp_source *s, rp_page *p)
{
    int phases[NL_PHASE_COUNT] = {0}, unfinished = 0, failed = 0, diverged = 0;
    for (int i = 0; i < s->res.n_runs; i++) {
        const nl_run_phase ph = s->runs[i].phase;
        phases[ph] += ph != NL_PHASE_FAILED;
        unfinished += ph != NL_PHASE_OK && ph != NL_PHASE_DIVERGED && ph != NL_PHASE_FAILED;
        failed += ph == NL_PHASE_FAILED;
        diverged += ph == NL_PHASE_DIVERGED;
    }
    char stand[200];
    nl_run_phases_text(phases, stand, sizeof stand);
    /* a stopped watch's page is frozen: its runs were so then, and may not be now */
    if (unfinished)
        rp_warn(s, p, "%d of %d runs %s unfinished (%s): left out of the means and plots; a killed or "
                "interrupted run stopped before its end (%s), a pending one %s not started", unfinished,
                s->res.n_runs, p->opt->stopped_by ? "were" : "are", stand,
                s->res.sweep ? "the page gives the command that resumes it once the sweep has stopped"
                             : "a sweep run again resumes it",
                p->opt->stopped_by ? "had" : "has");
    if (failed)
        rp_warn(s, p, "%d of %d runs failed: shown as failed, left out of the means", failed, s->res.n_runs);
    if (diverged)
        rp_warn(s, p, "%d of %d runs diverged: shown as diverged and counted apart in the table over seeds",
                diverged, s->res.n_runs);
}

nl_code rp_source_load(const char *dir, int index, const nl_report_options *opt, rp_source *s, nl_error *err)
{
    memset(s, 0, sizeof *s);
    s->index = index;
    nl_code rc = nl_results_load(dir, &s->res, err);
    if (rc)
        return rc;
    if (s->res.n_runs == 0)
        return nl_fail(err, NL_ERR_USAGE, "nothing to report in %s: its summary.csv lists no runs", s->res.dir);
    s->runs = calloc((size_t)s->res.n_runs, sizeof *s->runs);
    s->metrics = calloc((size_t)s->res.n_runs, sizeof *s->metrics);
    s->held = calloc((size_t)s->res.n_runs, sizeof *s->held);
    if (!s->runs || !s->metrics || !s->held)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", dir);
    for (int i = 0; i < s->res.n_runs; i++)
        read_run(&s->res.runs[i], &s->runs[i]);
    /* the rows of summary.csv, metrics.csv, trace.csv and series.csv left
     * out; each metrics.csv kept for the readers after (read once, not
     * once for the explorer and again for the figure of all directories) */
    nl_results_check_run_files_keep(&s->res, s->metrics);
    for (int i = 0; i < s->res.n_runs; i++) {
        s->held[i].config = s->runs[i].have_config ? &s->runs[i].config : NULL;
        s->held[i].metrics = s->metrics[i].n_cols > 0 ? &s->metrics[i] : NULL;
        s->res.runs[i].held = &s->held[i];
    }
    if ((rc = find_experiment(s, opt, err)) != NL_OK)
        return rc;
    const char *base = strrchr(s->res.dir, '/');
    nl_copy_string(s->name, sizeof s->name,
                   s->have_exp && s->exp.name[0] ? s->exp.name : base && base[1] ? base + 1 : s->res.dir);
    return NL_OK;
}

void rp_source_warnings(rp_source *s, rp_page *p)
{
    for (const char *w = s->res.warnings; *w;) {
        const size_t len = strcspn(w, "\n");
        rp_warn(s, p, "%.*s", (int)len, w);
        w += len + (w[len] == '\n');
    }
    warn_unfinished(s, p);
    if (s->res.sweep && !s->have_exp)
        rp_warn(s, p, "%s", s->no_experiment);
    /* the file at the recorded path is not the text the sweep ran: which text the page shows */
    const nl_sweep_experiment_source *f = &s->from;
    if (s->have_exp && f->from == NL_SWEEP_EXP_KEPT && f->path_changed)
        rp_warn(s, p, "the experiment file %s has changed since this sweep started (its text's hash is not the one "
                "%s/%s records): the page reads the copy the sweep kept, %s", f->path, s->res.dir,
                NL_SWEEP_EXPERIMENT_FILE, f->copy);
    if (s->have_exp && f->from == NL_SWEEP_EXP_CHANGED)
        rp_warn(s, p, "the experiment file %s has changed since this sweep started (its text's hash is not the one "
                "%s/%s records), and the directory keeps no copy of the text it started from: the description, "
                "threshold rule and claim texts are the file's now", f->path, s->res.dir, NL_SWEEP_EXPERIMENT_FILE);
    if (s->have_exp && f->from == NL_SWEEP_EXP_KEPT && f->copy_changed)
        rp_warn(s, p, "%s is not the text the sweep kept (its hash is not the one %s/%s records): edited since",
                f->copy, s->res.dir, NL_SWEEP_EXPERIMENT_FILE);
}

void rp_source_free(rp_source *s)
{
    for (int i = 0; s->runs && i < s->res.n_runs; i++)
        nl_flat_free(&s->runs[i].config);
    for (int i = 0; s->metrics && i < s->res.n_runs; i++)
        nl_csv_table_free(&s->metrics[i]);
    free(s->runs);
    free(s->metrics);
    free(s->held);
    if (s->have_exp)
        nl_experiment_free(&s->exp);
    nl_results_free(&s->res);
    nl_buf_free(&s->warnings);
    memset(s, 0, sizeof *s);
}
