/* resnet: stem conv3x3; stages of basic blocks (two 3x3 convs; the first
 * block of every stage after the first halves the map with stride 2 and a
 * 1x1 projection shortcut);
 *   post: conv-norm-act-conv-norm, add shortcut, act (He et al. 2015);
 *   pre:  norm-act-conv-norm-act-conv, add shortcut (He et al. 2016), with
 *         a final norm-act before pooling;
 *   with model.skip_init the add takes alpha * branch (De & Smith 2020);
 * then global average pool and the classifier. Each norm-act pair (the
 * stem's, a block's, the final one) is nl_arch_norm_act: a formula with
 * model.norm.activation replace stands alone there (EvoNorm's
 * normalization-activation layer); post's norm2 and shortcut norm, which
 * feed the add, are the formula too, and the activation after the add
 * stays (timm's EvoNorm ResNets keep theirs too). */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"

/* "<prefix>.<what>", the name of a block's layer; the array lives to the end
 * of the statement that asks for it */
typedef struct {
    char s[96];
} layer_name;

static layer_name part(const char *prefix, const char *what)
{
    layer_name n;
    snprintf(n.s, sizeof n.s, "%s.%s", prefix, what);
    return n;
}

/* the block's add, with SkipInit's gain <prefix>.skip_gain when asked */
static nl_act *residual_add(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                            const char *name, nl_act *branch, nl_act *shortcut)
{
    if (!spec->skip_init)
        return nl_residual_add(b, name, branch, shortcut);
    return nl_residual_add_gain(b, name, branch, shortcut, part(prefix, "skip_gain").s,
                                spec->skip_init_alpha);
}

static nl_act *basic_block_post(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                                nl_act *x, int width, int stride)
{
    nl_act *shortcut = x;
    if (stride != 1 || x->shape.c != width)
        shortcut = nl_arch_norm(
            b, spec, part(prefix, "shortcut.norm").s,
            nl_arch_conv(b, spec, part(prefix, "shortcut.conv").s, x, width, 1, stride, true));
    nl_act *y = nl_arch_conv(b, spec, part(prefix, "conv1").s, x, width, 3, stride, true);
    y = nl_arch_norm_act(b, spec, part(prefix, "norm1").s, part(prefix, "act1").s, y);
    y = nl_arch_norm(b, spec, part(prefix, "norm2").s,
                     nl_arch_conv(b, spec, part(prefix, "conv2").s, y, width, 3, 1, true));
    if (!y || !shortcut)
        return NULL;
    if (!spec->skip_init) /* relu(norm2 + shortcut) */
        return nl_arch_add_act(b, spec, part(prefix, "add").s, part(prefix, "act2").s, y,
                               shortcut);
    return nl_arch_act(b, spec, part(prefix, "act2").s,
                       residual_add(b, spec, prefix, part(prefix, "add").s, y, shortcut));
}

static nl_act *basic_block_pre(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                               nl_act *x, int width, int stride)
{
    nl_act *pre = nl_arch_norm_act(b, spec, part(prefix, "norm1").s, part(prefix, "act1").s, x);
    nl_act *shortcut = x;
    /* He et al. 2016: a projection takes the pre-activated input */
    if (pre && (stride != 1 || x->shape.c != width))
        shortcut =
            nl_arch_conv(b, spec, part(prefix, "shortcut.conv").s, pre, width, 1, stride, false);
    nl_act *y = nl_arch_conv(b, spec, part(prefix, "conv1").s, pre, width, 3, stride, true);
    y = nl_arch_norm_act(b, spec, part(prefix, "norm2").s, part(prefix, "act2").s, y);
    y = nl_arch_conv(b, spec, part(prefix, "conv2").s, y, width, 3, 1, false);
    if (!y || !shortcut)
        return NULL;
    return residual_add(b, spec, prefix, part(prefix, "add").s, y, shortcut);
}

nl_act *nl_arch_build_resnet(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if (!nl_arch_widths_given(b, spec))
        return NULL;
    const bool pre = spec->norm.placement == NL_PLACE_PRE;
    const int stem = spec->stem_width > 0 ? spec->stem_width : spec->widths[0];
    /* pre-activation: the stem output feeds the first block's normalizer */
    nl_act *x = nl_arch_conv(b, spec, "stem.conv", input, stem, 3, 1, true);
    if (!pre)
        x = nl_arch_norm_act(b, spec, "stem.norm", "stem.act", x);
    for (int s = 0; s < spec->n_widths && x; s++) {
        for (int k = 0; k < spec->blocks_per_stage && x; k++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "stage%d.block%d", s + 1, k + 1);
            const int stride = (s > 0 && k == 0) ? 2 : 1;
            x = pre ? basic_block_pre(b, spec, prefix, x, spec->widths[s], stride)
                    : basic_block_post(b, spec, prefix, x, spec->widths[s], stride);
        }
    }
    if (pre)
        x = nl_arch_norm_act(b, spec, "final.norm", "final.act", x);
    if (!x)
        return NULL;
    return nl_arch_classifier(b, spec, nl_global_avgpool(b, "pool", x));
}
