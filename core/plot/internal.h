/* Internal to core/plot: the kinds' writers and what only they use (the
 * subtitle, colours, SVG titles); a gnuplot script's parts are plot/script.h,
 * the results they draw are read through results/results.h. */
#ifndef NL_PLOT_INTERNAL_H
#define NL_PLOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "log/files.h"
#include "plot/report.h"
#include "plot/script.h"
#include "plot/spec.h"
#include "plot/templates.h"
#include "results/results.h"

/* ---- gnuplot ---- */
/* the subtitle: dataset, model, fixed training settings, seeds */
void pl_subtitle(const nl_results *r, char *buf, size_t size);
/* a series color: normalizers have their own, others cycle a palette */
const char *pl_color(const char *label, int index);

/* Rewrites the SVG gnuplot wrote at path: each plot group's hover title
 * (gnuplot's "gnuplot_plot_N") becomes its legend label, the label of the
 * key entry in its colour, or none; the figure's ("Gnuplot") its name.
 * Errors reading or writing the file, NL_ERR_NOMEM. */
nl_code pl_svg_titles(const char *path, const char *figure, nl_error *err);

/* the writers, one per kind: NL_ERR_USAGE with the reason when it does not apply */
nl_code pl_curves(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_batch_size(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_lr(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_heatmap(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_train_eval_gap(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_trace(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_final(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_grad_norms(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_step_norms(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_block_skip(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_switch_weights(const nl_results *r, const nl_plot_spec *spec, pl_script *s,
                          nl_error *err);
nl_code pl_attention_logits(const nl_results *r, const nl_plot_spec *spec, pl_script *s,
                            nl_error *err);

nl_code pl_weight_stats(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_variance_shift(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_signal_propagation(const nl_results *r, const nl_plot_spec *spec, pl_script *s,
                              nl_error *err);
nl_code pl_landscape(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);

typedef nl_code (*pl_writer)(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);

/* a kind's row (core/plot/kinds.c): what the public API says of it, and
 * its writer */
typedef struct {
    nl_plot_kind_info info;
    pl_writer write;
} pl_kind_row;

const pl_kind_row *pl_kind_row_of(nl_plot_kind kind);

/* runs the kind's writer into rep->plots_dir and adds the output to rep;
 * name NULL: the spec's name, template_name NULL: the kind's template */
nl_code pl_write_one(const nl_results *r, const nl_plot_spec *spec, const char *name, const char *template_name,
                     const pl_templates *templates, nl_plot_report *rep, nl_error *err);

#endif
