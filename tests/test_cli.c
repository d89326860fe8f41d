// ctest-labels: cpu
/* The normlab binary end to end on synthetic data: run outputs, divergence,
 * determinism, refusing to overwrite, interruption, kill -9, validate, list. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "config/schema.h"
#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "log/files.h"
#include "results/rundir.h"
#include "testutil.h"
#include "train/run.h"

static char *read_text(const char *path)
{
    char *text = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
    return text;
}







static const char *small_config =
    "name: small\n"
    "seed: 3\n"
    "data: {dataset: synthetic, train_size: 1024, test_size: 256}\n"
    "model:\n"
    "  arch: mlp\n"
    "  widths: [64, 32]\n"
    "  norm: {type: batch}\n"
    "train:\n"
    "  batch_size: 32\n"
    "  epochs: 3\n"
    "  eval_every: 32\n"
    "  log_every: 8\n"
    "  optimizer: {lr: 0.05, momentum: 0.9}\n";


typedef struct {
    long step;
    char split[32];
    double loss, accuracy;
} row;

static int read_metrics(const char *dir, row *rows, int max)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", tu_tmp, dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[512];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "step,epoch,split,loss,accuracy,lr,elapsed_s\n");
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        double epoch, lr, elapsed;
        int got = sscanf(line, "%ld,%lf,%31[^,],%lf,%lf,%lf,%lf", &rows[n].step, &epoch,
                         rows[n].split, &rows[n].loss, &rows[n].accuracy, &lr, &elapsed);
        ck_assert_msg(got == 7, "bad row: %s", line);
        n++;
    }
    fclose(f);
    return n;
}

START_TEST(test_run_outputs)
{
    tu_tmp_make("cli");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2"), 0);
    row rows[200];
    int n = read_metrics("results/small", rows, 200);
    int train = 0, test = 0, trainmode = 0;
    double first_train = -1, last_train = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].split, "train") == 0) {
            if (first_train < 0)
                first_train = rows[i].loss;
            last_train = rows[i].loss;
            train++;
        }
        test += strcmp(rows[i].split, "test") == 0;
        trainmode += strcmp(rows[i].split, "test_trainmode") == 0;
    }
    ck_assert_int_eq(train, 12); /* 96 steps, a row every 8 */
    ck_assert_int_eq(test, 4);   /* steps 0, 32, 64, 96 */
    ck_assert_int_eq(trainmode, 4);
    ck_assert_msg(last_train < 0.6 * first_train, "loss %g -> %g", first_train, last_train);
    char path[512], value[64];
    snprintf(path, sizeof path, "%s/results/small/summary.json", tu_tmp);
    char *summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "status", value, sizeof value));
    ck_assert_str_eq(value, "ok");
    ck_assert(nl_json_flat_get(summary, "steps", value, sizeof value));
    ck_assert_str_eq(value, "96");
    ck_assert(nl_json_flat_get(summary, "final_test_accuracy", value, sizeof value));
    ck_assert_double_gt(atof(value), 0.3);
    /* the CPU records nothing (train.cuda_graph is the GPU's) */
    ck_assert(nl_json_flat_get(summary, "replayed_steps", value, sizeof value));
    ck_assert_str_eq(value, "0");
    free(summary);
    /* the resolved config loads back */
    snprintf(path, sizeof path, "%s/results/small/config.yaml", tu_tmp);
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(cfg->train.batch_size, 32);
    ck_assert_int_eq(cfg->model.norm.kind, NL_NORM_BATCH);
    free(cfg);
    /* a finished run is not overwritten without --force */
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--force"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --force"), 0);
}
END_TEST

/* show RUN_DIR --params on results/small (the batch-norm mlp): PyTorch's
 * names in build order, the sizes adding up to the recorded count, and
 * offsets that read final.nlck's arena: 16-float aligned, the decayed
 * weights first, no overlap, ending where the file's arena ends, and the
 * gains found at their offsets (near 1 after training, where the linear
 * weights are small) */
