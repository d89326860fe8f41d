/* Keys that cannot take effect are refused (issue 55), derived from the
 * schema's applicability rules rather than listed by hand:
 *  - every condition of every key's rule: a config that sets the key while
 *    that condition fails is refused, exit 2, at the key's file:line, naming
 *    the key and the condition; with the rule holding the key is not refused
 *    (the configs come from the table: governing values that fail or pass);
 *  - the cell's normalizer keys' rule names exactly the kinds rnn.c builds
 *    inside the cell;
 *  - a sweep whose grid makes a file's key inapplicable warns once;
 *  - values with no effect: a one-class classes_subset, a probe's count
 *    past what its split holds (refused naming the maximum, not cut), and
 *    `eval --data dataset=X` on a run of another dataset (which read the
 *    run's files under the new name). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/registry.h"
#include "config/config.h"
#include "config/schema.h"
#include "norm/registry.h"
#include "schema_rules.h"
#include "testutil.h"
#include "train/check.h"
#include "train/checkpoint.h"

#define SRC "applies.yaml"

static nl_config *cfg_new(void)
{
    nl_config *cfg = calloc(1, sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

/* a value of def its own check takes: the default, or the lower bound of
 * a key whose 0 means "not set" */
static const char *key_value(const nl_key_def *def, char *buf, size_t size)
{
    nl_config *d = cfg_new();
    nl_config_defaults(d);
    if ((def->flags & NL_KF_ZERO_UNSET) && nl_schema_get_int(def, d) == 0)
        nl_schema_set_int(def, d, def->type == NL_KT_NAME_SET ? 1 : (long long)def->lo);
    nl_schema_format(def, d, buf, size);
    free(d);
    return buf;
}

/* loads the governing settings of def under cfg with def at its value */
static nl_code load_settings(const nl_key_def *def, const nl_config *cfg, nl_error *err,
                             char *yaml, size_t size, int *line)
{
    char value[256];
    sr_setting s[16];
    const int n = sr_settings(def, cfg, key_value(def, value, sizeof value), s, 16);
    *line = sr_write_yaml(s, n, def->key, yaml, size);
    nl_config *loaded = cfg_new();
    const nl_code code = nl_config_load_string(yaml, SRC, NULL, 0, loaded, err);
    free(loaded);
    return code;
}

START_TEST(test_every_condition_refuses_where_it_fails)
{
    int refused = 0;
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        /* a rule longer than the conditions' room would lose its last ones */
        int listed = def->when_key ? 1 : 0;
        for (const nl_key_when *w = def->and_when; w && w->key; w++)
            listed++;
        ck_assert_msg(listed <= NL_SCHEMA_MAX_CONDITIONS, "%s: %d conditions, room for %d",
                      def->key, listed, NL_SCHEMA_MAX_CONDITIONS);
        nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
        const int n = nl_schema_conditions(def, conds);
        for (int c = 0; c < n; c++) {
            nl_config *cfg = cfg_new();
            nl_config_defaults(cfg);
            ck_assert_msg(sr_make_apply(def, cfg, 0), "%s never applies", def->key);
            /* each value of the governing key that fails the condition */
            for (int next = 0; (next = sr_set_condition(&conds[c], cfg, false, next)) > 0;) {
                nl_key_when failing;
                ck_assert_msg(nl_schema_failing_condition(def, cfg, &failing),
                              "%s applies with %s failed", def->key, conds[c].key);
                char yaml[2048], cond[256], want[512];
                int line;
                nl_error err = {0};
                const nl_code code = load_settings(def, cfg, &err, yaml, sizeof yaml, &line);
                ck_assert_msg(code == NL_ERR_CONFIG && nl_code_exit_status(code) == 2,
                              "%s set where %s fails: not refused (%s):\n%s", def->key,
                              conds[c].key, err.msg, yaml);
                snprintf(want, sizeof want, SRC ":%d:", line);
                ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0,
                              "%s: expected the message at %s, got: %s\n%s", def->key, want,
                              err.msg, yaml);
                snprintf(want, sizeof want, "%s: applies only when ", def->key);
                ck_assert_msg(strstr(err.msg, want) &&
                                  strstr(err.msg, nl_schema_condition_text(&failing, cond,
                                                                           sizeof cond)),
                              "%s: expected '%s... %s', got: %s\n%s", def->key, want, cond,
                              err.msg, yaml);
                refused++;
            }
            free(cfg);
        }
    }
    ck_assert_int_gt(refused, 80);
}
END_TEST

