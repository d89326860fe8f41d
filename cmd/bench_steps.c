/* normlab bench --training and --eval: the training step of the mlp and cnn,
 * the lm, the vit and the recurrent cells, and the eval forward with batch
 * norm and with it folded. */
#include <math.h>
#include <stdlib.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/rng.h"
#include "bench_cmd.h"
#include "model/fold.h"

#define TRAIN_LR 0.01f
/* PyTorch's AdamW default */
#define LM_LR 0.001f

const bench_own_training_row bench_own_training[] = {
    {NL_ARCH_LM, bench_training_lm},
    {NL_ARCH_VIT, bench_training_vit},
};
const int bench_n_own_training = (int)(sizeof bench_own_training / sizeof bench_own_training[0]);

/* A training bench's CSV row: the step's time, its rates and FLOPs (per
 * sample, as the result counts them, and per step); square > 0, the sgemm
 * 1024 rate, adds the ceiling it sets on samples/s and the fraction reached. */
static bench_row train_row(const char *section, const char *model, const char *norm, int batch,
                           const nl_bench_train_result *res, double square)
{
    bench_row r = bench_blank_row(section);
    r.model = model;
    r.norm = norm;
    r.batch = batch;
    r.kernel = "train_step";
    r.mode = "train";
    r.time = &res->step;
    r.samples_per_s = res->samples_per_s;
    r.median_ms = res->step.median_s * 1e3;
    r.flops = res->train_flops;
    r.step_flops = res->train_flops * batch;
    r.gflops = res->samples_per_s * res->train_flops / 1e9;
    if (square > 0) {
        r.ref_gflops = square;
        r.square_gflops = square;
        r.ceiling = square * 1e9 / res->train_flops;
        r.fraction = res->samples_per_s / r.ceiling;
    }
    return r;
}

void bench_training(bench_output *out, const bench_options *o, nl_backend *be, double square)
{
    const nl_bench_timing t = bench_timing(o, BENCH_TRAINING_STEPS);
    printf("training step (nl_model_load_batch, forward, backward, nl_sgd_step: lr %g, momentum\n"
           "  0.9) on random N(0,1) 1x28x28 images, 10 random classes; median of %d repetitions\n"
           "  of >= %.2f s after %d warm-up steps. FLOPs/sample = forward + backward of the\n"
           "  products (nl_model_flops: 3x forward, less the first layer's input gradient);\n"
           "  ceiling = sgemm 1024 rate (%.1f GFLOP/s) / FLOPs per sample; fraction = samples/s\n"
           "  / ceiling; share = GFLOP/s / the measured peak (%.1f GFLOP/s).\n",
           TRAIN_LR, t.reps, t.rep_s, t.warmup, square, out->peak.gflops_all);
    printf("  %-5s %-10s %5s %11s %9s %12s %8s %11s %8s %6s\n", "model", "norm", "batch",
           "samples/s", "ms/step", "MFLOP/sample", "GFLOP/s", "ceiling/s", "fraction", "share");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *arch = nl_arch_info_of((nl_arch)a);
        if (!o->model[a] || !arch->bench_kernels)
            continue;
        const char *model = arch->id.name;
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            if (!o->norm[k] || !nl_norm_accepts(nl_norm_info_of((nl_norm_kind)k), arch->norm_ndim))
                continue;
            const char *norm = nl_name_of(&nl_norm_names, k);
            for (int bi = 0; bi < o->n_batches; bi++) {
                const int n = o->batches[bi];
                nl_model_spec spec;
                nl_bench_model_spec((nl_arch)a, (nl_norm_kind)k, o->groups, &spec);
                nl_bench_train_result res;
                nl_error err = {0};
                if (nl_bench_train(be, &spec, n, TRAIN_LR, &t, &res, &err) != NL_OK) {
                    char what[96];
                    snprintf(what, sizeof what, "%s %s batch %d", model, norm, n);
                    bench_failed(out, what, &err);
                    continue;
                }
                const double gf = res.samples_per_s * res.train_flops / 1e9;
                const double ceiling = square * 1e9 / res.train_flops;
                char label[32];
                bench_norm_label(k, o->groups, label, sizeof label);
                printf("  %-5s %-10s %5d %11.0f %9.3f %12.3f %8.1f %11.0f %8.3f %6.3f%s\n", model,
                       label, n, res.samples_per_s, res.step.median_s * 1e3,
                       res.train_flops / 1e6, gf, ceiling, res.samples_per_s / ceiling,
                       gf / out->peak.gflops_all,
                       isfinite(res.mean_loss) ? "" : "  (loss not finite)");
                bench_row r = train_row("train", model, norm, n, &res, square);
                r.groups = bench_uses_groups(k) ? o->groups : 0;
                bench_emit_csv(out, &r);
            }
        }
    }
    printf("\n");
}

