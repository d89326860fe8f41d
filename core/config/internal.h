/* What the config module's files share (not for other modules): where
 * keys came from, warnings, errors about keys (those three: internal.c),
 * and the steps of a load.
 * A load: defaults (config.c), the file and the overrides (parse.c), then
 * derived defaults and cross-key checks (resolve.c); write.c writes the
 * result back. */
#ifndef NL_CONFIG_INTERNAL_H
#define NL_CONFIG_INTERNAL_H

#include <stdbool.h>

#include "config/config.h"

/* The first line nl_config_write gives a resolved config; a config that
 * starts with it was written by normlab (resolve.c reads it more leniently). */
#define NL_CONFIG_RESOLVED_HEADER "# normlab resolved config"

/* a key given by a --set override */
bool nl_cfg_from_set(const nl_config_origin *o);
/* records where a key's value came from (replacing an earlier record) */
void nl_cfg_set_origin(nl_config *cfg, const char *key, const char *source, int line, int column,
                       const char *setting);
/* forgets it: the key takes its default again */
void nl_cfg_drop_origin(nl_config *cfg, const char *key);
/* a warning for the user, once however often it is raised */
void nl_cfg_warn(nl_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "file:line:col: key: ", "--set key=value: key: " or "key (default V): " */
const char *nl_cfg_key_prefix(const nl_config *cfg, const char *key, char *buf, size_t size);
/* NL_ERR_CONFIG about a key, led by nl_cfg_key_prefix; sets err->key */
nl_code nl_cfg_key_fail(const nl_config *cfg, nl_error *err, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "groups" of "model.norm.groups" */
const char *nl_cfg_last_component(const char *key);

/* resolve.c: train.epochs and train.steps both given (by the file, or a
 * file and an override) is an error naming the later one */
nl_code nl_cfg_check_epochs_steps(nl_config *cfg, nl_error *err);
/* resolve.c: derived defaults, after the file and the overrides;
 * `resolved_file`: the text started with NL_CONFIG_RESOLVED_HEADER */
nl_code nl_cfg_resolve(nl_config *cfg, bool resolved_file, nl_error *err);

#endif
