/* What the backend's op table (backend_ops.def: formula_forward,
 * formula_backward) names of a formula's programs: the mode, and the plan
 * and io as incomplete types. backend.h, which every kernel set includes,
 * includes this and not formula_program.h, so that a change to the
 * programs' IR (an operation added for a new word) recompiles the formula
 * code and the backends that run programs, not every kernel. */
#ifndef NL_BACKEND_FORMULA_TYPES_H
#define NL_BACKEND_FORMULA_TYPES_H

/* what backend.h had through formula_program.h, kept for its includers */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    NL_FORMULA_TRAIN,      /* batch reductions, running statistics updated (momentum) */
    NL_FORMULA_TRAIN_KEEP, /* batch reductions, running statistics untouched */
    NL_FORMULA_EVAL,       /* running statistics in place of running(...) */
} nl_formula_mode;

/* backend/formula_program.h defines them */
typedef struct nl_formula_plan nl_formula_plan;
typedef struct nl_formula_io nl_formula_io;

#endif
