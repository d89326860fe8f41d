/* What a model is made of, as plain data (a normalizer's part of it:
 * norm/spec.h), and its defaults. The config module fills a spec from YAML,
 * tests fill it by hand. The architectures (core/arch) build models from
 * it, so what a spec's architecture implies (token inputs, its default
 * placement) is answered there, from its row: arch/arch.h. */
#ifndef NL_SPEC_H
#define NL_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/names.h"
#include "layers/param_norm_spec.h"
#include "norm/spec.h"

#define NL_MAX_WIDTHS 16
/* The widest layer: 2^20 units or channels keeps a 3x3 convolution's
 * fan-in and a layer's values per sample on 28x28 or 32x32 images inside
 * an int; a model that wide no longer fits in memory beyond its first
 * layer anyway, which the memory check before a run reports. */
#define NL_MAX_WIDTH (1 << 20)
/* The most repeats of a unit: transformer blocks (model.layers), convs and
 * residual blocks per stage. ResNet-1202 (He et al. 2015, CIFAR-10) has 200
 * basic blocks per stage; with NL_MAX_WIDTHS stages the graph then holds at
 * most ~16 * 1024 * 8 layers: planning it, before the memory check can
 * refuse the model's tensors, takes ~1 s and ~150 MB (measured on the
 * largest resnet), where 2^31 repeats took the machine's memory. */
#define NL_MAX_DEPTH 1024
/* model.conv_choices' items: the convolutions auto chooses for */
#define NL_MAX_CONV_CHOICES 128

/* cnn, resnet: how the activations between convolutions are laid out, as
 * the config asks (model.layout); auto: the plan's layout pass
 * (core/plan/layout.c) chooses one of the others. nchw stays value 0: a
 * run recorded before the key applied ran so (NL_KF_REPLAY_FIRST). */
/* the activations the precision pass can store other than as fp32
 * (spec.value_store) */
#define NL_PLAN_STORED_ACTS 512

typedef enum { NL_LAYOUT_NCHW, NL_LAYOUT_BLOCKED, NL_LAYOUT_AUTO, NL_LAYOUT_COUNT } nl_layout;

/* "Noisy" batch norm (Santurkar et al. 2018, Fig. 2): after each
 * normalizer, in training, y = x * scale_c + shift_c with a scale and a
 * shift per channel drawn anew each step from `distribution` with these
 * means and standard deviations */
typedef struct {
    nl_noise_distribution distribution;
    float scale_mean, scale_std;
    float shift_mean, shift_std;
} nl_norm_noise_spec;

