/* What writing plots reports: the scripts written, the kinds skipped and
 * why, what rendering found. A leaf below plot.h and the plot internals
 * (pl_write_one adds to it). */
#ifndef NL_PLOT_REPORT_H
#define NL_PLOT_REPORT_H

#include <stdbool.h>

#include "plot/spec.h"

#define NL_PLOT_MAX_OUTPUTS 32

typedef struct {
    char name[64];      /* base name: plots/<name>.gp, .png, .svg */
    char script[1200];  /* path of the script */
    char note[2048];    /* what the plot found, for stdout ("" none) */
    bool rendered;
} nl_plot_output;

typedef struct {
    nl_plot_output items[NL_PLOT_MAX_OUTPUTS];
    int n;
    char plots_dir[1100];
    /* where the files are written and drawn, when not plots_dir itself: a
     * private directory of an output set (nl_outset_work_dir) beside
     * plots_dir, whose files nl_plot_stage stages as plots_dir's ("" none) */
    char work_dir[1100];
    /* CSV lines the plots left out, one a line: "PATH line N: the last line
     * is cut short (...); left out" ("" none); the figures say so too */
    char warnings[2048];
    /* kinds left out in automatic mode, and why ("lr: the learning rate does not vary") */
    char skipped[NL_PLOT_KIND_COUNT][256];
    int n_skipped;
    /* rendering */
    bool gnuplot_missing;
    bool pdf_missing;         /* PDF asked for, but this gnuplot has no pdfcairo terminal: none written */
    char gnuplot[1024];       /* path of the gnuplot binary used */
    char messages[4096];      /* warnings gnuplot printed */
} nl_plot_report;

#endif
