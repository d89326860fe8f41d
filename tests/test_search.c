// ctest-labels: cpu
/* normlab search (issue 117): the formula printer gives back the tree it
 * printed, over every registry formula (configs/expr and the built-ins'
 * rows) and random mutants; every mutation row gives formulas the parser
 * accepts within the limits, the same ones for the same seed; the
 * canonical form is blind to the order of commutative operands and to
 * nothing else; the numerics probe rejects log(x) and x * 0 / 0, and its
 * behaviour hash finds a formula written twice; bad search files exit 2 at
 * file:line:column with nothing written; a tiny search on synthetic data
 * runs, records, and goes on from a cut candidates.csv to the same file. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "norm/formula_edit.h"
#include "norm/formula_internal.h"
#include "norm/registry.h"
#include "search/internal.h"
#include "testutil.h"

/* parses, failing the test with the parser's message */
static nl_formula *parse_ok(const char *expr, const char *params)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_formula_parse(expr, params, &f, &err) == NL_OK, "'%s' [%s]: %s", expr, params,
                  err.msg);
    return f;
}

/* print(f) parses back to f's tree and parameters */
static void assert_round_trip(const nl_formula *f, const char *what)
{
    char expr[NL_FORMULA_MAX_TEXT + 1], params[NL_FORMULA_MAX_PARAMS_TEXT + 1];
    nl_error err = {0};
    ck_assert_msg(nl_formula_print(f, expr, sizeof expr, params, sizeof params, &err) == NL_OK,
                  "%s: %s", what, err.msg);
    nl_formula *g = parse_ok(expr, params);
    ck_assert_msg(nl_formula_same(f, g), "%s: printed as '%s' [%s], which parses to another tree",
                  what, expr, params);
    nl_formula_free(g);
}

/* every formula of the registry: the configs in configs/expr and the built-ins' rows */
static int registry_formulas(char exprs[][NL_FORMULA_MAX_TEXT + 1], char params[][NL_FORMULA_MAX_PARAMS_TEXT + 1],
                             int max)
{
    int n = 0;
    DIR *d = opendir(NORMLAB_SOURCE_DIR "/configs/expr");
    ck_assert(d);
    nl_config *cfg = malloc(sizeof *cfg);
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        if (!strstr(e->d_name, ".yaml"))
            continue;
        char path[1024];
        nl_error err = {0};
        snprintf(path, sizeof path, "%s/configs/expr/%s", NORMLAB_SOURCE_DIR, e->d_name);
        ck_assert_msg(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK, "%s: %s", path, err.msg);
        snprintf(exprs[n], sizeof exprs[n], "%s", cfg->model.norm.expr);
        snprintf(params[n++], sizeof params[0], "%s", cfg->model.norm.params);
    }
    closedir(d);
    free(cfg);
    ck_assert_int_ge(n, 5);
    for (int k = 0; k < NL_NORM_COUNT; k++)
        for (int j = 0; j < 3 && n < max; j++) {
            const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
            if (!row->formula[j])
                continue;
            snprintf(exprs[n], sizeof exprs[n], "%s", row->formula[j]);
            snprintf(params[n++], sizeof params[0], "%s", row->formula_params ? row->formula_params : "");
        }
    return n;
}

enum { MAX_FORMULAS = 64 };
static char reg_expr[MAX_FORMULAS][NL_FORMULA_MAX_TEXT + 1];
static char reg_params[MAX_FORMULAS][NL_FORMULA_MAX_PARAMS_TEXT + 1];

START_TEST(test_print_round_trip)
{
    const int n = registry_formulas(reg_expr, reg_params, MAX_FORMULAS);
    for (int i = 0; i < n; i++) {
        nl_formula *f = parse_ok(reg_expr[i], reg_params[i]);
        assert_round_trip(f, reg_expr[i]);
        nl_formula_free(f);
    }
    /* the grammar's corners: precedence, unary minus, powers, constants */
    static const char *const corners[] = {
        "x - (x - 1)", "(x - 1) - x", "x / (x / 2)", "-x^2", "(-x)^2", "(x * 2)^-0.5",
        "-(-x)", "x - -x", "clamp(x, -3, 2.5)", "1e-05 + x", "running(var(x, [batch]), init=2) * x",
        "min(x, eps) * (x + 1) / (x * 3)", "x ^ 3 ^ 1"};
    for (size_t i = 0; i < sizeof corners / sizeof corners[0]; i++) {
        nl_formula *f = NULL;
        nl_error err = {0};
        if (nl_formula_parse(corners[i], "", &f, &err) != NL_OK)
            continue; /* a text the grammar refuses (x ^ 3 ^ 1) has no tree to print */
        assert_round_trip(f, corners[i]);
        nl_formula_free(f);
    }
}
END_TEST

/* the mutant's tree within the limits, and its text what the printer
 * gives of it (its own tree) */
static void assert_within_limits(const nl_formula *f, const char *what)
{
    ck_assert_msg(f->count <= NL_FORMULA_MAX_TREE && strlen(f->text) <= NL_FORMULA_MAX_TEXT, "%s", what);
    assert_round_trip(f, what);
}

/* n mutants of every registry formula by every row from one seed, their texts joined */
static char *mutants(uint64_t seed, int per_row, int n_formulas)
{
    size_t size = 1 << 20, used = 0;
    char *all = malloc(size);
    all[0] = '\0';
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_SEARCH);
    const nl_formula_mutate_options opt = {.axes = (1u << NL_AXIS_BATCH) | (1u << NL_AXIS_CHANNELS) |
                                                   (1u << NL_AXIS_SPATIAL)};
    for (int i = 0; i < n_formulas; i++) {
        nl_formula *parent = parse_ok(reg_expr[i], reg_params[i]);
        nl_formula *other = parse_ok(reg_expr[(i + 1) % n_formulas], reg_params[(i + 1) % n_formulas]);
        for (int m = 0; m < nl_formula_mutation_count; m++)
            for (int k = 0; k < per_row; k++) {
                nl_formula *child = NULL;
                nl_error err = {0};
                const nl_code rc = nl_formula_mutate(m, parent, other, &rng, &opt, &child, &err);
                ck_assert_msg(rc == NL_OK || rc == NL_ERR_UNSUPPORTED, "%s", err.msg);
                if (rc)
                    continue;
                assert_within_limits(child, nl_formula_mutations[m].name);
                used += (size_t)snprintf(all + used, size - used, "%s|%s\n", child->text,
                                         nl_formula_param_count(child) ? child->params[0].name : "");
                ck_assert(used < size);
                nl_formula_free(child);
            }
        nl_formula_free(parent);
        nl_formula_free(other);
    }
    return all;
}

