/* The residual scales of the transformer blocks (model.residual_scale), one
 * row each: how much of the shortcut each add keeps (alpha) and how the
 * branches' weights start (beta), for the post-norm blocks of the lm and
 * the vit (the schema refuses the key elsewhere).
 *
 * DeepNorm (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000
 * Layers"): x <- LN(alpha * x + f(x)), and the weights of the MLP (fc1,
 * fc2), the attention's value and output projection start with their
 * std times beta (q and k keep theirs). The paper derives alpha and beta
 * from how much one update may change the model's output, per
 * architecture: an encoder-only stack of N blocks has alpha = (2N)^(1/4),
 * beta = (8N)^(-1/4); a decoder-only stack of M blocks the same in M;
 * only the encoder-decoder's differ, where the decoder's cross-attention
 * adds a third branch per block and the encoder's updates reach the
 * decoder. The lm is decoder-only (causal attention, M = model.layers)
 * and the vit encoder-only (N = model.layers): both a single stack of
 * blocks of two branches, so one formula serves both. beta multiplies the
 * std the architecture gives the weight (init auto: GPT-2's 0.02; init
 * xavier: Glorot normal, the paper's xavier_normal_ with gain beta). */
#include <math.h>
#include <stddef.h>

#include "arch/registry.h"

typedef struct {
    nl_name_entry id; /* first: nl_residual_scale_names walks the rows as its entries */
    /* alpha and beta of the spec's blocks */
    void (*coefficients)(const nl_model_spec *spec, float *alpha, float *beta);
} residual_scale_row;

static void plain(const nl_model_spec *spec, float *alpha, float *beta)
{
    (void)spec;
    *alpha = *beta = 1.0f;
}

static void deepnorm(const nl_model_spec *spec, float *alpha, float *beta)
{
    const double blocks = spec->layers > 0 ? spec->layers : 1;
    *alpha = (float)pow(2.0 * blocks, 0.25);
    *beta = (float)pow(8.0 * blocks, -0.25);
}

static void explicit_values(const nl_model_spec *spec, float *alpha, float *beta)
{
    *alpha = spec->residual_alpha;
    *beta = spec->residual_beta;
}

static const residual_scale_row rows[] = {
    [NL_RESIDUAL_SCALE_NONE] = {{"none", "x + f(x) and the architecture's initialization"},
                                plain},
    [NL_RESIDUAL_SCALE_DEEPNORM] = {{"deepnorm", "DeepNorm (Wang et al. 2022): norm(alpha * x + "
                                                 "f(x)), value/output projection and MLP weights' "
                                                 "init std times beta; alpha = (2L)^(1/4), beta = "
                                                 "(8L)^(-1/4), L = model.layers"},
                                    deepnorm},
    [NL_RESIDUAL_SCALE_EXPLICIT] = {{"explicit", "DeepNorm's form with alpha = "
                                                 "model.residual_alpha, beta = "
                                                 "model.residual_beta"},
                                    explicit_values},
};
_Static_assert(sizeof rows / sizeof rows[0] == NL_RESIDUAL_SCALE_COUNT,
               "one row per nl_residual_scale");
_Static_assert(offsetof(residual_scale_row, id) == 0,
               "nl_residual_scale_names reads the rows as name entries");

const nl_name_table nl_residual_scale_names = {"residual scale", &rows[0].id,
                                               NL_RESIDUAL_SCALE_COUNT, sizeof rows[0]};

void nl_arch_residual_coefficients(const nl_model_spec *spec, float *alpha, float *beta)
{
    rows[spec->residual_scale].coefficients(spec, alpha, beta);
}
