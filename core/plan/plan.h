/* The model's plan: what a run builds, decided once from the config and the
 * device's declared capabilities (device/device.h: nl_device_caps), by
 * passes over the model spec, each in a file of its own:
 *
 *   fuse.c    which ReLUs and residual adds fold into the layer before them
 *             (and a stage's ReLU into its max pooling): flags on the spec,
 *             then the folds on the recipe's graph (nl_plan_fuse_graph)
 *   layout.c  the activations' layout: a channel block wherever the device's
 *             convolutions take one and it saves more reorders than it adds;
 *             a pass on the graph inserts a reorder layer before any layer
 *             that cannot read the block (layers/reorder.c)
 *   precision.c  which activations keep their values or gradients in
 *             a 16-bit storage type between layers (the type a low
 *             train.precision rounds to, the blocked layout): where every
 *             reader and writer rounds them to it anyway, the same
 *             numbers in half the bytes
 *
 * `validate`, the sweep's pre-check, the run's checks, the build, `show`
 * and every surface that rebuilds a run's model (eval, init.from, the final
 * model) read the spec nl_plan_model returns; layers and kernels receive
 * what it decided (nl_model_spec.channel_block, .fuse_*) and never decide
 * it. A plan the capabilities cannot run is refused here, by its key, and
 * nowhere else. */
#ifndef NL_PLAN_H
#define NL_PLAN_H

#include <stdbool.h>

#include "base/status.h"
#include "device/device.h"
#include "model/model.h"
#include "model/spec.h"

/* What of the run the passes read besides the model (the config's train
 * section, as config/resolve.c's nl_config_plan_run gives it): the plan
 * sits below the config and reads none of it itself. */
typedef struct {
    nl_precision precision; /* train.precision: the products' */
    int train_batch;        /* train.batch_size */
    int capacity;           /* the larger of train.batch_size and train.eval_batch_size */
    int threads;            /* the CPU threads the run's kernels keep workspaces for */
    /* train.freeze_bn_after or init_bn's freeze: the batch norms keep what
     * freezing needs */
    bool freezable;
    /* train.trace.activation names one: every activation stays a tensor */
    bool traces_activation;
    /* a probe reads each residual add's output or drops its branch
     * (signal propagation, block removal) */
    bool observes_adds;
    bool fuse_off; /* NORMLAB_FUSE=0: the unfused model */
    /* the device the run allocates the graph on: its backend sizes the
     * planned bytes and answers for the kernels the graph needs */
    nl_device device;
} nl_plan_run;

/* model.layout's values (nl_layout) */
extern const nl_name_table nl_layout_names;
/* model.conv_algorithm's values (nl_conv_algorithm) */
extern const nl_name_table nl_conv_algorithm_names;

/* The fusion pass: the spec's fusions, off where a probe of the run
 * observes what they fold away or NORMLAB_FUSE=0 asks for the unfused model
 * (the same numbers either way). */
void nl_plan_fuse(nl_model_spec *spec, const nl_plan_run *run);

/* The fusion pass on the recipe's graph, before it is planned: each ReLU
 * layer folded where the spec's flags allow and the graph lets it (the
 * tensor it takes away read by nothing else): into the max pooling after
 * it (fuse_relu_pool), with the plain residual add before it into the
 * normalizer before that (fuse_residual_add), or into the normalizer
 * before it (fuse_norm_relu); the layer that takes it renamed nothing, the
 * folded tensor's writer's output takes the ReLU's name. Returns `result`,
 * the graph's output, or what replaced it. */
nl_act *nl_plan_fuse_graph(nl_builder *b, const nl_model_spec *spec, nl_act *result);

/* NORMLAB_FUSE is 0 (or off): no ReLU or residual add fused into a normalizer */
bool nl_normlab_fuse_off(void);
/* NORMLAB_FUSE unset, empty, 0, off, 1 or on; any other value is a usage
 * error naming it and the accepted ones (main refuses it before any work) */
