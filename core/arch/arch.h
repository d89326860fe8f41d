/* Architectures built from a spec (the rows of core/arch/registry.c, one
 * builder file each). They sit above the layers and the builder:
 * nl_arch_recipe hands the model's planner (model/model.h) the spec's
 * architecture as its graph (plan/graph.c assembles it), and
 * nl_model_build_graph the caller's graph on its input. */
#ifndef NL_ARCH_H
#define NL_ARCH_H

#include <stdbool.h>

#include "arch/kinds.h"
#include "layers/layer.h"
#include "model/model.h"
#include "model/spec.h"

/* whether the spec's architecture reads token ids (N, T) rather than
 * images, and its own placement where a config does not name one: its row
 * in core/arch/registry.c says */
bool nl_model_spec_tokens(const nl_model_spec *spec);
nl_placement nl_model_spec_default_placement(const nl_model_spec *spec);

/* adds the layers of spec's architecture after `input`; returns the logits */
nl_act *nl_arch_build(nl_builder *b, const nl_model_spec *spec, nl_act *input);
/* the recipe as a graph for nl_model_assemble (ctx: the spec), counted by
 * nl_model_recipes_run: the plan (plan/graph.c) assembles every model's
 * graph from it */
nl_act *nl_arch_recipe(nl_builder *b, nl_act *input, void *spec);

/* standard deviation of a weight's initial values under the spec's rule;
 * `activation_follows` is false for the classifier */
float nl_arch_init_std(const nl_model_spec *spec, int fan_in, int fan_out, bool activation_follows);

/* Whether evaluation in batches of `batch` leaves some normalized set one
 * value, where the normalizer evaluates with the statistics of the batch
 * it is given (model.norm.eval_stats batch, track_running_stats false):
 * read from the planned graph of the run (nl_plan_graph, plan/plan.h),
 * its normalizer layers' sets counted at that batch as training's are at
 * train.batch_size (the normalizer registry's sets), with no assembly of
 * its own. Then *why is the key that makes evaluation take batch
 * statistics and layer names the layer ("layer norm1"); false for
 * anything else, also a set of one that another key makes so. */
bool nl_model_eval_batch_degenerate(const nl_model *graph, int batch, char *layer, size_t size,
                                    const char **why);
/* how many times this process ran an architecture's recipe (its row's
 * build function): once per distinct model, the planned graph being the
 * one a run allocates */
int nl_model_recipes_run(void);

/* Builds any graph through the same planner: `construct` adds layers after
 * the (N, in_c, in_h, in_w) input and returns the output. There is no loss:
 * forward runs the layers, backward starts from a given output gradient.
 * Tests use it for single layers, the benchmark for kernels. Set
 * input->needs_grad in `construct` to get the input's gradient. */
nl_code nl_model_build_graph(const nl_model_spec *spec, nl_backend *be, int capacity,
                             int train_batch, uint64_t seed, nl_graph_fn construct, void *ctx,
                             nl_model **out, nl_error *err);

/* One normalizer layer (`norm`, named "norm") on an input of ndim 2
 * (flattened), 3 ((N, T, D) given as (N, T, D, 1)) or 4: a graph for
 * nl_model_build_graph that the checks and the tests build a normalizer
 * alone with (ctx: an nl_norm_graph_ctx) */
typedef struct {
    nl_norm_spec norm;
    int ndim;
} nl_norm_graph_ctx;
nl_act *nl_norm_graph(nl_builder *b, nl_act *input, void *ctx);

#endif
