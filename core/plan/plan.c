/* nl_plan_model: the passes in order over the config's model (plan.h). */
#include "plan/plan.h"

#include <string.h>

#include "arch/registry.h"

/* FNV-1a over the bytes of what the layout was decided for: the spec as
 * the config gives it (its own decision left out), the run and the device */
static uint64_t layout_key(const nl_model_spec *model, const nl_plan_run *run, nl_device device)
{
    nl_model_spec bare;
    memcpy(&bare, model, sizeof bare);
    bare.channel_block = 0;
    /* the key's algorithm decides no layout (block_pays counts reorders) */
    bare.conv_algorithm = 0;
    bare.n_conv_choices = 0;
    memset(bare.conv_choices, 0, sizeof bare.conv_choices);
    bare.layout_key = 0;
    bare.device = NL_DEVICE_CPU; /* hashed on its own below */
    memset(bare.value_store, 0, sizeof bare.value_store);
    memset(bare.grad_store, 0, sizeof bare.grad_store);
    const struct {
        int precision, train_batch, device;
    } rest = {(int)run->precision, run->train_batch, (int)device};
    uint64_t h = 1469598103934665603ull;
    const unsigned char *parts[2] = {(const unsigned char *)&bare, (const unsigned char *)&rest};
    const size_t sizes[2] = {sizeof bare, sizeof rest};
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < sizes[p]; i++) {
            h ^= parts[p][i];
            h *= 1099511628211ull;
        }
    return h ? h : 1;
}

nl_code nl_plan_model(const nl_model_spec *model, const nl_plan_run *asked, nl_device device,
                      nl_model_spec *out, nl_error *err)
{
    /* the passes' trial graphs are the device's */
    nl_plan_run on_device = *asked;
    on_device.device = device;
    const nl_plan_run *run = &on_device;
    *out = *model;
    out->device = device;
    out->product_precision = run->precision;
    out->norm.freezable = run->freezable;
    nl_plan_fuse(out, run);
    const uint64_t key = layout_key(model, run, device);
    /* a layout decided for this very run and device is kept */
    if (!(model->layout == NL_LAYOUT_AUTO && model->layout_key == key)) {
        const nl_device_caps caps = nl_device_caps_of(device);
        nl_code rc = nl_plan_layout(out, &caps, run, err);
        out->layout_key = key;
        if (rc != NL_OK)
            return rc;
    }
    nl_code rc = nl_plan_precision(out, run, err);
    if (rc == NL_OK)
        rc = nl_plan_conv_choose(out, run, err);
    return rc;
}

void nl_plan_describe(const nl_model_spec *asked, const nl_model_spec *planned, nl_buf *text)
{
    /* the products take the run's precision; the activations fp32 but
     * where the precision pass stores them in the type the products round
     * to */
    int grads;
    const int values = nl_plan_stored_count(planned, &grads);
    if (values || grads)
        nl_buf_printf(text, "  plan: activations %s where every reader and writer rounds "
                            "them (%d values, %d gradients; the rest fp32), products in %s",
                      nl_storage_table[nl_storage_of_precision(planned->product_precision)].name,
                      values, grads, nl_name_of(&nl_precision_names, planned->product_precision));
    else
        nl_buf_printf(text, "  plan: activations fp32 between layers, products in %s",
                      nl_name_of(&nl_precision_names, planned->product_precision));
    if (nl_arch_reads_key(nl_arch_info_of(planned->arch), "model.layout")) {
        const int block = planned->channel_block;
        nl_buf_printf(text, "; layout %s", block ? "blocked" : "nchw");
        if (block)
            nl_buf_printf(text, " (channel blocks of %d from the first convolution on, a reorder "
                          "layer before each layer that cannot read them)", block);
        nl_buf_printf(text, ", %s",
                      asked->layout != NL_LAYOUT_AUTO ? "as model.layout asks"
                      : block ? "chosen by model.layout auto: the block saves more reorders "
                                "than it adds"
                              : "chosen by model.layout auto: this device's convolutions take "
                                "no block at this precision, a width is not a multiple of "
                                "it, or it adds as many reorders as it saves");
        /* the key's algorithm, and where it asked Winograd but the plan
         * left no convolution in the block, that every one stays direct */
        if (planned->conv_algorithm == NL_CONV_WINOGRAD_F23 ||
            planned->conv_algorithm == NL_CONV_WINOGRAD_F43) {
            const char *name = nl_name_of(&nl_conv_algorithm_names, planned->conv_algorithm);
            if (block)
                nl_buf_printf(text, "; convolutions %s on the blocked 3x3 stride-1 pad-1 ones "
                              "(the rest direct), as model.conv_algorithm asks", name);
            else
                nl_buf_printf(text, "; convolutions direct: model.conv_algorithm %s takes only "
                              "channel-blocked ones, and this layout is nchw", name);
        }
        if (planned->conv_algorithm == NL_CONV_AUTO) {
            int f23 = 0, f43 = 0;
            for (int k = 0; k < planned->n_conv_choices; k++) {
                f23 += planned->conv_choices[k] == NL_CONV_WINOGRAD_F23;
                f43 += planned->conv_choices[k] == NL_CONV_WINOGRAD_F43;
            }
            if (planned->n_conv_choices)
                nl_buf_printf(text, "; convolutions winograd_f23 on %d and winograd_f43 on %d of "
                              "the %d blocked 3x3 stride-1 pad-1 ones, direct on the rest, as "
                              "model.conv_algorithm auto chose by this host's measured costs "
                              "(model.conv_choices)",
                              f23, f43, planned->n_conv_choices);
            else
                nl_buf_printf(text, "; convolutions direct: model.conv_algorithm auto found no "
                              "blocked 3x3 stride-1 pad-1 convolution to choose for");
        }
    }
    nl_buf_printf(text, "\n");
}
