/* Measuring the engine (see bench.h). Everything timed runs the library's own
 * code: layers come from the model builder, training steps are the calls the
 * training loop makes. */
#include "bench/bench.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/arch.h"
#include "arch/registry.h"
#include "log/files.h"
#include "base/rng.h"
#include "model/model.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "plan/plan.h"
#include "backend/rnn_layout.h"

#define BENCH_SEED 20240501u

double nl_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double clock_of(const nl_bench_timing *t)
{
    if (!t->cpu_clock)
        return nl_bench_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void nl_bench_run(void (*fn)(void *ctx), void *ctx, const nl_bench_timing *t, nl_bench_time *out)
{
    int reps = t->reps < 1 ? 1 : t->reps;
    if (reps > NL_BENCH_MAX_REPS)
        reps = NL_BENCH_MAX_REPS;
    for (int i = 0; i < t->warmup; i++)
        fn(ctx);
    /* one call sizes the repetitions */
    double t0 = clock_of(t);
    fn(ctx);
    const double one = clock_of(t) - t0;
    long calls = 1;
    if (t->rep_s > one) {
        const double want = ceil(t->rep_s / (one > 1e-8 ? one : 1e-8));
        calls = want > 1e6 ? 1000000L : (long)want;
    }
    double per[NL_BENCH_MAX_REPS], sum = 0.0;
    for (int r = 0; r < reps; r++) {
        t0 = clock_of(t);
        for (long c = 0; c < calls; c++)
            fn(ctx);
        per[r] = (clock_of(t) - t0) / (double)calls;
        sum += per[r];
    }
    out->mean_s = sum / reps;
    qsort(per, (size_t)reps, sizeof per[0], cmp_double);
    out->median_s = reps % 2 ? per[reps / 2] : 0.5 * (per[reps / 2 - 1] + per[reps / 2]);
    out->min_s = per[0];
    out->calls = calls;
    out->reps = reps;
}

static float *alloc_floats(size_t count)
{
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

static void fill_random(float *x, size_t count, uint64_t stream)
{
    nl_rng rng;
    nl_rng_seed(&rng, BENCH_SEED, stream);
    for (size_t i = 0; i < count; i++)
        x[i] = nl_rng_uniform(&rng) * 2.0f - 1.0f;
}

/* ---- streaming copy ---- */

typedef struct {
    float *dst;
    const float *src;
    long count;
    int threads;
} copy_ctx;

static void copy_call(void *p)
{
    const copy_ctx *c = p;
    float *restrict dst = c->dst;
    const float *restrict src = c->src;
    const long count = c->count;
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long i = 0; i < count; i++)
        dst[i] = src[i];
}

nl_code nl_bench_copy(size_t count, int threads, const nl_bench_timing *t, nl_bench_time *out,
                      nl_error *err)
{
    float *src = alloc_floats(count), *dst = alloc_floats(count);
    if (!src || !dst) {
        free(src);
        free(dst);
        return nl_fail(err, NL_ERR_NOMEM, "bench: cannot allocate 2 x %zu floats for the copy",
                       count);
    }
    const long n = (long)count;
    /* first touch by the threads that copy */
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (long i = 0; i < n; i++) {
        src[i] = (float)(i & 1023);
        dst[i] = 0.0f;
    }
    copy_ctx c = {dst, src, n, threads > 0 ? threads : 1};
    nl_bench_run(copy_call, &c, t, out);
    free(src);
    free(dst);
    return NL_OK;
}

/* ---- sgemm ---- */

double nl_gemm_flops(const nl_gemm *g, int count)
{
    double f = 0.0;
    for (int i = 0; i < count; i++)
        f += 2.0 * g[i].m * (double)g[i].n * g[i].k;
    return f;
}

const char *nl_gemm_describe(const nl_gemm *g, int count, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%dx%dx%d%c%c", i ? "+" : "", g[i].m,
                                 g[i].n, g[i].k, g[i].ta ? 'T' : 'N', g[i].tb ? 'T' : 'N');
    return buf;
}

typedef struct {
    const nl_gemm *g;
    int count;
    float **a, **b, **c;
} sgemm_ctx;

static void sgemm_call(void *p)
{
    const sgemm_ctx *s = p;
    for (int i = 0; i < s->count; i++) {
        const nl_gemm *g = &s->g[i];
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0f, s->a[i],
                    g->ta ? g->m : g->k, s->b[i], g->tb ? g->k : g->n, 0.0f, s->c[i], g->n);
    }
}

