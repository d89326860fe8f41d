/* normlab export torch: a formula normalizer (model.norm.type expr) as a
 * PyTorch nn.Module.
 *
 * Without arguments (ctest test_export_torch): the command itself: the
 * file written, an existing one kept without --force and replaced with it,
 * standard output without --out, a run directory's config.yaml read, a
 * built-in's config refused with exit 2 naming model.norm.type and nothing
 * written, and the Python made from the tree (safe names, no text of the
 * formula pasted).
 *
 * With --torch (ctest test_export_torch_pytorch): several formulas (layer
 * norm's, batch norm's with running(), a cumulative batch norm on images,
 * EvoNorm-S0 with groups, one of abs/relu/min/max/log/exp with a scalar
 * parameter named lambda, running std and rms with groups, EvoNorm-B0, a
 * running statistic per channel group, softplus, clamp, detach, amax and amin) are
 * exported
 * and run by normlab on every input kind they accept: three training
 * steps, a backward, an evaluation pass. tests/export_torch/check.py runs
 * the exported module on the same inputs and parameters and compares the
 * outputs, the input and parameter gradients, the running buffers and the
 * evaluation output, then trains the module a few SGD steps. Skipped (77)
 * with a message where no Python has torch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "config/config.h"
#include "model/model.h"
#include "norm/formula.h"
#include "norm/formula_torch.h"
#include "norm/norm.h"
#include "norm_space.h"
#include "testutil.h"

#define STEPS 3
enum { N = 4, C = 6, T = 5, H = 3, W = 4 };

static const char *const data_images =
    "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 64, test_size: 32}\n";
static const char *const data_features =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, test_size: 32}\n";

/* a config of the formula: norm_keys are the lines under model.norm
 * (four spaces in) after type, expr and params */
static void write_config(const char *file, bool images, const char *expr, const char *params,
                         const char *norm_keys)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "%smodel:\n  arch: %s\n  widths: [%d, %d]\n  norm:\n    type: expr\n    expr: \"%s\"\n"
             "    params: \"%s\"\n%s"
             "train: {batch_size: 8, steps: 2}\n",
             images ? data_images : data_features, images ? "cnn" : "mlp", C, C, expr, params,
             norm_keys);
    tu_tmp_write(file, yaml);
}

static bool file_exists(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    struct stat st;
    return stat(path, &st) == 0;
}