START_TEST(test_mutations)
{
    const int n = registry_formulas(reg_expr, reg_params, MAX_FORMULAS);
    char *a = mutants(5, 4, n), *b = mutants(5, 4, n), *c = mutants(6, 4, n);
    ck_assert_str_eq(a, b); /* the same draws, the same mutants */
    ck_assert_str_ne(a, c);
    /* every row applies somewhere, and the mutants are many different formulas */
    int lines = 0;
    for (const char *p = a; *p; p++)
        lines += *p == '\n';
    ck_assert_int_ge(lines, n * nl_formula_mutation_count * 2);
    free(a), free(b), free(c);
    /* from x alone, each row that has a site there gives a formula; the
     * statistic a normalizer needs comes from insert_binary */
    nl_formula *x = parse_ok("x", "");
    nl_rng rng;
    nl_rng_seed(&rng, 1, NL_STREAM_SEARCH);
    bool reduced = false;
    for (int k = 0; k < 40; k++) {
        nl_formula *child = NULL;
        nl_error err = {0};
        if (nl_formula_mutate(3, x, NULL, &rng, NULL, &child, &err) == NL_OK) {
            ck_assert_str_eq(nl_formula_mutations[3].name, "insert_binary");
            reduced |= strstr(child->text, "(x, [") != NULL;
            nl_formula_free(child);
        }
    }
    ck_assert(reduced);
    nl_error err = {0};
    nl_formula *none = NULL;
    ck_assert_int_eq(nl_formula_mutate(4, x, NULL, &rng, NULL, &none, &err), NL_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "no site"), "%s", err.msg);
    nl_formula_free(x);
}
END_TEST

/* the declarations of the parameters expr reads: gamma (a gain), beta (a shift) */
static const char *params_for(const char *expr, char *buf, size_t size)
{
    const bool gamma = nl_formula_reads(expr, "gamma"), beta = nl_formula_reads(expr, "beta");
    snprintf(buf, size, "%s%s%s", gamma ? "gamma = 1 per channel" : "", gamma && beta ? ", " : "",
             beta ? "beta = 0 per channel" : "");
    return buf;
}

static void canonical_of(const char *expr, char *out, size_t size)
{
    char params[128];
    nl_formula *f = parse_ok(expr, params_for(expr, params, sizeof params));
    nl_error err = {0};
    ck_assert_msg(nl_formula_canonical(f, out, size, &err) == NL_OK, "%s", err.msg);
    nl_formula_free(f);
}

START_TEST(test_canonical)
{
    char a[4096], b[4096];
    static const char *const same[][2] = {
        {"x * gamma", "gamma * x"},
        {"min(x, beta) + gamma", "gamma + min(beta, x)"},
        {"(x - mean(x, [batch])) * gamma", "gamma * (x - mean(x, [batch]))"},
        {"x / sqrt(var(x, [batch]) + eps)", "x / sqrt(eps + var(x, [batch]))"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        canonical_of(same[i][0], a, sizeof a);
        canonical_of(same[i][1], b, sizeof b);
        ck_assert_msg(!strcmp(a, b), "'%s' and '%s': %s vs %s", same[i][0], same[i][1], a, b);
    }
    static const char *const differ[][2] = {
        {"x - gamma", "gamma - x"},   {"x / gamma", "gamma / x"},
        {"mean(x, [batch])", "mean(x, [channels])"}, {"x * gamma", "x + gamma"},
        {"var(x, [batch])", "running(var(x, [batch]))"}};
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        canonical_of(differ[i][0], a, sizeof a);
        canonical_of(differ[i][1], b, sizeof b);
        ck_assert_msg(strcmp(a, b), "'%s' and '%s' share %s", differ[i][0], differ[i][1], a);
    }
    /* a parameter's start is part of it */
    nl_formula *one = parse_ok("x * gamma", "gamma = 1 per channel");
    nl_formula *two = parse_ok("x * gamma", "gamma = 2 per channel");
    nl_error err = {0};
    ck_assert(nl_formula_canonical(one, a, sizeof a, &err) == NL_OK);
    ck_assert(nl_formula_canonical(two, b, sizeof b, &err) == NL_OK);
    ck_assert_str_ne(a, b);
    nl_formula_free(one);
    nl_formula_free(two);
}
END_TEST

/* a small CNN on synthetic images: the base of the probe's and the search's tests */
#define BASE_CNN                                                                                   \
    "  data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}\n"  \
    "  model: {arch: cnn, widths: [4, 8], norm: {groups: 2}}\n"                                    \
    "  train: {batch_size: 8, log_every: 2, optimizer: {lr: 0.05}}\n"

/* a small MLP on the same data: feature vectors, where only batch and
 * channels are axes */
#define MLP_DATA "data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}\n"
#define MLP_MODEL "model: {arch: mlp, widths: [8], norm: {groups: 2}}\n"
#define MLP_TRAIN "train: {batch_size: 8, log_every: 2, optimizer: {lr: 0.05}}\n"
#define BASE_MLP "  " MLP_DATA "  " MLP_MODEL "  " MLP_TRAIN
/* the same as a config file of its own */
#define MLP_FILE MLP_DATA MLP_MODEL MLP_TRAIN

/* the probe of a search file's base (BASE_CNN or BASE_MLP), its first
 * start formula planned */
