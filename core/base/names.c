#include "base/names.h"

#include <stdio.h>
#include <string.h>

#include "base/name_table.h"

static const nl_name_entry placement_entries[] = {
    [NL_PLACE_BEFORE] = {"before", "mlp/cnn: Linear/Conv -> Norm -> Activation (Ioffe & Szegedy)"},
    [NL_PLACE_AFTER] = {"after", "mlp/cnn: Linear/Conv -> Activation -> Norm"},
    [NL_PLACE_POST] = {"post", "resnet: Conv-Norm-ReLU-Conv-Norm, add, ReLU (He et al. 2015); lm: norm(x + f(x)) (Post-LN)"},
    [NL_PLACE_PRE] = {"pre", "resnet: Norm-ReLU-Conv-Norm-ReLU-Conv, add (He et al. 2016); lm: x + f(norm(x)) and a final norm (Pre-LN)"},
    [NL_PLACE_PERI] = {"peri", "lm: x + norm(f(norm(x))) and a final norm (sandwich, Peri-LN)"},
    [NL_PLACE_NONE] = {"none", "lm: x + f(x), no normalizer in or after the blocks (QK-norm still applies)"},
    [NL_PLACE_IN_CELL] = {"in_cell", "rnn: on the recurrent cell's input and recurrent projections and its cell state, per step"},
};
NL_NAME_TABLE(nl_placement_names, "placement", placement_entries, NL_PLACE_COUNT);

static const nl_name_entry activation_entries[] = {
    [NL_ACT_RELU] = {"relu", "max(0, x)"},
    [NL_ACT_SIGMOID] = {"sigmoid", "1 / (1 + exp(-x))"},
    [NL_ACT_TANH] = {"tanh", "hyperbolic tangent"},
};
NL_NAME_TABLE(nl_activation_names, "activation", activation_entries, NL_ACT_COUNT);

static const nl_name_entry norm_activation_entries[] = {
    [NL_NORM_ACT_KEEP] = {"keep", "the activation follows the formula normalizer as it follows any other"},
    [NL_NORM_ACT_REPLACE] = {"replace", "the formula is a normalization-activation layer (EvoNorm): no activation after it where the architecture puts one after a normalizer"},
};
NL_NAME_TABLE(nl_norm_activation_names, "normalizer activation", norm_activation_entries, NL_NORM_ACT_COUNT);

static const nl_name_entry dropout_placement_entries[] = {
    [NL_DROPOUT_BEFORE_NORM] = {"before_norm", "in every block, right before the normalizer"},
    [NL_DROPOUT_AFTER_NORM] = {"after_norm", "at the end of every block (after norm and activation), so it feeds the next block's normalizer"},
    [NL_DROPOUT_AFTER_LAST_NORM] = {"after_last_norm", "after the last block only, before the classifier: no normalizer sees it (Li et al. 2019)"},
};
NL_NAME_TABLE(nl_dropout_placement_names, "dropout placement", dropout_placement_entries, NL_DROPOUT_COUNT);

static const nl_name_entry noise_distribution_entries[] = {
    [NL_NOISE_NONE] = {"none", "no noise after the normalizers"},
    [NL_NOISE_GAUSSIAN] = {"gaussian", "normal, with the given mean and std"},
    [NL_NOISE_UNIFORM] = {"uniform", "uniform, with the given mean and std (half-width std * sqrt(3))"},
};
NL_NAME_TABLE(nl_noise_distribution_names, "noise distribution", noise_distribution_entries, NL_NOISE_COUNT);

static const nl_name_entry gelu_entries[] = {
    [NL_GELU_ERF] = {"erf", "x * Phi(x) with the exact normal CDF (torch.nn.GELU())"},
    [NL_GELU_TANH] = {"tanh", "the tanh approximation (torch.nn.GELU(approximate='tanh'))"},
};
NL_NAME_TABLE(nl_gelu_names, "gelu", gelu_entries, NL_GELU_COUNT);

static const nl_name_entry pool_entries[] = {
    [NL_POOL_MAX] = {"max", "2x2 max pooling, stride 2"},
    [NL_POOL_AVG] = {"avg", "2x2 average pooling, stride 2"},
};
NL_NAME_TABLE(nl_pool_names, "pooling", pool_entries, NL_POOL_COUNT);


static const nl_name_entry token_pool_entries[] = {
    [NL_TOKEN_POOL_CLS] = {"cls", "a learned class token prepended to the patches; the classifier reads its output"},
    [NL_TOKEN_POOL_MEAN] = {"mean", "the classifier reads the mean over the tokens"},
};
NL_NAME_TABLE(nl_token_pool_names, "token pooling", token_pool_entries, NL_TOKEN_POOL_COUNT);

static const nl_name_entry rnn_cell_entries[] = {
    [NL_RNN_LSTM] = {"lstm", "long short-term memory: gates i, f, g, o and a cell state (torch.nn.LSTM)"},
    [NL_RNN_GRU] = {"gru", "gated recurrent unit: gates r, z, n (torch.nn.GRU)"},
};
NL_NAME_TABLE(nl_rnn_cell_names, "recurrent cell", rnn_cell_entries, NL_RNN_COUNT);

static const nl_name_entry precision_entries[] = {
    [NL_PRECISION_FP32] = {"fp32", "IEEE single precision: 24-bit significand, 8-bit exponent"},
    [NL_PRECISION_BF16] = {"bf16", "bfloat16: 8-bit significand, fp32's 8-bit exponent (range of fp32, 3 decimal digits)"},
    [NL_PRECISION_FP16] = {"fp16", "IEEE half precision: 11-bit significand, 5-bit exponent (largest 65504, subnormals below 6.1e-5)"},
};
NL_NAME_TABLE(nl_precision_names, "precision", precision_entries, NL_PRECISION_COUNT);