START_TEST(test_export_torch_command)
{
    tu_tmp_make("export-torch");
    write_config("ln.yaml", true, "weight * (x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps) + bias",
                 "weight = 1 per channel, bias = 0 per channel", "    name: ln-formula\n");
    ck_assert_int_eq(tu_normlab("export torch ln.yaml --out ln.py"), 0);
    char *first = tu_tmp_read("ln.py");
    ck_assert_msg(strstr(first, "class LnFormula(nn.Module):"), "the class is named after model.norm.name");
    ck_assert_msg(strstr(first, "def __init__(self, num_channels, groups=1):"), "%s", first);
    ck_assert_msg(strstr(first, "self.weight = nn.Parameter(torch.full((num_channels,), 1.0))"), "%s", first);
    /* an existing file is kept: exit 2, saying so */
    tu_tmp_write("ln.py", "# the user's own file\n");
    ck_assert_int_eq(tu_normlab("export torch ln.yaml --out ln.py"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "ln.py exists") && strstr(out, "--force"), "%s", out);
    free(out);
    char *kept = tu_tmp_read("ln.py");
    ck_assert_str_eq(kept, "# the user's own file\n");
    free(kept);
    ck_assert_int_eq(tu_normlab("export torch ln.yaml --out ln.py --force"), 0);
    char *again = tu_tmp_read("ln.py");
    ck_assert_str_eq(again, first);
    free(again);
    /* standard output without --out: the same module */
    ck_assert_int_eq(tu_normlab("export torch ln.yaml"), 0);
    out = tu_normlab_output();
    ck_assert_str_eq(out, first);
    free(out);
    /* a run directory: its config.yaml */
    ck_assert_int_eq(tu_normlab("run ln.yaml --out run"), 0);
    ck_assert_int_eq(tu_normlab("export torch run --out from-run.py"), 0);
    char *from_run = tu_tmp_read("from-run.py");
    ck_assert_str_eq(from_run, first);
    free(from_run);
    free(first);

    /* a built-in: exit 2 naming model.norm.type, nothing written */
    tu_tmp_write("bn.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, "
                            "test_size: 32}\nmodel:\n  arch: mlp\n  widths: [6, 6]\n  norm: {type: batch}\n"
                            "train: {batch_size: 8, steps: 2}\n");
    ck_assert_int_eq(tu_normlab("export torch bn.yaml --out bn.py"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.norm.type is batch, not expr"), "%s", out);
    free(out);
    ck_assert(!file_exists("bn.py"));
    /* neither a config nor a run */
    ck_assert_int_eq(tu_normlab("export torch missing.yaml --out m.py"), 2);
    ck_assert(!file_exists("m.py"));
    /* --out stays required for tensorboard */
    ck_assert_int_eq(tu_normlab("export tensorboard run"), 2);
    /* the help names the format */
    ck_assert_int_eq(tu_normlab("export --help"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "normlab export torch CONFIG_OR_RUN [--out FILE] [--force]"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* The Python comes from the tree: parameters named like Python's keywords
 * or nn.Module's attributes are renamed, the class name is an identifier,
 * and the formula's own spelling (its spacing, here) is nowhere in it */
START_TEST(test_module_names_are_safe)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_formula_parse("lambda*x  +   forward * running(mean(x,[batch])) - _nl_g + 2 / 0 + "
                                   "sqrt(4)",
                                   "lambda = 1 per channel, forward = -0.5, _nl_g = 0.25", &f, &err) == NL_OK,
                  "%s", err.msg);
    nl_buf py = {0};
    char cls[64];
    const nl_formula_torch_spec spec = {.name = "3-my.norm", .eps = 1e-5f, .momentum = 0.25f, .groups = 1};
    ck_assert_int_eq(nl_formula_torch(f, &spec, &py, cls, sizeof cls, &err), NL_OK);
    ck_assert_str_eq(cls, "Norm3MyNorm");
    ck_assert_msg(strstr(py.data, "self.lambda_ = nn.Parameter(torch.full((num_channels,), 1.0))"), "%s", py.data);
    ck_assert_msg(strstr(py.data, "self.forward_ = nn.Parameter(torch.full((1,), -0.5))"), "%s", py.data);
    ck_assert_msg(strstr(py.data, "self._nl_g_ = nn.Parameter(torch.full((1,), 0.25))"), "%s", py.data);
    ck_assert_msg(!strstr(py.data, "self.lambda ="), "%s", py.data);
    ck_assert_msg(strstr(py.data, "self.register_buffer(\"running_mean\", torch.full((num_channels * "
                                  "num_positions,), 0.0))"),
                  "%s", py.data);
    ck_assert_msg(strstr(py.data, "self.momentum = 0.25"), "%s", py.data);
    ck_assert_msg(strstr(py.data, "_nl_k(x4, 2.0) / 0.0") && strstr(py.data, "torch.sqrt(_nl_k(x4, 4.0))"),
                  "%s", py.data);
    ck_assert_msg(!strstr(py.data, "lambda*x") && !strstr(py.data, "x  +"), "the text pasted: %s", py.data);
    nl_buf_free(&py);
    nl_formula_free(f);
}
END_TEST

/* ---- against PyTorch (--torch) ---- */

typedef struct {
    const char *name, *expr, *params, *keys;
    bool images;  /* the config's model: cnn (else mlp) */
    int kinds[3]; /* the input kinds run (ndim), 0 ends */
} torch_case;

static const torch_case cases[] = {
    {"ln-formula", "weight * (x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel", "    eps: 0.001\n", true, {2, 3, 4}},
    {"bn-formula", "weight * (x - running(mean(x, [batch]))) / sqrt(running(var(x, [batch])) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel", "    momentum: 0.2\n", false, {2, 3, 0}},
    {"bn2d-cumulative",
     "weight * (x - running(mean(x, [batch, spatial]))) * rsqrt(running(var(x, [batch, spatial])) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel", "    momentum: null\n", true, {4, 0, 0}},
    {"evonorm-s0", "weight * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel, v = 1 per channel", "    groups: 2\n", true, {4, 0, 0}},
    {"kinks",
     "abs(x) ^ 1.5 - relu(x - 0.25) * rsqrt(var(x, [batch]) + 1) + log(exp(-x) + 2) + min(x, b) - "
     "max(2 * x, -b) * lambda",
     "b = 0.1 per channel, lambda = 0.5", "", false, {2, 3, 4}},
    {"spread-groups",
     "tanh(x) * running(std(x, [batch, spatial])) + sum(x, [channels, spatial]) / 50 - "
     "running(rms(x, [batch, spatial])) * s",
     "s = 1.5", "    groups: 3\n    momentum: 0.3\n", true, {4, 0, 0}},
    /* EvoNorm-B0 (timm's EvoNorm2dB0 form), and a running statistic per
     * channel group */
    {"evonorm-b0",
     "weight * x / max(sqrt(running(var(x, [batch, spatial])) + eps), v * x + sqrt(var(x, [spatial]) + eps)) + bias",
     "weight = 1 per channel, bias = 0 per channel, v = 1 per channel", "", true, {4, 0, 0}},
    {"group-running", "w * (x - running(mean(x, [batch, channels, spatial]))) / running(rms(x, [batch, channels, spatial]))",
     "w = 1 per channel", "    groups: 2\n", true, {4, 0, 0}},
    /* issue 114's words: softplus (torch.nn.functional.softplus), clamp
     * (torch.clamp: its gradient inside the range), detach (no gradient
     * through tanh(x) here, as torch's .detach()) */
    {"new-words", "softplus(w * x) - clamp(x, -1, 1.5) * detach(tanh(x)) + x * w - "
                  "amax(x, [channels]) * 0.5 + amin(x, [batch]) * 0.25",
     "w = 1.5 per channel", "", false, {2, 3, 4}},
    /* PowerNorm's running quadratic mean (its buffer starts at 1), and
     * starts given by init= (issue 114) */
    {"power-mean", "weight * x / sqrt(running(mean(x^2, [batch])) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel", "", false, {2, 3, 0}},
    {"running-init", "(x - running(mean(x, [batch]), init=0.5)) / sqrt(running(var(x, [batch]), init=2) + eps)",
     "", "", false, {2, 3, 0}},
    /* parameters per channel group (issue 114): group norm's affine per
     * group, and per-group parameters in a formula that reduces over no
     * channels */
    {"group-affine", "gamma * (x - mean(x, [channels, spatial])) / sqrt(var(x, [channels, spatial]) + eps) + beta",
     "gamma = 1 per group, beta = 0 per group", "    groups: 3\n", true, {4, 0, 0}},
    {"group-scale", "w * tanh(x) + b * x", "w = 1 per group, b = 0.5 per channel", "    groups: 2\n", false,
     {2, 3, 4}},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

static void json_floats(FILE *f, const char *key, const float *v, size_t n)
{
    fprintf(f, "\"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%.9g", i ? ", " : "", (double)v[i]);
    fprintf(f, "]");
}

static float *read_back(nl_backend *be, const float *src, size_t count)
{
    float *host = malloc(count * sizeof *host);
    be->ops->download(be, host, src, count * sizeof *host);
    return host;
}

/* normlab's side of one case on one input kind, as JSON into f */
static void run_normlab(FILE *f, const torch_case *tc, const nl_norm_spec *norm, int ndim, const char *module,
                        const char *cls)
{
    nl_backend *be = tu_cpu(1);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    /* (N, C), (N, T, C) arriving as (N, T, C, 1), (N, C, H, W) */
    spec.in_c = ndim == 3 ? T : C;
    spec.in_h = ndim == 3 ? C : ndim == 4 ? H : 1;
    spec.in_w = ndim == 4 ? W : 1;
    tu_norm_ctx ctx = {.ndim = ndim, .norm = *norm};
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build_graph(&spec, be, N, N, 1, tu_build_norm, &ctx, &m, &err) == NL_OK, "%s on %d: %s",
                  tc->name, ndim, err.msg);
    const size_t count = (size_t)N * spec.in_c * spec.in_h * spec.in_w;
    fprintf(f, "{\"name\": \"%s\", \"module\": \"%s\", \"class\": \"%s\", \"ndim\": %d, \"shape\": [%d, %d", tc->name,
            module, cls, ndim, N, ndim == 3 ? T : C);
    if (ndim >= 3)
        fprintf(f, ", %d", ndim == 3 ? C : H);
    if (ndim == 4)
        fprintf(f, ", %d", W);
    fprintf(f, "],\n \"start\": {");
    for (int i = 0; i < m->n_params; i++) {
        float *v = read_back(be, m->params[i]->data, m->params[i]->count);
        fprintf(f, "%s", i ? ", " : "");
        json_floats(f, strchr(m->params[i]->name, '.') + 1, v, m->params[i]->count);
        free(v);
    }
    for (int i = 0; i < m->n_states; i++) {
        float *v = read_back(be, m->states[i]->data, m->states[i]->count);
        fprintf(f, "%s", i || m->n_params ? ", " : "");
        json_floats(f, strchr(m->states[i]->name, '.') + 1, v, m->states[i]->count);
        free(v);
    }
    /* the parameters moved off their start, as a trained layer's */
    fprintf(f, "},\n \"params\": {");
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        float *v = read_back(be, p->data, p->count);
        for (size_t k = 0; k < p->count; k++)
            v[k] += 0.25f * sinf((float)(k + 1) * (float)(i + 3));
        be->ops->upload(be, p->data, v, p->count * sizeof *v);
        fprintf(f, "%s", i ? ", " : "");
        json_floats(f, strchr(p->name, '.') + 1, v, p->count);
        free(v);
    }
    fprintf(f, "},\n \"steps\": [");
    float *x = malloc(count * sizeof *x), *dy = malloc(count * sizeof *dy);
    for (int step = 0; step < STEPS; step++) {
        tu_fill_normal(x, count, 100 + (uint64_t)step, 1.5f, 2.0f);
        be->ops->upload(be, m->input->data, x, count * sizeof *x);
        m->step = step;
        nl_model_forward(m, N, NL_MODE_TRAIN);
        fprintf(f, "%s{", step ? ", " : "");
        json_floats(f, "x", x, count);
        fprintf(f, "}");
    }
    fprintf(f, "],\n ");
    float *y = read_back(be, m->logits->data, count);
    json_floats(f, "y", y, count);
    free(y);
    tu_fill_normal(dy, count, 200, 0.0f, 1.0f);
    nl_model_backward_from(m, N, dy);
    fprintf(f, ",\n ");
    json_floats(f, "dy", dy, count);
    float *dx = read_back(be, m->input->grad, count);
    fprintf(f, ",\n ");
    json_floats(f, "dx", dx, count);
    free(dx);
    fprintf(f, ",\n \"dparams\": {");
    for (int i = 0; i < m->n_params; i++) {
        float *g = read_back(be, m->params[i]->grad, m->params[i]->count);
        fprintf(f, "%s", i ? ", " : "");
        json_floats(f, strchr(m->params[i]->name, '.') + 1, g, m->params[i]->count);
        free(g);
    }
    fprintf(f, "},\n \"running\": {");
    for (int i = 0; i < m->n_states; i++) {
        float *v = read_back(be, m->states[i]->data, m->states[i]->count);
        fprintf(f, "%s", i ? ", " : "");
        json_floats(f, strchr(m->states[i]->name, '.') + 1, v, m->states[i]->count);
        free(v);
    }
    fprintf(f, "},\n ");
    tu_fill_normal(x, count, 300, 1.5f, 2.0f);
    be->ops->upload(be, m->input->data, x, count * sizeof *x);
    nl_model_forward(m, N, NL_MODE_EVAL);
    json_floats(f, "x_eval", x, count);
    float *y_eval = read_back(be, m->logits->data, count);
    fprintf(f, ",\n ");
    json_floats(f, "y_eval", y_eval, count);
    fprintf(f, "}");
    free(y_eval);
    free(x);
    free(dy);
    nl_model_free(m);
}

static const char *python; /* the interpreter with torch, from main */

START_TEST(test_exported_modules_match_normlab)
{
    tu_tmp_make("export-torch-parity");
    char path[512];
    snprintf(path, sizeof path, "%s/cases.json", tu_tmp);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fprintf(f, "[\n");
    int entries = 0;
    for (int i = 0; i < N_CASES; i++) {
        const torch_case *tc = &cases[i];
        char keys[256], file[64], module[64], args[256];
        snprintf(keys, sizeof keys, "    name: %s\n%s", tc->name, tc->keys);
        snprintf(file, sizeof file, "case%d.yaml", i);
        write_config(file, tc->images, tc->expr, tc->params, keys);
        snprintf(module, sizeof module, "case%d.py", i);
        snprintf(args, sizeof args, "export torch %s --out %s", file, module);
        const int status = tu_normlab(args);
        char *said = tu_normlab_output();
        ck_assert_msg(status == 0, "%s: %s", tc->name, said);
        free(said);
        nl_config *cfg = calloc(1, sizeof *cfg);
        nl_error err = {0};
        char cfg_path[512];
        snprintf(cfg_path, sizeof cfg_path, "%s/%s", tu_tmp, file);
        ck_assert_msg(nl_config_load(cfg_path, NULL, 0, cfg, &err) == NL_OK, "%s: %s", tc->name, err.msg);
        nl_formula *fm = NULL;
        ck_assert(nl_formula_parse(cfg->model.norm.expr, cfg->model.norm.params, &fm, &err) == NL_OK);
        nl_buf py = {0};
        char cls[64];
        const nl_formula_torch_spec spec = {.name = cfg->model.norm.label};
        ck_assert(nl_formula_torch(fm, &spec, &py, cls, sizeof cls, &err) == NL_OK);
        nl_buf_free(&py);
        nl_formula_free(fm);
        for (int k = 0; k < 3 && tc->kinds[k]; k++) {
            fprintf(f, "%s", entries++ ? ",\n" : "");
            run_normlab(f, tc, &cfg->model.norm, tc->kinds[k], module, cls);
        }
        free(cfg);
    }
    fprintf(f, "\n]\n");
    ck_assert_int_eq(fclose(f), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s/tests/export_torch/check.py %s 2>&1", python, NORMLAB_SOURCE_DIR, tu_tmp);
    const int status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "tests/export_torch/check.py found the modules unlike normlab (status %d); its files are "
                  "in %s",
                  WEXITSTATUS(status), tu_tmp);
    tu_tmp_remove();
}
END_TEST

/* the first Python that imports torch: NORMLAB_PEER_PYTHON, the pinned
 * peer's venv (.venv-peer, as the peer tests), Debian's python3-torch (as
 * tests/golden/formula_torch.py) */
static const char *find_python(void)
{
    static char found[1024];
    const char *env = getenv("NORMLAB_PEER_PYTHON");
    const char *candidates[] = {env, NORMLAB_SOURCE_DIR "/.venv-peer/bin/python", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (!candidates[i] || !candidates[i][0])
            continue;
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", candidates[i]);
        const int status = system(cmd);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            snprintf(found, sizeof found, "%s", candidates[i]);
            return found;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    Suite *s = suite_create("export_torch");
    TCase *tc = tcase_create("export_torch");
    tcase_set_timeout(tc, 300);
    if (argc > 1 && !strcmp(argv[1], "--torch")) {
        python = find_python();
        if (!python) {
            printf("skipped: no Python with torch (NORMLAB_PEER_PYTHON, %s/.venv-peer/bin/python, "
                   "/usr/bin/python3 with Debian's python3-torch): the exported modules were not "
                   "checked against normlab\n",
                   NORMLAB_SOURCE_DIR);
            srunner_free(srunner_create(s));
            return 77;
        }
        printf("PyTorch from %s\n", python);
        tcase_add_test(tc, test_exported_modules_match_normlab);
    } else {
        tcase_add_test(tc, test_export_torch_command);
        tcase_add_test(tc, test_module_names_are_safe);
    }
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
