// data module: the dataset table, synthetic data, IDX and CIFAR-10 readers (fixtures written
// here into a temporary directory), subsets, standardization, the batcher
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "config/schema.h"
#include "data/data.h"
#include "data/registry.h"
#include "data/tokens.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
/* FNV-1a of the first 64 training images and labels of seed 1 (unstandardized) */
#define SYNTHETIC_FINGERPRINT 0x27c60909u

/* ---- helpers ---- */

static void make_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, size, "%s/nl_test_data_XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s failed", dir);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void write_bytes(const char *dir, const char *name, const void *data, size_t n, bool gz)
{
    char path[1024];
    join(path, sizeof path, dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_msg(f != NULL, "gzopen %s", path);
        if (n)
            ck_assert_int_eq(gzwrite(f, data, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "fopen %s", path);
        if (n)
            ck_assert_uint_eq(fwrite(data, 1, n, f), n);
        fclose(f);
    }
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* pixel j of image i in the fixtures; label i is (i * 3 + salt) % 10 */
static unsigned char fx_pixel(long i, long j) { return (unsigned char)((i * 31 + j * 7) & 255); }
static unsigned char fx_label(long i, int salt) { return (unsigned char)((i * 3 + salt) % 10); }

/* an IDX image file: n images of rows x cols; header fields as given */
static unsigned char *idx_images(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                                 size_t *size)
{
    *size = 16 + (size_t)n * rows * cols;
    unsigned char *b = malloc(*size);
    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < rows * cols; j++)
            b[16 + (size_t)i * rows * cols + j] = fx_pixel(i, j);
    return b;
}

static unsigned char *idx_labels(uint32_t magic, uint32_t n, int salt, size_t *size)
{
    *size = 8 + n;
    unsigned char *b = malloc(*size);
    put_be32(b, magic);
    put_be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++)
        b[8 + i] = fx_label(i, salt);
    return b;
}

#define NTRAIN 30
#define NTEST 12

static const char *idx_name(const char *base, bool gz, char *buf)
{
    sprintf(buf, "%s%s", base, gz ? ".gz" : "");
    return buf;
}

/* a valid MNIST-style set: NTRAIN train and NTEST test images */
static void write_idx_set(const char *dir, bool gz, int salt)
{
    char name[64];
    size_t n;
    unsigned char *b = idx_images(0x803, NTRAIN, 28, 28, &n);
    write_bytes(dir, idx_name("train-images-idx3-ubyte", gz, name), b, n, gz);
    free(b);
    b = idx_labels(0x801, NTRAIN, salt, &n);
    write_bytes(dir, idx_name("train-labels-idx1-ubyte", gz, name), b, n, gz);
    free(b);
    b = idx_images(0x803, NTEST, 28, 28, &n);
    write_bytes(dir, idx_name("t10k-images-idx3-ubyte", gz, name), b, n, gz);
    free(b);
    b = idx_labels(0x801, NTEST, salt + 1, &n);
    write_bytes(dir, idx_name("t10k-labels-idx1-ubyte", gz, name), b, n, gz);
    free(b);
}

static void spec_for(nl_data_spec *spec, nl_dataset_kind kind, const char *dir)
{
    nl_data_spec_defaults(spec);
    spec->kind = kind;
    snprintf(spec->path, sizeof spec->path, "%s", dir);
    spec->standardize = false;
}

/* loads and expects `code` with every word of `words` (NULL-terminated) in the message */
static void expect_error(const nl_data_spec *spec, nl_code code, const char *const *words)
{
    nl_dataset ds;
    nl_error err = {0};
    nl_code rc = nl_dataset_load(spec, &ds, &err);
    ck_assert_msg(rc == code, "expected %s, got %s: %s", nl_code_name(code), nl_code_name(rc),
                  err.msg);
    ck_assert_int_eq(err.code, code);
    if (getenv("NL_TEST_VERBOSE"))
        fprintf(stderr, "  %s: %s\n", nl_code_name(rc), err.msg);
    for (int i = 0; words && words[i]; i++)
        ck_assert_msg(strstr(err.msg, words[i]) != NULL, "message lacks \"%s\": %s", words[i],
                      err.msg);
    ck_assert_ptr_null(ds.train.x);
    ck_assert_ptr_null(ds.test.x);
    /* what the probe finds, it reports as the load does; what only reading
     * the samples finds (a bad label, corrupt bytes), it passes */
    nl_dataset_shape shape;
    nl_error probe_err = {0};
    if (nl_dataset_probe(spec, &shape, &probe_err) != NL_OK)
        ck_assert_str_eq(probe_err.msg, err.msg);
}

/* the probe refuses too, with the same words */
static void expect_probe_error(const nl_data_spec *spec, const char *const *words)
{
    nl_dataset_shape shape;
    nl_error err = {0};
    nl_code rc = nl_dataset_probe(spec, &shape, &err);
    ck_assert_msg(rc == NL_ERR_DATA, "probe: expected a data error, got %s: %s", nl_code_name(rc),
                  err.msg);
    for (int i = 0; words && words[i]; i++)
        ck_assert_msg(strstr(err.msg, words[i]) != NULL, "probe message lacks \"%s\": %s",
                      words[i], err.msg);
    expect_error(spec, NL_ERR_DATA, words);
}

static nl_dataset load_ok(const nl_data_spec *spec)
{
    nl_dataset ds;
    nl_error err = {0};
    nl_code rc = nl_dataset_load(spec, &ds, &err);
    ck_assert_msg(rc == NL_OK, "load failed (%s): %s", nl_code_name(rc), err.msg);
    return ds;
}

static size_t sample_size(const nl_split *s) { return (size_t)s->c * s->h * s->w; }

/* nearest class mean accuracy on the test split */
static double ncm_accuracy(const nl_dataset *ds)
{
    int k = ds->classes;
    size_t d = sample_size(&ds->train);
    double *mu = calloc((size_t)k * d, sizeof *mu);
    long *count = calloc((size_t)k, sizeof *count);
    for (long i = 0; i < ds->train.n; i++) {
        int y = ds->train.y[i];
        count[y]++;
        for (size_t j = 0; j < d; j++)
            mu[(size_t)y * d + j] += ds->train.x[(size_t)i * d + j];
    }
    for (int y = 0; y < k; y++)
        for (size_t j = 0; j < d; j++)
            mu[(size_t)y * d + j] /= count[y] ? (double)count[y] : 1.0;
    long correct = 0;
    for (long i = 0; i < ds->test.n; i++) {
        int best = -1;
        double best_d = INFINITY;
        for (int y = 0; y < k; y++) {
            double s = 0;
            for (size_t j = 0; j < d; j++) {
                double e = ds->test.x[(size_t)i * d + j] - mu[(size_t)y * d + j];
                s += e * e;
            }
            if (s < best_d) {
                best_d = s;
                best = y;
            }
        }
        correct += best == ds->test.y[i];
    }
    free(mu);
    free(count);
    return (double)correct / (double)ds->test.n;
}

/* ---- defaults ---- */

START_TEST(test_defaults)
{
    nl_data_spec s;
    memset(&s, 0x5a, sizeof s);
    nl_data_spec_defaults(&s);
    ck_assert_int_eq(s.kind, NL_DATA_SYNTHETIC);
    ck_assert_str_eq(s.path, "");
    ck_assert_int_eq(s.train_size, 0);
    ck_assert_int_eq(s.test_size, 0);
    ck_assert_uint_eq(s.seed, 1);
    ck_assert(s.standardize);
    ck_assert_int_eq(s.synthetic_c, 1);
    ck_assert_int_eq(s.synthetic_h, 28);
    ck_assert_int_eq(s.synthetic_w, 28);
    ck_assert_int_eq(s.synthetic_classes, 10);
    ck_assert_int_eq(s.synthetic_train, 10000);
    ck_assert_int_eq(s.synthetic_test, 2000);
    ck_assert_str_eq(nl_data_default_path(NL_DATA_FASHION_MNIST), FASHION_DIR);
    ck_assert_str_eq(nl_data_default_path(NL_DATA_MNIST), "");
    ck_assert_str_eq(nl_data_default_path(NL_DATA_CIFAR10), "");
    ck_assert_str_eq(nl_data_default_path(NL_DATA_SYNTHETIC), "");
}
END_TEST

