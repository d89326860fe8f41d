/* What the config module's files share (internal.h): recording where a
 * key's value came from, the warnings a load leaves, and errors about keys
 * that point at the line (or --set) that set them. Apart from config.c so
 * that the config record itself (config.h) depends on nothing in here. */
#include "config/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/schema.h"

bool nl_cfg_from_set(const nl_config_origin *o) { return o && strcmp(o->source, "--set") == 0; }

const char *nl_config_where(const nl_config *cfg, const char *key, char *buf, int size)
{
    const nl_config_origin *o = nl_config_origin_of(cfg, key);
    if (!o)
        snprintf(buf, (size_t)size, "default");
    else if (nl_cfg_from_set(o))
        snprintf(buf, (size_t)size, "--set %s", o->setting);
    else
        snprintf(buf, (size_t)size, "%s:%d:%d", o->source, o->line, o->column);
    return buf;
}

const char *nl_config_with_where(const nl_config *cfg, const nl_error *from, char *buf, int size)
{
    char where[800], value[128];
    if (from->with_key[0])
        snprintf(buf, (size_t)size, "; %s %s: %s", from->with_key,
                 nl_config_format_key(cfg, from->with_key, value, sizeof value),
                 nl_config_where(cfg, from->with_key, where, sizeof where));
    else if (size > 0)
        buf[0] = '\0';
    return buf;
}

void nl_cfg_set_origin(nl_config *cfg, const char *key, const char *source, int line, int column,
                       const char *setting)
{
    nl_config_origin *o = (nl_config_origin *)nl_config_origin_of(cfg, key);
    if (!o) {
        if (cfg->n_origins >= NL_CONFIG_MAX_ORIGINS)
            return; /* cannot happen: the schema has far fewer keys */
        o = &cfg->origins[cfg->n_origins++];
    }
    memset(o, 0, sizeof *o);
    snprintf(o->key, sizeof o->key, "%s", key);
    snprintf(o->source, sizeof o->source, "%s", source);
    o->line = line;
    o->column = column;
    snprintf(o->setting, sizeof o->setting, "%s", setting ? setting : "");
}

void nl_cfg_drop_origin(nl_config *cfg, const char *key)
{
    const nl_config_origin *o = nl_config_origin_of(cfg, key);
    if (!o)
        return;
    const int i = (int)(o - cfg->origins);
    memmove(&cfg->origins[i], &cfg->origins[i + 1],
            (size_t)(cfg->n_origins - i - 1) * sizeof cfg->origins[0]);
    cfg->n_origins--;
}

void nl_cfg_warn(nl_config *cfg, const char *fmt, ...)
{
    if (cfg->n_warnings >= NL_CONFIG_MAX_WARNINGS)
        return;
    char msg[sizeof cfg->warnings[0]];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (int i = 0; i < cfg->n_warnings; i++)
        if (!strcmp(cfg->warnings[i], msg))
            return; /* validate may run more than once */
    memcpy(cfg->warnings[cfg->n_warnings++], msg, sizeof msg);
}

/* "file:line:col: key: ", "--set key=value: key: " or "key (default V): " */
const char *nl_cfg_key_prefix(const nl_config *cfg, const char *key, char *buf, size_t size)
{
    const nl_config_origin *o = nl_config_origin_of(cfg, key);
    const nl_key_def *def = nl_schema_find(key);
    if (o) {
        char where[800];
        nl_config_where(cfg, key, where, sizeof where);
        snprintf(buf, size, "%s: %s: ", where, key);
    } else if (def && cfg->source[0]) {
        char value[512];
        snprintf(buf, size, "%s (default %s): ", key,
                 nl_schema_format(def, cfg, value, sizeof value));
    } else {
        snprintf(buf, size, "%s: ", key);
    }
    return buf;
}

static nl_code vkey_fail(const nl_config *cfg, nl_error *err, nl_code code, const char *key,
                         const char *fmt, va_list ap)
{
    char prefix[1024], msg[NL_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    nl_cfg_key_prefix(cfg, key, prefix, sizeof prefix);
    nl_fail(err, code, "%s%s", prefix, msg);
    nl_error_key(err, key);
    return code;
}

nl_code nl_cfg_key_fail(const nl_config *cfg, nl_error *err, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nl_code code = vkey_fail(cfg, err, NL_ERR_CONFIG, key, fmt, ap);
    va_end(ap);
    return code;
}

nl_code nl_config_key_error(const nl_config *cfg, nl_error *err, nl_code code, const char *key,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = vkey_fail(cfg, err, code, key, fmt, ap);
    va_end(ap);
    return code;
}

const char *nl_cfg_last_component(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}
