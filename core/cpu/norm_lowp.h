/* The normalization ops with their statistics in a low precision
 * (nl_norm_geom.stats_precision bf16 or fp16, model.norm.stats_precision):
 * norm_lowp.c defines the kernel; norm.c sends a geometry with a low
 * statistics precision here and every other one to the fp32 kernels. The
 * arguments are the ops' (backend.h); the backward is the fp32 one. */
#ifndef NL_CPU_NORM_LOWP_H
#define NL_CPU_NORM_LOWP_H

#include "backend/backend.h"

void nl_cpu_norm_lowp_forward(const nl_norm_geom *g, const float *x, const float *gamma,
                              const float *beta, float *y, float *save_mean, float *save_rstd,
                              float *running_mean, float *running_var, float momentum);
void nl_cpu_norm_lowp_forward_eval(const nl_norm_geom *g, const float *x, const float *gamma,
                                   const float *beta, const float *running_mean,
                                   const float *running_var, float *y);
void nl_cpu_norm_lowp_stats(const nl_norm_geom *g, const float *x, float *mean, float *var,
                            float *running_mean, float *running_var, float momentum);
/* nl_round_to (base/precision.h) as the kernel rounds, for its test */
float nl_cpu_norm_lowp_round(nl_precision p, float x);
void nl_cpu_norm_lowp_apply(const nl_norm_geom *g, const float *x, const float *mean,
                            const float *var, const float *gamma, const float *beta, float *y,
                            float *save_rstd);

#endif
