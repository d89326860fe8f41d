/* MNIST and Fashion-MNIST in IDX format, plain or gzip-compressed. Before
 * anything is allocated, each file's header is checked against the file's
 * real length; then only the samples asked for are read, everything read is
 * validated, and every error names its file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data_internal.h"
#include "log/files.h"

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

/* what to do about missing files: the row's way to get them, or where to put them */
static const char *install_hint(const nl_dataset_info *row, char *buf, size_t size)
{
    snprintf(buf, size, "%s%sput %s in a directory and set data.path to it",
             row->install ? row->install : "", row->install ? ", or " : "", row->files);
    return buf;
}

/* ---- a gzip-or-plain reader that names its file in every error ----
 *
 * zlib's inflate rather than gzread: gzread ignores whatever follows a gzip
 * stream, and a file with bytes after its data is not the file it claims to
 * be. Concatenated gzip members (valid gzip) are read as one stream. */

#define RD_BUFFER (1u << 17)

typedef struct {
    int fd;
    const char *path;
    bool gz;
    bool live;       /* inflateInit2 done */
    bool member_end; /* inflate reached the end of a member (its CRC and length checked) */
    bool input_end;  /* read() returned 0 */
    bool cut_off;    /* the input ended inside a gzip member */
    z_stream z;
    unsigned char *in;
    size_t in_len, in_pos; /* plain files: buffered bytes not yet delivered */
    uint64_t file_size;
} idx_reader;

static nl_code rd_fill(idx_reader *r, nl_error *err)
{
    ssize_t k;
    do
        k = read(r->fd, r->in, RD_BUFFER);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return nl_fail(err, NL_ERR_IO, "reading %s: %s", r->path, strerror(errno));
    r->in_len = (size_t)k;
    r->in_pos = 0;
    r->input_end = k == 0;
    r->z.next_in = r->in;
    r->z.avail_in = (uInt)k;
    return NL_OK;
}

static nl_code rd_open(idx_reader *r, const char *path, nl_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    nl_code rc = nl_open_regular(path, false, &r->fd, err);
    if (rc)
        return rc;
    struct stat st;
    if (fstat(r->fd, &st) != 0)
        return nl_fail(err, NL_ERR_IO, "reading %s: %s", path, strerror(errno));
    r->file_size = (uint64_t)st.st_size;
    r->in = malloc(RD_BUFFER);
    if (!r->in)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory opening %s", path);
    rc = rd_fill(r, err);
    if (rc != NL_OK)
        return rc;
    r->gz = r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
    if (r->gz) {
        /* 16 + MAX_WBITS: a gzip wrapper, whose CRC-32 and length inflate checks */
        int zr = inflateInit2(&r->z, 16 + MAX_WBITS);
        if (zr != Z_OK)
            return nl_fail(err, NL_ERR_NOMEM, "out of memory opening %s", path);
        r->live = true;
        r->z.next_in = r->in;
        r->z.avail_in = (uInt)r->in_len;
    }
    return NL_OK;
}

