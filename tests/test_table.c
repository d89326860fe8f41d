/* normlab table: cells over seeds (mean, sd, Student-t interval on a scale
 * that keeps it inside the metric's range) and paired differences, on a
 * sweep summary written here with known values; the t quantiles against
 * published values; errors for bad keys. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot.h"
#include "testutil.h"

START_TEST(test_t_quantiles)
{
    /* two-sided 95% points of Student's t, from statistical tables */
    static const struct {
        double df, t;
    } known[] = {{1, 12.7062}, {2, 4.3027}, {3, 3.1824}, {9, 2.2622}, {29, 2.0452}, {1000, 1.9623}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const double t = nl_student_t_quantile_975(known[i].df);
        ck_assert_msg(fabs(t - known[i].t) < 5e-4, "df %g: %.5f, tables say %.4f", known[i].df, t,
                      known[i].t);
    }
}
END_TEST

/* a sweep of norm x batch x seed; test error = base + seed effect + noise,
 * so the paired differences are much tighter than the cells */
static const char *const norms[] = {"batch", "group"};
static const int batches[] = {2, 32};
static const double seed_effect[] = {0.00, 0.04, -0.03, 0.02};

static double error_of(int norm, int batch, int seed)
{
    const double base = norm == 0 && batch == 0 ? 0.40 : 0.15;
    return base + seed_effect[seed] + 0.001 * (norm + 1) * (seed + 1);
}

static void write_sweep(void)
{
    char dir[600];
    nl_error err = {0};
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    ck_assert_msg(nl_make_dirs(dir, &err) == NL_OK, "%s", err.msg);
    nl_buf b = {0};
    nl_buf_printf(&b, "run,model.norm.type,train.batch_size,seed,train.optimizer.lr,status,final_test_loss,"
                      "final_test_accuracy,final_test_error,best_test_accuracy,final_train_loss,"
                      "final_test_trainmode_accuracy,steps,wall_s,samples_per_s\n");
    for (int n = 0; n < 2; n++)
        for (int bi = 0; bi < 2; bi++)
            for (int s = 0; s < 4; s++) {
                const double e = error_of(n, bi, s);
                /* one failed run: left out of its cell and of the pairs */
                const bool failed = n == 1 && bi == 1 && s == 3;
                nl_buf_printf(&b, "%s-%d-%d,%s,%d,%d,%g,%s,0.5,%.9g,%.9g,0.9,0.3,,100,1,1000\n", norms[n],
                              batches[bi], s, norms[n], batches[bi], s + 1, 0.01 * batches[bi],
                              failed ? "failed" : "ok", 1.0 - e, e);
            }
    tu_tmp_write("sweep/summary.csv", b.data);
    nl_buf_free(&b);
}

/* the mean, sd and interval the table must print for these values */
static void expected(const double *v, int n, double *mean, double *sd, double *half)
{
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    *mean = sum / n;
    for (int i = 0; i < n; i++)
        sq += (v[i] - *mean) * (v[i] - *mean);
    *sd = sqrt(sq / (n - 1));
    *half = nl_student_t_quantile_975(n - 1) * *sd / sqrt((double)n);
}

/* the 95% t interval of the mean of v on the logit scale (v in (0, 1)),
 * mapped back: what the table must print for errors */
static void expected_logit(const double *v, int n, double *lo, double *hi)
{
    double z[8], mean, sd, half;
    for (int i = 0; i < n; i++)
        z[i] = log(v[i] / (1 - v[i]));
    expected(z, n, &mean, &sd, &half);
    *lo = 1 / (1 + exp(-(mean - half)));
    *hi = 1 / (1 + exp(-(mean + half)));
}

/* the logit mean: the inverse logit of the mean logit, the centre of an
 * interval on the logit scale */
static double expected_logit_mean(const double *v, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += log(v[i] / (1 - v[i]));
    return 1 / (1 + exp(-sum / n));
}

