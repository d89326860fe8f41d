// ctest-labels: kernels
/* The transformer against PyTorch (tests/fixtures/tfm_goldens.nlfx, from
 * tests/golden/make_goldens.py with attention written out by hand): the
 * token ops on the CPU backend (embedding, causal attention with its
 * probabilities and largest logit, GELU in both forms); normlab's lm in
 * every placement with and without QK-norm and with each normalizer
 * placeable on tokens, tied and untied (logits, loss, every parameter's
 * gradient); 20 steps of a 2-layer LM trained with SGD and with AdamW
 * plus clipping from the same weights on the same batches; 20 AdamW
 * steps of the vit (class token and mean pooling); and 20 steps of the
 * MLP-Mixer with AdamW and with SGD. Each model case
 * carries its own shape and names, so this file lists no cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "arch/registry.h"
#include "cpu/cpu.h"
#include "model/model.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "testutil.h"

#define TOL 1e-5

START_TEST(test_embedding)
{
    tu_fixture *fx = tu_fixture_load("tfm_goldens.nlfx");
    const tu_tensor *tok = tu_get_in(fx, "embedding", "tokens"),
                    *table = tu_get_in(fx, "embedding", "table");
    const int n = tok->dims[0], t = tok->dims[1], vocab = table->dims[0], d = table->dims[1];
    for (int threads = 1; threads <= 2; threads++) {
        nl_backend *be = tu_cpu(threads);
        float *y = malloc((size_t)n * t * d * sizeof *y);
        be->ops->embedding_forward(be, n, t, d, tok->data, table->data,
                                   tu_getf_in(fx, "embedding", "pos"), y);
        tu_assert_close(y, tu_getf_in(fx, "embedding", "y"), (size_t)n * t * d, TOL, "embedding y");
        float *dtable = malloc(table->count * sizeof *dtable), *dpos = malloc((size_t)t * d * 4);
        void *ws = malloc(be->ops->embedding_backward_workspace(be, n, t, vocab));
        be->ops->embedding_backward(be, n, t, d, vocab, tok->data,
                                    tu_getf_in(fx, "embedding", "dy"), dtable, false, dpos, ws);
        tu_assert_close(dtable, tu_getf_in(fx, "embedding", "dtable"), table->count, TOL,
                        "embedding dtable");
        tu_assert_close(dpos, tu_getf_in(fx, "embedding", "dpos"), (size_t)t * d, TOL,
                        "embedding dpos");
        free(y), free(dtable), free(dpos), free(ws);
    }
    tu_fixture_free(fx);
}
END_TEST

static const char *const attention_cases[] = {"attention", "attention_one", "attention_long",
                                              "attention_bidirectional"};

START_TEST(test_attention)
{
    const char *c = attention_cases[_i];
    tu_fixture *fx = tu_fixture_load("tfm_goldens.nlfx");
    const tu_tensor *q = tu_get_in(fx, c, "q");
    const int heads = *(const int32_t *)tu_get_in(fx, c, "heads")->data;
    const int n = q->dims[0], t = q->dims[1], d = q->dims[2];
    char bidirectional_key[96]; /* present: no causal mask */
    snprintf(bidirectional_key, sizeof bidirectional_key, "%s.bidirectional", c);
    const nl_attn_geom g = {n, t, heads, d / heads, d, d, d, 1.0f / sqrtf((float)(d / heads)),
                            tu_find(fx, bidirectional_key) != NULL};
    nl_backend *be = tu_cpu(2);
    const size_t count = q->count, probs_count = (size_t)n * heads * t * t;
    float *y = malloc(count * 4), *probs = malloc(probs_count * 4), largest = 0.0f;
    float *dq = malloc(count * 4), *dk = malloc(count * 4), *dv = malloc(count * 4);
    void *ws = malloc(be->ops->attention_workspace(be, &g));
    be->ops->attention_forward(be, &g, q->data, tu_getf_in(fx, c, "k"), tu_getf_in(fx, c, "v"),
                               probs, y, &largest, ws);
    char what[96];
    snprintf(what, sizeof what, "%s y", c);
    tu_assert_close(y, tu_getf_in(fx, c, "y"), count, TOL, what);
    snprintf(what, sizeof what, "%s probs", c);
    tu_assert_close(probs, tu_getf_in(fx, c, "probs"), probs_count, TOL, what);
    const float want = *tu_getf_in(fx, c, "max_logit");
    ck_assert_msg(fabsf(largest - want) <= 1e-5f * fmaxf(1.0f, fabsf(want)),
                  "%s max logit %g, torch %g", c, largest, want);
    be->ops->attention_backward(be, &g, q->data, tu_getf_in(fx, c, "k"), tu_getf_in(fx, c, "v"),
                                probs, tu_getf_in(fx, c, "dy"), dq, dk, dv, ws);
    const float *got[] = {dq, dk, dv};
    const char *names[] = {"dq", "dk", "dv"};
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof what, "%s %s", c, names[i]);
        tu_assert_close(got[i], tu_getf_in(fx, c, names[i]), count, TOL, what);
    }
    free(y), free(probs), free(dq), free(dk), free(dv), free(ws);
    tu_fixture_free(fx);
}
END_TEST

