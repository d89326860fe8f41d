/* A sweep under its stop rule (stop.h): passes of the scheduler, each
 * taking the live runs to the next undecided check point and pausing them
 * there; between passes the points every run has reached are decided from
 * the runs' metrics.csv, and each stop is recorded in the run's
 * summary.json. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "log/files.h"
#include "results/files.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "sweep/stop.h"
#include "train/checkpoint.h"

typedef struct {
    long *step;
    double *value;
    int n, cap;
} series;

typedef struct {
    nl_sweep_job *j;
    const nl_stop_spec *s;
    long points[NL_STOP_MAX_POINTS];
    int n_points;
    series *curves;
    long *length;          /* each run's, in the rule's unit */
    nl_stop_curve *runs;
    nl_stop_decision *dec;
} stopper;

static bool push(series *c, long step, double v)
{
    if (c->n == c->cap) {
        const int cap = c->cap ? 2 * c->cap : 64;
        long *st = realloc(c->step, (size_t)cap * sizeof *st);
        if (st)
            c->step = st;
        double *va = st ? realloc(c->value, (size_t)cap * sizeof *va) : NULL;
        if (!va)
            return false;
        c->value = va;
        c->cap = cap;
    }
    c->step[c->n] = step;
    c->value[c->n++] = v;
    return true;
}

/* the metric's values in metrics.csv (whole rows only), the last step
 * logged and, from a row of epoch >= 1, the batches in an epoch */
static void read_curve(const char *run_dir, const nl_stop_spec *s, series *c, long *last_step, long *per_epoch)
{
    char path[1300], *text = NULL;
    nl_path_join(path, sizeof path, run_dir, NL_RUN_METRICS_FILE);
    nl_error err = {0};
    c->n = 0;
    *last_step = 0;
    *per_epoch = 0;
    if (nl_read_file(path, &text, NULL, &err) != NL_OK)
        return;
    const bool train = !strcmp(s->metric, "train_loss"), loss = train || !strcmp(s->metric, "test_loss");
    const bool error = !strcmp(s->metric, "test_error");
    int line_no = 0;
    for (char *line = text, *end; (end = strchr(line, '\n')); line = end + 1) {
        *end = '\0';
        /* the step by the one checked parser (a sign, junk or an overflow is no row) */
        char *comma = strchr(line, ',');
        long long step = -1;
        if (comma) {
            *comma = '\0';
            if (!nl_parse_ll(line, 0, LONG_MAX, &step))
                step = -1;
        }
        double epoch, l, a = NAN;
        char split[32];
        const int got = line_no++ && step >= 0
                            ? 1 + sscanf(comma + 1, "%lf,%31[^,],%lf,%lf", &epoch, split, &l, &a) : 0;
        if (got < 4)
            continue;
        *last_step = (long)step > *last_step ? (long)step : *last_step;
        if (epoch >= 1.0)
            *per_epoch = lround((double)step / epoch);
        if (!strcmp(split, train ? "train" : "test") && (loss || got == 5) &&
            !push(c, (long)step, loss ? l : error ? 1.0 - a : a))
            break;
    }
    free(text);
}

/* run i's curve: where it got and whether it ended there. Only a summary
 * that says paused (stopped) or ended tells its steps: a run killed or
 * interrupted on its way (a summary that says running or failed, or none)
 * goes on from its checkpoint, so it got as far as that (the rows it logged
 * past it are logged again); killed as it paused, between its checkpoint
 * and its summary, it is at the point and still has to say so. */
