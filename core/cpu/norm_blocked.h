/* The normalization family on the channel-blocked layout (nl_norm_geom.block
 * B > 0: (N, C/B, HW, B), oneDNN's nChw16c / nChw8c), fp32 statistics only:
 * norm_blocked.c defines the kernels, and norm.c / norm_sync.c send every
 * geometry with a block here before any other branch. The arguments and
 * the semantics are the ops' (backend_ops.def); only where a value lies
 * differs. B is a multiple of 8 of at most 64 (8 and 16 in use).
 * nl_norm_geom.io may mark x, y, dx and dy as stored in bf16 (the
 * pointers then hold uint16_t, same index; dx so marked is never
 * accumulated), except for norm_stats, norm_apply, norm_backward_reduce
 * and norm_backward_apply, which take fp32 operands alone.
 *
 * Every sum is taken in an order fixed by (n, c, hw, groups) alone: per
 * (sample, channel) over the pixels in pixel order, then over samples in
 * sample order (batch statistics, the parameter gradients) or over a
 * group's channels in channel order (per-sample groups). So the bits do
 * not depend on B nor on the thread count; they differ from the plain
 * layout's (another order) by float rounding. */
#ifndef NL_CPU_NORM_BLOCKED_H
#define NL_CPU_NORM_BLOCKED_H

#include "backend/backend.h"

/* per-sample groups keep the partial sums of a whole sample at a time on
 * the stack: their channels are at most this many */
#define NL_NORM_BLOCKED_MAX_C 4096

/* norm_stats' running statistics (per channel) from per-group ones, batch
 * statistics or instances averaged, each variance made unbiased (norm.c;
 * the blocked kernels share it: it reads no activation) */
void nl_cpu_running_from_groups(const nl_norm_geom *g, const float *mean, const float *var,
                                float *running_mean, float *running_var, float momentum);

void nl_cpu_norm_blocked_forward(nl_backend *be, const nl_norm_geom *g, const float *x,
                                 const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_rstd, float *running_mean,
                                 float *running_var, const float *momentum);
void nl_cpu_norm_blocked_forward_eval(nl_backend *be, const nl_norm_geom *g, const float *x,
                                      const float *gamma, const float *beta,
                                      const float *running_mean, const float *running_var,
                                      float *y);
void nl_cpu_norm_blocked_stats(nl_backend *be, const nl_norm_geom *g, const float *x,
                               float *mean, float *var, float *running_mean, float *running_var,
                               const float *momentum);
void nl_cpu_norm_blocked_apply(nl_backend *be, const nl_norm_geom *g, const float *x,
                               const float *mean, const float *var, const float *gamma,
                               const float *beta, float *y, float *save_rstd);
/* bytes: the per-(sample, channel) partial sums and the dx pass's
 * coefficients */
size_t nl_cpu_norm_blocked_backward_workspace(nl_backend *be, const nl_norm_geom *g);
void nl_cpu_norm_blocked_backward(nl_backend *be, const nl_norm_geom *g, const float *x,
                                  const float *dy, const float *gamma, const float *save_mean,
                                  const float *save_rstd, float *dx, bool accumulate_dx,
                                  float *dgamma, float *dbeta, void *workspace);
void nl_cpu_norm_blocked_forward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                                     const float *gamma, const float *beta, const float *skip,
                                     float *y, float *save_mean, float *save_rstd,
                                     float *running_mean, float *running_var,
                                     const float *momentum);
/* dy is read, never overwritten */
void nl_cpu_norm_blocked_backward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                                      const float *y, float *dy, const float *gamma,
                                      const float *save_mean, const float *save_rstd, float *dx,
                                      bool accumulate_dx, float *dskip, bool accumulate_dskip,
                                      float *dgamma, float *dbeta, void *workspace);
void nl_cpu_norm_blocked_backward_reduce(nl_backend *be, const nl_norm_geom *g, const float *x,
                                         const float *dy, const float *save_mean,
                                         const float *save_rstd, float *sum_dy,
                                         float *sum_dy_xhat);
void nl_cpu_norm_blocked_backward_apply(nl_backend *be, const nl_norm_geom *g, const float *x,
                                        const float *dy, const float *gamma,
                                        const float *save_mean, const float *save_rstd,
                                        const float *sum_dy, const float *sum_dy_xhat,
                                        double count, float *dx, bool accumulate_dx);

#endif
