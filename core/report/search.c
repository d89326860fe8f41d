/* The page of a search's directory (normlab report DIR, DIR the --out of
 * normlab search, known by its candidates.csv): the survival funnel, the
 * Pareto front over the ranking models' scores and the lineage of the
 * winners. The record is read by the search's own reader
 * (nl_search_record_load) and ordered by its own Pareto code
 * (nl_search_best, nl_search_fronts), so that the page shows the order the
 * search acted on, not a second one that could drift from it. The figures
 * are gnuplot scripts on the plots' templates (plots/style.gp,
 * plots/search.gp), rendered and inlined as a sweep's are. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm/formula_edit.h"
#include "plot/script.h"
#include "report/internal.h"
#include "search/search.h"

/* the winners whose lineage is drawn: the best few by the search's
 * order, as many as a screen's table of ancestors stays readable for */
#define WINNERS 3
/* the bars of a search ranked on one model: the best this many (a
 * figure of thousands of bars says nothing a table does not) */
#define MAX_BARS 40

typedef struct {
    const char *dir;
    nl_search_spec spec; /* what the order reads of the search file, from the rows */
    nl_search_result r;
    long *ranked; /* the passed candidates, best first */
    int *front;   /* each ranked one's Pareto front (0: non-dominated) */
    int n_ranked;
} search_page;

/* a step of the survival funnel: a stage of the search's table, a rung
 * of its successive halving, or the holdout's re-ranking */
typedef struct {
    char name[48], help[320];
    long out, left; /* stopped here; left after it */
} funnel_step;
#define MAX_STEPS (NL_STAGE_COUNT + NL_SEARCH_MAX_RUNGS + 1)

/* the funnel's steps from the record: the stage table's rejections in its
 * order (every stage before passed, by its own name and meaning), then
 * the rungs and the holdout where the search had them */
static int funnel_steps(const search_page *sp, funnel_step *out)
{
    int n = 0;
    long left = sp->r.n;
    for (int s = 0; s < NL_STAGE_PASSED; s++) {
        funnel_step *f = &out[n++];
        f->out = sp->r.stage_counts[s];
        f->left = left -= f->out;
        snprintf(f->name, sizeof f->name, "%s", nl_search_stages[s].name);
        snprintf(f->help, sizeof f->help, "rejected where %s", nl_search_stages[s].help);
    }
    for (int g = 1; g < sp->spec.n_rungs; g++) {
        long at = 0;
        for (int i = 0; i < sp->n_ranked; i++)
            at += sp->r.candidates[sp->ranked[i] - 1].rung >= g;
        funnel_step *f = &out[n++];
        f->out = left - at;
        f->left = left = at;
        snprintf(f->name, sizeof f->name, "rung %d (%ld steps)", g + 1, sp->spec.rung_steps[g]);
        snprintf(f->help, sizeof f->help, "trained %ld steps on every model: the best of their generation "
                 "at %ld steps by Pareto order went on (rank.rungs), the others stopped there", sp->spec.rung_steps[g],
                 sp->spec.rung_steps[g - 1]);
    }
    if (sp->r.n_finalists) {
        funnel_step *f = &out[n++];
        f->out = left - sp->r.n_finalists;
        f->left = left = sp->r.n_finalists;
        snprintf(f->name, sizeof f->name, "holdout");
        snprintf(f->help, sizeof f->help, "the best holdout.top re-ranked on %d model%s no candidate was ranked "
                 "on (holdout.csv)", sp->spec.n_holdout, sp->spec.n_holdout == 1 ? "" : "s");
    }
    return n;
}

/* candidate id as the search names it: c12 */
static const char *cname(long id, char *buf, size_t size)
{
    snprintf(buf, size, "c%ld", id);
    return buf;
}

static const char *operator_name(int mutation)
{
    return mutation < 0 ? "start" : nl_formula_mutations[mutation].name;
}