static void probe_open_on(nl_search_spec *s, nl_search_probe *p, const char *base)
{
    char text[2048];
    snprintf(text, sizeof text, "base:\n%sstart: [\"x\"]\npopulation: 2\ngenerations: 1\n"
             "hurdle: {steps: 2, min_accuracy: 0}\n", base);
    tu_tmp_write("probe.yaml", text);
    char path[512];
    snprintf(path, sizeof path, "%s/probe.yaml", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_search_load(path, s, &err) == NL_OK, "%s", err.msg);
    nl_config *cfg = malloc(sizeof *cfg);
    ck_assert(nl_search_load_config(s, "x", "", cfg, &err) == NL_OK);
    ck_assert_msg(nl_search_probe_open(cfg, p, &err) == NL_OK, "%s", err.msg);
    free(cfg);
}

static void probe_open(nl_search_spec *s, nl_search_probe *p)
{
    probe_open_on(s, p, BASE_CNN);
}

/* the probe's stage for a formula with its params under `checks`: its
 * behaviour hash (passed) or reason into out */
static nl_search_stage probe_checks(const nl_search_probe *p, const char *expr, const char *params,
                                    unsigned checks, char *out, size_t size)
{
    char hash[17];
    nl_formula *f = parse_ok(expr, params);
    nl_search_stage stage;
    nl_error err = {0};
    ck_assert(nl_search_probe_run(p, f, checks, &stage, out, size, hash, &err) == NL_OK);
    if (stage == NL_STAGE_PASSED)
        snprintf(out, size, "%s", hash);
    nl_formula_free(f);
    return stage;
}

/* the numerics probe's verdict alone: ok, and its behaviour hash or reason */
static bool probe(const nl_search_probe *p, const char *expr, char *out, size_t size)
{
    char params[128];
    return probe_checks(p, expr, params_for(expr, params, sizeof params), 0, out, size) == NL_STAGE_PASSED;
}

START_TEST(test_probe)
{
    tu_tmp_make("search-probe");
    nl_search_spec s;
    nl_search_probe p;
    probe_open(&s, &p);
    ck_assert_int_eq(p.in.ndim, 4);
    ck_assert_int_eq(p.in.c, 4);
    ck_assert_int_eq(p.in.p, 16);
    char a[512], b[512];
    static const char *const unsound[] = {"log(x)", "x * 0 / 0", "exp(exp(x))",
                                          "x / (x - x)", "x / var(x, [batch, channels, spatial])^2"};
    for (size_t i = 0; i < sizeof unsound / sizeof unsound[0]; i++) {
        ck_assert_msg(!probe(&p, unsound[i], a, sizeof a), "%s passed the probe", unsound[i]);
        ck_assert_msg(strstr(a, "not finite") || strstr(a, "past the bound"), "%s: %s", unsound[i], a);
    }
    /* a division by a mean or a sum: sound on x (its mean is 0.5), not on
     * an input centred along every axis, as activations are */
    static const char *const by_mean[] = {"x / mean(x, [batch, spatial])", "x / sum(x, [batch, channels, spatial])",
                                          "x / mean(x, [spatial])"};
    for (size_t i = 0; i < sizeof by_mean / sizeof by_mean[0]; i++) {
        ck_assert_msg(!probe(&p, by_mean[i], a, sizeof a), "%s passed the probe", by_mean[i]);
        ck_assert_msg(strstr(a, "an input of mean 0 along every axis"), "%s: %s", by_mean[i], a);
    }
    ck_assert_msg(probe(&p, "x / amax(x, [channels, spatial])", a, sizeof a), "%s", a);
    /* the same function written twice has one behaviour; others differ */
    static const char *const same[][2] = {
        {"x - mean(x, [batch, spatial])", "(x - mean(x, [batch, spatial])) * 1"},
        {"x - mean(x, [batch, spatial])", "-(mean(x, [spatial, batch]) - x)"},
        {"gamma * x / sqrt(var(x, [channels, spatial]) + eps)",
         "x * gamma * rsqrt(eps + var(x, [spatial, channels]))"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        ck_assert_msg(probe(&p, same[i][0], a, sizeof a), "%s: %s", same[i][0], a);
        ck_assert_msg(probe(&p, same[i][1], b, sizeof b), "%s: %s", same[i][1], b);
        ck_assert_msg(!strcmp(a, b), "'%s' and '%s' behave differently", same[i][0], same[i][1]);
    }
    static const char *const differ[][2] = {
        {"x - mean(x, [batch, spatial])", "x - mean(x, [channels, spatial])"},
        {"x", "gamma * x"}, {"x", "2 * x"},
        {"x / sqrt(var(x, [batch, spatial]) + eps)", "x / sqrt(running(var(x, [batch, spatial])) + eps)"}};
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        ck_assert(probe(&p, differ[i][0], a, sizeof a));
        ck_assert(probe(&p, differ[i][1], b, sizeof b));
        ck_assert_msg(strcmp(a, b), "'%s' and '%s' share a behaviour", differ[i][0], differ[i][1]);
    }
    nl_search_probe_close(&p);
    nl_search_spec_free(&s);
    tu_tmp_remove();
}
END_TEST

/* the default degeneracy checks, and all of them */
static unsigned all_checks(void)
{
    return (1u << nl_search_check_count) - 1;
}

static int check_row(const char *name)
{
    for (int i = 0; i < nl_search_check_count; i++)
        if (!strcmp(nl_search_checks[i].name, name))
            return i;
    ck_abort_msg("no degeneracy check %s", name);
    return -1;
}

/* The rejections are honest: every built-in's formula for the input (the
 * registry's rows) and EvoNorm-B0 and -S0 (configs/expr) get through the
 * numerics probe and every default check, on images and on feature
 * vectors; DyT, an elementwise map, is what `elementwise` names and
 * nothing else rejects it; of the opt-in `scale`, the scale-invariant
 * ones pass and EvoNorm-S0 (x * sigmoid(v * x)) and mean-only do not. */
