/* normlab sweep: experiment files, grid expansion, derived values,
 * exclusions, shards, bad experiment files (exit 2, file:line:col), real
 * sweeps of tiny synthetic runs with -j 2, resuming after kill -9 of the
 * whole process group, Ctrl-C, --dry-run, --merge, changed configs. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/ident.h"
#include "config/flat.h"
#include "log/files.h"
#include "results/files.h"
#include "results/run_result.h"
#include "sweep/sweep.h"
#include "testutil.h"
#include "train/run.h"








/* tiny runs: a few milliseconds of training each */
static const char *base_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
    "model: {arch: mlp, widths: [16]}\n"
    "train: {batch_size: 16, steps: 30, eval_every: 10, log_every: 10, optimizer: {lr: 0.05, momentum: 0.9}}\n";

static nl_experiment *parse(const char *text)
{
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", text);
    char path[512];
    snprintf(path, sizeof path, "%s/exp.yaml", tu_tmp);
    nl_experiment *e = calloc(1, sizeof *e);
    nl_error err = {0};
    ck_assert_msg(nl_experiment_load(path, e, &err) == NL_OK, "%s", err.msg);
    return e;
}

/* frees a plan and its experiment */
static void drop(nl_experiment *e, nl_sweep_plan *p)
{
    nl_sweep_plan_free(p);
    nl_experiment_free(e);
    free(e);
}

static void plan(const nl_experiment *e, nl_sweep_plan *p)
{
    nl_error err = {0};
    ck_assert_msg(nl_sweep_plan_build(e, p, &err) == NL_OK, "%s", err.msg);
}

static const char *flat_value(const nl_sweep_run *r, const char *key, char *buf, size_t size)
{
    nl_flat f;
    nl_error err = {0};
    ck_assert_msg(nl_flat_from_yaml(r->config_text, "run", &f, &err) == NL_OK, "%s", err.msg);
    const char *v = nl_flat_get(&f, key);
    ck_assert_msg(v, "%s has no %s", r->dir, key);
    snprintf(buf, size, "%s", v);
    nl_flat_free(&f);
    return buf;
}

/* ---- the plan ---- */

START_TEST(test_grid_order_and_names)
{
    tu_tmp_make("sweep");
    nl_experiment *e = parse("name: order\nbase: base.yaml\nset: {train.steps: 20}\n"
                             "grid:\n  model.norm.type: [none, batch]\n  train.batch_size: [8, 16, 32]\n"
                             "  seed: [1, 2]\n");
    nl_sweep_plan p;
    plan(e, &p);
    ck_assert_int_eq(p.n_combos, 12);
    ck_assert_int_eq(p.n_runs, 12);
    ck_assert_int_eq(p.n_excluded, 0);
    ck_assert_int_eq(p.n_columns, 3);
    ck_assert_str_eq(p.columns[0], "model.norm.type");
    ck_assert_str_eq(p.columns[2], "seed");
    /* the first key varies slowest, the last fastest */
    ck_assert_str_eq(p.runs[0].dir, "type-none_batch_size-8_seed-1");
    ck_assert_str_eq(p.runs[1].dir, "type-none_batch_size-8_seed-2");
    ck_assert_str_eq(p.runs[2].dir, "type-none_batch_size-16_seed-1");
    ck_assert_str_eq(p.runs[6].dir, "type-batch_batch_size-8_seed-1");
    ck_assert_str_eq(p.runs[11].dir, "type-batch_batch_size-32_seed-2");
    /* every run's resolved config holds its values, set's and its name */
    const char *norms[] = {"none", "batch"}, *sizes[] = {"8", "16", "32"}, *seeds[] = {"1", "2"};
    for (int i = 0; i < p.n_runs; i++) {
        char v[128];
        ck_assert_int_eq(p.runs[i].index, i);
        ck_assert_str_eq(flat_value(&p.runs[i], "model.norm.type", v, sizeof v), norms[i / 6]);
        ck_assert_str_eq(flat_value(&p.runs[i], "train.batch_size", v, sizeof v), sizes[(i / 2) % 3]);
        ck_assert_str_eq(flat_value(&p.runs[i], "seed", v, sizeof v), seeds[i % 2]);
        ck_assert_str_eq(flat_value(&p.runs[i], "train.steps", v, sizeof v), "20");
        ck_assert_str_eq(flat_value(&p.runs[i], "name", v, sizeof v), p.runs[i].dir);
        ck_assert_str_eq(nl_sweep_run_value(e, &p, &p.runs[i], 1), sizes[(i / 2) % 3]);
    }
    drop(e, &p);

    /* two keys with the same last component; lists and odd characters in values */
    e = parse("base: base.yaml\ngrid:\n  model.norm.type: [batch]\n  train.schedule.type: [constant, cosine]\n"
              "  model.widths: [[16], [16, 8]]\n");
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 4);
    ck_assert_str_eq(p.runs[0].dir, "norm.type-batch_schedule.type-constant_widths-16");
    ck_assert_str_eq(p.runs[3].dir, "norm.type-batch_schedule.type-cosine_widths-16-8");
    char v[128];
    ck_assert_str_eq(flat_value(&p.runs[3], "model.widths", v, sizeof v), "[16, 8]");
    ck_assert_str_eq(e->name, "exp"); /* the file's name when name: is missing */
    drop(e, &p);

    /* values that read the same once made names get their position (data
     * directories, since a path applies only to data read from files) */
    const char *dirs[] = {"a b", "c", "a", "a/b"};
    for (int i = 0; i < 4; i++)
        tu_tmp_write_idx(dirs[i], 64, 16, 64, -1);
    tu_tmp_write("base-idx.yaml", "data: {dataset: mnist}\nmodel: {arch: mlp, widths: [16]}\n"
                                  "train: {batch_size: 16, steps: 30}\n");
    e = parse("base: base-idx.yaml\ngrid:\n  data.path: [\"a b\", c, \"a/b\"]\n");
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tu_tmp), 0); /* the relative data paths are read from here */
    plan(e, &p);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(p.n_runs, 3);
    ck_assert_str_eq(p.runs[0].dir, "path-a-b-v1");
    ck_assert_str_eq(p.runs[1].dir, "path-c");
    ck_assert_str_eq(p.runs[2].dir, "path-a-b-v3");
    drop(e, &p);

    /* a grid none of whose keys applies (a path on built-in data) is named
     * as such, not as a run with an empty name */
    e = parse("base: base.yaml\ngrid:\n  data.path: [a, c]\n");
    nl_sweep_plan unplanned;
    nl_error err = {0};
    ck_assert_int_eq(nl_sweep_plan_build(e, &unplanned, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "exp.yaml:3:") && strstr(err.msg, "no key of the grid applies") &&
                      strstr(err.msg, "data.path"), "%s", err.msg);
    nl_experiment_free(e); /* a failed build frees its plan */
    free(e);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_derived_values)
{
    tu_tmp_make("sweep");
    /* Wu & He: lr = 0.02 * batch / 32; and the number of steps kept at one
     * budget of samples: steps = 64 * (batch / 16)^-1, rounded */
    nl_experiment *e = parse("base: base.yaml\ngrid:\n  train.batch_size: [2, 8, 32, 64]\n"
                             "derived:\n"
                             "  train.optimizer.lr: {scale_with: train.batch_size, base_value: 0.02, base_at: 32}\n"
                             "  train.steps: {scale_with: train.batch_size, base_value: 64, base_at: 16, power: -1, "
                             "round: true}\n");
    nl_sweep_plan p;
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 4);
    ck_assert_int_eq(p.n_columns, 3);
    ck_assert_str_eq(p.columns[1], "train.optimizer.lr");
    ck_assert_str_eq(p.columns[2], "train.steps");
    const int batch[] = {2, 8, 32, 64};
    for (int i = 0; i < 4; i++) {
        char v[128];
        const double lr = atof(flat_value(&p.runs[i], "train.optimizer.lr", v, sizeof v));
        ck_assert_msg(fabs(lr - 0.02 * batch[i] / 32) < 1e-8, "run %d: lr %g", i, lr);
        ck_assert_double_eq_tol(atof(nl_sweep_run_value(e, &p, &p.runs[i], 1)), 0.02 * batch[i] / 32, 1e-9);
        ck_assert_int_eq(atoi(flat_value(&p.runs[i], "train.steps", v, sizeof v)), (int)lround(64.0 * 16 / batch[i]));
    }
    ck_assert_str_eq(nl_sweep_run_value(e, &p, &p.runs[0], 1), "0.00125");
    drop(e, &p);

    /* scale_with a key of the base config (not varied) */
    e = parse("base: base.yaml\ngrid: {seed: [1, 2]}\n"
              "derived: {train.optimizer.lr: {scale_with: train.batch_size, base_value: 0.1, base_at: 32}}\n");
    plan(e, &p);
    char v[128];
    ck_assert_double_eq_tol(atof(flat_value(&p.runs[1], "train.optimizer.lr", v, sizeof v)), 0.05, 1e-8);
    drop(e, &p);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_exclusions)
{
    tu_tmp_make("sweep");
    /* instance norm does not build on an mlp: excluded by a key of the base
     * config (model.arch, a default), it is skipped, not an error */
    nl_experiment *e = parse("base: base.yaml\ngrid:\n  model.norm.type: [none, batch, instance]\n"
                             "  train.batch_size: [8, 16]\n"
                             "exclude:\n  - {model.norm.type: instance, model.arch: mlp}\n"
                             "  - {model.norm.type: none, train.batch_size: 16}\n"
                             "  - {model.norm.type: group}\n");
    nl_sweep_plan p;
    plan(e, &p);
    ck_assert_int_eq(p.n_combos, 6);
    ck_assert_int_eq(p.n_runs, 3);
    ck_assert_int_eq(p.n_excluded, 3);
    ck_assert_str_eq(p.runs[0].dir, "type-none_batch_size-8");
    ck_assert_str_eq(p.runs[1].dir, "type-batch_batch_size-8");
    ck_assert_str_eq(p.runs[2].dir, "type-batch_batch_size-16");
    ck_assert_int_eq(p.excluded[0].exclusion, 1);
    ck_assert_int_eq(p.excluded[1].exclusion, 0);
    /* the entry that matches nothing is worth a warning */
    ck_assert_int_eq(p.n_warnings, 1);
    ck_assert_msg(strstr(p.warnings[0], "model.norm.type: group") && strstr(p.warnings[0], "exp.yaml:8:5:"), "%s",
                  p.warnings[0]);
    drop(e, &p);

    /* values compare as values: a list, a number written differently */
    e = parse("base: base.yaml\ngrid:\n  model.widths: [[16], [32, 32]]\n  train.optimizer.lr: [0.1, 0.01]\n"
              "exclude:\n  - {model.widths: [32, 32], train.optimizer.lr: 1e-2}\n");
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 3);
    for (int i = 0; i < p.n_runs; i++)
        ck_assert_str_ne(p.runs[i].dir, "widths-32-32_lr-0.01");
    drop(e, &p);
    tu_tmp_remove();
}
END_TEST

