// data shifts (core/data/shift.c): each pixel transform against a direct
// computation on the unshifted synthetic data, the class subset and the
// few-shot subset against the labels, determinism, and the refusals
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "data/data.h"
#include "data/share.h"
#include "data/shift.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static void spec_small(nl_data_spec *s, uint64_t seed)
{
    nl_data_spec_defaults(s);
    s->seed = seed;
    s->synthetic_c = 2;
    s->synthetic_h = s->synthetic_w = 5;
    s->synthetic_classes = 5;
    s->synthetic_train = 300;
    s->synthetic_test = 120;
    s->standardize = false;
}

static nl_dataset load_ok(const nl_data_spec *s)
{
    nl_dataset ds;
    nl_error err = {0};
    nl_code rc = nl_dataset_load(s, &ds, &err);
    ck_assert_msg(rc == NL_OK, "load failed: %s", err.msg);
    return ds;
}

static size_t chw_of(const nl_split *s) { return (size_t)s->c * s->h * s->w; }

/* the pixel transforms, computed here in double from the raw pixels */
static double expected_pixel(const nl_data_spec *s, const float *image, size_t chw, size_t k)
{
    double mean = 0;
    for (size_t j = 0; j < chw; j++)
        mean += s->shift_invert ? 1.0 - image[j] : image[j];
    mean /= (double)chw;
    double v = s->shift_invert ? 1.0 - image[k] : image[k];
    v = mean + s->shift_contrast * (v - mean);
    return v * s->shift_brightness + s->shift_offset;
}

static void check_pixels(const nl_data_spec *s, const nl_split *raw, const nl_split *got)
{
    const size_t chw = chw_of(raw);
    ck_assert_int_eq(raw->n, got->n);
    for (long i = 0; i < raw->n; i++) {
        ck_assert_int_eq(raw->y[i], got->y[i]);
        for (size_t k = 0; k < chw; k++) {
            double want = expected_pixel(s, raw->x + (size_t)i * chw, chw, k);
            double have = got->x[(size_t)i * chw + k];
            ck_assert_msg(fabs(have - want) <= 1e-5 * (1 + fabs(want)),
                          "sample %ld pixel %zu: %.8g, expected %.8g", i, k, have, want);
        }
    }
}

START_TEST(test_pixel_transforms)
{
    nl_data_spec s;
    spec_small(&s, 3);
    nl_dataset raw = load_ok(&s);
    /* each transform alone, then all together */
    for (int which = 0; which < 5; which++) {
        spec_small(&s, 3);
        s.shift_invert = which == 0 || which == 4;
        s.shift_contrast = which == 1 || which == 4 ? 0.4f : 1.0f;
        s.shift_brightness = which == 2 || which == 4 ? 1.7f : 1.0f;
        s.shift_offset = which == 3 || which == 4 ? -0.25f : 0.0f;
        nl_dataset ds = load_ok(&s);
        check_pixels(&s, &raw.train, &ds.train);
        check_pixels(&s, &raw.test, &ds.test);
        ck_assert_int_eq(ds.classes, raw.classes);
        nl_dataset_free(&ds);
    }
    nl_dataset_free(&raw);
}
END_TEST

/* standardization keeps the unshifted training statistics, so an offset
 * reaches the model as an offset */
START_TEST(test_standardize_uses_unshifted_stats)
{
    nl_data_spec s;
    spec_small(&s, 4);
    nl_dataset raw = load_ok(&s);
    s.standardize = true;
    nl_dataset plain = load_ok(&s);
    s.shift_offset = 0.5f;
    nl_dataset ds = load_ok(&s);
    const size_t chw = chw_of(&raw.train), hw = chw / 2;
    for (int ch = 0; ch < 2; ch++) {
        ck_assert_float_eq(ds.mean[ch], plain.mean[ch]);
        ck_assert_float_eq(ds.std[ch], plain.std[ch]);
    }
    for (long i = 0; i < raw.test.n; i++)
        for (size_t k = 0; k < chw; k++) {
            const int ch = (int)(k / hw);
            double want = ((double)raw.test.x[(size_t)i * chw + k] + 0.5 - ds.mean[ch]) /
                          ds.std[ch];
            ck_assert_msg(fabs(ds.test.x[(size_t)i * chw + k] - want) < 1e-4,
                          "sample %ld pixel %zu", i, k);
        }
    nl_dataset_free(&raw);
    nl_dataset_free(&plain);
    nl_dataset_free(&ds);
}
END_TEST

