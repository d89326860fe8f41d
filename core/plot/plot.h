/* Plots of runs and sweeps as gnuplot scripts. A results directory is a
 * sweep (summary.csv and runs/<run>/metrics.csv) or a single run
 * (metrics.csv). Scripts go to <dir>/plots/<name>.gp, each self-contained:
 * it reads CSV files by column name, next to it or in the run directories,
 * and picks its output with the variable fmt ("png", the default, "svg" or "pdf"):
 *   cd <dir>/plots && gnuplot -e 'fmt="svg"' curves.gp
 * The scripts start with the gnuplot templates of plots/ (built into the
 * binary): style.gp for the look every figure shares, and one per kind.
 * Where values must be aggregated (mean and range over seeds) the C code
 * writes a small CSV next to the script (plots/<name>.csv).
 *
 * Kinds:
 *   curves          training loss and a test metric against step, one line
 *                   per variant (the varied keys except seed), mean over
 *                   seeds with a min-max band
 *   batch_size      final metric against batch size (log2), one series per
 *                   normalizer, error bars over seeds (Wu & He, Fig. 1)
 *   lr              final metric against learning rate (log10), one series
 *                   per normalizer, diverged runs marked at the top, and the
 *                   widest range of learning rates each one tolerates
 *   heatmap         final metric over learning rate x batch size, a panel per
 *                   normalizer, values in the cells
 *   train_eval_gap  batch norm's test accuracy in eval mode (running
 *                   statistics) and train mode (batch statistics) against
 *                   batch size; for a single run, against step
 *   trace           activation percentiles over training (trace.csv), a panel
 *                   per variant (Ioffe & Szegedy, Fig. 1 b, c)
 *   final           a final metric against any swept key (x), a series per
 *                   value of the colour key, a panel per value of the panel
 *                   key; categorical x at equal spacing, numeric x on a
 *                   linear or log axis, error bars over seeds
 *   grad_norms      each layer's gradient norm at step 0 (series.csv,
 *                   train.log.grad_norms) against the layer, input to
 *                   output, a line per value of the colour key (Xiong et al.,
 *                   Fig. 3)
 *   attention_logits the largest attention logit over all layers against
 *                   step (series.csv, train.log.attention_logits), a line
 *                   per value of the colour key, a panel per value of the
 *                   panel key (Wortsman et al.)
 *   weight_stats    a weight tensor's update_ratio (default), weight_norm
 *                   or effective_lr against step (series.csv,
 *                   train.log.weight_stats); a panel per layer and a line
 *                   per value of the colour key, or for a single variant
 *                   one panel with a line per layer
 *   variance_shift  each batch norm's running variance over its input's
 *                   test-time variance against step (series.csv,
 *                   train.log.variance_shift), laid out as weight_stats,
 *                   with the no-shift line at 1 (Li et al. 2019)
 *   signal_propagation  at initialization, the average channel mean^2 and
 *                   variance of the residual stream after each block
 *                   (each normalizer's input where there are no blocks)
 *                   against depth, log y, a line per value of the colour
 *                   key (series.csv, train.log.signal_propagation; Brock
 *                   et al. 2021)
 *   landscape       the landscape probe over training (series.csv,
 *                   train.log.landscape; Santurkar et al. 2018, Fig. 4): a
 *                   panel each for the loss band and the gradient
 *                   predictiveness band (min to max over the step sizes)
 *                   and the effective beta-smoothness, a series per value
 *                   of the colour key, means over seeds
 *   step_norms      the top recurrent layer's hidden-state norm against the
 *                   time step t at the last evaluation (series.csv,
 *                   train.log.step_norms), a line per value of the colour
 *                   key, means over seeds with min-max bars */
#ifndef NL_PLOT_H
#define NL_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/names.h"
#include "base/status.h"
#include "log/files.h"
#include "plot/report.h" /* nl_plot_report: what writing and rendering found */
#include "plot/spec.h"   /* the kinds, nl_plot_where, nl_plot_spec */
#include "results/results.h" /* nl_results: nl_plot_compare_loaded's inputs */

enum { NL_PLOT_PNG = 1, NL_PLOT_SVG = 2, NL_PLOT_PDF = 4 };
#define NL_PLOT_N_FORMATS 3
/* the file extension (and the script's fmt value) of format bit i */
extern const char *const nl_plot_format_names[NL_PLOT_N_FORMATS];

/* Writes the scripts (and aggregated CSVs) for `specs` into <dir>/plots.
 * With no specs, every kind that applies to the results. A kind that cannot
 * apply (a batch-size plot of runs that all share one batch size) is an
 * NL_ERR_USAGE error naming the reason; so is a spec's `where` naming a key
 * no run has or leaving no run (naming the values there are), and two
 * specs with one file name. */
nl_code nl_plot_write(const char *dir, const nl_plot_spec *specs, int n_specs, nl_plot_report *rep,
                      nl_error *err);
/* the same with edited templates: DIR/style.gp, DIR/curves.gp, ... replace
 * the built-in ones (plots/ in the source tree) where they exist; and with
 * `where` (NULL: none) added to every plot's own, the kinds chosen when no
 * specs are given included */
