// ctest-labels: kernels
/* The optimizers and gradient-norm clipping against their reference
 * implementations: trajectories of several steps from the same parameters
 * and gradients (tests/golden/make_goldens.py, optim_goldens.nlfx; the
 * fixture lists its cases and names each one's optimizer, and every row of
 * the optimizer table must have cases there), with and without weight
 * decay, with norm/bias exemption, with clipping; the per-kind defaults and
 * key rules of the config; the optimizer table of configs/README.md. The end-to-end training equivalence with AdamW is in
 * test_e2e_torch.c, the CUDA twin in test_cuda_parity.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "config/config.h"
#include "model/model.h"
#include "optim/optim.h"
#include "testutil.h"

/* case i's name, and the optimizer it runs (-1: one normlab lacks) */
static int fixture_case(const tu_fixture *fx, int i, char *name, size_t size)
{
    char key[64], kind_name[64];
    snprintf(key, sizeof key, "case%d", i);
    tu_get_string(fx, key, name, size);
    char kind_key[200];
    snprintf(kind_key, sizeof kind_key, "%s.kind", name);
    return nl_name_lookup(&nl_optim_names, tu_get_string(fx, kind_key, kind_name, sizeof kind_name));
}

/* the model whose parameters the goldens name: 1x4x4 -> fc 8 -> batch norm -> 10 */
static nl_model *golden_model(nl_optim_kind kind)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_h = spec.in_w = 4;
    spec.n_widths = 1;
    spec.widths[0] = 8;
    spec.optimizer_state_slots = nl_optim_info_of(kind)->state_slots;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, tu_cpu(2), 4, 4, 1, &m, &err) == NL_OK, "%s", err.msg);
    return m;
}

/* the optimizer state of parameter p in slot k */
static const float *state_of(const nl_model *m, const nl_param *p, int slot)
{
    return m->optim_arena + (size_t)slot * m->param_floats + (size_t)(p->data - m->param_arena);
}

/* clips, and returns the norm the step added to the clipping norms' sum */
static double clip_norm(nl_model *m, float max_norm)
{
    nl_clip_set_norm_sum(m, 0.0);
    nl_clip_grad_norm(m, max_norm);
    return nl_clip_norm_sum(m);
}

START_TEST(test_golden_trajectory)
{
    tu_fixture *fx = tu_fixture_load("optim_goldens.nlfx");
    ck_assert_int_lt(_i, tu_fixture_cases(fx));
    char name[48], key[200];
    const int kind = fixture_case(fx, _i, name, sizeof name);
    ck_assert_msg(kind >= 0, "%s: the fixture names an optimizer normlab lacks", name);
    snprintf(key, sizeof key, "%s.hyper", name);
    const tu_tensor *hyper = tu_get(fx, key);
    const float *h = hyper->data;
    nl_optim_spec spec;
    nl_optim_spec_defaults(&spec, (nl_optim_kind)kind);
    spec.betas[0] = h[1];
    spec.betas[1] = h[2];
    spec.eps = h[3];
    spec.weight_decay = h[4];
    spec.decay_norm_and_bias = h[5] != 0.0f;
    spec.momentum = h[6];
    const float clip = h[7];
    if (hyper->count > 8) { /* rmsprop */
        spec.alpha = h[8];
        spec.centered = h[9] != 0.0f;
    }
    snprintf(key, sizeof key, "%s.lrs", name);
    const tu_tensor *lrs = tu_get(fx, key);
    const int steps = (int)lrs->count;
    const float *want_norms = NULL;
    if (clip > 0) {
        snprintf(key, sizeof key, "%s.grad_norms", name);
        want_norms = tu_getf(fx, key);
    }

    nl_model *m = golden_model(spec.kind);
    nl_backend *be = m->be;
    ck_assert_int_eq(m->n_params, 5);
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        snprintf(key, sizeof key, "%s.param.%s", name, p->name);
        const tu_tensor *t = tu_get(fx, key);
        ck_assert_uint_eq(t->count, p->count);
        be->ops->upload(be, p->data, t->data, p->count * sizeof(float));
    }
    for (int step = 0; step < steps; step++) {
        for (int i = 0; i < m->n_params; i++) {
            nl_param *p = m->params[i];
            snprintf(key, sizeof key, "%s.grad%d.%s", name, step, p->name);
            be->ops->upload(be, p->grad, tu_getf(fx, key), p->count * sizeof(float));
        }
        if (clip > 0) {
            const double norm = clip_norm(m, clip);
            ck_assert_msg(fabs(norm - want_norms[step]) <= 1e-6 * want_norms[step],
                          "%s step %d: gradient norm %.9g, PyTorch %.9g", name, step, norm,
                          (double)want_norms[step]);
        }
        nl_optim_step(m, &spec, ((const float *)lrs->data)[step], step);
    }
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        char what[200];
        snprintf(key, sizeof key, "%s.final.%s", name, p->name);
        snprintf(what, sizeof what, "%s: %s after %d steps", name, p->name, steps);
        tu_assert_close(p->data, tu_getf(fx, key), p->count, 2e-6, what);
        for (int slot = 0; slot < nl_optim_info_of(spec.kind)->state_slots; slot++) {
            const char *state = nl_optim_info_of(spec.kind)->state_names[slot];
            snprintf(key, sizeof key, "%s.%s.%s", name, state, p->name);
            snprintf(what, sizeof what, "%s: %s of %s", name, state, p->name);
            const tu_tensor *want = tu_find(fx, key);
            if (want) {
                tu_assert_close(state_of(m, p, slot), want->data, p->count, 2e-6, what);
                continue;
            }
            /* state the reference keeps only with other settings (RMSprop's
             * momentum buffer without momentum) is never written here */
            for (size_t j = 0; j < p->count; j++)
                ck_assert_msg(state_of(m, p, slot)[j] == 0.0f, "%s: %g at %zu where the "
                              "reference keeps no such state", what, (double)state_of(m, p, slot)[j], j);
        }
    }
    nl_model_free(m);
    tu_fixture_free(fx);
}
END_TEST