static void check_show_params(long recorded)
{
    ck_assert_int_eq(tu_normlab("show results/small --params"), 0);
    char *out = tu_normlab_output();
    static const char *names[] = {"fc1.weight",        "norm1.weight",    "norm1.bias",
                                  "fc2.weight",        "norm2.weight",    "norm2.bias",
                                  "classifier.weight", "classifier.bias"};
    enum { N = sizeof names / sizeof names[0] };
    long offset[N], size[N], total = 0;
    int decayed[N];
    const char *line = strstr(out, "name,shape,offset,decayed\n");
    ck_assert_msg(line == out, "%s", out);
    line = strchr(line, '\n') + 1;
    for (int k = 0; k < N; k++, line = strchr(line, '\n') + 1) {
        char name[64], shape[64];
        ck_assert_msg(sscanf(line, "%63[^,],%63[^,],%ld,%d", name, shape, &offset[k], &decayed[k]) == 4,
                      "row %d of:\n%s", k, out);
        ck_assert_str_eq(name, names[k]);
        size[k] = 1;
        for (char *dim = strtok(shape, "x"); dim; dim = strtok(NULL, "x"))
            size[k] *= atol(dim);
        total += size[k];
        ck_assert_int_eq(decayed[k], strstr(name, "weight") && name[0] != 'n');
        ck_assert_int_eq(offset[k] % 16, 0);
    }
    ck_assert_msg(*line == '\0', "more rows than the model's:\n%s", out);
    free(out);
    ck_assert_int_eq(total, recorded);
    long end = 0, first_undecayed = 1L << 40, last_decayed_end = 0;
    for (int k = 0; k < N; k++) {
        const long padded_end = offset[k] + (size[k] + 15) / 16 * 16;
        for (int j = 0; j < N; j++) /* no two overlap */
            ck_assert(j == k || offset[j] >= padded_end || offset[j] + size[j] <= offset[k]);
        end = padded_end > end ? padded_end : end;
        if (decayed[k])
            last_decayed_end = padded_end > last_decayed_end ? padded_end : last_decayed_end;
        else if (offset[k] < first_undecayed)
            first_undecayed = offset[k];
    }
    ck_assert_int_le(last_decayed_end, first_undecayed);
    /* final.nlck: a 48-byte header, the config keys (i64 length, bytes),
     * i64 parameter floats, state floats, counters, then the arena */
    char path[512], *raw = NULL;
    size_t len = 0;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/results/small/final.nlck", tu_tmp);
    ck_assert_msg(nl_read_file(path, &raw, &len, &err) == NL_OK, "%s", err.msg);
    int64_t keys = 0, arena = 0;
    memcpy(&keys, raw + 48, sizeof keys);
    const size_t at = 48 + 8 + (size_t)keys;
    memcpy(&arena, raw + at, sizeof arena);
    ck_assert_int_eq(arena, end);
    const float *params = (const float *)(raw + at + 24);
    ck_assert_uint_ge(len, at + 24 + (size_t)arena * sizeof(float));
    for (int k = 0; k < N; k++) {
        double mean = 0, mean_abs = 0;
        for (long i = 0; i < size[k]; i++) {
            mean += params[offset[k] + i] / (double)size[k];
            mean_abs += fabs(params[offset[k] + i]) / (double)size[k];
        }
        if (strstr(names[k], "norm") && strstr(names[k], ".weight"))
            ck_assert_msg(mean > 0.5 && mean < 1.5, "%s: mean %g, not a gain's", names[k], mean);
        else if (decayed[k])
            ck_assert_msg(mean_abs < 0.3, "%s: mean |w| %g, not a weight's", names[k], mean_abs);
    }
    free(raw);
}

/* show: the model a config builds, and a run directory's outcome; the
 * parameter count agrees with the one the run recorded */
START_TEST(test_show)
{
    tu_tmp_make("cli-show");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 1"), 0);
    char path[512], recorded[64], line[96];
    snprintf(path, sizeof path, "%s/results/small/summary.json", tu_tmp);
    char *summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "parameters", recorded, sizeof recorded));
    free(summary);
    snprintf(line, sizeof line, "\n  %s parameters (", recorded);
    ck_assert_int_eq(tu_normlab("show small.yaml"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, line) && strstr(out, "batchnorm") && strstr(out, "linear") &&
                      strstr(out, "train.trace.activation accepts: input"),
                  "no '%s' in:\n%s", line, out);
    free(out);
    ck_assert_int_eq(tu_normlab("show results/small"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "results/small: ok, 96 steps, final test accuracy") && strstr(out, line),
                  "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("show results"), 2); /* no config.yaml: not a run */
    check_show_params(atol(recorded));
    /* a ViT: only the activations the run's check accepts (its tokens take
     * no trace), each of which validates */
    tu_tmp_write("vit.yaml", "name: vit\n"
                             "data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}\n"
                             "model: {arch: vit, patch: 4, d_model: 16, heads: 2, layers: 1}\n"
                             "train: {batch_size: 16, steps: 2, optimizer: {type: adamw, lr: 0.001}}\n");
    ck_assert_int_eq(tu_normlab("show vit.yaml"), 0);
    out = tu_normlab_output();
    const char *accepts = strstr(out, "train.trace.activation accepts: ");
    ck_assert_msg(accepts && !strstr(accepts, "blocks.0") && strstr(accepts, " pool "), "%s", out);
    char names[512];
    const char *list = accepts + strlen("train.trace.activation accepts: ");
    snprintf(names, sizeof names, "%.*s", (int)strcspn(list, ",\n"), list);
    free(out);
    int listed = 0;
    for (char *name = strtok(names, " "); name; name = strtok(NULL, " "), listed++) {
        char args[256];
        snprintf(args, sizeof args, "validate vit.yaml --set train.trace.activation=%s", name);
        ck_assert_msg(tu_normlab(args) == 0, "show lists %s, which validate refuses", name);
    }
    ck_assert_int_ge(listed, 3);
    ck_assert_int_eq(tu_normlab("validate vit.yaml --set train.trace.activation=blocks.0.add2"), 2);
    /* a language model: none, as the check says */
    tu_tmp_write("lm.yaml", "name: lm\ndata: {dataset: synthetic_text}\n"
                            "model: {arch: lm, d_model: 16, heads: 2, layers: 1, context: 8}\n"
                            "train: {batch_size: 4, steps: 2, optimizer: {type: adamw, lr: 0.001}}\n");
    ck_assert_int_eq(tu_normlab("show lm.yaml"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "train.trace.activation accepts nothing: token models take no activation trace"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("validate lm.yaml --set train.trace.activation=input"), 2);
    ck_assert_int_eq(tu_normlab("show small.yaml --set model.widths=[0]"), 2);
}
END_TEST

START_TEST(test_same_seed_same_metrics)
{
    tu_tmp_make("cli");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2 --out a"), 0);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2 --out b"), 0);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2 --out c --set seed=4"), 0);
    row a[200], b[200], c[200];
    int na = read_metrics("a", a, 200), nb = read_metrics("b", b, 200), nc = read_metrics("c", c, 200);
    ck_assert_int_eq(na, nb);
    ck_assert_int_eq(na, nc);
    bool differs = false;
    for (int i = 0; i < na; i++) {
        /* everything but the timing column is identical */
        ck_assert_int_eq(a[i].step, b[i].step);
        ck_assert_str_eq(a[i].split, b[i].split);
        ck_assert_msg(a[i].loss == b[i].loss && a[i].accuracy == b[i].accuracy,
                      "row %d differs: %.9g vs %.9g", i, a[i].loss, b[i].loss);
        differs |= a[i].loss != c[i].loss;
    }
    ck_assert_msg(differs, "another seed gave the same run");
}
END_TEST

