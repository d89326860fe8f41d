/* model.norm.activation (core/arch/parts.c nl_arch_norm_act): a formula in
 * the activation's place, EvoNorm's normalization-activation layer. The
 * planned graph has no ReLU after a formula where replace is set (neither
 * a layer nor one fused into the normalizer or the pooling), keeps the
 * ReLU after a residual add, and has every ReLU under keep; the key is
 * refused where it cannot apply (a built-in, placement after, an
 * architecture without norm -> activation pairs), by the config with the
 * file, line and accepted values and nothing written, and by the builder
 * for a spec made without a config; a replaced model trains and its
 * formulas pass validate's gradient check on the run's own graph; the
 * PyTorch export is the formula layer alone either way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "arch/registry.h"
#include "layers/layer.h"
#include "model/model.h"
#include "norm/registry.h"
#include "plan/plan.h"
#include "testutil.h"

/* configs/expr/evonorm-b0.yaml's and evonorm-s0.yaml's formulas */
#define B0 "weight * x / max(sqrt(running(var(x, [batch, spatial])) + eps), v * x + sqrt(var(x, [spatial]) + eps)) + bias"
#define S0 "weight * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + bias"
#define PARAMS "weight = 1 per channel, bias = 0 per channel, v = 1 per channel"

static nl_model_spec evo_spec(nl_arch arch, nl_placement placement, const char *expr,
                              nl_norm_activation activation)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = arch;
    spec.in_c = 1;
    spec.in_h = spec.in_w = 8;
    spec.classes = 4;
    spec.n_widths = 2;
    spec.widths[0] = 8;
    spec.widths[1] = 16;
    spec.convs_per_stage = 2;
    spec.blocks_per_stage = 2;
    nl_norm_spec_defaults(&spec.norm, NL_NORM_EXPR);
    snprintf(spec.norm.expr, sizeof spec.norm.expr, "%s", expr);
    snprintf(spec.norm.params, sizeof spec.norm.params, "%s", PARAMS);
    spec.norm.groups = 4;
    spec.norm.placement = placement;
    spec.norm.activation = activation;
    return spec;
}

typedef struct {
    int norms;     /* formula layers */
    int relus;     /* ReLUs anywhere: layers, fused into a norm or a pooling */
    int after_add; /* of them, those after a residual add */
} relu_count;

/* the kind of the layer that writes `act` ("" for the input) */
static const char *writer_kind(const nl_model *m, const nl_act *act)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->out == act)
            return m->layers[i]->vt->kind;
    return "";
}

static relu_count count_relus(const nl_model *m)
{
    relu_count c = {0};
    for (int i = 0; i < m->n_layers; i++) {
        const nl_layer *l = m->layers[i];
        if (!strcmp(l->vt->kind, "expr")) {
            c.norms++;
            if (l->fused && strstr(l->fused, "add+relu")) {
                c.relus++;
                c.after_add++;
            } else if (l->fused && strstr(l->fused, "relu")) {
                c.relus++;
            }
        }
        if (!strcmp(l->vt->kind, "relu+maxpool"))
            c.relus++;
        if (nl_layer_is_relu(l)) {
            c.relus++;
            c.after_add += !strcmp(writer_kind(m, l->in[0]), "residual_add");
        }
    }
    return c;
}

static relu_count planned(const nl_model_spec *spec, const char *what)
{
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_plan(spec, 8, 8, 1, &m, &err) == NL_OK, "%s: %s", what, err.msg);
    const relu_count c = count_relus(m);
    nl_model_free(m);
    return c;
}

/* the CNN: 4 conv-norm-act blocks; the ResNet post: the stem's pair, two
 * pairs... one per block, the ReLU after each block's add; pre: a pair per
 * block's norm1 and norm2, and the final pair */