/* every row of the optimizer table has golden trajectories: one without
 * clipping and one with */
START_TEST(test_every_optimizer_has_goldens)
{
    tu_fixture *fx = tu_fixture_load("optim_goldens.nlfx");
    bool plain[NL_OPTIM_COUNT] = {false}, clipped[NL_OPTIM_COUNT] = {false};
    for (int i = 0; i < tu_fixture_cases(fx); i++) {
        char name[128], key[200];
        const int kind = fixture_case(fx, i, name, sizeof name);
        if (kind < 0)
            continue;
        snprintf(key, sizeof key, "%s.hyper", name);
        (tu_getf(fx, key)[7] > 0.0f ? clipped : plain)[kind] = true;
    }
    for (int k = 0; k < NL_OPTIM_COUNT; k++) {
        const char *row = nl_name_of(&nl_optim_names, k);
        ck_assert_msg(plain[k] || clipped[k],
                      "optimizer %s has no golden cases in optim_goldens.nlfx "
                      "(tests/golden/make_goldens.py optim)", row);
        ck_assert_msg(clipped[k], "optimizer %s has no golden case with clipping", row);
    }
    tu_fixture_free(fx);
}
END_TEST

/* clipping leaves gradients under the bound alone, bit for bit, and scales
 * those over it to the bound */
START_TEST(test_clip_bounds)
{
    nl_model *m = golden_model(NL_OPTIM_SGD);
    float *g = calloc(m->param_floats, sizeof *g), *before = malloc(m->param_floats * sizeof *g);
    ck_assert(g && before);
    for (int i = 0; i < m->n_params; i++)
        tu_fill_normal(m->params[i]->grad, m->params[i]->count, 10 + i, 0.0f, 1.0f);
    memcpy(before, m->grad_arena, m->param_floats * sizeof *g);
    double sum = 0.0;
    for (size_t i = 0; i < m->param_floats; i++)
        sum += (double)before[i] * before[i];
    const double norm = clip_norm(m, (float)(2.0 * sqrt(sum)));
    ck_assert_double_eq_tol(norm, sqrt(sum), 1e-9 * sqrt(sum));
    ck_assert_mem_eq(m->grad_arena, before, m->param_floats * sizeof *g);
    nl_clip_grad_norm(m, 1.0f);
    double clipped = 0.0;
    for (size_t i = 0; i < m->param_floats; i++)
        clipped += (double)m->grad_arena[i] * m->grad_arena[i];
    ck_assert_double_eq_tol(sqrt(clipped), 1.0, 1e-5);
    free(g);
    free(before);
    nl_model_free(m);
}
END_TEST

static nl_config *load(const char *yaml)
{
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    ck_assert_ptr_nonnull(cfg);
    ck_assert_msg(nl_config_load_string(yaml, "t.yaml", NULL, 0, cfg, &err) == NL_OK, "%s: %s",
                  yaml, err.msg);
    return cfg;
}

