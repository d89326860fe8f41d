/* normlab list: what exists, from the same tables the config parser uses. */
#include <stdio.h>

#include "backend.h"
#include "base/names.h"
#include "cmd.h"

static void print_table(const nl_name_table *table, const char *heading)
{
    printf("%s:\n", heading);
    for (int i = 0; i < table->count; i++)
        printf("  %-14s %s\n", nl_name_entry_at(table, i)->name, nl_name_entry_at(table, i)->help);
    printf("\n");
}

int cmd_list(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (nl_cmd_is_help(argv[i])) {
            printf("usage: normlab list\n\nPrints the architectures, normalizers, placements, "
                   "activations, pooling, datasets, schedules, initializations and devices that "
                   "configs can name.\n");
            return 0;
        }
        return nl_cmd_usage_error("list", "unexpected argument '%s'", argv[i]);
    }
    print_table(&nl_arch_names, "architectures (model.arch)");
    print_table(&nl_norm_names, "normalizers (model.norm.type)");
    print_table(&nl_placement_names, "placements (model.norm.placement)");
    print_table(&nl_activation_names, "activations (model.activation)");
    print_table(&nl_pool_names, "pooling (model.pool)");
    print_table(&nl_token_pool_names, "token pooling (model.token_pool)");
    print_table(&nl_init_names, "initializations (model.init)");
    print_table(&nl_dataset_names, "datasets (data.dataset)");
    print_table(&nl_vocab_names, "text vocabularies (data.vocabulary)");
    print_table(&nl_schedule_names, "schedules (train.schedule.type)");
    print_table(&nl_device_names, "devices (device)");
    char cuda[256];
    nl_backend_cuda_describe(cuda, sizeof cuda);
    printf("cuda support: %s\n", cuda);
    return 0;
}
