/* The plain reference of the normalization family (nl_norm_geom in
 * backend.h): one thread, double accumulation, no tricks. The tuned CPU
 * kernels (core/cpu) and, through them, the CUDA ones are tested against it
 * (tests/test_norm_reference.c); nothing in a training run calls it.
 * Arguments as the norm ops of backend.h, on host memory. */
#ifndef NL_NORM_REFERENCE_H
#define NL_NORM_REFERENCE_H

#include "backend/backend.h"

void nl_norm_reference_forward(const nl_norm_geom *g, const float *x, const float *gamma,
                               const float *beta, float *y, float *save_mean, float *save_rstd,
                               float *running_mean, float *running_var, float momentum);
void nl_norm_reference_stats(const nl_norm_geom *g, const float *x, float *mean, float *var,
                             float *running_mean, float *running_var, float momentum);
void nl_norm_reference_apply(const nl_norm_geom *g, const float *x, const float *mean,
                             const float *var, const float *gamma, const float *beta, float *y,
                             float *save_rstd);
void nl_norm_reference_renorm_correction(int c, float eps, float r_max, float d_max,
                                         const float *mean, const float *var,
                                         const float *running_mean, const float *running_var,
                                         const float *gamma, const float *beta, float *r,
                                         float *d, float *scale, float *shift);
void nl_norm_reference_renorm_param_grads(int c, const float *r, const float *d, float *dgamma,
                                          const float *dbeta);
void nl_norm_reference_forward_eval(const nl_norm_geom *g, const float *x, const float *gamma,
                                    const float *beta, const float *running_mean,
                                    const float *running_var, float *y);
void nl_norm_reference_backward(const nl_norm_geom *g, const float *x, const float *dy,
                                const float *gamma, const float *save_mean,
                                const float *save_rstd, float *dx, bool accumulate_dx,
                                float *dgamma, float *dbeta);
/* batch statistics only (g->groups == 0) */
void nl_norm_reference_backward_reduce(const nl_norm_geom *g, const float *x, const float *dy,
                                       const float *save_mean, const float *save_rstd,
                                       float *sum_dy, float *sum_dy_xhat);
void nl_norm_reference_backward_apply(const nl_norm_geom *g, const float *x, const float *dy,
                                      const float *gamma, const float *save_mean,
                                      const float *save_rstd, const float *sum_dy,
                                      const float *sum_dy_xhat, double count, float *dx,
                                      bool accumulate_dx);

/* the design space's points off the fused kernels (norm_to_point,
 * norm_backward_point) */
void nl_norm_reference_to_point(int count, bool center, nl_norm_scale scale, const float *mean,
                                const float *var, float *shift, float *divisor_var);
void nl_norm_reference_backward_point(const nl_norm_geom *g, nl_norm_scale scale, const float *x,
                                      const float *dy, const float *gamma, const float *shift,
                                      const float *mean, const float *rstd, float *dx,
                                      bool accumulate_dx, float *dgamma, float *dbeta);
/* Switchable Normalization's mix and backward (switch_mix, switch_backward) */
void nl_switch_reference_mix(int n, int c, const float *lambda, const float *mean_in,
                             const float *var_in, const float *mean_ln, const float *var_ln,
                             const float *mean_bn, const float *var_bn, float *mean, float *var,
                             float *weights);
void nl_switch_reference_backward(int n, int c, int hw, const float *x, const float *dy,
                                  const float *gamma, const float *mean, const float *rstd,
                                  const float *weights, const float *mean_in,
                                  const float *mean_ln, const float *mean_bn,
                                  const float *var_in, const float *var_ln, const float *var_bn,
                                  bool batch_grad, float *dx, bool accumulate_dx, float *dgamma,
                                  float *dbeta, float *dlambda);

/* the normalizers without statistics, as the dyt_* and tlu_* ops (alpha on
 * the host here) */
void nl_dyt_reference_forward(int n, int c, int hw, float alpha, const float *x,
                              const float *gamma, const float *beta, float *y);
void nl_dyt_reference_backward(int n, int c, int hw, float alpha, const float *x,
                               const float *dy, const float *gamma, float *dx, bool accumulate_dx,
                               float *dgamma, float *dbeta, float *dalpha);
void nl_tlu_reference_forward(int n, int c, int hw, const float *x, const float *tau, float *y);
void nl_tlu_reference_backward(int n, int c, int hw, const float *y, const float *tau,
                               const float *dy, float *dx, bool accumulate_dx, float *dtau);

#endif
