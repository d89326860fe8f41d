/* Shared by fuzz_report.c and fuzz_export.c: a sweep directory (and a
 * single run's) made from one input, in a fresh root per input, and the
 * listing of the root's parent before and after the reader ran, so that a
 * harness sees whatever the reader wrote, changed or left behind.
 *
 * Input: byte 0: the harness's mode bits (MODE_* in each harness, which
 * says what they mean to it); byte 1: bit i set: file i is written (possibly
 * empty), clear: it is missing; then fuzz_split's lengths and the eight
 * files, in this order: summary.csv, summary.json, metrics.csv,
 * config.yaml, series.csv, trace.csv, verdicts.csv, experiment.yaml
 * (fuzz_seeds.c writes seeds in this layout: seeds/sweep/).
 *
 * The root (ROOT below, in fuzz_files.h's per-process directory):
 *   ROOT/sweep/summary.csv, verdicts.csv  the sweep's files
 *   ROOT/sweep/runs/NAME/                 the run files, for each of the
 *       first FUZZ_SWEEP_MAX_RUNS run names in summary.csv's first column as
 *       the results reader reads them (nl_csv_table_read, so quoted names
 *       too); a name with "..", "/" or one that is absolute gets its files
 *       wherever sweep/runs/NAME leads, as long as that stays in ROOT (so a
 *       reader that follows the name out of the sweep finds files there)
 *   ROOT/run/                             a single run's directory, the five files
 *   ROOT/experiments/sweep.yaml           experiment.yaml
 *   ROOT/tmp/                             TMPDIR, empty
 *   ROOT/out/                             fuzz_export's logdir (not made here)
 * PATH is an empty directory outside ROOT: gnuplot is never found (no
 * figure is drawn; the scripts are still written), and TMPDIR is
 * ROOT/tmp. */
#ifndef NL_FUZZ_SWEEP_H
#define NL_FUZZ_SWEEP_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/files.h"
#include "results/results.h"
/* fuzz_files.h's dataset helpers go unused here */
#pragma clang diagnostic ignored "-Wunused-function"
#include "fuzz_files.h"

#define FUZZ_SWEEP_HEADER 2
enum {
    FS_SUMMARY_CSV,
    FS_SUMMARY_JSON,
    FS_METRICS,
    FS_CONFIG,
    FS_SERIES,
    FS_TRACE,
    FS_VERDICTS,
    FS_EXPERIMENT,
    FS_N_FILES
};
static const char *const fuzz_sweep_files[FS_N_FILES] = {
    "summary.csv", "summary.json", "metrics.csv", "config.yaml",
    "series.csv",  "trace.csv",    "verdicts.csv", "experiment.yaml"};
/* the runs of the sweep given files: enough for variants and seeds to differ */
#define FUZZ_SWEEP_MAX_RUNS 4

typedef struct {
    const char *base; /* fuzz_files.h's per-process directory, ROOT's parent */
    char root[320];
    char sweep[400], run[400], experiments[400], experiment[420], tmp[400], out[400];
    unsigned mode, mask;
    int n_names; /* run directories made for summary.csv's names */
} fuzz_sweep;

static void fuzz_sweep_mkdir(const char *path)
{
    FUZZ_REQUIRE(mkdir(path, 0700) == 0 || errno == EEXIST, "cannot make %s: %s", path, strerror(errno));
}

/* removes path and what is under it, following no link (fuzz_files.h's
 * fuzz_remove_tree would empty a directory a link points to) */
static void fuzz_sweep_remove(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char sub[1400];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            fuzz_sweep_remove(sub);
        }
    if (d)
        closedir(d);
    rmdir(path);
}

/* PATH an empty directory beside the roots, once: no gnuplot */
static void fuzz_sweep_environment(const char *base)
{
    static bool done;
    if (done)
        return;
    char bin[400];
    snprintf(bin, sizeof bin, "%s/bin", base);
    fuzz_sweep_mkdir(bin);
    FUZZ_REQUIRE(setenv("PATH", bin, 1) == 0, "setenv PATH");
    done = true;
}

/* ROOT/sweep/runs/NAME as a path relative to ROOT with "." and ".."
 * resolved lexically (the root holds no links); false when it leaves ROOT
 * or is too long */
