// ctest-labels: kernels
/* A formula's passes compiled to native code (norm/formula_compile.h)
 * give the row interpreter's bits: every registry formula and a set of
 * formulas written here from their papers, on feature vectors, token
 * sequences and images (rows contiguous, and in channel blocks of 8 and
 * 16), in training (running statistics updated and kept), evaluation and
 * their backward, with a fused ReLU, a fused residual add and accumulated
 * gradients. And the cache refuses what it must: a link, a directory
 * others may write, planted, truncated and foreign objects, no compiler. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/sha256.h"
#include "norm/formula.h"
#include "norm/formula_compile.h"
#include "norm/registry.h"
#include "testutil.h"

/* formulas nobody in the registry wrote, each as its paper has it (the
 * axes named for images; tokens and features take those that lower) */
static const struct {
    const char *name, *expr, *params;
} papers[] = {
    {"batch-instance", "weight * (rho * (x - mean(x, [batch, spatial])) / sqrt(var(x, [batch, spatial]) + eps) "
                       "+ (1 - rho) * (x - mean(x, [spatial])) / sqrt(var(x, [spatial]) + eps)) + bias",
     "rho = 0.5 per channel, weight = 1 per channel, bias = 0 per channel"},
    {"positional", "(x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps)", ""},
    {"rms-temperature", "weight * x / sqrt(mean(x^2, [channels]) * exp(t) + eps)", "weight = 1 per channel, t = 0.1"},
    {"gated-group", "sigmoid(g) * (x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps) + bias",
     "g = 0.3 per channel, bias = 0 per channel"},
    {"soft-capped-layer", "c * tanh((x - mean(x, [channels, spatial])) / sqrt(var(x, [channels, spatial]) + eps) / c)",
     "c = 2.5"},
    {"centred-power", "(x - running(mean(x, [batch, spatial]))) / sqrt(running(mean(x^2, [batch, spatial])) + eps)", ""},
    {"l1-batch", "weight * (x - mean(x, [batch, spatial])) / (mean(abs(x - mean(x, [batch, spatial])), [batch, spatial]) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel"},
    {"lrn-groups", "x / (1 + alpha * mean(x^2, [channels])) ^ 0.75", "alpha = 0.5"},
    {"evonorm-s0", "weight * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel, v = 1 per channel"},
    {"evonorm-b0", "weight * x / max(sqrt(running(var(x, [batch, spatial])) + eps), v * x + sqrt(var(x, [spatial]) + eps)) + bias",
     "weight = 1 per channel, bias = 0 per channel, v = 1 per channel"},
    {"dyt", "weight * tanh(alpha * x) + bias", "weight = 1 per channel, bias = 0 per channel, alpha = 0.5"},
    {"max-scaled", "x / (amax(abs(x), [channels, spatial]) + eps) + amin(x, [batch, spatial]) * 0.1 "
                   "+ amax(x * x, [batch, spatial]) * 0.01 - amax(x, [batch]) * 0.001",
     ""},
    {"functions", "max(x, 0.5 * x) - min(x, -1) + erf(x) * relu(x) + log(1 + exp(-abs(x))) + rsqrt(x^2 + 1) "
                  "- x ^ -1 * 0.01 + sum(x, [channels]) * 0.001",
     ""},
};
enum { PAPERS = sizeof papers / sizeof papers[0] };

/* the inputs: (ndim, n, c, p, groups, block) */
static const struct {
    int ndim, n, c, p, groups, block;
} inputs[] = {
    {2, 6, 24, 1, 4, 0},   {3, 3, 20, 7, 4, 0},    {3, 2, 300, 3, 3, 0}, {4, 3, 16, 49, 4, 0},
    {4, 2, 8, 300, 2, 0}, {4, 3, 16, 300, 4, 8}, {4, 2, 32, 49, 4, 16},
};
enum { INPUTS = sizeof inputs / sizeof inputs[0] };

static const char *spatial_for(int ndim) { return ndim == 4 ? "spatial" : ndim == 3 ? "tokens" : NULL; }