nl_code nl_normlab_fuse_check(nl_error *err);

/* The layout pass: spec->layout (auto, nchw or blocked, as the config asks)
 * decided into spec->channel_block for a device with `caps`. nchw, and auto
 * where the block does not pay or cannot run, decide 0; blocked where the
 * device gives no block at the spec's precision, or a width is not a
 * multiple of it, is refused with the key that decides it (model.layout,
 * model.widths, model.stem_width). auto decides on the planned graph of the
 * blocked model (nl_plan_graph) for `run`, the graph the run's checks then
 * read when the block is taken. */
nl_code nl_plan_layout(nl_model_spec *spec, const nl_device_caps *caps, const nl_plan_run *run,
                       nl_error *err);

/* The layout pass on the graph the recipe built with every activation
 * NCHW (plan/graph.c runs it on every model's): with spec->channel_block,
 * every convolution writes the block, a layer that reads it keeps its
 * input's on its output, and a reorder layer to NCHW goes before each
 * layer that cannot read it, before each view of a blocked image (a
 * flatten) and on the blocked side of a residual add whose sides differ;
 * the layers take the layouts into their geometry when typed
 * (nl_model_type_nodes). false after a build error (recorded in b). */
bool nl_plan_layout_graph(nl_builder *b, const nl_model_spec *spec);

/* The precision pass: spec->value_store and grad_store decided on the
 * planned graph of the spec (its layout decided) for `run`; all fp32 but
 * for a low-precision run on the blocked layout without a probe that
 * reads activations. */
nl_code nl_plan_precision(nl_model_spec *spec, const nl_plan_run *run, nl_error *err);
/* the activations whose values the spec stores other than as fp32, and
 * in *grads those whose gradients */
int nl_plan_stored_count(const nl_model_spec *spec, int *grads);

/* What a run's resolved config records of the plan's decisions, so that
 * it replays them whatever the host it replays on would decide: the layout
 * decided in `planned` (auto is never written) into `recorded`. */
void nl_plan_record(nl_model_spec *recorded, const nl_model_spec *planned);

/* "  plan: activations ..., products in ...; layout ..." and a newline:
 * what the passes decided for `planned` from the config's `asked`, as
 * `normlab show` prints it above the layer table */
void nl_plan_describe(const nl_model_spec *asked, const nl_model_spec *planned, nl_buf *text);

/* The conv-choice pass (conv_choice.c): where model.conv_algorithm is
 * auto and model.conv_choices is empty, fills it with each eligible
 * convolution's algorithm (0 direct, 1 winograd_f23, 2 winograd_f43), the fastest on this
 * host as cached per host, kernel set and shape, measured where the
 * cache has none, the rule where no cache can be had; a given list is
 * kept, refused (NL_ERR_CONFIG, key model.conv_choices) where its length
 * is not the model's count; under another algorithm it is emptied. */
nl_code nl_plan_conv_choose(nl_model_spec *spec, const nl_plan_run *run, nl_error *err);
/* whether Winograd could run convolution l of geometry conv in a graph
 * blocked by `block`: 3x3 stride 1 pad 1, channels in whole blocks, its
 * input in the block (the layout pass counts these in graph order) */
bool nl_plan_conv_winograd_eligible(const nl_layer *l, const nl_conv_geom *conv, int block);
/* the algorithm of the index-th such convolution under spec's key */
int nl_plan_conv_choice(const nl_model_spec *spec, int index);

/* Every pass in order: the config's model planned for `device`. A model
 * planned before for the same run and device (its layout_key) keeps its
 * layout without deciding it again: the config's check plans it, and the
 * run's check and build take the decision. */
nl_code nl_plan_model(const nl_model_spec *model, const nl_plan_run *run, nl_device device,
                      nl_model_spec *out, nl_error *err);

