/* A normalizer written as a formula (model.norm.type expr, with
 * model.norm.expr, model.norm.params and model.norm.name): the formula's
 * programs (formula.h) planned on the layer's input when the model is
 * built, its gradients derived there, and run by the CPU over the
 * layer's activations. Its parameters are `<layer>.<name>` as declared,
 * its running statistics `<layer>.running_mean` / `running_var` (then
 * `running_mean1`, ... where a formula keeps several of a kind).
 *
 * Both backends run the programs: the GPU (core/cuda/formula.cu) reads
 * them from the plan's image, uploaded once as the layer's constant, and
 * the running statistics' momentum from the per-step scalars, which the
 * layer's prepare writes (so a step replayed from a CUDA graph has its
 * own); its workspace holds registers for each sample (a block each). A
 * channel-blocked image is read in place by the CPU: the programs run on
 * the same rows in either layout, so the bits are NCHW's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/same_shape.h"
#include "norm/formula.h"
#include "norm/formula_compile.h"
#include "norm/norm.h"

typedef struct {
    nl_layer base;
    nl_formula_plan *plan;
    nl_norm_spec spec;
    int n_params, n_running;
    nl_param *params[NL_FORMULA_MAX_PARAMS];
    nl_state *running[NL_FORMULA_MAX_RUNNING];
    float *saved;
    int block; /* the input's channel block (nl_shape.block), 0: NCHW */
    bool relu; /* a fused ReLU (expr_fuse_relu) */
    bool compile_tried; /* its passes compiled, or left to the interpreter */
    long batches_tracked;
    int scalars;         /* its per-step scalar: the momentum (with running statistics) */
    void *image;         /* the plan's image (nl_formula_plan_image) on the host */
    const void *program; /* the same on the device (a constant), for a GPU */
    /* the mode the last forward ran the programs in: its backward runs
     * the same graph, reading what that forward kept */
    nl_formula_mode last_mode;
} expr_layer;

/* the programs' mode for a pass: evaluation reads the running statistics
 * where the formula keeps some (batch statistics otherwise, as a formula
 * without running() means), training with frozen statistics too, its
 * backward through them */
static nl_formula_mode mode_of(const expr_layer *l, nl_mode mode)
{
    const bool running = l->n_running > 0;
    switch (mode) {
    case NL_MODE_TRAIN:
    case NL_MODE_RECALIBRATE:
        return running ? NL_FORMULA_TRAIN : NL_FORMULA_TRAIN_KEEP;
    case NL_MODE_EVAL:
    case NL_MODE_RUNNING_STATS:
        return running ? NL_FORMULA_EVAL : NL_FORMULA_TRAIN_KEEP;
    default:
        return NL_FORMULA_TRAIN_KEEP;
    }
}

static nl_formula_io io_of(expr_layer *l, const nl_pass *pass)
{
    nl_formula_io io = {.n = pass->n, .block = l->block, .relu = l->relu, .saved = l->saved,
                        .workspace = pass->workspace, .program = l->program};
    for (int k = 0; k < l->n_params; k++) {
        io.params[k] = l->params[k]->data;
        io.dparams[k] = l->params[k]->grad;
    }
    for (int k = 0; k < l->n_running; k++)
        io.running[k] = l->running[k]->data;
    return io;
}

/* the host half of the forward: the batches-tracked count and this
 * pass's momentum, into the per-step scalars (a replayed step runs this,
 * not the forward) */
static void expr_prepare(nl_layer *self, const nl_pass *pass)
{
    expr_layer *l = (expr_layer *)self;
    if (mode_of(l, pass->mode) == NL_FORMULA_TRAIN)
        pass->scalars_host[l->scalars] = nl_stats_next_momentum(
            &l->spec, &l->batches_tracked,
            pass->mode == NL_MODE_RECALIBRATE ? pass->recalibrated : -1);
}

static void expr_forward(nl_layer *self, const nl_pass *pass)
{
    expr_layer *l = (expr_layer *)self;
    nl_formula_io io = io_of(l, pass);
    io.x = self->in[0]->data;
    io.y = self->out->data;
    io.skip = self->n_in == 2 ? self->in[1]->data : NULL;
    l->last_mode = mode_of(l, pass->mode);
    if (l->last_mode == NL_FORMULA_TRAIN) {
        io.momentum = pass->scalars_host[l->scalars];
        io.momentum_at = pass->scalars + l->scalars;
    }
    pass->be->ops->formula_forward(pass->be, l->plan, l->last_mode, &io);
}