nl_code nl_bench_sgemm(const nl_gemm *g, int count, const nl_bench_timing *t, nl_bench_time *out,
                       nl_error *err)
{
    float *a[8] = {0}, *b[8] = {0}, *c[8] = {0};
    if (count < 1 || count > 8)
        return nl_fail(err, NL_ERR_RUNTIME, "bench: 1 to 8 GEMMs per call, not %d", count);
    nl_code rc = NL_OK;
    for (int i = 0; i < count; i++) {
        const size_t na = (size_t)g[i].m * g[i].k, nb = (size_t)g[i].k * g[i].n,
                     nc = (size_t)g[i].m * g[i].n;
        a[i] = alloc_floats(na);
        b[i] = alloc_floats(nb);
        c[i] = alloc_floats(nc);
        if (!a[i] || !b[i] || !c[i]) {
            rc = nl_fail(err, NL_ERR_NOMEM, "bench: cannot allocate the operands of a %dx%dx%d sgemm",
                         g[i].m, g[i].n, g[i].k);
            goto done;
        }
        fill_random(a[i], na, 11 + (uint64_t)i);
        fill_random(b[i], nb, 21 + (uint64_t)i);
        memset(c[i], 0, nc * sizeof(float));
    }
    sgemm_ctx s = {g, count, a, b, c};
    nl_bench_run(sgemm_call, &s, t, out);
done:
    for (int i = 0; i < count; i++) {
        free(a[i]);
        free(b[i]);
        free(c[i]);
    }
    return rc;
}

/* ---- graphs: forward, backward without the gradient upload ---- */

typedef struct {
    nl_model *m;
    int n;
    nl_mode mode;
} graph_ctx;

static void graph_forward(void *p)
{
    graph_ctx *g = p;
    nl_model_forward(g->m, g->n, g->mode);
}

/* nl_model_backward_from less its upload: the output gradient stays put */
static void graph_backward(void *p)
{
    graph_ctx *g = p;
    nl_model *m = g->m;
    nl_pass pass = {.be = m->be, .n = g->n, .mode = NL_MODE_TRAIN, .workspace = m->workspace,
                    .workspace_bytes = m->workspace_bytes};
    for (int i = m->n_layers - 1; i >= 0; i--)
        m->layers[i]->vt->backward(m->layers[i], &pass);
}

static void graph_forward_backward(void *p)
{
    graph_ctx *g = p;
    nl_model_forward(g->m, g->n, NL_MODE_TRAIN);
    graph_backward(p);
}

/* random input and output gradient, uploaded once */
static nl_code fill_graph(nl_model *m, int n, nl_error *err)
{
    const size_t in_count = (size_t)n * nl_shape_per_sample(m->input->shape);
    const size_t out_count = (size_t)n * nl_shape_per_sample(m->logits->shape);
    const size_t most = in_count > out_count ? in_count : out_count;
    float *host = alloc_floats(most);
    if (!host)
        return nl_fail(err, NL_ERR_NOMEM, "bench: cannot allocate %zu floats of input", most);
    nl_backend *be = m->be;
    fill_random(host, in_count, 31);
    be->ops->upload(be, m->input->data, host, in_count * sizeof *host);
    if (m->logits->grad) {
        fill_random(host, out_count, 32);
        be->ops->upload(be, m->logits->grad, host, out_count * sizeof *host);
    }
    nl_code rc = be->ops->synchronize(be, err);
    free(host);
    return rc;
}

/* the graph `construct` builds over n samples of the spec's input, filled */
static nl_code build_filled_graph(nl_backend *be, const nl_model_spec *spec, int n,
                                  nl_graph_fn construct, void *ctx, nl_model **m, nl_error *err)
{
    nl_code rc = nl_model_build_graph(spec, be, n, n, BENCH_SEED, construct, ctx, m, err);
    if (rc != NL_OK)
        return rc;
    if ((rc = fill_graph(*m, n, err)) != NL_OK) {
        nl_model_free(*m);
        *m = NULL;
    }
    return rc;
}

/* ---- normalizers ---- */

static const char *const mode_names[NL_BENCH_NORM_MODES] = {"fwd_train", "fwd_eval", "bwd",
                                                            "fwd_bwd"};
static const double mode_bytes[NL_BENCH_NORM_MODES] = {8.0, 8.0, 12.0, 20.0};