/* ---- synthetic ---- */

static void synthetic_spec(nl_data_spec *s, uint64_t seed, long ntrain, long ntest)
{
    nl_data_spec_defaults(s);
    s->seed = seed;
    s->synthetic_train = ntrain;
    s->synthetic_test = ntest;
}

START_TEST(test_synthetic_deterministic)
{
    nl_data_spec s;
    synthetic_spec(&s, 7, 600, 200);
    nl_dataset a = load_ok(&s), b = load_ok(&s);
    size_t d = sample_size(&a.train);
    ck_assert_int_eq(memcmp(a.train.x, b.train.x, a.train.n * d * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.train.y, b.train.y, a.train.n * sizeof(int32_t)), 0);
    ck_assert_int_eq(memcmp(a.test.x, b.test.x, a.test.n * d * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.test.y, b.test.y, a.test.n * sizeof(int32_t)), 0);
    ck_assert_str_eq(a.description, b.description);

    /* the thread count does not change a byte */
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    nl_dataset c = load_ok(&s);
    omp_set_num_threads(3);
    nl_dataset c3 = load_ok(&s);
    omp_set_num_threads(threads);
    ck_assert_int_eq(memcmp(a.train.x, c.train.x, a.train.n * d * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.train.x, c3.train.x, a.train.n * d * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.test.x, c3.test.x, a.test.n * d * sizeof(float)), 0);
    nl_dataset_free(&c);
    nl_dataset_free(&c3);
#endif

    /* another seed, other data */
    synthetic_spec(&s, 8, 600, 200);
    nl_dataset e = load_ok(&s);
    ck_assert_int_ne(memcmp(a.train.x, e.train.x, a.train.n * d * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(a.train.y, e.train.y, a.train.n * sizeof(int32_t)), 0);

    /* train and test come from different streams */
    ck_assert_int_ne(memcmp(a.train.x, a.test.x, a.test.n * d * sizeof(float)), 0);
    nl_dataset_free(&a);
    nl_dataset_free(&b);
    nl_dataset_free(&e);
}
END_TEST

/* a fingerprint of seed 1's first samples, so that a change to the
 * generator (or a machine computing it differently) is noticed */
START_TEST(test_synthetic_fingerprint)
{
    nl_data_spec s;
    synthetic_spec(&s, 1, 64, 16);
    s.standardize = false;
    nl_dataset ds = load_ok(&s);
    uint32_t h = 2166136261u;
    const unsigned char *p = (const unsigned char *)ds.train.x;
    for (size_t i = 0; i < ds.train.n * sample_size(&ds.train) * sizeof(float); i++)
        h = (h ^ p[i]) * 16777619u;
    for (long i = 0; i < ds.train.n; i++)
        h = (h ^ (uint32_t)ds.train.y[i]) * 16777619u;
    /* printed so that an intended change can update the constant */
    fprintf(stderr, "synthetic seed 1 fingerprint: 0x%08x\n", h);
    ck_assert_msg(h == SYNTHETIC_FINGERPRINT, "fingerprint 0x%08x, expected 0x%08x", h,
                  SYNTHETIC_FINGERPRINT);
    nl_dataset_free(&ds);
}
END_TEST

START_TEST(test_synthetic_shapes_and_range)
{
    nl_data_spec s;
    synthetic_spec(&s, 3, 500, 100);
    s.standardize = false;
    nl_dataset ds = load_ok(&s);
    ck_assert_int_eq(ds.classes, 10);
    ck_assert_int_eq(ds.train.n, 500);
    ck_assert_int_eq(ds.test.n, 100);
    ck_assert_int_eq(ds.train.c, 1);
    ck_assert_int_eq(ds.train.h, 28);
    ck_assert_int_eq(ds.train.w, 28);
    ck_assert_int_eq(ds.test.c, 1);
    ck_assert_int_eq(ds.test.h, 28);
    ck_assert_int_eq(ds.test.w, 28);
    long seen[10] = {0};
    for (long i = 0; i < ds.train.n; i++) {
        ck_assert(ds.train.y[i] >= 0 && ds.train.y[i] < 10);
        seen[ds.train.y[i]]++;
    }
    for (int k = 0; k < 10; k++)
        ck_assert_msg(seen[k] > 20, "class %d has %ld of 500 samples", k, seen[k]);
    for (long i = 0; i < ds.test.n; i++)
        ck_assert(ds.test.y[i] >= 0 && ds.test.y[i] < 10);
    size_t d = sample_size(&ds.train);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < ds.train.n * d; i++) {
        ck_assert(ds.train.x[i] >= 0.0f && ds.train.x[i] <= 1.0f);
        lo = fminf(lo, ds.train.x[i]);
        hi = fmaxf(hi, ds.train.x[i]);
    }
    ck_assert(lo == 0.0f && hi == 1.0f);
    for (size_t i = 0; i < ds.test.n * d; i++)
        ck_assert(ds.test.x[i] >= 0.0f && ds.test.x[i] <= 1.0f);
    ck_assert_msg(strstr(ds.description, "synthetic") && strstr(ds.description, "500 train") &&
                      strstr(ds.description, "100 test") && strstr(ds.description, "1x28x28") &&
                      strstr(ds.description, "10 classes"),
                  "%s", ds.description);
    /* not standardized: the identity is recorded */
    ck_assert(ds.mean[0] == 0.0f && ds.std[0] == 1.0f);
    nl_dataset_free(&ds);

    /* colour images, other sizes and class counts */
    synthetic_spec(&s, 3, 50, 20);
    s.synthetic_c = 3;
    s.synthetic_h = 32;
    s.synthetic_w = 24;
    s.synthetic_classes = 4;
    s.standardize = false;
    ds = load_ok(&s);
    ck_assert_int_eq(ds.train.c, 3);
    ck_assert_int_eq(ds.train.h, 32);
    ck_assert_int_eq(ds.train.w, 24);
    ck_assert_int_eq(ds.classes, 4);
    for (long i = 0; i < ds.train.n; i++)
        ck_assert(ds.train.y[i] >= 0 && ds.train.y[i] < 4);
    for (size_t i = 0; i < ds.train.n * sample_size(&ds.train); i++)
        ck_assert(ds.train.x[i] >= 0.0f && ds.train.x[i] <= 1.0f);
    nl_dataset_free(&ds);
}
END_TEST

START_TEST(test_synthetic_subset_is_prefix)
{
    nl_data_spec s;
    synthetic_spec(&s, 5, 400, 300);
    s.standardize = false;
    nl_dataset full = load_ok(&s);
    s.train_size = 123;
    s.test_size = 45;
    nl_dataset sub = load_ok(&s);
    ck_assert_int_eq(sub.train.n, 123);
    ck_assert_int_eq(sub.test.n, 45);
    size_t d = sample_size(&full.train);
    ck_assert_int_eq(memcmp(sub.train.x, full.train.x, 123 * d * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sub.train.y, full.train.y, 123 * sizeof(int32_t)), 0);
    ck_assert_int_eq(memcmp(sub.test.x, full.test.x, 45 * d * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sub.test.y, full.test.y, 45 * sizeof(int32_t)), 0);
    nl_dataset_free(&full);
    nl_dataset_free(&sub);
}
END_TEST

