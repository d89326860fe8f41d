/* The datasets a sweep's runs share when they run as threads of one
 * process (core/data/share.h): runs whose configs name the same data get
 * one copy, loaded once even when they ask at the same moment, equal to
 * what loading alone gives; other data gets its own; a copy nobody holds
 * goes when other data is loaded; a failed load is reported and not kept.
 * `normlab sweep --one-process` giving the rows of process runs, bit for
 * bit, is test_sweep's. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "data/share.h"
#include "testutil.h"

/* the data spec of a config text, parsed as a run parses its own */
static nl_data_spec spec_of(const char *yaml)
{
    nl_config *cfg = malloc(sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    memset(cfg, 0xA5, sizeof *cfg); /* what the parse leaves unset must not matter */
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(yaml, "c.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    const nl_data_spec spec = cfg->data;
    free(cfg);
    return spec;
}

static const char *images_a = "data: {dataset: synthetic, train_size: 300, test_size: 50}\n"
                              "model: {arch: mlp, widths: [8]}\n";
/* the same data, another model: shares */
static const char *images_a_other_model = "data: {dataset: synthetic, train_size: 300, test_size: 50}\n"
                                          "model: {arch: mlp, widths: [16, 16]}\n";
static const char *images_b = "data: {dataset: synthetic, train_size: 200, test_size: 50}\n"
                              "model: {arch: mlp, widths: [8]}\n";
static const char *tokens = "data: {dataset: synthetic_text, markov: {vocab: 8, length: 4000}}\n"
                            "model: {arch: lm, d_model: 16, heads: 2, layers: 1, context: 16}\n";

enum { THREADS = 4 };

typedef struct {
    nl_data_share *share;
    nl_data_spec spec;
    const nl_dataset *got;
    nl_code rc;
} asker;

static void *ask(void *arg)
{
    asker *a = arg;
    nl_error err = {0};
    a->rc = nl_data_share_images(a->share, &a->spec, &a->got, &err);
    return NULL;
}

START_TEST(test_runs_share_one_copy)
{
    nl_data_share *share = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_data_share_new(&share, &err), NL_OK);
    const nl_data_spec a = spec_of(images_a), a2 = spec_of(images_a_other_model);
    const nl_data_spec b = spec_of(images_b), t = spec_of(tokens);

    /* several runs at once, the same data: one load, one copy */
    asker askers[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        askers[i] = (asker){.share = share, .spec = i % 2 ? a2 : a};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, ask, &askers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(askers[i].rc, NL_OK);
        ck_assert_ptr_eq(askers[i].got, askers[0].got);
    }
    ck_assert_int_eq(nl_data_share_loads(share), 1);

    /* the copy is what a run loading alone gets */
    nl_dataset alone = {0};
    ck_assert_int_eq(nl_dataset_load(&a, &alone, &err), NL_OK);
    const nl_dataset *got = askers[0].got;
    ck_assert_int_eq(got->train.n, alone.train.n);
    ck_assert_int_eq(got->test.n, alone.test.n);
    const size_t sample = (size_t)alone.train.c * alone.train.h * alone.train.w;
    ck_assert(!memcmp(got->train.x, alone.train.x, alone.train.n * sample * sizeof(float)));
    ck_assert(!memcmp(got->train.y, alone.train.y, alone.train.n * sizeof(int32_t)));
    ck_assert(!memcmp(got->test.x, alone.test.x, alone.test.n * sample * sizeof(float)));
    nl_dataset_free(&alone);

    /* other data: its own copy, while the first is still held */
    const nl_dataset *other = NULL;
    ck_assert_int_eq(nl_data_share_images(share, &b, &other, &err), NL_OK);
    ck_assert_ptr_ne(other, got);
    ck_assert_int_eq(other->train.n, 200);
    ck_assert_int_eq(nl_data_share_loads(share), 2);
    const nl_token_dataset *text = NULL, *text_again = NULL;
    ck_assert_int_eq(nl_data_share_tokens(share, &t, 17, &text, &err), NL_OK);
    ck_assert_int_eq(nl_data_share_tokens(share, &t, 17, &text_again, &err), NL_OK);
    ck_assert_ptr_eq(text, text_again);
    ck_assert_int_eq(nl_data_share_loads(share), 3);

    /* released, a copy stays for the next run of the same data ... */
    for (int i = 0; i < THREADS; i++)
        nl_data_share_release(share, askers[i].got);
    ck_assert_int_eq(nl_data_share_images(share, &a, &got, &err), NL_OK);
    ck_assert_int_eq(nl_data_share_loads(share), 3);
    nl_data_share_release(share, got);
    /* ... until other data is loaded: then what nobody holds goes, and
     * what is held stays */
    nl_data_spec c = a;
    c.train_size = 100;
    const nl_dataset *third = NULL;
    ck_assert_int_eq(nl_data_share_images(share, &c, &third, &err), NL_OK);
    ck_assert_int_eq(nl_data_share_loads(share), 4);
    ck_assert_int_eq(nl_data_share_images(share, &a, &got, &err), NL_OK);
    ck_assert_int_eq(nl_data_share_loads(share), 5);
    const nl_dataset *still = NULL;
    ck_assert_int_eq(nl_data_share_images(share, &b, &still, &err), NL_OK);
    ck_assert_ptr_eq(still, other);
    ck_assert_int_eq(nl_data_share_loads(share), 5);

    /* a load that fails is reported as loading alone reports it, and not kept */
    nl_data_spec bad = a;
    bad.kind = NL_DATA_FASHION_MNIST;
    snprintf(bad.path, sizeof bad.path, "/nonexistent/normlab-share");
    const nl_dataset *none = NULL;
    nl_error share_err = {0}, alone_err = {0};
    const nl_code rc = nl_data_share_images(share, &bad, &none, &share_err);
    ck_assert_int_eq(rc, nl_dataset_load(&bad, &alone, &alone_err));
    ck_assert_int_ne(rc, NL_OK);
    ck_assert_str_eq(share_err.msg, alone_err.msg);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(nl_data_share_loads(share), 5);

    nl_data_share_release(share, got);
    nl_data_share_release(share, third);
    nl_data_share_release(share, other);
    nl_data_share_release(share, still);
    nl_data_share_release(share, text);
    nl_data_share_release(share, text_again);
    nl_data_share_free(share);
}
END_TEST

/* a grid over seeds: data read from files is the same for every seed and
 * shared; generated data is the seed's own */
START_TEST(test_seeds_share_files_not_generated_data)
{
    tu_tmp_make("data_share");
    tu_tmp_write_idx("idx", 40, 10, 40, -1);
    char yaml[2][1024];
    for (int i = 0; i < 2; i++)
        snprintf(yaml[i], sizeof yaml[i],
                 "seed: %d\ndata: {dataset: mnist, path: %s/idx}\nmodel: {arch: mlp, widths: [8]}\n",
                 i + 1, tu_tmp);
    const nl_data_spec file1 = spec_of(yaml[0]), file2 = spec_of(yaml[1]);
    ck_assert(file1.seed != file2.seed);
    const nl_data_spec gen1 = spec_of("seed: 1\n" "data: {dataset: synthetic, train_size: 60, test_size: 20}\n"
                                      "model: {arch: mlp, widths: [8]}\n");
    const nl_data_spec gen2 = spec_of("seed: 2\n" "data: {dataset: synthetic, train_size: 60, test_size: 20}\n"
                                      "model: {arch: mlp, widths: [8]}\n");
    nl_data_share *share = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_data_share_new(&share, &err), NL_OK);
    const nl_dataset *f1 = NULL, *f2 = NULL, *g1 = NULL, *g2 = NULL;
    ck_assert_msg(nl_data_share_images(share, &file1, &f1, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(nl_data_share_images(share, &file2, &f2, &err), NL_OK);
    ck_assert_ptr_eq(f1, f2);
    ck_assert_int_eq(f1->train.n, 40);
    ck_assert_int_eq(nl_data_share_images(share, &gen1, &g1, &err), NL_OK);
    ck_assert_int_eq(nl_data_share_images(share, &gen2, &g2, &err), NL_OK);
    ck_assert_ptr_ne(g1, g2);
    ck_assert(memcmp(g1->train.x, g2->train.x, 60 * sizeof(float)) != 0);
    ck_assert_int_eq(nl_data_share_loads(share), 3);
    nl_data_share_release(share, f1);
    nl_data_share_release(share, f2);
    nl_data_share_release(share, g1);
    nl_data_share_release(share, g2);
    nl_data_share_free(share);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_share");
    TCase *tc = tcase_create("share");
    tcase_add_test(tc, test_runs_share_one_copy);
    tcase_add_test(tc, test_seeds_share_files_not_generated_data);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