const char *nl_bench_norm_mode_name(int mode)
{
    return mode >= 0 && mode < NL_BENCH_NORM_MODES ? mode_names[mode] : "?";
}

double nl_bench_norm_mode_bytes(int mode)
{
    return mode >= 0 && mode < NL_BENCH_NORM_MODES ? mode_bytes[mode] : NAN;
}

typedef struct {
    nl_norm_spec norm;
    bool features;
} norm_graph;

/* ghost batch norm's virtual batch in the bench: a quarter of the batch
 * (experiments/bench/torch_bench.py takes the same), the whole batch when
 * that does not divide it */
static int bench_virtual_batch(int n)
{
    return n >= 8 && n % 4 == 0 ? n / 4 : n;
}

static nl_act *build_norm(nl_builder *b, nl_act *input, void *ctx)
{
    const norm_graph *g = ctx;
    input->needs_grad = 1;
    nl_act *x = g->features ? nl_flatten(b, "flat", input) : input;
    return x ? nl_norm(b, "norm", x, &g->norm) : NULL;
}

nl_code nl_bench_norm(nl_backend *be, const nl_bench_norm_case *nc, const nl_bench_timing *t,
                      nl_bench_time out[NL_BENCH_NORM_MODES], nl_error *err)
{
    norm_graph g = {.features = nc->features};
    nl_norm_spec_defaults(&g.norm, nc->kind);
    if (nl_norm_info_of(nc->kind)->keys & NL_NORM_KEY_GROUPS)
        g.norm.groups = nc->groups;
    g.norm.virtual_batch = bench_virtual_batch(nc->n);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = nc->c;
    spec.in_h = nc->features ? 1 : nc->h;
    spec.in_w = nc->features ? 1 : nc->w;
    nl_model *m = NULL;
    nl_code rc = build_filled_graph(be, &spec, nc->n, build_norm, &g, &m, err);
    if (rc != NL_OK)
        return rc;
    graph_ctx ctx = {m, nc->n, NL_MODE_TRAIN};
    nl_bench_run(graph_forward, &ctx, t, &out[NL_BENCH_FWD_TRAIN]);
    ctx.mode = NL_MODE_EVAL;
    nl_bench_run(graph_forward, &ctx, t, &out[NL_BENCH_FWD_EVAL]);
    /* backward needs the saved statistics of a training forward */
    ctx.mode = NL_MODE_TRAIN;
    nl_model_forward(m, nc->n, NL_MODE_TRAIN);
    nl_bench_run(graph_backward, &ctx, t, &out[NL_BENCH_BWD]);
    nl_bench_run(graph_forward_backward, &ctx, t, &out[NL_BENCH_FWD_BWD]);
    rc = be->ops->synchronize(be, err);
    nl_model_free(m);
    return rc;
}

/* ---- conv and linear layers ---- */

static const nl_param *find_param(const nl_model *m, const char *layer, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    return nl_model_param(m, name);
}

nl_code nl_bench_model_layers(nl_backend *be, const nl_model_spec *spec, int n,
                              nl_bench_layer_case *out, int max, int *count, nl_error *err)
{
    nl_model *m = NULL;
    nl_code rc = nl_model_create(spec, be, n, n, BENCH_SEED, &m, err);
    if (rc != NL_OK)
        return rc;
    *count = 0;
    for (int i = 0; i < m->n_layers && *count < max; i++) {
        const nl_layer *l = m->layers[i];
        const bool conv = strcmp(l->vt->kind, "conv2d") == 0;
        if (!conv && strcmp(l->vt->kind, "linear") != 0)
            continue;
        const nl_param *w = find_param(m, l->name, "weight");
        if (!w)
            continue;
        nl_bench_layer_case *lc = &out[(*count)++];
        memset(lc, 0, sizeof *lc);
        nl_copy_string(lc->name, sizeof lc->name, l->name);
        lc->conv = conv;
        lc->n = n;
        const nl_shape in = l->in[0]->shape, o = l->out->shape;
        lc->in_c = conv ? in.c : (int)nl_shape_per_sample(in);
        lc->in_h = conv ? in.h : 1;
        lc->in_w = conv ? in.w : 1;
        lc->out_c = o.c;
        lc->out_h = conv ? o.h : 1;
        lc->out_w = conv ? o.w : 1;
        lc->kernel = conv ? w->dims[2] : 1;
        /* the architectures pad k/2 ("same" for stride 1) */
        lc->stride = conv && o.h > 0 ? (in.h + o.h - 1) / o.h : 1;
        lc->pad = conv ? lc->kernel / 2 : 0;
        lc->bias = find_param(m, l->name, "bias") != NULL;
        lc->input_grad = l->in[0]->grad != NULL;
    }
    nl_model_free(m);
    return NL_OK;
}