START_TEST(test_synthetic_learnable)
{
    /* nearest class mean: far above chance (10%), far from perfect; the
     * generator was tuned so that a small CNN reaches about 86-90% after
     * two epochs and an MLP a few points less */
    for (uint64_t seed = 1; seed <= 2; seed++) {
        nl_data_spec s;
        synthetic_spec(&s, seed, 3000, 1000);
        nl_dataset ds = load_ok(&s);
        double acc = ncm_accuracy(&ds);
        fprintf(stderr, "synthetic seed %llu: nearest-class-mean accuracy %.3f\n",
                (unsigned long long)seed, acc);
        ck_assert_msg(acc > 0.30 && acc < 0.80, "seed %llu: nearest class mean accuracy %.3f",
                      (unsigned long long)seed, acc);
        nl_dataset_free(&ds);
    }
}
END_TEST

START_TEST(test_synthetic_features)
{
    nl_data_spec s;
    synthetic_spec(&s, 4, 3000, 1000);
    s.synthetic_c = 40; /* more than the 16 recorded channel statistics */
    s.synthetic_h = s.synthetic_w = 1;
    s.standardize = false;
    nl_dataset raw = load_ok(&s);
    ck_assert_int_eq(raw.train.c, 40);
    ck_assert_int_eq(raw.train.h, 1);
    ck_assert_int_eq(raw.train.w, 1);
    for (size_t i = 0; i < (size_t)raw.train.n * 40; i++)
        ck_assert(raw.train.x[i] > 0.0f && raw.train.x[i] < 1.0f);
    for (long i = 0; i < raw.train.n; i++)
        ck_assert(raw.train.y[i] >= 0 && raw.train.y[i] < 10);
    double acc = ncm_accuracy(&raw);
    fprintf(stderr, "synthetic features d=40: nearest-class-mean accuracy %.3f\n", acc);
    ck_assert_msg(acc > 0.25 && acc < 0.90, "feature vectors: nearest class mean accuracy %.3f", acc);

    /* standardized per feature, the ones past the 16th included */
    s.standardize = true;
    nl_dataset ds = load_ok(&s);
    for (int f = 0; f < 40; f++) {
        double sum = 0, sq = 0;
        for (long i = 0; i < ds.train.n; i++) {
            double v = ds.train.x[(size_t)i * 40 + f];
            sum += v;
            sq += v * v;
        }
        double mean = sum / ds.train.n, var = sq / ds.train.n - mean * mean;
        ck_assert_msg(fabs(mean) < 1e-4 && fabs(var - 1) < 1e-3, "feature %d: mean %g var %g", f,
                      mean, var);
    }
    nl_dataset_free(&raw);
    nl_dataset_free(&ds);
}
END_TEST

START_TEST(test_synthetic_bad_spec)
{
    nl_data_spec s;
    synthetic_spec(&s, 1, 10, 10);
    s.synthetic_classes = 1;
    expect_error(&s, NL_ERR_CONFIG, (const char *const[]){"classes", NULL});
    synthetic_spec(&s, 1, 10, 10);
    s.synthetic_c = 17;
    expect_error(&s, NL_ERR_CONFIG, (const char *const[]){"channels", NULL});
    synthetic_spec(&s, 1, 10, 10);
    s.synthetic_h = 0;
    expect_error(&s, NL_ERR_CONFIG, (const char *const[]){"height", NULL});
    synthetic_spec(&s, 1, 0, 10);
    expect_error(&s, NL_ERR_CONFIG, NULL);
    synthetic_spec(&s, 1, 10, 10);
    s.train_size = -1;
    expect_error(&s, NL_ERR_CONFIG, (const char *const[]){"train_size", NULL});
}
END_TEST

/* ---- standardization ---- */

START_TEST(test_standardize)
{
    nl_data_spec s;
    synthetic_spec(&s, 9, 400, 150);
    s.synthetic_c = 3;
    s.synthetic_h = s.synthetic_w = 12;
    s.standardize = false;
    nl_dataset raw = load_ok(&s);
    s.standardize = true;
    nl_dataset ds = load_ok(&s);
    size_t hw = 144, chw = 3 * hw;
    for (int ch = 0; ch < 3; ch++) {
        double sum = 0, sq = 0, rsum = 0, rsq = 0;
        for (long i = 0; i < ds.train.n; i++)
            for (size_t k = 0; k < hw; k++) {
                double v = ds.train.x[(size_t)i * chw + ch * hw + k];
                double r = raw.train.x[(size_t)i * chw + ch * hw + k];
                sum += v;
                sq += v * v;
                rsum += r;
                rsq += r * r;
            }
        double n = (double)ds.train.n * hw;
        double mean = sum / n, std = sqrt(sq / n - mean * mean);
        ck_assert_msg(fabs(mean) < 1e-4, "channel %d: mean %g", ch, mean);
        ck_assert_msg(fabs(std - 1) < 1e-4, "channel %d: std %g", ch, std);
        /* the recorded statistics are the raw training split's */
        double rmean = rsum / n, rstd = sqrt(rsq / n - rmean * rmean);
        ck_assert_msg(fabs(ds.mean[ch] - rmean) < 1e-5, "channel %d: mean %g vs %g", ch,
                      ds.mean[ch], rmean);
        ck_assert_msg(fabs(ds.std[ch] - rstd) < 1e-5, "channel %d: std %g vs %g", ch, ds.std[ch],
                      rstd);
        ck_assert(ds.std[ch] > 0.05f);
        /* the test split uses the training statistics */
        for (long i = 0; i < ds.test.n; i++)
            for (size_t k = 0; k < hw; k++) {
                size_t at = (size_t)i * chw + ch * hw + k;
                float want = (raw.test.x[at] - ds.mean[ch]) / ds.std[ch];
                ck_assert_msg(fabsf(ds.test.x[at] - want) < 1e-4f, "test %ld: %g vs %g", i,
                              ds.test.x[at], want);
            }
    }
    /* the colour channels differ, so per channel is not per image */
    ck_assert(ds.mean[0] != ds.mean[1] || ds.mean[1] != ds.mean[2]);
    nl_dataset_free(&raw);
    nl_dataset_free(&ds);
}
END_TEST

/* ---- IDX ---- */

static void check_idx_values(const nl_dataset *ds, long ntrain, long ntest, int salt)
{
    ck_assert_int_eq(ds->classes, 10);
    ck_assert_int_eq(ds->train.n, ntrain);
    ck_assert_int_eq(ds->test.n, ntest);
    ck_assert(ds->train.c == 1 && ds->train.h == 28 && ds->train.w == 28);
    ck_assert(ds->test.c == 1 && ds->test.h == 28 && ds->test.w == 28);
    for (long i = 0; i < ntrain; i++) {
        ck_assert_int_eq(ds->train.y[i], fx_label(i, salt));
        for (long j = 0; j < 784; j += 97)
            ck_assert_float_eq_tol(ds->train.x[i * 784 + j], fx_pixel(i, j) / 255.0f, 1e-7);
    }
    for (long i = 0; i < ntest; i++) {
        ck_assert_int_eq(ds->test.y[i], fx_label(i, salt + 1));
        ck_assert_float_eq_tol(ds->test.x[i * 784 + 783], fx_pixel(i, 783) / 255.0f, 1e-7);
    }
}

START_TEST(test_idx_plain_and_gzip)
{
    for (int gz = 0; gz <= 1; gz++) {
        char dir[512];
        make_tmpdir(dir, sizeof dir);
        write_idx_set(dir, gz, 0);
        nl_data_spec s;
        spec_for(&s, NL_DATA_MNIST, dir);
        nl_dataset ds = load_ok(&s);
        check_idx_values(&ds, NTRAIN, NTEST, 0);
        ck_assert_msg(strstr(ds.description, "mnist") && strstr(ds.description, dir) &&
                          strstr(ds.description, "30 train") && strstr(ds.description, "12 test"),
                      "%s", ds.description);
        nl_dataset_free(&ds);

        /* subsets: the first samples */
        s.train_size = 7;
        s.test_size = 12;
        ds = load_ok(&s);
        check_idx_values(&ds, 7, 12, 0);
        nl_dataset_free(&ds);

        /* more than there are */
        s.train_size = 31;
        expect_error(&s, NL_ERR_DATA, (const char *const[]){"30", "train-images-idx3-ubyte", NULL});
        s.train_size = 0;
        s.test_size = 13;
        expect_error(&s, NL_ERR_DATA, (const char *const[]){"12", "t10k-images-idx3-ubyte", NULL});
        remove_tree(dir);
    }
}
END_TEST

