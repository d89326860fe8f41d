/* The config schema table and the per-key helpers (accepted values, value
 * formatting, range checks) that parsing, validation, the writer and the
 * documentation share. */
#include "config/schema.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/registry.h"
#include "data/registry.h"
#include "data/tokens.h"
#include "layers/param_norm.h"
#include "norm/registry.h"
#include "optim/optim.h"

#define FIELD(f) .off = offsetof(nl_config, f), .size = sizeof(((nl_config *)0)->f)
#define LIST(f, n) FIELD(f), .count_off = offsetof(nl_config, n)
#define BIT(v) (1u << (v))
#define GE(x) .lo = (x), .flags = NL_KF_LO
#define GT(x) .lo = (x), .flags = NL_KF_LO | NL_KF_LO_OPEN
/* an integer in [lo, hi]: every integer key has an upper bound (the test of
 * the table asks), the limit the code behind it takes, so that the key's
 * own range check reports it with the file, line and the real limit before
 * anything is sized by it */
#define IN(l, h) .lo = (l), .hi = (h), .flags = NL_KF_LO | NL_KF_HI

/* The further conditions (and_when) of the rules that one governing key
 * cannot say. A key with no effect under the others is refused where it is
 * set (config/resolve.c, check_keys); each rule here says when the code
 * behind the key reads it. */

/* the recurrent cell's normalizer (core/arch/rnn.c): placement in_cell and a
 * kind with a form in the cell; placement none builds the plain cell */
#define IN_CELL_CONDITIONS                                                                         \
    {.key = "model.norm.placement", .mask = BIT(NL_PLACE_IN_CELL)},                              \
        {.key = "model.norm.type", .mask = NL_ARCH_IN_CELL_NORMS}
static const nl_key_when in_cell_norm[] = {IN_CELL_CONDITIONS, {.key = NULL}};
/* the lstm's cell state: the gru has none */
static const nl_key_when in_cell_lstm[] = {
    IN_CELL_CONDITIONS, {.key = "model.cell", .mask = BIT(NL_RNN_LSTM)}, {.key = NULL}};
/* the cell's running statistics: only batch norm keeps them (per step) */
static const nl_key_when in_cell_running_stats[] = {
    {.key = "model.norm.placement", .mask = BIT(NL_PLACE_IN_CELL)},
    {.key = "model.norm.type", .mask = BIT(NL_NORM_BATCH)},
    {.key = "model.norm.track_running_stats", .mask = BIT(1)},
    {.key = NULL}};
#undef IN_CELL_CONDITIONS
/* the trace's fixed test samples: train mode traces each step's own batch */
static const nl_key_when trace_eval_mode[] = {
    {.key = "train.trace.mode", .mask = BIT(NL_TRACE_EVAL)}, {.key = NULL}};

/* Documentation order; sections must be contiguous (the writer opens each
 * section once). */
