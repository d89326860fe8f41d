/* The normalizer registry (core/norm/registry.c): its rows are consistent
 * with what the builder makes of them, and configs/README.md's normalizer
 * table and the example errors of configs/README.md and results/usage.md
 * (which list every normalizer) are the ones the rows generate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "config/config.h"
#include "model/model.h"
#include "norm/registry.h"
#include "testutil.h"

START_TEST(test_rows_are_distinct)
{
    for (int a = 0; a < NL_NORM_COUNT; a++) {
        const nl_norm_info *ra = nl_norm_info_of((nl_norm_kind)a);
        ck_assert_ptr_nonnull(ra->build);
        ck_assert_msg(strlen(ra->color) == 7 && ra->color[0] == '#', "%s: colour %s",
                      ra->id.name, ra->color);
        ck_assert_msg(ra->features || ra->images, "%s accepts no input", ra->id.name);
        ck_assert_int_eq(nl_name_lookup(&nl_norm_names, ra->id.name), a);
        for (int b = a + 1; b < NL_NORM_COUNT; b++) {
            const nl_norm_info *rb = nl_norm_info_of((nl_norm_kind)b);
            ck_assert_str_ne(ra->id.name, rb->id.name);
            ck_assert_msg(strcmp(ra->color, rb->color) != 0, "%s and %s share a colour",
                          ra->id.name, rb->id.name);
        }
        /* a kind with running statistics reads momentum, and
         * track_running_stats unless it always keeps them (batch renorm
         * corrects toward them) */
        ck_assert_int_eq((ra->keys & NL_NORM_KEY_MOMENTUM) != 0, ra->running_stats);
        ck_assert(!(ra->keys & NL_NORM_KEY_TRACK_RUNNING_STATS) || ra->running_stats);
        ck_assert(!ra->running_stats_default || ra->running_stats);
    }
}
END_TEST

/* What the builder makes of each row, on each input the row accepts: a
 * model with model.bias auto has a bias on the layer before the norm exactly
 * when the norm has no learned shift, the norm has a beta exactly when it
 * has one, and running statistics exactly when they are asked for. */
START_TEST(test_builder_follows_rows)
{
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *r = nl_norm_info_of((nl_norm_kind)k);
        for (int arch = 0; arch < 2; arch++) {
            const bool images = arch == 1;
            if (images ? !r->images : !r->features)
                continue;
            nl_model_spec spec;
            nl_model_spec_defaults(&spec);
            spec.arch = images ? NL_ARCH_CNN : NL_ARCH_MLP;
            spec.in_c = 1;
            spec.in_h = spec.in_w = 8;
            spec.widths[0] = 8;
            spec.n_widths = 1;
            nl_norm_spec_defaults(&spec.norm, (nl_norm_kind)k);
            spec.norm.groups = 2;
            spec.norm.virtual_batch = 2; /* read by the kinds with that key only */
            spec.norm.track_running_stats = r->running_stats;
            nl_model *m = NULL;
            nl_error err = {0};
            ck_assert_msg(nl_model_create(&spec, tu_cpu(2), 4, 4, 1, &m, &err) == NL_OK, "%s: %s",
                          r->id.name, err.msg);
            const char *first = images ? "conv1.bias" : "fc1.bias";
            /* a gamma, or the kind's own learned scalars (DyT's alpha,
             * ScaleNorm's scale) */
            bool has_norm = false;
            for (int i = 0; i < m->n_params; i++)
                has_norm |= strncmp(m->params[i]->name, "norm1.", 6) == 0;
            ck_assert_msg(has_norm == r->adds_layer, "%s: norm1 parameters %d", r->id.name, has_norm);
            ck_assert_msg((nl_model_param(m, first) != NULL) == !r->learned_shift,
                          "%s on %s: %s present: %d, learned shift: %d", r->id.name,
                          images ? "images" : "features", first,
                          nl_model_param(m, first) != NULL, r->learned_shift);
            ck_assert_msg((nl_model_param(m, "norm1.bias") != NULL) == r->learned_shift,
                          "%s: beta", r->id.name);
            ck_assert_msg((nl_model_state(m, "norm1.running_mean") != NULL) ==
                              nl_norm_keeps_running(&spec.norm),
                          "%s: running statistics", r->id.name);
            nl_model_free(m);
        }
    }
}
END_TEST

/* Every kind with statistics has a normalized set, and the model check
 * refuses it wherever a set holds one value: an mlp of width 1, a resnet
 * whose second stage sees 1x1 maps of one channel, an lm of d_model 1 and
 * context 1, each with batch 1, one group and virtual batches of one. A
 * kind without statistics (an identity, a pointwise function) builds. */
