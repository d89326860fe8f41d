#include "train/probe_blockskip.h"

#include <stdlib.h>
#include <string.h>

#include "arch/kinds.h"
#include "base/alloc.h"
#include "train/evaluate.h"
#include "train/probe.h"

static bool droppable(const nl_layer *layer)
{
    return layer->vt->drop_branch != NULL;
}

static int droppable_layers(const nl_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        n += droppable(m->layers[i]);
    return n;
}

/* NL_ERR_CONFIG naming train.log.block_skip for a model (or planned graph)
 * without a residual add */
static nl_code check_model(const nl_model *graph, nl_error *err)
{
    if (droppable_layers(graph) > 0)
        return NL_OK;
    nl_fail(err, NL_ERR_CONFIG, "true: the model (model.arch %s) has no residual block to "
            "remove; accepted for this model: false",
            nl_name_of(&nl_arch_names, graph->spec.arch));
    nl_error_key(err, nl_probe_log_key_blockskip);
    return NL_ERR_CONFIG;
}

/* the block a layer name belongs to: the name without its last part */
static void block_name(const char *layer, char *out, size_t size)
{
    const char *dot = strrchr(layer, '.');
    const size_t len = dot ? (size_t)(dot - layer) : strlen(layer);
    snprintf(out, size, "%.*s", (int)len, layer);
}

nl_code nl_blockskip_open(nl_blockskip *p, nl_model *m, nl_error *err)
{
    memset(p, 0, sizeof *p);
    nl_code rc = check_model(m, err);
    if (rc)
        return rc;
    p->n_adds = droppable_layers(m);
    p->adds = nl_calloc((size_t)p->n_adds, sizeof *p->adds);
    p->block_of = nl_calloc((size_t)p->n_adds, sizeof *p->block_of);
    p->names = nl_calloc((size_t)p->n_adds, sizeof *p->names);
    p->increase = nl_calloc((size_t)p->n_adds, sizeof *p->increase);
    if (!p->adds || !p->block_of || !p->names || !p->increase) {
        nl_blockskip_free(p);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning the block-removal probe");
    }
    int k = 0;
    for (int i = 0; i < m->n_layers; i++) {
        if (!droppable(m->layers[i]))
            continue;
        char name[NL_SERIES_NAME_MAX];
        block_name(m->layers[i]->name, name, sizeof name);
        /* the adds of one block follow each other */
        if (p->n_blocks == 0 || strcmp(p->names[p->n_blocks - 1], name) != 0)
            snprintf(p->names[p->n_blocks++], NL_SERIES_NAME_MAX, "%s", name);
        p->adds[k] = m->layers[i];
        p->block_of[k++] = p->n_blocks - 1;
    }
    return NL_OK;
}

void nl_blockskip_free(nl_blockskip *p)
{
    free(p->adds);
    free(p->block_of);
    free(p->names);
    free(p->increase);
    memset(p, 0, sizeof *p);
}

/* every add of block b drops its branch, or takes it back */
static void drop_block(nl_blockskip *p, int b, bool drop)
{
    for (int k = 0; k < p->n_adds; k++)
        if (p->block_of[k] == b)
            p->adds[k]->vt->drop_branch(p->adds[k], drop);
}

/* ---- the probe's row (train/probe.h): at the evaluations, a pass over the
 * evaluation split for the whole model and one per block removed; a
 * series row per block ---- */

static nl_code blockskip_open(void *self, const nl_probe_env *env, bool *on, nl_error *err)
{
    nl_blockskip *p = self;
    const nl_code rc = nl_blockskip_open(p, env->m, err);
    *on = p->n_blocks > 0;
    return rc;
}

static nl_code blockskip_check(const nl_probe_plan *plan, nl_error *err)
{
    return check_model(plan->graph, err);
}

static nl_code blockskip_observe(void *self, const nl_probe_env *env, const nl_probe_at *at,
                                 nl_error *err)
{
    (void)at;
    nl_blockskip *p = self;
    double accuracy, loss;
    nl_code rc = nl_feed_evaluate(env->feed, env->m, false, &p->whole, &accuracy, err);
    for (int b = 0; b < p->n_blocks && rc == NL_OK; b++) {
        drop_block(p, b, true);
        rc = nl_feed_evaluate(env->feed, env->m, false, &loss, &accuracy, err);
        drop_block(p, b, false);
        p->increase[b] = loss - p->whole;
    }
    return rc;
}

static nl_code blockskip_emit(const void *self, const nl_probe_env *env, long step, nl_error *err)
{
    const nl_blockskip *p = self;
    const nl_train_sink *sink = env->sink;
    nl_code rc = NL_OK;
    for (int b = 0; b < p->n_blocks && rc == NL_OK && sink->series; b++)
        rc = sink->series(sink->ctx, step, NL_SERIES_BLOCK_SKIP, b, p->names[b], p->increase[b],
                          err);
    return rc;
}

static void blockskip_close(void *self, nl_model *m)
{
    (void)m;
    nl_blockskip_free(self);
}

static const nl_series_kind blockskip_series[] = {NL_SERIES_BLOCK_SKIP, NL_SERIES_COUNT};

const nl_probe_kind nl_probe_blockskip = {
    NL_PROBE_LOG_SWITCH(blockskip), blockskip_series, blockskip_check, sizeof(nl_blockskip),
    blockskip_open, nl_probe_due_at_evaluations, blockskip_observe, blockskip_emit,
    blockskip_close};