int nl_bench_layer_gemms(const nl_bench_layer_case *lc, nl_gemm *fwd, nl_gemm bwd[2])
{
    if (!lc->conv) {
        *fwd = (nl_gemm){.m = lc->n, .n = lc->out_c, .k = lc->in_c, .ta = false, .tb = true};
        bwd[0] = (nl_gemm){.m = lc->out_c, .n = lc->in_c, .k = lc->n, .ta = true, .tb = false};
        bwd[1] = (nl_gemm){.m = lc->n, .n = lc->in_c, .k = lc->out_c, .ta = false, .tb = false};
    } else {
        const int r = lc->in_c * lc->kernel * lc->kernel, np = lc->n * lc->out_h * lc->out_w;
        *fwd = (nl_gemm){.m = lc->out_c, .n = np, .k = r, .ta = false, .tb = false};
        bwd[0] = (nl_gemm){.m = lc->out_c, .n = r, .k = np, .ta = false, .tb = true};
        bwd[1] = (nl_gemm){.m = r, .n = np, .k = lc->out_c, .ta = true, .tb = false};
    }
    return lc->input_grad ? 2 : 1;
}

static nl_act *build_layer(nl_builder *b, nl_act *input, void *ctx)
{
    const nl_bench_layer_case *lc = ctx;
    input->needs_grad = lc->input_grad;
    const int fan_in = lc->in_c * lc->kernel * lc->kernel;
    const float std = sqrtf(2.0f / (float)fan_in);
    if (lc->conv)
        return nl_conv2d(b, lc->name, input, lc->out_c, lc->kernel, lc->stride, lc->pad, lc->bias,
                         std);
    nl_act *x = nl_flatten(b, "flat", input);
    return x ? nl_linear(b, lc->name, x, lc->out_c, lc->bias, NL_FILL_NORMAL, std) : NULL;
}

nl_code nl_bench_layer(nl_backend *be, const nl_bench_layer_case *lc, const nl_bench_timing *t,
                       nl_bench_layer_result *out, nl_error *err)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = lc->in_c;
    spec.in_h = lc->in_h;
    spec.in_w = lc->in_w;
    nl_bench_layer_case c = *lc;
    nl_model *m = NULL;
    nl_code rc = build_filled_graph(be, &spec, lc->n, build_layer, &c, &m, err);
    if (rc != NL_OK)
        return rc;
    nl_gemm fwd, bwd[2];
    const int n_bwd = nl_bench_layer_gemms(lc, &fwd, bwd);
    out->fwd_flops = nl_gemm_flops(&fwd, 1);
    out->bwd_flops = nl_gemm_flops(bwd, n_bwd);
    graph_ctx ctx = {m, lc->n, NL_MODE_TRAIN};
    nl_bench_run(graph_forward, &ctx, t, &out->fwd);
    nl_bench_run(graph_backward, &ctx, t, &out->bwd);
    rc = be->ops->synchronize(be, err);
    nl_model_free(m);
    return rc;
}

/* ---- training ---- */

void nl_bench_model_spec(nl_arch arch, nl_norm_kind norm, int groups, nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = arch;
    spec->in_c = 1;
    spec->in_h = 28;
    spec->in_w = 28;
    spec->classes = 10;
    if (arch == NL_ARCH_CNN) {
        spec->widths[0] = 32;
        spec->widths[1] = 64;
        spec->n_widths = 2;
    } else {
        spec->widths[0] = spec->widths[1] = spec->widths[2] = 256;
        spec->n_widths = 3;
    }
    nl_norm_spec_defaults(&spec->norm, norm);
    if (groups > 0)
        spec->norm.groups = groups;
}

/* forward + backward FLOPs per sample (nl_model_flops) */
static double train_flops(const nl_model *m)
{
    nl_step_flops f;
    nl_model_flops(m, 1, &f);
    return f.forward + f.backward;
}

typedef struct {
    nl_model *m;
    nl_optim_spec optim;
    float *x;        /* images; NULL for a token model */
    int32_t *tokens; /* token windows; NULL for an image model */
    int32_t *y;      /* a label per image, or a target id per token */
    int batch, pool_batches, next;
    size_t per_sample; /* floats per image, or tokens per window */
    long step;
} train_ctx;