START_TEST(test_known_good)
{
    tu_tmp_make("search-good");
    static const char *const bases[] = {BASE_CNN, BASE_MLP};
    const int input[] = {2, 0}; /* the registry's formula for images, feature vectors */
    const unsigned by_default = nl_search_checks_default(), scale = 1u << check_row("scale");
    ck_assert(!(by_default & scale));
    for (int b = 0; b < 2; b++) {
        nl_search_spec s;
        nl_search_probe p;
        probe_open_on(&s, &p, bases[b]);
        char out[512];
        int tried = 0;
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
            const char *expr = row->formula[input[b]], *params = row->formula_params ? row->formula_params : "";
            if (!expr)
                continue;
            tried++;
            /* DyT is an elementwise map; mean-only BN leaves the size of its input */
            const char *named = !strcmp(row->id.name, "dyt") ? "elementwise"
                                : !strcmp(row->id.name, "mean_only") ? "unnormalized" : NULL;
            const nl_search_stage st = probe_checks(&p, expr, params, by_default, out, sizeof out);
            if (named) {
                ck_assert_msg(st == NL_STAGE_DEGENERATE && !strncmp(out, named, strlen(named)), "%s: %s", expr, out);
                const unsigned rest = by_default & ~(1u << check_row(named));
                ck_assert_msg(probe_checks(&p, expr, params, rest, out, sizeof out) == NL_STAGE_PASSED,
                              "%s: %s", expr, out);
                continue;
            }
            ck_assert_msg(st == NL_STAGE_PASSED, "%s (%s) on base %d: %s", row->id.name, expr, b, out);
            ck_assert_msg(probe_checks(&p, expr, params, all_checks(), out, sizeof out) == NL_STAGE_PASSED,
                          "%s: scale: %s", expr, out);
        }
        ck_assert_int_ge(tried, 5);
        nl_search_probe_close(&p);
        nl_search_spec_free(&s);
    }
    /* EvoNorm's two, from their configs, on their images */
    nl_search_spec s;
    nl_search_probe p;
    probe_open(&s, &p);
    static const char *const evonorm[] = {"evonorm-b0", "evonorm-s0"};
    nl_config *cfg = malloc(sizeof *cfg);
    for (int i = 0; i < 2; i++) {
        char path[1024], out[512];
        nl_error err = {0};
        snprintf(path, sizeof path, "%s/configs/expr/%s.yaml", NORMLAB_SOURCE_DIR, evonorm[i]);
        ck_assert_msg(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
        ck_assert_msg(probe_checks(&p, cfg->model.norm.expr, cfg->model.norm.params, nl_search_checks_default(),
                                   out, sizeof out) == NL_STAGE_PASSED, "%s: %s", evonorm[i], out);
        const nl_search_stage st = probe_checks(&p, cfg->model.norm.expr, cfg->model.norm.params,
                                                all_checks(), out, sizeof out);
        ck_assert_msg(i == 0 ? st == NL_STAGE_PASSED : st == NL_STAGE_DEGENERATE && !strncmp(out, "scale: ", 7),
                      "%s: %s", evonorm[i], out);
    }
    free(cfg);
    nl_search_probe_close(&p);
    nl_search_spec_free(&s);
    tu_tmp_remove();
}
END_TEST

/* each default check rejects what it names, with its name first */
START_TEST(test_degenerate)
{
    tu_tmp_make("search-degenerate");
    nl_search_spec s;
    nl_search_probe p;
    probe_open(&s, &p);
    static const char *const cases[][2] = {
        {"0 * x + mean(x, [batch, spatial])", "collapsed"},
        {"x * 0 + 1", "collapsed"},
        {"detach(x - mean(x, [batch, spatial]))", "no_gradient"},
        {"x", "affine"},
        {"gamma * x + beta", "affine"},
        {"2 * x - 1", "affine"},
        {"tanh(x)", "elementwise"},
        {"x * sigmoid(gamma * x)", "elementwise"},
        {"relu(x) + beta", "elementwise"},
    };
    char out[512], params[128], want[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *expr = cases[i][0];
        snprintf(want, sizeof want, "%s: ", cases[i][1]);
        const nl_search_stage st = probe_checks(&p, expr, params_for(expr, params, sizeof params),
                                                nl_search_checks_default(), out, sizeof out);
        ck_assert_msg(st == NL_STAGE_DEGENERATE && !strncmp(out, want, strlen(want)), "%s: wanted %s, "
                      "got stage %d: %s", expr, cases[i][1], (int)st, out);
        /* and the numerics alone let it through: the check, not the probe, rejects it */
        ck_assert_msg(probe(&p, expr, out, sizeof out), "%s: %s", expr, out);
    }
    nl_search_probe_close(&p);
    nl_search_spec_free(&s);
    tu_tmp_remove();
}
END_TEST

/* --funnel: random formulas through the cheap stages, each stage's
 * count printed, at least 90 % rejected before the hurdle (the issue's
 * mark, for this seed), nothing written */
START_TEST(test_funnel)
{
    tu_tmp_make("search-funnel");
    tu_tmp_write("f.yaml", "base:\n" BASE_CNN "start: [\"x\"]\nseed: 3\npopulation: 2\ngenerations: 1\n"
                           "hurdle: {steps: 2, min_accuracy: 0}\n");
    ck_assert_int_eq(tu_normlab("search f.yaml --funnel 300 --quiet"), 0);
    char *out = tu_normlab_output();
    const char *line = strstr(out, "rejected before the hurdle: ");
    ck_assert_msg(line, "%s", out);
    long rejected = 0, total = 0;
    ck_assert_int_eq(sscanf(line, "rejected before the hurdle: %ld of %ld", &rejected, &total), 2);
    ck_assert_int_eq(total, 300);
    ck_assert_msg(rejected * 10 >= total * 9, "%ld of %ld rejected:\n%s", rejected, total, out);
    /* and not by the duplicates alone: 90 % of the distinct formulas too */
    long distinct = 0;
    double share = 0;
    ck_assert_int_eq(sscanf(strstr(line, "; of the "), "; of the %ld distinct, %lf%%", &distinct, &share), 2);
    ck_assert_msg(distinct > 100 && share >= 90, "%ld distinct, %g%% rejected:\n%s", distinct, share, out);
    for (int st = 0; st < NL_STAGE_HURDLE; st++)
        ck_assert_msg(strstr(out, nl_search_stages[st].name), "no %s in:\n%s", nl_search_stages[st].name, out);
    free(out);
    struct stat sb;
    char results[600];
    snprintf(results, sizeof results, "%s/results", tu_tmp);
    ck_assert_msg(stat(results, &sb) != 0, "the funnel wrote %s", results);
    ck_assert_int_eq(tu_normlab("search f.yaml --funnel 0"), 2);
    tu_tmp_remove();
}
END_TEST

