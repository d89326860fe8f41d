// ctest-labels: kernels
/* The lm and vit architectures: central finite differences of the whole model's
 * mean token loss against backward, for every normalizer the registry
 * places on tokens x every lm placement x QK-norm on and off, the head tied
 * and untied; the refusals (normalizers without meaning on tokens, derived
 * from the registry rows; a backend without the token kernels); causality
 * through the whole model; the loss as the mean over N*T tokens; and
 * `normlab run` of a small LM: the config pairs token models with token
 * datasets, refuses what token runs do not take, a run reports its
 * losses in bits too, and batch norm's train-mode evaluation on tokens.
 * The vit: finite differences for every token normalizer in three
 * placements, class token and mean pooling; its refusals. The depth
 * schemes (DeepNorm, LayerNorm Scaling) of both: finite differences,
 * DeepNorm's beta on the initial stds, the keys refused where they cannot
 * act. The mixer:
 * finite differences for every token normalizer before the branches and
 * without a normalizer; the placements it refuses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/rng.h"
#include "config/config.h"
#include "log/files.h"
#include "model/model.h"
#include "train/run.h"
#include "norm/registry.h"
#include "testutil.h"

enum { N = 3, T = 5, VOCAB = 11 };

static void lm_spec(nl_model_spec *spec, nl_norm_kind kind, nl_placement placement, bool qk_norm,
                    bool tie)
{
    nl_model_spec_defaults(spec);
    spec->arch = NL_ARCH_LM;
    spec->classes = VOCAB;
    /* head_dim 12: group norm's groups of 2 on q and k keep 6 features
     * each; fewer make the function too curved for central differences */
    spec->d_model = 24;
    spec->heads = 2;
    spec->layers = 2;
    spec->context = T;
    spec->mlp_ratio = 2;
    spec->qk_norm = qk_norm;
    spec->tie_embeddings = tie;
    nl_norm_spec_defaults(&spec->norm, kind);
    spec->norm.placement = placement;
    spec->norm.groups = 2;
    /* weights large enough that every layer matters to the loss */
    spec->init = NL_INIT_GAUSSIAN;
    spec->init_std = 0.15f;
}

static void batch(int32_t *tokens, int32_t *targets, uint64_t seed)
{
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    for (int p = 0; p < N * T; p++) {
        tokens[p] = (int32_t)nl_rng_below(&rng, VOCAB);
        targets[p] = (int32_t)nl_rng_below(&rng, VOCAB);
    }
}

static double mean_loss(nl_model *m)
{
    return tu_model_mean_loss(m, N);
}

/* every parameter's gradient of the lm `spec` against central differences */
static void check_lm_spec(const nl_model_spec *spec, const char *what)
{
    nl_backend *be = tu_cpu(2);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(spec, be, N, N, 5, &m, &err) == NL_OK, "%s: %s", what, err.msg);
    int32_t tokens[N * T], targets[N * T];
    batch(tokens, targets, 21);
    nl_model_load_tokens(m, tokens, targets, N);
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->ndim == 1)
            tu_fill_uniform(m->params[i]->data, m->params[i]->count, 40 + i, 0.5f, 1.5f);
    mean_loss(m);
    nl_model_backward(m, N);
    /* sandwich batch norm over 15 tokens is curved enough that h = 1e-2
     * leaves 2% of O(h^2) error; at 2.5e-3 the float loss's noise shows */
    const float h = 5e-3f;
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        double max_grad;
        const double max_diff = tu_param_fd_error(m, N, i, 100 + i, h, &max_grad);
        /* the absolute floor covers gradients that are exactly zero, where
         * the float loss leaves ~4e-5 of noise in the differences: the key
         * bias (softmax ignores a shift shared by a row's logits) and
         * biases whose shift of every token a batch norm removes */
        ck_assert_msg(max_diff <= 1e-2 * max_grad + 1e-4,
                      "%s: d %s: |fd - backward| %.3g, max |grad| %.3g", what, p->name, max_diff,
                      max_grad);
    }
    nl_model_free(m);
}

static void check_lm(nl_norm_kind kind, nl_placement placement, bool qk_norm, bool tie)
{
    nl_model_spec spec;
    lm_spec(&spec, kind, placement, qk_norm, tie);
    char what[160];
    snprintf(what, sizeof what, "lm/%s/%s%s%s", nl_name_of(&nl_placement_names, placement),
             nl_name_of(&nl_norm_names, kind), qk_norm ? "/qk_norm" : "", tie ? "/tied" : "");
    check_lm_spec(&spec, what);
}

