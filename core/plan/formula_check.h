/* The finite-difference check of a formula normalizer's derived gradients
 * on a model's planned graph (formula_check.c), which `normlab validate`
 * runs: above the plan, whose passes rebuild each site as the run builds
 * it. */
#ifndef NL_PLAN_FORMULA_CHECK_H
#define NL_PLAN_FORMULA_CHECK_H

#include <stddef.h>

#include "backend/backend.h"
#include "model/model.h"

/* The finite-difference check of a formula normalizer (model.norm.type
 * expr) on the model's planned graph (plan.h: nl_plan_graph): for each distinct site of its expr layers (the input's
 * channels, positions and layout, what the fusion pass took into the
 * layer, its nodes' storage types), the layer rebuilt alone as the plan
 * gives it (a channel-blocked input written by an identity 1x1
 * convolution, the fused ReLU or residual add and ReLU through the
 * plan's own passes) at a batch of 3, and central differences of a
 * random projection of its output, Richardson-extrapolated from steps h
 * and 2h (h = 1e-2 * max(1, |v|)), against the derived gradients of the
 * input and every parameter, at sampled entries, in training mode with
 * the batch's statistics and the running ones untouched. */
typedef struct {
    char layer[64]; /* the first layer of the site */
    nl_shape in;    /* its input: shape, layout (block) and storage types */
    char fused[16]; /* what the fusion pass took into it: "", "relu", "add+relu" */
    double worst;      /* max |fd - derived| / max |derived| over the samples
                        * not at a kink; NaN where a value was not finite */
    char worst_of[32]; /* x, or the parameter */
    /* "" or the first value found not finite (NaN or infinity): "the
     * output", "the derived gradient dx", "the central difference of dx"
     * (issue 118: a NaN error read as none) */
    char nonfinite[64];
    /* samples past the bound that lie within the step of a kink (a tie of
     * relu, abs, min or max): the difference quotients change with the
     * step, or the one-sided ones disagree with the derived gradient
     * between them; not counted in worst */
    int kinks, samples;
    char kink_of[32]; /* the first tensor with one */
    /* "" or why the check does not apply (a stop-gradient such as detach
     * makes the derived gradients differ from central differences by
     * design); nothing was compared */
    char skipped[160];
} nl_formula_check;
/* the bound `normlab validate` holds the worst error to: a 1 % error in a
 * derivative is past it (tests/test_gradcheck.c plants one); the
 * extrapolated differences in float leave about 2e-4 */
#define NL_FORMULA_CHECK_BOUND 4e-3
/* what the tests plant: every derived gradient scaled by 1 +
 * planted_error before it is compared, and the input's values (cycled)
 * in place of random ones where x is given */
typedef struct {
    double planted_error;
    const float *x;
    size_t x_count;
} nl_formula_check_hooks;
nl_code nl_formula_gradcheck(const nl_model *planned, nl_backend *be,
                             const nl_formula_check_hooks *hooks, nl_formula_check *checks,
                             int max_checks, int *n_checks, nl_error *err);

#endif