static void train_step(void *p)
{
    train_ctx *c = p;
    const size_t first = (size_t)c->next * c->batch;
    c->next = (c->next + 1) % c->pool_batches;
    if (c->tokens)
        nl_model_load_tokens(c->m, c->tokens + first * c->per_sample, c->y + first * c->per_sample,
                             c->batch);
    else
        nl_model_load_batch(c->m, c->x + first * c->per_sample, c->y + first, c->batch);
    nl_model_forward(c->m, c->batch, NL_MODE_TRAIN);
    nl_model_backward(c->m, c->batch);
    nl_optim_step(c->m, &c->optim, c->optim.lr, c->step);
    c->step++;
}

/* a pool of samples generated once: 16 batches, at least 256 samples */
static int pool_batches_for(int batch)
{
    int pool_batches = 16;
    while (pool_batches * batch < 256)
        pool_batches *= 2;
    return pool_batches;
}

/* warm-up, then the timed steps; fills out's timing and loss */
static nl_code time_training(train_ctx *c, const nl_bench_timing *t, nl_bench_train_result *out,
                             nl_error *err)
{
    nl_model *m = c->m;
    nl_bench_timing warm = *t;
    /* the metrics count from the first timed step */
    for (int i = 0; i < t->warmup; i++)
        train_step(c);
    warm.warmup = 0;
    nl_model_reset_metrics(m);
    const long first_step = c->step;
    nl_bench_run(train_step, c, &warm, &out->step);
    double metrics[2];
    nl_model_read_metrics(m, metrics);
    const nl_code rc = m->be->ops->synchronize(m->be, err);
    out->samples_per_s = out->step.median_s > 0 ? c->batch / out->step.median_s : 0.0;
    const long timed = c->step - first_step;
    const double rows = (double)timed * c->batch * m->rows_per_sample;
    out->mean_loss = timed > 0 ? metrics[0] / rows : NAN;
    out->params = nl_model_param_total(m);
    return rc;
}

void nl_bench_spec_at(const nl_model_spec *spec, int batch, nl_model_spec *out)
{
    *out = *spec;
    if (out->norm.virtual_batch == 0)
        out->norm.virtual_batch = bench_virtual_batch(batch);
}

nl_plan_run nl_bench_plan_run(const nl_model_spec *spec, int batch)
{
    return (nl_plan_run){.precision = spec->product_precision, .train_batch = batch,
                         .capacity = batch, .threads = 1};
}

/* the model a training bench times, for batches of `batch`: the graph its
 * options' check planned (nl_bench_spec_at, nl_bench_plan_run), allocated */
static nl_code build_bench_model(nl_backend *be, const nl_model_spec *spec, int batch,
                                 nl_model **m, nl_error *err)
{
    nl_model_spec at_batch;
    nl_bench_spec_at(spec, batch, &at_batch);
    const nl_plan_run run = nl_bench_plan_run(&at_batch, batch);
    nl_model *graph = NULL;
    nl_code rc = nl_plan_graph_take(&at_batch, &run, &graph, err);
    return rc == NL_OK ? nl_model_alloc(graph, be, BENCH_SEED, m, err) : rc;
}

void nl_bench_lm_defaults(nl_bench_lm_case *lc)
{
    *lc = (nl_bench_lm_case){.d_model = 128, .heads = 4, .layers = 5, .context = 64, .vocab = 256,
                             .placement = NL_PLACE_PRE};
}

void nl_bench_lm_spec(const nl_bench_lm_case *lc, nl_norm_kind norm, int groups,
                      nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = NL_ARCH_LM;
    spec->classes = lc->vocab;
    spec->d_model = lc->d_model;
    spec->heads = lc->heads;
    spec->layers = lc->layers;
    spec->context = lc->context;
    spec->optimizer_state_slots = nl_optim_info_of(NL_OPTIM_ADAMW)->state_slots;
    nl_norm_spec_defaults(&spec->norm, norm);
    spec->norm.placement = lc->placement;
    if (groups > 0)
        spec->norm.groups = groups;
}

