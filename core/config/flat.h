/* Flat views of YAML: a config (or any nested mapping) as dotted keys and
 * value texts, so a sweep can compare what a run would use with what an
 * exclusion names or with what an older run directory holds, and a plot
 * can name runs by their config.yaml, without knowing the config schema. Values are kept as YAML flow text: scalars as
 * their value, lists as "[a, b]", mappings as "{k: v}". */
#ifndef NL_CONFIG_FLAT_H
#define NL_CONFIG_FLAT_H

#include <stdbool.h>
#include <yaml.h>

#include "base/status.h"
#include "config/config.h"
#include "log/files.h"

typedef struct {
    char key[96];
    char *value;
} nl_flat_entry;

typedef struct {
    nl_flat_entry *items;
    int n, cap;
} nl_flat;

void nl_flat_free(nl_flat *f);
/* value of a dotted key, or NULL */
const char *nl_flat_get(const nl_flat *f, const char *key);
/* sets (replaces) one key */
nl_code nl_flat_set(nl_flat *f, const char *key, const char *value, nl_error *err);
/* Sets `key` to the YAML text `value`; a mapping is spread over its leaves
 * (key.a, key.b), the way a config override of a section is applied.
 * Every existing key under `key` is replaced. */
nl_code nl_flat_overlay(nl_flat *f, const char *key, const char *value, nl_error *err);

/* Every leaf of a YAML document's root mapping as dotted keys (comments,
 * i.e. keys the resolved config writes as "# key: ..." are absent). */
nl_code nl_flat_from_yaml(const char *text, const char *source, nl_flat *out, nl_error *err);
/* The resolved config (nl_config_write) flattened; also returns the text
 * when `text` is not NULL (caller frees). */
nl_code nl_flat_from_config(const nl_config *cfg, nl_flat *out, char **text, nl_error *err);

/* Two value texts mean the same: numbers compare as numbers (to float
 * precision, as configs store them), quotes around strings do not matter,
 * lists compare item by item. */
bool nl_values_equal(const char *a, const char *b);

/* Keys whose value does not make a run another run (the schema's
 * NL_KF_OUTSIDE_RUN): `name` only labels it, and the threads and the
 * layout the plan decides change at most the last bits of some sums
 * (results/usage.md, "Reproducibility and threads"). A sweep takes a
 * finished run, and a run its checkpoint, whatever these hold. */
bool nl_flat_key_outside_run(const char *key);

/* The keys whose values differ between two flat configs (by `same`:
 * nl_values_equal, or nl_values_identical), those `ignored` says to skip
 * left out: "key: old -> new; ..." in `diff` ("(not set)" for a key one side
 * lacks), cut short when it does not fit. Returns how many differ. */
int nl_flat_diff(const nl_flat *old, const nl_flat *now, bool (*ignored)(const char *key),
                 bool (*same)(const char *a, const char *b), char *diff, size_t size);
/* Two value texts are the same text (nl_values_equal takes 1000000 and
 * 1000001 as one number, to float precision). */
bool nl_values_identical(const char *a, const char *b);

/* A node as YAML flow text (appended to b): plain scalars as written,
 * quoted scalars double-quoted, lists "[a, b]", mappings "{k: v}". */
void nl_yaml_flow_text(yaml_document_t *doc, yaml_node_t *node, nl_buf *b);
/* A scalar's text without quotes ("a", 'a' and a all give a). */
const char *nl_unquote(const char *text, char *buf, size_t size);

#endif
