/* The normalizer registry: one row per nl_norm_kind with everything the rest
 * of normlab needs to know about a kind (its name and help, the config keys
 * that apply to it, whether it has a learned shift or running statistics,
 * the inputs it accepts, its plot colour, its builder). The config schema,
 * `normlab list`, the plots, the bench and the tests iterate these rows;
 * the kinds are listed once, in norm/kinds.def, and each row is defined in
 * its kind's file beside its builder.
 *
 * Adding a normalizer:
 *   1. its line at the end of norm/kinds.def (the enum value, the row);
 *   2. its file in core/norm with the row (an nl_norm_info) and the static
 *      builder the row names; the kind's arithmetic goes through the
 *      backend ops, and an op it needs of its own is a line in
 *      backend_ops.def with its kernels in core/cpu and core/cuda;
 *   3. the layout: its layer reads NCHW and the plan's layout pass puts a
 *      reorder layer before it wherever the plan gave the model a channel
 *      block (core/plan/layout.c), which costs a pass each way and may make
 *      auto keep a model NCHW; to read the block in place, its kernels
 *      index planes through nl_plane_of (backend/shape.h), a CPU_ONLY
 *      <op>_blocked twin where an op's shared form cannot, and its vtable
 *      names its .family (backend/op_families.def), whose blocked kernels
 *      the CPU's answer (cpu/backend.c: nl_cpu_runs) then covers
 *      (tests/test_layout compares every kind's
 *      blocked model with its NCHW one);
 *   4. its tests and docs: goldens against PyTorch in
 *      tests/golden/make_goldens.py's norm section (test_norm_golden asks
 *      every row that adds a layer for its cases), and the generated parts
 *      of configs/README.md (its table, key table and example errors)
 *      rewritten by NL_UPDATE_README=1 build/tests/test_norm_registry and
 *      build/tests/test_config.
 * The finite-difference checks, CUDA parity (a training case per row, and
 * the check that every op is reached), `normlab list`, the config schema
 * and the plots pick the row up from the table; nothing else names the
 * kind. */
#ifndef NL_NORM_REGISTRY_H
#define NL_NORM_REGISTRY_H

#include <stdbool.h>
#include <stdio.h>

#include "base/names.h"
#include "layers/layer.h"
#include "norm/spec.h"

/* model.norm.groups of a kind whose row gives no default of its own */
#define NL_NORM_DEFAULT_GROUPS 8

/* config keys under model.norm that a kind reads (placement applies to all) */
enum {
    NL_NORM_KEY_EPS = 1u << 0,
    NL_NORM_KEY_AFFINE = 1u << 1,
    NL_NORM_KEY_GROUPS = 1u << 2,
    NL_NORM_KEY_MOMENTUM = 1u << 3,
    NL_NORM_KEY_TRACK_RUNNING_STATS = 1u << 4,
    NL_NORM_KEY_RENORM = 1u << 5,        /* r_max, d_max and their ramps */
    NL_NORM_KEY_VIRTUAL_BATCH = 1u << 6,
    NL_NORM_KEY_SYNC = 1u << 7, /* batch statistics that MPI ranks can share */
    NL_NORM_KEY_ALPHA_INIT = 1u << 8,
    /* a mean and variance (or mean square) through the norm ops, which
     * can take them in a low precision (model.norm.stats_precision) */
    NL_NORM_KEY_STATS_PRECISION = 1u << 9,
    /* the design space's axes: reduce, center, scale (custom) */
    NL_NORM_KEY_AXES = 1u << 10,
    NL_NORM_KEY_TRAIN_STATS = 1u << 11, /* where training takes its statistics */
    NL_NORM_KEY_EVAL_STATS = 1u << 12,  /* where evaluation takes them */
    /* learned mixture weights the training loop can log per layer
     * (train.log.switch_weights: a train.* key, listed with no model.norm
     * key in the docs' table) */
    NL_NORM_KEY_MIXTURE = 1u << 13,
    /* a formula: model.norm.expr, model.norm.params, model.norm.name */
    NL_NORM_KEY_FORMULA = 1u << 14,
};
/* the keys of a kind with statistics, and of one with running statistics */
#define NL_NORM_STATS_KEYS (NL_NORM_KEY_EPS | NL_NORM_KEY_AFFINE | NL_NORM_KEY_STATS_PRECISION)
#define NL_NORM_RUNNING_KEYS (NL_NORM_KEY_MOMENTUM | NL_NORM_KEY_TRACK_RUNNING_STATS)

