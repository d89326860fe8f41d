/* norm_blocked_cases.h */
#include "norm_blocked_cases.h"

#include "testutil.h"

int nb_variants_of(int n, int c, int hw, nb_variant *out)
{
    int count = 0;
    const int group_counts[] = {1, 2, c / 16, c / 8, c};
    const int kinds = (int)(sizeof group_counts / sizeof group_counts[0]);
    for (int affine = 0; affine < 3; affine++) {
        if (affine < 2 && (long)n * hw > 1)
            out[count++] = (nb_variant){0, true, affine, affine == 1};
        for (int gi = 0; gi < kinds; gi++) {
            const int groups = group_counts[gi];
            bool seen = false;
            for (int gj = 0; gj < gi; gj++)
                seen |= group_counts[gj] == groups;
            if (seen || groups == 0 || c % groups != 0)
                continue;
            if (groups == c && hw == 1)
                continue; /* instance statistics of one value: y is beta, dx 0 */
            for (int center = 0; center < 2; center++)
                out[count++] = (nb_variant){groups, center, affine,
                                            center && groups == c && affine != 2};
        }
    }
    return count;
}

void nb_fill_inputs(uint64_t seed, size_t count, size_t c, float *x, float *dy, float *skip,
                    float *dx0, float *dskip0, float *gamma, float *beta, float *run_mean,
                    float *run_var)
{
    tu_fill_normal(x, count, seed, 0.75f, 2.0f);
    tu_fill_normal(dy, count, seed + 1, 0.0f, 1.0f);
    tu_fill_normal(skip, count, seed + 2, 0.0f, 1.0f);
    tu_fill_normal(dx0, count, seed + 3, 0.0f, 1.0f);
    tu_fill_normal(dskip0, count, seed + 4, 0.0f, 1.0f);
    tu_fill_uniform(gamma, c, seed + 5, 0.5f, 1.5f);
    tu_fill_uniform(beta, c, seed + 6, -0.5f, 0.5f);
    tu_fill_normal(run_mean, c, seed + 7, 0.0f, 0.5f);
    tu_fill_uniform(run_var, c, seed + 8, 0.5f, 2.0f);
}
