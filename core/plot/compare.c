/* normlab compare: the curves of several run or sweep directories in one
 * figure. Their runs are merged into one set of results whose keys are what
 * differs between the runs: each directory's varied keys and the settings
 * its config has differently from another's. Where those do not tell two
 * directories apart (the same config run twice), the directory is a key of
 * its own. The curves kind draws the merged set with its own template
 * (plots/compare.gp) into an output directory that is normlab's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "config/norm_label.h"
#include "model/spec.h"
#include "plot/internal.h"
#include "plot/plot.h"
#include "results/files.h"
#include "results/rundir.h"
#include "results/store.h"

/* marks an output directory as compare's: it may be written again */
#define COMPARE_MARKER ".normlab-compare"

/* settings that change neither what a run learns nor what it measures */
static bool ignored_key(const char *key) { return !strcmp(key, "name") || !strcmp(key, "threads"); }

/* the merged set: every input's runs, in order, and where each came from */
typedef struct {
    const nl_results **in; /* the inputs: those loaded here (loaded), or a caller's */
    nl_results *loaded;
    int n_in, n_loaded;
    int *source; /* per merged run: its input */
    const nl_results_run **run;
    /* per merged run: its own config.yaml (empty when it has none), the
     * one its reader holds (nl_results_run.held) or one read here (read) */
    const nl_flat **config;
    nl_flat *read;
    int n_runs;
    char (*keys)[96]; /* the candidate keys */
    int n_keys;
    /* the candidate keys by name: a key's slot holds its index + 1 (0
     * empty); looked up for every item of every run's config, which a
     * list took 20 million comparisons to search on two 4,000-run sweeps
     * (66 items a config, 70 keys) */
    int *key_slot;
    size_t key_mask;
    /* per input and candidate key [s * n_keys + k]: the input's column of
     * it (-1 not varied), the value its config gives (NULL none) */
    int *varied_at;
    const char **input_value;
    /* per candidate key and merged run [k * n_runs + i] (a key's runs
     * side by side, as key_values reads them): the value the run's own
     * config gives (NULL none): each config walked once, not searched for
     * each key (nl_flat_get: 630,000 searches of 66 items on the two
     * sweeps, most of compare's time once it read nothing, issue 118) */
    const char **own_value;
} merge;

static uint64_t text_hash(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h;
}

/* the slot of key in M->key_slot: where it is, or the empty one it goes in */
static size_t key_slot_of(const merge *M, const char *key)
{
    size_t at = (size_t)text_hash(key) & M->key_mask;
    while (M->key_slot[at] && strcmp(M->keys[M->key_slot[at] - 1], key))
        at = (at + 1) & M->key_mask;
    return at;
}

/* the candidate key's index, -1 when it is none */
static int key_index(const merge *M, const char *key)
{
    return M->key_slot ? M->key_slot[key_slot_of(M, key)] - 1 : -1;
}

/* M->key_slot at most a quarter full with one more key */
static nl_code grow_key_slots(merge *M, nl_error *err)
{
    size_t cap = 64;
    while (cap < 4 * ((size_t)M->n_keys + 1))
        cap *= 2;
    if (M->key_slot && cap <= M->key_mask + 1)
        return NL_OK;
    free(M->key_slot);
    M->key_mask = cap - 1;
    if (!(M->key_slot = calloc(cap, sizeof *M->key_slot)))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < M->n_keys; k++)
        M->key_slot[key_slot_of(M, M->keys[k])] = k + 1;
    return NL_OK;
}

static nl_code add_candidate(merge *M, const char *key, nl_error *err)
{
    if (ignored_key(key) || key_index(M, key) >= 0)
        return NL_OK;
    nl_code rc = grow_key_slots(M, err);
    if (rc)
        return rc;
    if (M->n_keys % 64 == 0) {
        char (*grown)[96] = realloc(M->keys, (size_t)(M->n_keys + 64) * sizeof *grown);
        if (!grown)
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        M->keys = grown;
    }
    nl_copy_string(M->keys[M->n_keys], sizeof M->keys[0], key);
    M->key_slot[key_slot_of(M, M->keys[M->n_keys])] = M->n_keys + 1;
    M->n_keys++;
    return NL_OK;
}

