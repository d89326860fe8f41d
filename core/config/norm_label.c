/* The one name of a run's normalizer (config/norm_label.h). */
#include "config/norm_label.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/names.h"
#include "base/status.h"
#include "norm/kinds.h"
#include "norm/registry.h"

bool nl_norm_type_is_formula(const char *type)
{
    char plain[64];
    const int kind = nl_name_lookup(&nl_norm_names, nl_unquote(type, plain, sizeof plain));
    return kind >= 0 && (nl_norm_info_of((nl_norm_kind)kind)->keys & NL_NORM_KEY_FORMULA);
}

const char *nl_norm_formula_type(void)
{
    for (int k = 0; k < nl_norm_names.count; k++)
        if (nl_norm_info_of((nl_norm_kind)k)->keys & NL_NORM_KEY_FORMULA)
            return nl_name_entry_at(&nl_norm_names, k)->name;
    return "expr";
}

bool nl_norm_label_is_formula(const char *label)
{
    char plain[64];
    nl_unquote(label, plain, sizeof plain);
    return plain[0] && (nl_name_lookup(&nl_norm_names, plain) < 0 || nl_norm_type_is_formula(plain));
}

/* FNV-1a over the text's characters but its spaces (a formula written
 * "x+1" or "x + 1" is one formula) */
static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void nl_norm_default_label(const char *expr, char *buf, size_t size)
{
    char plain[1100];
    snprintf(buf, size, "expr-%08x", (unsigned)hash_text(nl_unquote(expr ? expr : "", plain, sizeof plain)));
}

void nl_norm_label(const char *type, const char *name, const char *expr, char *buf, size_t size)
{
    char plain[NL_NORM_LABEL_SIZE + 16];
    if (!nl_norm_type_is_formula(type)) {
        nl_copy_string(buf, size, nl_unquote(type, plain, sizeof plain));
        return;
    }
    if (name && nl_unquote(name, plain, sizeof plain)[0])
        nl_copy_string(buf, size, plain);
    else
        nl_norm_default_label(expr, buf, size);
}

bool nl_norm_label_of(const nl_flat *cfg, char *buf, size_t size)
{
    const char *type = nl_flat_get(cfg, "model.norm.type");
    if (!type)
        return false;
    nl_norm_label(type, nl_flat_get(cfg, "model.norm.name"), nl_flat_get(cfg, "model.norm.expr"), buf, size);
    return true;
}

void nl_norm_label_of_config(const nl_config *cfg, char *buf, size_t size)
{
    nl_norm_label(nl_name_of(&nl_norm_names, cfg->model.norm.kind), cfg->model.norm.label, cfg->model.norm.expr,
                  buf, size);
}
