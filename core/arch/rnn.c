/* rnn and rnn_lm: stacked recurrent layers (PyTorch's nn.LSTM or nn.GRU,
 * model.cell) of model.hidden units, model.layers of them, each reading
 * the whole sequence of the one below, trained by backpropagation through
 * every step.
 *
 * rnn reads images row by row: an (N, C, H, W) image is the sequence of its
 * C*H rows of W pixels (sequential Fashion-MNIST: 28 steps of 28 pixels),
 * a view of the same memory; a linear classifier reads the top layer's
 * last hidden state. With model.permute_pixels the pixels are first put in
 * one fixed random order (the permuted task), the same in every run.
 *
 * rnn_lm reads token ids: a token embedding (no position table: the
 * recurrence knows the order) of model.hidden values, the recurrent layers,
 * and at every step a linear head to the vocabulary's next-token logits, as
 * the lm.
 *
 * Placement none builds the plain cell whatever model.norm names (as the
 * lm's none). Placement in_cell puts the normalizer inside the cell at
 * every step (layers/layer.h, nl_rnn_norm_layer): on the input and the
 * recurrent projections of the gates and (model.norm.cell_state) on the
 * lstm's cell state before its output tanh. Layer and RMS norm take
 * per-sample statistics over the gates' 4H (3H) values, Ba et al.'s
 * LN-LSTM; batch norm takes per-step batch statistics over the N
 * samples with running statistics per step, Cooijmans et al.'s
 * recurrent batch norm, its gains starting at 0.1 (model.norm.cell_gamma)
 * and its running statistics one set per step, or one for all steps with
 * model.norm.step_stats false. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"
#include "norm/registry.h"

/* the recurrent layers over x; the top one gives its last state alone
 * when last_only */
/* The kinds that normalize inside the cell and how: per-step batch
 * statistics, or per-sample ones (the row says whether they centre). The
 * cell runs the norm ops' statistics itself, so only the kinds that are
 * exactly those statistics have an in-cell form; the others are refused. */
static const struct {
    nl_norm_kind kind;
    bool per_step;
} in_cell_kinds[] = {
    {NL_NORM_LAYER, false},
    {NL_NORM_RMS, false},
    {NL_NORM_BATCH, true},
};
#define IN_CELL_COUNT (int)(sizeof in_cell_kinds / sizeof in_cell_kinds[0])

/* the cell's normalizers for spec, or false with the error recorded */
static bool in_cell_norm(nl_builder *b, const nl_model_spec *spec, nl_rnn_cell_norm *out)
{
    const nl_norm_spec *norm = &spec->norm;
    for (int k = 0; k < IN_CELL_COUNT; k++) {
        if (in_cell_kinds[k].kind != norm->kind)
            continue;
        const nl_norm_info *row = nl_norm_info_of(norm->kind);
        const bool per_step = in_cell_kinds[k].per_step;
        if (per_step && norm->freezable) {
            nl_builder_fail(b, NL_ERR_CONFIG,
                            "model: the recurrent cell's per-step batch norm cannot train with "
                            "frozen statistics; leave train.freeze_bn_after out");
            nl_builder_key(b, "train.freeze_bn_after");
            return false;
        }
        if (per_step && nl_builder_train_batch(b) < 2) {
            /* one sample's batch statistics leave nothing of it: x - mean is 0 */
            nl_builder_fail(b, NL_ERR_CONFIG,
                            "model: the recurrent cell's batch norm takes each step's statistics "
                            "over the batch, which is 1 sample; raise train.batch_size to 2 or "
                            "more, or use layer or rms");
            nl_builder_key(b, "train.batch_size");
            return false;
        }
        *out = (nl_rnn_cell_norm){
            .per_step = per_step, .center = row->center, .affine = norm->affine,
            .shift = row->learned_shift, .cell_state = norm->cell_state,
            .running_stats = per_step && norm->track_running_stats,
            .shared_running = !norm->step_stats,
            .cumulative = norm->cumulative, .eps = norm->eps, .momentum = norm->momentum,
            .gain_init = norm->cell_gamma > 0 ? norm->cell_gamma : per_step ? 0.1f : 1.0f,
            .stat_steps = norm->stat_steps, .stats_precision = norm->stats_precision};
        return true;
    }
    char accepted[128];
    size_t used = 0;
    accepted[0] = '\0';
    for (int k = 0; k < IN_CELL_COUNT && used < sizeof accepted; k++)
        used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s",
                                 k ? " | " : "", nl_name_of(&nl_norm_names, in_cell_kinds[k].kind));
    nl_builder_fail(b, NL_ERR_CONFIG,
                    "model: normalizer '%s' has no form inside the recurrent cell; placement "
                    "in_cell takes: %s (placement none: the plain cell)",
                    nl_name_of(&nl_norm_names, norm->kind), accepted);
    nl_builder_key(b, "model.norm.type");
    return false;
}

