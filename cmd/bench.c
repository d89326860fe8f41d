/* normlab bench: how fast the engine runs, against this machine's own
 * references measured in the same process (a streaming copy for the
 * normalizers, sgemm for conv/linear layers and training). A table goes to
 * stdout, one CSV row per measurement to --csv; experiments/bench/ holds the
 * PyTorch side, which writes the same CSV columns, and the comparison. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/registry.h"
#include "base/rng.h"
#include "backend.h"
#include "bench/bench.h"
#include "cmd.h"
#include "log/files.h"
#include "model/fold.h"
#include "model/model.h"
#include "norm/registry.h"
#include "version_git.h"

#define MAX_LIST 16
#define TRAIN_LR 0.01f
/* PyTorch's AdamW default */
#define LM_LR 0.001f

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab bench [--kernels] [--training] [--eval] [--threads N] [--busy N] [--reps K] [--warmup K]\n"
            "                     [--cpu-clock]\n"
            "                     [--csv FILE] [--quick] [--model mlp|cnn|lm|vit|lstm|gru] [--norm LIST]\n"
            "                     [--batch LIST] [--groups G] [--d-model D] [--heads H]\n"
            "                     [--layers L] [--context T] [--vocab V] [--placement P]\n"
            "                     [--patch P] [--hidden LIST] [--precision fp32|bf16|fp16]\n\n"
            "Measures the CPU engine (both parts unless one is named):\n"
            "  --kernels   every normalizer (normlab list) on (32,64,28,28),\n"
            "              (128,256,14,14) and features (256,1024): forward train, forward eval,\n"
            "              backward, forward+backward, as effective GB/s against an OpenMP\n"
            "              float copy of the same size (minimal traffic counted: forward 8\n"
            "              B/elem, backward 12, forward+backward 20); the bench models' conv\n"
            "              and linear layers, forward and backward, as GFLOP/s against\n"
            "              cblas_sgemm on the same GEMM shapes and on a square 1024\n"
            "  --training  samples/s of the training step (load batch, forward, backward, SGD\n"
            "              momentum 0.9) on random 1x28x28 data, 10 classes: mlp 784-256-256-\n"
            "              256-10 and cnn conv(32)-pool-conv(64)-pool-linear, against the\n"
            "              sgemm-bound ceiling (sgemm 1024 GFLOP/s / FLOPs per sample); with\n"
            "              --model lm, tokens/s of the transformer LM's step (load tokens,\n"
            "              forward, backward, AdamW lr 0.001) on random token windows; with\n"
            "              --model vit, images/s of the ViT's step (the lm's blocks on random\n"
            "              1x28x28 images in patches, a class token, 10 classes, AdamW lr 0.001);\n"
            "              with --model lstm or gru (a recurrent cell), sequences/s of the rnn's\n"
            "              step (sequential Fashion-MNIST: forward over T steps of 28 random\n"
            "              N(0,1) inputs, a classifier on the last state, backpropagation\n"
            "              through time, AdamW lr 0.001)\n"
            "  --eval      samples/s of the eval-mode forward (load batch, forward through the\n"
            "              loss) of the mlp and cnn with batch norm, unfolded and with batch\n"
            "              norm folded into the layer before it (normlab eval --fold-bn); only\n"
            "              when named\n\n"
            "options:\n"
            "  --threads N   OpenMP (and OpenBLAS) threads (default 0: as a run picks them, the\n"
            "                cores other processes leave free)\n"
            "  --busy N      keep N processes spinning beside the measurement (started before\n"
            "                the threads are picked), to measure a shared machine\n"
            "  --reps K      timed repetitions, median reported (default 7 kernels, 5 training)\n"
            "  --warmup K    untimed calls or steps first (default 3 kernels, 5 training)\n"
            "  --csv FILE    also write one row per measurement\n"
            "  --precision P the product ops' precision (train.precision; default fp32): every\n"
            "                model the bench builds takes it; rows carry +precision=P in\n"
            "                their setting\n"
            "  --quick       a smoke run: 2 repetitions, 1 warm-up, short repetitions\n"
            "  --cpu-clock   time by the process's CPU time, not the wall clock: with one\n"
            "                thread on a shared machine it leaves out what other processes\n"
            "                took (the setting column ends +clock=cpu)\n"
            "  --model M     mlp, cnn, lm, vit or a recurrent cell (lstm, gru) (repeatable or\n"
            "                comma-separated; default mlp,cnn); for the normalizer kernels mlp\n"
            "                picks the feature shape, cnn the images; the others are timed in\n"
            "                training only\n"
            "  --norm LIST   comma-separated normalizers (default all; those for images\n"
            "                only on the cnn):");
    for (int k = 0; k < NL_NORM_COUNT; k++)
        fprintf(out, "%s %s", k ? "," : "", nl_name_of(&nl_norm_names, k));
    fprintf(out, "\n");
    fprintf(out,
            "  --batch LIST  training and layer batch sizes (default 2,8,32,128; lm: windows\n"
            "                per step, vit: images per step, default 1,4,16,64; lstm, gru:\n"
            "                sequences per step, default 1,8,64)\n"
            "  --groups G    group norm's group count (default 8, on every shape)\n"
            "  the lm (defaults: about 1M parameters, as configs/lm-synthetic.yaml):\n"
            "  --d-model D   width (default 128)        --heads H    attention heads (default 4)\n"
            "  --layers L    blocks (default 5)         --context T  tokens per window (default 64)\n"
            "  --vocab V     token ids (default 256)    --placement P  pre, post, peri or none\n"
            "                (default pre); --norm defaults to every normalizer the lm takes\n"
            "  the vit: the lm's --d-model, --heads, --layers and --placement, and\n"
            "  --patch P     the patches' side, dividing 28 (default 7: 16 tokens)\n"
            "  the lstm and gru: --layers (default 1), --context T: the steps (default 28),\n"
            "  --hidden LIST  hidden sizes (default 128,256,512), and --norm LIST: none (the\n"
            "                plain cell, the default) or a normalizer inside the cell (placement\n"
            "                in_cell: layer, rms, batch; batch needs --batch 2 or more)\n\n"
            "Numbers from a loaded machine are noisy: compare medians of quiet runs.\n\n"
            "normlab bench --run CONFIG [--torch] [--step] ... times real runs of a config,\n"
            "end to end, against the same training in PyTorch (normlab bench --run --help).\n");
}

/* ---- options ---- */

typedef struct {
    bool kernels, training, eval, quick, cpu_clock;
    int threads, busy, reps, warmup, groups;
    bool reps_set, warmup_set;
    const char *csv;
    nl_precision precision; /* the product ops' (train.precision) */
    bool model[NL_ARCH_COUNT];
    bool norm[NL_NORM_COUNT];
    int batches[MAX_LIST], n_batches;
    bool lm_default_batches; /* no --batch: the lm takes its own list */
    bool context_set, layers_set; /* else the recurrent bench's own defaults */
    bool cell[NL_RNN_COUNT];      /* --model lstm, gru: the recurrent bench's cells */
    /* their normalizers: --norm inside the cell; without it, none alone */
    bool rnn_norm[NL_NORM_COUNT];
    int hiddens[MAX_LIST], n_hiddens;
    nl_bench_lm_case lm;
    int patch; /* the vit's */
    /* the transformers' benches: --norm less what each does not take */
    bool transformer_norm[NL_ARCH_COUNT][NL_NORM_COUNT];
} options;

static int parse_int(const char *what, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return nl_cmd_usage_error("bench", "%s: '%s' is not a number in %d..%d", what, v, lo, hi);
    *out = (int)x;
    return 0;
}

