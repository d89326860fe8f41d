/* The builder's state behind layers/layer.h's nl_builder: what the layer
 * constructors declare through its calls (layers/builder.c), which the
 * model's planner (model/builder.c) then plans and allocates. Layers use
 * the calls; only the planner and the plan's layout pass (plan/layout.c),
 * which inserts reorders into the lists, read the fields. */
#ifndef NL_LAYERS_BUILDER_H
#define NL_LAYERS_BUILDER_H

#include "layers/layer.h"

/* a layer's buffer in the saved arena (nl_builder_saved, nl_builder_constant,
 * nl_builder_saved_asked) */
typedef struct {
    void **slot;
    size_t bytes;
    const void *initial; /* host bytes uploaded once allocated (nl_builder_constant); NULL: none */
    /* its bytes the device decides (nl_builder_saved_asked): asked of the
     * device the graph is allocated on; NULL: `bytes` */
    nl_device_bytes ask;
    void *what;
} nl_saved_request;

/* a workspace the device decides (nl_builder_workspace_asked) */
typedef struct {
    nl_device_bytes ask;
    void *what;
} nl_workspace_request;

/* kernels a layer needs of the device (nl_builder_needs_kernels) */
typedef struct {
    char layer[64];
    const char *family;
    nl_device_has has;
} nl_kernel_need;

/* What a graph asks of the device it is allocated on, kept with the graph
 * (nl_model.needs) from its assembly to its allocation: the saved buffers,
 * the workspaces and kernels the device sizes and answers for, and the
 * slots the model's seed goes into. */
typedef struct nl_graph_needs {
    nl_saved_request *saved;
    int n_saved, cap_saved;
    nl_workspace_request *workspaces;
    int n_workspaces, cap_workspaces;
    nl_kernel_need *kernels;
    int n_kernels, cap_kernels;
    uint64_t **seeds;
    int n_seeds, cap_seeds;
    size_t workspace; /* the largest workspace of a size the layer fixes itself */
} nl_graph_needs;

/* frees the lists (not the struct) */
void nl_graph_needs_release(nl_graph_needs *needs);

struct nl_builder {
    int capacity;   /* the largest batch */
    int train_batch;
    nl_precision precision; /* the products' (nl_model_spec.product_precision) */
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
    nl_graph_needs needs;
    long **counters;
    int n_counters, cap_counters;
    nl_norm_site *norm_sites;
    int n_norm_sites, cap_norm_sites;
    int n_scalars; /* the per-step scalar block, optimizer arguments first */
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
