// ctest-labels: cpu
/* The model's plan (core/plan, issue 90): its passes over a spec, each
 * against declared capabilities (nl_device_caps), so that no decision here
 * depends on the CPU the test runs on.
 *   - the capabilities: CUDA declares no block; the CPU's are its backend's
 *     conv_block at each precision;
 *   - the layout pass: what auto, nchw and blocked decide for every
 *     architecture of the registry, on a device with a block and without,
 *     and each refusal's key (the device, the precision, the stages' and
 *     the stem's widths);
 *   - the planned graph: no layer reads a layout it cannot (a reorder layer
 *     in front of it instead), for every normalizer kind that takes images,
 *     on every architecture whose row reads model.layout;
 *   - the fusion pass: what each probe and NORMLAB_FUSE=0 turn off;
 *   - planned once: a config's validation assembles its graph once (the
 *     layout's trial is that graph), the run's check and spec take it
 *     without another, the build allocates the graph planned; another
 *     device or batch plans again; a held graph is kept;
 *   - the record: a config.yaml normlab wrote before the layout pass (no
 *     model.layout in it) plans NCHW, as it ran; the same text as a user's
 *     config plans auto; a run writes the layout it ran, never auto, and
 *     `normlab show` prints the plan (the layout, each layer's, the
 *     reorders). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/registry.h"
#include "bench/bench.h"
#include "config/config.h"
#include "device/device.h"
#include "model/model.h"
#include "norm/registry.h"
#include "plan/plan.h"
#include "train/check.h"
#include "train/run.h"
#include "train/run_model.h"
#include "testutil.h"

/* a CPU that declares block `fp32` at fp32 and `bf16` at bf16 */
static nl_device_caps cpu_caps(int fp32, int bf16)
{
    nl_device_caps caps = {.device = NL_DEVICE_CPU};
    caps.channel_block[NL_PRECISION_FP32] = fp32;
    caps.channel_block[NL_PRECISION_BF16] = bf16;
    return caps;
}

static nl_model_spec image_spec(nl_arch arch, int n_widths, const int *widths)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = arch;
    spec.in_c = 1;
    spec.in_h = 16;
    spec.in_w = 16;
    spec.n_widths = n_widths;
    for (int i = 0; i < n_widths; i++)
        spec.widths[i] = widths[i];
    spec.norm.placement = nl_model_spec_default_placement(&spec);
    return spec;
}

static int decided(nl_model_spec spec, const nl_device_caps *caps, nl_error *err)
{
    *err = (nl_error){0};
    const nl_plan_run run = {.precision = spec.product_precision, .train_batch = 8, .capacity = 8,
                             .threads = 1};
    if (nl_plan_layout(&spec, caps, &run, err) != NL_OK)
        return -1;
    return spec.channel_block;
}

START_TEST(test_caps)
{
    const nl_device_caps cuda = nl_device_caps_of(NL_DEVICE_CUDA);
    for (int p = 0; p < NL_PRECISION_COUNT; p++)
        ck_assert_int_eq(cuda.channel_block[p], 0);
    const nl_device_caps cpu = nl_device_caps_of(NL_DEVICE_CPU);
    for (int p = 0; p < NL_PRECISION_COUNT; p++) {
        nl_backend probe = nl_backend_probe(1, (nl_precision)p);
        ck_assert_int_eq(cpu.channel_block[p], probe.ops->conv_block(&probe));
        ck_assert(cpu.channel_block[p] == 0 || cpu.channel_block[p] == 8 ||
                  cpu.channel_block[p] == 16);
    }
}
END_TEST

/* each device answers for its own kernels (backend_ops.def: runs): NCHW
 * fp32 everywhere; a block on the CPU alone (its convolutions' own for them,
 * none for low-precision statistics), with
 * 16-bit storage where its kernels convert it (the statistics
 * normalizers and the add: every storage row; the convolutions: the
 * type their products round to); the GPU none */
