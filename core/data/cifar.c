/* CIFAR-10, binary version: data_batch_1.bin .. data_batch_5.bin and
 * test_batch.bin, each a run of 3073-byte records (a label byte, then
 * 3x32x32 pixels, channel-major, so a record is already CHW). The files are
 * sized first (cheap), then only the records asked for are read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_internal.h"
#include "log/files.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10
#define CIFAR_TRAIN_FILES 5

#define CIFAR_HINT                                                                                 \
    "download the CIFAR-10 binary version (cifar-10-binary.tar.gz from "                          \
    "https://www.cs.toronto.edu/~kriz/cifar.html), unpack it and set data.path to the "           \
    "cifar-10-batches-bin directory (or the directory that holds it)"

typedef struct {
    char path[1200];
    long records;
} cifar_file;

/* sizes one batch file: it must exist and hold a whole number of records */
static nl_code size_file(const char *dir, const char *name, cifar_file *f, nl_error *err)
{
    nl_data_join(f->path, sizeof f->path, dir, name);
    struct stat st;
    if (stat(f->path, &st) == 0 && !S_ISREG(st.st_mode))
        return nl_check_regular(f->path, false, err); /* a FIFO, ...: named for what it is */
    if (stat(f->path, &st) != 0)
        return nl_fail(err, NL_ERR_DATA, "cifar10: missing %s; " CIFAR_HINT, f->path);
    if (st.st_size == 0)
        return nl_fail(err, NL_ERR_DATA, "%s is empty", f->path);
    if (st.st_size % CIFAR_RECORD != 0)
        return nl_fail(err, NL_ERR_DATA,
                       "%s: %lld bytes is not a whole number of %d-byte CIFAR-10 records "
                       "(truncated or not the binary version)",
                       f->path, (long long)st.st_size, CIFAR_RECORD);
    f->records = (long)(st.st_size / CIFAR_RECORD);
    return NL_OK;
}

/* reads `n` records from the start of one file into samples [at, at + n) */
static nl_code read_records(const cifar_file *f, long n, nl_split *out, long at,
                            unsigned char *buf, nl_error *err)
{
    FILE *fp;
    nl_code rc = nl_fopen_regular(f->path, false, &fp, err);
    if (rc)
        return rc;
    setvbuf(fp, NULL, _IOFBF, 1u << 17);
    for (long i = 0; i < n; i++) {
        size_t got = fread(buf, 1, CIFAR_RECORD, fp);
        if (got < CIFAR_RECORD) {
            if (ferror(fp))
                rc = nl_fail(err, NL_ERR_IO, "reading %s: %s", f->path, strerror(errno));
            else
                rc = nl_fail(err, NL_ERR_DATA, "%s: truncated inside record %ld (the file shrank "
                             "while it was read?)", f->path, i);
            break;
        }
        if (buf[0] >= CIFAR_CLASSES) {
            rc = nl_fail(err, NL_ERR_DATA, "%s: label %u of record %ld is out of range (expected 0..%d)",
                         f->path, buf[0], i, CIFAR_CLASSES - 1);
            break;
        }
        out->y[at + i] = buf[0];
        float *dst = out->x + (size_t)(at + i) * CIFAR_PIXELS;
        for (int j = 0; j < CIFAR_PIXELS; j++)
            dst[j] = (float)buf[1 + j] * (1.0f / 255.0f);
    }
    fclose(fp);
    return rc;
}

/* a subset larger than the split, or NL_OK */
static nl_code check_subset(const char *dir, const cifar_file *files, int nfiles, long want,
                            const char *which, long *total_out, nl_error *err)
{
    long total = 0;
    for (int i = 0; i < nfiles; i++)
        total += files[i].records;
    *total_out = total;
    if (want <= total)
        return NL_OK;
    char where[1300];
    if (nfiles == 1)
        snprintf(where, sizeof where, "%s", files[0].path);
    else
        snprintf(where, sizeof where, "data_batch_1.bin .. data_batch_%d.bin in %.1000s", nfiles,
                 dir);
    return nl_data_too_few(err, which, want, total, where);
}

static nl_code load_split(const char *dir, cifar_file *files, int nfiles, long want,
                          const char *which, nl_split *out, nl_error *err)
{
    long total;
    nl_code rc = check_subset(dir, files, nfiles, want, which, &total, err);
    if (rc != NL_OK)
        return rc;
    long n = want ? want : total;
    rc = nl_split_alloc(out, n, 3, CIFAR_SIDE, CIFAR_SIDE, err);
    if (rc != NL_OK)
        return rc;
    unsigned char *buf = malloc(CIFAR_RECORD);
    if (!buf) {
        nl_split_free(out);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading CIFAR-10");
    }
    long at = 0;
    for (int i = 0; i < nfiles && at < n && rc == NL_OK; i++) {
        long k = n - at < files[i].records ? n - at : files[i].records;
        rc = read_records(&files[i], k, out, at, buf, err);
        at += k;
    }
    free(buf);
    if (rc != NL_OK)
        nl_split_free(out);
    return rc;
}

