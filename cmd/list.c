/* normlab list: what a config can name. Every key of the config schema that
 * takes a name (an enum) or a list of names (a set: model.norm.reduce)
 * prints its table, and every on/off key is listed
 * with its line of documentation, so a kind or a switch added to the schema
 * appears here without touching this file. */
#include <stdio.h>
#include <string.h>

#include "base/names.h"
#include "cmd.h"
#include "config/schema.h"
#include "device/device.h"
#include "norm/formula.h"
#include "norm/registry.h"

/* model.norm.expr's words: its functions and reductions, from the table the
 * parser reads */
static void print_formula_words(void)
{
    printf("model.norm.expr (type expr): a formula of x, eps, the parameters of "
           "model.norm.params and numbers, with\n");
    for (int i = 0; i < nl_formula_word_count; i++) { /* the vocabulary's rows */
        const nl_formula_word *w = &nl_formula_words[i];
        if (w->kind == NL_WORD_INTERNAL)
            continue;
        char call[40];
        nl_formula_word_usage(w, call, sizeof call);
        printf("  %-18s %s\n", call, w->help);
    }
    printf("  axes: batch, channels (in model.norm.groups groups), spatial (images), tokens "
           "(sequences)\n\n");
}

/* `normlab list --formulas`: every built-in's formula, one line per input
 * it accepts: kind, ndim (2 features, 3 tokens, 4 images), the groups its
 * check uses, expr, params, tab-separated (tests/golden/formula_torch.py
 * reads them) */
static void print_formulas(void)
{
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        if (!row->formula_params)
            continue;
        for (int ndim = 2; ndim <= 4; ndim++) {
            const char *text = row->formula[nl_norm_layout_index(ndim)];
            if (text)
                printf("%s\t%d\t%d\t%s\t%s\n", row->id.name, ndim,
                       (row->keys & NL_NORM_KEY_GROUPS) ? 2 : 1, text, row->formula_params);
        }
    }
}

static void print_names(const nl_key_def *def)
{
    printf("%s%s: %s\n", def->key, def->type == NL_KT_NAME_SET ? " (a list of these)" : "",
           def->doc);
    for (int i = 0; i < def->names->count; i++) {
        const nl_name_entry *e = nl_name_entry_at(def->names, i);
        printf("  %-16s %s\n", e->name, e->help);
    }
    printf("\n");
}

int cmd_list(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (nl_cmd_is_help(argv[i])) {
            printf("usage: normlab list [--formulas]\n\nPrints every name a config can give: for "
                   "each key that "
                   "takes a name (architectures, normalizers, placements, activations, GELU "
                   "variants, pooling, initializations, optimizers, schedules, datasets, devices, "
                   "...) the names it accepts, the functions and reductions of model.norm.expr, "
                   "then the on/off switches (weight standardization, "
                   "QK-norm, ...). `normlab validate --print` shows every key with its value.\n"
                   "--formulas prints each built-in normalizer as a formula (model.norm.type "
                   "expr), one line per input it accepts: kind, ndim, groups, expr, params, "
                   "separated by tabs.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--formulas") && argc == 2) {
            print_formulas();
            return 0;
        }
        return nl_cmd_usage_error("list", "unexpected argument '%s'", argv[i]);
    }
    for (int k = 0; k < nl_config_schema_count; k++)
        if (nl_config_schema[k].type == NL_KT_ENUM || nl_config_schema[k].type == NL_KT_NAME_SET)
            print_names(&nl_config_schema[k]);
    print_formula_words();
    printf("switches (true | false):\n");
    for (int k = 0; k < nl_config_schema_count; k++)
        if (nl_config_schema[k].type == NL_KT_BOOL)
            printf("  %-36s %s\n", nl_config_schema[k].key, nl_config_schema[k].doc);
    printf("\n");
    char cuda[256];
    nl_backend_cuda_describe(cuda, sizeof cuda);
    printf("cuda support: %s\n", cuda);
    return 0;
}