void nl_bench_vit_spec(const nl_bench_lm_case *lc, int patch, nl_norm_kind norm, int groups,
                       nl_model_spec *spec)
{
    nl_bench_lm_spec(lc, norm, groups, spec);
    spec->arch = NL_ARCH_VIT;
    spec->in_c = 1;
    spec->in_h = spec->in_w = 28;
    spec->classes = 10;
    spec->patch = patch;
    spec->token_pool = NL_TOKEN_POOL_CLS;
}

void nl_bench_rnn_spec(const nl_bench_rnn_case *rc, nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = NL_ARCH_RNN;
    spec->in_c = 1;
    spec->in_h = rc->steps;
    spec->in_w = NL_BENCH_RNN_INPUTS;
    spec->classes = 10;
    spec->cell = rc->cell;
    spec->hidden = rc->hidden;
    spec->layers = rc->layers;
    spec->optimizer_state_slots = nl_optim_info_of(NL_OPTIM_ADAMW)->state_slots;
    nl_norm_spec_defaults(&spec->norm, rc->norm);
    spec->norm.placement =
        nl_norm_info_of(rc->norm)->adds_layer ? NL_PLACE_IN_CELL : NL_PLACE_NONE;
}

/* The data a bench trains on, drawn once from the bench's seed into c's
 * buffers (c's batch and pool_batches set), and the optimizer its configs
 * use; c's buffers are freed by the caller, also on failure. */
typedef nl_code (*train_pool_fn)(const nl_model_spec *spec, train_ctx *c, nl_error *err);

static nl_code image_pool(const nl_model_spec *spec, train_ctx *c, nl_error *err)
{
    c->per_sample = (size_t)spec->in_c * spec->in_h * spec->in_w;
    const size_t samples = (size_t)c->pool_batches * c->batch;
    c->x = alloc_floats(samples * c->per_sample);
    c->y = malloc(samples * sizeof *c->y);
    if (!c->x || !c->y)
        return nl_fail(err, NL_ERR_NOMEM, "bench: cannot allocate %zu samples of data", samples);
    nl_rng rng;
    nl_rng_seed(&rng, BENCH_SEED, NL_STREAM_SYNTHETIC);
    for (size_t i = 0; i < samples * c->per_sample; i++)
        c->x[i] = (float)nl_rng_normal(&rng);
    for (size_t i = 0; i < samples; i++)
        c->y[i] = (int32_t)nl_rng_below(&rng, (uint32_t)spec->classes);
    /* a transformer or recurrent network trains with AdamW, as its configs do */
    if (nl_arch_info_of(spec->arch)->blocks) {
        nl_optim_spec_defaults(&c->optim, NL_OPTIM_ADAMW);
    } else {
        nl_optim_spec_defaults(&c->optim, NL_OPTIM_SGD);
        c->optim.momentum = 0.9f;
    }
    return NL_OK;
}

static nl_code token_pool(const nl_model_spec *spec, train_ctx *c, nl_error *err)
{
    c->per_sample = (size_t)spec->context;
    const size_t count = (size_t)c->pool_batches * c->batch * c->per_sample;
    c->tokens = malloc(count * sizeof *c->tokens);
    c->y = malloc(count * sizeof *c->y);
    if (!c->tokens || !c->y)
        return nl_fail(err, NL_ERR_NOMEM, "bench: cannot allocate %zu tokens of data", count);
    nl_rng rng;
    nl_rng_seed(&rng, BENCH_SEED, NL_STREAM_SYNTHETIC);
    for (size_t i = 0; i < count; i++) {
        c->tokens[i] = (int32_t)nl_rng_below(&rng, (uint32_t)spec->classes);
        c->y[i] = (int32_t)nl_rng_below(&rng, (uint32_t)spec->classes);
    }
    nl_optim_spec_defaults(&c->optim, NL_OPTIM_ADAMW);
    return NL_OK;
}

static nl_code train_on_pool(nl_backend *be, const nl_model_spec *spec, int batch, float lr,
                             train_pool_fn pool, const nl_bench_timing *t,
                             nl_bench_train_result *out, nl_error *err)
{
    train_ctx c = {.batch = batch, .pool_batches = pool_batches_for(batch)};
    nl_code rc = build_bench_model(be, spec, batch, &c.m, err);
    if (rc != NL_OK)
        return rc;
    rc = pool(spec, &c, err);
    if (rc == NL_OK) {
        c.optim.lr = lr;
        rc = time_training(&c, t, out, err);
        out->tokens_per_s = c.tokens ? out->samples_per_s * (double)spec->context : 0.0;
        out->fwd_flops = nl_model_forward_flops(c.m);
        out->train_flops = train_flops(c.m);
    }
    free(c.x);
    free(c.tokens);
    free(c.y);
    nl_model_free(c.m);
    return rc;
}

