/* The results of a run or sweep directory as every reader takes them
 * (plots, tables, verdicts, reports, TensorBoard export): a sweep's
 * summary.csv with its varied keys, or a single run's summary.json, and
 * the variants the runs group into by those keys. */
#ifndef NL_RESULTS_RESULTS_H
#define NL_RESULTS_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/flat.h"
#include "results/table.h"

enum {
    NL_RESULTS_M_TEST_LOSS,
    NL_RESULTS_M_TEST_ACC,
    NL_RESULTS_M_TEST_ERR,
    NL_RESULTS_M_BEST_ACC,
    NL_RESULTS_M_TRAIN_LOSS,
    NL_RESULTS_M_TRAINMODE_ACC,
    NL_RESULTS_M_STEPS,
    NL_RESULTS_M_WALL,
    NL_RESULTS_M_SPS,
    NL_RESULTS_M_COUNT
};

/* What a reader already holds of a run's files, for the readers after it
 * (normlab report's page of several directories: its sections have read
 * every run's config.yaml and metrics.csv, which its figure of the
 * directories compared read again, a third of the page's time on two
 * 4,000-run sweeps, issue 118). Each NULL where not held (not read, or not
 * readable): a reader then reads the file itself, as without it. Borrowed:
 * the holder outlives every copy of the run. */
typedef struct {
    const nl_flat *config;        /* config.yaml, parsed */
    const nl_csv_table *metrics;  /* metrics.csv, as nl_run_csv_read gives it */
} nl_run_held;

typedef struct {
    char name[160];  /* run directory name */
    char dir[1200];  /* its path */
    char status[16]; /* ok, diverged, failed, pending */
    char reason[256]; /* why a single run stopped early ("interrupted at step 700 of 1500"), or "" */
    char **values;   /* one per key */
    double m[NL_RESULTS_M_COUNT];
    const nl_run_held *held; /* NULL: none (nl_results_load leaves it so) */
} nl_results_run;

typedef struct {
    char dir[1024];
    bool sweep;
    int n_keys;
    char (*keys)[96];
    int n_runs;
    nl_results_run *runs;
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
} nl_results;

/* A sweep directory's summary.csv read whole and checked: run first (its
 * column 0), then the varied keys, then status (*status_col), then the
 * metrics. The run names become path components (SWEEP/runs/RUN, an
 * export's LOGDIR/RUN): each an identifier (base/ident.h), no two equal but
 * for case. NL_ERR_DATA naming the file (its row and the name) otherwise. */
nl_code nl_sweep_summary_read(const char *dir, nl_csv_table *t, int *status_col, nl_error *err);

/* A filter on runs: only the runs whose resolved config has each listed
 * value are kept. Values compare as the config prints them, numbers by
 * value (0.5 matches 0.50), lists without regard to spaces. */
#define NL_RESULTS_MAX_FILTER 8
typedef struct {
    struct {
        char key[96];
        char value[96];
    } items[NL_RESULTS_MAX_FILTER];
    int n;
} nl_results_filter;

nl_code nl_results_load(const char *dir, nl_results *r, nl_error *err);
/* adds a line to r->warnings (those past its size are counted only) */
void nl_results_warn(nl_results *r, const char *message);
/* warns of the rows each run's metrics.csv, trace.csv and series.csv
 * leave out (the files the plots read; the table reads summary.csv only) */
void nl_results_check_run_files(nl_results *r);
/* the same, keeping each run's metrics.csv as read into metrics[i] (its
 * n_cols 0 where the run has none or it does not read): a reader that
 * reads it next (a page's curves) takes it from there */
void nl_results_check_run_files_keep(nl_results *r, nl_csv_table *metrics);
/* the key normlab compare adds when nothing else tells its directories
 * apart: the directory's name is the value */
#define NL_RESULTS_DIRECTORY_KEY "directory"
/* "seed", or a key ending in ".seed": what plots aggregate over */
bool nl_results_is_seed_key(const char *key);
/* The runs of `all` that `where` keeps, into `out` (its own copy, with the
 * representative config of a kept run; free with nl_results_free). A key
 * neither varied nor in the config, or a filter keeping no run, is an
 * NL_ERR_USAGE error naming the key and the values the runs have. */
nl_code nl_results_where(const nl_results *all, const nl_results_filter *where, nl_results *out,
                         nl_error *err);
void nl_results_free(nl_results *r);
int nl_results_key(const nl_results *r, const char *key); /* -1 when not varied */
/* distinct values of a key, in first-appearance order (pointers into runs) */
int nl_results_distinct(const nl_results *r, int key, const char **out, int max);
bool nl_results_run_finished(const nl_results_run *run); /* ok or diverged */
/* a config value: the run's varied value, or the representative config's */
const char *nl_results_value(const nl_results *r, const nl_results_run *run, const char *key);

/* does the value of `key` follow from the values of `others` in every run? */
bool nl_results_determined(const nl_results *r, int key, const int *others, int n_others);
/* The keys that tell variants apart: the varied keys other than seed and
 * `fixed` (x axes), without those determined by the others (a derived
 * learning rate next to the batch size it scales with). */
int nl_results_group_keys(const nl_results *r, const int *fixed, int n_fixed, int *out);
/* A sweep's formula normalizers by their one name (config/norm_label.h):
 * the cells of model.norm.type (the formula kind's), model.norm.expr and
 * model.norm.name hold each formula run's name (formula_names.c);
 * nl_results_load does it. */
void nl_results_name_formulas(nl_results *r);
/* model.norm.expr or name: a formula's text, whose cell holds its name
 * once loaded (a filter on it reads the runs' config.yaml) */
bool nl_results_formula_text_key(const char *key);
/* the one name of the formula of the run in run_dir (its config.yaml);
 * false where it cannot be read or the run has no formula */
bool nl_results_run_norm_label(const char *run_dir, char *label, size_t size);
/* A normalizer written as a formula (model.norm.type `type` a formula
 * kind, expr) is named by its one name (config/norm_label.h), from the
 * run's own config.yaml: the name into buf. False where the kind is not a
 * formula, or where the value is already the name (a loaded sweep's). */
bool nl_results_norm_formula_name(const nl_results *r, const nl_results_run *run, const char *type, char *buf,
                                  size_t size);
/* "type=batch, batch_size=8" for run `run` over keys; "all runs" when none */
void nl_results_label(const nl_results *r, const nl_results_run *run, const int *keys, int n, char *buf, size_t size);
/* groups: runs with equal values of `keys` share an id; labels[id]; returns
 * the number of groups (in first-appearance order) */
int nl_results_groups(const nl_results *r, const int *keys, int n, int *group_of, char (*labels)[256], int max);

#endif
