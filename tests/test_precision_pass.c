// ctest-labels: kernels
/* The plan's precision pass (core/plan/precision.c, issue 91): under
 * train.precision bf16 on the blocked layout, activations whose every
 * reader and writer rounds them to bf16 are stored as bf16, which changes
 * no number. For every normalizer kind of the registry that takes images,
 * in the ResNet (pre and post placement) and the CNN, the model the plan
 * stores so and the same model with every activation fp32 step bit for bit
 * alike: loss, logits, every parameter gradient and running statistic over
 * three steps, evaluation logits at the planned batch and a smaller one;
 * the memory check's estimate of the stored model is its bytes, fewer than
 * the fp32 model's.
 * The pass stores something in the models whose normalizers take bf16
 * (batch, layer, group, instance norm and their kin), nothing where a probe
 * reads activations, and nothing outside bf16 and the blocked layout (the
 * kernel sets without AVX512-BF16, whose convolutions take no block at
 * bf16, check that alone). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "model/model.h"
#include "norm/registry.h"
#include "plan/plan.h"
#include "testutil.h"

static nl_backend *bf16_backend(void)
{
    static nl_backend *be;
    if (!be) {
        nl_error err = {0};
        const nl_backend_options opt = {.threads = 2};
        ck_assert_msg(nl_backend_open(NL_DEVICE_CPU, &opt, &be, &err) == NL_OK, "%s", err.msg);
        be->product_precision = NL_PRECISION_BF16;
    }
    return be;
}

static const nl_plan_run run6 = {
    .precision = NL_PRECISION_BF16, .train_batch = 6, .capacity = 6, .threads = 2};

static nl_model_spec spec_of(nl_arch arch, nl_norm_kind kind, nl_placement placement)
{
    nl_model_spec spec = tu_small_image_spec(arch, kind, placement);
    spec.layout = NL_LAYOUT_AUTO;
    return spec;
}

static bool planned(const nl_model_spec *asked, const nl_plan_run *run, nl_model_spec *out)
{
    nl_error err = {0};
    const nl_code rc = nl_plan_model(asked, run, NL_DEVICE_CPU, out, &err);
    ck_assert_msg(rc == NL_OK, "plan: %s", err.msg);
    return out->channel_block != 0;
}

static int stored(const nl_model *m)
{
    int count = 0;
    for (int i = 0; i < m->n_acts; i++)
        count += m->acts[i]->shape.value_store || m->acts[i]->shape.grad_store;
    return count;
}

static void same_bits(const float *a, const float *b, size_t n, const char *what, int step)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof a[i]) == 0,
                      "%s step %d: entry %zu %.9g stored bf16, %.9g fp32", what, step, i, a[i],
                      b[i]);
}

/* the planned model against its fp32-stored twin; returns the activations
 * the plan stored as bf16 */
static int check_kind(nl_arch arch, nl_norm_kind kind, nl_placement placement)
{
    char what[96];
    snprintf(what, sizeof what, "%s/%s/%s", nl_name_of(&nl_arch_names, arch),
             nl_name_of(&nl_placement_names, placement), nl_name_of(&nl_norm_names, kind));
    nl_model_spec spec[2];
    const nl_model_spec asked = spec_of(arch, kind, placement);
    if (!planned(&asked, &run6, &spec[0]))
        return 0;
    spec[1] = spec[0];
    memset(spec[1].value_store, 0, sizeof spec[1].value_store);
    memset(spec[1].grad_store, 0, sizeof spec[1].grad_store);
    nl_model *m[2] = {NULL, NULL};
    for (int s = 0; s < 2; s++) {
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec[s], bf16_backend(), 6, 6, 11, &m[s], &err) == NL_OK,
                      "%s: %s", what, err.msg);
    }
    const int count = stored(m[0]);
    ck_assert_int_eq(stored(m[1]), 0);
    /* the memory check's estimate is the build's bytes, bf16 storage in it,
     * which takes less */
    nl_model *graph = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_model_plan(&spec[0], 6, 6, 2, &graph, &err), NL_OK);
    ck_assert_msg(graph->planned.total == (double)m[0]->device_bytes,
                  "%s: planned %.0f bytes, built %zu", what, graph->planned.total,
                  m[0]->device_bytes);
    nl_model_free(graph);
    if (count)
        ck_assert_msg(m[0]->device_bytes < m[1]->device_bytes, "%s: %zu bytes stored bf16, %zu fp32",
                      what, m[0]->device_bytes, m[1]->device_bytes);
    ck_assert_int_eq(m[0]->n_params, m[1]->n_params);
    const int n = 6;
    float x[6 * 8 * 8];
    int32_t labels[6] = {1, 4, 0, 2, 4, 3};
    tu_fill_normal(x, sizeof x / sizeof x[0], 23, 0.2f, 1.0f);
    for (int step = 0; step < 3; step++) {
        double metrics[2][2];
        for (int s = 0; s < 2; s++) {
            nl_model_load_batch(m[s], x, labels, n);
            nl_model_reset_metrics(m[s]);
            nl_model_forward(m[s], n, NL_MODE_TRAIN);
            nl_model_read_metrics(m[s], metrics[s]);
            nl_model_backward(m[s], n);
        }
        ck_assert_msg(memcmp(&metrics[0][0], &metrics[1][0], sizeof(double)) == 0,
                      "%s step %d: loss %.17g stored bf16, %.17g fp32", what, step,
                      metrics[0][0], metrics[1][0]);
        same_bits(m[0]->logits->data, m[1]->logits->data, nl_shape_count(m[1]->logits->shape),
                  what, step);
        for (int i = 0; i < m[0]->n_params; i++) {
            nl_param *p0 = m[0]->params[i], *p1 = m[1]->params[i];
            same_bits(p0->grad, p1->grad, p0->count, p0->name, step);
            for (size_t k = 0; k < p0->count; k++)
                p0->data[k] -= 0.1f * p0->grad[k];
            memcpy(p1->data, p0->data, p0->count * sizeof(float));
        }
        for (int i = 0; i < m[0]->n_states; i++)
            same_bits(m[0]->states[i]->data, m[1]->states[i]->data, m[1]->states[i]->count,
                      m[1]->states[i]->name, step);
    }
    for (int batch = n; batch >= 4; batch -= 2) {
        for (int s = 0; s < 2; s++) {
            nl_model_load_batch(m[s], x, labels, batch);
            nl_model_forward(m[s], batch, NL_MODE_EVAL);
        }
        same_bits(m[0]->logits->data, m[1]->logits->data, (size_t)batch * 5, what, -batch);
    }
    nl_model_free(m[0]);
    nl_model_free(m[1]);
    return count;
}

