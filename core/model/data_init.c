#include "model/data_init.h"

#include <math.h>
#include <stdlib.h>

#include "dist/dist.h"

/* per unit c of out (n samples): the mean and biased std over the samples
 * and positions; images are (N, C, HW), feature and token rows (rows, C) */
static void unit_moments(const float *out, nl_shape shape, int n, double *mean, double *std)
{
    const int units = shape.c;
    const long rows = shape.ndim == 4 ? n : (long)n * nl_shape_rows_per_sample(shape);
    const long hw = shape.ndim == 4 ? (long)shape.h * shape.w : 1;
    for (int c = 0; c < units; c++) {
        double sum = 0.0, sum_sq = 0.0;
        for (long r = 0; r < rows; r++)
            for (long p = 0; p < hw; p++) {
                const double v = out[((size_t)r * units + c) * hw + p];
                sum += v;
                sum_sq += v * v;
            }
        const double count = (double)rows * hw, mu = sum / count;
        const double var = sum_sq / count - mu * mu;
        mean[c] = mu;
        std[c] = var > 0.0 ? sqrt(var) : 0.0;
    }
}

nl_code nl_model_param_norm_data_init(nl_model *m, int n, nl_error *err)
{
    if (nl_dist_size(m->dist) > 1)
        return nl_fail(err, NL_ERR_CONFIG,
                       "model.param_norm.data_init: a data-parallel run would initialize each "
                       "rank from its own slice of the batch; run it in one process");
    nl_code rc = NL_OK;
    for (int i = 0; i < m->n_layers && rc == NL_OK; i++) {
        nl_layer *l = m->layers[i];
        nl_param *bias = NULL;
        nl_param_norm *pn = l->vt->param_norm ? l->vt->param_norm(l, &bias) : NULL;
        if (!pn || !pn->row->data_init)
            continue;
        nl_model_forward(m, n, NL_MODE_TRAIN_FROZEN);
        const size_t count = (size_t)n * nl_shape_per_sample(l->out->shape);
        const int units = l->out->shape.c;
        float *out = malloc(count * sizeof *out);
        double *moments = malloc(2 * (size_t)units * sizeof *moments);
        if (!out || !moments)
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory initializing layer %s", l->name);
        else {
            m->be->ops->download(m->be, out, l->out->data, count * sizeof *out);
            unit_moments(out, l->out->shape, n, moments, moments + units);
            rc = pn->row->data_init(pn, m->be, moments, moments + units, bias, err);
        }
        free(out);
        free(moments);
    }
    nl_model_reset_metrics(m);
    return rc;
}
