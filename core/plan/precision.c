/* The precision pass (plan.h): which activations keep their values or
 * their gradients in a 16-bit storage type (base/storage.h) between layers:
 * the type train.precision's products round to, the walk below in bf16's
 * terms.
 *
 * A bf16 convolution reads its operands rounded to bf16 and rounds what it
 * writes; with fp32 activations around it, oneDNN converts each operand on
 * the way in and each result on the way out, a pass over the tensor each
 * (28% of its bf16 time on the ResNet, results/speed.md). Where a tensor's
 * values are bf16 numbers anyway, storing them as bf16 changes no number
 * and takes those passes away, and the normalizer beside the convolution
 * reads and writes half the bytes. So a tensor's values are stored as bf16
 * where its producer and every reader take bf16 storage (the layers say
 * so: nl_layer_vtable.storage_io) and either the producer rounds what it
 * writes or every reader rounds what it reads; its gradient where its one
 * writer (a single reader: several add into an fp32 sum) and its producer
 * take it and either rounds it. The numbers are the fp32 storage's, bit for
 * bit (tests/test_precision_pass.c runs both), but for values below 2^-126:
 * oneDNN's conversion of an fp32 operand (vcvtneps2bf16) flushes them to
 * zero, where a normalizer's rounding into bf16 storage keeps them, as
 * nl_round_bf16 and torch's conversion do. What changes is the bytes.
 *
 * Decided on the planned graph of the model (nl_plan_graph), so a new layer
 * kind needs only its storage_io, and only for blocked activations: oneDNN
 * runs every convolution that reads or writes one (layout.c), and the
 * blocked normalizers are the kernels with bf16 operands. Off where a probe
 * reads activations (a trace, signal propagation, block removal): they
 * read fp32. */
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"

/* what layer l keeps in `type` of its input's and output's operands: what
 * its options allow (storage_io), where its device runs its kernels on
 * that storage at the blocked side's layout */
static void io_of(const nl_layer *l, int input, nl_storage type, nl_backend *device,
                  unsigned *takes, unsigned *rounds)
{
    *takes = *rounds = 0;
    if (l->vt->storage_io)
        l->vt->storage_io(l, input, type, takes, rounds);
    const nl_op_family family = nl_layer_family(l);
    const unsigned X = NL_IO_MASK(NL_IO_X) | NL_IO_MASK(NL_IO_DX),
                   Y = NL_IO_MASK(NL_IO_Y) | NL_IO_MASK(NL_IO_DY);
    if (!l->in[input] || !device->ops->runs(device, family, l->in[input]->shape.block, type))
        *takes &= ~X;
    if (!l->out || !device->ops->runs(device, family, l->out->shape.block, type))
        *takes &= ~Y;
}

/* decides activation k of graph (t) into spec's storage, stored in type
 * or fp32 */
static void decide(const nl_model *graph, int k, nl_storage type, nl_backend *device,
                   nl_model_spec *spec)
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
            io_of(l, j, type, device, &takes, &rounds);
            readers_take &= takes;
            readers_round &= rounds;
            readers++;
        }
    }
    if (!producer || !readers)
        return;
    unsigned p_takes, p_rounds;
    io_of(producer, 0, type, device, &p_takes, &p_rounds); /* Y and DY: its output's, whichever input */
    const unsigned X = NL_IO_MASK(NL_IO_X), Y = NL_IO_MASK(NL_IO_Y), DX = NL_IO_MASK(NL_IO_DX),
                   DY = NL_IO_MASK(NL_IO_DY);
    if ((p_takes & Y) && (readers_take & X) && ((p_rounds & Y) || (readers_round & X)))
        spec->value_store[k] = (unsigned char)type;
    if (t->needs_grad && readers == 1 && (p_takes & DY) && (readers_take & DX) &&
        ((p_rounds & DY) || (readers_round & DX)))
        spec->grad_store[k] = (unsigned char)type;
}

nl_code nl_plan_precision(nl_model_spec *spec, const nl_plan_run *run, nl_error *err)
{
    memset(spec->value_store, 0, sizeof spec->value_store);
    memset(spec->grad_store, 0, sizeof spec->grad_store);
    /* the storage type the precision's products round to (none for fp32) */
    const nl_storage type = nl_storage_of_precision(spec->product_precision);
    if (type == NL_STORAGE_FP32 || !spec->channel_block ||
        run->traces_activation || run->observes_adds)
        return NL_OK;
    nl_model *graph = NULL;
    nl_code rc = nl_plan_graph(spec, run, &graph, err);
    if (rc != NL_OK)
        return rc;
    nl_backend device;
    nl_backend_probe_on(run->device, 1, spec->product_precision, &device);
    const int n = graph->n_acts < NL_PLAN_STORED_ACTS ? graph->n_acts : NL_PLAN_STORED_ACTS;
    for (int k = 0; k < n; k++)
        decide(graph, k, type, &device, spec);
    nl_plan_graph_done(graph);
    return NL_OK;
}

int nl_plan_stored_count(const nl_model_spec *spec, int *grads)
{
    int values = 0;
    *grads = 0;
    for (int k = 0; k < NL_PLAN_STORED_ACTS; k++) {
        values += spec->value_store[k] != NL_STORAGE_FP32;
        *grads += spec->grad_store[k] != NL_STORAGE_FP32;
    }
    return values;
}