/* the image models' test images: C channels of SIDE x SIDE */
enum { C = 2, SIDE = 6 };

/* an image model's every parameter gradient against central differences,
 * on a batch of N random images (seeded) with 1-d parameters moved off
 * their initial ones and zeros; frees m. The floor is for gradients that
 * are exactly zero (v's bias under a peri norm; the mixer's token-MLP fc2
 * bias under a norm that subtracts the mean: constants a norm removes):
 * there the difference quotient is the loss's float noise over 2h, ~1e-4
 * in a build without FMA (the sanitizers' at 1.09e-4). */
static void image_gradcheck(nl_model *m, const char *what, const int32_t *labels, uint64_t seed)
{
    float images[N * C * SIDE * SIDE];
    tu_fill_normal(images, sizeof images / sizeof images[0], seed, 0.0f, 1.0f);
    nl_model_load_batch(m, images, labels, N);
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->ndim == 1)
            tu_fill_uniform(m->params[i]->data, m->params[i]->count, 40 + i, 0.5f, 1.5f);
    mean_loss(m);
    nl_model_backward(m, N);
    for (int i = 0; i < m->n_params; i++) {
        double max_grad;
        const double max_diff = tu_param_fd_error(m, N, i, 100 + i, 5e-3f, &max_grad);
        ck_assert_msg(max_diff <= 1e-2 * max_grad + 3e-4,
                      "%s: d %s: |fd - backward| %.3g, max |grad| %.3g", what,
                      m->params[i]->name, max_diff, max_grad);
    }
    nl_model_free(m);
}

/* the vit: 2-channel 6x6 images in 3x3 patches (4 tokens, 5 with the class
 * token), the lm's block sizes; every parameter's gradient against central
 * differences of the mean loss */
static void vit_spec(nl_model_spec *spec, nl_norm_kind kind, nl_placement placement,
                     nl_token_pool pool, bool qk_norm)
{
    lm_spec(spec, kind, placement, qk_norm, false);
    spec->arch = NL_ARCH_VIT;
    spec->classes = 5;
    spec->in_c = C, spec->in_h = spec->in_w = SIDE;
    spec->patch = 3;
    spec->token_pool = pool;
}

/* every parameter's gradient of the vit `spec` against central differences */
static void check_vit_spec(const nl_model_spec *spec, const char *what)
{
    nl_backend *be = tu_cpu(2);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(spec, be, N, N, 5, &m, &err) == NL_OK, "%s: %s", what, err.msg);
    const int32_t labels[N] = {0, 3, 4};
    image_gradcheck(m, what, labels, 22);
}

static void check_vit(nl_norm_kind kind, nl_placement placement, nl_token_pool pool, bool qk_norm)
{
    nl_model_spec spec;
    vit_spec(&spec, kind, placement, pool, qk_norm);
    char what[160];
    snprintf(what, sizeof what, "vit/%s/%s/%s%s", nl_name_of(&nl_placement_names, placement),
             nl_name_of(&nl_norm_names, kind), nl_name_of(&nl_token_pool_names, pool),
             qk_norm ? "/qk_norm" : "");
    check_vit_spec(&spec, what);
}

/* the depth schemes on 3 blocks, so that LayerNorm Scaling's factors
 * differ from block to block: DeepNorm's alpha (from the depth, and
 * given), LayerNorm Scaling with layer norm and with RMS norm plus
 * QK-norm; the lm and the vit */
