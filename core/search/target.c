/* A search's target (internal.h): a known normalizer trained first on the
 * models that score a candidate, and the search stopped at the first
 * candidate that comes within `within` of it on average, as issue 117's
 * rediscovery test asks ("within 0.5 points of group norm's test accuracy
 * on the CNN at batch 2"). The reference runs are the search's own, in
 * OUT/reference, read back by a search that goes on; OUT/target.csv says
 * whether it was reached, by which candidate, and at what cost in CPU time.
 * The comparison is paired: the reference and the candidates train on the
 * same models, seeds and steps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "log/files.h"
#include "results/table.h"
#include "search/internal.h"

int nl_search_scoring_models(const nl_search_spec *s)
{
    return s->n_models ? s->n_models : 1;
}

/* candidate c's score on scoring model k: its ranking accuracy, or its
 * hurdle's where no rank.models are given */
static double score(const nl_search_spec *s, const nl_search_candidate *c, int k)
{
    return s->n_models ? c->scores[k] : c->accuracy;
}

double nl_search_target_gap(const nl_search_spec *s, const double *reference, const nl_search_candidate *c)
{
    const int n = nl_search_scoring_models(s);
    if (c->stage != NL_STAGE_PASSED || (s->n_rungs && c->rung != s->n_rungs - 1))
        return NAN;
    double sum = 0;
    for (int k = 0; k < n; k++)
        sum += score(s, c, k) - reference[k];
    return sum / n; /* NaN where a score or a reference is missing */
}

long nl_search_reaching(const nl_search_spec *s, const double *reference, const nl_search_candidate *all,
                        long first, long last)
{
    for (long id = first; s->target_norm[0] && id <= last; id++) {
        const double gap = nl_search_target_gap(s, reference, &all[id - 1]);
        if (!isnan(gap) && gap >= -s->target_within)
            return id;
    }
    return 0;
}

static const char *const reference_columns[] = {"model", "normalizer", "accuracy"};
enum { N_REFERENCE_COLUMNS = (int)(sizeof reference_columns / sizeof reference_columns[0]) };

/* the model's label in the files: rank.models[K] or base */
static const char *model_label(const nl_search_spec *s, int k)
{
    return s->n_models ? s->models[k].label : s->base.label[0] ? s->base.label : "base";
}

/* OUT/reference.csv read back: true when it is this search's (a row per
 * scoring model, in order, with target.normalizer), its accuracies into r */
static nl_code read_reference(const nl_search_spec *s, const char *path, nl_search_result *r, nl_error *err)
{
    nl_csv_table t = {0};
    nl_code rc = nl_csv_table_read(path, &t, err);
    const int n = nl_search_scoring_models(s);
    bool ok = !rc && t.n_cols == N_REFERENCE_COLUMNS && t.n_rows == n;
    for (int c = 0; ok && c < N_REFERENCE_COLUMNS; c++)
        ok = !strcmp(t.header[c], reference_columns[c]);
    for (int k = 0; ok && k < n; k++)
        ok = !strcmp(t.rows[k][0], model_label(s, k)) && !strcmp(t.rows[k][1], s->target_norm) &&
             nl_parse_finite(t.rows[k][2], &r->reference[k]);
    nl_csv_table_free(&t);
    if (!rc && !ok)
        rc = nl_fail(err, NL_ERR_DATA, "%s is not this search's reference (a row per scoring model with %s's "
                     "accuracy); nothing was written: give another --out, or move it", path, s->target_norm);
    return rc;
}

static nl_code write_reference(const nl_search_spec *s, const char *path, const nl_search_result *r,
                               nl_error *err)
{
    nl_csv csv = {0};
    nl_code rc = nl_csv_open(&csv, path, reference_columns, N_REFERENCE_COLUMNS, err);
    for (int k = 0; !rc && k < nl_search_scoring_models(s); k++) {
        char v[32];
        const char *fields[] = {model_label(s, k), s->target_norm, nl_fmt_float(v, sizeof v, r->reference[k])};
        rc = nl_csv_row(&csv, fields, err);
    }
    nl_error ignored = {0};
    if (csv.open)
        nl_csv_close(&csv, rc ? &ignored : err);
    return rc ? rc : err->code;
}

