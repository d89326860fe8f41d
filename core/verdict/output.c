/* verdicts.csv, verdicts.json and the screen's table: the CSV and the JSON
 * iterate one table of columns, so the two files cannot drift apart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdict/unit.h"
#include "verdict/verdict.h"
#include "log/files.h"
#include "results/files.h"
#include "results/summary_keys.h"

const char *const nl_verdict_outputs[NL_VERDICT_N_OUTPUTS] = {
    NL_SWEEP_VERDICTS_FILE, NL_SWEEP_VERDICTS_JSON, NL_PLOTS_DIR "/" NL_VERDICTS_PLOT ".gp",
    NL_PLOTS_DIR "/" NL_VERDICTS_PLOT ".png"};

nl_code nl_verdict_check_outputs(const char *dir, bool force, const char *exists_hint, nl_error *err)
{
    for (int o = 0; o < NL_VERDICT_N_OUTPUTS; o++) {
        char path[1400];
        nl_path_join(path, sizeof path, dir, nl_verdict_outputs[o]);
        const nl_code rc = nl_output_check(path, force, exists_hint, err);
        if (rc)
            return rc;
    }
    return NL_OK;
}

typedef enum { TEXT, NUMBER, INTEGER, BOOLEAN } column_type;

/* a column's value into buf: text, or a number printed with %.6g (NaN: none) */
typedef struct {
    const char *name;
    column_type type;
    const char *(*text)(const nl_verdict_report *r, const nl_verdict *v);
    double (*number)(const nl_verdict_report *r, const nl_verdict *v);
} column;

#define TEXT_GETTER(fn, expr) \
    static const char *fn(const nl_verdict_report *r, const nl_verdict *v) { (void)r; (void)v; return (expr); }
#define NUMBER_GETTER(fn, expr) \
    static double fn(const nl_verdict_report *r, const nl_verdict *v) { (void)r; (void)v; return (expr); }

TEXT_GETTER(g_sweep, r->sweep_dir)
TEXT_GETTER(g_experiment, r->experiment)
TEXT_GETTER(g_claim, v->id)
TEXT_GETTER(g_paper, v->claim->paper)
TEXT_GETTER(g_metric, v->claim->metric.file[0] ? v->claim->metric.file : v->claim->metric.name)
TEXT_GETTER(g_column, v->claim->metric.file[0] ? v->claim->metric.name : "")
TEXT_GETTER(g_b_metric, !v->claim->has_b_metric ? "" : v->claim->b_metric.file[0] ? v->claim->b_metric.file : v->claim->b_metric.name)
TEXT_GETTER(g_b_column, v->claim->has_b_metric && v->claim->b_metric.file[0] ? v->claim->b_metric.name : "")
TEXT_GETTER(g_expect, v->claim->expect)
TEXT_GETTER(g_a, v->a_label)
TEXT_GETTER(g_b, v->b_label)
TEXT_GETTER(g_c, v->c_label)
TEXT_GETTER(g_d, v->d_label)
TEXT_GETTER(g_method, v->method)
TEXT_GETTER(g_verdict, nl_verdict_kind_names[v->verdict])
TEXT_GETTER(g_a_values, v->a_values)
TEXT_GETTER(g_b_values, v->b_values)
TEXT_GETTER(g_c_values, v->c_values)
TEXT_GETTER(g_d_values, v->d_values)
TEXT_GETTER(g_commits, v->commits)
TEXT_GETTER(g_kernels, v->kernels)
TEXT_GETTER(g_threads, v->threads)
TEXT_GETTER(g_note, v->note)
TEXT_GETTER(g_family, nl_family_names[v->family])
TEXT_GETTER(g_headline, v->claim->headline ? "true" : "false")
TEXT_GETTER(g_rule, r->rule)
TEXT_GETTER(g_registered, v->registered)
NUMBER_GETTER(g_n, v->n)
NUMBER_GETTER(g_effect, v->effect)
NUMBER_GETTER(g_threshold, v->claim->threshold)
NUMBER_GETTER(g_within, v->claim->op == NL_EXPECT_WITHIN ? v->claim->within : NAN)
NUMBER_GETTER(g_sd, v->sd)
NUMBER_GETTER(g_level, r->opt.level)
NUMBER_GETTER(g_lo, v->lo)
NUMBER_GETTER(g_hi, v->hi)
NUMBER_GETTER(g_sign_flip, v->sign_flip_p)
NUMBER_GETTER(g_p, v->p)
NUMBER_GETTER(g_p_holm, v->p_holm)
NUMBER_GETTER(g_holm_k, r->holm_k)
NUMBER_GETTER(g_agree, v->agree)
NUMBER_GETTER(g_needed, v->seeds_needed >= 0 ? v->seeds_needed : NAN)
NUMBER_GETTER(g_mixed, v->mixed_commits)
NUMBER_GETTER(g_paper_value, v->claim->has_paper_value ? v->claim->paper_value : NAN)
NUMBER_GETTER(g_p_fail, v->p_fail)
NUMBER_GETTER(g_p_fail_holm, v->p_fail_holm)
NUMBER_GETTER(g_mc_error, v->mc_error)
NUMBER_GETTER(g_seeds_power, v->seeds_power >= 0 ? v->seeds_power : NAN)
NUMBER_GETTER(g_seeds_planned, r->seeds_planned > 0 ? r->seeds_planned : NAN)

