/* Config output: the resolved config as YAML (every key that applies, in
 * documentation order; a key that does not apply is left out) and the key
 * table of configs/README.md, both generated from the schema. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/internal.h"
#include "config/schema.h"

/* ---- writing ---- */

/* number of leading dotted components two keys' sections share */
static int split(const char *key, char parts[][48], int max)
{
    int n = 0;
    while (*key && n < max) {
        size_t len = strcspn(key, ".");
        snprintf(parts[n++], 48, "%.*s", (int)len, key);
        key += len + (key[len] == '.');
    }
    return n;
}

/* A key that does not apply to the config is left out: its value cannot
 * change the run, and written as a comment it made most of each run's
 * config.yaml (issue 81). Its section's line stays, with nothing under it
 * when no key there applies ("markov:"), so that the text holds exactly the
 * uncommented lines it held when those keys were comments: it reads back
 * (nl_config_load, nl_flat_from_yaml) to the same keys and values as a
 * config.yaml an earlier normlab wrote for the same run, and a checkpoint's
 * keys are the same (test_config's resolved_compact compares both forms
 * key by key). A key whose 0 means "not set" is "# key: not set" where it
 * applies. Which keys apply to a config: configs/README.md's key table. */
nl_code nl_config_write(const nl_config *cfg, FILE *out, nl_error *err)
{
    char prev[8][48], cur[8][48], value[2048];
    int n_prev = 0;
    fprintf(out, NL_CONFIG_RESOLVED_HEADER "%s%s: every key that applies, defaults filled in\n",
            cfg->source[0] ? " of " : "", cfg->source);
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        const int n = split(def->key, cur, 8);
        int common = 0;
        while (common < n - 1 && common < n_prev - 1 && !strcmp(cur[common], prev[common]))
            common++;
        for (int s = common; s < n - 1; s++)
            fprintf(out, "%*s%s:\n", 2 * s, "", cur[s]);
        const int indent = 2 * (n - 1);
        const char *leaf = cur[n - 1];
        if (!nl_schema_applies(def, cfg))
            ; /* left out */
        else if ((def->flags & NL_KF_ZERO_UNSET) && nl_schema_get_int(def, cfg) == 0)
            fprintf(out, "%*s# %s: not set\n", indent, "", leaf);
        else
            fprintf(out, "%*s%s: %s\n", indent, "", leaf,
                    nl_schema_format(def, cfg, value, sizeof value));
        memcpy(prev, cur, sizeof cur);
        n_prev = n;
    }
    if (fflush(out) != 0 || ferror(out))
        return nl_fail(err, NL_ERR_IO, "writing the resolved config: %s", strerror(errno));
    return NL_OK;
}

/* ---- documentation ---- */

/* a table cell: '|' escaped */
static void cell(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputc('\\', out);
        fputc(*p, out);
    }
}

void nl_config_write_key_table(FILE *out)
{
    nl_config *d = malloc(sizeof *d);
    if (!d)
        return;
    nl_config_defaults(d);
    char value[2048], acc[512], when[768];
    fprintf(out, "| key | type | default | accepted | meaning |\n");
    fprintf(out, "|---|---|---|---|---|\n");
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        fprintf(out, "| `%s` | %s | ", def->key, nl_schema_type_name(def));
        if (def->default_doc) {
            cell(out, def->default_doc);
        } else if (def->off == offsetof(nl_config, data.path)) {
            fprintf(out, "the dataset's default (");
            for (int k = 0; k < NL_DATA_COUNT; k++)
                if (nl_data_default_path_doc(k)[0]) {
                    fprintf(out, "%s: `", nl_name_of(&nl_dataset_names, k));
                    cell(out, nl_data_default_path_doc(k));
                    fprintf(out, "`; ");
                }
            fprintf(out, "none for the others)");
        } else {
            fprintf(out, "`");
            cell(out, nl_schema_format(def, d, value, sizeof value));
            fprintf(out, "`");
        }
        fprintf(out, " | ");
        cell(out, nl_schema_accepted(def, acc, sizeof acc));
        fprintf(out, " | ");
        cell(out, def->doc);
        if (def->when_key) {
            fprintf(out, " (only when ");
            cell(out, nl_schema_when_text(def, when, sizeof when));
            fprintf(out, ")");
        }
        fprintf(out, " |\n");
    }
    free(d);
}

nl_code nl_config_text(const nl_config *cfg, char **text, size_t *len, nl_error *err)
{
    *text = NULL;
    *len = 0;
    FILE *mem = open_memstream(text, len);
    if (!mem)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = nl_config_write(cfg, mem, err);
    if (fclose(mem) != 0 && !rc)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc) {
        free(*text);
        *text = NULL;
        *len = 0;
    }
    return rc;
}