static bool fuzz_sweep_inside(const char *name, char *rel, size_t size)
{
    char path[1024];
    if (snprintf(path, sizeof path, "sweep/runs/%s", name) >= (int)sizeof path)
        return false;
    size_t used = 0;
    rel[0] = '\0';
    for (char *save = NULL, *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            if (used == 0)
                return false;
            while (used > 0 && rel[used - 1] != '/')
                used--;
            used -= used > 0;
            rel[used] = '\0';
            continue;
        }
        const int n = snprintf(rel + used, size - used, "%s%s", used ? "/" : "", c);
        if (n < 0 || (size_t)n >= size - used)
            return false;
        used += (size_t)n;
    }
    return used > 0;
}

/* mkdir -p ROOT/rel; false when a file is in the way */
static bool fuzz_sweep_make_dirs(const char *root, const char *rel)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return false;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* a run's files (summary.json to trace.csv) into dir: those the mask says exist */
static void fuzz_sweep_write_run(const char *dir, unsigned mask, const uint8_t **part, const size_t *len)
{
    for (int f = FS_SUMMARY_JSON; f <= FS_TRACE; f++)
        if (mask >> f & 1u)
            fuzz_write_file(dir, fuzz_sweep_files[f], part[f], len[f], false);
}

/* the run directories of summary.csv's first names, as the reader names them */
static void fuzz_sweep_runs(fuzz_sweep *s, const uint8_t **part, const size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/summary.csv", s->sweep);
    nl_csv_table t;
    nl_error ignored = {0};
    if (nl_csv_table_read(path, &t, &ignored) != NL_OK)
        return;
    char made[FUZZ_SWEEP_MAX_RUNS][1024];
    for (int r = 0; r < t.n_rows && s->n_names < FUZZ_SWEEP_MAX_RUNS; r++) {
        /* as nl_results keeps it: a run name of 159 bytes at most */
        char name[160], rel[1024];
        nl_copy_string(name, sizeof name, t.n_cols > 0 ? t.rows[r][0] : "");
        if (!fuzz_sweep_inside(name, rel, sizeof rel))
            continue;
        bool seen = false;
        for (int j = 0; j < s->n_names && !seen; j++)
            seen = !strcmp(made[j], rel);
        if (seen || !fuzz_sweep_make_dirs(s->root, rel))
            continue;
        char dir[1400];
        snprintf(dir, sizeof dir, "%s/%s", s->root, rel);
        fuzz_sweep_write_run(dir, s->mask, part, len);
        nl_copy_string(made[s->n_names++], sizeof made[0], rel);
        /* where the name led, as coverage of its own: an input whose run
         * is one or two levels further out than before is new to the
         * fuzzer, so it keeps it and mutates it further out */
        static volatile int where[4];
        if (!strncmp(rel, "sweep/runs/", 11) && !strchr(rel + 11, '/'))
            where[0]++;
        else if (!strncmp(rel, "sweep/runs/", 11))
            where[1]++;
        else if (!strncmp(rel, "sweep/", 6))
            where[2]++;
        else
            where[3]++;
    }
    nl_csv_table_free(&t);
}

