// ctest-labels: kernels
/* Parameter normalizers (core/layers/param_norm_kinds.def): weight
 * normalization against torch.nn.utils.weight_norm on linear and conv
 * layers, forward and the gradients of x, v, g and the bias; its initial
 * g = ||v|| (the model starts as without it); every architecture that reads
 * model.param_norm.type builds its weight layers under each kind and the
 * others refuse the key; the older weight_standardization spelling;
 * --fold-bn's refusal; spectral normalization against
 * torch.nn.utils.spectral_norm (u and v over several steps, and eval with
 * the stored ones), its u, v carried by init.from; and init.from's
 * refusals across parameter normalizers and of data_init. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "arch/registry.h"
#include "config/config.h"
#include "model/data_init.h"
#include "model/fold.h"
#include "model/model.h"
#include "norm/registry.h"
#include "testutil.h"
#include "train/final_model.h"
#include "train/init_from.h"
#include "train/series.h"
#include "train/check.h"

#define TOL 1e-5
#define BATCH 4

/* the vtable kinds' suffixes, from the kinds list */
static const char *const suffixes[] = {
#define NL_PARAM_NORM_KIND(ID, name, kind_suffix, row) [NL_PARAM_NORM_##ID] = kind_suffix,
#include "layers/param_norm_kinds.def"
};

typedef struct {
    bool conv, bias;
    int out, kernel, stride;
    nl_param_norm_spec param_norm;
} golden_layer;

static nl_act *build_golden_layer(nl_builder *b, nl_act *input, void *vctx)
{
    golden_layer *c = vctx;
    input->needs_grad = 1;
    if (c->conv)
        return nl_conv2d_pn(b, "layer", input, c->out, c->kernel, c->stride, c->kernel / 2,
                            c->bias, 0.1f, &c->param_norm);
    return nl_linear_pn(b, "layer", nl_flatten(b, "flat", input), c->out, c->bias,
                        NL_FILL_NORMAL, 0.1f, &c->param_norm);
}

/* the layer's parameter of that name in the fixture's case: "layer.weight_g"
 * is "<case>.weight_g" */
static const char *param_suffix(const nl_param *p) { return strchr(p->name, '.') + 1; }

/* A case whose row keeps layer state: the state after each of the case's
 * training forwards (<state>.after<k>, the first the one checked above),
 * then the output of an eval forward, which uses the stored state
 * (y_eval) */
static void check_state_steps(const tu_fixture *fx, const char *name, nl_model *m, int n)
{
    char key[160], what[200];
    snprintf(key, sizeof key, "%s.y_eval", name);
    if (!tu_find(fx, key)) {
        ck_assert_int_eq(m->n_states, 0);
        return;
    }
    ck_assert_int_gt(m->n_states, 0);
    for (int step = 1;; step++) {
        snprintf(key, sizeof key, "%s.%s.after%d", name, strchr(m->states[0]->name, '.') + 1,
                 step);
        if (!tu_find(fx, key))
            break;
        if (step > 1)
            nl_model_forward(m, n, NL_MODE_TRAIN);
        for (int i = 0; i < m->n_states; i++) {
            const nl_state *s = m->states[i];
            snprintf(key, sizeof key, "%s.%s.after%d", name, strchr(s->name, '.') + 1, step);
            snprintf(what, sizeof what, "%s %s", name, key);
            tu_assert_close(s->data, tu_getf(fx, key), s->count, TOL, what);
        }
    }
    nl_model_forward(m, n, NL_MODE_EVAL);
    snprintf(what, sizeof what, "%s eval forward", name);
    tu_assert_close(m->logits->data, tu_getf_in(fx, name, "y_eval"), tu_get_in(fx, name, "y")->count,
                    TOL, what);
}

/* A case of the param_norm fixture: its kind by name, its layer's
 * parameters by normlab's names, the input; forward and backward checked
 * against the output, dx and every parameter's gradient */
