/* The normalization design space's equivalence check (tests/norm_space.c),
 * shared by the CPU's suite (test_norm_space) and the CUDA parity suite
 * (test_cuda_parity, on a GPU or the emulated one). */
#ifndef NL_TEST_NORM_SPACE_H
#define NL_TEST_NORM_SPACE_H

#include "arch/arch.h"
#include "backend/backend.h"
#include "model/model.h"

/* one normalizer layer (model.norm as `norm`) on an input of ndim 2
 * (flattened), 3 ((N, T, D) given as (N, T, D, 1)) or 4, named "norm": the
 * graph builder of the equivalence check and of test_norm_golden */
typedef nl_norm_graph_ctx tu_norm_ctx; /* arch/arch.h's nl_norm_graph */
nl_act *tu_build_norm(nl_builder *b, nl_act *input, void *ctx);

/* Every normalizer whose registry row has a point (norm/registry.h) against
 * model.norm.type custom with the row's point as its keys, on `be`: built
 * through the model planner on each input the row accepts, with and
 * without affine (and running statistics, where the row makes them
 * optional), trained for three steps with the same inputs; the outputs,
 * dx, dgamma, dbeta, the running mean (and variance, where the point
 * divides by it) and the evaluation output agree to float rounding.
 * Returns how many rows it compared (the caller checks there are some). */
int tu_check_norm_space(nl_backend *be);

/* Every point of the space custom builds from the reductions the built-ins
 * take (each centred or not, each scale, training on the batch's or the
 * running statistics where they can be kept), on backend a and backend b:
 * the same outputs, gradients, running statistics and evaluation outputs.
 * Returns how many points it compared. */
int tu_check_norm_space_parity(nl_backend *a, nl_backend *b);

#endif