typedef struct {
    /* an nl_arch (arch/kinds.h), held as an int so that the spec, which
     * every layer and check reads, does not rebuild with the list of
     * architectures */
    int arch;
    int in_c, in_h, in_w; /* input image (mlp flattens it) */
    int classes;
    int widths[NL_MAX_WIDTHS]; /* mlp: hidden widths; cnn/resnet: channels per stage */
    int n_widths;
    int convs_per_stage;  /* cnn: 3x3 convolutions before each pooling (default 1) */
    int blocks_per_stage; /* resnet: basic blocks per stage (default 1) */
    int stem_width;       /* resnet: channels of the stem conv; 0 = widths[0] */
    /* resnet: SkipInit (De & Smith 2020), each block's residual branch
     * times a learned scalar that starts at skip_init_alpha */
    bool skip_init;
    float skip_init_alpha;
    nl_activation activation;
    nl_pool_kind pool;    /* cnn: pooling after each stage */
    /* cnn, resnet: the activations' layout as the config asks it (auto
     * included); channel_block is what the plan's layout pass decided
     * (core/plan/layout.c): 0 NCHW, B > 0 the channels in blocks of B
     * wherever a layer reads them so. The layout pass on the graph
     * (nl_plan_layout_graph) reads channel_block alone. */
    nl_layout layout;
    int channel_block;
    /* model.conv_algorithm: the algorithm of the blocked 3x3 stride-1
     * pad-1 convolutions (nl_conv_algorithm, backend/backend.h; int-sized
     * for the config's enum key). A key of the run, so that its
     * config.yaml and checkpoint carry it and a replay or resume runs what
     * the run ran; the graph's layout pass gives it to each such
     * convolution (nl_conv2d_set_algorithm), and where the plan leaves
     * none in the block every convolution stays direct (the plan line
     * says so) */
    int conv_algorithm;
    /* model.conv_choices: where conv_algorithm is auto, the algorithm of
     * each convolution Winograd could run (nl_plan_conv_winograd_eligible,
     * in the graph's order), as an index into model.conv_algorithm's
     * names (0 direct, 1 winograd_f23, 2 winograd_f43): the plan's
     * conv-choice pass fills
     * it by the host's measured costs where it is empty, and the run's
     * config.yaml records it (nl_plan_record), so that a replay or resume
     * runs what the run chose rather than measuring again */
    int n_conv_choices;
    int conv_choices[NL_MAX_CONV_CHOICES];
    /* the device the plan decided for (nl_plan_model): the layout and
     * precision passes ask its backend which layers read the block and
     * which storage types (backend_ops.def: runs) */
    nl_device device;
    /* what channel_block was decided for (the spec, precision, batch and
     * device, hashed by core/plan/plan.c): a spec planned again for the
     * same keeps the decision without another trial build; 0: not planned */
    uint64_t layout_key;
    /* the plan's precision pass (core/plan/precision.c): activation k (in
     * the order the builder makes them) keeps its values (value_store[k])
     * and its gradient (grad_store[k]) in that storage type (nl_storage),
     * the same numbers as fp32 storage would hold. All zero (fp32) but
     * under a low train.precision on the blocked layout; activations past
     * NL_PLAN_STORED_ACTS stay fp32. */
    unsigned char value_store[NL_PLAN_STORED_ACTS], grad_store[NL_PLAN_STORED_ACTS];
    nl_norm_spec norm;
    nl_norm_noise_spec norm_noise;
    int bias;             /* -1 auto: a layer feeding a norm with a learned shift has none */
    nl_init_kind init;
    float init_std;       /* init: gaussian */
    /* a ReLU read only by the max pooling after it folded into that
     * pooling by the fusion pass (plan/fuse.c; the kind relu+maxpool: the
     * same numbers, no ReLU output tensor). Default
     * true; off where every activation must stay a tensor of its own, as for
     * tracing one. Not a config key. */
    bool fuse_relu_pool;
    /* a ReLU after a normalizer fused into the normalizer's layer (its
     * apply pass and backward, by the fusion pass): the same numbers,
     * no pre-activation tensor. fuse_residual_add: the residual add before
     * a post-activation block's last ReLU fused into the normalizer before
     * it too, y = relu(norm(x) + shortcut) (resnet, without skip_init).
     * Default true; off where a probe observes what they fuse away (the
     * trace: any activation; signal propagation and block removal: the
     * adds) and with NORMLAB_FUSE=0 (nl_run_model_spec). Not config keys:
     * they change no number. */
    bool fuse_norm_relu, fuse_residual_add;
    /* floats of optimizer state per parameter: the optimizer row's
     * state_slots (core/optim/registry.c); default 1. Not a config key. */
    int optimizer_state_slots;
    /* train.precision: the product ops' rounding, which a build reads from
     * its backend (backend.h: product_precision). The checks plan on a
     * probe backend set to this, so that they meet what the run's build
     * will: its workspaces, and whether model.layout blocked runs. Not a
     * config key. */
    nl_precision product_precision;
    /* Qiao et al. 2019: every conv and hidden linear weight (not the
     * classifier's) standardized per output unit, eps inside the sqrt */
    bool weight_standardization;
    float weight_standardization_eps;
    /* the parameter normalizer of those same weights (model.param_norm);
     * weight_standardization is the older spelling of its standardization
     * row, and the two cannot both be set */
    nl_param_norm_spec param_norm;
    /* inverted dropout (torch.nn.Dropout): probability of zeroing a value,
     * 0 = no dropout layers; where the layers sit in the blocks */
    float dropout_p;
    nl_dropout_placement dropout_placement;
    /* lm: a decoder-only transformer over token ids; classes is the
     * vocabulary. Blocks place spec.norm as norm.placement says (pre, post,
     * peri, none). */
    int d_model, heads, layers;
    int context;   /* tokens per sequence: the position table's size */
    int mlp_ratio; /* the MLP's hidden width is mlp_ratio * d_model */
    bool qk_norm;  /* spec.norm on each head's q and k before the dot product */
    nl_gelu_kind gelu;
    bool tie_embeddings; /* the LM head's weight is the token embedding */
    /* lm, vit at placement post: DeepNorm (Wang et al. 2022), each add
     * norm(alpha * x + f(x)) and the value, output projection and MLP
     * weights' initial std times beta; alpha and beta from the row of
     * residual_scale (core/arch/residual_scale.c), explicit: these two */
    nl_residual_scale residual_scale;
    float residual_alpha, residual_beta;
    /* vit: the lm's blocks (d_model .. gelu above) over image patches */
    int patch;                 /* patch side; divides the image's height and width */
    nl_token_pool token_pool;  /* what the classifier reads: the class token or the mean */
    /* mixer: the vit's patches, d_model, layers, mlp_ratio (the channel
     * MLP) and gelu; the token MLP's hidden width (0: d_model / 2, rounded
     * up) */
    int token_mlp_width;
    /* rnn, rnn_lm: the recurrent cell and its hidden state's width (the
     * layers are model.layers) */
    nl_rnn_cell cell;
    int hidden;
    bool permute_pixels; /* rnn: the image's pixels in one fixed random order */
} nl_model_spec;

void nl_model_spec_defaults(nl_model_spec *spec);

#endif
