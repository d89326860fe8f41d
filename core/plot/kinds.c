/* The plot kinds, one row each. Adding a kind: its value in nl_plot_kind
 * (plot.h), its row here, its writer (core/plot/kind_<name>.c), its
 * template (plots/<name>.gp) and a case in tests/test_plot.c. */
#include <stdio.h>
#include <string.h>

#include "plot/internal.h"

#define FINAL_METRICS &nl_plot_final_metric_names, "test_error"

static const pl_kind_row rows[] = {
    [NL_PLOT_CURVES] = {{{"curves", "training loss and a test metric against step, mean over seeds with a min-max band"},
                         NL_PLOT_TAKES_SPLIT, &nl_plot_curve_metric_names, "error", {NULL, NULL}, false},
                        pl_curves},
    [NL_PLOT_BATCH_SIZE] = {{{"batch_size", "final test error against batch size (log2), a series per normalizer"},
                             0, FINAL_METRICS, {"train.batch_size", NULL}, false},
                            pl_batch_size},
    [NL_PLOT_LR] = {{{"lr", "final test error or loss against learning rate, divergence marked, tolerated ranges"},
                     NL_PLOT_TAKES_THRESHOLD, FINAL_METRICS, {"train.optimizer.lr", NULL}, false},
                    pl_lr},
    [NL_PLOT_HEATMAP] = {{{"heatmap", "final test error over learning rate x batch size, a panel per normalizer"},
                          0, FINAL_METRICS, {"train.batch_size", "train.optimizer.lr"}, false},
                         pl_heatmap},
    [NL_PLOT_TRAIN_EVAL_GAP] = {{{"train_eval_gap", "batch norm: eval-mode vs train-mode test accuracy"},
                                 0, NULL, NULL, {"train.batch_size", NULL}, false},
                                pl_train_eval_gap},
    [NL_PLOT_TRACE] = {{{"trace", "activation percentiles over training (trace.csv)"},
                        0, NULL, NULL, {NULL, NULL}, false},
                       pl_trace},
    [NL_PLOT_FINAL] = {{{"final", "a final metric against any swept key (x), colour and panel keys selectable"},
                        NL_PLOT_TAKES_X | NL_PLOT_TAKES_COLOR | NL_PLOT_TAKES_PANEL, FINAL_METRICS, {NULL, NULL},
                        true},
                       pl_final},
    [NL_PLOT_GRAD_NORMS] = {{{"grad_norms", "each layer's gradient norm at step 0, input to output (series.csv)"},
                             NL_PLOT_TAKES_COLOR, NULL, NULL, {NULL, NULL}, false},
                            pl_grad_norms},
    [NL_PLOT_ATTENTION_LOGITS] = {{{"attention_logits", "the largest attention logit against step (series.csv)"},
                                   NL_PLOT_TAKES_COLOR | NL_PLOT_TAKES_PANEL, NULL, NULL, {NULL, NULL}, false},
                                  pl_attention_logits},
    [NL_PLOT_WEIGHT_STATS] = {{{"weight_stats", "a weight tensor's update ratio, norm or effective learning rate against step, per layer (series.csv)"},
                               NL_PLOT_TAKES_COLOR, &nl_plot_weight_stat_names, "update_ratio", {NULL, NULL}, false},
                              pl_weight_stats},
    [NL_PLOT_VARIANCE_SHIFT] = {{{"variance_shift", "each batch norm's running over test-time variance against step, per layer (series.csv)"},
                                 NL_PLOT_TAKES_COLOR, NULL, NULL, {NULL, NULL}, false},
                                pl_variance_shift},
    [NL_PLOT_SIGNAL_PROPAGATION] = {{{"signal_propagation", "at initialization, the average channel mean^2 and variance of the residual stream against depth, log y (series.csv)"},
                                     NL_PLOT_TAKES_COLOR, NULL, NULL, {NULL, NULL}, false},
                                    pl_signal_propagation},
    [NL_PLOT_LANDSCAPE] = {{{"landscape", "loss and gradient-predictiveness bands along the gradient and beta-smoothness against step (series.csv; Santurkar et al. 2018)"},
                            NL_PLOT_TAKES_COLOR, NULL, NULL, {NULL, NULL}, false},
                           pl_landscape},
    [NL_PLOT_STEP_NORMS] = {{{"step_norms", "a recurrent layer's hidden-state norm against the time step at the last evaluation, a line per variant (series.csv)"},
                             NL_PLOT_TAKES_COLOR, NULL, NULL, {NULL, NULL}, false},
                            pl_step_norms},
    [NL_PLOT_BLOCK_SKIP] = {{{"block_skip", "the test loss's increase when one residual block is removed, against the block's depth at the last evaluation, a line per variant (series.csv)"},
                             NL_PLOT_TAKES_COLOR, NULL, NULL, {NULL, NULL}, false},
                            pl_block_skip},
    [NL_PLOT_SWITCH_WEIGHTS] = {{{"switch_weights", "switchable normalization's softmax weights of instance, layer and batch statistics in the mean and the variance against step, a panel per variant or panel key value (series.csv)"},
                                 NL_PLOT_TAKES_PANEL, NULL, NULL, {NULL, NULL}, false},
                                pl_switch_weights},
};
_Static_assert(sizeof rows / sizeof rows[0] == NL_PLOT_KIND_COUNT, "one row per plot kind");

const nl_name_table nl_plot_kind_names = {"plot kind", &rows[0].info.entry, NL_PLOT_KIND_COUNT, sizeof rows[0]};

const pl_kind_row *pl_kind_row_of(nl_plot_kind kind) { return &rows[kind]; }

const nl_plot_kind_info *nl_plot_kind_info_of(nl_plot_kind kind) { return &rows[kind].info; }

const char *nl_plot_kinds_taking(unsigned option, char *buf, size_t size)
{
    int n = 0, seen = 0;
    for (int k = 0; k < NL_PLOT_KIND_COUNT; k++)
        n += (rows[k].info.takes & option) != 0;
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < NL_PLOT_KIND_COUNT && used < size; k++) {
        if (!(rows[k].info.takes & option))
            continue;
        seen++;
        const char *sep = seen == 1 ? "" : seen == n ? " and " : ", ";
        used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, rows[k].info.entry.name);
    }
    return buf;
}