/* The planned graph of a spec decided by nl_plan_model: its layers, shapes
 * and what it asks of a device, without memory, for the run's capacity,
 * train batch, threads and device, its bytes as that device's probe sizes
 * them (nl_model_plan_on).
 * Assembled once per process for each spec and run (graph.c keeps them),
 * so that the layout pass's trial, `validate`, the sweep's pre-check, the
 * run's checks, the evaluation-statistics rule
 * (nl_model_eval_batch_degenerate), the bench commands and `show`'s
 * traceable names read one graph, and the run allocates it
 * (nl_plan_graph_take, then nl_model_alloc on the run's device, which
 * answers for its kernels and sizes; tests/test_model_plan.c counts the
 * recipe runs and allocations). *graph is held until nl_plan_graph_done (a held graph is
 * never dropped from the cache); the caller never frees it. A sweep's runs
 * plan on their own threads: the cache is shared under a lock, and a
 * graph is read only (its layers' planned shapes). */
nl_code nl_plan_graph(const nl_model_spec *spec, const nl_plan_run *run, nl_model **graph,
                      nl_error *err);
void nl_plan_graph_done(nl_model *graph);
/* The graph a run allocates (nl_model_alloc): the planned graph of the
 * spec and run, taken out of the kept ones (the one its checks read) or,
 * where none is kept or another reader holds it, assembled; its nodes
 * typed as the spec's storage decides (nl_model_type_nodes). The caller
 * owns it. */
nl_code nl_plan_graph_take(const nl_model_spec *spec, const nl_plan_run *run, nl_model **graph,
                           nl_error *err);
/* drops every graph not held (a process that plans many configs, or a
 * leak check at exit) */
void nl_plan_graphs_release(void);

/* The spec's graph as every reader gets it: the architecture's recipe
 * (arch/arch.h: nl_arch_recipe) assembled by the builder and then
 * rewritten by the plan's passes on the graph, so that a model created
 * outside the kept graphs (eval --fold-bn, the final model, init.from,
 * the bench, the tests) is the graph a run allocates. */
/* The model for batches of up to `capacity` samples, `train_batch` the
 * training batch size (BatchNorm needs N*H*W > 1 there), its parameters
 * drawn from `seed`: the spec's graph assembled (the recipe run once) and
 * allocated on `be` (nl_model_alloc), for a model no planned graph is
 * kept for (a run's own takes its planned one: plan/plan.h,
 * nl_plan_graph_take). */
nl_code nl_model_create(const nl_model_spec *spec, nl_backend *be, int capacity, int train_batch,
                        uint64_t seed, nl_model **out, nl_error *err);
/* Builds the layer graph without allocating anything: checks that the spec
 * makes a valid model at this training batch size (group counts, image sizes,
 * batch norm's N*H*W > 1, instance norm on features), keeping nothing. A
 * run's checks read the kept graph instead (nl_plan_graph, plan/plan.h). */
nl_code nl_model_check(const nl_model_spec *spec, int train_batch, nl_error *err);
/* nl_model_check at the real batch sizes, keeping the graph: layers,
 * activations (nl_model_act finds them) and parameters with their shapes,
 * and in planned the bytes it would take on the CPU (`threads` host threads
 * size the per-thread workspaces). No memory is taken for tensors (their
 * pointers are NULL, and there is no backend): nl_model_alloc allocates
 * it on the run's device, which sizes it then. Free it with nl_model_free. */
nl_code nl_model_plan(const nl_model_spec *spec, int capacity, int train_batch, int threads,
                      nl_model **out, nl_error *err);
/* nl_model_plan for `device`: its bytes as that device's backend sizes
 * them, and a layer whose kernels it lacks refused with the device key
 * (the CPU's sizes where this build cannot open the device, whose run is
 * refused when it opens it) */
nl_code nl_model_plan_on(const nl_model_spec *spec, nl_device device, int capacity,
                         int train_batch, int threads, nl_model **out, nl_error *err);
/* how many plan-only assemblies (nl_model_check, nl_model_plan) this
 * process made: the test that a run is planned once counts them */
int nl_model_plans_assembled(void);

#endif
