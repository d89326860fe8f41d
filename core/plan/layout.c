/* The layout pass (plan.h): where the activations keep the channel block
 * the device's convolutions run in. A block pays where convolutions read
 * it straight from the layers before them; each layer that cannot read it
 * gets a reorder layer in front (inserted on the graph: nl_plan_layout_graph,
 * layers/reorder.c), one pass over an activation in each direction. auto takes the block when
 * the reorders it saves the convolutions outnumber the ones it adds,
 * counted on the planned graph of the blocked model itself (block_pays), so a new
 * layer or architecture needs no rule here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/registry.h"
#include "base/name_table.h"
#include "device/device.h"
#include "layers/builder.h"
#include "norm/norm.h"
#include "plan/plan.h"

/* model.layout's values */
static const nl_name_entry layout_entries[] = {
    [NL_LAYOUT_NCHW] = {"nchw", "(N, C, H, W), each channel's plane contiguous"},
    [NL_LAYOUT_BLOCKED] = {"blocked", "channels in blocks of 16 (AVX-512) or 8 (AVX2), the layout "
                                      "oneDNN's convolutions run in (nChw16c), kept from the "
                                      "stem to the pooling"},
    [NL_LAYOUT_AUTO] = {"auto", "blocked where this device's convolutions take a channel block "
                                "and it saves more reorders than it adds, else nchw (the plan's "
                                "layout pass decides; the resolved config records which)"},
};
NL_NAME_TABLE(nl_layout_names, "layout", layout_entries, NL_LAYOUT_COUNT);

/* model.conv_algorithm's values (nl_conv_algorithm); model.conv_choices
 * records auto's choices as indices into this table. Direct is the
 * default: F(2x2, 3x3)'s three products together were slower than
 * oneDNN's on the ResNet's 16-channel layer and faster on its 32-channel
 * one (results/speed.md, "Winograd in the blocked layout"); F(4x4, 3x3)'s
 * beat both on the layers measured there, one host, and its numbers
 * differ more from direct's (a few 1e-6 of sum |w x|), so it is asked
 * for, or auto's to choose, not the default */
static const nl_name_entry conv_algorithm_entries[] = {
    [NL_CONV_DIRECT] = {"direct", "oneDNN's direct convolution on every convolution"},
    [NL_CONV_WINOGRAD_F23] = {"winograd_f23", "Winograd F(2x2, 3x3) (cpu/winograd_blocked.c) on "
                                              "the channel-blocked 3x3 stride-1 pad-1 "
                                              "convolutions, direct on the rest"},
    [NL_CONV_WINOGRAD_F43] = {"winograd_f43", "Winograd F(4x4, 3x3) (cpu/winograd_blocked_f43.c) "
                                              "for the forward and data gradient of the "
                                              "channel-blocked 3x3 stride-1 pad-1 convolutions, "
                                              "F(2x2, 3x3) for their weight gradient, direct on "
                                              "the rest"},
    [NL_CONV_AUTO] = {"auto", "each channel-blocked 3x3 stride-1 pad-1 convolution direct, "
                              "winograd_f23 or winograd_f43, whichever its shape ran fastest on "
                              "this host (measured once per host, kernel set and shape, "
                              "cached), as model.conv_choices records"},
};
NL_NAME_TABLE(nl_conv_algorithm_names, "convolution algorithm", conv_algorithm_entries,
              NL_CONV_ALGORITHM_COUNT);

/* "fp32 | bf16": the precisions at which the device's convolutions take a block */
static const char *blocked_precisions(const nl_device_caps *caps, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0; p < NL_PRECISION_COUNT && used < size; p++)
        if (caps->channel_block[p])
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " | " : "",
                                     nl_name_of(&nl_precision_names, p));
    return buf;
}

/* blocked asked where the device has no block: at the run's precision
 * (train.precision is refused, naming what this host's kernels take), or
 * at none (the device, the build, NORMLAB_CONV or the kernel set) */
