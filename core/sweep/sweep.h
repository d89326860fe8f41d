/* Sweeps: an experiment file (YAML) names a base config, fixed overrides, a
 * grid of values, derived values, exclusions and plots; the plan expands it
 * into runs, each a resolved and validated config with a stable directory
 * name; the summary gathers the runs' summary.json files into one CSV.
 *
 * Everything here is a pure function of the experiment file, the configs and
 * the run directories; running the runs (processes, signals, progress
 * events) is the scheduler's, sweep/sched.h. */
#ifndef NL_SWEEP_H
#define NL_SWEEP_H

#include <stdbool.h>

#include "base/status.h"
#include "log/files.h"
#include "plot/plot.h"
#include "results/claims.h"
#include "results/run_result.h"

/* where something was written in the experiment file (1-based) */
typedef struct {
    int line, column;
} nl_sweep_pos;

/* one fixed override, `set:` */
typedef struct {
    char key[96];
    char *value; /* YAML flow text */
    nl_sweep_pos pos, value_pos;
} nl_sweep_setting;

/* one grid key and its values, `grid:` */
typedef struct {
    char key[96];
    nl_sweep_pos pos;
    int n;
    char **values;        /* YAML flow text */
    nl_sweep_pos *value_pos;
} nl_sweep_axis;

#define NL_SWEEP_MAX_DERIVED 16
#define NL_SWEEP_MAX_SETS 128
#define NL_SWEEP_MAX_AXES 32

/* `derived:` key = base_value * (scale_with / base_at) ^ power */
typedef struct {
    char key[96];
    char scale_with[96];
    double base_value, base_at, power;
    bool round; /* to the nearest integer (for integer keys) */
    nl_sweep_pos pos;
} nl_sweep_derived;

/* one `exclude:` entry: a run matching all of its keys is skipped */
typedef struct {
    int n;
    nl_sweep_setting *items;
    nl_sweep_pos pos;
} nl_sweep_exclusion;

/* one entry of `formulas:`: a formula normalizer named once, that a grid,
 * set: or base value of model.norm.type names like a built-in */
#define NL_SWEEP_MAX_FORMULAS 64
typedef struct {
    char name[48];        /* model.norm.name's size */
    char *expr;           /* YAML flow text */
    char *params;         /* YAML flow text; NULL where none is given */
    nl_sweep_pos pos, expr_pos, params_pos;
} nl_sweep_formula;

/* `stop:`, early stopping (sweep/stop.h): the rule, its metric and its
 * check points; rule NL_STOP_NONE where the file has no stop: */
typedef enum { NL_STOP_NONE, NL_STOP_MEDIAN, NL_STOP_ASHA } nl_stop_rule;
typedef enum { NL_STOP_STEPS, NL_STOP_EPOCHS } nl_stop_unit;

typedef struct {
    nl_stop_rule rule;
    char metric[32];     /* a metrics.csv series: test_error, test_accuracy, test_loss, train_loss */
    bool maximize;       /* mode: max */
    nl_stop_unit unit;   /* the check points' unit: the runs' own (train.steps or train.epochs) */
    bool unit_given;
    long min_resource;   /* asha: the first rung; rungs min_resource * eta^k below a run's length */
    int eta;             /* asha: >= 2 */
    long grace, every;   /* median: check points grace, grace + every, ... below a run's length */
    int min_runs;        /* median: fewer other runs at a point stop nothing (3) */
    nl_sweep_pos pos, unit_pos, first_pos; /* stop:, unit:, min_resource: or grace: */
} nl_stop_spec;

typedef struct {
    nl_plot_spec spec;
    nl_sweep_pos pos;
    nl_sweep_pos where_pos[NL_PLOT_MAX_WHERE]; /* each where: key's */
} nl_sweep_plot;

