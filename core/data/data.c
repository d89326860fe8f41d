/* Dataset loading front end (defaults, subsets, standardization, the
 * description) and the batcher. The readers, each beside its dataset's row
 * (data/registry.h), live in synthetic.c, idx.c and cifar.c. */
#include "data/data.h"

/* the same bytes from every compiler and flag set: no fused multiply-adds
 * (the build's -std=c11 already implies this for gcc; this holds it when a
 * file is built some other way) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_internal.h"
#include "data/shift.h"
#include "data/tokens.h"

void nl_data_spec_defaults(nl_data_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->kind = NL_DATA_SYNTHETIC;
    spec->path[0] = '\0';
    spec->train_size = 0;
    spec->test_size = 0;
    spec->seed = 1;
    spec->standardize = true;
    spec->synthetic_c = 1;
    spec->synthetic_h = 28;
    spec->synthetic_w = 28;
    spec->synthetic_classes = 10;
    spec->synthetic_train = 10000;
    spec->synthetic_test = 2000;
    spec->vocab = NL_VOCAB_BYTES;
    spec->valid_fraction = 0.1f;
    spec->markov_vocab = 16;
    spec->markov_order = 2;
    spec->markov_branching = 2;
    spec->markov_length = 100000;
    spec->shift_contrast = 1.0f;
    spec->shift_brightness = 1.0f;
}

bool nl_data_from_seed(nl_dataset_kind kind)
{
    const nl_dataset_info *row = nl_dataset_info_of(kind);
    return row && row->from_seed;
}

const char *nl_data_default_path(nl_dataset_kind kind)
{
    const nl_dataset_info *row = nl_dataset_info_of(kind);
    return row ? row->default_path : "";
}

const char *nl_data_default_path_doc(nl_dataset_kind kind)
{
    const nl_dataset_info *row = nl_dataset_info_of(kind);
    return row && row->default_path_doc ? row->default_path_doc : nl_data_default_path(kind);
}

/* ---- loading ---- */

static nl_code check_spec(const nl_data_spec *spec, nl_error *err)
{
    if ((int)spec->kind < 0 || spec->kind >= NL_DATA_COUNT)
        return nl_fail(err, NL_ERR_CONFIG, "unknown dataset kind %d", (int)spec->kind);
    if (nl_dataset_kind_is_tokens(spec->kind)) {
        nl_fail(err, NL_ERR_CONFIG, "data.dataset %s yields tokens, for a language model; this "
                "model takes images or feature vectors",
                nl_name_of(&nl_dataset_names, (int)spec->kind));
        nl_error_key(err, "data.dataset");
        return NL_ERR_CONFIG;
    }
    if (spec->train_size < 0) {
        nl_fail(err, NL_ERR_CONFIG, "data.train_size must be >= 0 (0 = all), got %ld",
                spec->train_size);
        nl_error_key(err, "data.train_size");
        return NL_ERR_CONFIG;
    }
    if (spec->test_size < 0) {
        nl_fail(err, NL_ERR_CONFIG, "data.test_size must be >= 0 (0 = all), got %ld",
                spec->test_size);
        nl_error_key(err, "data.test_size");
        return NL_ERR_CONFIG;
    }
    return NL_OK;
}

/* per-channel mean and std of the training split (population std, in
 * double, summed in a fixed order so the result never depends on threads) */
static void channel_stats(const nl_split *s, int ch, double *mean, double *std)
{
    size_t hw = (size_t)s->h * (size_t)s->w, chw = hw * (size_t)s->c;
    double sum = 0.0;
    for (long i = 0; i < s->n; i++) {
        const float *p = s->x + (size_t)i * chw + (size_t)ch * hw;
        double part = 0.0;
        for (size_t k = 0; k < hw; k++)
            part += p[k];
        sum += part;
    }
    double count = (double)s->n * (double)hw;
    double m = count > 0 ? sum / count : 0.0;
    double ss = 0.0;
    for (long i = 0; i < s->n; i++) {
        const float *p = s->x + (size_t)i * chw + (size_t)ch * hw;
        double part = 0.0;
        for (size_t k = 0; k < hw; k++) {
            double d = (double)p[k] - m;
            part += d * d;
        }
        ss += part;
    }
    *mean = m;
    *std = count > 0 ? sqrt(ss / count) : 1.0;
}