START_TEST(test_idx_prefers_gzip)
{
    char dir[512];
    make_tmpdir(dir, sizeof dir);
    write_idx_set(dir, false, 0);
    write_idx_set(dir, true, 5);
    nl_data_spec s;
    spec_for(&s, NL_DATA_FASHION_MNIST, dir);
    nl_dataset ds = load_ok(&s);
    check_idx_values(&ds, NTRAIN, NTEST, 5);
    ck_assert_msg(strstr(ds.description, "fashion-mnist"), "%s", ds.description);
    nl_dataset_free(&ds);
    remove_tree(dir);
}
END_TEST

/* replaces one file of a valid set with `data` and expects a data error that
 * names that file */
static void corrupt_case(bool gz, const char *file, const void *data, size_t n,
                         const char *word)
{
    char dir[512], name[64];
    make_tmpdir(dir, sizeof dir);
    write_idx_set(dir, gz, 0);
    write_bytes(dir, idx_name(file, gz, name), data, n, gz);
    nl_data_spec s;
    spec_for(&s, NL_DATA_MNIST, dir);
    char path[1024];
    join(path, sizeof path, dir, name);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, word, NULL});
    remove_tree(dir);
}

START_TEST(test_idx_corrupt)
{
    for (int gz = 0; gz <= 1; gz++) {
        size_t n;
        unsigned char *b;
        /* bad magic numbers */
        b = idx_images(0x804, NTRAIN, 28, 28, &n);
        corrupt_case(gz, "train-images-idx3-ubyte", b, n, "magic");
        free(b);
        b = idx_labels(0x803, NTEST, 1, &n);
        corrupt_case(gz, "t10k-labels-idx1-ubyte", b, n, "magic");
        free(b);
        /* a label file where the images should be */
        b = idx_labels(0x801, NTRAIN, 0, &n);
        corrupt_case(gz, "train-images-idx3-ubyte", b, n, "magic");
        free(b);
        /* truncated headers */
        b = idx_images(0x803, NTRAIN, 28, 28, &n);
        corrupt_case(gz, "train-images-idx3-ubyte", b, 10, "header");
        corrupt_case(gz, "train-images-idx3-ubyte", b, 2, "header");
        corrupt_case(gz, "train-images-idx3-ubyte", b, 0, "empty");
        /* truncated data */
        corrupt_case(gz, "train-images-idx3-ubyte", b, n - 1, "truncated");
        corrupt_case(gz, "train-images-idx3-ubyte", b, 16 + 784 * 3 + 5, "truncated");
        free(b);
        b = idx_labels(0x801, NTEST, 1, &n);
        corrupt_case(gz, "t10k-labels-idx1-ubyte", b, 5, "header");
        corrupt_case(gz, "t10k-labels-idx1-ubyte", b, n - 2, "truncated");
        /* a label out of range */
        b[8 + 4] = 10;
        corrupt_case(gz, "t10k-labels-idx1-ubyte", b, n, "out of range");
        b[8 + 4] = 255;
        corrupt_case(gz, "t10k-labels-idx1-ubyte", b, n, "out of range");
        free(b);
        /* image and label counts differ */
        b = idx_labels(0x801, NTRAIN - 1, 0, &n);
        corrupt_case(gz, "train-labels-idx1-ubyte", b, n, "labels");
        free(b);
        /* wrong dimensions */
        b = idx_images(0x803, NTEST, 32, 28, &n);
        corrupt_case(gz, "t10k-images-idx3-ubyte", b, n, "32x28");
        free(b);
        b = idx_images(0x803, NTEST, 28, 0, &n);
        corrupt_case(gz, "t10k-images-idx3-ubyte", b, n, "28x0");
        free(b);
        /* no images at all */
        b = idx_images(0x803, 0, 28, 28, &n);
        unsigned char *l = idx_labels(0x801, 0, 0, &n);
        char dir[512], name[64], path[1024];
        make_tmpdir(dir, sizeof dir);
        write_idx_set(dir, gz, 0);
        write_bytes(dir, idx_name("t10k-images-idx3-ubyte", gz, name), b, 16, gz);
        join(path, sizeof path, dir, name);
        write_bytes(dir, idx_name("t10k-labels-idx1-ubyte", gz, name), l, 8, gz);
        nl_data_spec s;
        spec_for(&s, NL_DATA_MNIST, dir);
        expect_error(&s, NL_ERR_DATA, (const char *const[]){path, "no images", NULL});
        remove_tree(dir);
        free(b);
        free(l);
    }
}
END_TEST

START_TEST(test_idx_bad_gzip)
{
    /* a gzip file cut short, and one with garbage inside the stream */
    size_t n;
    unsigned char *b = idx_images(0x803, NTRAIN, 28, 28, &n);
    char dir[512], path[1024];
    make_tmpdir(dir, sizeof dir);
    write_idx_set(dir, true, 0);
    join(path, sizeof path, dir, "train-images-idx3-ubyte.gz");
    FILE *f = fopen(path, "rb");
    unsigned char gzdata[65536];
    size_t gzn = fread(gzdata, 1, sizeof gzdata, f);
    fclose(f);
    ck_assert(gzn > 100 && gzn < sizeof gzdata);
    nl_data_spec s;
    spec_for(&s, NL_DATA_MNIST, dir);

    write_bytes(dir, "train-images-idx3-ubyte.gz", gzdata, gzn / 2, false);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, NULL});

    for (size_t i = 20; i < gzn - 20; i++)
        gzdata[i] ^= 0xa5;
    write_bytes(dir, "train-images-idx3-ubyte.gz", gzdata, gzn, false);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, NULL});
    remove_tree(dir);
    free(b);
}
END_TEST

/* issue 29: a header's count against the file's real length, whatever the
 * subset; trailing data; a gzip stream without its end */
START_TEST(test_idx_integrity)
{
    for (int gz = 0; gz <= 1; gz++) {
        char dir[512], path[1024], name[64];
        make_tmpdir(dir, sizeof dir);
        write_idx_set(dir, gz, 0);
        idx_name("train-images-idx3-ubyte", gz, name);
        join(path, sizeof path, dir, name);
        nl_data_spec s;
        spec_for(&s, NL_DATA_MNIST, dir);
        s.train_size = 10; /* fewer than the file holds, and than it claims */

        /* the probe of a good set: counts and shape without loading */
        nl_dataset_shape shape;
        nl_error err = {0};
        ck_assert_int_eq(nl_dataset_probe(&s, &shape, &err), NL_OK);
        ck_assert_int_eq(shape.train_n, 10);
        ck_assert_int_eq(shape.test_n, NTEST);
        ck_assert_int_eq(shape.c * shape.h * shape.w, 784);
        ck_assert_int_eq(shape.classes, 10);
        ck_assert(nl_dataset_bytes(&shape) == (10.0 + NTEST) * (784 * 4 + 4));

        size_t n, ln;
        char lname[64], lpath[1024];
        idx_name("train-labels-idx1-ubyte", gz, lname);
        join(lpath, sizeof lpath, dir, lname);
        unsigned char *b = idx_images(0x803, NTRAIN, 28, 28, &n);
        unsigned char *l = idx_labels(0x801, NTRAIN, 0, &ln);
        /* headers that claim more samples than the files hold */
        const uint32_t claims[] = {NTRAIN + 5, 0x80000000u};
        for (int c = 0; c < 2; c++) {
            put_be32(b + 4, claims[c]);
            put_be32(l + 4, claims[c]);
            write_bytes(dir, name, b, n, gz);
            write_bytes(dir, lname, l, ln, gz);
            char promise[64];
            snprintf(promise, sizeof promise, "promises %u images", claims[c]);
            expect_probe_error(&s, (const char *const[]){path, "truncated", promise, "30 whole",
                                                         NULL});
            /* 2^31 images with no subset: refused for the length, not by
             * a failed allocation */
            s.train_size = 0;
            expect_probe_error(&s, (const char *const[]){path, promise, NULL});
            s.train_size = 10;
        }
        put_be32(b + 4, NTRAIN);
        put_be32(l + 4, NTRAIN);
        write_bytes(dir, lname, l, ln, gz);

        /* trailing data after the images the header promises */
        unsigned char *junk = malloc(n + 7);
        memcpy(junk, b, n);
        memcpy(junk + n, "garbage", 7);
        write_bytes(dir, name, junk, n + 7, gz);
        expect_probe_error(&s, (const char *const[]){path, "7 bytes of trailing data", NULL});
        free(junk);
        /* a gzip bomb (8 MiB of zeros after the images, 8 KiB compressed) is
         * not inflated to its end just to count the bytes too many */
        const size_t bomb = (size_t)8 << 20;
        junk = calloc(n + bomb, 1);
        memcpy(junk, b, n);
        write_bytes(dir, name, junk, n + bomb, gz);
        expect_probe_error(&s, (const char *const[]){path, gz ? "more than " : "8388608 bytes",
                                                     "bytes of trailing data", NULL});
        free(junk);

        /* the labels too: 31 images, a label file that claims 31 and holds 30 */
        free(b);
        b = idx_images(0x803, NTRAIN + 1, 28, 28, &n);
        write_bytes(dir, name, b, n, gz);
        put_be32(l + 4, NTRAIN + 1);
        write_bytes(dir, lname, l, ln, gz);
        expect_probe_error(&s, (const char *const[]){lpath, "truncated", "31 labels", NULL});
        free(l);
        free(b);
        remove_tree(dir);
    }
}
END_TEST

