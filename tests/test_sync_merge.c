/* Synchronized batch norm's merge of the ranks' statistics against the
 * statistics of the whole batch computed directly in double, for even and
 * uneven rank splits; the ranks' data sit at different offsets, so every
 * term of the merge (the between-rank delta^2 term included) matters. Runs
 * in the default suite: test_mpi covers the exchange itself under mpirun. */
#include <math.h>
#include <stdlib.h>

#include "base/rng.h"
#include "norm/sync_merge.h"
#include "testutil.h"

enum { CHANNELS = 3, MAX_RANKS = 8, MAX_VALUES = 64 };

/* counts[r] values of each channel on rank r */
static void check_split(const int *counts, int ranks, uint64_t seed)
{
    nl_rng rng;
    nl_rng_seed(&rng, seed, 0);
    static double values[MAX_RANKS][CHANNELS][MAX_VALUES];
    double records[MAX_RANKS * (2 * CHANNELS + 1)];
    int total = 0;
    for (int r = 0; r < ranks; r++) {
        double *rec = records + r * (2 * CHANNELS + 1);
        rec[0] = counts[r];
        total += counts[r];
        for (int ch = 0; ch < CHANNELS; ch++) {
            double sum = 0.0, sq = 0.0;
            for (int i = 0; i < counts[r]; i++) {
                /* rank r's values centred near 3r - ch, spread 1 + ch */
                values[r][ch][i] = 3.0 * r - ch + (1.0 + ch) * nl_rng_normal(&rng);
                sum += values[r][ch][i];
            }
            const double mean = sum / counts[r];
            for (int i = 0; i < counts[r]; i++)
                sq += (values[r][ch][i] - mean) * (values[r][ch][i] - mean);
            rec[1 + ch] = mean;
            rec[1 + CHANNELS + ch] = sq / counts[r]; /* biased, as each rank reports it */
        }
    }
    float mean[CHANNELS], var[CHANNELS];
    ck_assert_double_eq(nl_sync_merge_stats(records, ranks, CHANNELS, mean, var), (double)total);
    for (int ch = 0; ch < CHANNELS; ch++) {
        double sum = 0.0, sq = 0.0;
        for (int r = 0; r < ranks; r++)
            for (int i = 0; i < counts[r]; i++)
                sum += values[r][ch][i];
        const double want_mean = sum / total;
        for (int r = 0; r < ranks; r++)
            for (int i = 0; i < counts[r]; i++)
                sq += (values[r][ch][i] - want_mean) * (values[r][ch][i] - want_mean);
        const double want_var = sq / total;
        ck_assert_msg(fabs(mean[ch] - want_mean) <= 1e-6 * (1.0 + fabs(want_mean)),
                      "channel %d of %d ranks: mean %.9g, want %.9g", ch, ranks, mean[ch], want_mean);
        ck_assert_msg(fabs(var[ch] - want_var) <= 1e-6 * want_var,
                      "channel %d of %d ranks: variance %.9g, want %.9g", ch, ranks, var[ch], want_var);
    }
}

START_TEST(test_splits)
{
    static const int splits[][MAX_RANKS + 1] = {
        /* ranks, then each rank's count */
        {1, 40},
        {2, 20, 20},
        {2, 1, 39},
        {3, 7, 30, 3},
        {4, 1, 1, 1, 1},
        {5, 16, 2, 64, 1, 9},
        {8, 3, 5, 8, 13, 21, 34, 55, 1},
    };
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++)
        check_split(splits[k] + 1, splits[k][0], 100 + k);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sync_merge");
    TCase *tc = tcase_create("merge");
    tcase_add_test(tc, test_splits);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
