/* The planned graphs (plan.h: nl_plan_graph): one plan-only assembly per
 * spec and run in a process, kept so that each reader after the first
 * (the layout pass's trial, validation, the sweep's pre-check, the run's
 * checks) takes the same graph instead of assembling it again. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "device/device.h"
#include "plan/plan.h"

/* the recipe, then the passes that rewrite its graph */
static nl_act *planned_recipe(nl_builder *b, nl_act *input, void *spec)
{
    /* the fusions on the recipe's NCHW graph, then the layouts */
    nl_act *logits = nl_plan_fuse_graph(b, spec, nl_arch_recipe(b, input, spec));
    if (logits && !nl_plan_layout_graph(b, spec))
        return NULL;
    return logits;
}

nl_code nl_model_create(const nl_model_spec *spec, nl_backend *be, int capacity, int train_batch,
                        uint64_t seed, nl_model **out, nl_error *err)
{
    nl_model *graph = NULL;
    *out = NULL;
    nl_code rc = nl_model_assemble(spec, nl_model_spec_tokens(spec), NULL, capacity, train_batch,
                                   planned_recipe, (void *)spec, true, &graph, err);
    return rc == NL_OK ? nl_model_alloc(graph, be, seed, out, err) : rc;
}

/* nl_model_check's and nl_model_plan's: every assembly that allocates nothing */
static _Atomic int plans_assembled;

int nl_model_plans_assembled(void) { return plans_assembled; }

nl_code nl_model_check(const nl_model_spec *spec, int train_batch, nl_error *err)
{
    plans_assembled++;
    return nl_model_assemble(spec, nl_model_spec_tokens(spec), NULL, train_batch, train_batch,
                             planned_recipe, (void *)spec, true, NULL, err);
}

nl_code nl_model_plan_on(const nl_model_spec *spec, nl_device device, int capacity,
                         int train_batch, int threads, nl_model **out, nl_error *err)
{
    *out = NULL;
    plans_assembled++;
    /* the bytes as the device would allocate them (some of the CPU's
     * kernels keep a workspace per thread) */
    nl_backend probe;
    nl_backend_probe_on(device, threads, spec->product_precision, &probe);
    return nl_model_assemble(spec, nl_model_spec_tokens(spec), &probe, capacity, train_batch,
                             planned_recipe, (void *)spec, true, out, err);
}

nl_code nl_model_plan(const nl_model_spec *spec, int capacity, int train_batch, int threads,
                      nl_model **out, nl_error *err)
{
    return nl_model_plan_on(spec, NL_DEVICE_CPU, capacity, train_batch, threads, out, err);
}

/* enough for a sweep's distinct models (its runs plan on threads of this
 * process after its pre-check planned them: seeds share a graph) and the
 * alternatives a memory check plans (each key's default); beyond it the
 * oldest graph no one holds goes. A graph holds no tensors: its layers'
 * descriptions, some kilobytes. */
enum { GRAPHS_KEPT = 64 };

/* what a graph was assembled for: the decided spec (its layout_key aside,
 * which names the decision, not the model, and its bf16 storage) and the
 * run's sizes */
typedef struct {
    nl_model_spec spec;
    int capacity, train_batch, threads;
    nl_device device;
} graph_key;

typedef struct {
    graph_key key;
    nl_model *graph;
    int holders;
    unsigned long last_use;
} graph_entry;

static graph_entry kept[GRAPHS_KEPT];
static int n_kept;
static unsigned long uses;
/* a sweep's runs plan on threads of their own */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static graph_key key_of(const nl_model_spec *spec, const nl_plan_run *run)
{
    graph_key key;
    /* zeroed first so that padding compares equal */
    memset(&key, 0, sizeof key);
    memcpy(&key.spec, spec, sizeof key.spec);
    key.spec.layout_key = 0;
    /* the precision pass's storage changes no layer and only lowers the
     * bytes: a graph planned with fp32 storage is the same graph (its bytes
     * the bound), and the pass's own trial is the one the checks read */
    memset(key.spec.value_store, 0, sizeof key.spec.value_store);
    memset(key.spec.grad_store, 0, sizeof key.spec.grad_store);
    key.capacity = run->capacity > run->train_batch ? run->capacity : run->train_batch;
    key.train_batch = run->train_batch;
    key.threads = run->threads > 0 ? run->threads : 1;
    key.device = run->device;
    return key;
}

static void drop(int i)
{
    nl_model_free(kept[i].graph);
    kept[i] = kept[--n_kept];
}

/* room for one more: the least recently used graph no one holds goes */
static void make_room(void)
{
    if (n_kept < GRAPHS_KEPT)
        return;
    int oldest = -1;
    for (int i = 0; i < n_kept; i++)
        if (!kept[i].holders && (oldest < 0 || kept[i].last_use < kept[oldest].last_use))
            oldest = i;
    if (oldest >= 0)
        drop(oldest);
}

nl_code nl_plan_graph(const nl_model_spec *spec, const nl_plan_run *run, nl_model **graph,
                      nl_error *err)
{
    *graph = NULL;
    const graph_key key = key_of(spec, run);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_kept; i++)
        if (!memcmp(&kept[i].key, &key, sizeof key)) {
            kept[i].holders++;
            kept[i].last_use = ++uses;
            *graph = kept[i].graph;
            pthread_mutex_unlock(&lock);
            return NL_OK;
        }
    nl_model *made = NULL;
    nl_code rc = nl_model_plan_on(&key.spec, key.device, key.capacity, key.train_batch, key.threads,
                                  &made, err);
    if (rc == NL_OK) {
        make_room();
        if (n_kept < GRAPHS_KEPT) {
            kept[n_kept++] =
                (graph_entry){.key = key, .graph = made, .holders = 1, .last_use = ++uses};
            *graph = made;
        } else {
            /* every kept graph is held by a run planning now */
            nl_model_free(made);
            rc = nl_fail(err, NL_ERR_RUNTIME, "model: more than %d planned graphs held at once",
                         GRAPHS_KEPT);
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

nl_code nl_plan_graph_take(const nl_model_spec *spec, const nl_plan_run *run, nl_model **graph,
                           nl_error *err)
{
    *graph = NULL;
    const graph_key key = key_of(spec, run);
    nl_model *taken = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_kept; i++)
        if (!memcmp(&kept[i].key, &key, sizeof key) && !kept[i].holders) {
            taken = kept[i].graph;
            kept[i] = kept[--n_kept];
            break;
        }
    pthread_mutex_unlock(&lock);
    /* not planned in this process, or read by another run planning now */
    if (!taken) {
        nl_code rc =
            nl_model_plan_on(&key.spec, key.device, key.capacity, key.train_batch, key.threads,
                             &taken, err);
        if (rc != NL_OK)
            return rc;
    }
    nl_model_type_nodes(taken, spec);
    taken->spec = *spec;
    *graph = taken;
    return NL_OK;
}

void nl_plan_graph_done(nl_model *graph)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; graph && i < n_kept; i++)
        if (kept[i].graph == graph && kept[i].holders > 0) {
            kept[i].holders--;
            break;
        }
    pthread_mutex_unlock(&lock);
}

void nl_plan_graphs_release(void)
{
    pthread_mutex_lock(&lock);
    for (int i = n_kept - 1; i >= 0; i--)
        if (!kept[i].holders)
            drop(i);
    pthread_mutex_unlock(&lock);
}