/* the bytes of a gzip file as written by zlib */
static unsigned char *gz_bytes(const void *data, size_t n, size_t *gzn)
{
    uLongf cap = compressBound((uLong)n) + 64;
    unsigned char *out = malloc(cap);
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *gzn = z.total_out;
    deflateEnd(&z);
    return out;
}

START_TEST(test_idx_gzip_stream_end)
{
    char dir[512], path[1024];
    make_tmpdir(dir, sizeof dir);
    write_idx_set(dir, true, 0);
    join(path, sizeof path, dir, "train-images-idx3-ubyte.gz");
    nl_data_spec s;
    spec_for(&s, NL_DATA_MNIST, dir);
    s.train_size = 5;
    size_t n, gzn;
    unsigned char *b = idx_images(0x803, NTRAIN, 28, 28, &n);
    unsigned char *z = gz_bytes(b, n, &gzn);

    /* without its CRC and length trailer, or without part of it */
    write_bytes(dir, "train-images-idx3-ubyte.gz", z, gzn - 8, false);
    expect_probe_error(&s, (const char *const[]){path, "truncated", "cut off", NULL});
    write_bytes(dir, "train-images-idx3-ubyte.gz", z, gzn - 3, false);
    expect_probe_error(&s, (const char *const[]){path, "cut off", NULL});
    /* junk after the end of the stream */
    unsigned char *tail = malloc(gzn + 9);
    memcpy(tail, z, gzn);
    memcpy(tail + gzn, "appended!", 9);
    write_bytes(dir, "train-images-idx3-ubyte.gz", tail, gzn + 9, false);
    expect_probe_error(&s, (const char *const[]){path, "trailing data after the end of the gzip "
                                                       "stream", NULL});
    /* junk that ends with the right length, so the trailer check passes:
     * reading the whole file finds it after the stream's end */
    memcpy(tail + gzn, "xx", 2);
    memcpy(tail + gzn + 2, z + gzn - 4, 4);
    write_bytes(dir, "train-images-idx3-ubyte.gz", tail, gzn + 6, false);
    s.train_size = 0;
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, "trailing data", NULL});
    s.train_size = 5;
    /* a wrong CRC (the trailer's first four bytes) */
    memcpy(tail, z, gzn);
    tail[gzn - 8] ^= 0x5a;
    write_bytes(dir, "train-images-idx3-ubyte.gz", tail, gzn, false);
    s.train_size = 0; /* the whole file is read, so its CRC is checked */
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, "incorrect data check", NULL});
    s.train_size = 5;

    /* two gzip members, as `cat a.gz b.gz` makes: valid gzip, read as one */
    size_t half = 16 + 784 * 7 + 100, z1n, z2n;
    unsigned char *z1 = gz_bytes(b, half, &z1n), *z2 = gz_bytes(b + half, n - half, &z2n);
    unsigned char *two = malloc(z1n + z2n);
    memcpy(two, z1, z1n);
    memcpy(two + z1n, z2, z2n);
    write_bytes(dir, "train-images-idx3-ubyte.gz", two, z1n + z2n, false);
    s.train_size = 0;
    nl_dataset ds = load_ok(&s);
    check_idx_values(&ds, NTRAIN, NTEST, 0);
    nl_dataset_free(&ds);
    free(two);
    free(z1);
    free(z2);
    free(tail);
    free(z);
    free(b);
    remove_tree(dir);
}
END_TEST

START_TEST(test_data_path_is_a_file)
{
    char dir[512], path[1024];
    make_tmpdir(dir, sizeof dir);
    write_bytes(dir, "not-a-dir", "x", 1, false);
    join(path, sizeof path, dir, "not-a-dir");
    nl_data_spec s;
    const nl_dataset_kind kinds[] = {NL_DATA_MNIST, NL_DATA_FASHION_MNIST, NL_DATA_CIFAR10};
    for (int k = 0; k < 3; k++) {
        spec_for(&s, kinds[k], path);
        expect_probe_error(&s, (const char *const[]){path, "is a file, not a directory", NULL});
    }
    remove_tree(dir);
}
END_TEST

