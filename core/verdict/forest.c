/* The forest plot of a sweep's verdicts: plots/verdicts.gp, its data inline,
 * drawn with the plots' templates (plots/style.gp, plots/forest.gp). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/common.h"
#include "plot/internal.h"
#include "results/files.h"
#include "verdict/forest.h"

nl_code nl_verdict_forest(const nl_verdict_report *r, const char *plots_dir, nl_plot_report *rep, nl_error *err)
{
    pl_templates templates;
    nl_code rc = pl_templates_load(NULL, &templates, err);
    if (rc)
        return rc;
    pl_script s = {.kind = "forest", .templates = &templates};
    nl_copy_string(s.name, sizeof s.name, NL_VERDICTS_PLOT);
    /* an output set's work directory, when the caller gave one */
    nl_copy_string(s.plots_dir, sizeof s.plots_dir, rep->work_dir[0] ? rep->work_dir : plots_dir);
    pl_header(&s, "normlab verdict's forest plot: a row per claim", 1100, 160 + 44 * r->n);
    const char *base = strrchr(r->sweep_dir, '/');
    char title[1300], q[1400];
    snprintf(title, sizeof title, "%s: %d claims, %.0f%% intervals", base && base[1] ? base + 1 : r->sweep_dir, r->n,
             100 * r->opt.level);
    nl_buf_printf(&s.gp, "set title %s font title_font\n$claims << EOD\n", pl_q(title, q, sizeof q));
    for (int i = 0; i < r->n; i++) {
        const nl_verdict *v = &r->v[i];
        char label[320], cell[320];
        snprintf(label, sizeof label, "%s (%s)", v->id, nl_verdict_kind_names[v->verdict]);
        /* NaN (no interval) prints as nan, which gnuplot leaves out */
        nl_buf_printf(&s.gp, "%d,%.6g,%.6g,%.6g,%.6g,%d,%s\n", i + 1, v->effect, isnan(v->lo) ? v->effect : v->lo,
                      isnan(v->hi) ? v->effect : v->hi, v->claim->threshold, (int)v->verdict,
                      pl_cell_text(label, cell, sizeof cell));
    }
    /* the bands of "~ within" claims; a row outside the range when there is none */
    nl_buf_printf(&s.gp, "EOD\n$bands << EOD\n");
    bool any_band = false;
    for (int i = 0; i < r->n; i++)
        if (r->v[i].claim->op == NL_EXPECT_WITHIN) {
            nl_buf_printf(&s.gp, "%d,%.6g,%.6g\n", i + 1, r->v[i].claim->threshold, r->v[i].claim->within);
            any_band = true;
        }
    nl_buf_printf(&s.gp, "EOD\n"
                  "set yrange [0.5:%d.5] reverse\nset offsets graph 0.05, graph 0.05, 0, 0\n"
                  "set xlabel \"effect (a - b, a / b, a's value or rate, as each claim says)\"\n"
                  "set key bottom right\n"
                  "plot %s"
                  "$claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title \"expected\", "
                  "\\\n"
                  "     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw "
                  "pt effect_pt ps effect_ps lc rgb variable title \"effect and interval\"\n",
                  r->n, any_band ? "$bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "
                  "\"expected band\", \\\n     " : "");
    rc = pl_finish(&s, err);
    nl_buf_free(&s.gp);
    pl_templates_free(&templates);
    if (rc)
        return rc;
    nl_plot_output *o = &rep->items[rep->n++];
    memset(o, 0, sizeof *o);
    nl_copy_string(o->name, sizeof o->name, NL_VERDICTS_PLOT);
    nl_path_join(o->script, sizeof o->script, plots_dir, NL_VERDICTS_PLOT ".gp");
    nl_copy_string(rep->plots_dir, sizeof rep->plots_dir, plots_dir);
    return NL_OK;
}