static void apply_standardize(nl_split *s, int ch, double mean, double std)
{
    size_t hw = (size_t)s->h * (size_t)s->w, chw = hw * (size_t)s->c;
    double inv = 1.0 / std;
    for (long i = 0; i < s->n; i++) {
        float *p = s->x + (size_t)i * chw + (size_t)ch * hw;
        for (size_t k = 0; k < hw; k++)
            p[k] = (float)(((double)p[k] - mean) * inv);
    }
}

/* The per-channel statistics of the training split as read, before any
 * data shift: a shift then moves the standardized inputs the way it moves
 * the pixels (an offset stays an offset) instead of being normalized away.
 * stats holds 2 * c doubles: means, then stds. */
static nl_code standardize_stats(const nl_dataset *ds, double **stats, nl_error *err)
{
    int c = ds->train.c;
    *stats = malloc((size_t)(c > 0 ? c : 1) * 2 * sizeof **stats);
    if (!*stats)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the statistics of %d channels", c);
    for (int ch = 0; ch < c; ch++) {
        double mean, std;
        channel_stats(&ds->train, ch, &mean, &std);
        /* a constant channel would divide by zero: leave its scale alone */
        if (!(std > 1e-12))
            std = 1.0;
        (*stats)[ch] = mean;
        (*stats)[c + ch] = std;
    }
    return NL_OK;
}

static void standardize(nl_dataset *ds, const double *stats)
{
    int c = ds->train.c;
    for (int ch = 0; ch < c; ch++) {
        double mean = stats[ch], std = stats[c + ch];
        if (ch < NL_DATA_MAX_STATS) {
            ds->mean[ch] = (float)mean;
            ds->std[ch] = (float)std;
        }
        apply_standardize(&ds->train, ch, mean, std);
        apply_standardize(&ds->test, ch, mean, std);
    }
}

/* where the files are: the spec's path, or the dataset's default; for the
 * file datasets, the error that says how to get them when there is none */
static nl_code data_dir(const nl_data_spec *spec, const char **dir, nl_error *err)
{
    const nl_dataset_info *row = nl_dataset_info_of(spec->kind);
    *dir = spec->path[0] ? spec->path : row->default_path;
    if (row->from_seed || (*dir)[0])
        return NL_OK;
    nl_fail(err, NL_ERR_DATA,
            "dataset %s has no default location: set data.path to the directory that holds %s",
            row->id.name, row->files);
    nl_error_key(err, "data.path");
    return NL_ERR_DATA;
}