/* A condition with an alternative (or_key: the normalizer's own keys act at
 * placement none where QK-norm normalizes): with the condition's own key
 * failing, the key is taken where the alternative holds and refused where
 * it fails too; derived from every such condition in the schema */
START_TEST(test_alternatives_accept_where_they_hold)
{
    int checked = 0, keys = 0, keys_loaded = 0;
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
        const int n = nl_schema_conditions(def, conds);
        for (int c = 0; c < n; c++) {
            /* an alternative on the key's own governing key (the kinds
             * without custom's axes, model.norm.type) holds or fails with
             * the rule's first condition, which the other tests vary */
            if (!conds[c].or_key || (def->when_key && !strcmp(conds[c].or_key, def->when_key)))
                continue;
            const nl_key_when alt = {.key = conds[c].or_key, .mask = conds[c].or_mask};
            const nl_key_when own = {.key = conds[c].key, .mask = conds[c].mask};
            const nl_key_def *alt_def = nl_schema_find(alt.key);
            nl_key_when alt_conds[NL_SCHEMA_MAX_CONDITIONS];
            const int n_alt = nl_schema_conditions(alt_def, alt_conds);
            int here = 0;
            nl_config *cfg = cfg_new();
            nl_config_defaults(cfg);
            /* each value of the alternative's own governing key (the
             * architectures with QK-norm): some need data the defaults
             * lack; an alternative that always applies (model.norm.type, for
             * the kinds without custom's axes) once */
            for (int next = 0; n_alt ? (next = sr_set_condition(&alt_conds[0], cfg, true, next)) > 0
                                     : next++ == 0;) {
                ck_assert_msg(sr_set_condition(&alt, cfg, true, 0) > 0 &&
                                  sr_make_apply(alt_def, cfg, 0) && sr_make_apply(def, cfg, 0) &&
                                  sr_set_condition(&own, cfg, false, 0) > 0,
                              "%s: no config where %s fails and %s holds", def->key, own.key,
                              alt.key);
                ck_assert_msg(nl_schema_applies(def, cfg), "%s: does not apply with %s holding",
                              def->key, alt.key);
                char yaml[2048];
                int line;
                nl_error err = {0};
                if (load_settings(def, cfg, &err, yaml, sizeof yaml, &line) != NL_OK) {
                    ck_assert_msg(!strstr(err.msg, "applies only when"), "%s set where %s holds: %s\n%s",
                                  def->key, alt.key, err.msg, yaml);
                    continue;
                }
                /* the same config with the alternative failing too */
                ck_assert_int_gt(sr_set_condition(&alt, cfg, false, 0), 0);
                ck_assert_int_eq(load_settings(def, cfg, &err, yaml, sizeof yaml, &line),
                                 NL_ERR_CONFIG);
                ck_assert_msg(strstr(err.msg, "applies only when"), "%s: %s\n%s", def->key,
                              err.msg, yaml);
                here++;
            }
            keys += 1;
            keys_loaded += here > 0;
            checked += here;
            free(cfg);
        }
    }
    /* a kind QK-norm cannot take (ghost batch's virtual batches) is refused
     * for that, not for the key: most keys load */
    ck_assert_int_gt(checked, 0);
    ck_assert_msg(keys_loaded * 2 > keys, "%d of %d keys loaded with the alternative holding",
                  keys_loaded, keys);
}
END_TEST

START_TEST(test_every_rule_accepts_where_it_holds)
{
    int loaded = 0, rules = 0;
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!def->when_key)
            continue;
        rules++;
        nl_config *cfg = cfg_new();
        nl_config_defaults(cfg);
        ck_assert_msg(sr_make_apply(def, cfg, 0), "%s never applies", def->key);
        char yaml[2048];
        int line;
        nl_error err = {0};
        /* the governing values may leave the config unfit to run for other
         * reasons (an lm on images): refused then, but not for this key */
        if (load_settings(def, cfg, &err, yaml, sizeof yaml, &line) == NL_OK)
            loaded++;
        else
            ck_assert_msg(!strstr(err.msg, "applies only when"),
                          "%s set where its rule holds: %s\n%s", def->key, err.msg, yaml);
        free(cfg);
    }
    ck_assert_int_gt(rules, 60);
    ck_assert_int_gt(loaded, rules / 2);
}
END_TEST