/* a fixed setting that only some runs can use is left out of the others */
START_TEST(test_set_key_that_does_not_apply)
{
    tu_tmp_make("sweep");
    nl_experiment *e = parse("base: base.yaml\nset: {model.norm.groups: 4}\n"
                             "grid:\n  model.norm.type: [batch, group]\n  seed: [1, 2]\n");
    nl_sweep_plan p;
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 4);
    char v[128];
    ck_assert_str_eq(flat_value(&p.runs[2], "model.norm.groups", v, sizeof v), "4");
    /* left out of the resolved config of a run it does not apply to */
    ck_assert_msg(!strstr(p.runs[0].config_text, "groups:"), "%s", p.runs[0].config_text);
    ck_assert_int_eq(p.n_warnings, 1);
    ck_assert_msg(strstr(p.warnings[0], "exp.yaml:2:7: set: model.norm.groups=4 does not apply") &&
                      strstr(p.warnings[0], "2 runs, e.g. type-batch_seed-1"), "%s", p.warnings[0]);
    drop(e, &p);
    tu_tmp_remove();
}
END_TEST

/* a grid key that only some runs can use is left out of the others: of
 * their names and summary rows, and the combinations that then coincide
 * run once */
START_TEST(test_grid_key_that_does_not_apply)
{
    tu_tmp_make("sweep");
    nl_experiment *e = parse("base: base.yaml\n"
                             "grid:\n  model.norm.type: [group, batch, layer]\n  model.norm.groups: [2, 4]\n"
                             "  seed: [1, 2]\n");
    nl_sweep_plan p;
    plan(e, &p);
    /* group: 2 x 2 seeds; batch and layer: 2 seeds each, whatever the groups */
    ck_assert_int_eq(p.n_runs, 8);
    ck_assert_int_eq(p.n_coinciding, 4);
    static const char *const names[] = {"type-group_groups-2_seed-1", "type-group_groups-2_seed-2",
                                        "type-group_groups-4_seed-1", "type-group_groups-4_seed-2",
                                        "type-batch_seed-1", "type-batch_seed-2",
                                        "type-layer_seed-1", "type-layer_seed-2"};
    char v[128];
    for (int i = 0; i < 8; i++) {
        ck_assert_str_eq(p.runs[i].dir, names[i]);
        /* the run's config is named after its directory */
        char want[200];
        snprintf(want, sizeof want, "name: \"%s\"", names[i]);
        ck_assert_msg(strstr(p.runs[i].config_text, want), "%s", p.runs[i].config_text);
        const bool group = i < 4;
        ck_assert_str_eq(nl_sweep_run_value(e, &p, &p.runs[i], 1), group ? (i < 2 ? "2" : "4") : "");
        if (group)
            ck_assert_str_eq(flat_value(&p.runs[i], "model.norm.groups", v, sizeof v), i < 2 ? "2" : "4");
        else
            ck_assert_msg(!strstr(p.runs[i].config_text, "groups:"), "%s", p.runs[i].config_text);
    }
    bool noted = false;
    for (int w = 0; w < p.n_warnings; w++)
        noted |= strstr(p.warnings[w], "exp.yaml:4:3: grid: model.norm.groups does not apply to some runs") != NULL;
    ck_assert_msg(noted, "%s", p.n_warnings ? p.warnings[0] : "no warning");
    drop(e, &p);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_shards_partition)
{
    tu_tmp_make("sweep");
    nl_experiment *e = parse("base: base.yaml\ngrid:\n  train.batch_size: [8, 16, 32]\n  seed: [1, 2, 3, 4]\n"
                             "exclude: [{train.batch_size: 32, seed: 4}]\n");
    nl_sweep_plan p;
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 11);
    for (int n = 1; n <= 5; n++) {
        int total = 0;
        for (int r = 0; r < p.n_runs; r++) {
            int in = 0;
            for (int i = 1; i <= n; i++)
                in += nl_shard_has((nl_shard){i, n}, p.runs[r].index);
            ck_assert_msg(in == 1, "run %d is in %d of %d shards", r, in, n);
            total += in;
        }
        ck_assert_int_eq(total, p.n_runs);
    }
    nl_shard s;
    nl_error err = {0};
    ck_assert_int_eq(nl_shard_parse("2/4", &s, &err), NL_OK);
    ck_assert_int_eq(s.index, 2);
    ck_assert_int_eq(s.count, 4);
    const char *bad[] = {"0/4", "5/4", "2", "a/b", "2/0", "1/2/3", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nl_error_clear(&err);
        ck_assert_msg(nl_shard_parse(bad[i], &s, &err) == NL_ERR_USAGE, "'%s' accepted", bad[i]);
    }
    drop(e, &p);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_values_equal)
{
    ck_assert(nl_values_equal("0.01", "1e-2"));
    ck_assert(nl_values_equal("[16, 32]", "[16,32]"));
    ck_assert(nl_values_equal("\"batch\"", "batch"));
    ck_assert(nl_values_equal("0.1", "0.100000001"));
    ck_assert(!nl_values_equal("[16]", "16"));
    ck_assert(!nl_values_equal("[16, 32]", "[16]"));
    ck_assert(!nl_values_equal("batch", "group"));
    ck_assert(!nl_values_equal("0.1", "0.11"));
    ck_assert(nl_values_equal("True", "true"));
    /* integers compare exactly: a seed or a size one apart is another run */
    ck_assert(!nl_values_equal("1000000", "1000001"));
    /* an infinity is itself only (plot --where seed=inf kept every run) */
    ck_assert(!nl_values_equal("1", "inf") && !nl_values_equal("-inf", "0.5"));
    ck_assert(!nl_values_equal("inf", "-inf") && nl_values_equal("inf", "Infinity"));
    ck_assert(!nl_values_equal("[1000000]", "[1000001]"));
    ck_assert(nl_values_equal("+7", "7"));
    ck_assert(nl_values_equal("1", "1.0"));
    /* compared whole, whatever their length (issue 118: values equal for
     * their first 511 bytes were one), quoted or not, alone, in a list,
     * and in a config's diff (a sweep's "is this run the finished one") */
    const size_t lengths[] = {511, 1023, 2047, 5000};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        const size_t n = lengths[k] + 8;
        char *a = malloc(n + 3), *b = malloc(n + 3), *qa = malloc(n + 5), *la = malloc(n + 5),
             *lb = malloc(n + 5);
        ck_assert(a && b && qa && la && lb);
        memset(a, 'x', n);
        a[n] = '\0';
        memcpy(b, a, n + 1);
        b[lengths[k] + 1] = 'y'; /* past byte 511, 1023, 2047 */
        snprintf(qa, n + 5, "\"%s\"", a);
        snprintf(la, n + 5, "[%s]", a);
        snprintf(lb, n + 5, "[%s]", b);
        ck_assert_msg(!nl_values_equal(a, b), "two values differing at byte %zu are one",
                      lengths[k] + 1);
        ck_assert_msg(!nl_values_equal(qa, b) && nl_values_equal(qa, a),
                      "a quoted value of %zu bytes", n);
        ck_assert_msg(!nl_values_equal(la, lb) && nl_values_equal(la, la),
                      "lists differing at byte %zu", lengths[k] + 1);
        nl_flat old = {0}, now = {0};
        nl_error err = {0};
        ck_assert(nl_flat_set(&old, "model.norm.expr", a, &err) == NL_OK);
        ck_assert(nl_flat_set(&now, "model.norm.expr", b, &err) == NL_OK);
        char diff[256];
        ck_assert_int_eq(nl_flat_diff(&old, &now, NULL, nl_values_equal, diff, sizeof diff), 1);
        nl_flat_free(&old), nl_flat_free(&now);
        free(a), free(b), free(qa), free(la), free(lb);
    }
}
END_TEST

