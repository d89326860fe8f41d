/* The search's end (internal.h): its best re-ranked on models it never
 * ranked on (holdout:), then written as claims (claims:). A search's
 * winner is chosen on the accuracies it was ranked by, so those flatter
 * it (the winner's curse); the held-out models re-rank the finalists on
 * numbers that chose nothing, and the claims files state what the winner
 * should then do against batch, layer and group norm as hypotheses,
 * registered before any of their runs, for `normlab sweep` and `normlab
 * verdict` to test on fresh seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "log/files.h"
#include "results/table.h"
#include "search/internal.h"

/* the built-ins a claim compares the winner with: model.norm.type values */
static const char *const rivals[] = {"batch", "layer", "group"};
enum { N_RIVALS = (int)(sizeof rivals / sizeof rivals[0]) };

/* finalist i's runs on every holdout model; its accuracies into r */
static nl_code train_finalist(const nl_search_spec *s, const nl_search_options *opt, nl_search_result *r,
                              int i, bool leftover, nl_config *cfg, nl_error *err)
{
    const nl_search_candidate *c = &r->candidates[r->finalists[i] - 1];
    for (int k = 0; k < s->n_holdout; k++) {
        char why[400];
        nl_error e = {0};
        r->holdout_scores[i][k] = NAN;
        if (nl_search_load_on(s, &s->holdout[k], c->expr, c->params, cfg, &e))
            continue; /* it does not plan there: no score, ranked last */
        snprintf(cfg->name, sizeof cfg->name, "c%ld-h%d", c->id, k + 1);
        if (nl_config_validate(cfg, &e))
            continue;
        const nl_code rc = nl_search_train(opt, "holdout", cfg, s->holdout_time_limit_s, leftover,
                                           &r->holdout_scores[i][k], why, sizeof why, err);
        if (rc)
            return rc;
    }
    return NL_OK;
}

/* the finalists re-ranked by Pareto order over their held-out accuracies
 * (select.c's order, on a result of their own: one candidate each, the
 * held-out accuracies its scores, one with a missing score not passed) */
static nl_code rerank(const nl_search_spec *s, nl_search_result *r, nl_error *err)
{
    const int n = r->n_finalists;
    nl_search_spec *hs = calloc(1, sizeof *hs);
    nl_search_candidate *cs = calloc((size_t)n, sizeof *cs);
    long ids[64];
    if (!hs || !cs) {
        free(hs), free(cs);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    hs->n_models = s->n_holdout;
    int passed = 0;
    for (int i = 0; i < n; i++) {
        cs[i].id = i + 1;
        cs[i].stage = NL_STAGE_PASSED;
        for (int k = 0; k < s->n_holdout; k++) {
            cs[i].scores[k] = r->holdout_scores[i][k];
            if (isnan(cs[i].scores[k]))
                cs[i].stage = NL_STAGE_RANK;
        }
        if (cs[i].stage == NL_STAGE_PASSED)
            ids[passed++] = i + 1;
    }
    const nl_search_result hr = {.candidates = cs, .n = n};
    nl_search_rank_ids(hs, &hr, ids, passed, passed);
    for (int i = 0, j = passed; i < n; i++) /* the unscored after, in the search's order */
        if (cs[i].stage != NL_STAGE_PASSED)
            ids[j++] = i + 1;
    long order[64];
    double scores[64][NL_SEARCH_MAX_MODELS];
    for (int i = 0; i < n; i++) {
        order[i] = r->finalists[ids[i] - 1];
        memcpy(scores[i], r->holdout_scores[ids[i] - 1], sizeof scores[i]);
    }
    memcpy(r->finalists, order, (size_t)n * sizeof *order);
    memcpy(r->holdout_scores, scores, (size_t)n * sizeof scores[0]);
    free(hs), free(cs);
    return NL_OK;
}

/* OUT/holdout.csv's columns: written below, read by nl_search_holdout_read */
static const char *const holdout_columns[] = {"rank", "id", "expr", "params", "holdout_scores"};
enum { N_HOLDOUT_COLUMNS = (int)(sizeof holdout_columns / sizeof holdout_columns[0]) };

/* OUT/holdout.csv: the finalists in their new order */
static nl_code write_holdout(const nl_search_spec *s, const nl_search_options *opt, const nl_search_result *r,
                             nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, opt->out_dir, "holdout.csv");
    nl_csv csv = {0};
    nl_code rc = nl_csv_open(&csv, path, holdout_columns, N_HOLDOUT_COLUMNS, err);
    for (int i = 0; !rc && i < r->n_finalists; i++) {
        const nl_search_candidate *c = &r->candidates[r->finalists[i] - 1];
        char rank[16], id[24], scores[NL_SEARCH_MAX_MODELS * 32] = "";
        snprintf(rank, sizeof rank, "%d", i + 1);
        snprintf(id, sizeof id, "%ld", c->id);
        for (int k = 0; k < s->n_holdout; k++) {
            char v[32] = "none";
            if (!isnan(r->holdout_scores[i][k]))
                nl_fmt_float(v, sizeof v, r->holdout_scores[i][k]);
            snprintf(scores + strlen(scores), sizeof scores - strlen(scores), "%s%s", k ? " " : "", v);
        }
        const char *fields[] = {rank, id, c->expr, c->params, scores};
        rc = nl_csv_row(&csv, fields, err);
    }
    nl_error ignored = {0};
    if (csv.open)
        nl_csv_close(&csv, rc ? &ignored : err);
    return rc ? rc : err->code;
}

