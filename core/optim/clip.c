#include <math.h>

#include "optim/optim.h"

double nl_clip_grad_norm(nl_model *m, float max_norm)
{
    nl_backend *be = m->be;
    double partials[NL_SUM_SQUARES_PARTS];
    /* the padding between parameters is zero, so the whole arena's sum of
     * squares is the parameters' */
    be->ops->sum_squares(be, m->param_floats, m->grad_arena, m->grad_norm_partials);
    be->ops->download(be, partials, m->grad_norm_partials, sizeof partials);
    double sum = 0.0;
    for (int k = 0; k < NL_SUM_SQUARES_PARTS; k++)
        sum += partials[k];
    const double total_norm = sqrt(sum);
    /* torch.nn.utils.clip_grad_norm_: max_norm / (total_norm + 1e-6), in
     * float, applied only below 1 (a NaN norm scales by NaN, as there) */
    const float coef = (float)max_norm / ((float)total_norm + 1e-6f);
    if (!(coef >= 1.0f))
        be->ops->scale(be, m->param_floats, m->grad_arena, coef);
    return total_norm;
}