START_TEST(test_noise)
{
    nl_data_spec s;
    spec_small(&s, 5);
    nl_dataset raw = load_ok(&s);
    s.shift_noise_std = 0.2f;
    nl_dataset a = load_ok(&s), b = load_ok(&s);
    const size_t chw = chw_of(&raw.train);
    const size_t n = (size_t)raw.train.n * chw;
    /* the same bytes in two loads of one seed */
    ck_assert(memcmp(a.train.x, b.train.x, n * sizeof(float)) == 0);
    ck_assert(memcmp(a.test.x, b.test.x, (size_t)raw.test.n * chw * sizeof(float)) == 0);
    double sum = 0, sq = 0;
    for (size_t k = 0; k < n; k++) {
        double d = (double)a.train.x[k] - raw.train.x[k];
        sum += d;
        sq += d * d;
    }
    double mean = sum / (double)n, std = sqrt(sq / (double)n - mean * mean);
    ck_assert_msg(fabs(mean) < 0.02, "noise mean %g", mean);
    ck_assert_msg(fabs(std - 0.2) < 0.01, "noise std %g", std);
    /* the test split's noise is its own, whatever the training subset */
    s.train_size = 100;
    nl_dataset c = load_ok(&s);
    ck_assert(memcmp(a.test.x, c.test.x, (size_t)raw.test.n * chw * sizeof(float)) == 0);
    /* another seed draws other noise (the synthetic data changes too: compare the noise) */
    spec_small(&s, 6);
    nl_dataset raw6 = load_ok(&s);
    s.shift_noise_std = 0.2f;
    nl_dataset d = load_ok(&s);
    ck_assert((double)d.train.x[0] - raw6.train.x[0] != (double)a.train.x[0] - raw.train.x[0]);
    nl_dataset_free(&raw);
    nl_dataset_free(&raw6);
    nl_dataset_free(&a);
    nl_dataset_free(&b);
    nl_dataset_free(&c);
    nl_dataset_free(&d);
}
END_TEST

/* the samples of `raw` whose label is in the subset, in order, relabelled */
static void check_subset(const nl_split *raw, const nl_split *got, const int *subset, int k)
{
    const size_t chw = chw_of(raw);
    long j = 0;
    for (long i = 0; i < raw->n; i++) {
        int label = -1;
        for (int m = 0; m < k; m++)
            if (subset[m] == raw->y[i])
                label = m;
        if (label < 0)
            continue;
        ck_assert_msg(j < got->n, "too few samples kept");
        ck_assert_int_eq(got->y[j], label);
        ck_assert(memcmp(got->x + (size_t)j * chw, raw->x + (size_t)i * chw,
                         chw * sizeof(float)) == 0);
        j++;
    }
    ck_assert_int_eq(j, got->n);
}

START_TEST(test_classes_subset)
{
    nl_data_spec s;
    spec_small(&s, 7);
    nl_dataset raw = load_ok(&s);
    const int subset[] = {3, 1};
    memcpy(s.classes_subset, subset, sizeof subset);
    s.n_classes_subset = 2;
    nl_dataset ds = load_ok(&s);
    ck_assert_int_eq(ds.classes, 2);
    check_subset(&raw.train, &ds.train, subset, 2);
    check_subset(&raw.test, &ds.test, subset, 2);
    /* the probe reports what the load keeps */
    nl_dataset_shape shape;
    nl_error err = {0};
    ck_assert_int_eq(nl_dataset_probe(&s, &shape, &err), NL_OK);
    ck_assert_int_eq(shape.train_n, ds.train.n);
    ck_assert_int_eq(shape.test_n, ds.test.n);
    ck_assert_int_eq(shape.classes, 2);
    nl_dataset_free(&raw);
    nl_dataset_free(&ds);
}
END_TEST

START_TEST(test_per_class)
{
    nl_data_spec s;
    spec_small(&s, 8);
    nl_dataset raw = load_ok(&s);
    const int subset[] = {4, 0, 2};
    memcpy(s.classes_subset, subset, sizeof subset);
    s.n_classes_subset = 3;
    nl_dataset whole = load_ok(&s);
    s.per_class = 7;
    nl_dataset a = load_ok(&s), b = load_ok(&s);
    const size_t chw = chw_of(&raw.train);
    ck_assert_int_eq(a.train.n, 21);
    ck_assert_int_eq(a.classes, 3);
    long count[3] = {0};
    for (long i = 0; i < a.train.n; i++) {
        ck_assert(a.train.y[i] >= 0 && a.train.y[i] < 3);
        count[a.train.y[i]]++;
        /* each kept sample is one of the class subset's, with its label */
        bool found = false;
        for (long j = 0; j < whole.train.n && !found; j++)
            found = whole.train.y[j] == a.train.y[i] &&
                    !memcmp(whole.train.x + (size_t)j * chw, a.train.x + (size_t)i * chw,
                            chw * sizeof(float));
        ck_assert_msg(found, "sample %ld is not in the class subset", i);
    }
    for (int c = 0; c < 3; c++)
        ck_assert_int_eq(count[c], 7);
    /* deterministic; the test split stays whole */
    ck_assert(memcmp(a.train.x, b.train.x, (size_t)a.train.n * chw * sizeof(float)) == 0);
    ck_assert(memcmp(a.train.y, b.train.y, (size_t)a.train.n * sizeof(int32_t)) == 0);
    ck_assert_int_eq(a.test.n, whole.test.n);
    /* not simply the first samples of each class */
    bool prefix = true;
    for (long i = 0; i < 7 && prefix; i++)
        prefix = !memcmp(a.train.x + (size_t)i * chw, whole.train.x + (size_t)i * chw,
                         chw * sizeof(float));
    ck_assert_msg(!prefix, "the few-shot samples are the first ones of the split");
    /* without a class subset: per_class of every class */
    s.n_classes_subset = 0;
    nl_dataset all = load_ok(&s);
    ck_assert_int_eq(all.train.n, 35);
    ck_assert_int_eq(all.classes, 5);
    nl_dataset_free(&raw);
    nl_dataset_free(&whole);
    nl_dataset_free(&a);
    nl_dataset_free(&b);
    nl_dataset_free(&all);
}
END_TEST