static const column columns[] = {
    {"sweep", TEXT, g_sweep, NULL},           {"experiment", TEXT, g_experiment, NULL},
    {"claim", TEXT, g_claim, NULL},           {"paper", TEXT, g_paper, NULL},
    {"paper_value", NUMBER, NULL, g_paper_value}, {"threshold_rule", TEXT, g_rule, NULL},
    {"headline", TEXT, g_headline, NULL},     {"family", TEXT, g_family, NULL},
    {"registered", TEXT, g_registered, NULL},
    {"metric", TEXT, g_metric, NULL},         {"column", TEXT, g_column, NULL},
    {"b_metric", TEXT, g_b_metric, NULL},     {"b_column", TEXT, g_b_column, NULL},
    {"expect", TEXT, g_expect, NULL},         {"threshold", NUMBER, NULL, g_threshold},
    {"within", NUMBER, NULL, g_within},       {"a", TEXT, g_a, NULL},
    {"b", TEXT, g_b, NULL},                   {"n", INTEGER, NULL, g_n},
    {"effect", NUMBER, NULL, g_effect},       {"sd", NUMBER, NULL, g_sd},
    {"level", NUMBER, NULL, g_level},         {"lo", NUMBER, NULL, g_lo},
    {"hi", NUMBER, NULL, g_hi},               {"method", TEXT, g_method, NULL},
    {"sign_flip_p", NUMBER, NULL, g_sign_flip}, {"p", NUMBER, NULL, g_p},
    {"p_holm", NUMBER, NULL, g_p_holm},       {"holm_k", INTEGER, NULL, g_holm_k},
    {"p_fail", NUMBER, NULL, g_p_fail},       {"p_fail_holm", NUMBER, NULL, g_p_fail_holm},
    {"mc_error", NUMBER, NULL, g_mc_error},
    {"agree", INTEGER, NULL, g_agree},        {"verdict", TEXT, g_verdict, NULL},
    {"seeds_needed", INTEGER, NULL, g_needed}, {"seeds_power", INTEGER, NULL, g_seeds_power},
    {"seeds_planned", INTEGER, NULL, g_seeds_planned}, {"a_values", TEXT, g_a_values, NULL},
    {"b_values", TEXT, g_b_values, NULL},     {"c", TEXT, g_c, NULL},
    {"d", TEXT, g_d, NULL},                   {"c_values", TEXT, g_c_values, NULL},
    {"d_values", TEXT, g_d_values, NULL},     {"commits", TEXT, g_commits, NULL},
    {"mixed_commits", BOOLEAN, NULL, g_mixed}, {NL_SUMMARY_CPU_KERNELS, TEXT, g_kernels, NULL},
    {"threads", TEXT, g_threads, NULL},       {"note", TEXT, g_note, NULL},
};
enum { N_COLUMNS = sizeof columns / sizeof columns[0] };

