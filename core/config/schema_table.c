/* The config schema's table: one row per key (schema.h says what a row
 * holds), one file of rows per section, in documentation order. The code
 * that reads the rows is schema.c. */
#include "config/schema.h"

#include <stdint.h>

#include "arch/registry.h"
#include "data/registry.h"
#include "data/tokens.h"
#include "layers/param_norm.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "plan/plan.h"

#define FIELD(f) .off = offsetof(nl_config, f), .size = sizeof(((nl_config *)0)->f)
#define LIST(f, n) FIELD(f), .count_off = offsetof(nl_config, n)
#define BIT(v) NL_KEY_BIT(v)
#define GE(x) .lo = (x), .flags = NL_KF_LO
#define GT(x) .lo = (x), .flags = NL_KF_LO | NL_KF_LO_OPEN
/* an integer in [lo, hi]: every integer key has an upper bound (the test of
 * the table asks), the limit the code behind it takes, so that the key's
 * own range check reports it with the file, line and the real limit before
 * anything is sized by it */
#define IN(l, h) .lo = (l), .hi = (h), .flags = NL_KF_LO | NL_KF_HI
/* the same bounds on a key whose and_when is newer than checkpoints
 * already written (NL_KF_AND_WHEN_NEWER) */
#define GE_NEWER(x) .lo = (x), .flags = NL_KF_LO | NL_KF_AND_WHEN_NEWER
#define GT_NEWER(x) .lo = (x), .flags = NL_KF_LO | NL_KF_LO_OPEN | NL_KF_AND_WHEN_NEWER
#define IN_NEWER(l, h) .lo = (l), .hi = (h), .flags = NL_KF_LO | NL_KF_HI | NL_KF_AND_WHEN_NEWER

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
/* the normalizer's own keys (eps, affine, groups, ...) act only where the
 * model has a normalizer: every placement but none puts one (the
 * architectures whose row lists none build no normalizer there: the plain
 * recurrent cell, the transformer and mixer without one), and at none
 * QK-norm still normalizes each head's query and key with model.norm.type */
static const nl_key_when norm_placed[] = {
    {.key = "model.norm.placement",
     .mask = ((1u << NL_PLACE_COUNT) - 1u) & ~NL_KEY_BIT(NL_PLACE_NONE),
     .or_key = "model.qk_norm", .or_mask = NL_KEY_BIT(1)},
    {.key = NULL}};
/* the transformer blocks' depth schemes act on one placement each:
 * DeepNorm's alpha on the shortcut of a post-norm add, LayerNorm
 * Scaling on the normalizers before the branches (arch/transformer.c) */
static const nl_key_when post_placed[] = {
    {.key = "model.norm.placement", .mask = BIT(NL_PLACE_POST)}, {.key = NULL}};
static const nl_key_when pre_placed[] = {
    {.key = "model.norm.placement", .mask = BIT(NL_PLACE_PRE)}, {.key = NULL}};
/* model.conv_choices are auto's record: under another algorithm nothing reads them */
static const nl_key_when conv_auto[] = {
    {.key = "model.conv_algorithm", .mask = BIT(NL_CONV_AUTO),
     .why = "the choices are what auto measured; direct, winograd_f23 and winograd_f43 choose every "
            "convolution alike"},
    {.key = NULL}};
/* a formula in the activation's place (model.norm.activation): the
 * architectures that build norm -> activation pairs list the key in their
 * rows (mlp, cnn, resnet: the rule's when_key), the normalizer is a
 * formula, and it comes first in the pairs */
static const nl_key_when norm_act_pairs[] = {
    {.key = "model.norm.type", .norm_keys = NL_NORM_KEY_FORMULA,
     .why = "a formula (model.norm.type expr) can take an activation's place; a built-in "
            "keeps the activation after it"},
    {.key = "model.norm.placement",
     .mask = BIT(NL_PLACE_BEFORE) | BIT(NL_PLACE_POST) | BIT(NL_PLACE_PRE),
     .why = "at placement after the activation comes before the normalizer, so no activation "
            "follows it to be replaced (EvoNorm takes the place of a norm -> activation pair)"},
    {.key = NULL}};
/* The design space's rules (model.norm.type custom, norm/custom.c). A
 * rule on a key every kind reads holds for the kinds without the axes
 * (or_norm_without, or the default of the key it reads): only a custom
 * normalizer's axes can make the key meaningless. */
