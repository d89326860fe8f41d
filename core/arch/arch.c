/* nl_arch_build: the spec's placement and input checked against its
 * architecture's row (core/arch/registry.c), then the row's builder; what
 * the row says of a spec (token inputs, default placement); and the model
 * entry points that hand the builder that graph. */
#include "arch/arch.h"

#include <stdio.h>
#include <string.h>

#include "arch/registry.h"
#include "model/model.h"
#include "norm/norm.h"
#include "norm/registry.h"

bool nl_model_spec_tokens(const nl_model_spec *spec)
{
    return (nl_arch_info_of(spec->arch)->inputs & NL_ARCH_IN_TOKENS) != 0;
}

nl_placement nl_model_spec_default_placement(const nl_model_spec *spec)
{
    return nl_arch_info_of(spec->arch)->default_placement;
}

nl_act *nl_arch_build(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if ((unsigned)spec->arch >= NL_ARCH_COUNT) {
        nl_builder_fail(b, NL_ERR_CONFIG, "model: unknown architecture");
        return NULL;
    }
    const nl_arch_info *row = nl_arch_info_of(spec->arch);
    const nl_placement p = spec->norm.placement;
    if (!nl_arch_accepts_placement(row, p)) {
        char accepted[128];
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model: placement '%s' does not apply to arch '%s'; accepted: %s",
                        nl_name_of(&nl_placement_names, p), row->id.name,
                        nl_arch_placements_text(row, " | ", accepted, sizeof accepted));
        nl_builder_key(b, "model.norm.placement");
        return NULL;
    }
    /* feature vectors arrive as (N, D, 1, 1); without this check a CNN or
     * ViT on them failed deep in its layers, naming a pooling stage or a
     * 1x1 image */
    if (!(row->inputs & (NL_ARCH_IN_FEATURES | NL_ARCH_IN_TOKENS)) && input->shape.h == 1 &&
        input->shape.w == 1) {
        char accepted[128];
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model: '%s' takes images (C, H, W) larger than 1x1, but the data are "
                        "feature vectors of %d values; accepted for feature vectors: %s",
                        row->id.name, input->shape.c,
                        nl_arch_kinds_reading(NL_ARCH_IN_FEATURES, " | ", accepted,
                                              sizeof accepted));
        nl_builder_key(b, "model.arch");
        return NULL;
    }
    /* a formula in the activation's place: only where the builder makes
     * norm -> activation pairs (nl_arch_norm_act, parts.c) */
    if (spec->norm.activation == NL_NORM_ACT_REPLACE &&
        !nl_arch_reads_key(row, "model.norm.activation")) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model.norm.activation replace: arch '%s' puts no activation after its "
                        "normalizers to replace; accepted: keep",
                        row->id.name);
        nl_builder_key(b, "model.norm.activation");
        return NULL;
    }
    return row->build(b, spec, input);
}

/* every run of an architecture's recipe */
static _Atomic int recipes_run;

int nl_model_recipes_run(void) { return recipes_run; }

nl_act *nl_arch_recipe(nl_builder *b, nl_act *input, void *spec)
{
    recipes_run++;
    return nl_arch_build(b, (const nl_model_spec *)spec, input);
}

nl_code nl_model_build_graph(const nl_model_spec *spec, nl_backend *be, int capacity,
                             int train_batch, uint64_t seed, nl_graph_fn construct, void *ctx,
                             nl_model **out, nl_error *err)
{
    nl_model *graph = NULL;
    *out = NULL;
    nl_code rc = nl_model_assemble(spec, nl_model_spec_tokens(spec), NULL, capacity, train_batch,
                                   construct, ctx, false, &graph, err);
    return rc == NL_OK ? nl_model_alloc(graph, be, seed, out, err) : rc;
}

/* The sets of each normalizer layer of the graph, counted at `batch` as
 * nl_norm_at counts them at the training batch: the first set of one
 * value decides, as the first refusal of a model checked at that batch
 * would. The architectures normalize with the spec's model.norm. */
bool nl_model_eval_batch_degenerate(const nl_model *graph, int batch, char *layer, size_t size,
                                    const char **why)
{
    const nl_norm_spec *norm = &graph->spec.norm;
    *why = nl_norm_eval_batch_stats_key(norm);
    const nl_norm_info *info = nl_norm_info_of(norm->kind);
    if (!*why || batch < 1 || !info->stats_set)
        return false;
    for (int i = 0; i < graph->n_norm_sites; i++) {
        const nl_norm_site *site = &graph->norm_sites[i];
        nl_norm_set set;
        info->stats_set(site->in, norm, batch, &set);
        if (set.values != 1)
            continue;
        /* only a set made small by the batch: the sets' own error names
         * train.batch_size, the kind's other keys (a ghost batch's virtual
         * batch) have errors of their own */
        if (!set.key || strcmp(set.key, "train.batch_size"))
            return false;
        snprintf(layer, size, "layer %s", site->name);
        return true;
    }
    return false;
}

/* one normalizer layer on an input of ndim 2, 3 or 4 (arch.h) */
nl_act *nl_norm_graph(nl_builder *b, nl_act *input, void *ctx)
{
    const nl_norm_graph_ctx *c = ctx;
    input->needs_grad = 1;
    nl_act *x = input;
    if (c->ndim == 2)
        x = nl_flatten(b, "flat", input);
    else if (c->ndim == 3) /* (N, T, D) arrives as (N, T, D, 1) */
        x = nl_view(b, "tokens", input,
                    (nl_shape){.n = input->shape.n, .c = input->shape.h, .h = input->shape.c,
                               .w = 1, .ndim = 3});
    return nl_norm(b, "norm", x, &c->norm);
}