static void check_golden_case(const tu_fixture *fx, const char *name)
{
    char key[160], what[200], kind_name[64];
    snprintf(key, sizeof key, "%s.kind", name);
    const int kind = nl_name_lookup(&nl_param_norm_names, tu_get_string(fx, key, kind_name, sizeof kind_name));
    ck_assert_msg(kind > 0, "%s: kind %s", name, kind_name);
    const tu_tensor *x = tu_get_in(fx, name, "x"), *y = tu_get_in(fx, name, "y");
    const tu_tensor *v = tu_get_in(fx, name, "weight");
    golden_layer ctx = {.conv = v->ndim == 4, .out = v->dims[0],
                        .param_norm = {.kind = (nl_param_norm_kind)kind, .power_iterations = 1}};
    snprintf(key, sizeof key, "%s.bias", name);
    ctx.bias = tu_find(fx, key) != NULL;
    if (ctx.conv) {
        ctx.kernel = v->dims[2];
        /* the cases pad k / 2: stride 1 keeps the map's size, the others halve it */
        ctx.stride = y->dims[2] == x->dims[2] ? 1 : 2;
    }
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    const int n = x->dims[0];
    spec.in_c = x->dims[1];
    spec.in_h = x->ndim == 4 ? x->dims[2] : 1;
    spec.in_w = x->ndim == 4 ? x->dims[3] : 1;
    nl_model *m = NULL;
    nl_error err = {0};
    nl_backend *be = tu_cpu(2);
    ck_assert_msg(nl_model_build_graph(&spec, be, n, n, 1, build_golden_layer, &ctx, &m, &err) ==
                      NL_OK, "%s: %s", name, err.msg);
    snprintf(what, sizeof what, "%s%s", ctx.conv ? "conv2d" : "linear", suffixes[kind]);
    ck_assert_str_eq(m->layers[m->n_layers - 1]->vt->kind, what);
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        const tu_tensor *t = tu_get_in(fx, name, param_suffix(p));
        ck_assert_uint_eq(p->count, t->count);
        be->ops->upload(be, p->data, t->data, t->count * sizeof(float));
    }
    /* layer state a row keeps (spectral normalization's u, v), as the case drew it */
    for (int i = 0; i < m->n_states; i++) {
        const nl_state *s = m->states[i];
        const tu_tensor *t = tu_get_in(fx, name, strchr(s->name, '.') + 1);
        ck_assert_uint_eq(s->count, t->count);
        be->ops->upload(be, s->data, t->data, t->count * sizeof(float));
    }
    be->ops->upload(be, m->input->data, x->data, x->count * sizeof(float));
    nl_model_forward(m, n, NL_MODE_TRAIN);
    ck_assert_uint_eq(y->count, (size_t)n * nl_shape_per_sample(m->logits->shape));
    snprintf(what, sizeof what, "%s forward", name);
    tu_assert_close(m->logits->data, y->data, y->count, TOL, what);
    nl_model_backward_from(m, n, tu_getf_in(fx, name, "dy"));
    snprintf(what, sizeof what, "%s dx", name);
    tu_assert_close(m->input->grad, tu_getf_in(fx, name, "dx"), x->count, TOL, what);
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        snprintf(key, sizeof key, "d%s", param_suffix(p));
        snprintf(what, sizeof what, "%s %s", name, key);
        tu_assert_close(p->grad, tu_getf_in(fx, name, key), p->count, TOL, what);
    }
    check_state_steps(fx, name, m, n);
    nl_model_free(m);
}

START_TEST(test_goldens)
{
    tu_fixture *fx = tu_fixture_load("param_norm_goldens.nlfx");
    const int cases = tu_fixture_cases(fx);
    ck_assert_int_ge(cases, 4);
    for (int i = 0; i < cases; i++) {
        char key[32], name[96];
        snprintf(key, sizeof key, "case%d", i);
        tu_get_string(fx, key, name, sizeof name);
        check_golden_case(fx, name);
    }
    tu_fixture_free(fx);
}
END_TEST

static void small_spec(nl_arch a, nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = a;
    spec->in_c = 3;
    spec->in_h = spec->in_w = 8;
    spec->classes = 5;
    spec->widths[0] = 6;
    spec->widths[1] = 10;
    spec->n_widths = 2;
    spec->d_model = 16;
    spec->heads = 2;
    spec->layers = 1;
    spec->mlp_ratio = 2;
    spec->patch = 4;
    spec->hidden = 8;
    nl_norm_spec_defaults(&spec->norm, NL_NORM_BATCH);
    spec->norm.placement = nl_arch_info_of(a)->default_placement;
}

