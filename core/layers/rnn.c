/* One layer of a recurrent network (PyTorch's nn.LSTM / nn.GRU layer,
 * one direction), trained by backpropagation through all T steps of the
 * sequence. The kernels keep what backward needs in the layer's saved
 * memory and take their scratch from the shared workspace, both planned
 * here, so a step allocates nothing. */
#include <math.h>
#include <stdio.h>

#include "layers/layer.h"
#include "backend/rnn_layout.h"

typedef struct {
    nl_layer base;
    nl_rnn_cell cell;
    int t, in_features, hidden;
    bool last_only; /* the output is h_T (N, H) rather than every h_t */
    nl_param *w_ih, *w_hh, *b_ih, *b_hh;
    void *saved;
} rnn_layer;

static void rnn_forward(nl_layer *self, const nl_pass *pass)
{
    rnn_layer *l = (rnn_layer *)self;
    float *out = self->out->data;
    pass->be->ops->rnn_forward(pass->be, l->cell, pass->n, l->t, l->in_features, l->hidden,
                               self->in[0]->data, l->w_ih->data, l->w_hh->data, l->b_ih->data,
                               l->b_hh->data, l->last_only ? NULL : out,
                               l->last_only ? out : NULL, NULL, l->saved, pass->workspace);
}

static void rnn_backward(nl_layer *self, const nl_pass *pass)
{
    rnn_layer *l = (rnn_layer *)self;
    const float *dout = self->out->grad;
    pass->be->ops->rnn_backward(pass->be, l->cell, pass->n, l->t, l->in_features, l->hidden,
                                self->in[0]->data, l->w_ih->data, l->w_hh->data, l->saved,
                                l->last_only ? NULL : dout, l->last_only ? dout : NULL, NULL,
                                self->in[0]->grad, self->accumulate_din[0], l->w_ih->grad,
                                l->w_hh->grad, l->b_ih->grad, l->b_hh->grad, pass->workspace);
}

/* Both kinds of cell: w_ih over every step's input and w_hh over every
 * step's previous state, gates * hidden rows each. Backward: the weights'
 * gradients, the input's (where it takes one) and the gradient through
 * the steps (dh_{t-1} = du w_hh, needed always). The cell's pointwise
 * work is counted as its gate values. */
static void rnn_cell_flops(nl_rnn_cell cell, int t, int in_features, int hidden,
                           nl_layer_flops *out)
{
    const double rows = (double)nl_rnn_gate_count(cell) * hidden * t;
    const double input = 2.0 * rows * in_features, recurrent = 2.0 * rows * hidden;
    *out = (nl_layer_flops){.forward = input + recurrent, .input_grad = input,
                            .weight_grad = input + recurrent, .state_grad = recurrent,
                            .values = rows};
}

static void rnn_flops(const nl_layer *self, nl_layer_flops *out)
{
    const rnn_layer *l = (const rnn_layer *)self;
    rnn_cell_flops(l->cell, l->t, l->in_features, l->hidden, out);
}

/* the kind a summary shows: the cell's name */
static const nl_layer_vtable rnn_vtables[NL_RNN_COUNT] = {
    [NL_RNN_LSTM] = {.kind = "lstm", .flops = rnn_flops, .forward = rnn_forward,
                     .backward = rnn_backward},
    [NL_RNN_GRU] = {.kind = "gru", .flops = rnn_flops, .forward = rnn_forward,
                    .backward = rnn_backward},
};

static nl_param *rnn_param(nl_builder *b, const char *layer, const char *what, int rows,
                           int cols, float bound)
{
    char pname[96];
    snprintf(pname, sizeof pname, "%s.%s", layer, what);
    const bool is_bias = cols == 0;
    return nl_builder_param(b, pname, is_bias ? 1 : 2, (int[]){rows, cols}, is_bias,
                            NL_FILL_UNIFORM, bound);
}

/* the name of layer `index` of `module`; false (the build failed) unless
 * `in` is a sequence (N, T, D) */
static bool sequence_input(nl_builder *b, const char *module, int index, const nl_act *in,
                           char *name, size_t size)
{
    snprintf(name, size, "%s.l%d", module, index);
    if (!in)
        return false;
    if (in->shape.ndim != 3) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: a recurrent layer reads sequences (N, T, D), "
                                          "got %s",
                        name, in->name);
        return false;
    }
    return true;
}