/* the batch files: their directory (the one given, or the cifar-10-batches-bin
 * the archive unpacks to inside it) and their sizes */
static nl_code locate(const nl_data_request *req, char *dir, size_t dir_size,
                      cifar_file train[CIFAR_TRAIN_FILES], cifar_file *test, nl_error *err)
{
    if (nl_data_is_file(req->dir))
        return nl_fail(err, NL_ERR_DATA, "cifar10: data.path %s is a file, not a directory; "
                       CIFAR_HINT, req->dir);
    if (!nl_data_is_dir(req->dir))
        return nl_fail(err, NL_ERR_DATA, "cifar10: the directory %s does not exist; " CIFAR_HINT,
                       req->dir);
    char probe[1200];
    snprintf(dir, dir_size, "%s", req->dir);
    nl_data_join(probe, sizeof probe, req->dir, "data_batch_1.bin");
    if (!nl_data_is_file(probe)) {
        char sub[1100];
        nl_data_join(sub, sizeof sub, req->dir, "cifar-10-batches-bin");
        nl_data_join(probe, sizeof probe, sub, "data_batch_1.bin");
        if (nl_data_is_file(probe))
            snprintf(dir, dir_size, "%s", sub);
        else
            return nl_fail(err, NL_ERR_DATA,
                           "cifar10: no data_batch_1.bin in %s or in %s; expected "
                           "data_batch_1.bin .. data_batch_5.bin and test_batch.bin; " CIFAR_HINT,
                           req->dir, sub);
    }
    nl_code rc = NL_OK;
    for (int i = 0; i < CIFAR_TRAIN_FILES && rc == NL_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
        rc = size_file(dir, name, &train[i], err);
    }
    if (rc == NL_OK)
        rc = size_file(dir, "test_batch.bin", test, err);
    return rc;
}

static nl_code cifar10_probe(const nl_dataset_info *row, const nl_data_spec *spec,
                            const nl_data_request *req, nl_dataset_shape *out, nl_error *err)
{
    (void)spec;
    char dir[1100];
    cifar_file train[CIFAR_TRAIN_FILES], test;
    long ntr, nte;
    nl_code rc = locate(req, dir, sizeof dir, train, &test, err);
    if (rc == NL_OK)
        rc = check_subset(dir, train, CIFAR_TRAIN_FILES, req->train_size, "train", &ntr, err);
    if (rc == NL_OK)
        rc = check_subset(dir, &test, 1, req->test_size, "test", &nte, err);
    if (rc != NL_OK)
        return rc;
    out->train_n = req->train_size ? req->train_size : ntr;
    out->test_n = req->test_size ? req->test_size : nte;
    out->c = row->c;
    out->h = row->h;
    out->w = row->w;
    out->classes = row->classes;
    return NL_OK;
}

static nl_code cifar10_read(const nl_dataset_info *row, const nl_data_spec *spec,
                           const nl_data_request *req, nl_dataset *out, char *dir_used,
                           size_t dir_used_size, nl_error *err)
{
    (void)row, (void)spec;
    char dir[1100];
    cifar_file train[CIFAR_TRAIN_FILES], test;
    nl_code rc = locate(req, dir, sizeof dir, train, &test, err);
    if (rc != NL_OK)
        return rc;
    snprintf(dir_used, dir_used_size, "%s", dir);
    rc = load_split(dir, train, CIFAR_TRAIN_FILES, req->train_size, "train", &out->train, err);
    if (rc == NL_OK)
        rc = load_split(dir, &test, 1, req->test_size, "test", &out->test, err);
    if (rc != NL_OK)
        return rc;
    out->classes = CIFAR_CLASSES;
    return NL_OK;
}

const nl_dataset_info nl_dataset_row_cifar10 = {
    .id = {"cifar10", "CIFAR-10 binary version from a path you give"},
    .yields = NL_DATA_YIELDS_IMAGES,
    .default_path = "",
    .files = "data_batch_1.bin .. data_batch_5.bin and test_batch.bin (the CIFAR-10 binary "
             "version)",
    .install = CIFAR_HINT,
    .c = 3,
    .h = CIFAR_SIDE,
    .w = CIFAR_SIDE,
    .classes = CIFAR_CLASSES,
    .size_key = "data.dataset",
    .keys = {"data.path", NL_DATA_IMAGE_KEYS},
    .read = cifar10_read,
    .probe = cifar10_probe,
};