START_TEST(test_gelu)
{
    const nl_gelu_kind kind = (nl_gelu_kind)_i;
    char c[32];
    snprintf(c, sizeof c, "gelu_%s", nl_name_of(&nl_gelu_names, kind));
    tu_fixture *fx = tu_fixture_load("tfm_goldens.nlfx");
    const tu_tensor *x = tu_get_in(fx, c, "x");
    nl_backend *be = tu_cpu(1);
    float *y = malloc(x->count * 4), *dx = malloc(x->count * 4);
    be->ops->gelu_forward(be, kind, x->count, x->data, y);
    char what[64];
    snprintf(what, sizeof what, "%s y", c);
    tu_assert_close(y, tu_getf_in(fx, c, "y"), x->count, 1e-6, what);
    be->ops->gelu_backward(be, kind, x->count, x->data, tu_getf_in(fx, c, "dy"), dx, false);
    snprintf(what, sizeof what, "%s dx", c);
    tu_assert_close(dx, tu_getf_in(fx, c, "dx"), x->count, 1e-6, what);
    free(y), free(dx);
    tu_fixture_free(fx);
}
END_TEST

/* ---- whole models: the spec each case stores ---- */

/* the model cases: every "<case>.spec" with `marker` ("logits": one pass,
 * "losses": training), in fixture order */
static int model_cases(const tu_fixture *fx, const char *marker, char names[][64], int max)
{
    int count = 0;
    for (int i = 0; i < fx->count && count < max; i++) {
        const char *name = fx->tensors[i].name;
        const size_t len = strlen(name);
        if (len < 6 || strcmp(name + len - 5, ".spec") != 0 || len - 5 >= 64)
            continue;
        char c[64];
        snprintf(c, sizeof c, "%.*s", (int)(len - 5), name);
        char key[128];
        snprintf(key, sizeof key, "%.63s.%.32s", c, marker);
        if (tu_find(fx, key))
            snprintf(names[count++], 64, "%s", c);
    }
    return count;
}

/* the case's normalizer, placement and GELU ("<case>.names") into spec */
static void case_names(const tu_fixture *fx, const char *c, nl_model_spec *spec, int groups)
{
    const tu_tensor *names = tu_get_in(fx, c, "names");
    char text[64] = {0}, *norm, *placement, *gelu;
    for (size_t i = 0; i < names->count && i < sizeof text - 1; i++)
        text[i] = (char)((const int32_t *)names->data)[i];
    norm = strtok(text, ",");
    placement = strtok(NULL, ",");
    gelu = strtok(NULL, ",");
    ck_assert(norm && placement && gelu);
    const int kind = nl_name_lookup(&nl_norm_names, norm);
    ck_assert_msg(kind >= 0, "%s: normalizer %s", c, norm);
    nl_norm_spec_defaults(&spec->norm, (nl_norm_kind)kind);
    spec->norm.groups = groups;
    spec->norm.placement = (nl_placement)nl_name_lookup(&nl_placement_names, placement);
    spec->gelu = (nl_gelu_kind)nl_name_lookup(&nl_gelu_names, gelu);
}

/* the case's depth scheme into spec: "<case>.residual_<kind>" (alpha,
 * beta: given to an explicit case; for the others PyTorch's from the same
 * formula, which normlab's row must give) and "<case>.depth_scaling" */
static void case_depth(const tu_fixture *fx, const char *c, nl_model_spec *spec)
{
    char key[128];
    for (int k = 0; k < NL_RESIDUAL_SCALE_COUNT; k++) {
        snprintf(key, sizeof key, "%.63s.residual_%s", c, nl_name_of(&nl_residual_scale_names, k));
        const tu_tensor *t = tu_find(fx, key);
        if (!t)
            continue;
        const float *want = t->data;
        spec->residual_scale = (nl_residual_scale)k;
        if (k == NL_RESIDUAL_SCALE_EXPLICIT)
            spec->residual_alpha = want[0], spec->residual_beta = want[1];
        float alpha, beta;
        nl_arch_residual_coefficients(spec, &alpha, &beta);
        ck_assert_msg(fabsf(alpha - want[0]) <= 1e-6f * want[0] &&
                          fabsf(beta - want[1]) <= 1e-6f * want[1],
                      "%s: alpha %.9g beta %.9g, PyTorch's %.9g %.9g", c, alpha, beta, want[0],
                      want[1]);
    }
    snprintf(key, sizeof key, "%.63s.depth_scaling", c);
    spec->norm.depth_scaling = tu_find(fx, key) != NULL;
}

