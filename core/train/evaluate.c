#include "train/evaluate.h"

#include <math.h>

/* a batch of the split loaded (this rank's share in *mine); 0 at its end */
typedef int (*load_fn)(nl_model *m, void *batches, int *mine);

static int load_images(nl_model *m, void *batches, int *mine)
{
    return nl_feed_load_batch(m, batches, mine);
}

static int load_windows(nl_model *m, void *batches, int *mine)
{
    return nl_feed_load_windows(m, batches, mine);
}

/* one pass over the batches; loss and accuracy per prediction, `rows` of
 * them per sample */
static nl_code evaluate(nl_model *m, load_fn load, void *batches, double rows, nl_mode mode,
                        double *loss, double *accuracy, nl_error *err)
{
    nl_model_reset_metrics(m);
    long seen = 0;
    int n, mine;
    while ((n = load(m, batches, &mine)) > 0) {
        /* eval mode exchanges nothing between ranks, so a rank may sit out
         * a short last batch; batch statistics (train mode) come in whole
         * training-size batches, which every rank shares */
        if (mine > 0)
            nl_model_forward(m, mine, mode);
        seen += n;
    }
    double metrics[2];
    nl_model_read_metrics(m, metrics);
    const double predictions = (double)seen * rows;
    *loss = seen ? metrics[0] / predictions : NAN;
    *accuracy = seen ? metrics[1] / predictions : NAN;
    return m->be->ops->synchronize(m->be, err);
}

nl_code nl_evaluate(nl_model *m, nl_batcher *batches, nl_mode mode, double *loss,
                    double *accuracy, nl_error *err)
{
    return evaluate(m, load_images, batches, 1.0, mode, loss, accuracy, err);
}

nl_code nl_evaluate_tokens(nl_model *m, nl_window_batcher *batches, nl_mode mode, double *loss,
                           double *accuracy, nl_error *err)
{
    return evaluate(m, load_windows, batches, m->rows_per_sample, mode, loss, accuracy, err);
}

nl_code nl_feed_evaluate(nl_feed *f, nl_model *m, bool trainmode, double *loss, double *accuracy,
                         nl_error *err)
{
    if (f->tokens)
        return trainmode ? nl_evaluate_tokens(m, &f->trainmode_windows, NL_MODE_TRAIN_FROZEN, loss,
                                              accuracy, err)
                         : nl_evaluate_tokens(m, &f->eval_windows, NL_MODE_EVAL, loss, accuracy,
                                              err);
    return trainmode ? nl_evaluate(m, &f->trainmode_eval, NL_MODE_TRAIN_FROZEN, loss, accuracy, err)
                     : nl_evaluate(m, &f->eval, NL_MODE_EVAL, loss, accuracy, err);
}