static void number_text(const column *c, double x, char *buf, size_t size)
{
    if (isnan(x))
        buf[0] = '\0';
    else if (c->type == BOOLEAN)
        snprintf(buf, size, "%s", x != 0 ? "true" : "false");
    else if (c->type == INTEGER)
        snprintf(buf, size, "%.0f", x);
    else
        snprintf(buf, size, "%.6g", x);
}

void nl_verdict_csv(const nl_verdict_report *r, nl_buf *out)
{
    for (int c = 0; c < N_COLUMNS; c++)
        nl_buf_printf(out, "%s%s", c ? "," : "", columns[c].name);
    nl_buf_printf(out, "\n");
    for (int i = 0; i < r->n; i++) {
        for (int c = 0; c < N_COLUMNS; c++) {
            char num[64];
            if (c)
                nl_buf_printf(out, ",");
            if (columns[c].type == TEXT) {
                nl_buf_csv_field(out, columns[c].text(r, &r->v[i]));
            } else {
                number_text(&columns[c], columns[c].number(r, &r->v[i]), num, sizeof num);
                nl_buf_printf(out, "%s", num);
            }
        }
        nl_buf_printf(out, "\n");
    }
}

void nl_verdict_json(const nl_verdict_report *r, nl_buf *out)
{
    nl_buf_printf(out, "{\n  \"sweep\": ");
    nl_buf_json_string(out, r->sweep_dir);
    nl_buf_printf(out, ",\n  \"experiment\": ");
    nl_buf_json_string(out, r->experiment);
    nl_buf_printf(out, ",\n  \"level\": %.6g,\n  \"holm_k\": %d,\n  \"bootstrap\": {\"resamples\": %d, \"seed\": %llu},\n"
                  "  \"claims\": [", r->opt.level, r->holm_k, r->opt.resamples, (unsigned long long)r->opt.seed);
    for (int i = 0; i < r->n; i++) {
        nl_buf_printf(out, "%s\n    {", i ? "," : "");
        for (int c = 0; c < N_COLUMNS; c++) {
            char num[64];
            nl_buf_printf(out, "%s\"%s\": ", c ? ", " : "", columns[c].name);
            if (columns[c].type == TEXT) {
                nl_buf_json_string(out, columns[c].text(r, &r->v[i]));
            } else {
                number_text(&columns[c], columns[c].number(r, &r->v[i]), num, sizeof num);
                nl_buf_printf(out, "%s", num[0] ? num : "null");
            }
        }
        nl_buf_printf(out, "}");
    }
    nl_buf_printf(out, "\n  ]\n}\n");
}

/* a row's effect and interval as the screen shows them, in its claim's
 * unit (verdict/unit.h, as the forest plot and the report's table): a
 * claim over cells "4 of 6 cells", a count "3 of 3 (count)", a mean
 * "-2.68 points" with "[-3.10, -2.21] points" */
typedef struct {
    nl_effect_unit u;
    char effect[96], interval[128], agree[32];
} shown_numbers;

