/* What a model is made of, as plain data: the config module fills it from
 * YAML, tests fill it by hand. Defaults: nl_model_spec_defaults(). */
#ifndef NL_SPEC_H
#define NL_SPEC_H

#include <stdbool.h>

#include "base/names.h"

#define NL_MAX_WIDTHS 16
/* The widest layer: 2^20 units or channels keeps a 3x3 convolution's
 * fan-in and a layer's values per sample on 28x28 or 32x32 images inside
 * an int; a model that wide no longer fits in memory beyond its first
 * layer anyway, which the memory check before a run reports. */
#define NL_MAX_WIDTH (1 << 20)

typedef struct {
    nl_norm_kind kind;
    nl_placement placement;
    int groups;       /* group: number of channel groups; must divide every normalized width */
    float eps;        /* added to the variance inside the square root */
    float momentum;   /* weight of the new batch statistic in the running average */
    bool cumulative;  /* momentum: null in PyTorch: running stats are a plain average */
    bool affine;      /* learned per-channel gamma and beta */
    bool track_running_stats; /* batch: default true; instance: default false */
    float alpha_init; /* dyt: the learned scalar alpha's starting value */
} nl_norm_spec;

typedef struct {
    nl_arch arch;
    int in_c, in_h, in_w; /* input image (mlp flattens it) */
    int classes;
    int widths[NL_MAX_WIDTHS]; /* mlp: hidden widths; cnn/resnet: channels per stage */
    int n_widths;
    int convs_per_stage;  /* cnn: 3x3 convolutions before each pooling (default 1) */
    int blocks_per_stage; /* resnet: basic blocks per stage (default 1) */
    int stem_width;       /* resnet: channels of the stem conv; 0 = widths[0] */
    nl_activation activation;
    nl_pool_kind pool;    /* cnn: pooling after each stage */
    nl_norm_spec norm;
    int bias;             /* -1 auto: a layer feeding a norm with a learned shift has none */
    nl_init_kind init;
    float init_std;       /* init: gaussian */
    /* cnn: a stage's last ReLU and its max pooling built as one layer
     * (nl_relu_maxpool2d: the same numbers, no ReLU output tensor). Default
     * true; off where every activation must stay a tensor of its own, as for
     * tracing one. Not a config key. */
    bool fuse_relu_pool;
} nl_model_spec;

void nl_norm_spec_defaults(nl_norm_spec *norm, nl_norm_kind kind);
void nl_model_spec_defaults(nl_model_spec *spec);

#endif
