/* GroupNorm of feature vectors (hw == 1: LayerNorm, RMSNorm of an MLP's
 * or a transformer's rows), the kernels groupnorm.c hands that shape to
 * (groupnorm_features.c). */
#ifndef NL_CPU_GROUPNORM_FEATURES_H
#define NL_CPU_GROUPNORM_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

/* nl_cpu_groupnorm_forward's of (n, c) rows without running statistics */
void nl_cpu_groupnorm_features_forward(int n, int c, int groups, bool center, float eps,
                                       const float *x, const float *gamma, const float *beta,
                                       float *y, float *save_mean, float *save_rstd);
/* the workspace bytes nl_cpu_groupnorm_features_backward takes */
size_t nl_cpu_groupnorm_features_workspace(int n, int c);
/* nl_cpu_groupnorm_backward's of (n, c) rows */
void nl_cpu_groupnorm_features_backward(int n, int c, int groups, bool center, const float *x,
                                        const float *dy, const float *gamma,
                                        const float *save_mean, const float *save_rstd, float *dx,
                                        bool accumulate_dx, float *dgamma, float *dbeta,
                                        void *workspace);

#endif