/* M's varied_at, input_value and own_value of its candidate keys */
static nl_code index_values(merge *M, nl_error *err)
{
    const size_t n_keys = (size_t)M->n_keys;
    M->varied_at = malloc(((size_t)M->n_in * n_keys + 1) * sizeof *M->varied_at);
    M->input_value = calloc((size_t)M->n_in * n_keys + 1, sizeof *M->input_value);
    M->own_value = calloc((size_t)M->n_runs * n_keys + 1, sizeof *M->own_value);
    if (!M->varied_at || !M->input_value || !M->own_value)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int s = 0; s < M->n_in; s++)
        for (size_t k = 0; k < n_keys; k++) {
            const nl_results *r = M->in[s];
            M->varied_at[(size_t)s * n_keys + k] = nl_results_key(r, M->keys[k]);
            M->input_value[(size_t)s * n_keys + k] = r->have_config ? nl_flat_get(&r->config, M->keys[k]) : NULL;
        }
    for (int i = 0; i < M->n_runs; i++)
        for (int e = 0; e < M->config[i]->n; e++) {
            const int k = key_index(M, M->config[i]->items[e].key);
            if (k < 0)
                continue;
            /* the first item of a key, as nl_flat_get finds it */
            const size_t at = (size_t)k * (size_t)M->n_runs + (size_t)i;
            if (!M->own_value[at])
                M->own_value[at] = M->config[i]->items[e].value;
        }
    return NL_OK;
}

/* a run's value of candidate key k: its varied value, else its own
 * config's, else (a run not started) its directory's; NULL when unknown
 * (not applicable to the run, or no config to read) */
static const char *raw_value(const merge *M, int i, int k)
{
    const size_t s = (size_t)M->source[i], n_keys = (size_t)M->n_keys;
    const int at = M->varied_at[s * n_keys + (size_t)k];
    const char *v = at >= 0                ? M->run[i]->values[at]
                    : M->config[i]->n > 0  ? M->own_value[(size_t)k * (size_t)M->n_runs + (size_t)i]
                    : M->in[s]->have_config ? M->input_value[s * n_keys + (size_t)k]
                                            : NULL;
    return v && v[0] ? v : NULL;
}

/* every run's config.yaml, where it has one: within a sweep, a setting the
 * grid does not vary can still differ from run to run (a normalizer's
 * group count applies to group norm's runs only). The one the run's
 * reader holds where it holds one, else read here. */
static nl_code load_run_configs(merge *M, nl_error *err)
{
    M->config = calloc((size_t)M->n_runs + 1, sizeof *M->config);
    M->read = calloc((size_t)M->n_runs + 1, sizeof *M->read);
    if (!M->config || !M->read)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < M->n_runs; i++) {
        const nl_run_held *held = M->run[i]->held;
        M->config[i] = held && held->config ? held->config : &M->read[i];
        if (M->config[i] != &M->read[i])
            continue;
        char path[1300], *text = NULL;
        nl_error ignored = {0};
        snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, M->run[i]->dir);
        if (nl_run_file_read(M->run[i]->dir, NL_RUN_CONFIG_FILE, &text, NULL, &ignored) != NL_OK)
            continue;
        if (nl_flat_from_yaml(text, path, &M->read[i], &ignored) != NL_OK)
            nl_flat_free(&M->read[i]);
        free(text);
    }
    return NL_OK;
}

/* The texts a key's values were met as, each with its class's value: a
 * text met before is that class again, with no comparison (seed's 954
 * classes over 8,940 runs made 4 million). Open addressing, FNV-1a. */
typedef struct {
    const char **text, **cls;
    size_t mask;
} seen_texts;

static bool seen_init(seen_texts *t, int n)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)n + 2)
        cap *= 2;
    t->mask = cap - 1;
    t->text = calloc(cap, sizeof *t->text);
    t->cls = calloc(cap, sizeof *t->cls);
    return t->text && t->cls;
}

