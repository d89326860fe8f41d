/* The config schema: one table of keys (dotted path, type, where the value
 * lives in nl_config, default, accepted values, one line of documentation).
 * Parsing, --set overrides, validation, the resolved-config writer and the
 * key table in configs/README.md are all driven by it. Internal to
 * core/config. */
#ifndef NL_CONFIG_SCHEMA_H
#define NL_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "base/names.h"
#include "config/config.h"

/* limits of the synthetic data generator (core/data/synthetic.c) */
#define NL_SHAPE_MAX_CHANNELS 16
/* feature vectors ([d]): the generator's limit (core/data/synthetic.c) */
#define NL_SHAPE_MAX_FEATURES 65536
#define NL_SHAPE_MAX_SIDE 1024

typedef enum {
    NL_KT_INT,        /* int or long (size) */
    NL_KT_FLOAT,      /* float */
    NL_KT_BOOL,       /* bool */
    NL_KT_STRING,     /* char[size] */
    NL_KT_ENUM,       /* int-sized enum named by `names` */
    NL_KT_BIAS,       /* auto | true | false -> int -1 / 1 / 0 */
    NL_KT_MOMENTUM,   /* number in [0, 1], or cumulative / null (model.norm.momentum) */
    NL_KT_INT_LIST,   /* int[], count at count_off */
    NL_KT_FLOAT_LIST, /* float[], count at count_off */
    /* a list of names of `names`, each at most once, held as an unsigned
     * of bits 1u << value (model.norm.reduce); min_items/max_items bound
     * the list, and with NL_KF_ZERO_UNSET 0 means "not given" */
    NL_KT_NAME_SET,
    NL_KT_SHAPE,      /* [c, h, w] or [d] (data.shape) */
} nl_key_type;

enum {
    NL_KF_LO = 1 << 0,         /* lower bound lo */
    NL_KF_HI = 1 << 1,         /* upper bound hi */
    NL_KF_LO_OPEN = 1 << 2,    /* > lo rather than >= lo */
    NL_KF_HI_OPEN = 1 << 3,    /* < hi rather than <= hi */
    NL_KF_INCREASING = 1 << 4, /* list items strictly increasing */
    NL_KF_ZERO_UNSET = 1 << 5, /* 0 in the struct means "not given" (train.epochs/steps) */
    NL_KF_RUN_NAME = 1 << 6,   /* a run name: restricted characters */
    /* a key added after checkpoint format 4: at its default it is left out
     * of a checkpoint's config keys (nl_checkpoint_config_keys), so that a
     * checkpoint written before the key existed, whose run had that
     * default, still resumes */
    NL_KF_AFTER_FORMAT4 = 1 << 7,
    /* a rule newer than checkpoints already written (issue 55): those list
     * the key in their config keys where the older rule held, which
     * nl_checkpoint_config keeps doing, so that they still resume and
     * their final models still load. RULE_NEWER: the key had no rule (it
     * was listed always); AND_WHEN_NEWER: its and_when is newer (it was
     * listed where its when_key condition holds). */
    NL_KF_RULE_NEWER = 1 << 8,
    NL_KF_AND_WHEN_NEWER = 1 << 9,
    /* a setting of the machine or the plan, not of the run: two runs that
     * differ only in it are the same run (a sweep's resume, the drift
     * check); threads, name, the layout the plan decides */
    NL_KF_OUTSIDE_RUN = 1 << 10,
    /* an enum whose key a config.yaml normlab resolved before the key
     * applied leaves out: that run had the first value (value 0), and
     * replays so, where a user's file without the key gets the default */
    NL_KF_REPLAY_FIRST = 1 << 11,
    /* a normalizer's name in legends, tables and CSV cells
     * (model.norm.name): an identifier (nl_ident_ok), and no built-in
     * normalizer's name, whose curves it would join; "" is not given */
    NL_KF_NORM_LABEL = 1 << 12,
};

/* the bit of enum value v (bool: 1 true) in a condition's mask */
#define NL_KEY_BIT(v) (1u << (v))

/* One condition of a key's rule ("applies only when ..."). The governing
 * key `key` is an enum or a bool: the condition holds when its value has a
 * bit in `mask` (bool: bit 1 true); a set of names (NL_KT_NAME_SET) when it
 * includes a name in `mask`, or with `lacks` when it includes none of
 * them; or, for model.norm.type and
 * train.optimizer.type, when its registry row has all of `norm_keys` /
 * `optim_keys` (core/norm, core/optim); a `key` of model.arch with no mask
 * means the architectures whose rows (core/arch/registry.c) list the ruled
 * key. A number, list or string governing key holds when it is set: not 0,
 * not empty. */
typedef struct {
    const char *key;
    unsigned mask;
    unsigned norm_keys;
    unsigned optim_keys;
    /* or this instead: the condition also holds when the enum or bool key
     * `or_key` has a value in `or_mask` (the normalizer's keys act where a
     * placement puts one, or where QK-norm does at placement none) */
    const char *or_key;
    unsigned or_mask;
    /* a set's condition: holds when the set includes none of `mask` */
    bool lacks;
    /* instead of or_key/or_mask: the condition also holds for the
     * normalizers whose rows lack all these NL_NORM_KEY_* bits (a custom
     * normalizer's axes decide it; every other kind is its own point) */
    unsigned or_norm_without;
    /* instead of `mask`: the string key (model.norm.expr) names this word
     * (nl_formula_reads), with or_norm_without NL_NORM_KEY_FORMULA so that
     * only a formula's text can make the key meaningless */
    const char *reads;
    /* with reads: the condition also holds where the string key
     * `or_reads_key` names the word `or_reads` (groups act on a formula
     * whose model.norm.params declares a parameter per group) */
    const char *or_reads_key;
    const char *or_reads;
    /* why the rule holds, said when a key is refused by it ("" or NULL:
     * the condition says enough) */
    const char *why;
} nl_key_when;

