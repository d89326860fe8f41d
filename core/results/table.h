/* A CSV file read whole: the header and the rows, and what was left out
 * (a last line cut short by a writer killed mid-row, a malformed line).
 * Every reader of normlab's CSV files (metrics.csv, series.csv, trace.csv,
 * summary.csv) reads them through it. */
#ifndef NL_RESULTS_TABLE_H
#define NL_RESULTS_TABLE_H

#include <stddef.h>

#include "base/status.h"

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
} nl_csv_table;

nl_code nl_csv_table_read(const char *path, nl_csv_table *t, nl_error *err);
/* the same from text in memory; path names it in messages */
nl_code nl_csv_table_parse(const char *text, const char *path, nl_csv_table *t, nl_error *err);
/* "PATH line N: cut short (...), left out" into buf when t left rows out
 * (and how many more); "" otherwise */
const char *nl_csv_table_problem(const nl_csv_table *t, const char *path, char *buf, size_t size);
void nl_csv_table_free(nl_csv_table *t);
int nl_csv_table_col(const nl_csv_table *t, const char *name); /* -1 when absent */
/* a cell as a number: NaN when empty or not a number */
double nl_csv_num(const char *s);

#endif