nl_code nl_dataset_load(const nl_data_spec *spec, nl_dataset *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    nl_code rc = check_spec(spec, err);
    if (rc != NL_OK)
        return rc;
    const nl_dataset_info *row = nl_dataset_info_of(spec->kind);

    const char *dir;
    if ((rc = data_dir(spec, &dir, err)) != NL_OK)
        return rc;
    char shown_dir[1024];
    snprintf(shown_dir, sizeof shown_dir, "%s", dir);

    const nl_data_request req = {dir, spec->train_size, spec->test_size, false};
    rc = row->read(row, spec, &req, out, shown_dir, sizeof shown_dir, err);
    if (rc != NL_OK) {
        nl_dataset_free(out);
        return rc;
    }

    for (int ch = 0; ch < NL_DATA_MAX_STATS; ch++) {
        out->mean[ch] = 0.0f;
        out->std[ch] = 1.0f;
    }
    double *stats = NULL;
    if (spec->standardize)
        rc = standardize_stats(out, &stats, err);
    if (rc == NL_OK)
        rc = nl_data_shift_apply(spec, out, err);
    if (rc != NL_OK) {
        free(stats);
        nl_dataset_free(out);
        return rc;
    }
    if (spec->standardize)
        standardize(out, stats);
    free(stats);

    const nl_split *tr = &out->train;
    /* generated data is named by its seed, read data by where it was read */
    if (row->from_seed)
        snprintf(out->description, sizeof out->description,
                 "%s (seed %llu): %ld train, %ld test, %dx%dx%d, %d classes", row->id.name,
                 (unsigned long long)spec->seed, tr->n, out->test.n, tr->c, tr->h, tr->w,
                 out->classes);
    else
        snprintf(out->description, sizeof out->description,
                 "%s (%.400s): %ld train, %ld test, %dx%dx%d, %d classes", row->id.name,
                 shown_dir, tr->n, out->test.n, tr->c, tr->h, tr->w, out->classes);
    if (nl_data_shift_any(spec)) {
        const size_t used = strlen(out->description);
        snprintf(out->description + used, sizeof out->description - used, ", shifted (data.shift, "
                 "data.classes_subset, data.per_class)");
    }
    return NL_OK;
}

static nl_code probe_files(const nl_data_spec *spec, nl_dataset_shape *out, nl_error *err)
{
    const char *dir;
    nl_code rc = check_spec(spec, err);
    if (rc == NL_OK)
        rc = data_dir(spec, &dir, err);
    if (rc != NL_OK)
        return rc;
    const nl_dataset_info *row = nl_dataset_info_of(spec->kind);
    const nl_data_request req = {dir, spec->train_size, spec->test_size, false};
    return row->probe(row, spec, &req, out, err);
}

nl_code nl_dataset_probe(const nl_data_spec *spec, nl_dataset_shape *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    nl_code rc = probe_files(spec, out, err);
    if (rc == NL_OK)
        rc = nl_data_shift_check(spec, out->classes, err);
    if (rc != NL_OK || (spec->n_classes_subset == 0 && spec->per_class == 0))
        return rc;
    /* how many samples a class subset keeps is in the labels: a reader
     * that can read them alone does (a grid's plan probes once a run), the
     * others load the dataset */
    const nl_dataset_info *row = nl_dataset_info_of(spec->kind);
    nl_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (!row->labels_alone) {
        rc = nl_dataset_load(spec, &ds, err);
    } else {
        const char *dir;
        if ((rc = data_dir(spec, &dir, err)) == NL_OK) {
            const nl_data_request req = {dir, spec->train_size, spec->test_size, true};
            char dir_used[1024];
            snprintf(dir_used, sizeof dir_used, "%s", dir);
            rc = row->read(row, spec, &req, &ds, dir_used, sizeof dir_used, err);
        }
        if (rc == NL_OK)
            rc = nl_data_subset_apply(spec, &ds, err);
    }
    if (rc != NL_OK) {
        nl_dataset_free(&ds);
        return rc;
    }
    out->train_n = ds.train.n;
    out->test_n = ds.test.n;
    out->classes = ds.classes;
    nl_dataset_free(&ds);
    return NL_OK;
}

double nl_dataset_bytes(const nl_dataset_shape *shape)
{
    /* float pixels and int32 labels, as nl_split_alloc takes them */
    const double per = (double)shape->c * shape->h * shape->w * sizeof(float) + sizeof(int32_t);
    return ((double)shape->train_n + (double)shape->test_n) * per;
}

void nl_dataset_free(nl_dataset *ds)
{
    if (!ds)
        return;
    nl_split_free(&ds->train);
    nl_split_free(&ds->test);
}

/* ---- batcher ---- */

static void batcher_begin_epoch(nl_batcher *b)
{
    b->pos = 0;
    int32_t n = (int32_t)b->split->n;
    /* every epoch starts from the identity, so its order is a function of
     * the shuffle stream alone */
    for (int32_t i = 0; i < n; i++)
        b->order[i] = i;
    if (b->shuffle)
        nl_rng_shuffle(&b->rng, b->order, n);
}

