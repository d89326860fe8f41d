#include "arch/registry.h"

#include <string.h>

#include "norm/registry.h"

#define PLACE(p) (1u << (p))
#define WIDTHS_PLACEMENTS (PLACE(NL_PLACE_BEFORE) | PLACE(NL_PLACE_AFTER))
#define BLOCK_PLACEMENTS                                                                           \
    (PLACE(NL_PLACE_PRE) | PLACE(NL_PLACE_POST) | PLACE(NL_PLACE_PERI) | PLACE(NL_PLACE_NONE))
#define WIDTHS_SIZE .size_key = "model.widths", .size_hint = "widen the layer (model.widths)"
#define BLOCKS_SIZE .size_key = "model.d_model", .size_hint = "raise model.d_model"
#define WIDTHS_SUMMARY {"model.widths", "model.activation"}
/* the keys of the widths models: their layers' widths, and the activation
 * (resnet's blocks use relu, but the activation picks its initialization) */
#define WIDTHS_KEYS "model.widths", "model.activation"
/* the keys the mlp and cnn blocks read (nl_arch_norm_and_act in parts.c) */
#define DROPOUT_KEYS "model.dropout.p", "model.dropout.placement"
/* the key of the norm -> activation pairs (nl_arch_norm_act in parts.c):
 * a formula normalizer in the activation's place */
#define NORM_ACT_KEY "model.norm.activation"
/* the key of nl_arch_norm's noise (parts.c), for the architectures whose
 * every normalizer goes through it */
#define NOISE_KEY "model.norm_noise.distribution"
/* the key of the hidden weight layers' parameter normalizer
 * (nl_arch_param_norm in parts.c), for the architectures built of them */
#define PARAM_NORM_KEY "model.param_norm.type"
/* the keys the transformer blocks read (transformer_blocks in transformer.c) */
#define RNN_SIZE .size_key = "model.hidden", .size_hint = "raise model.hidden"
/* the keys the recurrent stack reads (recurrent_stack in rnn.c) */
#define RNN_KEYS "model.cell", "model.hidden", "model.layers", "model.norm.cell_state", \
                 "model.norm.cell_gamma", "model.norm.step_stats"
#define BLOCK_KEYS "model.d_model", "model.heads", "model.layers", "model.mlp_ratio", \
                   "model.qk_norm", "model.gelu", "model.residual_scale", \
                   "model.norm.depth_scaling"