/* two grid values equal for their first 511 bytes are two values, each its
 * own runs (issue 118: refused as one value given twice) */
START_TEST(test_long_grid_values)
{
    tu_tmp_make("sweep");
    /* the formula's terms are few (at most 256); its spaces make it long */
    char formula[700], other[800];
    memset(formula, ' ', 600);
    formula[0] = 'x';
    formula[600] = '\0';
    snprintf(other, sizeof other, "%s+ 1", formula);
    snprintf(formula + 600, sizeof formula - 600, "+ 2");
    char text[2400];
    snprintf(text, sizeof text,
             "base: base.yaml\nset: {model.norm.type: expr}\ngrid:\n  model.norm.expr: [\"%s\", "
             "\"%s\"]\n", formula, other);
    nl_experiment *e = parse(text);
    nl_sweep_plan p;
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 2);
    drop(e, &p);
    tu_tmp_remove();
}
END_TEST

/* ---- formulas: named once, listed in a grid beside the built-ins (issue 114) ---- */

#define FORMULAS                                                                                      \
    "formulas:\n"                                                                                     \
    "  bin: {expr: \"weight * (x - mean(x, [batch])) / sqrt(var(x, [batch]) + eps) + bias\",\n"       \
    "        params: \"weight = 1 per channel, bias = 0 per channel\"}\n"                             \
    "  pono: {expr: \"(x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps)\"}\n"