START_TEST(test_device_answers)
{
    for (int p = 0; p < NL_PRECISION_COUNT; p++) {
        nl_backend cpu, gpu;
        ck_assert(nl_backend_probe_on(NL_DEVICE_CPU, 1, (nl_precision)p, &cpu));
        const bool gpu_built = nl_backend_probe_on(NL_DEVICE_CUDA, 1, (nl_precision)p, &gpu);
        const int block = cpu.ops->conv_block(&cpu);
        const nl_storage rounded = nl_storage_of_precision((nl_precision)p);
        for (int f = 0; f < NL_OP_FAMILY_COUNT; f++)
            for (int s = 0; s < NL_STORAGE_COUNT; s++) {
                const nl_op_family family = (nl_op_family)f;
                const nl_storage storage = (nl_storage)s;
                const bool fp32 = storage == NL_STORAGE_FP32;
                ck_assert_int_eq(cpu.ops->runs(&cpu, family, 0, storage), fp32);
                if (gpu_built) {
                    ck_assert_int_eq(gpu.ops->runs(&gpu, family, 0, storage), fp32);
                    ck_assert(!gpu.ops->runs(&gpu, family, 16, storage));
                    ck_assert(!gpu.ops->runs(&gpu, family, 8, storage));
                }
                if (!block)
                    continue;
                /* the blocked normalizers keep fp32 statistics alone */
                bool expected = fp32 && family != NL_OP_FAMILY_NONE &&
                                family != NL_OP_FAMILY_NORM_LOWP;
                if (family == NL_OP_FAMILY_NORM || family == NL_OP_FAMILY_ADD)
                    expected = true;
                if (family == NL_OP_FAMILY_CONV)
                    expected = fp32 || storage == rounded;
                ck_assert_msg(cpu.ops->runs(&cpu, family, block, storage) == expected,
                              "family %d, block %d, storage %s at %s", f, block,
                              nl_storage_table[s].name, nl_name_of(&nl_precision_names, p));
                /* the convolutions read their own block alone */
                if (family == NL_OP_FAMILY_CONV)
                    ck_assert(!cpu.ops->runs(&cpu, family, block == 16 ? 8 : 16, storage));
            }
    }
}
END_TEST

START_TEST(test_layout_decisions)
{
    const int two[] = {16, 32}, one[] = {16}, odd[] = {16, 24};
    const nl_device_caps cpu16 = cpu_caps(16, 0), cpu8 = cpu_caps(8, 8), bare = cpu_caps(0, 0);
    const nl_device_caps cuda = nl_device_caps_of(NL_DEVICE_CUDA);
    nl_error err;
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *row = nl_arch_info_of((nl_arch)a);
        nl_model_spec spec = image_spec((nl_arch)a, 2, two);
        if (!nl_arch_reads_key(row, "model.layout")) {
            /* no convolution, no block, whatever is asked */
            ck_assert_int_eq(decided(spec, &cpu16, &err), 0);
            continue;
        }
        /* auto: the block where the device gives one and it pays */
        ck_assert_msg(decided(spec, &cpu16, &err) == 16, "%s: %s", row->id.name, err.msg);
        ck_assert_int_eq(decided(spec, &cpu8, &err), 8);
        ck_assert_int_eq(decided(spec, &bare, &err), 0);
        ck_assert_int_eq(decided(spec, &cuda, &err), 0);
        /* a width the block does not divide: auto keeps NCHW */
        nl_model_spec uneven = image_spec((nl_arch)a, 2, odd);
        ck_assert_int_eq(decided(uneven, &cpu16, &err), 0);
        ck_assert_int_eq(decided(uneven, &cpu8, &err), 8);
        /* precision: bf16 where only fp32 has a block */
        nl_model_spec bf16 = spec;
        bf16.product_precision = NL_PRECISION_BF16;
        ck_assert_int_eq(decided(bf16, &cpu16, &err), 0);
        ck_assert_int_eq(decided(bf16, &cpu8, &err), 8);
        /* nchw asked: nchw */
        spec.layout = NL_LAYOUT_NCHW;
        ck_assert_int_eq(decided(spec, &cpu16, &err), 0);
        /* blocked asked: taken, or refused by the key that decides it */
        spec.layout = NL_LAYOUT_BLOCKED;
        ck_assert_int_eq(decided(spec, &cpu16, &err), 16);
        ck_assert_int_eq(decided(spec, &cuda, &err), -1);
        ck_assert_str_eq(err.key, "model.layout");
        ck_assert_ptr_nonnull(strstr(err.msg, "device is cuda"));
        ck_assert_int_eq(decided(spec, &bare, &err), -1);
        ck_assert_str_eq(err.key, "model.layout");
        bf16.layout = NL_LAYOUT_BLOCKED;
        ck_assert_int_eq(decided(bf16, &cpu16, &err), -1);
        ck_assert_msg(!strcmp(err.key, "train.precision") && !strcmp(err.with_key, "model.layout"),
                      "%s: key %s with %s", row->id.name, err.key, err.with_key);
        uneven.layout = NL_LAYOUT_BLOCKED;
        ck_assert_int_eq(decided(uneven, &cpu16, &err), -1);
        ck_assert_str_eq(err.key, "model.widths");
        ck_assert_ptr_nonnull(strstr(err.msg, "the nearest: 16 or 32"));
        if (nl_arch_reads_key(row, "model.stem_width")) {
            nl_model_spec stem = spec;
            stem.stem_width = 20;
            ck_assert_int_eq(decided(stem, &cpu16, &err), -1);
            ck_assert_msg(!strcmp(err.key, "model.stem_width") &&
                              !strcmp(err.with_key, "model.layout"),
                          "key %s with %s", err.key, err.with_key);
        }
    }
    /* a CNN of one stage: its one convolution writes the block and the
     * classifier needs a reorder back, which saves nothing (2 passes
     * either way: no block); two stages save three of them for one */
    nl_model_spec cnn1 = image_spec(NL_ARCH_CNN, 1, one);
    ck_assert_int_eq(decided(cnn1, &cpu16, &err), 0);
    cnn1.layout = NL_LAYOUT_BLOCKED;
    ck_assert_int_eq(decided(cnn1, &cpu16, &err), 16);
}
END_TEST