/* "a,b,c" -> each item through the table */
static int parse_names(const char *what, const char *v, const nl_name_table *table, bool *set,
                       int limit)
{
    char buf[256];
    nl_copy_string(buf, sizeof buf, v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = nl_name_lookup(table, tok);
        if (k < 0 || k >= limit) {
            char choices[128];
            const char *guess = nl_closest_in_table(table, tok);
            return nl_cmd_usage_error("bench", "%s: '%s' is not one of %s%s%s%s", what, tok,
                                      nl_name_choices(table, choices, sizeof choices),
                                      guess ? " (did you mean '" : "", guess ? guess : "",
                                      guess ? "'?)" : "");
        }
        set[k] = true;
    }
    return 0;
}

/* where the results go (defined with the writers below) */
typedef struct output output;

static void bench_training_lm(output *out, const options *o, nl_backend *be);
static void bench_training_vit(output *out, const options *o, nl_backend *be);

/* the architectures with a training bench of their own, beside the ones
 * whose rows say bench_kernels (which share bench_training) */
static const struct {
    nl_arch arch;
    void (*run)(output *out, const options *o, nl_backend *be);
} own_training_benches[] = {
    {NL_ARCH_LM, bench_training_lm},
    {NL_ARCH_VIT, bench_training_vit},
};
#define N_OWN_TRAINING_BENCHES (int)(sizeof own_training_benches / sizeof own_training_benches[0])

static bool transformer_bench(nl_arch arch)
{
    for (int i = 0; i < N_OWN_TRAINING_BENCHES; i++)
        if (own_training_benches[i].arch == arch)
            return true;
    return false;
}

static bool bench_model(nl_arch arch)
{
    return nl_arch_info_of(arch)->bench_kernels || transformer_bench(arch);
}

/* "--model a,b": architectures with a bench (model[]) and recurrent cells
 * (cell[]), which the recurrent bench builds as arch rnn */
static int parse_models(const char *v, options *o)
{
    char buf[256];
    nl_copy_string(buf, sizeof buf, v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const int a = nl_name_lookup(&nl_arch_names, tok);
        const int c = nl_name_lookup(&nl_rnn_cell_names, tok);
        if (a >= 0 && bench_model((nl_arch)a)) {
            o->model[a] = true;
        } else if (c >= 0) {
            o->cell[c] = true;
        } else {
            char accepted[256] = "";
            size_t used = 0;
            for (int k = 0; k < NL_ARCH_COUNT && used < sizeof accepted; k++)
                if (bench_model((nl_arch)k))
                    used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s",
                                             used ? ", " : "", nl_name_of(&nl_arch_names, k));
            for (int k = 0; k < NL_RNN_COUNT && used < sizeof accepted; k++)
                used += (size_t)snprintf(accepted + used, sizeof accepted - used, ", %s",
                                         nl_name_of(&nl_rnn_cell_names, k));
            return nl_cmd_usage_error("bench", "--model: '%s' is not a bench model; accepted: %s",
                                      tok, accepted);
        }
    }
    return 0;
}

static bool any_cell(const options *o)
{
    for (int c = 0; c < NL_RNN_COUNT; c++)
        if (o->cell[c])
            return true;
    return false;
}

/* the bench's transformer (arch lm or vit) with normalizer k */
static void transformer_spec(const options *o, nl_arch arch, int k, nl_model_spec *spec)
{
    if (arch == NL_ARCH_VIT)
        nl_bench_vit_spec(&o->lm, o->patch, (nl_norm_kind)k, o->groups, spec);
    else
        nl_bench_lm_spec(&o->lm, (nl_norm_kind)k, o->groups, spec);
}

/* whether --model names an architecture whose kernels the bench times
 * (its row says bench_kernels); ndim > 0: one whose normalizers see that
 * layout (2 features, 4 images) */
static bool kernel_model(const options *o, int ndim)
{
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *row = nl_arch_info_of((nl_arch)a);
        if (o->model[a] && row->bench_kernels && (ndim == 0 || row->norm_ndim == ndim))
            return true;
    }
    return false;
}

/* The lm's (or vit's) options, checked by building the model on paper
 * (nl_model_check) for each normalizer before anything runs or is written.
 * Without --norm, the normalizers the model takes (into takes); a named one
 * it refuses is an error. */
static int check_transformer(options *o, nl_arch arch, bool any_norm, bool *takes)
{
    const char *model = nl_name_of(&nl_arch_names, arch);
    nl_error err = {0};
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        takes[k] = o->norm[k];
        if (!o->norm[k])
            continue;
        nl_model_spec spec;
        transformer_spec(o, arch, k, &spec);
        if (nl_model_check(&spec, 1, &err) == NL_OK)
            continue;
        if (!any_norm) {
            takes[k] = false;
            continue;
        }
        return nl_cmd_usage_error("bench", "--model %s with --norm %s (d_model %d, heads %d, "
                                  "layers %d, context %d, vocab %d, patch %d, placement %s): %s",
                                  model, nl_name_of(&nl_norm_names, k), o->lm.d_model,
                                  o->lm.heads, o->lm.layers, o->lm.context, o->lm.vocab, o->patch,
                                  nl_name_of(&nl_placement_names, o->lm.placement), err.msg);
    }
    for (int k = 0; k < NL_NORM_COUNT; k++)
        if (takes[k])
            return 0;
    return nl_cmd_usage_error("bench", "--model %s: no normalizer builds: %s", model, err.msg);
}

/* the recurrent bench's model: --layers and --context (the steps) where
 * given, else one layer over a Fashion-MNIST image's 28 rows */
static nl_bench_rnn_case rnn_case(const options *o, nl_rnn_cell cell, nl_norm_kind norm,
                                  int hidden)
{
    return (nl_bench_rnn_case){.cell = cell, .norm = norm, .hidden = hidden,
                               .layers = o->layers_set ? o->lm.layers : 1,
                               .steps = o->context_set ? o->lm.context : 28};
}

/* the recurrent bench's batches: --batch, else 1, 8 and 64 */
static const int *rnn_batch_list(const options *o, int *n)
{
    static const int def[] = {1, 8, 64};
    *n = o->lm_default_batches ? (int)(sizeof def / sizeof def[0]) : o->n_batches;
    return o->lm_default_batches ? def : o->batches;
}