/* the input and recurrent weights, uniform in +-1/sqrt(hidden) as torch's;
 * returns that bound, the biases' too */
static float rnn_weights(nl_builder *b, const char *name, int gates, int in_features, int hidden,
                         nl_param **w_ih, nl_param **w_hh)
{
    const float bound = 1.0f / sqrtf((float)hidden);
    *w_ih = rnn_param(b, name, "weight_ih", gates, in_features, bound);
    *w_hh = rnn_param(b, name, "weight_hh", gates, hidden, bound);
    return bound;
}

/* every step's h (N, T, H), or the last step's alone (N, H) */
static nl_act *sequence_output(nl_builder *b, const char *name, int n, int t, int hidden,
                               bool last_only)
{
    const nl_shape shape = last_only
                               ? (nl_shape){.n = n, .c = hidden, .h = 1, .w = 1, .ndim = 2}
                               : (nl_shape){.n = n, .c = hidden, .h = t, .w = 1, .ndim = 3};
    return nl_builder_act(b, name, shape);
}

/* the device's kernels keep the steps' states (saved) and a scratch */
static size_t rnn_saved(nl_backend *be, void *what)
{
    const rnn_layer *l = what;
    return be->ops->rnn_saved_bytes(be, l->cell, l->base.in[0]->shape.n, l->t, l->hidden);
}

static size_t rnn_workspace(nl_backend *be, void *what)
{
    const rnn_layer *l = what;
    return be->ops->rnn_workspace(be, l->cell, l->base.in[0]->shape.n, l->t, l->in_features,
                                  l->hidden);
}