START_TEST(test_graph_has_no_relu_after_the_formula)
{
    static const struct {
        nl_arch arch;
        nl_placement placement;
        int pairs, adds;
    } cases[] = {
        {NL_ARCH_CNN, NL_PLACE_BEFORE, 4, 0},
        {NL_ARCH_MLP, NL_PLACE_BEFORE, 2, 0},
        {NL_ARCH_RESNET, NL_PLACE_POST, 1 + 4, 4},
        {NL_ARCH_RESNET, NL_PLACE_PRE, 4 * 2 + 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int f = 0; f < 2; f++) {
            const char *expr = cases[k].arch == NL_ARCH_MLP
                                   ? "weight * x * sigmoid(v * x) / sqrt(var(x, [channels]) + eps) + bias"
                                   : f ? S0 : B0;
            char what[96];
            snprintf(what, sizeof what, "%s %s %s", nl_name_of(&nl_arch_names, cases[k].arch),
                     nl_name_of(&nl_placement_names, cases[k].placement), f ? "S0" : "B0");
            nl_model_spec keep = evo_spec(cases[k].arch, cases[k].placement, expr, NL_NORM_ACT_KEEP);
            nl_model_spec replace = keep;
            replace.norm.activation = NL_NORM_ACT_REPLACE;
            const relu_count kept = planned(&keep, what), replaced = planned(&replace, what);
            ck_assert_int_eq(kept.norms, replaced.norms);
            ck_assert_msg(kept.relus == cases[k].pairs + cases[k].adds,
                          "%s keep: %d ReLUs, want %d", what, kept.relus,
                          cases[k].pairs + cases[k].adds);
            ck_assert_msg(replaced.relus == cases[k].adds && replaced.after_add == cases[k].adds,
                          "%s replace: %d ReLUs (%d after an add), want only the %d after the "
                          "adds", what, replaced.relus, replaced.after_add, cases[k].adds);
        }
    }
}
END_TEST

/* a spec made without a config: the builder refuses replace where it
 * cannot apply, naming the key */
START_TEST(test_builder_refuses_replace)
{
    nl_model_spec specs[4];
    specs[0] = evo_spec(NL_ARCH_CNN, NL_PLACE_AFTER, S0, NL_NORM_ACT_REPLACE);
    specs[1] = evo_spec(NL_ARCH_CNN, NL_PLACE_BEFORE, S0, NL_NORM_ACT_REPLACE);
    nl_norm_spec_defaults(&specs[1].norm, NL_NORM_BATCH);
    specs[1].norm.placement = NL_PLACE_BEFORE;
    specs[1].norm.activation = NL_NORM_ACT_REPLACE;
    specs[2] = evo_spec(NL_ARCH_RESNET, NL_PLACE_POST, B0, NL_NORM_ACT_REPLACE);
    nl_norm_spec_defaults(&specs[2].norm, NL_NORM_GROUP);
    specs[2].norm.placement = NL_PLACE_POST;
    specs[2].norm.groups = 4;
    specs[2].norm.activation = NL_NORM_ACT_REPLACE;
    specs[3] = evo_spec(NL_ARCH_VIT, NL_PLACE_PRE, "weight * x / sqrt(var(x, [channels]) + eps)",
                        NL_NORM_ACT_REPLACE);
    snprintf(specs[3].norm.params, sizeof specs[3].norm.params, "weight = 1 per channel");
    specs[3].d_model = 8;
    specs[3].heads = 2;
    specs[3].layers = 1;
    specs[3].patch = 4;
    for (int k = 0; k < 4; k++) {
        nl_error err = {0};
        ck_assert_msg(nl_model_check(&specs[k], 4, &err) == NL_ERR_CONFIG, "spec %d built", k);
        ck_assert_msg(!strcmp(err.key, "model.norm.activation"), "spec %d: key %s: %s", k,
                      err.key, err.msg);
        ck_assert_msg(strstr(err.msg, "keep"), "spec %d: %s", k, err.msg);
        /* keep builds every one */
        specs[k].norm.activation = NL_NORM_ACT_KEEP;
        ck_assert_msg(nl_model_check(&specs[k], 4, &err) == NL_OK, "spec %d keep: %s", k, err.msg);
    }
}
END_TEST

static const char *evo_config = "data: {dataset: synthetic, shape: [1, 8, 8], classes: 4, "
                                "train_size: 64, test_size: 32}\n"
                                "model:\n"
                                "  arch: %s\n"
                                "  widths: [8, 16]\n"
                                "  norm:\n"
                                "    type: %s\n"
                                "    expr: \"" S0 "\"\n"
                                "    params: \"" PARAMS "\"\n"
                                "    groups: 4\n"
                                "    placement: %s\n"
                                "    activation: replace\n"
                                "train: {batch_size: 8, steps: 6, log_every: 1, eval_every: 6}\n";

/* the config refuses the key where it does not apply: exit 2, the file and
 * line, the key and what it needs, and no run directory */