START_TEST(test_divergence_is_a_result)
{
    tu_tmp_make("cli");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --set model.norm.type=none --set "
                             "train.optimizer.lr=1000 --out diverged"), 0);
    char path[512], value[64];
    snprintf(path, sizeof path, "%s/diverged/summary.json", tu_tmp);
    char *summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "status", value, sizeof value));
    ck_assert_str_eq(value, "diverged");
    ck_assert(nl_json_flat_get(summary, "steps", value, sizeof value));
    ck_assert_int_lt(atoi(value), 96); /* stopped early */
    const int steps = atoi(value);
    char reason[256];
    ck_assert(nl_json_flat_get(summary, "reason", reason, sizeof reason));
    free(summary);
    /* dated at the step whose loss first was not finite or exceeded the
     * bound, not at the next train row: a row every step finds the same step */
    char dated[160];
    snprintf(dated, sizeof dated, " at step %d, the first step whose loss ", steps);
    ck_assert_msg(!strncmp(reason, "training loss ", 14) && strstr(reason, dated), "'%s', not '%s'", reason,
                  dated);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --set model.norm.type=none --set "
                                "train.optimizer.lr=1000 --set train.log_every=1 --out every-step"), 0);
    snprintf(path, sizeof path, "%s/every-step/summary.json", tu_tmp);
    summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "steps", value, sizeof value));
    ck_assert_int_eq(atoi(value), steps);
    free(summary);
    /* and the run's last train row is at that step, off the log_every grid */
    row rows[64];
    const int n = read_metrics("diverged", rows, 64);
    ck_assert_int_eq(rows[n - 1].step, steps);
    ck_assert_msg(steps % 8 != 0, "step %d is on the log_every grid: the check cannot tell", steps);
}
END_TEST

/* Convolutions on oneDNN (NORMLAB_CONV=onednn) repeat bit for bit at one
 * thread count, as normlab's own do; summary.json and --version name the
 * library a run used; a value NORMLAB_CONV does not know stops every
 * command with exit 2, naming the accepted ones. */
START_TEST(test_conv_library_reruns)
{
    tu_tmp_make("cli");
    tu_tmp_write("resnet.yaml",
                 "name: resnet\nseed: 3\n"
                 "data: {dataset: synthetic, shape: [1, 12, 12], classes: 3, train_size: 96, "
                 "test_size: 32}\n"
                 "model: {arch: resnet, widths: [8, 16], blocks_per_stage: 1, norm: {type: batch}}\n"
                 "train: {batch_size: 16, steps: 12, eval_every: 6, log_every: 2,\n"
                 "        optimizer: {lr: 0.05, momentum: 0.9}}\n");
    const bool onednn = nl_cpu_onednn_version() != NULL;
    const char *env = onednn ? "NORMLAB_CONV=onednn" : "NORMLAB_CONV=normlab";
    char args[256];
    static const char *const dirs[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "run resnet.yaml --quiet --threads 2 --out %s", dirs[i]);
        setenv("NORMLAB_CONV", strchr(env, '=') + 1, 1);
        ck_assert_int_eq(tu_normlab(args), 0);
    }
    char *a = tu_metrics_without_time("a"), *b = tu_metrics_without_time("b");
    ck_assert_msg(strlen(a) > 100 && !strcmp(a, b), "%s: reruns differ:\n%s\n%s", env, a, b);
    free(a);
    free(b);
    char *summary = tu_tmp_read("a/summary.json");
    char want[NL_CONV_LIBRARY_RECORD_BYTES + 32];
    snprintf(want, sizeof want, "\"conv_library\": \"%s\"",
             onednn ? nl_cpu_onednn_version() : "normlab");
    ck_assert_msg(strstr(summary, want), "%s not in %s", want, summary);
    /* every convolution its rule took ran there (the batches were planned) */
    ck_assert_msg(strstr(summary, "\"conv_library_fallbacks\": 0"), "%s", summary);
    /* and the implementations oneDNN picked for them, "kind:instructions" each */
    const char *kernels = strstr(summary, "\"conv_kernels\": \"");
    if (onednn)
        ck_assert_msg(kernels && kernels[17] != '"' && strchr(kernels + 17, ':') &&
                          strchr(kernels + 17, ':') < strchr(kernels + 17, '"'),
                      "%s", summary);
    else
        ck_assert_msg(!kernels, "%s", summary);
    free(summary);
    setenv("NORMLAB_CONV", "mkl", 1);
    ck_assert_int_eq(tu_normlab("run resnet.yaml --quiet --out c"), 2);
    char *out = tu_normlab_output();
    /* the accepted names are this build's */
    ck_assert_msg(strstr(out, "NORMLAB_CONV 'mkl' is not a convolution library") &&
                      strstr(out, onednn ? "accepted: auto, normlab, onednn" : "accepted: auto, normlab\n"),
                  "%s", out);
    free(out);
    /* the kernel set caps oneDNN's instructions (conv_onednn.c): x86-64-v3's runs take its AVX2 kernels */
    int v3 = -1;
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++)
        if (!strcmp(nl_cpu_kernel_set_name(i), "x86-64-v3") && nl_cpu_kernel_set_runs_here(i))
            v3 = i;
    if (onednn && v3 >= 0) {
        setenv("NORMLAB_CONV", "onednn", 1);
        char command[1024];
        snprintf(command, sizeof command,
                 "cd %s && DNNL_VERBOSE=1 NORMLAB_CPU_KERNELS=x86-64-v3 %s run resnet.yaml --quiet "
                 "--out v3 --set train.steps=1 --set train.eval_every=1000 > v3.txt 2>&1",
                 tu_tmp, NORMLAB_BINARY);
        ck_assert_int_eq(system(command), 0);
        char *verbose = tu_tmp_read("v3.txt");
        ck_assert_msg(strstr(verbose, "jit:avx2") && !strstr(verbose, "avx512"), "%.600s", verbose);
        free(verbose);
    }
    unsetenv("NORMLAB_CONV");
    ck_assert_int_eq(tu_normlab("--version"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "conv library: "), "%s", out);
    free(out);
}
END_TEST

