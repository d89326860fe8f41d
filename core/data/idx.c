/* MNIST and Fashion-MNIST in IDX format, plain or gzip-compressed: zlib's
 * gzread reads both, so one reader serves either. Only the samples asked for
 * are read; everything read is validated, and every error names its file. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/data_internal.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_SIDE 28
#define IDX_CLASSES 10

enum { F_TRAIN_IMAGES, F_TRAIN_LABELS, F_TEST_IMAGES, F_TEST_LABELS, F_COUNT };
static const char *const idx_names[F_COUNT] = {
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
};

#define IDX_FILE_LIST                                                                              \
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "               \
    "t10k-labels-idx1-ubyte (each plain or .gz)"

static const char *install_hint(nl_dataset_kind kind)
{
    if (kind == NL_DATA_FASHION_MNIST)
        return "install it with `apt-get install dataset-fashion-mnist` (Debian puts the files "
               "in /usr/share/datasets/fashion-mnist), or put " IDX_FILE_LIST
               " in a directory and set data.path to it";
    return "put " IDX_FILE_LIST " in a directory and set data.path to it";
}

/* ---- a gzip-or-plain reader that names its file in every error ---- */

typedef struct {
    gzFile f;
    const char *path;
} idx_reader;

static nl_code rd_open(idx_reader *r, const char *path, nl_error *err)
{
    r->path = path;
    errno = 0;
    r->f = gzopen(path, "rb");
    if (!r->f) {
        if (errno)
            return nl_fail(err, NL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return nl_fail(err, NL_ERR_NOMEM, "out of memory opening %s", path);
    }
    gzbuffer(r->f, 1u << 17);
    return NL_OK;
}

static void rd_close(idx_reader *r)
{
    if (r->f)
        gzclose(r->f);
    r->f = NULL;
}

/* reads up to n bytes; *got is how many came (fewer at the end of the file).
 * Errors: corrupt gzip data (NL_ERR_DATA) or the OS failing (NL_ERR_IO). */
static nl_code rd_read(idx_reader *r, void *buf, size_t n, size_t *got, nl_error *err)
{
    unsigned char *p = buf;
    size_t total = 0;
    while (total < n) {
        size_t want = n - total;
        if (want > (1u << 30))
            want = 1u << 30;
        errno = 0;
        int k = gzread(r->f, p + total, (unsigned)want);
        if (k < 0) {
            int zerr;
            const char *msg = gzerror(r->f, &zerr);
            if (zerr == Z_ERRNO)
                return nl_fail(err, NL_ERR_IO, "reading %s: %s", r->path, strerror(errno));
            if (zerr == Z_MEM_ERROR)
                return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", r->path);
            /* zlib's message starts with the path; say it once */
            size_t plen = strlen(r->path);
            if (msg && strncmp(msg, r->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
                msg += plen + 2;
            return nl_fail(err, NL_ERR_DATA, "%s: corrupt gzip data (%s)", r->path,
                           msg ? msg : "?");
        }
        if (k == 0)
            break;
        total += (size_t)k;
    }
    *got = total;
    return NL_OK;
}

/* after a short read: true when a gzip stream was cut off (zlib then drops
 * the last partial read, so the position where the data ends is unknown) */
static bool rd_cut_off(idx_reader *r)
{
    int zerr = Z_OK;
    gzerror(r->f, &zerr);
    return zerr == Z_BUF_ERROR;
}

static const char *rd_why_short(idx_reader *r)
{
    return rd_cut_off(r) ? " (the gzip stream is cut off)" : "";
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- headers ---- */

static nl_code read_images_header(idx_reader *r, uint32_t *count, nl_error *err)
{
    unsigned char h[16];
    size_t got;
    nl_code rc = rd_read(r, h, sizeof h, &got, err);
    if (rc != NL_OK)
        return rc;
    if (got == 0 && !rd_cut_off(r))
        return nl_fail(err, NL_ERR_DATA, "%s is empty (expected an IDX image file)", r->path);
    if (got < 4)
        return nl_fail(err, NL_ERR_DATA,
                       "%s: truncated header (%zu of 16 bytes): not an IDX image file%s", r->path,
                       got, rd_why_short(r));
    uint32_t magic = be32(h);
    if (magic != IDX_IMAGES_MAGIC)
        return nl_fail(err, NL_ERR_DATA,
                       "%s: bad magic number 0x%08x, expected 0x%08x (IDX unsigned-byte images)%s",
                       r->path, magic, IDX_IMAGES_MAGIC,
                       magic == IDX_LABELS_MAGIC ? ": this is a label file" : "");
    if (got < sizeof h)
        return nl_fail(err, NL_ERR_DATA, "%s: truncated header (%zu of 16 bytes)%s", r->path, got,
                       rd_why_short(r));
    uint32_t rows = be32(h + 8), cols = be32(h + 12);
    if (rows != IDX_SIDE || cols != IDX_SIDE)
        return nl_fail(err, NL_ERR_DATA, "%s: images are %ux%u, expected %dx%d", r->path, rows,
                       cols, IDX_SIDE, IDX_SIDE);
    *count = be32(h + 4);
    return NL_OK;
}

static nl_code read_labels_header(idx_reader *r, uint32_t *count, nl_error *err)
{
    unsigned char h[8];
    size_t got;
    nl_code rc = rd_read(r, h, sizeof h, &got, err);
    if (rc != NL_OK)
        return rc;
    if (got == 0 && !rd_cut_off(r))
        return nl_fail(err, NL_ERR_DATA, "%s is empty (expected an IDX label file)", r->path);
    if (got < 4)
        return nl_fail(err, NL_ERR_DATA,
                       "%s: truncated header (%zu of 8 bytes): not an IDX label file%s", r->path,
                       got, rd_why_short(r));
    uint32_t magic = be32(h);
    if (magic != IDX_LABELS_MAGIC)
        return nl_fail(err, NL_ERR_DATA,
                       "%s: bad magic number 0x%08x, expected 0x%08x (IDX unsigned-byte labels)%s",
                       r->path, magic, IDX_LABELS_MAGIC,
                       magic == IDX_IMAGES_MAGIC ? ": this is an image file" : "");
    if (got < sizeof h)
        return nl_fail(err, NL_ERR_DATA, "%s: truncated header (%zu of 8 bytes)%s", r->path, got,
                       rd_why_short(r));
    *count = be32(h + 4);
    return NL_OK;
}

/* ---- one split: an image file and its label file ---- */

static nl_code load_split(const char *img_path, const char *lbl_path, long want,
                          const char *which, nl_split *out, nl_error *err)
{
    idx_reader ri = {0}, rl = {0};
    unsigned char *buf = NULL;
    uint32_t n_img = 0, n_lbl = 0;
    nl_code rc = rd_open(&ri, img_path, err);
    if (rc == NL_OK)
        rc = rd_open(&rl, lbl_path, err);
    if (rc == NL_OK)
        rc = read_images_header(&ri, &n_img, err);
    if (rc == NL_OK)
        rc = read_labels_header(&rl, &n_lbl, err);
    if (rc != NL_OK)
        goto done;
    if (n_img != n_lbl) {
        rc = nl_fail(err, NL_ERR_DATA, "%s holds %u images but %s holds %u labels", img_path,
                     n_img, lbl_path, n_lbl);
        goto done;
    }
    if (n_img == 0) {
        rc = nl_fail(err, NL_ERR_DATA, "%s holds no images", img_path);
        goto done;
    }
    if (want > (long)n_img) {
        rc = nl_data_too_few(err, which, want, (long)n_img, img_path);
        goto done;
    }
    long n = want ? want : (long)n_img;
    rc = nl_split_alloc(out, n, 1, IDX_SIDE, IDX_SIDE, err);
    if (rc != NL_OK)
        goto done;

    /* labels first: small, and a bad one fails before the big read */
    const size_t per = IDX_SIDE * IDX_SIDE;
    const long chunk = 256; /* images per read */
    const size_t bufsize = (size_t)chunk * per;
    buf = malloc(bufsize);
    if (!buf) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", lbl_path);
        goto done;
    }
    for (long i0 = 0; i0 < n; i0 += (long)bufsize) {
        size_t k = (size_t)(n - i0) < bufsize ? (size_t)(n - i0) : bufsize, got;
        rc = rd_read(&rl, buf, k, &got, err);
        if (rc != NL_OK)
            goto done;
        if (got < k) {
            if (rd_cut_off(&rl))
                rc = nl_fail(err, NL_ERR_DATA,
                             "%s: truncated: the header promises %u labels but the gzip stream "
                             "is cut off before their end",
                             lbl_path, n_lbl);
            else
                rc = nl_fail(err, NL_ERR_DATA,
                             "%s: truncated: the header promises %u labels but the file ends "
                             "after %ld",
                             lbl_path, n_lbl, i0 + (long)got);
            goto done;
        }
        for (size_t j = 0; j < k; j++) {
            if (buf[j] >= IDX_CLASSES) {
                rc = nl_fail(err, NL_ERR_DATA,
                             "%s: label %u of sample %ld is out of range (expected 0..%d)",
                             lbl_path, buf[j], i0 + (long)j, IDX_CLASSES - 1);
                goto done;
            }
            out->y[i0 + (long)j] = buf[j];
        }
    }

    for (long i0 = 0; i0 < n; i0 += chunk) {
        long k = n - i0 < chunk ? n - i0 : chunk;
        size_t bytes = (size_t)k * per, got;
        rc = rd_read(&ri, buf, bytes, &got, err);
        if (rc != NL_OK)
            goto done;
        if (got < bytes) {
            if (rd_cut_off(&ri))
                rc = nl_fail(err, NL_ERR_DATA,
                             "%s: truncated: the header promises %u images of %dx%d but the "
                             "gzip stream is cut off before their end",
                             img_path, n_img, IDX_SIDE, IDX_SIDE);
            else
                rc = nl_fail(err, NL_ERR_DATA,
                             "%s: truncated: the header promises %u images of %dx%d but the "
                             "data ends inside image %ld",
                             img_path, n_img, IDX_SIDE, IDX_SIDE, i0 + (long)(got / per));
            goto done;
        }
        float *dst = out->x + (size_t)i0 * per;
        for (size_t j = 0; j < bytes; j++)
            dst[j] = (float)buf[j] * (1.0f / 255.0f);
    }

done:
    free(buf);
    rd_close(&ri);
    rd_close(&rl);
    if (rc != NL_OK)
        nl_split_free(out);
    return rc;
}

/* dir/name.gz when it exists (preferred), else dir/name; false when neither */
static bool find_file(const char *dir, const char *name, char *path, size_t size)
{
    char gz[1100];
    snprintf(gz, sizeof gz, "%s.gz", name);
    if (nl_data_join(path, size, dir, gz) && nl_data_is_file(path))
        return true;
    if (nl_data_join(path, size, dir, name) && nl_data_is_file(path))
        return true;
    nl_data_join(path, size, dir, name);
    return false;
}

nl_code nl_idx_load(nl_dataset_kind kind, const nl_data_request *req, nl_dataset *out,
                    nl_error *err)
{
    const char *name = nl_name_of(&nl_dataset_names, (int)kind);
    if (!nl_data_is_dir(req->dir))
        return nl_fail(err, NL_ERR_DATA, "%s: the directory %s does not exist; %s", name,
                       req->dir, install_hint(kind));

    char paths[F_COUNT][1200];
    int missing = 0, first_missing = -1;
    for (int f = 0; f < F_COUNT; f++) {
        if (!find_file(req->dir, idx_names[f], paths[f], sizeof paths[f])) {
            missing++;
            if (first_missing < 0)
                first_missing = f;
        }
    }
    if (missing == F_COUNT)
        return nl_fail(err, NL_ERR_DATA, "%s: no dataset files in %s; %s", name, req->dir,
                       install_hint(kind));
    if (missing)
        return nl_fail(err, NL_ERR_DATA, "%s: missing %s (or %s.gz); %s", name,
                       paths[first_missing], paths[first_missing], install_hint(kind));

    nl_code rc = load_split(paths[F_TRAIN_IMAGES], paths[F_TRAIN_LABELS], req->train_size,
                            "train", &out->train, err);
    if (rc == NL_OK)
        rc = load_split(paths[F_TEST_IMAGES], paths[F_TEST_LABELS], req->test_size, "test",
                        &out->test, err);
    if (rc != NL_OK)
        return rc;
    out->classes = IDX_CLASSES;
    return NL_OK;
}