START_TEST(test_idx_missing)
{
    char dir[512], path[1024];
    make_tmpdir(dir, sizeof dir);
    nl_data_spec s;

    /* an empty directory: what to install, which files to put where */
    spec_for(&s, NL_DATA_FASHION_MNIST, dir);
    expect_error(&s, NL_ERR_DATA,
                 (const char *const[]){dir, "apt-get install dataset-fashion-mnist",
                                       "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                       "data.path", NULL});
    spec_for(&s, NL_DATA_MNIST, dir);
    expect_error(&s, NL_ERR_DATA,
                 (const char *const[]){dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                       "data.path", NULL});

    /* a directory that does not exist */
    join(path, sizeof path, dir, "nowhere");
    spec_for(&s, NL_DATA_FASHION_MNIST, path);
    expect_error(&s, NL_ERR_DATA,
                 (const char *const[]){path, "apt-get install dataset-fashion-mnist", NULL});

    /* one file missing */
    write_idx_set(dir, true, 0);
    join(path, sizeof path, dir, "t10k-labels-idx1-ubyte.gz");
    unlink(path);
    join(path, sizeof path, dir, "t10k-labels-idx1-ubyte");
    spec_for(&s, NL_DATA_FASHION_MNIST, dir);
    expect_error(&s, NL_ERR_DATA,
                 (const char *const[]){path, "missing", "apt-get install dataset-fashion-mnist",
                                       NULL});

    /* mnist has no default location */
    spec_for(&s, NL_DATA_MNIST, "");
    expect_error(&s, NL_ERR_DATA, (const char *const[]){"data.path", "train-images-idx3-ubyte", NULL});
    spec_for(&s, NL_DATA_CIFAR10, "");
    expect_error(&s, NL_ERR_DATA, (const char *const[]){"data.path", "data_batch_1.bin", NULL});
    remove_tree(dir);
}
END_TEST

/* ---- CIFAR-10 ---- */

#define CIFAR_REC 3073
static const long cifar_counts[5] = {4, 3, 5, 2, 4}; /* 18 training records */
#define CIFAR_TEST 6

static unsigned char cifar_pixel(long i, long j) { return (unsigned char)((i * 13 + j * 5) & 255); }

/* records numbered from `first` over the whole split */
static unsigned char *cifar_records(long first, long n, size_t *size)
{
    *size = (size_t)n * CIFAR_REC;
    unsigned char *b = malloc(*size ? *size : 1);
    for (long r = 0; r < n; r++) {
        b[r * CIFAR_REC] = fx_label(first + r, 2);
        for (long j = 0; j < 3072; j++)
            b[r * CIFAR_REC + 1 + j] = cifar_pixel(first + r, j);
    }
    return b;
}

static void write_cifar(const char *dir)
{
    long first = 0;
    size_t n;
    for (int f = 0; f < 5; f++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        unsigned char *b = cifar_records(first, cifar_counts[f], &n);
        write_bytes(dir, name, b, n, false);
        free(b);
        first += cifar_counts[f];
    }
    unsigned char *b = cifar_records(1000, CIFAR_TEST, &n);
    write_bytes(dir, "test_batch.bin", b, n, false);
    free(b);
}

static void check_cifar(const nl_dataset *ds, long ntrain, long ntest)
{
    ck_assert_int_eq(ds->classes, 10);
    ck_assert_int_eq(ds->train.n, ntrain);
    ck_assert_int_eq(ds->test.n, ntest);
    ck_assert(ds->train.c == 3 && ds->train.h == 32 && ds->train.w == 32);
    for (long i = 0; i < ntrain; i++) {
        ck_assert_int_eq(ds->train.y[i], fx_label(i, 2));
        for (long j = 0; j < 3072; j += 101)
            ck_assert_float_eq_tol(ds->train.x[i * 3072 + j], cifar_pixel(i, j) / 255.0f, 1e-7);
    }
    for (long i = 0; i < ntest; i++) {
        ck_assert_int_eq(ds->test.y[i], fx_label(1000 + i, 2));
        ck_assert_float_eq_tol(ds->test.x[i * 3072 + 2048], cifar_pixel(1000 + i, 2048) / 255.0f,
                               1e-7);
    }
}

START_TEST(test_cifar)
{
    char dir[512], sub[1024];
    make_tmpdir(dir, sizeof dir);
    write_cifar(dir);
    nl_data_spec s;
    spec_for(&s, NL_DATA_CIFAR10, dir);
    nl_dataset ds = load_ok(&s);
    check_cifar(&ds, 18, CIFAR_TEST);
    ck_assert_msg(strstr(ds.description, "cifar10") && strstr(ds.description, "3x32x32") &&
                      strstr(ds.description, "18 train"),
                  "%s", ds.description);
    nl_dataset_free(&ds);

    /* subsets, spanning batch files */
    s.train_size = 9;
    s.test_size = 2;
    ds = load_ok(&s);
    check_cifar(&ds, 9, 2);
    nl_dataset_free(&ds);
    s.train_size = 19;
    s.test_size = 0;
    expect_error(&s, NL_ERR_DATA, (const char *const[]){"18", NULL});
    s.train_size = 0;
    s.test_size = 7;
    expect_error(&s, NL_ERR_DATA, (const char *const[]){"6", "test_batch.bin", NULL});

    /* standardized: three channels of their own */
    s.test_size = 0;
    s.standardize = true;
    ds = load_ok(&s);
    ck_assert(ds.std[0] > 0 && ds.std[1] > 0 && ds.std[2] > 0);
    nl_dataset_free(&ds);
    remove_tree(dir);

    /* the directory the archive unpacks to, below the given one */
    make_tmpdir(dir, sizeof dir);
    join(sub, sizeof sub, dir, "cifar-10-batches-bin");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_cifar(sub);
    spec_for(&s, NL_DATA_CIFAR10, dir);
    ds = load_ok(&s);
    check_cifar(&ds, 18, CIFAR_TEST);
    ck_assert_msg(strstr(ds.description, "cifar-10-batches-bin"), "%s", ds.description);
    nl_dataset_free(&ds);
    remove_tree(dir);
}
END_TEST

START_TEST(test_cifar_corrupt)
{
    char dir[512], path[1024];
    size_t n;
    nl_data_spec s;

    /* a size that is not a whole number of records */
    make_tmpdir(dir, sizeof dir);
    write_cifar(dir);
    unsigned char *b = cifar_records(0, 3, &n);
    write_bytes(dir, "data_batch_4.bin", b, n - 100, false);
    join(path, sizeof path, dir, "data_batch_4.bin");
    spec_for(&s, NL_DATA_CIFAR10, dir);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, "3073", NULL});
    /* empty */
    write_bytes(dir, "data_batch_4.bin", b, 0, false);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, NULL});
    free(b);
    remove_tree(dir);

    /* a label out of range */
    make_tmpdir(dir, sizeof dir);
    write_cifar(dir);
    b = cifar_records(1000, CIFAR_TEST, &n);
    b[2 * CIFAR_REC] = 10;
    write_bytes(dir, "test_batch.bin", b, n, false);
    free(b);
    join(path, sizeof path, dir, "test_batch.bin");
    spec_for(&s, NL_DATA_CIFAR10, dir);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, "out of range", NULL});

    /* a missing file */
    unlink(path);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, "missing", NULL});
    join(path, sizeof path, dir, "data_batch_3.bin");
    unlink(path);
    expect_error(&s, NL_ERR_DATA, (const char *const[]){path, "missing", NULL});
    remove_tree(dir);

    /* nothing there at all */
    make_tmpdir(dir, sizeof dir);
    spec_for(&s, NL_DATA_CIFAR10, dir);
    expect_error(&s, NL_ERR_DATA,
                 (const char *const[]){dir, "data_batch_1.bin", "test_batch.bin", "binary version",
                                       NULL});
    remove_tree(dir);
}
END_TEST

/* ---- batcher ---- */

/* a split whose sample i is filled with the value i and labelled i % 10 */
static nl_split counting_split(long n, int c, int h, int w)
{
    nl_split s = {.n = n, .c = c, .h = h, .w = w};
    size_t d = (size_t)c * h * w;
    s.x = malloc(n * d * sizeof(float));
    s.y = malloc(n * sizeof(int32_t));
    for (long i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            s.x[i * d + j] = (float)i;
        s.y[i] = (int32_t)(i % 10);
    }
    return s;
}

/* runs one epoch; returns the batch count and the sample order */
static long run_epoch(nl_batcher *b, long *order, long max, int *last_size)
{
    const float *x;
    const int32_t *y;
    int k;
    long batches = 0, at = 0;
    size_t d = (size_t)b->split->c * b->split->h * b->split->w;
    while ((k = nl_batcher_next(b, &x, &y)) > 0) {
        ck_assert(k <= b->batch);
        for (int i = 0; i < k; i++) {
            long id = (long)x[(size_t)i * d];
            for (size_t j = 1; j < d; j++)
                ck_assert(x[(size_t)i * d + j] == (float)id);
            ck_assert_int_eq(y[i], id % 10);
            ck_assert(at < max);
            order[at++] = id;
        }
        *last_size = k;
        batches++;
    }
    /* the rest of `order` marks how many samples came */
    for (long i = at; i < max; i++)
        order[i] = -1;
    return batches;
}

/* ---- the dataset table (core/data/registry.h) ---- */

/* Every row is complete, and what it says of itself holds for the schema:
 * a row names a reader for what it yields, says what data.path must hold
 * unless it is generated, sizes a model, and its keys are the schema's
 * data.dataset-dependent keys; each such key applies to some row. */