static void eval_logits(nl_model *m, const float *x, float *logits)
{
    const int32_t labels[BATCH] = {0};
    nl_model_load_batch(m, x, labels, BATCH);
    nl_model_forward(m, BATCH, NL_MODE_EVAL);
    m->be->ops->download(m->be, logits, m->logits->data,
                         (size_t)BATCH * m->spec.classes * sizeof *logits);
}

/* g starts at ||v||, drawing nothing: the same seed gives the same v, and
 * the model's logits are those of the model without weight normalization */
START_TEST(test_initial_weight_is_v)
{
    nl_backend *be = tu_cpu(1);
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        if (!nl_arch_reads_key(r, "model.param_norm.type"))
            continue;
        nl_model_spec plain, wn;
        small_spec((nl_arch)a, &plain);
        small_spec((nl_arch)a, &wn);
        wn.param_norm.kind = NL_PARAM_NORM_WEIGHT;
        nl_model *mp = NULL, *mw = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&plain, be, BATCH, BATCH, 11, &mp, &err) == NL_OK, "%s", err.msg);
        ck_assert_msg(nl_model_create(&wn, be, BATCH, BATCH, 11, &mw, &err) == NL_OK, "%s", err.msg);
        size_t gains = 0;
        for (int i = 0; i < mw->n_params; i++) {
            const nl_param *g = mw->params[i];
            const size_t len = strlen(g->name);
            if (len < 9 || strcmp(g->name + len - 9, ".weight_g") != 0)
                continue;
            ck_assert_msg(g->is_norm_or_bias, "%s: %s is a gain", r->id.name, g->name);
            char vname[80];
            snprintf(vname, sizeof vname, "%.*s", (int)(len - 2), g->name);
            const nl_param *v = nl_model_param(mw, vname);
            ck_assert_msg(v && v->dims[0] == (int)g->count, "%s: %s has no weight", r->id.name, g->name);
            float *gh = malloc(g->count * sizeof *gh), *vh = malloc(v->count * sizeof *vh);
            be->ops->download(be, gh, g->data, g->count * sizeof *gh);
            be->ops->download(be, vh, v->data, v->count * sizeof *vh);
            const size_t row = v->count / g->count;
            for (size_t u = 0; u < g->count; u++) {
                double sum = 0;
                for (size_t j = 0; j < row; j++)
                    sum += (double)vh[u * row + j] * vh[u * row + j];
                ck_assert_msg(fabs(gh[u] - sqrt(sum)) <= 1e-6 * sqrt(sum), "%s: %s[%zu] %g, ||v|| %g",
                              r->id.name, g->name, u, gh[u], sqrt(sum));
            }
            free(gh);
            free(vh);
            gains += g->count;
        }
        ck_assert_msg(gains > 0, "%s: no weight_g", r->id.name);
        ck_assert_uint_eq(mw->param_floats >= mp->param_floats + gains, true);
        float x[BATCH * 3 * 8 * 8], lp[BATCH * 5], lw[BATCH * 5];
        tu_fill_normal(x, sizeof x / sizeof x[0], 5, 0.0f, 1.0f);
        eval_logits(mp, x, lp);
        eval_logits(mw, x, lw);
        char what[96];
        snprintf(what, sizeof what, "%s: logits with and without weight norm at init", r->id.name);
        tu_assert_close(lw, lp, BATCH * 5, TOL, what);
        nl_model_free(mp);
        nl_model_free(mw);
    }
    nl_backend_close(be);
}
END_TEST

/* the layers of m whose kind ends in the suffix */
static int layers_with_suffix(const nl_model *m, const char *suffix)
{
    int count = 0;
    const size_t n = strlen(suffix);
    for (int i = 0; i < m->n_layers; i++) {
        const char *kind = m->layers[i]->vt->kind;
        const size_t len = strlen(kind);
        if (len > n && !strcmp(kind + len - n, suffix) && strchr(kind, '+'))
            count++;
    }
    return count;
}