/* every layer of the graph reads what it can: a layer whose kernels its
 * device (the CPU's, where the block is) does not run on the block never
 * gets a blocked input, and every reorder layer sits in front of one */
static void assert_layouts_read(const nl_model *m, const char *what)
{
    int blocked = 0;
    nl_backend cpu = nl_backend_probe(1, m->spec.product_precision);
    for (int i = 0; i < m->n_layers; i++) {
        const nl_layer *l = m->layers[i];
        for (int k = 0; k < l->n_in; k++) {
            blocked += l->in[k]->shape.block != 0;
            const int block = l->in[k]->shape.block;
            /* a convolution reads the plan's block, chosen as its own (the
             * graphs here are planned at a block this host may not have) */
            const bool conv = nl_layer_family(l) == NL_OP_FAMILY_CONV;
            ck_assert_msg(!block || (conv && block == m->spec.channel_block) ||
                              cpu.ops->runs(&cpu, nl_layer_family(l), block, NL_STORAGE_FP32),
                          "%s: layer %s (%s) reads a blocked %s", what, l->name, l->vt->kind,
                          l->in[k]->name);
        }
        if (!strcmp(l->vt->kind, "reorder"))
            ck_assert_msg(l->in[0]->shape.block && !l->out->shape.block, "%s: reorder %s", what,
                          l->name);
    }
    ck_assert_msg(blocked > 0, "%s: nothing read blocked", what);
}

START_TEST(test_graph_reads_its_layouts)
{
    const int widths[] = {16, 32};
    int graphs = 0;
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        if (!nl_arch_reads_key(nl_arch_info_of((nl_arch)a), "model.layout"))
            continue;
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            if (!nl_norm_info_of((nl_norm_kind)k)->images)
                continue;
            nl_model_spec spec = image_spec((nl_arch)a, 2, widths);
            nl_norm_spec_defaults(&spec.norm, (nl_norm_kind)k);
            spec.norm.placement = nl_model_spec_default_placement(&spec);
            spec.norm.groups = 4;
            spec.norm.virtual_batch = 4;
            spec.dropout_p = 0.1f; /* the CNN's dropout reads NCHW */
            spec.channel_block = 16;
            nl_model *m = NULL;
            nl_error err = {0};
            char what[96];
            snprintf(what, sizeof what, "%s/%s", nl_name_of(&nl_arch_names, a),
                     nl_name_of(&nl_norm_names, k));
            ck_assert_msg(nl_model_plan(&spec, 8, 8, 1, &m, &err) == NL_OK, "%s: %s", what,
                          err.msg);
            assert_layouts_read(m, what);
            nl_model_free(m);
            graphs++;
        }
    }
    ck_assert_int_gt(graphs, 10);
}
END_TEST