static int parse_options(int argc, char **argv, options *o, bool *help)
{
    memset(o, 0, sizeof *o);
    o->groups = 8;
    nl_bench_lm_defaults(&o->lm);
    o->patch = 7;
    bool any_model = false, any_norm = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nl_cmd_is_help(a)) {
            *help = true;
            return 0;
        } else if (strcmp(a, "--kernels") == 0) {
            o->kernels = true;
        } else if (strcmp(a, "--training") == 0) {
            o->training = true;
        } else if (strcmp(a, "--eval") == 0) {
            o->eval = true;
        } else if (strcmp(a, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(a, "--cpu-clock") == 0) {
            o->cpu_clock = true;
        } else if (strcmp(a, "--threads") == 0 || strcmp(a, "--busy") == 0 ||
                   strcmp(a, "--reps") == 0 ||
                   strcmp(a, "--warmup") == 0 || strcmp(a, "--csv") == 0 ||
                   strcmp(a, "--model") == 0 || strcmp(a, "--norm") == 0 ||
                   strcmp(a, "--batch") == 0 || strcmp(a, "--groups") == 0 ||
                   strcmp(a, "--d-model") == 0 || strcmp(a, "--heads") == 0 ||
                   strcmp(a, "--layers") == 0 || strcmp(a, "--context") == 0 ||
                   strcmp(a, "--vocab") == 0 || strcmp(a, "--placement") == 0 ||
                   strcmp(a, "--patch") == 0 || strcmp(a, "--hidden") == 0 ||
                   strcmp(a, "--precision") == 0) {
            if (i + 1 >= argc)
                return nl_cmd_usage_error("bench", "%s needs a value", a);
            const char *v = argv[++i];
            int rc = 0;
            if (strcmp(a, "--threads") == 0) {
                rc = parse_int(a, v, 0, 1024, &o->threads);
            } else if (strcmp(a, "--busy") == 0) {
                rc = parse_int(a, v, 0, 1024, &o->busy);
            } else if (strcmp(a, "--reps") == 0) {
                rc = parse_int(a, v, 1, NL_BENCH_MAX_REPS, &o->reps);
                o->reps_set = true;
            } else if (strcmp(a, "--warmup") == 0) {
                rc = parse_int(a, v, 0, 100000, &o->warmup);
                o->warmup_set = true;
            } else if (strcmp(a, "--groups") == 0) {
                rc = parse_int(a, v, 1, 1 << 20, &o->groups);
            } else if (strcmp(a, "--d-model") == 0) {
                rc = parse_int(a, v, 1, 1 << 14, &o->lm.d_model);
            } else if (strcmp(a, "--heads") == 0) {
                rc = parse_int(a, v, 1, 1 << 14, &o->lm.heads);
            } else if (strcmp(a, "--layers") == 0) {
                rc = parse_int(a, v, 1, 1024, &o->lm.layers);
                o->layers_set = true;
            } else if (strcmp(a, "--context") == 0) {
                rc = parse_int(a, v, 1, 1 << 16, &o->lm.context);
                o->context_set = true;
            } else if (strcmp(a, "--vocab") == 0) {
                rc = parse_int(a, v, 2, 1 << 20, &o->lm.vocab);
            } else if (strcmp(a, "--patch") == 0) {
                rc = parse_int(a, v, 1, 28, &o->patch);
            } else if (strcmp(a, "--placement") == 0) {
                bool place[NL_PLACE_COUNT] = {false};
                rc = parse_names(a, v, &nl_placement_names, place, NL_PLACE_COUNT);
                for (int k = 0; k < NL_PLACE_COUNT; k++)
                    if (place[k])
                        o->lm.placement = (nl_placement)k;
            } else if (strcmp(a, "--csv") == 0) {
                o->csv = v;
            } else if (strcmp(a, "--precision") == 0) {
                bool chosen[NL_PRECISION_COUNT] = {false};
                rc = parse_names(a, v, &nl_precision_names, chosen, NL_PRECISION_COUNT);
                for (int k = 0; k < NL_PRECISION_COUNT; k++)
                    if (chosen[k])
                        o->precision = (nl_precision)k;
            } else if (strcmp(a, "--model") == 0) {
                rc = parse_models(v, o);
                any_model = true;
            } else if (strcmp(a, "--norm") == 0) {
                rc = parse_names(a, v, &nl_norm_names, o->norm, NL_NORM_COUNT);
                any_norm = true;
            } else {
                const bool hidden = strcmp(a, "--hidden") == 0;
                int *list = hidden ? o->hiddens : o->batches;
                int *count = hidden ? &o->n_hiddens : &o->n_batches;
                char buf[256];
                nl_copy_string(buf, sizeof buf, v);
                for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && !rc;
                     tok = strtok_r(NULL, ",", &save)) {
                    if (*count == MAX_LIST)
                        return nl_cmd_usage_error("bench", "%s: at most %d sizes", a, MAX_LIST);
                    rc = parse_int(a, tok, 1, 1 << 16, &list[(*count)++]);
                }
            }
            if (rc)
                return rc;
        } else {
            return nl_cmd_usage_error("bench", "unexpected argument '%s'", a);
        }
    }
    if (!any_model)
        for (int a = 0; a < NL_ARCH_COUNT; a++)
            o->model[a] = nl_arch_info_of((nl_arch)a)->bench_kernels;
    if (!o->kernels && !o->training && !o->eval) {
        /* the lm and vit have no kernel section of their own */
        o->kernels = kernel_model(o, 0);
        o->training = true;
    }
    if (!any_norm)
        for (int k = 0; k < NL_NORM_COUNT; k++)
            o->norm[k] = true;
    if (o->n_batches == 0) {
        const int def[] = {2, 8, 32, 128};
        for (int i = 0; i < 4; i++)
            o->batches[o->n_batches++] = def[i];
        o->lm_default_batches = true;
    }
    if (o->n_hiddens == 0) {
        const int def[] = {128, 256, 512};
        for (int i = 0; i < 3; i++)
            o->hiddens[o->n_hiddens++] = def[i];
    }
    int rc = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++)
        o->rnn_norm[k] = any_norm ? o->norm[k] : k == NL_NORM_NONE;
    /* every model the recurrent bench will build, at every batch it will
     * run (the cell's batch norm refuses a batch of 1) */
    int n_rnn_batches = 0;
    const int *rnn_batches = rnn_batch_list(o, &n_rnn_batches);
    for (int c = 0; c < NL_RNN_COUNT && !rc; c++)
        for (int k = 0; k < NL_NORM_COUNT && o->cell[c] && !rc; k++)
            for (int h = 0; h < o->n_hiddens && o->rnn_norm[k] && !rc; h++)
                for (int bi = 0; bi < n_rnn_batches && !rc; bi++) {
                    nl_model_spec spec;
                    nl_bench_rnn_case rnn =
                        rnn_case(o, (nl_rnn_cell)c, (nl_norm_kind)k, o->hiddens[h]);
                    nl_bench_rnn_spec(&rnn, &spec);
                    nl_error err = {0};
                    if (nl_model_check(&spec, rnn_batches[bi], &err) != NL_OK)
                        rc = nl_cmd_usage_error(
                            "bench", "--model %s --norm %s (hidden %d, layers %d, %d steps, "
                            "batch %d): %s", nl_name_of(&nl_rnn_cell_names, c),
                            nl_name_of(&nl_norm_names, k), rnn.hidden, rnn.layers, rnn.steps,
                            rnn_batches[bi], err.msg);
                }
    for (int a = 0; a < NL_ARCH_COUNT && !rc; a++)
        if (o->model[a] && transformer_bench((nl_arch)a))
            rc = check_transformer(o, (nl_arch)a, any_norm, o->transformer_norm[a]);
    return rc;
}

/* ---- output: one row type for every section ---- */

static const char *const columns[] = {
    "section", "impl", "setting", "threads", "model", "norm", "groups", "batch", "kernel",
    "shape", "mode", "reps", "calls", "median_us", "min_us", "samples_per_s", "median_ms",
    "flops", "gflops", "ref_gflops", "square_gflops", "ceiling_samples_per_s",
    "bytes_per_elem", "gbps", "copy_gbps", "fraction", "busy", "flush_subnormals", "cpu_model",
    "isa", "build_isa", "l1d_kib", "l2_kib", "l3_kib", "openblas_core", "cpu_kernels",
};
enum { N_COLUMNS = sizeof columns / sizeof columns[0] };

typedef struct {
    const char *section, *model, *norm, *kernel, *shape, *mode;
    int groups, batch; /* 0: empty */
    const nl_bench_time *time;
    double samples_per_s, median_ms, flops, gflops, ref_gflops, square_gflops, ceiling,
        bytes_per_elem, gbps, copy_gbps, fraction; /* NAN: empty */
} row;

static row blank_row(const char *section)
{
    return (row){.section = section, .samples_per_s = NAN, .median_ms = NAN, .flops = NAN,
                 .gflops = NAN, .ref_gflops = NAN, .square_gflops = NAN, .ceiling = NAN,
                 .bytes_per_elem = NAN, .gbps = NAN, .copy_gbps = NAN, .fraction = NAN};
}

struct output {
    nl_csv csv;
    bool open;
    char setting[256];
    int threads, busy;
    bool flush_subnormals;
    const char *cpu_kernels; /* the kernel set the backend runs */
    nl_bench_machine machine;
    int failures;
};

