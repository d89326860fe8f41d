/* Every enum a user can name (in a config, on the command line, in a CSV)
 * has one table; the parser, `normlab list`, the resolved config and the
 * CSV writers all read these tables, so a name exists in exactly one place.
 * The ground floor's enums are here with their tables; a kind listed by a
 * floor above (norm/kinds.h, data/kinds.h, arch/kinds.h) has its enum and table there,
 * since this floor reads none above it. */
#ifndef NL_NAMES_H
#define NL_NAMES_H

#include <stddef.h>

typedef enum {
    NL_PLACE_BEFORE, /* Linear/Conv -> Norm -> Act (Ioffe & Szegedy) */
    NL_PLACE_AFTER,  /* Linear/Conv -> Act -> Norm */
    NL_PLACE_POST,   /* residual: Conv-Norm-ReLU-Conv-Norm, add, ReLU */
    NL_PLACE_PRE,    /* residual: Norm-ReLU-Conv (He et al. 2016); lm: x + f(norm(x)) */
    NL_PLACE_PERI,   /* lm: x + norm(f(norm(x))) (sandwich / peri-LN) */
    NL_PLACE_NONE,   /* lm: x + f(x), no normalizer in the blocks or after them */
    NL_PLACE_IN_CELL, /* rnn: inside the recurrent cell (Ba et al. 2016; Cooijmans et al. 2016) */
    NL_PLACE_COUNT
} nl_placement;

typedef enum { NL_ACT_RELU, NL_ACT_SIGMOID, NL_ACT_TANH, NL_ACT_COUNT } nl_activation;

/* model.norm.activation: whether a formula normalizer (model.norm.type
 * expr) keeps the activation after it, or takes its place as a
 * normalization-activation layer (EvoNorm, Liu et al. 2020): no
 * activation after each normalizer of a norm -> activation pair */
typedef enum { NL_NORM_ACT_KEEP, NL_NORM_ACT_REPLACE, NL_NORM_ACT_COUNT } nl_norm_activation;

/* GELU: PyTorch's exact form x * Phi(x), or its approximate='tanh' */
typedef enum { NL_GELU_ERF, NL_GELU_TANH, NL_GELU_COUNT } nl_gelu_kind;

typedef enum { NL_POOL_MAX, NL_POOL_AVG, NL_POOL_COUNT } nl_pool_kind;

/* vit: what the classifier reads from the tokens */
typedef enum { NL_TOKEN_POOL_CLS, NL_TOKEN_POOL_MEAN, NL_TOKEN_POOL_COUNT } nl_token_pool;

/* rnn, rnn_lm: the recurrent cell (PyTorch's nn.LSTM, nn.GRU) */
typedef enum { NL_RNN_LSTM, NL_RNN_GRU, NL_RNN_COUNT } nl_rnn_cell;

/* A floating-point format arithmetic is rounded to (base/precision.h):
 * train.precision (what the matrix products take) and
 * model.norm.stats_precision (what a normalizer's statistics are kept in) */
typedef enum { NL_PRECISION_FP32, NL_PRECISION_BF16, NL_PRECISION_FP16, NL_PRECISION_COUNT } nl_precision;

typedef enum { NL_SCHED_CONSTANT, NL_SCHED_STEP, NL_SCHED_COSINE, NL_SCHED_COUNT } nl_schedule_kind;

/* how a text file becomes tokens */
typedef enum { NL_VOCAB_BYTES, NL_VOCAB_CHARS, NL_VOCAB_COUNT } nl_vocab_kind;

typedef enum { NL_DEVICE_CPU, NL_DEVICE_CUDA, NL_DEVICE_COUNT } nl_device;

/* where model.dropout.p puts its dropout layers in a widths model's
 * blocks (Li et al. 2019 compare dropout feeding batch norm with dropout
 * only after the last one) */
typedef enum {
    NL_DROPOUT_BEFORE_NORM,     /* in every block, right before the normalizer */
    NL_DROPOUT_AFTER_NORM,      /* at the end of every block, after norm and activation */
    NL_DROPOUT_AFTER_LAST_NORM, /* at the end of the last block only, before the classifier */
    NL_DROPOUT_COUNT
} nl_dropout_placement;

/* what model.norm_noise draws its per-channel scale and shift from */
typedef enum {
    NL_NOISE_NONE,     /* no noise layers */
    NL_NOISE_GAUSSIAN, /* normal with the given mean and std */
    NL_NOISE_UNIFORM,  /* uniform with the given mean and std */
    NL_NOISE_COUNT
} nl_noise_distribution;