/* expr with its image axis named for the input; NULL where it has none */
static char *adapt(const char *expr, int ndim)
{
    const char *axis = spatial_for(ndim);
    char *out = malloc(strlen(expr) * 2 + 64);
    ck_assert_ptr_nonnull(out);
    char *o = out;
    for (const char *s = expr; *s;) {
        if (!strncmp(s, ", spatial", 9) || !strncmp(s, "spatial", 7)) {
            const bool comma = *s == ',';
            s += comma ? 9 : 7;
            if (axis) {
                o += sprintf(o, "%s%s", comma ? ", " : "", axis);
            } else if (!comma) {
                /* "[spatial]" alone: nothing to reduce over on features */
                free(out);
                return NULL;
            }
        } else
            *o++ = *s++;
    }
    *o = 0;
    return out;
}

typedef struct {
    float *y, *dx, *dskip, *dparams[NL_FORMULA_MAX_PARAMS], *running[NL_FORMULA_MAX_RUNNING];
} outputs;

typedef struct {
    int n_params, n_running;
    size_t count, param_count[NL_FORMULA_MAX_PARAMS], running_count[NL_FORMULA_MAX_RUNNING];
    float running_init[NL_FORMULA_MAX_RUNNING];
    float *x, *dy, *skip, *params[NL_FORMULA_MAX_PARAMS];
} inputs_of;

/* one forward and backward of every mode, each variant of the fused
 * epilogue, into out (allocated here) */
static void run_all(nl_backend *be, nl_formula_plan *p, const inputs_of *in, int block,
                    outputs out[4][3])
{
    const size_t work = nl_formula_plan_workspace_bytes(p);
    void *workspace = aligned_alloc(64, (work + 63) & ~(size_t)63);
    float *saved = malloc((nl_formula_plan_saved_floats(p) + 1) * sizeof(float));
    ck_assert(workspace && saved);
    const nl_formula_mode modes[3] = {NL_FORMULA_TRAIN, NL_FORMULA_TRAIN_KEEP, NL_FORMULA_EVAL};
    for (int variant = 0; variant < 4; variant++) /* plain, ReLU, ReLU + add, accumulated */
        for (int mi = 0; mi < 3; mi++) {
            outputs *o = &out[variant][mi];
            o->y = calloc(in->count, sizeof(float));
            o->dx = malloc(in->count * sizeof(float));
            o->dskip = malloc(in->count * sizeof(float));
            ck_assert(o->y && o->dx && o->dskip);
            tu_fill_uniform(o->dx, in->count, 91, -1, 1); /* what an accumulation adds to */
            tu_fill_uniform(o->dskip, in->count, 92, -1, 1);
            nl_formula_io io = {.n = inputs[0].n, .block = block, .relu = variant == 1 || variant == 2,
                                .skip = variant == 2 ? in->skip : NULL, .x = in->x, .y = o->y,
                                .momentum = 0.1f, .saved = saved, .workspace = workspace};
            io.n = (int)(in->count / ((size_t)p->in.c * (size_t)p->in.p));
            for (int k = 0; k < in->n_params; k++) {
                io.params[k] = in->params[k];
                o->dparams[k] = calloc(in->param_count[k], sizeof(float));
                io.dparams[k] = o->dparams[k];
            }
            for (int k = 0; k < in->n_running; k++) {
                o->running[k] = malloc(in->running_count[k] * sizeof(float));
                tu_fill_uniform(o->running[k], in->running_count[k], 93 + (uint64_t)k, 0.5f, 1.5f);
                io.running[k] = o->running[k];
            }
            be->ops->formula_forward(be, p, modes[mi], &io);
            io.dy = in->dy;
            io.dx = o->dx;
            io.accumulate_dx = variant == 3;
            io.dskip = variant == 2 ? o->dskip : NULL;
            io.accumulate_dskip = variant == 2;
            be->ops->formula_backward(be, p, modes[mi], &io);
        }
    free(workspace);
    free(saved);
}

static void outputs_free(const inputs_of *in, outputs out[4][3])
{
    for (int v = 0; v < 4; v++)
        for (int m = 0; m < 3; m++) {
            free(out[v][m].y), free(out[v][m].dx), free(out[v][m].dskip);
            for (int k = 0; k < in->n_params; k++)
                free(out[v][m].dparams[k]);
            for (int k = 0; k < in->n_running; k++)
                free(out[v][m].running[k]);
        }
}