typedef struct {
    char path[1024];      /* the experiment file */
    char name[128];       /* the sweep's name (default: the file name) */
    char base_path[1024]; /* base config file, "" when inline */
    char *base_text;      /* inline base: the experiment file with all but the
                             mapping blanked, so positions stay the same */
    nl_sweep_pos base_pos;
    nl_sweep_setting *sets;
    int n_sets;
    nl_sweep_axis *axes;
    int n_axes;
    nl_sweep_derived *derived;
    int n_derived;
    nl_sweep_exclusion *excludes;
    int n_excludes;
    /* formulas: (none in most files); base_formula: 1 + the formula the
     * base config's model.norm.type names, 0: none */
    nl_sweep_formula *formulas;
    int n_formulas;
    int base_formula;
    /* ... and then the base config's text with that value replaced by
     * expr, which the plan loads instead (NULL: the base as it is) */
    char *base_formula_text;
    int threads;          /* per run; 0: cores / jobs */
    /* the sweep's directory when its caller knows it before planning ("":
     * not known): the plan's check refuses a run whose init.from is the
     * directory it would write */
    char out_dir[1024];
    nl_sweep_plot *plots;
    int n_plots;
    /* the command line's --set assignments, in the order given, and its
     * --seeds (0: none): not owned (the caller's strings). The sweep
     * records them beside the experiment's path (NL_SWEEP_EXPERIMENT_FILE),
     * for they change the runs' configs: the command that resumes a sweep
     * repeats them, and one typed without them plans its finished runs as
     * changed */
    const char *const *cli_sets;
    int n_cli_sets;
    int cli_seeds;
    /* claims:, threshold_rule:, power: and source: (n 0 without claims:),
     * read from the same parse as the sections above */
    nl_claim_set *claims;
    nl_stop_spec stop;    /* stop: (rule NL_STOP_NONE: none) */
} nl_experiment;

/* Reads and checks an experiment file: unknown keys (with did-you-mean),
 * wrong types, empty grids, keys that are not config keys; every error
 * names file:line:col. Config values are checked later, by the plan. */
nl_code nl_experiment_load(const char *path, nl_experiment *out, nl_error *err);
/* the same from text; `path` names it and anchors a relative base. Where
 * !base_needed the base file need not exist: the text a sweep kept of its
 * experiment file (NL_SWEEP_EXPERIMENT_COPY), read for a page and planned
 * from never, with `path` the file it was read from when the sweep started
 * (a directory copied elsewhere keeps the experiment's text, not its base's) */
nl_code nl_experiment_parse_text(const char *text, const char *path, bool base_needed, nl_experiment *out,
                                 nl_error *err);
static inline nl_code nl_experiment_parse(const char *text, const char *path, nl_experiment *out, nl_error *err)
{
    return nl_experiment_parse_text(text, path, true, out, err);
}
void nl_experiment_free(nl_experiment *e);
/* the formula of formulas: that a model.norm.type value (YAML flow text)
 * names, or NULL */
const nl_sweep_formula *nl_experiment_formula(const nl_experiment *e, const char *value);
/* An experiment file's description (its text given): the leading comment
 * lines, "# " taken off, a paragraph's lines joined by spaces and a line
 * of "#" alone ending it; paragraphs apart by a blank line. Appended to
 * out; nothing where the file starts with no comment. */
void nl_experiment_description(const char *text, nl_buf *out);
/* a --set KEY=VALUE from the command line: a fixed setting for every run,
 * replacing the file's set: value of KEY; a grid or derived key is refused */
nl_code nl_experiment_set(nl_experiment *e, const char *assignment, nl_error *err);
/* --seeds N: the grid's seed: values become 1..N (normlab reproduce; a
 * claim needs more seeds than a reproduction first ran) */
nl_code nl_experiment_set_seeds(nl_experiment *e, int n, nl_error *err);
/* k where the grid's seed: values are exactly 1..k (the start of what
 * --seeds N makes), 0 where they are other seeds (a confirmation's fresh
 * ones) or the grid has no seed: key */
int nl_experiment_seed_prefix(const nl_experiment *e);

/* ---- the plan ---- */