static const nl_arch_info rows[] = {
    [NL_ARCH_MLP] = {{"mlp", "fully connected: input -> hidden widths -> classes"},
                     .description = "flatten, then per hidden width fc -> norm -> act (before) or "
                                    "fc -> act -> norm (after), with dropout where "
                                    "model.dropout puts it, then the classifier",
                     .inputs = NL_ARCH_IN_FEATURES | NL_ARCH_IN_IMAGES,
                     .placements = WIDTHS_PLACEMENTS, .default_placement = NL_PLACE_BEFORE,
                     .norm_ndim = 2, WIDTHS_SIZE,
                     .keys = {WIDTHS_KEYS, DROPOUT_KEYS, NOISE_KEY, PARAM_NORM_KEY, NORM_ACT_KEY},
                     .summary_keys = WIDTHS_SUMMARY, .bench_kernels = true,
                     .bench_torch = PLACE(NL_PLACE_BEFORE), .build = nl_arch_build_mlp},
    [NL_ARCH_CNN] = {{"cnn", "stages of 3x3 convolutions, each followed by pooling, then a linear classifier"},
                     .description = "per stage convs_per_stage 3x3 convolutions (pad 1), each with "
                                    "norm, act and dropout placed as for the mlp, then 2x2 pooling; "
                                    "flatten; the classifier",
                     .inputs = NL_ARCH_IN_IMAGES, .placements = WIDTHS_PLACEMENTS,
                     .default_placement = NL_PLACE_BEFORE, .norm_ndim = 4, WIDTHS_SIZE,
                     .keys = {WIDTHS_KEYS, "model.pool", "model.convs_per_stage", DROPOUT_KEYS,
                              NOISE_KEY, PARAM_NORM_KEY, "model.layout", "model.conv_algorithm",
                              "model.conv_choices", NORM_ACT_KEY},
                     .summary_keys = WIDTHS_SUMMARY, .bench_kernels = true,
                     .bench_torch = PLACE(NL_PLACE_BEFORE), .build = nl_arch_build_cnn},
    [NL_ARCH_RESNET] = {{"resnet", "stem conv, stages of basic residual blocks, global average pool, linear"},
                        .description = "stem 3x3 conv; stages of basic blocks (two 3x3 convs; the "
                                       "first block of a later stage halves the map with stride 2 "
                                       "and a 1x1 projection shortcut), post-activation "
                                       "(He et al. 2015) or pre-activation (He et al. 2016); "
                                       "global average pool; the classifier",
                        .inputs = NL_ARCH_IN_IMAGES,
                        .placements = PLACE(NL_PLACE_POST) | PLACE(NL_PLACE_PRE),
                        .default_placement = NL_PLACE_POST, .norm_ndim = 4,
                        WIDTHS_SIZE,
                        .keys = {WIDTHS_KEYS, "model.blocks_per_stage", "model.stem_width",
                                 NOISE_KEY, PARAM_NORM_KEY, "model.skip_init", "model.layout",
                                 "model.conv_algorithm", "model.conv_choices", NORM_ACT_KEY},
                        .summary_keys = WIDTHS_SUMMARY,
                        .bench_torch = PLACE(NL_PLACE_POST) | PLACE(NL_PLACE_PRE),
                        .build = nl_arch_build_resnet},
    [NL_ARCH_LM] = {{"lm", "decoder-only transformer on token ids: embeddings, causal attention and GELU MLP blocks, LM head"},
                    .description = "token + position embedding; `layers` blocks of causal "
                                   "multi-head attention and a GELU MLP, each a residual branch "
                                   "with the normalizer placed pre, post, peri or none; the LM "
                                   "head, tied to the token embedding or not",
                    .inputs = NL_ARCH_IN_TOKENS, .placements = BLOCK_PLACEMENTS,
                    .default_placement = NL_PLACE_PRE, .norm_ndim = 3, BLOCKS_SIZE,
                    .keys = {BLOCK_KEYS, "model.context", "model.tie_embeddings"}, .blocks = true,
                    .summary_keys = {"model.d_model", "model.layers", "model.heads",
                                     "model.context"},
                    .bench_torch = BLOCK_PLACEMENTS, .build = nl_arch_build_lm},
    [NL_ARCH_VIT] = {{"vit", "vision transformer: image patches as tokens, the lm's blocks without the causal mask, a linear classifier"},
                     .description = "the image cut into patch x patch patches, each a token "
                                    "through a linear embedding; a class token (pool cls) and a "
                                    "learned position embedding; the lm's blocks with attention "
                                    "unmasked; the class token's output or the tokens' mean; a "
                                    "linear classifier",
                     .inputs = NL_ARCH_IN_IMAGES, .placements = BLOCK_PLACEMENTS,
                     .default_placement = NL_PLACE_PRE, .norm_ndim = 3, BLOCKS_SIZE,
                     .keys = {BLOCK_KEYS, "model.patch", "model.token_pool"}, .blocks = true,
                     .summary_keys = {"model.d_model", "model.layers", "model.heads",
                                      "model.patch"},
                     .bench_torch = BLOCK_PLACEMENTS, .build = nl_arch_build_vit},
    [NL_ARCH_MIXER] = {{"mixer", "MLP-Mixer: image patches as tokens, blocks of an MLP across the tokens and one across the channels, a linear classifier"},
                       .description = "the vit's patches and patch embedding; `layers` blocks of "
                                      "an MLP across the tokens (per channel, token_mlp_width "
                                      "wide, default d_model / 2) and the transformer's MLP "
                                      "across the channels, each a residual branch with the "
                                      "normalizer before it (Tolstikhin et al. 2021) or none; a "
                                      "final norm, the tokens' mean, a linear classifier",
                       .inputs = NL_ARCH_IN_IMAGES,
                       .placements = PLACE(NL_PLACE_PRE) | PLACE(NL_PLACE_NONE),
                       .default_placement = NL_PLACE_PRE, .norm_ndim = 3, BLOCKS_SIZE,
                       .keys = {"model.d_model", "model.layers", "model.mlp_ratio", "model.gelu",
                                "model.patch", "model.token_mlp_width"},
                       .blocks = true,
                       .summary_keys = {"model.d_model", "model.layers", "model.patch",
                                        "model.token_mlp_width"},
                       .build = nl_arch_build_mixer},
    [NL_ARCH_RNN] = {{"rnn", "recurrent network (LSTM or GRU) reading an image row by row, a linear classifier on its last state"},
                     .description = "the image as the sequence of its rows (C*H steps of W "
                                    "pixels: sequential Fashion-MNIST); `layers` stacked "
                                    "recurrent layers of `hidden` units (model.cell: lstm or "
                                    "gru, PyTorch's gates and init); the classifier on the top "
                                    "layer's last hidden state; permute_pixels: the pixels in "
                                    "one fixed random order first. Placement none: the plain "
                                    "cell; in_cell: the normalizer on the cell's projections "
                                    "and cell state at every step",
                     .inputs = NL_ARCH_IN_IMAGES,
                     .placements = PLACE(NL_PLACE_NONE) | PLACE(NL_PLACE_IN_CELL),
                     .default_placement = NL_PLACE_NONE, .norm_ndim = 2, RNN_SIZE,
                     .keys = {RNN_KEYS, "model.permute_pixels"}, .blocks = true,
                     .summary_keys = {"model.cell", "model.hidden", "model.layers"},
                     .bench_torch = PLACE(NL_PLACE_NONE) | PLACE(NL_PLACE_IN_CELL),
                     .build = nl_arch_build_rnn},
    [NL_ARCH_RNN_LM] = {{"rnn_lm", "recurrent language model (LSTM or GRU) on token ids: embedding, recurrent layers, next-token head at every step"},
                        .description = "token embedding of `hidden` values (no position "
                                       "table); `layers` stacked recurrent layers (model.cell: "
                                       "lstm or gru) over the context, trained by "
                                       "backpropagation through time; a linear head to the "
                                       "next-token logits at every step. Placement none: the "
                                       "plain cell; in_cell: the normalizer on the cell's "
                                       "projections and cell state at every step",
                        .inputs = NL_ARCH_IN_TOKENS,
                        .placements = PLACE(NL_PLACE_NONE) | PLACE(NL_PLACE_IN_CELL),
                        .default_placement = NL_PLACE_NONE, .norm_ndim = 2, RNN_SIZE,
                        .keys = {RNN_KEYS, "model.context"}, .blocks = true,
                        .summary_keys = {"model.cell", "model.hidden", "model.layers",
                                         "model.context"},
                        .any_context = true,
                        .bench_torch = PLACE(NL_PLACE_NONE) | PLACE(NL_PLACE_IN_CELL),
                        .build = nl_arch_build_rnn_lm},
};
_Static_assert(sizeof rows / sizeof rows[0] == NL_ARCH_COUNT, "one table row per nl_arch");
/* nl_model_spec_defaults starts a spec at architecture 0 */
_Static_assert(NL_ARCH_MLP == 0, "mlp is the first line of arch/kinds.def");
_Static_assert(offsetof(nl_arch_info, id) == 0, "nl_arch_names reads the rows as name entries");
_Static_assert(NL_PLACE_COUNT <= 32, "placements are bits of an unsigned");
_Static_assert(NL_ARCH_COUNT <= 32, "the schema's when masks hold an architecture per bit");

