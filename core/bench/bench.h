/* Measuring the engine: timing loops, the machine's reference rates
 * (streaming copy, sgemm) and the real layer and training code run through
 * the model builder, so what is timed is what training runs. `normlab bench`
 * (cmd/bench.c) prints and writes the numbers; nothing here prints.
 *
 * What is counted:
 * - normalizers: minimal traffic, forward 8 bytes per element (read x, write
 *   y), backward 12 (read x and dy, write dx), forward+backward 20; the copy
 *   reference moves 8 bytes per element (read + write) over the same count;
 * - conv and linear layers: 2 FLOPs per multiply-add; backward is the weight
 *   gradient plus, where the layer passes a gradient on, the input gradient;
 * - training: FLOPs per sample = forward + backward of the model's products
 *   (nl_model_flops: 3x forward, less the input gradient of the first
 *   weight layer, which nobody needs); the share of peak divides the rate
 *   by nl_bench_peak_probe's. */
#ifndef NL_BENCH_H
#define NL_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "arch/kinds.h"
#include "backend/backend.h"
#include "bench/fma_peak.h"
#include "log/host_facts.h"
#include "model/spec.h"
#include "plan/plan.h"

#define NL_BENCH_MAX_REPS 1000

typedef struct {
    int reps;     /* timed repetitions; the median is reported (1..NL_BENCH_MAX_REPS) */
    int warmup;   /* untimed calls first */
    double rep_s; /* a repetition repeats the call until it lasts at least this long */
    /* time by the process's CPU time (all its threads) instead of the wall
     * clock: with one thread on a host shared with other work, it leaves
     * out the time the other processes took from it */
    bool cpu_clock;
} nl_bench_timing;

typedef struct {
    double median_s; /* per call: the median over repetitions of (repetition time / calls) */
    double min_s;    /* per call, the fastest repetition */
    double mean_s;   /* per call, all repetitions' time over all their calls: what a
                      * run's span measures, slow stretches of a busy machine included */
    long calls;      /* calls per repetition */
    int reps;
} nl_bench_time;

/* monotonic seconds */
double nl_bench_now(void);
/* times fn(ctx) as the timing says */
void nl_bench_run(void (*fn)(void *ctx), void *ctx, const nl_bench_timing *t, nl_bench_time *out);

/* ---- references ---- */

/* a plain float copy loop over `count` elements on `threads` OpenMP threads
 * (8 bytes moved per element) */
nl_code nl_bench_copy(size_t count, int threads, const nl_bench_timing *t, nl_bench_time *out,
                      nl_error *err);

/* row-major C[m, n] = op(A)[m, k] op(B)[k, n] with beta = 0 */
typedef struct {
    int m, n, k;
    bool ta, tb;
} nl_gemm;

double nl_gemm_flops(const nl_gemm *g, int count); /* 2*m*n*k summed */
/* "8x256x784NT+256x784x8TN" */
const char *nl_gemm_describe(const nl_gemm *g, int count, char *buf, size_t size);
/* one call = the `count` cblas_sgemm calls back to back, on fresh random operands */
nl_code nl_bench_sgemm(const nl_gemm *g, int count, const nl_bench_timing *t, nl_bench_time *out,
                       nl_error *err);

/* ---- normalizers ---- */

typedef enum {
    NL_BENCH_FWD_TRAIN, /* batch statistics (running statistics updated) */
    NL_BENCH_FWD_EVAL,  /* running statistics where the normalizer has them */
    NL_BENCH_BWD,       /* backward alone, after one training forward */
    NL_BENCH_FWD_BWD,   /* training forward, then backward */
    NL_BENCH_NORM_MODES
} nl_bench_norm_mode;

const char *nl_bench_norm_mode_name(int mode); /* fwd_train, fwd_eval, bwd, fwd_bwd */
double nl_bench_norm_mode_bytes(int mode);     /* minimal traffic per element: 8, 8, 12, 20 */

typedef struct {
    nl_norm_kind kind;
    int groups;     /* group norm's group count */
    int n, c, h, w; /* features: (N, C) with h = w = 1 */
    bool features;
} nl_bench_norm_case;

/* builds the normalizer (affine, PyTorch defaults otherwise) through
 * nl_model_build_graph on random data and times every mode */
nl_code nl_bench_norm(nl_backend *be, const nl_bench_norm_case *nc, const nl_bench_timing *t,
                      nl_bench_time out[NL_BENCH_NORM_MODES], nl_error *err);

