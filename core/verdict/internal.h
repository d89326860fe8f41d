/* Internal to core/verdict: the computation's context (the claims' sources
 * of runs), a claim's slice (its each: values, its each_row: value), the
 * metric of one run, and the statistics' decision. */
#ifndef NL_VERDICT_INTERNAL_H
#define NL_VERDICT_INTERNAL_H

#include "verdict/source.h"
#include "verdict/verdict.h"

#define VD_MAX_OTHERS 8
#define VD_MAX_SEEDS NL_VERDICT_MAX_SEEDS

typedef struct {
    const nl_claim_set *set;
    vd_source main;
    /* the other sweeps cells name with sweep: */
    vd_source others[VD_MAX_OTHERS];
    int n_others;
    const nl_verdict_options *opt;
    nl_error *err;
} vd_ctx;

/* what one claim of an each: (or each_row:) is about: the each: keys'
 * values, and the row value its run files are read at */
typedef struct {
    nl_claim_select each[NL_CLAIM_MAX_EACH];
    int n_each;
    nl_claim_select row;
    bool has_row;
} vd_slice;

/* "FILE:LINE:COL: claims[i].KEY: message", NL_ERR_CONFIG (line 0: the claim's) */
nl_code vd_claim_fail(const vd_ctx *C, const nl_claim *c, int line, int column, const char *key, const char *fmt,
                      ...) __attribute__((format(printf, 6, 7)));

/* the source a cell reads (this sweep's, or the one it names) */
const vd_source *vd_cell_source(const vd_ctx *C, const nl_claim_cell *cell);

/* a run's metric; NaN when it has none. expr: the compiled expression of
 * an is_expr metric. */
double vd_run_metric(const vd_ctx *C, const nl_claim *c, const vd_source *s, int row, const nl_claim_metric *m,
                     const nl_expr *expr, const vd_slice *slice);
/* a text value of the run's summary.json into text (NaN, "" when none); its number */
double vd_json_value(const vd_source *s, int row, const char *key, char *text, size_t size);
/* the claim's metrics exist in some run of each source they are read from */
nl_code vd_check_metrics(const vd_ctx *C, const nl_claim *c);
/* the distinct values of each_row:'s column in the metric file's rows of
 * the runs in `rows` (in order of first appearance), at most max */
int vd_row_values(const vd_ctx *C, const nl_claim *c, const vd_source *s, const int *rows, int n_rows,
                  nl_claim_select *out, int max);

/* the statistics of a mean-effect claim (x: per-unit effects), a rate
 * claim (x: 1 bad, 0 not), an exact count (x: 1 with the outcome) */
void vd_decide_mean(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v);
void vd_decide_rate(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v);
void vd_decide_count(const nl_claim *c, const double *x, int n, nl_verdict *v);
/* the verdict once Holm's correction has given p_holm and p_fail_holm;
 * alpha_power: the level the seeds for power 0.8 are computed at */
void vd_decide(const nl_claim *c, const nl_verdict_options *opt, double alpha_power, nl_verdict *v);
/* a cells: row from its cells' (v[first .. first + n - 1]): a count
 * described, or (cells: all) the intersection-union test's p's */
void vd_decide_cells(const nl_claim *c, const nl_verdict *cells, int n, nl_verdict *v);
/* a cells: all row's verdict once Holm has adjusted its p's */
void vd_decide_iut(const nl_claim *c, const nl_verdict_options *opt, double alpha_power, const nl_verdict *cells, int n,
                   nl_verdict *v);
/* whether a unit's effect x is on the claim's side (the outcome, for counts) */
bool vd_on_claimed_side(const nl_claim *c, double x);

#endif
