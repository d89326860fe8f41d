/* Softmax cross-entropy, stable through the log-sum-exp shift by the row max.
 * The exponentials go 8 at a time through vmath.h's exp: glibc's scalar expf
 * over the LM's 256-token vocabulary was most of this op, and the op a few
 * percent of the LM step at 64 windows. */
#include <math.h>

#include "cpu/cpu.h"
#include "backend/twins.h"
#include "cpu/reduce.h"
#include "cpu/vmath.h"

/* p[k] = exp(row[k] - max) for k < classes; returns their sum, in the
 * order fixed by `classes` alone (8 lanes, then the lanes' total, then the
 * ragged tail through a padded vector) */
static double shifted_exps(int classes, const float *row, float max, float *p)
{
    const nl_v8 shift = nl_v8_splat(max);
    const int full = classes - classes % 8;
    nl_v8 sums = {0};
    for (int k = 0; k < full; k += 8) {
        const nl_v8 e = nl_v8_exp(nl_v8_load(row + k) - shift);
        nl_v8_store(p + k, e);
        sums += e;
    }
    double sum = nl_v8_total(sums);
    if (full < classes) {
        float lanes[8] = {0};
        for (int k = full; k < classes; k++)
            lanes[k - full] = row[k];
        nl_v8_store(lanes, nl_v8_exp(nl_v8_load(lanes) - shift));
        for (int k = full; k < classes; k++) {
            p[k] = lanes[k - full];
            sum += p[k];
        }
    }
    return sum;
}

void nl_cpu_softmax_xent_forward(nl_backend *be, int n, int classes, const float *logits,
                                 const int32_t *labels, float *probs, double *metrics)
{
    (void)be;
    double loss_sum = 0.0, correct = 0.0;
    /* rows are independent; the sums are taken afterwards in row order */
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * classes;
        float *p = probs + (size_t)i * classes;
        float max;
        const int argmax = nl_row_argmax(row, classes, &max);
        const double sum = shifted_exps(classes, row, max, p);
        float inv = (float)(1.0 / sum);
        for (int k = 0; k < classes; k++)
            p[k] *= inv;
        int label = labels[i];
        loss_sum += log(sum) - ((double)row[label] - (double)max);
        correct += argmax == label;
    }
    metrics[0] += loss_sum;
    metrics[1] += correct;
}

void nl_cpu_softmax_xent_backward(nl_backend *be, int n, int classes, const float *probs,
                                  const int32_t *labels, float *dlogits)
{
    (void)be;
    const float scale = 1.0f / (float)n;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * classes;
        float *d = dlogits + (size_t)i * classes;
        for (int k = 0; k < classes; k++)
            d[k] = p[k] * scale;
        d[labels[i]] -= scale;
    }
}