const nl_key_def nl_config_schema[] = {
    {.key = "name", .type = NL_KT_STRING, FIELD(name), .flags = NL_KF_RUN_NAME,
     .default_doc = "the config file's name without .yaml",
     .doc = "run name; the run directory is named after it"},
    {.key = "seed", .type = NL_KT_INT, FIELD(seed), .lo = 0, .hi = (double)INT64_MAX,
     .flags = NL_KF_LO | NL_KF_HI,
     .doc = "seeds everything random: initialization, data order, synthetic data"},
    {.key = "device", .type = NL_KT_ENUM, FIELD(device), .names = &nl_device_names,
     .doc = "where to train; cuda needs a CUDA build and a GPU (checked when the run starts)"},
    {.key = "threads", .type = NL_KT_INT, FIELD(threads), .lo = 0, .hi = NL_CONFIG_MAX_THREADS,
     .flags = NL_KF_LO | NL_KF_HI, .doc = "CPU threads; 0 = the cores other processes leave free when the run starts (or OMP_NUM_THREADS)"},
    {.key = "flush_subnormals", .type = NL_KT_BOOL, FIELD(flush_subnormals),
     .doc = "CPU threads flush subnormal floats to zero (FTZ+DAZ), which Intel cores compute "
            "slowly; false keeps IEEE gradual underflow"},

    {.key = "data.dataset", .type = NL_KT_ENUM, FIELD(data.kind), .names = &nl_dataset_names,
     .doc = "which dataset"},
    {.key = "data.path", .type = NL_KT_STRING, FIELD(data.path),
     .when_key = "data.dataset",
     .doc = "directory holding the dataset's files (text: the text file); \"\" = the "
            "dataset's default"},
    {.key = "data.train_size", .type = NL_KT_INT, FIELD(data.train_size), IN(0, NL_MAX_SAMPLES),
     .doc = "training samples used: the first N of the training split (text, synthetic_text: "
            "tokens); 0 = all"},
    {.key = "data.test_size", .type = NL_KT_INT, FIELD(data.test_size), IN(0, NL_MAX_SAMPLES),
     .doc = "test samples used: the first N of the test split (text, synthetic_text: tokens of "
            "the validation split); 0 = all"},
    {.key = "data.standardize", .type = NL_KT_BOOL, FIELD(data.standardize),
     .when_key = "data.dataset",
     .doc = "subtract the training split's per-channel mean and divide by its std"},
    /* data shifts (core/data/shift.c), for fine-tuning under shift: added
     * after checkpoint format 4 */
    {.key = "data.shift.invert", .type = NL_KT_BOOL, FIELD(data.shift_invert),
     .flags = NL_KF_AFTER_FORMAT4, .when_key = "data.dataset",
     .doc = "invert the pixels (x -> 1 - x on the [0, 1] scale), both splits; every shift "
            "acts before standardization, which keeps the unshifted training statistics"},
    {.key = "data.shift.contrast", .type = NL_KT_FLOAT, FIELD(data.shift_contrast),
     .lo = 0, .hi = 1e6, .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "data.dataset",
     .doc = "scale each image around its own mean pixel (after invert), both splits; 1 = none"},
    {.key = "data.shift.brightness", .type = NL_KT_FLOAT, FIELD(data.shift_brightness),
     .lo = 0, .hi = 1e6, .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "data.dataset",
     .doc = "multiply every pixel (after contrast), both splits; 1 = none"},
    {.key = "data.shift.offset", .type = NL_KT_FLOAT, FIELD(data.shift_offset),
     .lo = -1e6, .hi = 1e6, .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "data.dataset",
     .doc = "add to every pixel (after brightness; no clipping), both splits; 0 = none"},
    {.key = "data.shift.noise_std", .type = NL_KT_FLOAT, FIELD(data.shift_noise_std),
     .lo = 0, .hi = 1e6, .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "data.dataset",
     .doc = "std of Gaussian noise added to every pixel (last), both splits; drawn once per "
            "sample from the seed, the same in every run of that seed; 0 = none"},
    {.key = "data.classes_subset", .type = NL_KT_INT_LIST,
     LIST(data.classes_subset, data.n_classes_subset), .min_items = 0,
     .max_items = NL_DATA_MAX_CLASS_SUBSET, .lo = 0, .hi = NL_DATA_MAX_CLASS_SUBSET - 1,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4, .when_key = "data.dataset",
     .default_doc = "[] (all)",
     .doc = "class ids to keep, in both splits, relabelled 0..k-1 in the listed order (a "
            "model of k classes); each below the dataset's class count, no repeats"},
    {.key = "data.per_class", .type = NL_KT_INT, FIELD(data.per_class), .lo = 0,
     .hi = NL_MAX_SAMPLES,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4, .when_key = "data.dataset",
     .doc = "few-shot: keep this many training samples of each (kept) class, chosen from the "
            "seed; at most the smallest class; the test split stays whole; 0 = all"},
    {.key = "data.shape", .type = NL_KT_SHAPE, .lo = 1, .hi = NL_SHAPE_MAX_CHANNELS,
     .flags = NL_KF_LO | NL_KF_HI,
     .when_key = "data.dataset",
     .doc = "sample shape: [c, h, w] images, or [d] feature vectors (c = d, h = w = 1)"},
    {.key = "data.classes", .type = NL_KT_INT, FIELD(data.synthetic_classes), .lo = 2,
     .hi = 1000, .flags = NL_KF_LO | NL_KF_HI, .when_key = "data.dataset",
     .doc = "number of classes"},
    {.key = "data.vocabulary", .type = NL_KT_ENUM, FIELD(data.vocab), .names = &nl_vocab_names,
     .when_key = "data.dataset",
     .doc = "tokens of a text: its bytes (256), or the distinct bytes it uses, in byte order"},
    {.key = "data.valid_fraction", .type = NL_KT_FLOAT, FIELD(data.valid_fraction), .lo = 0,
     .hi = 1, .flags = NL_KF_LO | NL_KF_LO_OPEN | NL_KF_HI | NL_KF_HI_OPEN,
     .when_key = "data.dataset",
     .doc = "share of the tokens, from the end, held out as the validation split"},
    {.key = "data.markov.vocab", .type = NL_KT_INT, FIELD(data.markov_vocab), .lo = 2,
     .hi = NL_MARKOV_MAX_VOCAB, .flags = NL_KF_LO | NL_KF_HI, .when_key = "data.dataset",
     .doc = "tokens of the synthetic Markov chain"},
    {.key = "data.markov.order", .type = NL_KT_INT, FIELD(data.markov_order), .lo = 1,
     .hi = NL_MARKOV_MAX_ORDER, .flags = NL_KF_LO | NL_KF_HI, .when_key = "data.dataset",
     .doc = "how many previous tokens decide the next one (more than 1 needs attention)"},
    {.key = "data.markov.branching", .type = NL_KT_INT, FIELD(data.markov_branching), .lo = 1,
     .hi = NL_MARKOV_MAX_VOCAB, .flags = NL_KF_LO | NL_KF_HI, .when_key = "data.dataset",
     .doc = "equally likely next tokens after each context (at most vocab): the best loss is "
            "ln(branching) nats per token"},
    {.key = "data.markov.length", .type = NL_KT_INT, FIELD(data.markov_length), .lo = 2,
     .hi = NL_MARKOV_MAX_LENGTH, .flags = NL_KF_LO | NL_KF_HI, .when_key = "data.dataset",
     .doc = "tokens generated, both splits together"},

    {.key = "model.arch", .type = NL_KT_ENUM, FIELD(model.arch), .names = &nl_arch_names,
     .doc = "architecture"},
    {.key = "model.widths", .type = NL_KT_INT_LIST, LIST(model.widths, model.n_widths),
     .min_items = 1, .max_items = NL_MAX_WIDTHS, .lo = 1, .hi = NL_MAX_WIDTH,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_RULE_NEWER, .when_key = "model.arch",
     .doc = "mlp: hidden layer widths; cnn/resnet: channels of each stage (each stage after "
            "the first halves the image)"},
    {.key = "model.activation", .type = NL_KT_ENUM, FIELD(model.activation),
     .names = &nl_activation_names, .flags = NL_KF_RULE_NEWER, .when_key = "model.arch",
     .doc = "nonlinearity (resnet blocks always use relu; there it picks the initialization)"},
    /* the keys only some architectures read: .when_key "model.arch", and
     * the architectures whose rows in core/arch/registry.c list the key */
    {.key = "model.pool", .type = NL_KT_ENUM, FIELD(model.pool), .names = &nl_pool_names,
     .when_key = "model.arch", .doc = "pooling after each stage"},
    {.key = "model.convs_per_stage", .type = NL_KT_INT, FIELD(model.convs_per_stage),
     IN(1, NL_MAX_DEPTH), .when_key = "model.arch",
     .doc = "3x3 convolutions (each with norm and activation) per stage"},
    {.key = "model.blocks_per_stage", .type = NL_KT_INT, FIELD(model.blocks_per_stage),
     IN(1, NL_MAX_DEPTH), .when_key = "model.arch", .doc = "basic residual blocks per stage"},
    {.key = "model.skip_init", .type = NL_KT_BOOL, FIELD(model.skip_init),
     .flags = NL_KF_AFTER_FORMAT4, .when_key = "model.arch",
     .doc = "SkipInit (De & Smith 2020): every residual block adds alpha * branch to its "
            "shortcut, alpha one learned scalar per block (parameter stageS.blockB.skip_gain, no "
            "weight decay when normalization parameters have none)"},
    {.key = "model.skip_init_alpha", .type = NL_KT_FLOAT, FIELD(model.skip_init_alpha),
     .flags = NL_KF_AFTER_FORMAT4, .when_key = "model.skip_init", .when_mask = BIT(1),
     .doc = "the value every block's alpha starts at (0: each block starts as the identity)"},
    {.key = "model.stem_width", .type = NL_KT_INT, FIELD(model.stem_width), .lo = 0,
     .hi = NL_MAX_WIDTH, .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "channels of the stem convolution; 0 = widths[0]"},
    {.key = "model.d_model", .type = NL_KT_INT, FIELD(model.d_model), .lo = 1, .hi = NL_MAX_WIDTH,
     .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "width of the token vectors (the residual stream)"},
    {.key = "model.heads", .type = NL_KT_INT, FIELD(model.heads), .lo = 1, .hi = 4096,
     .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "attention heads; must divide d_model"},
    {.key = "model.layers", .type = NL_KT_INT, FIELD(model.layers), .lo = 0, .hi = NL_MAX_DEPTH,
     .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch", .doc = "transformer (or mixer) blocks, or stacked recurrent layers"},
    {.key = "model.context", .type = NL_KT_INT, FIELD(model.context), .lo = 1, .hi = 1 << 16,
     .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "tokens per training sequence (the position table's size)"},
    {.key = "model.mlp_ratio", .type = NL_KT_INT, FIELD(model.mlp_ratio), .lo = 1, .hi = 64,
     .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "the MLP's hidden width in multiples of d_model"},
    {.key = "model.qk_norm", .type = NL_KT_BOOL, FIELD(model.qk_norm), .when_key = "model.arch",
     .doc = "QK-norm: model.norm.type on each head's query and key before the dot product "
            "(applies with placement none too)"},
    {.key = "model.gelu", .type = NL_KT_ENUM, FIELD(model.gelu), .names = &nl_gelu_names,
     .when_key = "model.arch", .doc = "the MLP's GELU"},
    {.key = "model.tie_embeddings", .type = NL_KT_BOOL, FIELD(model.tie_embeddings),
     .when_key = "model.arch", .doc = "the LM head's weight is the token embedding table"},
    {.key = "model.patch", .type = NL_KT_INT, FIELD(model.patch), .lo = 1, .hi = 4096,
     .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "side of the square patches the image is cut into, one token each; must divide "
            "the image's height and width (7 on 28x28: 16 tokens)"},
    {.key = "model.token_pool", .type = NL_KT_ENUM, FIELD(model.token_pool),
     .names = &nl_token_pool_names, .when_key = "model.arch",
     .doc = "what the classifier reads: a learned class token's output, or the mean over the "
            "tokens"},
    {.key = "model.token_mlp_width", .type = NL_KT_INT, FIELD(model.token_mlp_width), .lo = 0,
     .hi = NL_MAX_WIDTH, .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "hidden width of the mixer's MLP across the tokens (per channel); 0 = d_model / 2 "
            "(rounded up), the paper's at every size"},
    {.key = "model.cell", .type = NL_KT_ENUM, FIELD(model.cell), .names = &nl_rnn_cell_names,
     .when_key = "model.arch", .doc = "the recurrent cell: PyTorch's LSTM or GRU"},
    {.key = "model.hidden", .type = NL_KT_INT, FIELD(model.hidden), .lo = 1, .hi = NL_MAX_WIDTH,
     .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.arch",
     .doc = "units of each recurrent layer's hidden state (and the rnn_lm's embedding width)"},
    {.key = "model.permute_pixels", .type = NL_KT_BOOL, FIELD(model.permute_pixels),
     .when_key = "model.arch",
     .doc = "the image's pixels in one fixed random order (the same in every run) before the "
            "rows are read: the permuted sequential task"},
    {.key = "model.bias", .type = NL_KT_BIAS, FIELD(model.bias),
     .doc = "biases of linear/conv layers; auto: none where a norm with a learned shift follows"},
    {.key = "model.init", .type = NL_KT_ENUM, FIELD(model.init), .names = &nl_init_names,
     .doc = "weight initialization"},
    {.key = "model.init_std", .type = NL_KT_FLOAT, FIELD(model.init_std), GT(0),
     .when_key = "model.init", .when_mask = BIT(NL_INIT_GAUSSIAN),
     .doc = "standard deviation of the gaussian initialization"},
    {.key = "model.weight_standardization", .type = NL_KT_BOOL,
     FIELD(model.weight_standardization),
     .doc = "weight standardization (Qiao et al. 2019): every conv and hidden linear weight, not "
            "the classifier's, used as (w - mean) / sqrt(var + eps) per output unit over its "
            "fan-in (biased var); composes with any model.norm.type (GN + WS)"},
    {.key = "model.weight_standardization_eps", .type = NL_KT_FLOAT,
     FIELD(model.weight_standardization_eps), GT(0), .when_key = "model.weight_standardization",
     .when_mask = BIT(true), .doc = "eps of weight standardization (timm's StdConv2d: 1e-6)"},
    /* parameter normalizers (layers/param_norm_kinds.def): added after
     * checkpoint format 4 */
    {.key = "model.param_norm.type", .type = NL_KT_ENUM, FIELD(model.param_norm.kind),
     .names = &nl_param_norm_names, .flags = NL_KF_AFTER_FORMAT4, .when_key = "model.arch",
     .doc = "a transform of every conv and hidden linear weight (not the classifier's) before "
            "use, forward and backward; composes with any model.norm.type; "
            "model.weight_standardization: true is the older spelling of standardization; "
            "weight: w = g * v / ||v|| per output unit (torch.nn.utils.weight_norm, dim 0), g "
            "the parameter <layer>.weight_g, starting at ||v||, decayed as the norm gains are "
            "(train.optimizer.decay_norm_and_bias); spectral: w / sigma, sigma by power "
            "iteration (torch.nn.utils.spectral_norm, dim 0), u, v the layer state "
            "<layer>.weight_u, <layer>.weight_v, checkpointed"},
    {.key = "model.param_norm.eps", .type = NL_KT_FLOAT, FIELD(model.param_norm.eps), GT(0),
     .when_key = "model.param_norm.type", .when_mask = BIT(NL_PARAM_NORM_STANDARDIZATION),
     .doc = "eps of weight standardization, inside the square root"},
    {.key = "model.param_norm.power_iterations", .type = NL_KT_INT,
     FIELD(model.param_norm.power_iterations), .lo = 1, .hi = 1000,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "model.param_norm.type", .when_mask = BIT(NL_PARAM_NORM_SPECTRAL),
     .doc = "power-iteration updates of u, v in each training forward "
            "(torch.nn.utils.spectral_norm's n_power_iterations); evaluation takes none and "
            "uses the stored u, v"},
    {.key = "model.param_norm.data_init", .type = NL_KT_BOOL, FIELD(model.param_norm.data_init),
     .flags = NL_KF_AFTER_FORMAT4, .when_key = "model.param_norm.type",
     .when_mask = BIT(NL_PARAM_NORM_WEIGHT),
     .doc = "Salimans & Kingma's data-dependent initialization: once, on a fresh run's first "
            "training batch (which the first step then trains on), layer by layer, g <- g / "
            "std(t) and the bias b <- -mean(t) / std(t), t each output unit's values, so that "
            "they start at zero mean and unit variance; a resumed run keeps what it did; one "
            "process only"},
    {.key = "model.dropout.p", .type = NL_KT_FLOAT, FIELD(model.dropout_p), .lo = 0, .hi = 1,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_HI_OPEN | NL_KF_AFTER_FORMAT4, .when_key = "model.arch",
     .doc = "inverted dropout (torch.nn.Dropout): probability of zeroing a value, the kept "
            "ones scaled by 1 / (1 - p), in training only; 0 = no dropout layers"},
    /* p 0 builds no dropout layer, where the placement has no effect either;
     * not ruled (and_when model.dropout.p) yet: experiments/li2019-dropout-bn
     * keeps its p 0 runs under one placement, the lines' shared baseline,
     * and a rule would rename those committed runs and move the baseline
     * out of the plot's placement lines */
    {.key = "model.dropout.placement", .type = NL_KT_ENUM, FIELD(model.dropout_placement),
     .names = &nl_dropout_placement_names, .flags = NL_KF_AFTER_FORMAT4,
     .when_key = "model.arch",
     .doc = "where the dropout layers sit in the blocks (Li et al. 2019: dropout feeding batch "
            "norm shifts its variance between training and test)"},
    {.key = "model.norm_noise.distribution", .type = NL_KT_ENUM,
     FIELD(model.norm_noise.distribution), .names = &nl_noise_distribution_names,
     .flags = NL_KF_AFTER_FORMAT4, .when_key = "model.arch",
     .doc = "\"noisy\" batch norm (Santurkar et al. 2018): after every normalizer, in training "
            "only, each channel times a scale plus a shift, both drawn anew each step from this "
            "distribution; none = no noise"},
#define NOISE_ON BIT(NL_NOISE_GAUSSIAN) | BIT(NL_NOISE_UNIFORM)
    {.key = "model.norm_noise.scale_mean", .type = NL_KT_FLOAT, FIELD(model.norm_noise.scale_mean),
     .when_key = "model.norm_noise.distribution", .when_mask = NOISE_ON,
     .doc = "mean of the per-channel scale"},
    {.key = "model.norm_noise.scale_std", .type = NL_KT_FLOAT, FIELD(model.norm_noise.scale_std),
     GE(0), .when_key = "model.norm_noise.distribution", .when_mask = NOISE_ON,
     .doc = "standard deviation of the per-channel scale"},
    {.key = "model.norm_noise.shift_mean", .type = NL_KT_FLOAT, FIELD(model.norm_noise.shift_mean),
     .when_key = "model.norm_noise.distribution", .when_mask = NOISE_ON,
     .doc = "mean of the per-channel shift"},
    {.key = "model.norm_noise.shift_std", .type = NL_KT_FLOAT, FIELD(model.norm_noise.shift_std),
     GE(0), .when_key = "model.norm_noise.distribution", .when_mask = NOISE_ON,
     .doc = "standard deviation of the per-channel shift"},
#undef NOISE_ON

    {.key = "model.norm.type", .type = NL_KT_ENUM, FIELD(model.norm.kind), .names = &nl_norm_names,
     .doc = "normalizer"},
    {.key = "model.norm.placement", .type = NL_KT_ENUM, FIELD(model.norm.placement),
     .names = &nl_placement_names,
     .default_doc = "the architecture's own (the architecture table: first of its placements)",
     .doc = "where the norm sits: before/after the activation (mlp, cnn); post/pre-activation "
            "blocks (resnet); pre/post/peri/none in each transformer block (lm, vit); each "
            "model.arch accepts the placements of its row in the architecture table"},
    {.key = "model.norm.groups", .type = NL_KT_INT, FIELD(model.norm.groups), IN(1, NL_MAX_WIDTH),
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_GROUPS,
     .doc = "channel groups; must divide the channels of every normalized layer"},
    {.key = "model.norm.eps", .type = NL_KT_FLOAT, FIELD(model.norm.eps), GT(0),
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_EPS,
     .doc = "added to the variance inside the square root"},
    {.key = "model.norm.momentum", .type = NL_KT_MOMENTUM, FIELD(model.norm.momentum), .lo = 0,
     .hi = 1, .flags = NL_KF_LO | NL_KF_HI, .when_key = "model.norm.type",
     .when_norm_keys = NL_NORM_KEY_MOMENTUM,
     .doc = "running statistics: running = (1 - m) * running + m * batch (PyTorch); "
            "cumulative (or null): plain average of all batches"},
    {.key = "model.norm.affine", .type = NL_KT_BOOL, FIELD(model.norm.affine),
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_AFFINE,
     .doc = "learned per-channel scale (gamma) and shift (beta)"},
    {.key = "model.norm.track_running_stats", .type = NL_KT_BOOL,
     FIELD(model.norm.track_running_stats), .when_key = "model.norm.type",
     .when_norm_keys = NL_NORM_KEY_TRACK_RUNNING_STATS,
     .default_doc = "true for batch, false for instance",
     .doc = "keep running statistics and use them in eval mode; false: batch statistics in eval too"},
    {.key = "model.norm.r_max", .type = NL_KT_FLOAT, FIELD(model.norm.r_max), GE(1),
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_RENORM,
     .doc = "batch renorm: r = sigma_batch / sigma_running is clipped to [1/r_max, r_max]"},
    {.key = "model.norm.d_max", .type = NL_KT_FLOAT, FIELD(model.norm.d_max), GE(0),
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_RENORM,
     .doc = "batch renorm: d = (mu_batch - mu_running) / sigma_running is clipped to [-d_max, d_max]"},
    {.key = "model.norm.r_max_ramp", .type = NL_KT_INT_LIST,
     LIST(model.norm.r_max_ramp, model.norm.n_r_max_ramp), .min_items = 2, .max_items = 2,
     IN(0, NL_MAX_STEPS), .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_RENORM,
     .doc = "batch renorm: [from, to] training steps over which the r limit grows linearly from "
            "1 to r_max (the paper: 5000 to 40000 of ~130k steps)"},
    {.key = "model.norm.d_max_ramp", .type = NL_KT_INT_LIST,
     LIST(model.norm.d_max_ramp, model.norm.n_d_max_ramp), .min_items = 2, .max_items = 2,
     IN(0, NL_MAX_STEPS), .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_RENORM,
     .doc = "batch renorm: [from, to] training steps over which the d limit grows linearly from "
            "0 to d_max (the paper: 5000 to 25000)"},
    {.key = "model.norm.virtual_batch", .type = NL_KT_INT, FIELD(model.norm.virtual_batch),
     .lo = 1, .hi = NL_MAX_BATCH, .flags = NL_KF_LO | NL_KF_HI | NL_KF_ZERO_UNSET,
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_VIRTUAL_BATCH,
     .default_doc = "not set (required)",
     .doc = "ghost batch: samples per virtual batch; must divide train.batch_size"},
    {.key = "model.norm.sync", .type = NL_KT_BOOL, FIELD(model.norm.sync),
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_SYNC,
     .doc = "under MPI: batch statistics of the global batch, all-reduced across the ranks "
            "(PyTorch's SyncBatchNorm); false: each rank normalizes its own slice"},
    {.key = "model.norm.alpha_init", .type = NL_KT_FLOAT, FIELD(model.norm.alpha_init), GT(0),
     .when_key = "model.norm.type", .when_norm_keys = NL_NORM_KEY_ALPHA_INIT,
     .doc = "starting value of the learned scalar alpha inside tanh (Zhu et al.: 0.5)"},
    {.key = "model.norm.cell_state", .type = NL_KT_BOOL, FIELD(model.norm.cell_state),
     .flags = NL_KF_AND_WHEN_NEWER, .when_key = "model.arch", .and_when = in_cell_lstm,
     .doc = "placement in_cell: the lstm's cell state normalized before its output tanh too; "
            "false: the projections alone"},
    {.key = "model.norm.step_stats", .type = NL_KT_BOOL, FIELD(model.norm.step_stats),
     .flags = NL_KF_AND_WHEN_NEWER, .when_key = "model.arch", .and_when = in_cell_running_stats,
     .doc = "placement in_cell, batch: running statistics per step for evaluation (Cooijmans et "
            "al.); false: one set that every step updates and reads (training keeps each "
            "step's batch statistics)"},
    {.key = "model.norm.stats_precision", .type = NL_KT_ENUM, FIELD(model.norm.stats_precision),
     .names = &nl_precision_names, .flags = NL_KF_AFTER_FORMAT4, .when_key = "model.norm.type",
     .when_norm_keys = NL_NORM_KEY_STATS_PRECISION,
     .doc = "the precision the normalizers compute and keep their statistics in (mean, "
            "variance, running statistics); autocast keeps fp32, a lower one is the ablation: "
            "sequential sums rounded to it at every step, the normalization itself in fp32 "
            "(core/cpu/norm_lowp.c)"},
    {.key = "model.norm.cell_gamma", .type = NL_KT_FLOAT, FIELD(model.norm.cell_gamma), .lo = 0,
     .flags = NL_KF_LO | NL_KF_AND_WHEN_NEWER, .when_key = "model.arch", .and_when = in_cell_norm,
     .default_doc = "0: 0.1 for batch (Cooijmans et al.), 1 for layer and rms",
     .doc = "placement in_cell: the starting value of every gain in the cell"},

    {.key = "train.batch_size", .type = NL_KT_INT, FIELD(train.batch_size), IN(1, NL_MAX_BATCH),
     .doc = "training batch size"},
    {.key = "train.eval_batch_size", .type = NL_KT_INT, FIELD(train.eval_batch_size),
     IN(1, NL_MAX_BATCH),
     .doc = "evaluation batch size (eval mode; train-mode evaluation uses batch_size)"},
    {.key = "train.epochs", .type = NL_KT_INT, FIELD(train.epochs), .lo = 1, .hi = NL_MAX_STEPS,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_ZERO_UNSET, .default_doc = "1 (when steps is not given)",
     .doc = "passes over the training split; give epochs or steps, not both"},
    {.key = "train.steps", .type = NL_KT_INT, FIELD(train.steps), .lo = 1, .hi = NL_MAX_STEPS,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_ZERO_UNSET, .default_doc = "not set (epochs is used)",
     .doc = "optimizer steps (batches); give epochs or steps, not both"},

    {.key = "train.precision", .type = NL_KT_ENUM, FIELD(train.precision),
     .names = &nl_precision_names, .flags = NL_KF_AFTER_FORMAT4,
     .doc = "mixed precision as torch.autocast: matrix products, convolutions and attention "
            "products take inputs rounded to it and accumulate in fp32; normalizers, softmax, "
            "the loss, master weights and optimizer state stay fp32; fp16 scales the loss "
            "(train.loss_scale)"},
    /* GradScaler's arguments; added after checkpoint format 4 */
    {.key = "train.loss_scale.enabled", .type = NL_KT_BOOL, FIELD(train.loss_scale.enabled),
     .flags = NL_KF_AFTER_FORMAT4,
     .default_doc = "true when train.precision is fp16, false otherwise",
     .doc = "dynamic loss scaling as torch.cuda.amp.GradScaler: the loss's gradient is "
            "multiplied by the scale, the gradients are unscaled before clipping and the "
            "update, a step whose gradients hold an inf or NaN is skipped (the learning-rate "
            "schedule still advances) and the scale backs off; series.csv logs the scale, the "
            "skipped steps and the gradients' exact zeros. Allowed under fp32 and bf16 too"},
    {.key = "train.loss_scale.init_scale", .type = NL_KT_FLOAT, FIELD(train.loss_scale.init_scale),
     .lo = 0, .hi = 3.4e38, .flags = NL_KF_LO | NL_KF_LO_OPEN | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "train.loss_scale.enabled", .when_mask = BIT(1),
     .doc = "the scale of the first step"},
    {.key = "train.loss_scale.growth_factor", .type = NL_KT_FLOAT,
     FIELD(train.loss_scale.growth_factor), .lo = 1, .hi = 1e6,
     .flags = NL_KF_LO | NL_KF_LO_OPEN | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "train.loss_scale.enabled", .when_mask = BIT(1),
     .doc = "the scale is multiplied by this after growth_interval steps in a row without an "
            "inf or NaN gradient (a growth to infinity is refused, as GradScaler does)"},
    {.key = "train.loss_scale.backoff_factor", .type = NL_KT_FLOAT,
     FIELD(train.loss_scale.backoff_factor), .lo = 0, .hi = 1,
     .flags = NL_KF_LO | NL_KF_LO_OPEN | NL_KF_HI | NL_KF_HI_OPEN | NL_KF_AFTER_FORMAT4,
     .when_key = "train.loss_scale.enabled", .when_mask = BIT(1),
     .doc = "the scale is multiplied by this after a step whose gradients held an inf or NaN"},
    {.key = "train.loss_scale.growth_interval", .type = NL_KT_INT,
     FIELD(train.loss_scale.growth_interval), .lo = 1, .hi = NL_MAX_STEPS,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "train.loss_scale.enabled", .when_mask = BIT(1),
     .doc = "steps in a row without an inf or NaN gradient before the scale grows"},

    {.key = "train.optimizer.type", .type = NL_KT_ENUM, FIELD(train.optimizer.kind),
     .names = &nl_optim_names, .doc = "optimizer (the optimizer table below)"},
    {.key = "train.optimizer.lr", .type = NL_KT_FLOAT, FIELD(train.optimizer.lr), GT(0),
     .default_doc = "per optimizer (the optimizer table)", .doc = "base learning rate"},
    {.key = "train.optimizer.momentum", .type = NL_KT_FLOAT, FIELD(train.optimizer.momentum),
     .lo = 0, .hi = 1, .flags = NL_KF_LO | NL_KF_HI | NL_KF_HI_OPEN,
     .when_key = "train.optimizer.type", .when_optim_keys = NL_OPTIM_KEY_MOMENTUM,
     .default_doc = "per optimizer (the optimizer table)",
     .doc = "momentum (PyTorch's SGD: v = momentum * v + (1 - dampening) * g; p -= lr * v; "
            "RMSprop: b = momentum * b + g / avg; p -= lr * b)"},
    {.key = "train.optimizer.dampening", .type = NL_KT_FLOAT, FIELD(train.optimizer.dampening),
     .lo = 0, .hi = 1, .flags = NL_KF_LO | NL_KF_HI, .when_key = "train.optimizer.type",
     .when_optim_keys = NL_OPTIM_KEY_DAMPENING, .doc = "momentum dampening"},
    {.key = "train.optimizer.nesterov", .type = NL_KT_BOOL, FIELD(train.optimizer.nesterov),
     .when_key = "train.optimizer.type", .when_optim_keys = NL_OPTIM_KEY_DAMPENING,
     .doc = "Nesterov momentum; needs momentum > 0 and dampening 0"},
    {.key = "train.optimizer.alpha", .type = NL_KT_FLOAT, FIELD(train.optimizer.alpha),
     .lo = 0, .hi = 1, .flags = NL_KF_LO | NL_KF_HI, .when_key = "train.optimizer.type",
     .when_optim_keys = NL_OPTIM_KEY_ALPHA,
     .doc = "decay rate of the gradient's running mean square (v = alpha * v + (1 - alpha) * g^2)"},
    {.key = "train.optimizer.centered", .type = NL_KT_BOOL, FIELD(train.optimizer.centered),
     .when_key = "train.optimizer.type", .when_optim_keys = NL_OPTIM_KEY_ALPHA,
     .doc = "divide by the root of the gradient's running variance (the mean square less the "
            "square of its running mean) instead of the mean square"},
    {.key = "train.optimizer.betas", .type = NL_KT_FLOAT_LIST,
     LIST(train.optimizer.betas, train.optimizer.n_betas), .min_items = 2, .max_items = 2,
     .lo = 0, .hi = 1, .flags = NL_KF_LO | NL_KF_HI | NL_KF_HI_OPEN,
     .when_key = "train.optimizer.type", .when_optim_keys = NL_OPTIM_KEY_BETAS,
     .default_doc = "per optimizer (the optimizer table)",
     .doc = "decay rates of the first and second moment estimates"},
    {.key = "train.optimizer.eps", .type = NL_KT_FLOAT, FIELD(train.optimizer.eps), GT(0),
     .when_key = "train.optimizer.type", .when_optim_keys = NL_OPTIM_KEY_EPS,
     .doc = "added to the square root of the second moment (AdamW's bias-corrected), outside the root"},
    {.key = "train.optimizer.weight_decay", .type = NL_KT_FLOAT,
     FIELD(train.optimizer.weight_decay), GE(0), .default_doc = "per optimizer (the optimizer table)",
     .doc = "as the optimizer's reference has it (the list under the optimizer table): an L2 "
            "penalty added to the gradient, or decoupled, p *= 1 - lr * weight_decay before the "
            "update"},
    {.key = "train.optimizer.decay_norm_and_bias", .type = NL_KT_BOOL,
     FIELD(train.optimizer.decay_norm_and_bias), .doc = "false: norm gammas/betas and biases get no weight decay (true, the default, "
            "decays every parameter, as torch.optim.*(model.parameters()) does)"},
    {.key = "train.clip_grad_norm", .type = NL_KT_FLOAT, FIELD(train.clip_grad_norm), GE(0),
     .doc = "clip the L2 norm of all gradients together to this (torch.nn.utils.clip_grad_norm_) "
            "and log it as metrics.csv's grad_norm; 0 = off"},

    {.key = "train.schedule.type", .type = NL_KT_ENUM, FIELD(train.schedule.kind),
     .names = &nl_schedule_names, .doc = "learning-rate schedule"},
    {.key = "train.schedule.warmup_steps", .type = NL_KT_INT, FIELD(train.schedule.warmup_steps),
     IN(0, NL_MAX_STEPS), .doc = "linear warmup from lr / warmup_steps to lr over this many steps"},
    {.key = "train.schedule.milestones", .type = NL_KT_INT_LIST,
     LIST(train.schedule.milestones, train.schedule.n_milestones), .min_items = 0,
     .max_items = NL_MAX_MILESTONES, .lo = 1, .hi = NL_MAX_STEPS,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_INCREASING,
     .when_key = "train.schedule.type", .when_mask = BIT(NL_SCHED_STEP),
     .doc = "steps at which lr is multiplied by gamma; each below the run's step count (steps "
            "count from 0)"},
    {.key = "train.schedule.gamma", .type = NL_KT_FLOAT, FIELD(train.schedule.gamma), .lo = 0,
     .hi = 1, .flags = NL_KF_LO | NL_KF_LO_OPEN | NL_KF_HI, .when_key = "train.schedule.type",
     .when_mask = BIT(NL_SCHED_STEP), .doc = "factor applied at each milestone"},
    {.key = "train.schedule.min_lr", .type = NL_KT_FLOAT, FIELD(train.schedule.min_lr), GE(0),
     .when_key = "train.schedule.type", .when_mask = BIT(NL_SCHED_COSINE),
     .doc = "learning rate reached at the last step"},

    {.key = "train.checkpoint_every", .type = NL_KT_INT, FIELD(train.checkpoint_every),
     IN(0, NL_MAX_STEPS),
     .doc = "steps between checkpoints of the whole training state in the run directory; a "
            "killed run run again resumes from the last one, bit for bit; 0 = none"},
    {.key = "train.eval_every", .type = NL_KT_INT, FIELD(train.eval_every), IN(1, NL_MAX_STEPS),
     .doc = "steps between evaluations on the test split (and one at the end)"},
    {.key = "train.log_every", .type = NL_KT_INT, FIELD(train.log_every), IN(1, NL_MAX_STEPS),
     .doc = "steps per training log row (mean loss/accuracy over them)"},
    {.key = "train.log.grad_norms", .type = NL_KT_BOOL, FIELD(train.log_grad_norms),
     .doc = "log the L2 norm of each layer's parameter gradients (per block of a transformer) "
            "to series.csv, before clipping, at step 0 and every train.log_every steps"},
    {.key = "train.log.attention_logits", .type = NL_KT_BOOL,
     FIELD(train.log_attention_logits),
     .doc = "log each attention layer's largest pre-softmax logit of the step's forward pass "
            "to series.csv, at step 0 and every train.log_every steps (models with attention)"},
    {.key = "train.log.variance_shift", .type = NL_KT_BOOL, FIELD(train.log_variance_shift),
     .flags = NL_KF_AFTER_FORMAT4,
     .doc = "at every evaluation, log to series.csv for each normalizer with running statistics "
            "its running variance over the variance its input has on the test split in eval "
            "mode, averaged over the channels (Li et al. 2019's variance shift); costs one more "
            "eval-mode pass over the test split per evaluation"},
    {.key = "train.log.step_norms", .type = NL_KT_BOOL, FIELD(train.log_step_norms),
     .flags = NL_KF_AFTER_FORMAT4,
     .doc = "at every evaluation, log to series.csv for each recurrent layer giving its state "
            "at every step (rnn_lm; rnn below its top layer) the L2 norm of its hidden state "
            "h_t against the time step t, averaged over the test split in eval mode "
            "(series step_norm, its layer column the step); costs one more eval-mode pass "
            "over the test split per evaluation"},
    {.key = "train.log.weight_stats", .type = NL_KT_BOOL, FIELD(train.log_weight_stats),
     .flags = NL_KF_AFTER_FORMAT4,
     .doc = "log to series.csv, at step 0 and every train.log_every steps, each weight tensor's "
            "L2 norm (linear, conv, embedding and recurrent weights; not biases or "
            "normalization parameters) and the step's update ratio ||w_after - w_before|| / "
            "||w_before||, and that ratio again as effective_lr for the weights whose layer "
            "feeds batch norm or a variant (scale-invariant; van Laarhoven 2017); keeps a copy "
            "of the weights"},
    {.key = "train.log.signal_propagation", .type = NL_KT_BOOL,
     FIELD(train.log_signal_propagation), .flags = NL_KF_AFTER_FORMAT4,
     .doc = "before the first step, log to series.csv signal propagation at initialization "
            "(Brock et al. 2021): for the output of every residual add and the input of every "
            "normalizer, the channel mean squared and the channel variance (per channel over "
            "N*H*W) averaged over channels, on the first training batches in order, with batch "
            "statistics and running statistics left alone; image models with a residual block "
            "or a normalizer"},
    {.key = "train.log.signal_propagation_batches", .type = NL_KT_INT,
     FIELD(train.signal_propagation_batches), .lo = 1, .hi = 1000,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "train.log.signal_propagation", .when_mask = BIT(1),
     .doc = "training batches (of train.batch_size, from the first sample on) the signal "
            "propagation probe averages its statistics over"},
    {.key = "train.log.landscape.every", .type = NL_KT_INT, FIELD(train.landscape.every), .lo = 1,
     .hi = NL_MAX_STEPS, .flags = NL_KF_LO | NL_KF_HI | NL_KF_ZERO_UNSET | NL_KF_AFTER_FORMAT4,
     .default_doc = "not set (no probe)",
     .doc = "every this many steps from step 0, before the update, probe the loss landscape "
            "along the step's gradient g on the step's own batch (Santurkar et al. 2018): at "
            "w - eta*g for each step size eta, log to series.csv the loss range, the gradient "
            "predictiveness range ||grad(w - eta*g) - g|| and the effective beta-smoothness "
            "max ||grad(w - eta*g) - g|| / (eta ||g||); batch statistics, dropout masks and "
            "noise as in the step, running statistics untouched; costs a copy of the weights, "
            "gradients and running statistics and a forward and backward per step size"},
    {.key = "train.log.landscape.lr_multiples", .type = NL_KT_FLOAT_LIST,
     LIST(train.landscape.lr_multiples, train.landscape.n_lr_multiples), .min_items = 1,
     .max_items = NL_LANDSCAPE_MAX_STEPS, .lo = 0, .hi = 1e6,
     .flags = NL_KF_LO | NL_KF_LO_OPEN | NL_KF_HI | NL_KF_INCREASING | NL_KF_AFTER_FORMAT4 |
              NL_KF_RULE_NEWER,
     .when_key = "train.log.landscape.every",
     .doc = "the landscape probe's step sizes as multiples of the step's learning rate "
            "(series.csv logs each as landscape_step_size)"},
    {.key = "train.diverge_loss", .type = NL_KT_FLOAT, FIELD(train.diverge_loss), GT(0),
     .doc = "a training loss above this (or NaN/inf) ends the run as diverged"},
    {.key = "train.eval_trainmode", .type = NL_KT_BOOL, FIELD(train.eval_trainmode),
     .doc = "also evaluate with batch statistics (train mode), reported as test_trainmode"},
    {.key = "train.device_data", .type = NL_KT_ENUM, FIELD(train.device_data),
     .names = &nl_device_data_names,
     .doc = "device cuda: keep the dataset in GPU memory, uploaded once, and gather each batch "
            "there from its sample indices or window starts (bit-identical results); auto does "
            "when both splits fit in 3/4 of the GPU memory free once the model is built, on makes "
            "that an error, off uploads every batch; device cpu: on is an error (nothing to gain)"},
    {.key = "train.cuda_graph", .type = NL_KT_ENUM, FIELD(train.cuda_graph),
     .names = &nl_cuda_graph_names,
     .doc = "auto: on device cuda in one process, record the training step (forward, backward, "
            "clipping, optimizer) once as a CUDA graph and replay it, each step's changing "
            "values (learning rate, AdamW's corrections, momenta) read from GPU memory "
            "(bit-identical results); steps that log series.csv run directly. off (the default "
            "until it has been measured on a GPU): launch each kernel"},
    {.key = "train.freeze_bn_after", .type = NL_KT_INT, FIELD(train.freeze_bn_after), .lo = 1,
     .hi = NL_MAX_STEPS, .flags = NL_KF_LO | NL_KF_HI | NL_KF_ZERO_UNSET,
     .default_doc = "not set (never)",
     .doc = "after this many steps every normalizer with running statistics normalizes with them "
            "in training too (eval mode, gradient through that fixed affine map) and stops "
            "updating them; must be below the run's steps"},
    {.key = "train.bn_recalibrate.batches", .type = NL_KT_INT,
     FIELD(train.bn_recalibrate_batches), .lo = 1, .hi = NL_MAX_STEPS,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_ZERO_UNSET, .default_doc = "not set (no recalibration)",
     .doc = "after training, reset the running statistics and recompute them as the plain average "
            "(PyTorch's momentum=None) over this many training batches in train mode, weights "
            "fixed, before the final evaluation"},

    {.key = "train.trace.activation", .type = NL_KT_STRING, FIELD(train.trace.activation),
     .doc = "activation to trace: a layer name (\"norm3\") or a layer's input (\"act3.in\"); \"\" = no tracing"},
    {.key = "train.trace.unit", .type = NL_KT_INT, FIELD(train.trace.unit), .lo = 0,
     .hi = NL_MAX_WIDTH - 1, .flags = NL_KF_LO | NL_KF_HI | NL_KF_RULE_NEWER,
     .when_key = "train.trace.activation",
     .doc = "which feature/channel of that activation"},
    {.key = "train.trace.every", .type = NL_KT_INT, FIELD(train.trace.every), .lo = 1,
     .hi = NL_MAX_STEPS, .flags = NL_KF_LO | NL_KF_HI | NL_KF_RULE_NEWER,
     .when_key = "train.trace.activation",
     .doc = "steps between trace samples"},
    {.key = "train.trace.percentiles", .type = NL_KT_FLOAT_LIST,
     LIST(train.trace.percentiles, train.trace.n_percentiles), .min_items = 1,
     .max_items = NL_MAX_PERCENTILES, .lo = 0, .hi = 100,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_RULE_NEWER, .when_key = "train.trace.activation",
     .doc = "percentiles of the unit's distribution to record (Ioffe & Szegedy: 15, 50, 85)"},
    {.key = "train.trace.samples", .type = NL_KT_INT, FIELD(train.trace.samples),
     .lo = 1, .hi = NL_MAX_SAMPLES, .flags = NL_KF_LO | NL_KF_HI | NL_KF_RULE_NEWER,
     .when_key = "train.trace.activation", .and_when = trace_eval_mode,
     .doc = "fixed test samples the trace is measured on"},
    {.key = "train.trace.mode", .type = NL_KT_ENUM, FIELD(train.trace.mode),
     .names = &nl_trace_mode_names, .flags = NL_KF_AFTER_FORMAT4,
     .when_key = "train.trace.activation",
     .doc = "eval: the fixed test samples in eval mode, between steps; train: each traced "
            "step's own training batch (this process's share) as the step's forward computed "
            "it, with batch statistics and any noise or dropout, leaving training unchanged"},

    {.key = "init.from", .type = NL_KT_STRING, FIELD(init_from), .flags = NL_KF_AFTER_FORMAT4,
     .doc = "a finished run directory to start from (fine-tuning): its final model's weights "
            "and normalizer state, layer by layer by name; a classifier of another class count "
            "starts fresh; relative to the config file's directory (--set: to the working "
            "directory), recorded absolute; \"\" = from this run's own initialization"},
    {.key = "init.bn_policy", .type = NL_KT_ENUM, FIELD(train.init_bn.policy),
     .names = &nl_bn_policy_names, .flags = NL_KF_AFTER_FORMAT4, .when_key = "init.from",
     .doc = "with init.from: what happens to the source's batch norms (every normalizer with "
            "running statistics) before the first step; group_norm takes a source with "
            "model.norm.type batch and a config that describes the model after the swap "
            "(model.norm.type group, model.norm.groups); every other policy keeps the source's "
            "model.norm.type"},
    {.key = "init.bn_freeze_affine", .type = NL_KT_BOOL, FIELD(train.init_bn.freeze_affine),
     .flags = NL_KF_AFTER_FORMAT4, .when_key = "init.bn_policy",
     .when_mask = BIT(NL_BN_POLICY_FREEZE),
     .doc = "init.bn_policy freeze: also hold the normalizers' gamma and beta at the source's "
            "values (their gradients left out of clipping and the update); false trains them"},
    {.key = "init.bn_recalibrate_batches", .type = NL_KT_INT,
     FIELD(train.init_bn.recalibrate_batches), .lo = 1, .hi = NL_MAX_STEPS,
     .flags = NL_KF_LO | NL_KF_HI | NL_KF_AFTER_FORMAT4,
     .when_key = "init.bn_policy", .when_mask = BIT(NL_BN_POLICY_RECALIBRATE),
     .doc = "init.bn_policy recalibrate: training batches (train.batch_size each, in their own "
            "seeded order, not the training order) whose plain average (PyTorch's momentum=None) "
            "replaces the running statistics before the first step; a resumed run does not "
            "recalibrate again"},
};
const int nl_config_schema_count = (int)(sizeof nl_config_schema / sizeof nl_config_schema[0]);

const nl_key_def *nl_schema_find(const char *key)
{
    for (int i = 0; i < nl_config_schema_count; i++)
        if (strcmp(nl_config_schema[i].key, key) == 0)
            return &nl_config_schema[i];
    return NULL;
}

bool nl_schema_is_section(const char *path)
{
    size_t n = strlen(path);
    if (n == 0)
        return true;
    for (int i = 0; i < nl_config_schema_count; i++)
        if (strncmp(nl_config_schema[i].key, path, n) == 0 && nl_config_schema[i].key[n] == '.')
            return true;
    return false;
}

/* ---- field access ---- */

long long nl_schema_get_int(const nl_key_def *def, const nl_config *cfg)
{
    const void *p = nl_schema_cfield(cfg, def);
    if (def->size == sizeof(int)) {
        int v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    if (def->off == offsetof(nl_config, seed))
        return cfg->seed > (uint64_t)INT64_MAX ? -1 : (long long)cfg->seed;
    long v;
    memcpy(&v, p, sizeof v);
    return v;
}

void nl_schema_set_int(const nl_key_def *def, nl_config *cfg, long long value)
{
    void *p = nl_schema_field(cfg, def);
    if (def->size == sizeof(int)) {
        int v = (int)value;
        memcpy(p, &v, sizeof v);
    } else if (def->off == offsetof(nl_config, seed)) {
        cfg->seed = (uint64_t)value;
    } else {
        long v = (long)value;
        memcpy(p, &v, sizeof v);
    }
}

static int get_enum(const nl_key_def *def, const nl_config *cfg)
{
    if (def->type == NL_KT_BOOL) { /* a when_key: false 0, true 1 */
        bool b;
        memcpy(&b, nl_schema_cfield(cfg, def), sizeof b);
        return b;
    }
    int v;
    memcpy(&v, nl_schema_cfield(cfg, def), sizeof v);
    return v;
}

static float get_float(const nl_key_def *def, const nl_config *cfg)
{
    float v;
    memcpy(&v, nl_schema_cfield(cfg, def), sizeof v);
    return v;
}

static int get_count(const nl_key_def *def, const nl_config *cfg)
{
    int n;
    memcpy(&n, (const char *)cfg + def->count_off, sizeof n);
    return n;
}

/* ---- text ---- */

static const char *article(const char *word)
{
    return strchr("aeiouAEIOU", word[0]) ? "an" : "a";
}

static void fmt_bound(double x, bool is_int, char *buf, size_t size)
{
    /* seed's bound is (double)INT64_MAX = 2^63, one past what a long long
     * holds: converting it would be undefined, and %.0f prints it exactly */
    if (is_int && fabs(x) < 9e18)
        snprintf(buf, size, "%lld", (long long)x);
    else if (is_int)
        snprintf(buf, size, "%.0f", x);
    else
        snprintf(buf, size, "%g", x);
}

/* "an integer >= 1", "a number in [0, 1)", ... (noun "an integer" / "a number") */
static const char *range_text(const nl_key_def *def, const char *noun, bool is_int, char *buf,
                              size_t size)
{
    char lo[32], hi[32];
    fmt_bound(def->lo, is_int, lo, sizeof lo);
    fmt_bound(def->hi, is_int, hi, sizeof hi);
    const unsigned f = def->flags;
    /* the int64 ceiling of seed is not worth reading */
    const bool has_hi = (f & NL_KF_HI) && def->hi < 1e18;
    if ((f & NL_KF_LO) && has_hi)
        snprintf(buf, size, "%s in %c%s, %s%c", noun, (f & NL_KF_LO_OPEN) ? '(' : '[', lo, hi,
                 (f & NL_KF_HI_OPEN) ? ')' : ']');
    else if (f & NL_KF_LO)
        snprintf(buf, size, "%s %s %s", noun, (f & NL_KF_LO_OPEN) ? ">" : ">=", lo);
    else if (has_hi)
        snprintf(buf, size, "%s %s %s", noun, (f & NL_KF_HI_OPEN) ? "<" : "<=", hi);
    else
        snprintf(buf, size, "%s", noun);
    return buf;
}

const char *nl_schema_accepted(const nl_key_def *def, char *buf, size_t size)
{
    char inner[256];
    switch (def->type) {
    case NL_KT_INT:
        return range_text(def, "an integer", true, buf, size);
    case NL_KT_FLOAT:
        return range_text(def, "a number", false, buf, size);
    case NL_KT_BOOL:
        snprintf(buf, size, "true | false");
        return buf;
    case NL_KT_STRING:
        if (def->flags & NL_KF_RUN_NAME)
            snprintf(buf, size,
                     "a name of 1 to %zu letters, digits and . _ - + = , @ (not starting with . "
                     "or -)",
                     def->size - 1);
        else
            snprintf(buf, size, "a string of up to %zu bytes", def->size - 1);
        return buf;
    case NL_KT_ENUM:
        return nl_name_choices(def->names, buf, (int)size);
    case NL_KT_BIAS:
        snprintf(buf, size, "auto | true | false");
        return buf;
    case NL_KT_MOMENTUM:
        snprintf(buf, size, "%s, or cumulative (null) for a cumulative average",
                 range_text(def, "a number", false, inner, sizeof inner));
        return buf;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST: {
        const bool is_int = def->type == NL_KT_INT_LIST;
        range_text(def, is_int ? "integers" : "numbers", is_int, inner, sizeof inner);
        char count[64];
        if (def->min_items == 0)
            snprintf(count, sizeof count, "up to %d", def->max_items);
        else if (def->min_items == def->max_items)
            snprintf(count, sizeof count, "%d", def->min_items);
        else
            snprintf(count, sizeof count, "%d to %d", def->min_items, def->max_items);
        snprintf(buf, size, "a list of %s %s%s", count,
                 (def->flags & NL_KF_INCREASING) ? "increasing " : "", inner);
        return buf;
    }
    case NL_KT_SHAPE:
        snprintf(buf, size, "[c, h, w] with c in [%g, %g] and h, w in [1, %d], or [d] with d in "
                 "[1, %d]", def->lo, def->hi, NL_SHAPE_MAX_SIDE, NL_SHAPE_MAX_FEATURES);
        return buf;
    }
    buf[0] = '\0';
    return buf;
}

const char *nl_schema_type_name(const nl_key_def *def)
{
    switch (def->type) {
    case NL_KT_INT:
        return "integer";
    case NL_KT_FLOAT:
        return "number";
    case NL_KT_BOOL:
        return "bool";
    case NL_KT_STRING:
        return "string";
    case NL_KT_ENUM:
        return "name";
    case NL_KT_BIAS:
        return "auto or bool";
    case NL_KT_MOMENTUM:
        return "number or cumulative";
    case NL_KT_INT_LIST:
        return "list of integers";
    case NL_KT_FLOAT_LIST:
        return "list of numbers";
    case NL_KT_SHAPE:
        return "list of integers";
    }
    return "?";
}

/* the enum or bool keys whose value a condition reads as a choice; any
 * other governing key is read as set or not */
static bool is_choice(const nl_key_def *on)
{
    return on->type == NL_KT_ENUM || on->type == NL_KT_BOOL;
}

/* one condition with its registry bits turned into a mask; `ruled` is the
 * key the rule is of (model.arch's mask is the rows that list it) */
static nl_key_when resolve_condition(const char *ruled, const nl_key_when *w)
{
    nl_key_when r = {.key = w->key, .mask = w->mask};
    if (strcmp(w->key, "model.arch") == 0 && !w->mask)
        r.mask = nl_arch_kinds_with_key(ruled);
    /* the datasets whose rows (core/data/registry.h) list the key */
    else if (strcmp(w->key, "data.dataset") == 0 && !w->mask)
        r.mask = nl_dataset_kinds_with_key(ruled);
    else if (w->norm_keys)
        r.mask = nl_norm_kinds_with_keys(w->norm_keys);
    else if (w->optim_keys)
        r.mask = nl_optim_kinds_with_keys(w->optim_keys);
    return r;
}

int nl_schema_conditions(const nl_key_def *def, nl_key_when out[NL_SCHEMA_MAX_CONDITIONS])
{
    if (!def->when_key)
        return 0;
    const nl_key_when first = {def->when_key, def->when_mask, def->when_norm_keys,
                               def->when_optim_keys};
    int n = 0;
    out[n++] = resolve_condition(def->key, &first);
    for (const nl_key_when *w = def->and_when; w && w->key && n < NL_SCHEMA_MAX_CONDITIONS; w++)
        out[n++] = resolve_condition(def->key, w);
    return n;
}

bool nl_schema_condition_holds(const nl_key_when *w, const nl_config *cfg)
{
    const nl_key_def *on = nl_schema_find(w->key);
    if (!on)
        return false;
    switch (on->type) {
    case NL_KT_ENUM:
    case NL_KT_BOOL: {
        const int v = get_enum(on, cfg);
        return v >= 0 && v < 32 && (w->mask & BIT(v));
    }
    case NL_KT_FLOAT:
        return get_float(on, cfg) != 0.0f;
    case NL_KT_STRING:
        return ((const char *)nl_schema_cfield(cfg, on))[0] != '\0';
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
        return get_count(on, cfg) > 0;
    default:
        return nl_schema_get_int(on, cfg) != 0;
    }
}

const char *nl_schema_condition_text(const nl_key_when *w, char *buf, size_t size)
{
    const nl_key_def *on = nl_schema_find(w->key);
    buf[0] = '\0';
    if (!on)
        return buf;
    if (on->type == NL_KT_BOOL) {
        snprintf(buf, size, "%s is %s", w->key, (w->mask & BIT(1)) ? "true" : "false");
        return buf;
    }
    if (!is_choice(on)) {
        const char *set = on->type == NL_KT_STRING                   ? "is not \"\""
                          : on->type == NL_KT_INT_LIST ||
                                    on->type == NL_KT_FLOAT_LIST      ? "is not []"
                          : (on->flags & NL_KF_ZERO_UNSET)            ? "is set"
                                                                      : "is not 0";
        snprintf(buf, size, "%s %s", w->key, set);
        return buf;
    }
    int used = snprintf(buf, size, "%s is ", w->key);
    int shown = 0;
    for (int v = 0; v < on->names->count && used >= 0 && (size_t)used < size; v++)
        if (w->mask & BIT(v))
            used += snprintf(buf + used, size - (size_t)used, "%s%s", shown++ ? " or " : "",
                             nl_name_of(on->names, v));
    return buf;
}

const char *nl_schema_when_text(const nl_key_def *def, char *buf, size_t size)
{
    nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
    const int n = nl_schema_conditions(def, conds);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        char one[256];
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " and " : "",
                                 nl_schema_condition_text(&conds[i], one, sizeof one));
    }
    return buf;
}