START_TEST(test_depth_schemes_gradcheck)
{
    nl_model_spec spec;
    lm_spec(&spec, NL_NORM_LAYER, NL_PLACE_POST, false, false);
    spec.layers = 3;
    spec.residual_scale = NL_RESIDUAL_SCALE_DEEPNORM;
    check_lm_spec(&spec, "lm/post/layer/deepnorm");
    spec.residual_scale = NL_RESIDUAL_SCALE_EXPLICIT;
    spec.residual_alpha = 0.6f;
    check_lm_spec(&spec, "lm/post/layer/alpha 0.6");
    lm_spec(&spec, NL_NORM_LAYER, NL_PLACE_PRE, false, true);
    spec.layers = 3;
    spec.norm.depth_scaling = true;
    check_lm_spec(&spec, "lm/pre/layer/depth_scaling");
    lm_spec(&spec, NL_NORM_RMS, NL_PLACE_PRE, true, false);
    spec.layers = 3;
    spec.norm.depth_scaling = true;
    check_lm_spec(&spec, "lm/pre/rms/qk_norm/depth_scaling");
    vit_spec(&spec, NL_NORM_LAYER, NL_PLACE_POST, NL_TOKEN_POOL_MEAN, true);
    spec.layers = 3;
    spec.residual_scale = NL_RESIDUAL_SCALE_DEEPNORM;
    check_vit_spec(&spec, "vit/post/layer/deepnorm");
    vit_spec(&spec, NL_NORM_LAYER, NL_PLACE_PRE, NL_TOKEN_POOL_CLS, false);
    spec.layers = 3;
    spec.norm.depth_scaling = true;
    check_vit_spec(&spec, "vit/pre/layer/depth_scaling");
}
END_TEST

/* DeepNorm's beta: the value, output projection and MLP weights start at
 * beta times the std they have without it, every other parameter as
 * without it; for init auto (GPT-2's 0.02) and xavier (the paper's
 * xavier_normal_ with gain beta) */
START_TEST(test_deepnorm_init)
{
    static const char *const scaled[] = {".attn.v.weight", ".attn.proj.weight", ".mlp.fc1.weight",
                                         ".mlp.fc2.weight"};
    const nl_init_kind inits[] = {NL_INIT_AUTO, NL_INIT_XAVIER};
    for (size_t k = 0; k < sizeof inits / sizeof inits[0]; k++)
        for (int layers = 1; layers <= 12; layers += 11) {
            nl_model_spec plain, deep;
            lm_spec(&plain, NL_NORM_LAYER, NL_PLACE_POST, false, false);
            plain.init = inits[k];
            plain.layers = layers;
            deep = plain;
            deep.residual_scale = NL_RESIDUAL_SCALE_DEEPNORM;
            const float beta = powf(8.0f * (float)layers, -0.25f);
            nl_model *a = NULL, *b = NULL;
            nl_error err = {0};
            ck_assert(nl_model_create(&plain, tu_cpu(1), N, N, 5, &a, &err) == NL_OK);
            ck_assert(nl_model_create(&deep, tu_cpu(1), N, N, 5, &b, &err) == NL_OK);
            ck_assert_int_eq(a->n_params, b->n_params);
            int shrunk = 0;
            for (int i = 0; i < a->n_params; i++) {
                const nl_param *p = a->params[i], *q = b->params[i];
                ck_assert_str_eq(p->name, q->name);
                bool is_scaled = false;
                for (size_t j = 0; j < sizeof scaled / sizeof scaled[0]; j++) {
                    const size_t len = strlen(p->name), tail = strlen(scaled[j]);
                    is_scaled |= len > tail && strcmp(p->name + len - tail, scaled[j]) == 0;
                }
                const float want = is_scaled ? beta * p->std : p->std;
                ck_assert_msg(fabsf(q->std - want) <= 1e-6f * want, "%s (layers %d): std %g, want %g",
                              p->name, layers, q->std, want);
                shrunk += is_scaled;
            }
            ck_assert_int_eq(shrunk, 4 * layers);
            nl_model_free(a);
            nl_model_free(b);
        }
}
END_TEST

START_TEST(test_vit_gradcheck)
{
    const nl_norm_kind kind = (nl_norm_kind)_i;
    if (!nl_norm_info_of(kind)->tokens)
        return;
    check_vit(kind, NL_PLACE_PRE, NL_TOKEN_POOL_CLS, false);
    check_vit(kind, NL_PLACE_POST, NL_TOKEN_POOL_MEAN, true);
    check_vit(kind, NL_PLACE_PERI, NL_TOKEN_POOL_CLS, true);
}
END_TEST

/* the mixer: 2-channel 6x6 images in 2x2 patches (9 tokens), the lm's
 * d_model, layers and mlp_ratio; the token MLP's default width (d_model /
 * 2) or a narrower one; every parameter's gradient against central
 * differences of the mean loss */