/* the slot of text: where it is, or the empty one it goes in */
static size_t seen_slot(const seen_texts *t, const char *text)
{
    size_t at = (size_t)text_hash(text) & t->mask;
    while (t->text[at] && strcmp(t->text[at], text))
        at = (at + 1) & t->mask;
    return at;
}

/* An integer as one text alone writes it: an optional '-', then 0 or
 * digits that do not start with 0, at most 18 (no overflow). Two of them
 * are equal values (nl_values_equal: integers exactly) only as the same
 * text, so a text not met before is a new class among classes of such
 * integers without a comparison: seed's 954 classes over 8,940 runs made
 * 450,000 (issue 118). */
static bool canonical_integer(const char *s)
{
    const char *d = s + (*s == '-');
    size_t n = strspn(d, "0123456789");
    return n > 0 && n <= 18 && !d[n] && (d[0] != '0' || (n == 1 && d == s));
}

/* the key's value per run, as one text per class of equal values (1e-05
 * and 0.00001 are one value), unquoted; false when every known value is the
 * same (the key does not tell runs apart) */
static bool key_values(const merge *M, int k, char **out, nl_error *err, nl_code *rc)
{
    const char *key = M->keys[k];
    const char **first = calloc((size_t)M->n_runs, sizeof *first);
    /* each class's first run, in order: a value is compared with these
     * only, not with every run before it (two sweeps of 4,770 and 4,170
     * runs made 20 million comparisons of each key their inputs differ
     * in, most of `report A B`'s time) */
    int *reps = malloc(((size_t)M->n_runs + 1) * sizeof *reps);
    seen_texts seen;
    if (!seen_init(&seen, M->n_runs) || !first || !reps) {
        free(first);
        free(reps);
        free(seen.text);
        free(seen.cls);
        *rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        return false;
    }
    /* a formula's keys by its one name (config/norm_label.h), never its text */
    const bool formula = nl_results_formula_text_key(key) || !strcmp(key, "model.norm.type");
    char (*named)[NL_NORM_LABEL_SIZE] = formula ? calloc((size_t)M->n_runs, sizeof *named) : NULL;
    int n_classes = 0;
    bool integer_reps = true; /* every class's first value a canonical_integer */
    for (int i = 0; i < M->n_runs; i++) {
        const char *v = raw_value(M, i, k);
        if (v && named && M->config[i]->n > 0 && nl_norm_label_of(M->config[i], named[i], sizeof named[i]) &&
            nl_norm_label_is_formula(named[i]))
            v = named[i];
        first[i] = v;
        if (!v)
            continue;
        const size_t slot = seen_slot(&seen, v);
        bool known = seen.text[slot] != NULL;
        if (known)
            first[i] = seen.cls[slot];
        /* a new integer among integers is a class of its own */
        const bool integer = canonical_integer(v);
        for (int c = 0; c < n_classes && !known && !(integer && integer_reps); c++)
            if (nl_values_equal(first[reps[c]], v)) {
                first[i] = first[reps[c]];
                known = true;
            }
        if (!known) {
            reps[n_classes++] = i;
            integer_reps = integer_reps && integer;
        }
        seen.text[slot] = v;
        seen.cls[slot] = first[i];
    }
    free(reps);
    free(seen.text);
    free(seen.cls);
    const bool differs = n_classes > 1;
    for (int i = 0; differs && i < M->n_runs; i++) {
        char buf[1024];
        out[i] = strdup(first[i] ? nl_unquote(first[i], buf, sizeof buf) : "");
        if (!out[i]) {
            *rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
            free(first);
            free(named);
            return false;
        }
    }
    free(first);
    free(named);
    return differs;
}

/* run i's variant in m: its values of the keys other than seed, each
 * after its length, as one text (equal texts, equal values) */
