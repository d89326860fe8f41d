/* normlab list: what a config can name. Every key of the config schema that
 * takes a name (an enum) or a list of names (a set: model.norm.reduce)
 * prints its table, and every on/off key is listed
 * with its line of documentation, so a kind or a switch added to the schema
 * appears here without touching this file. */
#include <stdio.h>

#include "base/names.h"
#include "cmd.h"
#include "config/schema.h"
#include "device/device.h"

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
            printf("usage: normlab list\n\nPrints every name a config can give: for each key that "
                   "takes a name (architectures, normalizers, placements, activations, GELU "
                   "variants, pooling, initializations, optimizers, schedules, datasets, devices, "
                   "...) the names it accepts, then the on/off switches (weight standardization, "
                   "QK-norm, ...). `normlab validate --print` shows every key with its value.\n");
            return 0;
        }
        return nl_cmd_usage_error("list", "unexpected argument '%s'", argv[i]);
    }
    for (int k = 0; k < nl_config_schema_count; k++)
        if (nl_config_schema[k].type == NL_KT_ENUM || nl_config_schema[k].type == NL_KT_NAME_SET)
            print_names(&nl_config_schema[k]);
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