/* Pareto selection over two scores: the order of nl_search_best (front,
 * then mean, then id), and the tournament: never a dominated candidate
 * when T covers the pool, each non-dominated one drawn, a candidate that
 * did not pass never drawn against one that did */
START_TEST(test_pareto)
{
    nl_search_spec s = {.n_models = 2, .tournament = 6};
    static const double scores[][2] = {{0.9, 0.3}, {0.2, 0.9}, {0.5, 0.5}, {0.4, 0.4}, {0.95, 0.05}, {0, 0}};
    nl_search_candidate c[6];
    nl_search_result r = {.candidates = c, .n = 6};
    for (int i = 0; i < 6; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].id = i + 1;
        c[i].stage = i < 5 ? NL_STAGE_PASSED : NL_STAGE_HURDLE;
        c[i].scores[0] = scores[i][0], c[i].scores[1] = scores[i][1];
    }
    long best[6];
    ck_assert_int_eq(nl_search_best(&s, &r, best, 6), 5);
    static const long order[] = {1, 2, 3, 5, 4}; /* D (4) is C's dominated; C and E tie on the mean */
    for (int i = 0; i < 5; i++)
        ck_assert_msg(best[i] == order[i], "place %d: c%ld, wanted c%ld", i + 1, best[i], order[i]);
    const long pool[] = {1, 2, 3, 4, 5, 6};
    nl_rng rng;
    nl_rng_seed(&rng, 9, NL_STREAM_SEARCH);
    int drawn[7] = {0};
    for (int k = 0; k < 2000; k++)
        drawn[nl_search_tournament(&s, &r, pool, 6, &rng)]++;
    ck_assert_int_eq(drawn[4], 0);
    ck_assert_int_eq(drawn[6], 0);
    for (int id = 1; id <= 5; id++)
        if (id != 4)
            ck_assert_msg(drawn[id] > 300, "c%d drawn %d times of 2000", id, drawn[id]);
    /* T = 2: D wins against E (neither dominates), never against C */
    s.tournament = 2;
    const long two[] = {3, 4};
    for (int k = 0; k < 200; k++)
        ck_assert_int_eq(nl_search_tournament(&s, &r, two, 2, &rng), 3);
    const long other[] = {4, 5};
    memset(drawn, 0, sizeof drawn);
    for (int k = 0; k < 200; k++)
        drawn[nl_search_tournament(&s, &r, other, 2, &rng)]++;
    ck_assert(drawn[4] > 0 && drawn[5] > 0);
}
END_TEST

/* a search file refused: exit 2, the message naming file:line:column and
 * `want`, and no output directory */
static void refused(const char *text, const char *where, const char *want)
{
    tu_tmp_write("bad.yaml", text);
    ck_assert_int_eq(tu_normlab("search bad.yaml --out never"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, where) && strstr(out, want), "wanted '%s' and '%s' in: %s", where, want, out);
    free(out);
    struct stat st;
    char never[512];
    snprintf(never, sizeof never, "%s/never", tu_tmp);
    ck_assert_msg(stat(never, &st) != 0, "a refused search wrote %s", never);
}

#define GOOD_REST "seed: 1\npopulation: 2\ngenerations: 1\nhurdle: {steps: 2, min_accuracy: 0.2}\n"