/* every architecture that reads model.param_norm.type takes every kind
 * from a config and builds its weight layers under it (all but the
 * classifier); the others refuse the key, naming it */
START_TEST(test_every_arch_accepts_the_key)
{
    nl_backend *be = tu_cpu(1);
    int readers = 0;
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        const bool reads = nl_arch_reads_key(r, "model.param_norm.type");
        readers += reads;
        for (int k = 1; k < NL_PARAM_NORM_COUNT; k++) {
            const char *kind = nl_name_of(&nl_param_norm_names, k);
            char text[256];
            snprintf(text, sizeof text, "%smodel: {arch: %s, param_norm: {type: %s}}\n",
                     (r->inputs & NL_ARCH_IN_TOKENS) ? "data: {dataset: synthetic_text}\n" : "",
                     r->id.name, kind);
            nl_config *cfg = calloc(1, sizeof *cfg);
            nl_error err = {0};
            const nl_code rc = nl_config_load_string(text, "pn.yaml", NULL, 0, cfg, &err);
            if (!reads) {
                ck_assert_msg(rc != NL_OK && strstr(err.msg, "model.param_norm.type"),
                              "%s takes param_norm %s: %s", r->id.name, kind, err.msg);
                free(cfg);
                continue;
            }
            ck_assert_msg(rc == NL_OK, "%s, %s: %s", r->id.name, kind, err.msg);
            ck_assert_int_eq(cfg->model.param_norm.kind, k);
            free(cfg);
            nl_model_spec spec;
            small_spec((nl_arch)a, &spec);
            spec.param_norm.kind = (nl_param_norm_kind)k;
            nl_model *m = NULL;
            ck_assert_msg(nl_model_create(&spec, be, BATCH, BATCH, 3, &m, &err) == NL_OK,
                          "%s, %s: %s", r->id.name, kind, err.msg);
            int weight_layers = 0;
            for (int i = 0; i < m->n_layers; i++)
                weight_layers += !strncmp(m->layers[i]->vt->kind, "linear", 6) ||
                                 !strncmp(m->layers[i]->vt->kind, "conv2d", 6);
            ck_assert_msg(layers_with_suffix(m, suffixes[k]) == weight_layers - 1,
                          "%s, %s: %d of %d weight layers transformed", r->id.name, kind,
                          layers_with_suffix(m, suffixes[k]), weight_layers);
            nl_model_free(m);
        }
    }
    ck_assert_int_ge(readers, 3);
    nl_backend_close(be);
}
END_TEST

/* model.weight_standardization: true is standardization under its older
 * spelling (the same model), and cannot be set together with another kind */
START_TEST(test_weight_standardization_spelling)
{
    nl_backend *be = tu_cpu(1);
    nl_model_spec old, new_spelling;
    small_spec(NL_ARCH_CNN, &old);
    old.weight_standardization = true;
    old.weight_standardization_eps = 1e-3f;
    small_spec(NL_ARCH_CNN, &new_spelling);
    new_spelling.param_norm = (nl_param_norm_spec){.kind = NL_PARAM_NORM_STANDARDIZATION, .eps = 1e-3f};
    nl_model *mo = NULL, *mn = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&old, be, BATCH, BATCH, 9, &mo, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_model_create(&new_spelling, be, BATCH, BATCH, 9, &mn, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(layers_with_suffix(mo, "+ws"), layers_with_suffix(mn, "+ws"));
    ck_assert_int_gt(layers_with_suffix(mo, "+ws"), 0);
    float x[BATCH * 3 * 8 * 8], lo[BATCH * 5], ln[BATCH * 5];
    tu_fill_normal(x, sizeof x / sizeof x[0], 8, 0.0f, 1.0f);
    eval_logits(mo, x, lo);
    eval_logits(mn, x, ln);
    ck_assert_mem_eq(lo, ln, sizeof lo);
    nl_model_free(mo);
    nl_model_free(mn);

    old.param_norm.kind = NL_PARAM_NORM_WEIGHT;
    nl_model *m = NULL;
    ck_assert_int_eq(nl_model_create(&old, be, BATCH, BATCH, 9, &m, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "model.weight_standardization") &&
                      strstr(err.msg, "model.param_norm.type weight"), "%s", err.msg);
    ck_assert_str_eq(err.key, "model.param_norm.type");
    nl_backend_close(be);
}
END_TEST

/* --fold-bn refuses a model whose weights go through a parameter
 * normalizer, naming the key */
START_TEST(test_fold_refused)
{
    nl_backend *be = tu_cpu(1);
    for (int k = 1; k < NL_PARAM_NORM_COUNT; k++) {
        nl_model_spec spec;
        small_spec(NL_ARCH_CNN, &spec);
        spec.param_norm.kind = (nl_param_norm_kind)k;
        nl_model *m = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be, BATCH, BATCH, 7, &m, &err) == NL_OK, "%s", err.msg);
        nl_model_spec folded;
        int n = 0;
        ck_assert_int_eq(nl_fold_bn_spec(m, &folded, &n, &err), NL_ERR_USAGE);
        char want[96];
        snprintf(want, sizeof want, "model.param_norm.type %s", nl_name_of(&nl_param_norm_names, k));
        ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
        nl_model_free(m);
    }
    nl_backend_close(be);
}
END_TEST