/* builds the spec's model with the case's PyTorch parameters; every
 * parameter on each side exists on the other under the same name */
static nl_model *case_build(const tu_fixture *fx, const char *c, const nl_model_spec *spec,
                            int batch)
{
    nl_model *m = NULL;
    nl_error err = {0};
    nl_backend *be = tu_cpu(2);
    ck_assert_msg(nl_model_create(spec, be, batch, batch, 1, &m, &err) == NL_OK, "%s: %s", c,
                  err.msg);
    char key[200];
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        snprintf(key, sizeof key, "%.63s.param.%.79s", c, p->name);
        const tu_tensor *t = tu_get(fx, key);
        ck_assert_msg(t->count == p->count, "%s: %s has %zu values, PyTorch %zu", c, p->name,
                      p->count, t->count);
        be->ops->upload(be, p->data, t->data, p->count * sizeof(float));
    }
    int torch_params = 0;
    snprintf(key, sizeof key, "%s.param.", c);
    for (int i = 0; i < fx->count; i++)
        torch_params += strncmp(fx->tensors[i].name, key, strlen(key)) == 0;
    ck_assert_msg(m->n_params == torch_params, "%s: %d parameters, PyTorch %d", c, m->n_params,
                  torch_params);
    return m;
}

/* builds the case's lm with PyTorch's parameters */
static nl_model *case_model(const tu_fixture *fx, const char *c, nl_optim_kind optim)
{
    const int32_t *s = tu_get_in(fx, c, "spec")->data;
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_LM;
    spec.d_model = s[0], spec.heads = s[1], spec.layers = s[2], spec.context = s[3];
    spec.mlp_ratio = s[4], spec.qk_norm = s[5], spec.tie_embeddings = s[6], spec.classes = s[7];
    case_names(fx, c, &spec, s[9]);
    case_depth(fx, c, &spec);
    spec.optimizer_state_slots = nl_optim_info_of(optim)->state_slots;
    return case_build(fx, c, &spec, s[8]);
}

START_TEST(test_lm_pass)
{
    tu_fixture *fx = tu_fixture_load("tfm_goldens.nlfx");
    char cases[64][64];
    const int count = model_cases(fx, "logits", cases, 64);
    ck_assert_int_ge(count, 17);
    for (int k = 0; k < count; k++) {
        const char *c = cases[k];
        nl_model *m = case_model(fx, c, NL_OPTIM_SGD);
        const int n = m->capacity;
        nl_model_load_tokens(m, tu_get_in(fx, c, "tokens")->data, tu_get_in(fx, c, "targets")->data,
                             n);
        nl_model_reset_metrics(m);
        nl_model_forward(m, n, NL_MODE_TRAIN);
        char what[200];
        snprintf(what, sizeof what, "%.63s logits", c);
        const tu_tensor *logits = tu_get_in(fx, c, "logits");
        ck_assert_uint_eq(logits->count, (size_t)n * nl_shape_per_sample(m->logits->shape));
        tu_assert_close(m->logits->data, logits->data, logits->count, TOL, what);
        double metrics[2];
        nl_model_read_metrics(m, metrics);
        const double loss = metrics[0] / ((double)n * m->rows_per_sample),
                     want = *tu_getf_in(fx, c, "loss");
        ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want), "%s loss %.8g, PyTorch %.8g", c, loss,
                      want);
        nl_model_backward(m, n);
        /* A gradient that is zero in exact arithmetic (the key bias: the
         * softmax ignores a shift shared by a row's logits) is rounding
         * noise on both sides, so each error is taken relative to the
         * larger of its own scale and 1% of the model's largest gradient */
        double largest = 0.0;
        for (int i = 0; i < m->n_params; i++)
            for (size_t j = 0; j < m->params[i]->count; j++)
                largest = fmax(largest, fabs(m->params[i]->grad[j]));
        for (int i = 0; i < m->n_params; i++) {
            nl_param *p = m->params[i];
            char key[200];
            snprintf(key, sizeof key, "%.63s.grad.%.79s", c, p->name);
            const float *want_grad = tu_getf(fx, key);
            double diff = 0.0, scale = 1e-2 * largest;
            for (size_t j = 0; j < p->count; j++) {
                diff = fmax(diff, fabs(p->grad[j] - want_grad[j]));
                scale = fmax(scale, fabs(want_grad[j]));
            }
            ck_assert_msg(diff <= 2e-5 * scale, "%s d%s: error %.3g of scale %.3g", c, p->name,
                          diff / scale, scale);
        }
        nl_model_free(m);
    }
    tu_fixture_free(fx);
}
END_TEST