nl_code nl_plot_write_with(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                           const char *templates_dir, nl_plot_report *rep, nl_error *err);
/* the same into plots_dir (NULL: <dir>/plots) instead: normlab report draws
 * a directory's figures without touching it. A single run's scripts read
 * ../metrics.csv and ../trace.csv, which the caller provides there. */
nl_code nl_plot_write_into(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                           const char *templates_dir, const char *plots_dir, nl_plot_report *rep, nl_error *err);
/* The same as one output set (nl_outset, log/files.h) for normlab plot:
 * the scripts and their data are written, and nl_plot_render draws them,
 * in a work directory of the set beside <dir>/plots (rep->work_dir), from
 * which nl_plot_stage stages every file as <dir>/plots/NAME; the caller
 * commits. Until then nothing in plots/ changes, so a plot that fails
 * (a kind that cannot apply, gnuplot rejecting a script, a directory where
 * a figure goes) leaves every old script, CSV and figure as it was. */
nl_code nl_plot_write_staged(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                             const char *templates_dir, nl_outset *set, nl_plot_report *rep, nl_error *err);
/* stages the files written and drawn in rep->work_dir as rep->plots_dir's
 * (nothing to do without a work directory) */
nl_code nl_plot_stage(nl_plot_report *rep, nl_outset *set, nl_error *err);
/* The curves of several run or sweep directories (at least two, any mix)
 * in one figure, written to out_dir/compare[-METRIC[-SPLIT]].gp (and .csv).
 * spec is a curves spec (metric, split). The legend tells the variants
 * apart by the keys whose values differ between the runs (each directory's
 * varied keys and the settings its config has differently), by the
 * directories' names when those do not tell the directories apart. out_dir
 * is made, or must be empty or one compare wrote (NL_ERR_USAGE otherwise,
 * nothing written); a directory that is neither a run nor a sweep is an
 * NL_ERR_USAGE error. Render with nl_plot_render. */
nl_code nl_plot_compare(const char *const *dirs, int n_dirs, const nl_plot_spec *spec, const char *out_dir,
                        const char *templates_dir, nl_plot_report *rep, nl_error *err);
/* the same as one output set (see nl_plot_write_staged): out_dir made and
 * marked by the set, the figure written and drawn in a work directory
 * beside it, for nl_plot_stage */
nl_code nl_plot_compare_staged(const char *const *dirs, int n_dirs, const nl_plot_spec *spec, const char *out_dir,
                               const char *templates_dir, nl_outset *set, nl_plot_report *rep, nl_error *err);
/* The same of directories already read (normlab report's page of
 * several): in[i] as nl_results_load and nl_results_check_run_files left
 * it, its runs' config.yaml and metrics.csv taken from what their reader
 * holds (nl_results_run.held) where it holds them; in is only read. The
 * figure is the one nl_plot_compare draws of the directories in[i]->dir. */
nl_code nl_plot_compare_loaded(const nl_results *const *in, int n_in, const nl_plot_spec *spec, const char *out_dir,
                               const char *templates_dir, nl_plot_report *rep, nl_error *err);
/* writes the built-in templates into dir, to edit for --templates */
nl_code nl_plot_write_templates(const char *dir, nl_error *err);

/* Renders every script of the report with gnuplot (PNG, SVG and/or PDF).
 * When gnuplot is not on PATH, sets rep->gnuplot_missing and returns NL_OK;
 * when PDF is asked for and gnuplot lacks the pdfcairo terminal, sets
 * rep->pdf_missing and renders the other formats. A script gnuplot rejects
 * is an NL_ERR_RUNTIME error with its message. */
nl_code nl_plot_render(nl_plot_report *rep, unsigned formats, nl_error *err);

/* gnuplot's path on PATH into buf; false when there is none */
bool nl_plot_find_gnuplot(char *buf, size_t size);

/* ---- tables (core/plot/table.c) ---- */
typedef struct {
    const char *metric; /* a summary.csv metric column, e.g. final_test_error;
                         * NULL: the directory's primary metric */
    const char *by[32]; /* cell keys; none: every varied key but the seed and
                         * those the others determine */
    int n_by;
    /* paired differences pair_b - pair_a of pair_key, matched by seed (and
     * every other varied key); pair_key NULL: none */
    const char *pair_key, *pair_a, *pair_b;
} nl_table_spec;
/* Markdown into md (accuracies and errors in percent), and when csv is not
 * NULL the same numbers as CSV (in summary.csv's units: fractions). A cell
 * whose runs differ in more than the seed (--by leaves out a varied key)
 * counts runs, not seeds, and names what it pools (the CSV's pooled
 * column). When notes is not NULL it gets a line for each thing the
 * screen should hear: rows of summary.csv left out (file and line), pooled
 * cells. */
nl_code nl_table_write(const char *dir, const nl_table_spec *spec, nl_buf *md, nl_buf *csv,
                       nl_buf *notes, nl_error *err);
/* The metric a table of runs of model.arch `arch` shows first (and
 * normlab table when none is named): a language model's test loss, its
 * measure (nats per token; its error, the share of tokens mispredicted,
 * is a coarse by-product), else the test error. arch NULL or unknown: the
 * error. */
const char *nl_table_primary_metric(const char *arch);
/* t such that P(|T| > t) = 0.05 for Student's t with df degrees of freedom */
double nl_student_t_quantile_975(double df);

#endif