nl_code nl_bench_train(nl_backend *be, const nl_model_spec *spec, int batch, float lr,
                       const nl_bench_timing *t, nl_bench_train_result *out, nl_error *err)
{
    return train_on_pool(be, spec, batch, lr, image_pool, t, out, err);
}

nl_code nl_bench_train_lm(nl_backend *be, const nl_model_spec *spec, int batch, float lr,
                          const nl_bench_timing *t, nl_bench_train_result *out, nl_error *err)
{
    return train_on_pool(be, spec, batch, lr, token_pool, t, out, err);
}

/* ---- the machine ---- */

extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

void nl_bench_machine_of_host(const nl_host_facts *host, nl_bench_machine *m)
{
    memset(m, 0, sizeof *m);
    nl_copy_string(m->cpu_model, sizeof m->cpu_model, host->model_name);
    /* the extensions whose presence changes which kernels run fastest */
    static const char *const wanted[] = {"amx_tile", "avx512_bf16", "avx512_vnni", "avx512bw",
                                         "avx512vl", "avx512f", "avx2", "fma", "sse4_2"};
    size_t used = 0;
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if (nl_host_has_flag(host, wanted[i]) && used < sizeof m->isa)
            used += (size_t)snprintf(m->isa + used, sizeof m->isa - used, "%s%s", used ? "+" : "",
                                     wanted[i]);
    m->l1d_kib = host->l1d_kib;
    m->l2_kib = host->l2_kib;
    m->l3_kib = host->l3_kib;
}

void nl_bench_machine_describe(nl_bench_machine *m)
{
    nl_host_facts host;
    nl_error err = {0};
    (void)nl_host_facts_read(NULL, &host, &err); /* this machine: never fails */
    nl_bench_machine_of_host(&host, m);
#if defined(__AVX512F__)
    nl_copy_string(m->build_isa, sizeof m->build_isa, "avx512f");
#elif defined(__AVX2__) && defined(__FMA__)
    nl_copy_string(m->build_isa, sizeof m->build_isa, "avx2+fma");
#elif defined(__AVX__)
    nl_copy_string(m->build_isa, sizeof m->build_isa, "avx");
#elif defined(__x86_64__)
    nl_copy_string(m->build_isa, sizeof m->build_isa, "sse2");
#else
    nl_copy_string(m->build_isa, sizeof m->build_isa, "generic");
#endif
    const char *core = openblas_get_corename();
    nl_copy_string(m->openblas_core, sizeof m->openblas_core, core ? core : "");
}

/* the best call's GFLOP/s of the square sgemm on `threads` OpenBLAS threads */
static nl_code peak_at(int threads, int size, nl_bench_time *time, double *gflops,
                       nl_error *err)
{
    openblas_set_num_threads(threads);
    const nl_gemm sq = {.m = size, .n = size, .k = size};
    /* rep_s 0: one call per repetition, the fastest taken */
    const nl_bench_timing t = {.reps = NL_BENCH_PEAK_CALLS, .warmup = 1, .rep_s = 0.0};
    const nl_code rc = nl_bench_sgemm(&sq, 1, &t, time, err);
    *gflops = rc == NL_OK && time->min_s > 0 ? nl_gemm_flops(&sq, 1) / time->min_s / 1e9 : NAN;
    return rc;
}

nl_code nl_bench_peak_probe(int threads, nl_bench_peak *out, nl_error *err)
{
    const int before = openblas_get_num_threads();
    *out = (nl_bench_peak){.size = NL_BENCH_PEAK_SIZE, .threads = threads < 1 ? 1 : threads,
                           .gflops_one = NAN, .gflops_all = NAN,
                           .fma = {.kind = NL_FMA_SCALAR, .gflops_one = NAN, .gflops_all = NAN}};
    nl_code rc = peak_at(1, out->size, &out->time_one, &out->gflops_one, err);
    if (rc == NL_OK && out->threads > 1) {
        rc = peak_at(out->threads, out->size, &out->time_all, &out->gflops_all, err);
    } else {
        out->time_all = out->time_one;
        out->gflops_all = out->gflops_one;
    }
    openblas_set_num_threads(before);
    return rc == NL_OK ? nl_fma_peak_probe(out->threads, &out->fma, err) : rc;
}