/* one eval-mode forward of a bench model over a pool of random batches */
typedef struct {
    nl_model *m;
    const float *x;
    const int32_t *y;
    int batch, pool_batches, next;
    size_t per_sample;
} eval_ctx;

static void eval_forward(void *ctx)
{
    eval_ctx *c = ctx;
    const size_t at = (size_t)c->next * (size_t)c->batch;
    nl_model_load_batch(c->m, c->x + at * c->per_sample, c->y + at, c->batch);
    nl_model_forward(c->m, c->batch, NL_MODE_EVAL);
    c->next = (c->next + 1) % c->pool_batches;
}

/* the bench model with batch norm at batch n, and the same with it folded:
 * *unfolded and *folded timed on the same random batches */
static nl_code time_eval_pair(nl_backend *be, const nl_model_spec *spec, int n,
                              const nl_bench_timing *t, nl_bench_time *unfolded,
                              nl_bench_time *folded, int *n_folded, nl_error *err)
{
    nl_model *m = NULL, *f = NULL;
    nl_model_spec folded_spec;
    /* these models are never trained, so batch norm's check of the training
     * batch (more than one value per channel) must not refuse the eval batch
     * of 1 that a deployed MLP runs: built for batches of up to 2, as normlab
     * eval builds for the run's own training batch, and timed at n */
    const int built_for = n < 2 ? 2 : n;
    nl_code rc = nl_model_create(spec, be, built_for, built_for, 1, &m, err);
    if (rc == NL_OK)
        rc = nl_fold_bn_spec(m, &folded_spec, n_folded, err);
    if (rc == NL_OK)
        rc = nl_model_create(&folded_spec, be, built_for, built_for, 1, &f, err);
    if (rc == NL_OK)
        rc = nl_fold_bn_weights(m, f, err);
    int pool_batches = 16;
    while (pool_batches * n < 256)
        pool_batches *= 2;
    const size_t per_sample = (size_t)spec->in_c * spec->in_h * spec->in_w;
    const size_t samples = (size_t)pool_batches * (size_t)n;
    float *x = rc == NL_OK ? malloc(samples * per_sample * sizeof *x) : NULL;
    int32_t *y = rc == NL_OK ? malloc(samples * sizeof *y) : NULL;
    if (rc == NL_OK && (!x || !y))
        rc = nl_fail(err, NL_ERR_NOMEM, "bench: cannot allocate %zu samples of data", samples);
    if (rc == NL_OK) {
        nl_rng rng;
        nl_rng_seed(&rng, 1, NL_STREAM_SYNTHETIC);
        for (size_t i = 0; i < samples * per_sample; i++)
            x[i] = (float)nl_rng_normal(&rng);
        for (size_t i = 0; i < samples; i++)
            y[i] = (int32_t)nl_rng_below(&rng, (uint32_t)spec->classes);
        eval_ctx c = {m, x, y, n, pool_batches, 0, per_sample};
        nl_bench_run(eval_forward, &c, t, unfolded);
        c.m = f;
        c.next = 0;
        nl_bench_run(eval_forward, &c, t, folded);
        rc = be->ops->synchronize(be, err);
    }
    free(x);
    free(y);
    nl_model_free(f);
    nl_model_free(m);
    return rc;
}

