/* Where normlab verdict's runs come from, as one table whatever the
 * directory is: a sweep's summary.csv (run, the varied keys, status, the
 * metrics), run directories matched by a glob (their keys from each run's
 * summary.json and config.yaml), or the rows of CSV files (a benchmark's,
 * a table of models). Internal to core/verdict. */
#ifndef NL_VERDICT_SOURCE_H
#define NL_VERDICT_SOURCE_H

#include <stdbool.h>

#include "results/claims.h"
#include "results/results.h"

typedef struct {
    char dir[1024];
    nl_source_kind kind;
    /* run, the keys (columns 1 .. status_col - 1), status, then the metrics */
    nl_csv_table t;
    int status_col, seed_col;
    /* when its runs were first committed (verdict/registered.h); NULL:
     * not looked up (no registration asked for) */
    struct nl_first_runs *first_runs;
    /* each row's normalizer by its one name (config/norm_label.h), where
     * model.norm.type is a key; NULL otherwise */
    char (*norm)[48];
} vd_source;

/* Opens `dir` as `src` says (NULL or NL_SOURCE_SWEEP: its summary.csv).
 * `claims_path` names the claims file in errors about the source
 * (NL_ERR_CONFIG: no run or file matches, a key no run has). */
nl_code vd_source_open(vd_source *s, const char *dir, const nl_claim_source *src, const char *claims_path,
                       nl_error *err);
void vd_source_close(vd_source *s);

/* what pairs a row with rows of other cells: its seed, or where no key is
 * a seed, "-" in a sweep (one run per cell) and the run's name elsewhere
 * (a table's row, a run directory) */
const char *vd_source_seed(const vd_source *s, int row);

/* the path of `file` in row's run directory; false for a table's rows,
 * which have none */
bool vd_source_run_file(const vd_source *s, int row, const char *file, char *out, size_t size);
/* that file's text (malloc'd; NULL when unread), from the run's directory
 * or its sweep's pack (results/store.h); *path as vd_source_run_file's */
/* the same for a CSV file, read into *t (false: none read) */
bool vd_source_run_csv(const vd_source *s, int row, const char *file, char *path, size_t size, nl_csv_table *t);
char *vd_source_run_read(const vd_source *s, int row, const char *file, char *path, size_t size);

/* summary.csv's key column of `key` (between run and status), or -1 */
int vd_source_key_col(const vd_source *s, const char *key);
/* does row's value of sel's key match it: a formula's model.norm.type
 * by its one name and by its kind's name (expr), whichever the summary
 * holds (one written before issue 114 holds expr) */
bool vd_source_matches(const vd_source *s, int row, const nl_claim_select *sel);

#endif
