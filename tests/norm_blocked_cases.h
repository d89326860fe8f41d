/* What the blocked normalizers' two tests share: test_norm_blocked.c holds
 * the blocked kernels to the plain layout's, test_norm_blocked_bf16.c holds
 * their bf16 operands to their fp32 ones, on the same variants of a shape
 * and the same inputs. */
#ifndef NL_TESTS_NORM_BLOCKED_CASES_H
#define NL_TESTS_NORM_BLOCKED_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* groups 0: batch statistics; affine: 0 none, 1 gamma and beta, 2 gamma only */
typedef struct {
    int groups;
    bool center;
    int affine;
    bool running;
} nb_variant;

/* the variants an (n, c, hw) shape takes, into out (at most 33): batch
 * statistics (centred), groups 1, 2, C/16, C/8 and C, centred or not;
 * affine none, full, scale only (not with batch statistics); running
 * statistics for batch statistics and centred instance statistics */
int nb_variants_of(int n, int c, int hw, nb_variant *out);

/* the inputs' values from seed: x with a mean away from 0 (so that the
 * shifts and the centring matter), dy, skip, the gradients already there
 * (dx0, dskip0) over count values; gamma, beta and the running
 * statistics over c channels */
void nb_fill_inputs(uint64_t seed, size_t count, size_t c, float *x, float *dy, float *skip,
                    float *dx0, float *dskip0, float *gamma, float *beta, float *run_mean,
                    float *run_var);

#endif
