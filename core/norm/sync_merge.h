/* Synchronized batch norm's merge of the ranks' per-channel statistics
 * (PyTorch's SyncBatchNorm): a pure function, so the formula is tested in
 * the default suite on any rank split, not only under mpirun. */
#ifndef NL_NORM_SYNC_MERGE_H
#define NL_NORM_SYNC_MERGE_H

#include <stddef.h>

/* Each rank's record, `2 * channels + 1` doubles, ranks one after another:
 * [count, mean of each channel..., biased variance of each channel...].
 * Merges them in rank order with Chan et al.'s pairwise update in double
 * (the global mean and sum of squared deviations, adding
 * delta^2 * n_a * n_b / n for each rank joined), and writes the global
 * batch's per-channel mean and biased variance. Returns the global count. */
double nl_sync_merge_stats(const double *records, int ranks, int channels, float *mean,
                           float *var);

#endif
