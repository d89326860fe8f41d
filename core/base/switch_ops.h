/* Switchable Normalization's pieces that the CPU kernels (cpu/switchnorm.c)
 * and their CUDA twins (cuda/switchnorm.cu) share, so that the two backends
 * mix the statistics with one definition and lay the backward's workspace
 * out alike. The readable reference they are both tested against
 * (norm/reference.c) keeps its own. Order in the mixture: instance, layer,
 * batch; lambda[0..2] weigh the means, lambda[3..5] the variances. */
#ifndef NL_BASE_SWITCH_OPS_H
#define NL_BASE_SWITCH_OPS_H

#include <math.h>
#include <stddef.h>

#if defined(__CUDACC__)
#define NL_SWITCH_FN static inline __host__ __device__
#else
#define NL_SWITCH_FN static inline
#endif

/* softmax of three logits, in double */
NL_SWITCH_FN void nl_switch_softmax3(const float *l, double *p)
{
    const double top = fmax(fmax((double)l[0], (double)l[1]), (double)l[2]);
    double sum = 0.0;
    for (int k = 0; k < 3; k++)
        sum += p[k] = exp((double)l[k] - top);
    for (int k = 0; k < 3; k++)
        p[k] /= sum;
}

/* the mixed mean and variance of plane nc = (i, ch), from the softmaxed
 * weights a (means) and b (variances) */
NL_SWITCH_FN void nl_switch_mix_plane(const double *a, const double *b, size_t nc, int i, int ch,
                                      const float *mean_in, const float *var_in,
                                      const float *mean_ln, const float *var_ln,
                                      const float *mean_bn, const float *var_bn, float *mean,
                                      float *var)
{
    mean[nc] = (float)(a[0] * mean_in[nc] + a[1] * mean_ln[i] + a[2] * mean_bn[ch]);
    var[nc] = (float)(b[0] * var_in[nc] + b[1] * var_ln[i] + b[2] * var_bn[ch]);
}

/* adds plane nc = (i, ch)'s terms to d, the gradients of the six mixture
 * weights (means' then variances'): the mixed statistics' gradients gm, gv
 * times the statistic each weight multiplies */
NL_SWITCH_FN void nl_switch_weight_grads(double *d, double gm, double gv, size_t nc, int i, int ch,
                                         const float *mean_in, const float *mean_ln,
                                         const float *mean_bn, const float *var_in,
                                         const float *var_ln, const float *var_bn)
{
    d[0] += gm * mean_in[nc];
    d[1] += gm * mean_ln[i];
    d[2] += gm * mean_bn[ch];
    d[3] += gv * var_in[nc];
    d[4] += gv * var_ln[i];
    d[5] += gv * var_bn[ch];
}

/* the weights' gradients d through each softmax to the six logits:
 * dlambda_k = w_k (d_k - sum_j w_j d_j) */
NL_SWITCH_FN void nl_switch_dlambda(const float *weights, const double *d, float *dlambda)
{
    for (int half = 0; half < 2; half++) {
        const float *wt = weights + 3 * half;
        const double *dh = d + 3 * half;
        const double dot = wt[0] * dh[0] + wt[1] * dh[1] + wt[2] * dh[2];
        for (int k = 0; k < 3; k++)
            dlambda[3 * half + k] = (float)(wt[k] * (dh[k] - dot));
    }
}

/* The backward's workspace, all double: per plane sum dy, sum dy * xhat and
 * the mixed statistics' gradients dL/dmean, dL/dvar; per sample (ln) and
 * per channel (bn) those two gradients summed. */
typedef struct {
    double *s_dy, *s_dy_xhat, *gm, *gv, *ln_m, *ln_v, *bn_m, *bn_v;
} nl_switch_work;

NL_SWITCH_FN size_t nl_switch_work_bytes(int n, int c)
{
    return (4 * (size_t)n * c + 2 * (size_t)n + 2 * (size_t)c) * sizeof(double);
}

NL_SWITCH_FN nl_switch_work nl_switch_work_of(void *workspace, int n, int c)
{
    const size_t planes = (size_t)n * c;
    nl_switch_work w;
    w.s_dy = (double *)workspace;
    w.s_dy_xhat = w.s_dy + planes;
    w.gm = w.s_dy_xhat + planes;
    w.gv = w.gm + planes;
    w.ln_m = w.gv + planes;
    w.ln_v = w.ln_m + n;
    w.bn_m = w.ln_v + n;
    w.bn_v = w.bn_m + c;
    return w;
}

#endif