static int act_at(const nl_model *m, const char *name)
{
    for (int k = 0; k < m->n_acts; k++)
        if (!strcmp(m->acts[k]->name, name))
            return k;
    ck_abort_msg("no activation %s", name);
    return -1;
}

static int layer_at(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name))
            return i;
    ck_abort_msg("no layer %s", name);
    return -1;
}

/* the reorder layer just before layers[before], from `from` (blocked) to
 * the activation `name` (NCHW) */
static const nl_act *reorder_before(const nl_model *m, int before, const char *from,
                                    const char *name)
{
    ck_assert_int_ge(before, 1);
    const nl_layer *r = m->layers[before - 1];
    ck_assert_msg(!strcmp(r->vt->kind, "reorder"), "%s before %s, not a reorder", r->name,
                  m->layers[before]->name);
    ck_assert_str_eq(r->in[0]->name, from);
    ck_assert_int_eq(r->in[0]->shape.block, 16);
    ck_assert_str_eq(r->out->name, name);
    ck_assert_int_eq(r->out->shape.block, 0);
    return r->out;
}

/* The layout pass inserts the reorders on the planned graph, each
 * activation where the builder declared it (the precision pass indexes
 * them in that order): before the classifier's flatten of the blocked
 * image, before each normalizer that cannot read the block (statistics in
 * bf16) ahead of its output, and before a layer without takes_blocked (a
 * dropout) after its output. */
START_TEST(test_layout_pass_reorders)
{
    const int widths[] = {16, 32};
    for (int variant = 0; variant < 3; variant++) {
        nl_model_spec spec = image_spec(NL_ARCH_CNN, 2, widths);
        nl_norm_spec_defaults(&spec.norm, NL_NORM_BATCH);
        spec.norm.placement = nl_model_spec_default_placement(&spec);
        if (variant == 1)
            spec.norm.stats_precision = NL_PRECISION_BF16;
        if (variant == 2)
            spec.dropout_p = 0.1f;
        spec.channel_block = 16;
        nl_model *m = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_plan(&spec, 8, 8, 1, &m, &err) == NL_OK, "%s", err.msg);
        ck_assert_int_eq(m->acts[act_at(m, "conv1")]->shape.block, 16);
        if (variant == 0) {
            const int flat = act_at(m, "flatten");
            const nl_act *copy =
                reorder_before(m, layer_at(m, "classifier"), "pool2", "pool2.nchw");
            ck_assert_ptr_eq(m->acts[flat]->alias_of, copy);
            ck_assert_ptr_eq(m->acts[flat - 1], copy);
            ck_assert_int_eq(m->acts[act_at(m, "norm1")]->shape.block, 16);
        }
        for (int s = 1; variant == 1 && s <= 2; s++) {
            char conv[16], norm[16], nchw[24];
            snprintf(conv, sizeof conv, "conv%d", s);
            snprintf(norm, sizeof norm, "norm%d", s);
            snprintf(nchw, sizeof nchw, "conv%d.nchw", s);
            const int li = layer_at(m, norm);
            ck_assert_ptr_eq(m->layers[li]->in[0], reorder_before(m, li, conv, nchw));
            ck_assert_int_eq(act_at(m, nchw) + 1, act_at(m, norm));
            ck_assert_int_eq(m->layers[li]->out->shape.block, 0);
        }
        if (variant == 2) {
            const int li = layer_at(m, "drop1");
            ck_assert_ptr_eq(m->layers[li]->in[0], reorder_before(m, li, "act1", "act1.nchw"));
            ck_assert_int_eq(act_at(m, "drop1") + 1, act_at(m, "act1.nchw"));
        }
        nl_model_free(m);
    }
}
END_TEST