/* a score as the page shows it: percent accuracy */
static void score_text(nl_buf *b, double v)
{
    if (isnan(v))
        nl_buf_printf(b, "none");
    else
        nl_buf_printf(b, "%.2f", 100 * v);
}

/* the formula and its params, escaped, in <code> */
static void formula_cell(rp_page *p, const nl_search_candidate *c)
{
    nl_buf_printf(p->html, "<td class=\"expr\"><code>");
    rp_esc(p->html, c->expr);
    nl_buf_printf(p->html, "</code>");
    if (c->params[0]) {
        nl_buf_printf(p->html, "<br><span class=\"small\">params: ");
        rp_esc(p->html, c->params);
        nl_buf_printf(p->html, "</span>");
    }
    nl_buf_printf(p->html, "</td>");
}

/* ---- the figures: one row each in `figures`, written, then inlined ---- */

/* a script begun on the templates: name, what it shows (its comment),
 * its size */
static void begin(pl_script *s, const pl_templates *t, const char *plots, const char *name, const char *what,
                  int width, int height)
{
    *s = (pl_script){.kind = "search", .templates = t};
    nl_copy_string(s->name, sizeof s->name, name);
    nl_copy_string(s->plots_dir, sizeof s->plots_dir, plots);
    pl_header(s, what, width, height);
}

/* the survival funnel: a bar per step, the candidates left after it */
static bool funnel_figure(const search_page *sp, pl_script *s, const pl_templates *t, const char *plots,
                          char *note, size_t size)
{
    funnel_step steps[MAX_STEPS];
    const int n = funnel_steps(sp, steps);
    begin(s, t, plots, "search_funnel", "normlab report: a search's survival funnel", 900, 120 + 34 * (n + 1));
    char q[400], cell[200], label[120];
    snprintf(label, sizeof label, "%s: %ld candidates and how many each stage left", sp->dir, sp->r.n);
    nl_buf_printf(&s->gp, "set title %s font title_font\n$funnel << EOD\n", pl_q(pl_cell_text(label, cell, sizeof cell),
                  q, sizeof q));
    nl_buf_printf(&s->gp, "0,all decided,%ld,%ld candidates\n", sp->r.n, sp->r.n);
    for (int i = 0; i < n; i++) {
        snprintf(label, sizeof label, "after %.47s", steps[i].name);
        nl_buf_printf(&s->gp, "%d,%s,%ld,", i + 1, pl_cell_text(label, cell, sizeof cell), steps[i].left);
        nl_buf_printf(&s->gp, "%ld left (%ld out)\n", steps[i].left, steps[i].out);
    }
    nl_buf_printf(&s->gp, "EOD\nset yrange [%d.6:-0.6]\nset xrange [0:%ld]\nunset key\nset grid noytics\n"
                  "set xlabel \"candidates\"\n"
                  "plot $funnel using ($3/2):1:($3/2):(0.35):ytic(2) with boxxyerror fs solid bar_fill "
                  "fc rgb funnel_rgb notitle, \\\n"
                  "     $funnel using 3:1:4 with labels left offset 0.5,0 notitle\n", n, sp->r.n + sp->r.n / 3 + 1);
    snprintf(note, size, "a bar per stage of the search's own table in its order (cheapest first), then each rung "
             "and the holdout where the search had them; a bar's length is the candidates left after that stage, "
             "its label how many it stopped");
    return true;
}

/* the Pareto front: K >= 2, a point per ranked candidate on the first
 * two models' scores; K = 1, a bar per ranked candidate, best first */