/* ---- conv and linear layers ---- */

typedef struct {
    char name[64]; /* the layer's name in its model: conv1, fc2, classifier */
    bool conv;     /* else linear */
    int n;         /* batch */
    int in_c, in_h, in_w; /* linear: in_c features, h = w = 1 */
    int out_c, out_h, out_w;
    int kernel, stride, pad;
    bool bias;
    bool input_grad; /* backward computes the input gradient */
} nl_bench_layer_case;

/* the weight layers (conv2d, linear) of the model `spec` builds, in order, at
 * batch n; *count <= max */
nl_code nl_bench_model_layers(nl_backend *be, const nl_model_spec *spec, int n,
                              nl_bench_layer_case *out, int max, int *count, nl_error *err);

/* The layer's work as whole-batch GEMMs (the lowering of the math, not
 * necessarily the calls the backend makes: the CPU convolution runs one GEMM
 * per sample on im2col columns):
 *   linear  fwd  y[n,out] = x[n,in] W^T            (n x out x in, NT)
 *           bwd  dx[n,in] = dy W                   (n x in x out, NN), input_grad only
 *                dW[out,in] = dy^T x               (out x in x n, TN)
 *   conv    fwd  y[oc,nP] = W[oc,R] col[R,nP]      (oc x nP x R, NN), R = ic*k*k, P = oh*ow
 *           bwd  dW[oc,R] = dy col^T               (oc x R x nP, NT)
 *                dcol[R,nP] = W^T dy               (R x nP x oc, TN), input_grad only
 * Returns the number of backward GEMMs (1 or 2). */
int nl_bench_layer_gemms(const nl_bench_layer_case *lc, nl_gemm *fwd, nl_gemm bwd[2]);

typedef struct {
    nl_bench_time fwd, bwd;
    double fwd_flops, bwd_flops; /* per call */
} nl_bench_layer_result;

/* builds the layer alone through nl_model_build_graph and times forward and
 * backward (backward alone, repeated after one forward) */
nl_code nl_bench_layer(nl_backend *be, const nl_bench_layer_case *lc, const nl_bench_timing *t,
                       nl_bench_layer_result *out, nl_error *err);

/* ---- training ---- */

/* the benchmark models on Fashion-MNIST-shaped input (1x28x28, 10 classes):
 * mlp 784-256-256-256-10; cnn conv3x3(1->32)-norm-relu-maxpool,
 * conv3x3(32->64)-norm-relu-maxpool, linear(64*7*7->10); the normalizer
 * before the activation, a layer feeding a normalizer with a shift has no
 * bias */
void nl_bench_model_spec(nl_arch arch, nl_norm_kind norm, int groups, nl_model_spec *spec);

typedef struct {
    nl_bench_time step;   /* one training step */
    double samples_per_s; /* batch / median step time */
    double tokens_per_s;  /* LM: samples_per_s x context; else 0 */
    double fwd_flops;     /* per sample, nl_model_forward_flops */
    double train_flops;   /* per sample, forward + backward (nl_model_flops) */
    double mean_loss;     /* over the timed steps: a check that nothing diverged */
    size_t params;
} nl_bench_train_result;

/* Times the real training step (nl_model_load_batch, nl_model_forward,
 * nl_model_backward, nl_sgd_step with momentum 0.9 at `lr`; a vit: nl_adamw_step
 * with PyTorch's AdamW defaults, as the transformers train) on a pool of
 * random samples generated once, cycled batch by batch. A step is the timed
 * call. */
nl_code nl_bench_train(nl_backend *be, const nl_model_spec *spec, int batch, float lr,
                       const nl_bench_timing *t, nl_bench_train_result *out, nl_error *err);
/* The model a training bench times at `batch` (spec with ghost batch
 * norm's bench virtual batch where it names none) and the run it is
 * planned for: the options' checks plan that graph (nl_plan_graph) and
 * the timed step allocates it, so the recipe runs once. */
void nl_bench_spec_at(const nl_model_spec *spec, int batch, nl_model_spec *out);
nl_plan_run nl_bench_plan_run(const nl_model_spec *spec, int batch);

