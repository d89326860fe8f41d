#include "train/ranks.h"

#include "device/device.h"

nl_code nl_ranks_split_batch(const nl_config *cfg, int ranks, int *rank_batch, nl_error *err)
{
    const int batch = cfg->train.batch_size;
    *rank_batch = batch / ranks;
    if (batch % ranks == 0)
        return NL_OK;
    const int below = batch - batch % ranks, above = below + ranks;
    return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.batch_size",
                               "%d cannot be shared by the %d MPI ranks (train.batch_size is the "
                               "global batch; each rank takes an equal slice of it); accepted: "
                               "a multiple of %d, e.g. %d or %d", batch, ranks, ranks,
                               below > 0 ? below : above, below > 0 ? above : above + ranks);
}

nl_code nl_ranks_agree_kernels(struct nl_dist *dist, int ranks, char *note, size_t size,
                               nl_error *err)
{
    note[0] = '\0';
    double votes[NL_KERNEL_VOTES_MAX];
    const int n_votes = nl_backend_cpu_kernel_votes(votes);
    nl_code rc = nl_dist_reserve(dist, sizeof votes, err);
    if (rc)
        return rc;
    nl_dist_sum(dist, votes, (size_t)n_votes);
    if ((rc = nl_dist_status(dist, err)) ||
        (rc = nl_backend_cpu_kernels_agree(votes, ranks, note, size, err)))
        note[0] = '\0';
    return rc;
}

nl_code nl_ranks_share_resume(struct nl_dist *dist, const char *config_keys, nl_model *model,
                              nl_resume *r, nl_error *err)
{
    bool loaded = r->found == NL_CHECKPOINT_LOADED;
    nl_code rc = nl_checkpoint_share(dist, config_keys, model, &r->state, &r->files, &r->order,
                                     &loaded, err);
    if (rc == NL_OK && loaded)
        r->found = NL_CHECKPOINT_LOADED;
    return rc;
}
