/* Internal to core/report: a directory's results as the page shows them,
 * the page being written, and the sections' writers. */
#ifndef NL_REPORT_INTERNAL_H
#define NL_REPORT_INTERNAL_H

#include <stdbool.h>

#include "config/flat.h"
#include "report/report.h"
#include "results/results.h"
#include "results/run_result.h"
#include "sweep/sweep.h"

/* a run as its own files say: summary.json and config.yaml */
typedef struct {
    nl_sweep_result result;
    long last_step;           /* an unfinished run's last logged step; -1 none */
    nl_run_phase phase;       /* where it stands now: running, killed, interrupted, pending, ... */
    char commit[64], cpu[192], kernels[64], threads[16], started[32], finished[32], host[128], device[32];
    nl_flat config;
    bool have_config;
} rp_run;

/* one directory given */
typedef struct {
    int index;               /* 1-based: the section's ids are s1, s2, ... */
    nl_results res;          /* summary.csv (or the run's summary.json) */
    rp_run *runs;            /* per res.runs[i] */
    /* per res.runs[i]: its metrics.csv as read (n_cols 0: none), and what
     * of its files the readers after the source's take from it (the
     * curves, the figure of the directories compared): res.runs[i].held */
    nl_csv_table *metrics;
    nl_run_held *held;
    char name[160];          /* the sweep's or run's name */
    char experiment[1200];   /* its experiment file, "" none: the file read (a sweep's kept copy, see from) */
    nl_sweep_experiment_source from; /* where a sweep's record led (from.from NONE: elsewhere) */
    nl_experiment exp;
    bool have_exp;
    char no_experiment[4400]; /* why there is none */
    nl_buf warnings;         /* the section's warnings, a line each */
} rp_source;

/* the page being written */
typedef struct {
    nl_buf *html;
    nl_report *out;
    const nl_report_options *opt;
    char tmp[1024]; /* a private directory the figures are drawn in */
    int n_figures;
    /* Student's t's 0.975 quantile by degrees of freedom, as the
     * explorers' data have asked for it (NAN: not yet; n_t975 held): each
     * computed once a page, not again for each section and the view of
     * all (4,000 each on two 4,000-run sweeps, issue 118); freed with the
     * page */
    double *t975;
    int n_t975;
} rp_page;

/* ---- html.c ---- */
/* s with & < > " ' escaped: text and attribute values alike */
void rp_esc(nl_buf *b, const char *s);
/* a name of dotted or underscored parts (a config key, a metric), as text
 * (never in an attribute): escaped as rp_esc, with a line-break
 * opportunity (<wbr>) after each '.' and '_', so that a narrow column
 * breaks it between its parts, never inside one */
void rp_esc_name(nl_buf *b, const char *s);
/* a path as the page shows it: HTML-escaped, read lexically ("a/./b/../c"
 * as "a/c"; "../" that leads it kept): a sweep given as dir/../dir, or an
 * experiment found beside it as dir/../../experiments/x.yaml */
void rp_esc_path(nl_buf *b, const char *path);
/* a two-cell table row: a name (rp_esc_name; in <code> with `code`) and
 * its text (rp_esc) */
void rp_name_row(nl_buf *b, const char *name, bool code, const char *text);
/* a JSON text as the page's data block <script type="application/json" id=ID>,
 * every "<" written \u003c so that no string in it can end the block */
void rp_script_json(nl_buf *html, const char *id, const nl_buf *json);
/* A sweep of more than RP_LAZY_RUNS runs gets a page that opens fast
 * (issue 115): its runs table's rows and each run's details are written
 * deflated (rp_script_deflated), and the page's script makes them when
 * they are asked for, the table a page of rows at a time; a smaller
 * sweep's are the page's own HTML, as ever */
#define RP_LAZY_RUNS 1000
bool rp_lazy(const rp_source *s);
/* content deflated (zlib's format) and base64'd, as the page's block
 * <script type="application/octet-stream" id=ID data-bytes=LENGTH>, which
 * the page's script inflates with DecompressionStream('deflate') */
