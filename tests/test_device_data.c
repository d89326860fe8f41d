/* The dataset resident on the backend (train.device_data,
 * core/train/device_data.h): the gather ops against plain loops, the
 * fit rule, the config checks, and whole runs (images and tokens) fed from
 * resident splits giving the very rows of host-fed ones. The CPU backend stands in for the
 * GPU here (its memory is the host's, so a run never chooses this path on
 * its own; the test uploads the data itself). test_cuda_parity repeats the
 * ops and the runs on the GPU, or on the emulator (tests/cuda_emu). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "config/config.h"
#include "testutil.h"
#include "train/check.h"
#include "train/device_data.h"
#include "train/train.h"

START_TEST(test_gather_rows_matches_a_plain_loop)
{
    nl_backend *be = tu_cpu(2);
    const size_t widths[] = {1, 3, 4, 784};
    enum { ROWS = 50, N = 37, SPARE = 2 };
    nl_rng rng;
    nl_rng_seed(&rng, 3, NL_STREAM_TEST);
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const size_t w = widths[wi];
        int32_t *src = malloc(ROWS * w * sizeof *src);
        int32_t *dst = malloc((N + SPARE) * w * sizeof *dst);
        for (size_t i = 0; i < ROWS * w; i++)
            src[i] = (int32_t)nl_rng_u32(&rng);
        int32_t index[N];
        for (int i = 0; i < N; i++) /* repeats, the first and the last row */
            index[i] = i == 0 ? ROWS - 1 : i == 1 ? 0 : (int32_t)nl_rng_below(&rng, ROWS);
        for (size_t i = 0; i < (N + SPARE) * w; i++)
            dst[i] = -7;
        be->ops->gather_rows(be, N, w, index, src, dst);
        for (int i = 0; i < N; i++)
            for (size_t k = 0; k < w; k++)
                ck_assert_msg(dst[i * w + k] == src[(size_t)index[i] * w + k],
                              "row width %zu: word %zu of row %d is %d, row %d has %d", w, k, i,
                              dst[i * w + k], index[i], src[(size_t)index[i] * w + k]);
        for (size_t i = N * w; i < (N + SPARE) * w; i++)
            ck_assert_msg(dst[i] == -7, "row width %zu: word %zu past the batch written", w, i);
        free(src);
        free(dst);
    }
}
END_TEST

START_TEST(test_gather_windows_matches_a_plain_loop)
{
    nl_backend *be = tu_cpu(2);
    enum { LENGTH = 200, N = 9, T = 16, SPARE = 3 };
    int32_t src[LENGTH], starts[N], tokens[N * T + SPARE], targets[N * T + SPARE];
    for (int i = 0; i < LENGTH; i++)
        src[i] = 1000 + i * 7;
    nl_rng rng;
    nl_rng_seed(&rng, 4, NL_STREAM_TEST);
    for (int i = 0; i < N; i++) /* the first and the last window, repeats */
        starts[i] = i == 0 ? 0 : i == 1 ? LENGTH - T - 1 : i == 2 ? 5 : i == 3 ? 5
                  : (int32_t)nl_rng_below(&rng, LENGTH - T);
    for (int i = 0; i < N * T + SPARE; i++)
        tokens[i] = targets[i] = -7;
    be->ops->gather_windows(be, N, T, starts, src, tokens, targets);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < T; k++) {
            ck_assert_msg(tokens[i * T + k] == src[starts[i] + k] &&
                              targets[i * T + k] == src[starts[i] + k + 1],
                          "window %d (from %d) position %d: token %d target %d", i, starts[i], k,
                          tokens[i * T + k], targets[i * T + k]);
        }
    for (int i = N * T; i < N * T + SPARE; i++)
        ck_assert_msg(tokens[i] == -7 && targets[i] == -7, "word %d past the batch written", i);
}
END_TEST

/* a backend whose device has `fake_free` bytes free of 1 GiB */
static size_t fake_free;
static void fake_memory_info(nl_backend *be, size_t *free_bytes, size_t *total_bytes)
{
    (void)be;
    *free_bytes = fake_free;
    *total_bytes = (size_t)1 << 30;
}

START_TEST(test_decide_by_the_free_memory)
{
    nl_ops ops = *tu_cpu(2)->ops;
    ops.memory_info = fake_memory_info;
    nl_backend gpu = *tu_cpu(2);
    gpu.ops = &ops;
    fake_free = 1000;
    bool resident;
    char why[512];
    nl_error err = {0};
    const double fits = NL_DEVICE_DATA_SHARE * 1000, too_big = fits + 1;
    for (int mode = 0; mode < NL_DEVICE_DATA_COUNT; mode++) {
        ck_assert_int_eq(nl_device_data_decide(mode, &gpu, fits, &resident, why, sizeof why, &err),
                         NL_OK);
        ck_assert_int_eq(resident, mode != NL_DEVICE_DATA_OFF);
        ck_assert_str_eq(why, "");
    }
    ck_assert_int_eq(nl_device_data_decide(NL_DEVICE_DATA_AUTO, &gpu, too_big, &resident, why,
                                           sizeof why, &err), NL_OK);
    ck_assert(!resident);
    ck_assert_msg(strstr(why, "host memory"), "why: %s", why);
    ck_assert_int_eq(nl_device_data_decide(NL_DEVICE_DATA_OFF, &gpu, too_big, &resident, why,
                                           sizeof why, &err), NL_OK);
    ck_assert(!resident);
    ck_assert_int_eq(nl_device_data_decide(NL_DEVICE_DATA_ON, &gpu, too_big, &resident, why,
                                           sizeof why, &err), NL_ERR_CONFIG);
    ck_assert(!resident);
    ck_assert_str_eq(err.key, "train.device_data");
    ck_assert_msg(strstr(err.msg, "accepted: auto or off"), "%s", err.msg);
    /* the CPU's memory is the host's: never resident, and no error */
    for (int mode = 0; mode < NL_DEVICE_DATA_COUNT; mode++) {
        ck_assert_int_eq(nl_device_data_decide(mode, tu_cpu(2), 1, &resident, why, sizeof why,
                                               &err), NL_OK);
        ck_assert(!resident);
    }
}
END_TEST