static bool front_figure(const search_page *sp, pl_script *s, const pl_templates *t, const char *plots, char *note,
                         size_t size)
{
    if (!sp->n_ranked)
        return false;
    const int k = nl_search_score_count(&sp->spec);
    const int top_rung = sp->spec.n_rungs - 1;
    char q[400], label[200];
    if (k >= 2) {
        begin(s, t, plots, "search_front", "normlab report: a search's Pareto front", 900, 640);
        nl_buf_printf(&s->gp, "set title %s font title_font\n$points << EOD\n",
                      pl_q("the Pareto front of the ranked candidates", q, sizeof q));
        for (int i = 0; i < sp->n_ranked; i++) {
            const nl_search_candidate *c = &sp->r.candidates[sp->ranked[i] - 1];
            /* 0 front, 1 dominated at the last rung, 2 stopped at an earlier one */
            const int group = sp->front[i] == 0 ? 0 : c->rung < top_rung ? 2 : 1;
            nl_buf_printf(&s->gp, "%.6g,%.6g,%d,%s\n", 100 * nl_search_score(&sp->spec, c, 0),
                          100 * nl_search_score(&sp->spec, c, 1), group, cname(c->id, label, sizeof label));
        }
        nl_buf_printf(&s->gp, "EOD\nset key outside right top vertical\n");
        nl_buf_printf(&s->gp, "set xlabel %s\n", pl_q("test accuracy on rank.models[0] (%)", q, sizeof q));
        nl_buf_printf(&s->gp, "set ylabel %s\n", pl_q("test accuracy on rank.models[1] (%)", q, sizeof q));
        nl_buf_printf(&s->gp, "set offsets graph 0.08, graph 0.08, graph 0.08, graph 0.08\n"
                      "plot $points using ($3 == 2 ? $1 : NaN):2 with points pt halted_pt ps halted_ps lc rgb "
                      "halted_rgb title \"stopped at an earlier rung\", \\\n"
                      "     $points using ($3 == 1 ? $1 : NaN):2 with points pt dominated_pt ps dominated_ps lc rgb "
                      "dominated_rgb title \"dominated\", \\\n"
                      "     $points using ($3 == 0 ? $1 : NaN):2 with points pt front_pt ps front_ps lc rgb "
                      "front_rgb title \"non-dominated (the front)\", \\\n"
                      "     $points using ($3 == 0 ? $1 : NaN):2:4 with labels left offset 0.8,0.4 tc rgb front_rgb "
                      "notitle\n");
        snprintf(note, size, "every candidate that passed, at its scores on the first two ranking models%s; the "
                 "front is the search's own (nl_search_fronts: no other candidate at least as good on all %d "
                 "scores and better on one%s)", k > 2 ? " (the front is over all of them)" : "", k,
                 sp->spec.n_rungs ? ", a later rung ranking first: scores after different budgets are not "
                                    "compared" : "");
        return true;
    }
    const int n = sp->n_ranked < MAX_BARS ? sp->n_ranked : MAX_BARS;
    begin(s, t, plots, "search_front", "normlab report: a search's ranked candidates", 900, 120 + 26 * n);
    nl_buf_printf(&s->gp, "set title %s font title_font\n$bars << EOD\n",
                  pl_q("the ranked candidates, best first", q, sizeof q));
    for (int i = 0; i < n; i++) {
        const nl_search_candidate *c = &sp->r.candidates[sp->ranked[i] - 1];
        nl_buf_printf(&s->gp, "%d,%s,%.6g,%d\n", i, cname(c->id, label, sizeof label),
                      100 * nl_search_score(&sp->spec, c, 0), sp->front[i] == 0);
    }
    nl_buf_printf(&s->gp, "EOD\nset yrange [%d.6:-0.6]\nset xrange [0:100]\nunset key\nset grid noytics\n"
                  "set xlabel %s\n"
                  "plot $bars using ($3/2):1:($3/2):(0.35):($4 > 0.5 ? front_rgb : dominated_rgb):ytic(2) with "
                  "boxxyerror fs solid bar_fill lc rgb variable notitle\n",
                  n - 1, pl_q(sp->spec.n_models ? "test accuracy on rank.models[0] (%)" :
                                                  "hurdle test accuracy (%): the search had no rank.models", q, sizeof q));
    snprintf(note, size, "a bar per candidate that passed, best first by the search's order%s; the non-dominated "
             "(the search's front, nl_search_fronts) in red%s", sp->n_ranked > n ? " (the best 40 drawn)" : "",
             sp->spec.n_rungs ? ", a later rung ranking first" : "");
    return true;
}