/* the schema's in-cell kinds (NL_ARCH_IN_CELL_NORMS) are those rnn.c builds */
START_TEST(test_in_cell_kinds_are_what_the_cell_builds)
{
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        if (!nl_norm_info_of((nl_norm_kind)k)->adds_layer)
            continue;
        /* groups and virtual_batch only where the kind reads them */
        nl_config *probe = cfg_new();
        nl_config_defaults(probe);
        probe->model.norm.kind = (nl_norm_kind)k;
        const bool groups = nl_schema_applies(nl_schema_find("model.norm.groups"), probe);
        const bool virtual_batch =
            nl_schema_applies(nl_schema_find("model.norm.virtual_batch"), probe);
        free(probe);
        char text[512];
        snprintf(text, sizeof text,
                 "data: {dataset: synthetic, shape: [1, 4, 4], classes: 3, train_size: 32, "
                 "test_size: 16}\nmodel: {arch: rnn, hidden: 8, norm: {type: %s, placement: "
                 "in_cell%s%s}}\ntrain: {batch_size: 8, steps: 2}\n",
                 nl_name_of(&nl_norm_names, k), groups ? ", groups: 2" : "",
                 virtual_batch ? ", virtual_batch: 4" : "");
        nl_config *cfg = cfg_new();
        nl_error err = {0};
        const bool built = nl_config_load_string(text, SRC, NULL, 0, cfg, &err) == NL_OK;
        free(cfg);
        const bool in_mask = (NL_ARCH_IN_CELL_NORMS >> k) & 1u;
        ck_assert_msg(built == in_mask,
                      "%s in the cell: %s, but the schema's in-cell kinds %s it (%s)\n%s",
                      nl_name_of(&nl_norm_names, k), built ? "built" : "refused",
                      in_mask ? "hold" : "leave out", err.msg, text);
    }
}
END_TEST

/* the cell's keys: the examples of the issue, refused with the reason */
START_TEST(test_cell_keys_without_a_cell_normalizer)
{
    const char *base = "model: {arch: rnn, hidden: 8, norm: {%s}}\n"
                       "train: {batch_size: 8, steps: 2}\n";
    const struct {
        const char *norm, *why;
    } cases[] = {
        {"type: layer, cell_gamma: 0.5", "model.norm.cell_gamma: applies only when model.arch is "
                                         "rnn or rnn_lm and model.norm.placement is in_cell"},
        {"type: none, placement: in_cell, cell_gamma: 0.5",
         "but model.norm.type is 'none'"},
        {"type: layer, placement: in_cell, step_stats: false",
         "model.norm.step_stats: applies only when"},
        {"type: batch, placement: in_cell, cell_state: false, cell_gamma: 0.5", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, base, cases[i].norm);
        nl_config *cfg = cfg_new();
        nl_error err = {0};
        const nl_code code = nl_config_load_string(yaml, SRC, NULL, 0, cfg, &err);
        free(cfg);
        if (!cases[i].why) {
            ck_assert_msg(code == NL_OK, "%s: %s", cases[i].norm, err.msg);
            continue;
        }
        ck_assert_msg(code == NL_ERR_CONFIG && strstr(err.msg, cases[i].why),
                      "%s: expected '%s', got: %s", cases[i].norm, cases[i].why, err.msg);
    }
    /* model.cell gru has no cell state */
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    ck_assert_int_eq(nl_config_load_string("model: {arch: rnn, cell: gru, hidden: 8, norm: {type: "
                                           "layer, placement: in_cell, cell_state: false}}\n",
                                           SRC, NULL, 0, cfg, &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "model.cell is lstm, but model.cell is 'gru'"), "%s", err.msg);
    free(cfg);
}
END_TEST

/* grid values that make a file's key inapplicable: one warning for the
 * sweep, whatever the values (here two of three) */
START_TEST(test_sweep_warns_once)
{
    tu_tmp_make("applies");
    tu_tmp_write("x.yaml",
                 "name: x\nbase:\n  data: {dataset: synthetic, shape: [4], classes: 3, "
                 "train_size: 32, test_size: 16}\n  model: {arch: mlp, widths: [8], norm: {type: "
                 "group, groups: 2}}\n  train: {batch_size: 8, steps: 2}\ngrid:\n  "
                 "model.norm.type: [group, batch, layer]\n  seed: [1, 2]\n");
    ck_assert_int_eq(tu_normlab("sweep --dry-run x.yaml"), 0);
    char *out = tu_tmp_read("out.txt");
    int warnings = 0;
    for (const char *p = out; (p = strstr(p, "model.norm.groups: ignored")); p++)
        warnings++;
    ck_assert_msg(warnings == 1 && strstr(out, "(4 runs"), "expected one warning for 4 runs:\n%s",
                  out);
    free(out);
    tu_tmp_remove();
}
END_TEST