/* on with device cpu is refused before the run, naming the key; with
 * device cuda (--device) it passes the checks, images or tokens */
START_TEST(test_on_needs_cuda)
{
    static const char *const texts[] = {
        "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
        "train: {device_data: on, steps: 2}\n",
        "data: {dataset: synthetic_text, markov: {vocab: 8, length: 20000}}\n"
        "model: {arch: lm, context: 16, d_model: 16, heads: 2, layers: 1}\n"
        "train: {device_data: on, batch_size: 4, steps: 2}\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        nl_config *cfg = malloc(sizeof *cfg);
        nl_error err = {0};
        ck_assert_msg(nl_config_load_string(texts[i], "on.yaml", NULL, 0, cfg, &err) == NL_OK,
                      "%s", err.msg);
        nl_run_plan plan;
        ck_assert_int_eq(nl_run_check(cfg, -1, false, NULL, &plan, &err), NL_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, "on.yaml:") && strstr(err.msg, "train.device_data") &&
                          strstr(err.msg, "on needs device cuda") &&
                          strstr(err.msg, "accepted here: auto or off"),
                      "case %zu: %s", i, err.msg);
        ck_assert_msg(nl_run_check(cfg, NL_DEVICE_CUDA, false, NULL, &plan, &err) == NL_OK,
                      "case %zu: %s", i, err.msg);
        free(cfg);
    }
}
END_TEST

/* train.precision bf16 and fp16 on CUDA: every architecture's products
 * round there (attention's kernels included), so the check takes the lm
 * and the vit as it takes a CNN, on either device */
START_TEST(test_low_precision_runs_on_either_device)
{
    static const char *const texts[] = {
        "data: {dataset: synthetic_text, markov: {vocab: 8, length: 20000}}\n"
        "model: {arch: lm, context: 16, d_model: 16, heads: 2, layers: 1}\n"
        "train: {precision: bf16, batch_size: 4, steps: 2}\n",
        "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 8, 8]}\n"
        "model: {arch: vit, patch: 4, d_model: 16, heads: 2, layers: 1}\n"
        "train: {precision: bf16, steps: 2}\n",
        "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 8, 8]}\n"
        "model: {arch: vit, patch: 4, d_model: 16, heads: 2, layers: 1}\n"
        "train: {precision: fp16, steps: 2}\n",
        "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 8, 8]}\n"
        "model: {arch: cnn, widths: [4]}\n"
        "train: {precision: fp16, steps: 2}\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        nl_config *cfg = malloc(sizeof *cfg);
        nl_error err = {0};
        ck_assert_msg(nl_config_load_string(texts[i], "p.yaml", NULL, 0, cfg, &err) == NL_OK,
                      "%s", err.msg);
        ck_assert_int_ne(cfg->train.precision, NL_PRECISION_FP32);
        const int devices[] = {NL_DEVICE_CPU, NL_DEVICE_CUDA};
        for (size_t d = 0; d < 2; d++) {
            nl_run_plan plan;
            ck_assert_msg(nl_run_check(cfg, devices[d], false, NULL, &plan, &err) == NL_OK,
                          "case %zu device %s: %s", i, nl_name_of(&nl_device_names, devices[d]),
                          err.msg);
        }
        free(cfg);
    }
}
END_TEST

/* An MLP with batch norm (test and train-mode evaluation, a short last eval
 * batch, four shuffled epochs), a CNN with group norm and an LM */
static const char *const run_configs[] = {
    "data: {dataset: synthetic, train_size: 100, test_size: 40, shape: [1, 6, 6]}\n"
    "model: {arch: mlp, widths: [16], norm: {type: batch}}\n"
    "train: {batch_size: 16, eval_batch_size: 16, steps: 20, eval_every: 7, log_every: 3}\n",
    "data: {dataset: synthetic, train_size: 60, test_size: 20, shape: [3, 8, 8]}\n"
    "model: {arch: cnn, widths: [4, 8], norm: {type: group, groups: 2}}\n"
    "train: {batch_size: 8, eval_batch_size: 16, steps: 12, eval_every: 5, log_every: 4}\n",
    /* an LM with batch norm over the tokens: random windows over epochs,
     * the validation walk with a short last batch, train-mode evaluation */
    "data: {dataset: synthetic_text, markov: {vocab: 8, length: 3000}}\n"
    "model: {arch: lm, context: 16, d_model: 16, heads: 2, layers: 1, norm: {type: batch}}\n"
    "train: {batch_size: 8, eval_batch_size: 7, steps: 30, eval_every: 11, log_every: 5}\n",
};

START_TEST(test_resident_runs_repeat_host_runs)
{
    tu_assert_resident_repeats_host(tu_cpu(2), run_configs[_i], _i);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("device_data");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gather_rows_matches_a_plain_loop);
    tcase_add_test(tc, test_decide_by_the_free_memory);
    tcase_add_test(tc, test_gather_windows_matches_a_plain_loop);
    tcase_add_test(tc, test_on_needs_cuda);
    tcase_add_test(tc, test_low_precision_runs_on_either_device);
    tcase_add_loop_test(tc, test_resident_runs_repeat_host_runs, 0,
                        (int)(sizeof run_configs / sizeof run_configs[0]));
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