/* the figures, in the page's order: each writes its script (false: it
 * has nothing to draw) and says what it shows */
static const struct {
    const char *part; /* the page's part it belongs to */
    bool (*write)(const search_page *, pl_script *, const pl_templates *, const char *, char *, size_t);
} figures[] = {
    {"funnel", funnel_figure},
    {"front", front_figure},
};

/* the figures of `part` written into the page's directory and inlined */
static nl_code part_figures(rp_page *p, const search_page *sp, const char *part, nl_error *err)
{
    char plots[1100];
    snprintf(plots, sizeof plots, "%s/search", p->tmp);
    nl_code rc = nl_make_dirs(plots, err);
    pl_templates t;
    if (!rc)
        rc = pl_templates_load(NULL, &t, err);
    if (rc)
        return rc;
    nl_plot_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < sizeof figures / sizeof figures[0]; i++) {
        if (strcmp(figures[i].part, part))
            continue;
        pl_script s;
        char note[sizeof rep->items[0].note];
        if (!figures[i].write(sp, &s, &t, plots, note, sizeof note))
            continue;
        rc = pl_finish(&s, err);
        nl_buf_free(&s.gp);
        if (rc)
            break;
        nl_plot_output *o = &rep->items[rep->n++];
        nl_copy_string(o->name, sizeof o->name, s.name);
        nl_copy_string(o->note, sizeof o->note, note);
        snprintf(o->script, sizeof o->script, "%s/%s.gp", plots, s.name);
    }
    if (!rc)
        nl_copy_string(rep->plots_dir, sizeof rep->plots_dir, plots);
    if (!rc && rep->n)
        rc = rp_inline_figures(p, rep, NULL, err);
    free(rep);
    pl_templates_free(&t);
    return rc;
}

/* ---- the page's parts ---- */

static nl_code funnel_part(rp_page *p, const search_page *sp, nl_error *err)
{
    nl_buf_printf(p->html, "<h3 id=\"search-funnel\">Survival funnel</h3>\n<p class=\"hint\">Where each of the "
                  "%ld candidates stopped: the stages of <code>normlab search</code>, cheapest first (its "
                  "candidates.csv's stage column), then the rungs and the holdout.</p>\n", sp->r.n);
    nl_code rc = part_figures(p, sp, "funnel", err);
    funnel_step steps[MAX_STEPS];
    const int n = funnel_steps(sp, steps);
    nl_buf_printf(p->html, "<div class=\"scroll\"><table class=\"funnel\" id=\"search-funnel-table\">\n<thead><tr>"
                  "<th>stage</th><th>entered</th><th>stopped here</th><th>left</th><th>what stops a candidate here"
                  "</th></tr></thead>\n<tbody>\n");
    for (int i = 0; i < n; i++) {
        nl_buf_printf(p->html, "<tr data-stage=\"");
        rp_esc(p->html, steps[i].name);
        nl_buf_printf(p->html, "\" data-out=\"%ld\" data-left=\"%ld\"><td>", steps[i].out, steps[i].left);
        rp_esc(p->html, steps[i].name);
        nl_buf_printf(p->html, "</td><td class=\"num\">%ld</td><td class=\"num\">%ld</td><td class=\"num\">%ld</td>"
                      "<td>", steps[i].left + steps[i].out, steps[i].out, steps[i].left);
        rp_esc(p->html, steps[i].help);
        nl_buf_printf(p->html, "</td></tr>\n");
    }
    nl_buf_printf(p->html, "</tbody></table></div>\n");
    return rc;
}