/* the LM bench model: a decoder-only transformer (arch lm) over random
 * token windows; tied embeddings, GELU erf, MLP ratio 4, the normalizer at
 * `placement` with PyTorch's defaults. The default (d_model 128, 4 heads, 5
 * layers, context 64, vocabulary 256) has about 1M parameters, as
 * configs/lm-synthetic.yaml. */
typedef struct {
    int d_model, heads, layers, context, vocab;
    nl_placement placement;
} nl_bench_lm_case;

void nl_bench_lm_defaults(nl_bench_lm_case *lc);
/* the ViT bench model: the lm case's blocks (d_model, heads, layers,
 * placement; MLP ratio 4, GELU erf) over 1x28x28 images in patch x patch
 * patches, a class token, 10 classes; about 1M parameters by default */
void nl_bench_vit_spec(const nl_bench_lm_case *lc, int patch, nl_norm_kind norm, int groups,
                       nl_model_spec *spec);
void nl_bench_lm_spec(const nl_bench_lm_case *lc, nl_norm_kind norm, int groups,
                      nl_model_spec *spec);

/* Times the real LM training step (nl_model_load_tokens, nl_model_forward,
 * nl_model_backward, nl_adamw_step with PyTorch's AdamW defaults at `lr`) on
 * a pool of random windows of `context` token ids with random targets,
 * generated once and cycled; `batch` windows per step. samples_per_s counts
 * windows, tokens_per_s tokens (windows x context). */
nl_code nl_bench_train_lm(nl_backend *be, const nl_model_spec *spec, int batch, float lr,
                          const nl_bench_timing *t, nl_bench_train_result *out, nl_error *err);

/* The recurrent bench model: arch rnn (sequential Fashion-MNIST) over
 * random N(0,1) inputs of `steps` rows of NL_BENCH_RNN_INPUTS values, read
 * one row per step (28 steps: a Fashion-MNIST image), `layers` stacked
 * cells of `hidden` units, a linear classifier to 10 classes on the top
 * layer's last hidden state. nl_bench_train times its step with AdamW
 * (PyTorch's defaults), as the recurrent configs train. A normalizer
 * that adds a layer goes inside the cell (placement in_cell, as
 * configs/lstm-ln-fashion.yaml); none is the plain fused cell. */
#define NL_BENCH_RNN_INPUTS 28
typedef struct {
    nl_rnn_cell cell;
    nl_norm_kind norm;
    int hidden, layers, steps;
} nl_bench_rnn_case;

void nl_bench_rnn_spec(const nl_bench_rnn_case *rc, nl_model_spec *spec);

/* What a benchmark row must say about the machine it ran on: speeds differ
 * between CPUs more than between commits. */
typedef struct {
    char cpu_model[128];     /* /proc/cpuinfo's model name */
    char isa[160];           /* the CPU's vector extensions that matter here, '+'-joined */
    char build_isa[32];      /* the widest the binary was compiled for (-march) */
    int l1d_kib, l2_kib, l3_kib; /* one core's L1d and L2, one L3 instance; 0 unknown */
    char openblas_core[64];  /* the kernel set OpenBLAS picked at run time */
} nl_bench_machine;

/* this machine; _of_host: what a row would say on the host `host` describes
 * (its build_isa and openblas_core left empty: they are this binary's) */
void nl_bench_machine_describe(nl_bench_machine *m);
void nl_bench_machine_of_host(const nl_host_facts *host, nl_bench_machine *m);

/* The machine's single-precision peaks as the bench measures them: the
 * core's FMA peak (fma_peak.h), what a share of peak divides by, and beside
 * it sgemm (OpenBLAS, row-major, NN) on a size^3 square, the best of a few
 * calls after one warm-up: what a library reaches on this machine now. Both
 * on one thread and on `threads`; 2 FLOPs per multiply-add. Measured, not
 * the datasheet's. Well under a second on a current x86 core. */
#define NL_BENCH_PEAK_SIZE 1024
#define NL_BENCH_PEAK_CALLS 3
typedef struct {
    int size;          /* M = N = K */
    int threads;       /* the second probe's threads */
    double gflops_one; /* one thread, the best call */
    double gflops_all; /* `threads` threads, the best call */
    nl_bench_time time_one, time_all; /* the calls' timings (min_s: the best) */
    nl_fma_peak fma;
} nl_bench_peak;

/* OpenBLAS's thread count is restored after */
nl_code nl_bench_peak_probe(int threads, nl_bench_peak *out, nl_error *err);

#endif