static void load_run(stopper *t, int i)
{
    char dir[1200], *json = NULL, value[64];
    nl_sweep_run_dir(t->j, i, dir, sizeof dir);
    nl_sweep_read_result(dir, &t->j->results[i]);
    long last = 0, per_epoch = 0;
    read_curve(dir, t->s, &t->curves[i], &last, &per_epoch);
    const nl_summary_verdict v = nl_summary_read(dir, &json);
    const bool settled = v == NL_SUMMARY_OK || v == NL_SUMMARY_DIVERGED || v == NL_SUMMARY_STOPPED;
    long reach = settled ? last : nl_checkpoint_step(dir);
    long long steps;
    if (settled && json && nl_json_flat_get(json, NL_SUMMARY_STEPS, value, sizeof value) &&
        nl_parse_ll(value, 0, LONG_MAX, &steps))
        reach = (long)steps;
    reach = reach > 0 ? reach : 0;
    double epochs = 0.0;
    if (settled && json && nl_json_flat_get(json, NL_SUMMARY_EPOCHS, value, sizeof value))
        epochs = atof(value);
    if (epochs >= 1.0 && reach > 0)
        per_epoch = lround((double)reach / epochs);
    free(json);
    const bool epochs_unit = t->s->unit == NL_STOP_EPOCHS;
    t->runs[i] = (nl_stop_curve){.n = t->curves[i].n, .step = t->curves[i].step, .value = t->curves[i].value,
                                 /* not an epoch in yet: no point reached */
                                 .reach = epochs_unit && per_epoch <= 0 ? 0 : reach,
                                 .per_point = epochs_unit ? per_epoch : 1,
                                 .ended = v == NL_SUMMARY_OK || v == NL_SUMMARY_DIVERGED};
}

/* the summary's text with its reason (the pause's) saying why the rule
 * stopped the run */
static void put_reason(nl_buf *b, const char *json, const stopper *t, int i)
{
    const char *key = "\"" NL_SUMMARY_REASON "\": \"";
    const char *at = strstr(json, key), *end = at ? strchr(at + strlen(key), '"') : NULL;
    if (!end) {
        nl_buf_printf(b, "%s", json);
        return;
    }
    const nl_stop_decision *d = &t->dec[i];
    const nl_stop_spec *s = t->s;
    char why[400];
    if (s->rule == NL_STOP_ASHA)
        snprintf(why, sizeof why, "stopped by asha at the rung at %s %ld: %s %.6g, not among the best %d of the "
                 "%d runs there (the worst of them %.6g)", s->unit == NL_STOP_EPOCHS ? "epoch" : "step",
                 t->points[d->point], s->metric, d->value, d->kept, d->compared, d->threshold);
    else
        snprintf(why, sizeof why, "stopped by the median rule at %s %ld: best %s so far %.6g, worse than the "
                 "median %.6g of the running averages of the %d other runs there",
                 s->unit == NL_STOP_EPOCHS ? "epoch" : "step", t->points[d->point], s->metric, d->value,
                 d->threshold, d->compared);
    nl_buf_printf(b, "%.*s", (int)(at - json), json);
    nl_buf_printf(b, "\"%s\": ", NL_SUMMARY_REASON);
    nl_buf_json_string(b, why);
    nl_buf_printf(b, "%s", end + 1);
}

/* the rule's numbers appended to a stopped run's summary.json */
static nl_code record_stop(stopper *t, int i, nl_error *err)
{
    char dir[1200], path[1300], *json = NULL, probe[32];
    nl_sweep_run_dir(t->j, i, dir, sizeof dir);
    if (nl_summary_read(dir, &json) != NL_SUMMARY_STOPPED || !json ||
        nl_json_flat_get(json, NL_SUMMARY_STOP_RULE, probe, sizeof probe)) {
        free(json);
        return NL_OK; /* not paused, or recorded already */
    }
    const nl_stop_decision *d = &t->dec[i];
    const nl_stop_spec *s = t->s;
    const long point = t->points[d->point];
    char *close = strrchr(json, '}');
    *close = '\0';
    nl_buf b = {0};
    put_reason(&b, json, t, i);
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
        b.data[--b.len] = '\0';
    const char *skeys[] = {NL_SUMMARY_STOP_RULE, NL_SUMMARY_STOP_METRIC, NL_SUMMARY_STOP_MODE, NL_SUMMARY_STOP_UNIT};
    const char *svals[] = {nl_stop_rule_name(s->rule), s->metric, s->maximize ? "max" : "min",
                           s->unit == NL_STOP_EPOCHS ? "epochs" : "steps"};
    for (int k = 0; k < 4; k++) {
        nl_buf_printf(&b, ",\n  ");
        nl_buf_json_string(&b, skeys[k]);
        nl_buf_printf(&b, ": ");
        nl_buf_json_string(&b, svals[k]);
    }
    nl_buf_printf(&b, ",\n  \"%s\": %ld,\n  \"%s\": %ld", NL_SUMMARY_STOP_POINT, point, NL_SUMMARY_STOP_STEP,
                  point * (t->runs[i].per_point > 0 ? t->runs[i].per_point : 1));
    const char *nkeys[] = {NL_SUMMARY_STOP_VALUE, NL_SUMMARY_STOP_THRESHOLD};
    const double nvals[] = {d->value, d->threshold};
    for (int k = 0; k < 2; k++) {
        nl_buf_printf(&b, ",\n  \"%s\": ", nkeys[k]);
        if (isfinite(nvals[k]))
            nl_buf_printf(&b, "%.9g", nvals[k]);
        else
            nl_buf_printf(&b, "null");
    }
    nl_buf_printf(&b, ",\n  \"%s\": %d", NL_SUMMARY_STOP_COMPARED, d->compared);
    if (s->rule == NL_STOP_ASHA)
        nl_buf_printf(&b, ",\n  \"%s\": %d", NL_SUMMARY_STOP_KEPT, d->kept);
    nl_buf_printf(&b, "\n}\n");
    free(json);
    nl_path_join(path, sizeof path, dir, NL_RUN_SUMMARY_FILE);
    nl_code rc = b.failed ? nl_fail(err, NL_ERR_NOMEM, "out of memory")
                          : nl_write_atomic(path, b.data, b.len, err);
    nl_buf_free(&b);
    return rc;
}