nl_code rp_script_deflated(nl_buf *html, const char *id, const nl_buf *content, nl_error *err);
/* a number of a summary metric as the page shows it: percent for
 * accuracies and errors ("15.60"), else %.4g; "" for an empty value */
const char *rp_metric_text(const char *metric, const char *value, char *buf, size_t size);
bool rp_is_fraction(const char *metric);
/* the unit a metric's numbers are in on the page, named beside each: the
 * page's percent for accuracies and errors (a difference of two in
 * points), nats for a loss (a cross-entropy), bits for bits per token;
 * "" where the name does not say (steps, seconds, a probe's column) */
typedef struct {
    double scale;                   /* the file's number times scale is the page's */
    const char *value, *difference; /* a value's unit, and a difference's */
} rp_unit;
rp_unit rp_metric_unit(const char *metric);
void rp_page_head(rp_page *p, const char *title, int n_dirs);
void rp_page_tail(rp_page *p);
/* a line for the screen and for the section's warning box */
void rp_warn(rp_source *s, rp_page *p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rp_warnings_box(rp_page *p, const rp_source *s);

/* ---- source.c ---- */
nl_code rp_source_load(const char *dir, int index, const nl_report_options *opt, rp_source *s, nl_error *err);
/* the warnings reading left (rows cut short, unfinished runs), said on
 * the page and the screen */
void rp_source_warnings(rp_source *s, rp_page *p);
void rp_source_free(rp_source *s);
bool rp_run_finished(const rp_run *r);
const char *rp_status_name(const rp_run *r);

/* ---- tables.c ---- */
/* the varied keys with at least two values (the filter box's), into keys */
int rp_filter_keys(const nl_results *r, int *keys);
/* the summary.csv metrics some run has a value of (nl_sweep_metric_names' indexes) */
int rp_run_metrics(const rp_source *s, int *out);
/* the sweep's own metric, the one its tables lead with: a language model's
 * final_test_loss, a classifier's final_test_error */
const char *rp_primary_metric(const rp_source *s);
void rp_filters(rp_page *p, const rp_source *s);
nl_code rp_cells_table(rp_page *p, rp_source *s, nl_error *err);
nl_code rp_runs_table(rp_page *p, const rp_source *s, nl_error *err);

/* ---- figures.c ---- */
nl_code rp_figures(rp_page *p, rp_source *s, nl_error *err);
/* the figure of the directories compared (normlab compare's) of the
 * sources' runs as read */
nl_code rp_compare_figure(rp_page *p, const rp_source *src, int n_src, nl_error *err);
/* renders the scripts of rep as SVG and inlines each as a figure */
nl_code rp_inline_figures(rp_page *p, nl_plot_report *rep, rp_source *s, nl_error *err);
/* the directory tree at path removed (what the page's drawing left there) */
void rp_remove_tree(const char *path);

/* ---- curves.c ---- */
/* every run's metrics.csv as data the page's script draws */
nl_code rp_curves(rp_page *p, rp_source *s, nl_error *err);
/* the runs of the n directories src in one explorer (normlab report A B),
 * each run keyed by its directory (the key "sweep"): the view's ids are
 * c-explore and c-data, its fragment's names c.NAME */
nl_code rp_curves_together(rp_page *p, rp_source *src, int n, nl_error *err);

/* ---- verdicts.c ---- */
nl_code rp_verdicts(rp_page *p, rp_source *s, nl_error *err);

/* ---- search.c ---- */
/* dir is a search's (normlab search --out): it holds candidates.csv */
bool rp_is_search(const char *dir);
/* the whole page of the search at dir: its survival funnel, Pareto front
 * and the lineage of its winners (figures drawn in p->tmp) */
nl_code rp_search_page(rp_page *p, const char *dir, nl_error *err);

/* ---- details.c ---- */
void rp_description(rp_page *p, const rp_source *s);
void rp_grid(rp_page *p, const rp_source *s);
void rp_provenance(rp_page *p, const rp_source *s);
nl_code rp_configs(rp_page *p, const rp_source *s, nl_error *err);

#endif
