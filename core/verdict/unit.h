/* The unit of a verdict's effect and interval, one rule for normlab
 * verdict's screen, its forest plot and normlab report's claims table
 * (issue 83): read from the row's method (a claim over cells counts cells,
 * an exact count its units), its expectation (a rate is a share of seeds,
 * a ratio or an expression of degree 0 has none) and its metric (points
 * for a difference of errors or accuracies, which verdicts.csv holds as
 * fractions, percent for one of them; nats for losses). verdicts.csv and
 * verdicts.json keep the file's units: only what is shown is scaled. */
#ifndef NL_VERDICT_UNIT_H
#define NL_VERDICT_UNIT_H

#include <stdbool.h>
#include <stddef.h>

#include "log/files.h"
#include "results/claims.h"

/* the unit a metric's numbers are shown in: accuracies and errors in
 * percent (a difference of two in points), losses in nats, bits per token
 * in bits; "" where the name does not say (steps, seconds, a probe's column) */
typedef struct {
    double scale;                   /* the file's number times scale is the shown one */
    const char *value, *difference; /* a value's unit, and a difference's */
} nl_metric_unit;
nl_metric_unit nl_metric_unit_of(const char *metric);

/* what a row's effect and interval are */
typedef enum {
    NL_UNIT_MEAN,  /* a mean effect over seeds, in its metric's unit */
    NL_UNIT_RATE,  /* the share of seeds with the outcome */
    NL_UNIT_COUNT, /* an exact count of units (seeds, rows) */
    NL_UNIT_CELLS, /* a claim over cells: its cells leaning, holding, not failing */
} nl_unit_kind;

typedef struct {
    nl_unit_kind kind;
    double scale;  /* the file's number times scale is the shown one (1 for counts and cells) */
    char unit[48]; /* named beside each number; "" where the metric's name does not say */
} nl_effect_unit;

/* a row's unit: method, its method column (verdict.h's NL_VERDICT_METHOD_*
 * forms); metric, the metric's name (the column where a run's file is
 * named); claim, its expectation parsed, or NULL where it did not parse */
nl_effect_unit nl_effect_unit_of(const char *method, const char *metric, const nl_claim *claim);

/* a number of the file's in unit u as shown: counts whole, a scaled unit
 * to 2 decimals, else %.4g; with_unit: the unit beside it (none after a
 * bare count, whose units the caller names) */
void nl_effect_unit_number(nl_buf *b, const nl_effect_unit *u, double v, bool with_unit);

/* whether method says the row is over a claim's cells, and whether by the
 * intersection-union test (which expects every cell to hold) */
bool nl_method_is_cells(const char *method);
bool nl_method_is_iut(const char *method);

#endif