static void check_mixer(nl_norm_kind kind, nl_placement placement, int token_mlp_width)
{
    enum { CLASSES = 5 };
    nl_backend *be = tu_cpu(2);
    nl_model_spec spec;
    lm_spec(&spec, kind, placement, false, false);
    spec.arch = NL_ARCH_MIXER;
    spec.classes = CLASSES;
    spec.in_c = C, spec.in_h = spec.in_w = SIDE;
    spec.patch = 2;
    spec.token_mlp_width = token_mlp_width;
    char what[160];
    snprintf(what, sizeof what, "mixer/%s/%s/token_mlp_width %d",
             nl_name_of(&nl_placement_names, placement), nl_name_of(&nl_norm_names, kind),
             token_mlp_width);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, N, N, 5, &m, &err) == NL_OK, "%s: %s", what, err.msg);
    const nl_param *fc1 = nl_model_param(m, "blocks.1.mlp_tokens.fc1.weight");
    ck_assert_msg(fc1 && fc1->dims[0] == (token_mlp_width ? token_mlp_width : spec.d_model / 2) &&
                      fc1->dims[1] == (SIDE / 2) * (SIDE / 2),
                  "%s: the token MLP maps the 9 tokens", what);
    const int32_t labels[N] = {2, 0, 4};
    image_gradcheck(m, what, labels, 23);
}

START_TEST(test_mixer_gradcheck)
{
    const nl_norm_kind kind = (nl_norm_kind)_i;
    if (!nl_norm_info_of(kind)->tokens)
        return;
    check_mixer(kind, NL_PLACE_PRE, 0);
    if (kind == NL_NORM_NONE)
        check_mixer(kind, NL_PLACE_NONE, 5);
}
END_TEST

/* the mixer places its normalizers before each branch or nowhere: the
 * transformers' post and peri are refused, naming what it takes */
START_TEST(test_mixer_placements)
{
    nl_model_spec spec;
    lm_spec(&spec, NL_NORM_LAYER, NL_PLACE_PRE, false, false);
    spec.arch = NL_ARCH_MIXER;
    spec.in_c = 1, spec.in_h = spec.in_w = 8;
    spec.patch = 4;
    nl_error err = {0};
    ck_assert_msg(nl_model_check(&spec, N, &err) == NL_OK, "%s", err.msg);
    spec.norm.placement = NL_PLACE_NONE;
    ck_assert_msg(nl_model_check(&spec, N, &err) == NL_OK, "%s", err.msg);
    const nl_placement refused[] = {NL_PLACE_POST, NL_PLACE_PERI, NL_PLACE_BEFORE};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        nl_error bad = {0};
        spec.norm.placement = refused[k];
        ck_assert_int_eq(nl_model_check(&spec, N, &bad), NL_ERR_CONFIG);
        ck_assert_str_eq(bad.key, "model.norm.placement");
        ck_assert_msg(strstr(bad.msg, "accepted: pre | none"), "%s", bad.msg);
    }
}
END_TEST

/* placements of the lm, from the names table's "lm:" rows */
static bool lm_placement(int p)
{
    return strstr(nl_name_entry_at(&nl_placement_names, p)->help, "lm:") != NULL;
}

START_TEST(test_lm_gradcheck)
{
    const nl_norm_kind kind = (nl_norm_kind)_i;
    if (!nl_norm_info_of(kind)->tokens)
        return;
    int cases = 0;
    for (int p = 0; p < NL_PLACE_COUNT; p++) {
        if (!lm_placement(p))
            continue;
        for (int qk = 0; qk < 2; qk++, cases++)
            check_lm(kind, (nl_placement)p, qk, (cases % 2) == 0);
    }
    ck_assert_int_eq(cases, 8);
}
END_TEST

/* a kind without meaning on tokens is refused at build, naming the kinds
 * that are accepted */
START_TEST(test_lm_refuses_image_norms)
{
    const nl_norm_kind kind = (nl_norm_kind)_i;
    if (nl_norm_info_of(kind)->tokens)
        return;
    nl_model_spec spec;
    lm_spec(&spec, kind, NL_PLACE_PRE, false, true);
    spec.norm.virtual_batch = 1;
    nl_error err = {0};
    ck_assert_int_eq(nl_model_check(&spec, N, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "model.norm.type");
    ck_assert_msg(strstr(err.msg, nl_norm_info_of(kind)->id.name) && strstr(err.msg, "layer | ") &&
                      strstr(err.msg, "rms"),
                  "%s", err.msg);
}
END_TEST

/* a backend that lacks the token kernels (CUDA before they land): a clear
 * error at build, not a crash at the first forward */
START_TEST(test_lm_needs_token_kernels)
{
    nl_ops ops = *tu_cpu(1)->ops;
    ops.name = "partial";
    ops.attention_forward = NULL;
    nl_backend be = *tu_cpu(1);
    be.ops = &ops;
    nl_model_spec spec;
    lm_spec(&spec, NL_NORM_LAYER, NL_PLACE_PRE, false, true);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_model_create(&spec, &be, N, N, 5, &m, &err), NL_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "partial backend has no attention kernels"), "%s", err.msg);
    ck_assert_ptr_null(m);
}
END_TEST

