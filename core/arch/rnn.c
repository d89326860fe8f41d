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
 * No normalizer sits inside the cell yet: the only placement is none,
 * which (as the lm's none) builds the plain cell whatever model.norm
 * names. The cell's pre-activations are feature vectors (N, gates) per
 * step, the layout the row gives its normalizers. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"
#include "norm/registry.h"

/* the recurrent layers over x; the top one gives its last state alone
 * when last_only */
static nl_act *recurrent_stack(nl_builder *b, const nl_model_spec *spec, nl_act *x,
                               bool last_only)
{
    /* placement none is the only one until normalizers sit inside the
     * cell: like the lm's none, it leaves the normalizer out; a kind that
     * could not normalize the cell's (N, gates) pre-activations at all is
     * refused as for any architecture */
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
    const char *module = nl_name_of(&nl_rnn_cell_names, spec->cell);
    for (int i = 0; i < spec->layers && x; i++)
        x = nl_rnn_layer(b, module, i, x, spec->cell, spec->hidden,
                         last_only && i == spec->layers - 1);
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
