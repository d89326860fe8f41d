/* Shared by the dataset harnesses: the readers take a directory, so each
 * input is written as files into one directory per process (in /dev/shm
 * when it exists, so the writes stay in memory), removed at exit. */
#ifndef NL_FUZZ_FILES_H
#define NL_FUZZ_FILES_H

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"
#include "fuzz_check.h"

static char fuzz_dir[256];

/* removes a directory of files and directories of files */
static void fuzz_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            fuzz_remove_tree(sub);
        }
    }
    closedir(d);
    rmdir(path);
}

static void fuzz_remove_dir(void)
{
    fuzz_remove_tree(fuzz_dir);
}

/* the per-process directory, made on the first call */
static const char *fuzz_files_dir(void)
{
    if (!fuzz_dir[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/normlab-fuzz-%ld", base, (long)getpid());
        FUZZ_REQUIRE(mkdir(fuzz_dir, 0700) == 0, "cannot make %s", fuzz_dir);
        atexit(fuzz_remove_dir);
    }
    return fuzz_dir;
}

/* writes dir/name: the bytes as given, or gzip-compressed by zlib */
static void fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t n,
                            bool gzip)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gzip) {
        gzFile f = gzopen(path, "wb1");
        FUZZ_REQUIRE(f != NULL, "gzopen %s", path);
        FUZZ_REQUIRE(n == 0 || gzwrite(f, data, (unsigned)n) == (int)n, "gzwrite %s", path);
        FUZZ_REQUIRE(gzclose(f) == Z_OK, "gzclose %s", path);
    } else {
        FILE *f = fopen(path, "wb");
        FUZZ_REQUIRE(f != NULL, "fopen %s", path);
        FUZZ_REQUIRE(n == 0 || fwrite(data, 1, n, f) == n, "fwrite %s", path);
        FUZZ_REQUIRE(fclose(f) == 0, "fclose %s", path);
    }
}

static inline void fuzz_remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* the input cut into `n` files: after `header` bytes, n - 1 little-endian
 * 16-bit lengths; file i is the next len[i] bytes (fewer where the input
 * ends), the last file is the rest */
static inline size_t fuzz_split(const uint8_t *data, size_t size, size_t header, int n,
                         const uint8_t **part, size_t *len)
{
    size_t pos = header + 2 * (size_t)(n - 1);
    if (size < pos)
        return 0;
    for (int i = 0; i < n; i++) {
        size_t want = i < n - 1 ? (size_t)data[header + 2 * i] | (size_t)data[header + 2 * i + 1] << 8
                                : size - pos;
        len[i] = want < size - pos ? want : size - pos;
        part[i] = data + pos;
        pos += len[i];
    }
    return pos;
}

/* a split a reader accepted: the samples asked for (all when 0), the
 * format's shape, pixels scaled or standardized to finite values, labels
 * in [0, classes) */
static void fuzz_check_split(const nl_split *s, long want, int c, int side, int classes)
{
    FUZZ_REQUIRE(s->n > 0 && (want == 0 || s->n == want), "%ld samples, %ld asked for", s->n,
                 want);
    FUZZ_REQUIRE(s->c == c && s->h == side && s->w == side, "shape %dx%dx%d", s->c, s->h, s->w);
    for (long i = 0; i < s->n; i++)
        FUZZ_REQUIRE(s->y[i] >= 0 && s->y[i] < classes, "label %d of sample %ld", s->y[i], i);
    for (size_t j = 0; j < (size_t)s->n * (size_t)(c * side * side); j++)
        FUZZ_REQUIRE(isfinite(s->x[j]), "pixel %zu is %g", j, (double)s->x[j]);
}

/* loads the dataset in `dir` with the sizes bytes 1 and 2 of the input ask
 * for (0 = all) and checks what comes back: an error that follows the
 * rules, or both splits in the format's shape (c x side x side, 10 classes) */
static inline void fuzz_load_dataset(nl_dataset_kind kind, const char *dir, const uint8_t *data, int c,
                              int side)
{
    nl_data_spec spec;
    nl_data_spec_defaults(&spec);
    spec.kind = kind;
    snprintf(spec.path, sizeof spec.path, "%s", dir);
    spec.train_size = data[1];
    spec.test_size = data[2];
    nl_dataset ds;
    memset(&ds, 0, sizeof ds);
    nl_error err = {0};
    nl_code rc = nl_dataset_load(&spec, &ds, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_dataset_load");
    } else {
        FUZZ_REQUIRE(ds.classes == 10, "%d classes", ds.classes);
        fuzz_check_split(&ds.train, spec.train_size, c, side, ds.classes);
        fuzz_check_split(&ds.test, spec.test_size, c, side, ds.classes);
    }
    nl_dataset_free(&ds);
}

#endif