/* the last token of each sequence changes: the logits of every earlier
 * position stay bit for bit; the loss is the mean over the N*T tokens */
START_TEST(test_lm_causal_and_mean_over_tokens)
{
    nl_model_spec spec;
    lm_spec(&spec, NL_NORM_LAYER, NL_PLACE_PRE, true, true);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, tu_cpu(2), N, N, 5, &m, &err) == NL_OK, "%s", err.msg);
    int32_t tokens[N * T], targets[N * T];
    batch(tokens, targets, 31);
    nl_model_load_tokens(m, tokens, targets, N);
    const double loss = mean_loss(m);
    const size_t count = (size_t)N * T * VOCAB;
    float *before = malloc(count * sizeof *before);
    memcpy(before, m->logits->data, count * sizeof *before);
    /* the loss by hand from the logits */
    double sum = 0.0;
    for (int p = 0; p < N * T; p++) {
        const float *row = before + (size_t)p * VOCAB;
        double z = 0.0;
        for (int v = 0; v < VOCAB; v++)
            z += exp(row[v]);
        sum += log(z) - row[targets[p]];
    }
    ck_assert_msg(fabs(sum / (N * T) - loss) < 1e-5, "loss %.8f, by hand %.8f", loss, sum / (N * T));
    for (int i = 0; i < N; i++)
        tokens[i * T + T - 1] = (tokens[i * T + T - 1] + 1) % VOCAB;
    nl_model_load_tokens(m, tokens, targets, N);
    mean_loss(m);
    for (int p = 0; p < N * T; p++) {
        const bool last = p % T == T - 1;
        const bool same = memcmp(before + (size_t)p * VOCAB, m->logits->data + (size_t)p * VOCAB,
                                 VOCAB * sizeof(float)) == 0;
        ck_assert_msg(same != last, "position %d: logits %s", p, same ? "unchanged" : "changed");
    }
    free(before);
    nl_model_free(m);
}
END_TEST

/* config errors: a token model needs a token dataset and the reverse;
 * what token runs do not take is refused with exit 2, nothing written */
