/* The precision pass (plan.h): which activations keep their values or
 * their gradients as bf16 between layers under train.precision bf16.
 *
 * A bf16 convolution reads its operands rounded to bf16 and rounds what it
 * writes; with fp32 activations around it, oneDNN converts each operand on
 * the way in and each result on the way out, a pass over the tensor each
 * (28% of its bf16 time on the ResNet, results/speed.md). Where a tensor's
 * values are bf16 numbers anyway, storing them as bf16 changes no number
 * and takes those passes away, and the normalizer beside the convolution
 * reads and writes half the bytes. So a tensor's values are stored as bf16
 * where its producer and every reader take bf16 storage (the layers say
 * so: nl_layer_vtable.bf16_io) and either the producer rounds what it
 * writes or every reader rounds what it reads; its gradient where its one
 * writer (a single reader: several add into an fp32 sum) and its producer
 * take it and either rounds it. The numbers are the fp32 storage's, bit for
 * bit (tests/test_precision_pass.c runs both), but for values below 2^-126:
 * oneDNN's conversion of an fp32 operand (vcvtneps2bf16) flushes them to
 * zero, where a normalizer's rounding into bf16 storage keeps them, as
 * nl_round_bf16 and torch's conversion do. What changes is the bytes.
 *
 * Decided on the planned graph of the model (nl_plan_graph), so a new layer
 * kind needs only its bf16_io, and only for blocked activations: oneDNN
 * runs every convolution that reads or writes one (layout.c), and the
 * blocked normalizers are the kernels with bf16 operands. Off where a probe
 * reads activations (a trace, signal propagation, block removal): they
 * read fp32. */
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"

static void set_bit(uint64_t *bits, int k) { bits[k / 64] |= 1ull << (k % 64); }

static void io_of(const nl_layer *l, int input, unsigned *takes, unsigned *rounds)
{
    *takes = *rounds = 0;
    if (l->vt->bf16_io)
        l->vt->bf16_io(l, input, takes, rounds);
}

/* decides activation k of graph (t) into spec's bits */
static void decide(const nl_model *graph, int k, nl_model_spec *spec)
{
    const nl_act *t = graph->acts[k];
    if (!t->shape.block || t == graph->input || t == graph->logits || t->alias_of)
        return;
    for (int i = 0; i < graph->n_acts; i++)
        if (graph->acts[i]->alias_of == t)
            return; /* a view reads it as fp32 */
    const nl_layer *producer = NULL;
    unsigned readers_take = ~0u, readers_round = ~0u;
    int readers = 0;
    for (int li = 0; li < graph->n_layers; li++) {
        const nl_layer *l = graph->layers[li];
        if (l->out == t)
            producer = l;
        for (int j = 0; j < l->n_in; j++) {
            if (l->in[j] != t)
                continue;
            unsigned takes, rounds;
            io_of(l, j, &takes, &rounds);
            readers_take &= takes;
            readers_round &= rounds;
            readers++;
        }
    }
    if (!producer || !readers)
        return;
    unsigned p_takes, p_rounds;
    io_of(producer, 0, &p_takes, &p_rounds); /* Y and DY: its output's, whichever input */
    if ((p_takes & NL_IO_BF16_Y) && (readers_take & NL_IO_BF16_X) &&
        ((p_rounds & NL_IO_BF16_Y) || (readers_round & NL_IO_BF16_X)))
        set_bit(spec->bf16_data, k);
    if (t->needs_grad && readers == 1 && (p_takes & NL_IO_BF16_DY) &&
        (readers_take & NL_IO_BF16_DX) &&
        ((p_rounds & NL_IO_BF16_DY) || (readers_round & NL_IO_BF16_DX)))
        set_bit(spec->bf16_grad, k);
}

nl_code nl_plan_precision(nl_model_spec *spec, const nl_plan_run *run, nl_error *err)
{
    memset(spec->bf16_data, 0, sizeof spec->bf16_data);
    memset(spec->bf16_grad, 0, sizeof spec->bf16_grad);
    if (spec->product_precision != NL_PRECISION_BF16 || !spec->channel_block ||
        run->traces_activation || run->observes_adds)
        return NL_OK;
    nl_model *graph = NULL;
    nl_code rc = nl_plan_graph(spec, run, &graph, err);
    if (rc != NL_OK)
        return rc;
    const int n = graph->n_acts < NL_PLAN_STORED_ACTS ? graph->n_acts : NL_PLAN_STORED_ACTS;
    for (int k = 0; k < n; k++)
        decide(graph, k, spec);
    nl_plan_graph_done(graph);
    return NL_OK;
}

int nl_plan_stored_count(const nl_model_spec *spec, int *grads)
{
    int values = 0;
    *grads = 0;
    for (int k = 0; k < NL_PLAN_STORED_ACTS; k++) {
        values += nl_plan_stored_bf16(spec->bf16_data, k);
        *grads += nl_plan_stored_bf16(spec->bf16_grad, k);
    }
    return values;
}