const nl_name_table nl_arch_names = {"architecture", &rows[0].id, NL_ARCH_COUNT, sizeof rows[0]};

const nl_arch_info *nl_arch_info_of(nl_arch a)
{
    return &rows[a];
}

bool nl_arch_accepts_placement(const nl_arch_info *row, nl_placement p)
{
    return (unsigned)p < NL_PLACE_COUNT && (row->placements >> p & 1u);
}

bool nl_arch_reads_key(const nl_arch_info *row, const char *key)
{
    for (int i = 0; i < NL_ARCH_MAX_KEYS && row->keys[i]; i++)
        if (strcmp(row->keys[i], key) == 0)
            return true;
    return false;
}

unsigned nl_arch_kinds_with_key(const char *key)
{
    unsigned mask = 0;
    for (int a = 0; a < NL_ARCH_COUNT; a++)
        if (nl_arch_reads_key(&rows[a], key))
            mask |= 1u << a;
    return mask;
}

/* appends `word` to the list in buf, after `sep` unless it is the first */
static size_t append(char *buf, size_t size, size_t used, const char *sep, const char *word)
{
    if (used >= size)
        return used;
    return used + (size_t)snprintf(buf + used, size - used, "%s%s", used ? sep : "", word);
}

const char *nl_arch_kinds_reading(unsigned inputs, const char *sep, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < NL_ARCH_COUNT; a++)
        if (rows[a].inputs & inputs)
            used = append(buf, size, used, sep, rows[a].id.name);
    return buf;
}