/* A CNN builds each stage's ReLU into its max pooling; a traced run keeps
 * them apart (the traced activation must be a tensor). Both must train to
 * the same bits. */
START_TEST(test_trace_keeps_relu_pool_apart)
{
    tu_tmp_make("cli");
    tu_tmp_write("cnn.yaml",
                 "name: cnn\nseed: 5\n"
                 "data: {dataset: synthetic, shape: [2, 12, 12], classes: 3, train_size: 128, "
                 "test_size: 32}\n"
                 "model: {arch: cnn, widths: [4, 8], norm: {type: group, groups: 2}}\n"
                 "train: {batch_size: 8, steps: 24, eval_every: 12, log_every: 4,\n"
                 "        optimizer: {lr: 0.05, momentum: 0.9}}\n");
    ck_assert_int_eq(tu_normlab("run cnn.yaml --quiet --threads 2 --out fused"), 0);
    ck_assert_int_eq(tu_normlab("run cnn.yaml --quiet --threads 2 --out traced "
                             "--set train.trace.activation=act2 --set train.trace.every=4"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/traced/trace.csv", tu_tmp);
    char *trace = read_text(path);
    int lines = 0;
    for (const char *c = trace; *c; c++)
        lines += *c == '\n';
    ck_assert_msg(lines >= 3, "trace.csv: a header and rows expected, got %d lines", lines);
    free(trace);
    row a[64], b[64];
    const int na = read_metrics("fused", a, 64), nb = read_metrics("traced", b, 64);
    ck_assert_int_eq(na, nb);
    ck_assert_int_gt(na, 4);
    for (int i = 0; i < na; i++)
        ck_assert_msg(a[i].loss == b[i].loss && a[i].accuracy == b[i].accuracy,
                      "row %d: fused %.9g, separate layers %.9g", i, a[i].loss, b[i].loss);
}
END_TEST

START_TEST(test_bad_input_writes_nothing)
{
    tu_tmp_make("cli");
    tu_tmp_write("bad.yaml", "name: bad\nmodel:\n  norm:\n    type: bach\n");
    ck_assert_int_eq(tu_normlab("run bad.yaml"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "bad.yaml:4:") && strstr(out, "batch"), "%s", out);
    free(out);
    char path[512];
    snprintf(path, sizeof path, "%s/results", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "a failed config created %s", path);
    /* data that is not there: exit 2, nothing written */
    tu_tmp_write("nodata.yaml", "name: nodata\ndata: {dataset: mnist, path: /nonexistent/mnist}\n");
    ck_assert_int_eq(tu_normlab("run nodata.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "/nonexistent/mnist"), "%s", out);
    free(out);
    ck_assert(!nl_path_exists(path));
    /* usage errors */
    ck_assert_int_eq(tu_normlab("run"), 2);
    ck_assert_int_eq(tu_normlab("run small.yaml --threads zero"), 2);
    ck_assert_int_eq(tu_normlab("run small.yaml --bogus"), 2);
    /* --out '' (an unset variable) is refused, not read as no --out: a run
     * went to results/<name>/, a sweep put runs/ and summary.csv at / */
    tu_tmp_write("good.yaml", "name: good\ndata: {shape: [4], classes: 2, train_size: 32, "
                              "test_size: 16}\nmodel: {widths: [4]}\ntrain: {batch_size: 8, steps: 2}\n");
    ck_assert_int_eq(tu_normlab("run good.yaml --quiet --out ''"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--out needs a directory"), "%s", out);
    free(out);
    ck_assert_msg(!nl_path_exists(path), "run --out '' wrote %s", path);
    tu_tmp_write("exp.yaml", "name: exp\nbase: good.yaml\ngrid: {seed: [1, 2]}\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run --out ''"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--out needs a directory"), "%s", out);
    free(out);
    /* the same for every other option naming a place to write */
    static const char *const empty_places[] = {
        "plot --write-templates ''", "plot . --templates ''", "compare . . --out ''",
        "compare . . --templates ''", "table . --csv ''"};
    for (size_t k = 0; k < sizeof empty_places / sizeof empty_places[0]; k++) {
        ck_assert_int_eq(tu_normlab(empty_places[k]), 2);
        out = tu_normlab_output();
        ck_assert_msg(strstr(out, "got ''"), "%s: %s", empty_places[k], out);
        free(out);
    }
    ck_assert_int_eq(tu_normlab("run good.yaml --quiet --out x --threads ' 2'"), 2);
    snprintf(path, sizeof path, "%s/x", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "a refused --threads wrote %s", path);
    /* threads: 0 takes OMP_NUM_THREADS, but not past what threads: accepts:
     * 100000 crashed libgomp at the first parallel region */
    setenv("OMP_NUM_THREADS", "100000", 1);
    ck_assert_int_eq(tu_normlab("run good.yaml --quiet --out x"), 2);
    unsetenv("OMP_NUM_THREADS");
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "OMP_NUM_THREADS=100000 asks for 100000 threads; accepted: at most "
                              "1024"), "%s", out);
    free(out);
    ck_assert_msg(!nl_path_exists(path), "a refused OMP_NUM_THREADS wrote %s", path);
    snprintf(path, sizeof path, "%s/results", tu_tmp);
    ck_assert_int_eq(tu_normlab("frobnicate"), 2);
    ck_assert_int_eq(tu_normlab("rnu"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "did you mean 'run'"), "%s", out);
    free(out);
}
END_TEST

/* issue 29: what can make a run fail on bad input is found by validate,
 * by run before it writes anything, and by a sweep before its first run,
 * each with the file, line and key */
static const struct {
    const char *yaml, *where, *what;
} unrunnable[] = {
    /* the traced unit and activation against the model */
    {"data: {shape: [8], classes: 3, train_size: 64, test_size: 32}\nmodel: {widths: [16]}\n"
     "train: {batch_size: 16, steps: 5, trace: {activation: act1, unit: 16}}\n",
     "x.yaml:3:67: train.trace.unit:", "16 is out of range: 'act1' has 16 features; accepted: 0 to 15"},
    {"data: {shape: [8], classes: 3, train_size: 64, test_size: 32}\nmodel: {widths: [16]}\n"
     "train: {batch_size: 16, steps: 5, trace: {activation: norm7}}\n",
     "x.yaml:3:55: train.trace.activation:", "no activation 'norm7'; accepted: input"},
    /* sizes against the machine's memory */
    {"model: {widths: [1048576, 1048576]}\n", "x.yaml:1:17: model.widths:",
     "the run needs 12.0 TiB of memory"},
    {"model: {widths: [65536]}\ntrain: {eval_batch_size: 1048576}\n",
     "x.yaml:2:26: train.eval_batch_size:", "activations for batches of 1048576"},
    {"data: {shape: [16, 1024, 1024], train_size: 400000}\nmodel: {arch: cnn, widths: [4]}\n",
     "x.yaml:1:45: data.train_size:", "the dataset 24.5 TiB, 400000 + 2000 samples"},
    /* IDX headers against the files: more images claimed than held */
    {"data: {dataset: mnist, path: lying, train_size: 10}\ntrain: {batch_size: 5}\n",
     "x.yaml:1:30: data.path:",
     "lying/train-images-idx3-ubyte: truncated: the header promises 2147483648 images"},
    {"data: {dataset: mnist, path: x.yaml}\n", "x.yaml:1:30: data.path:",
     "is a file, not a directory"},
    {"data: {shape: [1], classes: 2, train_size: 2147483648}\nmodel: {widths: [1]}\n",
     "x.yaml:1:44: data.train_size:", "2147483648 is out of range; accepted: an integer in [0, "
     "2147483647]"},
    {"data: {train_size: 9223372036854775807}\n", "x.yaml:1:20: data.train_size:",
     "9223372036854775807 is out of range; accepted: an integer in [0, 2147483647]"},
    /* the run's length */
    {"data: {dataset: synthetic}\ntrain: {batch_size: 20000, steps: 3}\n", "x.yaml:2:21: "
     "train.batch_size:", "20000 is larger than the 10000 training samples (the whole training "
     "split)"},
    {"data: {train_size: 1000}\ntrain: {batch_size: 2, epochs: 3000000}\n",
     "x.yaml:2:32: train.epochs:", "3000000 epochs of 500 batches are 1500000000 steps; "
     "accepted: at most 1000000000 steps in all"},
};

START_TEST(test_checks_before_work)
{
    tu_tmp_make("cli");
    tu_tmp_write_idx("lying", 30, 12, 0x80000000u, -1);
    char results[512], dir[512];
    snprintf(results, sizeof results, "%s/results", tu_tmp);
    for (size_t i = 0; i < sizeof unrunnable / sizeof unrunnable[0]; i++) {
        tu_tmp_write("x.yaml", unrunnable[i].yaml);
        const char *commands[] = {"validate x.yaml", "run x.yaml", "run x.yaml --out out"};
        for (int c = 0; c < 3; c++) {
            ck_assert_msg(tu_normlab(commands[c]) == 2, "case %zu: %s: not exit 2", i, commands[c]);
            char *out = tu_normlab_output();
            ck_assert_msg(strstr(out, unrunnable[i].where) && strstr(out, unrunnable[i].what),
                          "case %zu, %s: expected '%s ... %s', got:\n%s", i, commands[c],
                          unrunnable[i].where, unrunnable[i].what, out);
            free(out);
        }
        snprintf(dir, sizeof dir, "%s/out", tu_tmp);
        ck_assert_msg(!nl_path_exists(results) && !nl_path_exists(dir), "case %zu wrote", i);
    }
    /* the sweep's pre-check is the same function: nothing runs, nothing is written */
    tu_tmp_write("x.yaml", unrunnable[0].yaml);
    tu_tmp_write("exp.yaml", "name: e\nbase: x.yaml\ngrid:\n  seed: [1, 2]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "train.trace.unit") && strstr(out, "16 is out of range"), "%s", out);
    free(out);
    ck_assert(!nl_path_exists(results));
    /* a directory as a sweep's base config */
    tu_tmp_write("dirbase.yaml", "name: d\nbase: lying\ngrid:\n  seed: [1]\n");
    ck_assert_int_eq(tu_normlab("sweep dirbase.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "dirbase.yaml:2:7: base:") && strstr(out, "is a directory"), "%s", out);
    free(out);

    /* a config that is not there, or a directory: bad input, exit 2 */
    const char *missing[] = {"run nowhere.yaml", "validate nowhere.yaml", "run .",
                             "validate lying"};
    for (int c = 0; c < 4; c++) {
        ck_assert_msg(tu_normlab(missing[c]) == 2, "%s: not exit 2", missing[c]);
        out = tu_normlab_output();
        ck_assert_msg(strstr(out, "cannot read config"), "%s: %s", missing[c], out);
        free(out);
    }
    ck_assert(!nl_path_exists(results));
    tu_tmp_remove();
}
END_TEST

static const char *long_config =
    "name: long\n"
    "data: {dataset: synthetic, train_size: 512, test_size: 64}\n"
    "model: {arch: mlp, widths: [32]}\n"
    "train: {batch_size: 16, steps: 2000000, eval_every: 100000, log_every: 50}\n";

static pid_t start_run_of(const char *config)
{
    tu_tmp_write("long.yaml", config);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (chdir(tu_tmp) != 0)
            _exit(99);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(NORMLAB_BINARY, "normlab", "run", "long.yaml", "--quiet", "--threads", "1", (char *)NULL);
        _exit(98);
    }
    /* wait until this run is training: its own summary says running and it
     * has logged a few rows */
    char dir[400], path[512];
    snprintf(dir, sizeof dir, "%s/results/long", tu_tmp);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    for (int i = 0; i < 400; i++) {
        struct stat st;
        if (nl_run_dir_status(dir) == NL_RUN_RUNNING && nl_path_exists(dir) &&
            stat(path, &st) == 0 && st.st_size > 300)
            break;
        usleep(25000);
    }
    return pid;
}

static pid_t start_long_run(void) { return start_run_of(long_config); }

static void expect_status(const char *want)
{
    char path[512], value[64];
    snprintf(path, sizeof path, "%s/results/long/summary.json", tu_tmp);
    char *summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "status", value, sizeof value));
    ck_assert_str_eq(value, want);
    free(summary);
    ck_assert_int_eq(nl_run_dir_status(tu_tmp) , NL_RUN_RUNNING); /* no summary there */
}

START_TEST(test_interrupt_and_kill)
{
    tu_tmp_make("cli");
    pid_t pid = start_long_run();
    kill(pid, SIGINT);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    expect_status("failed");
    /* a closed terminal (SIGHUP) stops it the same way; a failed run is
     * replaced without --force */
    char old[512];
    snprintf(old, sizeof old, "%s/results/long/metrics.csv", tu_tmp);
    unlink(old);
    pid = start_long_run();
    kill(pid, SIGHUP);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFEXITED(status), "SIGHUP ended the run without recording it");
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    expect_status("failed");
    unlink(old);
    pid = start_long_run();
    kill(pid, SIGKILL);
    ck_assert(waitpid(pid, &status, 0) == pid);
    /* killed mid-run: the summary never claims it finished */
    expect_status("running");
    row rows[64];
    ck_assert_int_gt(read_metrics("results/long", rows, 64), 0);
}
END_TEST

/* show on a run that did not finish: running while a process holds it,
 * interrupted when none does, how far it got by metrics.csv and its
 * checkpoint, never a final accuracy it does not have; a summary.json cut
 * short is torn, never "ok" */
START_TEST(test_show_unfinished)
{
    tu_tmp_make("cli-show-unfinished");
    char config[512];
    snprintf(config, sizeof config, "%s  checkpoint_every: 100\n",
             "name: long\n"
             "data: {dataset: synthetic, train_size: 512, test_size: 64}\n"
             "model: {arch: mlp, widths: [32]}\n"
             "train:\n  batch_size: 16\n  steps: 2000000\n  eval_every: 100000\n  log_every: 50\n");
    pid_t pid = start_run_of(config);
    /* until a checkpoint is on disk */
    char dir[400], path[512];
    snprintf(dir, sizeof dir, "%s/results/long", tu_tmp);
    snprintf(path, sizeof path, "%s/checkpoint.nlck", dir);
    for (int i = 0; i < 400 && !nl_path_exists(path); i++)
        usleep(25000);
    ck_assert_int_eq(tu_normlab("show results/long"), 0);
    char *out = tu_normlab_output();
    char running[128];
    snprintf(running, sizeof running, "results/long: running (pid %ld", (long)pid);
    ck_assert_msg(strstr(out, running) && strstr(out, "no final test accuracy yet") && !strstr(out, "0.00%"),
                  "%s", out);
    free(out);
    kill(pid, SIGKILL);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    /* the summary written at the start claims no measurement: null, not 0 */
    char *summary = tu_tmp_read("results/long/summary.json");
    ck_assert_msg(strstr(summary, "\"status\": \"running\"") &&
                      strstr(summary, "\"final_test_accuracy\": null") &&
                      strstr(summary, "\"final_test_loss\": null") &&
                      strstr(summary, "\"final_train_loss\": null"),
                  "%s", summary);
    free(summary);
    /* the last whole row of metrics.csv, and the checkpoint's step */
    row rows[4096];
    const int n = read_metrics("results/long", rows, 4096);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(tu_normlab("show results/long"), 0);
    out = tu_normlab_output();
    char last[128];
    snprintf(last, sizeof last, "last recorded step %ld of 2000000, training loss ", rows[n - 1].step);
    ck_assert_msg(strstr(out, "results/long: interrupted: summary.json still says running, but no process "
                              "holds the run") &&
                      strstr(out, last) && strstr(out, "no final test accuracy yet") &&
                      strstr(out, "00: the same command resumes from there") && !strstr(out, "0.00%") &&
                      !strstr(out, " 0 steps"),
                  "no '%s' in\n%s", last, out);
    free(out);
    /* a lock held by another process (this one) is a running run */
    int fd = -1;
    nl_error err = {0};
    ck_assert_msg(nl_run_dir_lock(dir, &fd, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(tu_normlab("show results/long"), 0);
    out = tu_normlab_output();
    snprintf(running, sizeof running, "results/long: running (pid %ld", (long)getpid());
    ck_assert_msg(strstr(out, running), "%s", out);
    free(out);
    close(fd);
    /* no summary.json at all: unfinished, not running */
    snprintf(path, sizeof path, "%s/summary.json", dir);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(tu_normlab("show results/long"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "results/long: unfinished: no summary.json") && strstr(out, last), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* a summary.json cut short says "ok" in its first lines: show calls it torn */
START_TEST(test_show_torn_summary)
{
    tu_tmp_make("cli-show-torn");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 1"), 0);
    char *summary = tu_tmp_read("results/small/summary.json");
    ck_assert_msg(strstr(summary, "\"status\": \"ok\""), "%s", summary);
    summary[strlen(summary) / 2] = '\0';
    tu_tmp_write("results/small/summary.json", summary);
    free(summary);
    ck_assert_int_eq(tu_normlab("show results/small"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "results/small: summary.json is torn or unreadable") &&
                      strstr(out, "last recorded step 96 of 96") && !strstr(out, ": ok") &&
                      !strstr(out, "final test accuracy 7"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_validate_list_version)
{
    tu_tmp_make("cli");
    tu_tmp_write("good.yaml", small_config);
    tu_tmp_write("bad.yaml", "name: x\ntrain:\n  batch_size: 0\n");
    ck_assert_int_eq(tu_normlab("validate good.yaml"), 0);
    ck_assert_int_eq(tu_normlab("validate good.yaml bad.yaml"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "bad.yaml:3:") && strstr(out, "train.batch_size"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("validate --print good.yaml --set model.norm.type=group"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "group"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("list"), 0);
    out = tu_normlab_output();
    /* every name of every enum key (optimizers, GELU variants, ...) and every
     * switch (weight standardization, ...), from the schema itself */
    for (int k = 0; k < nl_config_schema_count; k++) {
        const nl_key_def *def = &nl_config_schema[k];
        const bool names = def->type == NL_KT_ENUM || def->type == NL_KT_NAME_SET;
        if (def->type == NL_KT_BOOL || names)
            ck_assert_msg(strstr(out, def->key), "list lacks the key %s", def->key);
        if (!names)
            continue;
        char line[160];
        for (int i = 0; i < def->names->count; i++) {
            snprintf(line, sizeof line, "\n  %s ", nl_name_of(def->names, i));
            ck_assert_msg(strstr(out, line), "list lacks %s of %s", nl_name_of(def->names, i), def->key);
        }
    }
    free(out);
    ck_assert_int_eq(tu_normlab("--version"), 0);
    ck_assert_int_eq(tu_normlab("--help"), 0);
    ck_assert_int_eq(tu_normlab("run --help"), 0);
    ck_assert_int_eq(tu_normlab("validate --help"), 0);
    ck_assert_int_eq(tu_normlab("help sweep"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "usage: normlab sweep"), "%s", out);
    free(out);
    /* --name=value is --name value everywhere; --set KEY VALUE gets a pointed message */
    ck_assert_int_eq(tu_normlab("validate --set=model.norm.type=group --print good.yaml"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "type: group"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("run good.yaml --set model.norm.type group"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--set model.norm.type=group"), "%s", out);
    free(out);
    /* --threads 0 is threads: 0, recorded in the resolved config */
    ck_assert_int_eq(tu_normlab("run good.yaml --quiet --threads 0 --set train.steps=2 --out t0"), 0);
    out = tu_tmp_read("t0/config.yaml");
    ck_assert_msg(strstr(out, "\nthreads: 0\n"), "%s", out);
    free(out);
    /* validate on an experiment file checks every run it plans */
    tu_tmp_write("exp.yaml", "base: good.yaml\ngrid: {seed: [1, 2]}\n");
    ck_assert_int_eq(tu_normlab("validate exp.yaml"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "exp.yaml: ok (an experiment: 2 runs checked)"), "%s", out);
    free(out);
    tu_tmp_write("exp.yaml", "base: good.yaml\ngrid: {model.widths: [[0]]}\n");
    ck_assert_int_eq(tu_normlab("validate exp.yaml"), 2);
    ck_assert_int_eq(tu_normlab("help swep"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "'swep' is not a command") && strstr(out, "sweep"), "%s", out);
    free(out);
}
END_TEST

/* On a terminal the progress line is redrawn in place: every redraw must
 * fit the terminal's width (a wrapped line leaves a new line per redraw),
 * and the test accuracy shows "-" until the model has been evaluated after
 * training started; the last redraw shows the final evaluation's, as the
 * result line does. `script` (util-linux) gives normlab a terminal. */
static void check_progress_fits(int columns)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -rf tty-run && script -qfec 'stty cols %d; %s run small.yaml --threads 1 "
             "--set train.steps=96 --set train.log_every=1 --out tty-run' /dev/null > tty.txt 2>&1",
             tu_tmp, columns, NORMLAB_BINARY);
    ck_assert_int_eq(system(cmd), 0);
    char *out = tu_tmp_read("tty.txt");
    const char *result = strstr(out, "tty-run: ok, test accuracy ");
    ck_assert_msg(result, "no result line: %s", out);
    char final_acc[16] = "", last_acc[16] = "";
    sscanf(result + strlen("tty-run: ok, test accuracy "), "%15[0-9.]", final_acc);
    int redraws = 0;
    bool saw_unevaluated = false;
    for (char *seg = strtok(out, "\r\n"); seg; seg = strtok(NULL, "\r\n")) {
        char *clear = strstr(seg, "\033[K");
        if (!clear)
            continue; /* a plain line (the result), not a redraw */
        *clear = '\0';
        redraws++;
        ck_assert_msg((int)strlen(seg) < columns, "a %d-column redraw at %d columns: '%s'",
                      (int)strlen(seg), columns, seg);
        const char *acc = strstr(seg, "test acc ");
        ck_assert_msg(acc, "no test accuracy in '%s'", seg);
        long step = strtol(strchr(seg, ']') ? strchr(seg, ']') + 2 : seg, NULL, 10);
        if (step < 32)
            ck_assert_msg(acc[9] == '-', "step %ld shows an accuracy before any evaluation: '%s'", step, seg);
        saw_unevaluated |= acc[9] == '-';
        last_acc[0] = '\0';
        sscanf(acc + 9, "%15[0-9.]", last_acc);
    }
    ck_assert_msg(redraws >= 2 && saw_unevaluated, "%d redraws", redraws);
    ck_assert_msg(!strcmp(last_acc, final_acc), "the last redraw shows test acc %s, the result %s%%",
                  last_acc, final_acc);
    free(out);
}

START_TEST(test_progress_fits_terminal)
{
    tu_tmp_make("cli-tty");
    tu_tmp_write("small.yaml", small_config);
    check_progress_fits(60);
    check_progress_fits(80);
    check_progress_fits(200);
}
END_TEST

/* normlab bounds libgomp's barrier spinning by re-executing itself with
 * GOMP_SPINCOUNT set, unless the user chose a wait policy */
static char *version_with_env(const char *env)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY %s %s --version > out.txt 2>&1",
             tu_tmp, env, NORMLAB_BINARY);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return tu_normlab_output();
}

START_TEST(test_openmp_spinning_bounded)
{
    tu_tmp_make("cli-spin");
    char *out = version_with_env("");
    ck_assert_msg(strstr(out, "openmp wait: GOMP_SPINCOUNT="), "%s", out);
    ck_assert_msg(!strstr(out, "GOMP_SPINCOUNT=300000"), "%s", out);
    free(out);
    out = version_with_env("OMP_WAIT_POLICY=passive");
    ck_assert_msg(strstr(out, "openmp wait: OMP_WAIT_POLICY=passive"), "%s", out);
    free(out);
    out = version_with_env("GOMP_SPINCOUNT=77");
    ck_assert_msg(strstr(out, "openmp wait: GOMP_SPINCOUNT=77 "), "%s", out);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_run_outputs);
    tcase_add_test(tc, test_same_seed_same_metrics);
    tcase_add_test(tc, test_conv_library_reruns);
    tcase_add_test(tc, test_divergence_is_a_result);
    tcase_add_test(tc, test_trace_keeps_relu_pool_apart);
    tcase_add_test(tc, test_bad_input_writes_nothing);
    tcase_add_test(tc, test_checks_before_work);
    tcase_add_test(tc, test_interrupt_and_kill);
    tcase_add_test(tc, test_validate_list_version);
    tcase_add_test(tc, test_show);
    tcase_add_test(tc, test_show_unfinished);
    tcase_add_test(tc, test_show_torn_summary);
    tcase_add_test(tc, test_openmp_spinning_bounded);
    tcase_add_test(tc, test_progress_fits_terminal);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
