/* Writes the generated part of the fuzzers' seed corpora and the config
 * dictionary into OUTDIR, derived from the library rather than typed in:
 *   OUTDIR/config.dict   every key (dotted and by component) and every name
 *                        the schema accepts, from the configs/README.md table,
 *                        and the plot kinds and metrics an experiment names
 *   OUTDIR/config/       the resolved form of every .yaml file in configs/ (every key
 *                        present), "{}" plus one --set override per key of the
 *                        defaults, and per key of the table with its default,
 *                        each name it accepts and its range's ends (after
 *                        the key that makes it apply)
 *   OUTDIR/idx/, cifar/  small valid datasets in the harnesses' input layout
 *                        (fuzz_idx.c, fuzz_cifar.c)
 *   OUTDIR/text/         the README's start as text files (fuzz_text.c)
 *   OUTDIR/results/      each committed sweep of results/: its summary.csv
 *                        and its first run's files (fuzz_results.c)
 *   OUTDIR/sweep/        a few small committed sweeps: summary.csv, the first
 *                        run's files, verdicts.csv and the experiment file,
 *                        in five modes, and the first with its first run
 *                        named by a path to it ("sub/../NAME", "./NAME",
 *                        "/NAME") (fuzz_sweep.h: fuzz_report.c, fuzz_export.c)
 *   OUTDIR/sweep.dict    their dictionary: "../" and the readers' column names
 *   OUTDIR/checkpoint/   checkpoints written by short runs of
 *                        fuzz_checkpoint.h's config (fuzz_checkpoint.c)
 *   OUTDIR/final_model/  the final model of a run of fuzz_final_model.h's
 *                        config, in its format and as format 1 (fuzz_final_model.c)
 *   OUTDIR/init_from/    that run's config.yaml, summary.json and final model
 *                        (fuzz_init_from.c)
 *   OUTDIR/eval_args/    `normlab eval` argument lists: each option with a
 *                        value it takes, and --data with each data.* key of
 *                        that run's resolved config at its value (fuzz_eval_args.c)
 * The example configs, experiments and test fixtures are read by the fuzzers
 * where they are. Usage: fuzz_seeds SOURCE_DIR OUTDIR */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "config/config.h"
#include "config/flat.h"
#include "fuzz_checkpoint.h"
#include "fuzz_final_model.h"
#include "log/files.h"
#include "plot/plot.h"
#include "results/run_result.h"
#include "train/checkpoint.h"
#include "train/final_model.h"
#include "train/run.h"
#include "verdict/verdict.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path, strerror(errno));
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        die(path, strerror(errno));
}

/* ---- the dictionary ---- */

/* one dictionary entry, quoted and escaped the way libFuzzer reads them */
static void dict_entry(FILE *out, const char *word, size_t len)
{
    if (!len)
        return;
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 32 || c > 126)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputs("\"\n", out);
}

/* the i-th cell of a markdown table row (0-based), trimmed; "\|" inside a
 * cell separates accepted names, it does not end the cell */
static const char *cell(const char *row, int i, size_t *len)
{
    const char *start = NULL;
    int k = -1;
    for (const char *p = row; *p && *p != '\n'; p++) {
        if (*p != '|' || (p > row && p[-1] == '\\'))
            continue;
        if (k == i) {
            const char *end = p;
            while (start < end && *start == ' ')
                start++;
            while (end > start && end[-1] == ' ')
                end--;
            *len = (size_t)(end - start);
            return start;
        }
        k++;
        start = p + 1;
    }
    return NULL;
}

/* the schema's key table (configs/README.md's), as text (caller frees) */
static char *key_table(void)
{
    char *table = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&table, &size);
    if (!mem)
        die("open_memstream", strerror(errno));
    nl_config_write_key_table(mem);
    fclose(mem);
    return table;
}

/* the next row of the table after `row` (NULL at the end) */
static const char *next_row(const char *row)
{
    const char *nl = strchr(row, '\n');
    return nl && nl[1] ? nl + 1 : NULL;
}

/* the next name of an accepted-names cell ("a \\| b \\| c") from *w
 * (which it moves past it) into name/len; false when none is left */
static bool next_accepted(const char **w, const char *end, const char **name, size_t *len)
{
    if (*w >= end)
        return false;
    const char *bar = memmem(*w, (size_t)(end - *w), " \\| ", 4);
    *name = *w;
    *len = (size_t)((bar ? bar : end) - *w);
    *w = bar ? bar + 4 : end;
    return true;
}