START_TEST(test_bad_files)
{
    tu_tmp_make("search-bad");
    refused("base:\n" BASE_CNN "start: [\"x\", \"x * foo(x)\"]\n" GOOD_REST, "bad.yaml:5:14: start[2]",
            "unknown function 'foo'; accepted: x, eps");
    refused("base:\n" BASE_CNN "start: [\"x ~ 2\"]\n" GOOD_REST, "bad.yaml:5:9: start[1]", "unexpected '~'");
    refused("base:\n" BASE_CNN "start: []\n" GOOD_REST, "bad.yaml:5:8: start", "the start population is empty");
    refused("base:\n" BASE_CNN "start: [\"x\"]\nseed: 1\npopulation: 2\ngenerations: 0\n"
            "hurdle: {steps: 2, min_accuracy: 0.2}\n", "bad.yaml:8:14: generations", "an integer in [1, ");
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "candidates: 0\n", "bad.yaml:10:13: candidates",
            "an integer in [1, ");
    refused("base:\n" BASE_CNN "start: [\"x\"]\nseed: 1\npopulation: 2\ngenerations: 1\n"
            "hurdle: {steps: 2, min_accuracy: 1.5}\n", "bad.yaml:9:34: hurdle.min_accuracy", "[0, 1]");
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "mutations: 3\n", "bad.yaml:10:1", "unknown key 'mutations'");
    /* a formula the model cannot take: tokens on images */
    refused("base:\n" BASE_CNN "start: [\"x - mean(x, [tokens])\"]\n" GOOD_REST, "bad.yaml:5:9: start[1]",
            "tokens");
    /* a formula one of the ranking models cannot run on: spatial on the MLP */
    tu_tmp_write("mlp.yaml", MLP_FILE);
    refused("base:\n" BASE_CNN "start: [\"x\", \"x - mean(x, [batch, spatial])\"]\n" GOOD_REST
            "rank: {models: [mlp.yaml]}\n", "bad.yaml:5:14: start[2]: rank.models[1] (bad.yaml:10:17)",
            "spatial");
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "rank: {models: []}\n", "bad.yaml:10:16: rank.models",
            "expected 1 to 8 models");
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "rank: {time_limit: 5}\n", "bad.yaml:10:7: rank",
            "models: is missing");
    char accepted[512] = "accepted: ";
    for (int i = 0; i < nl_search_check_count; i++)
        snprintf(accepted + strlen(accepted), sizeof accepted - strlen(accepted), "%s%s", i ? ", " : "",
                 nl_search_checks[i].name);
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "reject: [affine, constant]\n",
            "bad.yaml:10:18: reject: 'constant' is no degeneracy check", accepted);
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "tournament: 0\n", "bad.yaml:10:13: tournament",
            "an integer in [1, 64]");
    /* a target no run can train to: an unknown normalizer, a margin out of range */
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "target: {normalizer: nope, within: 0.005}\n",
            "bad.yaml:10:9: target.normalizer", "accepted:");
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "target: {normalizer: group, within: 2}\n",
            "bad.yaml:10:37: target.within", "[0, 1]");
    refused("base:\n" BASE_CNN "start: [\"x\"]\n" GOOD_REST "target: {normalizer: group}\n",
            "bad.yaml:10:9: target", "within is missing");
    /* hurdles no candidate can pass */
    refused("base:\n" BASE_CNN "start: [\"x\"]\nseed: 1\npopulation: 2\ngenerations: 1\n"
            "hurdle: {steps: 0, min_accuracy: 0.2}\n", "bad.yaml:9:17: hurdle.steps", "an integer in [1, ");
    refused("base:\n" BASE_CNN "start: [\"x\"]\nseed: 1\npopulation: 2\ngenerations: 1\n"
            "hurdle: {steps: 2, min_accuracy: 0.2, time_limit: 0}\n", "bad.yaml:9:51: hurdle.time_limit",
            "seconds in (0, 86400]");
    tu_tmp_remove();
}
END_TEST

/* ranked on two models: the MLP from its file, a wider CNN inline; the
 * start formulas plan on both */
static const char *const tiny_search =
    "base:\n" BASE_CNN
    "start: [\"x\", {expr: \"gamma * (x - mean(x, [batch])) / sqrt(var(x, [batch]) + eps)\",\n"
    "         params: \"gamma = 1 per channel\"}]\n"
    "seed: 4\n"
    "population: 3\n"
    "generations: 3\n"
    "hurdle: {steps: 4, min_accuracy: 0.1, time_limit: 120}\n"
    "rank:\n"
    "  models:\n"
    "  - mlp.yaml\n"
    "  - {data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32},\n"
    "     model: {arch: cnn, widths: [8, 8], norm: {groups: 2}}, train: {batch_size: 8, steps: 6}}\n"
    "  time_limit: 120\n"
    "tournament: 3\n";

/* every row of a candidates.csv: passed ones scored on both models,
 * those rejected by a ranking run naming its model; returns how many passed */
static int check_scores(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/candidates.csv", tu_tmp, dir);
    nl_search_candidate *rows = NULL;
    long n = 0;
    off_t bytes = 0;
    nl_error err = {0};
    ck_assert_msg(nl_search_records_read(path, &rows, &n, &bytes, &err) == NL_OK, "%s", err.msg);
    int passed = 0;
    for (long i = 0; i < n; i++) {
        const nl_search_candidate *c = &rows[i];
        if (c->stage == NL_STAGE_PASSED) {
            passed++;
            ck_assert_msg(!isnan(c->scores[0]) && !isnan(c->scores[1]) && isnan(c->scores[2]),
                          "c%ld passed without two scores", c->id);
        }
        if (c->stage == NL_STAGE_RANK)
            ck_assert_msg(!strncmp(c->reason, "rank.models[", 12), "c%ld: %s", c->id, c->reason);
        if (c->stage < NL_STAGE_RANK)
            ck_assert_msg(isnan(c->scores[0]), "c%ld scored before the ranking", c->id);
    }
    free(rows);
    return passed;
}

