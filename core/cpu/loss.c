/* Softmax cross-entropy, stable through the log-sum-exp shift by the row max. */
#include <math.h>

#include "cpu/cpu.h"

void nl_cpu_softmax_xent_forward(nl_backend *be, int n, int classes, const float *logits,
                                 const int32_t *labels, float *probs, double *metrics)
{
    (void)be;
    double loss_sum = 0.0, correct = 0.0;
    /* rows are independent; the sums are taken afterwards in row order */
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * classes;
        float *p = probs + (size_t)i * classes;
        float max = row[0];
        int argmax = 0;
        for (int k = 1; k < classes; k++)
            if (row[k] > max) {
                max = row[k];
                argmax = k;
            }
        double sum = 0.0;
        for (int k = 0; k < classes; k++) {
            float e = expf(row[k] - max);
            p[k] = e;
            sum += e;
        }
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