/* the recurrent layers over x; the top one gives its last state alone
 * when last_only */
static nl_act *recurrent_stack(nl_builder *b, const nl_model_spec *spec, nl_act *x,
                               bool last_only)
{
    /* a kind that could not normalize the cell's (N, gates) pre-activations
     * at all is refused as for any architecture, at placement none too */
    const nl_arch_info *row = nl_arch_info_of(spec->arch);
    if (!nl_norm_accepts(nl_norm_info_of(spec->norm.kind), row->norm_ndim)) {
        char accepted[256];
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model: normalizer '%s' takes no feature vectors, as the recurrent "
                        "cell's pre-activations are; accepted: %s",
                        nl_name_of(&nl_norm_names, spec->norm.kind),
                        nl_norm_kinds_accepting(row->norm_ndim, " | ", accepted, sizeof accepted));
        nl_builder_key(b, "model.norm");
        return NULL;
    }
    if (spec->layers < 1) {
        nl_builder_fail(b, NL_ERR_CONFIG, "model: '%s' needs at least one recurrent layer",
                        nl_name_of(&nl_arch_names, spec->arch));
        nl_builder_key(b, "model.layers");
        return NULL;
    }
    /* none, at any placement, adds nothing: the plain cell */
    const bool in_cell = spec->norm.placement == NL_PLACE_IN_CELL &&
                         nl_norm_info_of(spec->norm.kind)->adds_layer;
    nl_rnn_cell_norm norm;
    if (in_cell && !in_cell_norm(b, spec, &norm))
        return NULL;
    const char *module = nl_name_of(&nl_rnn_cell_names, spec->cell);
    for (int i = 0; i < spec->layers && x; i++) {
        const bool top_last = last_only && i == spec->layers - 1;
        x = in_cell ? nl_rnn_norm_layer(b, module, i, x, spec->cell, spec->hidden, top_last, &norm)
                    : nl_rnn_layer(b, module, i, x, spec->cell, spec->hidden, top_last);
    }
    return x;
}

/* the permuted task's pixel order: one for every run and seed */
#define PERMUTE_PIXELS_SEED 1234

nl_act *nl_arch_build_rnn(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    const nl_shape s = input->shape;
    if (spec->permute_pixels)
        input = nl_permute_values(b, "permute", input, PERMUTE_PIXELS_SEED);
    if (!input)
        return NULL;
    nl_act *seq = nl_view(b, "rows", input,
                          (nl_shape){.n = s.n, .c = s.w, .h = s.c * s.h, .w = 1, .ndim = 3});
    return nl_arch_classifier(b, spec, recurrent_stack(b, spec, seq, true));
}

nl_act *nl_arch_build_rnn_lm(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    /* PyTorch's nn.Embedding starts N(0, 1): unit-scale inputs for the
     * gates, where the transformers' N(0, 0.02) would leave them near-linear */
    const float std = spec->init == NL_INIT_GAUSSIAN ? spec->init_std : 1.0f;
    nl_act *x = nl_embedding(b, "embed", NULL, input, spec->classes, spec->hidden, std, false,
                             NULL);
    x = recurrent_stack(b, spec, x, false);
    return x ? nl_linear(b, "head", x, spec->classes, nl_arch_layer_bias(spec, false),
                         NL_FILL_NORMAL, nl_arch_init_std(spec, spec->hidden, spec->classes, false))
             : NULL;
}