nl_code nl_search_reference(const nl_search_spec *s, const nl_search_options *opt, bool train,
                            nl_search_result *r, bool *have, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, opt->out_dir, "reference.csv");
    *have = nl_path_exists(path);
    if (*have)
        return read_reference(s, path, r, err);
    if (!train)
        return NL_OK;
    *have = true;
    nl_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = NL_OK;
    /* the time limit of the runs the reference stands beside */
    const double limit = s->n_models ? s->rank_time_limit_s : s->time_limit_s;
    for (int k = 0; !rc && k < nl_search_scoring_models(s); k++) {
        char why[400] = "";
        if (!(rc = nl_search_reference_config(s, k, cfg, err)))
            /* no reference.csv: any run there is one a killed search left */
            rc = nl_search_train(opt, "reference", cfg, limit, true, &r->reference[k], why, sizeof why, err);
        if (!rc && isnan(r->reference[k]))
            rc = nl_fail(err, NL_ERR_RUNTIME, "the target's reference, %s on %s (%s/reference/%s), gave no "
                         "test accuracy: %s; no candidate can be judged against it", s->target_norm,
                         model_label(s, k), opt->out_dir, cfg->name, why);
    }
    free(cfg);
    return rc ? rc : write_reference(s, path, r, err);
}

static const char *const target_columns[] = {"normalizer", "within", "reference", "reached", "expr", "params",
                                             "scores", "mean_difference", "candidates", "cpu_s", "cpu_counted"};
enum { N_TARGET_COLUMNS = (int)(sizeof target_columns / sizeof target_columns[0]) };

nl_code nl_search_target_write(const nl_search_spec *s, const nl_search_options *opt, const nl_search_result *r,
                               nl_error *err)
{
    char path[1100], within[32], reference[NL_SEARCH_MAX_MODELS * 32] = "", scores[NL_SEARCH_MAX_MODELS * 32] = "";
    char reached[24] = "", gap[32] = "", decided[24], cpu[32];
    const nl_search_candidate *c = r->reached ? &r->candidates[r->reached - 1] : NULL;
    for (int k = 0; k < nl_search_scoring_models(s); k++) {
        char v[32];
        snprintf(reference + strlen(reference), sizeof reference - strlen(reference), "%s%s", k ? " " : "",
                 nl_fmt_float(v, sizeof v, r->reference[k]));
        if (c)
            snprintf(scores + strlen(scores), sizeof scores - strlen(scores), "%s%s", k ? " " : "",
                     nl_fmt_float(v, sizeof v, score(s, c, k)));
    }
    if (c) {
        snprintf(reached, sizeof reached, "%ld", c->id);
        nl_fmt_float(gap, sizeof gap, r->reached_gap);
    }
    nl_fmt_float(within, sizeof within, s->target_within);
    snprintf(decided, sizeof decided, "%ld", r->n);
    snprintf(cpu, sizeof cpu, "%.1f", r->target_cpu_s);
    const char *fields[] = {s->target_norm, within, reference, reached, c ? c->expr : "", c ? c->params : "",
                            scores, gap, decided, cpu,
                            r->target_cpu_whole ? "the whole search" : "since the search went on from its record"};
    nl_path_join(path, sizeof path, opt->out_dir, "target.csv");
    nl_csv csv = {0};
    nl_code rc = nl_csv_open(&csv, path, target_columns, N_TARGET_COLUMNS, err);
    if (!rc)
        rc = nl_csv_row(&csv, fields, err);
    nl_error ignored = {0};
    if (csv.open)
        nl_csv_close(&csv, rc ? &ignored : err);
    return rc ? rc : err->code;
}

nl_code nl_search_target_read(const char *dir, nl_search_spec *s, nl_search_result *r, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, "target.csv");
    if (!nl_path_exists(path))
        return NL_OK;
    nl_csv_table t = {0};
    nl_code rc = nl_csv_table_read(path, &t, err);
    bool ok = !rc && t.n_cols == N_TARGET_COLUMNS && t.n_rows == 1;
    for (int c = 0; ok && c < N_TARGET_COLUMNS; c++)
        ok = !strcmp(t.header[c], target_columns[c]);
    long long reached = 0, decided = 0;
    char **row = ok ? t.rows[0] : NULL;
    ok = ok && strlen(row[0]) > 0 && strlen(row[0]) < sizeof s->target_norm &&
         nl_parse_finite(row[1], &s->target_within) && nl_search_scores_read(row[2], r->reference) &&
         (!row[3][0] || nl_parse_ll(row[3], 1, r->n, &reached)) && nl_parse_ll(row[8], 0, r->n, &decided) &&
         nl_parse_finite(row[9], &r->target_cpu_s) && (!reached || !strcmp(row[4], r->candidates[reached - 1].expr)) &&
         (!reached || nl_parse_finite(row[7], &r->reached_gap));
    if (ok) {
        snprintf(s->target_norm, sizeof s->target_norm, "%s", row[0]);
        r->reached = (long)reached;
        r->target_cpu_whole = !strcmp(row[10], "the whole search");
    }
    nl_csv_table_free(&t);
    if (!rc && !ok)
        rc = nl_fail(err, NL_ERR_DATA, "%s is not a search's target.csv (its header and one row, as normlab search "
                     "writes it, naming a candidate of candidates.csv or none)", path);
    return rc;
}
