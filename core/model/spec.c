#include "model/spec.h"

#include <string.h>

#include "arch/registry.h"
#include "norm/registry.h"

void nl_norm_spec_defaults(nl_norm_spec *norm, nl_norm_kind kind)
{
    memset(norm, 0, sizeof *norm);
    norm->kind = kind;
    norm->placement = NL_PLACE_BEFORE;
    norm->groups = nl_norm_info_of(kind)->groups_default ? nl_norm_info_of(kind)->groups_default
                                                         : NL_NORM_DEFAULT_GROUPS;
    norm->eps = 1e-5f;
    norm->momentum = 0.1f;
    norm->cumulative = false;
    norm->affine = true;
    /* PyTorch: BatchNorm tracks running statistics, InstanceNorm does not */
    norm->track_running_stats = nl_norm_info_of(kind)->running_stats_default;
    /* the paper's limits; its ramps (5k-40k and 5k-25k of ~130k steps)
     * scaled to the few thousand steps of a run here */
    norm->r_max = 3.0f;
    norm->d_max = 5.0f;
    norm->r_max_ramp[0] = 500;
    norm->r_max_ramp[1] = 4000;
    norm->n_r_max_ramp = 2;
    norm->d_max_ramp[0] = 500;
    norm->d_max_ramp[1] = 2500;
    norm->n_d_max_ramp = 2;
    norm->alpha_init = 0.5f; /* Zhu et al. 2025's default */
    norm->cell_state = true;
    norm->step_stats = true;
    /* a custom normalizer is layer norm unless told otherwise: a sample's
     * features (reduce not given), centred, divided by the standard
     * deviation, statistics of the values at hand in training and in
     * evaluation (config/resolve.c makes evaluation's the running averages
     * where the configured reduction includes the batch). A kind without
     * these keys keeps what its row says, and reads eval_stats as running
     * for the rules on the keys every kind has (momentum's) */
    norm->center = true;
    norm->scale = NL_SCALE_STD;
    norm->train_stats = NL_STATS_BATCH;
    norm->eval_stats = (nl_norm_info_of(kind)->keys & NL_NORM_KEY_EVAL_STATS) ? NL_STATS_BATCH
                                                                               : NL_STATS_RUNNING;
}

void nl_model_spec_defaults(nl_model_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->arch = NL_ARCH_MLP;
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
    nl_norm_spec_defaults(&spec->norm, NL_NORM_BATCH);
    spec->bias = -1;
    spec->init = NL_INIT_AUTO;
    spec->init_std = 0.01f;
    spec->fuse_relu_pool = true;
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

bool nl_model_spec_tokens(const nl_model_spec *spec)
{
    return (nl_arch_info_of(spec->arch)->inputs & NL_ARCH_IN_TOKENS) != 0;
}

nl_placement nl_model_spec_default_placement(const nl_model_spec *spec)
{
    return nl_arch_info_of(spec->arch)->default_placement;
}