static void shown_numbers_of(const nl_verdict *v, shown_numbers *s)
{
    s->u = nl_effect_unit_of(v->method, v->claim->metric.name, v->claim);
    nl_buf e = {0}, i = {0};
    if (isnan(v->effect))
        nl_buf_printf(&e, "-");
    else if (s->u.kind == NL_UNIT_CELLS)
        nl_buf_printf(&e, "%.0f of %d cells", v->effect, v->n);
    else if (s->u.kind == NL_UNIT_COUNT)
        nl_buf_printf(&e, "%.0f of %d (count)", v->effect, v->n);
    else
        nl_effect_unit_number(&e, &s->u, v->effect, true);
    if (isnan(v->lo) || isnan(v->hi)) {
        nl_buf_printf(&i, "-");
    } else if (s->u.kind == NL_UNIT_COUNT) {
        nl_buf_printf(&i, "exact");
    } else {
        nl_buf_printf(&i, "[");
        nl_effect_unit_number(&i, &s->u, v->lo, false);
        nl_buf_printf(&i, ", ");
        nl_effect_unit_number(&i, &s->u, v->hi, false);
        nl_buf_printf(&i, "]%s%s", s->u.unit[0] && s->u.unit[0] != '%' ? " " : "", s->u.unit);
    }
    nl_copy_string(s->effect, sizeof s->effect, e.data ? e.data : "");
    nl_copy_string(s->interval, sizeof s->interval, i.data ? i.data : "");
    snprintf(s->agree, sizeof s->agree, "%d/%d%s", v->agree, v->n, s->u.kind == NL_UNIT_CELLS ? " cells" : "");
    nl_buf_free(&e);
    nl_buf_free(&i);
}

/* a claim's lines below its row: the paper's value, registration, the
 * expectation in the shown unit, each cell's values and the runs' provenance */
static void claim_details(const nl_verdict *v, const shown_numbers *sh, nl_buf *out)
{
    char paper[96] = "";
    const bool scaled = sh->u.scale != 1 && (sh->u.kind == NL_UNIT_MEAN || sh->u.kind == NL_UNIT_RATE);
    if (v->claim->has_paper_value) {
        nl_buf pv = {0};
        nl_effect_unit_number(&pv, &sh->u, v->claim->paper_value, true);
        snprintf(paper, sizeof paper, "; the paper's value %g%s%s%s", v->claim->paper_value, scaled ? " (" : "",
                 scaled ? pv.data : "", scaled ? ")" : "");
        nl_buf_free(&pv);
    }
    nl_buf_printf(out, "    %s claim%s; does-not-hold p %.3g (Holm %.3g); %s\n", nl_family_names[v->family], paper,
                  v->p_fail, v->p_fail_holm, v->registered[0] ? v->registered : "registration not checked");
    if (!isnan(v->mc_error))
        nl_buf_printf(out, "    bootstrap Monte Carlo error of p: %.2g\n", v->mc_error);
    const nl_claim_metric *m = &v->claim->metric;
    nl_buf expect = {0};
    /* the threshold or band in the shown unit where the claim wrote the file's */
    if (scaled && isfinite(v->claim->threshold)) {
        nl_buf_printf(&expect, ", %s ", v->claim->op == NL_EXPECT_WITHIN ? "band" : "threshold");
        nl_effect_unit_number(&expect, &sh->u, v->claim->threshold, v->claim->op != NL_EXPECT_WITHIN);
        if (v->claim->op == NL_EXPECT_WITHIN) {
            nl_buf_printf(&expect, " ± ");
            nl_effect_unit_number(&expect, &sh->u, v->claim->within, true);
        }
    }
    nl_buf_printf(out, "    %s%s%s%s%s: %s%s%s%s (%s)\n", m->file, m->file[0] ? ":" : "", m->name,
                  v->claim->has_b_metric ? " against b's " : "", v->claim->has_b_metric ? v->claim->b_metric.name : "",
                  v->claim->expect, expect.data ? expect.data : "", v->b_label[0] ? "; b: " : "", v->b_label,
                  v->method);
    nl_buf_free(&expect);
    if (v->a_label[0] || v->a_values[0]) /* an aggregate claim's members are rows of their own */
        nl_buf_printf(out, "    a: %s: %s\n", v->a_label, v->a_values);
    if (v->b_label[0])
        nl_buf_printf(out, "    b: %s: %s\n", v->b_label, v->b_values);
    if (v->c_label[0])
        nl_buf_printf(out, "    c: %s: %s\n    d: %s: %s\n", v->c_label, v->c_values, v->d_label, v->d_values);
    if (!isnan(v->sign_flip_p))
        nl_buf_printf(out, "    exact sign-flip p %.3g (2^%d patterns)\n", v->sign_flip_p, v->n);
    nl_buf_printf(out, "    runs: commit %s%s, kernels %s, threads %s\n", v->commits[0] ? v->commits : "?",
                  v->mixed_commits ? " (MIXED COMMITS: runs of one claim from different commits)" : "",
                  v->kernels[0] ? v->kernels : "?", v->threads[0] ? v->threads : "?");
    if (v->note[0])
        nl_buf_printf(out, "    note: %s\n", v->note);
}