static nl_code load_and_check(const char *yaml, nl_error *err)
{
    nl_config *cfg = cfg_new();
    nl_code code = nl_config_load_string(yaml, SRC, NULL, 0, cfg, err);
    nl_run_plan plan;
    if (code == NL_OK)
        code = nl_run_check(cfg, -1, false, NULL, &plan, err);
    free(cfg);
    return code;
}

START_TEST(test_values_without_effect)
{
    const char *data = "data: {dataset: synthetic, shape: [1, 4, 4], classes: 4, train_size: 64, "
                       "test_size: 32%s}\nmodel: {arch: mlp, widths: [8]}\n"
                       "train: {batch_size: 16, steps: 2%s}\n";
    const struct {
        const char *data, *train, *want; /* want NULL: accepted */
    } cases[] = {
        {", classes_subset: [2]", "", SRC ":1:105: data.classes_subset: [2] keeps one class"},
        {", classes_subset: [2, 0]", "", NULL},
        /* 64 samples hold 4 batches of 16 */
        {"", ", log: {signal_propagation: true, signal_propagation_batches: 5}",
         "train.log.signal_propagation_batches: 5 batches of train.batch_size 16 are more than "
         "the 64 training samples hold; accepted: at most 4"},
        {"", ", log: {signal_propagation: true, signal_propagation_batches: 4}", NULL},
        {"", ", trace: {activation: act1, samples: 33}",
         "train.trace.samples: 33 is more than the 32 test samples; accepted: at most 32"},
        {"", ", trace: {activation: act1, samples: 32}", NULL},
        /* the default (1000) is cut to the split, with a warning */
        {"", ", trace: {activation: act1}", NULL},
        /* train mode traces the step's own batch: no samples to give */
        {"", ", trace: {activation: act1, mode: train, samples: 8}",
         "train.trace.samples: applies only when train.trace.activation is not \"\" and "
         "train.trace.mode is eval"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml, data, cases[i].data, cases[i].train);
        nl_error err = {0};
        const nl_code code = load_and_check(yaml, &err);
        if (!cases[i].want)
            ck_assert_msg(code == NL_OK, "%s: %s", yaml, err.msg);
        else
            ck_assert_msg(code == NL_ERR_CONFIG && strstr(err.msg, cases[i].want),
                          "%s: expected '%s', got: %s", yaml, cases[i].want, err.msg);
    }
}
END_TEST

/* --set data.dataset over a config whose data.path is another dataset's
 * default directory (a run's config.yaml): the files there are not the new
 * dataset's */
START_TEST(test_dataset_switch_leaves_the_other_datasets_path)
{
    for (int from = 0; from < NL_DATA_COUNT; from++) {
        const char *dir = nl_data_default_path((nl_dataset_kind)from);
        if (!dir[0])
            continue;
        for (int to = 0; to < NL_DATA_COUNT; to++) {
            if (to == from)
                continue;
            char yaml[512], set[128];
            snprintf(yaml, sizeof yaml, "data: {dataset: %s, path: \"%s\"}\n",
                     nl_name_of(&nl_dataset_names, from), dir);
            snprintf(set, sizeof set, "data.dataset=%s", nl_name_of(&nl_dataset_names, to));
            const char *sets[] = {set};
            nl_config *cfg = cfg_new();
            nl_error err = {0};
            /* refused (no default path, another model) or loaded: never the
             * other dataset's files under this name */
            if (nl_config_load_string(yaml, SRC, sets, 1, cfg, &err) == NL_OK)
                ck_assert_msg(strcmp(cfg->data.path, dir) != 0, "%s over %s kept %s", set,
                              nl_name_of(&nl_dataset_names, from), dir);
            free(cfg);
        }
    }
}
END_TEST

/* the example: eval --data dataset=mnist on a Fashion-MNIST run */
START_TEST(test_eval_of_another_dataset_is_not_the_runs)
{
    const char *dir = nl_data_default_path(NL_DATA_FASHION_MNIST);
    struct stat st;
    if (stat(dir, &st) != 0) {
        printf("skipped: no Fashion-MNIST at %s\n", dir);
        return;
    }
    tu_tmp_make("applies-eval");
    tu_tmp_write("f.yaml", "data: {dataset: fashion-mnist, train_size: 64, test_size: 64}\n"
                           "model: {arch: mlp, widths: [8]}\n"
                           "train: {batch_size: 16, steps: 2, eval_every: 2}\n");
    ck_assert_int_eq(tu_normlab("run f.yaml --out r --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval r --data dataset=mnist --threads 1"), 2);
    char *out = tu_tmp_read("out.txt");
    ck_assert_msg(strstr(out, "mnist") && strstr(out, "data.path"), "%s", out);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/r/eval", tu_tmp);
    ck_assert_msg(stat(path, &st) != 0, "eval wrote %s", path);
    tu_tmp_remove();
}
END_TEST

