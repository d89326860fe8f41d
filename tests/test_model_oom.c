/* Out of memory while building a model: each allocation of a build (the
 * builder's lists and structs, the layers' structs, the backend's arenas)
 * is made to fail in turn (nl_alloc_fail_after), for a few models that
 * cover the layer kinds, and every failure must come back as NL_ERR_NOMEM
 * with nothing built, no crash and (under the sanitize label's ASan) no
 * leak and no bad free. The same sweep for the planner that `validate`
 * runs (nl_model_plan), where a layer struct that failed to allocate was
 * once freed as if it were the builder's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/alloc.h"
#include "model/model.h"
#include "norm/registry.h"
#include "testutil.h"

typedef struct {
    const char *name;
    void (*fill)(nl_model_spec *spec);
} model_case;

static void image_spec(nl_model_spec *spec, nl_arch arch, nl_norm_kind norm)
{
    nl_model_spec_defaults(spec);
    spec->arch = arch;
    spec->in_c = 3;
    spec->in_h = 8;
    spec->in_w = 8;
    spec->classes = 4;
    spec->widths[0] = 4;
    spec->widths[1] = 8;
    spec->n_widths = 2;
    nl_norm_spec_defaults(&spec->norm, norm);
    spec->norm.groups = 2;
}

static void mlp_batch(nl_model_spec *spec)
{
    image_spec(spec, NL_ARCH_MLP, NL_NORM_BATCH);
    spec->weight_standardization = true;
}

/* synchronized batch norm keeps host buffers after its layer struct */
static void cnn_sync_batch(nl_model_spec *spec)
{
    image_spec(spec, NL_ARCH_CNN, NL_NORM_BATCH);
    spec->norm.sync = true;
    spec->fuse_relu_pool = false;
}

static void cnn_group(nl_model_spec *spec)
{
    image_spec(spec, NL_ARCH_CNN, NL_NORM_GROUP);
    spec->convs_per_stage = 2;
}

static void resnet_renorm(nl_model_spec *spec)
{
    image_spec(spec, NL_ARCH_RESNET, NL_NORM_BATCH_RENORM);
    spec->norm.placement = NL_PLACE_POST;
    spec->blocks_per_stage = 2;
    spec->norm.freezable = true;
}

static void resnet_pre_frn(nl_model_spec *spec)
{
    image_spec(spec, NL_ARCH_RESNET, NL_NORM_FRN);
    spec->norm.placement = NL_PLACE_PRE;
}

static void lm_layer_qk(nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = NL_ARCH_LM;
    spec->classes = 7;
    spec->d_model = 8;
    spec->heads = 2;
    spec->layers = 2;
    spec->context = 4;
    spec->mlp_ratio = 2;
    spec->qk_norm = true;
    nl_norm_spec_defaults(&spec->norm, NL_NORM_LAYER);
    spec->norm.placement = NL_PLACE_PRE;
    spec->tie_embeddings = false;
}

static void vit_rms(nl_model_spec *spec)
{
    image_spec(spec, NL_ARCH_VIT, NL_NORM_RMS);
    spec->d_model = 8;
    spec->heads = 2;
    spec->layers = 1;
    spec->mlp_ratio = 2;
    spec->patch = 4;
    spec->norm.placement = NL_PLACE_PERI;
}

static void vit_dyt_mean(nl_model_spec *spec)
{
    vit_rms(spec);
    nl_norm_spec_defaults(&spec->norm, NL_NORM_DYT);
    spec->norm.placement = NL_PLACE_PRE;
    spec->token_pool = NL_TOKEN_POOL_MEAN;
}

static const model_case cases[] = {
    {"mlp+batch+ws", mlp_batch},      {"cnn+group", cnn_group},
    {"cnn+sync-batch", cnn_sync_batch},
    {"resnet+renorm", resnet_renorm}, {"resnet-pre+frn", resnet_pre_frn},
    {"lm+layer+qk", lm_layer_qk},     {"vit+rms", vit_rms},
    {"vit+dyt+mean", vit_dyt_mean},
};
enum { N_CASES = sizeof cases / sizeof cases[0], CAPACITY = 4, TRAIN_BATCH = 4 };

/* what one build with the k-th allocation failing does; returns whether
 * that failure happened (false: the build made fewer than k allocations) */