static void write_dict(const char *outdir)
{
    char *table = key_table();
    char path[1200];
    snprintf(path, sizeof path, "%s/config.dict", outdir);
    FILE *out = fopen(path, "w");
    if (!out)
        die(path, strerror(errno));
    for (const char *row = table; row && *row; row = next_row(row)) {
        size_t len;
        const char *key = cell(row, 0, &len);
        if (!key || len < 3 || key[0] != '`')
            continue;
        key++;
        len -= 2;
        dict_entry(out, key, len); /* for --set */
        for (const char *c = key; c < key + len;) {
            const char *dot = memchr(c, '.', (size_t)(key + len - c));
            size_t n = dot ? (size_t)(dot - c) : (size_t)(key + len - c);
            char leaf[100];
            snprintf(leaf, sizeof leaf, "%.*s:", (int)n, c);
            dict_entry(out, leaf, strlen(leaf));
            c += n + 1;
        }
        /* accepted names: "a \| b \| c" */
        const char *acc = cell(row, 3, &len);
        const char *name, *w = acc;
        size_t name_len;
        if (acc && memmem(acc, len, "\\|", 2))
            while (next_accepted(&w, acc + len, &name, &name_len))
                dict_entry(out, name, name_len);
    }
    /* an experiment's plots: {kind: K, metric: M, split: S, where: {...}} */
    const nl_name_table *plot_names[] = {&nl_plot_kind_names, &nl_plot_final_metric_names,
                                         &nl_plot_weight_stat_names, &nl_plot_curve_metric_names};
    for (size_t t = 0; t < sizeof plot_names / sizeof *plot_names; t++)
        for (int i = 0; i < plot_names[t]->count; i++) {
            const char *name = nl_name_of(plot_names[t], i);
            dict_entry(out, name, strlen(name));
        }
    fclose(out);
    free(table);
}

/* ---- config seeds ---- */

static void write_config_seeds(const char *srcdir, const char *outdir)
{
    char dir[1200], configs[1200];
    snprintf(dir, sizeof dir, "%s/config", outdir);
    make_dir(dir);
    snprintf(configs, sizeof configs, "%s/configs", srcdir);
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    DIR *d = opendir(configs);
    if (!d || !cfg)
        die(configs, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[1200], name[300];
        snprintf(path, sizeof path, "%s/%s", configs, e->d_name);
        if (nl_config_load(path, NULL, 0, cfg, &err) != NL_OK)
            die(path, err.msg);
        nl_flat flat;
        char *text = NULL;
        if (nl_flat_from_config(cfg, &flat, &text, &err) != NL_OK)
            die(path, err.msg);
        snprintf(name, sizeof name, "resolved-%s", e->d_name);
        write_file(dir, name, text, strlen(text));
        free(text);
        nl_flat_free(&flat);
    }
    closedir(d);

    /* "{}", NUL, "key=value": one override per key of the defaults */
    if (nl_config_load_string("{}", "defaults", NULL, 0, cfg, &err) != NL_OK)
        die("defaults", err.msg);
    nl_flat flat;
    if (nl_flat_from_config(cfg, &flat, NULL, &err) != NL_OK)
        die("defaults", err.msg);
    for (int i = 0; i < flat.n; i++) {
        char seed[1200], name[120];
        int len = snprintf(seed, sizeof seed, "{}%c%s=%s", 0, flat.items[i].key, flat.items[i].value);
        snprintf(name, sizeof name, "set-%s", flat.items[i].key);
        write_file(dir, name, seed, (size_t)len);
    }
    nl_flat_free(&flat);
    free(cfg);
}

/* one key seed: "{}", then NUL-separated overrides: the condition that
 * makes the key apply (when the table names one), then KEY=VALUE */
static void write_key_seed(const char *dir, const char *key, size_t key_len, const char *value,
                           size_t value_len, const char *cond, size_t cond_len, int index)
{
    char seed[1200], name[160];
    int len = snprintf(seed, sizeof seed, "{}");
    if (cond_len)
        len += snprintf(seed + len, sizeof seed - (size_t)len, "%c%.*s", 0, (int)cond_len, cond);
    len += snprintf(seed + len, sizeof seed - (size_t)len, "%c%.*s=%.*s", 0, (int)key_len, key,
                    (int)value_len, value);
    if (len >= (int)sizeof seed)
        die(key, "a key seed longer than its buffer");
    snprintf(name, sizeof name, "key-%.*s-%d", (int)key_len, key, index);
    write_file(dir, name, seed, (size_t)len);
}