static const struct {
    const char *yaml, *fragment;
} bad_runs[] = {
    {"model: {arch: lm}\n", "model.arch: 'lm' reads token sequences, but data.dataset synthetic "
                             "has images or feature vectors; accepted datasets: text | "
                             "synthetic_text"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: cnn}\n",
     "data.dataset: 'synthetic_text' yields token sequences, but model.arch 'cnn' takes images"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {type: instance}}\n",
     "normalizer 'instance' does not apply to token sequences"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 30, heads: 4}\n",
     "model.heads: d_model 30 is not a multiple of heads 4"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {placement: before}}\n",
     "placement 'before' does not apply to arch 'lm'; accepted: post | pre | peri | none"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm}\ntrain: {trace: {activation: tok_emb}}\n",
     "train.trace.activation: 'tok_emb': token models (model.arch lm) take no activation trace"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {type: batch}}\n"
     "train: {bn_recalibrate: {batches: 4}}\n",
     "train.bn_recalibrate.batches: 4: token models take no recalibration"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 65536, layers: 16}\n",
     "model.d_model: the run needs"},
    {"data: {dataset: synthetic, shape: [1, 12, 12]}\nmodel: {arch: vit, patch: 5}\n",
     "model.patch: layer patchify: patch side 5 does not divide the 12x12 image; accepted "
     "(dividing both sides): 1, 2, 3, 4, 6, 12"},
    {"data: {dataset: synthetic, shape: [16]}\nmodel: {arch: vit}\n",
     "model.arch: 'vit' takes images (C, H, W) larger than 1x1, but the data are feature vectors "
     "of 16 values; accepted for feature vectors: mlp"},
    {"data: {dataset: synthetic, shape: [16]}\nmodel: {arch: cnn}\n", "model.arch: 'cnn' takes images"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: vit}\n",
     "data.dataset: 'synthetic_text' yields token sequences, but model.arch 'vit' takes images"},
    {"model: {arch: vit, context: 16}\n", "model.context: applies only when model.arch is lm"},
    {"model: {arch: cnn, token_pool: mean}\n",
     "model.token_pool: applies only when model.arch is vit"},
    /* the depth schemes where they cannot act */
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, residual_scale: deepnorm}\n",
     "c.yaml:2:35: model.residual_scale: applies only when model.arch is lm or vit and "
     "model.norm.placement is post, but model.norm.placement is 'pre' (default)"},
    {"model: {arch: mlp, residual_scale: deepnorm}\n",
     "c.yaml:1:36: model.residual_scale: applies only when model.arch is lm or vit and "
     "model.norm.placement is post, but model.arch is 'mlp'"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {placement: post}, "
     "residual_scale: deep}\n",
     "model.residual_scale: 'deep' is not a residual scale; accepted: none | deepnorm | explicit"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {placement: post}, "
     "residual_scale: deepnorm, residual_alpha: 2}\n",
     "model.residual_alpha: applies only when model.residual_scale is explicit, but "
     "model.residual_scale is 'deepnorm'"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {placement: post}, "
     "residual_scale: explicit, residual_beta: -1}\n",
     "model.residual_beta: -1 is out of range; accepted: a number > 0"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {placement: peri, "
     "depth_scaling: true}}\n",
     "model.norm.depth_scaling: applies only when model.arch is lm or vit and "
     "model.norm.placement is pre, but model.norm.placement is 'peri'"},
    {"data: {dataset: synthetic, shape: [1, 12, 12]}\nmodel: {arch: mixer, patch: 4, norm: "
     "{depth_scaling: true}}\n",
     "model.norm.depth_scaling: applies only when model.arch is lm or vit and "
     "model.norm.placement is pre, but model.arch is 'mixer'"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, norm: {depth_scaling: 1.5}}\n",
     "model.norm.depth_scaling: expected true or false, got '1.5'; accepted: true | false"},
    {"data: {dataset: synthetic, shape: [1, 12, 12]}\nmodel: {arch: vit, patch: 4}\n"
     "train: {trace: {activation: blocks.0.mlp.fc1}}\n",
     "train.trace.activation: 'blocks.0.mlp.fc1' holds tokens (N, T, D), which take no activation "
     "trace; accepted: input, pool, head"},
};

START_TEST(test_lm_run_refusals)
{
    tu_tmp_make("lmbad");
    tu_tmp_write("c.yaml", bad_runs[_i].yaml);
    const int rc = tu_normlab("run c.yaml --out r --quiet");
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, bad_runs[_i].fragment), "'%s' not in: %s", bad_runs[_i].fragment,
                  out);
    free(out);
    char path[700];
    snprintf(path, sizeof path, "%s/r", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "a refused run wrote %s", path);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_lm_run)
{
    tu_tmp_make("lmrun");
    tu_tmp_write("c.yaml",
                 "data: {dataset: synthetic_text, markov: {vocab: 8, length: 20000}, test_size: 2000}\n"
                 "model: {arch: lm, d_model: 32, heads: 2, layers: 2, context: 16}\n"
                 "train: {batch_size: 8, steps: 60, eval_every: 30, optimizer: {type: adamw, "
                 "lr: 0.01}}\nthreads: 1\n");
    const int rc = tu_normlab("run c.yaml --out r --quiet");
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    free(out);
    char *summary = tu_tmp_read("r/summary.json");
    char loss[64], bits[64], acc[64], status[32];
    ck_assert(nl_json_flat_get(summary, "status", status, sizeof status));
    ck_assert_str_eq(status, "ok");
    ck_assert(nl_json_flat_get(summary, "final_test_loss", loss, sizeof loss));
    ck_assert(nl_json_flat_get(summary, "final_test_bits_per_token", bits, sizeof bits));
    ck_assert(nl_json_flat_get(summary, "final_test_accuracy", acc, sizeof acc));
    ck_assert_msg(fabs(atof(bits) - atof(loss) / log(2.0)) < 1e-6 * atof(bits), "%s bits, %s nats",
                  bits, loss);
    /* it learned: below the uniform ln 8 nats over 8 tokens */
    ck_assert_msg(atof(loss) < log(8.0) - 0.2, "test loss %s", loss);
    ck_assert(atof(acc) > 0.0 && atof(acc) <= 1.0);
    free(summary);
    char *metrics = tu_tmp_read("r/metrics.csv");
    ck_assert_msg(strstr(metrics, "\n60,") && strstr(metrics, ",test,"), "%s", metrics);
    free(metrics);
    tu_tmp_remove();
}
END_TEST