/* An MNIST-style set's probe counts a class subset from the labels alone:
 * the sizes the load keeps, and the load's refusal of a per_class larger
 * than a kept class, for every combination of sizes, subsets and shifts */
START_TEST(test_idx_probe_counts_the_subset)
{
    tu_tmp_make("shift-idx");
    tu_tmp_write_idx("set", 53, 21, 53, -1); /* label i % 10: classes of 6 or 5 samples */
    nl_data_spec s;
    nl_data_spec_defaults(&s);
    s.kind = NL_DATA_MNIST;
    snprintf(s.path, sizeof s.path, "%s/set", tu_tmp);
    const int subset[] = {3, 9, 0};
    const long train_sizes[] = {0, 30}, per_class[] = {0, 2, 3, 5, 6};
    int refusals = 0;
    for (int n_sub = 0; n_sub <= 3; n_sub += 3)
        for (int t = 0; t < 2; t++)
            for (int p = 0; p < 5; p++) {
                memcpy(s.classes_subset, subset, sizeof subset);
                s.n_classes_subset = n_sub;
                s.train_size = train_sizes[t];
                s.per_class = per_class[p];
                s.shift_invert = p % 2 == 1;
                s.shift_noise_std = p == 4 ? 0.1f : 0.0f;
                nl_dataset ds;
                nl_dataset_shape shape;
                nl_error load_err = {0}, probe_err = {0};
                const nl_code load_rc = nl_dataset_load(&s, &ds, &load_err);
                const nl_code probe_rc = nl_dataset_probe(&s, &shape, &probe_err);
                ck_assert_int_eq(probe_rc, load_rc);
                if (load_rc != NL_OK) {
                    ck_assert_str_eq(probe_err.msg, load_err.msg);
                    refusals++;
                    continue;
                }
                ck_assert_int_eq(shape.train_n, ds.train.n);
                ck_assert_int_eq(shape.test_n, ds.test.n);
                ck_assert_int_eq(shape.classes, ds.classes);
                ck_assert_int_eq(shape.c * shape.h * shape.w, 28 * 28);
                nl_dataset_free(&ds);
            }
    /* per_class 6 of the whole set (classes 3 to 9 hold 5) and 5 and 6 of
     * its first 30 samples (3 a class) exceed a class, with the subset and
     * without */
    ck_assert_int_eq(refusals, 6);
    tu_tmp_remove();
}
END_TEST

static void expect_error(const nl_data_spec *s, const char *key, const char *text)
{
    nl_dataset ds;
    nl_error err = {0};
    nl_code rc = nl_dataset_load(s, &ds, &err);
    ck_assert_msg(rc == NL_ERR_CONFIG, "expected a config error, got %d (%s)", rc, err.msg);
    ck_assert_msg(!strcmp(err.key, key), "key %s, expected %s", err.key, key);
    ck_assert_msg(strstr(err.msg, text), "message: %s", err.msg);
    nl_dataset_free(&ds);
    nl_dataset_shape shape;
    nl_error perr = {0};
    ck_assert_int_eq(nl_dataset_probe(s, &shape, &perr), NL_ERR_CONFIG);
    ck_assert_str_eq(perr.key, key);
}

