/* A gnuplot script and its data, as every figure writes them: plot's kinds
 * (plot/internal.h) and verdict's forest plot (verdict/forest.c). */
#ifndef NL_PLOT_SCRIPT_H
#define NL_PLOT_SCRIPT_H

#include <stddef.h>

#include "base/status.h"
#include "log/files.h"
#include "plot/templates.h"

typedef struct {
    nl_buf gp;
    char name[64];
    char plots_dir[1100];
    char note[2048];
    const char *kind;              /* its template's name: "curves" */
    const pl_templates *templates;
    /* the axes (bit 1 x, bit 2 y) a log axis gave explicit ticks
     * (pl_log_axis): a later panel's own axis sets them back to gnuplot's */
    unsigned explicit_tics;
    /* bit 1 x, 2 y: a log axis labelled its decades "%g" (1e+06, 100,
     * 0.01; gnuplot's own format wrote 1000000.00000 where the range began
     * below 1e-4): a later linear panel sets gnuplot's format back */
    unsigned log_format;
} pl_script;

/* a gnuplot double-quoted string (escaped) */
const char *pl_q(const char *s, char *buf, size_t size);
/* the script's start: its size, then plots/style.gp and the kind's template */
void pl_header(pl_script *s, const char *what, int width, int height);
nl_code pl_finish(pl_script *s, nl_error *err);
nl_code pl_write_data(const pl_script *s, const char *file, const nl_buf *data, nl_error *err);
/* the kind's data as NAME.csv (the script's name) beside its script; the
 * file's name into file */
nl_code pl_write_kind_data(const pl_script *s, const nl_buf *data, char *file, size_t size, nl_error *err);

/* a label for a cell of a data file gnuplot reads, or of a script's data block
 * (the one escaping function for both): no commas, quotes, backquotes or
 * control bytes, well-formed UTF-8 */
const char *pl_cell_text(const char *s, char *buf, size_t size);

/* " every ::0::K": what a script that reads the CSV file at `path` itself
 * adds to its plot clause to stop before a last line cut short (a gnuplot
 * column would take "0.4" of a cut "0.4123"); "" when the file is whole,
 * or holds blank lines (gnuplot's `every` counts points per block between
 * them, so no clause stops at one line; normlab's files have none) */
const char *pl_every_complete(const char *path, char *buf, size_t size);

#endif