START_TEST(test_same_numbers)
{
    int models = 0, storing = 0;
    const struct {
        nl_arch arch;
        nl_placement placement;
    } shapes[] = {{NL_ARCH_RESNET, NL_PLACE_PRE},
                  {NL_ARCH_RESNET, NL_PLACE_POST},
                  {NL_ARCH_CNN, NL_PLACE_BEFORE}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            if (!nl_norm_info_of((nl_norm_kind)k)->images)
                continue;
            nl_model_spec probe;
            const nl_model_spec asked = spec_of(shapes[s].arch, (nl_norm_kind)k,
                                                shapes[s].placement);
            if (!planned(&asked, &run6, &probe))
                continue; /* no block at bf16 here: test_no_block's */
            models++;
            storing += check_kind(shapes[s].arch, (nl_norm_kind)k, shapes[s].placement) > 0;
        }
    fprintf(stderr, "precision pass: %d models bit for bit, %d of them storing bf16\n", models,
            storing);
    if (!models)
        return;
    /* batch, layer, group and instance norm store (each in three shapes) */
    ck_assert_msg(storing >= 12, "%d of %d models store bf16", storing, models);
}
END_TEST

/* fp32, fp16, a probe that reads activations, or no block at bf16:
 * nothing stored */
START_TEST(test_stores_nothing)
{
    const nl_model_spec asked = spec_of(NL_ARCH_RESNET, NL_NORM_BATCH, NL_PLACE_PRE);
    nl_model_spec out;
    nl_plan_run run = run6;
    const bool blocked = planned(&asked, &run, &out);
    int grads;
    const int values = nl_plan_stored_count(&out, &grads);
    if (blocked)
        ck_assert_msg(values > 0 && grads > 0, "bf16 on the block: %d values, %d gradients",
                      values, grads);
    else
        ck_assert_int_eq(values + grads, 0);
    run.traces_activation = true;
    planned(&asked, &run, &out);
    ck_assert_int_eq(nl_plan_stored_count(&out, &grads) + grads, 0);
    run = run6;
    run.observes_adds = true;
    planned(&asked, &run, &out);
    ck_assert_int_eq(nl_plan_stored_count(&out, &grads) + grads, 0);
    run = run6;
    run.precision = NL_PRECISION_FP32;
    planned(&asked, &run, &out);
    ck_assert_int_eq(nl_plan_stored_count(&out, &grads) + grads, 0);
    /* fp16 products: the CPU's convolutions run them on normlab's NCHW
     * path, which neither reads the block nor takes fp16 storage
     * (conv_storage_io), so no activation has a rounding reader */
    run.precision = NL_PRECISION_FP16;
    planned(&asked, &run, &out);
    ck_assert_int_eq(out.channel_block, 0);
    ck_assert_int_eq(nl_plan_stored_count(&out, &grads) + grads, 0);
    nl_model_spec nchw = asked;
    nchw.layout = NL_LAYOUT_NCHW;
    planned(&nchw, &run6, &out);
    ck_assert_int_eq(nl_plan_stored_count(&out, &grads) + grads, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("precision_pass");
    TCase *tc = tcase_create("precision_pass");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_stores_nothing);
    tcase_add_test(tc, test_same_numbers);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