/* finds the CSV row starting with `prefix` and reads its numbers */
static void csv_row(const char *csv, const char *prefix, double *mean, double *sd, double *lo, double *hi, int *n)
{
    const char *row = strstr(csv, prefix);
    ck_assert_msg(row, "no row '%s' in\n%s", prefix, csv);
    row += strlen(prefix);
    /* ,n,diverged,mean,sd,low,high,wins: diverged is empty on paired rows */
    double f[6];
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(*row == ',', "short row after '%s'", prefix);
        row++;
        char *end;
        f[i] = strtod(row, &end);
        if (end == row)
            f[i] = NAN;
        row = end;
    }
    *n = (int)f[0];
    *mean = f[2];
    *sd = f[3];
    *lo = f[4];
    *hi = f[5];
}

START_TEST(test_cells_and_pairs)
{
    tu_tmp_make("table");
    write_sweep();
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    nl_table_spec spec = {.metric = "final_test_error", .pair_key = "model.norm.type", .pair_a = "batch",
                          .pair_b = "group"};
    nl_buf md = {0}, csv = {0};
    nl_error err = {0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s", err.msg);
    /* the default cells: norm x batch; the lr follows the batch and the seed is aggregated */
    ck_assert_msg(strstr(csv.data, "table,model.norm.type,train.batch_size,n,") != NULL, "%s", csv.data);
    for (int n = 0; n < 2; n++)
        for (int bi = 0; bi < 2; bi++) {
            double v[4], mean, sd, half, got_mean, got_sd, lo, hi;
            int count = 0, got_n;
            for (int s = 0; s < 4; s++)
                if (!(n == 1 && bi == 1 && s == 3))
                    v[count++] = error_of(n, bi, s);
            expected(v, count, &mean, &sd, &half);
            double want_lo, want_hi;
            expected_logit(v, count, &want_lo, &want_hi);
            char prefix[64];
            snprintf(prefix, sizeof prefix, "cell,%s,%d", norms[n], batches[bi]);
            csv_row(csv.data, prefix, &got_mean, &got_sd, &lo, &hi, &got_n);
            ck_assert_int_eq(got_n, count);
            ck_assert_msg(fabs(got_mean - mean) < 1e-9 && fabs(got_sd - sd) < 1e-9, "%s: %g %g vs %g %g",
                          prefix, got_mean, got_sd, mean, sd);
            ck_assert_msg(fabs(lo - want_lo) < 1e-9 && fabs(hi - want_hi) < 1e-9, "%s interval %g – %g, want "
                          "%g – %g", prefix, lo, hi, want_lo, want_hi);
        }
    /* paired: group - batch at the same seed and batch size; the failed run
     * leaves 3 pairs at batch 32 */
    for (int bi = 0; bi < 2; bi++) {
        double d[4], mean, sd, half, got_mean, got_sd, lo, hi;
        int count = 0, got_n;
        for (int s = 0; s < 4; s++)
            if (!(bi == 1 && s == 3))
                d[count++] = error_of(1, bi, s) - error_of(0, bi, s);
        expected(d, count, &mean, &sd, &half);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "paired,group-batch,%d", batches[bi]);
        csv_row(csv.data, prefix, &got_mean, &got_sd, &lo, &hi, &got_n);
        ck_assert_int_eq(got_n, count);
        ck_assert_msg(fabs(got_mean - mean) < 1e-9 && fabs(got_sd - sd) < 1e-9, "%s", prefix);
        ck_assert_msg(fabs(lo - (mean - half)) < 1e-9, "%s interval", prefix);
    }
    /* cells by the normalizer alone: pairs still match the batch size */
    nl_buf md2 = {0}, csv2 = {0};
    nl_table_spec by_norm = spec;
    by_norm.by[0] = "model.norm.type";
    by_norm.n_by = 1;
    ck_assert_msg(nl_table_write(dir, &by_norm, &md2, &csv2, NULL, &err) == NL_OK, "%s", err.msg);
    {
        double d[8], mean, sd, half, got_mean, got_sd, lo, hi;
        int count = 0, got_n;
        for (int bi = 0; bi < 2; bi++)
            for (int s2 = 0; s2 < 4; s2++)
                if (!(bi == 1 && s2 == 3))
                    d[count++] = error_of(1, bi, s2) - error_of(0, bi, s2);
        expected(d, count, &mean, &sd, &half);
        csv_row(csv2.data, "paired,group-batch", &got_mean, &got_sd, &lo, &hi, &got_n);
        ck_assert_int_eq(got_n, count);
        ck_assert_msg(fabs(got_mean - mean) < 1e-9, "pairs across batch sizes: %g vs %g", got_mean, mean);
    }
    nl_buf_free(&md2);
    nl_buf_free(&csv2);
    /* Markdown: percent, and the pair header */
    double v[4] = {error_of(0, 0, 0), error_of(0, 0, 1), error_of(0, 0, 2), error_of(0, 0, 3)};
    double mean, sd, half, lo, hi;
    expected(v, 4, &mean, &sd, &half);
    expected_logit(v, 4, &lo, &hi);
    char row[128];
    /* the logit mean, the interval's centre, beside it */
    snprintf(row, sizeof row, "| batch | 2 | 4 | 0 | %.2f | %.2f | %.2f | %.2f – %.2f |", 100 * mean, 100 * sd,
             100 * expected_logit_mean(v, 4), 100 * lo, 100 * hi);
    /* and in words what each table's intervals are */
    ck_assert_msg(strstr(md.data, "final_test_error (%)") && strstr(md.data, row) &&
                      strstr(md.data, "group − batch, paired by seed") &&
                      strstr(md.data, "95% interval of the mean over seeds: a t interval on the logit scale, "
                                      "mapped back into the metric's range [0, 100]%; on the logit scale it is "
                                      "an interval of the logit mean") &&
                      strstr(md.data, "| mean | sd | logit mean | 95% interval |") &&
                      strstr(md.data, "95% interval of the mean difference over pairs: a t interval."),
                  "no '%s' in\n%s", row, md.data);
    nl_buf_free(&md);
    nl_buf_free(&csv);
}
END_TEST