/* For every key of the schema's table, the keys the defaults leave out
 * included (those that apply only under a condition: the recurrent cell's,
 * the parameter normalizer's, the probes'): "{}" with the key set to its
 * default and to each name it accepts, after the override that makes it
 * apply ("(only when K is V or ...)": K=V), and to both ends of the range
 * it accepts ("an integer in [A, B]"). */
static void write_key_seeds(const char *outdir)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/config", outdir);
    char *table = key_table();
    for (const char *row = table; row && *row; row = next_row(row)) {
        size_t key_len, def_len, acc_len, help_len;
        const char *key = cell(row, 0, &key_len);
        if (!key || key_len < 3 || key[0] != '`')
            continue;
        key++;
        key_len -= 2;
        /* the condition: "K=V" from "(only when K is V or W)" */
        char cond[256] = "";
        const char *help = cell(row, 4, &help_len);
        const char *when = help ? memmem(help, help_len, "(only when ", 11) : NULL;
        if (when) {
            const char *k = when + 11, *is = strstr(k, " is ");
            if (is) {
                const char *v = is + 4;
                size_t v_len = strcspn(v, " )");
                snprintf(cond, sizeof cond, "%.*s=%.*s", (int)(is - k), k, (int)v_len, v);
            }
        }
        int index = 0;
        /* the default, where the table gives one as a single value */
        const char *def = cell(row, 2, &def_len);
        if (def && def_len > 2 && def[0] == '`' && def[def_len - 1] == '`' &&
            !memchr(def + 1, '`', def_len - 2))
            write_key_seed(dir, key, key_len, def + 1, def_len - 2, cond, strlen(cond), index++);
        /* each accepted name: "a \| b \| c" */
        const char *acc = cell(row, 3, &acc_len);
        const char *name, *w = acc;
        size_t name_len;
        if (acc && memmem(acc, acc_len, "\\|", 2))
            while (next_accepted(&w, acc + acc_len, &name, &name_len))
                write_key_seed(dir, key, key_len, name, name_len, cond, strlen(cond), index++);
        /* a range's ends: "an integer in [1, 1000000000]" */
        const char *range = acc ? memmem(acc, acc_len, " in [", 5) : NULL;
        const char *comma = range ? memchr(range, ',', (size_t)(acc + acc_len - range)) : NULL;
        const char *close = comma ? memchr(comma, ']', (size_t)(acc + acc_len - comma)) : NULL;
        if (close && comma[1] == ' ') {
            write_key_seed(dir, key, key_len, range + 5, (size_t)(comma - range - 5), cond, strlen(cond), index++);
            write_key_seed(dir, key, key_len, comma + 2, (size_t)(close - comma - 2), cond, strlen(cond), index++);
        }
    }
    free(table);
}

/* ---- dataset seeds: a header, n - 1 16-bit lengths, the files ---- */

typedef struct {
    unsigned char *data;
    size_t len;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    b->data = realloc(b->data, b->len + n);
    if (!b->data)
        die("realloc", "out of memory");
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_be32(bytes *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, p, 4);
}

static void write_seed(const char *dir, const char *name, const unsigned char header[3],
                       const bytes *files, int n)
{
    bytes seed = {0};
    put(&seed, header, 3);
    for (int i = 0; i < n - 1; i++) {
        if (files[i].len > 0xffff)
            die(name, "a file of the seed is longer than a 16-bit length");
        unsigned char len[2] = {(unsigned char)files[i].len, (unsigned char)(files[i].len >> 8)};
        put(&seed, len, 2);
    }
    for (int i = 0; i < n; i++)
        put(&seed, files[i].data, files[i].len);
    write_file(dir, name, seed.data, seed.len);
    free(seed.data);
}

static bytes gzip_of(const bytes *plain)
{
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2", "failed");
    bytes out = {malloc(deflateBound(&z, plain->len)), 0};
    z.next_in = plain->data;
    z.avail_in = (uInt)plain->len;
    z.next_out = out.data;
    z.avail_out = (uInt)deflateBound(&z, plain->len);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        die("deflate", "failed");
    out.len = z.total_out;
    deflateEnd(&z);
    return out;
}