START_TEST(test_registry_rows_complete)
{
    ck_assert_int_eq(nl_dataset_names.count, NL_DATA_COUNT);
    for (int k = 0; k < NL_DATA_COUNT; k++) {
        const nl_dataset_info *row = nl_dataset_info_of((nl_dataset_kind)k);
        ck_assert_msg(row, "dataset %d has no row", k);
        const char *name = row->id.name;
        ck_assert_msg(name && name[0] && row->id.help && row->id.help[0], "dataset %d: no name or help", k);
        ck_assert_str_eq(nl_name_of(&nl_dataset_names, k), name);
        ck_assert_int_eq(nl_name_lookup(&nl_dataset_names, name), k);
        if (row->yields == NL_DATA_YIELDS_IMAGES)
            ck_assert_msg(row->read && row->probe && !row->token_read && !row->token_check &&
                              !row->token_describe,
                          "%s yields images: it needs read and probe, and no token reader", name);
        else
            ck_assert_msg(row->token_check && row->token_read && row->token_describe && !row->read &&
                              !row->probe && !row->labels_alone,
                          "%s yields tokens: it needs a token reader, and no image reader", name);
        ck_assert_msg(row->default_path && row->files, "%s: default_path and files must be set", name);
        ck_assert_msg(row->from_seed == !row->files[0],
                      "%s: generated data reads no files (files \"\"); read data says what data.path "
                      "must hold",
                      name);
        /* data.path applies exactly to the datasets that read files */
        const bool reads_path = (nl_dataset_kinds_with_key("data.path") >> k) & 1u;
        ck_assert_msg(reads_path == !row->from_seed, "%s: data.path %s, but it %s files", name,
                      reads_path ? "applies" : "does not apply", row->from_seed ? "reads no" : "reads");
        ck_assert_msg(row->size_key && (!strcmp(row->size_key, "data.dataset") ||
                                        nl_schema_find(row->size_key)),
                      "%s: size_key %s is no config key", name, row->size_key ? row->size_key : "NULL");
        for (int i = 0; i < NL_DATA_MAX_KEYS && row->keys[i]; i++) {
            const nl_key_def *def = nl_schema_find(row->keys[i]);
            ck_assert_msg(def, "%s lists %s, which the schema does not have", name, row->keys[i]);
            ck_assert_msg(def->when_key && !strcmp(def->when_key, "data.dataset"),
                          "%s lists %s, whose schema row does not depend on data.dataset", name,
                          row->keys[i]);
        }
        /* what a model plans for with the defaults of every other key */
        nl_data_spec spec;
        nl_data_spec_defaults(&spec);
        spec.kind = (nl_dataset_kind)k;
        const nl_dataset_shape planned = nl_dataset_planned_shape(&spec);
        ck_assert_msg(planned.classes >= 2, "%s plans for %d classes", name, planned.classes);
        if (row->yields == NL_DATA_YIELDS_IMAGES)
            ck_assert_msg(planned.c >= 1 && planned.h >= 1 && planned.w >= 1,
                          "%s plans for images of %dx%dx%d", name, planned.c, planned.h, planned.w);
        ck_assert_int_eq(nl_dataset_kind_is_tokens((nl_dataset_kind)k),
                         row->yields == NL_DATA_YIELDS_TOKENS);
        ck_assert_int_eq(nl_data_from_seed((nl_dataset_kind)k), row->from_seed);
    }
    ck_assert_ptr_null(nl_dataset_info_of(NL_DATA_COUNT));
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (def->when_key && !strcmp(def->when_key, "data.dataset"))
            ck_assert_msg(nl_dataset_kinds_with_key(def->key) != 0,
                          "%s depends on data.dataset, but no dataset's row lists it", def->key);
    }
}
END_TEST

/* the files of an image dataset's format in dir, or false when the row's
 * format has no writer here (a new dataset adds one) */
static bool write_fixture(const nl_dataset_info *row, const char *dir)
{
    if (row->read == nl_dataset_row_mnist.read) {
        write_idx_set(dir, true, 0);
        return true;
    }
    if (row->read == nl_dataset_row_cifar10.read) {
        write_cifar(dir);
        return true;
    }
    return row->from_seed;
}

/* Every image row's reader loads and probes the shape and class count its
 * row plans a model for, and the description names the dataset (and the
 * seed, for generated data); every token row's vocabulary stays within
 * what it plans for. */
START_TEST(test_registry_readers_match_rows)
{
    for (int k = 0; k < NL_DATA_COUNT; k++) {
        const nl_dataset_info *row = nl_dataset_info_of((nl_dataset_kind)k);
        char dir[512];
        make_tmpdir(dir, sizeof dir);
        nl_data_spec spec;
        spec_for(&spec, (nl_dataset_kind)k, row->from_seed ? "" : dir);
        const nl_dataset_shape planned = nl_dataset_planned_shape(&spec);
        nl_error err = {0};
        if (row->yields == NL_DATA_YIELDS_TOKENS) {
            char text[1024];
            join(text, sizeof text, dir, "corpus.txt");
            FILE *f = fopen(text, "w");
            ck_assert(f);
            for (int i = 0; i < 200; i++)
                fputs("in the beginning was the word. ", f);
            fclose(f);
            if (!row->from_seed)
                snprintf(spec.path, sizeof spec.path, "%s", text);
            nl_token_shape shape;
            ck_assert_msg(nl_token_dataset_probe(&spec, 17, NULL, &shape, &err) == NL_OK, "%s: %s",
                          row->id.name, err.msg);
            ck_assert_msg(shape.vocab >= 2 && shape.vocab <= planned.classes,
                          "%s: a vocabulary of %d, planned for %d", row->id.name, shape.vocab,
                          planned.classes);
            nl_token_dataset ds;
            ck_assert_msg(nl_token_dataset_load(&spec, 17, &ds, &err) == NL_OK, "%s: %s",
                          row->id.name, err.msg);
            ck_assert_int_eq(ds.vocab, shape.vocab);
            ck_assert_msg(!strncmp(ds.description, row->id.name, strlen(row->id.name)), "%s",
                          ds.description);
            nl_token_dataset_free(&ds);
            remove_tree(dir);
            continue;
        }
        ck_assert_msg(write_fixture(row, dir), "%s: no fixture writer in test_data.c for its format",
                      row->id.name);
        nl_dataset_shape shape;
        ck_assert_msg(nl_dataset_probe(&spec, &shape, &err) == NL_OK, "%s: %s", row->id.name, err.msg);
        ck_assert_msg(shape.c == planned.c && shape.h == planned.h && shape.w == planned.w &&
                          shape.classes == planned.classes,
                      "%s: probed %dx%dx%d, %d classes; its row plans %dx%dx%d, %d classes",
                      row->id.name, shape.c, shape.h, shape.w, shape.classes, planned.c, planned.h,
                      planned.w, planned.classes);
        nl_dataset ds = load_ok(&spec);
        ck_assert_int_eq(ds.train.c, planned.c);
        ck_assert_int_eq(ds.train.h, planned.h);
        ck_assert_int_eq(ds.train.w, planned.w);
        ck_assert_int_eq(ds.classes, planned.classes);
        ck_assert_int_eq(ds.train.n, shape.train_n);
        ck_assert_int_eq(ds.test.n, shape.test_n);
        char head[640];
        snprintf(head, sizeof head, "%s (%s", row->id.name, row->from_seed ? "seed " : dir);
        ck_assert_msg(!strncmp(ds.description, head, strlen(head)), "%s: description '%s'",
                      row->id.name, ds.description);
        nl_dataset_free(&ds);
        remove_tree(dir);
    }
}
END_TEST

