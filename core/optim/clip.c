#include "optim/optim.h"

void nl_clip_grad_norm(nl_model *m, float max_norm)
{
    nl_backend *be = m->be;
    /* the padding between parameters is zero, so the whole arena's sum of
     * squares is the parameters' */
    be->ops->sum_squares(be, m->param_floats, m->grad_arena, m->clip_slots);
    be->ops->clip_by_norm(be, m->param_floats, m->grad_arena, m->clip_slots, max_norm);
}

double nl_clip_norm_sum(nl_model *m)
{
    double sum;
    m->be->ops->download(m->be, &sum, m->clip_slots + NL_CLIP_NORM_SUM, sizeof sum);
    return sum;
}

void nl_clip_set_norm_sum(nl_model *m, double sum)
{
    m->be->ops->upload(m->be, m->clip_slots + NL_CLIP_NORM_SUM, &sum, sizeof sum);
}