/* the root of one input, made from it; false: an input to skip (too short) */
static bool fuzz_sweep_make(fuzz_sweep *s, const uint8_t *data, size_t size)
{
    const uint8_t *part[FS_N_FILES];
    size_t len[FS_N_FILES];
    if (!fuzz_split(data, size, FUZZ_SWEEP_HEADER, FS_N_FILES, part, len))
        return false;
    memset(s, 0, sizeof *s);
    s->mode = data[0];
    s->mask = data[1];
    s->base = fuzz_files_dir();
    fuzz_sweep_environment(s->base);
    snprintf(s->root, sizeof s->root, "%s/root", s->base);
    /* the last input's root, and whatever a reader put beside it */
    DIR *d = opendir(s->base);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "bin")) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s", s->base, e->d_name);
            fuzz_sweep_remove(path);
        }
    if (d)
        closedir(d);
    fuzz_sweep_mkdir(s->root);
    snprintf(s->sweep, sizeof s->sweep, "%s/sweep", s->root);
    snprintf(s->run, sizeof s->run, "%s/run", s->root);
    snprintf(s->experiments, sizeof s->experiments, "%s/experiments", s->root);
    snprintf(s->experiment, sizeof s->experiment, "%s/sweep.yaml", s->experiments);
    snprintf(s->tmp, sizeof s->tmp, "%s/tmp", s->root);
    snprintf(s->out, sizeof s->out, "%s/out", s->root);
    fuzz_sweep_mkdir(s->sweep);
    fuzz_sweep_mkdir(s->run);
    fuzz_sweep_mkdir(s->experiments);
    fuzz_sweep_mkdir(s->tmp);
    FUZZ_REQUIRE(setenv("TMPDIR", s->tmp, 1) == 0, "setenv TMPDIR");
    if (s->mask >> FS_EXPERIMENT & 1u)
        fuzz_write_file(s->experiments, "sweep.yaml", part[FS_EXPERIMENT], len[FS_EXPERIMENT], false);
    if (s->mask >> FS_VERDICTS & 1u)
        fuzz_write_file(s->sweep, fuzz_sweep_files[FS_VERDICTS], part[FS_VERDICTS], len[FS_VERDICTS], false);
    if (s->mask & 1u) {
        fuzz_write_file(s->sweep, fuzz_sweep_files[FS_SUMMARY_CSV], part[FS_SUMMARY_CSV], len[FS_SUMMARY_CSV],
                        false);
        char runs[420];
        snprintf(runs, sizeof runs, "%s/runs", s->sweep);
        fuzz_sweep_mkdir(runs);
        fuzz_sweep_runs(s, part, len);
    }
    fuzz_sweep_write_run(s->run, s->mask, part, len);
    return true;
}

/* ---- the mutator: one file at a time ---- */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* The input's files mutated one at a time, their lengths rewritten to
 * match: libFuzzer's own insertions and erasures shift every later file's
 * bytes across the fixed lengths (a summary.json whose last byte starts
 * metrics.csv, which then has no header), so an input rarely changes in
 * one file alone. A choice in eight is still libFuzzer's own mutation of
 * the whole input (the header and lengths included), and a quarter of
 * summary.csv's rewrite one run name cell (the first field of one of its
 * first rows): "../" or "/" put before it (half of them), else
 * libFuzzer's mutation of the cell alone; that is where names that lead
 * out of the sweep, and absolute ones, come from. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    const uint8_t *part[FS_N_FILES];
    size_t len[FS_N_FILES];
    const size_t at0 = FUZZ_SWEEP_HEADER + 2 * (FS_N_FILES - 1);
    if (seed % 8 == 0 || !fuzz_split(data, size, FUZZ_SWEEP_HEADER, FS_N_FILES, part, len))
        return LLVMFuzzerMutate(data, size, max_size);
    /* the file to mutate, and within summary.csv maybe one name cell: [from, to) */
    const int f = (int)(seed / 8 % FS_N_FILES);
    size_t from = 0, to = len[f];
    const bool cell = f == FS_SUMMARY_CSV && seed / 64 % 4 == 0;
    if (cell) {
        size_t row = 1 + seed / 1024 % FUZZ_SWEEP_MAX_RUNS, i = 0;
        for (size_t r = 0; r < row && i < len[f]; i++)
            r += part[f][i] == '\n';
        from = to = i;
        while (to < len[f] && part[f][to] != ',' && part[f][to] != '\n')
            to++;
    }
    const size_t keep = size - (to - from);
    if (keep >= max_size)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t room = max_size - keep;
    /* a file but the last is at most 65535 bytes: its length has 16 bits */
    if (f < FS_N_FILES - 1 && room > 0xffff - (len[f] - (to - from)))
        room = 0xffff - (len[f] - (to - from));
    uint8_t *piece = malloc(room + 1), *out = malloc(max_size);
    if (!piece || !out) {
        free(piece);
        free(out);
        return LLVMFuzzerMutate(data, size, max_size);
    }
    memcpy(piece, part[f] + from, to - from);
    /* a name cell: "../" or "/" put before it, else libFuzzer's mutation of it */
    static const char *const before[] = {"../", "/"};
    const unsigned op = seed / 256 % 4;
    size_t n;
    if (cell && op < 2 && to - from + strlen(before[op]) <= room) {
        const size_t add = strlen(before[op]);
        memmove(piece + add, piece, to - from);
        memcpy(piece, before[op], add);
        n = to - from + add;
    } else {
        n = LLVMFuzzerMutate(piece, to - from, room);
    }
    /* rebuilt: the header, the lengths, the files with piece in place */
    size_t new_len[FS_N_FILES], o = at0;
    memcpy(new_len, len, sizeof len);
    new_len[f] = len[f] - (to - from) + n;
    memcpy(out, data, FUZZ_SWEEP_HEADER);
    for (int i = 0; i < FS_N_FILES - 1; i++) {
        out[FUZZ_SWEEP_HEADER + 2 * i] = (uint8_t)new_len[i];
        out[FUZZ_SWEEP_HEADER + 2 * i + 1] = (uint8_t)(new_len[i] >> 8);
    }
    for (int i = 0; i < FS_N_FILES; i++) {
        if (i != f) {
            memcpy(out + o, part[i], len[i]);
            o += len[i];
            continue;
        }
        memcpy(out + o, part[i], from);
        memcpy(out + o + from, piece, n);
        memcpy(out + o + from + n, part[i] + to, len[i] - to);
        o += new_len[i];
    }
    memcpy(data, out, o);
    free(piece);
    free(out);
    return o;
}