static const char *num(char *buf, size_t size, double v)
{
    if (isnan(v))
        buf[0] = '\0';
    else
        snprintf(buf, size, "%.9g", v);
    return buf;
}

static const char *inum(char *buf, size_t size, long v)
{
    if (v <= 0)
        buf[0] = '\0';
    else
        snprintf(buf, size, "%ld", v);
    return buf;
}

static void emit_csv(output *out, const row *r)
{
    if (!out->open)
        return;
    char b[N_COLUMNS][48];
    const char *f[N_COLUMNS];
    const nl_bench_time *t = r->time;
    int i = 0;
    f[i++] = r->section;
    f[i++] = "normlab";
    f[i++] = out->setting;
    f[i] = inum(b[i], sizeof b[i], out->threads), i++;
    f[i++] = r->model ? r->model : "";
    f[i++] = r->norm ? r->norm : "";
    f[i] = inum(b[i], sizeof b[i], r->groups), i++;
    f[i] = inum(b[i], sizeof b[i], r->batch), i++;
    f[i++] = r->kernel ? r->kernel : "";
    f[i++] = r->shape ? r->shape : "";
    f[i++] = r->mode ? r->mode : "";
    f[i] = inum(b[i], sizeof b[i], t ? t->reps : 0), i++;
    f[i] = inum(b[i], sizeof b[i], t ? t->calls : 0), i++;
    f[i] = num(b[i], sizeof b[i], t ? t->median_s * 1e6 : NAN), i++;
    f[i] = num(b[i], sizeof b[i], t ? t->min_s * 1e6 : NAN), i++;
    const double v[] = {r->samples_per_s, r->median_ms, r->flops, r->gflops, r->ref_gflops,
                        r->square_gflops, r->ceiling, r->bytes_per_elem, r->gbps, r->copy_gbps,
                        r->fraction};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++, i++)
        f[i] = num(b[i], sizeof b[i], v[k]);
    const nl_bench_machine *m = &out->machine;
    snprintf(b[i], sizeof b[i], "%d", out->busy), f[i] = b[i], i++;
    f[i++] = out->flush_subnormals ? "true" : "false";
    f[i++] = m->cpu_model;
    f[i++] = m->isa;
    f[i++] = m->build_isa;
    f[i] = inum(b[i], sizeof b[i], m->l1d_kib), i++;
    f[i] = inum(b[i], sizeof b[i], m->l2_kib), i++;
    f[i] = inum(b[i], sizeof b[i], m->l3_kib), i++;
    f[i++] = m->openblas_core;
    f[i++] = out->cpu_kernels;
    nl_error err = {0};
    if (nl_csv_row(&out->csv, f, &err) != NL_OK) {
        nl_cmd_report("bench", &err);
        out->failures++;
        out->open = false;
    }
}

static void failed(output *out, const char *what, const nl_error *err)
{
    fprintf(stderr, "normlab bench: %s: %s\n", what, err->msg[0] ? err->msg : nl_code_name(err->code));
    out->failures++;
}

/* ---- sections ---- */

static nl_bench_timing kernel_timing(const options *o)
{
    nl_bench_timing t = {.reps = 7, .warmup = 3, .rep_s = 0.03};
    if (o->quick)
        t = (nl_bench_timing){.reps = 2, .warmup = 1, .rep_s = 0.002};
    t.cpu_clock = o->cpu_clock;
    if (o->reps_set)
        t.reps = o->reps;
    if (o->warmup_set)
        t.warmup = o->warmup;
    return t;
}

static nl_bench_timing train_timing(const options *o)
{
    nl_bench_timing t = {.reps = 5, .warmup = 5, .rep_s = 0.25};
    if (o->quick)
        t = (nl_bench_timing){.reps = 2, .warmup = 1, .rep_s = 0.01};
    t.cpu_clock = o->cpu_clock;
    if (o->reps_set)
        t.reps = o->reps;
    if (o->warmup_set)
        t.warmup = o->warmup;
    return t;
}

static double sgemm_square(output *out, const options *o)
{
    const nl_gemm sq = {.m = 1024, .n = 1024, .k = 1024};
    nl_bench_timing t = kernel_timing(o);
    nl_bench_time time;
    nl_error err = {0};
    if (nl_bench_sgemm(&sq, 1, &t, &time, &err) != NL_OK) {
        failed(out, "sgemm 1024", &err);
        return NAN;
    }
    const double gf = nl_gemm_flops(&sq, 1) / time.median_s / 1e9;
    printf("sgemm reference (cblas_sgemm, row-major, beta 0, 2*M*N*K FLOPs)\n");
    printf("  %-16s %4s %11s %9s\n", "M x N x K", "op", "median_us", "GFLOP/s");
    printf("  %-16s %4s %11.1f %9.1f\n\n", "1024x1024x1024", "NN", time.median_s * 1e6, gf);
    row r = blank_row("sgemm");
    r.kernel = "sgemm";
    r.shape = "1024x1024x1024";
    r.mode = "NN";
    r.time = &time;
    r.flops = nl_gemm_flops(&sq, 1);
    r.gflops = gf;
    emit_csv(out, &r);
    return gf;
}

typedef struct {
    int n, c, h, w;
    bool features;
} norm_shape;

/* whether normalizer kind k takes feature vectors (features) or images */
static bool uses_groups(int k)
{
    return (nl_norm_info_of((nl_norm_kind)k)->keys & NL_NORM_KEY_GROUPS) != 0;
}

/* "group(8)" for kinds with a group count, else the name */
static void norm_label(int k, int groups, char *label, size_t size)
{
    if (uses_groups(k))
        snprintf(label, size, "%s(%d)", nl_name_of(&nl_norm_names, k), groups);
    else
        nl_copy_string(label, size, nl_name_of(&nl_norm_names, k));
}