/* one step's mean loss against PyTorch's, to 1e-4 relative; returns the
 * larger of worst and this step's difference */
static double check_step_loss(const char *c, int step, double loss, double want, double worst)
{
    const double rel = fabs(loss - want) / fabs(want);
    ck_assert_msg(rel <= 1e-4, "%s step %d: loss %.8g, PyTorch %.8g (relative %.3g)", c, step,
                  loss, want, rel);
    return fmax(worst, rel);
}

/* after training: the worst step, and every parameter against PyTorch's */
static void check_final_params(const tu_fixture *fx, const char *c, const nl_model *m,
                               int steps, double worst)
{
    printf("%-14s %d steps: worst relative loss difference to PyTorch %.2g\n", c, steps, worst);
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        char key[200], what[200];
        snprintf(key, sizeof key, "%.63s.final.%.79s", c, p->name);
        snprintf(what, sizeof what, "%.63s final %.79s", c, p->name);
        tu_assert_close(p->data, tu_getf(fx, key), p->count, 1e-4, what);
    }
}

START_TEST(test_lm_training)
{
    tu_fixture *fx = tu_fixture_load("tfm_goldens.nlfx");
    char cases[8][64];
    const int count = model_cases(fx, "losses", cases, 8);
    ck_assert_int_eq(count, 2);
    for (int k = 0; k < count; k++) {
        const char *c = cases[k];
        char key[200];
        snprintf(key, sizeof key, "%.63s.adamw", c);
        const tu_tensor *adamw = tu_find(fx, key);
        const nl_optim_kind kind = adamw ? NL_OPTIM_ADAMW : NL_OPTIM_SGD;
        nl_model *m = case_model(fx, c, kind);
        nl_optim_spec optim;
        nl_optim_spec_defaults(&optim, kind);
        const float *hyper = tu_getf_in(fx, c, "hyper");
        optim.lr = hyper[0];
        optim.momentum = hyper[1];
        optim.weight_decay = hyper[2];
        float clip = 0.0f;
        if (adamw) {
            const float *a = adamw->data;
            optim.betas[0] = a[0], optim.betas[1] = a[1], optim.eps = a[2], clip = a[3];
        }
        const tu_tensor *tokens = tu_get_in(fx, c, "tokens");
        const int steps = tokens->dims[0], n = tokens->dims[1], t = tokens->dims[2];
        const int32_t *targets = tu_get_in(fx, c, "targets")->data;
        const float *want = tu_getf_in(fx, c, "losses");
        double worst = 0.0;
        for (int step = 0; step < steps; step++) {
            const size_t at = (size_t)step * n * t;
            nl_model_reset_metrics(m);
            nl_model_load_tokens(m, (const int32_t *)tokens->data + at, targets + at, n);
            nl_model_forward(m, n, NL_MODE_TRAIN);
            nl_model_backward(m, n);
            if (clip > 0.0f)
                nl_clip_grad_norm(m, clip);
            nl_optim_step(m, &optim, optim.lr, step);
            double metrics[2];
            nl_model_read_metrics(m, metrics);
            worst = check_step_loss(c, step, metrics[0] / ((double)n * t), want[step], worst);
        }
        check_final_params(fx, c, m, steps, worst);
        nl_model_free(m);
    }
    tu_fixture_free(fx);
}
END_TEST

/* an image token model's spec from its case's "<case>.vit" (VIT_SPEC of
 * make_goldens.py) or "<case>.mixer" (MIXER_SPEC); false for any other
 * tensor. *batch: the case's batch, c: the case's name. */