/* model.param_norm.data_init: after it, every weight-normalized layer's
 * outputs over the batch have zero mean (where it has a bias) and unit
 * variance per unit, the later layers' with the earlier ones initialized;
 * and the loss metrics start again from zero */
START_TEST(test_data_init)
{
    enum { N = 16 };
    nl_backend *be = tu_cpu(1);
    const nl_arch archs[] = {NL_ARCH_MLP, NL_ARCH_CNN, NL_ARCH_RESNET};
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        nl_model_spec spec;
        small_spec(archs[a], &spec);
        nl_norm_spec_defaults(&spec.norm, NL_NORM_NONE);
        spec.norm.placement = nl_arch_info_of(archs[a])->default_placement;
        spec.param_norm = (nl_param_norm_spec){.kind = NL_PARAM_NORM_WEIGHT, .data_init = true};
        nl_model *m = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be, N, N, 13, &m, &err) == NL_OK, "%s", err.msg);
        float x[N * 3 * 8 * 8];
        int32_t labels[N] = {0};
        tu_fill_normal(x, sizeof x / sizeof x[0], 21, 0.5f, 2.0f);
        nl_model_load_batch(m, x, labels, N);
        ck_assert_msg(nl_model_param_norm_data_init(m, N, &err) == NL_OK, "%s", err.msg);
        double metrics[2];
        nl_model_read_metrics(m, metrics);
        ck_assert(metrics[0] == 0.0 && metrics[1] == 0.0);
        nl_model_forward(m, N, NL_MODE_TRAIN_FROZEN);
        int checked = 0;
        for (int i = 0; i < m->n_layers; i++) {
            nl_layer *l = m->layers[i];
            nl_param *bias = NULL;
            if (!strchr(l->vt->kind, '+') || !l->vt->param_norm || !l->vt->param_norm(l, &bias))
                continue;
            const nl_shape s = l->out->shape;
            const long hw = s.ndim == 4 ? (long)s.h * s.w : 1;
            for (int c = 0; c < s.c; c++) {
                double sum = 0, sum_sq = 0;
                for (int r = 0; r < N; r++)
                    for (long p = 0; p < hw; p++) {
                        const double v = l->out->data[((size_t)r * s.c + c) * hw + p];
                        sum += v;
                        sum_sq += v * v;
                    }
                const double mean = sum / (N * hw), var = sum_sq / (N * hw) - mean * mean;
                if (bias)
                    ck_assert_msg(fabs(mean) < 1e-4, "%s unit %d: mean %g", l->name, c, mean);
                ck_assert_msg(fabs(var - 1.0) < 1e-3, "%s unit %d: variance %g", l->name, c, var);
            }
            checked++;
        }
        ck_assert_int_gt(checked, 1);
        nl_model_free(m);
    }
    nl_backend_close(be);
}
END_TEST

