/* No committed result shows an interval outside what its metric can take
 * (issue 72): every committed sweep's summary.csv through normlab table,
 * for every metric its runs have, gives cell intervals inside [0, 1] for
 * errors and accuracies and at or above 0 for the rest; and every table
 * pasted into the committed pages (README.md and results/ pages) with a
 * "95% interval" column holds no cell interval below 0, nor above 100
 * where its numbers are percent; and every committed forest plot of
 * verdicts (plots/verdicts.gp) draws each claim on its own axis, so that
 * one wide claim leaves every other interval readable. In process, reading
 * committed files only. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/files.h"
#include "plot/plot.h"
#include "results/run_result.h"
#include "results/table.h"
#include "testutil.h"

static bool is_fraction(const char *metric)
{
    return strstr(metric, "accuracy") != NULL || strstr(metric, "error") != NULL;
}

/* one sweep's table of one metric: every cell's interval in range; how
 * many intervals it checked */
static int check_metric(const char *dir, const char *metric)
{
    nl_table_spec spec = {.metric = metric};
    nl_buf md = {0}, csv = {0};
    nl_error err = {0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s: %s", dir, err.msg);
    nl_csv_table t;
    ck_assert_msg(nl_csv_table_parse(csv.data, "table", &t, &err) == NL_OK, "%s", err.msg);
    char col[160];
    snprintf(col, sizeof col, "%s_ci95_low", metric);
    const int c_lo = nl_csv_table_col(&t, col);
    snprintf(col, sizeof col, "%s_ci95_high", metric);
    const int c_hi = nl_csv_table_col(&t, col);
    ck_assert(c_lo >= 0 && c_hi >= 0);
    const double top = is_fraction(metric) ? 1 : INFINITY;
    int checked = 0;
    for (int r = 0; r < t.n_rows; r++) {
        if (!t.rows[r][c_lo][0])
            continue;
        const double lo = strtod(t.rows[r][c_lo], NULL), hi = strtod(t.rows[r][c_hi], NULL);
        ck_assert_msg(lo >= 0 && hi <= top && lo <= hi, "%s, %s, row %d: interval %g – %g outside [0, %g]", dir,
                      metric, r + 1, lo, hi, top);
        checked++;
    }
    nl_csv_table_free(&t);
    nl_buf_free(&md);
    nl_buf_free(&csv);
    return checked;
}

/* every metric of one sweep: ctx counts the intervals checked */
static void visit_sweep(const char *dir, void *ctx)
{
    for (int m = 0; m < NL_RESULTS_M_COUNT; m++)
        *(int *)ctx += check_metric(dir, nl_sweep_metric_names[m]);
}

START_TEST(test_committed_tables_in_range)
{
    int intervals = 0;
    const int sweeps = tu_committed_sweep_dirs(visit_sweep, &intervals);
    ck_assert_int_ge(sweeps, 1);
    ck_assert_int_ge(intervals, sweeps);
}
END_TEST

/* the cells of a Markdown table row, split at '|' (no leading empty one) */
static int split_row(char *line, char **cells, int max)
{
    int n = 0;
    char *p = line + (line[0] == '|');
    while (*p && n < max) {
        char *bar = strchr(p, '|');
        if (!bar)
            break;
        *bar = '\0';
        cells[n++] = p;
        p = bar + 1;
    }
    return n;
}

/* a page's tables with a "95% interval" column of cells (not differences):
 * how many intervals it checked */
static int check_page(const char *path)
{
    char *text = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
    int checked = 0, column = -1, line_no = 0;
    bool percent = false;
    char before[400] = ""; /* the last line of prose: "(%)" says the unit */
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        if (line[0] != '|') {
            column = -1;
            if (line[0])
                snprintf(before, sizeof before, "%s", line);
            continue;
        }
        char copy[2000], *cells[64];
        snprintf(copy, sizeof copy, "%s", line);
        const int n = split_row(copy, cells, 64);
        if (column < 0 && strstr(line, "95% interval") && !strstr(line, "difference")) {
            for (int c = 0; c < n; c++)
                column = strstr(cells[c], "95% interval") ? c : column;
            percent = strstr(before, "(%)") || strstr(before, "%)") || strstr(line, "%");
            continue;
        }
        double lo, hi;
        if (column < 0 || column >= n || sscanf(cells[column], " %lf – %lf", &lo, &hi) != 2)
            continue;
        ck_assert_msg(lo >= 0 && (!percent || hi <= 100), "%s:%d: interval %g – %g outside [0, %s]", path,
                      line_no, lo, hi, percent ? "100" : "inf");
        checked++;
    }
    free(text);
    return checked;
}

START_TEST(test_committed_pages_in_range)
{
    int intervals = check_page(NORMLAB_SOURCE_DIR "/README.md");
    DIR *d = opendir(NORMLAB_SOURCE_DIR "/results");
    ck_assert(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".md"))
            continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/results/%s", NORMLAB_SOURCE_DIR, e->d_name);
        intervals += check_page(path);
    }
    closedir(d);
    /* results/README.md pastes normlab table's output: there is something to check */
    ck_assert_int_ge(intervals, 1);
}
END_TEST

/* one verdicts.gp: every $claims row (row, effect, lo, hi, threshold on
 * the row's axis 0..1, verdict, label, the axis's ends, 0 on it) inside
 * its axis and filling it (what it draws reaches both of its outer fifths:
 * the axis is the row's own, not one a wider claim set; a "~ within"
 * claim's band, in $bands, counts as drawn); how many rows */
