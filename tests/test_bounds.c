/* Every size is bounded before anything is sized by it:
 *  - every integer key of the schema has an upper bound below its storage's
 *    (walked over the table, so a new key cannot slip through), and a value
 *    past it, or past any integer, is refused with the file, line, key and
 *    that bound, not the int's;
 *  - `normlab validate` with model.convs_per_stage 2147483647 answers
 *    exit 2 at once (it used to allocate until the OOM killer came);
 *  - the memory check names the key that makes a run too large, and a batch
 *    of more token rows than an int counts is refused before a layer
 *    multiplies them;
 *  - step-schedule milestones past the run's last step are refused, and
 *    recalibration on a token model does not offer 0 as a value;
 *  - a config filled in by code: a value out of range in any key of the
 *    schema, of every type, is refused by validate naming the key and what
 *    is accepted (walked over the table). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config/config.h"
#include "config/schema.h"
#include "train/check.h"
#include "schema_rules.h"
#include "testutil.h"

#define SRC "bounds.yaml"

static nl_config *cfg_new(void)
{
    nl_config *cfg = calloc(1, sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

static bool is_integer_key(const nl_key_def *def)
{
    return def->type == NL_KT_INT || def->type == NL_KT_INT_LIST || def->type == NL_KT_SHAPE;
}

START_TEST(test_every_integer_key_has_a_bound)
{
    int checked = 0;
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!is_integer_key(def))
            continue;
        checked++;
        ck_assert_msg((def->flags & NL_KF_HI) && isfinite(def->hi), "%s has no upper bound",
                      def->key);
        /* seed is a 64-bit value: its storage is its bound */
        if (def->off == offsetof(nl_config, seed))
            continue;
        ck_assert_msg(def->hi <= INT_MAX, "%s: bound %.0f is the storage's, not a real limit",
                      def->key, def->hi);
        char acc[512];
        nl_schema_accepted(def, acc, sizeof acc);
        ck_assert_msg(!strstr(acc, "2147483647") || def->hi == 2147483647.0,
                      "%s: accepted text names INT_MAX: %s", def->key, acc);
    }
    ck_assert_int_gt(checked, 20);
}
END_TEST

/* ---- a value past a key's bound, in a file ---- */

/* the key's governing keys (schema_rules.h) at values under which it
 * applies, then the key at `value` */
static int key_settings(const nl_key_def *def, const char *value, sr_setting *s, int max)
{
    nl_config *cfg = cfg_new();
    nl_config_defaults(cfg);
    ck_assert_msg(sr_make_apply(def, cfg, 0), "%s never applies", def->key);
    const int n = sr_settings(def, cfg, value, s, max);
    free(cfg);
    return n;
}

static void expect_refused(const nl_key_def *def, const char *value)
{
    sr_setting s[16];
    const int n = key_settings(def, value, s, 16);
    char yaml[2048];
    const int line = sr_write_yaml(s, n, def->key, yaml, sizeof yaml);
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    const nl_code code = nl_config_load_string(yaml, SRC, NULL, 0, cfg, &err);
    free(cfg);
    ck_assert_msg(code == NL_ERR_CONFIG && nl_code_exit_status(code) == 2,
                  "%s: %s: %s (not refused):\n%s", def->key, value, err.msg, yaml);
    char where[160], acc[512], bound[64];
    snprintf(where, sizeof where, SRC ":%d:", line);
    /* a list's message is about the item: an integer's range */
    nl_key_def item = *def;
    item.type = NL_KT_INT;
    nl_schema_accepted(&item, acc, sizeof acc);
    snprintf(bound, sizeof bound, "%.0f", def->hi);
    ck_assert_msg(strncmp(err.msg, where, strlen(where)) == 0 && strstr(err.msg, def->key) &&
                      strstr(err.msg, acc) && strstr(acc, bound),
                  "%s = %s: expected '%s ... %s ... accepted: %s' naming %s, got: %s\n%s",
                  def->key, value, where, def->key, acc, bound, err.msg, yaml);
}

