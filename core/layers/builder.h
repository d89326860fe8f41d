/* The builder's state behind layers/layer.h's nl_builder: what the layer
 * constructors declare through its calls (layers/builder.c), which the
 * model's planner (model/builder.c) then plans and allocates. Layers use
 * the calls; only the planner reads the fields. */
#ifndef NL_LAYERS_BUILDER_H
#define NL_LAYERS_BUILDER_H

#include "layers/layer.h"

/* a layer's buffer in the saved arena (nl_builder_saved, nl_builder_constant) */
typedef struct {
    void **slot;
    size_t bytes;
    const void *initial; /* host bytes uploaded once allocated (nl_builder_constant); NULL: none */
} nl_saved_request;

struct nl_builder {
    nl_backend *be;
    bool plan_only; /* nl_model_plan, nl_model_check: shapes and errors, no memory */
    int capacity;   /* the largest batch */
    int train_batch;
    uint64_t seed;
    nl_error *err;
    bool failed;

    nl_act **acts;
    int n_acts, cap_acts;
    nl_param **params;
    int n_params, cap_params;
    nl_state **states;
    int n_states, cap_states;
    nl_layer **layers;
    int n_layers, cap_layers;
    nl_saved_request *saved;
    int n_saved, cap_saved;
    long **counters;
    int n_counters, cap_counters;
    nl_norm_site *norm_sites;
    int n_norm_sites, cap_norm_sites;
    int n_scalars; /* the per-step scalar block, optimizer arguments first */
    size_t workspace;
    /* the channel block convolutions write: the plan's (nl_model_spec.channel_block) */
    int channel_block;
    /* the storage type of each activation's values and gradient, in the
     * order they are made, for the first stored_acts: the plan's
     * (nl_model_spec.value_store, grad_store) */
    const unsigned char *value_store, *grad_store;
    int stored_acts;
    bool out_of_memory;
    /* What a constructor gets when its allocation fails, so that it can
     * finish without checking: never added to the lists, never freed. One
     * set per builder, as models are built on several threads at once (a
     * sweep's runs). The layer's bytes cover the largest layer struct; a
     * constructor only computes pointers into what follows it. */
    _Alignas(64) unsigned char spare_layer[4096];
    nl_param spare_param;
    nl_state spare_state;
};

#endif