bool nl_schema_failing_condition(const nl_key_def *def, const nl_config *cfg,
                                 nl_key_when *failing)
{
    nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
    const int n = nl_schema_conditions(def, conds);
    for (int i = 0; i < n; i++)
        if (!nl_schema_condition_holds(&conds[i], cfg)) {
            *failing = conds[i];
            return true;
        }
    return false;
}

bool nl_schema_applies(const nl_key_def *def, const nl_config *cfg)
{
    nl_key_when failing;
    return !nl_schema_failing_condition(def, cfg, &failing);
}

const char *nl_format_float(float value, char *buf, size_t size)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)value);
        if (strtof(buf, NULL) == value)
            break;
    }
    /* YAML 1.1 (PyYAML, and readers built on it) takes a float only with a
     * dot in the mantissa: "1e-05" would read as a string, "1.0e-05" as 1e-5 */
    char *e = strchr(buf, 'e');
    const size_t len = strlen(buf);
    if (e && !memchr(buf, '.', (size_t)(e - buf)) && len + 2 < size) {
        memmove(e + 2, e, len - (size_t)(e - buf) + 1);
        e[0] = '.';
        e[1] = '0';
    }
    return buf;
}

const char *nl_format_string(const char *value, char *buf, size_t size)
{
    size_t used = 0;
    if (size < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[used++] = '"';
    for (const unsigned char *p = (const unsigned char *)value; *p && used + 6 < size; p++) {
        if (*p == '"' || *p == '\\') {
            buf[used++] = '\\';
            buf[used++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            used += (size_t)snprintf(buf + used, size - used, "\\x%02x", *p);
        } else {
            buf[used++] = (char)*p; /* UTF-8 passes through */
        }
    }
    buf[used++] = '"';
    buf[used] = '\0';
    return buf;
}

const char *nl_schema_format(const nl_key_def *def, const nl_config *cfg, char *buf, size_t size)
{
    char num[64];
    switch (def->type) {
    case NL_KT_INT:
        if (def->off == offsetof(nl_config, seed))
            snprintf(buf, size, "%" PRIu64, cfg->seed);
        else
            snprintf(buf, size, "%lld", nl_schema_get_int(def, cfg));
        return buf;
    case NL_KT_FLOAT:
        return nl_format_float(get_float(def, cfg), buf, size);
    case NL_KT_BOOL: {
        bool b;
        memcpy(&b, nl_schema_cfield(cfg, def), sizeof b);
        snprintf(buf, size, "%s", b ? "true" : "false");
        return buf;
    }
    case NL_KT_STRING:
        return nl_format_string((const char *)nl_schema_cfield(cfg, def), buf, size);
    case NL_KT_ENUM:
        snprintf(buf, size, "%s", nl_name_of(def->names, get_enum(def, cfg)));
        return buf;
    case NL_KT_BIAS: {
        const int b = cfg->model.bias;
        snprintf(buf, size, "%s", b < 0 ? "auto" : b ? "true" : "false");
        return buf;
    }
    case NL_KT_MOMENTUM:
        if (cfg->model.norm.cumulative)
            snprintf(buf, size, "cumulative");
        else
            nl_format_float(cfg->model.norm.momentum, buf, size);
        return buf;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST: {
        const int n = get_count(def, cfg);
        size_t used = (size_t)snprintf(buf, size, "[");
        for (int i = 0; i < n && i < def->max_items && used < size; i++) {
            const char *item;
            if (def->type == NL_KT_INT_LIST) {
                int v;
                memcpy(&v, (const char *)nl_schema_cfield(cfg, def) + (size_t)i * sizeof v,
                       sizeof v);
                snprintf(num, sizeof num, "%d", v);
                item = num;
            } else {
                float v;
                memcpy(&v, (const char *)nl_schema_cfield(cfg, def) + (size_t)i * sizeof v,
                       sizeof v);
                item = nl_format_float(v, num, sizeof num);
            }
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", item);
        }
        if (used < size)
            snprintf(buf + used, size - used, "]");
        return buf;
    }
    case NL_KT_SHAPE: {
        const nl_data_spec *d = &cfg->data;
        if (d->synthetic_h == 1 && d->synthetic_w == 1)
            snprintf(buf, size, "[%d]", d->synthetic_c);
        else
            snprintf(buf, size, "[%d, %d, %d]", d->synthetic_c, d->synthetic_h, d->synthetic_w);
        return buf;
    }
    }
    buf[0] = '\0';
    return buf;
}

void nl_schema_copy(const nl_key_def *def, nl_config *dst, const nl_config *src)
{
    switch (def->type) {
    case NL_KT_SHAPE:
        dst->data.synthetic_c = src->data.synthetic_c;
        dst->data.synthetic_h = src->data.synthetic_h;
        dst->data.synthetic_w = src->data.synthetic_w;
        return;
    case NL_KT_MOMENTUM:
        dst->model.norm.momentum = src->model.norm.momentum;
        dst->model.norm.cumulative = src->model.norm.cumulative;
        return;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
        memcpy((char *)dst + def->count_off, (const char *)src + def->count_off, sizeof(int));
        break;
    default:
        break;
    }
    memcpy(nl_schema_field(dst, def), nl_schema_cfield(src, def), def->size);
}

bool nl_schema_equal(const nl_key_def *def, const nl_config *a, const nl_config *b)
{
    char x[2048], y[2048];
    /* the formatted value is exact (floats round-trip, lists only their items) */
    return strcmp(nl_schema_format(def, a, x, sizeof x), nl_schema_format(def, b, y, sizeof y)) == 0;
}

static bool in_range(const nl_key_def *def, double v)
{
    const unsigned f = def->flags;
    if (f & NL_KF_LO) {
        if ((f & NL_KF_LO_OPEN) ? !(v > def->lo) : !(v >= def->lo))
            return false;
    }
    if (f & NL_KF_HI) {
        if ((f & NL_KF_HI_OPEN) ? !(v < def->hi) : !(v <= def->hi))
            return false;
    }
    return true;
}

static bool range_fail(const nl_key_def *def, const char *value, char *msg, size_t size)
{
    char acc[512];
    snprintf(msg, size, "%s is out of range; accepted: %s", value,
             nl_schema_accepted(def, acc, sizeof acc));
    return false;
}

static bool valid_run_name(const char *s)
{
    if (!s[0] || s[0] == '.' || s[0] == '-')
        return false;
    for (const char *p = s; *p; p++) {
        const char c = *p;
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || strchr("._-+=,@", c);
        if (!ok)
            return false;
    }
    return true;
}

bool nl_schema_check_string(const nl_key_def *def, const char *s, char *msg, size_t size)
{
    char acc[512], val[1024];
    if (strlen(s) >= def->size) {
        snprintf(msg, size, "the string is %zu bytes long; accepted: %s", strlen(s),
                 nl_schema_accepted(def, acc, sizeof acc));
        return false;
    }
    if ((def->flags & NL_KF_RUN_NAME) && !valid_run_name(s)) {
        snprintf(msg, size, "%s is not a valid run name (it names the run directory); accepted: %s",
                 nl_format_string(s, val, sizeof val), nl_schema_accepted(def, acc, sizeof acc));
        return false;
    }
    return true;
}

bool nl_schema_check_value(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    char val[2048];
    switch (def->type) {
    case NL_KT_INT: {
        if (def->off == offsetof(nl_config, seed)) {
            if (cfg->seed > (uint64_t)INT64_MAX)
                return range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
            return true;
        }
        const long long v = nl_schema_get_int(def, cfg);
        if (v == 0 && (def->flags & NL_KF_ZERO_UNSET))
            return true;
        if (!in_range(def, (double)v))
            return range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
        return true;
    }
    case NL_KT_FLOAT: {
        const float v = get_float(def, cfg);
        if (!isfinite(v) || !in_range(def, v))
            return range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
        return true;
    }
    case NL_KT_MOMENTUM:
        if (cfg->model.norm.cumulative)
            return true;
        if (!isfinite(cfg->model.norm.momentum) || !in_range(def, cfg->model.norm.momentum))
            return range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
        return true;
    case NL_KT_BOOL:
        return true;
    case NL_KT_STRING: {
        const char *s = (const char *)nl_schema_cfield(cfg, def);
        if (memchr(s, '\0', def->size) == NULL) {
            snprintf(msg, size, "the value is not terminated within %zu bytes", def->size);
            return false;
        }
        return nl_schema_check_string(def, s, msg, size);
    }
    case NL_KT_ENUM: {
        const int v = get_enum(def, cfg);
        if (v < 0 || v >= def->names->count) {
            char acc[256];
            snprintf(msg, size, "%d is not %s %s; accepted: %s", v, article(def->names->what),
                     def->names->what, nl_schema_accepted(def, acc, sizeof acc));
            return false;
        }
        return true;
    }
    case NL_KT_BIAS:
        if (cfg->model.bias < -1 || cfg->model.bias > 1) {
            snprintf(msg, size, "%d is not a bias setting (-1 auto, 0 false, 1 true)",
                     cfg->model.bias);
            return false;
        }
        return true;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST: {
        const int n = get_count(def, cfg);
        if (n < def->min_items || n > def->max_items) {
            char acc[256];
            snprintf(msg, size, "%d items; accepted: %s", n, nl_schema_accepted(def, acc, sizeof acc));
            return false;
        }
        double prev = -INFINITY;
        for (int i = 0; i < n; i++) {
            double v;
            if (def->type == NL_KT_INT_LIST) {
                int x;
                memcpy(&x, (const char *)nl_schema_cfield(cfg, def) + (size_t)i * sizeof x, sizeof x);
                v = x;
            } else {
                float x;
                memcpy(&x, (const char *)nl_schema_cfield(cfg, def) + (size_t)i * sizeof x, sizeof x);
                v = x;
            }
            if (!isfinite(v) || !in_range(def, v) ||
                ((def->flags & NL_KF_INCREASING) && !(v > prev))) {
                char acc[256];
                snprintf(msg, size, "%s: item %d (%g) is out of range; accepted: %s",
                         nl_schema_format(def, cfg, val, sizeof val), i, v,
                         nl_schema_accepted(def, acc, sizeof acc));
                return false;
            }
            prev = v;
        }
        return true;
    }
    case NL_KT_SHAPE: {
        const nl_data_spec *d = &cfg->data;
        /* [d] is stored as d x 1 x 1: feature vectors take the features'
         * limit, not the images' channel limit */
        const bool features = d->synthetic_h == 1 && d->synthetic_w == 1;
        const bool c_ok = features ? d->synthetic_c >= 1 && d->synthetic_c <= NL_SHAPE_MAX_FEATURES
                                   : in_range(def, d->synthetic_c);
        if (!c_ok || d->synthetic_h < 1 || d->synthetic_w < 1 ||
            d->synthetic_h > NL_SHAPE_MAX_SIDE || d->synthetic_w > NL_SHAPE_MAX_SIDE)
            return range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
        return true;
    }
    }
    return true;
}

/* ---- per-key access for checks outside the config module ---- */

int nl_config_set_integer_keys(const nl_config *cfg, const char **keys, int max)
{
    int n = 0;
    for (int i = 0; i < nl_config_schema_count && n < max; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if ((def->type == NL_KT_INT || def->type == NL_KT_INT_LIST) &&
            nl_config_origin_of(cfg, def->key))
            keys[n++] = def->key;
    }
    return n;
}

bool nl_config_copy_key(nl_config *dst, const nl_config *src, const char *key)
{
    const nl_key_def *def = nl_schema_find(key);
    if (!def)
        return false;
    nl_schema_copy(def, dst, src);
    return true;
}

const char *nl_config_format_key(const nl_config *cfg, const char *key, char *buf, size_t size)
{
    const nl_key_def *def = nl_schema_find(key);
    if (!def) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    return nl_schema_format(def, cfg, buf, size);
}
