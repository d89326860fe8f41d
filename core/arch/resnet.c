/* resnet: stem conv3x3; stages of basic blocks (two 3x3 convs; the first
 * block of every stage after the first halves the map with stride 2 and a
 * 1x1 projection shortcut);
 *   post: conv-norm-act-conv-norm, add shortcut, act (He et al. 2015);
 *   pre:  norm-act-conv-norm-act-conv, add shortcut (He et al. 2016), with
 *         a final norm-act before pooling;
 *   with model.skip_init the add takes alpha * branch (De & Smith 2020);
 * then global average pool and the classifier. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"

/* the block's add, with SkipInit's gain <prefix>.skip_gain when asked */
static nl_act *residual_add(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                            const char *name, nl_act *branch, nl_act *shortcut)
{
    if (!spec->skip_init)
        return nl_residual_add(b, name, branch, shortcut);
    char gain[96];
    snprintf(gain, sizeof gain, "%s.skip_gain", prefix);
    return nl_residual_add_gain(b, name, branch, shortcut, gain, spec->skip_init_alpha);
}

static nl_act *basic_block_post(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                                nl_act *x, int width, int stride)
{
    char n1[96], n2[96], n3[96], n4[96], n5[96], n6[96], n7[96];
    snprintf(n1, sizeof n1, "%s.conv1", prefix);
    snprintf(n2, sizeof n2, "%s.norm1", prefix);
    snprintf(n3, sizeof n3, "%s.act1", prefix);
    snprintf(n4, sizeof n4, "%s.conv2", prefix);
    snprintf(n5, sizeof n5, "%s.norm2", prefix);
    snprintf(n6, sizeof n6, "%s.add", prefix);
    snprintf(n7, sizeof n7, "%s.act2", prefix);
    nl_act *shortcut = x;
    if (stride != 1 || x->shape.c != width) {
        char sc[96], sn[96];
        snprintf(sc, sizeof sc, "%s.shortcut.conv", prefix);
        snprintf(sn, sizeof sn, "%s.shortcut.norm", prefix);
        shortcut = nl_arch_norm(b, spec, sn, nl_arch_conv(b, spec, sc, x, width, 1, stride, true));
    }
    nl_act *y = nl_arch_conv(b, spec, n1, x, width, 3, stride, true);
    y = nl_arch_act(b, spec, n3, nl_arch_norm(b, spec, n2, y));
    y = nl_arch_norm(b, spec, n5, nl_arch_conv(b, spec, n4, y, width, 3, 1, true));
    if (!y || !shortcut)
        return NULL;
    return nl_arch_act(b, spec, n7, residual_add(b, spec, prefix, n6, y, shortcut));
}

static nl_act *basic_block_pre(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                               nl_act *x, int width, int stride)
{
    char n1[96], n2[96], n3[96], n4[96], n5[96], n6[96];
    snprintf(n1, sizeof n1, "%s.norm1", prefix);
    snprintf(n2, sizeof n2, "%s.act1", prefix);
    snprintf(n3, sizeof n3, "%s.conv1", prefix);
    snprintf(n4, sizeof n4, "%s.norm2", prefix);
    snprintf(n5, sizeof n5, "%s.act2", prefix);
    snprintf(n6, sizeof n6, "%s.conv2", prefix);
    nl_act *pre = nl_arch_act(b, spec, n2, nl_arch_norm(b, spec, n1, x));
    nl_act *shortcut = x;
    if (pre && (stride != 1 || x->shape.c != width)) {
        /* He et al. 2016: a projection takes the pre-activated input */
        char sc[96];
        snprintf(sc, sizeof sc, "%s.shortcut.conv", prefix);
        shortcut = nl_arch_conv(b, spec, sc, pre, width, 1, stride, false);
    }
    nl_act *y = nl_arch_conv(b, spec, n3, pre, width, 3, stride, true);
    y = nl_arch_act(b, spec, n5, nl_arch_norm(b, spec, n4, y));
    y = nl_arch_conv(b, spec, n6, y, width, 3, 1, false);
    if (!y || !shortcut)
        return NULL;
    char add[96];
    snprintf(add, sizeof add, "%s.add", prefix);
    return residual_add(b, spec, prefix, add, y, shortcut);
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
        x = nl_arch_act(b, spec, "stem.act", nl_arch_norm(b, spec, "stem.norm", x));
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
        x = nl_arch_act(b, spec, "final.act", nl_arch_norm(b, spec, "final.norm", x));
    if (!x)
        return NULL;
    return nl_arch_classifier(b, spec, nl_global_avgpool(b, "pool", x));
}