/* ---- the root's listing: a line per entry, "PATH TYPE SIZE MTIME" (0 0 for a directory) ---- */

static void fuzz_sweep_list_into(const char *root, const char *rel, nl_buf *out, int depth)
{
    char path[1400];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    FUZZ_REQUIRE(d != NULL || depth > 0, "cannot list %s: %s", path, strerror(errno));
    if (!d)
        return;
    /* sorted, so that two listings compare line by line */
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        FUZZ_REQUIRE(names != NULL, "out of memory listing %s", path);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        char child_rel[1400], child[2800];
        snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        snprintf(child, sizeof child, "%s/%s", root, child_rel);
        struct stat st;
        if (lstat(child, &st) == 0) {
            const char type = S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : S_ISLNK(st.st_mode) ? 'l' : '?';
            /* a directory's own size and time change with what is made and
             * removed in it: what is in it is listed instead */
            const bool dir = type == 'd';
            nl_buf_printf(out, "%s %c %lld %lld.%09ld\n", child_rel, type, dir ? 0LL : (long long)st.st_size,
                          dir ? 0LL : (long long)st.st_mtim.tv_sec, dir ? 0L : st.st_mtim.tv_nsec);
            if (type == 'd' && depth < 64)
                fuzz_sweep_list_into(root, child_rel, out, depth + 1);
        }
        free(names[i]);
    }
    free(names);
}

/* the listing of ROOT's parent, paths relative to it ("root/sweep/...";
 * caller frees): a run name with "..", which can lead a reader at most to
 * ROOT from ROOT/sweep/runs (it finds no run files above), leads a writer
 * in ROOT/out at most to the parent */
static char *fuzz_sweep_list(const fuzz_sweep *s)
{
    nl_buf out = {0};
    nl_buf_printf(&out, "%s", "");
    fuzz_sweep_list_into(s->base, "", &out, 0);
    FUZZ_REQUIRE(!out.failed && out.data, "out of memory listing %s", s->base);
    return out.data;
}

/* every line of `after` that is not in `before` (made or changed) starts
 * with one of the allowed prefixes (NULL-terminated; a prefix "out"
 * allows "root/out" itself and "root/out/..."), and every line of `before` is still
 * in `after` (nothing removed or changed) unless it is under one of them */
static void fuzz_sweep_check_listing(const char *before, const char *after, const char *const *allowed,
                                     const char *what)
{
    const char *lists[2] = {after, before};
    for (int l = 0; l < 2; l++) {
        const char *other = lists[1 - l];
        for (const char *line = lists[l]; *line;) {
            const size_t len = strcspn(line, "\n");
            bool found = false;
            for (const char *o = other; *o && !found;) {
                const size_t olen = strcspn(o, "\n");
                found = olen == len && !memcmp(o, line, len);
                o += olen + (o[olen] == '\n');
            }
            bool ok = found;
            for (int a = 0; allowed && allowed[a] && !ok; a++) {
                const size_t plen = strlen(allowed[a]);
                ok = len > plen && !strncmp(line, allowed[a], plen) && (line[plen] == '/' || line[plen] == ' ');
            }
            FUZZ_REQUIRE(ok, "%s %s %.*s (only the output directory may change)", what,
                         l == 0 ? "made or changed" : "removed or changed", (int)len, line);
            line += len + (line[len] == '\n');
        }
    }
}

#endif