static void expr_backward(nl_layer *self, const nl_pass *pass)
{
    expr_layer *l = (expr_layer *)self;
    nl_formula_io io = io_of(l, pass);
    io.x = self->in[0]->data;
    io.dy = self->out->grad;
    io.y = self->out->data; /* a fused ReLU's mask */
    if (self->n_in == 2) {
        io.dskip = self->in[1]->grad;
        io.accumulate_dskip = self->accumulate_din[1];
    }
    io.dx = self->in[0]->grad;
    io.accumulate_dx = self->accumulate_din[0];
    pass->be->ops->formula_backward(pass->be, l->plan, l->last_mode, &io);
}

/* nl_layer_vtable.fuse_relu: the ReLU after the formula (and the residual
 * add before that ReLU), applied as its output is stored; the backward
 * takes dy where the output is > 0 and hands that to the add's other
 * input too */
static bool expr_fuse_relu(nl_layer *self, nl_act *skip)
{
    return nl_layer_take_relu(self, &((expr_layer *)self)->relu, skip);
}

static void expr_release(nl_layer *self)
{
    nl_formula_plan_free(((expr_layer *)self)->plan);
    free(((expr_layer *)self)->image);
}

/* the layout the plan's layout pass gave its input */
static void expr_typed(nl_layer *self)
{
    ((expr_layer *)self)->block = self->in[0]->shape.block;
}

static const nl_layer_vtable expr_vtable = {.kind = "expr",
                                            .flops = nl_layer_flops_values,
                                            .forward = expr_forward,
                                            .backward = expr_backward,
                                            .prepare = expr_prepare,
                                            .release = expr_release,
                                            .fuse_relu = expr_fuse_relu,
                                            .family = NL_OP_FAMILY_FORMULA,
                                            .typed = expr_typed};

static nl_formula_input nl_norm_formula_input(nl_shape in, int groups, int n_capacity)
{
    return (nl_formula_input){.ndim = in.ndim, .n_capacity = n_capacity, .c = in.c,
                              .p = in.ndim == 4 ? in.h * in.w : in.ndim == 3 ? in.h : 1,
                              .groups = groups};
}

/* a running statistic's state name: running_mean, then running_mean1, ... */
static void running_name(char *buf, size_t size, const char *layer, const char *what,
                         const char *used[], int k)
{
    int same = 0;
    for (int i = 0; i < k; i++)
        same += !strcmp(used[i], what);
    if (same)
        snprintf(buf, size, "%s.%s%d", layer, what, same);
    else
        snprintf(buf, size, "%s.%s", layer, what);
}

/* running statistics exactly where the formula has a running(...) */
static bool expr_keeps_running(const nl_norm_spec *spec)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    if (nl_formula_parse(spec->expr, spec->params, &f, &err))
        return false;
    const bool running = nl_formula_has_running(f);
    nl_formula_free(f);
    return running;
}

/* the set a degenerate-set check reads: the formula's reduction over the
 * fewest values (none where it has no reductions) */
static void expr_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    *set = (nl_norm_set){0};
    nl_formula *f = NULL;
    nl_error err = {0};
    if (nl_formula_parse(spec->expr, spec->params, &f, &err))
        return; /* the builder says why */
    const nl_formula_input input = nl_norm_formula_input(in, spec->groups, train_batch);
    int col = 0;
    unsigned axes = 0;
    set->values = nl_formula_smallest_reduction(f, input.ndim, input.c, input.p, input.groups,
                                                train_batch, &col, &axes);
    nl_formula_free(f);
    char given[64];
    nl_name_set_text(&nl_norm_axis_names, axes, given, sizeof given);
    set->key = "model.norm.expr";
    snprintf(set->per, sizeof set->per, "reduction");
    snprintf(set->counted, sizeof set->counted, "the reduction over %s at column %d", given, col);
    snprintf(set->fix, sizeof set->fix,
             "reduce over more axes, a larger batch (train.batch_size) or a wider layer");
}

static bool has_formula(const nl_ops *o) { return o->formula_forward && o->formula_backward; }

/* the programs' scratch, registers for each of the device's threads (a
 * GPU's: each sample of the batch, a block each); and,
 * the layer's layout and the device's kernel set known, its passes
 * compiled to native code (the interpreter where that cannot be had) */