/* a small run under model.param_norm.type KIND */
static void tiny_run(const char *dir, const char *kind, const char *extra)
{
    char yaml[1000], name[200], args[400];
    snprintf(yaml, sizeof yaml,
             "seed: 3\n"
             "data: {dataset: synthetic, shape: [1, 6, 6], classes: 3, train_size: 64, "
             "test_size: 32}\n"
             "model: {arch: mlp, widths: [8, 8], param_norm: {type: %s}}\n"
             "train: {batch_size: 16, steps: 6, eval_every: 6, log_every: 3, "
             "optimizer: {lr: 0.05}}\n"
             "threads: 1\n%s", kind, extra);
    snprintf(name, sizeof name, "%s.yaml", dir);
    tu_tmp_write(name, yaml);
    snprintf(args, sizeof args, "run %s --out %s --quiet --threads 1", name, dir);
    ck_assert_int_eq(tu_normlab(args), 0);
}

/* `normlab run` of a tiny_run config with init.from: exit status 2 and
 * `fragment` in what it prints */
static void refused_from(const char *kind, const char *extra, const char *fragment)
{
    char from[800], yaml[2000], args[200];
    snprintf(from, sizeof from, "init: {from: %s/src}\n%s", tu_tmp, extra);
    snprintf(yaml, sizeof yaml,
             "seed: 4\n"
             "data: {dataset: synthetic, shape: [1, 6, 6], classes: 3, train_size: 64, "
             "test_size: 32}\n"
             "model: {arch: mlp, widths: [8, 8], param_norm: {type: %s}}\n"
             "train: {batch_size: 16, steps: 2}\n%s", kind, from);
    tu_tmp_write("bad.yaml", yaml);
    snprintf(args, sizeof args, "run bad.yaml --out bad --quiet --threads 1");
    ck_assert_int_eq(tu_normlab(args), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, fragment), "no '%s' in:\n%s", fragment, out);
    free(out);
}

/* a weight trained under weight normalization is v, not the weight: a
 * plain model refuses it, naming the layer and the key; and the
 * data-dependent initialization would overwrite the carried g */