static const nl_name_entry schedule_entries[] = {
    [NL_SCHED_CONSTANT] = {"constant", "lr stays at its base value"},
    [NL_SCHED_STEP] = {"step", "lr multiplied by gamma at each milestone step"},
    [NL_SCHED_COSINE] = {"cosine", "lr follows half a cosine from base to min_lr over the run"},
};
NL_NAME_TABLE(nl_schedule_names, "schedule", schedule_entries, NL_SCHED_COUNT);


static const nl_name_entry vocab_entries[] = {
    [NL_VOCAB_BYTES] = {"bytes", "one token per byte: 256 tokens"},
    [NL_VOCAB_CHARS] = {"chars", "one token per distinct byte of the file, in byte order"},
};
NL_NAME_TABLE(nl_vocab_names, "vocabulary", vocab_entries, NL_VOCAB_COUNT);

static const nl_name_entry device_entries[] = {
    [NL_DEVICE_CPU] = {"cpu", "OpenBLAS + OpenMP kernels"},
    [NL_DEVICE_CUDA] = {"cuda", "NVIDIA GPU: cuBLAS + normlab's own kernels"},
};
NL_NAME_TABLE(nl_device_names, "device", device_entries, NL_DEVICE_COUNT);

static const nl_name_entry init_entries[] = {
    [NL_INIT_AUTO] = {"auto", "He for relu layers, Xavier for sigmoid/tanh layers"},
    [NL_INIT_HE] = {"he", "Kaiming normal, std = sqrt(2 / fan_in)"},
    [NL_INIT_XAVIER] = {"xavier", "Glorot normal, std = gain * sqrt(2 / (fan_in + fan_out))"},
    [NL_INIT_GAUSSIAN] = {"gaussian", "normal with a fixed std (model.init_std)"},
};
NL_NAME_TABLE(nl_init_names, "initialization", init_entries, NL_INIT_COUNT);

static const nl_name_entry norm_axis_entries[] = {
    [NL_AXIS_BATCH] = {"batch", "across the samples of the batch"},
    [NL_AXIS_CHANNELS] = {"channels", "across an image's channels (a feature vector's or a "
                                      "token's features), in model.norm.groups groups"},
    [NL_AXIS_SPATIAL] = {"spatial", "across an image's H x W pixels"},
    [NL_AXIS_TOKENS] = {"tokens", "across a sequence's T tokens"},
};
NL_NAME_TABLE(nl_norm_axis_names, "axis", norm_axis_entries, NL_AXIS_COUNT);

static const nl_name_entry norm_scale_entries[] = {
    [NL_SCALE_STD] = {"std", "divide by the standard deviation: sqrt(E[(x - mean)^2] + eps)"},
    [NL_SCALE_RMS] = {"rms", "divide by the root mean square: sqrt(E[x^2] + eps)"},
    [NL_SCALE_NONE] = {"none", "divide by nothing (no eps)"},
};
NL_NAME_TABLE(nl_norm_scale_names, "scale", norm_scale_entries, NL_SCALE_COUNT);

static const nl_name_entry stats_source_entries[] = {
    [NL_STATS_BATCH] = {"batch", "the statistics of the values being normalized (this batch's; "
                                 "each sample's own for a per-sample reduction)"},
    [NL_STATS_RUNNING] = {"running", "the running averages of the batch statistics (model.norm."
                                     "momentum), updated by each training batch first"},
};
NL_NAME_TABLE(nl_stats_source_names, "statistics source", stats_source_entries, NL_STATS_COUNT);

const char *nl_name_set_text(const nl_name_table *table, unsigned bits, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    int shown = 0;
    for (int v = 0; v < table->count && v < 32 && used < size; v++)
        if (bits & (1u << v))
            used += (size_t)snprintf(buf + used, size - used, "%s%s", shown++ ? ", " : "",
                                     nl_name_of(table, v));
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

int nl_name_lookup(const nl_name_table *table, const char *name)
{
    for (int i = 0; i < table->count; i++)
        if (strcmp(nl_name_entry_at(table, i)->name, name) == 0)
            return i;
    return -1;
}

const char *nl_name_of(const nl_name_table *table, int value)
{
    return (value >= 0 && value < table->count) ? nl_name_entry_at(table, value)->name : "?";
}

const char *nl_name_choices(const nl_name_table *table, char *buf, int size)
{
    int used = 0;
    buf[0] = '\0';
    for (int i = 0; i < table->count && used < size; i++)
        used += snprintf(buf + used, (size_t)(size - used), "%s%s", i ? " | " : "",
                         nl_name_entry_at(table, i)->name);
    return buf;
}

int nl_edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la >= MAXLEN || lb >= MAXLEN)
        return la > lb ? la : lb;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++) {
        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *nl_closest_name(const char *word, const char *const *candidates, int count)
{
    const char *best = NULL;
    int best_distance = 1 << 30;
    int len = (int)strlen(word);
    /* allow one edit per three characters, at least one, at most three */
    int limit = len / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    for (int i = 0; i < count; i++) {
        int dist = nl_edit_distance(word, candidates[i]);
        if (dist < best_distance) {
            best_distance = dist;
            best = candidates[i];
        }
    }
    return best_distance <= limit ? best : NULL;
}

const char *nl_closest_in_table(const nl_name_table *table, const char *word)
{
    const char *names[32];
    int count = table->count < 32 ? table->count : 32;
    for (int i = 0; i < count; i++)
        names[i] = nl_name_entry_at(table, i)->name;
    return nl_closest_name(word, names, count);
}