static bool image_case(const tu_fixture *fx, int i, nl_model_spec *spec, int *batch, char c[64])
{
    static const struct {
        const char *suffix;
        nl_arch arch;
    } kinds[] = {{".vit", NL_ARCH_VIT}, {".mixer", NL_ARCH_MIXER}};
    const char *name = fx->tensors[i].name;
    const size_t len = strlen(name);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const size_t tail = strlen(kinds[k].suffix);
        if (len <= tail || len - tail >= 64 || strcmp(name + len - tail, kinds[k].suffix) != 0)
            continue;
        snprintf(c, 64, "%.*s", (int)(len - tail), name);
        const int32_t *s = fx->tensors[i].data;
        nl_model_spec_defaults(spec);
        spec->arch = kinds[k].arch;
        int groups;
        if (spec->arch == NL_ARCH_VIT) {
            spec->d_model = s[0], spec->heads = s[1], spec->layers = s[2], spec->patch = s[3];
            spec->mlp_ratio = s[4], spec->qk_norm = s[5];
            spec->token_pool = s[6] ? NL_TOKEN_POOL_MEAN : NL_TOKEN_POOL_CLS;
            spec->classes = s[7], *batch = s[8], groups = s[9];
            spec->in_c = s[10], spec->in_h = spec->in_w = s[11];
        } else {
            spec->d_model = s[0], spec->layers = s[1], spec->patch = s[2], spec->mlp_ratio = s[3];
            spec->token_mlp_width = s[4], spec->classes = s[5], *batch = s[6], groups = s[7];
            spec->in_c = s[8], spec->in_h = spec->in_w = s[9];
        }
        case_names(fx, c, spec, groups);
        case_depth(fx, c, spec);
        return true;
    }
    return false;
}

/* the image token models' cases (the vit: class token and mean pooling;
 * the mixer: AdamW with RMSNorm, SGD with layer norm and without a
 * normalizer): from
 * PyTorch's weights on its images, AdamW with clipping where the case has
 * ".adamw", SGD otherwise, the loss at every step and the final
 * parameters to the LM's tolerances */
START_TEST(test_image_training)
{
    tu_fixture *fx = tu_fixture_load("tfm_goldens.nlfx");
    int count[NL_ARCH_COUNT] = {0};
    for (int i = 0; i < fx->count; i++) {
        nl_model_spec spec;
        int batch;
        char c[64];
        if (!image_case(fx, i, &spec, &batch, c))
            continue;
        count[spec.arch]++;
        char key[200];
        snprintf(key, sizeof key, "%.63s.adamw", c);
        const tu_tensor *adamw = tu_find(fx, key);
        const nl_optim_kind kind = adamw ? NL_OPTIM_ADAMW : NL_OPTIM_SGD;
        spec.optimizer_state_slots = nl_optim_info_of(kind)->state_slots;
        nl_model *m = case_build(fx, c, &spec, batch);
        nl_optim_spec optim;
        nl_optim_spec_defaults(&optim, kind);
        const float *hyper = tu_getf_in(fx, c, "hyper");
        optim.lr = hyper[0];
        optim.momentum = hyper[1];
        optim.weight_decay = hyper[2];
        float clip = 0.0f;
        if (adamw) {
            const float *a = adamw->data;
            optim.betas[0] = a[0], optim.betas[1] = a[1], optim.eps = a[2], clip = a[3];
        }
        const tu_tensor *images = tu_get_in(fx, c, "images");
        const int steps = images->dims[0], n = images->dims[1];
        const size_t per_step = images->count / (size_t)steps;
        const int32_t *labels = tu_get_in(fx, c, "labels")->data;
        const float *want = tu_getf_in(fx, c, "losses");
        double worst = 0.0;
        for (int step = 0; step < steps; step++) {
            nl_model_reset_metrics(m);
            nl_model_load_batch(m, (const float *)images->data + (size_t)step * per_step,
                                labels + (size_t)step * n, n);
            nl_model_forward(m, n, NL_MODE_TRAIN);
            nl_model_backward(m, n);
            if (clip > 0.0f)
                nl_clip_grad_norm(m, clip);
            nl_optim_step(m, &optim, optim.lr, step);
            double metrics[2];
            nl_model_read_metrics(m, metrics);
            worst = check_step_loss(c, step, metrics[0] / n, want[step], worst);
        }
        check_final_params(fx, c, m, steps, worst);
        nl_model_free(m);
    }
    ck_assert_int_eq(count[NL_ARCH_VIT], 4);
    ck_assert_int_eq(count[NL_ARCH_MIXER], 3);
    tu_fixture_free(fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tfm_golden");
    TCase *tc = tcase_create("pytorch");
    tcase_add_test(tc, test_embedding);
    tcase_add_loop_test(tc, test_attention, 0,
                        (int)(sizeof attention_cases / sizeof attention_cases[0]));
    tcase_add_loop_test(tc, test_gelu, 0, NL_GELU_COUNT);
    tcase_add_test(tc, test_lm_pass);
    tcase_add_test(tc, test_lm_training);
    tcase_add_test(tc, test_image_training);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