static void assert_same(const char *what, const char *label, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(!memcmp(&a[i], &b[i], sizeof *a), "%s: %s[%zu] interpreted %.9g, compiled %.9g",
                      label, what, i, a[i], b[i]);
}

static char cache[512];

/* the formula on input `ii`, interpreted and compiled: the same bits;
 * false where the formula does not lower onto the input */
static bool check_formula(const char *label, const char *expr_text, const char *params, int ii)
{
    nl_backend *be = tu_cpu(2);
    char *expr = adapt(expr_text, inputs[ii].ndim);
    if (!expr)
        return false;
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_formula_parse(expr, params, &f, &err) == NL_OK, "%s: %s", label, err.msg);
    const nl_formula_input fin = {.ndim = inputs[ii].ndim, .n_capacity = inputs[ii].n,
                                  .c = inputs[ii].c, .p = inputs[ii].p, .groups = inputs[ii].groups};
    nl_formula_plan *p = NULL;
    if (nl_formula_plan_make(f, fin, 1e-5f, &p, &err) != NL_OK) {
        nl_formula_free(f);
        free(expr);
        return false;
    }
    nl_formula_plan_set_threads(p, be->threads);
    inputs_of in = {.n_params = nl_formula_param_count(f), .n_running = nl_formula_plan_running_count(p),
                    .count = (size_t)fin.n_capacity * (size_t)fin.c * (size_t)fin.p};
    in.x = malloc(in.count * sizeof(float));
    in.dy = malloc(in.count * sizeof(float));
    in.skip = malloc(in.count * sizeof(float));
    tu_fill_normal(in.x, in.count, 11 + (uint64_t)ii, 0.3f, 1.2f);
    tu_fill_normal(in.dy, in.count, 12, 0, 1);
    tu_fill_normal(in.skip, in.count, 13, 0, 1);
    for (int k = 0; k < in.n_params; k++) {
        const nl_formula_param *fp = nl_formula_param_at(f, k);
        in.param_count[k] = (size_t)nl_formula_param_count_of(p, k);
        in.params[k] = malloc(in.param_count[k] * sizeof(float));
        tu_fill_uniform(in.params[k], in.param_count[k], 20 + (uint64_t)k, fp->init - 0.2f, fp->init + 0.2f);
    }
    for (int k = 0; k < in.n_running; k++) {
        const char *what;
        nl_formula_plan_running_at(p, k, &in.running_count[k], &in.running_init[k], &what);
    }
    const int block = inputs[ii].block;
    outputs interpreted[4][3], compiled[4][3];
    run_all(be, p, &in, block, interpreted);
    nl_formula_compile_result res;
    const nl_formula_compile_options opt = {.kernel_set = be->cpu_kernels, .cache_dir = cache};
    nl_formula_compile(p, block, &opt, &res);
    ck_assert_msg(res.compiled, "%s on input %d: not compiled: %s", label, ii, res.why);
    int native = 0;
    for (int s = 0; s < p->train.forward.n_passes; s++)
        native += p->train.forward.passes[s].compiled != NULL;
    ck_assert_msg(native == p->train.forward.n_passes, "%s on input %d: %d of %d forward passes "
                  "run native code", label, ii, native, p->train.forward.n_passes);
    /* and the backward's (its own operations: a derivative's eq, ties) */
    native = 0;
    for (int s = 0; s < p->train.backward.n_passes; s++)
        native += p->train.backward.passes[s].compiled != NULL;
    ck_assert_msg(native == p->train.backward.n_passes, "%s on input %d: %d of %d backward passes run native code", label, ii, native, p->train.backward.n_passes);
    run_all(be, p, &in, block, compiled);
    char where[256];
    for (int v = 0; v < 4; v++)
        for (int m = 0; m < 3; m++) {
            snprintf(where, sizeof where, "%s on input %d (ndim %d, block %d), variant %d, mode %d",
                     label, ii, fin.ndim, block, v, m);
            assert_same("y", where, interpreted[v][m].y, compiled[v][m].y, in.count);
            assert_same("dx", where, interpreted[v][m].dx, compiled[v][m].dx, in.count);
            if (v == 2)
                assert_same("dskip", where, interpreted[v][m].dskip, compiled[v][m].dskip, in.count);
            for (int k = 0; k < in.n_params; k++)
                assert_same("dparam", where, interpreted[v][m].dparams[k], compiled[v][m].dparams[k],
                            in.param_count[k]);
            for (int k = 0; k < in.n_running; k++)
                assert_same("running", where, interpreted[v][m].running[k], compiled[v][m].running[k],
                            in.running_count[k]);
        }
    outputs_free(&in, interpreted);
    outputs_free(&in, compiled);
    for (int k = 0; k < in.n_params; k++)
        free(in.params[k]);
    free(in.x), free(in.dy), free(in.skip);
    nl_formula_plan_free(p);
    nl_formula_free(f);
    free(expr);
    return true;
}