/* the pass, and what the config's probes ask of it */
START_TEST(test_fusion_pass)
{
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_config_defaults(cfg);
    nl_model_spec spec = cfg->model;
    nl_plan_run run = nl_config_plan_run(cfg, false);
    nl_plan_fuse(&spec, &run);
    ck_assert(spec.fuse_relu_pool && spec.fuse_norm_relu && spec.fuse_residual_add);
    spec = cfg->model;
    run = nl_config_plan_run(cfg, true);
    nl_plan_fuse(&spec, &run);
    ck_assert(spec.fuse_relu_pool && !spec.fuse_norm_relu && spec.fuse_residual_add);
    snprintf(cfg->train.trace.activation, sizeof cfg->train.trace.activation, "conv1");
    spec = cfg->model;
    run = nl_config_plan_run(cfg, false);
    nl_plan_fuse(&spec, &run);
    ck_assert(!spec.fuse_relu_pool && !spec.fuse_norm_relu && spec.fuse_residual_add);
    cfg->train.trace.activation[0] = '\0';
    for (int probe = 0; probe < 2; probe++) {
        cfg->train.log_signal_propagation = probe == 0;
        cfg->train.log_probe[NL_PROBE_LOG_blockskip] = probe == 1;
        spec = cfg->model;
        run = nl_config_plan_run(cfg, false);
        nl_plan_fuse(&spec, &run);
        ck_assert(spec.fuse_relu_pool && spec.fuse_norm_relu && !spec.fuse_residual_add);
    }
    free(cfg);
}
END_TEST