static void write_idx_seeds(const char *outdir)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/idx", outdir);
    make_dir(dir);
    const uint32_t counts[4] = {3, 3, 2, 2};
    bytes files[4] = {{0}};
    for (int f = 0; f < 4; f++) {
        bool images = f % 2 == 0;
        put_be32(&files[f], images ? 0x803 : 0x801);
        put_be32(&files[f], counts[f]);
        if (images) {
            put_be32(&files[f], 28);
            put_be32(&files[f], 28);
        }
        for (uint32_t i = 0; i < counts[f]; i++) {
            if (!images) {
                unsigned char label = (unsigned char)((i * 3 + (uint32_t)f) % 10);
                put(&files[f], &label, 1);
                continue;
            }
            for (int j = 0; j < 28 * 28; j++) {
                unsigned char px = (unsigned char)((i * 31 + (uint32_t)j * 7) & 255);
                put(&files[f], &px, 1);
            }
        }
    }
    write_seed(dir, "plain", (unsigned char[3]){0x00, 0, 0}, files, 4);
    write_seed(dir, "gzip-by-harness", (unsigned char[3]){0x0f, 0, 0}, files, 4);
    write_seed(dir, "subset", (unsigned char[3]){0x05, 2, 1}, files, 4);
    bytes gz[4];
    for (int f = 0; f < 4; f++)
        gz[f] = gzip_of(&files[f]);
    write_seed(dir, "gzip-in-input", (unsigned char[3]){0x00, 0, 0}, gz, 4);
    for (int f = 0; f < 4; f++) {
        free(files[f].data);
        free(gz[f].data);
    }
}

static void write_cifar_seeds(const char *outdir)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/cifar", outdir);
    make_dir(dir);
    bytes files[6] = {{0}};
    for (int f = 0; f < 6; f++) {
        int records = f == 0 ? 2 : 1;
        for (int r = 0; r < records; r++) {
            unsigned char label = (unsigned char)((f + r) % 10);
            put(&files[f], &label, 1);
            for (int j = 0; j < 3 * 32 * 32; j++) {
                unsigned char px = (unsigned char)((r * 31 + j * 7 + f) & 255);
                put(&files[f], &px, 1);
            }
        }
    }
    write_seed(dir, "all", (unsigned char[3]){0x00, 0, 0}, files, 6);
    write_seed(dir, "archive-subdir", (unsigned char[3]){0x40, 0, 0}, files, 6);
    write_seed(dir, "subset", (unsigned char[3]){0x00, 3, 1}, files, 6);
    for (int f = 0; f < 6; f++)
        free(files[f].data);
}

/* the text reader's seeds (fuzz_text.c: a 5-byte header, then the file):
 * the start of the README in each vocabulary, with subsets and a large
 * validation split */
static void write_text_seeds(const char *srcdir, const char *outdir)
{
    char dir[1200], path[1200];
    snprintf(dir, sizeof dir, "%s/text", outdir);
    make_dir(dir);
    snprintf(path, sizeof path, "%s/README.md", srcdir);
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, strerror(errno));
    unsigned char text[2048];
    const size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    const struct {
        const char *name;
        unsigned char header[5];
    } seeds[] = {
        {"bytes", {0, 25, 14, 0, 0}},
        {"chars", {1, 25, 14, 0, 0}},
        {"subsets", {1, 127, 6, 200, 40}},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        bytes seed = {0};
        put(&seed, seeds[i].header, sizeof seeds[i].header);
        put(&seed, text, n);
        write_file(dir, seeds[i].name, seed.data, seed.len);
        free(seed.data);
    }
}

/* ---- results seeds: the committed sweeps of results/ (fuzz_results.c) ---- */

/* dir/name cut after its last whole line within `max` bytes; false when the
 * file is missing */
static bool read_lines(const char *dir, const char *name, size_t max, bytes *out)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    out->data = malloc(max);
    if (!out->data)
        die("malloc", "out of memory");
    out->len = fread(out->data, 1, max, f);
    const bool whole = out->len < max || fgetc(f) == EOF;
    fclose(f);
    if (!whole)
        while (out->len > 0 && out->data[out->len - 1] != '\n')
            out->len--;
    return true;
}

/* every results/<sweep>/ with a summary.csv: the sweep's summary.csv and
 * its first run's files, in fuzz_results.c's layout (each cut to 2 KB) */