static void bench_norms(output *out, const options *o, nl_backend *be)
{
    const norm_shape shapes[] = {
        {32, 64, 28, 28, false}, {128, 256, 14, 14, false}, {256, 1024, 1, 1, true}};
    const nl_bench_timing t = kernel_timing(o);
    printf("normalizers: effective GB/s = minimal bytes / median time; minimal traffic counted:\n"
           "  fwd_train, fwd_eval 8 B/elem (read x, write y); bwd 12 B/elem (read x, dy; write\n"
           "  dx); fwd_bwd 20 B/elem. copy = OpenMP float copy loop over the same element count,\n"
           "  8 B/elem; fraction = GB/s / copy GB/s. group norm: %d groups; layer = one group\n"
           "  (per-channel affine); affine everywhere; batch norm eval uses running statistics.\n",
           o->groups);
    printf("  %-10s %-16s %-10s %11s %8s %9s %9s\n", "norm", "shape", "mode", "median_us", "GB/s",
           "copy GB/s", "fraction");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const norm_shape *sh = &shapes[s];
        if (!kernel_model(o, sh->features ? 2 : 4))
            continue;
        char shape[64];
        if (sh->features)
            snprintf(shape, sizeof shape, "%dx%d", sh->n, sh->c);
        else
            snprintf(shape, sizeof shape, "%dx%dx%dx%d", sh->n, sh->c, sh->h, sh->w);
        const size_t count = (size_t)sh->n * sh->c * sh->h * sh->w;
        nl_bench_time copy;
        nl_error err = {0};
        if (nl_bench_copy(count, be->threads, &t, &copy, &err) != NL_OK) {
            failed(out, "copy", &err);
            continue;
        }
        const double copy_gbps = 8.0 * (double)count / copy.median_s / 1e9;
        printf("  %-10s %-16s %-10s %11.1f %8.1f %9.1f %9s\n", "(copy)", shape, "copy",
               copy.median_s * 1e6, copy_gbps, copy_gbps, "");
        row r = blank_row("copy");
        r.kernel = "copy";
        r.shape = shape;
        r.mode = "copy";
        r.batch = sh->n;
        r.time = &copy;
        r.bytes_per_elem = 8.0;
        r.gbps = r.copy_gbps = copy_gbps;
        r.fraction = 1.0;
        emit_csv(out, &r);
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            const nl_norm_info *info = nl_norm_info_of((nl_norm_kind)k);
            if (!o->norm[k] || !info->adds_layer || !nl_norm_accepts(info, sh->features ? 2 : 4))
                continue;
            const nl_bench_norm_case nc = {.kind = (nl_norm_kind)k, .groups = o->groups, .n = sh->n,
                                           .c = sh->c, .h = sh->h, .w = sh->w,
                                           .features = sh->features};
            nl_bench_time times[NL_BENCH_NORM_MODES];
            const char *name = nl_name_of(&nl_norm_names, k);
            char kernel[32];
            snprintf(kernel, sizeof kernel, "%snorm", name);
            if (nl_bench_norm(be, &nc, &t, times, &err) != NL_OK) {
                char what[160];
                snprintf(what, sizeof what, "%s on %s", kernel, shape);
                failed(out, what, &err);
                nl_error_clear(&err);
                continue;
            }
            for (int mode = 0; mode < NL_BENCH_NORM_MODES; mode++) {
                const double bytes = nl_bench_norm_mode_bytes(mode);
                const double gbps = bytes * (double)count / times[mode].median_s / 1e9;
                char label[32];
                norm_label(k, o->groups, label, sizeof label);
                printf("  %-10s %-16s %-10s %11.1f %8.1f %9.1f %9.3f\n", label, shape,
                       nl_bench_norm_mode_name(mode), times[mode].median_s * 1e6, gbps, copy_gbps,
                       gbps / copy_gbps);
                r = blank_row("norm");
                r.norm = name;
                r.groups = uses_groups(k) ? o->groups : 0;
                r.batch = sh->n;
                r.kernel = kernel;
                r.shape = shape;
                r.mode = nl_bench_norm_mode_name(mode);
                r.time = &times[mode];
                r.bytes_per_elem = bytes;
                r.gbps = gbps;
                r.copy_gbps = copy_gbps;
                r.fraction = gbps / copy_gbps;
                emit_csv(out, &r);
            }
        }
    }
    printf("\n");
}

static void bench_layers(output *out, const options *o, nl_backend *be, double square)
{
    const nl_bench_timing t = kernel_timing(o);
    printf("conv and linear layers (the bench models' weight layers; conv/linear before a norm\n"
           "  have no bias, the classifier has one): GFLOP/s = 2*MACs / median time; bwd = dW,\n"
           "  plus dX where the layer passes a gradient on (not conv1/fc1: their input is the\n"
           "  data); sgemm = cblas_sgemm on the layer's whole-batch GEMM shapes (M x N x K, ops)\n"
           "  timed alone, square = 1024^3 (%.1f GFLOP/s); fraction = GFLOP/s / sgemm GFLOP/s.\n",
           square);
    printf("  %-5s %-11s %5s %-4s %-32s %11s %8s %8s %8s\n", "model", "layer", "batch", "mode",
           "GEMM shapes", "median_us", "GFLOP/s", "sgemm", "fraction");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        if (!o->model[a] || !nl_arch_info_of((nl_arch)a)->bench_kernels)
            continue;
        const char *model = nl_name_of(&nl_arch_names, a);
        nl_model_spec spec;
        /* with a normalizer: the layers before it have no bias, as in the norm runs */
        nl_bench_model_spec((nl_arch)a, NL_NORM_BATCH, o->groups, &spec);
        for (int bi = 0; bi < o->n_batches; bi++) {
            const int n = o->batches[bi];
            nl_bench_layer_case cases[32];
            int count = 0;
            nl_error err = {0};
            if (nl_bench_model_layers(be, &spec, n, cases, 32, &count, &err) != NL_OK) {
                failed(out, "layers", &err);
                continue;
            }
            for (int i = 0; i < count; i++) {
                const nl_bench_layer_case *lc = &cases[i];
                nl_bench_layer_result res;
                if (nl_bench_layer(be, lc, &t, &res, &err) != NL_OK) {
                    failed(out, lc->name, &err);
                    nl_error_clear(&err);
                    continue;
                }
                nl_gemm fwd, bwd[2];
                const int n_bwd = nl_bench_layer_gemms(lc, &fwd, bwd);
                for (int mode = 0; mode < 2; mode++) {
                    const nl_gemm *g = mode ? bwd : &fwd;
                    const int ng = mode ? n_bwd : 1;
                    nl_bench_time ref;
                    double ref_gf = NAN;
                    if (nl_bench_sgemm(g, ng, &t, &ref, &err) == NL_OK)
                        ref_gf = nl_gemm_flops(g, ng) / ref.median_s / 1e9;
                    else {
                        failed(out, "sgemm", &err);
                        nl_error_clear(&err);
                    }
                    const nl_bench_time *time = mode ? &res.bwd : &res.fwd;
                    const double flops = mode ? res.bwd_flops : res.fwd_flops;
                    const double gf = flops / time->median_s / 1e9;
                    char shapes[128];
                    nl_gemm_describe(g, ng, shapes, sizeof shapes);
                    printf("  %-5s %-11s %5d %-4s %-32s %11.1f %8.1f %8.1f %8.3f\n", model,
                           lc->name, n, mode ? "bwd" : "fwd", shapes, time->median_s * 1e6, gf,
                           ref_gf, gf / ref_gf);
                    row r = blank_row("layer");
                    r.model = model;
                    r.batch = n;
                    r.kernel = lc->name;
                    r.shape = shapes;
                    r.mode = mode ? "bwd" : "fwd";
                    r.time = time;
                    r.flops = flops;
                    r.gflops = gf;
                    r.ref_gflops = ref_gf;
                    r.square_gflops = square;
                    r.fraction = gf / ref_gf;
                    emit_csv(out, &r);
                }
            }
        }
    }
    printf("\n");
}

static void bench_training(output *out, const options *o, nl_backend *be, double square)
{
    const nl_bench_timing t = train_timing(o);
    printf("training step (nl_model_load_batch, forward, backward, nl_sgd_step: lr %g, momentum\n"
           "  0.9) on random N(0,1) 1x28x28 images, 10 random classes; median of %d repetitions\n"
           "  of >= %.2f s after %d warm-up steps. FLOPs/sample = forward + backward of the\n"
           "  weight layers (3x forward, less the first layer's input gradient); ceiling =\n"
           "  sgemm 1024 rate (%.1f GFLOP/s) / FLOPs per sample; fraction = samples/s / ceiling.\n",
           TRAIN_LR, t.reps, t.rep_s, t.warmup, square);
    printf("  %-5s %-10s %5s %11s %9s %12s %8s %11s %8s\n", "model", "norm", "batch", "samples/s",
           "ms/step", "MFLOP/sample", "GFLOP/s", "ceiling/s", "fraction");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *arch = nl_arch_info_of((nl_arch)a);
        if (!o->model[a] || !arch->bench_kernels)
            continue;
        const char *model = arch->id.name;
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            if (!o->norm[k] || !nl_norm_accepts(nl_norm_info_of((nl_norm_kind)k), arch->norm_ndim))
                continue;
            const char *norm = nl_name_of(&nl_norm_names, k);
            for (int bi = 0; bi < o->n_batches; bi++) {
                const int n = o->batches[bi];
                nl_model_spec spec;
                nl_bench_model_spec((nl_arch)a, (nl_norm_kind)k, o->groups, &spec);
                nl_bench_train_result res;
                nl_error err = {0};
                if (nl_bench_train(be, &spec, n, TRAIN_LR, &t, &res, &err) != NL_OK) {
                    char what[96];
                    snprintf(what, sizeof what, "%s %s batch %d", model, norm, n);
                    failed(out, what, &err);
                    continue;
                }
                const double gf = res.samples_per_s * res.train_flops / 1e9;
                const double ceiling = square * 1e9 / res.train_flops;
                char label[32];
                norm_label(k, o->groups, label, sizeof label);
                printf("  %-5s %-10s %5d %11.0f %9.3f %12.3f %8.1f %11.0f %8.3f%s\n", model, label,
                       n, res.samples_per_s, res.step.median_s * 1e3, res.train_flops / 1e6, gf,
                       ceiling, res.samples_per_s / ceiling,
                       isfinite(res.mean_loss) ? "" : "  (loss not finite)");
                row r = blank_row("train");
                r.model = model;
                r.norm = norm;
                r.groups = uses_groups(k) ? o->groups : 0;
                r.batch = n;
                r.kernel = "train_step";
                r.mode = "train";
                r.time = &res.step;
                r.samples_per_s = res.samples_per_s;
                r.median_ms = res.step.median_s * 1e3;
                r.flops = res.train_flops;
                r.gflops = gf;
                r.ref_gflops = square;
                r.square_gflops = square;
                r.ceiling = ceiling;
                r.fraction = res.samples_per_s / ceiling;
                emit_csv(out, &r);
            }
        }
    }
    printf("\n");
}

