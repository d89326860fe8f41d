/* A directory given to normlab report, read: its results (nl_results, as
 * table and plot read them), each run's summary.json and config.yaml, and
 * the experiment file that made it. */
#include <stdlib.h>
#include <string.h>

#include "report/internal.h"
#include "results/files.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "verdict/verdict.h"

bool rp_run_finished(const rp_run *r)
{
    return r->result.state == NL_SWEEP_OK || r->result.state == NL_SWEEP_DIVERGED;
}

const char *rp_status_name(const rp_run *r)
{
    return nl_sweep_state_name(r->result.state);
}

/* summary.json's provenance fields and config.yaml's keys */
static void read_run(const nl_results_run *pr, rp_run *r)
{
    nl_sweep_read_result(pr->dir, &r->result);
    r->last_step = -1;
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
    if (nl_path_exists(path) && nl_read_file_max(path, NL_READ_TEXT_MAX, &text, NULL, &ignored) == NL_OK) {
        r->have_config = nl_flat_from_yaml(text, path, &r->config, &ignored) == NL_OK;
        free(text);
    }
}

/* the experiment file: the one given, the one verdicts.csv names, or the
 * one in experiments/ that names the sweep. One found by looking may be
 * missing (the page says so); one the user named must load, else the
 * page would quietly lack what was asked for. */
static nl_code find_experiment(rp_source *s, const nl_report_options *opt, nl_error *out_err)
{
    nl_error err = {0};
    const char *dir = opt->experiments_dir ? opt->experiments_dir : "experiments";
    if (!s->res.sweep) {
        if (opt->experiment)
            return nl_fail(out_err, NL_ERR_USAGE,
                           "--experiment %s: %s is a single run, which has no experiment file; "
                           "give --experiment with a sweep directory", opt->experiment, s->res.dir);
        nl_copy_string(s->no_experiment, sizeof s->no_experiment, "a single run has no experiment file");
        return NL_OK;
    }
    if (opt->experiment)
        nl_copy_string(s->experiment, sizeof s->experiment, opt->experiment);
    else if (nl_verdict_find_experiment(s->res.dir, dir, s->experiment, sizeof s->experiment, &err) != NL_OK) {
        s->experiment[0] = '\0';
        nl_copy_string(s->no_experiment, sizeof s->no_experiment, err.msg);
        return NL_OK;
    }
    if (nl_experiment_load(s->experiment, &s->exp, &err) != NL_OK) {
        if (opt->experiment)
            return nl_fail(out_err, err.code, "--experiment: %s", err.msg);
        snprintf(s->no_experiment, sizeof s->no_experiment, "%s", err.msg);
        s->experiment[0] = '\0';
        return NL_OK;
    }
    s->have_exp = true;
    return NL_OK;
}

/* what reading found that the page must say: rows left out, unfinished runs */
static void warn_unfinished(rp_source *s, rp_page *p)
{
    int pending = 0, failed = 0, diverged = 0;
    for (int i = 0; i < s->res.n_runs; i++) {
        pending += s->runs[i].result.state == NL_SWEEP_PENDING;
        failed += s->runs[i].result.state == NL_SWEEP_FAILED;
        diverged += s->runs[i].result.state == NL_SWEEP_DIVERGED;
    }
    if (pending)
        rp_warn(s, p, "%d of %d runs are unfinished (running, killed or not started): shown as pending, "
                "left out of the means and plots", pending, s->res.n_runs);
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
    if (!s->runs)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", dir);
    for (int i = 0; i < s->res.n_runs; i++)
        read_run(&s->res.runs[i], &s->runs[i]);
    /* the rows of summary.csv, metrics.csv, trace.csv and series.csv left out */
    nl_results_check_run_files(&s->res);
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
}

void rp_source_free(rp_source *s)
{
    for (int i = 0; s->runs && i < s->res.n_runs; i++)
        nl_flat_free(&s->runs[i].config);
    free(s->runs);
    if (s->have_exp)
        nl_experiment_free(&s->exp);
    nl_results_free(&s->res);
    nl_buf_free(&s->warnings);
    memset(s, 0, sizeof *s);
}