/* the objects the bits checks compile, in the build's tree where CTest
 * names one (NORMLAB_TEST_FORMULA_CACHE: the runs of each kernel set and
 * library share what they can), else in the test's own directory */
static void cache_make(void)
{
    tu_tmp_make("formula-compile");
    const char *shared = getenv("NORMLAB_TEST_FORMULA_CACHE");
    if (shared && *shared) {
        snprintf(cache, sizeof cache, "%s", shared);
        mkdir(cache, 0700);
    } else
        snprintf(cache, sizeof cache, "%s/cache", tu_tmp);
}

/* every input (TU_FORMULA_ALL=1: the "long" run), else a fixed two of
 * them per formula, turning through the list so that each input kind and
 * block is met by several formulas */
static bool input_chosen(int formula, int input)
{
    const char *all = getenv("TU_FORMULA_ALL");
    if (all && !strcmp(all, "1"))
        return true;
    return input == formula % INPUTS || input == (formula + 3) % INPUTS;
}

START_TEST(test_paper_formulas_give_the_interpreters_bits)
{
    cache_make();
    const int i = _i;
    int lowered = 0, tried = 0;
    for (int ii = 0; ii < INPUTS; ii++)
        if (input_chosen(i, ii)) {
            tried++;
            lowered += check_formula(papers[i].name, papers[i].expr, papers[i].params, ii);
        }
    ck_assert_msg(tried > 0 && lowered > 0, "%s lowers onto none of its %d inputs", papers[i].name, tried);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_registry_formulas_give_the_interpreters_bits)
{
    cache_make();
    const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)_i);
    for (int d = 0; d < 3; d++) {
        if (!row->formula[d])
            continue;
        /* the inputs of this kind, one (or, in the long run, all) of them */
        const int ndim = d + 2;
        int kind_inputs[INPUTS], n = 0;
        for (int ii = 0; ii < INPUTS; ii++)
            if (inputs[ii].ndim == ndim)
                kind_inputs[n++] = ii;
        const char *all = getenv("TU_FORMULA_ALL");
        for (int k = 0; k < n; k++)
            if ((all && !strcmp(all, "1")) || k == (_i + d) % n)
                check_formula(row->id.name, row->formula[d], row->formula_params, kind_inputs[k]);
    }
    tu_tmp_remove();
}
END_TEST