/* the score columns' headers: each ranking model, or the hurdle */
static void score_headers(rp_page *p, const search_page *sp)
{
    for (int k = 0; k < nl_search_score_count(&sp->spec); k++) {
        nl_buf_printf(p->html, "<th>");
        rp_esc(p->html, sp->spec.n_models ? sp->spec.models[k].label : "hurdle");
        nl_buf_printf(p->html, " (%%)</th>");
    }
}

static nl_code front_part(rp_page *p, const search_page *sp, nl_error *err)
{
    const int k = nl_search_score_count(&sp->spec);
    nl_buf_printf(p->html, "<h3 id=\"search-front\">Pareto front</h3>\n<p class=\"hint\">The candidates that passed "
                  "every stage, on their %d score%s (test accuracy on each of rank.models%s). A candidate is on the "
                  "front when no other is at least as good on every score and better on one, as the search's "
                  "tournament and ranking compare them%s.</p>\n", k, k == 1 ? "" : "s",
                  sp->spec.n_models ? "" : "; this search had none: the hurdle's",
                  sp->spec.n_rungs ? " (with rank.rungs a later rung ranks first)" : "");
    if (!sp->n_ranked) {
        nl_buf_printf(p->html, "<p class=\"warn\">No candidate passed: there is no front.</p>\n");
        return NL_OK;
    }
    nl_code rc = part_figures(p, sp, "front", err);
    int on_front = 0;
    for (int i = 0; i < sp->n_ranked; i++)
        on_front += sp->front[i] == 0;
    nl_buf_printf(p->html, "<p>On the front: %d of the %d ranked candidates.</p>\n<div class=\"scroll\">"
                  "<table class=\"sortable\" id=\"search-front-table\">\n<thead><tr><th>order</th><th>candidate</th>"
                  "<th>generation</th><th>operator</th>", on_front, sp->n_ranked);
    score_headers(p, sp);
    nl_buf_printf(p->html, "%s<th>formula</th></tr></thead>\n<tbody>\n", sp->spec.n_rungs ? "<th>steps</th>" : "");
    char name[32];
    for (int i = 0; i < sp->n_ranked; i++) {
        if (sp->front[i])
            continue;
        const nl_search_candidate *c = &sp->r.candidates[sp->ranked[i] - 1];
        nl_buf_printf(p->html, "<tr data-id=\"%ld\"><td class=\"num\">%d</td><td>%s</td><td class=\"num\">%d</td>"
                      "<td>%s</td>", c->id, i + 1, cname(c->id, name, sizeof name), c->generation,
                      operator_name(c->mutation));
        for (int j = 0; j < k; j++) {
            nl_buf_printf(p->html, "<td class=\"num\">");
            score_text(p->html, nl_search_score(&sp->spec, c, j));
            nl_buf_printf(p->html, "</td>");
        }
        if (sp->spec.n_rungs)
            nl_buf_printf(p->html, "<td class=\"num\">%ld</td>", c->rung >= 0 ? c->rung_steps[c->rung] : 0L);
        formula_cell(p, c);
        nl_buf_printf(p->html, "</tr>\n");
    }
    nl_buf_printf(p->html, "</tbody></table></div>\n");
    return rc;
}

/* winner w's ancestors, w first: each candidate once, at its fewest
 * steps from w (parents read breadth first), into ids and depth; the
 * number of them */
static int ancestry(const search_page *sp, long w, long *ids, int *depth, int max)
{
    int n = 0;
    ids[n] = w, depth[n++] = 0;
    for (int at = 0; at < n; at++) {
        const nl_search_candidate *c = &sp->r.candidates[ids[at] - 1];
        for (int j = 0; j < 2 && c->parents[j]; j++) {
            bool seen = false;
            for (int i = 0; i < n && !seen; i++)
                seen = ids[i] == c->parents[j];
            if (!seen && n < max)
                ids[n] = c->parents[j], depth[n++] = depth[at] + 1;
        }
    }
    return n;
}

