/* Internal to core/plot: the CSV reader, the results of a run or sweep
 * directory, variants and series, and the gnuplot script helpers. */
#ifndef NL_PLOT_INTERNAL_H
#define NL_PLOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/flat.h"
#include "log/files.h"
#include "plot/report.h"
#include "plot/spec.h"
#include "plot/templates.h"

/* ---- CSV ---- */
typedef struct {
    int n_cols, n_rows;
    char **header;
    char ***rows; /* rows[r][c]; short rows are padded with "" */
    /* rows left out: a last line cut short (a writer killed mid-row) or a
     * line with more fields than the header; the first such line's number
     * (1 = the header) and why, for the warning that names them */
    int n_bad, first_bad_line;
    char bad_why[96];
    int cut_line; /* the last line's number when it is cut short; 0 otherwise */
    int blank_lines; /* skipped; gnuplot would read them as block breaks */
} pl_table;

nl_code pl_table_read(const char *path, pl_table *t, nl_error *err);
/* the same from text in memory; path names it in messages */
nl_code pl_table_parse(const char *text, const char *path, pl_table *t, nl_error *err);
/* "PATH line N: cut short (...), left out" into buf when t left rows out
 * (and how many more); "" otherwise */
const char *pl_table_problem(const pl_table *t, const char *path, char *buf, size_t size);
void pl_table_free(pl_table *t);
int pl_table_col(const pl_table *t, const char *name); /* -1 when absent */
/* " every ::0::K": what a script that reads the CSV file at `path` itself
 * adds to its plot clause to stop before a last line cut short (a gnuplot
 * column would take "0.4" of a cut "0.4123"); "" when the file is whole,
 * or holds blank lines (gnuplot's `every` counts points per block between
 * them, so no clause stops at one line; normlab's files have none) */
const char *pl_every_complete(const char *path, char *buf, size_t size);
/* The run names of a sweep's summary.csv (t's first column), which become
 * path components (SWEEP/runs/RUN, an export's LOGDIR/RUN): each an
 * identifier (base/ident.h), no two equal but for case. NL_ERR_DATA naming
 * the file, its row and the name otherwise. */
nl_code pl_check_run_names(const pl_table *t, const char *path, nl_error *err);
/* a cell as a number: NaN when empty or not a number */
double pl_num(const char *s);

/* ---- results ---- */
enum {
    PL_M_TEST_LOSS,
    PL_M_TEST_ACC,
    PL_M_TEST_ERR,
    PL_M_BEST_ACC,
    PL_M_TRAIN_LOSS,
    PL_M_TRAINMODE_ACC,
    PL_M_STEPS,
    PL_M_WALL,
    PL_M_SPS,
    PL_M_COUNT
};

typedef struct {
    char name[160];  /* run directory name */
    char dir[1200];  /* its path */
    char status[16]; /* ok, diverged, failed, pending */
    char reason[256]; /* why a single run stopped early ("interrupted at step 700 of 1500"), or "" */
    char **values;   /* one per key */
    double m[PL_M_COUNT];
} pl_run;

typedef struct {
    char dir[1024];
    bool sweep;
    int n_keys;
    char (*keys)[96];
    int n_runs;
    pl_run *runs;
    int seed_key;     /* index of the seed key, -1 when seeds do not vary */
    nl_flat config;   /* config.yaml of one run, for subtitles */
    bool have_config;
    /* labels name every key that tells variants apart, also those the
     * others determine (normlab compare: two runs differing in two settings
     * show both) */
    bool label_determined;
    /* what reading the results left out (cut-short or malformed CSV rows),
     * one line each, for the screen and the figures' subtitles */
    char warnings[2048];
    int n_warnings;
    /* what the figure's footnote must add ("" none): normlab compare's
     * account of settings its legend leaves out */
    char note[512];
    /* the filter that chose these runs, for the subtitle: "p=0.5" ("" none) */
    char where[512];
} pl_results;

nl_code pl_results_load(const char *dir, pl_results *r, nl_error *err);
/* adds a line to r->warnings (those past its size are counted only) */
void pl_warn(pl_results *r, const char *message);
/* warns of the rows each run's metrics.csv, trace.csv and series.csv
 * leave out (the files the plots read; the table reads summary.csv only) */