START_TEST(test_bad_keys)
{
    tu_tmp_make("table-bad");
    write_sweep();
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    static const struct {
        nl_table_spec spec;
        const char *message;
    } bad[] = {
        {{.metric = "final_test_eror"}, "accepted: final_test_loss"},
        {{.metric = "final_test_error", .by = {"model.norm.groups"}, .n_by = 1}, "the varied keys are: model.norm.type"},
        {{.metric = "final_test_error", .by = {"seed"}, .n_by = 1}, "aggregates over seeds"},
        {{.metric = "final_test_error", .pair_key = "model.norm.type", .pair_a = "batch", .pair_b = "layer"},
         "takes no value 'layer'"},
        {{.metric = "final_test_error", .pair_key = "seed", .pair_a = "1", .pair_b = "2"}, "the seed is what pairs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nl_buf md = {0};
        nl_error err = {0};
        ck_assert_int_eq(nl_table_write(dir, &bad[i].spec, &md, NULL, NULL, &err), NL_ERR_USAGE);
        ck_assert_msg(strstr(err.msg, bad[i].message), "case %zu: %s", i, err.msg);
        nl_buf_free(&md);
    }
    /* the command: exit 2 on bad usage, the CSV written on success */
    ck_assert_int_eq(tu_normlab("table sweep --pair model.norm.type=batch"), 2);
    ck_assert_int_eq(tu_normlab("table sweep --by model.norm.type --csv cells.csv"), 0);
    char *out = tu_tmp_read("cells.csv");
    ck_assert_msg(strstr(out, "cell,batch,8,0,"), "%s", out);
    free(out);
}
END_TEST

/* a key that applies to one variant only (DyT's alpha_init; layer norm has
 * none): each of its values is paired with the other variant by seed, one
 * row per value, in either order of the pair */
START_TEST(test_pairs_over_a_key_of_one_side)
{
    tu_tmp_make("table-one-side");
    static const double layer_loss[] = {2.0, 2.2, 2.1}, alphas[] = {0.5, 2};
    nl_buf b = {0};
    nl_buf_printf(&b, "run,model.norm.type,model.norm.alpha_init,seed,status,final_test_loss,final_test_accuracy,"
                      "final_test_error,best_test_accuracy,final_train_loss,final_test_trainmode_accuracy,steps,"
                      "wall_s,samples_per_s\n");
    for (int s = 0; s < 3; s++) {
        nl_buf_printf(&b, "layer-%d,layer,,%d,ok,%.9g,0.4,0.6,0.4,2,,100,1,1000\n", s, s + 1, layer_loss[s]);
        /* dyt at alpha a: layer's loss + a + 0.01 * seed */
        for (int a = 0; a < 2; a++)
            nl_buf_printf(&b, "dyt-%d-%d,dyt,%g,%d,ok,%.9g,0.4,0.6,0.4,2,,100,1,1000\n", a, s, alphas[a], s + 1,
                          layer_loss[s] + alphas[a] + 0.01 * s);
    }
    char dir[600];
    nl_error err = {0};
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    ck_assert_msg(nl_make_dirs(dir, &err) == NL_OK, "%s", err.msg);
    tu_tmp_write("sweep/summary.csv", b.data);
    nl_buf_free(&b);
    for (int order = 0; order < 2; order++) {
        nl_table_spec spec = {.metric = "final_test_loss", .pair_key = "model.norm.type",
                              .pair_a = order ? "dyt" : "layer", .pair_b = order ? "layer" : "dyt"};
        nl_buf md = {0}, csv = {0};
        ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s", err.msg);
        const double diffs[] = {0, 0.01, 0.02};
        double mean, sd, half;
        expected(diffs, 3, &mean, &sd, &half);
        for (int a = 0; a < 2; a++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "paired,%s,%g", order ? "layer-dyt" : "dyt-layer", alphas[a]);
            double got_mean, got_sd, lo, hi;
            int got_n;
            csv_row(csv.data, prefix, &got_mean, &got_sd, &lo, &hi, &got_n);
            const double sign = order ? -1 : 1;
            ck_assert_int_eq(got_n, 3);
            ck_assert_msg(fabs(got_mean - sign * (alphas[a] + mean)) < 1e-9 && fabs(got_sd - sd) < 1e-9,
                          "alpha %g: mean %g sd %g in\n%s", alphas[a], got_mean, got_sd, csv.data);
        }
        /* no row for layer norm's empty alpha_init */
        ck_assert_msg(!strstr(csv.data, order ? "paired,layer-dyt,," : "paired,dyt-layer,,"), "%s", csv.data);
        nl_buf_free(&md);
        nl_buf_free(&csv);
    }
    tu_tmp_remove();
}
END_TEST