static void stopper_free(stopper *t)
{
    for (int i = 0; t->curves && i < t->j->p->n_runs; i++) {
        free(t->curves[i].step);
        free(t->curves[i].value);
    }
    free(t->curves);
    free(t->length);
    free(t->runs);
    free(t->dec);
}

/* the check points: below the longest run's length */
static nl_code stopper_open(stopper *t, nl_sweep_job *j, nl_error *err)
{
    *t = (stopper){.j = j, .s = &j->e->stop};
    const size_t n = j->p->n_runs > 0 ? (size_t)j->p->n_runs : 1;
    t->curves = calloc(n, sizeof *t->curves);
    t->runs = calloc(n, sizeof *t->runs);
    t->length = calloc(n, sizeof *t->length);
    t->dec = calloc(n, sizeof *t->dec);
    if (!j->pause_at)
        j->pause_at = calloc(n, sizeof *j->pause_at);
    if (!t->curves || !t->runs || !t->length || !t->dec || !j->pause_at)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    long longest = 0;
    for (int i = 0; i < j->p->n_runs; i++) {
        nl_stop_unit unit;
        long length;
        nl_code rc = nl_stop_run_length(&j->p->runs[i], &unit, &length, err);
        if (rc)
            return rc;
        t->length[i] = length;
        longest = length > longest ? length : longest;
    }
    t->n_points = nl_stop_points(t->s, longest, t->points);
    j->pause_in_epochs = t->s->unit == NL_STOP_EPOCHS;
    return NL_OK;
}

/* Reads every run, decides what can be, records the stops, and sets this
 * pass's actions and pauses; returns how many runs the pass runs. `first`:
 * the actions nl_sweep_prepare chose (a --force start over) still stand. */
static int plan_pass(stopper *t, const nl_sweep_action *first, long *progress, nl_error *err, nl_code *rc)
{
    nl_sweep_job *j = t->j;
    const int n = j->p->n_runs;
    for (int i = 0; i < n; i++) {
        load_run(t, i);
        if (first && first[i] == NL_SWEEP_FORCE) {
            /* --force starts it over: what its directory holds is another config's */
            t->runs[i] = (nl_stop_curve){.per_point = t->runs[i].per_point};
            j->results[i].state = NL_SWEEP_PENDING;
        }
    }
    const int decided = nl_stop_decide(t->s, t->points, t->n_points, t->runs, n, t->dec);
    int to_run = 0;
    *progress = decided;
    for (int i = 0; i < n && *rc == NL_OK; i++) {
        const nl_sweep_state st = j->results[i].state;
        j->pause_at[i] = 0;
        /* a run that says where it is, paused or ended, is a step on */
        *progress += t->runs[i].reach + (st == NL_SWEEP_OK || st == NL_SWEEP_DIVERGED || st == NL_SWEEP_STOPPED);
        if (t->dec[i].point >= 0 && (*rc = record_stop(t, i, err)) != NL_OK)
            break;
        if (st == NL_SWEEP_OK || st == NL_SWEEP_DIVERGED || (t->dec[i].point >= 0 && st == NL_SWEEP_STOPPED)) {
            j->action[i] = NL_SWEEP_SKIP;
            continue;
        }
        /* at its point and not paused there (killed between its checkpoint
         * and its summary): it goes on from the checkpoint and pauses at
         * once, so that its summary can hold the rule's numbers */
        const long at = t->dec[i].point >= 0 ? t->points[t->dec[i].point]
                        : decided < t->n_points ? t->points[decided] : 0;
        if (at > 0) {
            if (t->runs[i].reach >= at * (t->runs[i].per_point > 0 ? t->runs[i].per_point : 1) &&
                st == NL_SWEEP_STOPPED) {
                j->action[i] = NL_SWEEP_SKIP; /* there: it waits for the others */
                continue;
            }
            /* a shorter run ends before the point (and is left out of it) */
            j->pause_at[i] = at < t->length[i] ? at : 0;
        }
        j->action[i] = first && first[i] == NL_SWEEP_FORCE ? NL_SWEEP_FORCE : NL_SWEEP_RERUN;
        to_run++;
    }
    return to_run;
}