static char *variant_text(const nl_results *m, int i)
{
    nl_buf b = {0};
    nl_buf_printf(&b, "%s", "");
    for (int k = 0; k < m->n_keys; k++)
        if (k != m->seed_key)
            nl_buf_printf(&b, "%zu:%s", strlen(m->runs[i].values[k]), m->runs[i].values[k]);
    if (b.failed)
        nl_buf_free(&b);
    return b.data;
}

/* Do the runs of two inputs fall into a common variant by the keys other
 * than seed? Each input's variants in a set the next inputs' are looked up
 * in: every run of one sweep against every run of another made 20 million
 * comparisons of two 4,000-run sweeps that share none (issue 118). */
static bool inputs_overlap(const nl_results *m, const int *source, int n_in, nl_error *err, nl_code *rc)
{
    char **text = calloc((size_t)m->n_runs + 1, sizeof *text);
    seen_texts seen = {0};
    bool overlap = false;
    if (!text || !seen_init(&seen, m->n_runs))
        *rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_runs && *rc == NL_OK; i++)
        if (!(text[i] = variant_text(m, i)))
            *rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int a = 0; a + 1 < n_in && *rc == NL_OK && !overlap; a++) {
        memset(seen.text, 0, (seen.mask + 1) * sizeof *seen.text);
        for (int i = 0; i < m->n_runs; i++)
            if (source[i] == a)
                seen.text[seen_slot(&seen, text[i])] = text[i];
        /* a's variants against those of the inputs after it */
        for (int j = 0; j < m->n_runs && !overlap; j++)
            overlap = source[j] > a && seen.text[seen_slot(&seen, text[j])] != NULL;
    }
    for (int i = 0; text && i < m->n_runs; i++)
        free(text[i]);
    free(text);
    free(seen.text);
    free(seen.cls);
    return overlap;
}

/* the name an input goes by in the legend: its last path component, or the
 * path as given when another input ends the same way */
static const char *input_label(const nl_results *const *in, int n_in, int i)
{
    const char *base = strrchr(in[i]->dir, '/') ? strrchr(in[i]->dir, '/') + 1 : in[i]->dir;
    for (int j = 0; j < n_in; j++) {
        const char *other = strrchr(in[j]->dir, '/') ? strrchr(in[j]->dir, '/') + 1 : in[j]->dir;
        if (j != i && !strcmp(base, other))
            return in[i]->dir;
    }
    return base;
}

static nl_code add_key(nl_results *m, const char *key, char **values, nl_error *err)
{
    char (*keys)[96] = realloc(m->keys, (size_t)(m->n_keys + 1) * sizeof *keys);
    if (!keys)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    m->keys = keys;
    for (int i = 0; i < m->n_runs; i++) {
        char **grown = realloc(m->runs[i].values, (size_t)(m->n_keys + 1) * sizeof *grown);
        if (!grown)
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        m->runs[i].values = grown;
        grown[m->n_keys] = values[i];
        values[i] = NULL;
    }
    nl_copy_string(m->keys[m->n_keys++], sizeof m->keys[0], key);
    return NL_OK;
}

/* at most this many settings that differ between the inputs' configs name
 * the variants in the legend; more, and the directories' names do */
#define COMPARE_LABEL_SETTINGS 4

/* does some input vary `key` itself (a sweep's column)? */
static bool input_varies(const merge *M, const char *key)
{
    for (int s = 0; s < M->n_in; s++)
        if (nl_results_key(M->in[s], key) >= 0)
            return true;
    return false;
}

/* m holds M's runs (their values added key by key) */
static nl_code merged_runs(const merge *M, nl_results *m, const char *out_dir, nl_error *err)
{
    memset(m, 0, sizeof *m);
    nl_copy_string(m->dir, sizeof m->dir, out_dir);
    m->sweep = true;
    m->seed_key = -1;
    m->label_determined = true;
    m->runs = calloc((size_t)M->n_runs + 1, sizeof *m->runs);
    if (!m->runs)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    m->n_runs = M->n_runs;
    for (int i = 0; i < M->n_runs; i++) {
        m->runs[i] = *M->run[i];
        m->runs[i].values = NULL;
    }
    return NL_OK;
}