/* --by leaving out a varied key: the cells pool configurations, and the
 * table says so (a count of runs, not seeds; the pooled keys and values in
 * the Markdown, the CSV and the notes); every varied key in the cells:
 * seeds, nothing pooled */
START_TEST(test_pooled_cells)
{
    tu_tmp_make("table-pooled");
    write_sweep();
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    nl_error err = {0};
    nl_table_spec by_norm = {.metric = "final_test_error", .by = {"model.norm.type"}, .n_by = 1};
    nl_buf md = {0}, csv = {0}, notes = {0};
    ck_assert_msg(nl_table_write(dir, &by_norm, &md, &csv, &notes, &err) == NL_OK, "%s", err.msg);
    /* batch: 8 runs over two batch sizes (and the learning rates they set) */
    ck_assert_msg(strstr(md.data, "| model.norm.type | runs | diverged |") &&
                      strstr(md.data, " | train.batch_size 2, 32; train.optimizer.lr 0.02, 0.32 |") &&
                      strstr(md.data, "Cells pool runs of different configurations: train.batch_size, "
                                      "train.optimizer.lr vary within a cell") &&
                      !strstr(md.data, "seeds |"), "%s", md.data);
    ck_assert_msg(strstr(csv.data, ",wins,pooled,interval,final_test_error_geomean,final_test_error_logitmean\n") &&
                      strstr(csv.data, ",,\"train.batch_size 2, 32; train.optimizer.lr 0.02, 0.32\",t-logit,,0."),
                  "%s", csv.data);
    ck_assert_msg(notes.data && strstr(notes.data, "cells pool runs that differ in train.batch_size, "
                                                   "train.optimizer.lr"), "%s", notes.data ? notes.data : "");
    nl_buf_free(&md);
    nl_buf_free(&csv);
    nl_buf_free(&notes);
    /* the default cells (norm x batch; the lr follows the batch): seeds only */
    nl_table_spec all = {.metric = "final_test_error"};
    md = (nl_buf){0}, csv = (nl_buf){0}, notes = (nl_buf){0};
    ck_assert_msg(nl_table_write(dir, &all, &md, &csv, &notes, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(strstr(md.data, "| seeds | diverged |") && !strstr(md.data, "Cells pool") && !strstr(md.data, "pooled |") && !notes.data,
                  "%s", md.data);
    ck_assert_msg(strstr(csv.data, "cell,batch,2,4,0,"), "%s", csv.data);
    nl_buf_free(&md);
    nl_buf_free(&csv);
    /* the command: the notice on stderr, the table on stdout */
    ck_assert_int_eq(tu_normlab("table sweep --by model.norm.type"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "normlab table: warning: cells pool runs that differ in train.batch_size") &&
                      strstr(out, "| runs |"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* a --by key that is no setting at all (a typo) against a setting that
 * does not vary in the sweep */
START_TEST(test_by_unknown_key)
{
    tu_tmp_make("table-typo");
    write_sweep();
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    nl_buf md = {0};
    nl_error err = {0};
    nl_table_spec typo = {.metric = "final_test_error", .by = {"model.norm.tpye"}, .n_by = 1};
    ck_assert_int_eq(nl_table_write(dir, &typo, &md, NULL, NULL, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "unknown key 'model.norm.tpye'; did you mean model.norm.type?") &&
                      !strstr(err.msg, "does not vary"), "%s", err.msg);
    nl_buf_free(&md);
    md = (nl_buf){0};
    err = (nl_error){0};
    nl_table_spec fixed = {.metric = "final_test_error", .by = {"train.epochs"}, .n_by = 1};
    ck_assert_int_eq(nl_table_write(dir, &fixed, &md, NULL, NULL, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "train.epochs does not vary in") && !strstr(err.msg, "unknown"), "%s", err.msg);
    nl_buf_free(&md);
    ck_assert_int_eq(tu_normlab("table sweep --by model.norm.tpye"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "did you mean model.norm.type?"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* sets final_test_error (column 9 of write_sweep's rows) of run `name` */
static void set_error(const char *name, const char *value)
{
    char *csv = tu_tmp_read("sweep/summary.csv");
    nl_buf out = {0};
    const size_t len = strlen(name);
    for (char *line = csv, *next; *line; line = next) {
        next = strchr(line, '\n');
        *next++ = '\0';
        if (strncmp(line, name, len) || line[len] != ',') {
            nl_buf_printf(&out, "%s\n", line);
            continue;
        }
        char *field = line;
        for (int c = 0; c < 8; c++)
            field = strchr(field, ',') + 1;
        nl_buf_printf(&out, "%.*s%s%s\n", (int)(field - line), line, value, strchr(field, ','));
    }
    tu_tmp_write("sweep/summary.csv", out.data);
    nl_buf_free(&out);
    free(csv);
}

/* Values that are not finite never reach a mean: an ok run's inf is left
 * out (not counted as diverged), a difference of 1e308 and -1e308 too, and
 * a cell or pair row whose values' sum overflows gets no mean; each said
 * under the table and in the notes (normlab table's warnings), as verdict
 * says it for a claim */
START_TEST(test_non_finite_values_left_out)
{
    tu_tmp_make("table-inf");
    write_sweep();
    set_error("batch-2-0", "inf");
    set_error("group-32-0", "1e308");
    set_error("group-32-1", "1e308");
    set_error("group-32-2", "1e308");
    set_error("batch-32-2", "-1e308");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    nl_table_spec spec = {.metric = "final_test_error", .pair_key = "model.norm.type", .pair_a = "batch",
                          .pair_b = "group"};
    nl_buf md = {0}, csv = {0}, notes = {0};
    nl_error err = {0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, &notes, &err) == NL_OK, "%s", err.msg);
    static const char *const said[] = {
        "run batch-2-0: final_test_error is inf, not a finite number: left out",
        "cell model.norm.type=group train.batch_size=32: the 3 values overflow a double when summed: no mean",
        "pair group-32-2, batch-32-2: the difference is inf, not a finite number: left out",
        /* the two pairs left at 32: 1e308 - 0.15 twice */
        "pairs train.batch_size=32: the 2 values overflow a double when summed: no mean",
    };
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "Note: %s.\n", said[i]);
        ck_assert_msg(strstr(md.data, line), "no '%s' in\n%s", line, md.data);
        ck_assert_msg(strstr(notes.data, said[i]), "no '%s' in the notes\n%s", said[i], notes.data);
    }
    double mean, sd, lo, hi;
    int n;
    /* batch at 2: the 3 other seeds, none diverged */
    csv_row(csv.data, "cell,batch,2", &mean, &sd, &lo, &hi, &n);
    ck_assert(n == 3 && isfinite(mean) && isfinite(sd));
    ck_assert_msg(strstr(csv.data, "cell,batch,2,3,0,"), "%s", csv.data);
    /* group at 32: no mean, no interval, and never inf anywhere */
    ck_assert_msg(strstr(csv.data, "cell,group,32,3,0,,,,,"), "%s", csv.data);
    ck_assert_msg(!strstr(csv.data, "inf") && !strstr(md.data, "inf |") && !strstr(md.data, "| inf"), "%s\n%s",
                  csv.data, md.data);
    nl_buf_free(&md);
    nl_buf_free(&csv);
    nl_buf_free(&notes);
    /* the command: exit 0, the notes as warnings */
    ck_assert_int_eq(tu_normlab("table sweep"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "normlab table: warning: run batch-2-0: final_test_error is inf"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* Intervals stay inside the metric's range: errors near 0 and 1 with a
 * wide spread (a plain t interval would reach below 0 and above 100%), a
 * loss near 0 (log scale, never negative), and an error of exactly 0
 * (no logit: the plain interval clipped, marked and named) */
START_TEST(test_intervals_inside_the_range)
{
    tu_tmp_make("table-range");
    char dir[600];
    nl_error err = {0};
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    ck_assert_msg(nl_make_dirs(dir, &err) == NL_OK, "%s", err.msg);
    static const struct {
        const char *norm;
        double error[3], loss[3];
    } rows[] = {{"low", {0.01, 0.2, 0.03}, {0.01, 1.5, 0.02}},
                {"high", {0.99, 0.6, 0.98}, {4, 9, 5}},
                {"zero", {0, 0.3, 0.02}, {0, 0.5, 0.01}}};
    nl_buf b = {0};
    nl_buf_printf(&b, "run,model.norm.type,seed,status,final_test_loss,final_test_accuracy,final_test_error\n");
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++)
            nl_buf_printf(&b, "%s-%d,%s,%d,ok,%.9g,%.9g,%.9g\n", rows[r].norm, s, rows[r].norm, s + 1,
                          rows[r].loss[s], 1 - rows[r].error[s], rows[r].error[s]);
    tu_tmp_write("sweep/summary.csv", b.data);
    nl_buf_free(&b);
    static const char *const metrics[] = {"final_test_error", "final_test_accuracy", "final_test_loss"};
    for (int m = 0; m < 3; m++) {
        nl_table_spec spec = {.metric = metrics[m]};
        nl_buf md = {0}, csv = {0};
        ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s", err.msg);
        const double top = m < 2 ? 1 : INFINITY;
        for (int r = 0; r < 3; r++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "cell,%s", rows[r].norm);
            double mean, sd, lo, hi;
            int n;
            csv_row(csv.data, prefix, &mean, &sd, &lo, &hi, &n);
            ck_assert_msg(lo >= 0 && hi <= top && lo <= hi, "%s %s: %g – %g outside the range", metrics[m],
                          rows[r].norm, lo, hi);
        }
        /* the error and loss of "zero" sit on the edge: clipped, marked, said */
        const bool edge = m != 1;
        ck_assert_msg(!edge || (strstr(csv.data, ",t-clipped,,\n") && strstr(md.data, " *") &&
                                strstr(md.data, "* marks a t interval clipped to the metric's range")),
                      "%s:\n%s\n%s", metrics[m], csv.data, md.data);
        ck_assert_msg(strstr(csv.data, m == 2 ? ",t-log," : ",t-logit,,"), "%s", csv.data);
        /* every interval's own centre, where it has one, lies inside it */
        for (int r = 0; r < 3; r++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "cell,%s", rows[r].norm);
            const char *row = strstr(csv.data, prefix);
            const char *tag = row ? strstr(row, m == 2 ? ",t-log," : ",t-logit,") : NULL;
            double mean, sd, lo, hi, centre;
            int n;
            csv_row(csv.data, prefix, &mean, &sd, &lo, &hi, &n);
            if (tag && tag < strchr(row, '\n') &&
                sscanf(tag, m == 2 ? ",t-log,%lf" : ",t-logit,,%lf", &centre) == 1)
                ck_assert_msg(lo <= centre && centre <= hi, "%s %s: centre %g outside %g – %g", metrics[m],
                              rows[r].norm, centre, lo, hi);
        }
        nl_buf_free(&md);
        nl_buf_free(&csv);
    }
    tu_tmp_remove();
}
END_TEST

/* A loss skewed by two seeds far above the rest (salimans-wn-confirm's
 * mean-only cell: mean 0.5006, interval 0.411 – 0.489): the interval on the
 * log scale is of the geometric mean, which lies below the arithmetic one;
 * the table prints the geometric mean beside it, in the markdown, the CSV
 * and normlab table's output, and says what it is. The arithmetic mean
 * stays, outside the interval: it is the mean, not the interval's centre. */
START_TEST(test_geometric_mean_beside_a_log_interval)
{
    tu_tmp_make("table-gmean");
    char dir[600];
    nl_error err = {0};
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    ck_assert_msg(nl_make_dirs(dir, &err) == NL_OK, "%s", err.msg);
    nl_buf b = {0};
    double logs = 0;
    nl_buf_printf(&b, "run,model.norm.type,seed,status,final_test_loss,final_test_accuracy,final_test_error\n");
    for (int s = 0; s < 32; s++) {
        const double loss = s < 30 ? 0.30 + 0.01 * (s % 5 - 2) : 3.0;
        logs += log(loss);
        nl_buf_printf(&b, "w-%d,weight,%d,ok,%.9g,0.9,0.1\n", s, s + 1, loss);
    }
    tu_tmp_write("sweep/summary.csv", b.data);
    nl_buf_free(&b);
    nl_table_spec spec = {.metric = "final_test_loss"};
    nl_buf md = {0}, csv = {0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s", err.msg);
    double mean, sd, lo, hi, gmean = NAN;
    int n;
    csv_row(csv.data, "cell", &mean, &sd, &lo, &hi, &n);
    const char *tag = strstr(csv.data, ",t-log,");
    ck_assert_msg(tag && sscanf(tag, ",t-log,%lf", &gmean) == 1, "no geometric mean after the log tag:\n%s", csv.data);
    ck_assert_msg(fabs(gmean - exp(logs / 32)) < 1e-6, "geometric mean %g, want %g", gmean, exp(logs / 32));
    ck_assert_msg(lo < gmean && gmean < hi && mean > hi, "mean %g, geometric mean %g, interval %g – %g", mean, gmean,
                  lo, hi);
    char cell[64];
    snprintf(cell, sizeof cell, " | %.2f | %.2f – %.2f |", gmean, lo, hi);
    ck_assert_msg(strstr(md.data, "| mean | sd | geometric mean | 95% interval |") && strstr(md.data, cell) &&
                      strstr(md.data, "on the log scale it is an interval of the geometric mean"), "%s", md.data);
    nl_buf_free(&md);
    nl_buf_free(&csv);
    /* an error's table (logit scale) has no such column */
    spec.metric = "final_test_error";
    md = (nl_buf){0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, NULL, NULL, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(!strstr(md.data, "geometric"), "%s", md.data);
    nl_buf_free(&md);
    ck_assert_int_eq(tu_normlab("table sweep --metric final_test_loss"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, cell), "normlab table prints no geometric mean beside the interval:\n%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* An error near 0 with two seeds far above (the logit scale's skew): its
 * interval on the logit scale is of the logit mean, the inverse logit of
 * the mean logit, which lies inside it while the arithmetic mean lies
 * above it; the table prints the logit mean beside the interval, in the
 * markdown, the CSV and normlab table's output, and says what it is */
START_TEST(test_logit_mean_beside_a_logit_interval)
{
    tu_tmp_make("table-lmean");
    char dir[600];
    nl_error err = {0};
    snprintf(dir, sizeof dir, "%s/sweep", tu_tmp);
    ck_assert_msg(nl_make_dirs(dir, &err) == NL_OK, "%s", err.msg);
    nl_buf b = {0};
    double errors[32];
    nl_buf_printf(&b, "run,model.norm.type,seed,status,final_test_loss,final_test_accuracy,final_test_error\n");
    for (int s = 0; s < 32; s++) {
        errors[s] = s < 30 ? 0.02 + 0.002 * (s % 5 - 2) : 0.9;
        nl_buf_printf(&b, "w-%d,weight,%d,ok,0.3,%.9g,%.9g\n", s, s + 1, 1 - errors[s], errors[s]);
    }
    tu_tmp_write("sweep/summary.csv", b.data);
    nl_buf_free(&b);
    nl_table_spec spec = {.metric = "final_test_error"};
    nl_buf md = {0}, csv = {0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s", err.msg);
    double mean, sd, lo, hi, lmean = NAN;
    int n;
    csv_row(csv.data, "cell", &mean, &sd, &lo, &hi, &n);
    const char *tag = strstr(csv.data, ",t-logit,,");
    ck_assert_msg(tag && sscanf(tag, ",t-logit,,%lf", &lmean) == 1, "no logit mean after the logit tag:\n%s",
                  csv.data);
    const double want = expected_logit_mean(errors, 32);
    ck_assert_msg(fabs(lmean - want) < 1e-6, "logit mean %g, want %g", lmean, want);
    ck_assert_msg(lo < lmean && lmean < hi && mean > hi, "mean %g, logit mean %g, interval %g – %g", mean, lmean,
                  lo, hi);
    char cell[64];
    snprintf(cell, sizeof cell, " | %.2f | %.2f – %.2f |", 100 * lmean, 100 * lo, 100 * hi);
    ck_assert_msg(strstr(md.data, "| mean | sd | logit mean | 95% interval |") && strstr(md.data, cell) &&
                      strstr(md.data, "on the logit scale it is an interval of the logit mean"), "%s", md.data);
    nl_buf_free(&md);
    nl_buf_free(&csv);
    /* an accuracy's too, in percent */
    spec.metric = "final_test_accuracy";
    md = (nl_buf){0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, NULL, NULL, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(strstr(md.data, "| logit mean |"), "%s", md.data);
    nl_buf_free(&md);
    ck_assert_int_eq(tu_normlab("table sweep --metric final_test_error"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, cell), "normlab table prints no logit mean beside the interval:\n%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* with no --metric, a language model's table is of its loss (its measure,
 * in nats; it once led with the error, the share of tokens mispredicted),
 * an image classifier's of its error: committed sweeps of each */
START_TEST(test_primary_metric)
{
    static const struct {
        const char *sweep, *first;
    } cases[] = {{"rms-lm", "final_test_loss per cell"}, {"xiong-warmup", "final_test_loss per cell"},
                 {"wu-he-batch-mlp", "final_test_error (%) per cell"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/results/%s", NORMLAB_SOURCE_DIR, cases[i].sweep);
        nl_table_spec spec = {.metric = NULL};
        nl_buf md = {0};
        nl_error err = {0};
        ck_assert_msg(nl_table_write(dir, &spec, &md, NULL, NULL, &err) == NL_OK, "%s", err.msg);
        ck_assert_msg(!strncmp(md.data, cases[i].first, strlen(cases[i].first)), "%s: %.120s", cases[i].sweep,
                      md.data);
        nl_buf_free(&md);
    }
    ck_assert_str_eq(nl_table_primary_metric("lm"), "final_test_loss");
    ck_assert_str_eq(nl_table_primary_metric("mlp"), "final_test_error");
    ck_assert_str_eq(nl_table_primary_metric(NULL), "final_test_error");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_t_quantiles);
    tcase_add_test(tc, test_cells_and_pairs);
    tcase_add_test(tc, test_bad_keys);
    tcase_add_test(tc, test_pairs_over_a_key_of_one_side);
    tcase_add_test(tc, test_pooled_cells);
    tcase_add_test(tc, test_by_unknown_key);
    tcase_add_test(tc, test_non_finite_values_left_out);
    tcase_add_test(tc, test_intervals_inside_the_range);
    tcase_add_test(tc, test_geometric_mean_beside_a_log_interval);
    tcase_add_test(tc, test_logit_mean_beside_a_logit_interval);
    tcase_add_test(tc, test_primary_metric);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