/* --resume-stopped: every stopped run goes on to its end, the others wait;
 * so does one the rule stopped that was killed on its way there (its
 * summary says running, its checkpoint is at the point) */
static int plan_resume(stopper *t)
{
    nl_sweep_job *j = t->j;
    for (int i = 0; i < j->p->n_runs; i++)
        load_run(t, i);
    nl_stop_decide(t->s, t->points, t->n_points, t->runs, j->p->n_runs, t->dec);
    int to_run = 0;
    for (int i = 0; i < j->p->n_runs; i++) {
        const nl_sweep_state st = j->results[i].state;
        const bool go = st == NL_SWEEP_STOPPED ||
                        (t->dec[i].point >= 0 && st != NL_SWEEP_OK && st != NL_SWEEP_DIVERGED);
        j->action[i] = go ? NL_SWEEP_RERUN : NL_SWEEP_SKIP;
        j->pause_at[i] = 0;
        to_run += go;
    }
    return to_run;
}

static nl_code one_pass(nl_sweep_job *j, const nl_sweep_exec_options *opt, nl_sweep_outcome *out,
                        double *elapsed, nl_error *err)
{
    const nl_code rc = nl_sweep_execute(j, opt, out, err);
    *elapsed += out->elapsed_s;
    out->elapsed_s = *elapsed;
    return rc;
}

nl_code nl_stop_execute(nl_sweep_job *j, const nl_sweep_exec_options *opt, bool resume_stopped,
                        nl_sweep_outcome *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    if (j->shard.count > 1 || j->worker)
        return nl_fail(err, NL_ERR_USAGE, "%s:%d:%d: stop: decides at check points over every run of the "
                       "sweep, which one scheduler holds; accepted: a sweep without --shard or --claim",
                       j->e->path, j->e->stop.pos.line, j->e->stop.pos.column);
    double elapsed = 0.0;
    stopper t;
    nl_code rc = stopper_open(&t, j, err);
    if (rc == NL_OK && resume_stopped) {
        plan_resume(&t);
        rc = one_pass(j, opt, out, &elapsed, err);
        stopper_free(&t);
        return rc;
    }
    nl_sweep_action *first = rc == NL_OK ? malloc((size_t)(j->p->n_runs + 1) * sizeof *first) : NULL;
    if (rc == NL_OK && !first)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (first)
        memcpy(first, j->action, (size_t)j->p->n_runs * sizeof *first);
    long before = -1, now = 0;
    bool ran = false;
    /* a pass that moves no run on (each failed at its start) ends it */
    while (rc == NL_OK && plan_pass(&t, ran ? NULL : first, &now, err, &rc) > 0 && rc == NL_OK && now != before) {
        before = now;
        ran = true;
        rc = one_pass(j, opt, out, &elapsed, err);
        if (out->stopping || out->start_failed || out->shard_failed)
            break;
    }
    if (rc == NL_OK && !ran)
        rc = one_pass(j, opt, out, &elapsed, err); /* nothing to run: summary.csv and the counts */
    free(first);
    stopper_free(&t);
    return rc;
}