/* the candidate keys: each input's varied keys first, in its order, then
 * its config's, then the runs' own configs' */
static nl_code collect_candidates(merge *M, nl_error *err)
{
    nl_code rc = NL_OK;
    for (int s = 0; s < M->n_in && rc == NL_OK; s++) {
        const nl_results *r = M->in[s];
        for (int k = 0; k < r->n_keys && rc == NL_OK; k++)
            rc = add_candidate(M, r->keys[k], err);
        for (int e = 0; e < r->config.n && rc == NL_OK; e++)
            rc = add_candidate(M, r->config.items[e].key, err);
    }
    for (int i = 0; i < M->n_runs && rc == NL_OK; i++)
        for (int e = 0; e < M->config[i]->n && rc == NL_OK; e++)
            rc = add_candidate(M, M->config[i]->items[e].key, err);
    return rc;
}

/* The keys whose values differ between the runs, into m (values: scratch
 * of a text per run). The settings the configs differ in beyond the
 * inputs' own varied keys: a few name the variants; many (an lm against a
 * cnn differs in the data, the model and the training) would make a legend
 * wider than any screen, so the directories' names stand for them
 * (*too_many) and the footnote names the settings. */
static nl_code add_differing_keys(const merge *M, nl_results *m, char **values, bool *too_many, nl_error *err)
{
    nl_code rc = NL_OK;
    bool *differs = calloc((size_t)M->n_keys + 1, sizeof *differs);
    if (!differs)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int n_config_keys = 0;
    char config_keys[600] = "";
    size_t listed = 0;
    for (int k = 0; k < M->n_keys && rc == NL_OK; k++) {
        differs[k] = key_values(M, k, values, err, &rc);
        for (int i = 0; i < M->n_runs; i++) {
            free(values[i]);
            values[i] = NULL;
        }
        if (!differs[k] || nl_results_is_seed_key(M->keys[k]) || input_varies(M, M->keys[k]))
            continue;
        /* the first few name the kind of difference; the footnote is one line */
        if (n_config_keys++ < 3)
            listed += (size_t)snprintf(config_keys + listed, sizeof config_keys - listed, "%s%s",
                                       listed ? ", " : "", M->keys[k]);
    }
    *too_many = n_config_keys > COMPARE_LABEL_SETTINGS;
    for (int k = 0; k < M->n_keys && rc == NL_OK; k++) {
        if (!differs[k] || (*too_many && !nl_results_is_seed_key(M->keys[k]) && !input_varies(M, M->keys[k])))
            continue;
        if (key_values(M, k, values, err, &rc) && (rc = add_key(m, M->keys[k], values, err)) == NL_OK &&
            nl_results_is_seed_key(M->keys[k]))
            m->seed_key = m->n_keys - 1;
    }
    free(differs);
    if (*too_many)
        snprintf(m->note, sizeof m->note, "the directories differ in %d settings (%s, ...): the legend "
                 "names them", n_config_keys, config_keys);
    return rc;
}

/* a token model's loss and error are per predicted token, an image
 * classifier's per image: the curves share axes, not a meaning */
static void note_token_mix(const merge *M, nl_results *m)
{
    int token_runs = 0;
    const int arch_key = key_index(M, "model.arch"); /* a key no run has is no candidate */
    for (int i = 0; i < M->n_runs && arch_key >= 0; i++) {
        const char *arch = raw_value(M, i, arch_key);
        const int a = arch ? nl_name_lookup(&nl_arch_names, arch) : -1;
        token_runs += a >= 0 && nl_model_spec_tokens(&(nl_model_spec){.arch = (nl_arch)a});
    }
    if (token_runs > 0 && token_runs < M->n_runs) {
        const size_t used = strlen(m->note);
        snprintf(m->note + used, sizeof m->note - used, "%slanguage models' loss and error are per "
                 "token, the others' per sample", used ? ". " : "");
    }
}

/* the directory's name as a key when the keys leave two inputs' runs in
 * one variant, or too many settings differ to name them */