START_TEST(test_batcher_train)
{
    nl_split s = counting_split(103, 2, 3, 2);
    nl_batcher b;
    nl_error err = {0};
    ck_assert_int_eq(nl_batcher_init(&b, &s, 10, true, true, 42, &err), NL_OK);
    ck_assert_int_eq(nl_batcher_batches(&b), 10);
    long orders[3][103];
    int last;
    for (int e = 0; e < 3; e++) {
        ck_assert_int_eq(run_epoch(&b, orders[e], 103, &last), 10);
        ck_assert_int_eq(last, 10);
        /* 100 distinct samples: the dropped 3 are a different 3 each time */
        int seen[103] = {0};
        for (long i = 0; i < 100; i++) {
            ck_assert(orders[e][i] >= 0 && orders[e][i] < 103);
            ck_assert_msg(!seen[orders[e][i]], "sample %ld twice", orders[e][i]);
            seen[orders[e][i]] = 1;
        }
        ck_assert_int_eq(orders[e][100], -1);
    }
    ck_assert_int_ne(memcmp(orders[0], orders[1], sizeof orders[0]), 0);
    ck_assert_int_ne(memcmp(orders[1], orders[2], sizeof orders[0]), 0);
    /* shuffled, not in order */
    long in_place = 0;
    for (long i = 0; i < 100; i++)
        in_place += orders[0][i] == i;
    ck_assert(in_place < 20);
    ck_assert_int_eq(b.epoch, 3);

    /* the same seed gives the same orders, another seed others */
    nl_batcher b2, b3;
    ck_assert_int_eq(nl_batcher_init(&b2, &s, 10, true, true, 42, &err), NL_OK);
    ck_assert_int_eq(nl_batcher_init(&b3, &s, 10, true, true, 43, &err), NL_OK);
    for (int e = 0; e < 3; e++) {
        long o[103], o3[103];
        run_epoch(&b2, o, 103, &last);
        run_epoch(&b3, o3, 103, &last);
        ck_assert_int_eq(memcmp(o, orders[e], sizeof o), 0);
        ck_assert_int_ne(memcmp(o3, orders[e], sizeof o), 0);
    }
    nl_batcher_free(&b);
    nl_batcher_free(&b2);
    nl_batcher_free(&b3);

    /* shuffled without drop_last: every sample exactly once per epoch */
    ck_assert_int_eq(nl_batcher_init(&b, &s, 10, true, false, 42, &err), NL_OK);
    ck_assert_int_eq(nl_batcher_batches(&b), 11);
    for (int e = 0; e < 2; e++) {
        long o[103];
        ck_assert_int_eq(run_epoch(&b, o, 103, &last), 11);
        ck_assert_int_eq(last, 3);
        int seen[103] = {0};
        for (long i = 0; i < 103; i++) {
            ck_assert(o[i] >= 0 && o[i] < 103 && !seen[o[i]]);
            seen[o[i]] = 1;
        }
    }
    nl_batcher_free(&b);

    /* a batch larger than the split with drop_last has no batch: an error */
    err = (nl_error){0};
    ck_assert_int_ne(nl_batcher_init(&b, &s, 200, true, true, 1, &err), NL_OK);
    ck_assert(strstr(err.msg, "103") != NULL);
    err = (nl_error){0};
    ck_assert_int_ne(nl_batcher_init(&b, &s, 0, true, true, 1, &err), NL_OK);
    free(s.x);
    free(s.y);
}
END_TEST

START_TEST(test_batcher_eval)
{
    nl_split s = counting_split(23, 1, 1, 1);
    nl_batcher b;
    nl_error err = {0};
    ck_assert_int_eq(nl_batcher_init(&b, &s, 5, false, false, 7, &err), NL_OK);
    ck_assert_int_eq(nl_batcher_batches(&b), 5);
    for (int e = 0; e < 3; e++) {
        long o[23];
        int last = 0;
        ck_assert_int_eq(run_epoch(&b, o, 23, &last), 5);
        ck_assert_int_eq(last, 3);
        for (long i = 0; i < 23; i++)
            ck_assert_int_eq(o[i], i);
    }
    nl_batcher_free(&b);

    /* a batch larger than the split: one short batch */
    ck_assert_int_eq(nl_batcher_init(&b, &s, 64, false, false, 7, &err), NL_OK);
    ck_assert_int_eq(nl_batcher_batches(&b), 1);
    const float *x;
    const int32_t *y;
    ck_assert_int_eq(nl_batcher_next(&b, &x, &y), 23);
    ck_assert_int_eq(nl_batcher_next(&b, &x, &y), 0);
    ck_assert_int_eq(nl_batcher_next(&b, &x, &y), 23);
    nl_batcher_free(&b);

    /* exact multiple: no empty batch */
    s.n = 20;
    ck_assert_int_eq(nl_batcher_init(&b, &s, 5, false, true, 7, &err), NL_OK);
    ck_assert_int_eq(nl_batcher_batches(&b), 4);
    long o[23];
    int last;
    ck_assert_int_eq(run_epoch(&b, o, 23, &last), 4);
    ck_assert_int_eq(last, 5);
    nl_batcher_free(&b);
    s.n = 23;
    free(s.x);
    free(s.y);
}
END_TEST

/* ---- the installed Fashion-MNIST (CI machines install the package) ---- */

START_TEST(test_fashion_mnist_installed)
{
    nl_data_spec s;
    nl_data_spec_defaults(&s);
    s.kind = NL_DATA_FASHION_MNIST;
    s.train_size = 1000;
    s.test_size = 500;
    nl_dataset ds = load_ok(&s);
    ck_assert_int_eq(ds.classes, 10);
    ck_assert_int_eq(ds.train.n, 1000);
    ck_assert_int_eq(ds.test.n, 500);
    ck_assert(ds.train.c == 1 && ds.train.h == 28 && ds.train.w == 28);
    int seen[10] = {0};
    for (long i = 0; i < ds.train.n; i++) {
        ck_assert(ds.train.y[i] >= 0 && ds.train.y[i] < 10);
        seen[ds.train.y[i]] = 1;
    }
    for (int k = 0; k < 10; k++)
        ck_assert(seen[k]);
    for (long i = 0; i < ds.test.n; i++)
        ck_assert(ds.test.y[i] >= 0 && ds.test.y[i] < 10);
    /* Fashion-MNIST's pixel mean is about 0.286, its std about 0.353 */
    ck_assert_msg(ds.mean[0] > 0.2f && ds.mean[0] < 0.4f, "mean %g", ds.mean[0]);
    ck_assert_msg(ds.std[0] > 0.25f && ds.std[0] < 0.45f, "std %g", ds.std[0]);
    ck_assert_msg(strstr(ds.description, FASHION_DIR) && strstr(ds.description, "1000 train"),
                  "%s", ds.description);
    nl_dataset_free(&ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_synthetic_deterministic);
    tcase_add_test(tc, test_synthetic_fingerprint);
    tcase_add_test(tc, test_synthetic_shapes_and_range);
    tcase_add_test(tc, test_synthetic_subset_is_prefix);
    tcase_add_test(tc, test_synthetic_learnable);
    tcase_add_test(tc, test_synthetic_features);
    tcase_add_test(tc, test_synthetic_bad_spec);
    tcase_add_test(tc, test_standardize);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_test(tc, test_idx_plain_and_gzip);
    tcase_add_test(tc, test_idx_prefers_gzip);
    tcase_add_test(tc, test_idx_corrupt);
    tcase_add_test(tc, test_idx_bad_gzip);
    tcase_add_test(tc, test_idx_missing);
    tcase_add_test(tc, test_idx_integrity);
    tcase_add_test(tc, test_idx_gzip_stream_end);
    tcase_add_test(tc, test_data_path_is_a_file);
    tcase_add_test(tc, test_cifar);
    tcase_add_test(tc, test_cifar_corrupt);
    suite_add_tcase(s, tc);

    tc = tcase_create("registry");
    tcase_add_test(tc, test_registry_rows_complete);
    tcase_add_test(tc, test_registry_readers_match_rows);
    suite_add_tcase(s, tc);

    tc = tcase_create("batcher");
    tcase_add_test(tc, test_batcher_train);
    tcase_add_test(tc, test_batcher_eval);
    suite_add_tcase(s, tc);

    struct stat st;
    if (stat(FASHION_DIR, &st) == 0 && S_ISDIR(st.st_mode)) {
        tc = tcase_create("fashion-mnist");
        tcase_add_test(tc, test_fashion_mnist_installed);
        suite_add_tcase(s, tc);
    } else {
        printf("skipping the fashion-mnist case: %s is absent "
               "(apt-get install dataset-fashion-mnist)\n", FASHION_DIR);
    }
    return tu_run_suite(s);
}
