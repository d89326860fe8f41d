/* normlab bench's options: the help text, argv into bench_options, and every
 * model the options name checked on paper before anything runs. */
#include <stdlib.h>
#include <string.h>

#include "bench_cmd.h"
#include "cmd.h"

void bench_usage(FILE *out)
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

static bool transformer_bench(nl_arch arch)
{
    for (int i = 0; i < bench_n_own_training; i++)
        if (bench_own_training[i].arch == arch)
            return true;
    return false;
}

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

/* The lm's (or vit's) options, checked by building the model on paper
 * (nl_model_check) for each normalizer before anything runs or is written.
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
    int rc = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++)
        o->rnn_norm[k] = any_norm ? o->norm[k] : k == NL_NORM_NONE;
    /* every model the recurrent bench will build, at every batch it will
     * run (the cell's batch norm refuses a batch of 1) */
    int n_rnn_batches = 0;
    const int *rnn_batches = bench_rnn_batch_list(o, &n_rnn_batches);
    for (int c = 0; c < NL_RNN_COUNT && !rc; c++)
        for (int k = 0; k < NL_NORM_COUNT && o->cell[c] && !rc; k++)
            for (int h = 0; h < o->n_hiddens && o->rnn_norm[k] && !rc; h++)
                for (int bi = 0; bi < n_rnn_batches && !rc; bi++) {
                    nl_model_spec spec;
                    nl_bench_rnn_case rnn =
                        bench_rnn_case(o, (nl_rnn_cell)c, (nl_norm_kind)k, o->hiddens[h]);
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