typedef struct {
    int index;          /* among the runs, in grid order (shards split on it) */
    long combo;         /* index in the full grid product */
    char dir[160];      /* run directory name */
    int *choice;        /* value index per axis; -1: the key does not apply to this run */
    char **derived;     /* value text per derived key */
    char *config_text;  /* the resolved config (YAML) */
    char norm[48];      /* its normalizer's one name (config/norm_label.h): summary.csv's */
} nl_sweep_run;

typedef struct {
    long combo;
    char label[512];    /* "model.norm.type=instance, ..." */
    int exclusion;      /* which entry matched */
} nl_sweep_excluded;

#define NL_SWEEP_MAX_WARNINGS 16

typedef struct {
    nl_sweep_run *runs;
    int n_runs;
    nl_sweep_excluded *excluded;
    int n_excluded;
    long n_combos;
    /* combinations that are the same run as another once the grid keys that
     * do not apply to them are left out (they run once) */
    long n_coinciding;
    /* varied keys, the summary.csv columns: the grid keys, then the derived keys */
    int n_columns;
    char (*columns)[96];
    char warnings[NL_SWEEP_MAX_WARNINGS][512];
    int n_warnings;
} nl_sweep_plan;

/* a grid of more combinations than this is refused: every run's config is
 * loaded and checked before the first starts (about 1.5 ms and 5 KB a run,
 * so a million took half an hour and 5 GB before anything ran) */
#define NL_SWEEP_MAX_COMBOS 100000L
/* values of one grid key: each is compared with every other (given twice?) */
#define NL_SWEEP_MAX_VALUES 1000

/* Expands the grid, computes derived values, applies exclusions and loads
 * and validates every run's config (base + set + grid + derived) through
 * the config module. The first invalid run is an error naming the run. */
nl_code nl_sweep_plan_build(const nl_experiment *e, nl_sweep_plan *out, nl_error *err);
void nl_sweep_plan_free(nl_sweep_plan *p);

/* value text of column c (nl_sweep_plan.columns) for a run */
const char *nl_sweep_run_value(const nl_experiment *e, const nl_sweep_plan *p,
                               const nl_sweep_run *r, int column);
/* column c's value (its text, value) as summary.csv and --dry-run show it:
 * a formula by its one name (r->norm), never "expr" or its text */
const char *nl_sweep_run_formula(const nl_sweep_plan *p, const nl_sweep_run *r, int column, const char *value);
/* "model.norm.type=batch train.batch_size=8 ..." (grid, then derived; a
 * formula by its one name) */
void nl_sweep_run_overrides(const nl_experiment *e, const nl_sweep_plan *p, const nl_sweep_run *r,
                            char *buf, size_t size);

/* --shard I/N: I in 1..N */
typedef struct {
    int index, count;
} nl_shard;

nl_code nl_shard_parse(const char *text, nl_shard *out, nl_error *err);
static inline bool nl_shard_has(nl_shard s, int run_index)
{
    return s.count <= 1 || run_index % s.count == s.index - 1;
}

/* Keys (other than threads and name) whose values differ between the config
 * in an existing run directory and the one the sweep wants: "key: old ->
 * new; ..." in `diff`; returns the number of differing keys, or -1 when the
 * saved config cannot be read. */
int nl_sweep_config_diff(const char *saved_path, const char *wanted_text, char *diff, size_t size);
/* whether run_dir holds a finished run (ok or diverged) of exactly the
 * config wanted_text */
bool nl_sweep_finished_as(const char *run_dir, const char *wanted_text);

/* ---- results (the run results themselves: results/run_result.h) ---- */

/* summary.csv text for all runs of the plan (results[i] for plan->runs[i]) */
nl_code nl_sweep_summary_text(const nl_experiment *e, const nl_sweep_plan *p,
                              const nl_sweep_result *results, nl_buf *out, nl_error *err);
/* ... written atomically to <sweep_dir>/summary.csv */
nl_code nl_sweep_write_summary(const nl_experiment *e, const nl_sweep_plan *p,
                               const nl_sweep_result *results, const char *sweep_dir, nl_error *err);

