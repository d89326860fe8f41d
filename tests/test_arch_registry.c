/* The architecture table (core/arch/registry.c): every row is complete and
 * agrees with what its builder makes and refuses, config resolution and the
 * schema take their defaults and applicability from it, and `normlab list`
 * and configs/README.md show every row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "arch/registry.h"
#include "config/config.h"
#include "config/schema.h"
#include "model/model.h"
#include "norm/registry.h"
#include "testutil.h"

START_TEST(test_rows_complete)
{
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        const char *name = r->id.name;
        ck_assert_msg(name && name[0], "row %d has no name", a);
        ck_assert_msg(r->id.help && r->id.help[0], "%s: no help", name);
        ck_assert_msg(r->description && r->description[0], "%s: no description", name);
        ck_assert_msg(r->build, "%s: no builder", name);
        ck_assert_int_eq(nl_name_lookup(&nl_arch_names, name), a);
        ck_assert_msg(r->inputs && !(r->inputs & ~(unsigned)(NL_ARCH_IN_FEATURES | NL_ARCH_IN_IMAGES |
                                                              NL_ARCH_IN_TOKENS)),
                      "%s: inputs 0x%x", name, r->inputs);
        ck_assert_msg(r->placements && r->placements < 1u << NL_PLACE_COUNT, "%s: placements 0x%x",
                      name, r->placements);
        ck_assert_msg(nl_arch_accepts_placement(r, r->default_placement),
                      "%s: default placement %s outside its placements", name,
                      nl_name_of(&nl_placement_names, r->default_placement));
        ck_assert_msg(r->norm_ndim >= 2 && r->norm_ndim <= 4, "%s: norm_ndim %d", name,
                      r->norm_ndim);
        ck_assert_msg(r->size_key && nl_schema_find(r->size_key), "%s: size key %s", name,
                      r->size_key ? r->size_key : "(none)");
        ck_assert_msg(r->size_hint && r->size_hint[0], "%s: no size hint", name);
        /* its own keys are the schema's keys that depend on model.arch */
        for (int i = 0; i < NL_ARCH_MAX_KEYS && r->keys[i]; i++) {
            const nl_key_def *def = nl_schema_find(r->keys[i]);
            ck_assert_msg(def, "%s: key %s is not in the schema", name, r->keys[i]);
            ck_assert_msg(def->when_key && !strcmp(def->when_key, "model.arch"),
                          "%s: key %s does not depend on model.arch in the schema", name,
                          r->keys[i]);
        }
        ck_assert_msg(r->summary_keys[0], "%s: the plot subtitle names no size", name);
        for (int i = 0; i < NL_ARCH_MAX_KEYS && r->summary_keys[i]; i++)
            ck_assert_msg(nl_schema_find(r->summary_keys[i]), "%s: summary key %s", name,
                          r->summary_keys[i]);
        for (int b = a + 1; b < NL_ARCH_COUNT; b++)
            ck_assert_str_ne(name, nl_arch_info_of((nl_arch)b)->id.name);
    }
}
END_TEST

/* a key that depends on model.arch and no row lists would apply nowhere */
START_TEST(test_arch_keys_belong_to_rows)
{
    for (int k = 0; k < nl_config_schema_count; k++) {
        const nl_key_def *def = &nl_config_schema[k];
        if (def->when_key && !strcmp(def->when_key, "model.arch"))
            ck_assert_msg(nl_arch_kinds_with_key(def->key) != 0,
                          "%s depends on model.arch but no architecture row lists it", def->key);
    }
}
END_TEST

/* a small model of every architecture: every size its builder reads */
static void small_spec(nl_arch a, nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = a;
    spec->in_c = 1;
    spec->in_h = spec->in_w = 8;
    spec->classes = 4;
    spec->widths[0] = 4;
    spec->n_widths = 1;
    spec->d_model = 8;
    spec->heads = 2;
    spec->layers = 1;
    spec->context = 4;
    spec->patch = 4;
    spec->norm.placement = nl_arch_info_of(a)->default_placement;
    spec->norm.groups = 2;
    spec->norm.virtual_batch = 2;
}

/* The builder takes exactly the row's placements (the others are refused
 * naming model.norm.placement) and the normalizers that accept the layout
 * the row says its norms see. */