/* one eval-mode forward of a bench model over a pool of random batches */
typedef struct {
    nl_model *m;
    const float *x;
    const int32_t *y;
    int batch, pool_batches, next;
    size_t per_sample;
} eval_ctx;

static void eval_forward(void *ctx)
{
    eval_ctx *c = ctx;
    const size_t at = (size_t)c->next * (size_t)c->batch;
    nl_model_load_batch(c->m, c->x + at * c->per_sample, c->y + at, c->batch);
    nl_model_forward(c->m, c->batch, NL_MODE_EVAL);
    c->next = (c->next + 1) % c->pool_batches;
}

/* the bench model with batch norm at batch n, and the same with it folded:
 * *unfolded and *folded timed on the same random batches */
static nl_code time_eval_pair(nl_backend *be, const nl_model_spec *spec, int n,
                              const nl_bench_timing *t, nl_bench_time *unfolded,
                              nl_bench_time *folded, int *n_folded, nl_error *err)
{
    nl_model *m = NULL, *f = NULL;
    nl_model_spec folded_spec;
    /* these models are never trained, so batch norm's check of the training
     * batch (more than one value per channel) must not refuse the eval batch
     * of 1 that a deployed MLP runs: built for batches of up to 2, as normlab
     * eval builds for the run's own training batch, and timed at n */
    const int built_for = n < 2 ? 2 : n;
    nl_code rc = nl_model_build(spec, be, built_for, built_for, 1, &m, err);
    if (rc == NL_OK)
        rc = nl_fold_bn_spec(m, &folded_spec, n_folded, err);
    if (rc == NL_OK)
        rc = nl_model_build(&folded_spec, be, built_for, built_for, 1, &f, err);
    if (rc == NL_OK)
        rc = nl_fold_bn_weights(m, f, err);
    int pool_batches = 16;
    while (pool_batches * n < 256)
        pool_batches *= 2;
    const size_t per_sample = (size_t)spec->in_c * spec->in_h * spec->in_w;
    const size_t samples = (size_t)pool_batches * (size_t)n;
    float *x = rc == NL_OK ? malloc(samples * per_sample * sizeof *x) : NULL;
    int32_t *y = rc == NL_OK ? malloc(samples * sizeof *y) : NULL;
    if (rc == NL_OK && (!x || !y))
        rc = nl_fail(err, NL_ERR_NOMEM, "bench: cannot allocate %zu samples of data", samples);
    if (rc == NL_OK) {
        nl_rng rng;
        nl_rng_seed(&rng, 1, NL_STREAM_SYNTHETIC);
        for (size_t i = 0; i < samples * per_sample; i++)
            x[i] = (float)nl_rng_normal(&rng);
        for (size_t i = 0; i < samples; i++)
            y[i] = (int32_t)nl_rng_below(&rng, (uint32_t)spec->classes);
        eval_ctx c = {m, x, y, n, pool_batches, 0, per_sample};
        nl_bench_run(eval_forward, &c, t, unfolded);
        c.m = f;
        c.next = 0;
        nl_bench_run(eval_forward, &c, t, folded);
        rc = be->ops->synchronize(be, err);
    }
    free(x);
    free(y);
    nl_model_free(f);
    nl_model_free(m);
    return rc;
}

/* eval-mode throughput with batch norm as trained and folded away */
static void bench_eval(output *out, const options *o, nl_backend *be)
{
    const nl_bench_timing t = kernel_timing(o);
    printf("eval forward (nl_model_load_batch, forward in eval mode through the loss) on random\n"
           "  N(0,1) 1x28x28 images, 10 random classes, with batch norm and with it folded into\n"
           "  the layer before it (normlab eval --fold-bn); median of %d repetitions of >= %.3f s\n"
           "  after %d warm-up calls.\n", t.reps, t.rep_s, t.warmup);
    printf("  %-5s %5s %7s %14s %14s %8s\n", "model", "batch", "folded", "unfolded/s", "folded/s",
           "speed-up");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *arch = nl_arch_info_of((nl_arch)a);
        if (!o->model[a] || !arch->bench_kernels)
            continue;
        for (int bi = 0; bi < o->n_batches; bi++) {
            const int n = o->batches[bi];
            nl_model_spec spec;
            nl_bench_model_spec((nl_arch)a, NL_NORM_BATCH, o->groups, &spec);
            nl_bench_time unfolded, folded;
            int n_folded = 0;
            nl_error err = {0};
            if (time_eval_pair(be, &spec, n, &t, &unfolded, &folded, &n_folded, &err) != NL_OK) {
                char what[96];
                snprintf(what, sizeof what, "eval %s batch %d", arch->id.name, n);
                failed(out, what, &err);
                continue;
            }
            const double unfolded_sps = n / unfolded.median_s, folded_sps = n / folded.median_s;
            printf("  %-5s %5d %7d %14.0f %14.0f %8.2f\n", arch->id.name, n, n_folded,
                   unfolded_sps, folded_sps, folded_sps / unfolded_sps);
            const struct { const char *mode; const nl_bench_time *time; double sps; } modes[] = {
                {"unfolded", &unfolded, unfolded_sps}, {"folded", &folded, folded_sps}};
            for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
                row r = blank_row("eval");
                r.model = arch->id.name;
                r.norm = nl_name_of(&nl_norm_names, NL_NORM_BATCH);
                r.batch = n;
                r.kernel = "eval_forward";
                r.mode = modes[k].mode;
                r.time = modes[k].time;
                r.samples_per_s = modes[k].sps;
                r.median_ms = modes[k].time->median_s * 1e3;
                r.fraction = modes[k].sps / unfolded_sps;
                emit_csv(out, &r);
            }
        }
    }
    printf("\n");
}

/* the batch sizes of the lm and vit benches: --batch, or their own list */
static const int *transformer_batches(const options *o, int *count)
{
    static const int def[] = {1, 4, 16, 64};
    *count = o->lm_default_batches ? (int)(sizeof def / sizeof def[0]) : o->n_batches;
    return o->lm_default_batches ? def : o->batches;
}

/* one CSV row of the lm or vit training bench; per_s: tokens/s or images/s */
static void emit_transformer_row(output *out, const options *o, const char *section,
                                 const char *model, int k, int batch, const char *shape,
                                 const char *placement, const nl_bench_train_result *res,
                                 double per_s)
{
    row r = blank_row(section);
    r.model = model;
    r.norm = nl_name_of(&nl_norm_names, k);
    r.groups = uses_groups(k) ? o->groups : 0;
    r.batch = batch;
    r.kernel = "train_step";
    r.shape = shape;
    r.mode = placement;
    r.time = &res->step;
    r.samples_per_s = per_s;
    r.median_ms = res->step.median_s * 1e3;
    emit_csv(out, &r);
}