typedef bool (*attempt_fn)(const nl_model_spec *spec, const char *what, long k);

static bool attempt_build(const nl_model_spec *spec, const char *what, long k)
{
    nl_backend *be = tu_cpu(1);
    nl_model *m = NULL;
    nl_error err = {0};
    nl_alloc_fail_after(k);
    const nl_code rc = nl_model_create(spec, be, CAPACITY, TRAIN_BATCH, 1, &m, &err);
    const bool failed = nl_alloc_failed();
    nl_alloc_fail_after(0);
    if (!failed) {
        ck_assert_msg(rc == NL_OK, "%s: build without a failed allocation: %s", what, err.msg);
        nl_model_free(m);
        return false;
    }
    ck_assert_msg(rc == NL_ERR_NOMEM, "%s: allocation %ld failed, the build returned %s (%s)",
                  what, k, nl_code_name(rc), err.msg);
    ck_assert_msg(m == NULL, "%s: allocation %ld failed, yet a model came back", what, k);
    ck_assert_msg(strstr(err.msg, "memory") || strstr(err.msg, "allocate"),
                  "%s: allocation %ld: the message names no memory: %s", what, k, err.msg);
    return true;
}

static bool attempt_plan(const nl_model_spec *spec, const char *what, long k)
{
    nl_model *m = NULL;
    nl_error err = {0};
    nl_alloc_fail_after(k);
    const nl_code rc = nl_model_plan(spec, CAPACITY, TRAIN_BATCH, 2, &m, &err);
    const bool failed = nl_alloc_failed();
    nl_alloc_fail_after(0);
    if (!failed) {
        ck_assert_msg(rc == NL_OK, "%s: plan without a failed allocation: %s", what, err.msg);
        nl_model_free(m);
        return false;
    }
    ck_assert_msg(rc == NL_ERR_NOMEM, "%s: allocation %ld failed, the plan returned %s (%s)",
                  what, k, nl_code_name(rc), err.msg);
    ck_assert_msg(m == NULL, "%s: allocation %ld failed, yet a plan came back", what, k);
    return true;
}

/* k = 1, 2, ... until a build makes no k-th allocation; returns how many failed */
static long sweep(const model_case *c, attempt_fn attempt)
{
    nl_model_spec spec;
    c->fill(&spec);
    /* the model is buildable at all (and the backend opened before any failure) */
    nl_error err = {0};
    ck_assert_msg(nl_model_check(&spec, TRAIN_BATCH, &err) == NL_OK, "%s: %s", c->name, err.msg);
    tu_cpu(1);
    long k = 1;
    while (attempt(&spec, c->name, k))
        k++;
    return k - 1;
}

START_TEST(test_build_fails_cleanly_at_every_allocation)
{
    const model_case *c = &cases[_i];
    const long failures = sweep(c, attempt_build);
    /* at least the builder's lists, the layers and the arenas */
    ck_assert_msg(failures > 10, "%s: only %ld allocations: the hook is not on the build's path",
                  c->name, failures);
}
END_TEST

START_TEST(test_plan_fails_cleanly_at_every_allocation)
{
    const model_case *c = &cases[_i];
    const long failures = sweep(c, attempt_plan);
    ck_assert_msg(failures > 10, "%s: only %ld allocations", c->name, failures);
}
END_TEST

/* the hook fails exactly the k-th call, once, on this thread only */
START_TEST(test_hook_counts)
{
    nl_alloc_fail_after(3);
    void *a = nl_malloc(8), *b = nl_calloc(1, 8);
    ck_assert(a && b && !nl_alloc_failed());
    void *c = nl_realloc(NULL, 8);
    ck_assert(c == NULL && nl_alloc_failed());
    void *d = nl_aligned_alloc(64, 64);
    ck_assert(d != NULL);
    nl_alloc_fail_after(0);
    ck_assert(!nl_alloc_failed());
    free(a);
    free(b);
    free(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_oom");
    TCase *tc = tcase_create("oom");
    tcase_add_test(tc, test_hook_counts);
    tcase_add_loop_test(tc, test_build_fails_cleanly_at_every_allocation, 0, N_CASES);
    tcase_add_loop_test(tc, test_plan_fails_cleanly_at_every_allocation, 0, N_CASES);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
