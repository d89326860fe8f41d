/* The YAML walker the config loader and the experiment file share: text to
 * a libyaml document (screened first, syntax errors with their position),
 * nodes with their line and column, typed readers of scalars, and errors
 * that name the file (or the --set override), line, column and key, the
 * bad value and what is accepted, with a did-you-mean where a name is
 * close. What a key means stays with its reader (config/parse.c for
 * configs, sweep/experiment.c for experiments). */
#ifndef NL_CONFIG_YAMLDOC_H
#define NL_CONFIG_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "base/names.h"
#include "base/status.h"

typedef struct {
    yaml_document_t doc;
    bool loaded;
    const char *source;  /* the file name, or "--set" */
    const char *setting; /* --set: the override as given; NULL for a file */
    /* errors set err->key to the dotted key they name (a config's keys,
     * which callers match against what they override) */
    bool names_keys;
    nl_error *err;
} nl_yaml_doc;

/* Screens `text` (nl_yaml_screen) and loads it as one document. A file
 * (setting NULL) with a second document is an error; a document with no
 * root (an empty file) is not: nl_yaml_root is then NULL. */
nl_code nl_yaml_doc_load(nl_yaml_doc *d, const char *text, size_t length, const char *source,
                         const char *setting, nl_error *err);
void nl_yaml_doc_free(nl_yaml_doc *d);

yaml_node_t *nl_yaml_root(nl_yaml_doc *d);
yaml_node_t *nl_yaml_node(const nl_yaml_doc *d, int index);
/* items of a sequence, pairs of a mapping, 0 for a scalar */
int nl_yaml_count(const yaml_node_t *n);
yaml_node_t *nl_yaml_item(const nl_yaml_doc *d, const yaml_node_t *seq, int i);
yaml_node_t *nl_yaml_key(const nl_yaml_doc *d, const yaml_node_t *map, int i);
yaml_node_t *nl_yaml_value(const nl_yaml_doc *d, const yaml_node_t *map, int i);
/* 1-based position of a node */
int nl_yaml_line(const yaml_node_t *n);
int nl_yaml_column(const yaml_node_t *n);

const char *nl_yaml_scalar(const yaml_node_t *n);
bool nl_yaml_is_plain(const yaml_node_t *n);
/* a plain empty, ~ or null scalar */
bool nl_yaml_is_null(const yaml_node_t *n);
/* a scalar's text for a message: at most 60 characters, control characters escaped */
const char *nl_yaml_shown(const char *s, char *buf, size_t size);
/* what a node is, for "expected X, got Y": "a mapping", "'16'", ... */
const char *nl_yaml_describe(const yaml_node_t *n, char *buf, size_t size);

/* "source:line:col: key: message" (n NULL: "source: key: message"; a
 * --set override: "--set k=v: key: message"), NL_ERR_CONFIG. A key such as
 * "model.widths[1]" is about the key model.widths (err->key, names_keys). */
nl_code nl_yaml_fail(const nl_yaml_doc *d, const yaml_node_t *n, const char *key, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* A mapping whose keys are plain names, each given once; `what` says what
 * was expected ("a mapping of config keys to values") when n is no mapping.
 * `key` names the mapping (NULL at the top level). */
nl_code nl_yaml_check_mapping(const nl_yaml_doc *d, const yaml_node_t *n, const char *key,
                              const char *what);

/* `text` with every character outside node n blanked (line breaks kept):
 * a mapping inside a larger file (an experiment's or a search's inline
 * base:) as a config of its own whose errors name the larger file's lines
 * and columns. malloc'd; NULL when out of memory. */
char *nl_yaml_node_text(const char *text, const yaml_node_t *n);

/* ---- did-you-mean ---- */

/* nl_closest_name, and for longer names up to two edits ("widht" -> "widths") */
const char *nl_yaml_closest(const char *word, const char *const *names, int count);
/* " (did you mean 'x'?)", or "" when guess is NULL */
const char *nl_yaml_did_you_mean(const char *guess, char *buf, size_t size);
/* "unknown key 'x' (did you mean 'y'?); accepted: a, b" for a section
 * whose keys are `names` */
nl_code nl_yaml_unknown_key(const nl_yaml_doc *d, const yaml_node_t *k, const char *section,
                            const char *const *names, int count);
/* Did-you-mean for dotted paths ("train.batch_size"): the paths other
 * than `except` whose last component is `leaf` (or, failing that, close to
 * it), as "'a.x' or 'b.x'" in buf ("" when none). */
const char *nl_yaml_same_leaf(const char *leaf, const char *except, const char *const *paths,
                              int count, char *buf, size_t size);
/* the closest whole path as "'a.b'", else nl_yaml_same_leaf of its last component */
const char *nl_yaml_suggest_path(const char *path, const char *const *paths, int count, char *buf,
                                 size_t size);
/* names joined by sep: "a | b | c" */
const char *nl_yaml_join(const char *const *names, int count, const char *sep, char *buf,
                         size_t size);

/* ---- scalars ---- */

/* what a number may be; an unset side is open-ended */
typedef struct {
    bool has_lo, lo_open, has_hi, hi_open;
    double lo, hi;
} nl_yaml_range;

bool nl_yaml_in_range(const nl_yaml_range *r, double v);
/* YAML's floats: decimal numbers, .inf and .nan (no hex) */
bool nl_yaml_scan_float(const char *s, double *out);
enum { NL_YAML_SCAN_OK, NL_YAML_SCAN_NOT_NUMBER, NL_YAML_SCAN_NOT_INTEGER, NL_YAML_SCAN_OVERFLOW };
int nl_yaml_scan_int(const char *s, long long *out);

/* The readers: `label` names the key in errors; `accepted` (NULL: none)
 * ends them as "; accepted: ...". */
nl_code nl_yaml_read_int(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                         const nl_yaml_range *range, const char *accepted, long long max,
                         long long *out);
/* a finite number in range */
nl_code nl_yaml_read_number(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                            const nl_yaml_range *range, const char *accepted, double *out);
/* true | false (YAML 1.1's yes/no/on/off are refused with a hint) */
nl_code nl_yaml_read_bool(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                          bool *out);
/* a scalar's text, without NUL characters */
nl_code nl_yaml_read_string(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                            const char *accepted, const char **out);
/* A name that becomes a path component (a sweep's directory): an
 * identifier (base/ident.h, the one check every such name passes), or with
 * `path` a relative path of them (nl_ident_path_ok), that fits `size`
 * bytes; refused, never cut, with what it names (`what`, "sweep name") and
 * the accepted form, length included. */
nl_code nl_yaml_read_ident(const nl_yaml_doc *d, const yaml_node_t *n, const char *label, const char *what,
                           bool path, char *out, size_t size);
/* the value named by n in `table`, or an error offering the closest name
 * (also by case and by common other names: "bn" for batch) */
nl_code nl_yaml_read_name(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                          const nl_name_table *table, int *out);

#endif