typedef nl_act *(*nl_norm_build_fn)(nl_builder *b, const char *name, nl_act *in,
                                    const nl_norm_spec *spec);

/* One normalized set: the values a kind takes one mean and variance (or
 * mean square) over in training, on a given input. With a single value the
 * statistics say nothing: x - mean is 0, so a centring kind outputs beta
 * whatever the input, and x / rms(x) is +-1, so a scaling kind keeps only
 * the sign and passes almost no gradient (eps / (x^2 + eps)^1.5). nl_norm
 * refuses such a layer from what this reports. */
typedef struct {
    long values;       /* per set; 0: the kind's builder refuses these keys itself */
    /* the config key whose value makes `values` what it is
     * (train.batch_size, model.norm.groups, ...); NULL: the layer's own
     * size, which the architecture names */
    const char *key;
    char per[64];      /* what one set is: "channel in training", "sample", "group" */
    char counted[128]; /* how `values` is counted: "batch size 1 x 1x1" */
    char fix[320];     /* what to change instead; "": the architecture's size hint */
} nl_norm_set;

/* fills *set for a layer of this kind on `in` with a training batch of
 * train_batch samples */
typedef void (*nl_norm_set_fn)(nl_shape in, const nl_norm_spec *spec, int train_batch,
                               nl_norm_set *set);

/* The point of the normalization design space (model.norm.type custom,
 * norm/custom.c) that a kind is, where it is one: the same function, its
 * outputs and gradients, from `custom` with these keys (tests/
 * test_norm_space.c checks every row that has one). Its groups are the
 * kind's model.norm.groups where it reads that key, else 1; its eval_stats
 * running exactly where the kind keeps running statistics; eps, momentum
 * and affine are the kind's. */
typedef struct {
    /* model.norm.reduce on each input: [0] feature vectors (N, D), [1]
     * token sequences (N, T, D), [2] images (N, C, H, W); 0 where the kind
     * does not accept the input */
    unsigned reduce[3];
    bool center;
    nl_norm_scale scale;
    nl_stats_source train_stats;
} nl_norm_point;

/* the two reductions of the built-ins, on features, tokens, images: the
 * batch (with every position: batch norm's), and a sample's channels
 * (with an image's pixels: layer and group norm's) */
#define NL_REDUCE_BATCH                                                                            \
    {1u << NL_AXIS_BATCH, (1u << NL_AXIS_BATCH) | (1u << NL_AXIS_TOKENS),                        \
     (1u << NL_AXIS_BATCH) | (1u << NL_AXIS_SPATIAL)}
#define NL_REDUCE_SAMPLE                                                                           \
    {1u << NL_AXIS_CHANNELS, 1u << NL_AXIS_CHANNELS,                                             \
     (1u << NL_AXIS_CHANNELS) | (1u << NL_AXIS_SPATIAL)}

/* nl_norm_point.reduce's index of an input of `ndim` (2, 3 or 4) */
static inline int nl_norm_layout_index(int ndim) { return ndim - 2; }