/* counts metrics.csv rows of one split */
static int split_rows(const char *metrics, const char *split)
{
    char needle[64];
    snprintf(needle, sizeof needle, ",%s,", split);
    int n = 0;
    for (const char *at = metrics; (at = strstr(at, needle)); at += strlen(needle))
        n++;
    return n;
}

/* batch norm over tokens is also evaluated with the evaluation batch's own
 * statistics (test_trainmode), which leaves the running statistics and so
 * the training and the eval-mode numbers as they are; a normalizer without
 * running statistics has nothing to compare */
START_TEST(test_lm_trainmode_evaluation)
{
    tu_tmp_make("lmtrainmode");
    static const char base[] =
        "data: {dataset: synthetic_text, markov: {vocab: 8, length: 20000}, test_size: 2000}\n"
        "model: {arch: lm, d_model: 16, heads: 2, layers: 1, context: 16, norm: {type: %s}}\n"
        "train: {batch_size: 8, steps: 20, eval_every: 10, eval_trainmode: %s, "
        "optimizer: {type: adamw, lr: 0.01}}\nthreads: 1\n";
    char yaml[600], loss_with[64], loss_without[64], acc[64];
    snprintf(yaml, sizeof yaml, base, "batch", "true");
    tu_tmp_write("with.yaml", yaml);
    snprintf(yaml, sizeof yaml, base, "batch", "false");
    tu_tmp_write("without.yaml", yaml);
    snprintf(yaml, sizeof yaml, base, "layer", "true");
    tu_tmp_write("layer.yaml", yaml);
    ck_assert_int_eq(tu_normlab("run with.yaml --out with --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run without.yaml --out without --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run layer.yaml --out layer --quiet"), 0);

    char *metrics = tu_tmp_read("with/metrics.csv");
    ck_assert_int_eq(split_rows(metrics, "test"), 3); /* steps 0, 10, 20 */
    ck_assert_int_eq(split_rows(metrics, "test_trainmode"), 3);
    free(metrics);
    char *summary = tu_tmp_read("with/summary.json");
    ck_assert(nl_json_flat_get(summary, "final_test_trainmode_accuracy", acc, sizeof acc));
    ck_assert_msg(atof(acc) > 0.0 && atof(acc) <= 1.0, "train-mode accuracy %s", acc);
    ck_assert(nl_json_flat_get(summary, "final_test_loss", loss_with, sizeof loss_with));
    free(summary);
    summary = tu_tmp_read("without/summary.json");
    ck_assert(nl_json_flat_get(summary, "final_test_loss", loss_without, sizeof loss_without));
    free(summary);
    ck_assert_str_eq(loss_with, loss_without);

    metrics = tu_tmp_read("without/metrics.csv");
    ck_assert_int_eq(split_rows(metrics, "test_trainmode"), 0);
    free(metrics);
    metrics = tu_tmp_read("layer/metrics.csv");
    ck_assert_int_eq(split_rows(metrics, "test"), 3);
    ck_assert_int_eq(split_rows(metrics, "test_trainmode"), 0);
    free(metrics);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tfm_model");
    TCase *tc = tcase_create("lm");
    tcase_add_loop_test(tc, test_lm_gradcheck, 0, NL_NORM_COUNT);
    tcase_add_loop_test(tc, test_lm_refuses_image_norms, 0, NL_NORM_COUNT);
    tcase_add_test(tc, test_lm_needs_token_kernels);
    tcase_add_loop_test(tc, test_vit_gradcheck, 0, NL_NORM_COUNT);
    tcase_add_test(tc, test_depth_schemes_gradcheck);
    tcase_add_test(tc, test_deepnorm_init);
    tcase_add_loop_test(tc, test_mixer_gradcheck, 0, NL_NORM_COUNT);
    tcase_add_test(tc, test_mixer_placements);
    tcase_add_test(tc, test_lm_causal_and_mean_over_tokens);
    tcase_add_loop_test(tc, test_lm_run_refusals, 0, (int)(sizeof bad_runs / sizeof bad_runs[0]));
    tcase_add_test(tc, test_lm_run);
    tcase_add_test(tc, test_lm_trainmode_evaluation);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