/* eval-mode throughput with batch norm as trained and folded away */
void bench_eval(bench_output *out, const bench_options *o, nl_backend *be)
{
    const nl_bench_timing t = bench_timing(o, BENCH_KERNEL_CALLS);
    printf("eval forward (nl_model_load_batch, forward in eval mode through the loss) on random\n"
           "  N(0,1) 1x28x28 images, 10 random classes, with batch norm and with it folded into\n"
           "  the layer before it (normlab eval --fold-bn); median of %d repetitions of >= %.3f s\n"
           "  after %d warm-up calls.\n", t.reps, t.rep_s, t.warmup);
    printf("  %-5s %5s %7s %14s %14s %8s\n", "model", "batch", "folded", "unfolded/s", "folded/s",
           "speed-up");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *arch = nl_arch_info_of((nl_arch)a);
        if (!o->model[a] || !arch->bench_kernels)
            continue;
        for (int bi = 0; bi < o->n_batches; bi++) {
            const int n = o->batches[bi];
            nl_model_spec spec;
            nl_bench_model_spec((nl_arch)a, NL_NORM_BATCH, o->groups, &spec);
            nl_bench_time unfolded, folded;
            int n_folded = 0;
            nl_error err = {0};
            if (time_eval_pair(be, &spec, n, &t, &unfolded, &folded, &n_folded, &err) != NL_OK) {
                char what[96];
                snprintf(what, sizeof what, "eval %s batch %d", arch->id.name, n);
                bench_failed(out, what, &err);
                continue;
            }
            const double unfolded_sps = n / unfolded.median_s, folded_sps = n / folded.median_s;
            printf("  %-5s %5d %7d %14.0f %14.0f %8.2f\n", arch->id.name, n, n_folded,
                   unfolded_sps, folded_sps, folded_sps / unfolded_sps);
            const struct { const char *mode; const nl_bench_time *time; double sps; } modes[] = {
                {"unfolded", &unfolded, unfolded_sps}, {"folded", &folded, folded_sps}};
            for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
                bench_row r = bench_blank_row("eval");
                r.model = arch->id.name;
                r.norm = nl_name_of(&nl_norm_names, NL_NORM_BATCH);
                r.batch = n;
                r.kernel = "eval_forward";
                r.mode = modes[k].mode;
                r.time = modes[k].time;
                r.samples_per_s = modes[k].sps;
                r.median_ms = modes[k].time->median_s * 1e3;
                r.fraction = modes[k].sps / unfolded_sps;
                bench_emit_csv(out, &r);
            }
        }
    }
    printf("\n");
}

/* the batch sizes of the lm and vit benches: --batch, or their own list */
static const int *transformer_batches(const bench_options *o, int *count)
{
    static const int def[] = {1, 4, 16, 64};
    *count = o->lm_default_batches ? (int)(sizeof def / sizeof def[0]) : o->n_batches;
    return o->lm_default_batches ? def : o->batches;
}

/* one CSV row of the lm or vit training bench; per_s: tokens/s or images/s */
static void emit_transformer_row(bench_output *out, const bench_options *o, const char *section,
                                 const char *model, int k, int batch, const char *shape,
                                 const char *placement, const nl_bench_train_result *res,
                                 double per_s)
{
    /* FLOPs per window or image (the sample the model is built for) */
    bench_row r = train_row(section, model, nl_name_of(&nl_norm_names, k), batch, res, 0.0);
    r.groups = bench_uses_groups(k) ? o->groups : 0;
    r.shape = shape;
    r.mode = placement;
    r.samples_per_s = per_s;
    bench_emit_csv(out, &r);
}

/* the lm's description up to its placement; its shape label into shape */
static void lm_description(const bench_options *o, char *shape, size_t size)
{
    const nl_bench_lm_case *lc = &o->lm;
    snprintf(shape, size, "d%d-h%d-L%d-T%d-V%d", lc->d_model, lc->heads, lc->layers,
             lc->context, lc->vocab);
    printf("lm training step (nl_model_load_tokens, forward, backward, nl_adamw_step: lr %g,\n"
           "  PyTorch's defaults) on random windows of %d token ids with random targets:\n"
           "  d_model %d, %d heads, %d layers, vocabulary %d, tied embeddings, GELU erf, MLP\n"
           "  ratio 4, ",
           LM_LR, lc->context, lc->d_model, lc->heads, lc->layers, lc->vocab);
}