static void rd_close(idx_reader *r)
{
    if (r->live)
        inflateEnd(&r->z);
    if (r->fd >= 0 && r->path)
        close(r->fd);
    free(r->in);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

/* reads up to n bytes; *got is how many came (fewer at the end of the data).
 * Errors: corrupt gzip data or bytes after the gzip stream (NL_ERR_DATA),
 * the OS failing (NL_ERR_IO). */
static nl_code rd_read(idx_reader *r, void *buf, size_t n, size_t *got, nl_error *err)
{
    unsigned char *p = buf;
    size_t total = 0;
    nl_code rc;
    while (total < n) {
        if (!r->gz) {
            if (r->in_pos == r->in_len) {
                if (r->input_end)
                    break;
                if ((rc = rd_fill(r, err)) != NL_OK)
                    return rc;
                if (r->input_end)
                    break;
            }
            size_t k = r->in_len - r->in_pos < n - total ? r->in_len - r->in_pos : n - total;
            memcpy(p + total, r->in + r->in_pos, k);
            r->in_pos += k;
            total += k;
            continue;
        }
        if (r->z.avail_in == 0 && !r->input_end && (rc = rd_fill(r, err)) != NL_OK)
            return rc;
        if (r->member_end) {
            if (r->z.avail_in == 0)
                break; /* the end of the file, right after a whole member */
            if (r->z.next_in[0] != 0x1f) /* a further member starts 1f 8b */
                return nl_fail(err, NL_ERR_DATA, "%s: trailing data after the end of the gzip "
                               "stream (two files joined, or not the file it claims to be)",
                               r->path);
            inflateReset(&r->z);
            r->member_end = false;
        }
        if (r->z.avail_in == 0 && r->input_end) {
            r->cut_off = true;
            break;
        }
        size_t want = n - total > (1u << 30) ? (1u << 30) : n - total;
        r->z.next_out = p + total;
        r->z.avail_out = (uInt)want;
        int zr = inflate(&r->z, Z_NO_FLUSH);
        total += want - r->z.avail_out;
        if (zr == Z_STREAM_END) {
            r->member_end = true;
        } else if (zr == Z_MEM_ERROR) {
            return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", r->path);
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            return nl_fail(err, NL_ERR_DATA, "%s: corrupt gzip data (%s)", r->path,
                           r->z.msg ? r->z.msg : "?");
        }
    }
    *got = total;
    return NL_OK;
}

/* after a short read: true when a gzip stream was cut off */
static bool rd_cut_off(idx_reader *r) { return r->cut_off; }

static const char *rd_why_short(idx_reader *r)
{
    return rd_cut_off(r) ? " (the gzip stream is cut off)" : "";
}

/* The data's real length, found without keeping it: plain files by their
 * size; gzip files by their trailer's length (the size modulo 2^32), which
 * must say exactly `expected`, or else by inflating the rest of the stream
 * into a small buffer (checking CRCs, and that nothing follows the stream).
 * Inflating stops a buffer past `expected` (*more then says the stream goes
 * on): a 2 MB gzip bomb inflated 2 GB only to count its trailing bytes.
 * The reader's own position is left alone. */
static nl_code rd_data_length(idx_reader *r, uint64_t expected, uint64_t *length, bool *cut_off,
                              bool *more, nl_error *err)
{
    *cut_off = *more = false;
    if (!r->gz) {
        *length = r->file_size;
        return NL_OK;
    }
    unsigned char t[4];
    if (expected < (1ull << 32) && r->file_size >= 18 &&
        pread(r->fd, t, 4, (off_t)r->file_size - 4) == 4) {
        const uint32_t isize = t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                               (uint32_t)t[3] << 24;
        if (isize == expected) {
            *length = expected;
            return NL_OK;
        }
    }
    /* the trailer disagrees (or cannot tell): count what really inflates */
    idx_reader counter;
    nl_code rc = rd_open(&counter, r->path, err);
    unsigned char *scratch = rc == NL_OK ? malloc(RD_BUFFER) : NULL;
    if (rc == NL_OK && !scratch)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", r->path);
    uint64_t total = 0;
    for (size_t got = RD_BUFFER; rc == NL_OK && got == RD_BUFFER && !*more;) {
        rc = rd_read(&counter, scratch, RD_BUFFER, &got, err);
        total += got;
        *more = got == RD_BUFFER && total > expected + RD_BUFFER;
    }
    *cut_off = counter.cut_off;
    free(scratch);
    rd_close(&counter);
    *length = total;
    return rc;
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- headers ---- */

/* The image and label headers differ only in their magic, their size and the words an error
 * uses for them, so one check serves both and the image caller adds its side check. */
typedef struct {
    uint32_t magic, other_magic;
    size_t size;          /* magic, count, then one 32-bit word per item dimension */
    const char *file;     /* "an IDX image file" */
    const char *items;    /* "images" */
    const char *if_other; /* what other_magic in this file means */
} idx_header_kind;

static const idx_header_kind IDX_IMAGES_HEADER = {IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, 16,
                                                  "an IDX image file", "images",
                                                  ": this is a label file"};
static const idx_header_kind IDX_LABELS_HEADER = {IDX_LABELS_MAGIC, IDX_IMAGES_MAGIC, 8,
                                                  "an IDX label file", "labels",
                                                  ": this is an image file"};

static nl_code read_header(idx_reader *r, const idx_header_kind *kind, unsigned char h[16],
                           uint32_t *count, nl_error *err)
{
    size_t got;
    nl_code rc = rd_read(r, h, kind->size, &got, err);
    if (rc != NL_OK)
        return rc;
    if (got == 0 && !rd_cut_off(r))
        return nl_fail(err, NL_ERR_DATA, "%s is empty (expected %s)", r->path, kind->file);
    if (got < 4)
        return nl_fail(err, NL_ERR_DATA, "%s: truncated header (%zu of %zu bytes): not %s%s",
                       r->path, got, kind->size, kind->file, rd_why_short(r));
    uint32_t magic = be32(h);
    if (magic != kind->magic)
        return nl_fail(err, NL_ERR_DATA,
                       "%s: bad magic number 0x%08x, expected 0x%08x (IDX unsigned-byte %s)%s",
                       r->path, magic, kind->magic, kind->items,
                       magic == kind->other_magic ? kind->if_other : "");
    if (got < kind->size)
        return nl_fail(err, NL_ERR_DATA, "%s: truncated header (%zu of %zu bytes)%s", r->path,
                       got, kind->size, rd_why_short(r));
    *count = be32(h + 4);
    return NL_OK;
}

static nl_code read_images_header(idx_reader *r, uint32_t *count, nl_error *err)
{
    unsigned char h[16];
    nl_code rc = read_header(r, &IDX_IMAGES_HEADER, h, count, err);
    if (rc != NL_OK)
        return rc;
    uint32_t rows = be32(h + 8), cols = be32(h + 12);
    if (rows != IDX_SIDE || cols != IDX_SIDE)
        return nl_fail(err, NL_ERR_DATA, "%s: images are %ux%u, expected %dx%d", r->path, rows,
                       cols, IDX_SIDE, IDX_SIDE);
    return NL_OK;
}

static nl_code read_labels_header(idx_reader *r, uint32_t *count, nl_error *err)
{
    unsigned char h[16];
    return read_header(r, &IDX_LABELS_HEADER, h, count, err);
}

/* ---- one split: an image file and its label file ---- */

/* the header's count against the bytes the file really holds */
static nl_code check_length(idx_reader *r, uint64_t header, uint32_t count, uint64_t record,
                            const char *what, nl_error *err)
{
    const uint64_t expected = header + (uint64_t)count * record;
    uint64_t length;
    bool cut_off, more;
    nl_code rc = rd_data_length(r, expected, &length, &cut_off, &more, err);
    if (rc != NL_OK)
        return rc;
    if (cut_off)
        return nl_fail(err, NL_ERR_DATA, "%s: truncated: the gzip stream is cut off (no end and "
                       "CRC trailer) after %llu bytes of data; the header promises %u %s",
                       r->path, (unsigned long long)length, count, what);
    if (length < expected)
        return nl_fail(err, NL_ERR_DATA, "%s: truncated: the header promises %u %s (%llu bytes "
                       "of data) but the %s holds %llu bytes, %llu whole %s",
                       r->path, count, what, (unsigned long long)expected,
                       r->gz ? "gzip stream" : "file", (unsigned long long)length,
                       (unsigned long long)(length > header ? (length - header) / record : 0),
                       what);
    if (length > expected)
        return nl_fail(err, NL_ERR_DATA, "%s: %s%llu bytes of trailing data after the %u %s the "
                       "header promises (%llu bytes); not the file it claims to be?",
                       r->path, more ? "more than " : "", (unsigned long long)(length - expected),
                       count, what,
                       (unsigned long long)expected);
    return NL_OK;
}

typedef struct {
    idx_reader images, labels;
    uint32_t count;
} idx_split_files;

/* Opens a split's two files and checks their headers against each other and
 * against the files' lengths: nothing is allocated for the samples yet. */
static nl_code open_split(const char *img_path, const char *lbl_path, long want, const char *which,
                          idx_split_files *f, nl_error *err)
{
    uint32_t n_img = 0, n_lbl = 0;
    nl_code rc = rd_open(&f->images, img_path, err);
    if (rc == NL_OK)
        rc = rd_open(&f->labels, lbl_path, err);
    if (rc == NL_OK)
        rc = read_images_header(&f->images, &n_img, err);
    if (rc == NL_OK)
        rc = read_labels_header(&f->labels, &n_lbl, err);
    if (rc != NL_OK)
        return rc;
    if (n_img != n_lbl)
        return nl_fail(err, NL_ERR_DATA, "%s holds %u images but %s holds %u labels", img_path,
                       n_img, lbl_path, n_lbl);
    if (n_img == 0)
        return nl_fail(err, NL_ERR_DATA, "%s holds no images", img_path);
    if ((rc = check_length(&f->images, IDX_IMAGES_HEADER.size, n_img, IDX_SIDE * IDX_SIDE,
                           "images of 28x28", err)) ||
        (rc = check_length(&f->labels, IDX_LABELS_HEADER.size, n_lbl, 1, "labels", err)))
        return rc;
    if (want > (long)n_img)
        return nl_data_too_few(err, which, want, (long)n_img, img_path);
    f->count = n_img;
    return NL_OK;
}

static void close_split(idx_split_files *f)
{
    rd_close(&f->images);
    rd_close(&f->labels);
}

/* after the last sample of a file: a gzip stream must end here, CRC checked */
static nl_code check_end(idx_reader *r, nl_error *err)
{
    unsigned char extra;
    size_t got = 0;
    nl_code rc = rd_read(r, &extra, 1, &got, err);
    if (rc != NL_OK)
        return rc;
    if (got || rd_cut_off(r))
        return nl_fail(err, NL_ERR_DATA, "%s: %s after the data its header promises", r->path,
                       got ? "trailing data" : "the gzip stream is cut off (truncated)");
    return NL_OK;
}

/* images per read: the buffer read_labels and read_images share holds
 * this many images' bytes */
#define IDX_CHUNK 256
#define IDX_PIXELS ((size_t)IDX_SIDE * IDX_SIDE)

/* bytes into buf, all of them, or the error for a file that ends before
 * what its header promises (what: "60000 labels"); where the data ends is
 * told in units of `unit` bytes counted from `first` after `ends` */
static nl_code read_promised(idx_reader *r, const char *path, const char *what, unsigned char *buf,
                             size_t bytes, size_t unit, long first, const char *ends, nl_error *err)
{
    size_t got;
    nl_code rc = rd_read(r, buf, bytes, &got, err);
    if (rc != NL_OK || got == bytes)
        return rc;
    if (rd_cut_off(r))
        return nl_fail(err, NL_ERR_DATA,
                       "%s: truncated: the header promises %s but the gzip stream is cut off "
                       "before their end",
                       path, what);
    return nl_fail(err, NL_ERR_DATA, "%s: truncated: the header promises %s but %s %ld", path, what,
                   ends, first + (long)(got / unit));
}

/* the first n labels into out->y, in reads of the whole buffer; promised:
 * the count the header gives (for the messages) */
static nl_code read_labels(idx_reader *rl, const char *lbl_path, uint32_t promised, long n,
                           unsigned char *buf, nl_split *out, nl_error *err)
{
    const size_t bufsize = IDX_CHUNK * IDX_PIXELS;
    for (long i0 = 0; i0 < n; i0 += (long)bufsize) {
        size_t k = (size_t)(n - i0) < bufsize ? (size_t)(n - i0) : bufsize;
        char what[32];
        snprintf(what, sizeof what, "%u labels", promised);
        nl_code rc = read_promised(rl, lbl_path, what, buf, k, 1, i0, "the file ends after", err);
        if (rc != NL_OK)
            return rc;
        for (size_t j = 0; j < k; j++) {
            if (buf[j] >= IDX_CLASSES)
                return nl_fail(err, NL_ERR_DATA,
                               "%s: label %u of sample %ld is out of range (expected 0..%d)",
                               lbl_path, buf[j], i0 + (long)j, IDX_CLASSES - 1);
            out->y[i0 + (long)j] = buf[j];
        }
    }
    return NL_OK;
}

/* the first n images into out->x, scaled to [0, 1], IDX_CHUNK at a time */
static nl_code read_images(idx_reader *ri, const char *img_path, uint32_t promised, long n,
                           unsigned char *buf, nl_split *out, nl_error *err)
{
    for (long i0 = 0; i0 < n; i0 += IDX_CHUNK) {
        long k = n - i0 < IDX_CHUNK ? n - i0 : IDX_CHUNK;
        size_t bytes = (size_t)k * IDX_PIXELS;
        char what[64];
        snprintf(what, sizeof what, "%u images of %dx%d", promised, IDX_SIDE, IDX_SIDE);
        nl_code rc = read_promised(ri, img_path, what, buf, bytes, IDX_PIXELS, i0,
                                   "the data ends inside image", err);
        if (rc != NL_OK)
            return rc;
        float *dst = out->x + (size_t)i0 * IDX_PIXELS;
        for (size_t j = 0; j < bytes; j++)
            dst[j] = (float)buf[j] * (1.0f / 255.0f);
    }
    return NL_OK;
}

static nl_code load_split(const char *img_path, const char *lbl_path, long want, bool labels_only,
                          const char *which, nl_split *out, nl_error *err)
{
    idx_split_files f;
    memset(&f, 0, sizeof f);
    f.images.fd = f.labels.fd = -1;
    unsigned char *buf = NULL;
    nl_code rc = open_split(img_path, lbl_path, want, which, &f, err);
    if (rc != NL_OK)
        goto done;
    const long n = want ? want : (long)f.count;
    /* labels only: samples of no values, the images file's header and
     * length checked but its pixels not read */
    rc = labels_only ? nl_split_alloc(out, n, 0, 0, 0, err)
                     : nl_split_alloc(out, n, 1, IDX_SIDE, IDX_SIDE, err);
    if (rc != NL_OK)
        goto done;
    buf = malloc(IDX_CHUNK * IDX_PIXELS);
    if (!buf) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", lbl_path);
        goto done;
    }
    /* labels first: small, and a bad one fails before the big read */
    if ((rc = read_labels(&f.labels, lbl_path, f.count, n, buf, out, err)) != NL_OK ||
        (!labels_only &&
         (rc = read_images(&f.images, img_path, f.count, n, buf, out, err)) != NL_OK))
        goto done;
    /* a whole file read: its stream's end and CRC are checked for free */
    if (n == (long)f.count) {
        rc = check_end(&f.labels, err);
        if (rc == NL_OK && !labels_only)
            rc = check_end(&f.images, err);
    }
done:
    free(buf);
    close_split(&f);
    if (rc != NL_OK)
        nl_split_free(out);
    return rc;
}

/* dir/name.gz when it exists (preferred), else dir/name; *found false when
 * neither. One that is there but is not a regular file (a FIFO, ...) is
 * refused for what it is, not called missing. */
static nl_code find_file(const char *dir, const char *name, char *path, size_t size, bool *found,
                         nl_error *err)
{
    char gz[1100];
    snprintf(gz, sizeof gz, "%s.gz", name);
    const char *const candidates[] = {gz, name};
    *found = true;
    for (int c = 0; c < 2; c++) {
        if (!nl_data_join(path, size, dir, candidates[c]))
            continue;
        if (nl_data_is_file(path))
            return NL_OK;
        if (nl_path_exists(path))
            return nl_check_regular(path, false, err);
    }
    nl_data_join(path, size, dir, name);
    *found = false;
    return NL_OK;
}

/* the four files of a set in a directory, or the error that says what is missing */
static nl_code locate(const nl_dataset_info *row, const char *dir, char paths[F_COUNT][1200],
                      nl_error *err)
{
    const char *name = row->id.name;
    char hint[512];
    if (nl_data_is_file(dir))
        return nl_fail(err, NL_ERR_DATA, "%s: data.path %s is a file, not a directory; set it to "
                       "the directory that holds %s", name, dir, row->files);
    if (!nl_data_is_dir(dir))
        return nl_fail(err, NL_ERR_DATA, "%s: the directory %s does not exist; %s", name, dir,
                       install_hint(row, hint, sizeof hint));
    int missing = 0, first_missing = -1;
    for (int f = 0; f < F_COUNT; f++) {
        bool found;
        const nl_code rc = find_file(dir, idx_names[f], paths[f], sizeof paths[f], &found, err);
        if (rc)
            return rc;
        if (!found) {
            missing++;
            if (first_missing < 0)
                first_missing = f;
        }
    }
    if (missing == F_COUNT)
        return nl_fail(err, NL_ERR_DATA, "%s: no dataset files in %s; %s", name, dir,
                       install_hint(row, hint, sizeof hint));
    if (missing)
        return nl_fail(err, NL_ERR_DATA, "%s: missing %s (or %s.gz); %s", name,
                       paths[first_missing], paths[first_missing], install_hint(row, hint, sizeof hint));
    return NL_OK;
}

static nl_code idx_probe(const nl_dataset_info *row, const nl_data_spec *spec,
                         const nl_data_request *req, nl_dataset_shape *out, nl_error *err)
{
    (void)spec;
    char paths[F_COUNT][1200];
    nl_code rc = locate(row, req->dir, paths, err);
    if (rc != NL_OK)
        return rc;
    idx_split_files train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    train.images.fd = train.labels.fd = test.images.fd = test.labels.fd = -1;
    rc = open_split(paths[F_TRAIN_IMAGES], paths[F_TRAIN_LABELS], req->train_size, "train",
                    &train, err);
    if (rc == NL_OK)
        rc = open_split(paths[F_TEST_IMAGES], paths[F_TEST_LABELS], req->test_size, "test", &test,
                        err);
    if (rc == NL_OK) {
        out->train_n = req->train_size ? req->train_size : (long)train.count;
        out->test_n = req->test_size ? req->test_size : (long)test.count;
        out->c = row->c;
        out->h = row->h;
        out->w = row->w;
        out->classes = row->classes;
    }
    close_split(&train);
    close_split(&test);
    return rc;
}

static nl_code idx_read(const nl_dataset_info *row, const nl_data_spec *spec,
                        const nl_data_request *req, nl_dataset *out, char *dir_used,
                        size_t dir_used_size, nl_error *err)
{
    (void)spec, (void)dir_used, (void)dir_used_size;
    char paths[F_COUNT][1200];
    nl_code rc = locate(row, req->dir, paths, err);
    if (rc == NL_OK)
        rc = load_split(paths[F_TRAIN_IMAGES], paths[F_TRAIN_LABELS], req->train_size,
                        req->labels_only, "train", &out->train, err);
    if (rc == NL_OK)
        rc = load_split(paths[F_TEST_IMAGES], paths[F_TEST_LABELS], req->test_size,
                        req->labels_only, "test", &out->test, err);
    if (rc != NL_OK)
        return rc;
    out->classes = IDX_CLASSES;
    return NL_OK;
}

/* ---- the rows: two datasets of one format ---- */

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* the two rows read the same format and differ only in where the files are */
#define IDX_ROW_FORMAT                                                                           \
    .yields = NL_DATA_YIELDS_IMAGES, .files = IDX_FILE_LIST, .c = 1, .h = IDX_SIDE,              \
    .w = IDX_SIDE, .classes = IDX_CLASSES, .size_key = "data.dataset",                           \
    .keys = {"data.path", NL_DATA_IMAGE_KEYS}, .torch_script = true, .read = idx_read,           \
    .probe = idx_probe, .labels_alone = true

const nl_dataset_info nl_dataset_row_fashion_mnist = {
    .id = {"fashion-mnist", "IDX files, Debian package dataset-fashion-mnist"},
    .default_path = FASHION_MNIST_DIR,
    .install = "install it with `apt-get install dataset-fashion-mnist` (Debian puts the files "
               "in " FASHION_MNIST_DIR ")",
    IDX_ROW_FORMAT,
};

const nl_dataset_info nl_dataset_row_mnist = {
    .id = {"mnist", "IDX files from a path you give"},
    .default_path = "",
    IDX_ROW_FORMAT,
};