/* the screen: a line per claim, its expectation, values and provenance below */
void nl_verdict_text(const nl_verdict_report *r, nl_buf *out)
{
    int id_width = 5, effect_width = 6, interval_width = 8, agree_width = 5;
    shown_numbers *shown = calloc((size_t)(r->n > 0 ? r->n : 1), sizeof *shown);
    if (!shown)
        return;
    for (int i = 0; i < r->n; i++) {
        shown_numbers_of(&r->v[i], &shown[i]);
        id_width = (int)strlen(r->v[i].id) > id_width ? (int)strlen(r->v[i].id) : id_width;
        effect_width = (int)strlen(shown[i].effect) > effect_width ? (int)strlen(shown[i].effect) : effect_width;
        interval_width =
            (int)strlen(shown[i].interval) > interval_width ? (int)strlen(shown[i].interval) : interval_width;
        agree_width = (int)strlen(shown[i].agree) > agree_width ? (int)strlen(shown[i].agree) : agree_width;
    }
    nl_buf_printf(out, "%s (%s): %d claim%s, %.0f%% intervals; Holm's correction over the %d headline claim%s "
                  "with a p, each at one-sided level %.3g; other claims at that level alone, counts described\n",
                  r->sweep_dir, r->experiment, r->n, r->n == 1 ? "" : "s", 100 * r->opt.level, r->holm_k,
                  r->holm_k == 1 ? "" : "s", (1 - r->opt.level) / 2);
    nl_buf_printf(out, "threshold rule: %s\n", r->rule[0] ? r->rule : "none stated (thresholds not derived from the "
                  "papers' numbers by a rule)");
    nl_buf_printf(out, "units: each effect and interval in its claim's unit, named beside it: points for a difference "
                  "of errors or accuracies (percent minus percent; verdicts.csv holds fractions), %% for one, nats for "
                  "losses, none for a ratio (a bare number), %% of seeds for a rate, a count of seeds or rows, cells for a claim over "
                  "cells; each seed's value (a:, b:) as its run wrote it\n");
    if (r->seeds_planned > r->seeds_run)
        nl_buf_printf(out, "warning: power asks for %d seeds (power.seeds); the runs have at most %d: an "
                      "inconclusive verdict here may be the sweep's size\n", r->seeds_planned, r->seeds_run);
    nl_buf_printf(out, "%-*s %3s %*s  %-*s %-*s %8s %8s  %s\n", id_width, "claim", "n", effect_width, "effect",
                  interval_width, "interval", agree_width, "agree", "p", "p(Holm)", "verdict");
    for (int i = 0; i < r->n; i++) {
        const nl_verdict *v = &r->v[i];
        const shown_numbers *sh = &shown[i];
        char needed[48] = "";
        if (v->verdict == NL_VERDICT_INCONCLUSIVE && v->seeds_needed > 0)
            snprintf(needed, sizeof needed, " (needs ~%d seeds)", v->seeds_needed);
        nl_buf_printf(out, "%-*s %3d %*s  %-*s %-*s %8.3g %8.3g  %s%s\n", id_width, v->id, v->n, effect_width,
                      sh->effect, interval_width, sh->interval, agree_width, sh->agree, v->p, v->p_holm,
                      nl_verdict_kind_names[v->verdict], needed);
        claim_details(v, sh, out);
    }
    free(shown);
}