START_TEST(test_past_the_bound_names_file_line_key_and_limit)
{
    int checked = 0;
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        /* data.shape has its own messages (test_config); seed's bound is its storage */
        if ((def->type != NL_KT_INT && def->type != NL_KT_INT_LIST) ||
            def->off == offsetof(nl_config, seed))
            continue;
        char past[64], value[96];
        snprintf(past, sizeof past, "%.0f", def->hi + 1);
        const char *values[] = {past, "2147483647", "99999999999999999999"};
        for (int v = 0; v < 3; v++) {
            if (v == 1 && def->hi >= 2147483647.0)
                continue;
            if (def->type == NL_KT_INT_LIST)
                snprintf(value, sizeof value, def->min_items > 1 ? "[1, %s]" : "[%s]", values[v]);
            else
                snprintf(value, sizeof value, "%s", values[v]);
            expect_refused(def, value);
        }
        checked++;
    }
    ck_assert_int_gt(checked, 20);
}
END_TEST

/* ---- the command line: refused at once, nothing allocated first ---- */

START_TEST(test_validate_refuses_huge_depth_promptly)
{
    tu_tmp_make("bounds");
    tu_tmp_write("cnn.yaml", "data: {dataset: synthetic, shape: [3, 16, 16], classes: 4, "
                             "train_size: 64, test_size: 32}\nmodel: {arch: cnn, widths: [8]}\n"
                             "train: {batch_size: 16, steps: 5}\n");
    tu_tmp_write("resnet.yaml", "data: {dataset: synthetic, shape: [3, 16, 16], classes: 4, "
                                "train_size: 64, test_size: 32}\nmodel: {arch: resnet, widths: "
                                "[8]}\ntrain: {batch_size: 16, steps: 5}\n");
    const char *cases[][3] = {
        {"cnn.yaml", "model.convs_per_stage", "an integer in [1, 1024]"},
        {"resnet.yaml", "model.blocks_per_stage", "an integer in [1, 1024]"},
        {"cnn.yaml", "train.eval_batch_size", "an integer in [1, 1048576]"},
        {"cnn.yaml", "model.norm.groups", "an integer in [1, 1048576]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* where a regression would allocate, it stops at the address-space
         * limit (not under ASan, whose shadow memory needs the space) and at
         * the time limit, rather than taking the machine's memory. One
         * thread: OpenBLAS sizes buffers per thread when it loads, and on a
         * machine of many cores it retries them forever under the limit. */
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "cd %s && { %s OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 timeout 60 %s validate "
                 "%s --set %s=2147483647; } > out.txt 2>&1",
                 tu_tmp,
#if defined(__SANITIZE_ADDRESS__)
                 "",
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
                 "",
#else
                 "ulimit -v 2000000;",
#endif
#else
                 "ulimit -v 2000000;",
#endif
                 NORMLAB_BINARY, cases[i][0], cases[i][1]);
        const int status = system(cmd);
        ck_assert(WIFEXITED(status));
        char *out = tu_tmp_read("out.txt");
        ck_assert_msg(WEXITSTATUS(status) == 2, "%s=2147483647: exit %d, not 2:\n%s", cases[i][1],
                      WEXITSTATUS(status), out);
        char want[256];
        snprintf(want, sizeof want, "%s: 2147483647 is out of range; accepted: %s", cases[i][1],
                 cases[i][2]);
        ck_assert_msg(strstr(out, want), "expected '%s', got:\n%s", want, out);
        free(out);
    }
    tu_tmp_remove();
}
END_TEST

/* ---- the memory check names what makes the run large ---- */

static nl_code check_text(const char *yaml, nl_error *err)
{
    nl_config *cfg = cfg_new();
    nl_code code = nl_config_load_string(yaml, SRC, NULL, 0, cfg, err);
    ck_assert_msg(code == NL_OK, "%s\n%s", err->msg, yaml);
    nl_run_plan plan;
    code = nl_run_check(cfg, -1, false, NULL, &plan, err);
    free(cfg);
    return code;
}

/* what validate says: the loader's model check (at the training batch),
 * then the run's */
