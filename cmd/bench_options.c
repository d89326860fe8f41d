/* normlab bench's options: the help text, argv into bench_options, and every
 * model the options name checked on paper before anything runs. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "bench_cmd.h"
#include "cmd.h"
#include "int_options.h"
#include "plan/plan.h"

void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: normlab bench [--kernels] [--training] [--eval] [--peak] [--threads N] [--busy N] [--reps K] [--warmup K]\n"
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
            "              through time, AdamW lr 0.001). Every training row gives its\n"
            "              FLOPs per step (the model's products, forward and backward) and\n"
            "              its shares of the measured peaks (--peak, run first)\n"
            "  --eval      samples/s of the eval-mode forward (load batch, forward through the\n"
            "              loss) of the mlp and cnn with batch norm, unfolded and with batch\n"
            "              norm folded into the layer before it (eval --fold-bn); only when named\n"
            "  --peak      only the peaks: the core's FMA peak (the kernel set's widest FMAs in\n"
            "              independent chains) and sgemm 1024^3, best of 3, 1 and --threads\n\n"
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

/* arch lm or vit: a training bench of its own (bench_own_training) */
static bool transformer_bench(nl_arch arch)
{
    for (int i = 0; i < bench_n_own_training; i++)
        if (bench_own_training[i].arch == arch)
            return true;
    return false;
}

/* an architecture --model takes: its kernels timed, or a bench of its own */
static bool bench_model(nl_arch arch)
{
    return nl_arch_info_of(arch)->bench_kernels || transformer_bench(arch);
}

/* "--model a,b": architectures with a bench (model[]) and recurrent cells
 * (cell[]), which the recurrent bench builds as arch rnn */
static int parse_models(const char *v, bench_options *o)
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

bool bench_any_cell(const bench_options *o)
{
    for (int c = 0; c < NL_RNN_COUNT; c++)
        if (o->cell[c])
            return true;
    return false;
}

/* the bench's transformer (arch lm or vit) with normalizer k */
void bench_transformer_spec(const bench_options *o, nl_arch arch, int k, nl_model_spec *spec)
{
    if (arch == NL_ARCH_VIT)
        nl_bench_vit_spec(&o->lm, o->patch, (nl_norm_kind)k, o->groups, spec);
    else
        nl_bench_lm_spec(&o->lm, (nl_norm_kind)k, o->groups, spec);
}

/* whether --model names an architecture whose kernels the bench times
 * (its row says bench_kernels); ndim > 0: one whose normalizers see that
 * layout (2 features, 4 images) */
bool bench_kernel_model(const bench_options *o, int ndim)
{
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *row = nl_arch_info_of((nl_arch)a);
        if (o->model[a] && row->bench_kernels && (ndim == 0 || row->norm_ndim == ndim))
            return true;
    }
    return false;
}

/* whether spec plans at `batch` (the graph kept with the process's other
 * planned graphs, nl_plan_graph, which the timed step allocates), else err
 * says why */
static bool bench_plans(const nl_model_spec *spec, int batch, nl_error *err)
{
    nl_model_spec at_batch;
    nl_bench_spec_at(spec, batch, &at_batch);
    const nl_plan_run run = nl_bench_plan_run(&at_batch, batch);
    nl_model *graph = NULL;
    if (nl_plan_graph(&at_batch, &run, &graph, err) != NL_OK)
        return false;
    nl_plan_graph_done(graph);
    return true;
}

/* The lm's (or vit's) options, checked by planning the model's graph
 * (bench_plans) for each normalizer before anything runs or is written.
 * Without --norm, the normalizers the model takes (into takes); a named one
 * it refuses is an error. */