nl_code nl_batcher_init(nl_batcher *b, const nl_split *split, int batch, bool shuffle,
                        bool drop_last, uint64_t seed, nl_error *err)
{
    memset(b, 0, sizeof *b);
    if (batch < 1)
        return nl_fail(err, NL_ERR_CONFIG, "the batch size must be at least 1, got %d", batch);
    if (split->n > INT32_MAX)
        return nl_fail(err, NL_ERR_DATA, "a split of %ld samples is too large for the batcher",
                       split->n);
    if (drop_last && split->n < batch)
        return nl_fail(err, NL_ERR_CONFIG,
                       "the split has %ld samples, fewer than one batch of %d: an epoch would "
                       "have no batch",
                       split->n, batch);
    b->split = split;
    b->batch = batch;
    b->shuffle = shuffle;
    b->drop_last = drop_last;
    b->epoch = 0;
    nl_rng_seed(&b->rng, seed, NL_STREAM_SHUFFLE);
    size_t chw = (size_t)split->c * (size_t)split->h * (size_t)split->w;
    b->order = malloc((split->n ? (size_t)split->n : 1) * sizeof(int32_t));
    b->x = malloc((size_t)batch * (chw ? chw : 1) * sizeof(float));
    b->y = malloc((size_t)batch * sizeof(int32_t));
    if (!b->order || !b->x || !b->y) {
        nl_batcher_free(b);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for a batcher of %d x %zu floats", batch,
                       chw);
    }
    batcher_begin_epoch(b);
    return NL_OK;
}

int nl_batcher_next_index(nl_batcher *b, const int32_t **index)
{
    long n = b->split->n;
    long left = n - b->pos;
    if (left <= 0 || (b->drop_last && left < b->batch)) {
        b->epoch++;
        batcher_begin_epoch(b);
        return 0;
    }
    int k = left < b->batch ? (int)left : b->batch;
    *index = b->order + b->pos;
    b->pos += k;
    return k;
}

int nl_batcher_next(nl_batcher *b, const float **x, const int32_t **y)
{
    const int32_t *idx;
    const int k = nl_batcher_next_index(b, &idx);
    if (k == 0)
        return 0;
    size_t chw = (size_t)b->split->c * (size_t)b->split->h * (size_t)b->split->w;
    for (int i = 0; i < k; i++) {
        memcpy(b->x + (size_t)i * chw, b->split->x + (size_t)idx[i] * chw, chw * sizeof(float));
        b->y[i] = b->split->y[idx[i]];
    }
    if (x)
        *x = b->x;
    if (y)
        *y = b->y;
    return k;
}

nl_code nl_batcher_seek(nl_batcher *b, long epoch, long pos, const nl_rng *rng,
                        const int32_t *order, long n, nl_error *err)
{
    if (n != b->split->n || pos < 0 || pos > n || epoch < 0)
        return nl_fail(err, NL_ERR_DATA, "the data position (epoch %ld, sample %ld of %ld) does "
                       "not fit a split of %ld samples", epoch, pos, n, b->split->n);
    for (long i = 0; i < n; i++)
        if (order[i] < 0 || order[i] >= n)
            return nl_fail(err, NL_ERR_DATA, "the data order names sample %ld of %ld",
                           (long)order[i], n);
    memcpy(b->order, order, (size_t)n * sizeof *order);
    b->epoch = epoch;
    b->pos = pos;
    b->rng = *rng;
    return NL_OK;
}

long nl_batcher_batches(const nl_batcher *b)
{
    long n = b->split->n;
    return b->drop_last ? n / b->batch : (n + b->batch - 1) / b->batch;
}

void nl_batcher_free(nl_batcher *b)
{
    if (!b)
        return;
    free(b->order);
    free(b->x);
    free(b->y);
    b->order = NULL;
    b->x = NULL;
    b->y = NULL;
}