START_TEST(test_sha256_known_answers)
{
    /* FIPS 180-2's examples, and the empty message */
    char hex[65];
    nl_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    nl_sha256_hex(two, strlen(two), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    nl_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

/* a small formula's plan on images in blocks of 8 */
static nl_formula_plan *small_plan(const char *expr, nl_formula **f)
{
    nl_error err = {0};
    ck_assert(nl_formula_parse(expr, "weight = 1 per channel", f, &err) == NL_OK);
    nl_formula_plan *p = NULL;
    const nl_formula_input fin = {.ndim = 4, .n_capacity = 2, .c = 16, .p = 9, .groups = 1};
    ck_assert(nl_formula_plan_make(*f, fin, 1e-5f, &p, &err) == NL_OK);
    nl_formula_plan_set_threads(p, 1);
    return p;
}

static nl_formula_compile_result compile_in(nl_formula_plan *p, const char *dir, const char *cc)
{
    nl_formula_compile_result res;
    const nl_formula_compile_options opt = {.kernel_set = tu_cpu(1)->cpu_kernels, .cache_dir = dir, .cc = cc};
    nl_formula_compile(p, 8, &opt, &res);
    return res;
}

static void overwrite(const char *path, const char *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert(fwrite(bytes, 1, n, f) == n);
    fclose(f);
}

/* the word relu keeps a NaN in native code as the interpreter does (as
 * torch.relu, issue 118), +0 for every value <= 0: images in blocks of 8 */
START_TEST(test_compiled_relu_keeps_nan)
{
    tu_tmp_make("formula-relu");
    snprintf(cache, sizeof cache, "%s/cache", tu_tmp);
    nl_formula *f = NULL;
    nl_formula_plan *p = small_plan("weight * relu(x)", &f);
    const size_t count = 2 * 16 * 9;
    float x[2 * 16 * 9], y[2][2 * 16 * 9], weight[16];
    for (size_t i = 0; i < count; i++)
        x[i] = i % 4 == 0 ? NAN : i % 4 == 1 ? -0.0f : i % 4 == 2 ? -0.5f * (float)i : 0.25f * (float)i;
    for (int c = 0; c < 16; c++)
        weight[c] = 1;
    void *work = aligned_alloc(64, (nl_formula_plan_workspace_bytes(p) + 63) & ~(size_t)63);
    float *saved = malloc((nl_formula_plan_saved_floats(p) + 1) * sizeof(float));
    ck_assert(work && saved);
    nl_backend *be = tu_cpu(1);
    for (int k = 0; k < 2; k++) { /* interpreted, then native */
        if (k) {
            const nl_formula_compile_result res = compile_in(p, cache, NULL);
            ck_assert_msg(res.compiled && p->train.forward.passes[0].compiled, "%s", res.why);
        }
        nl_formula_io io = {.n = 2, .block = 8, .x = x, .y = y[k], .momentum = 0.1f,
                            .saved = saved, .workspace = work};
        io.params[0] = weight;
        be->ops->formula_forward(be, p, NL_FORMULA_TRAIN, &io);
        for (size_t i = 0; i < count; i++)
            ck_assert_msg(isnan(x[i]) ? isnan(y[k][i])
                          : x[i] <= 0 ? y[k][i] == 0 && !signbit(y[k][i])
                                      : y[k][i] == x[i],
                          "%s: relu(%g) = %g", k ? "native" : "interpreted", x[i], y[k][i]);
    }
    free(work), free(saved);
    nl_formula_plan_free(p);
    nl_formula_free(f);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_cache_loads_its_own_and_refuses_the_rest)
{
    tu_tmp_make("formula-cache");
    snprintf(cache, sizeof cache, "%s/cache", tu_tmp); /* its own, never the shared one */
    nl_formula *f = NULL, *g = NULL;
    nl_formula_plan *p = small_plan("weight * x / sqrt(mean(x^2, [channels, spatial]) + eps)", &f);
    nl_formula_plan *q = small_plan("weight * x / sqrt(mean(x^2, [batch, spatial]) + eps)", &g);
    nl_formula_compile_result res = compile_in(p, cache, NULL);
    ck_assert_msg(res.compiled && !res.from_cache, "%s", res.why);
    char so[1024], sum[1024];
    snprintf(so, sizeof so, "%s/%s.so", cache, res.key);
    snprintf(sum, sizeof sum, "%s/%s.sum", cache, res.key);
    struct stat st;
    ck_assert(stat(cache, &st) == 0 && (st.st_mode & 0777) == 0700);
    /* a second plan of the same formula and shape: loaded, not compiled */
    res = compile_in(p, cache, NULL);
    ck_assert_msg(res.compiled && res.from_cache && !res.why[0], "%s", res.why);
    /* planted bytes of the same size, then a truncated object: compiled
     * again (each planted in place once this process has let the object
     * go: bytes changed under a loaded object would fault any process) */
    nl_formula_compiled_release(p);
    ck_assert(stat(so, &st) == 0);
    char *junk = calloc((size_t)st.st_size, 1);
    overwrite(so, junk, (size_t)st.st_size);
    free(junk);
    res = compile_in(p, cache, NULL);
    ck_assert_msg(res.compiled && !res.from_cache && strstr(res.why, "does not match its sum"), "%s", res.why);
    nl_formula_compiled_release(p);
    ck_assert(truncate(so, 100) == 0);
    res = compile_in(p, cache, NULL);
    ck_assert_msg(res.compiled && !res.from_cache && strstr(res.why, "compiled again"), "%s", res.why);
    /* another formula's object and its sum under this key: refused once loaded */
    nl_formula_compile_result other = compile_in(q, cache, NULL);
    ck_assert_msg(other.compiled, "%s", other.why);
    char other_so[1024], other_sum[1024], cmd[8192];
    snprintf(other_so, sizeof other_so, "%s/%s.so", cache, other.key);
    snprintf(other_sum, sizeof other_sum, "%s/%s.sum", cache, other.key);
    nl_formula_compiled_release(p);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s' '%s'", other_so, so, other_sum, sum);
    ck_assert(system(cmd) == 0);
    res = compile_in(p, cache, NULL);
    ck_assert_msg(res.compiled && strstr(res.why, "another formula's object"), "%s", res.why);
    /* an object others may write: compiled again */
    ck_assert(chmod(so, 0666) == 0);
    res = compile_in(p, cache, NULL);
    ck_assert_msg(res.compiled && strstr(res.why, "writable by others"), "%s", res.why);
    /* a cache directory others may write, or a link: the interpreter */
    ck_assert(chmod(cache, 0777) == 0);
    res = compile_in(p, cache, NULL);
    ck_assert_msg(!res.compiled && strstr(res.why, "writable by others"), "%s", res.why);
    ck_assert(p->train.forward.passes[0].compiled == NULL);
    ck_assert(chmod(cache, 0700) == 0);
    char link[1024];
    snprintf(link, sizeof link, "%s/link", tu_tmp);
    ck_assert(symlink(cache, link) == 0);
    res = compile_in(p, link, NULL);
    ck_assert_msg(!res.compiled && strstr(res.why, "symbolic link"), "%s", res.why);
    /* no compiler, or one that fails: the interpreter, saying why */
    res = compile_in(p, cache, "/nonexistent/cc");
    ck_assert_msg(!res.compiled && strstr(res.why, "no C compiler at /nonexistent/cc"), "%s", res.why);
    res = compile_in(q, cache, "/bin/false");
    ck_assert_msg(!res.compiled && strstr(res.why, "failed"), "%s", res.why);
    /* the switch to the interpreter, and a value it does not know */
    setenv("NORMLAB_FORMULA", "interpret", 1);
    res = compile_in(p, cache, NULL);
    ck_assert_msg(!res.compiled && strstr(res.why, "NORMLAB_FORMULA=interpret"), "%s", res.why);
    setenv("NORMLAB_FORMULA", "fast", 1);
    bool interpret;
    nl_error err = {0};
    ck_assert(nl_formula_mode_from_env(&interpret, &err) == NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "auto") && strstr(err.msg, "interpret"), "%s", err.msg);
    unsetenv("NORMLAB_FORMULA");
    nl_formula_plan_free(p);
    nl_formula_plan_free(q);
    nl_formula_free(f);
    nl_formula_free(g);
    tu_tmp_remove();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("formula_compile");
    TCase *tc = tcase_create("bits");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_paper_formulas_give_the_interpreters_bits, 0, PAPERS);
    tcase_add_loop_test(tc, test_registry_formulas_give_the_interpreters_bits, 0, NL_NORM_COUNT);
    suite_add_tcase(s, tc);
    TCase *cache_case = tcase_create("cache");
    tcase_set_timeout(cache_case, 300);
    tcase_add_test(cache_case, test_cache_loads_its_own_and_refuses_the_rest);
    tcase_add_test(cache_case, test_sha256_known_answers);
    tcase_add_test(cache_case, test_compiled_relu_keeps_nan);
    suite_add_tcase(s, cache_case);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