const char *nl_arch_placements_text(const nl_arch_info *row, const char *sep, char *buf,
                                    size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0; p < NL_PLACE_COUNT; p++)
        if (nl_arch_accepts_placement(row, (nl_placement)p))
            used = append(buf, size, used, sep, nl_name_of(&nl_placement_names, p));
    return buf;
}

static const char *inputs_text(unsigned inputs, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *what;
    } names[] = {{NL_ARCH_IN_FEATURES, "feature vectors"},
                 {NL_ARCH_IN_IMAGES, "images"},
                 {NL_ARCH_IN_TOKENS, "token ids"}};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (inputs & names[i].bit)
            used = append(buf, size, used, ", ", names[i].what);
    return buf;
}

/* "all", or "all but `instance`, `frn`": the normalizers the layout its
 * norms see takes */
static void write_norms(FILE *out, int ndim)
{
    int refused = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++)
        if (!nl_norm_accepts(nl_norm_info_of((nl_norm_kind)k), ndim))
            fprintf(out, "%s`%s`", refused++ ? ", " : "all but ",
                    nl_name_of(&nl_norm_names, k));
    if (!refused)
        fprintf(out, "all");
}

void nl_arch_write_table(FILE *out)
{
    fprintf(out, "| `arch` | what | reads | placements (default first) | normalizers "
                 "| its own keys (model.) |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = &rows[a];
        char inputs[96];
        fprintf(out, "| `%s` | %s | %s | `%s`", r->id.name, r->description,
                inputs_text(r->inputs, inputs, sizeof inputs),
                nl_name_of(&nl_placement_names, r->default_placement));
        for (int p = 0; p < NL_PLACE_COUNT; p++)
            if (p != (int)r->default_placement && nl_arch_accepts_placement(r, (nl_placement)p))
                fprintf(out, ", `%s`", nl_name_of(&nl_placement_names, p));
        fprintf(out, " | ");
        write_norms(out, r->norm_ndim);
        fprintf(out, " | ");
        for (int i = 0; i < NL_ARCH_MAX_KEYS && r->keys[i]; i++)
            fprintf(out, "%s`%s`", i ? ", " : "", r->keys[i] + strlen("model."));
        fprintf(out, "%s |\n", r->keys[0] ? "" : "-");
    }
}