/* a config from its text (c.yaml), validated */
static nl_config *loaded(const char *text)
{
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(text, "c.yaml", NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    return cfg;
}

START_TEST(test_planned_once)
{
    static const char *const text =
        "data:\n  dataset: synthetic\n  train_size: 64\n  test_size: 32\n"
        "model:\n  arch: cnn\n  widths: [16, 32]\n"
        "train:\n  batch_size: 16\n  eval_batch_size: 32\n  steps: 2\n";
    nl_error err = {0};
    const int before = nl_model_plans_assembled();
    nl_config *cfg = loaded(text);
    const int block = nl_device_caps_of(NL_DEVICE_CPU).channel_block[NL_PRECISION_FP32];
    ck_assert_int_eq(cfg->model.channel_block, block);
    ck_assert(cfg->model.layout_key != 0);
    /* validation assembled the graph once, the layout's trial included */
    ck_assert_int_eq(nl_model_plans_assembled() - before, 1);
    /* the run's check and its spec take the plan without another */
    nl_run_plan plan;
    ck_assert_msg(nl_run_check(cfg, -1, false, NULL, &plan, &err) == NL_OK, "%s", err.msg);
    nl_model_spec spec;
    ck_assert_int_eq(nl_run_model_plan(cfg, cfg->device, &spec, &err), NL_OK);
    ck_assert_int_eq(spec.channel_block, block);
    ck_assert_int_eq(nl_model_plans_assembled() - before, 1);
    nl_model *graph = NULL;
    const nl_plan_run run = nl_config_plan_run(cfg, false);
    ck_assert_int_eq(nl_plan_graph(&spec, &run, &graph, &err), NL_OK);
    ck_assert_int_eq(nl_model_plans_assembled() - before, 1);
    /* the build allocates what the plan counted */
    nl_model *m = NULL;
    ck_assert_int_eq(nl_model_create(&spec, tu_cpu(run.threads), run.capacity, run.train_batch, 1,
                                    &m, &err),
                     NL_OK);
    ck_assert_int_eq(m->n_layers, graph->n_layers);
    for (int i = 0; i < m->n_layers; i++)
        ck_assert_str_eq(m->layers[i]->vt->kind, graph->layers[i]->vt->kind);
    nl_model_free(m);
    nl_plan_graph_done(graph);
    /* the probes' fusions are the run's: the decision holds under them */
    const nl_plan_run unfused = nl_config_plan_run(cfg, true);
    ck_assert_int_eq(nl_plan_model(&cfg->model, &unfused, NL_DEVICE_CPU, &spec, &err), NL_OK);
    ck_assert(spec.channel_block == block && !spec.fuse_norm_relu);
    ck_assert_int_eq(nl_model_plans_assembled() - before, 1);
    /* another device, another batch: planned again */
    ck_assert_int_eq(nl_plan_model(&cfg->model, &run, NL_DEVICE_CUDA, &spec, &err), NL_OK);
    ck_assert_int_eq(spec.channel_block, 0);
    nl_plan_run bigger = run;
    bigger.train_batch = 32;
    ck_assert_int_eq(nl_plan_model(&cfg->model, &bigger, NL_DEVICE_CPU, &spec, &err), NL_OK);
    ck_assert_int_eq(nl_model_plans_assembled() - before, block ? 2 : 1);
    /* a held graph stays while others come and go */
    ck_assert_int_eq(nl_plan_graph(&spec, &bigger, &graph, &err), NL_OK);
    for (int b = 1; b <= 100; b++) {
        nl_plan_run other = run;
        other.train_batch = other.capacity = b;
        nl_model *g = NULL;
        ck_assert_int_eq(nl_plan_graph(&spec, &other, &g, &err), NL_OK);
        nl_plan_graph_done(g);
    }
    nl_model *again = NULL;
    const int count = nl_model_plans_assembled();
    ck_assert_int_eq(nl_plan_graph(&spec, &bigger, &again, &err), NL_OK);
    ck_assert_ptr_eq(again, graph);
    ck_assert_int_eq(nl_model_plans_assembled(), count);
    nl_plan_graph_done(again);
    nl_plan_graph_done(graph);
    nl_plan_graphs_release();
    free(cfg);
}
END_TEST

/* A run whose normalizer evaluates with its batch's statistics, at an
 * evaluation batch below training's: the evaluation-statistics rule reads
 * the planned graph, so validation, the run's check and the run plan its
 * model once and allocate it once. */
START_TEST(test_run_assembled_once)
{
    static const char *const text =
        "data:\n  dataset: synthetic\n  train_size: 64\n  test_size: %d\n"
        "model:\n  arch: mlp\n  widths: [16, 16]\n"
        "  norm: {type: batch, track_running_stats: false}\n"
        "train:\n  batch_size: 16\n  eval_batch_size: 8\n  steps: 2\n  eval_every: 2\n";
    char yaml[512];
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    nl_plan_graphs_release();
    int plans = nl_model_plans_assembled(), allocations = nl_model_allocations(),
        recipes = nl_model_recipes_run();
    snprintf(yaml, sizeof yaml, text, 32);
    ck_assert_msg(nl_config_load_string(yaml, "c.yaml", NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    tu_tmp_make("planned-run");
    const nl_run_options opt = {.out_dir = tu_tmp, .force = true, .threads = 1, .device = -1};
    nl_run_outcome out;
    ck_assert_msg(nl_run(cfg, &opt, &out, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(nl_model_plans_assembled() - plans, 1);
    ck_assert_int_eq(nl_model_allocations() - allocations, 1);
    /* the run allocates the graph its checks read: the recipe ran once */
    ck_assert_int_eq(nl_model_recipes_run() - recipes, 1);
    /* a last evaluation batch of one sample: the run's check refuses it
     * from the same graph */
    nl_plan_graphs_release();
    plans = nl_model_plans_assembled();
    allocations = nl_model_allocations();
    snprintf(yaml, sizeof yaml, text, 33);
    ck_assert_msg(nl_config_load_string(yaml, "c.yaml", NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    nl_run_plan plan;
    ck_assert_int_eq(nl_run_check(cfg, -1, false, NULL, &plan, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "layer ") && strstr(err.msg, "normalizes over one value"), "%s",
                  err.msg);
    ck_assert_int_eq(nl_model_plans_assembled() - plans, 1);
    ck_assert_int_eq(nl_model_allocations() - allocations, 0);
    nl_plan_graphs_release();
    free(cfg);
}
END_TEST

/* The bench's timed step (normlab bench's "the step alone") allocates the
 * graph its options' check planned: one recipe run and one allocation,
 * ghost batch norm's bench virtual batch included (nl_bench_spec_at) */
START_TEST(test_bench_assembled_once)
{
    static const char *const text =
        "data:\n  dataset: synthetic\n  train_size: 64\n  test_size: 32\n"
        "model:\n  arch: mlp\n  widths: [16, 16]\n  norm: {type: ghost_batch, virtual_batch: 4}\n"
        "train:\n  batch_size: 16\n  steps: 2\n";
    nl_error err = {0};
    nl_config *cfg = loaded(text);
    nl_model_spec spec, at_batch;
    nl_run_model_spec(cfg, &spec);
    nl_plan_graphs_release();
    const int recipes = nl_model_recipes_run(), allocations = nl_model_allocations();
    nl_bench_spec_at(&spec, 16, &at_batch);
    ck_assert_int_eq(at_batch.norm.virtual_batch, 4);
    const nl_plan_run run = nl_bench_plan_run(&at_batch, 16);
    nl_model *graph = NULL;
    ck_assert_msg(nl_plan_graph(&at_batch, &run, &graph, &err) == NL_OK, "%s", err.msg);
    nl_plan_graph_done(graph);
    const nl_bench_timing t = {.reps = 1, .rep_s = 0.0};
    nl_bench_train_result res;
    ck_assert_msg(nl_bench_train(tu_cpu(1), &spec, 16, 0.01f, &t, &res, &err) == NL_OK, "%s",
                  err.msg);
    ck_assert_int_eq(nl_model_recipes_run() - recipes, 1);
    ck_assert_int_eq(nl_model_allocations() - allocations, 1);
    nl_plan_graphs_release();
    free(cfg);
}
END_TEST

START_TEST(test_recorded_layout)
{
    static const char *const user =
        "data:\n  dataset: synthetic\n  train_size: 64\n  test_size: 32\n"
        "model:\n  arch: cnn\n  widths: [16, 32]\n"
        "train:\n  batch_size: 16\n  steps: 2\n  eval_every: 2\n";
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    /* the resolved text of that config as a normlab before the pass wrote
     * it: every key that applied, and model.layout did not apply to a CNN */
    char *text = tu_resolved_config(user, cfg);
    ck_assert_int_eq(cfg->model.layout, NL_LAYOUT_AUTO);
    char *line = strstr(text, "  layout: auto\n");
    ck_assert_ptr_nonnull(line);
    memmove(line, line + strlen("  layout: auto\n"), strlen(line + strlen("  layout: auto\n")) + 1);
    ck_assert_msg(nl_config_load_string(text, "config.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    ck_assert_int_eq(cfg->model.layout, NL_LAYOUT_NCHW);
    nl_model_spec spec;
    const nl_plan_run run = nl_config_plan_run(cfg, false);
    ck_assert_int_eq(nl_plan_model(&cfg->model, &run, NL_DEVICE_CPU, &spec, &err), NL_OK);
    ck_assert_int_eq(spec.channel_block, 0);
    /* an override still asks */
    const char *set[] = {"model.layout=auto"};
    ck_assert_int_eq(nl_config_load_string(text, "config.yaml", set, 1, cfg, &err), NL_OK);
    ck_assert_int_eq(cfg->model.layout, NL_LAYOUT_AUTO);
    /* the same text as a user's file (no header): auto */
    ck_assert_int_eq(nl_config_load_string(strchr(text, '\n') + 1, "mine.yaml", NULL, 0, cfg, &err),
                     NL_OK);
    ck_assert_int_eq(cfg->model.layout, NL_LAYOUT_AUTO);
    free(text);
    free(cfg);

    /* a run writes the layout it ran */
    tu_tmp_make("model-plan");
    tu_tmp_write("c.yaml", user);
    ck_assert_int_eq(tu_normlab("run c.yaml --out run --threads 1 -q"), 0);
    char *config = tu_tmp_read("run/config.yaml"), *summary = tu_tmp_read("run/summary.json");
    const int block = nl_device_caps_of(NL_DEVICE_CPU).channel_block[NL_PRECISION_FP32];
    ck_assert_msg(strstr(config, block ? "  layout: blocked\n" : "  layout: nchw\n"), "%s", config);
    ck_assert_msg(strstr(summary, block ? "\"layout\": \"blocked" : "\"layout\": \"nchw"), "%s",
                  summary);
    free(config), free(summary);
    /* show prints the plan: the layout decided, each layer's, the reorders */
    ck_assert_int_eq(tu_normlab("show c.yaml"), 0);
    char *shown = tu_normlab_output();
    char blocked_at[32];
    snprintf(blocked_at, sizeof blocked_at, "nChw%dc", block);
    ck_assert_msg(strstr(shown, "plan: activations fp32 between layers, products in fp32; layout ") &&
                      strstr(shown, block ? "layout blocked (channel blocks of" : "layout nchw,") &&
                      strstr(shown, " layout ") && (!block || (strstr(shown, " reorder ") &&
                                                              strstr(shown, blocked_at))),
                  "%s", shown);
    free(shown);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_caps);
    tcase_add_test(tc, test_device_answers);
    tcase_add_test(tc, test_layout_decisions);
    tcase_add_test(tc, test_graph_reads_its_layouts);
    tcase_add_test(tc, test_layout_pass_reorders);
    tcase_add_test(tc, test_fusion_pass);
    tcase_add_test(tc, test_planned_once);
    tcase_add_test(tc, test_run_assembled_once);
    tcase_add_test(tc, test_bench_assembled_once);
    tcase_add_test(tc, test_recorded_layout);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