static nl_code refuse_layout(const nl_model_spec *spec, const nl_device_caps *caps, nl_error *err)
{
    char taken[64], kernels[512];
    nl_backend_cpu_kernels_description(kernels, sizeof kernels);
    if (caps->device == NL_DEVICE_CUDA) {
        nl_fail(err, NL_ERR_CONFIG,
                "blocked is the CPU's layout (oneDNN's convolutions), and device is cuda; "
                "accepted here: nchw or auto");
        nl_error_key(err, "model.layout");
        return err->code;
    }
    if (blocked_precisions(caps, taken, sizeof taken)[0]) {
        nl_fail(err, NL_ERR_CONFIG,
                "oneDNN's convolutions take no channel block at %s here (not run there, or, "
                "under the AMX set, read as nhwc), and model.layout blocked runs every "
                "convolution on oneDNN in the block; accepted with blocked here: %s, or model.layout "
                "nchw or auto (normlab's convolutions take every precision); CPU kernel set %s",
                nl_name_of(&nl_precision_names, spec->product_precision), taken, kernels);
        nl_error_key(err, "train.precision");
        nl_error_with_key(err, "model.layout");
        return err->code;
    }
    nl_fail(err, NL_ERR_CONFIG,
            "blocked needs the CPU's convolutions on oneDNN, which this build and CPU do not "
            "run at any precision (it takes device cpu, a build with oneDNN, NORMLAB_CONV auto "
            "or onednn, and an AVX2 or AVX-512 kernel set); accepted otherwise: nchw or auto; "
            "CPU kernel set %s",
            kernels);
    nl_error_key(err, "model.layout");
    return err->code;
}

/* Every convolution writes the block, so every width a convolution takes
 * is a multiple of it: checked here, where the key that sets each width is
 * known (the row's own stem width, or the stages'), before a layer names
 * the wrong one. err NULL: only whether they fit. */
static bool widths_fit(const nl_model_spec *spec, int block, nl_error *err)
{
    const nl_arch_info *row = nl_arch_info_of(spec->arch);
    const bool stem_own = nl_arch_reads_key(row, "model.stem_width") && spec->stem_width > 0;
    for (int s = stem_own ? -1 : 0; s < spec->n_widths; s++) {
        const int width = s < 0 ? spec->stem_width : spec->widths[s];
        if (width % block == 0)
            continue;
        if (!err)
            return false;
        const int below = width / block * block;
        char what[48], nearest[64];
        if (s >= 0)
            snprintf(what, sizeof what, "item %d (%d)", s, width);
        else
            snprintf(what, sizeof what, "%d", width);
        if (below > 0)
            snprintf(nearest, sizeof nearest, "%d or %d", below, below + block);
        else
            snprintf(nearest, sizeof nearest, "%d", block);
        nl_fail(err, NL_ERR_CONFIG,
                "%s is not a multiple of %d, the channel block this CPU's oneDNN kernels take, "
                "which model.layout blocked has every convolution write; accepted with blocked: "
                "multiples of %d (the nearest: %s), or model.layout nchw or auto",
                what, block, block, nearest);
        nl_error_key(err, s < 0 ? "model.stem_width" : "model.widths");
        nl_error_with_key(err, "model.layout");
        return false;
    }
    return true;
}

/* Whether the block pays in the model built with it. Under NCHW oneDNN
 * reorders each convolution's activations into its block and back (its
 * input and output forward, their gradients backward); with the block,
 * every convolution side that touches a blocked tensor skips one such
 * pass, and every reorder layer costs one. The block pays where it skips
 * more than it costs. A model the blocked build refuses takes nchw, whose
 * own check says what is wrong with it. */
