/* The reorder layer: a channel-blocked image (nl_shape.block) as NCHW, for
 * a layer that cannot read the block. The plan's layout pass puts one in
 * front of such a layer on the assembled graph where it gave the model a
 * block (core/plan/layout.c: nl_plan_layout_graph); no architecture builds
 * one itself. */
#include "layers/layer.h"

static void reorder_forward(nl_layer *self, const nl_pass *pass)
{
    const nl_shape s = self->in[0]->shape;
    pass->be->ops->reorder_to_nchw_blocked(pass->be, s.block, pass->n, s.c, s.h * s.w,
                                           self->in[0]->data, self->out->data);
}

static void reorder_backward(nl_layer *self, const nl_pass *pass)
{
    if (!self->in[0]->grad)
        return;
    const nl_shape s = self->in[0]->shape;
    pass->be->ops->reorder_from_nchw_blocked(pass->be, s.block, pass->n, s.c, s.h * s.w,
                                             self->out->grad, self->in[0]->grad,
                                             self->accumulate_din[0]);
}

static const nl_layer_vtable reorder_vtable = {.kind = "reorder",
                                               .flops = nl_layer_flops_values,
                                               .forward = reorder_forward,
                                               .backward = reorder_backward,
                                               .family = NL_OP_FAMILY_REORDER};

nl_act *nl_reorder_to_nchw(nl_builder *b, const char *name, nl_act *in)
{
    nl_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    nl_shape shape = in->shape;
    shape.block = 0;
    nl_act *out = nl_builder_act(b, name, shape);
    nl_layer_init(l, &reorder_vtable, name, in, NULL, out);
    nl_builder_add(b, l);
    return out;
}
