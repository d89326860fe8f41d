#include "model/spec.h"

#include <string.h>

#include "norm/registry.h"

void nl_model_spec_defaults(nl_model_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->arch = 0; /* mlp: the first line of arch/kinds.def (registry.c holds it there) */
    spec->in_c = 1;
    spec->in_h = 28;
    spec->in_w = 28;
    spec->classes = 10;
    spec->widths[0] = 256;
    spec->widths[1] = 256;
    spec->n_widths = 2;
    spec->convs_per_stage = 1;
    spec->blocks_per_stage = 1;
    spec->stem_width = 0;
    spec->activation = NL_ACT_RELU;
    spec->pool = NL_POOL_MAX;
    spec->layout = NL_LAYOUT_AUTO; /* the plan decides channel_block */
    nl_norm_spec_defaults(&spec->norm, NL_NORM_BATCH);
    spec->bias = -1;
    spec->init = NL_INIT_AUTO;
    spec->init_std = 0.01f;
    spec->fuse_relu_pool = true;
    spec->fuse_norm_relu = true;
    spec->fuse_residual_add = true;
    spec->optimizer_state_slots = 1;
    spec->weight_standardization = false;
    spec->weight_standardization_eps = 1e-6f; /* timm's StdConv2d */
    spec->param_norm =
        (nl_param_norm_spec){.kind = NL_PARAM_NORM_NONE, .eps = 1e-6f, .power_iterations = 1};
    spec->dropout_p = 0.0f;
    spec->dropout_placement = NL_DROPOUT_AFTER_NORM;
    /* a mean off 0 and 1 and a spread comparable to the normalized unit
     * variance: every step moves each channel's distribution */
    spec->norm_noise = (nl_norm_noise_spec){.distribution = NL_NOISE_NONE, .scale_mean = 1.5f,
                                            .scale_std = 0.5f, .shift_mean = 0.5f,
                                            .shift_std = 0.5f};
    spec->d_model = 128;
    spec->heads = 4;
    spec->layers = 4;
    spec->context = 64;
    spec->mlp_ratio = 4;
    spec->qk_norm = false;
    spec->gelu = NL_GELU_ERF;
    spec->tie_embeddings = true;
    spec->residual_scale = NL_RESIDUAL_SCALE_NONE;
    spec->residual_alpha = 1.0f;
    spec->residual_beta = 1.0f;
    spec->patch = 7;
    spec->token_pool = NL_TOKEN_POOL_CLS;
    spec->cell = NL_RNN_LSTM;
    spec->hidden = 128;
}