static nl_code validate_text(const char *yaml, nl_error *err)
{
    nl_config *cfg = cfg_new();
    nl_code code = nl_config_load_string(yaml, SRC, NULL, 0, cfg, err);
    if (code == NL_OK) {
        nl_run_plan plan;
        code = nl_run_check(cfg, -1, false, NULL, &plan, err);
    }
    free(cfg);
    return code;
}

START_TEST(test_memory_error_names_the_driving_key)
{
    /* each far beyond any machine: petabytes */
    static const struct {
        const char *yaml, *where, *key, *why;
    } cases[] = {
        /* depth: the activations are proportional to the batch too, but
         * the batch is the default and the depth is not */
        {"data: {shape: [3, 32, 32], train_size: 600, test_size: 100}\n"
         "model:\n  arch: cnn\n  convs_per_stage: 1000\n",
         SRC ":4:20: model.convs_per_stage:", "model.convs_per_stage",
         "model.convs_per_stage makes most of it: at its default 1 the run would need"},
        {"data: {shape: [16], train_size: 600, test_size: 100}\nmodel: {widths: [65536]}\n"
         "train: {eval_batch_size: 1048576}\n",
         SRC ":3:26: train.eval_batch_size:", "train.eval_batch_size",
         "train.eval_batch_size makes most of it: at its default 500"},
        {"data: {shape: [16], train_size: 600, test_size: 100}\n"
         "model: {widths: [1048576, 1048576]}\n",
         SRC ":2:17: model.widths:", "model.widths", "model.widths makes most of it"},
        {"data: {shape: [3, 64, 64], train_size: 600, test_size: 100}\n"
         "model: {arch: resnet, widths: [1024], blocks_per_stage: 1024}\n"
         "train: {eval_batch_size: 2048}\n",
         SRC ":2:57: model.blocks_per_stage:", "model.blocks_per_stage",
         "model.blocks_per_stage makes most of it"},
        /* the default widths do not build with these groups: they go back
         * to their default too (else no key explains it, and the batch
         * size, left at its default, was named) */
        {"data: {shape: [16, 1024, 1024], train_size: 64, test_size: 32}\n"
         "model: {arch: cnn, widths: [2047], norm: {type: group, groups: 2047}}\n",
         SRC ":2:28: model.widths:", "model.widths",
         "model.widths makes most of it: at its default [256, 256] (and model.norm.groups at its "
         "default 8) the run would need"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_error err = {0};
        ck_assert_int_eq(check_text(cases[i].yaml, &err), NL_ERR_CONFIG);
        ck_assert_msg(strcmp(err.key, cases[i].key) == 0 && strstr(err.msg, cases[i].where) &&
                          strstr(err.msg, cases[i].why) && strstr(err.msg, "physical memory"),
                      "case %zu: expected %s ... %s, got key %s: %s", i, cases[i].where,
                      cases[i].why, err.key, err.msg);
    }
}
END_TEST

/* each key within its bound, their product past an int: refused before any
 * layer computes it (UBSan saw the overflow in the ViT's patch embedding) */
START_TEST(test_token_rows_past_an_int_refused)
{
    static const struct {
        const char *yaml, *where, *key;
    } cases[] = {
        {"data: {shape: [1, 1024, 1024], classes: 4, train_size: 64, test_size: 32}\n"
         "model: {arch: vit, d_model: 8, heads: 2, layers: 1, patch: 1}\n"
         "train: {batch_size: 16, steps: 5, eval_batch_size: 4096}\n",
         SRC ":3:52: train.eval_batch_size: layer patchify: batches of 4096 samples of 1048576 "
         "tokens are 4294967296 token rows", "train.eval_batch_size"},
        {"data: {shape: [1, 1024, 1024], classes: 4, train_size: 4096, test_size: 32}\n"
         "model: {arch: vit, d_model: 8, heads: 2, layers: 1, patch: 1}\n"
         "train: {batch_size: 4096, steps: 5, eval_batch_size: 16}\n",
         SRC ":3:21: train.batch_size: layer patchify", "train.batch_size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_error err = {0};
        ck_assert_int_eq(validate_text(cases[i].yaml, &err), NL_ERR_CONFIG);
        ck_assert_msg(strcmp(err.key, cases[i].key) == 0 && strstr(err.msg, cases[i].where) &&
                          strstr(err.msg, "more than the layers count (2147483647)"),
                      "case %zu: expected '%s', got key %s: %s", i, cases[i].where, err.key,
                      err.msg);
    }
    /* at the limit: 2048 x 2^20 patches is one row past it, 2047 x (2^20
     * patches + the class token) fits, and only memory stops it */
    nl_error err = {0};
    ck_assert_int_eq(validate_text("data: {shape: [1, 1024, 1024], classes: 4, train_size: 64, "
                                   "test_size: 32}\nmodel: {arch: vit, d_model: 8, heads: 2, "
                                   "layers: 1, patch: 1}\ntrain: {batch_size: 16, steps: 5, "
                                   "eval_batch_size: 2048}\n",
                                   &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "are 2147483648 token rows"), "%s", err.msg);
    nl_error_clear(&err);
    ck_assert_int_eq(validate_text("data: {shape: [1, 1024, 1024], classes: 4, train_size: 64, "
                                   "test_size: 32}\nmodel: {arch: vit, d_model: 8, heads: 2, "
                                   "layers: 1, patch: 1}\ntrain: {batch_size: 16, steps: 5, "
                                   "eval_batch_size: 2047}\n",
                                   &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "the run needs") && !strstr(err.msg, "token rows"), "%s",
                  err.msg);
}
END_TEST

/* a CNN's stage one value per sample past an int (flattened, its width
 * wrapped to a negative classifier) */
START_TEST(test_values_per_sample_past_an_int_refused)
{
    nl_error err = {0};
    ck_assert_int_eq(validate_text("data: {shape: [1, 1024, 1024], classes: 4, train_size: 64, "
                                   "test_size: 32}\nmodel: {arch: cnn, widths: [2048]}\n"
                                   "train: {batch_size: 16, steps: 5}\n",
                                   &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strcmp(err.key, "model.widths") == 0 &&
                      strstr(err.msg, SRC ":2:28: model.widths: layer conv1: 2147483648 values "
                                      "per sample (2048 x 1024 x 1024), more than the layers "
                                      "count (2147483647)"),
                  "%s: %s", err.key, err.msg);
    /* one channel fewer fits, and only memory stops it */
    nl_error_clear(&err);
    ck_assert_int_eq(validate_text("data: {shape: [1, 1024, 1024], classes: 4, train_size: 64, "
                                   "test_size: 32}\nmodel: {arch: cnn, widths: [2047]}\n"
                                   "train: {batch_size: 16, steps: 5}\n",
                                   &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "the run needs") && !strstr(err.msg, "values per sample"),
                  "%s", err.msg);
}
END_TEST

/* ---- the schedule's milestones against the run's length ---- */

START_TEST(test_milestones_past_the_last_step_refused)
{
    const char *base = "data: {shape: [8], classes: 3, train_size: 64, test_size: 32}\n"
                       "model: {widths: [8]}\n";
    char yaml[1024];
    nl_error err = {0};
    snprintf(yaml, sizeof yaml, "%strain:\n  batch_size: 16\n  steps: 10\n  schedule:\n"
             "    type: step\n    milestones: [5, 10]\n", base);
    ck_assert_int_eq(check_text(yaml, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "train.schedule.milestones");
    ck_assert_msg(strstr(err.msg, SRC ":8:17: train.schedule.milestones: item 1 (10) is past the "
                                  "run's last step: the run takes 10 steps (0 to 9)") &&
                      strstr(err.msg, "accepted: milestones of at most 9"),
                  "%s", err.msg);
    /* the length from epochs: 64 samples / 16 = 4 steps an epoch, 2 epochs */
    snprintf(yaml, sizeof yaml, "%strain:\n  batch_size: 16\n  epochs: 2\n  schedule:\n"
             "    type: step\n    milestones: [8]\n", base);
    nl_error_clear(&err);
    ck_assert_int_eq(check_text(yaml, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "item 0 (8) is past the run's last step: the run takes 8 steps"),
                  "%s", err.msg);
    /* the last step itself is a milestone that acts */
    snprintf(yaml, sizeof yaml, "%strain:\n  batch_size: 16\n  epochs: 2\n  schedule:\n"
             "    type: step\n    milestones: [3, 7]\n", base);
    nl_error_clear(&err);
    ck_assert_msg(check_text(yaml, &err) == NL_OK, "%s", err.msg);
}
END_TEST

/* ---- the evaluation's last batch against batch statistics ---- */

/* 17 test samples in batches of 8 leave a last batch of 1, which a
 * normalizer evaluating with its batch's statistics over the batch alone
 * (features) normalizes over one value: refused at train.eval_batch_size
 * with a size that works; accepted with running statistics at evaluation,
 * on an image's pixels, or with a last batch of 2 */
START_TEST(test_eval_last_batch_of_one_refused)
{
    static const struct {
        const char *shape, *model, *test_size;
        nl_code want;
    } cases[] = {
        {"[8]", "{widths: [8], norm: {type: custom, reduce: [batch], eval_stats: batch}}", "17", NL_ERR_CONFIG},
        {"[8]", "{widths: [8], norm: {type: batch, track_running_stats: false}}", "17", NL_ERR_CONFIG},
        {"[8]", "{widths: [8], norm: {type: custom, reduce: [batch], eval_stats: running}}", "17", NL_OK},
        {"[8]", "{widths: [8], norm: {type: batch}}", "17", NL_OK},
        {"[8]", "{widths: [8], norm: {type: custom, reduce: [batch], eval_stats: batch}}", "18", NL_OK},
        {"[1, 4, 4]", "{arch: cnn, widths: [4], norm: {type: batch, track_running_stats: false}}", "17", NL_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml, "data: {shape: %s, classes: 3, train_size: 64, test_size: %s}\nmodel: %s\n"
                 "train: {batch_size: 16, steps: 2, eval_batch_size: 8}\n", cases[i].shape, cases[i].test_size,
                 cases[i].model);
        nl_error err = {0};
        const nl_code rc = check_text(yaml, &err);
        ck_assert_msg(rc == cases[i].want, "case %zu: %d, want %d: %s", i, rc, cases[i].want, err.msg);
        if (rc == NL_OK)
            continue;
        ck_assert_str_eq(err.key, "train.eval_batch_size");
        ck_assert_msg(strstr(err.msg, SRC ":3:52: train.eval_batch_size: 8 splits the 17 test samples into batches "
                                      "whose last holds 1 sample, which layer norm1 normalizes over one value") &&
                          strstr(err.msg, "accepted: a batch size that leaves a last batch of 2 or more, e.g. 7"),
                      "case %zu: %s", i, err.msg);
    }
}
END_TEST

START_TEST(test_recalibration_of_tokens_offers_no_zero)
{
    nl_error err = {0};
    ck_assert_int_eq(check_text("data: {dataset: synthetic_text, markov: {length: 4000}}\n"
                                "model: {arch: lm, d_model: 8, heads: 2, layers: 1, context: 8,\n"
                                "        norm: {type: batch}}\n"
                                "train: {batch_size: 4, steps: 3,\n"
                                "        bn_recalibrate: {batches: 4}}\n",
                                &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "train.bn_recalibrate.batches: 4: token models take no "
                                  "recalibration") &&
                      strstr(err.msg, "remove the key") && !strstr(err.msg, "accepted: 0"),
                  "%s", err.msg);
}
END_TEST

/* ---- every key's range, on a config filled in by code ---- */

/* an integer the key refuses: past its upper bound where that fits the
 * field (0 means "not given" for the ZERO_UNSET keys), else below its lower */
static long long int_out_of_range(const nl_key_def *def)
{
    if ((def->flags & NL_KF_HI) && (def->size != sizeof(int) || def->hi < INT_MAX))
        return (long long)def->hi + 1;
    ck_assert_msg(def->flags & NL_KF_LO, "%s has no bound to step past", def->key);
    return (long long)def->lo - 1;
}

/* puts a value out of range into def's field(s) of a default config;
 * returns what the message must say, or NULL for a key with no such value */
static const char *spoil(const nl_key_def *def, nl_config *cfg, int item_or_count)
{
    void *field = nl_schema_field(cfg, def);
    int count;
    switch (def->type) {
    case NL_KT_INT:
        if (def->off == offsetof(nl_config, seed))
            cfg->seed = UINT64_MAX;
        else
            nl_schema_set_int(def, cfg, int_out_of_range(def));
        return "is out of range; accepted: ";
    case NL_KT_FLOAT:
        *(float *)field = NAN;
        return "is out of range; accepted: ";
    case NL_KT_MOMENTUM:
        cfg->model.norm.cumulative = false;
        cfg->model.norm.momentum = NAN;
        return "is out of range; accepted: ";
    case NL_KT_BOOL:
        return NULL;
    case NL_KT_STRING:
        memset(field, 'x', def->size);
        return "the value is not terminated within";
    case NL_KT_ENUM:
        *(int *)field = def->names->count;
        return "; accepted: ";
    case NL_KT_BIAS:
        cfg->model.bias = 2;
        return "is not a bias setting";
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
        /* too many items, or one item out of range */
        if (item_or_count) {
            count = def->max_items + 1;
            memcpy((char *)cfg + def->count_off, &count, sizeof count);
            return "items; accepted: ";
        }
        count = def->min_items > 1 ? def->min_items : 1;
        memcpy((char *)cfg + def->count_off, &count, sizeof count);
        if (def->type == NL_KT_FLOAT_LIST)
            ((float *)field)[0] = NAN;
        else
            ((int *)field)[0] = (int)int_out_of_range(def);
        return "item 0 (";
    case NL_KT_NAME_SET:
        /* a bit past the table's names */
        memset(field, 0xff, sizeof(unsigned));
        return "is not a set of";
    case NL_KT_SHAPE:
        cfg->data.synthetic_h = 0;
        return "is out of range; accepted: ";
    }
    return NULL;
}

START_TEST(test_filled_in_by_code_out_of_range_refused_for_every_key)
{
    bool type_seen[NL_KT_SHAPE + 1] = {false};
    nl_config *cfg = cfg_new();
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        for (int variant = 0; variant < 2; variant++) {
            nl_config_defaults(cfg);
            const char *says = spoil(def, cfg, variant);
            if (!says)
                continue;
            type_seen[def->type] = true;
            nl_error err = {0};
            ck_assert_msg(nl_config_validate(cfg, &err) == NL_ERR_CONFIG,
                          "%s (variant %d): accepted", def->key, variant);
            ck_assert_msg(strcmp(err.key, def->key) == 0, "%s: the error names %s: %s",
                          def->key, err.key, err.msg);
            char lead[200];
            snprintf(lead, sizeof lead, "%s: ", def->key);
            ck_assert_msg(strncmp(err.msg, lead, strlen(lead)) == 0 && strstr(err.msg, says),
                          "%s: '%s' does not say '%s'", def->key, err.msg, says);
        }
    }
    free(cfg);
    for (int t = 0; t <= NL_KT_SHAPE; t++)
        ck_assert_msg(type_seen[t] || t == NL_KT_BOOL, "no key of type %d checked", t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bounds");
    TCase *tc = tcase_create("bounds");
    tcase_add_test(tc, test_every_integer_key_has_a_bound);
    tcase_add_test(tc, test_past_the_bound_names_file_line_key_and_limit);
    tcase_add_test(tc, test_validate_refuses_huge_depth_promptly);
    tcase_add_test(tc, test_memory_error_names_the_driving_key);
    tcase_add_test(tc, test_token_rows_past_an_int_refused);
    tcase_add_test(tc, test_values_per_sample_past_an_int_refused);
    tcase_add_test(tc, test_milestones_past_the_last_step_refused);
    tcase_add_test(tc, test_eval_last_batch_of_one_refused);
    tcase_add_test(tc, test_recalibration_of_tokens_offers_no_zero);
    tcase_add_test(tc, test_filled_in_by_code_out_of_range_refused_for_every_key);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
