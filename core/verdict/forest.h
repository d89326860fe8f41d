/* The forest plot of normlab verdict (core/verdict/forest.c). */
#ifndef NL_VERDICT_FOREST_H
#define NL_VERDICT_FOREST_H

#include "plot/report.h"
#include "verdict/verdict.h"

/* writes plots_dir/verdicts.gp (which must be made) and adds it to rep, for
 * nl_plot_render; into rep->work_dir instead where the caller set one (an
 * output set's, for nl_plot_stage) */
nl_code nl_verdict_forest(const nl_verdict_report *r, const char *plots_dir, nl_plot_report *rep, nl_error *err);

#endif