static size_t expr_workspace(nl_backend *be, void *what)
{
    expr_layer *l = what;
    nl_formula_plan_set_threads(l->plan, be->device == NL_DEVICE_CUDA ? l->plan->in.n_capacity
                                                                       : be->threads);
    if (be->cpu_kernels && !l->compile_tried) {
        l->compile_tried = true;
        nl_formula_compile_result res;
        const nl_formula_compile_options opt = {.kernel_set = be->cpu_kernels};
        nl_formula_compile(l->plan, l->block, &opt, &res);
        be->formula_compile_ms += res.ms;
        if (res.compiled) {
            be->formula_compiled++;
            be->formula_cached += res.from_cache;
        } else
            be->formula_interpreted++;
        if (res.why[0] && !be->formula_why[0])
            snprintf(be->formula_why, sizeof be->formula_why, "%s", res.why);
    }
    return nl_formula_plan_workspace_bytes(l->plan);
}

static nl_act *expr_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    nl_builder_needs_kernels(b, name, "formula (model.norm.type expr)", has_formula);
    nl_formula *f = NULL;
    nl_error err = {0};
    bool interpret;
    if (nl_formula_mode_from_env(&interpret, &err)) {
        nl_builder_fail(b, err.code, "%s", err.msg);
        return NULL;
    }
    if (nl_formula_parse(spec->expr, spec->params, &f, &err)) {
        nl_builder_fail(b, err.code, "layer %s: %s", name, err.msg);
        nl_builder_key(b, err.key);
        return NULL;
    }
    expr_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->spec = *spec;
    nl_formula_input input = nl_norm_formula_input(in->shape, spec->groups, in->shape.n);
    if (nl_formula_plan_make(f, input, spec->eps, &l->plan, &err)) {
        nl_builder_fail(b, err.code, "layer %s: %s", name, err.msg);
        nl_builder_key(b, err.key);
        nl_formula_free(f);
        return NULL;
    }
    char pname[96];
    l->n_params = nl_formula_param_count(f);
    for (int k = 0; k < l->n_params; k++) {
        const nl_formula_param *p = nl_formula_param_at(f, k);
        snprintf(pname, sizeof pname, "%s.%s", name, p->name);
        l->params[k] = nl_builder_param(b, pname, 1, (int[]){nl_formula_param_count_of(l->plan, k)}, true,
                                        NL_FILL_CONSTANT, p->init);
    }
    nl_formula_free(f);
    l->n_running = nl_formula_plan_running_count(l->plan);
    const char *used[NL_FORMULA_MAX_RUNNING];
    for (int k = 0; k < l->n_running; k++) {
        size_t count;
        float init;
        nl_formula_plan_running_at(l->plan, k, &count, &init, &used[k]);
        running_name(pname, sizeof pname, name, used[k], used, k);
        l->running[k] = nl_builder_state(b, pname, count, init);
    }
    if (l->n_running) {
        nl_builder_counter(b, &l->batches_tracked);
        l->scalars = nl_builder_scalars(b, 1);
    }
    const size_t image_bytes = nl_formula_image_layout(l->plan).bytes;
    l->image = malloc(image_bytes);
    if (!l->image) {
        nl_builder_fail(b, NL_ERR_NOMEM, "layer %s: out of memory", name);
        nl_formula_plan_free(l->plan);
        l->plan = NULL;
        return NULL;
    }
    nl_formula_plan_image(l->plan, l->image);
    nl_builder_constant(b, (void **)&l->program, l->image, image_bytes);
    nl_builder_saved(b, (void **)&l->saved,
                     (nl_formula_plan_saved_floats(l->plan) + 1) * sizeof(float));
    nl_builder_workspace_asked(b, expr_workspace, l);
    return nl_layer_add_same_shape(b, &l->base, &expr_vtable, name, in);
}

const nl_norm_info nl_norm_row_expr = {
    {"expr", "a formula in the config (model.norm.expr, model.norm.params, model.norm.name): "
             "its gradients derived, planned and checked like a built-in"},
    .keys = NL_NORM_KEY_EPS | NL_NORM_KEY_GROUPS | NL_NORM_KEY_MOMENTUM | NL_NORM_KEY_FORMULA,
    .learned_shift = false, .center = false, .running_stats = true, .running_stats_default = true,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#c49c94", .build = expr_norm, .stats_set = expr_set, .groups_default = 1,
    .keeps_running = expr_keeps_running,
    /* a name other than bias: the row cannot say the formula learns a
     * shift, so the layer before it keeps its own bias */
    .example_expr = "weight * x / sqrt(mean(x^2, [batch, channels]) + eps) + shift",
    .example_params = "weight = 1 per channel, shift = 0 per channel",
};