/* a key whose rule is newer than the checkpoints already written stays in a
 * checkpoint's config keys where the older rule listed it, though it no
 * longer applies: those checkpoints resume and their final models load */
START_TEST(test_newer_rules_keep_checkpoint_keys)
{
    int checked = 0;
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!(def->flags & (NL_KF_RULE_NEWER | NL_KF_AND_WHEN_NEWER)))
            continue;
        nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
        const int n = nl_schema_conditions(def, conds);
        /* each newer condition failed, the older ones holding */
        for (int c = (def->flags & NL_KF_RULE_NEWER) ? 0 : 1; c < n; c++) {
            nl_config *cfg = cfg_new();
            nl_config_defaults(cfg);
            ck_assert_msg(sr_make_apply(def, cfg, 0), "%s never applies", def->key);
            ck_assert(sr_set_condition(&conds[c], cfg, false, 0) > 0);
            ck_assert(!nl_schema_applies(def, cfg));
            char *text = NULL;
            nl_flat flat = {0};
            nl_buf keys = {0};
            nl_error err = {0};
            ck_assert_msg(nl_checkpoint_config(cfg, NL_DEVICE_CPU, &text, &flat, &keys, &err) ==
                              NL_OK, "%s", err.msg);
            /* listed (a key newer than format 4 at its default is left out
             * anyway), and its section not read as an empty entry */
            char want[160], section[160];
            snprintf(want, sizeof want, "\n%s=", def->key);
            snprintf(section, sizeof section, "\n%.*s=\n",
                     (int)(strrchr(def->key, '.') - def->key), def->key);
            ck_assert_ptr_nonnull(keys.data);
            ck_assert_msg(((def->flags & NL_KF_AFTER_FORMAT4) || strstr(keys.data, want)) &&
                              !strstr(keys.data, section) && !nl_flat_get(&flat, def->key),
                          "%s (%s failed): the checkpoint keys leave it out or hold its "
                          "section empty:\n%s", def->key, conds[c].key, keys.data);
            free(text);
            nl_flat_free(&flat);
            free(keys.data);
            free(cfg);
            checked++;
        }
    }
    ck_assert_int_ge(checked, 9);
}
END_TEST

/* every `--data KEY=VALUE` example in `text` names a data.* key of the
 * schema; returns how many it names */
static int data_examples(const char *text, const char *where)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, "--data")); p += 6) {
        const char *q = p + 6;
        while (*q == ' ' || *q == '\n')
            q++;
        const size_t len = strcspn(q, "= \n`),;");
        if (q[len] != '=' || (len == 3 && !strncmp(q, "KEY", 3)))
            continue;
        char key[128];
        snprintf(key, sizeof key, "%s%.*s", strncmp(q, "data.", 5) ? "data." : "", (int)len, q);
        ck_assert_msg(nl_schema_find(key) != NULL, "%s: --data %.*s: %s is not a key", where,
                      (int)len, q, key);
        n++;
    }
    return n;
}

static char *read_source(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: missing", path);
    char *text = calloc(1, 1 << 20);
    ck_assert_ptr_nonnull(text);
    fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    return text;
}

START_TEST(test_data_examples_name_keys)
{
    tu_tmp_make("applies-help");
    ck_assert_int_eq(tu_normlab("eval --help"), 0);
    char *help = tu_tmp_read("out.txt");
    int named = data_examples(help, "normlab eval --help");
    free(help);
    const char *docs[] = {"results/usage.md", "README.md"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *text = read_source(docs[i]);
        named += data_examples(text, docs[i]);
        free(text);
    }
    ck_assert_int_ge(named, 4);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("applies");
    TCase *tc = tcase_create("applies");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_condition_refuses_where_it_fails);
    tcase_add_test(tc, test_every_rule_accepts_where_it_holds);
    tcase_add_test(tc, test_alternatives_accept_where_they_hold);
    tcase_add_test(tc, test_in_cell_kinds_are_what_the_cell_builds);
    tcase_add_test(tc, test_cell_keys_without_a_cell_normalizer);
    tcase_add_test(tc, test_sweep_warns_once);
    tcase_add_test(tc, test_values_without_effect);
    tcase_add_test(tc, test_dataset_switch_leaves_the_other_datasets_path);
    tcase_add_test(tc, test_eval_of_another_dataset_is_not_the_runs);
    tcase_add_test(tc, test_data_examples_name_keys);
    tcase_add_test(tc, test_newer_rules_keep_checkpoint_keys);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
