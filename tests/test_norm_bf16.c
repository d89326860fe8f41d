// ctest-labels: kernels
/* Every normalizer kind of the registry under train.precision bf16 against
 * its fp32 twin (issue 91): a CNN of two stages with the kind after each
 * convolution, built twice from the same seed, the one with bf16 products
 * (the convolutions and the classifier round their operands and outputs
 * to bf16, as torch.autocast does; the normalizer keeps its statistics in
 * fp32), over three steps from the same parameters.
 *
 * The bound: bf16 keeps 8 significant bits, so each rounding moves a value
 * by at most 2^-9 of it; a step here passes a value through three rounded
 * products and two normalizers forward and as many backward. The loss
 * must agree within LOSS_BOUND (relative), the logits within
 * LOGITS_BOUND (relative to their largest magnitude), and each
 * parameter's gradient within GRAD_BOUND of the whole model's gradient in
 * L2 (a ReLU whose input lies within rounding of 0 switches in one run and
 * not the other, which moves a small batch's gradients by a few per cent;
 * a convolution's weight gradient before a batch norm is a small
 * difference of large rounded terms, so it is held to the model's scale,
 * not its own). Measured on these cases (x86-64-v4-bf16 and x86-64 sets):
 * the loss within 0.04-0.5%, the gradients within 1.4-13% of the model's
 * (DyT's the largest, FRN's next). And the two
 * must differ: a bf16 run whose products ignored the precision would
 * match its twin bit for bit. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/names.h"
#include "model/model.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "testutil.h"

#define LOSS_BOUND 0.02
#define LOGITS_BOUND 0.05
#define GRAD_BOUND 0.25

static nl_model_spec cnn_spec(nl_norm_kind kind, nl_precision precision)
{
    nl_model_spec spec = tu_small_image_spec(NL_ARCH_CNN, kind, NL_PLACE_BEFORE);
    spec.layout = NL_LAYOUT_NCHW;
    spec.product_precision = precision;
    return spec;
}

/* ||a - b|| / scale, in L2 */
static double relative_l2(const float *a, const float *b, size_t n, double scale)
{
    double diff = 0.0;
    for (size_t i = 0; i < n; i++)
        diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(diff) / scale;
}

static double largest(const float *x, size_t n)
{
    double most = 0.0;
    for (size_t i = 0; i < n; i++)
        most = fmax(most, fabs(x[i]));
    return most;
}

static nl_backend *backend_at(nl_precision precision)
{
    static nl_backend *opened[NL_PRECISION_COUNT];
    if (!opened[precision]) {
        nl_error err = {0};
        const nl_backend_options opt = {.threads = 1};
        ck_assert_msg(nl_backend_open(NL_DEVICE_CPU, &opt, &opened[precision], &err) == NL_OK,
                      "%s", err.msg);
        opened[precision]->product_precision = precision;
    }
    return opened[precision];
}

/* the kind in both precisions over three steps; false where the CNN does
 * not take it */