START_TEST(test_formulas_in_grid)
{
    tu_tmp_make("sweep-formulas");
    nl_experiment *e = parse("name: two-formulas\nbase: base.yaml\n" FORMULAS
                             "grid:\n  model.norm.type: [batch, group, bin, pono]\n");
    ck_assert_int_eq(e->n_formulas, 2);
    nl_sweep_plan p;
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 4);
    /* named by the formula's name, as a built-in by its own: never its text */
    static const char *const dirs[] = {"type-batch", "type-group", "type-bin", "type-pono"};
    static const char *const types[] = {"batch", "group", "expr", "expr"};
    char v[512];
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(p.runs[i].dir, dirs[i]);
        ck_assert_str_eq(flat_value(&p.runs[i], "model.norm.type", v, sizeof v), types[i]);
        ck_assert_str_eq(flat_value(&p.runs[i], "name", v, sizeof v), dirs[i]);
        /* the summary's column holds the name the grid gives */
        ck_assert_str_eq(nl_sweep_run_value(e, &p, &p.runs[i], 0), dirs[i] + strlen("type-"));
    }
    ck_assert_str_eq(flat_value(&p.runs[2], "model.norm.name", v, sizeof v), "bin");
    ck_assert_str_eq(flat_value(&p.runs[3], "model.norm.name", v, sizeof v), "pono");
    ck_assert_msg(strstr(flat_value(&p.runs[2], "model.norm.expr", v, sizeof v), "mean(x, [batch])"), "%s", v);
    ck_assert_msg(strstr(flat_value(&p.runs[2], "model.norm.params", v, sizeof v), "bias = 0 per channel"), "%s", v);
    ck_assert_msg(strstr(flat_value(&p.runs[3], "model.norm.expr", v, sizeof v), "[channels]"), "%s", v);
    ck_assert_msg(!strstr(p.runs[0].config_text, "expr:"), "%s", p.runs[0].config_text);
    drop(e, &p);

    /* the same run as the three keys written out: the resolved config, byte for byte */
    e = parse("base: base.yaml\n" FORMULAS "set: {model.norm.type: bin}\ngrid: {seed: [1]}\n");
    plan(e, &p);
    nl_experiment *e2 = parse("base: base.yaml\nset:\n  model.norm.type: expr\n  model.norm.name: bin\n"
                              "  model.norm.expr: \"weight * (x - mean(x, [batch])) / sqrt(var(x, [batch]) + eps) + bias\"\n"
                              "  model.norm.params: \"weight = 1 per channel, bias = 0 per channel\"\n"
                              "grid: {seed: [1]}\n");
    nl_sweep_plan p2;
    plan(e2, &p2);
    ck_assert_str_eq(p.runs[0].config_text, p2.runs[0].config_text);
    drop(e2, &p2);
    drop(e, &p);

    /* the base's model.norm.type may name one; an exclusion may name one */
    e = parse("base:\n  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
              "  model: {arch: mlp, widths: [16], norm: {type: pono}}\n  train: {batch_size: 16, steps: 30}\n"
              FORMULAS "grid: {seed: [1, 2]}\n");
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 2);
    ck_assert_str_eq(flat_value(&p.runs[1], "model.norm.type", v, sizeof v), "expr");
    ck_assert_str_eq(flat_value(&p.runs[1], "model.norm.name", v, sizeof v), "pono");
    drop(e, &p);
    e = parse("base: base.yaml\n" FORMULAS "grid:\n  model.norm.type: [batch, bin, pono]\n"
              "exclude:\n  - {model.norm.type: pono}\n");
    plan(e, &p);
    ck_assert_int_eq(p.n_runs, 2);
    ck_assert_int_eq(p.n_excluded, 1);
    ck_assert_str_eq(p.runs[1].dir, "type-bin");
    drop(e, &p);

    /* --dry-run lists the runs by the formulas' names */
    tu_tmp_write("exp.yaml", "base: base.yaml\n" FORMULAS "grid:\n  model.norm.type: [batch, group, bin, pono]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "4 runs") && strstr(out, "type-bin") && strstr(out, "type-pono") &&
                  strstr(out, "model.norm.type=bin") && !strstr(out, "mean(x"), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* ---- bad experiment files: exit 2, the file, line and column, what is wrong ---- */

typedef struct {
    const char *text;
    const char *want[3];
} bad_case;

START_TEST(test_bad_experiment_files)
{
    tu_tmp_make("sweep");
    tu_tmp_write("base.yaml", base_config);
    static const bad_case cases[] = {
        {"base: base.yaml\ngird: {seed: [1]}\n", {"bad.yaml:2:1:", "gird", "did you mean 'grid'"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nthreads: many\n", {"bad.yaml:3:10:", "threads", "expected an integer"}},
        {"base: base.yaml\ngrid: {}\n", {"bad.yaml:2:7:", "grid is empty"}},
        {"base: base.yaml\ngrid: {seed: []}\n", {"bad.yaml:2:14:", "empty"}},
        {"base: base.yaml\ngrid: {train.batchsize: [8]}\n", {"bad.yaml:2:8:", "not a config key", "train.batch_size"}},
        /* a key's last component alone: the config's own did-you-mean */
        {"base: base.yaml\ngrid: {batch_size: [8]}\n", {"bad.yaml:2:8:", "did you mean 'train.batch_size'?"}},
        {"base: base.yaml\ngrid: {seed: 3}\n", {"bad.yaml:2:14:", "expected a list", "[3]"}},
        {"base: base.yaml\ngrid: {seed: [1, 2, 1]}\n", {"bad.yaml:2:21:", "given twice"}},
        /* an invalid run config names the run, and points at the value
         * (groups does not apply to batch norm: that run just leaves it out) */
        {"base: base.yaml\ngrid:\n  model.norm.type: [batch, group]\n  model.norm.groups: [3]\n",
         {"bad.yaml:4:23:", "type-group_groups-3", "model.norm.groups"}},
        /* a grid key that applies to no run is a mistake */
        {"base: base.yaml\ngrid:\n  model.norm.type: [batch, layer]\n  model.norm.groups: [2, 4]\n",
         {"bad.yaml:4:3:", "model.norm.groups applies to none of the runs"}},
        {"base: base.yaml\ngrid:\n  model.norm.type: [group]\n  model.norm.groups: [3]\n",
         {"bad.yaml:4:23:", "type-group_groups-3", "groups"}},
        {"base: base.yaml\nset: {train.epochs: many}\ngrid: {seed: [1]}\n", {"bad.yaml:2:21:", "run seed-1", "train.epochs"}},
        /* a set: value that applies but is wrong stays an error */
        {"base: base.yaml\nset: {model.norm.groups: 3}\ngrid: {model.norm.type: [batch, group]}\n",
         {"bad.yaml:2:26:", "run type-group", "model.norm.groups"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nderived: {train.optimizer.lr: {scale_with: train.batch_size, base_value: "
         "0.1}}\n", {"bad.yaml:3:", "base_at is missing"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nderived: {train.optimizer.lr: {scale_with: train.batch_size, base_value: "
         "0.1, base_at: 8, powr: 2}}\n", {"bad.yaml:3:", "unknown key 'powr'", "did you mean 'power'"}},
        {"base: nope.yaml\ngrid: {seed: [1]}\n", {"bad.yaml:1:7:", "nope.yaml", "does not exist"}},
        /* read to the end, /dev/zero would take all memory */
        {"base: /dev/zero\ngrid: {seed: [1]}\n", {"bad.yaml:1:7:", "/dev/zero is not a regular file"}},
        {"base: base.yaml\ngrid: {seed: [1]\n", {"bad.yaml:3:", "YAML syntax error"}},
        /* the experiment file is read by the config's YAML walker: the same
         * messages for the same mistakes */
        {"base: base.yaml\ngrid:\n\tseed: [1]\n", {"bad.yaml:3:", "does not allow tabs"}},
        {"base: base.yaml\nset: {train.steps: 1, train.steps: 2}\ngrid: {seed: [1]}\n",
         {"bad.yaml:2:23: set: train.steps: duplicate key", "line 2, column 7"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nthreads: \"4\"\n", {"bad.yaml:3:10:", "remove the quotes"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nplots: [{kind: Curves}]\n", {"bad.yaml:3:16:", "did you mean 'curves'"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nplots: [{kind: batchsize}]\n", {"bad.yaml:3:16:", "did you mean 'batch_size'"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nplots: [{kind: lr}]\n", {"bad.yaml:3:9:", "train.optimizer.lr"}},
        {"base:\n  model: {arch: mlp, norm: {type: bach}}\ngrid: {seed: [1]}\n",
         {"bad.yaml:2:35:", "did you mean 'batch'", "base config"}},
        {"grid: {seed: [1]}\n", {"bad.yaml:1:1:", "base: is missing"}},
        {"base: base.yaml\ngrid: {seed: [1]}\ntrain.epochs: 3\n", {"bad.yaml:3:1:", "under set:"}},
        {"base: base.yaml\nset: {seed: 1}\ngrid: {seed: [1, 2]}\n", {"bad.yaml:3:8:", "both in set:"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nexclude: {seed: 1}\n", {"bad.yaml:3:10:", "expected a list"}},
        /* names that become a directory (the sweep's), a file name (a plot's) or a label (a claim's id)
         * outside their character set: refused where parsed (issue 69), control bytes shown escaped */
        {"name: a/b\nbase: base.yaml\ngrid: {seed: [1]}\n",
         {"bad.yaml:1:7: name: 'a/b' is not a valid sweep name", "accepted: " NL_IDENT_ACCEPTED}},
        {"name: ..\nbase: base.yaml\ngrid: {seed: [1]}\n", {"bad.yaml:1:7:", "'..' is not a valid sweep name"}},
        {"name: \"<script>\"\nbase: base.yaml\ngrid: {seed: [1]}\n",
         {"bad.yaml:1:7:", "'<script>' is not a valid sweep name"}},
        {"name: \"x\\nEOD\"\nbase: base.yaml\ngrid: {seed: [1]}\n",
         {"bad.yaml:1:7:", "'x\\x0aEOD' is not a valid sweep name"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nplots: [{kind: curves, name: ../x}]\n",
         {"bad.yaml:3:30: plots: name: '../x' is not a file name", "accepted: " NL_IDENT_ACCEPTED}},
        {"base: base.yaml\ngrid: {seed: [1]}\nplots: [{kind: curves, name: \"a b\"}]\n",
         {"bad.yaml:3:30:", "'a b' is not a file name"}},
        {"base: base.yaml\ngrid: {seed: [1]}\nplots: [{kind: curves, name: \"c1`x`\"}]\n",
         {"bad.yaml:3:30:", "'c1`x`' is not a file name"}},
        /* formulas: (issue 114): a name that is a built-in's (from the registry) or no name, an
         * unknown normalizer, a formula's unknown key or missing expr, its keys also given by hand */
        {"base: base.yaml\nformulas:\n  batch: {expr: \"x\"}\ngrid: {seed: [1]}\n",
         {"bad.yaml:3:3:", "'batch' is the built-in normalizer batch's name", "accepted: a name of " NL_IDENT_ACCEPTED}},
        {"base: base.yaml\nformulas:\n  Expr: {expr: \"x\"}\ngrid: {seed: [1]}\n",
         {"bad.yaml:3:3:", "built-in normalizer expr's name", "batch | "}},
        {"base: base.yaml\nformulas:\n  \"a b\": {expr: \"x\"}\ngrid: {seed: [1]}\n",
         {"bad.yaml:3:3:", "'a b' is not a valid formula name", "accepted: " NL_IDENT_ACCEPTED}},
        {"base: base.yaml\nformulas:\n  bin: {expr: \"x\"}\ngrid:\n  model.norm.type: [batch, bni]\n",
         {"bad.yaml:5:28:", "'bni' is neither a built-in normalizer nor a formula", "batch | layer | group"}},
        {"base: base.yaml\nformulas:\n  bin: {expr: \"x\"}\n  pono: {expr: \"x\"}\nset: {model.norm.type: Pono}\ngrid: {seed: [1]}\n",
         {"bad.yaml:5:24:", "'Pono' is neither", "bin, pono (formulas)"}},
        {"base: base.yaml\nformulas:\n  bin: {expr: \"x\", param: \"a = 1\"}\ngrid: {seed: [1]}\n",
         {"bad.yaml:3:20:", "unknown key 'param'", "did you mean 'params'"}},
        {"base: base.yaml\nformulas:\n  bin: {params: \"a = 1\"}\ngrid: {seed: [1]}\n",
         {"bad.yaml:3:8:", "expr: is missing"}},
        {"base: base.yaml\nformulas:\n  bin: [x]\ngrid: {seed: [1]}\n",
         {"bad.yaml:3:8:", "expected a formula"}},
        {"base: base.yaml\nformulas:\n  bin: {expr: \"x\"}\ngrid:\n  model.norm.type: [batch, bin]\n  model.norm.expr: [\"x\"]\n",
         {"bad.yaml:6:3:", "model.norm.expr is given here", "formula 'bin' (line 5)"}},
        {"base: base.yaml\nformulas:\n  bin: {expr: \"x\"}\nset: {model.norm.name: b2}\ngrid:\n  model.norm.type: [batch, bin]\n",
         {"bad.yaml:4:7:", "model.norm.name is given here"}},
        /* a formula the config module refuses: pointed at where formulas: gives it, naming the run */
        {"base: base.yaml\nformulas:\n  bin: {expr: \"weight * x\"}\ngrid:\n  model.norm.type: [batch, bin]\n",
         {"bad.yaml:3:15:", "run type-bin", "weight"}},
        /* one name, one formula (issue 114): a grid giving two texts set:'s name, a formulas: key
         * that the base gives another text; refused at the name, both runs and texts named */
        {"base: base.yaml\nset: {model.norm.type: expr, model.norm.name: mine}\ngrid:\n  model.norm.expr: "
         "[\"x / sqrt(var(x, [channels]) + eps)\", \"(x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps)\"]\n",
         {"bad.yaml:2:47: model.norm.name: run expr-755b7972: the name 'mine' is already another formula's, "
          "run expr-b36cc85c's (bad.yaml:2:47)", "a name of its own for each formula"}},
        {"base:\n  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
         "  model: {arch: mlp, widths: [16], norm: {expr: \"x / sqrt(var(x, [channels]) + eps)\", name: bin}}\n"
         "  train: {batch_size: 16, steps: 30}\nformulas:\n  bin: {expr: \"x - mean(x, [channels])\"}\n"
         "grid:\n  model.norm.type: [bin, expr]\n",
         {"bad.yaml:3:", "run type-expr: the name 'bin' is already another formula's, run type-bin's (bad.yaml:6:3)",
          "\"x - mean(x, [channels])\" and \"x / sqrt(var(x, [channels]) + eps)\""}},
        {"base: base.yaml\ngrid: {seed: [1]}\nclaims:\n  - {id: \"a b\", paper: p, metric: final_test_error, a: {}, "
         "expect: a < 1}\n", {"bad.yaml:4:10:", "'a b' is not a claim id", "accepted: " NL_IDENT_ACCEPTED}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_tmp_write("bad.yaml", cases[i].text);
        const int rc = tu_normlab("sweep bad.yaml");
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 2, "case %zu: exit %d, want 2:\n%s\n%.2000s", i, rc, cases[i].text, out);
        for (int k = 0; k < 3 && cases[i].want[k]; k++)
            ck_assert_msg(strstr(out, cases[i].want[k]), "case %zu: '%s' not in:\n%.2000s", i, cases[i].want[k], out);
        free(out);
        /* nothing was written */
        char results[512];
        snprintf(results, sizeof results, "%s/results", tu_tmp);
        ck_assert_msg(!nl_path_exists(results), "case %zu created %s", i, results);
    }
    /* usage errors */
    tu_tmp_write("exp.yaml", "base: base.yaml\ngrid: {seed: [1, 2]}\n");
    const char *usage[] = {"sweep exp.yaml --shard 3/2", "sweep exp.yaml --shard x", "sweep exp.yaml --shard 0/2",
                           "sweep exp.yaml -j 0", "sweep exp.yaml --bogus", "sweep", "sweep nothere.yaml",
                           "sweep exp.yaml --merge --dry-run", "sweep exp.yaml --set seed=3",
                           "sweep exp.yaml --set train.steps", "sweep exp.yaml --set train.steps=4 --emit-sbatch",
                           "sweep exp.yaml --one-process --merge", "sweep exp.yaml --one-process --emit-sbatch"};
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        ck_assert_msg(tu_normlab(usage[i]) == 2, "'%s' did not exit 2", usage[i]);
    char *out = tu_normlab_output();
    free(out);
    /* --set: a fixed setting for every run, to try an experiment out */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --set train.steps=4 --set train.eval_every=2 --out tried"), 0);
    out = tu_tmp_read("tried/runs/seed-2/config.yaml");
    ck_assert_msg(strstr(out, "\n  steps: 4\n"), "%s", out);
    free(out);
    /* an experiment "file" without end is refused before a byte is read (not a regular file) */
    ck_assert_int_eq(tu_normlab("sweep /dev/zero"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "/dev/zero is a device, not a regular file"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("sweep --help"), 0);
    /* grids too large to check are refused at once, with the key's line: a
     * million runs took half an hour and 5 GB of checks before the first ran,
     * and a key of 10^4 values minutes of pairwise comparisons */
    static char big[16384];
    int used = snprintf(big, sizeof big, "base: base.yaml\ngrid:\n  seed: [0");
    for (int i = 1; i <= NL_SWEEP_MAX_VALUES; i++)
        used += snprintf(big + used, sizeof big - (size_t)used, ", %d", i);
    snprintf(big + used, sizeof big - (size_t)used, "]\n");
    tu_tmp_write("big.yaml", big);
    ck_assert_int_eq(tu_normlab("sweep big.yaml --dry-run"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "big.yaml:3:9: seed: 1001 values; accepted: at most 1000"), "%.2000s", out);
    free(out);
    used = snprintf(big, sizeof big, "base: base.yaml\ngrid:\n  seed: [0");
    for (int i = 1; i < 1000; i++)
        used += snprintf(big + used, sizeof big - (size_t)used, ", %d", i);
    snprintf(big + used, sizeof big - (size_t)used, "]\n  train.steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "
             "11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, "
             "33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, "
             "55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, "
             "77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, "
             "99, 100, 101]\n");
    tu_tmp_write("big.yaml", big);
    ck_assert_int_eq(tu_normlab("sweep big.yaml --dry-run"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "big.yaml:4:3: grid: more than 100000 combinations"), "%.2000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* ---- real sweeps ---- */

typedef struct {
    char run[160];
    char status[16];
    int n_fields;
} summary_row;

/* summary.csv: header check and rows */
static int read_summary(const char *dir, const char *want_header, summary_row *rows, int max)
{
    char name[512];
    snprintf(name, sizeof name, "%s/summary.csv", dir);
    char *text = tu_tmp_read(name);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    ck_assert(line);
    if (want_header)
        ck_assert_str_eq(line, want_header);
    int status_col = -1, col = 0;
    for (char *p = line; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL, col++)
        if (!strncmp(p, "status,", 7))
            status_col = col;
    ck_assert_int_ge(status_col, 1);
    int n = 0;
    while ((line = strtok_r(NULL, "\n", &save)) && n < max) {
        summary_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        int c = 0;
        for (char *p = line; p; c++) {
            char *comma = strchr(p, ',');
            const size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (c == 0)
                snprintf(r->run, sizeof r->run, "%.*s", (int)len, p);
            if (c == status_col)
                snprintf(r->status, sizeof r->status, "%.*s", (int)len, p);
            p = comma ? comma + 1 : NULL;
        }
        r->n_fields = c;
    }
    free(text);
    return n;
}

static const char *summary_header_tail =
    "status,final_test_loss,final_test_accuracy,final_test_error,best_test_accuracy,final_train_loss,"
    "final_test_trainmode_accuracy,steps,wall_s,samples_per_s,test_accuracy_before_recalibration,"
    "threads,cpu_kernels";

START_TEST(test_sweep_runs_and_resumes)
{
    tu_tmp_make("sweep");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: small\nbase: base.yaml\nset: {data.test_size: 64}\n"
                           "grid:\n  model.norm.type: [none, batch]\n  train.batch_size: [8, 16]\n  seed: [1, 2]\n"
                           "derived:\n  train.optimizer.lr: {scale_with: train.batch_size, base_value: 0.05, base_at: 16}\n");
    /* --dry-run: lists, writes nothing */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "8 runs") && strstr(out, "type-batch_batch_size-16_seed-2") &&
                      strstr(out, "train.optimizer.lr=0.025"), "%.3000s", out);
    free(out);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/results/small", tu_tmp);
    ck_assert(!nl_path_exists(dir));

    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "results/small/summary.csv"), "%.3000s", out);
    free(out);
    char header[1024];
    snprintf(header, sizeof header, "run,model.norm.type,train.batch_size,seed,train.optimizer.lr,%s",
             summary_header_tail);
    summary_row rows[32];
    const int n = read_summary("results/small", header, rows, 32);
    ck_assert_int_eq(n, 8);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(rows[i].status, "ok");
        ck_assert_int_eq(rows[i].n_fields, 6 + NL_SWEEP_N_METRICS); /* run, 4 keys, status */
    }
    ck_assert_str_eq(rows[0].run, "type-none_batch_size-8_seed-1");
    ck_assert_str_eq(rows[7].run, "type-batch_batch_size-16_seed-2");
    char *summary = tu_tmp_read("results/small/summary.csv");
    ck_assert_msg(strstr(summary, "type-batch_batch_size-16_seed-1,batch,16,1,0.05,ok,"), "%.3000s", summary);
    {
        /* the row ends with how its speed was reached, as summary.json says */
        char *json = tu_tmp_read("results/small/runs/type-batch_batch_size-16_seed-1/summary.json");
        char threads[32], kernels[64], tail[128];
        ck_assert(nl_json_flat_get(json, "threads", threads, sizeof threads));
        ck_assert(nl_json_flat_get(json, "cpu_kernels", kernels, sizeof kernels));
        ck_assert(kernels[0]);
        snprintf(tail, sizeof tail, ",%s,%s\n", threads, kernels);
        const char *row = strstr(summary, "type-batch_batch_size-16_seed-1,");
        const char *end = strchr(row, '\n');
        ck_assert_msg(end && (size_t)(end + 1 - row) >= strlen(tail) &&
                          !strncmp(end + 1 - strlen(tail), tail, strlen(tail)),
                      "want the row to end with %s: %.3000s", tail, summary);
        free(json);
    }
    /* every run directory is what `normlab run` writes, and its config */
    char path[1024];
    snprintf(path, sizeof path, "%s/runs/type-batch_batch_size-8_seed-1", dir);
    ck_assert_int_eq(nl_run_dir_status(path), NL_RUN_OK);
    snprintf(path, sizeof path, "%s/configs/type-batch_batch_size-8_seed-1.yaml", dir);
    ck_assert(nl_path_exists(path));
    snprintf(path, sizeof path, "%s/runs/type-batch_batch_size-8_seed-1/stderr.txt", dir);
    ck_assert(nl_path_exists(path));

    /* the same sweep with its runs as threads of one process: the same rows */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --one-process --out one"), 0);
    for (int i = 0; i < n; i++) {
        char by_process[256], by_thread[256];
        snprintf(by_process, sizeof by_process, "results/small/runs/%.160s", rows[i].run);
        snprintf(by_thread, sizeof by_thread, "one/runs/%.160s", rows[i].run);
        char *a = tu_metrics_without_time(by_process), *b = tu_metrics_without_time(by_thread);
        ck_assert_str_eq(b, a);
        free(a);
        free(b);
    }
    char *log = tu_tmp_read("one/runs/type-batch_batch_size-8_seed-1/stderr.txt");
    ck_assert_msg(strstr(log, "one/runs/type-batch_batch_size-8_seed-1: ok, test accuracy"), "%s", log);
    /* a run as a thread and a run as a process: one command line, which
     * heads its log (and the process was started with) */
    ck_assert_msg(strstr(log, " normlab run one/configs/type-batch_batch_size-8_seed-1.yaml --out "
                              "one/runs/type-batch_batch_size-8_seed-1 --quiet --threads "), "%s", log);
    free(log);
    log = tu_tmp_read("results/small/runs/type-batch_batch_size-8_seed-1/stderr.txt");
    ck_assert_msg(strstr(log, " normlab run results/small/configs/type-batch_batch_size-8_seed-1.yaml --out "
                              "results/small/runs/type-batch_batch_size-8_seed-1 --quiet --threads "), "%s", log);
    free(log);

    /* again: nothing runs, the summary is the same */
    struct stat before, after;
    snprintf(path, sizeof path, "%s/runs/type-none_batch_size-8_seed-1/summary.json", dir);
    ck_assert_int_eq(stat(path, &before), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 0);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert(before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "skip (ok)") && !strstr(out, "  run\n"), "%.3000s", out);
    free(out);

    /* --merge rebuilds summary.csv from the run directories alone */
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    unlink(path);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --merge"), 0);
    char *merged = tu_tmp_read("results/small/summary.csv");
    /* the same rows; wall times come from the same summary.json files */
    ck_assert_str_eq(merged, summary);
    free(merged);
    free(summary);

    /* a changed experiment: an error naming the run and the key, unless --force */
    tu_tmp_write("exp.yaml", "name: small\nbase: base.yaml\nset: {data.test_size: 32}\n"
                           "grid:\n  model.norm.type: [none, batch]\n  train.batch_size: [8, 16]\n  seed: [1, 2]\n"
                           "derived:\n  train.optimizer.lr: {scale_with: train.batch_size, base_value: 0.05, base_at: 16}\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "runs/type-none_batch_size-8_seed-1") && strstr(out, "data.test_size: 64 -> 32") &&
                      strstr(out, "--force"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --force -j 2"), 0);
    ck_assert_int_eq(stat(path, &after), 0);
    char *json = tu_tmp_read("results/small/runs/type-none_batch_size-8_seed-1/config.yaml");
    ck_assert_msg(strstr(json, "test_size: 32"), "%.3000s", json);
    free(json);
    /* --force ran it again: its summary.json is a new file, not the one kept above */
    snprintf(path, sizeof path, "%s/runs/type-none_batch_size-8_seed-1/summary.json", dir);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert(before.st_mtim.tv_sec != after.st_mtim.tv_sec || before.st_mtim.tv_nsec != after.st_mtim.tv_nsec);
    tu_tmp_remove();
}
END_TEST

/* --set threads=N is the experiment's top-level threads: (each run's
 * thread count, which a run's own threads key could not change): every
 * run gets N, in its command line and its summary.json; a value that is
 * no thread count is refused, and the same key in the file's set: still
 * points at the top-level key */
START_TEST(test_set_threads)
{
    tu_tmp_make("sweep");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: t\nbase: base.yaml\ngrid: {seed: [1, 2]}\n");
    for (int n = 1; n <= 3; n += 2) {
        char args[128], dir[64];
        snprintf(dir, sizeof dir, "t%d", n);
        snprintf(args, sizeof args, "sweep exp.yaml --out %s --set threads=%d --set train.steps=2", dir,
                 n);
        ck_assert_int_eq(tu_normlab(args), 0);
        for (int seed = 1; seed <= 2; seed++) {
            char rel[128], want[64], got[32];
            snprintf(rel, sizeof rel, "%s/runs/seed-%d/summary.json", dir, seed);
            char *json = tu_tmp_read(rel);
            ck_assert(nl_json_flat_get(json, "threads", got, sizeof got));
            ck_assert_int_eq(atoi(got), n);
            free(json);
            snprintf(rel, sizeof rel, "%s/runs/seed-%d/stderr.txt", dir, seed);
            char *log = tu_tmp_read(rel);
            snprintf(want, sizeof want, " --threads %d", n);
            ck_assert_msg(strstr(log, want), "no '%s' in %s:\n%s", want, rel, log);
            free(log);
        }
    }
    static const char *const bad[] = {"x", "-1", "1025", "2.5", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "sweep exp.yaml --dry-run --out tb --set threads=%s", bad[i]);
        ck_assert_int_eq(tu_normlab(args), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "threads is the thread count of each run; accepted: an integer "
                                  "in [0, 1024]"), "%s", out);
        free(out);
    }
    tu_tmp_remove();
}
END_TEST

/* without name:, the sweep is named after the whole file name but its
 * .yaml (tiny.v2.yaml is tiny.v2, not tiny: results/tiny is another
 * experiment's); a file name too long to name it is refused, never cut */
START_TEST(test_default_sweep_name)
{
    static const char text[] = "base: {model: {arch: mlp}}\ngrid: {seed: [1, 2]}\n";
    nl_experiment e;
    nl_error err = {0};
    ck_assert_msg(nl_experiment_parse(text, "experiments/tiny.v2.yaml", &e, &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(e.name, "tiny.v2");
    nl_experiment_free(&e);
    ck_assert_msg(nl_experiment_parse(text, "a b.yml", &e, &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(e.name, "a-b");
    nl_experiment_free(&e);
    /* a file-wide plan: is the claims parser's, taken by the sweep's loader too */
    static const char planned[] = "base: {model: {arch: mlp}}\ngrid: {seed: [1, 2]}\n"
                                  "plan: {kind: group-sequential, looks: 3}\n"
                                  "claims:\n  - {id: c, paper: p, metric: final_test_error, a: {seed: 1}, "
                                  "expect: a < 0.5}\n";
    ck_assert_msg(nl_experiment_parse(planned, "planned.yaml", &e, &err) == NL_OK, "%s", err.msg);
    nl_experiment_free(&e);
    char long_path[400] = "experiments/";
    for (int i = 0; i < 200; i++)
        strcat(long_path, "x");
    strcat(long_path, ".yaml");
    ck_assert_int_eq(nl_experiment_parse(text, long_path, &e, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "too long") && strstr(err.msg, "name:"), "%s", err.msg);
}
END_TEST

START_TEST(test_failed_run_and_shards)
{
    tu_tmp_make("sweep");
    tu_tmp_write("base.yaml", base_config);
    /* a run that fails at run time (its subset reaches a bad label that no
     * check before the run can see): the others run, the sweep exits 1, the
     * failure is shown, and summary.csv says failed */
    tu_tmp_write_idx("idx", 64, 16, 64, 40); /* headers and lengths right: only reading finds it */
    tu_tmp_write("idx.yaml", "data: {dataset: mnist, path: idx}\nmodel: {arch: mlp, widths: [16]}\n"
                             "train: {batch_size: 16, steps: 30, eval_every: 10, log_every: 10}\n");
    tu_tmp_write("exp.yaml", "name: fails\nbase: idx.yaml\ngrid:\n  data.train_size: [32, 64]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 1);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "run train_size-64 failed") && strstr(out, "label 10 of sample 40") &&
                      strstr(out, "stderr.txt"), "%.3000s", out);
    free(out);
    summary_row rows[4];
    ck_assert_int_eq(read_summary("results/fails", NULL, rows, 4), 2);
    ck_assert_str_eq(rows[0].status, "ok");
    ck_assert_str_eq(rows[1].status, "failed");
    /* the failed one is tried again, the finished one is not */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "train_size-32") && strstr(out, "skip (ok)") && strstr(out, "rerun"), "%.3000s", out);
    free(out);

    /* shards: disjoint slices, then --merge */
    tu_tmp_write("exp2.yaml", "name: sharded\nbase: base.yaml\ngrid:\n  train.batch_size: [8, 16]\n  seed: [1, 2, 3]\n");
    ck_assert_int_eq(tu_normlab("sweep exp2.yaml --shard 1/2"), 0);
    ck_assert_int_eq(read_summary("results/sharded", NULL, rows, 4) , 4);
    ck_assert_int_eq(tu_normlab("sweep exp2.yaml --shard 2/2 --dry-run"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "shard 2/2: 3 runs") && strstr(out, "batch_size-8_seed-2") &&
                      !strstr(out, "batch_size-8_seed-1 "), "%.3000s", out);
    free(out);
    summary_row six[8];
    ck_assert_int_eq(read_summary("results/sharded", NULL, six, 8), 6);
    int pending = 0;
    for (int i = 0; i < 6; i++)
        pending += !strcmp(six[i].status, "pending");
    ck_assert_int_eq(pending, 3);
    ck_assert_int_eq(tu_normlab("sweep exp2.yaml --shard 2/2"), 0);
    ck_assert_int_eq(tu_normlab("sweep exp2.yaml --merge"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "6 ok"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(read_summary("results/sharded", NULL, six, 8), 6);
    for (int i = 0; i < 6; i++)
        ck_assert_str_eq(six[i].status, "ok");
    tu_tmp_remove();
}
END_TEST

/* The options a sweep was started with, recorded in experiment.txt, come
 * back as shell words (issue 93): a value's quote, line break and
 * backslash survive the record and the quoting; --seeds too; the record's
 * path is still read as the experiment's (the option lines are skipped). */
START_TEST(test_resume_record)
{
    tu_tmp_make("sweep-record");
    tu_tmp_write("exp.yaml", "name: r\n");
    char dir[600], exp_path[600];
    snprintf(dir, sizeof dir, "%s/out dir", tu_tmp);
    snprintf(exp_path, sizeof exp_path, "%s/exp.yaml", tu_tmp);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    const char *const sets[] = {"train.steps=300", "data.name=it's", "a.b=x\ny", "c=back\\slash"};
    nl_experiment e = {.cli_sets = sets, .n_cli_sets = 4, .cli_seeds = 5};
    nl_copy_string(e.path, sizeof e.path, exp_path);
    nl_error err = {0};
    ck_assert_msg(nl_sweep_write_experiment_record(&e, dir, &err) == NL_OK, "%s", err.msg);
    char found_path[1024];
    bool found = false;
    ck_assert(nl_sweep_recorded_experiment(dir, found_path, sizeof found_path, &found));
    ck_assert(found);
    nl_buf cmd = {0};
    ck_assert(nl_sweep_resume_command(exp_path, dir, &cmd));
    char want[2048];
    snprintf(want, sizeof want, "normlab sweep %s --out '%s' --set train.steps=300 --set 'data.name=it'\\''s' "
             "--set 'a.b=x\ny' --set 'c=back\\slash' --seeds 5", exp_path, dir);
    ck_assert_str_eq(cmd.data, want);
    nl_buf_free(&cmd);
    /* no options given: none recorded, none in the command */
    e.n_cli_sets = e.cli_seeds = 0;
    ck_assert_msg(nl_sweep_write_experiment_record(&e, dir, &err) == NL_OK, "%s", err.msg);
    ck_assert(nl_sweep_resume_command(exp_path, dir, &cmd));
    snprintf(want, sizeof want, "normlab sweep %s --out '%s'", exp_path, dir);
    ck_assert_str_eq(cmd.data, want);
    nl_buf_free(&cmd);
    /* a record from before the options were recorded: the same command,
     * but said not to know the options (its sweep may have had some) */
    tu_tmp_write("out dir/" NL_SWEEP_EXPERIMENT_FILE, "# normlab sweep: the experiment file this sweep was run from, "
                 "relative to this directory\n../exp.yaml\n");
    ck_assert(!nl_sweep_resume_command(exp_path, dir, &cmd));
    ck_assert_str_eq(cmd.data, want);
    nl_buf_free(&cmd);
    tu_tmp_remove();
}
END_TEST

/* The resume command is built from the recorded --set and --seeds only: a
 * record that also names --out, --force, --shard, --merge or
 * --emit-sbatch (edited, or from another host) would otherwise paste as a
 * sweep somewhere else (issue 101). And each word pastes as one argument
 * that normlab does not take for an option: an experiment named
 * -dash.yaml comes back as ./-dash.yaml. Pasted, with --dry-run, it plans
 * the sweep it resumes. */
START_TEST(test_resume_command_pastes)
{
    tu_tmp_make("sweep-paste");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("-dash.yaml", "name: dash\nbase: base.yaml\ngrid: {seed: [1, 2]}\n");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sw", tu_tmp);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    tu_tmp_write("sw/" NL_SWEEP_EXPERIMENT_FILE,
                 "# normlab sweep: the experiment file this sweep was run from, relative to this directory\n"
                 "../-dash.yaml\n"
                 "# and the options it was started with that change its runs (its resume command repeats them)\n"
                 "--out ../elsewhere\n--force yes\n--set train.steps=4\n--shard 1/2\n--merge now\n"
                 "--emit-sbatch x\n--seeds 1\n--one-process yes\n");
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tu_tmp), 0);
    nl_buf cmd = {0};
    const bool known = nl_sweep_resume_command("-dash.yaml", "sw", &cmd);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert(known);
    ck_assert_str_eq(cmd.data, "normlab sweep ./-dash.yaml --out sw --set train.steps=4 --seeds 1");
    char pasted[1200];
    snprintf(pasted, sizeof pasted, "%s --dry-run", cmd.data + strlen("normlab "));
    const int status = tu_normlab(pasted);
    char *out = tu_normlab_output();
    ck_assert_msg(status == 0 && !strstr(out, "unknown option") && strstr(out, "seed-1"),
                  "pasted '%s': exit %d\n%.2000s", pasted, status, out);
    free(out);
    nl_buf_free(&cmd);
    char elsewhere[700];
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", tu_tmp);
    ck_assert_msg(!nl_path_exists(elsewhere), "the pasted command wrote %s", elsewhere);
    tu_tmp_remove();
}
END_TEST

/* The experiment's text kept beside the record (issue 93): written with its
 * hash; the file at the path read while its text is that, the kept copy
 * once it has changed or gone, the changed file where no copy is left; a
 * sweep started again from the changed file replaces the copy it kept, and
 * a copy it did not keep is refused and left as it was. */
START_TEST(test_kept_experiment)
{
    tu_tmp_make("sweep-kept");
    tu_tmp_write("exp.yaml", "name: k\n");
    char dir[600], exp_path[600];
    snprintf(dir, sizeof dir, "%s/sw", tu_tmp);
    snprintf(exp_path, sizeof exp_path, "%s/exp.yaml", tu_tmp);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    nl_experiment e = {0};
    nl_copy_string(e.path, sizeof e.path, exp_path);
    nl_error err = {0};
    ck_assert_msg(nl_sweep_write_experiment_record(&e, dir, &err) == NL_OK, "%s", err.msg);
    char *kept = tu_tmp_read("sw/" NL_SWEEP_EXPERIMENT_COPY);
    ck_assert_str_eq(kept, "name: k\n");
    free(kept);
    nl_sweep_experiment_source src;
    nl_sweep_experiment_source_of(dir, &src);
    ck_assert(src.recorded && src.path_found && !src.path_changed && src.copy[0] && !src.copy_changed);
    ck_assert_int_eq(src.from, NL_SWEEP_EXP_AT_PATH);
    ck_assert_str_eq(src.read, src.path);
    /* changed at the path: the kept copy */
    tu_tmp_write("exp.yaml", "name: k2\n");
    nl_sweep_experiment_source_of(dir, &src);
    ck_assert(src.path_found && src.path_changed);
    ck_assert_int_eq(src.from, NL_SWEEP_EXP_KEPT);
    ck_assert_str_eq(src.read, src.copy);
    /* gone: the kept copy */
    char away[600];
    snprintf(away, sizeof away, "%s/away.yaml", tu_tmp);
    ck_assert_int_eq(rename(exp_path, away), 0);
    nl_sweep_experiment_source_of(dir, &src);
    ck_assert(!src.path_found);
    ck_assert_int_eq(src.from, NL_SWEEP_EXP_KEPT);
    ck_assert_int_eq(rename(away, exp_path), 0);
    /* changed, and the copy gone: the file as it is, said to have changed */
    char copy[700], copy_away[600];
    snprintf(copy, sizeof copy, "%s/" NL_SWEEP_EXPERIMENT_COPY, dir);
    snprintf(copy_away, sizeof copy_away, "%s/copy.yaml", tu_tmp);
    ck_assert_int_eq(rename(copy, copy_away), 0);
    nl_sweep_experiment_source_of(dir, &src);
    ck_assert_int_eq(src.from, NL_SWEEP_EXP_CHANGED);
    ck_assert_int_eq(rename(copy_away, copy), 0);
    /* started again from the changed file: the copy it kept is replaced */
    ck_assert_msg(nl_sweep_write_experiment_record(&e, dir, &err) == NL_OK, "%s", err.msg);
    kept = tu_tmp_read("sw/" NL_SWEEP_EXPERIMENT_COPY);
    ck_assert_str_eq(kept, "name: k2\n");
    free(kept);
    nl_sweep_experiment_source_of(dir, &src);
    ck_assert_int_eq(src.from, NL_SWEEP_EXP_AT_PATH);
    /* a copy the sweep did not keep: refused, left as it was */
    tu_tmp_write("sw/" NL_SWEEP_EXPERIMENT_COPY, "mine\n");
    tu_tmp_write("exp.yaml", "name: k3\n");
    ck_assert_int_eq(nl_sweep_write_experiment_record(&e, dir, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "is not the copy of its experiment file this sweep kept"), "%s", err.msg);
    kept = tu_tmp_read("sw/" NL_SWEEP_EXPERIMENT_COPY);
    ck_assert_str_eq(kept, "mine\n");
    free(kept);
    nl_sweep_experiment_source_of(dir, &src);
    ck_assert(src.copy_changed);
    tu_tmp_remove();
}
END_TEST

/* A sweep refused after it took its lock (here: the kept copy of the
 * experiment is not the one it kept) leaves .lock as it found it (issue
 * 101: it wrote its own pid there while saying nothing was written): the
 * text another holder left, or no file where there was none. */
START_TEST(test_refused_sweep_leaves_lock)
{
    tu_tmp_make("sweep-lock-refused");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: lk\nbase: base.yaml\ngrid: {seed: [1]}\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw"), 0);
    tu_tmp_write("sw/" NL_SWEEP_EXPERIMENT_COPY, "mine\n");
    tu_tmp_write("sw/" NL_SWEEP_LOCK, "12345 elsewhere\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "is not the copy of its experiment file"), "%.2000s", out);
    free(out);
    char *lock = tu_tmp_read("sw/" NL_SWEEP_LOCK);
    ck_assert_str_eq(lock, "12345 elsewhere\n");
    free(lock);
    char path[600];
    snprintf(path, sizeof path, "%s/sw/" NL_SWEEP_LOCK, tu_tmp);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw"), 2);
    ck_assert_msg(!nl_path_exists(path), "a refused sweep left a %s it made", path);
    tu_tmp_remove();
}
END_TEST

/* ---- kill -9 and Ctrl-C ---- */

/* runs long enough to be caught mid-sweep: a few hundred milliseconds each */
static const char *slow_experiment =
    "name: slow\nbase: base.yaml\n"
    "set: {train.steps: 1500, model.widths: [64, 64], data.train_size: 1024, train.eval_every: 500}\n"
    "grid:\n  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]\n";

static pid_t start_sweep(const char *args)
{
    return tu_normlab_start(args, "sweep-out.txt", "sweep-err.txt");
}

static int count_finished(const char *sweep_dir, char names[][160], int max)
{
    char runs[600];
    snprintf(runs, sizeof runs, "%s/%s/runs", tu_tmp, sweep_dir);
    DIR *d = opendir(runs);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/%s", runs, e->d_name);
        if (nl_run_dir_status(dir) == NL_RUN_OK && n < max)
            snprintf(names[n++], 160, "%.150s", e->d_name);
    }
    closedir(d);
    return n;
}

static void wait_for_finished(const char *sweep_dir, int want)
{
    char names[64][160];
    for (int i = 0; i < 2000 && count_finished(sweep_dir, names, 64) < want; i++)
        usleep(10000);
    ck_assert_int_ge(count_finished(sweep_dir, names, 64), want);
}

static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (strstr(e->d_name, ".tmp."))
            n++;
        else if (nl_is_dir(path))
            n += count_temps(path);
    }
    closedir(d);
    return n;
}

typedef struct {
    char name[160];
    struct timespec mtime;
    char started[64];
} finished_run;

START_TEST(test_kill9_and_resume)
{
    tu_tmp_make("sweep");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", slow_experiment);
    const pid_t pid = start_sweep("sweep exp.yaml -j 2");
    wait_for_finished("results/slow", 4);
    /* the sweep and its runs, all at once */
    ck_assert_int_eq(kill(-pid, SIGKILL), 0);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert(WIFSIGNALED(status));
    usleep(50000); /* the killed children leave the process table */

    char names[64][160];
    const int n_done = count_finished("results/slow", names, 64);
    ck_assert_int_lt(n_done, 14); /* killed mid-way */
    finished_run done[64];
    for (int i = 0; i < n_done; i++) {
        char path[1024];
        snprintf(done[i].name, sizeof done[i].name, "%.150s", names[i]);
        snprintf(path, sizeof path, "%s/results/slow/runs/%.150s/summary.json", tu_tmp, names[i]);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        done[i].mtime = st.st_mtim;
        char rel[600];
        snprintf(rel, sizeof rel, "results/slow/runs/%.150s/summary.json", names[i]);
        char *json = tu_tmp_read(rel);
        ck_assert(nl_json_flat_get(json, "started_at", done[i].started, sizeof done[i].started));
        free(json);
    }
    /* summary.csv is whole: it reads, one row per run, never a torn line */
    summary_row rows[32];
    ck_assert_int_eq(read_summary("results/slow", NULL, rows, 32), 14);

    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 0);
    char *out = tu_normlab_output();
    char finished_before[64];
    snprintf(finished_before, sizeof finished_before, "(%d finished before)", n_done);
    ck_assert_msg(strstr(out, finished_before), "%.3000s", out);
    free(out);
    const int n = read_summary("results/slow", NULL, rows, 32);
    ck_assert_int_eq(n, 14);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(rows[i].status, "ok");
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(rows[i].run, rows[j].run);
    }
    for (int i = 0; i < 14; i++) {
        char want[32];
        snprintf(want, sizeof want, "seed-%d", i + 1);
        ck_assert_str_eq(rows[i].run, want);
    }
    /* nothing half-written anywhere */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/results/slow", tu_tmp);
    ck_assert_int_eq(count_temps(dir), 0);
    /* the runs that had finished were not run again */
    for (int i = 0; i < n_done; i++) {
        char path[1024], rel[600], started[64];
        snprintf(path, sizeof path, "%s/results/slow/runs/%.150s/summary.json", tu_tmp, done[i].name);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_msg(st.st_mtim.tv_sec == done[i].mtime.tv_sec && st.st_mtim.tv_nsec == done[i].mtime.tv_nsec,
                      "%s was run again", done[i].name);
        snprintf(rel, sizeof rel, "results/slow/runs/%.150s/summary.json", done[i].name);
        char *json = tu_tmp_read(rel);
        ck_assert(nl_json_flat_get(json, "started_at", started, sizeof started));
        ck_assert_str_eq(started, done[i].started);
        free(json);
    }
    tu_tmp_remove();
}
END_TEST

START_TEST(test_interrupt)
{
    tu_tmp_make("sweep");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", slow_experiment);
    const pid_t pid = start_sweep("sweep exp.yaml -j 2");
    wait_for_finished("results/slow", 1);
    /* a second sweep of the same directory refuses to run the same runs */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml"), 2);
    char *second = tu_normlab_output();
    ck_assert_msg(strstr(second, "another normlab sweep is running results/slow (pid "), "%.3000s", second);
    free(second);
    /* Ctrl-C reaches the whole foreground process group */
    ck_assert_int_eq(kill(-pid, SIGINT), 0);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    char *err = tu_tmp_read("sweep-err.txt");
    ck_assert_msg(strstr(err, "interrupted"), "%.3000s", err);
    free(err);
    /* no run claims to be running (the ones that were training stopped
     * cleanly; one started as the signal came may have died before it wrote
     * anything: pending); summary.csv has every run */
    summary_row rows[32];
    ck_assert_int_eq(read_summary("results/slow", NULL, rows, 32), 14);
    int ok = 0;
    for (int i = 0; i < 14; i++) {
        char dir[600], json[700];
        snprintf(dir, sizeof dir, "%s/results/slow/runs/%.150s", tu_tmp, rows[i].run);
        snprintf(json, sizeof json, "%s/summary.json", dir);
        if (nl_path_exists(json))
            ck_assert_msg(nl_run_dir_status(dir) != NL_RUN_RUNNING, "%s still says running", rows[i].run);
        ck_assert_str_ne(rows[i].status, "running");
        ok += !strcmp(rows[i].status, "ok");
    }
    ck_assert_int_ge(ok, 1);
    ck_assert_int_lt(ok, 14);
    /* the dry run names each unfinished run's state in the report page's
     * word for it (a run stopped by Ctrl-C is interrupted, not failed) */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run"), 0);
    char *plan = tu_normlab_output();
    for (int i = 0; i < 14; i++) {
        char dir[600], want[64];
        snprintf(dir, sizeof dir, "%s/results/slow/runs/%.150s", tu_tmp, rows[i].run);
        const nl_run_phase phase = nl_run_phase_read(dir);
        if (phase == NL_PHASE_OK || !nl_path_exists(dir))
            continue; /* finished, or never started (planned as "run") */
        snprintf(want, sizeof want, "rerun (%s)", nl_run_phase_name(phase));
        char name[200];
        snprintf(name, sizeof name, "%.150s ", rows[i].run); /* seed-1, not seed-10 */
        const char *line = strstr(plan, name);
        ck_assert_msg(line, "%s is not in the dry run:\n%.3000s", rows[i].run, plan);
        const char *end = strchr(line, '\n');
        ck_assert_msg(strstr(line, want) && (!end || strstr(line, want) < end), "%s: not '%s':\n%.3000s",
                      rows[i].run, want, plan);
    }
    free(plan);
    tu_tmp_remove();
}
END_TEST

/* On a terminal the sweep's status line is redrawn in place: every redraw
 * must fit the terminal's width (a wrapped line leaves a new line per
 * redraw), with the bar and the ETA in it at 80 columns; the diverged run
 * of this grid puts the longest status on it. `script` (util-linux) gives
 * normlab a terminal. */
static void check_sweep_progress_fits(int columns)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -rf tty-sweep && script -qfec 'stty cols %d; %s sweep exp.yaml -j 2 --out tty-sweep' "
             "/dev/null > tty.txt 2>&1",
             tu_tmp, columns, NORMLAB_BINARY);
    ck_assert_int_eq(system(cmd), 0);
    char *out = tu_tmp_read("tty.txt");
    int redraws = 0;
    bool saw_diverged = false;
    for (char *seg = strtok(out, "\r\n"); seg; seg = strtok(NULL, "\r\n")) {
        char *clear = strstr(seg, "\033[K");
        if (!clear || clear == seg)
            continue; /* a plain line (an event, the result) or a bare clear */
        *clear = '\0';
        redraws++;
        ck_assert_msg((int)strlen(seg) < columns, "a %d-column redraw at %d columns: '%s'", (int)strlen(seg),
                      columns, seg);
        if (columns >= 80)
            ck_assert_msg(seg[0] == '[' && strstr(seg, "ETA "), "no bar or no ETA at %d columns: '%s'", columns,
                          seg);
        saw_diverged |= strstr(seg, "1 diverged") != NULL;
    }
    ck_assert_msg(redraws >= 4, "%d redraws", redraws);
    if (columns >= 80)
        ck_assert_msg(saw_diverged, "the diverged run is not counted in any redraw");
    free(out);
}

START_TEST(test_progress_fits_terminal)
{
    tu_tmp_make("sweep-tty");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: tty\nbase: base.yaml\n"
                           "grid:\n  train.optimizer.lr: [0.05, 1e30]\n  seed: [1, 2, 3]\n");
    check_sweep_progress_fits(40);
    check_sweep_progress_fits(80);
    check_sweep_progress_fits(200);
    /* not a terminal: whole lines, nothing redrawn, every count spelled out */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out plain"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(!strchr(out, '\r') && !strchr(out, '\033'), "%.3000s", out);
    ck_assert_msg(strstr(out, "sweep: ") && strstr(out, ", 0 failed, "), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sweep");
    TCase *plan_case = tcase_create("plan");
    tcase_add_test(plan_case, test_grid_order_and_names);
    tcase_add_test(plan_case, test_derived_values);
    tcase_add_test(plan_case, test_exclusions);
    tcase_add_test(plan_case, test_set_key_that_does_not_apply);
    tcase_add_test(plan_case, test_grid_key_that_does_not_apply);
    tcase_add_test(plan_case, test_shards_partition);
    tcase_add_test(plan_case, test_values_equal);
    tcase_add_test(plan_case, test_long_grid_values);
    tcase_add_test(plan_case, test_formulas_in_grid);
    tcase_add_test(plan_case, test_bad_experiment_files);
    tcase_add_test(plan_case, test_default_sweep_name);
    tcase_add_test(plan_case, test_resume_record);
    tcase_add_test(plan_case, test_resume_command_pastes);
    tcase_add_test(plan_case, test_kept_experiment);
    suite_add_tcase(s, plan_case);
    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 120);
    tcase_add_test(runs, test_sweep_runs_and_resumes);
    tcase_add_test(runs, test_refused_sweep_leaves_lock);
    tcase_add_test(runs, test_failed_run_and_shards);
    tcase_add_test(runs, test_set_threads);
    tcase_add_test(runs, test_kill9_and_resume);
    tcase_add_test(runs, test_interrupt);
    tcase_add_test(runs, test_progress_fits_terminal);
    suite_add_tcase(s, runs);
    return tu_run_suite(s);
}