#define NORM_PLACED_CONDITION                                                                          {.key = "model.norm.placement",                                                                     .mask = ((1u << NL_PLACE_COUNT) - 1u) & ~NL_KEY_BIT(NL_PLACE_NONE),                              .or_key = "model.qk_norm", .or_mask = NL_KEY_BIT(1)}
/* A formula (model.norm.type expr) reads the kind's keys only where its
 * text names them: a key it never reads is refused as a built-in's is */
#define FORMULA_READS(word, reason)                                                                    \
    {.key = "model.norm.expr", .reads = word, .or_norm_without = NL_NORM_KEY_FORMULA, .why = reason}
/* the group count splits the channels the statistics reduce over */
static const nl_key_when norm_groups_reduced[] = {
    NORM_PLACED_CONDITION,
    {.key = "model.norm.reduce", .mask = BIT(NL_AXIS_CHANNELS), .or_norm_without = NL_NORM_KEY_AXES,
     .why = "the groups split the channels the statistics reduce over, and this reduction "
            "takes none"},
    {.key = "model.norm.expr", .reads = "channels", .or_reads_key = "model.norm.params",
     .or_reads = "group", .or_norm_without = NL_NORM_KEY_FORMULA,
     .why = "the groups split the channels a reduction or a per-group parameter takes, and this "
            "formula reduces over no channels and declares no parameter per group"},
    {.key = NULL}};
/* eps guards a division */
static const nl_key_when norm_divides[] = {
    NORM_PLACED_CONDITION,
    {.key = "model.norm.scale", .mask = BIT(NL_SCALE_STD) | BIT(NL_SCALE_RMS),
     .why = "eps keeps the divisor off 0, and scale none divides by nothing"},
    FORMULA_READS("eps", "a formula adds eps where its text names it, and this one does not"),
    {.key = NULL}};
/* running statistics are kept per channel: a statistic over channels is
 * one sample's own, with no per-channel average to keep */
static const nl_key_when norm_per_channel_stats[] = {
    NORM_PLACED_CONDITION,
    {.key = "model.norm.reduce", .mask = BIT(NL_AXIS_CHANNELS), .lacks = true,
     .why = "running statistics are kept per channel, and a reduction over channels gives each "
            "sample statistics of its own that span several channels (no per-channel running "
            "average: PyTorch's LayerNorm and GroupNorm keep none), so training and evaluation "
            "both take the sample's own"},
    {.key = NULL}};
/* momentum moves running statistics, which only a running source keeps */
static const nl_key_when norm_running_kept[] = {
    NORM_PLACED_CONDITION,
    {.key = "model.norm.eval_stats", .mask = BIT(NL_STATS_RUNNING),
     .or_key = "model.norm.train_stats", .or_mask = BIT(NL_STATS_RUNNING),
     .why = "momentum moves running statistics, which are kept only where training or "
            "evaluation takes them"},
    FORMULA_READS("running", "momentum moves the statistics a formula keeps with running(...), and "
                             "this one has none"),
    {.key = NULL}};
#undef FORMULA_READS
#undef NORM_PLACED_CONDITION
/* dropout's placement: p 0 builds no dropout layer */
static const nl_key_when dropout_on[] = {{.key = "model.dropout.p"}, {.key = NULL}};
/* the trace's fixed test samples: train mode traces each step's own batch */
static const nl_key_when trace_eval_mode[] = {
    {.key = "train.trace.mode", .mask = BIT(NL_TRACE_EVAL)}, {.key = NULL}};

/* Documentation order; sections must be contiguous (the writer opens each
 * section once). */
const nl_key_def nl_config_schema[] = {
#include "config/keys_run.def"
#include "config/keys_data.def"
#include "config/keys_model.def"
#include "config/keys_norm.def"
#include "config/keys_train.def"
#include "config/keys_init.def"
};
const int nl_config_schema_count = (int)(sizeof nl_config_schema / sizeof nl_config_schema[0]);

int nl_config_key_count(void) { return nl_config_schema_count; }

const char *nl_config_key_name(int i)
{
    return i >= 0 && i < nl_config_schema_count ? nl_config_schema[i].key : NULL;
}