void pl_results_check_run_files(pl_results *r);
/* the key normlab compare adds when nothing else tells its directories
 * apart: the directory's name is the value */
#define PL_DIRECTORY_KEY "directory"
/* "seed", or a key ending in ".seed": what plots aggregate over */
bool pl_is_seed_key(const char *key);
/* The runs of `all` that `where` keeps, into `out` (its own copy, with the
 * representative config of a kept run; free with pl_results_free). A key
 * neither varied nor in the config, or a filter keeping no run, is an
 * NL_ERR_USAGE error naming the key and the values the runs have. */
nl_code pl_results_where(const pl_results *all, const nl_plot_where *where, pl_results *out, nl_error *err);
void pl_results_free(pl_results *r);
int pl_key(const pl_results *r, const char *key); /* -1 when not varied */
/* distinct values of a key, in first-appearance order (pointers into runs) */
int pl_distinct(const pl_results *r, int key, const char **out, int max);
bool pl_run_finished(const pl_run *run); /* ok or diverged */
/* a config value: the run's varied value, or the representative config's */
const char *pl_value(const pl_results *r, const pl_run *run, const char *key);

/* does the value of `key` follow from the values of `others` in every run? */
bool pl_determined(const pl_results *r, int key, const int *others, int n_others);
/* The keys that tell variants apart: the varied keys other than seed and
 * `fixed` (x axes), without those determined by the others (a derived
 * learning rate next to the batch size it scales with). */
int pl_group_keys(const pl_results *r, const int *fixed, int n_fixed, int *out);
/* "type=batch, batch_size=8" for run `run` over keys; "all runs" when none */
void pl_label(const pl_results *r, const pl_run *run, const int *keys, int n, char *buf, size_t size);
/* groups: runs with equal values of `keys` share an id; labels[id]; returns
 * the number of groups (in first-appearance order) */
int pl_groups(const pl_results *r, const int *keys, int n, int *group_of, char (*labels)[256], int max);

/* the subtitle: dataset, model, fixed training settings, seeds */
void pl_subtitle(const pl_results *r, char *buf, size_t size);
/* a series color: normalizers have their own, others cycle a palette */
const char *pl_color(const char *label, int index);

/* ---- scripts ---- */
typedef struct {
    nl_buf gp;
    char name[64];
    char plots_dir[1100];
    char note[2048];
    const char *kind;              /* its template's name: "curves" */
    const pl_templates *templates;
} pl_script;

/* a gnuplot double-quoted string (escaped) */
const char *pl_q(const char *s, char *buf, size_t size);
/* the script's start: its size, then plots/style.gp and the kind's template */
void pl_header(pl_script *s, const char *what, int width, int height);
nl_code pl_finish(pl_script *s, nl_error *err);
nl_code pl_write_data(const pl_script *s, const char *file, const nl_buf *data, nl_error *err);

/* the writers, one per kind: NL_ERR_USAGE with the reason when it does not apply */
nl_code pl_curves(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_batch_size(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_lr(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_heatmap(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_train_eval_gap(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_trace(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_final(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_grad_norms(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_step_norms(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_block_skip(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_switch_weights(const pl_results *r, const nl_plot_spec *spec, pl_script *s,
                          nl_error *err);
nl_code pl_attention_logits(const pl_results *r, const nl_plot_spec *spec, pl_script *s,
                            nl_error *err);

nl_code pl_weight_stats(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_variance_shift(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);
nl_code pl_signal_propagation(const pl_results *r, const nl_plot_spec *spec, pl_script *s,
                              nl_error *err);
nl_code pl_landscape(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);

typedef nl_code (*pl_writer)(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err);

/* a kind's row (core/plot/kinds.c): what the public API says of it, and
 * its writer */
typedef struct {
    nl_plot_kind_info info;
    pl_writer write;
} pl_kind_row;

const pl_kind_row *pl_kind_row_of(nl_plot_kind kind);

/* runs the kind's writer into rep->plots_dir and adds the output to rep;
 * name NULL: the spec's name, template_name NULL: the kind's template */
nl_code pl_write_one(const pl_results *r, const nl_plot_spec *spec, const char *name, const char *template_name,
                     const pl_templates *templates, nl_plot_report *rep, nl_error *err);

#endif