/* the most conditions one key's rule has (when_key and its and_when) */
#define NL_SCHEMA_MAX_CONDITIONS 6

typedef struct {
    const char *key;  /* dotted path */
    nl_key_type type;
    size_t off;       /* offset of the field in nl_config */
    size_t size;      /* size of the field (int: 4 or 8; string: buffer; list: array) */
    size_t count_off; /* lists: offset of the int item count */
    int min_items, max_items;
    const nl_name_table *names; /* NL_KT_ENUM */
    /* NL_KT_NAME_SET with NL_KF_ZERO_UNSET: the names the rules it governs
     * take it to hold when not given (model.norm.reduce: channels, layer
     * norm's reduction) */
    unsigned unset_names;
    double lo, hi;
    unsigned flags;
    /* applies only when the enum (or bool: bit 1 true) key `when_key` has
     * a value in `when_mask` (bit per value); NULL: always */
    const char *when_key;
    unsigned when_mask;
    /* when_key model.norm.type: the kinds whose registry row (core/norm)
     * has all these NL_NORM_KEY_* bits, instead of when_mask */
    unsigned when_norm_keys;
    /* when_key train.optimizer.type: the kinds whose row (core/optim) has
     * all these NL_OPTIM_KEY_* bits */
    unsigned when_optim_keys;
    /* further conditions that must all hold too (ended by one with key
     * NULL): a key that acts only under several others, e.g. the
     * recurrent cell's normalizer keys (an architecture with a cell, and
     * placement in_cell, and a normalizer that has an in-cell form) */
    const nl_key_when *and_when;
    const char *default_doc; /* default, when it is not simply the default config's value */
    const char *doc;         /* one line */
} nl_key_def;

extern const nl_key_def nl_config_schema[];
extern const int nl_config_schema_count;

const nl_key_def *nl_schema_find(const char *key);
/* true when `path` is a section ("model", "train.optimizer") */
bool nl_schema_is_section(const char *path);

/* "an integer >= 1", "a number in [0, 1)", "none | batch | ...", ... */
const char *nl_schema_accepted(const nl_key_def *def, char *buf, size_t size);
/* "integer", "number", "list of integers", ... for the key table */
const char *nl_schema_type_name(const nl_key_def *def);
/* the "when" condition as text: "data.dataset is synthetic", the
 * conditions of a longer rule joined by " and " ("" when always) */
const char *nl_schema_when_text(const nl_key_def *def, char *buf, size_t size);
/* whether the key applies under cfg (every condition of its rule holds) */
bool nl_schema_applies(const nl_key_def *def, const nl_config *cfg);

/* The conditions of def's rule, when_key's first, each with its mask
 * resolved (the registries' bits turned into a mask: norm_keys and
 * optim_keys 0), into out; returns their count (0: always applies). */
int nl_schema_conditions(const nl_key_def *def, nl_key_when out[NL_SCHEMA_MAX_CONDITIONS]);
/* whether one resolved condition holds under cfg */
bool nl_schema_condition_holds(const nl_key_when *w, const nl_config *cfg);
/* one resolved condition as text: "model.norm.placement is in_cell" */
const char *nl_schema_condition_text(const nl_key_when *w, char *buf, size_t size);
/* the first condition of def's rule that fails under cfg, resolved, into
 * *failing; false when the key applies */
bool nl_schema_failing_condition(const nl_key_def *def, const nl_config *cfg,
                                 nl_key_when *failing);

/* the value of a key in cfg as YAML text (round-trips through the parser) */
const char *nl_schema_format(const nl_key_def *def, const nl_config *cfg, char *buf, size_t size);
/* a float in the shortest form that reads back to the same float */
const char *nl_format_float(float value, char *buf, size_t size);
/* a YAML double-quoted string */
const char *nl_format_string(const char *value, char *buf, size_t size);

/* copies one key's field(s) from src to dst */
void nl_schema_copy(const nl_key_def *def, nl_config *dst, const nl_config *src);
/* whether one key's field(s) are equal in a and b */
bool nl_schema_equal(const nl_key_def *def, const nl_config *a, const nl_config *b);

/* Range/shape check of the value stored in cfg (what parsing checks, for
 * configs filled by hand); on failure writes "<value> is out of range;
 * accepted: ..." into msg and returns false. */
bool nl_schema_check_value(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size);
/* the same for a string value before it is stored */
bool nl_schema_check_string(const nl_key_def *def, const char *s, char *msg, size_t size);

/* field access */
static inline void *nl_schema_field(nl_config *cfg, const nl_key_def *def)
{
    return (char *)cfg + def->off;
}
static inline const void *nl_schema_cfield(const nl_config *cfg, const nl_key_def *def)
{
    return (const char *)cfg + def->off;
}
long long nl_schema_get_int(const nl_key_def *def, const nl_config *cfg);
void nl_schema_set_int(const nl_key_def *def, nl_config *cfg, long long value);

#endif
