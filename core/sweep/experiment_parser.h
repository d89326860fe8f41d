/* The experiment file's parser state, shared by experiment.c and the
 * sections it hands to other files (experiment_formulas.c). */
#ifndef NL_SWEEP_EXPERIMENT_PARSER_H
#define NL_SWEEP_EXPERIMENT_PARSER_H

#include <stdbool.h>
#include <yaml.h>

#include "base/status.h"
#include "config/yamldoc.h"
#include "sweep/sweep.h"

typedef struct {
    const char *path;
    const char *text;
    nl_yaml_doc y;
    nl_experiment *e;
    nl_error *err;
    bool base_unchecked; /* a sweep's kept copy: its base file may not be there */
} nl_experiment_parser;

static inline nl_sweep_pos nl_experiment_pos_of(const yaml_node_t *n)
{
    return (nl_sweep_pos){nl_yaml_line(n), nl_yaml_column(n)};
}
/* a node as YAML flow text (malloc'd; NULL: out of memory) */
char *nl_experiment_flow_text(nl_experiment_parser *P, yaml_node_t *n);

/* formulas: (experiment_formulas.c), read after base: and before set: */
nl_code nl_experiment_parse_formulas(nl_experiment_parser *P, yaml_node_t *n);
/* stop: (stop_parse.c), the early stopping rule (sweep/stop.h) */
nl_code nl_experiment_parse_stop(nl_experiment_parser *P, yaml_node_t *n);
/* once the grid is read: every model.norm.type value of set: and grid: a
 * built-in or a formula; a formula chosen (there or in the base) without
 * model.norm.expr, params or name given by hand */
nl_code nl_experiment_check_formula_uses(nl_experiment_parser *P);

#endif