nl_act *nl_rnn_layer(nl_builder *b, const char *module, int index, nl_act *in, nl_rnn_cell cell,
                     int hidden, bool last_only)
{
    char name[64];
    if (!sequence_input(b, module, index, in, name, sizeof name))
        return NULL;
    rnn_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->cell = cell;
    l->t = in->shape.h;
    l->in_features = in->shape.c;
    l->hidden = hidden;
    l->last_only = last_only;
    const int gates = nl_rnn_gate_count(cell) * hidden;
    const float bound = rnn_weights(b, name, gates, l->in_features, hidden, &l->w_ih, &l->w_hh);
    l->b_ih = rnn_param(b, name, "bias_ih", gates, 0, bound);
    l->b_hh = rnn_param(b, name, "bias_hh", gates, 0, bound);
    const int n = in->shape.n;
    nl_builder_saved_asked(b, &l->saved, rnn_saved, l);
    nl_builder_workspace_asked(b, rnn_workspace, l);
    nl_act *out = sequence_output(b, name, n, l->t, hidden, last_only);
    nl_layer_init(&l->base, &rnn_vtables[cell], name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}

/* ---- the cell with normalizers inside it (nl_rnn_norm_layer) ----
 * A step is the backend's linear and norm ops around the pointwise
 * rnn_cell_* ops, so each normalizer is the registry's own kernel. The
 * input projections of all steps are one product and, moved time-major,
 * one normalization over the N*T rows when the statistics are per
 * sample; per-step batch statistics take each step's N rows as their
 * batch. Backward runs the steps in reverse; each normalizer's parameter
 * gradients are kept per step and summed over the steps at the end. */

enum { SIDE_X, SIDE_H, SIDE_C, SIDES }; /* the input and recurrent projections, the cell state */

typedef struct {
    int width;
    nl_param *gain, *shift;
    nl_state *running_mean, *running_var; /* per_step with running statistics: (T, width) */
} norm_side;

typedef struct {
    nl_layer base;
    nl_rnn_norm_dims dims; /* dims.n: the planned batch */
    int in_features;
    bool last_only;
    nl_rnn_cell_norm norm;
    nl_param *w_ih, *w_hh, *bias;
    norm_side side[SIDES];
    int scalars;          /* the running statistics' momentum (per-step scalar) */
    long batches_tracked; /* running statistics' updates: the cumulative average's count */
    void *saved;
} rnn_norm_layer;

static nl_rnn_norm_dims dims_at(const rnn_norm_layer *l, int n)
{
    nl_rnn_norm_dims d = l->dims;
    d.n = n;
    for (int k = 0; k < SIDES; k++) {
        int *stats = k == SIDE_X ? &d.stats_x : k == SIDE_H ? &d.stats_h : &d.stats_c;
        if (*stats)
            *stats = l->norm.per_step ? l->side[k].width : n;
    }
    return d;
}

/* the geometry of `rows` rows of a side: one step's n rows with per-step
 * batch statistics, or any rows with per-sample ones */
static nl_norm_geom side_geom(const rnn_norm_layer *l, int k, int rows)
{
    return (nl_norm_geom){.n = rows, .c = l->side[k].width, .hw = 1,
                          .groups = l->norm.per_step ? 0 : 1, .center = l->norm.center,
                          .eps = l->norm.eps, .stats_precision = l->norm.stats_precision};
}

/* the per-step running statistics' rows: the trained length */
static int stat_rows(const rnn_norm_layer *l)
{
    return l->norm.stat_steps > 0 ? l->norm.stat_steps : l->dims.t;
}

static const float *data_of(const nl_param *p) { return p ? p->data : NULL; }
static float *grad_of(const nl_param *p) { return p ? p->grad : NULL; }

/* side k's forward over `rows` rows of step s (s < 0: all steps at once,
 * per-sample statistics only), statistics saved at mean/rstd */
static void side_forward(rnn_norm_layer *l, const nl_pass *pass, int k, int s, int rows,
                         const float *x, float *y, float *mean, float *rstd)
{
    nl_backend *be = pass->be;
    const norm_side *side = &l->side[k];
    const nl_norm_geom g = side_geom(l, k, rows);
    const float *gain = data_of(side->gain), *shift = data_of(side->shift);
    float *running_mean = NULL, *running_var = NULL;
    if (l->norm.per_step && side->running_mean) {
        /* a step past the training context reuses the last step's statistics */
        const int rows = stat_rows(l);
        const int slot = l->norm.shared_running ? 0 : s < rows ? s : rows - 1;
        running_mean = side->running_mean->data + (size_t)slot * side->width;
        running_var = side->running_var->data + (size_t)slot * side->width;
        if (pass->mode == NL_MODE_EVAL) {
            be->ops->norm_forward_eval(be, &g, x, gain, shift, running_mean, running_var, y);
            return;
        }
        if (pass->mode != NL_MODE_TRAIN && pass->mode != NL_MODE_RECALIBRATE)
            running_mean = running_var = NULL;
    }
    be->ops->norm_forward(be, &g, x, gain, shift, y, mean, rstd, running_mean, running_var,
                          pass->scalars + l->scalars);
}

/* the momentum of this pass's running-statistics update, when it makes one */
static void rnn_norm_prepare(nl_layer *self, const nl_pass *pass)
{
    rnn_norm_layer *l = (rnn_norm_layer *)self;
    if (!l->norm.per_step || !l->norm.running_stats)
        return;
    float momentum;
    if (pass->mode == NL_MODE_TRAIN) {
        l->batches_tracked++;
        momentum = l->norm.cumulative ? 1.0f / (float)l->batches_tracked : l->norm.momentum;
    } else if (pass->mode == NL_MODE_RECALIBRATE) {
        /* the plain average of the batches since the reset */
        momentum = 1.0f / (float)(pass->recalibrated + 1);
    } else {
        return;
    }
    pass->scalars_host[l->scalars] = momentum;
}

/* what forward and backward both lay out: the pass's sizes, and where the
 * saved tensors and the workspace's parts lie */
typedef struct {
    nl_rnn_norm_dims d;
    int n, t, hidden;
    int g;               /* the gates' width */
    size_t state, block; /* floats of a step's state (n x hidden), of its gates (n x g) */
    nl_rnn_norm_saved_parts sv;
    nl_rnn_norm_work_parts w;
    bool lstm;
} rnn_frame;

static rnn_frame frame_of(const rnn_norm_layer *l, const nl_pass *pass)
{
    rnn_frame f = {.d = dims_at(l, pass->n), .n = pass->n, .t = l->dims.t, .hidden = l->dims.hidden};
    f.g = nl_rnn_norm_width(&f.d);
    f.state = (size_t)f.n * f.hidden;
    f.block = (size_t)f.n * f.g;
    nl_rnn_norm_saved_layout(&f.d, l->saved, &f.sv);
    nl_rnn_norm_work_layout(&f.d, 0, 0, pass->workspace, &f.w);
    f.lstm = f.d.cell == NL_RNN_LSTM;
    return f;
}

/* the input side, every step at once: the input projection, moved to the
 * time-major layout, and its normalizer */
static void input_forward(rnn_norm_layer *l, const nl_pass *pass, const rnn_frame *f)
{
    nl_backend *be = pass->be;
    const int n = f->n, t = f->t, g = f->g;
    const size_t block = f->block;
    const nl_rnn_norm_saved_parts *sv = &f->sv;
    const nl_rnn_norm_work_parts *w = &f->w;
    be->ops->linear_forward(be, n * t, l->in_features, g, l->base.in[0]->data, l->w_ih->data, NULL,
                            w->xproj_tokens, w->linear);
    be->ops->rnn_steps_transpose(be, n, t, g, true, w->xproj_tokens, sv->xproj);
    if (l->norm.per_step)
        for (int s = 0; s < t; s++)
            side_forward(l, pass, SIDE_X, s, n, sv->xproj + s * block, w->xnorm + s * block,
                         sv->mean_x + (size_t)s * f->d.stats_x, sv->rstd_x + (size_t)s * f->d.stats_x);
    else
        side_forward(l, pass, SIDE_X, -1, n * t, sv->xproj, w->xnorm, sv->mean_x, sv->rstd_x);
}

/* step s: the recurrent projection and its normalizer, the cell, and for an
 * lstm the cell state's normalizer and the output; y: the output sequence
 * (NULL: only the last state is the output) */
static void step_forward(rnn_norm_layer *l, const nl_pass *pass, const rnn_frame *f, int s, float *y)
{
    nl_backend *be = pass->be;
    const int n = f->n, t = f->t, hidden = f->hidden, g = f->g;
    const size_t state = f->state, block = f->block;
    const nl_rnn_norm_dims *d = &f->d;
    const nl_rnn_norm_saved_parts *sv = &f->sv;
    const nl_rnn_norm_work_parts *w = &f->w;
    float *hproj = sv->hproj + s * block, *y_s = y ? y + (size_t)s * hidden : NULL;
    be->ops->linear_forward(be, n, hidden, g, sv->h + s * state, l->w_hh->data, NULL, hproj,
                            w->linear);
    side_forward(l, pass, SIDE_H, s, n, hproj, w->hnorm, sv->mean_h + (size_t)s * d->stats_h,
                 sv->rstd_h + (size_t)s * d->stats_h);
    float *states = f->lstm ? sv->c : sv->h;
    float *gates = sv->gates + (size_t)s * n * 4 * hidden;
    be->ops->rnn_cell_forward(be, d->cell, n, hidden, w->xnorm + s * block, w->hnorm,
                              l->bias->data, states + s * state, gates,
                              states + (s + 1) * state, y_s, t * hidden);
    if (!f->lstm)
        return;
    const float *cn = sv->c + (s + 1) * state;
    if (d->stats_c) {
        side_forward(l, pass, SIDE_C, s, n, cn, sv->cn + s * state,
                     sv->mean_c + (size_t)s * d->stats_c, sv->rstd_c + (size_t)s * d->stats_c);
        cn = sv->cn + s * state;
    }
    be->ops->rnn_cell_output_forward(be, n, hidden, gates, cn, sv->h + (s + 1) * state, y_s,
                                     t * hidden);
}

static void rnn_norm_forward(nl_layer *self, const nl_pass *pass)
{
    rnn_norm_layer *l = (rnn_norm_layer *)self;
    nl_backend *be = pass->be;
    const rnn_frame f = frame_of(l, pass);
    float *y = l->last_only ? NULL : self->out->data;
    input_forward(l, pass, &f);
    be->ops->fill(be, f.sv.h, 0.0f, f.state);
    if (f.lstm)
        be->ops->fill(be, f.sv.c, 0.0f, f.state);
    for (int s = 0; s < f.t; s++)
        step_forward(l, pass, &f, s, y);
    if (l->last_only)
        be->ops->copy(be, self->out->data, f.sv.h + f.t * f.state, f.state);
}

/* side k's backward for rows of step s: dx written or added, the gain's
 * (and shift's) gradient written to the given rows */
static void side_backward(rnn_norm_layer *l, const nl_pass *pass, int k, int rows,
                          const float *x, const float *dy, const float *mean, const float *rstd,
                          float *dx, bool accumulate, float *dgain, float *dshift, void *work)
{
    const nl_norm_geom g = side_geom(l, k, rows);
    const norm_side *side = &l->side[k];
    pass->be->ops->norm_backward(pass->be, &g, x, dy, data_of(side->gain), mean, rstd, dx,
                                 accumulate, side->gain ? dgain : NULL,
                                 side->shift ? dshift : NULL, work);
}

/* step s backward, from dL/dh_s in w.dh (and dL/dc_s in w.dc): the gates'
 * pre-activations' gradients, the recurrent side's normalizer, and
 * dL/dh_{s-1} into w.dh; dy: the output sequence's gradient (NULL: only
 * the last state was the output) */
static void step_backward(rnn_norm_layer *l, const nl_pass *pass, const rnn_frame *f, int s,
                          const float *dy)
{
    nl_backend *be = pass->be;
    const int n = f->n, t = f->t, hidden = f->hidden, g = f->g;
    const size_t state = f->state, block = f->block;
    const nl_rnn_norm_dims *d = &f->d;
    const nl_rnn_norm_saved_parts *sv = &f->sv;
    const nl_rnn_norm_work_parts *w = &f->w;
    const float *dy_s = dy ? dy + (size_t)s * hidden : NULL;
    const float *gates = sv->gates + (size_t)s * n * 4 * hidden;
    float *dpre_x = w->dpre_x + s * block, *dpre_h = w->dpre_h + s * block;
    if (f->lstm) {
        const float *c = sv->c + (s + 1) * state;
        be->ops->rnn_cell_output_backward(be, n, hidden, gates, d->stats_c ? sv->cn + s * state : c,
                                          w->dh, dy_s, t * hidden, dpre_x, dpre_h, w->dcn);
        if (d->stats_c)
            side_backward(l, pass, SIDE_C, n, c, w->dcn, sv->mean_c + (size_t)s * d->stats_c,
                          sv->rstd_c + (size_t)s * d->stats_c, w->dc, true,
                          w->dgain_c_steps + (size_t)s * hidden,
                          w->dshift_c_steps + (size_t)s * hidden,
                          w->norm);
        else
            be->ops->add_forward(be, state, w->dc, w->dcn, w->dc);
        be->ops->rnn_cell_backward(be, d->cell, n, hidden, gates, sv->c + s * state, NULL, 0,
                                   w->dc, dpre_x, dpre_h);
    } else {
        be->ops->rnn_cell_backward(be, d->cell, n, hidden, gates, sv->h + s * state, dy_s,
                                   t * hidden, w->dh, dpre_x, dpre_h);
    }
    side_backward(l, pass, SIDE_H, n, sv->hproj + s * block, dpre_h,
                  sv->mean_h + (size_t)s * d->stats_h, sv->rstd_h + (size_t)s * d->stats_h,
                  w->dhproj + s * block, false, w->dgain_steps + (size_t)s * g, NULL, w->norm);
    /* h_0 is the constant zero state: nothing to pass it. Under a low
     * train.precision the product's copies take the norm scratch,
     * free between the norm kernels' calls (sized below) */
    if (s > 0)
        be->ops->rnn_state_grad(be, n, hidden, g, w->dhproj + s * block, l->w_hh->data, w->dh,
                                !f->lstm, w->norm);
}

/* the input side backward, every step at once: its normalizer, then the
 * input projection (dhproj is free again and takes the raw input
 * projection's gradient, time-major) */
static void input_backward(rnn_norm_layer *l, const nl_pass *pass, const rnn_frame *f)
{
    nl_backend *be = pass->be;
    const int n = f->n, t = f->t, g = f->g;
    const size_t block = f->block;
    const nl_rnn_norm_saved_parts *sv = &f->sv;
    const nl_rnn_norm_work_parts *w = &f->w;
    nl_layer *self = &l->base;
    if (l->norm.per_step) {
        for (int s = 0; s < t; s++)
            side_backward(l, pass, SIDE_X, n, sv->xproj + s * block, w->dpre_x + s * block,
                          sv->mean_x + (size_t)s * f->d.stats_x, sv->rstd_x + (size_t)s * f->d.stats_x,
                          w->dhproj + s * block, false, w->dgain_steps + (size_t)s * g, NULL,
                          w->norm);
        if (l->side[SIDE_X].gain)
            be->ops->rnn_sum_rows(be, t, g, w->dgain_steps, l->side[SIDE_X].gain->grad);
    } else {
        side_backward(l, pass, SIDE_X, n * t, sv->xproj, w->dpre_x, sv->mean_x, sv->rstd_x, w->dhproj,
                      false, grad_of(l->side[SIDE_X].gain), NULL, w->norm);
    }
    be->ops->rnn_steps_transpose(be, n, t, g, false, w->dhproj, w->dxproj_tokens);
    be->ops->linear_backward(be, n * t, l->in_features, g, self->in[0]->data, l->w_ih->data,
                             w->dxproj_tokens, self->in[0]->grad, self->accumulate_din[0],
                             l->w_ih->grad, NULL, w->norm);
}

static void rnn_norm_backward(nl_layer *self, const nl_pass *pass)
{
    rnn_norm_layer *l = (rnn_norm_layer *)self;
    nl_backend *be = pass->be;
    const rnn_frame f = frame_of(l, pass);
    const int n = f.n, t = f.t, hidden = f.hidden, g = f.g;
    const nl_rnn_norm_saved_parts *sv = &f.sv;
    const nl_rnn_norm_work_parts *w = &f.w;
    const float *dy = l->last_only ? NULL : self->out->grad;
    if (l->last_only)
        be->ops->copy(be, w->dh, self->out->grad, f.state);
    else
        be->ops->fill(be, w->dh, 0.0f, f.state);
    be->ops->fill(be, w->dc, 0.0f, f.state);
    for (int s = t - 1; s >= 0; s--)
        step_backward(l, pass, &f, s, dy);
    if (l->side[SIDE_H].gain)
        be->ops->rnn_sum_rows(be, t, g, w->dgain_steps, l->side[SIDE_H].gain->grad);
    if (f.d.stats_c && l->side[SIDE_C].gain)
        be->ops->rnn_sum_rows(be, t, hidden, w->dgain_c_steps, l->side[SIDE_C].gain->grad);
    if (f.d.stats_c && l->side[SIDE_C].shift)
        be->ops->rnn_sum_rows(be, t, hidden, w->dshift_c_steps, l->side[SIDE_C].shift->grad);
    /* w_hh's gradient over every step's h_{s-1} (slot s of the states) */
    /* the norm kernels' scratch is free between their calls: the
     * products' low-precision copies use it (sized for both, below) */
    be->ops->linear_backward(be, n * t, hidden, g, sv->h, l->w_hh->data, w->dhproj, NULL, false,
                             l->w_hh->grad, NULL, w->norm);
    be->ops->rnn_sum_rows(be, n * t, g, w->dpre_x, l->bias->grad);
    input_backward(l, pass, &f);
}

/* the plain cell's products (the normalizers inside add values alone) */
static void rnn_norm_flops(const nl_layer *self, nl_layer_flops *out)
{
    const rnn_norm_layer *l = (const rnn_norm_layer *)self;
    rnn_cell_flops(l->dims.cell, l->dims.t, l->in_features, l->dims.hidden, out);
}

static const nl_layer_vtable rnn_norm_vtables[NL_RNN_COUNT] = {
    [NL_RNN_LSTM] = {.kind = "lstm", .flops = rnn_norm_flops, .forward = rnn_norm_forward,
                     .backward = rnn_norm_backward, .prepare = rnn_norm_prepare},
    [NL_RNN_GRU] = {.kind = "gru", .flops = rnn_norm_flops, .forward = rnn_norm_forward,
                    .backward = rnn_norm_backward, .prepare = rnn_norm_prepare},
};

static const char *const side_names[SIDES] = {"norm_ih", "norm_hh", "norm_c"};

/* side k's parameters and running statistics */
static void side_build(nl_builder *b, rnn_norm_layer *l, const char *name, int k, int width)
{
    norm_side *side = &l->side[k];
    side->width = width;
    char pname[96];
    if (l->norm.affine) {
        snprintf(pname, sizeof pname, "%s.%s.weight", name, side_names[k]);
        side->gain = nl_builder_param(b, pname, 1, (int[]){width}, true, NL_FILL_CONSTANT,
                                      l->norm.gain_init);
        if (k == SIDE_C && l->norm.shift) {
            snprintf(pname, sizeof pname, "%s.%s.bias", name, side_names[k]);
            side->shift = nl_builder_param(b, pname, 1, (int[]){width}, true, NL_FILL_ZEROS, 0);
        }
    }
    if (l->norm.per_step && l->norm.running_stats) {
        const size_t count = (size_t)(l->norm.shared_running ? 1 : stat_rows(l)) * width;
        snprintf(pname, sizeof pname, "%s.%s.running_mean", name, side_names[k]);
        side->running_mean = nl_builder_state(b, pname, count, 0.0f);
        snprintf(pname, sizeof pname, "%s.%s.running_var", name, side_names[k]);
        side->running_var = nl_builder_state(b, pname, count, 1.0f);
    }
}

/* the cell's scratch: its layout around the device's product and
 * normalizer workspaces */
static size_t rnn_norm_workspace(nl_backend *be, void *what)
{
    const rnn_norm_layer *l = what;
    const nl_rnn_norm_dims d = dims_at(l, l->dims.n);
    const int n = d.n, t = d.t, hidden = d.hidden;
    const int gates = nl_rnn_gate_count(d.cell) * hidden;
    const size_t linear = be->ops->linear_workspace(be, n * t, l->in_features, gates);
    const size_t step_linear = be->ops->linear_workspace(be, n, hidden, gates);
    size_t norm_bytes = 0;
    for (int k = 0; k < SIDES; k++) {
        if (!l->side[k].width)
            continue;
        const nl_norm_geom g = side_geom(l, k, l->norm.per_step ? n : n * t);
        const size_t bytes = be->ops->norm_backward_workspace(be, &g);
        norm_bytes = bytes > norm_bytes ? bytes : norm_bytes;
    }
    /* the backward's products take their workspace from the norm scratch;
     * fp32's backward needs none */
    if (be->product_precision != NL_PRECISION_FP32) {
        const size_t products = nl_rnn_lowp_product_bytes(be, n, t, l->in_features, hidden, gates);
        norm_bytes = products > norm_bytes ? products : norm_bytes;
    }
    return nl_rnn_norm_work_layout(&d, linear > step_linear ? linear : step_linear, norm_bytes,
                                   NULL, NULL);
}

nl_act *nl_rnn_norm_layer(nl_builder *b, const char *module, int index, nl_act *in,
                          nl_rnn_cell cell, int hidden, bool last_only,
                          const nl_rnn_cell_norm *norm)
{
    char name[64];
    if (!sequence_input(b, module, index, in, name, sizeof name))
        return NULL;
    rnn_norm_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    const int n = in->shape.n, t = in->shape.h;
    const int gates = nl_rnn_gate_count(cell) * hidden;
    const bool cell_norm = cell == NL_RNN_LSTM && norm->cell_state;
    l->norm = *norm;
    l->in_features = in->shape.c;
    l->last_only = last_only;
    l->dims = (nl_rnn_norm_dims){.cell = cell, .n = n, .t = t, .hidden = hidden,
                                 .stats_x = 1, .stats_h = 1, .stats_c = cell_norm};
    const float bound = rnn_weights(b, name, gates, l->in_features, hidden, &l->w_ih, &l->w_hh);
    l->bias = rnn_param(b, name, "bias", gates, 0, bound);
    side_build(b, l, name, SIDE_X, gates);
    side_build(b, l, name, SIDE_H, gates);
    if (cell_norm)
        side_build(b, l, name, SIDE_C, hidden);
    if (norm->per_step && norm->running_stats) {
        nl_builder_counter(b, &l->batches_tracked);
        l->scalars = nl_builder_scalars(b, 1);
    }
    const nl_rnn_norm_dims d = dims_at(l, n);
    nl_builder_saved(b, &l->saved, nl_rnn_norm_saved_layout(&d, NULL, NULL));
    nl_builder_workspace_asked(b, rnn_norm_workspace, l);
    nl_act *out = sequence_output(b, name, n, t, hidden, last_only);
    nl_layer_init(&l->base, &rnn_norm_vtables[cell], name, in, NULL, out);
    if (norm->per_step)
        l->base.per_rank = "batch statistics in the cell over each rank's own slice of the batch";
    nl_builder_add(b, &l->base);
    return out;
}