/* the vit's description up to its placement; its shape label into shape */
static void vit_description(const bench_options *o, char *shape, size_t size)
{
    const nl_bench_lm_case *lc = &o->lm;
    snprintf(shape, size, "d%d-h%d-L%d-P%d", lc->d_model, lc->heads, lc->layers, o->patch);
    printf("vit training step (nl_model_load_batch, forward, backward, nl_adamw_step: lr %g,\n"
           "  PyTorch's defaults) on random N(0,1) 1x28x28 images in %dx%d patches, a class\n"
           "  token, 10 random classes: d_model %d, %d heads, %d layers, GELU erf, MLP ratio 4,\n"
           "  ",
           LM_LR, o->patch, o->patch, lc->d_model, lc->heads, lc->layers);
}

/* The lm's and the vit's grid of normalizers and batches, under the
 * architecture's description and the columns: a timed training step, a
 * printed line and a CSV row each. The vit's sample is an image; the lm's
 * CSV row counts tokens, since a token is the LM's sample: one prediction
 * and its loss. */
static void bench_transformer_grid(bench_output *out, const bench_options *o, nl_backend *be,
                                   nl_arch arch)
{
    const bool lm = arch == NL_ARCH_LM;
    const nl_bench_timing timing = bench_timing(o, BENCH_TRAINING_STEPS);
    const nl_bench_timing *t = &timing;
    const char *placement = nl_name_of(&nl_placement_names, o->lm.placement);
    char shape[96];
    if (lm)
        lm_description(o, shape, sizeof shape);
    else
        vit_description(o, shape, sizeof shape);
    printf("placement %s; median of %d repetitions of >= %.2f s after %d warm-up steps\n",
           placement, t->reps, t->rep_s, t->warmup);
    /* the columns as each row prints them: the lm's rates, then both's */
    if (lm)
        printf("  %-10s %5s %11s %10s", "norm", "batch", "tokens/s", "windows/s");
    else
        printf("  %-10s %5s %11s", "norm", "batch", "images/s");
    printf(" %9s %9s %8s %11s %8s %6s\n", "ms/step", "params", "loss", "MFLOP/step", "GFLOP/s",
           "share");
    const char *model = nl_arch_info_of(arch)->id.name;
    int n_batches;
    const int *batches = transformer_batches(o, &n_batches);
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        if (!o->transformer_norm[arch][k])
            continue;
        const char *norm = nl_name_of(&nl_norm_names, k);
        for (int bi = 0; bi < n_batches; bi++) {
            const int n = batches[bi];
            nl_model_spec spec;
            bench_transformer_spec(o, arch, k, &spec);
            nl_bench_train_result res;
            nl_error err = {0};
            nl_code rc = lm ? nl_bench_train_lm(be, &spec, n, LM_LR, t, &res, &err)
                            : nl_bench_train(be, &spec, n, LM_LR, t, &res, &err);
            if (rc != NL_OK) {
                char what[96];
                snprintf(what, sizeof what, "%s %s batch %d", model, norm, n);
                bench_failed(out, what, &err);
                continue;
            }
            char label[32];
            bench_norm_label(k, o->groups, label, sizeof label);
            const double gf = res.samples_per_s * res.train_flops / 1e9;
            if (lm)
                printf("  %-10s %5d %11.0f %10.1f", label, n, res.tokens_per_s, res.samples_per_s);
            else
                printf("  %-10s %5d %11.1f", label, n, res.samples_per_s);
            printf(" %9.3f %9zu %8.3f %11.1f %8.1f %6.3f%s\n", res.step.median_s * 1e3,
                   res.params, res.mean_loss, res.train_flops * n / 1e6, gf,
                   gf / out->peak.gflops_all, isfinite(res.mean_loss) ? "" : "  (loss not finite)");
            emit_transformer_row(out, o, lm ? "train_lm" : "train_vit", model, k, n, shape,
                                 placement, &res, lm ? res.tokens_per_s : res.samples_per_s);
        }
    }
    printf("\n");
}

void bench_training_lm(bench_output *out, const bench_options *o, nl_backend *be)
{
    bench_transformer_grid(out, o, be, NL_ARCH_LM);
}

void bench_training_vit(bench_output *out, const bench_options *o, nl_backend *be)
{
    bench_transformer_grid(out, o, be, NL_ARCH_VIT);
}