static bool block_pays(const nl_model_spec *spec, int block, const nl_plan_run *run)
{
    nl_model_spec trial = *spec;
    trial.channel_block = block;
    nl_model *graph = NULL;
    nl_error ignored = {0};
    if (nl_plan_graph(&trial, run, &graph, &ignored) != NL_OK)
        return false;
    int skipped = 0, reorders = 0;
    for (int i = 0; i < graph->n_layers; i++) {
        const nl_layer *l = graph->layers[i];
        if (!strcmp(l->vt->kind, "reorder"))
            reorders++;
        else if (!strcmp(l->vt->kind, "conv2d"))
            skipped += (l->in[0]->shape.block != 0) + (l->out->shape.block != 0);
    }
    nl_plan_graph_done(graph);
    return skipped > reorders;
}

nl_code nl_plan_layout(nl_model_spec *spec, const nl_device_caps *caps, const nl_plan_run *run,
                       nl_error *err)
{
    spec->channel_block = 0;
    /* only the architectures with convolutions read the key (their rows) */
    if (!nl_arch_reads_key(nl_arch_info_of(spec->arch), "model.layout") ||
        spec->layout == NL_LAYOUT_NCHW)
        return NL_OK;
    const int block = caps->channel_block[spec->product_precision];
    if (spec->layout == NL_LAYOUT_BLOCKED) {
        if (!block)
            return refuse_layout(spec, caps, err);
        if (!widths_fit(spec, block, err))
            return err->code;
        spec->channel_block = block;
        return NL_OK;
    }
    if (block && widths_fit(spec, block, NULL) && block_pays(spec, block, run))
        spec->channel_block = block;
    return NL_OK;
}

/* Whether layer l reads and writes the channel block: the answer of the
 * device the spec was planned for, asked of its probe, for the family of
 * kernels l runs (a normalizer with low-precision statistics runs other
 * kernels than one with fp32 statistics) */
static bool reads_block(const nl_layer *l, nl_backend *device, int block)
{
    return device->ops->runs(device, nl_layer_family(l), block, NL_STORAGE_FP32);
}

/* Where a reorder's activation goes among the graph's: after the output of
 * the layer it feeds (the recipe declared that output before the layer
 * was added), but for a layer that takes an input of its own making
 * before declaring its output: a normalizer with low-precision statistics,
 * and a layer joining two inputs (a residual add). The precision pass and
 * the memory plan read the activations in this order. */
static bool reorder_before_output(const nl_layer *l)
{
    return l->n_in > 1 || nl_norm_layer_stats_precision(l) != NL_PRECISION_FP32;
}

static int act_index(const nl_builder *b, const nl_act *a)
{
    for (int k = 0; k < b->n_acts; k++)
        if (b->acts[k] == a)
            return k;
    return b->n_acts;
}

/* `in` as NCHW through a reorder layer named `name`, its activation placed
 * at acts[at] and its layer at layers[before]; NULL after a build error */
static nl_act *insert_reorder(nl_builder *b, nl_act *in, const char *name, int at, int before)
{
    const int n_acts = b->n_acts, n_layers = b->n_layers;
    nl_act *out = nl_reorder_to_nchw(b, name, in);
    if (!out || b->failed || b->n_acts != n_acts + 1 || b->n_layers != n_layers + 1)
        return NULL;
    memmove(&b->acts[at + 1], &b->acts[at], (size_t)(n_acts - at) * sizeof *b->acts);
    b->acts[at] = out;
    nl_layer *reorder = b->layers[n_layers];
    memmove(&b->layers[before + 1], &b->layers[before],
            (size_t)(n_layers - before) * sizeof *b->layers);
    b->layers[before] = reorder;
    return out;
}

/* "<of>.nchw", the name of a reorder of one activation */
static void nchw_name(char *name, size_t size, const char *of)
{
    snprintf(name, size, "%.*s.nchw", (int)size - 6, of);
}

/* each view declared from acts[*next] up to acts[end] that sees a blocked
 * image (a flatten) reads its NCHW copy, reordered before layers[*at];
 * false after a build error */
