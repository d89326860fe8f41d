/* The unit of a verdict's effect and interval (unit.h): one rule for the
 * screen, the forest plot and the report's claims table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "results/expr.h"
#include "verdict/unit.h"
#include "verdict/verdict.h"

nl_metric_unit nl_metric_unit_of(const char *metric)
{
    if (strstr(metric, "accuracy") || strstr(metric, "error"))
        return (nl_metric_unit){100, "%", "points"};
    if (strstr(metric, "bits"))
        return (nl_metric_unit){1, "bits", "bits"};
    if (strstr(metric, "loss"))
        return (nl_metric_unit){1, "nats", "nats"};
    return (nl_metric_unit){1, "", ""};
}

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

bool nl_method_is_iut(const char *method)
{
    return starts(method, NL_VERDICT_METHOD_IUT);
}

bool nl_method_is_cells(const char *method)
{
    return nl_method_is_iut(method) || starts(method, NL_VERDICT_METHOD_CELLS ":");
}

/* the cells a, b, c, d as distinct values times *k (an expression's unit) */
static double cells_times(void *k, const char *name)
{
    for (int c = 0; c < NL_CELL_COUNT; c++)
        if (!strcmp(name, nl_cell_names[c]))
            return *(const double *)k * (0.3 + 0.15 * c);
    return NAN;
}

/* how an expression's value changes when its cells' unit does (times
 * 100): 1, in their unit ((a - b) - (c - d)); 0, in none (a ratio); -1
 * neither (sqrt(a)) */
static int expr_degree(const nl_expr *e)
{
    double one = 1, hundred = 100;
    const double f1 = nl_expr_eval(e, cells_times, &one), f100 = nl_expr_eval(e, cells_times, &hundred);
    if (!isfinite(f1) || !isfinite(f100) || f1 == 0)
        return -1;
    if (fabs(f100 - 100 * f1) <= 1e-9 * fabs(100 * f1))
        return 1;
    return fabs(f100 - f1) <= 1e-9 * fabs(f1) ? 0 : -1;
}

nl_effect_unit nl_effect_unit_of(const char *method, const char *metric, const nl_claim *claim)
{
    nl_effect_unit u = {.kind = NL_UNIT_MEAN, .scale = 1};
    method = method ? method : "";
    if (nl_method_is_cells(method)) {
        u.kind = NL_UNIT_CELLS;
        nl_copy_string(u.unit, sizeof u.unit, "cells");
        return u;
    }
    const nl_effect_kind effect = claim ? claim->effect : NL_EFFECT_VALUE;
    const nl_metric_unit m = nl_metric_unit_of(metric ? metric : "");
    if (starts(method, NL_VERDICT_METHOD_COUNT) || effect == NL_EFFECT_COUNT) {
        u.kind = NL_UNIT_COUNT;
        nl_copy_string(u.unit, sizeof u.unit, "count");
    } else if (effect == NL_EFFECT_RATE || (claim && claim->metric.is_expr && nl_expr_is_share(&claim->metric_expr) &&
                                            (effect == NL_EFFECT_VALUE || effect == NL_EFFECT_DIFFERENCE))) {
        u.kind = NL_UNIT_RATE;
        u.scale = 100;
        nl_copy_string(u.unit, sizeof u.unit, "% of seeds");
    } else if (effect == NL_EFFECT_RATIO || (effect == NL_EFFECT_EXPR && expr_degree(&claim->effect_expr) == 0)) {
        nl_copy_string(u.unit, sizeof u.unit, "ratio");
    } else if (effect == NL_EFFECT_VALUE) {
        u.scale = m.scale;
        nl_copy_string(u.unit, sizeof u.unit, m.value);
    } else if (effect == NL_EFFECT_DIFFERENCE || expr_degree(&claim->effect_expr) == 1) {
        u.scale = m.scale;
        nl_copy_string(u.unit, sizeof u.unit, m.difference);
    }
    return u;
}

void nl_effect_unit_number(nl_buf *b, const nl_effect_unit *u, double v, bool with_unit)
{
    if (u->kind == NL_UNIT_COUNT || u->kind == NL_UNIT_CELLS)
        nl_buf_printf(b, "%.0f", v);
    else if (u->scale != 1)
        nl_buf_printf(b, "%.2f", v * u->scale);
    else
        nl_buf_printf(b, "%.4g", v);
    if (with_unit && u->unit[0] && u->kind != NL_UNIT_COUNT)
        nl_buf_printf(b, "%s%s", u->unit[0] == '%' ? "" : " ", u->unit);
}