static void write_results_seeds(const char *srcdir, const char *outdir)
{
    static const char *const files[] = {"summary.csv", "summary.json", "metrics.csv",
                                        "config.yaml", "series.csv", "trace.csv"};
    enum { N = sizeof files / sizeof files[0], MAX = 2048 };
    char dir[1200], results[1200];
    snprintf(dir, sizeof dir, "%s/results", outdir);
    make_dir(dir);
    snprintf(results, sizeof results, "%s/results", srcdir);
    DIR *d = opendir(results);
    if (!d)
        die(results, strerror(errno));
    int written = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char sweep[1500], run[2000];
        snprintf(sweep, sizeof sweep, "%s/%s", results, e->d_name);
        bytes part[N] = {{0}};
        if (e->d_name[0] == '.' || !read_lines(sweep, files[0], MAX, &part[0]))
            continue;
        /* the first run: the first field of the line after the header */
        const char *row = memchr(part[0].data, '\n', part[0].len);
        size_t name_len = 0;
        if (row)
            while (row + 1 + name_len < (const char *)part[0].data + part[0].len &&
                   row[1 + name_len] != ',' && row[1 + name_len] != '\n')
                name_len++;
        if (!row || !name_len) {
            free(part[0].data);
            continue;
        }
        snprintf(run, sizeof run, "%s/runs/%.*s", sweep, (int)name_len, row + 1);
        /* byte 1: the files there, and (bits N and N + 1, in turn over the
         * sweeps) the where filters fuzz_results.c applies */
        unsigned char header[2] = {(unsigned char)(written * 37), (unsigned char)(1u | (unsigned)(written % 4) << N)};
        for (int i = 1; i < N; i++)
            if (read_lines(run, files[i], MAX, &part[i]))
                header[1] |= (unsigned char)(1u << i);
        bytes seed = {0};
        put(&seed, header, sizeof header);
        for (int i = 0; i < N - 1; i++) {
            unsigned char len[2] = {(unsigned char)part[i].len, (unsigned char)(part[i].len >> 8)};
            put(&seed, len, 2);
        }
        for (int i = 0; i < N; i++) {
            if (part[i].len)
                put(&seed, part[i].data, part[i].len);
            free(part[i].data);
        }
        write_file(dir, e->d_name, seed.data, seed.len);
        free(seed.data);
        written++;
    }
    closedir(d);
    if (written == 0)
        die(results, "no sweep with a summary.csv");
}

/* ---- sweep seeds: a few small committed sweeps (fuzz_sweep.h's layout,
 * fuzz_report.c and fuzz_export.c) ---- */

/* every file of fuzz_sweep.h, in its order, for results/NAME: its
 * summary.csv, its first run's five files, verdicts.csv and
 * experiments/NAME.yaml, each cut after its last whole line within the
 * sizes below; one seed per mode byte below (the harnesses' bits: 1 the
 * single run, 2 both directories or a logdir that holds a file, 4 the
 * experiment file or --force) */