static void bench_training_lm(output *out, const options *o, nl_backend *be)
{
    const nl_bench_timing t = train_timing(o);
    const nl_bench_lm_case *lc = &o->lm;
    const char *placement = nl_name_of(&nl_placement_names, lc->placement);
    char shape[96];
    snprintf(shape, sizeof shape, "d%d-h%d-L%d-T%d-V%d", lc->d_model, lc->heads, lc->layers,
             lc->context, lc->vocab);
    printf("lm training step (nl_model_load_tokens, forward, backward, nl_adamw_step: lr %g,\n"
           "  PyTorch's defaults) on random windows of %d token ids with random targets:\n"
           "  d_model %d, %d heads, %d layers, vocabulary %d, tied embeddings, GELU erf, MLP\n"
           "  ratio 4, placement %s; median of %d repetitions of >= %.2f s after %d warm-up steps\n",
           LM_LR, lc->context, lc->d_model, lc->heads, lc->layers, lc->vocab, placement, t.reps,
           t.rep_s, t.warmup);
    printf("  %-10s %5s %11s %10s %9s %9s %8s\n", "norm", "batch", "tokens/s", "windows/s",
           "ms/step", "params", "loss");
    int n_batches;
    const int *batches = transformer_batches(o, &n_batches);
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        if (!o->transformer_norm[NL_ARCH_LM][k])
            continue;
        const char *norm = nl_name_of(&nl_norm_names, k);
        for (int bi = 0; bi < n_batches; bi++) {
            const int n = batches[bi];
            nl_model_spec spec;
            nl_bench_lm_spec(lc, (nl_norm_kind)k, o->groups, &spec);
            nl_bench_train_result res;
            nl_error err = {0};
            if (nl_bench_train_lm(be, &spec, n, LM_LR, &t, &res, &err) != NL_OK) {
                char what[96];
                snprintf(what, sizeof what, "lm %s batch %d", norm, n);
                failed(out, what, &err);
                continue;
            }
            char label[32];
            norm_label(k, o->groups, label, sizeof label);
            printf("  %-10s %5d %11.0f %10.1f %9.3f %9zu %8.3f%s\n", label, n, res.tokens_per_s,
                   res.samples_per_s, res.step.median_s * 1e3, res.params, res.mean_loss,
                   isfinite(res.mean_loss) ? "" : "  (loss not finite)");
            /* a token is the LM's sample: one prediction and its loss */
            emit_transformer_row(out, o, "train_lm", "lm", k, n, shape, placement, &res,
                                 res.tokens_per_s);
        }
    }
    printf("\n");
}

static void bench_training_vit(output *out, const options *o, nl_backend *be)
{
    const nl_bench_timing t = train_timing(o);
    const nl_bench_lm_case *lc = &o->lm;
    const char *placement = nl_name_of(&nl_placement_names, lc->placement);
    char shape[96];
    snprintf(shape, sizeof shape, "d%d-h%d-L%d-P%d", lc->d_model, lc->heads, lc->layers, o->patch);
    printf("vit training step (nl_model_load_batch, forward, backward, nl_adamw_step: lr %g,\n"
           "  PyTorch's defaults) on random N(0,1) 1x28x28 images in %dx%d patches, a class\n"
           "  token, 10 random classes: d_model %d, %d heads, %d layers, GELU erf, MLP ratio 4,\n"
           "  placement %s; median of %d repetitions of >= %.2f s after %d warm-up steps\n",
           LM_LR, o->patch, o->patch, lc->d_model, lc->heads, lc->layers, placement, t.reps,
           t.rep_s, t.warmup);
    printf("  %-10s %5s %11s %9s %9s %8s\n", "norm", "batch", "images/s", "ms/step", "params",
           "loss");
    int n_batches;
    const int *batches = transformer_batches(o, &n_batches);
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        if (!o->transformer_norm[NL_ARCH_VIT][k])
            continue;
        const char *norm = nl_name_of(&nl_norm_names, k);
        for (int bi = 0; bi < n_batches; bi++) {
            const int n = batches[bi];
            nl_model_spec spec;
            transformer_spec(o, NL_ARCH_VIT, k, &spec);
            nl_bench_train_result res;
            nl_error err = {0};
            if (nl_bench_train(be, &spec, n, LM_LR, &t, &res, &err) != NL_OK) {
                char what[96];
                snprintf(what, sizeof what, "vit %s batch %d", norm, n);
                failed(out, what, &err);
                continue;
            }
            char label[32];
            norm_label(k, o->groups, label, sizeof label);
            printf("  %-10s %5d %11.1f %9.3f %9zu %8.3f%s\n", label, n, res.samples_per_s,
                   res.step.median_s * 1e3, res.params, res.mean_loss,
                   isfinite(res.mean_loss) ? "" : "  (loss not finite)");
            emit_transformer_row(out, o, "train_vit", "vit", k, n, shape, placement, &res,
                                 res.samples_per_s);
        }
    }
    printf("\n");
}

/* the recurrent cells' training step, on the grid of hidden sizes and batches */
static void bench_training_rnn(output *out, const options *o, nl_backend *be, double square)
{
    const nl_bench_timing t = train_timing(o);
    const nl_bench_rnn_case first = rnn_case(o, NL_RNN_LSTM, NL_NORM_NONE, 0);
    printf("rnn training step (nl_model_load_batch, forward over %d steps of %d random N(0,1)\n"
           "  inputs, a linear classifier on the last state, 10 random classes, backpropagation\n"
           "  through time, nl_adamw_step: lr %g, PyTorch's defaults); %d layer(s); median of %d\n"
           "  repetitions of >= %.2f s after %d warm-up steps. FLOPs/sequence = the cell's\n"
           "  products (input and recurrent projections) and the classifier, 3x forward less\n"
           "  the first layer's input gradient; ceiling = sgemm 1024 rate (%.1f GFLOP/s) / FLOPs.\n"
           "  A normalizer other than none sits inside the cell (placement in_cell).\n",
           first.steps, NL_BENCH_RNN_INPUTS, LM_LR, first.layers, t.reps, t.rep_s, t.warmup,
           square);
    printf("  %-5s %-13s %6s %5s %11s %9s %12s %8s %11s %8s %8s\n", "cell", "norm", "hidden",
           "batch", "seqs/s", "ms/step", "MFLOP/seq", "GFLOP/s", "ceiling/s", "fraction", "loss");
    int n_batches = 0;
    const int *batches = rnn_batch_list(o, &n_batches);
    for (int c = 0; c < NL_RNN_COUNT; c++)
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        if (!o->cell[c] || !o->rnn_norm[k])
            continue;
        const char *cell = nl_name_of(&nl_rnn_cell_names, c);
        /* the row's norm column names the normalizer, the table says where */
        const bool in_cell = nl_norm_info_of((nl_norm_kind)k)->adds_layer;
        char norm[48];
        snprintf(norm, sizeof norm, "%s%s", nl_name_of(&nl_norm_names, k),
                 in_cell ? " in_cell" : "");
        for (int h = 0; h < o->n_hiddens; h++) {
            const nl_bench_rnn_case rnn =
                rnn_case(o, (nl_rnn_cell)c, (nl_norm_kind)k, o->hiddens[h]);
            char shape[64];
            snprintf(shape, sizeof shape, "H%d-L%d-T%d-I%d", rnn.hidden, rnn.layers, rnn.steps,
                     NL_BENCH_RNN_INPUTS);
            for (int bi = 0; bi < n_batches; bi++) {
                const int n = batches[bi];
                nl_model_spec spec;
                nl_bench_rnn_spec(&rnn, &spec);
                nl_bench_train_result res;
                nl_error err = {0};
                if (nl_bench_train(be, &spec, n, LM_LR, &t, &res, &err) != NL_OK) {
                    char what[192];
                    snprintf(what, sizeof what, "%s %s %s batch %d", cell, norm, shape, n);
                    failed(out, what, &err);
                    continue;
                }
                const double flops = nl_bench_rnn_train_flops(&rnn);
                const double gf = res.samples_per_s * flops / 1e9;
                const double ceiling = square * 1e9 / flops;
                printf("  %-5s %-13s %6d %5d %11.1f %9.3f %12.3f %8.1f %11.0f %8.3f %8.3f%s\n",
                       cell, norm, rnn.hidden, n, res.samples_per_s, res.step.median_s * 1e3, flops / 1e6, gf,
                       ceiling, res.samples_per_s / ceiling, res.mean_loss,
                       isfinite(res.mean_loss) ? "" : "  (loss not finite)");
                row r = blank_row("train_rnn");
                r.model = cell;
                r.norm = nl_name_of(&nl_norm_names, k);
                r.batch = n;
                r.kernel = in_cell ? "train_step_in_cell" : "train_step";
                r.shape = shape;
                r.mode = "train";
                r.time = &res.step;
                r.samples_per_s = res.samples_per_s;
                r.median_ms = res.step.median_s * 1e3;
                r.flops = flops;
                r.gflops = gf;
                r.ref_gflops = square;
                r.square_gflops = square;
                r.ceiling = ceiling;
                r.fraction = res.samples_per_s / ceiling;
                emit_csv(out, &r);
            }
        }
    }
    printf("\n");
}

