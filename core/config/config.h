/* Configs: YAML (libyaml) to a typed nl_config, strictly validated, with
 * every error naming the file, line, column, key path, the bad value and
 * what is accepted. Overrides (--set a.b=value) go through the same checks.
 * The resolved config (defaults filled in) can be written back as YAML. */
#ifndef NL_CONFIG_H
#define NL_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "backend/backend.h"
#include "data/data.h"
#include "model/spec.h"
#include "plan/plan.h"
#include "config/train_spec.h"

#define NL_CONFIG_MAX_ORIGINS 256
#define NL_CONFIG_MAX_WARNINGS 8
/* threads: and --threads: the largest OpenMP team accepted. Above the cores
 * a team only oversubscribes them (each barrier then waits for time slices);
 * 1024 is above the CPUs of any single machine normlab targets, so a larger
 * value can only be a typo. */
#define NL_CONFIG_MAX_THREADS 1024

/* where a key's value came from, for errors raised after parsing */
typedef struct {
    char key[96];     /* dotted path: "model.norm.groups" */
    char source[512]; /* file name, or "--set" */
    int line, column; /* 1-based; 0 for --set */
    char setting[256]; /* --set: the override as given, "model.norm.groups=5" */
} nl_config_origin;

typedef struct {
    char source[512]; /* the file it was read from */
    char name[128];   /* run name; the run directory is named after it */
    uint64_t seed;
    nl_device device;
    int threads;      /* 0: the cores not busy with other work (or OMP_NUM_THREADS) */
    bool flush_subnormals; /* CPU threads flush subnormal floats to zero */
    nl_data_spec data;
    nl_model_spec model;
    nl_train_spec train;
    /* init.from: a finished run directory whose final model this run starts
     * from (core/train/init_from.h); "": from its own initialization */
    char init_from[1024];
    nl_config_origin origins[NL_CONFIG_MAX_ORIGINS];
    int n_origins;
    /* things the loader accepted but the user should hear about, e.g. a key
     * ignored because a --set override switched what it applies to */
    char warnings[NL_CONFIG_MAX_WARNINGS][640];
    int n_warnings;
} nl_config;

void nl_config_defaults(nl_config *cfg);

/* Reads and validates a config file, then applies overrides "key=value"
 * (YAML scalars or flow sequences, e.g. "model.widths=[32,64]"). */
nl_code nl_config_load(const char *path, const char *const *overrides, int n_overrides,
                       nl_config *out, nl_error *err);
/* A run's config.yaml as the record of what ran (a sweep comparing it,
 * `eval`, init.from): the same, except that the choices the host that ran it
 * made outside the run (model.layout's channel block) are planned again for
 * this host instead of refused where its CPU differs. */
nl_code nl_config_load_record(const char *path, const char *const *overrides, int n_overrides,
                              nl_config *out, nl_error *err);
/* a record's text in memory (a run inside a packed sweep: results/store.h) */
nl_code nl_config_load_record_string(const char *text, const char *source, nl_config *out, nl_error *err);
/* The same from text in memory; `source` names it in errors. */
nl_code nl_config_load_string(const char *text, const char *source, const char *const *overrides,
                              int n_overrides, nl_config *out, nl_error *err);
/* Cross-key checks (also run by the loaders): plans the model's graph without
 * memory (nl_plan_graph, kept for the run) and points any error at the key
 * that caused it. */
nl_code nl_config_validate(nl_config *cfg, nl_error *err);

/* Screens YAML text before libyaml builds a document from it, reading
 * events only up to the first problem: nesting deeper than
 * NL_YAML_MAX_DEPTH (libyaml takes minutes on 100k levels and no config
 * needs more than a few), and explicit tags (`!!str 16`: a value's type
 * comes from its key, and a tagged string would otherwise read as a
 * number). The error names source:line:col, or the --set override when
 * `setting` is given. Syntax errors are left to the loader that follows. */
#define NL_YAML_MAX_DEPTH 64
nl_code nl_yaml_screen(const char *text, size_t length, const char *source, const char *setting,
                       nl_error *err);

/* The resolved config as YAML, in documentation order: every key that
 * applies to it with its value (a key whose 0 means "not set" as a comment
 * saying so), the keys that do not apply left out (write.c). */
/* what the model's plan (core/plan) reads of the run: the precision, the
 * training batch, the probes that keep a fused tensor apart; fuse_off from
 * NORMLAB_FUSE, which the caller reads */
nl_plan_run nl_config_plan_run(const nl_config *cfg, bool fuse_off);
nl_code nl_config_write(const nl_config *cfg, FILE *out, nl_error *err);
/* the same text into a malloc'd, NUL-ended buffer (*len its length) */
nl_code nl_config_text(const nl_config *cfg, char **text, size_t *len, nl_error *err);

/* "file:line:col" of a key, or NULL when it took its default */
const nl_config_origin *nl_config_origin_of(const nl_config *cfg, const char *key);
/* where a key was set, as text: "configs/x.yaml:12:11", "--set a.b=1", or
 * "default" */
const char *nl_config_where(const nl_config *cfg, const char *key, char *buf, int size);

/* "; model.layout blocked: r.yaml:8:11": where the second key an error names
 * (nl_error.with_key) was set, for a message relayed from a module that
 * knows no config lines; "" when it names none. Returns buf. */
const char *nl_config_with_where(const nl_config *cfg, const nl_error *from, char *buf, int size);

/* An error about a key, led by where it was set ("file:line:col: key: ",
 * "--set k=v: key: ", or "key (default V): "); sets err->key. For checks
 * made after loading (the data, memory) that still point at the line. */
nl_code nl_config_key_error(const nl_config *cfg, nl_error *err, nl_code code, const char *key,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The schema, for documentation and tools: the number of keys and the i-th
 * dotted key path (in documentation order), NULL past the end. */
int nl_config_key_count(void);
const char *nl_config_key_name(int i);
/* The key table of configs/README.md (markdown), generated from the schema:
 * key, type, default, accepted values, meaning. */
void nl_config_write_key_table(FILE *out);

/* For checks that ask what a key contributes (which key makes a run too
 * large): the integer keys (sizes, counts, steps; scalars and lists) that
 * cfg sets itself rather than taking their defaults, in table order, at
 * most `max` into keys; returns how many. */
int nl_config_set_integer_keys(const nl_config *cfg, const char **keys, int max);
/* copies one key's value (every field it stores) from src into dst; false
 * when there is no such key */
bool nl_config_copy_key(nl_config *dst, const nl_config *src, const char *key);
/* a key's value as YAML text ("1000", "[8, 16]"); "" when there is no such key */
const char *nl_config_format_key(const nl_config *cfg, const char *key, char *buf, size_t size);

#endif