static nl_code lineage_part(rp_page *p, const search_page *sp, nl_error *err)
{
    const int n_win = sp->n_ranked < WINNERS ? sp->n_ranked : WINNERS;
    nl_buf_printf(p->html, "<h3 id=\"search-lineage\">Lineage of the winners</h3>\n<p class=\"hint\">The best %d "
                  "by the search's order (the front first, then the higher mean score), each traced back through "
                  "its parents to the start population: every step the operator that made the candidate from its "
                  "parents, and its formula.</p>\n", n_win);
    if (!n_win) {
        nl_buf_printf(p->html, "<p class=\"warn\">No candidate passed: there are no winners.</p>\n");
        return NL_OK;
    }
    long *ids = malloc((size_t)sp->r.n * sizeof *ids);
    int *depth = malloc((size_t)sp->r.n * sizeof *depth);
    if (!ids || !depth) {
        free(ids), free(depth);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    char name[32];
    for (int w = 0; w < n_win; w++) {
        const int n = ancestry(sp, sp->ranked[w], ids, depth, (int)sp->r.n);
        nl_buf_printf(p->html, "<h4>%d. %s</h4>\n<div class=\"scroll\"><table class=\"lineage\" data-winner=\"%ld\">\n"
                      "<thead><tr><th>steps back</th><th>candidate</th><th>generation</th><th>made by</th>"
                      "<th>from</th><th>formula</th></tr></thead>\n<tbody>\n", w + 1,
                      cname(sp->ranked[w], name, sizeof name), sp->ranked[w]);
        for (int i = 0; i < n; i++) {
            const nl_search_candidate *c = &sp->r.candidates[ids[i] - 1];
            nl_buf_printf(p->html, "<tr data-id=\"%ld\" data-operator=\"%s\" data-parents=\"", c->id,
                          operator_name(c->mutation));
            for (int j = 0; j < 2 && c->parents[j]; j++)
                nl_buf_printf(p->html, "%s%ld", j ? " " : "", c->parents[j]);
            nl_buf_printf(p->html, "\"><td class=\"num\">%d</td><td>%s</td><td class=\"num\">%d</td><td>%s</td><td>",
                          depth[i], cname(c->id, name, sizeof name), c->generation, operator_name(c->mutation));
            for (int j = 0; j < 2 && c->parents[j]; j++)
                nl_buf_printf(p->html, "%s%s", j ? ", " : "", cname(c->parents[j], name, sizeof name));
            nl_buf_printf(p->html, "%s</td>", c->parents[0] ? "" : "(the start population)");
            formula_cell(p, c);
            nl_buf_printf(p->html, "</tr>\n");
        }
        nl_buf_printf(p->html, "</tbody></table></div>\n");
    }
    free(ids), free(depth);
    return NL_OK;
}

/* the search in a sentence: its candidates, generations, models, rungs */
static void summary_line(rp_page *p, const search_page *sp)
{
    int generations = 0;
    for (long i = 0; i < sp->r.n; i++)
        generations = sp->r.candidates[i].generation + 1 > generations ? sp->r.candidates[i].generation + 1
                                                                       : generations;
    nl_buf_printf(p->html, "<p>A search: %ld candidates over %d generation%s (the start population the first), "
                  "%ld passed every stage", sp->r.n, generations, generations == 1 ? "" : "s",
                  sp->r.stage_counts[NL_STAGE_PASSED]);
    if (sp->spec.n_models)
        nl_buf_printf(p->html, ", ranked on %d model%s", sp->spec.n_models, sp->spec.n_models == 1 ? "" : "s");
    if (sp->spec.n_rungs)
        nl_buf_printf(p->html, " by successive halving from %ld to %ld steps", sp->spec.rung_steps[0],
                      sp->spec.rung_steps[sp->spec.n_rungs - 1]);
    if (sp->r.n_finalists)
        nl_buf_printf(p->html, "; the best %d re-ranked on %d held-out model%s", sp->r.n_finalists,
                      sp->spec.n_holdout, sp->spec.n_holdout == 1 ? "" : "s");
    nl_buf_printf(p->html, ". Every candidate's row is in candidates.csv.</p>\n");
    if (!sp->spec.target_norm[0])
        return;
    const int k_models = nl_search_scoring_models(&sp->spec);
    double mean = 0;
    for (int k = 0; k < k_models; k++)
        mean += sp->r.reference[k] / k_models;
    nl_buf_printf(p->html, "<p>Its target: ");
    rp_esc(p->html, sp->spec.target_norm);
    nl_buf_printf(p->html, " norm's test accuracy, %.4f on average over the %d model%s that score a candidate, "
                  "within %g (target.csv, reference.csv): ", mean, k_models, k_models == 1 ? "" : "s",
                  sp->spec.target_within);
    if (sp->r.reached) {
        char name[32];
        nl_buf_printf(p->html, "reached by %s (%+.2f points on average) after %ld candidates", cname(sp->r.reached,
                      name, sizeof name), 100 * sp->r.reached_gap, sp->r.n);
    } else {
        nl_buf_printf(p->html, "not reached in %ld candidates", sp->r.n);
    }
    nl_buf_printf(p->html, ", %.1f CPU-seconds%s.</p>\n", sp->r.target_cpu_s,
                  sp->r.target_cpu_whole ? "" : " since the search last went on from its record");
}

bool rp_is_search(const char *dir)
{
    char path[1200];
    nl_path_join(path, sizeof path, dir, "candidates.csv");
    return nl_path_exists(path);
}

nl_code rp_search_page(rp_page *p, const char *dir, nl_error *err)
{
    search_page sp = {.dir = dir};
    nl_code rc = nl_search_record_load(dir, &sp.spec, &sp.r, err);
    if (rc)
        return rc;
    sp.ranked = malloc((size_t)(sp.r.n ? sp.r.n : 1) * sizeof *sp.ranked);
    sp.front = malloc((size_t)(sp.r.n ? sp.r.n : 1) * sizeof *sp.front);
    if (!sp.ranked || !sp.front)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (!rc) {
        sp.n_ranked = nl_search_best(&sp.spec, &sp.r, sp.ranked, (int)sp.r.n);
        nl_search_fronts(&sp.spec, &sp.r, sp.ranked, sp.n_ranked, sp.front);
        const char *base = strrchr(dir, '/');
        char title[300];
        snprintf(title, sizeof title, "search %s", base && base[1] ? base + 1 : dir);
        rp_page_head(p, title, 1);
        nl_buf_printf(p->html, "<nav class=\"toc\" aria-label=\"sections\"><a href=\"#search-funnel\">funnel</a>"
                      "<a href=\"#search-front\">Pareto front</a><a href=\"#search-lineage\">lineage</a></nav>\n"
                      "</header>\n<main>\n<section id=\"s1\">\n<h2 class=\"first\">");
        rp_esc(p->html, title);
        nl_buf_printf(p->html, "</h2>\n<p class=\"path\">");
        rp_esc_path(p->html, dir);
        nl_buf_printf(p->html, "</p>\n");
        summary_line(p, &sp);
        static nl_code (*const parts[])(rp_page *, const search_page *, nl_error *) = {funnel_part, front_part,
                                                                                       lineage_part};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0] && !rc; i++)
            rc = parts[i](p, &sp, err);
        nl_buf_printf(p->html, "</section>\n");
        rp_page_tail(p);
        p->out->n_figures = p->n_figures;
        p->out->n_candidates = sp.r.n;
    }
    free(sp.ranked), free(sp.front);
    nl_search_result_free(&sp.r);
    return rc;
}