/* ---- --busy: other work on the machine ---- */

typedef struct {
    pid_t pids[1024];
    int count;
} busy_loops;

static void stop_busy_loops(busy_loops *b)
{
    for (int i = 0; i < b->count; i++)
        kill(b->pids[i], SIGKILL);
    for (int i = 0; i < b->count; i++)
        waitpid(b->pids[i], NULL, 0);
    b->count = 0;
}

/* n processes spinning on the CPU, as another user's job would; they die
 * with the bench, however it ends */
static int start_busy_loops(busy_loops *b, int n)
{
    const pid_t parent = getpid();
    for (int i = 0; i < n; i++) {
        fflush(NULL);
        const pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "normlab bench: --busy: fork: %s\n", strerror(errno));
            stop_busy_loops(b);
            return -1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            volatile unsigned long spin = 0;
            for (;;)
                spin++;
        }
        b->pids[b->count++] = pid;
    }
    if (n > 0) {
        /* let the scheduler see them before the threads are picked */
        const struct timespec settle = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
        nanosleep(&settle, NULL);
    }
    return 0;
}

void nl_bench_describe_setting(char *buf, size_t size)
{
    const char *vars[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND", "OMP_PLACES",
                          "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof vars / sizeof vars[0] && used < size; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", used ? "+" : "", vars[i], v);
    }
    if (!buf[0])
        nl_copy_string(buf, size, "default");
}

static void print_load(const char *when)
{
    char load[128] = "?";
    FILE *f = nl_fopen_system("/proc/loadavg");
    if (f) {
        if (!fgets(load, sizeof load, f))
            nl_copy_string(load, sizeof load, "?");
        fclose(f);
        load[strcspn(load, "\n")] = '\0';
    }
    printf("load (%s): %s\n", when, load);
}

/* the options of `bench --run` alone */
static const char *const run_only[] = {"--set", "--rounds", "--torch", "--step", "--skip",
                                       "--keep", "--python", "--peer"};

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--run") == 0)
            return nl_cmd_bench_run(argc, argv);
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof run_only / sizeof run_only[0]; k++)
            if (strcmp(argv[i], run_only[k]) == 0)
                return nl_cmd_usage_error("bench", "%s belongs to --run CONFIG (real runs of a "
                                          "config)", argv[i]);
    options o;
    bool help = false;
    int rc = parse_options(argc, argv, &o, &help);
    if (rc)
        return rc;
    if (help) {
        usage(stdout);
        return 0;
    }
    nl_error err = {0};
    busy_loops busy = {0};
    if (start_busy_loops(&busy, o.busy) != 0)
        return 1;
    nl_backend *be = NULL;
    const nl_backend_options backend_opt = {.threads = o.threads};
    if (nl_backend_open(NL_DEVICE_CPU, &backend_opt, &be, &err) != NL_OK) {
        stop_busy_loops(&busy);
        return nl_cmd_report("bench", &err);
    }
    /* before any model is built: the product ops' workspaces depend on it */
    be->product_precision = o.precision;
    output out = {.threads = be->threads, .busy = o.busy, .flush_subnormals = be->flush_subnormals,
                  .cpu_kernels = be->cpu_kernels};
    nl_bench_machine_describe(&out.machine);
    nl_bench_describe_setting(out.setting, sizeof out.setting);
    if (o.cpu_clock) {
        const size_t used = strlen(out.setting);
        snprintf(out.setting + used, sizeof out.setting - used, "+clock=cpu");
    }
    if (o.precision != NL_PRECISION_FP32) {
        const size_t used = strlen(out.setting);
        snprintf(out.setting + used, sizeof out.setting - used, "+precision=%s",
                 nl_name_of(&nl_precision_names, o.precision));
    }
    if (o.csv) {
        if (nl_csv_open(&out.csv, o.csv, columns, N_COLUMNS, &err) != NL_OK) {
            nl_backend_close(be);
            stop_busy_loops(&busy);
            return nl_cmd_report("bench", &err);
        }
        out.open = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char cpu[512];
    printf("normlab bench %s (commit %s), %d threads, setting %s%s\n", NORMLAB_VERSION,
           NORMLAB_GIT_COMMIT, be->threads, out.setting, o.quick ? ", quick" : "");
    printf("cpu: %s\n", nl_backend_cpu_description(cpu, sizeof cpu));
    const nl_bench_machine *m = &out.machine;
    printf("machine: %s; %s (built for %s, kernels %s); L1d %d KiB, L2 %d KiB, L3 %d KiB; "
           "OpenBLAS core %s\n",
           m->cpu_model[0] ? m->cpu_model : "unknown CPU", m->isa, m->build_isa, be->cpu_kernels,
           m->l1d_kib, m->l2_kib, m->l3_kib, m->openblas_core);
    printf("threads: %d of %d usable cores (%.1f busy with other work at the start, %d busy "
           "loop%s started by --busy); subnormals %s\n",
           be->threads, be->usable_cores, be->busy_cores, o.busy, o.busy == 1 ? "" : "s",
           be->flush_subnormals ? "flushed to zero" : "kept");
    print_load("start");
    printf("\n");

    const double square = sgemm_square(&out, &o);
    if (o.kernels) {
        bench_norms(&out, &o, be);
        bench_layers(&out, &o, be, square);
    }
    if (o.training && kernel_model(&o, 0))
        bench_training(&out, &o, be, square);
    for (int i = 0; i < N_OWN_TRAINING_BENCHES; i++)
        if (o.training && o.model[own_training_benches[i].arch])
            own_training_benches[i].run(&out, &o, be);
    if (o.training && any_cell(&o))
        bench_training_rnn(&out, &o, be, square);
    if (o.eval && kernel_model(&o, 0))
        bench_eval(&out, &o, be);
    print_load("end");
    if (out.open && nl_csv_close(&out.csv, &err) != NL_OK) {
        nl_cmd_report("bench", &err);
        out.failures++;
    }
    nl_backend_close(be);
    stop_busy_loops(&busy);
    return out.failures ? 1 : 0;
}