static nl_code add_directory_key(const merge *M, nl_results *m, char **values, bool too_many, nl_error *err)
{
    nl_code rc = NL_OK;
    const bool apart = !too_many && !inputs_overlap(m, M->source, M->n_in, err, &rc);
    if (rc || apart)
        return rc;
    for (int i = 0; i < M->n_runs; i++)
        if (!(values[i] = strdup(input_label(M->in, M->n_in, M->source[i]))))
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    return add_key(m, NL_RESULTS_DIRECTORY_KEY, values, err);
}

/* builds the merged results m from M's inputs */
static nl_code build_merged(merge *M, nl_results *m, const char *out_dir, nl_error *err)
{
    nl_code rc = merged_runs(M, m, out_dir, err);
    if (rc)
        return rc;
    char **values = calloc((size_t)M->n_runs + 1, sizeof *values);
    if (!values)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    bool too_many = false;
    if ((rc = collect_candidates(M, err)) == NL_OK && (rc = index_values(M, err)) == NL_OK)
        rc = add_differing_keys(M, m, values, &too_many, err);
    if (rc == NL_OK)
        note_token_mix(M, m);
    if (rc == NL_OK)
        rc = add_directory_key(M, m, values, too_many, err);
    for (int i = 0; i < M->n_runs; i++)
        free(values[i]);
    free(values);
    /* the subtitle's fixed settings: the first input's config that there is
     * (none when the configs differ in too much to have any in common),
     * borrowed (free_merged gives it back) */
    for (int s = 0; s < M->n_in && rc == NL_OK && !m->have_config && !too_many; s++)
        if (M->in[s]->have_config) {
            m->config = M->in[s]->config;
            m->have_config = true;
        }
    return rc;
}

/* NL_OK when out_dir does not exist, is empty or was written by compare */
static nl_code check_out_dir(const char *out_dir, nl_error *err)
{
    char marker[1200];
    nl_path_join(marker, sizeof marker, out_dir, COMPARE_MARKER);
    if (!nl_path_exists(out_dir))
        return NL_OK;
    if (!nl_is_dir(out_dir))
        return nl_fail(err, NL_ERR_USAGE, "--out %s is not a directory; nothing was written", out_dir);
    /* empty first, then the marker: make_out_dir makes the marker before
     * any other file, so a directory another compare is filling has it by
     * the time it is seen with files */
    if (!nl_dir_is_empty(out_dir) && !nl_path_exists(marker))
        return nl_fail(err, NL_ERR_USAGE, "--out %s is not empty and normlab compare did not write it (no %s "
                       "in it); nothing was written: choose another --out, or empty it", out_dir, COMPARE_MARKER);
    return NL_OK;
}

/* with a set: out_dir made by it, a marker it made removed if it fails,
 * and the figure written in a work directory beside out_dir */
static nl_code make_out_dir(const char *out_dir, nl_outset *set, nl_plot_report *rep, nl_error *err)
{
    nl_code rc = set ? nl_outset_make_dirs(set, out_dir, err) : nl_make_dirs(out_dir, err);
    char marker[1200];
    nl_path_join(marker, sizeof marker, out_dir, COMPARE_MARKER);
    /* empty, so made in place: a temporary beside it would make the
     * directory look, to another compare checking it at that moment, not
     * empty and not compare's */
    int fd = -1;
    nl_error open_err = {0};
    if (rc == NL_OK && nl_open_write(marker, O_WRONLY | O_CREAT | O_EXCL, &fd, &open_err) != NL_OK &&
        !(open_err.code == NL_ERR_IO && errno == EEXIST)) {
        *err = open_err;
        rc = open_err.code;
    }
    if (fd >= 0) {
        close(fd);
        if (set)
            nl_outset_own(set, marker);
    }
    if (rc == NL_OK && set)
        rc = nl_outset_work_dir(set, out_dir, rep->work_dir, sizeof rep->work_dir, err);
    return rc;
}