START_TEST(test_search_resumes)
{
    tu_tmp_make("search-run");
    tu_tmp_write("s.yaml", tiny_search);
    tu_tmp_write("mlp.yaml", MLP_FILE);
    ck_assert_int_eq(tu_normlab("search s.yaml --out whole --quiet"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "11 candidates"), "%s", out);
    free(out);
    char *whole = tu_tmp_read("whole/candidates.csv");
    int lines = 0;
    for (const char *p = whole; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 12);
    ck_assert(strstr(whole, ",passed,"));
    ck_assert(strstr(whole, "\n1,0,,start,x,,"));
    ck_assert_int_ge(check_scores("whole"), 1);
    char rank_dir[600];
    snprintf(rank_dir, sizeof rank_dir, "%s/whole/rank", tu_tmp);
    struct stat rank_st;
    ck_assert_msg(stat(rank_dir, &rank_st) == 0, "no %s", rank_dir);
    /* cut after 5 candidates, in the middle of the sixth's row (a search
     * killed while writing): it goes on to the same file */
    const char *cut = whole;
    for (int i = 0; i < 6; i++)
        cut = strchr(cut, '\n') + 1;
    char *part = strndup(whole, (size_t)(cut - whole) + 7);
    char mk[600];
    snprintf(mk, sizeof mk, "mkdir -p %s/cut", tu_tmp);
    ck_assert_int_eq(system(mk), 0);
    tu_tmp_write("cut/candidates.csv", part);
    ck_assert_int_eq(tu_normlab("search s.yaml --out cut"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "(5 read back"), "%s", out);
    free(out);
    char *resumed = tu_tmp_read("cut/candidates.csv");
    ck_assert_str_eq(resumed, whole);
    /* killed during a ranking run: the whole directory as a search leaves
     * it, the record cut before the last candidate that passed and every
     * run after it gone, its own runs (hurdle and ranking) left half
     * done; the search runs them again, to the same file */
    long last = 0;
    for (const char *p = strstr(whole, ",passed,"); p; p = strstr(p + 1, ",passed,")) {
        const char *row = p;
        while (row > whole && row[-1] != '\n')
            row--;
        last = strtol(row, NULL, 10);
    }
    ck_assert_int_gt(last, 2);
    const char *at = whole;
    for (long i = 0; i < last; i++)
        at = strchr(at, '\n') + 1;
    char sh[2048];
    snprintf(sh, sizeof sh, "cd %s && cp -r whole killed && rm -f killed/.lock && "
             "for f in killed/hurdle/c* killed/rank/c*; do n=${f##*/c}; n=${n%%%%[-.]*}; "
             "[ \"$n\" -gt %ld ] && rm -rf \"$f\"; done; rm -f killed/rank/c%ld-m2.log && "
             "echo half > killed/hurdle/c%ld.log", tu_tmp, last, last, last);
    ck_assert_int_eq(system(sh), 0);
    char *killed = strndup(whole, (size_t)(at - whole));
    tu_tmp_write("killed/candidates.csv", killed);
    ck_assert_int_eq(tu_normlab("search s.yaml --out killed --quiet"), 0);
    char *again = tu_tmp_read("killed/candidates.csv");
    ck_assert_str_eq(again, whole);
    free(again), free(killed);
    /* done: a third run reads everything and decides nothing */
    ck_assert_int_eq(tu_normlab("search s.yaml --out cut --quiet"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "(11 read back"), "%s", out);
    free(out);
    /* a search running in the directory (its lock held): refused, the
     * record untouched */
    char lock[600];
    snprintf(lock, sizeof lock, "%s/cut/.lock", tu_tmp);
    const int fd = open(lock, O_RDWR | O_CREAT, 0644);
    ck_assert(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    ck_assert_int_eq(tu_normlab("search s.yaml --out cut --quiet"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "a normlab search is running in cut"), "%s", out);
    free(out);
    close(fd);
    char *after = tu_tmp_read("cut/candidates.csv");
    ck_assert_str_eq(after, whole);
    free(after);
    /* another seed in the same directory is another search: refused */
    tu_tmp_write("s2.yaml", "base:\n" BASE_CNN "start: [\"x\", \"x - mean(x, [batch])\"]\nseed: 5\n"
                            "population: 3\ngenerations: 3\nhurdle: {steps: 4, min_accuracy: 0.3}\n");
    ck_assert_int_eq(tu_normlab("search s2.yaml --out cut --quiet"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "written by another search"), "%s", out);
    free(out);
    free(part), free(whole), free(resumed);
    tu_tmp_remove();
}
END_TEST

/* each cheap stage rejects with its reason in a real search's record: the
 * same formula written twice (a duplicate by its canonical form, another
 * by its behaviour), log(x) by the probe */
START_TEST(test_search_stages)
{
    tu_tmp_make("search-stages");
    tu_tmp_write("s.yaml", "base:\n" BASE_CNN
                           "start: [\"x / rms(x, [batch, spatial])\", \"(x / rms(x, [batch, spatial])) * 1\",\n"
                           "        \"log(x)\", \"x / rms(x, [spatial, batch])\", \"x + mean(x, [batch])\"]\n"
                           "candidates: 5\npopulation: 2\nhurdle: {steps: 2, min_accuracy: 0}\n");
    ck_assert_int_eq(tu_normlab("search s.yaml --out o --quiet"), 0);
    char *csv = tu_tmp_read("o/candidates.csv");
    static const char *const rows[] = {
        "\n1,0,,start,\"x / rms(x, [batch, spatial])\",,",
        ",passed,test accuracy ",
        "\n2,0,,start,\"x / rms(x, [batch, spatial]) * 1\",,",
        ",equivalent,the outputs and gradients of candidate 1 on the probe's tensors,",
        "\n3,0,,start,log(x),,",
        ",numerics,\"the output is not finite (NaN or infinity) at batch 8, input scale 1\",",
        "\n4,0,,start,\"x / rms(x, [batch, spatial])\",,",
        ",,duplicate,the canonical form of candidate 1,,,,\n",
        "\n5,0,,start,\"x + mean(x, [batch])\",,",
        ",degenerate,unnormalized: the output's size follows the input's"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(strstr(csv, rows[i]), "no '%s' in:\n%s", rows[i], csv);
    free(csv);
    /* a hurdle run past its time limit, one that diverges, a ranking run
     * past its limit: each the candidate's rejection with its reason, and
     * the search goes on to its budget (exit 0) */
    static const char *const runs[][3] = {
        {"hurdle: {steps: 2000, min_accuracy: 0, time_limit: 0.001}\n", "1,0,,start,", ",hurdle,the run went past the time limit of 0.001s and was killed,"},
        {"hurdle: {steps: 4, min_accuracy: 0}\nrank: {models: [mlp.yaml], time_limit: 0.001}\n", "1,0,,start,",
         ",rank,rank.models[1]: the run went past the time limit of 0.001s and was killed,"},
    };
    tu_tmp_write("mlp.yaml", MLP_FILE);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char text[2048], dir[32], path[64];
        snprintf(text, sizeof text, "base:\n" BASE_CNN "start: [\"x / rms(x, [batch])\", \"x / rms(x, [channels])\"]\n"
                 "candidates: 2\npopulation: 2\n%s", runs[i][0]);
        tu_tmp_write("r.yaml", text);
        snprintf(dir, sizeof dir, "r%zu", i);
        char cmd[96];
        snprintf(cmd, sizeof cmd, "search r.yaml --out %s --quiet", dir);
        ck_assert_int_eq(tu_normlab(cmd), 0);
        snprintf(path, sizeof path, "%s/candidates.csv", dir);
        csv = tu_tmp_read(path);
        ck_assert_msg(strstr(csv, runs[i][2]) && strstr(csv, "\n2,0,,start,"), "no '%s' in:\n%s", runs[i][2], csv);
        free(csv);
    }
    tu_tmp_write("d.yaml", "base:\n  data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}\n"
                           "  model: {arch: cnn, widths: [4, 8], norm: {groups: 2}}\n"
                           "  train: {batch_size: 8, optimizer: {lr: 1e30}}\n"
                           "start: [\"x / rms(x, [batch])\"]\ncandidates: 1\npopulation: 2\n"
                           "hurdle: {steps: 4, min_accuracy: 0}\n");
    ck_assert_int_eq(tu_normlab("search d.yaml --out d --quiet"), 0);
    csv = tu_tmp_read("d/candidates.csv");
    ck_assert_msg(strstr(csv, ",hurdle,\"the run diverged: training loss "), "%s", csv);
    free(csv);
    tu_tmp_remove();
}
END_TEST

/* the target's arithmetic: the mean over the scoring models of a
 * candidate's accuracy less the reference's, reached at >= -within, only
 * by a candidate that passed with every score (with rungs, at the last) */
START_TEST(test_target_gap)
{
    nl_search_spec s = {.n_models = 2, .target_within = 0.005};
    snprintf(s.target_norm, sizeof s.target_norm, "group");
    const double reference[NL_SEARCH_MAX_MODELS] = {0.8, 0.9};
    nl_search_candidate c[4] = {0};
    for (int i = 0; i < 4; i++) {
        c[i].id = i + 1;
        c[i].stage = NL_STAGE_PASSED;
        c[i].rung = -1;
        c[i].scores[0] = 0.8, c[i].scores[1] = 0.885; /* -0.0075 on average */
    }
    c[1].scores[1] = 0.891; /* -0.0045 */
    c[2].scores[1] = NAN;
    ck_assert_double_eq_tol(nl_search_target_gap(&s, reference, &c[1]), -0.0045, 1e-12);
    ck_assert(isnan(nl_search_target_gap(&s, reference, &c[2])));
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 1, 4), 2);
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 3, 4), 0);
    s.target_within = 0.004;
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 1, 4), 0);
    s.target_within = 0.01;
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 1, 4), 1);
    c[0].stage = NL_STAGE_RANK;
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 1, 4), 2);
    /* with rungs: a candidate cut at an earlier rung never reaches it */
    s.n_rungs = 2;
    c[1].rung = 0, c[3].rung = 1;
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 1, 4), 4);
    /* no rank.models: the hurdle's accuracy against the reference on the base */
    s.n_models = 0, s.n_rungs = 0;
    c[3].accuracy = 0.795;
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 4, 4), 4);
    c[3].accuracy = 0.78;
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 4, 4), 0);
    /* no target: nothing reaches */
    s.target_norm[0] = '\0';
    c[3].accuracy = 0.9;
    ck_assert_int_eq(nl_search_reaching(&s, reference, c, 4, 4), 0);
}
END_TEST