START_TEST(test_init_from_refusals)
{
    tu_tmp_make("pn-from");
    tiny_run("src", "weight", "");
    refused_from("none", "",
                 "model.param_norm.type: layer fc1: ");
    refused_from("none", "",
                 "trained its weight under parameter normalizer weight, and it is none here; a "
                 "weight is carried only into the one it was trained under: set "
                 "model.param_norm.type: weight");
    refused_from("spectral", "", "parameter normalizer weight, and it is spectral here");
    char from[800], yaml[2000];
    snprintf(from, sizeof from, "init: {from: %s/src}\n", tu_tmp);
    snprintf(yaml, sizeof yaml,
             "seed: 4\n"
             "data: {dataset: synthetic, shape: [1, 6, 6], classes: 3, train_size: 64, "
             "test_size: 32}\n"
             "model: {arch: mlp, widths: [8, 8], param_norm: {type: weight, data_init: true}}\n"
             "train: {batch_size: 16, steps: 2}\n%s", from);
    tu_tmp_write("di.yaml", yaml);
    ck_assert_int_eq(tu_normlab("run di.yaml --out di --quiet --threads 1"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.param_norm.data_init: true with init.from") &&
                      strstr(out, "would overwrite the gains carried over"),
                  "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

static float *host_state(nl_backend *be, const nl_model *m, const char *name)
{
    const nl_state *s = nl_model_state(m, name);
    ck_assert_msg(s, "no state %s", name);
    float *host = malloc(s->count * sizeof *host);
    be->ops->download(be, host, s->data, s->count * sizeof *host);
    nl_error err = {0};
    ck_assert_msg(be->ops->synchronize(be, &err) == NL_OK, "%s", err.msg);
    return host;
}

/* spectral normalization's u, v: unit vectors at build, moved by training,
 * written in the final model and carried by init.from as they are */
START_TEST(test_spectral_state_carried)
{
    tu_tmp_make("pn-sn");
    tiny_run("src", "spectral", "");
    char path[800];
    snprintf(path, sizeof path, "%s/src/config.yaml", tu_tmp);
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    nl_backend *be = tu_cpu(1);
    nl_model *src = NULL, *fresh = NULL, *ft = NULL;
    nl_final_model_info info;
    snprintf(path, sizeof path, "%s/src", tu_tmp);
    ck_assert_msg(nl_final_model_load(path, cfg, be, 16, &src, &info, &err) == NL_OK, "%s",
                  err.msg);
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    ck_assert_msg(nl_model_create(&spec, be, 16, 16, cfg->seed, &fresh, &err) == NL_OK, "%s",
                  err.msg);
    snprintf(cfg->init_from, sizeof cfg->init_from, "%s/src", tu_tmp);
    ck_assert_msg(nl_init_from_check(cfg, 0, NULL, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_model_create(&spec, be, 16, 16, cfg->seed + 1, &ft, &err) == NL_OK, "%s",
                  err.msg);
    char note[1400];
    ck_assert_msg(nl_init_from_load(cfg, ft, NULL, note, sizeof note, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(src->n_states, fresh->n_states);
    int vectors = 0;
    for (int i = 0; i < src->n_states; i++) {
        const nl_state *s = src->states[i];
        if (!s->unit_normal) /* the running statistics of the mlp's batch norm */
            continue;
        vectors++;
        float *trained = host_state(be, src, s->name), *initial = host_state(be, fresh, s->name);
        float *carried = host_state(be, ft, s->name);
        double norm = 0.0, trained_norm = 0.0;
        for (size_t k = 0; k < s->count; k++) {
            norm += (double)initial[k] * initial[k];
            trained_norm += (double)trained[k] * trained[k];
        }
        ck_assert_msg(fabs(norm - 1.0) < 1e-5, "%s: initial norm^2 %g", s->name, norm);
        ck_assert_msg(fabs(trained_norm - 1.0) < 1e-5, "%s: trained norm^2 %g", s->name,
                      trained_norm);
        ck_assert_msg(memcmp(trained, initial, s->count * sizeof *trained) != 0,
                      "%s: training left it", s->name);
        ck_assert_msg(!memcmp(trained, carried, s->count * sizeof *trained),
                      "%s: init.from did not carry it", s->name);
        free(trained);
        free(initial);
        free(carried);
    }
    ck_assert_int_eq(vectors, 2 * 2); /* u, v of fc1 and fc2 */
    nl_model_free(src);
    nl_model_free(fresh);
    nl_model_free(ft);
    nl_backend_close(be);
    free(cfg);
    tu_tmp_remove();
}
END_TEST

/* the largest eigenvalue of the symmetric n x n matrix a (destroyed), by
 * cyclic Jacobi rotations: exact to rounding, independent of power iteration */
static double jacobi_largest_eigenvalue(double *a, int n)
{
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
                off += a[p * n + q] * a[p * n + q];
        if (off < 1e-30)
            break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                if (fabs(a[p * n + q]) < 1e-300)
                    continue;
                const double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * a[p * n + q]);
                const double t = (theta >= 0 ? 1.0 : -1.0) /
                                 (fabs(theta) + sqrt(theta * theta + 1.0));
                const double c = 1.0 / sqrt(t * t + 1.0), sn = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    const double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - sn * akq;
                    a[k * n + q] = sn * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    const double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - sn * aqk;
                    a[q * n + k] = sn * apk + c * aqk;
                }
            }
    }
    double largest = a[0];
    for (int i = 1; i < n; i++)
        if (a[i * n + i] > largest)
            largest = a[i * n + i];
    return largest;
}

/* the sigma_true probe against an exact SVD (Jacobi on W^T W) of small
 * matrices, wide and tall, from the fixed start and from a warm one */
START_TEST(test_sigma_probe_exact)
{
    static const int shapes[][2] = {{7, 5}, {4, 9}, {16, 27}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const int rows = shapes[c][0], cols = shapes[c][1];
        float w[16 * 27];
        tu_fill_normal(w, (size_t)rows * cols, 30 + c, 0.0f, 0.5f);
        double gram[27 * 27];
        for (int i = 0; i < cols; i++)
            for (int j = 0; j < cols; j++) {
                double sum = 0.0;
                for (int r = 0; r < rows; r++)
                    sum += (double)w[r * cols + i] * w[r * cols + j];
                gram[i * cols + j] = sum;
            }
        const double exact = sqrt(jacobi_largest_eigenvalue(gram, cols));
        double v[27] = {0}, work[16];
        int iterations = 0;
        const double probe = nl_series_top_singular_value(w, rows, cols, v, work, &iterations);
        ck_assert_msg(fabs(probe - exact) <= 1e-6 * exact, "%dx%d: probe %.12g, exact %.12g "
                      "(%d iterations)", rows, cols, probe, exact, iterations);
        ck_assert_int_lt(iterations, NL_SERIES_PROBE_ITERATIONS);
        /* from its own singular vector it settles at once */
        const double again = nl_series_top_singular_value(w, rows, cols, v, work, &iterations);
        ck_assert_msg(fabs(again - exact) <= 1e-6 * exact, "%dx%d warm: %.12g", rows, cols, again);
        ck_assert_int_le(iterations, 3);
    }
}
END_TEST

/* train.log.weight_stats under spectral normalization: per hidden weight
 * and logged step, the forward's sigma and the exact one, the estimate
 * u^T W v of unit u, v never above it */
START_TEST(test_sigma_series)
{
    tu_tmp_make("pn-sigma");
    char *series = NULL;
    {
        /* the same run with the weight statistics */
        char yaml[1000];
        snprintf(yaml, sizeof yaml,
                 "seed: 3\n"
                 "data: {dataset: synthetic, shape: [1, 6, 6], classes: 3, train_size: 64, "
                 "test_size: 32}\n"
                 "model: {arch: mlp, widths: [8, 8], param_norm: {type: spectral}}\n"
                 "train: {batch_size: 16, steps: 6, eval_every: 6, log_every: 3, "
                 "optimizer: {lr: 0.05}, log: {weight_stats: true}}\n"
                 "threads: 1\n");
        tu_tmp_write("ws.yaml", yaml);
        ck_assert_int_eq(tu_normlab("run ws.yaml --out ws --quiet --threads 1"), 0);
        series = tu_tmp_read("ws/series.csv");
    }
    int estimates = 0, exact = 0;
    double last_estimate = NAN;
    char last_name[64] = "";
    for (char *line = strtok(series, "\n"); line; line = strtok(NULL, "\n")) {
        long step;
        int layer;
        char kind[64], name[64];
        double value;
        if (sscanf(line, "%ld,%63[^,],%d,%63[^,],%lf", &step, kind, &layer, name, &value) != 5)
            continue;
        if (!strcmp(kind, "sigma_estimate")) {
            estimates++;
            last_estimate = value;
            snprintf(last_name, sizeof last_name, "%s", name);
        } else if (!strcmp(kind, "sigma_true")) {
            exact++;
            ck_assert_str_eq(name, last_name);
            ck_assert_msg(last_estimate <= value * (1 + 1e-5) && value > 0,
                          "step %ld %s: estimate %g above the largest singular value %g", step,
                          name, last_estimate, value);
        }
    }
    /* fc1 and fc2 at steps 0 and 3 */
    ck_assert_int_eq(estimates, 2 * 2);
    ck_assert_int_eq(exact, estimates);
    free(series);
    /* weight_stats:sigma_estimate draws each layer's estimate and exact value */
    ck_assert_int_eq(tu_normlab("plot ws --kind weight_stats:sigma_estimate --format svg"), 0);
    char *drawn = tu_tmp_read("ws/plots/weight_stats-sigma_estimate.csv");
    ck_assert_msg(strstr(drawn, ",fc1.weight,3,") && strstr(drawn, ",fc1.weight exact,3,") &&
                      strstr(drawn, ",fc2.weight exact,0,"), "%s", drawn);
    free(drawn);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("param_norm");
    TCase *tc = tcase_create("param_norm");
    tcase_add_test(tc, test_goldens);
    tcase_add_test(tc, test_initial_weight_is_v);
    tcase_add_test(tc, test_every_arch_accepts_the_key);
    tcase_add_test(tc, test_weight_standardization_spelling);
    tcase_add_test(tc, test_fold_refused);
    tcase_add_test(tc, test_data_init);
    tcase_add_test(tc, test_init_from_refusals);
    tcase_add_test(tc, test_spectral_state_carried);
    tcase_add_test(tc, test_sigma_probe_exact);
    tcase_add_test(tc, test_sigma_series);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
