// ctest-labels: kernels
/* End-to-end equivalence with PyTorch: a small MLP and a small CNN with
 * batch, group and layer norm, started from the same weights and fed the
 * same batches, trained 20 SGD steps (momentum; weight decay and Nesterov in
 * some cases) or 20 AdamW steps (with weight decay, and with gradient-norm
 * clipping in some cases). The loss must agree at every step to <= 1e-4 relative, and
 * the final parameters and running statistics to <= 1e-4 (normalized). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "model/model.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "testutil.h"

typedef struct {
    const char *name;
    nl_arch arch;
    nl_norm_kind norm;
    int widths[2];
    int groups;
} e2e_case;

static const e2e_case cases[] = {
    {"mlp_batch", NL_ARCH_MLP, NL_NORM_BATCH, {32, 24}, 4},
    {"cnn_batch", NL_ARCH_CNN, NL_NORM_BATCH, {4, 8}, 2},
    {"mlp_group", NL_ARCH_MLP, NL_NORM_GROUP, {32, 24}, 4},
    {"cnn_group", NL_ARCH_CNN, NL_NORM_GROUP, {4, 8}, 2},
    {"mlp_layer", NL_ARCH_MLP, NL_NORM_LAYER, {32, 24}, 1},
    {"cnn_layer", NL_ARCH_CNN, NL_NORM_LAYER, {4, 8}, 1},
    {"mlp_batch_adamw", NL_ARCH_MLP, NL_NORM_BATCH, {32, 24}, 4},
    {"cnn_group_adamw", NL_ARCH_CNN, NL_NORM_GROUP, {4, 8}, 2},
    {"mlp_layer_adamw_clip", NL_ARCH_MLP, NL_NORM_LAYER, {32, 24}, 1},
    {"cnn_batch_adamw_clip", NL_ARCH_CNN, NL_NORM_BATCH, {4, 8}, 2},
};

START_TEST(test_e2e)
{
    const e2e_case *c = &cases[_i];
    tu_fixture *fx = tu_fixture_load("e2e_goldens.nlfx");
    nl_backend *be = tu_cpu(2);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = c->arch;
    spec.in_c = 1;
    spec.in_h = spec.in_w = 12;
    spec.classes = 10;
    spec.n_widths = 2;
    spec.widths[0] = c->widths[0];
    spec.widths[1] = c->widths[1];
    nl_norm_spec_defaults(&spec.norm, c->norm);
    spec.norm.groups = c->groups;
    char key[200];
    snprintf(key, sizeof key, "%s.x", c->name);
    const tu_tensor *xs = tu_get(fx, key);
    const int steps = xs->dims[0], batch = xs->dims[1];
    /* the cases trained with AdamW have its hyperparameters (beta1, beta2,
     * eps, clip), and the model needs room for its two moments */
    snprintf(key, sizeof key, "%s.adamw", c->name);
    const tu_tensor *adamw = tu_find(fx, key);
    spec.optimizer_state_slots =
        nl_optim_info_of(adamw ? NL_OPTIM_ADAMW : NL_OPTIM_SGD)->state_slots;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, batch, batch, 1, &m, &err) == NL_OK, "%s", err.msg);
    /* every normlab parameter exists in PyTorch's model under the same name */
    int matched = 0;
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        snprintf(key, sizeof key, "%s.param.%s", c->name, p->name);
        const tu_tensor *t = tu_get(fx, key);
        ck_assert_msg(t->count == p->count, "%s: %s has %zu values, PyTorch %zu", c->name, p->name,
                      p->count, t->count);
        be->ops->upload(be, p->data, t->data, p->count * sizeof(float));
        matched++;
    }
    int torch_params = 0;
    snprintf(key, sizeof key, "%s.param.", c->name);
    for (int i = 0; i < fx->count; i++)
        torch_params += strncmp(fx->tensors[i].name, key, strlen(key)) == 0;
    ck_assert_int_eq(matched, torch_params);

    snprintf(key, sizeof key, "%s.hyper", c->name);
    const float *hyper = tu_getf(fx, key);
    nl_optim_spec optim;
    nl_optim_spec_defaults(&optim, adamw ? NL_OPTIM_ADAMW : NL_OPTIM_SGD);
    optim.lr = hyper[0];
    optim.momentum = hyper[1];
    optim.weight_decay = hyper[2];
    optim.nesterov = hyper[3] != 0.0f;
    float clip = 0.0f;
    if (adamw) {
        const float *a = adamw->data;
        optim.betas[0] = a[0];
        optim.betas[1] = a[1];
        optim.eps = a[2];
        clip = a[3];
    }
    ck_assert_int_eq(m->spec.optimizer_state_slots, nl_optim_info_of(optim.kind)->state_slots);
    snprintf(key, sizeof key, "%s.y", c->name);
    const int32_t *labels = tu_get(fx, key)->data;
    snprintf(key, sizeof key, "%s.losses", c->name);
    const float *want = tu_getf(fx, key);
    const size_t per_batch = (size_t)batch * 144;
    double worst = 0.0;
    for (int step = 0; step < steps; step++) {
        nl_model_reset_metrics(m);
        nl_model_load_batch(m, (const float *)xs->data + step * per_batch, labels + step * batch,
                            batch);
        nl_model_forward(m, batch, NL_MODE_TRAIN);
        nl_model_backward(m, batch);
        if (clip > 0.0f)
            nl_clip_grad_norm(m, clip);
        nl_optim_step(m, &optim, optim.lr, step);
        double metrics[2];
        nl_model_read_metrics(m, metrics);
        const double loss = metrics[0] / batch;
        const double rel = fabs(loss - want[step]) / fabs(want[step]);
        if (rel > worst)
            worst = rel;
        ck_assert_msg(rel <= 1e-4, "%s step %d: loss %.8g, PyTorch %.8g (relative %.3g)", c->name,
                      step, loss, want[step], rel);
    }
    printf("%-10s %d steps: worst relative loss difference to PyTorch %.2g\n", c->name, steps,
           worst);
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        snprintf(key, sizeof key, "%s.final.%s", c->name, p->name);
        char what[200];
        snprintf(what, sizeof what, "%s final %s", c->name, p->name);
        tu_assert_close(p->data, tu_getf(fx, key), p->count, 1e-4, what);
    }
    for (int i = 0; i < m->n_states; i++) {
        nl_state *s = m->states[i];
        snprintf(key, sizeof key, "%s.final.%s", c->name, s->name);
        char what[200];
        snprintf(what, sizeof what, "%s final %s", c->name, s->name);
        tu_assert_close(s->data, tu_getf(fx, key), s->count, 1e-4, what);
    }
    nl_model_free(m);
    tu_fixture_free(fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_torch");
    TCase *tc = tcase_create("pytorch");
    tcase_add_loop_test(tc, test_e2e, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