nl_code nl_search_holdout_read(const char *dir, nl_search_spec *s, nl_search_result *r, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, "holdout.csv");
    if (!nl_path_exists(path))
        return NL_OK;
    nl_csv_table t = {0};
    nl_code rc = nl_csv_table_read(path, &t, err);
    bool ok = !rc && t.n_cols == N_HOLDOUT_COLUMNS && t.n_rows <= (int)(sizeof r->finalists / sizeof r->finalists[0]);
    for (int c = 0; ok && c < N_HOLDOUT_COLUMNS; c++)
        ok = !strcmp(t.header[c], holdout_columns[c]);
    int bad_row = 0;
    for (int i = 0; ok && i < t.n_rows; i++) {
        char **row = t.rows[i];
        long long rank, id;
        ok = nl_parse_ll(row[0], i + 1, i + 1, &rank) && nl_parse_ll(row[1], 1, r->n, &id) &&
             !strcmp(row[2], r->candidates[id - 1].expr) && nl_search_scores_read(row[4], r->holdout_scores[i]);
        if (!ok) {
            bad_row = i + 2;
            break;
        }
        r->finalists[i] = (long)id;
        /* the held-out models: as many as the longest scores cell names */
        for (int k = 0; k < NL_SEARCH_MAX_MODELS; k++)
            if (!isnan(r->holdout_scores[i][k]) && k >= s->n_holdout)
                s->n_holdout = k + 1;
    }
    if (!rc && !ok) {
        rc = bad_row ? nl_fail(err, NL_ERR_DATA, "%s: row %d is not one normlab search writes (its rank, the id "
                               "of a candidate of candidates.csv with that candidate's expr, its scores)", path,
                               bad_row)
                     : nl_fail(err, NL_ERR_DATA, "%s is not a search's holdout.csv (its header is not normlab "
                               "search's)", path);
    }
    r->n_finalists = ok ? t.n_rows : 0;
    nl_csv_table_free(&t);
    return rc;
}

/* the search file's name without directory and extension */
static void stem(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    snprintf(out, size, "%.*s", (int)(dot ? dot - base : (long)strlen(base)), base);
}

/* OUT/claims/NAME.yaml for candidate c, the rank-th of the finalists:
 * its base config beside it, the winner by its one name (cID) against
 * each rival at the stated batch size (set: for every run, so no scope:
 * selects it: a claim may select only what the sweep varies) on fresh
 * seeds */
