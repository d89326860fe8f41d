/* The series kinds' names (series.h): one row per kind. */
#include "results/series.h"

static const nl_name_entry series_entries[] = {
    [NL_SERIES_GRAD_NORM] = {"grad_norm", "L2 norm of a layer's parameter gradients, before clipping"},
    [NL_SERIES_MAX_LOGIT] = {"max_logit", "an attention layer's largest pre-softmax logit (scaled)"},
    [NL_SERIES_VARIANCE_SHIFT] = {"variance_shift", "a normalizer's running variance over the variance its input has on the test split in eval mode, mean over channels (Li et al. 2019)"},
    [NL_SERIES_WEIGHT_NORM] = {"weight_norm", "L2 norm of a weight tensor (not biases or normalization parameters) before the step"},
    [NL_SERIES_UPDATE_RATIO] = {"update_ratio", "a weight tensor's ||w_after - w_before|| / ||w_before|| over the step"},
    [NL_SERIES_EFFECTIVE_LR] = {"effective_lr", "update_ratio of a scale-invariant weight (its layer feeds batch statistics): the effective learning rate (van Laarhoven 2017)"},
    [NL_SERIES_SIGPROP_MEAN_SQ] = {"sigprop_mean_sq", "at initialization, a residual add's output (the residual stream after the block): per channel its mean over N*H*W squared, averaged over channels (Brock et al. 2021)"},
    [NL_SERIES_SIGPROP_VAR] = {"sigprop_var", "at initialization, a residual add's output: per channel its variance over N*H*W, averaged over channels"},
    [NL_SERIES_SIGPROP_NORM_IN_MEAN_SQ] = {"sigprop_norm_in_mean_sq", "at initialization, a normalizer's input: the average channel mean squared"},
    [NL_SERIES_SIGPROP_NORM_IN_VAR] = {"sigprop_norm_in_var", "at initialization, a normalizer's input: the average channel variance"},
    [NL_SERIES_LANDSCAPE_STEP_SIZE] = {"landscape_step_size", "a step size eta the landscape probe tried (name: its multiple of the learning rate)"},
    [NL_SERIES_LOSS_MIN] = {"loss_min", "the landscape probe's smallest loss L_B(w - eta g) over its step sizes, on the step's batch"},
    [NL_SERIES_LOSS_MAX] = {"loss_max", "the landscape probe's largest loss L_B(w - eta g) over its step sizes"},
    [NL_SERIES_GRAD_PRED_MIN] = {"grad_pred_min", "gradient predictiveness: the smallest ||grad L_B(w - eta g) - g|| over the step sizes"},
    [NL_SERIES_GRAD_PRED_MAX] = {"grad_pred_max", "gradient predictiveness: the largest ||grad L_B(w - eta g) - g|| over the step sizes"},
    [NL_SERIES_BETA_SMOOTHNESS] = {"beta_smoothness", "effective beta-smoothness: the largest ||grad L_B(w - eta g) - g|| / (eta ||g||) over the step sizes (Santurkar et al. 2018)"},
    [NL_SERIES_STEP_NORM] = {"step_norm", "a recurrent layer's hidden-state L2 norm ||h_t|| at time step t (the layer column), mean over the test split in eval mode"},
    [NL_SERIES_SIGMA_ESTIMATE] = {"sigma_estimate", "a spectrally normalized weight's sigma, the power-iteration estimate its forward divided by (u^T W v)"},
    [NL_SERIES_SIGMA_TRUE] = {"sigma_true", "a spectrally normalized weight's largest singular value, by power iteration to convergence on a host copy (nl_series_top_singular_value)"},
    [NL_SERIES_LOSS_SCALE] = {"loss_scale", "dynamic loss scaling's scale the step's loss gradient was multiplied by (GradScaler's get_scale() before update())"},
    [NL_SERIES_SKIPPED_STEPS] = {"skipped_steps", "steps skipped so far on an inf or NaN gradient, the logged one included"},
    [NL_SERIES_GRAD_ZERO_SHARE] = {"grad_zero_share", "share of the parameter gradients' elements exactly zero before unscaling (underflow; fp32 has exact zeros too, e.g. dead ReLUs)"},
    [NL_SERIES_SWITCH_MEAN_IN] = {"switch_mean_in", "a switchable normalizer's softmax weight of the instance statistics in its mean (train.log.switch_weights)"},
    [NL_SERIES_SWITCH_MEAN_LN] = {"switch_mean_ln", "a switchable normalizer's softmax weight of the layer statistics in its mean"},
    [NL_SERIES_SWITCH_MEAN_BN] = {"switch_mean_bn", "a switchable normalizer's softmax weight of the batch statistics in its mean"},
    [NL_SERIES_SWITCH_VAR_IN] = {"switch_var_in", "a switchable normalizer's softmax weight of the instance statistics in its variance"},
    [NL_SERIES_SWITCH_VAR_LN] = {"switch_var_ln", "a switchable normalizer's softmax weight of the layer statistics in its variance"},
    [NL_SERIES_SWITCH_VAR_BN] = {"switch_var_bn", "a switchable normalizer's softmax weight of the batch statistics in its variance"},
    [NL_SERIES_BLOCK_SKIP] = {"block_skip", "at the evaluations, per residual block: the test loss with the block's branches removed (its adds pass the shortcut alone) minus the whole model's (train.log.block_skip)"},
};
_Static_assert(sizeof series_entries / sizeof series_entries[0] == NL_SERIES_COUNT, "series");
const nl_name_table nl_series_names = {"series", series_entries, NL_SERIES_COUNT, 0};

const char *const nl_series_columns[NL_SERIES_COLUMN_COUNT] = {
    [NL_SERIES_COL_STEP] = "step",  [NL_SERIES_COL_SERIES] = "series", [NL_SERIES_COL_LAYER] = "layer",
    [NL_SERIES_COL_NAME] = "name",  [NL_SERIES_COL_VALUE] = "value",
};

int nl_series_col(const nl_csv_table *t, nl_series_column column)
{
    return nl_csv_table_col(t, nl_series_columns[column]);
}