START_TEST(test_errors)
{
    nl_data_spec s;
    spec_small(&s, 9);
    s.classes_subset[0] = 1;
    s.classes_subset[1] = 5;
    s.n_classes_subset = 2;
    expect_error(&s, "data.classes_subset", "class ids 0 to 4");
    s.classes_subset[1] = 1;
    expect_error(&s, "data.classes_subset", "repeats");
    s.n_classes_subset = 1;
    s.per_class = 100000;
    expect_error(&s, "data.per_class", "training samples of class 1");

    /* token datasets: refused by the data module and by the config */
    nl_data_spec t;
    nl_data_spec_defaults(&t);
    t.kind = NL_DATA_SYNTHETIC_TEXT;
    t.shift_invert = true;
    nl_error err = {0};
    ck_assert_int_eq(nl_data_shift_check(&t, 0, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "tokens"), "%s", err.msg);
    nl_config cfg;
    nl_error cerr = {0};
    const char *yaml = "data:\n  dataset: synthetic_text\n  shift:\n    noise_std: 0.1\n";
    ck_assert_int_eq(nl_config_load_string(yaml, "shift.yaml", NULL, 0, &cfg, &cerr),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(cerr.msg, "data.shift.noise_std") && strstr(cerr.msg, "applies only"),
                  "%s", cerr.msg);
}
END_TEST

/* the keys reach the spec through the config, with their defaults doing nothing */
START_TEST(test_config_keys)
{
    nl_config cfg;
    nl_error err = {0};
    nl_config_defaults(&cfg);
    ck_assert(!nl_data_shift_any(&cfg.data));
    const char *yaml = "data:\n  shift:\n    invert: true\n    contrast: 0.5\n"
                       "    brightness: 2\n    offset: 0.1\n    noise_std: 0.05\n"
                       "  classes_subset: [5, 6, 7]\n  per_class: 10\n";
    ck_assert_msg(nl_config_load_string(yaml, "shift.yaml", NULL, 0, &cfg, &err) == NL_OK, "%s",
                  err.msg);
    ck_assert(cfg.data.shift_invert);
    ck_assert_float_eq(cfg.data.shift_contrast, 0.5f);
    ck_assert_float_eq(cfg.data.shift_brightness, 2.0f);
    ck_assert_float_eq(cfg.data.shift_offset, 0.1f);
    ck_assert_float_eq(cfg.data.shift_noise_std, 0.05f);
    ck_assert_int_eq(cfg.data.n_classes_subset, 3);
    ck_assert_int_eq(cfg.data.classes_subset[2], 7);
    ck_assert_int_eq(cfg.data.per_class, 10);
    /* the model's head has one output per kept class */
    ck_assert_int_eq(cfg.model.classes, 3);
    const char *bad = "data:\n  shift:\n    noise_std: -1\n";
    ck_assert_int_eq(nl_config_load_string(bad, "bad.yaml", NULL, 0, &cfg, &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "bad.yaml:3"), "%s", err.msg);
}
END_TEST

/* data read from files is shared across seeds, but not once a shift draws
 * from the seed: each seed gets its own noise, as a load of its own would */
START_TEST(test_share_keeps_seeded_shifts_apart)
{
    nl_data_spec s;
    nl_data_spec_defaults(&s);
    s.kind = NL_DATA_FASHION_MNIST;
    s.train_size = 200;
    s.test_size = 50;
    s.shift_noise_std = 0.1f;
    s.per_class = 5;
    nl_data_share *share;
    nl_error err = {0};
    ck_assert_int_eq(nl_data_share_new(&share, &err), NL_OK);
    const nl_dataset *shared[2];
    for (int i = 0; i < 2; i++) {
        s.seed = 11 + (uint64_t)i;
        ck_assert_msg(nl_data_share_images(share, &s, &shared[i], &err) == NL_OK, "%s", err.msg);
        nl_dataset own = load_ok(&s);
        const size_t n = (size_t)own.train.n * chw_of(&own.train);
        ck_assert_int_eq(shared[i]->train.n, own.train.n);
        ck_assert(memcmp(shared[i]->train.x, own.train.x, n * sizeof(float)) == 0);
        nl_dataset_free(&own);
    }
    ck_assert_int_eq(nl_data_share_loads(share), 2);
    nl_data_share_release(share, shared[0]);
    nl_data_share_release(share, shared[1]);
    nl_data_share_free(share);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_shift");
    TCase *tc = tcase_create("shift");
    tcase_add_test(tc, test_pixel_transforms);
    tcase_add_test(tc, test_standardize_uses_unshifted_stats);
    tcase_add_test(tc, test_noise);
    tcase_add_test(tc, test_classes_subset);
    tcase_add_test(tc, test_per_class);
    tcase_add_test(tc, test_idx_probe_counts_the_subset);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_config_keys);
    suite_add_tcase(s, tc);
    struct stat st;
    if (stat(FASHION_DIR, &st) == 0 && S_ISDIR(st.st_mode)) {
        tc = tcase_create("fashion-mnist");
        tcase_add_test(tc, test_share_keeps_seeded_shifts_apart);
        suite_add_tcase(s, tc);
    } else {
        printf("skipping the fashion-mnist case: %s is absent "
               "(apt-get install dataset-fashion-mnist)\n", FASHION_DIR);
    }
    return tu_run_suite(s);
}
