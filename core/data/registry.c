/* The dataset table, generated from data/kinds.def: each kind's row lives
 * in its reader's file; this file only tables them and answers what the
 * rest of normlab asks of all of them. */
#include "data/registry.h"

#include <stdio.h>
#include <string.h>

static const nl_dataset_info *const rows[] = {
#define NL_DATA_KIND(suffix, row) [NL_DATA_##suffix] = &row,
#include "data/kinds.def"
};
_Static_assert(sizeof rows / sizeof rows[0] == NL_DATA_COUNT, "one row per nl_dataset_kind");

static const nl_name_entry *const row_names[] = {
#define NL_DATA_KIND(suffix, row) [NL_DATA_##suffix] = &row.id,
#include "data/kinds.def"
};

const nl_name_table nl_dataset_names = {"dataset", (const void *)row_names, NL_DATA_COUNT,
                                        NL_NAME_BY_POINTER};

const nl_dataset_info *nl_dataset_info_of(nl_dataset_kind kind)
{
    return (int)kind >= 0 && kind < NL_DATA_COUNT ? rows[kind] : NULL;
}

unsigned nl_dataset_kinds_with_key(const char *key)
{
    unsigned mask = 0;
    for (int k = 0; k < NL_DATA_COUNT; k++)
        for (int i = 0; i < NL_DATA_MAX_KEYS && rows[k]->keys[i]; i++)
            if (!strcmp(rows[k]->keys[i], key))
                mask |= 1u << k;
    return mask;
}

bool nl_dataset_yields_tokens(const nl_dataset_info *row)
{
    return row->yields == NL_DATA_YIELDS_TOKENS;
}

bool nl_dataset_torch_reads(const nl_dataset_info *row)
{
    return row->torch_script;
}

const char *nl_dataset_names_joined(bool (*pick)(const nl_dataset_info *row), const char *sep,
                                    const char *last_sep, char *buf, size_t size)
{
    int picked = 0, total = 0;
    for (int k = 0; k < NL_DATA_COUNT; k++)
        total += pick(rows[k]);
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < NL_DATA_COUNT && used < size; k++) {
        if (!pick(rows[k]))
            continue;
        const char *before = picked == 0 ? "" : picked == total - 1 ? last_sep : sep;
        const int n = snprintf(buf + used, size - used, "%s%s", before, rows[k]->id.name);
        used += n > 0 ? (size_t)n : 0;
        picked++;
    }
    return buf;
}

nl_dataset_shape nl_dataset_planned_shape(const nl_data_spec *spec)
{
    nl_dataset_shape shape = {0};
    const nl_dataset_info *row = nl_dataset_info_of(spec->kind);
    if (!row)
        return shape;
    shape.c = row->c;
    shape.h = row->h;
    shape.w = row->w;
    shape.classes = row->classes;
    if (row->planned_shape)
        row->planned_shape(spec, &shape);
    return shape;
}