static int check_forest(const char *path)
{
    char *text = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
    const char *rows = strstr(text, "$claims << EOD\n");
    ck_assert_msg(rows, "%s: no $claims", path);
    rows += strlen("$claims << EOD\n");
    int n = 0;
    for (const char *line = rows; strncmp(line, "EOD", 3); line = strchr(line, '\n') + 1) {
        double row, on_axis[4];
        ck_assert_msg(sscanf(line, "%lf,%lf,%lf,%lf,%lf,", &row, &on_axis[0], &on_axis[1], &on_axis[2],
                             &on_axis[3]) == 5,
                      "%s: a row that is not the forest's: %.80s", path, line);
        double least = 1, most = 0;
        const char *bands = strstr(text, "$bands << EOD\n");
        for (const char *b = bands ? strchr(bands, '\n') + 1 : "EOD"; strncmp(b, "EOD", 3); b = strchr(b, '\n') + 1) {
            double band_row, centre, half;
            if (sscanf(b, "%lf,%lf,%lf", &band_row, &centre, &half) == 3 && band_row == row) {
                least = centre - half;
                most = centre + half;
            }
        }
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(isnan(on_axis[i]) || (on_axis[i] >= 0 && on_axis[i] <= 1),
                          "%s, row %g: %g is off its axis (redraw with normlab verdict --force)", path, row,
                          on_axis[i]);
            least = isnan(on_axis[i]) ? least : fmin(least, on_axis[i]);
            most = isnan(on_axis[i]) ? most : fmax(most, on_axis[i]);
        }
        /* a single point (a count described) sits alone in the middle */
        ck_assert_msg(least == most || (least <= 0.2 && most >= 0.8), "%s, row %g: draws %g to %g of its axis",
                      path, row, least, most);
        n++;
    }
    free(text);
    return n;
}

/* a committed sweep's forest plot, when its claims drew one */
static void visit_forest(const char *dir, void *ctx)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/plots/verdicts.gp", dir);
    if (!nl_path_exists(path))
        return;
    ck_assert_int_ge(check_forest(path), 1);
    (*(int *)ctx)++;
}

START_TEST(test_committed_forests_per_claim)
{
    int forests = 0;
    tu_committed_sweep_dirs(visit_forest, &forests);
    ck_assert_int_ge(forests, 1);
}
END_TEST

/* a committed sweep's verdicts.csv: every mean effect's interval of an
 * accuracy or error (a fraction) inside what the effect can take, [0, 1]
 * for a value against a number and [-1, 1] for a difference of two
 * (issue 118: finetune-shift-confirm's studentized bootstrap printed
 * -107.27 to 5.94 points of error); ctx counts the intervals checked */
static void visit_verdicts(const char *dir, void *ctx)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/verdicts.csv", dir);
    char *text = NULL;
    nl_error err = {0};
    if (!nl_path_exists(path))
        return;
    ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
    nl_csv_table t;
    ck_assert_msg(nl_csv_table_parse(text, path, &t, &err) == NL_OK, "%s", err.msg);
    free(text);
    const int c_claim = nl_csv_table_col(&t, "claim"), c_metric = nl_csv_table_col(&t, "metric"),
              c_b_metric = nl_csv_table_col(&t, "b_metric"), c_b = nl_csv_table_col(&t, "b"),
              c_c = nl_csv_table_col(&t, "c"), c_expect = nl_csv_table_col(&t, "expect"),
              c_method = nl_csv_table_col(&t, "method"), c_lo = nl_csv_table_col(&t, "lo"),
              c_hi = nl_csv_table_col(&t, "hi");
    ck_assert_msg(c_claim >= 0 && c_metric >= 0 && c_b_metric >= 0 && c_b >= 0 && c_c >= 0 && c_expect >= 0 &&
                      c_method >= 0 && c_lo >= 0 && c_hi >= 0, "%s: a column is missing", path);
    for (int r = 0; r < t.n_rows; r++) {
        const char *const *row = (const char *const *)t.rows[r];
        const char *metric = row[c_metric], *b_metric = row[c_b_metric], *method = row[c_method];
        /* a mean's interval (t or bootstrap) of a metric named alone, a
         * plain value or difference (no expression of the cells) */
        if ((strncmp(method, "t;", 2) && strncmp(method, "studentized", 11)) || !is_fraction(metric) ||
            strpbrk(metric, " -+*/(") || (b_metric[0] && (!is_fraction(b_metric) || strpbrk(b_metric, " -+*/("))) ||
            row[c_c][0] || strncmp(row[c_expect], "a ", 2))
            continue;
        const bool difference = row[c_b][0] != 0;
        const double lo = strtod(row[c_lo], NULL), hi = strtod(row[c_hi], NULL), min = difference ? -1 : 0;
        ck_assert_msg(lo >= min && hi <= 1, "%s: %s's interval %g to %g lies outside %g to 1", path, row[c_claim], lo,
                      hi, min);
        (*(int *)ctx)++;
    }
    nl_csv_table_free(&t);
}

/* every committed verdicts.csv, not the sample: reading them is cheap */
START_TEST(test_committed_verdicts_in_range)
{
    int intervals = 0;
    DIR *d = opendir(NORMLAB_SOURCE_DIR "/results");
    ck_assert(d != NULL);
    for (struct dirent *e; (e = readdir(d));) {
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/results/%s", NORMLAB_SOURCE_DIR, e->d_name);
        if (e->d_name[0] != '.' && nl_is_dir(dir))
            visit_verdicts(dir, &intervals);
    }
    closedir(d);
    ck_assert_int_ge(intervals, 100);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("committed_intervals");
    TCase *tc = tcase_create("intervals");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_committed_tables_in_range);
    tcase_add_test(tc, test_committed_pages_in_range);
    tcase_add_test(tc, test_committed_forests_per_claim);
    tcase_add_test(tc, test_committed_verdicts_in_range);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