/* the recurrent cells' training step, on the grid of hidden sizes and batches */
void bench_training_rnn(bench_output *out, const bench_options *o, nl_backend *be, double square)
{
    const nl_bench_timing t = bench_timing(o, BENCH_TRAINING_STEPS);
    const nl_bench_rnn_case first = bench_rnn_case(o, NL_RNN_LSTM, NL_NORM_NONE, 0);
    printf("rnn training step (nl_model_load_batch, forward over %d steps of %d random N(0,1)\n"
           "  inputs, a linear classifier on the last state, 10 random classes, backpropagation\n"
           "  through time, nl_adamw_step: lr %g, PyTorch's defaults); %d layer(s); median of %d\n"
           "  repetitions of >= %.2f s after %d warm-up steps. FLOPs/sequence = the cell's\n"
           "  products (input and recurrent projections) and the classifier, 3x forward less\n"
           "  the first layer's input gradient; ceiling = sgemm 1024 rate (%.1f GFLOP/s) / FLOPs;\n"
           "  share = GFLOP/s / the measured peak (%.1f GFLOP/s).\n"
           "  A normalizer other than none sits inside the cell (placement in_cell).\n",
           first.steps, NL_BENCH_RNN_INPUTS, LM_LR, first.layers, t.reps, t.rep_s, t.warmup,
           square, out->peak.gflops_all);
    printf("  %-5s %-13s %6s %5s %11s %9s %12s %8s %11s %8s %6s %8s\n", "cell", "norm", "hidden",
           "batch", "seqs/s", "ms/step", "MFLOP/seq", "GFLOP/s", "ceiling/s", "fraction", "share",
           "loss");
    int n_batches = 0;
    const int *batches = bench_rnn_batch_list(o, &n_batches);
    for (int c = 0; c < NL_RNN_COUNT; c++)
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        if (!o->cell[c] || !o->rnn_norm[k])
            continue;
        const char *cell = nl_name_of(&nl_rnn_cell_names, c);
        /* the row's norm column names the normalizer, the table says where */
        const bool in_cell = nl_norm_info_of((nl_norm_kind)k)->adds_layer;
        char norm[48];
        snprintf(norm, sizeof norm, "%s%s", nl_name_of(&nl_norm_names, k),
                 in_cell ? " in_cell" : "");
        for (int h = 0; h < o->n_hiddens; h++) {
            const nl_bench_rnn_case rnn =
                bench_rnn_case(o, (nl_rnn_cell)c, (nl_norm_kind)k, o->hiddens[h]);
            char shape[64];
            snprintf(shape, sizeof shape, "H%d-L%d-T%d-I%d", rnn.hidden, rnn.layers, rnn.steps,
                     NL_BENCH_RNN_INPUTS);
            for (int bi = 0; bi < n_batches; bi++) {
                const int n = batches[bi];
                nl_model_spec spec;
                nl_bench_rnn_spec(&rnn, &spec);
                nl_bench_train_result res;
                nl_error err = {0};
                if (nl_bench_train(be, &spec, n, LM_LR, &t, &res, &err) != NL_OK) {
                    char what[192];
                    snprintf(what, sizeof what, "%s %s %s batch %d", cell, norm, shape, n);
                    bench_failed(out, what, &err);
                    continue;
                }
                const double flops = res.train_flops;
                const double gf = res.samples_per_s * flops / 1e9;
                const double ceiling = square * 1e9 / flops;
                printf("  %-5s %-13s %6d %5d %11.1f %9.3f %12.3f %8.1f %11.0f %8.3f %6.3f %8.3f"
                       "%s\n",
                       cell, norm, rnn.hidden, n, res.samples_per_s, res.step.median_s * 1e3,
                       flops / 1e6, gf, ceiling, res.samples_per_s / ceiling,
                       gf / out->peak.gflops_all, res.mean_loss,
                       isfinite(res.mean_loss) ? "" : "  (loss not finite)");
                bench_row r =
                    train_row("train_rnn", cell, nl_name_of(&nl_norm_names, k), n, &res, square);
                r.kernel = in_cell ? "train_step_in_cell" : "train_step";
                r.shape = shape;
                bench_emit_csv(out, &r);
            }
        }
    }
    printf("\n");
}