/* a search with a target any trained candidate reaches (within 1): group
 * norm trained first on the two ranking models (OUT/reference), the search
 * stopped at the first candidate that passed, target.csv naming it; run
 * again, it reads everything back and writes the same files */
START_TEST(test_search_target)
{
    tu_tmp_make("search-target");
    tu_tmp_write("mlp.yaml", MLP_FILE);
    char text[4096];
    snprintf(text, sizeof text, "%starget: {normalizer: group, within: 1}\n", tiny_search);
    tu_tmp_write("s.yaml", text);
    ck_assert_int_eq(tu_normlab("search s.yaml --out t --quiet"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "target: group's accuracy "), "%s", out);
    free(out);
    char *csv = tu_tmp_read("t/candidates.csv");
    /* the first passed candidate is the last row */
    const char *passed = strstr(csv, ",passed,");
    ck_assert_msg(passed && !strchr(strchr(passed, '\n') + 1, '\n'), "rows after the candidate that reached the target:\n%s", csv);
    const char *row = passed;
    while (row > csv && row[-1] != '\n')
        row--;
    const long id = strtol(row, NULL, 10);
    char *target = tu_tmp_read("t/target.csv");
    char want[64];
    snprintf(want, sizeof want, ",%ld,", id);
    ck_assert_msg(!strncmp(target, "normalizer,within,reference,reached,", 36) && strstr(target, "\ngroup,1,") &&
                  strstr(target, want) && strstr(target, "the whole search"), "%s", target);
    char *reference = tu_tmp_read("t/reference.csv");
    ck_assert_msg(strstr(reference, "\nrank.models[1],group,") && strstr(reference, "\nrank.models[2],group,"),
                  "%s", reference);
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/t/reference/group-m2/summary.json", tu_tmp);
    ck_assert_msg(stat(path, &st) == 0, "no %s", path);
    /* again: everything read back, nothing decided, the same files */
    ck_assert_int_eq(tu_normlab("search s.yaml --out t --quiet"), 0);
    char *again = tu_tmp_read("t/candidates.csv"), *target_again = tu_tmp_read("t/target.csv");
    ck_assert_str_eq(again, csv);
    ck_assert_str_eq(target_again, target);
    /* a reference file of another normalizer is refused, nothing written */
    tu_tmp_write("t/reference.csv", "model,normalizer,accuracy\nrank.models[1],batch,0.5\nrank.models[2],batch,0.5\n");
    ck_assert_int_eq(tu_normlab("search s.yaml --out t --quiet"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "is not this search's reference"), "%s", out);
    free(out);
    free(again), free(target_again), free(reference), free(target), free(csv);
    tu_tmp_remove();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("search");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_print_round_trip);
    tcase_add_test(tc, test_mutations);
    tcase_add_test(tc, test_canonical);
    tcase_add_test(tc, test_probe);
    tcase_add_test(tc, test_known_good);
    tcase_add_test(tc, test_degenerate);
    tcase_add_test(tc, test_funnel);
    tcase_add_test(tc, test_pareto);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_search_resumes);
    tcase_add_test(tc, test_search_stages);
    tcase_add_test(tc, test_target_gap);
    tcase_add_test(tc, test_search_target);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