/* each kind's defaults come from its row, and given values win */
START_TEST(test_config_defaults_per_kind)
{
    for (int k = 0; k < NL_OPTIM_COUNT; k++) {
        const nl_optim_info *r = nl_optim_info_of(k);
        const char *name = nl_name_of(&nl_optim_names, k);
        char yaml[200];
        snprintf(yaml, sizeof yaml, "train:\n  optimizer: {type: %s}\n", name);
        nl_config *cfg = load(yaml);
        ck_assert_int_eq(cfg->train.optimizer.kind, k);
        ck_assert_float_eq(cfg->train.optimizer.lr, r->default_lr);
        ck_assert_float_eq(cfg->train.optimizer.weight_decay, r->default_weight_decay);
        ck_assert_int_eq(cfg->model.optimizer_state_slots, r->state_slots);
        if (r->keys & NL_OPTIM_KEY_MOMENTUM)
            ck_assert_float_eq(cfg->train.optimizer.momentum, r->default_momentum);
        if (r->keys & NL_OPTIM_KEY_BETAS) {
            ck_assert_float_eq(cfg->train.optimizer.betas[0], r->default_betas[0]);
            ck_assert_float_eq(cfg->train.optimizer.betas[1], r->default_betas[1]);
        }
        free(cfg);
        snprintf(yaml, sizeof yaml,
                 "train:\n  optimizer: {type: %s, lr: 0.25, weight_decay: 0.5}\n", name);
        cfg = load(yaml);
        ck_assert_float_eq(cfg->train.optimizer.lr, 0.25f);
        ck_assert_float_eq(cfg->train.optimizer.weight_decay, 0.5f);
        free(cfg);
    }
    nl_config *cfg = load("train:\n  optimizer: {type: adamw, betas: [0.8, 0.95], eps: 1.0e-6}\n"
                          "  clip_grad_norm: 1.5\n");
    ck_assert_float_eq(cfg->train.optimizer.betas[0], 0.8f);
    ck_assert_float_eq(cfg->train.optimizer.betas[1], 0.95f);
    ck_assert_float_eq(cfg->train.optimizer.eps, 1e-6f);
    ck_assert_float_eq(cfg->train.clip_grad_norm, 1.5f);
    free(cfg);
    cfg = load("train:\n  optimizer: {type: rmsprop, alpha: 0.9, centered: true, momentum: 0.5}\n");
    ck_assert_float_eq(cfg->train.optimizer.alpha, 0.9f);
    ck_assert(cfg->train.optimizer.centered);
    ck_assert_float_eq(cfg->train.optimizer.momentum, 0.5f);
    free(cfg);
}
END_TEST

/* every row names itself for people (plot subtitles read the title), and
 * the name table names every kind */
START_TEST(test_every_row_is_complete)
{
    ck_assert_int_eq(nl_optim_names.count, NL_OPTIM_COUNT);
    for (int k = 0; k < NL_OPTIM_COUNT; k++) {
        const nl_optim_info *row = nl_optim_info_of((nl_optim_kind)k);
        const char *name = nl_name_of(&nl_optim_names, k);
        ck_assert_msg(row->title && row->title[0], "optimizer %s has no title", name);
        ck_assert_int_eq(nl_name_lookup(&nl_optim_names, name), k);
        ck_assert_msg(row->scalars && row->op && row->state_slots > 0, "optimizer %s", name);
        for (int slot = 0; slot < row->state_slots; slot++)
            ck_assert_msg(row->state_names[slot] && row->state_names[slot][0],
                          "optimizer %s: state slot %d has no name", name, slot);
    }
}
END_TEST

START_TEST(test_readme_table_is_generated)
{
    free(tu_check_generated_section(
        NORMLAB_SOURCE_DIR "/configs/README.md",
        "<!-- BEGIN OPTIMIZER TABLE (generated; do not edit by hand) -->\n",
        "<!-- END OPTIMIZER TABLE -->", nl_optim_write_table, "the optimizer table"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    /* as many runs as the fixture has cases (1 when it cannot be read:
     * that run fails saying why) */
    char why[256];
    tu_fixture *fx = tu_fixture_read("optim_goldens.nlfx", why, sizeof why);
    const tu_tensor *count = fx ? tu_find(fx, "cases") : NULL;
    const int cases = count ? ((const int32_t *)count->data)[0] : 1;
    if (fx)
        tu_fixture_free(fx);
    tcase_add_loop_test(tc, test_golden_trajectory, 0, cases);
    tcase_add_test(tc, test_every_optimizer_has_goldens);
    tcase_add_test(tc, test_clip_bounds);
    tcase_add_test(tc, test_config_defaults_per_kind);
    tcase_add_test(tc, test_readme_table_is_generated);
    tcase_add_test(tc, test_every_row_is_complete);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