static bool reorder_views(nl_builder *b, int *next, int end, int *at)
{
    for (; *next < end; (*next)++) {
        nl_act *view = b->acts[*next];
        if (!view->alias_of || !view->alias_of->shape.block)
            continue;
        char name[sizeof view->name];
        nchw_name(name, sizeof name, view->alias_of->name);
        nl_act *nchw = insert_reorder(b, view->alias_of, name, *next, *at);
        if (!nchw)
            return false;
        view->alias_of = nchw;
        view->needs_grad = nchw->needs_grad;
        (*next)++, (*at)++, end++;
    }
    return true;
}

bool nl_plan_layout_graph(nl_builder *b, const nl_model_spec *spec)
{
    const int block = spec->channel_block;
    /* the recipe built every activation NCHW */
    if (!block || b->failed)
        return !b->failed;
    nl_backend device;
    nl_backend_probe_on(spec->device, 1, spec->product_precision, &device);
    int next = 0; /* the activations before acts[next] are walked */
    int eligible = 0; /* the convolutions Winograd could run, so far */
    for (int i = 0; i < b->n_layers; i++) {
        nl_layer *l = b->layers[i];
        if (!reorder_views(b, &next, act_index(b, l->out), &i))
            return false;
        int after = 0; /* reorders placed after its output */
        nl_conv_geom conv;
        if (nl_conv2d_geom_of(l, &conv)) {
            /* every convolution writes the block */
            if (conv.out_c % block) {
                nl_builder_fail(b, NL_ERR_CONFIG,
                                "layer %s: the channel-blocked layout needs channels in "
                                "multiples of %d (this CPU's block), not %d",
                                l->name, block, conv.out_c);
                nl_builder_key(b, "model.widths");
                return false;
            }
            l->out->shape.block = block;
            /* the kernel takes it where its input is in the block too */
            if (nl_plan_conv_winograd_eligible(l, &conv, block)) {
                const int choice = nl_plan_conv_choice(spec, eligible++);
                if (choice == NL_CONV_WINOGRAD_F23 || choice == NL_CONV_WINOGRAD_F43)
                    nl_conv2d_set_algorithm(l, (nl_conv_algorithm)choice);
            }
        } else if (!reads_block(l, &device, block)) {
            /* a reorder before it for each blocked input; its output NCHW */
            const bool before_output = reorder_before_output(l);
            int at = act_index(b, l->out) + !before_output;
            for (int k = 0; k < l->n_in; k++) {
                if (!l->in[k] || !l->in[k]->shape.block)
                    continue;
                char name[sizeof l->in[k]->name];
                nchw_name(name, sizeof name, l->in[k]->name);
                if (!(l->in[k] = insert_reorder(b, l->in[k], name, at++, i++)))
                    return false;
                after += !before_output;
            }
        } else {
            /* two sides in different layouts (a branch through a layer that
             * could not read the block came back NCHW): the blocked side
             * joins the other as NCHW */
            if (l->n_in == 2 && l->in[0]->shape.block != l->in[1]->shape.block) {
                char name[sizeof l->name + 8];
                snprintf(name, sizeof name, "%s.nchw", l->name);
                nl_act **blocked = l->in[0]->shape.block ? &l->in[0] : &l->in[1];
                if (!(*blocked = insert_reorder(b, *blocked, name, act_index(b, l->out), i++)))
                    return false;
            }
            if (!l->vt->writes_nchw)
                l->out->shape.block = l->in[0]->shape.block;
        }
        /* past its output and the reorders placed after it */
        const int past = act_index(b, l->out) + 1 + after;
        if (next < past)
            next = past;
    }
    int end = b->n_layers;
    return reorder_views(b, &next, b->n_acts, &end);
}

void nl_plan_record(nl_model_spec *recorded, const nl_model_spec *planned)
{
    recorded->layout = planned->channel_block ? NL_LAYOUT_BLOCKED : NL_LAYOUT_NCHW;
    /* auto's choices, so that a replay or resume runs them */
    recorded->n_conv_choices = planned->n_conv_choices;
    memcpy(recorded->conv_choices, planned->conv_choices, sizeof recorded->conv_choices);
}
