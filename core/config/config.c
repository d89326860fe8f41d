/* The config record: its defaults and where each key's value came from.
 * Recording origins, warnings and errors about keys that point at the line
 * that set them are internal.c's; loading is parse.c (YAML and --set
 * through the schema), resolve.c (derived defaults, cross-key checks),
 * writing is write.c.
 *
 * Order of a load: defaults, the file, the overrides, then resolve (derived
 * defaults such as the run name and the placement for resnet) and validate
 * (cross-key checks, the model's planned graph: nl_plan_graph). The first
 * error wins. */
#include "config/config.h"

#include <string.h>

const nl_config_origin *nl_config_origin_of(const nl_config *cfg, const char *key)
{
    for (int i = 0; i < cfg->n_origins; i++)
        if (strcmp(cfg->origins[i].key, key) == 0)
            return &cfg->origins[i];
    return NULL;
}

void nl_config_defaults(nl_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "run");
    cfg->seed = 1;
    cfg->device = NL_DEVICE_CPU;
    cfg->threads = 0;
    cfg->flush_subnormals = true;
    nl_data_spec_defaults(&cfg->data);
    cfg->data.seed = cfg->seed;
    nl_model_spec_defaults(&cfg->model);
    nl_train_spec_defaults(&cfg->train);
}