/* the same directory named twice would draw each run twice */
static nl_code check_distinct(const char *const *dirs, int n, nl_error *err)
{
    for (int i = 0; i < n; i++) {
        char a[PATH_MAX];
        if (!realpath(dirs[i], a))
            continue; /* loading it says why */
        for (int j = 0; j < i; j++) {
            char b[PATH_MAX];
            if (realpath(dirs[j], b) && !strcmp(a, b))
                return nl_fail(err, NL_ERR_USAGE, "%s and %s are the same directory", dirs[j], dirs[i]);
        }
    }
    return NL_OK;
}

/* what compare takes: two directories or more, distinct, a curves spec,
 * an --out that is compare's or empty */
static nl_code check_request(const char *const *dirs, int n_dirs, const nl_plot_spec *spec, const char *out_dir,
                             nl_error *err)
{
    char msg[512];
    if (n_dirs < 2)
        return nl_fail(err, NL_ERR_USAGE, "compare needs at least two run or sweep directories, got %d", n_dirs);
    if (spec->kind != NL_PLOT_CURVES)
        return nl_fail(err, NL_ERR_USAGE, "compare draws curves only");
    if (!nl_plot_spec_check(spec, msg, sizeof msg))
        return nl_fail(err, NL_ERR_USAGE, "%s", msg);
    nl_code rc = check_distinct(dirs, n_dirs, err);
    if (rc == NL_OK)
        rc = check_out_dir(out_dir, err);
    return rc;
}

/* every run of M's inputs in order, with its input and its own config */
static nl_code index_runs(merge *M, nl_error *err)
{
    for (int s = 0; s < M->n_in; s++)
        M->n_runs += M->in[s]->n_runs;
    M->source = calloc((size_t)M->n_runs + 1, sizeof *M->source);
    M->run = calloc((size_t)M->n_runs + 1, sizeof *M->run);
    if (!M->source || !M->run)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int s = 0, i = 0; s < M->n_in; s++)
        for (int j = 0; j < M->in[s]->n_runs; j++, i++) {
            M->source[i] = s;
            M->run[i] = &M->in[s]->runs[j];
        }
    return load_run_configs(M, err);
}

/* each directory's results loaded into M->loaded (M->n_loaded counts
 * them, to free) as M's inputs */
static nl_code load_inputs(merge *M, const char *const *dirs, int n_dirs, nl_error *err)
{
    M->loaded = calloc((size_t)n_dirs, sizeof *M->loaded);
    if (!M->loaded)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (; M->n_loaded < n_dirs; M->n_loaded++) {
        nl_code rc = nl_results_load(dirs[M->n_loaded], &M->loaded[M->n_loaded], err);
        if (rc)
            return rc;
        nl_results_check_run_files(&M->loaded[M->n_loaded]);
        M->in[M->n_in++] = &M->loaded[M->n_loaded];
    }
    return index_runs(M, err);
}

/* a caller's results as M's inputs */
static nl_code take_inputs(merge *M, const nl_results *const *in, int n_in, nl_error *err)
{
    for (; M->n_in < n_in; M->n_in++)
        M->in[M->n_in] = in[M->n_in];
    return index_runs(M, err);
}

/* the inputs' left-out rows are the figure's */
static void adopt_warnings(const merge *M, nl_results *m)
{
    for (int s = 0; s < M->n_in; s++)
        for (const char *w = M->in[s]->warnings; *w;) {
            char line[1600];
            const size_t len = strcspn(w, "\n");
            snprintf(line, sizeof line, "%.*s", (int)len, w);
            nl_results_warn(m, line);
            w += len + (w[len] == '\n');
        }
}

/* out_dir marked as compare's, then the curves into it */
static nl_code write_compare(const nl_results *m, const nl_plot_spec *spec, const char *out_dir,
                             const pl_templates *templates, nl_outset *set, nl_plot_report *rep, nl_error *err)
{
    nl_code rc = make_out_dir(out_dir, set, rep, err);
    if (rc)
        return rc;
    char curves_name[64], name[80];
    nl_plot_spec_name(spec, curves_name, sizeof curves_name);
    /* compare[-metric][-split], as curves names its files */
    snprintf(name, sizeof name, "compare%s", spec->name[0] ? "" : curves_name + strlen("curves"));
    nl_copy_string(rep->plots_dir, sizeof rep->plots_dir, out_dir);
    return pl_write_one(m, spec, spec->name[0] ? spec->name : name, "compare", templates, rep, err);
}

