/* The one name a run's normalizer goes by (issue 114): in tables and
 * summary.csv, claims and verdicts, run directory names, legends, the
 * report, TensorBoard and `normlab show`. A built-in is its
 * model.norm.type ("batch"); a formula (the kind whose row has
 * NL_NORM_KEY_FORMULA, expr) its model.norm.name, or without one
 * "expr-" and eight hex digits of a hash (32-bit FNV-1a) of its formula
 * text, spaces left out (nl_norm_default_label): stable for the same formula,
 * and two formulas without names are told apart. */
#ifndef NL_CONFIG_NORM_LABEL_H
#define NL_CONFIG_NORM_LABEL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/flat.h"

/* a name (model.norm.name's size, its NUL included) */
#define NL_NORM_LABEL_SIZE 48

/* Is `type` (a model.norm.type value, quoted or not) the formula kind? */
bool nl_norm_type_is_formula(const char *type);
/* the formula kind's own name ("expr") */
const char *nl_norm_formula_type(void);
/* Does a run whose normalizer is shown as `label` (a model.norm.type
 * value or a label from this file) have a formula? True for the formula
 * kind's own name and for any name that is no built-in's. */
bool nl_norm_label_is_formula(const char *label);
/* "expr-1a2b3c4d": the name of a formula given none (expr as written,
 * quoted or not). The formula is its expr: its params (starting values)
 * are settings of it, as its eps and groups are. */
void nl_norm_default_label(const char *expr, char *buf, size_t size);
/* The label from the keys' values (quoted or not; name NULL where not
 * set): type itself for a built-in, else the name, else the default. */
void nl_norm_label(const char *type, const char *name, const char *expr, char *buf, size_t size);
/* The same from a config's keys (a resolved config.yaml as nl_flat);
 * false where it has no model.norm.type. */
bool nl_norm_label_of(const nl_flat *cfg, char *buf, size_t size);
/* The same of a loaded config */
void nl_norm_label_of_config(const nl_config *cfg, char *buf, size_t size);

#endif