static void write_sweep_seeds(const char *srcdir, const char *outdir)
{
    /* small sweeps: one without series.csv and trace.csv, ones with
     * series.csv (probes), one with trace.csv */
    static const char *const sweeps[] = {"finetune-shift-pretrain", "rms-layer-cnn", "loss-scaling-lm",
                                         "ioffe-fig1", "signal-propagation"};
    static const char *const run_files[] = {"summary.json", "metrics.csv", "config.yaml", "series.csv",
                                            "trace.csv"};
    static const unsigned char modes[] = {0, 1, 2, 4, 6};
    enum { N = 8, ROWS_MAX = 4096, RUN_MAX = 2048, CONFIG_MAX = 8192, EXPERIMENT_MAX = 16384 };
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/sweep", outdir);
    make_dir(dir);
    for (size_t k = 0; k < sizeof sweeps / sizeof *sweeps; k++) {
        char sweep[1200], run[1500], experiments[1200], exp_name[200];
        snprintf(sweep, sizeof sweep, "%s/results/%s", srcdir, sweeps[k]);
        snprintf(experiments, sizeof experiments, "%s/experiments", srcdir);
        snprintf(exp_name, sizeof exp_name, "%s.yaml", sweeps[k]);
        bytes part[N] = {{0}};
        unsigned char mask = 0;
        if (!read_lines(sweep, "summary.csv", ROWS_MAX, &part[0]))
            die(sweep, "no summary.csv");
        mask |= 1u;
        /* the first run: the first field of the line after the header */
        const char *row = memchr(part[0].data, '\n', part[0].len);
        size_t name_len = 0;
        while (row && row + 1 + name_len < (const char *)part[0].data + part[0].len && row[1 + name_len] != ',' &&
               row[1 + name_len] != '\n')
            name_len++;
        if (!name_len)
            die(sweep, "no run in summary.csv");
        snprintf(run, sizeof run, "%s/runs/%.*s", sweep, (int)name_len, row + 1);
        for (int i = 1; i <= 5; i++)
            if (read_lines(run, run_files[i - 1], i == 3 ? CONFIG_MAX : RUN_MAX, &part[i]))
                mask |= (unsigned char)(1u << i);
        if (read_lines(sweep, "verdicts.csv", ROWS_MAX, &part[6]))
            mask |= 1u << 6;
        if (read_lines(experiments, exp_name, EXPERIMENT_MAX, &part[7]))
            mask |= 1u << 7;
        for (size_t m = 0; m < sizeof modes; m++) {
            const unsigned char header[2] = {modes[m], mask};
            bytes seed = {0};
            put(&seed, header, sizeof header);
            for (int i = 0; i < N - 1; i++) {
                const unsigned char len[2] = {(unsigned char)part[i].len, (unsigned char)(part[i].len >> 8)};
                put(&seed, len, 2);
            }
            for (int i = 0; i < N; i++)
                if (part[i].len)
                    put(&seed, part[i].data, part[i].len);
            char name[300];
            snprintf(name, sizeof name, "%s-mode-%d", sweeps[k], modes[m]);
            write_file(dir, name, seed.data, seed.len);
            free(seed.data);
        }
        /* the first sweep's first run named by paths that lead to the
         * same directory: a few bytes from names that lead out of it */
        static const char *const paths[] = {"sub/../", "./", "/"};
        for (size_t p = 0; p < sizeof paths / sizeof *paths && k == 0; p++) {
            const size_t plen = strlen(paths[p]), at = (size_t)(row + 1 - (const char *)part[0].data);
            bytes seed = {0};
            const unsigned char header[2] = {0, mask};
            put(&seed, header, sizeof header);
            for (int i = 0; i < N - 1; i++) {
                const size_t n = part[i].len + (i == 0 ? plen : 0);
                const unsigned char len[2] = {(unsigned char)n, (unsigned char)(n >> 8)};
                put(&seed, len, 2);
            }
            put(&seed, part[0].data, at);
            put(&seed, paths[p], plen);
            put(&seed, part[0].data + at, part[0].len - at);
            for (int i = 1; i < N; i++)
                if (part[i].len)
                    put(&seed, part[i].data, part[i].len);
            char name[300];
            snprintf(name, sizeof name, "%s-path-%zu", sweeps[k], p);
            write_file(dir, name, seed.data, seed.len);
            free(seed.data);
        }
        for (int i = 0; i < N; i++)
            free(part[i].data);
    }
}

/* the sweep harnesses' dictionary (sweep.dict): what turns a run name
 * into a path elsewhere, and the words the readers look for */
static void write_sweep_dict(const char *outdir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/sweep.dict", outdir);
    FILE *out = fopen(path, "w");
    if (!out)
        die(path, strerror(errno));
    static const char *const words[] = {
        "../", "..", "/", "./", "\"", ",", "\n", "\r\n", "runs/", "run,", "status", "seed", "started_at",
        "finished_at", "wall_s", "step", "split", "epoch", "elapsed_s", "lr", "train", "test", "series",
        "layer", "name", "value", "nan", "inf", "-1", "1e308", "claim", "verdict", "expect", "lo", "hi",
        "effect", "p_holm", "level", "plots:", "kind:", "metric:", "where:", "name:"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        dict_entry(out, words[i], strlen(words[i]));
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++)
        dict_entry(out, nl_sweep_metric_names[m], strlen(nl_sweep_metric_names[m]));
    for (int st = NL_SWEEP_PENDING; st <= NL_SWEEP_FAILED; st++)
        dict_entry(out, nl_sweep_state_name((nl_sweep_state)st), strlen(nl_sweep_state_name((nl_sweep_state)st)));
    for (int k = 0; k < NL_VERDICT_KIND_COUNT; k++)
        dict_entry(out, nl_verdict_kind_names[k], strlen(nl_verdict_kind_names[k]));
    fclose(out);
}

/* ---- checkpoint seeds: a mode byte, then a checkpoint file ---- */

typedef struct {
    long stop_at;
    atomic_int stop;
} stopper;

/* called after each step once a tenth of a second has passed since the
 * last call: the pause makes it every step, so the run stops (and its last
 * checkpoint is taken, checkpoint_every being 1) at step stop_at */
static void stop_at_step(void *ctx, const nl_progress *p)
{
    stopper *s = ctx;
    usleep(100000);
    if (p->step >= s->stop_at)
        s->stop = 1;
}