static int check_transformer(bench_options *o, nl_arch arch, bool any_norm, bool *takes)
{
    const char *model = nl_name_of(&nl_arch_names, arch);
    nl_error err = {0};
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        takes[k] = o->norm[k];
        if (!o->norm[k])
            continue;
        nl_model_spec spec;
        bench_transformer_spec(o, arch, k, &spec);
        if (bench_plans(&spec, 1, &err))
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
nl_bench_rnn_case bench_rnn_case(const bench_options *o, nl_rnn_cell cell, nl_norm_kind norm,
                                  int hidden)
{
    return (nl_bench_rnn_case){.cell = cell, .norm = norm, .hidden = hidden,
                               .layers = o->layers_set ? o->lm.layers : 1,
                               .steps = o->context_set ? o->lm.context : 28};
}

/* the recurrent bench's batches: --batch, else 1, 8 and 64 */
const int *bench_rnn_batch_list(const bench_options *o, int *n)
{
    static const int def[] = {1, 8, 64};
    *n = o->lm_default_batches ? (int)(sizeof def / sizeof def[0]) : o->n_batches;
    return o->lm_default_batches ? def : o->batches;
}

nl_bench_timing bench_timing(const bench_options *o, bench_timed what)
{
    const bool steps = what == BENCH_TRAINING_STEPS;
    nl_bench_timing t = steps ? (nl_bench_timing){.reps = 5, .warmup = 5, .rep_s = 0.25}
                              : (nl_bench_timing){.reps = 7, .warmup = 3, .rep_s = 0.03};
    if (o->quick)
        t = (nl_bench_timing){.reps = 2, .warmup = 1, .rep_s = steps ? 0.01 : 0.002};
    t.cpu_clock = o->cpu_clock;
    if (o->reps_set)
        t.reps = o->reps;
    if (o->warmup_set)
        t.warmup = o->warmup;
    return t;
}

/* the options that switch something on */
static const struct {
    const char *name;
    size_t at; /* the bool in bench_options */
} flag_options[] = {
    {"--kernels", offsetof(bench_options, kernels)},
    {"--training", offsetof(bench_options, training)},
    {"--eval", offsetof(bench_options, eval)},
    {"--peak", offsetof(bench_options, peak)},
    {"--quick", offsetof(bench_options, quick)},
    {"--cpu-clock", offsetof(bench_options, cpu_clock)},
};

#define NOT_RECORDED ((size_t)-1)

/* the options that take one number, where it goes (their ranges are
 * cmd/int_options.c's rows for "bench") */
static const struct {
    const char *name;
    size_t at;     /* the int in bench_options */
    size_t set_at; /* the bool that records it was given, or NOT_RECORDED */
} int_options[] = {
    {"--threads", offsetof(bench_options, threads), NOT_RECORDED},
    {"--busy", offsetof(bench_options, busy), NOT_RECORDED},
    {"--reps", offsetof(bench_options, reps),
     offsetof(bench_options, reps_set)},
    {"--warmup", offsetof(bench_options, warmup), offsetof(bench_options, warmup_set)},
    {"--groups", offsetof(bench_options, groups), NOT_RECORDED},
    {"--d-model", offsetof(bench_options, lm.d_model), NOT_RECORDED},
    {"--heads", offsetof(bench_options, lm.heads), NOT_RECORDED},
    {"--layers", offsetof(bench_options, lm.layers), offsetof(bench_options, layers_set)},
    {"--context", offsetof(bench_options, lm.context),
     offsetof(bench_options, context_set)},
    {"--vocab", offsetof(bench_options, lm.vocab), NOT_RECORDED},
    {"--patch", offsetof(bench_options, patch), NOT_RECORDED},
};

/* the other options that take a value (parse_other_value reads them) */
static const char *const other_value_options[] = {"--csv", "--model", "--norm", "--batch",
                                                  "--placement", "--hidden", "--precision"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static int find_int_option(const char *a)
{
    for (size_t i = 0; i < COUNT_OF(int_options); i++)
        if (strcmp(a, int_options[i].name) == 0)
            return (int)i;
    return -1;
}

static bool takes_value(const char *a)
{
    for (size_t i = 0; i < COUNT_OF(other_value_options); i++)
        if (strcmp(a, other_value_options[i]) == 0)
            return true;
    return find_int_option(a) >= 0;
}

/* a flag_options name: its bool set; false if a is none */
static bool set_flag(const char *a, bench_options *o)
{
    for (size_t i = 0; i < COUNT_OF(flag_options); i++)
        if (strcmp(a, flag_options[i].name) == 0) {
            *(bool *)((char *)o + flag_options[i].at) = true;
            return true;
        }
    return false;
}

/* "--batch" or "--hidden": a comma-separated list of sizes */
static int parse_sizes(const char *a, const char *v, bench_options *o)
{
    const bool hidden = strcmp(a, "--hidden") == 0;
    int *list = hidden ? o->hiddens : o->batches;
    int *count = hidden ? &o->n_hiddens : &o->n_batches;
    char buf[256];
    nl_copy_string(buf, sizeof buf, v);
    int rc = 0;
    /* each item, empty ones too: strtok_r skipped them, so '' and '8,,16'
     * passed as lists */
    for (char *tok = buf, *comma = buf; comma && !rc; tok = comma + 1) {
        comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        if (*count == MAX_LIST)
            return nl_cmd_usage_error("bench", "%s: at most %d sizes", a, MAX_LIST);
        rc = nl_cmd_int_arg("bench", a, tok, &list[(*count)++]);
    }
    return rc;
}

/* a name of the table into *chosen (of several, the last in the table's order) */
static int parse_choice(const char *a, const char *v, const nl_name_table *table, int count,
                        int *chosen)
{
    bool named[32] = {false};
    _Static_assert(NL_PLACE_COUNT <= 32 && NL_PRECISION_COUNT <= 32, "named[] holds them");
    const int rc = parse_names(a, v, table, named, count);
    for (int k = 0; k < count; k++)
        if (named[k])
            *chosen = k;
    return rc;
}

/* the value v of option a from other_value_options */
static int parse_other_value(const char *a, const char *v, bench_options *o, bool *any_model,
                             bool *any_norm)
{
    int chosen, rc = 0;
    if (strcmp(a, "--placement") == 0) {
        chosen = (int)o->lm.placement;
        rc = parse_choice(a, v, &nl_placement_names, NL_PLACE_COUNT, &chosen);
        o->lm.placement = (nl_placement)chosen;
    } else if (strcmp(a, "--csv") == 0) {
        o->csv = v;
    } else if (strcmp(a, "--precision") == 0) {
        chosen = (int)o->precision;
        rc = parse_choice(a, v, &nl_precision_names, NL_PRECISION_COUNT, &chosen);
        o->precision = (nl_precision)chosen;
    } else if (strcmp(a, "--model") == 0) {
        rc = parse_models(v, o);
        *any_model = true;
    } else if (strcmp(a, "--norm") == 0) {
        rc = parse_names(a, v, &nl_norm_names, o->norm, NL_NORM_COUNT);
        *any_norm = true;
    } else {
        rc = parse_sizes(a, v, o);
    }
    return rc;
}

/* what was not given: every kernel model, both parts, every normalizer,
 * the batch and hidden size lists */
static void apply_defaults(bench_options *o, bool any_model, bool any_norm)
{
    if (!any_model)
        for (int a = 0; a < NL_ARCH_COUNT; a++)
            o->model[a] = nl_arch_info_of((nl_arch)a)->bench_kernels;
    if (!o->kernels && !o->training && !o->eval && !o->peak) {
        /* the lm and vit have no kernel section of their own */
        o->kernels = bench_kernel_model(o, 0);
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
    for (int k = 0; k < NL_NORM_COUNT; k++)
        o->rnn_norm[k] = any_norm ? o->norm[k] : k == NL_NORM_NONE;
}

/* every model the recurrent bench will build, at every batch it will run
 * (the cell's batch norm refuses a batch of 1) */
static int check_rnn_models(const bench_options *o)
{
    int n_rnn_batches = 0;
    const int *rnn_batches = bench_rnn_batch_list(o, &n_rnn_batches);
    for (int c = 0; c < NL_RNN_COUNT; c++)
        for (int k = 0; k < NL_NORM_COUNT && o->cell[c]; k++)
            for (int h = 0; h < o->n_hiddens && o->rnn_norm[k]; h++)
                for (int bi = 0; bi < n_rnn_batches; bi++) {
                    nl_model_spec spec;
                    nl_bench_rnn_case rnn =
                        bench_rnn_case(o, (nl_rnn_cell)c, (nl_norm_kind)k, o->hiddens[h]);
                    nl_bench_rnn_spec(&rnn, &spec);
                    nl_error err = {0};
                    if (!bench_plans(&spec, rnn_batches[bi], &err))
                        return nl_cmd_usage_error(
                            "bench", "--model %s --norm %s (hidden %d, layers %d, %d steps, "
                            "batch %d): %s", nl_name_of(&nl_rnn_cell_names, c),
                            nl_name_of(&nl_norm_names, k), rnn.hidden, rnn.layers, rnn.steps,
                            rnn_batches[bi], err.msg);
                }
    return 0;
}

int bench_parse_options(int argc, char **argv, bench_options *o, bool *help)
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
        }
        if (set_flag(a, o))
            continue;
        if (!takes_value(a))
            return nl_cmd_usage_error("bench", "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return nl_cmd_usage_error("bench", "%s needs a value", a);
        const char *v = argv[++i];
        const int n = find_int_option(a);
        int rc;
        if (n >= 0) {
            rc = nl_cmd_int_arg("bench", a, v, (int *)((char *)o + int_options[n].at));
            if (int_options[n].set_at != NOT_RECORDED)
                *(bool *)((char *)o + int_options[n].set_at) = true;
        } else {
            rc = parse_other_value(a, v, o, &any_model, &any_norm);
        }
        if (rc)
            return rc;
    }
    apply_defaults(o, any_model, any_norm);
    int rc = check_rnn_models(o);
    for (int a = 0; a < NL_ARCH_COUNT && !rc; a++)
        if (o->model[a] && transformer_bench((nl_arch)a))
            rc = check_transformer(o, (nl_arch)a, any_norm, o->transformer_norm[a]);
    return rc;
}