START_TEST(test_single_value_sets_refused)
{
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *r = nl_norm_info_of((nl_norm_kind)k);
        /* statistics: a mean it subtracts, or a statistic it divides by
         * (whose floor is eps) */
        ck_assert_msg((r->stats_set != NULL) == (r->center || (r->keys & NL_NORM_KEY_EPS) != 0),
                      "%s: a normalized set exactly when it keeps statistics", r->id.name);
        for (int ndim = 2; ndim <= 4; ndim++) {
            if (!nl_norm_accepts(r, ndim))
                continue;
            nl_model_spec spec;
            nl_model_spec_defaults(&spec);
            spec.arch = ndim == 2 ? NL_ARCH_MLP : ndim == 3 ? NL_ARCH_LM : NL_ARCH_RESNET;
            spec.in_c = 1;
            spec.in_h = spec.in_w = ndim == 4 ? 2 : 1;
            spec.n_widths = ndim == 4 ? 2 : 1;
            spec.widths[0] = spec.widths[1] = 1;
            spec.d_model = spec.heads = spec.context = 1;
            spec.classes = 2;
            nl_norm_spec_defaults(&spec.norm, (nl_norm_kind)k);
            if (ndim > 2)
                spec.norm.placement = ndim == 3 ? NL_PLACE_PRE : NL_PLACE_POST;
            spec.norm.groups = 1;
            spec.norm.virtual_batch = 1;
            nl_error err = {0};
            const nl_code rc = nl_model_check(&spec, 1, &err);
            if (!r->stats_set) {
                ck_assert_msg(rc == NL_OK, "%s (ndim %d): %s", r->id.name, ndim, err.msg);
                continue;
            }
            ck_assert_msg(rc == NL_ERR_CONFIG, "%s (ndim %d) built on one value per set",
                          r->id.name, ndim);
            char want[96];
            snprintf(want, sizeof want, "model.norm.type %s needs more than one value per ",
                     r->id.name);
            ck_assert_msg(strstr(err.msg, want) && strstr(err.msg, "gives 1;"), "%s (ndim %d): %s",
                          r->id.name, ndim, err.msg);
            ck_assert_msg(strstr(err.msg, r->center ? "x - mean is 0" : "x / rms(x) is +-1"),
                          "%s: %s", r->id.name, err.msg);
            ck_assert_msg(err.key[0], "%s (ndim %d): no key to blame: %s", r->id.name, ndim,
                          err.msg);
        }
    }
}
END_TEST

START_TEST(test_readme_table_is_generated)
{
    free(tu_check_generated_section(
        NORMLAB_SOURCE_DIR "/configs/README.md",
        "<!-- BEGIN NORMALIZER TABLE (generated; do not edit by hand) -->\n",
        "<!-- END NORMALIZER TABLE -->", nl_norm_write_table, "the normalizer table"));
}
END_TEST

/* An example error of the docs, as the config loader words it: a config
 * given as text, and an override (NULL: none) */
typedef struct {
    const char *text, *set;
} example_error;

static void write_example_errors(FILE *out, const example_error *examples, int count)
{
    fputs("```\n", out);
    for (int i = 0; i < count; i++) {
        nl_config *cfg = malloc(sizeof *cfg);
        nl_error err = {0};
        const char *set = examples[i].set;
        ck_assert_int_eq(nl_config_load_string(examples[i].text, "configs/x.yaml", &set,
                                               set ? 1 : 0, cfg, &err),
                         NL_ERR_CONFIG);
        fprintf(out, "%s\n", err.msg);
        free(cfg);
    }
    fputs("```\n", out);
}

/* a normalizer that does not exist (the message lists every row) */
static const example_error misspelled_normalizer = {
    "model:\n  arch: mlp\n  norm:\n    type: bach\n", NULL};

/* results/usage.md's: a misspelled placement (so that the page, unlike
 * configs/README.md, names no list that grows with each normalizer) and a
 * group count that does not divide its layer, given with --set */
static void write_usage_errors(FILE *out)
{
    const example_error examples[] = {
        {"model:\n  arch: cnn\n  norm:\n    type: batch\n    placement: befor\n", NULL},
        {"model:\n  arch: mlp\n  widths: [32]\n  norm:\n    type: group\n",
         "model.norm.groups=5"},
    };
    write_example_errors(out, examples, (int)(sizeof examples / sizeof examples[0]));
}

/* configs/README.md's: the misspelled normalizer, a value out of range
 * given with --set, and a default that does not fit the layer */
static void write_config_errors(FILE *out)
{
    const example_error examples[] = {
        misspelled_normalizer,
        {"model:\n  arch: mlp\n", "train.batch_size=0"},
        {"model:\n  arch: mlp\n  widths: [12]\n  norm:\n    type: group\n", NULL},
    };
    write_example_errors(out, examples, (int)(sizeof examples / sizeof examples[0]));
}

START_TEST(test_config_errors_are_generated)
{
    free(tu_check_generated_section(NORMLAB_SOURCE_DIR "/configs/README.md",
                                    "<!-- BEGIN EXAMPLE ERRORS (generated; do not edit by hand) -->\n",
                                    "<!-- END EXAMPLE ERRORS -->", write_config_errors,
                                    "the example errors"));
}
END_TEST

START_TEST(test_usage_errors_are_generated)
{
    free(tu_check_generated_section(NORMLAB_SOURCE_DIR "/results/usage.md",
                                    "<!-- BEGIN EXAMPLE ERRORS (generated; do not edit by hand) -->\n",
                                    "<!-- END EXAMPLE ERRORS -->", write_usage_errors,
                                    "the example errors"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_registry");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_rows_are_distinct);
    tcase_add_test(tc, test_builder_follows_rows);
    tcase_add_test(tc, test_single_value_sets_refused);
    tcase_add_test(tc, test_readme_table_is_generated);
    tcase_add_test(tc, test_usage_errors_are_generated);
    tcase_add_test(tc, test_config_errors_are_generated);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
