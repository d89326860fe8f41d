/* layer_times: where a config's training step spends its time, layer by
 * layer. It builds the model a `normlab run` of the config builds (same
 * spec, backend and memory plan), feeds it random batches (N(0,1) images or
 * uniform tokens) and times every layer's forward and backward inside real
 * steps: the layers run in the model's order on the model's own buffers, so
 * each sees the caches the step leaves it, and their sum is checked against
 * whole steps timed without the clock reads in between. The optimizer's
 * update and the data loading are not in the sum (a step's `other` row).
 *
 * One CSV row per layer: its name and kind, the median forward and
 * backward microseconds over the timed steps, the FLOPs of its products
 * (nl_layer_vtable.flops, as nl_model_flops counts them); a convolution's
 * row also gives its geometry and whether its input gradient is computed,
 * which conv_ceiling_torch.py reads to time the same convolutions in
 * PyTorch. The header lines (#) name the machine, the kernels and the
 * sgemm peak the shares are taken against.
 *
 *   cmake --build build --target bench_layer_times &&
 *   build/bench_layer_times CONFIG [--set KEY=VALUE]... [--batch N] [--threads N]
 *                           [--steps K] > layers.csv
 *
 * On a GPU (--set device=cuda) every layer's ops are waited for before the
 * clock is read again (the backend's synchronize), so a row is the layer's
 * kernels and launches; the whole steps, timed without those waits, show
 * what the waits added. No sgemm peak is taken there.
 *
 * With one thread on a shared host, pass --cpu-clock to time by the
 * thread's CPU clock (what other processes took is left out). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/arch.h"
#include "config/config.h"
#include "device/device.h"
#include "model/model.h"
#include "model/spec.h"
#include "train/run_model.h"

enum { MAX_SETS = 64, WARMUP_STEPS = 2 };

static clockid_t step_clock = CLOCK_MONOTONIC;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(step_clock, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* a fixed stream of N(0,1) floats (Box-Muller over a 64-bit LCG): the data
 * only has to be the same every time, not good */
static uint64_t lcg = 0x853c49e6748fea9bULL;

