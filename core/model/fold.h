/* Batch norm folded into the linear or convolution before it, for
 * inference. In eval mode a batch norm with running statistics is a fixed
 * per-channel affine map, so a weight layer followed by one computes
 *   y = gamma * (W x + b - mean) / sqrt(var + eps) + beta
 *     = W' x + b',  W' = W * s,  b' = (b - mean) * s + beta,
 *   s = gamma / sqrt(var + eps)        (per output channel)
 * The folded model is the same architecture built without normalizers and
 * with a bias on every weight layer; every parameter of the original is
 * carried over by name, the folded weights and biases replaced. */
#ifndef NL_MODEL_FOLD_H
#define NL_MODEL_FOLD_H

#include "model/model.h"

/* Checks that every normalizer layer of `m` can be folded (a batch norm
 * with running statistics whose input is a linear or convolution's output
 * read by nothing else, and no weight standardization) and writes the spec
 * of the model without them into *folded. An error (NL_ERR_USAGE) names the
 * first layer that cannot be folded and why; *n_folded counts the layers
 * that will be. */
nl_code nl_fold_bn_spec(const nl_model *m, nl_model_spec *folded, int *n_folded, nl_error *err);

/* Writes into `folded` (built from nl_fold_bn_spec's spec) the parameters
 * of `m` with its batch norms folded in. Host copies are taken here: not a
 * training-step path. */
nl_code nl_fold_bn_weights(const nl_model *m, nl_model *folded, nl_error *err);

#endif