static void write_checkpoint_seeds(const char *outdir)
{
    char dir[1200], work[1200];
    snprintf(dir, sizeof dir, "%s/checkpoint", outdir);
    make_dir(dir);
    snprintf(work, sizeof work, "%s/checkpoint-runs", outdir);
    make_dir(work);
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    if (!cfg || nl_config_load_string(fuzz_checkpoint_config, "fuzz-checkpoint.yaml", NULL, 0, cfg, &err) != NL_OK)
        die("fuzz_checkpoint_config", err.msg);
    /* mid-epoch before the first evaluation, just after one, and in the
     * second epoch (8 steps per epoch) */
    const long steps[] = {3, 7, 11};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        char out_dir[1300], path[1400], name[64];
        snprintf(out_dir, sizeof out_dir, "%s/step-%ld", work, steps[i]);
        stopper st = {steps[i], 0};
        const nl_run_options opt = {.out_dir = out_dir, .threads = 1, .device = -1, .progress = stop_at_step,
                                    .ctx = &st, .stop = &st.stop};
        nl_run_outcome outcome;
        nl_run(cfg, &opt, &outcome, &err); /* stopped: a failed run by design */
        nl_error_clear(&err);
        snprintf(path, sizeof path, "%s/" NL_CHECKPOINT_FILE, out_dir);
        char *file = NULL;
        size_t len = 0;
        if (nl_read_file(path, &file, &len, &err) != NL_OK)
            die(path, err.msg);
        const unsigned char modes[] = {0, FUZZ_CKPT_FIX_CRC | FUZZ_CKPT_OWN_HASH};
        for (size_t k = 0; k < sizeof modes; k++) {
            unsigned char *seed = malloc(len + 1);
            if (!seed)
                die("malloc", "out of memory");
            seed[0] = modes[k];
            memcpy(seed + 1, file, len);
            snprintf(name, sizeof name, "step-%ld-mode-%d", steps[i], modes[k]);
            write_file(dir, name, seed, len + 1);
            free(seed);
        }
        free(file);
    }
    free(cfg);
}

/* ---- final model seeds: a mode byte, then a final model file ---- */

static void write_final_model_seeds(const char *outdir)
{
    char dir[1200], run_dir[1300], path[1400], name[64];
    snprintf(dir, sizeof dir, "%s/final_model", outdir);
    make_dir(dir);
    snprintf(run_dir, sizeof run_dir, "%s/final-model-run", outdir);
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    if (!cfg || nl_config_load_string(fuzz_final_model_config, "fuzz-final-model.yaml", NULL, 0, cfg, &err) != NL_OK)
        die("fuzz_final_model_config", err.msg);
    const nl_run_options opt = {.out_dir = run_dir, .threads = 1, .device = -1, .force = true};
    nl_run_outcome outcome;
    if (nl_run(cfg, &opt, &outcome, &err) != NL_OK)
        die("the final model's run", err.msg);
    free(cfg);
    snprintf(path, sizeof path, "%s/" NL_FINAL_MODEL_FILE, run_dir);
    char *file = NULL;
    size_t len = 0;
    if (nl_read_file(path, &file, &len, &err) != NL_OK)
        die(path, err.msg);
    /* as written, then as format 1 wrote it: the CRC over the payload alone */
    for (uint32_t version = NL_FINAL_MODEL_VERSION; version >= 1; version--) {
        memcpy(file + 8, &version, 4);
        const uint64_t crc = nl_checkpoint_file_crc(file, len, version >= NL_FINAL_MODEL_WHOLE_CRC_VERSION);
        memcpy(file + NL_CHECKPOINT_CRC_AT, &crc, 8);
        const unsigned char modes[] = {0, FUZZ_FINAL_FIX_CRC, FUZZ_FINAL_FIX_CRC | FUZZ_FINAL_NO_CONFIG};
        for (size_t k = 0; k < sizeof modes; k++) {
            unsigned char *seed = malloc(len + 1);
            if (!seed)
                die("malloc", "out of memory");
            seed[0] = modes[k];
            memcpy(seed + 1, file, len);
            snprintf(name, sizeof name, "format-%u-mode-%d", version, modes[k]);
            write_file(dir, name, seed, len + 1);
            free(seed);
        }
    }
    free(file);
}

/* ---- init.from seeds: a mode byte, two 16-bit lengths, the run's files ---- */