typedef enum { NL_INIT_AUTO, NL_INIT_HE, NL_INIT_XAVIER, NL_INIT_GAUSSIAN, NL_INIT_COUNT } nl_init_kind;

/* how the transformer blocks weigh their residual shortcut and start their
 * branches (model.residual_scale); each value's alpha and beta come from
 * its row in core/arch/residual_scale.c */
typedef enum {
    NL_RESIDUAL_SCALE_NONE,     /* x + f(x), the architecture's own initialization */
    NL_RESIDUAL_SCALE_DEEPNORM, /* alpha and beta from the depth (Wang et al. 2022) */
    NL_RESIDUAL_SCALE_EXPLICIT, /* model.residual_alpha and model.residual_beta */
    NL_RESIDUAL_SCALE_COUNT
} nl_residual_scale;
/* The normalization design space (model.norm.type custom, core/norm/custom.c):
 * the axes a normalizer's statistics reduce over (a set: model.norm.reduce),
 * what it divides by, and where its statistics come from in training and in
 * evaluation. An axis is a bit (1u << NL_AXIS_*) of the set. */
typedef enum {
    NL_AXIS_BATCH,    /* the samples of the batch */
    NL_AXIS_CHANNELS, /* an image's channels, a feature vector's or token's features */
    NL_AXIS_SPATIAL,  /* an image's H x W pixels */
    NL_AXIS_TOKENS,   /* a sequence's T tokens */
    NL_AXIS_COUNT
} nl_norm_axis;
typedef enum { NL_SCALE_STD, NL_SCALE_RMS, NL_SCALE_NONE, NL_SCALE_COUNT } nl_norm_scale;
typedef enum { NL_STATS_BATCH, NL_STATS_RUNNING, NL_STATS_COUNT } nl_stats_source;

typedef struct {
    const char *name;
    const char *help; /* one line for `normlab list` */
} nl_name_entry;

typedef struct {
    const char *what; /* "normalizer", "architecture", ... */
    const nl_name_entry *entries;
    int count;
    /* bytes from one entry to the next, for tables whose rows carry more than
     * a name (each row starting with its nl_name_entry); 0: a plain array;
     * NL_NAME_BY_POINTER: the rows are separate objects (each kind's row in
     * its own file) and entries is an array of pointers to their entries */
    size_t stride;
} nl_name_table;
#define NL_NAME_BY_POINTER ((size_t)-1)

extern const nl_name_table nl_placement_names;
extern const nl_name_table nl_activation_names;
extern const nl_name_table nl_gelu_names;
extern const nl_name_table nl_pool_names;
extern const nl_name_table nl_token_pool_names;
extern const nl_name_table nl_rnn_cell_names;
extern const nl_name_table nl_precision_names;
extern const nl_name_table nl_schedule_names;
extern const nl_name_table nl_vocab_names;
extern const nl_name_table nl_device_names;
extern const nl_name_table nl_dropout_placement_names;
extern const nl_name_table nl_noise_distribution_names;
extern const nl_name_table nl_init_names;
extern const nl_name_table nl_residual_scale_names; /* the rows of core/arch/residual_scale.c */
extern const nl_name_table nl_norm_axis_names;
extern const nl_name_table nl_norm_scale_names;
extern const nl_name_table nl_stats_source_names;
extern const nl_name_table nl_norm_activation_names;

/* a set of names (bit v: name v) as "[a, b]" */
const char *nl_name_set_text(const nl_name_table *table, unsigned bits, char *buf, size_t size);

/* entry i (0 <= i < count) */
static inline const nl_name_entry *nl_name_entry_at(const nl_name_table *table, int i)
{
    if (table->stride == NL_NAME_BY_POINTER)
        return ((const nl_name_entry *const *)(const void *)table->entries)[i];
    const size_t stride = table->stride ? table->stride : sizeof(nl_name_entry);
    return (const nl_name_entry *)((const char *)table->entries + (size_t)i * stride);
}
/* value for a name, or -1 */
int nl_name_lookup(const nl_name_table *table, const char *name);
/* name for a value ("?" when out of range) */
const char *nl_name_of(const nl_name_table *table, int value);
/* "a | b | c" into buf */
const char *nl_name_choices(const nl_name_table *table, char *buf, int size);

/* Damerau-Levenshtein distance, for did-you-mean suggestions */
int nl_edit_distance(const char *a, const char *b);
/* the closest name in a list within a small distance, or NULL */
const char *nl_closest_name(const char *word, const char *const *candidates, int count);
const char *nl_closest_in_table(const nl_name_table *table, const char *word);

#endif