static double uniform(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((lcg >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static float normal(void)
{
    return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

/* OpenBLAS's sgemm on 1024^3, best of 3: the peak the shares divide by, the
 * same probe as `normlab bench` */
static double sgemm_peak_gflops(void)
{
    const int d = 1024;
    float *a = malloc(sizeof(float) * d * d), *b = malloc(sizeof(float) * d * d),
          *c = malloc(sizeof(float) * d * d);
    for (int i = 0; i < d * d; i++)
        a[i] = normal(), b[i] = normal();
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
        const double t0 = now_us();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0f, a, d, b, d, 0.0f, c,
                    d);
        const double t = now_us() - t0;
        if (r > 0 && t < best) /* the first call pays for OpenBLAS's start */
            best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * d * d * (double)d / best * 1e-3;
}

static void load_random_batch(nl_model *m, int n)
{
    const size_t rows = (size_t)n * m->rows_per_sample;
    int32_t *targets = malloc(rows * sizeof *targets);
    for (size_t i = 0; i < rows; i++)
        targets[i] = (int32_t)(uniform() * m->spec.classes);
    if (nl_model_spec_tokens(&m->spec)) {
        int32_t *tokens = malloc(rows * sizeof *tokens);
        for (size_t i = 0; i < rows; i++)
            tokens[i] = (int32_t)(uniform() * m->spec.classes);
        nl_model_load_tokens(m, tokens, targets, n);
        free(tokens);
    } else {
        const size_t count = (size_t)n * nl_shape_per_sample(m->input->shape);
        float *x = malloc(count * sizeof *x);
        for (size_t i = 0; i < count; i++)
            x[i] = normal();
        nl_model_load_batch(m, x, targets, n);
        free(x);
    }
    free(targets);
}

/* waits for the ops queued on be (a GPU's; the CPU's have run already) */
static void sync(nl_backend *be)
{
    nl_error err = {0};
    if (be->ops->synchronize(be, &err) != NL_OK) {
        fprintf(stderr, "bench_layer_times: %s\n", err.msg);
        exit(1);
    }
}

/* one training step's forward and backward with the clock read around
 * every layer (fwd[i], bwd[i] in microseconds; each layer's ops waited
 * for); the loss's two ops are timed as a row of their own at index
 * n_layers */
static void timed_step(nl_model *m, int n, double *fwd, double *bwd)
{
    nl_backend *be = m->be;
    const int L = m->n_layers, rows = n * m->rows_per_sample;
    nl_model_prepare_forward(m, n, NL_MODE_TRAIN);
    nl_model_upload_scalars(m);
    /* the workspace's size too: a convolution given less than its
     * Winograd kernel needs runs oneDNN's direct one instead (conv2d.c) */
    const nl_pass pass = {.be = be, .n = n, .mode = NL_MODE_TRAIN, .workspace = m->workspace,
                          .workspace_bytes = m->workspace_bytes,
                          .step = m->step, .scalars = m->scalars,
                          .scalars_host = m->scalars_host};
    sync(be);
    for (int i = 0; i < L; i++) {
        const double t0 = now_us();
        m->layers[i]->vt->forward(m->layers[i], &pass);
        sync(be);
        fwd[i] = now_us() - t0;
    }
    double t0 = now_us();
    be->ops->softmax_xent_forward(be, rows, m->spec.classes, m->logits->data, m->labels, m->probs,
                                  m->metrics);
    sync(be);
    fwd[L] = now_us() - t0;
    t0 = now_us();
    be->ops->softmax_xent_backward(be, rows, m->spec.classes, m->probs, m->labels,
                                   m->logits->grad);
    sync(be);
    bwd[L] = now_us() - t0;
    for (int i = L - 1; i >= 0; i--) {
        t0 = now_us();
        m->layers[i]->vt->backward(m->layers[i], &pass);
        sync(be);
        bwd[i] = now_us() - t0;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_layer_times CONFIG [--set KEY=VALUE]... [--batch N] "
                    "[--threads N] [--steps K] [--cpu-clock]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        usage();
    const char *path = argv[1], *sets[MAX_SETS];
    int n_sets = 0, batch = 0, threads = 1, steps = 20;
    for (int a = 2; a < argc; a++) {
        const bool has_value = a + 1 < argc;
        if (!strcmp(argv[a], "--set") && has_value && n_sets < MAX_SETS)
            sets[n_sets++] = argv[++a];
        else if (!strcmp(argv[a], "--batch") && has_value)
            batch = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--threads") && has_value)
            threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--steps") && has_value)
            steps = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--cpu-clock"))
            step_clock = CLOCK_THREAD_CPUTIME_ID;
        else
            usage();
    }
    if (steps < 1 || threads < 1 || batch < 0 || (step_clock != CLOCK_MONOTONIC && threads != 1)) {
        fprintf(stderr, "bench_layer_times: --steps and --threads must be >= 1, --cpu-clock "
                        "needs --threads 1\n");
        return 2;
    }
    nl_error err = {0};
    nl_config *cfg = calloc(1, sizeof *cfg);
    if (nl_config_load(path, sets, n_sets, cfg, &err) != NL_OK) {
        fprintf(stderr, "bench_layer_times: %s\n", err.msg);
        return 2;
    }
    if (batch == 0)
        batch = cfg->train.batch_size;
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    nl_backend *be = NULL;
    nl_model *m = NULL;
    const nl_backend_options options = {.threads = threads};
    if (nl_backend_open(cfg->device, &options, &be, &err) != NL_OK ||
        nl_model_create(&spec, be, batch, batch, cfg->seed, &m, &err) != NL_OK) {
        fprintf(stderr, "bench_layer_times: %s\n", err.msg);
        return 2;
    }
    const bool cpu = cfg->device == NL_DEVICE_CPU;
    const double peak = cpu ? sgemm_peak_gflops() : 0.0;
    load_random_batch(m, batch);

    const int L = m->n_layers;
    double *fwd = calloc((size_t)(L + 1) * steps, sizeof *fwd);
    double *bwd = calloc((size_t)(L + 1) * steps, sizeof *bwd);
    double *whole = calloc((size_t)steps, sizeof *whole);
    for (int s = 0; s < WARMUP_STEPS; s++) {
        nl_model_forward(m, batch, NL_MODE_TRAIN);
        nl_model_backward(m, batch);
    }
    /* steps with the per-layer clock and steps without it, alternated */
    double *f = malloc(sizeof(double) * (L + 1)), *b = malloc(sizeof(double) * (L + 1));
    for (int s = 0; s < steps; s++) {
        timed_step(m, batch, f, b);
        for (int i = 0; i <= L; i++)
            fwd[(size_t)i * steps + s] = f[i], bwd[(size_t)i * steps + s] = b[i];
        const double t0 = now_us();
        nl_model_forward(m, batch, NL_MODE_TRAIN);
        nl_model_backward(m, batch);
        sync(be);
        whole[s] = now_us() - t0;
    }

    char kernels[256];
    printf("# config %s, batch %d, %d thread(s), %d steps (median per layer), clock %s\n", path,
           batch, threads, steps, step_clock == CLOCK_MONOTONIC ? "wall" : "thread cpu");
    if (cpu) {
        printf("# %s\n", nl_backend_cpu_kernels_description(kernels, sizeof kernels));
        printf("# openblas core %s; sgemm 1024^3 peak %.1f GFLOP/s\n",
               be->openblas_core ? be->openblas_core : "?", peak);
    } else {
        char gpu[256] = "?";
        nl_backend_cuda_describe(gpu, sizeof gpu);
        printf("# device %s (each layer's ops waited for before the clock is read)\n", gpu);
    }
    printf("# whole forward+backward, median %.1f us\n", median(whole, steps));
    printf("layer,kind,forward_us,backward_us,forward_flops,backward_flops,"
           "in_c,in_h,in_w,out_c,out_h,out_w,kernel,stride,pad,input_grad\n");
    double sum = 0.0;
    for (int i = 0; i <= L; i++) {
        const double fw = median(fwd + (size_t)i * steps, steps);
        const double bw = median(bwd + (size_t)i * steps, steps);
        sum += fw + bw;
        if (i == L) {
            printf("loss,softmax_xent,%.2f,%.2f,0,0,,,,,,,,,,\n", fw, bw);
            break;
        }
        const nl_layer *layer = m->layers[i];
        nl_layer_flops fl = {0};
        layer->vt->flops(layer, &fl);
        const bool input_grad = layer->n_in > 0 && layer->in[0]->grad != NULL;
        const double backward_flops =
            (input_grad ? fl.input_grad : 0.0) + fl.weight_grad + fl.state_grad;
        printf("%s,%s,%.2f,%.2f,%.0f,%.0f", layer->name, layer->vt->kind, fw, bw,
               fl.forward * batch, backward_flops * batch);
        nl_conv_geom g;
        if (nl_conv2d_geom_of(layer, &g))
            printf(",%d,%d,%d,%d,%d,%d,%d,%d,%d,%d\n", g.in_c, g.in_h, g.in_w, g.out_c, g.out_h,
                   g.out_w, g.kernel, g.stride, g.pad, input_grad);
        else
            printf(",,,,,,,,,,\n");
    }
    printf("# the layers' medians sum to %.1f us\n", sum);
    free(f), free(b), free(fwd), free(bwd), free(whole);
    nl_model_free(m);
    nl_backend_close(be);
    free(cfg);
    return 0;
}