START_TEST(test_builder_follows_rows)
{
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        for (int p = 0; p < NL_PLACE_COUNT; p++) {
            nl_model_spec spec;
            small_spec((nl_arch)a, &spec);
            spec.norm.placement = (nl_placement)p;
            nl_error err = {0};
            const nl_code rc = nl_model_check(&spec, 4, &err);
            if (nl_arch_accepts_placement(r, (nl_placement)p)) {
                ck_assert_msg(rc == NL_OK, "%s, placement %s: %s", r->id.name,
                              nl_name_of(&nl_placement_names, p), err.msg);
                continue;
            }
            ck_assert_msg(rc == NL_ERR_CONFIG && strstr(err.msg, "does not apply to arch"),
                          "%s took placement %s: %s", r->id.name,
                          nl_name_of(&nl_placement_names, p), err.msg);
            ck_assert_str_eq(err.key, "model.norm.placement");
        }
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            nl_model_spec spec;
            small_spec((nl_arch)a, &spec);
            nl_norm_spec_defaults(&spec.norm, (nl_norm_kind)k);
            spec.norm.placement = r->default_placement;
            spec.norm.groups = 2;
            spec.norm.virtual_batch = 2;
            nl_error err = {0};
            const nl_code rc = nl_model_check(&spec, 4, &err);
            const bool takes = nl_norm_accepts(nl_norm_info_of((nl_norm_kind)k), r->norm_ndim);
            ck_assert_msg((rc == NL_OK) == takes, "%s with %s: %s (%s)", r->id.name,
                          nl_name_of(&nl_norm_names, k), takes ? "refused" : "built", err.msg);
        }
        nl_model_spec spec;
        small_spec((nl_arch)a, &spec);
        ck_assert_int_eq(nl_model_spec_tokens(&spec), (r->inputs & NL_ARCH_IN_TOKENS) != 0);
        if (r->inputs & NL_ARCH_IN_TOKENS)
            continue;
        /* feature vectors: (N, D, 1, 1) */
        spec.in_c = 16;
        spec.in_h = spec.in_w = 1;
        nl_error err = {0};
        const nl_code rc = nl_model_check(&spec, 4, &err);
        ck_assert_msg((rc == NL_OK) == ((r->inputs & NL_ARCH_IN_FEATURES) != 0),
                      "%s on feature vectors: %s", r->id.name, err.msg);
    }
}
END_TEST

/* the config text that names architecture a and data it reads */
static void arch_config(const nl_arch_info *r, char *buf, size_t size)
{
    snprintf(buf, size, "%smodel: {arch: %s}\n",
             (r->inputs & NL_ARCH_IN_TOKENS) ? "data: {dataset: synthetic_text}\n" : "",
             r->id.name);
}

/* A config that names no placement resolves to the row's default; the
 * schema's keys that depend on model.arch apply exactly where the row lists
 * them. */
START_TEST(test_config_follows_rows)
{
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        char text[256];
        arch_config(r, text, sizeof text);
        nl_config *cfg = calloc(1, sizeof *cfg);
        ck_assert_ptr_nonnull(cfg);
        nl_error err = {0};
        ck_assert_msg(nl_config_load_string(text, "arch.yaml", NULL, 0, cfg, &err) == NL_OK,
                      "%s: %s", r->id.name, err.msg);
        ck_assert_msg(cfg->model.norm.placement == r->default_placement,
                      "%s resolved placement %s, its row says %s", r->id.name,
                      nl_name_of(&nl_placement_names, cfg->model.norm.placement),
                      nl_name_of(&nl_placement_names, r->default_placement));
        for (int k = 0; k < nl_config_schema_count; k++) {
            const nl_key_def *def = &nl_config_schema[k];
            /* the rule's model.arch condition (its first; others may follow) */
            nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
            if (def->when_key && !strcmp(def->when_key, "model.arch") &&
                nl_schema_conditions(def, conds) > 0)
                ck_assert_msg(nl_schema_condition_holds(&conds[0], cfg) ==
                                  nl_arch_reads_key(r, def->key),
                              "%s: %s applies %d", r->id.name, def->key,
                              nl_schema_condition_holds(&conds[0], cfg));
        }
        free(cfg);
    }
}
END_TEST

/* `normlab list` names every architecture with its help under model.arch */
START_TEST(test_list_names_every_row)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s list", NORMLAB_BINARY);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&out, &size);
    char line[1024];
    while (fgets(line, sizeof line, p))
        fputs(line, mem);
    fclose(mem);
    ck_assert_int_eq(pclose(p), 0);
    const char *section = strstr(out, "model.arch: ");
    ck_assert_msg(section, "no model.arch section in normlab list:\n%s", out);
    const char *end = strstr(section, "\n\n");
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        char want[512];
        snprintf(want, sizeof want, "  %-16s %s\n", r->id.name, r->id.help);
        const char *at = strstr(section, want);
        ck_assert_msg(at && (!end || at < end), "normlab list lacks '%s'", want);
    }
    free(out);
}
END_TEST

/* configs/README.md: the architecture table is the rows', and the key
 * table names every architecture under model.arch */
START_TEST(test_docs_name_every_row)
{
    free(tu_check_generated_section(
        NORMLAB_SOURCE_DIR "/configs/README.md",
        "<!-- BEGIN ARCHITECTURE TABLE (generated; do not edit by hand) -->\n",
        "<!-- END ARCHITECTURE TABLE -->", nl_arch_write_table, "the architecture table"));
    char *keys = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&keys, &size);
    nl_config_write_key_table(mem);
    fclose(mem);
    const char *row = strstr(keys, "| `model.arch` |");
    ck_assert_ptr_nonnull(row);
    const char *end = strchr(row, '\n');
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const char *at = strstr(row, nl_arch_info_of((nl_arch)a)->id.name);
        ck_assert_msg(at && at < end, "the key table's model.arch row lacks %s",
                      nl_arch_info_of((nl_arch)a)->id.name);
    }
    free(keys);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arch_registry");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_rows_complete);
    tcase_add_test(tc, test_arch_keys_belong_to_rows);
    tcase_add_test(tc, test_builder_follows_rows);
    tcase_add_test(tc, test_config_follows_rows);
    tcase_add_test(tc, test_list_names_every_row);
    tcase_add_test(tc, test_docs_name_every_row);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