static nl_code write_claims(const nl_search_spec *s, const nl_search_options *opt, const nl_search_candidate *c,
                            int rank, nl_config *cfg, nl_error *err)
{
    char dir[1100], path[1300], name[112], search_name[64], formula[32], *text = NULL;
    size_t len = 0;
    stem(s->path, search_name, sizeof search_name);
    snprintf(formula, sizeof formula, "c%ld", c->id);
    snprintf(name, sizeof name, "%s-%s", search_name, formula);
    nl_path_join(dir, sizeof dir, opt->out_dir, "claims");
    nl_code rc = nl_make_dirs(dir, err);
    if (!rc)
        rc = nl_search_load_config(s, c->expr, c->params, cfg, err);
    const int batch = s->claims_batch ? s->claims_batch : cfg->train.batch_size;
    /* the groups group norm runs with on the base: the formula's config may
     * not read model.norm.groups (a formula without a channel-group
     * reduction), and then holds 1, which would make group norm layer norm */
    int groups = cfg->model.norm.groups;
    if (!rc) {
        const char *as_group[] = {"model.norm.type=group"};
        nl_config *rival = malloc(sizeof *rival);
        if (!rival)
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        else if (!(rc = s->base.text ? nl_config_load_string(s->base.text, s->path, as_group, 1, rival, err)
                                     : nl_config_load(s->base.path, as_group, 1, rival, err)))
            groups = rival->model.norm.groups;
        free(rival);
    }
    snprintf(cfg->name, sizeof cfg->name, "%s", name);
    if (!rc)
        rc = nl_config_text(cfg, &text, &len, err);
    snprintf(path, sizeof path, "%s/%s-base.yaml", dir, name);
    if (!rc)
        rc = nl_write_atomic(path, text, len, err);
    free(text);
    nl_buf b = {0};
    nl_buf_printf(&b, "# Claims about candidate %ld of `normlab search %s` (rank %d of its finalists%s),\n"
                  "# written by the search. HYPOTHESES, NOT RESULTS: the search chose this formula\n"
                  "# by the accuracies it was ranked on, which flatter the winner; each claim\n"
                  "# below is what fresh runs must show, registered before any of them. Commit\n"
                  "# this file and %s-base.yaml before running `normlab sweep` on it, then\n"
                  "# `normlab verdict`. Base: the search's base config with the formula; batch %d,\n"
                  "# seeds %d to %d (the search's runs use their configs' own seed). Its plan\n"
                  "# declares this first sweep a pilot (STATS.md: it sizes n and decides\n"
                  "# nothing); the confirmation the schedule then prints decides the claims.\n"
                  "# No paper gives a value: each claim tests the direction.\n",
                  c->id, s->path, rank, s->n_holdout ? ", re-ranked on holdout.models" : "", name, batch,
                  NL_SEARCH_CLAIM_SEED, NL_SEARCH_CLAIM_SEED + s->claims_seeds - 1);
    nl_buf_printf(&b, "name: %s\nplan: {kind: first-confirmation, pilots: [%s]}\n"
                  "threshold_rule: {fraction: 0.5, reason: \"no paper gives a value for a formula a search "
                  "found, so each paper_value is 0 and each claim tests the direction\"}\n"
                  "base: %s-base.yaml\nformulas:\n"
                  "  %s: {expr: \"%s\"%s%s%s}\nset: {train.batch_size: %d, model.norm.groups: %d}\n"
                  "grid:\n  model.norm.type: [%s", name, name, name, formula, c->expr, c->params[0] ? ", params: \"" : "",
                  c->params, c->params[0] ? "\"" : "", batch, groups, formula);
    for (int i = 0; i < N_RIVALS; i++)
        nl_buf_printf(&b, ", %s", rivals[i]);
    nl_buf_printf(&b, "]\n  seed: [");
    for (int i = 0; i < s->claims_seeds; i++)
        nl_buf_printf(&b, "%s%d", i ? ", " : "", NL_SEARCH_CLAIM_SEED + i);
    nl_buf_printf(&b, "]\nclaims:\n");
    for (int i = 0; i < N_RIVALS; i++)
        nl_buf_printf(&b, "  - id: %s-beats-%s\n    paper: \"normlab search's hypothesis (no paper): "
                      "candidate %ld's final test error is below %s norm's at batch %d\"\n"
                      "    paper_value: 0  # the paper's value 0: no paper gives one, so the claim tests the "
                      "direction\n    headline: true\n"
                      "    metric: final_test_error\n    a: {model.norm.type: %s}\n"
                      "    b: {model.norm.type: %s}\n    expect: a < b\n",
                      formula, rivals[i], c->id, rivals[i], batch, formula, rivals[i]);
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    if (!rc && b.failed)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = nl_write_atomic(path, b.data, b.len, err);
    nl_buf_free(&b);
    return rc;
}

nl_code nl_search_conclude(const nl_search_spec *s, const nl_search_options *opt, nl_search_result *r,
                           bool leftover, nl_error *err)
{
    if (!s->n_holdout && !s->claims_top)
        return NL_OK;
    const int want = s->n_holdout ? s->holdout_top : s->claims_top;
    r->n_finalists = nl_search_best(s, r, r->finalists, want < 64 ? want : 64);
    nl_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = NL_OK;
    for (int i = 0; !rc && s->n_holdout && i < r->n_finalists; i++)
        rc = train_finalist(s, opt, r, i, leftover, cfg, err);
    if (!rc && s->n_holdout)
        rc = rerank(s, r, err);
    if (!rc && s->n_holdout)
        rc = write_holdout(s, opt, r, err);
    for (int i = 0; !rc && i < s->claims_top && i < r->n_finalists; i++) {
        rc = write_claims(s, opt, &r->candidates[r->finalists[i] - 1], i + 1, cfg, err);
        r->n_claims += !rc;
    }
    free(cfg);
    return rc;
}