typedef struct {
    nl_name_entry id;   /* nl_norm_names lists each row's */
    unsigned keys;      /* NL_NORM_KEY_* bits */
    /* with affine: a learned per-channel shift (beta), so the linear or conv
     * layer before it needs no bias of its own (model.bias: auto) */
    bool learned_shift;
    bool center;                 /* subtracts the mean (false: RMS statistics) */
    bool running_stats;          /* can keep running statistics for eval mode */
    bool running_stats_default;  /* track_running_stats when the config does not say */
    bool features;               /* accepts (N, D) feature vectors */
    bool images;                 /* accepts (N, C, H, W) images */
    /* accepts (N, T, D) token sequences, each token a row of D features:
     * per-token statistics over D, or batch statistics per feature over the
     * N*T tokens */
    bool tokens;
    bool adds_layer;             /* false only for the identity: nothing to run or time */
    /* its kernels are CPU_ONLY ops (none today: expr's formula programs
     * were): a GPU build is refused naming the device; test_cuda_parity
     * holds the flag to what the GPU backend does and trains the other
     * kinds on it */
    bool cpu_only;
    /* plots: "#rrggbb", the next of matplotlib's tab10 (then tab20) per kind,
     * grey for none, so a normalizer keeps its colour across every plot */
    const char *color;
    nl_norm_build_fn build;
    /* the kind's normalized set on an input it accepts; NULL: it keeps no
     * statistics (none, dyt), so no input is too small for it */
    nl_norm_set_fn stats_set;
    /* how training takes batch statistics where that is not one set over
     * the pass (norm/stats_layer.h: batch renorm, ghost batch norm); NULL
     * for the others */
    const struct nl_stats_training *training;
    /* the kind as a point of the design space (custom's keys); NULL: it
     * is none (no statistics, or statistics the axes cannot say) */
    const nl_norm_point *point;
    /* model.norm.groups when the config does not say; 0: NL_NORM_DEFAULT_GROUPS */
    int groups_default;
    /* `normlab bench --run --torch`'s PyTorch script has it
     * (experiments/bench/torch_run.py's NORMS) */
    bool bench_torch;
    /* The kind as a formula (model.norm.type expr): its model.norm.expr on
     * [0] feature vectors, [1] token sequences, [2] images (NULL where it
     * does not accept the input), with affine, and its model.norm.params,
     * whose names are the kind's own parameters' (weight, bias, alpha),
     * and momentum / eps as the kind's. tests/test_norm_expr.c holds each
     * to the built-in, forward and backward; NULL: no formula says it. */
    const char *formula[3];
    const char *formula_params;
    /* expr's own: the formula a spec built in code starts from
     * (nl_norm_spec_defaults), so that every loop over the kinds builds
     * one; a config gives its own (model.norm.expr has no default there) */
    const char *example_expr, *example_params;
    /* whether a spec of the kind keeps running statistics, where its keys
     * alone do not say (expr: its formula does); NULL: the keys say */
    bool (*keeps_running)(const nl_norm_spec *spec);
} nl_norm_info;

/* Layer and group norm as a formula, one text for both: each sample's
 * channels (a group of them, model.norm.groups; layer norm's one group)
 * and positions standardized, then the per-channel affine map. */
#define NL_NORM_SAMPLE_STD_FORMULA                                                             \
    .formula = {"weight * (x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps) + bias",   \
                "weight * (x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps) + bias",   \
                "weight * (x - mean(x, [channels, spatial])) / sqrt(var(x, [channels, "         \
                "spatial]) + eps) + bias"},                                                     \
    .formula_params = "weight = 1 per channel, bias = 0 per channel"

/* The registry rows, one per line of norm/kinds.def, each defined in its
 * kind's file beside the builder it names */
#define NL_NORM_KIND(suffix, row) extern const nl_norm_info row;
#include "norm/kinds.def"

/* row of kind k; k must be in [0, NL_NORM_COUNT) */
const nl_norm_info *nl_norm_info_of(nl_norm_kind k);
/* the spec a normalizer of kind k starts from, its row's defaults where
 * the row has them (groups, running statistics, evaluation's statistics) */
void nl_norm_spec_defaults(nl_norm_spec *norm, nl_norm_kind kind);
/* whether the row accepts inputs of `ndim` (2: features, 3: tokens, 4: images) */
bool nl_norm_accepts(const nl_norm_info *row, int ndim);
/* does the normalizer keep running statistics (its row can, and its keys
 * ask for them: track_running_stats, or a running statistics source) */
bool nl_norm_keeps_running(const nl_norm_spec *spec);
/* The key that makes evaluation normalize with the statistics of the
 * batch it is given, as training does (model.norm.eval_stats batch,
 * model.norm.track_running_stats false), so that the evaluation batch
 * size decides its sets' sizes as train.batch_size does training's; NULL
 * where evaluation does not, or the kind keeps no statistics. */
const char *nl_norm_eval_batch_stats_key(const nl_norm_spec *spec);
/* does the normalizer subtract a mean (false: RMS statistics) */
bool nl_norm_centres(const nl_norm_spec *spec);
/* bit k set for every kind whose row has all of `keys` */
unsigned nl_norm_kinds_with_keys(unsigned keys);
/* the names of the kinds that accept inputs of `ndim` (2: features, 3:
 * tokens, 4: images), joined by `sep`, into buf */
const char *nl_norm_kinds_accepting(int ndim, const char *sep, char *buf, size_t size);
/* the normalizer table of configs/README.md (markdown), from the rows */
void nl_norm_write_table(FILE *out);
/* configs/README.md's table of the built-ins that are points of the design
 * space, each with custom's keys that equal it (their rows' points) */
void nl_norm_write_space_table(FILE *out);
/* configs/README.md's table of the built-ins as formulas (model.norm.type
 * expr), from their rows' formula fields */
void nl_norm_write_formula_table(FILE *out);

#endif
