/* Whether the CPU kernel sets give the optimizers' updates the same bits:
 * the question behind the MPI ranks' agreement on one set
 * (nl_backend_agree_cpu_kernels), since each rank updates its own copy of
 * the parameters from the averaged gradients. One SGD step (momentum,
 * weight decay) and one AdamW step on the same 100,003 random values with
 * every set this CPU runs, counted against the first (best) set.
 *
 *   cmake --build build --target normlab_core && gcc -O2 -std=gnu11 -fopenmp -Icore \
 *       experiments/bench/kernel_set_rounding.c build/libnormlab_core.a \
 *       -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lyaml -lz -lm -ldl -lpthread \
 *       -o /tmp/kernel_set_rounding && /tmp/kernel_set_rounding
 *
 * On the Zen 4 (2026-11-23): x86-64-v3 against x86-64-v4, no difference;
 * x86-64 (no FMA: its multiply-adds round twice) against x86-64-v4, SGD's
 * velocities differ in 31,324 values and its parameters in 42, AdamW's
 * parameters in 24,946. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "device/device.h"

enum { COUNT = 100003, MAX_SETS = 8 };

static float uniform(unsigned *state, float scale)
{
    *state = *state * 1664525u + 1013904223u;
    return ((float)(*state >> 8) / 16777216.0f - 0.5f) * scale;
}

int main(void)
{
    static float param0[COUNT], grad[COUNT], moment0[COUNT], second0[COUNT];
    static float sgd_param[MAX_SETS][COUNT], velocity[MAX_SETS][COUNT];
    static float adamw_param[MAX_SETS][COUNT], moment[MAX_SETS][COUNT], second[MAX_SETS][COUNT];
    unsigned state = 1;
    for (int i = 0; i < COUNT; i++) {
        param0[i] = uniform(&state, 1.0f);
        grad[i] = uniform(&state, 1e-2f);
        moment0[i] = uniform(&state, 1e-2f);
        second0[i] = fabsf(grad[i]) * 1e-3f + 1e-9f;
    }
    const nl_sgd_args sgd = {.lr = 0.0137f, .momentum = 0.9f, .weight_decay = 1e-4f};
    const nl_adamw_args adamw = {.decay = 1.0f - 0.001f * 0.01f, .beta1 = 0.9f,
                                 .one_minus_beta1 = 0.1f, .beta2 = 0.999f,
                                 .one_minus_beta2 = 0.001f, .neg_step_size = -0.01f,
                                 .bias_correction2_sqrt = 0.0316f, .eps = 1e-8f};
    int done = 0;
    const char *first = NULL;
    for (int set = 0; set < nl_cpu_kernel_set_count() && done < MAX_SETS; set++) {
        if (!nl_cpu_kernel_set_runs_here(set))
            continue;
        const char *name = nl_cpu_kernel_set_name(set);
        nl_error err = {0};
        nl_backend *be = NULL;
        if (nl_cpu_kernels_choose(name, &err) ||
            nl_backend_open(NL_DEVICE_CPU, &(nl_backend_options){.threads = 1}, &be, &err)) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            return 1;
        }
        const int k = done++;
        memcpy(sgd_param[k], param0, sizeof param0);
        memcpy(velocity[k], moment0, sizeof moment0);
        be->ops->sgd_step(be, COUNT, sgd_param[k], grad, velocity[k], &sgd);
        memcpy(adamw_param[k], param0, sizeof param0);
        memcpy(moment[k], moment0, sizeof moment0);
        memcpy(second[k], second0, sizeof second0);
        be->ops->adamw_step(be, COUNT, adamw_param[k], grad, moment[k], second[k], &adamw);
        nl_backend_close(be);
        if (k == 0) {
            first = name;
            continue;
        }
        int params = 0, velocities = 0, adamw_params = 0;
        for (int i = 0; i < COUNT; i++) {
            params += memcmp(&sgd_param[k][i], &sgd_param[0][i], sizeof(float)) != 0;
            velocities += memcmp(&velocity[k][i], &velocity[0][i], sizeof(float)) != 0;
            adamw_params += memcmp(&adamw_param[k][i], &adamw_param[0][i], sizeof(float)) != 0;
        }
        printf("%s against %s, of %d values: SGD parameters %d, velocities %d differ; "
               "AdamW parameters %d differ\n",
               name, first, COUNT, params, velocities, adamw_params);
    }
    if (done < 2)
        printf("this CPU runs one kernel set only: nothing to compare\n");
    return 0;
}