static bool check_kind(nl_norm_kind kind, double *worst_loss, double *worst_grad)
{
    const char *name = nl_name_of(&nl_norm_names, kind);
    const nl_precision precisions[2] = {NL_PRECISION_FP32, NL_PRECISION_BF16};
    nl_model *m[2] = {NULL, NULL};
    for (int p = 0; p < 2; p++) {
        nl_model_spec spec = cnn_spec(kind, precisions[p]);
        nl_error err = {0};
        if (nl_model_create(&spec, backend_at(precisions[p]), 6, 6, 11, &m[p], &err) != NL_OK) {
            ck_assert_msg(p == 0, "%s: fp32 builds, bf16 does not: %s", name, err.msg);
            return false;
        }
    }
    ck_assert_int_eq(m[0]->n_params, m[1]->n_params);
    const int n = 6;
    float x[6 * 8 * 8];
    int32_t labels[6] = {1, 4, 0, 2, 4, 3};
    tu_fill_normal(x, sizeof x / sizeof x[0], 17, 0.2f, 1.0f);
    bool differ = false;
    for (int step = 0; step < 3; step++) {
        double loss[2];
        for (int p = 0; p < 2; p++) {
            nl_model_load_batch(m[p], x, labels, n);
            nl_model_reset_metrics(m[p]);
            nl_model_forward(m[p], n, NL_MODE_TRAIN);
            double metrics[2];
            nl_model_read_metrics(m[p], metrics);
            loss[p] = metrics[0];
            nl_model_backward(m[p], n);
        }
        ck_assert_msg(isfinite(loss[1]), "%s step %d: bf16 loss %g", name, step, loss[1]);
        const double loss_error = fabs(loss[1] - loss[0]) / fabs(loss[0]);
        *worst_loss = fmax(*worst_loss, loss_error);
        ck_assert_msg(loss_error <= LOSS_BOUND, "%s step %d: loss %.9g in bf16, %.9g in fp32",
                      name, step, loss[1], loss[0]);
        const size_t logits = nl_shape_count(m[0]->logits->shape);
        const double scale = largest(m[0]->logits->data, logits);
        for (size_t i = 0; i < logits; i++) {
            const double d = fabs((double)m[1]->logits->data[i] - m[0]->logits->data[i]);
            ck_assert_msg(d <= LOGITS_BOUND * scale, "%s step %d: logit %zu %g vs %g", name,
                          step, i, m[1]->logits->data[i], m[0]->logits->data[i]);
            differ |= d > 0.0;
        }
        /* each parameter's gradient error against the whole model's
         * gradient: a batch norm cancels most of the sum that makes the
         * weight gradient of the convolution before it (its channel's mean
         * and scale are taken out), so that gradient alone is a small
         * difference of large terms, each rounded */
        double total = 0.0;
        for (int i = 0; i < m[0]->n_params; i++)
            for (size_t k = 0; k < m[0]->params[i]->count; k++)
                total += (double)m[0]->params[i]->grad[k] * m[0]->params[i]->grad[k];
        total = sqrt(total);
        for (int i = 0; i < m[0]->n_params; i++) {
            nl_param *p0 = m[0]->params[i], *p1 = m[1]->params[i];
            ck_assert_str_eq(p0->name, p1->name);
            const double e = relative_l2(p1->grad, p0->grad, p0->count, total);
            *worst_grad = fmax(*worst_grad, e);
            ck_assert_msg(e <= GRAD_BOUND, "%s step %d: d %s off by %.3g of the model's gradient",
                          name, step, p0->name, e);
            for (size_t k = 0; k < p0->count; k++)
                p0->data[k] -= 0.1f * p0->grad[k];
            memcpy(p1->data, p0->data, p0->count * sizeof(float));
        }
        for (int i = 0; i < m[0]->n_states; i++)
            memcpy(m[1]->states[i]->data, m[0]->states[i]->data,
                   m[0]->states[i]->count * sizeof(float));
    }
    ck_assert_msg(differ, "%s: the bf16 run gave the fp32 run's logits: its products did not "
                  "round", name);
    nl_model_free(m[0]);
    nl_model_free(m[1]);
    return true;
}

START_TEST(test_every_kind)
{
    int checked = 0, images = 0;
    double worst_loss = 0.0, worst_grad = 0.0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        const bool takes_images = row->images || !row->adds_layer;
        images += takes_images;
        const bool ran = check_kind((nl_norm_kind)k, &worst_loss, &worst_grad);
        ck_assert_msg(ran == takes_images, "%s: the registry says it %s images, the CNN %s it",
                      nl_name_of(&nl_norm_names, k), takes_images ? "takes" : "does not take",
                      ran ? "built" : "refused");
        checked += ran;

    }
    printf("test_norm_bf16: %d kinds in bf16 against fp32; worst loss %.2g (bound %g), worst "
           "gradient %.2g (bound %g)\n",
           checked, worst_loss, LOSS_BOUND, worst_grad, GRAD_BOUND);
    ck_assert_int_eq(checked, images);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_bf16");
    TCase *tc = tcase_create("norm_bf16");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_every_kind);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
