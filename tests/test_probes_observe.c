/* The probes that only observe, all at once: a run with every one of them
 * on (gradient norms, weight statistics, the variance shift, signal
 * propagation, the landscape probe, an activation trace, and on the ResNet
 * the block removals, which drop branches and take them back) trains exactly
 * as the run without any: metrics.csv equal (times aside) and the final
 * model equal byte for byte. Each probe's own test checks it alone; this
 * one checks that they do not disturb each other or the run together, on
 * a network with batch norm and dropout (whose masks the landscape probe's
 * extra passes must not advance) and on a ResNet. */
// ctest-labels: kernels
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/checkpoint.h"

static const char every_probe[] =
    "--set train.log.grad_norms=true --set train.log.weight_stats=true "
    "--set train.log.variance_shift=true --set train.log.signal_propagation=true "
    "--set train.log.signal_propagation_batches=2 --set train.log.landscape.every=3 "
    "--set train.trace.every=4 --set train.trace.samples=32 --set train.trace.activation=";

static char *read_bytes(const char *name, size_t *size)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: missing", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    char *bytes = malloc(*size ? *size : 1);
    ck_assert_msg(fread(bytes, 1, *size, f) == *size, "%s: short read", path);
    fclose(f);
    return bytes;
}

/* where a final model's arrays start: after the header, the keys' length
 * and the keys */
static size_t model_offset(const char *file, size_t size)
{
    const size_t header = NL_CHECKPOINT_HEADER_BYTES;
    int64_t keys_len;
    ck_assert_msg(size >= header + sizeof keys_len, "a final model of %zu bytes", size);
    memcpy(&keys_len, file + header, sizeof keys_len);
    ck_assert_msg(keys_len >= 0 && header + sizeof keys_len + (size_t)keys_len < size,
                  "keys of %lld bytes in a file of %zu", (long long)keys_len, size);
    return header + sizeof keys_len + (size_t)keys_len;
}

/* residual: the model has residual blocks, and block_skip is on too */
static void assert_probes_only_observe(const char *config, const char *traced, bool residual)
{
    tu_tmp_make("probes");
    tu_tmp_write("r.yaml", config);
    ck_assert_int_eq(tu_normlab("run r.yaml --out plain --quiet"), 0);
    char args[1024];
    snprintf(args, sizeof args, "run r.yaml --out probed --quiet %s%s%s", every_probe, traced,
             residual ? " --set train.log.block_skip=true" : "");
    ck_assert_int_eq(tu_normlab(args), 0);

    char *a = tu_metrics_without_time("plain"), *b = tu_metrics_without_time("probed");
    ck_assert_msg(!strcmp(a, b), "the probes changed training:\n%s\nvs\n%s", a, b);
    free(a);
    free(b);
    size_t na, nb;
    char *ma = read_bytes("plain/final.nlck", &na), *mb = read_bytes("probed/final.nlck", &nb);
    /* the file opens with the header and the config's keys, which the
     * probes' keys change; the model (its sizes, parameters, running
     * statistics and counters) follows them */
    const size_t model_a = model_offset(ma, na), model_b = model_offset(mb, nb);
    ck_assert_msg(na - model_a == nb - model_b &&
                      !memcmp(ma + model_a, mb + model_b, na - model_a),
                  "the final models differ");
    free(ma);
    free(mb);

    /* and every probe did log: a row of each in series.csv, the trace */
    char *series = tu_tmp_read("probed/series.csv");
    static const char *const kinds[] = {",grad_norm,",   ",weight_norm,",  ",variance_shift,",
                                        ",sigprop_norm_in_var,", ",beta_smoothness,"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        ck_assert_msg(strstr(series, kinds[k]), "no %s row:\n%.2000s", kinds[k], series);
    ck_assert_msg(!residual || strstr(series, ",block_skip,"), "no block_skip row");
    free(series);
    char *trace = tu_tmp_read("probed/trace.csv");
    ck_assert_msg(strchr(trace, '\n') && strchr(strchr(trace, '\n') + 1, '\n'), "%s", trace);
    free(trace);
    tu_tmp_remove();
}

START_TEST(test_cnn_with_dropout)
{
    assert_probes_only_observe(
        "data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, train_size: 128, "
        "test_size: 64}\n"
        "model: {arch: cnn, widths: [4, 8], dropout: {p: 0.2}}\n"
        "train: {batch_size: 16, steps: 12, eval_every: 6, log_every: 4, "
        "optimizer: {lr: 0.05, momentum: 0.9}}\n"
        "threads: 1\n",
        "conv2.in", false);
}
END_TEST

START_TEST(test_resnet)
{
    assert_probes_only_observe(
        "data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, train_size: 128, "
        "test_size: 64}\n"
        "model: {arch: resnet, widths: [4, 8], blocks_per_stage: 2}\n"
        "train: {batch_size: 16, steps: 12, eval_every: 6, log_every: 4, "
        "optimizer: {type: adamw, lr: 0.01}}\n"
        "threads: 1\n",
        "stage2.block1.add", true);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probes_observe");
    TCase *tc = tcase_create("probes_observe");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cnn_with_dropout);
    tcase_add_test(tc, test_resnet);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