/* m's values are its own (add_key), its runs' other fields and its
 * config the inputs' */
static void free_merged(nl_results *m)
{
    memset(&m->config, 0, sizeof m->config);
    for (int i = 0; i < m->n_runs && m->runs; i++) {
        for (int k = 0; k < m->n_keys; k++)
            free(m->runs[i].values[k]);
        free(m->runs[i].values);
        m->runs[i].values = NULL;
    }
    m->n_runs = 0;
    nl_results_free(m);
    free(m);
}

static void free_merge(merge *M)
{
    for (int s = 0; s < M->n_loaded; s++)
        nl_results_free(&M->loaded[s]);
    free(M->loaded);
    free(M->in);
    for (int i = 0; M->read && i < M->n_runs; i++)
        nl_flat_free(&M->read[i]);
    free(M->read);
    free(M->config);
    free(M->source);
    free(M->run);
    free(M->keys);
    free(M->key_slot);
    free(M->varied_at);
    free(M->input_value);
    free(M->own_value);
}

/* the figure of dirs, loaded here (loaded NULL) or loaded[i] the results of dirs[i] */
static nl_code compare(const char *const *dirs, const nl_results *const *loaded, int n_dirs, const nl_plot_spec *spec,
                       const char *out_dir, const char *templates_dir, nl_outset *set, nl_plot_report *rep,
                       nl_error *err)
{
    memset(rep, 0, sizeof *rep);
    nl_code rc = check_request(dirs, n_dirs, spec, out_dir, err);
    if (rc)
        return rc;
    merge M = {0};
    nl_results *m = calloc(1, sizeof *m);
    pl_templates *templates = calloc(1, sizeof *templates);
    M.in = calloc((size_t)n_dirs, sizeof *M.in);
    if (!m || !templates || !M.in) {
        free(m);
        free(templates);
        free(M.in);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    if ((rc = pl_templates_load(templates_dir, templates, err)) == NL_OK &&
        (rc = loaded ? take_inputs(&M, loaded, n_dirs, err) : load_inputs(&M, dirs, n_dirs, err)) == NL_OK)
        rc = build_merged(&M, m, out_dir, err);
    if (rc == NL_OK) {
        adopt_warnings(&M, m);
        nl_copy_string(rep->warnings, sizeof rep->warnings, m->warnings);
        rc = write_compare(m, spec, out_dir, templates, set, rep, err);
    }
    free_merged(m);
    free_merge(&M);
    pl_templates_free(templates);
    free(templates);
    return rc;
}

nl_code nl_plot_compare(const char *const *dirs, int n_dirs, const nl_plot_spec *spec, const char *out_dir,
                        const char *templates_dir, nl_plot_report *rep, nl_error *err)
{
    return compare(dirs, NULL, n_dirs, spec, out_dir, templates_dir, NULL, rep, err);
}

nl_code nl_plot_compare_staged(const char *const *dirs, int n_dirs, const nl_plot_spec *spec, const char *out_dir,
                               const char *templates_dir, nl_outset *set, nl_plot_report *rep, nl_error *err)
{
    return compare(dirs, NULL, n_dirs, spec, out_dir, templates_dir, set, rep, err);
}

nl_code nl_plot_compare_loaded(const nl_results *const *in, int n_in, const nl_plot_spec *spec, const char *out_dir,
                               const char *templates_dir, nl_plot_report *rep, nl_error *err)
{
    const char **dirs = calloc((size_t)n_in + 1, sizeof *dirs);
    if (!dirs)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_in; i++)
        dirs[i] = in[i]->dir;
    const nl_code rc = compare(dirs, in, n_in, spec, out_dir, templates_dir, NULL, rep, err);
    free(dirs);
    return rc;
}