START_TEST(test_config_refuses_replace)
{
    static const struct {
        const char *arch, *type, *placement, *needs;
    } cases[] = {
        {"cnn", "expr", "after", "before | post | pre"},
        {"resnet", "group", "post", "model.norm.type"},
        {"lm", "expr", "pre", "model.arch is mlp, cnn or resnet"},
    };
    tu_tmp_make("norm-activation");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[2048], args[512];
        if (!strcmp(cases[k].type, "expr"))
            snprintf(text, sizeof text, evo_config, cases[k].arch, cases[k].type,
                     cases[k].placement);
        else /* a built-in: no expr, params or groups of a formula */
            snprintf(text, sizeof text,
                     "model: {arch: %s, widths: [8], norm: {type: %s, placement: %s,\n"
                     "  activation: replace}}\ntrain: {steps: 2}\n",
                     cases[k].arch, cases[k].type, cases[k].placement);
        if (!strcmp(cases[k].arch, "lm"))
            snprintf(text, sizeof text,
                     "data: {dataset: synthetic_text}\n"
                     "model: {arch: lm, norm: {type: expr, expr: \"x / sqrt(var(x, [channels]) + "
                     "eps)\",\n  activation: replace}}\ntrain: {steps: 2}\n");
        tu_tmp_write("refused.yaml", text);
        snprintf(args, sizeof args, "run refused.yaml --out run%zu", k);
        ck_assert_int_eq(tu_normlab(args), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "refused.yaml:") && strstr(out, "model.norm.activation") &&
                          strstr(out, "applies only when"),
                      "case %zu: %s", k, out);
        char dir[600];
        snprintf(dir, sizeof dir, "%s/run%zu", tu_tmp, k);
        struct stat st;
        ck_assert_msg(stat(dir, &st) != 0, "case %zu wrote %s", k, dir);
        free(out);
    }
}
END_TEST

/* a replaced CNN and ResNet train (finite, falling loss); a replaced model
 * is another model than the kept one (the losses differ); validate's
 * gradient check passes on the replaced graph's formulas */
START_TEST(test_replaced_model_trains)
{
    nl_backend *be = tu_cpu(1);
    const char *archs[][2] = {{"cnn", "before"}, {"resnet", "post"}, {"resnet", "pre"}};
    for (int a = 0; a < 3; a++) {
        char text[2048];
        snprintf(text, sizeof text, evo_config, archs[a][0], "expr", archs[a][1]);
        nl_metric_row replaced[32], kept[32];
        tu_train_variant v = {0};
        const int n = tu_train_rows(be, text, &v, replaced, 32);
        ck_assert_int_ge(n, 6);
        for (int r = 0; r < n; r++)
            ck_assert_msg(isfinite(replaced[r].loss), "%s row %d: loss %g", archs[a][0], r,
                          replaced[r].loss);
        char *at = strstr(text, "activation: replace");
        memcpy(at, "activation: keep   ", strlen("activation: keep   "));
        tu_train_variant w = {0};
        ck_assert_int_eq(tu_train_rows(be, text, &w, kept, 32), n);
        ck_assert_msg(replaced[n - 1].loss != kept[n - 1].loss, "%s: replace trained the kept model",
                      archs[a][0]);
    }
    tu_tmp_make("norm-activation-validate");
    char text[2048];
    snprintf(text, sizeof text, evo_config, "resnet", "expr", "post");
    tu_tmp_write("evo.yaml", text);
    ck_assert_msg(tu_normlab("validate evo.yaml") == 0, "%s", tu_normlab_output());
}
END_TEST

/* `normlab export torch` writes the formula layer alone: the same module
 * whether the activation after it is kept or replaced */
START_TEST(test_export_unaffected)
{
    tu_tmp_make("norm-activation-export");
    char text[2048];
    snprintf(text, sizeof text, evo_config, "cnn", "expr", "before");
    tu_tmp_write("replace.yaml", text);
    char *at = strstr(text, "activation: replace");
    memcpy(at, "activation: keep   ", strlen("activation: keep   "));
    tu_tmp_write("keep.yaml", text);
    ck_assert_msg(tu_normlab("export torch replace.yaml --out replace.py") == 0, "%s",
                  tu_normlab_output());
    ck_assert_msg(tu_normlab("export torch keep.yaml --out keep.py") == 0, "%s",
                  tu_normlab_output());
    char *replaced = tu_tmp_read("replace.py"), *kept = tu_tmp_read("keep.py");
    ck_assert_msg(strstr(replaced, "class ") && strstr(replaced, "sigmoid"), "%s", replaced);
    ck_assert_str_eq(replaced, kept);
    free(replaced);
    free(kept);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_activation");
    TCase *tc = tcase_create("norm_activation");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_graph_has_no_relu_after_the_formula);
    tcase_add_test(tc, test_builder_refuses_replace);
    tcase_add_test(tc, test_config_refuses_replace);
    tcase_add_test(tc, test_replaced_model_trains);
    tcase_add_test(tc, test_export_unaffected);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