/* The experiment file a sweep was run from, recorded in its directory
 * (NL_SWEEP_EXPERIMENT_FILE) when it runs: its path relative to the
 * directory, so that normlab report finds it whatever the directory is
 * named (--out) and wherever it is run from; and the command line's
 * --set and --seeds options it was started with (e->cli_sets, cli_seeds),
 * a line each, inside the directory so that a copy of it keeps them. The
 * experiment file's text is kept beside it (NL_SWEEP_EXPERIMENT_COPY), its
 * hash in the record: a copy there that is neither that text nor the one
 * the record's hash names (an earlier start's) is the user's, and is
 * refused (NL_ERR_USAGE), never replaced */
nl_code nl_sweep_write_experiment_record(const nl_experiment *e, const char *sweep_dir, nl_error *err);
/* the recorded file: false when the directory has no record; else true,
 * with *found whether a file is there (the relative path first, then the
 * absolute one) and path the one found, or the recorded path when neither is */
bool nl_sweep_recorded_experiment(const char *sweep_dir, char *path, size_t size, bool *found);
/* Which text of its experiment a reader of a sweep directory uses (normlab
 * report): the file at the recorded path while its text is the one the
 * record's hash names (or the record names none: older than the kept
 * copy); else the copy the sweep kept (NL_SWEEP_EXPERIMENT_COPY), so that
 * a directory copied or moved, or an experiment file edited since, still
 * reads as the sweep ran; else the file at the path, changed since. */
typedef enum {
    NL_SWEEP_EXP_NONE,    /* no record, or neither file there */
    NL_SWEEP_EXP_AT_PATH, /* the file at the recorded path, its text the sweep's */
    NL_SWEEP_EXP_KEPT,    /* the kept copy: the file at the path is gone or changed */
    NL_SWEEP_EXP_CHANGED, /* the file at the path, changed since, and no kept copy */
} nl_sweep_exp_from;

typedef struct {
    bool record_is_link;  /* the record is a symbolic link: not read (normlab never writes one) */
    bool recorded;        /* the directory has a record */
    char path[1024];      /* the recorded path (a relative one joined to the directory), there or not */
    bool path_found;      /* a file is at path */
    bool path_changed;    /* ... and its text is not the one the record's hash names */
    char copy[1200];      /* the kept copy, "" where the record names no hash or the copy is missing */
    bool copy_changed;    /* ... and its text is not the one the record's hash names (edited since) */
    nl_sweep_exp_from from;
    char read[1200];      /* the file to read, "" none (NL_SWEEP_EXP_NONE) */
} nl_sweep_experiment_source;

void nl_sweep_experiment_source_of(const char *sweep_dir, nl_sweep_experiment_source *out);
/* The command that resumes the sweep in sweep_dir, appended to out:
 * `normlab sweep EXPERIMENT --out SWEEP_DIR` and the options its record
 * holds, each word quoted for a POSIX shell where it needs it. experiment
 * is a path from the working directory (NULL or "": the word EXPERIMENT);
 * a relative one is given relative to it, as short as it resolves.
 * False when the directory records no options, not even none: a record
 * older than the options' (or none at all), whose sweep may have been
 * started with --set options the command then lacks */
bool nl_sweep_resume_command(const char *experiment, const char *sweep_dir, nl_buf *out);
/* The options the sweep in sweep_dir was started with that change its runs,
 * as its record holds them, appended to out as its resume command gives
 * them (" --set KEY=VALUE --seeds N", quoted for the shell); returns their
 * count (0: none, or no record) */
int nl_sweep_recorded_options(const char *sweep_dir, nl_buf *out);

/* Removes the temporary files (name.tmp.<pid>, see nl_write_atomic) in
 * `dir` whose writer is no longer alive on this machine: what a kill -9
 * during an atomic write leaves. Returns how many it removed. */
int nl_sweep_remove_stale_temps(const char *dir);

#endif