static void write_init_from_seeds(const char *outdir)
{
    char dir[1200], run_dir[1300], path[1400];
    snprintf(dir, sizeof dir, "%s/init_from", outdir);
    make_dir(dir);
    /* write_final_model_seeds' run */
    snprintf(run_dir, sizeof run_dir, "%s/final-model-run", outdir);
    static const char *const names[] = {"config.yaml", "summary.json", NL_FINAL_MODEL_FILE};
    enum { N = sizeof names / sizeof names[0] };
    bytes file[N] = {{0}};
    nl_error err = {0};
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/%s", run_dir, names[i]);
        char *text = NULL;
        if (nl_read_file(path, &text, &file[i].len, &err) != NL_OK)
            die(path, err.msg);
        if (i < N - 1 && file[i].len > 0xffff)
            die(path, "longer than a 16-bit length");
        file[i].data = (unsigned char *)text;
    }
    /* byte 0: FUZZ_FINAL_FIX_CRC or not, and above it each of
     * fuzz_init_from.c's config variants */
    const int variants = (int)(sizeof fuzz_init_from_variants / sizeof *fuzz_init_from_variants);
    for (int mode = 0; mode < 2 * variants; mode++) {
        const unsigned char byte = (unsigned char)mode;
        bytes seed = {0};
        put(&seed, &byte, 1);
        for (int i = 0; i < N - 1; i++) {
            unsigned char len[2] = {(unsigned char)file[i].len, (unsigned char)(file[i].len >> 8)};
            put(&seed, len, 2);
        }
        for (int i = 0; i < N; i++)
            put(&seed, file[i].data, file[i].len);
        char name[64];
        snprintf(name, sizeof name, "finished-mode-%d", mode);
        write_file(dir, name, seed.data, seed.len);
        free(seed.data);
    }
    for (int i = 0; i < N; i++)
        free(file[i].data);
}

/* ---- eval argument seeds: the arguments after RUN_DIR, NUL-separated ---- */

static void write_eval_args_seeds(const char *outdir)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/eval_args", outdir);
    make_dir(dir);
    /* cmd/eval.c's options, each with a value it takes (sizeof: the
     * literal's length, NULs inside included) */
#define ARGS(literal) {literal, sizeof literal - 1}
    static const struct {
        const char *args;
        size_t len;
    } options[] = {
        ARGS(""), ARGS("--fold-bn"), ARGS("--batch-stats"), ARGS("--batch\0" "4"),
        ARGS("--context\0" "8"), ARGS("--name\0" "mine"), ARGS("--device\0" "cpu"),
        ARGS("--threads\0" "1"), ARGS("--batch-stats\0--batch\0" "16"), ARGS("--help"),
    };
#undef ARGS
    char name[200], seed[1400];
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
        snprintf(name, sizeof name, "option-%zu", i);
        write_file(dir, name, options[i].args, options[i].len);
    }
    /* --data with every data key of the run's config, at its value */
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    if (!cfg || nl_config_load_string(fuzz_final_model_config, "fuzz-final-model.yaml", NULL, 0, cfg, &err) != NL_OK)
        die("fuzz_final_model_config", err.msg);
    nl_flat flat;
    if (nl_flat_from_config(cfg, &flat, NULL, &err) != NL_OK)
        die("fuzz_final_model_config", err.msg);
    for (int i = 0; i < flat.n; i++) {
        if (strncmp(flat.items[i].key, "data.", 5) != 0)
            continue;
        const int len = snprintf(seed, sizeof seed, "--data%c%s=%s", 0, flat.items[i].key, flat.items[i].value);
        snprintf(name, sizeof name, "data-%s", flat.items[i].key + 5);
        write_file(dir, name, seed, (size_t)len < sizeof seed ? (size_t)len : sizeof seed - 1);
    }
    nl_flat_free(&flat);
    free(cfg);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_seeds SOURCE_DIR OUTDIR\n");
        return 2;
    }
    make_dir(argv[2]);
    write_dict(argv[2]);
    write_config_seeds(argv[1], argv[2]);
    write_key_seeds(argv[2]);
    write_idx_seeds(argv[2]);
    write_cifar_seeds(argv[2]);
    write_text_seeds(argv[1], argv[2]);
    write_results_seeds(argv[1], argv[2]);
    write_sweep_seeds(argv[1], argv[2]);
    write_sweep_dict(argv[2]);
    write_checkpoint_seeds(argv[2]);
    write_final_model_seeds(argv[2]);
    write_init_from_seeds(argv[2]);
    write_eval_args_seeds(argv[2]);
    return 0;
}
