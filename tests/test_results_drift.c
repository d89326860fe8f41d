/* Committed results re-run bit for bit at HEAD (issue 57). For every
 * committed reproduction (tu_committed_sweeps: the experiments whose sweep
 * directories are committed) the picker takes its cheapest finished run
 * (fewest steps x batch x forward MFLOP per sample, from its summary.json
 * and config.yaml; an ok run before a diverged one; of equal cost, the one
 * with the most parameters, a normalized variant over the plain model). In the default suite
 * (case "pick": seconds) it checks that every experiment has such a
 * run, and that the comparison sees a change of one float's last bit in
 * every compared field and ignores the clock's. With NL_DRIFT_RERUN=1
 * (test_results_drift_long, label long) "rerun" trains each picked run
 * again from its config.yaml into a temporary directory, under the kernel
 * set, thread count and convolution library (NORMLAB_CONV; normlab's own
 * where its summary predates the record) its summary.json records, and requires its
 * metrics.csv and summary.json to be the committed ones, bit for bit,
 * timings aside. NL_DRIFT_ONLY=EXP,EXP limits it to those experiments. A
 * fine-tuning run whose start model is not committed but whose starting
 * run is trains that run again first (compared too) and starts from its
 * model. A run this build or CPU cannot repeat (its kernel set; a start
 * model that is neither) is skipped, saying why; all skipped is a skip
 * (77), never a pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "log/files.h"
#include "results/store.h"
#include "testutil.h"

/* summary.json keys that say when, where and how fast a run ran, not what
 * it computed; "dataset" names the data's path (the default text corpus
 * lives in a build directory), and its sizes show in every metric */
static const char *const not_results[] = {
    "wall_s",     "train_s",     "samples_per_s", "tokens_per_s", "started_at",
    "finished_at", "host",       "command",       "git_commit",   "normlab_version",
    "usable_cores", "busy_cores_at_start", "dataset",
    /* where the source run lay on the machine that ran it: the rerun starts
     * from the source trained again in its own directory, whose bits are
     * compared apart (cannot_repeat) */
    "init_from",
};
/* metrics.csv's columns that are the clock's */
static const char *const clock_columns[] = {"elapsed_s"};

static bool listed(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}
#define LISTED(list, name) listed(list, sizeof list / sizeof *list, name)

typedef struct {
    char experiment[256], dir[1024];
    char run[256];     /* the picked run; "" when the sweep has no finished run */
    char kernels[64];  /* its recorded kernel set; "" where its summary predates them */
    char products[16]; /* its products' library (NORMLAB_GEMM); runs before the record ran OpenBLAS */
    char openblas_core[64]; /* its recorded OpenBLAS core; "" where its summary predates them
                             * (the kernel set pins one: x86-64-v3's runs of the Zen 3 ran
                             * its Haswell-ordered sgemm, which the pin repeats) */
    /* its recorded convolution library (cpu/conv_onednn.h); "" where its
     * summary predates the record: normlab's own convolutions ran it */
    char conv_library[NL_CONV_LIBRARY_RECORD_BYTES];
    char commit[64];   /* its recorded commit */
    int threads;
    double cost, parameters;
    int runs;          /* the sweep's finished runs */
    double wall_s;     /* their recorded wall times, summed: a full regeneration */
    char commits[16][64];
    int commit_runs[16], commit_count;
    char (*finished)[256]; /* every finished run's name (NL_DRIFT_ALL) */
    int finished_count;
} pick;

typedef struct {
    pick picks[256];
    int count;
} pick_list;

/* RUN_DIR/FILE's text, the run a directory or inside a packed sweep */
static char *read_text(const char *path)
{
    char dir[1500], *text = NULL;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    ck_assert(slash);
    *slash = '\0';
    nl_error err = {0};
    return nl_run_file_read(dir, slash + 1, &text, NULL, &err) == NL_OK ? text : NULL;
}

/* a run's config.yaml as a file `normlab run` reads: its own, or for a
 * run inside a packed sweep its text written out into tu_tmp */
static void config_file(const pick *p, const char *run_dir, char *out, size_t size)
{
    snprintf(out, size, "%s/config.yaml", run_dir);
    if (nl_is_dir(run_dir))
        return;
    char *config = read_text(out);
    ck_assert_msg(config, "%s: unreadable", out);
    char name[700];
    snprintf(name, sizeof name, "%s.%s.config.yaml", p->experiment, p->run);
    tu_tmp_write(name, config);
    free(config);
    snprintf(out, size, "%s/%s", tu_tmp, name);
}

static bool json_get(const char *json, const char *key, char *value, size_t size)
{
    return json && nl_json_flat_get(json, key, value, size);
}

static double json_number(const char *json, const char *key, double fallback)
{
    char value[64];
    char *end;
    if (!json_get(json, key, value, sizeof value))
        return fallback;
    const double v = strtod(value, &end);
    return end != value && !*end ? v : fallback;
}

/* train.batch_size of a resolved config.yaml (older summaries lack
 * rank_batch_size) */
static double config_batch_size(const char *config)
{
    const char *train = config ? strstr(config, "\ntrain:\n") : NULL;
    const char *key = train ? strstr(train, "\n  batch_size: ") : NULL;
    return key ? atof(key + strlen("\n  batch_size: ")) : 1;
}

/* what training the run cost, by its size: steps x batch x forward MFLOP a sample */
static double run_cost(const char *summary, const char *config)
{
    const double batch = json_number(summary, "rank_batch_size", 0) *
                         json_number(summary, "ranks", 1);
    return json_number(summary, "steps", 0) * (batch > 0 ? batch : config_batch_size(config)) *
           json_number(summary, "mflop_per_sample_forward", 1);
}

static void tally_commit(pick *p, const char *commit)
{
    for (int i = 0; i < p->commit_count; i++)
        if (strcmp(p->commits[i], commit) == 0) {
            p->commit_runs[i]++;
            return;
        }
    if (p->commit_count < 16) {
        snprintf(p->commits[p->commit_count], sizeof p->commits[0], "%s", commit);
        p->commit_runs[p->commit_count++] = 1;
    }
}

/* one run of the sweep: counted when finished, and picked when cheaper */
static void consider_run(pick *p, const char *run, int *picked_rank)
{
    char run_dir[1400], path[1500], status[32] = "";
    snprintf(run_dir, sizeof run_dir, "%s/%s/runs/%s", NORMLAB_SOURCE_DIR, p->dir, run);
    snprintf(path, sizeof path, "%s/summary.json", run_dir);
    char *summary = read_text(path);
    json_get(summary, "status", status, sizeof status);
    /* an ok run checks more of the training than one cut short by a NaN */
    const int rank = strcmp(status, "ok") == 0 ? 0 : strcmp(status, "diverged") == 0 ? 1 : -1;
    if (rank >= 0) {
        snprintf(path, sizeof path, "%s/config.yaml", run_dir);
        char *config = read_text(path);
        char commit[64] = "?";
        json_get(summary, "git_commit", commit, sizeof commit);
        tally_commit(p, commit);
        char(*grown)[256] = realloc(p->finished, (size_t)(p->runs + 1) * sizeof *p->finished);
        ck_assert(grown);
        p->finished = grown;
        snprintf(p->finished[p->runs], sizeof *p->finished, "%s", run);
        p->finished_count = ++p->runs;
        p->wall_s += json_number(summary, "wall_s", 0);
        const double cost = run_cost(summary, config);
        const double parameters = json_number(summary, "parameters", 0);
        /* of runs that cost the same, the one with more parameters: the
         * normalized variant over the plain one it is compared with */
        if (config && (*picked_rank < 0 || rank < *picked_rank ||
                       (rank == *picked_rank &&
                        (cost < p->cost || (cost == p->cost && parameters > p->parameters))))) {
            *picked_rank = rank;
            p->cost = cost;
            p->parameters = parameters;
            snprintf(p->run, sizeof p->run, "%s", run);
            snprintf(p->commit, sizeof p->commit, "%s", commit);
            p->threads = (int)json_number(summary, "threads", 0);
            if (!json_get(summary, "cpu_kernels", p->kernels, sizeof p->kernels))
                p->kernels[0] = '\0';
            if (!json_get(summary, "openblas_core", p->openblas_core, sizeof p->openblas_core))
                p->openblas_core[0] = '\0';
            if (!json_get(summary, "products", p->products, sizeof p->products) || !p->products[0])
                snprintf(p->products, sizeof p->products, "openblas");
            if (!json_get(summary, "conv_library", p->conv_library, sizeof p->conv_library))
                p->conv_library[0] = '\0';
        }
        free(config);
    }
    free(summary);
}

/* tu_committed_sweeps' visit: the runs its dry run lists ("   4  RUN  ...") */
static void pick_sweep(const char *experiment, const char *dir, int status, const char *output,
                       void *ctx)
{
    pick_list *list = ctx;
    ck_assert_msg(status == 0, "experiments/%s: the dry run exited %d", experiment, status);
    ck_assert_int_lt(list->count, (int)(sizeof list->picks / sizeof *list->picks));
    pick *p = &list->picks[list->count++];
    memset(p, 0, sizeof *p);
    snprintf(p->experiment, sizeof p->experiment, "%s", experiment);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    int picked_rank = -1;
    for (const char *line = output; line && *line;) {
        int index;
        char run[256];
        if (sscanf(line, "%d %255s", &index, run) == 2)
            consider_run(p, run, &picked_rank);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
}

static pick_list *pick_all(void)
{
    pick_list *list = calloc(1, sizeof *list);
    ck_assert(list);
    tu_committed_sweeps(pick_sweep, list);
    return list;
}

static void free_picks(pick_list *list)
{
    for (int i = 0; i < list->count; i++)
        free(list->picks[i].finished);
    free(list);
}

/* "abc (12), def (3)" */
static void commits_text(const pick *p, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < p->commit_count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s (%d)", i ? ", " : "",
                                 p->commits[i], p->commit_runs[i]);
}

/* Every committed experiment has a run to repeat, with what repeating it
 * needs: so the long test cannot check nothing without this one failing. */
static void check_picks(const pick_list *list)
{
    ck_assert_int_ge(list->count, 1);
    for (int i = 0; i < list->count; i++) {
        const pick *p = &list->picks[i];
        ck_assert_msg(p->run[0], "experiments/%s: no finished run in %s", p->experiment, p->dir);
        ck_assert_msg(p->threads >= 1, "%s/runs/%s: no thread count recorded", p->dir, p->run);
        ck_assert_msg(p->cost > 0 && isfinite(p->cost), "%s/runs/%s: no cost", p->dir, p->run);
        printf("%-26s %3d runs  picked %s (%s, %d thread%s)\n", p->experiment, p->runs, p->run,
               p->kernels[0] ? p->kernels : "kernel set not recorded", p->threads,
               p->threads == 1 ? "" : "s");
    }
}

/* the same value: the same text, or the same number written otherwise */
static bool same_value(const char *want, const char *got)
{
    if (strcmp(want, got) == 0)
        return true;
    char *end_want, *end_got;
    const double a = strtod(want, &end_want), b = strtod(got, &end_got);
    return end_want != want && !*end_want && end_got != got && !*end_got && a == b;
}

/* Every key of the committed summary.json that is a result (not_results
 * aside) against the new one's; returns how many differ, each in report. */
static int compare_summaries(const char *want, const char *got, nl_buf *report)
{
    int differ = 0;
    for (const char *line = want; line && *line;) {
        char key[128], want_value[1024], got_value[1024];
        if (sscanf(line, "  \"%127[^\"]\":", key) == 1 && !LISTED(not_results, key) &&
            json_get(want, key, want_value, sizeof want_value)) {
            if (!json_get(got, key, got_value, sizeof got_value)) {
                nl_buf_printf(report, "    summary.json %s: committed %s, not written at HEAD\n", key,
                              want_value);
                differ++;
            } else if (!same_value(want_value, got_value)) {
                char *end;
                const double change = strtod(got_value, &end) - atof(want_value);
                nl_buf_printf(report, "    summary.json %s: committed %s, now %s", key, want_value,
                              got_value);
                nl_buf_printf(report, end != got_value ? " (%+.3g)\n" : "\n", change);
                differ++;
            }
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return differ;
}

#define MAX_CELLS 32

/* one CSV line's cells, split in place (empty cells kept) */
static int split_cells(char *line, char **cells)
{
    int n = 0;
    char *cell;
    while ((cell = strsep(&line, ",")) && n < MAX_CELLS)
        cells[n++] = cell;
    return n;
}

static int split_lines(char *text, char ***lines)
{
    int n = 0, cap = 256;
    *lines = malloc((size_t)cap * sizeof **lines);
    ck_assert(*lines);
    char *line;
    while ((line = strsep(&text, "\n"))) {
        if (!*line)
            continue;
        if (n == cap) {
            cap *= 2;
            *lines = realloc(*lines, (size_t)cap * sizeof **lines);
            ck_assert(*lines);
        }
        (*lines)[n++] = line;
    }
    return n;
}

/* Every row and column of the committed metrics.csv (the clock's aside)
 * against the new one's, columns matched by name; returns how many rows
 * differ, the first and last of them in report. */
static int compare_metrics(const char *want_text, const char *got_text, nl_buf *report)
{
    char *want_copy = strdup(want_text), *got_copy = strdup(got_text);
    char **want, **got;
    const int want_rows = split_lines(want_copy, &want), got_rows = split_lines(got_copy, &got);
    int differ = 0, where[MAX_CELLS];
    char *want_head[MAX_CELLS], *got_head[MAX_CELLS];
    const int want_columns = want_rows ? split_cells(want[0], want_head) : 0;
    const int got_columns = got_rows ? split_cells(got[0], got_head) : 0;
    for (int c = 0; c < want_columns; c++) {
        where[c] = -1;
        for (int g = 0; g < got_columns; g++)
            if (strcmp(want_head[c], got_head[g]) == 0)
                where[c] = g;
        if (where[c] < 0 && !LISTED(clock_columns, want_head[c])) {
            nl_buf_printf(report, "    metrics.csv: column %s not written at HEAD\n", want_head[c]);
            differ++;
        }
    }
    if (want_rows != got_rows) {
        nl_buf_printf(report, "    metrics.csv: %d rows committed, %d now\n", want_rows - 1,
                      got_rows - 1);
        differ++;
    }
    char last[1024] = "";
    for (int r = 1; r < want_rows && r < got_rows; r++) {
        char *w[MAX_CELLS], *g[MAX_CELLS];
        const int wn = split_cells(want[r], w), gn = split_cells(got[r], g);
        for (int c = 0; c < wn; c++) {
            if (LISTED(clock_columns, want_head[c]) || where[c] < 0)
                continue;
            const char *now = where[c] < gn ? g[where[c]] : "(none)";
            if (!same_value(w[c], now)) {
                nl_buf line = {0};
                nl_buf_printf(&line, "step %s %s, %s committed %s, now %s", w[0], wn > 2 ? w[2] : "",
                              want_head[c], w[c], now);
                if (!differ)
                    nl_buf_printf(report, "    metrics.csv first: %s\n", line.data);
                snprintf(last, sizeof last, "%s", line.data);
                nl_buf_free(&line);
                differ++;
                break;
            }
        }
    }
    if (differ > 1 && last[0])
        nl_buf_printf(report, "    metrics.csv last:  %s (%d of %d rows differ)\n", last, differ,
                      want_rows - 1);
    free(want);
    free(got);
    free(want_copy);
    free(got_copy);
    return differ;
}

/* text with [start, end) replaced by `with` (the caller frees it) */
static char *replaced(const char *text, size_t start, size_t end, const char *with)
{
    nl_buf b = {0};
    nl_buf_printf(&b, "%.*s%s%s", (int)start, text, with, text + end);
    ck_assert(!b.failed);
    return b.data;
}

/* Each summary.json key of the committed run in turn given another value:
 * a result is one difference, a timing none. */
static void check_summary_perturbations(const pick *p, const char *summary)
{
    ck_assert_int_eq(compare_summaries(summary, summary, &(nl_buf){0}), 0);
    int results = 0;
    for (const char *line = summary; line && *line;) {
        char key[128];
        const char *colon = strstr(line, "\": ");
        const char *end = strchr(line, '\n');
        if (sscanf(line, "  \"%127[^\"]\":", key) == 1 && colon && end && colon < end) {
            const size_t from = (size_t)(colon + 3 - summary);
            const size_t to = (size_t)(end - summary) - (end[-1] == ',' ? 1 : 0);
            char *changed = replaced(summary, from, to, "\"perturbed\"");
            nl_buf report = {0};
            const bool result = !LISTED(not_results, key);
            ck_assert_msg(compare_summaries(summary, changed, &report) == (result ? 1 : 0),
                          "%s/runs/%s: summary.json %s changed: %s", p->dir, p->run, key,
                          report.data ? report.data : "(no difference)");
            results += result;
            nl_buf_free(&report);
            free(changed);
        }
        line = end ? end + 1 : NULL;
    }
    ck_assert_int_ge(results, 5);
}

/* metrics.csv's first row with column c given `value` */
static char *metrics_with_cell(const char *metrics, int c, const char *value)
{
    const char *row = strchr(metrics, '\n') + 1;
    const char *cell = row;
    for (int k = 0; k < c; k++)
        cell = strchr(cell, ',') + 1;
    const size_t len = strcspn(cell, ",\n");
    return replaced(metrics, (size_t)(cell - metrics), (size_t)(cell - metrics) + len, value);
}

/* Each column of metrics.csv's first row moved by one float's last bit:
 * one row differs, none for the clock's column; the same number written
 * with another trailing zero is no difference. */
static void check_metrics_perturbations(const pick *p, const char *metrics)
{
    ck_assert_int_eq(compare_metrics(metrics, metrics, &(nl_buf){0}), 0);
    char header[1024];
    snprintf(header, sizeof header, "%.*s", (int)strcspn(metrics, "\n"), metrics);
    char *cells[MAX_CELLS], *row_cells[MAX_CELLS];
    const int columns = split_cells(header, cells);
    char row[1024];
    const char *first = strchr(metrics, '\n') + 1;
    snprintf(row, sizeof row, "%.*s", (int)strcspn(first, "\n"), first);
    ck_assert_int_eq(split_cells(row, row_cells), columns);
    for (int c = 0; c < columns; c++) {
        char value[64], *end;
        const float v = strtof(row_cells[c], &end);
        const bool number = end != row_cells[c] && !*end;
        if (number)
            snprintf(value, sizeof value, "%.9g", (double)nextafterf(v, INFINITY));
        else
            snprintf(value, sizeof value, "%s", "perturbed");
        char *changed = metrics_with_cell(metrics, c, value);
        nl_buf report = {0};
        const int want = LISTED(clock_columns, cells[c]) ? 0 : 1;
        ck_assert_msg(compare_metrics(metrics, changed, &report) == want,
                      "%s/runs/%s: metrics.csv %s %s -> %s: %s", p->dir, p->run, cells[c],
                      row_cells[c], value, report.data ? report.data : "(no difference)");
        nl_buf_free(&report);
        free(changed);
        if (number && strchr(row_cells[c], '.') && !strchr(row_cells[c], 'e')) {
            snprintf(value, sizeof value, "%s0", row_cells[c]);
            changed = metrics_with_cell(metrics, c, value);
            ck_assert_int_eq(compare_metrics(metrics, changed, &(nl_buf){0}), 0);
            free(changed);
        }
    }
}

/* The comparison the rerun makes, on every committed experiment's picked
 * run: itself is identical; every field it compares, moved by the least
 * amount, is seen; the timings are not. */
static void check_comparison(const pick_list *list)
{
    for (int i = 0; i < list->count; i++) {
        const pick *p = &list->picks[i];
        char path[1500];
        snprintf(path, sizeof path, "%s/%s/runs/%s/summary.json", NORMLAB_SOURCE_DIR, p->dir, p->run);
        char *summary = read_text(path);
        snprintf(path, sizeof path, "%s/%s/runs/%s/metrics.csv", NORMLAB_SOURCE_DIR, p->dir, p->run);
        char *metrics = read_text(path);
        ck_assert_msg(summary && metrics, "%s/runs/%s: unreadable", p->dir, p->run);
        check_summary_perturbations(p, summary);
        check_metrics_perturbations(p, metrics);
        free(summary);
        free(metrics);
    }
}

/* the default suite's part: one pick (a dry run per experiment) for both */
START_TEST(test_picker_and_comparison)
{
    pick_list *list = pick_all();
    check_picks(list);
    check_comparison(list);
    free_picks(list);
}
END_TEST

/* Why this build, on this CPU, cannot repeat the run; NULL when it can.
 * A fine-tuning run starts from another run's final model, which is not
 * committed (.gitignore: final.nlck): where that run is a committed run
 * (its config.yaml and summary.json), `start` gets its directory, to be
 * trained again first; otherwise the run cannot be repeated. */
/* the NORMLAB_CONV choice whose record is p's (an empty record: normlab) */
static nl_conv_library conv_choice_of(const pick *p)
{
    if (!strncmp(p->conv_library, "auto", 4))
        return NL_CONV_LIBRARY_AUTO;
    return strncmp(p->conv_library, "onednn", 6) ? NL_CONV_LIBRARY_NORMLAB : NL_CONV_LIBRARY_ONEDNN;
}

static const char *const conv_choice_names[] = {
    [NL_CONV_LIBRARY_AUTO] = "auto",
    [NL_CONV_LIBRARY_NORMLAB] = "normlab",
    [NL_CONV_LIBRARY_ONEDNN] = "onednn",
};

/* a recorded library (or auto's rule) other than this build's cannot repeat the bits */
static bool conv_library_differs(const pick *p, char *why, size_t size)
{
    char here[NL_CONV_LIBRARY_RECORD_BYTES];
    nl_cpu_conv_library_record(conv_choice_of(p), here, sizeof here);
    if (!p->conv_library[0] || !strcmp(p->conv_library, here))
        return false;
    snprintf(why, size, "it ran its convolutions on %s, this build's are %s", p->conv_library,
             here);
    return true;
}

static const char *cannot_repeat(const pick *p, const char *config, char *start,
                                 size_t start_size, char *why, size_t size)
{
    start[0] = '\0';
    if (conv_library_differs(p, why, size))
        return why;
    if (p->kernels[0]) {
        int index = -1;
        for (int i = 0; i < nl_cpu_kernel_set_count(); i++)
            if (strcmp(nl_cpu_kernel_set_name(i), p->kernels) == 0)
                index = i;
        if (index < 0)
            snprintf(why, size, "this build holds no %s kernel set (-DNORMLAB_CPU_KERNEL_SETS)",
                     p->kernels);
        else if (!nl_cpu_kernel_set_runs_here(index))
            snprintf(why, size, "this CPU cannot run the %s kernel set", p->kernels);
        if (index < 0 || !nl_cpu_kernel_set_runs_here(index))
            return why;
    }
    char from[1024], path[1200];
    const char *init = strstr(config, "\ninit:\n  from: \"");
    if (init && sscanf(init + strlen("\ninit:\n  from: \""), "%1023[^\"]", from) == 1) {
        snprintf(path, sizeof path, "%s/%s/final.nlck", NORMLAB_SOURCE_DIR, from);
        if (nl_path_exists(path))
            return NULL;
        snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, from);
        if (nl_run_file_exists(path, "config.yaml") && nl_run_file_exists(path, "summary.json") &&
            strstr(from, "/runs/")) {
            snprintf(start, start_size, "%s", from);
            return NULL;
        }
        snprintf(why, size, "it starts from %s, whose final model is not committed", from);
        return why;
    }
    return NULL;
}

typedef struct {
    int checked, identical, drifted, failed, skipped;
    nl_buf verdicts; /* one line per experiment, for the end */
} tally;

/* Trains the picked run again into tu_tmp and compares; returns the
 * differences, -1 when the run failed (its log in report). */
static int rerun(const pick *p, const char *run_dir, const char *start_model, nl_buf *report,
                 double *seconds)
{
    char command[8192], out[1400], start[1500] = "", config[1600];
    snprintf(out, sizeof out, "%s/%s.%s", tu_tmp, p->experiment, p->run);
    config_file(p, run_dir, config, sizeof config);
    if (start_model) /* the start model trained again (cannot_repeat) */
        snprintf(start, sizeof start, " --set 'init.from=%s'", start_model);
    snprintf(command, sizeof command,
             "cd '%s' && NORMLAB_CPU_KERNELS='%s' NORMLAB_GEMM='%s' NORMLAB_CONV=%s %s%s%s'%s' run "
             "'%s'%s --out '%s' --quiet --threads %d >'%s.log' 2>&1",
             NORMLAB_SOURCE_DIR, p->kernels[0] ? p->kernels : "auto", p->products,
             conv_choice_names[conv_choice_of(p)],
             p->openblas_core[0] ? "OPENBLAS_CORETYPE='" : "env -u OPENBLAS_CORETYPE ",
             p->openblas_core, p->openblas_core[0] ? "' " : "", NORMLAB_BINARY, config, start,
             out, p->threads, out);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int status = system(command);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    char path[1500];
    if (status != 0) {
        snprintf(path, sizeof path, "%s.log", out);
        char *log = read_text(path);
        nl_buf_printf(report, "    exit status %d: %s\n", status, log ? log : "(no log)");
        free(log);
        return -1;
    }
    int differ = 0;
    static const char *const files[] = {"summary.json", "metrics.csv"};
    for (size_t f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/%s", run_dir, files[f]);
        char *want = read_text(path);
        snprintf(path, sizeof path, "%s/%s", out, files[f]);
        char *got = read_text(path);
        ck_assert_msg(want && got, "%s: %s unreadable", p->run, files[f]);
        differ += f == 0 ? compare_summaries(want, got, report) : compare_metrics(want, got, report);
        free(want);
        free(got);
    }
    return differ;
}

static void check_one(const pick *p, tally *t)
{
    char run_dir[1400], path[1500], why[1200], commits[1200], start[1024];
    snprintf(run_dir, sizeof run_dir, "%s/%s/runs/%s", NORMLAB_SOURCE_DIR, p->dir, p->run);
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    char *config = read_text(path);
    ck_assert(config);
    commits_text(p, commits, sizeof commits);
    printf("%s: %s (%s, %d thread%s, commit %s); its %d runs took %.1f min to train\n",
           p->experiment, p->run, p->kernels[0] ? p->kernels : "kernel set not recorded: auto",
           p->threads, p->threads == 1 ? "" : "s", p->commit, p->runs, p->wall_s / 60);
    if (p->commit_count > 1)
        printf("  its runs record different commits: %s\n", commits);
    const char *reason = cannot_repeat(p, config, start, sizeof start, why, sizeof why);
    free(config);
    if (reason) {
        printf("  skipped: %s\n", reason);
        nl_buf_printf(&t->verdicts, "  skipped    %s: %s\n", p->experiment, reason);
        t->skipped++;
        fflush(stdout);
        return;
    }
    nl_buf report = {0};
    double seconds, start_seconds = 0;
    char start_out[1400] = "";
    int differ = 0;
    if (start[0]) {
        /* the run it starts from, trained again under its own recorded
         * kernel set and threads; its bits are compared too */
        pick from = {0};
        const char *runs = strstr(start, "/runs/");
        snprintf(from.dir, sizeof from.dir, "%.*s", (int)(runs - start), start);
        snprintf(from.experiment, sizeof from.experiment, "start-of-%.200s", p->experiment);
        int rank = -1;
        consider_run(&from, runs + strlen("/runs/"), &rank);
        free(from.finished);
        snprintf(start_out, sizeof start_out, "%s/%s.%s", tu_tmp, from.experiment, from.run);
        snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, start);
        nl_buf_printf(&report, "    first trained again: %s, which it starts from\n", start);
        const int start_differ = rerun(&from, path, NULL, &report, &start_seconds);
        if (start_differ != 0)
            nl_buf_printf(&report, "    (the run it starts from %s)\n",
                          start_differ < 0 ? "failed" : "drifted");
        differ = start_differ;
    }
    if (differ >= 0) {
        const int own = rerun(p, run_dir, start[0] ? start_out : NULL, &report, &seconds);
        differ = own < 0 ? own : differ + own;
    } else {
        seconds = 0;
    }
    seconds += start_seconds;
    const char *verdict = differ < 0 ? "FAILED" : differ ? "DRIFTED" : "identical";
    printf("  %s (%.0f s)\n%s", verdict, seconds, report.data ? report.data : "");
    nl_buf_printf(&t->verdicts, "  %-10s %s (%s)\n", verdict, p->experiment, p->run);
    fflush(stdout);
    nl_buf_free(&report);
    t->checked++;
    t->identical += differ == 0;
    t->drifted += differ > 0;
    t->failed += differ < 0;
}

/* NL_DRIFT_ONLY=EXP,EXP: whether it names experiments/EXP.yaml */
static bool selected(const char *only, const char *experiment)
{
    if (!only || !*only)
        return true;
    const size_t len = strlen(experiment) - strlen(".yaml");
    for (const char *at = only; at && *at;) {
        const size_t n = strcspn(at, ",");
        if (n == len && strncmp(at, experiment, len) == 0)
            return true;
        at = at[n] ? at + n + 1 : NULL;
    }
    return false;
}

/* a result re-runs under the library its summary records: none (results
 * from before the record) or normlab's name normlab's own, oneDNN's or
 * auto's record its choice; another version or rule cannot repeat */
START_TEST(test_conv_library_of_record)
{
    pick p = {0};
    char why[256];
    ck_assert_int_eq(conv_choice_of(&p), NL_CONV_LIBRARY_NORMLAB);
    ck_assert(!conv_library_differs(&p, why, sizeof why));
    snprintf(p.conv_library, sizeof p.conv_library, "normlab");
    ck_assert_int_eq(conv_choice_of(&p), NL_CONV_LIBRARY_NORMLAB);
    ck_assert(!conv_library_differs(&p, why, sizeof why));
    static const nl_conv_library kinds[] = {NL_CONV_LIBRARY_ONEDNN, NL_CONV_LIBRARY_AUTO};
    for (int k = 0; k < 2 && nl_cpu_onednn_version(); k++) {
        nl_cpu_conv_library_record(kinds[k], p.conv_library, sizeof p.conv_library);
        ck_assert_int_eq(conv_choice_of(&p), kinds[k]);
        ck_assert_msg(!conv_library_differs(&p, why, sizeof why), "%s", why);
    }
    snprintf(p.conv_library, sizeof p.conv_library, "onednn 1.0.0");
    ck_assert_int_eq(conv_choice_of(&p), NL_CONV_LIBRARY_ONEDNN);
    ck_assert(conv_library_differs(&p, why, sizeof why) && strstr(why, "onednn 1.0.0"));
}
END_TEST

START_TEST(test_rerun_is_bit_identical)
{
    pick_list *list = pick_all();
    tu_tmp_make("drift");
    tally t = {0};
    /* NL_DRIFT_ALL=1: every finished run of the experiments, not only the cheapest */
    const char *all = getenv("NL_DRIFT_ALL");
    for (int i = 0; i < list->count; i++) {
        const pick *p = &list->picks[i];
        if (!selected(getenv("NL_DRIFT_ONLY"), p->experiment))
            continue;
        if (!all || strcmp(all, "1") != 0) {
            check_one(p, &t);
            continue;
        }
        for (int r = 0; r < p->finished_count; r++) {
            pick one = *p; /* the sweep's tallies, this run's own record */
            int rank = -1;
            one.runs = 0;
            one.wall_s = 0;
            one.commit_count = 0;
            one.finished = NULL;
            consider_run(&one, p->finished[r], &rank);
            one.runs = p->runs;
            one.wall_s = p->wall_s;
            one.commit_count = p->commit_count;
            memcpy(one.commit_runs, p->commit_runs, sizeof one.commit_runs);
            memcpy(one.commits, p->commits, sizeof one.commits);
            free(one.finished);
            check_one(&one, &t);
        }
    }
    printf("results drift: %d re-run, %d identical, %d drifted, %d failed; %d skipped\n%s", t.checked,
           t.identical, t.drifted, t.failed, t.skipped, t.verdicts.data ? t.verdicts.data : "");
    fflush(stdout); /* a failing check below ends the forked test before exit's flush */
    ck_assert_msg(t.checked > 0, "nothing re-run: %d skipped", t.skipped);
    ck_assert_msg(t.drifted == 0 && t.failed == 0, "%d of %d committed runs drifted, %d failed",
                  t.drifted, t.checked, t.failed);
    nl_buf_free(&t.verdicts);
    tu_tmp_remove();
    free_picks(list);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("results_drift");
    TCase *pick_case = tcase_create("pick");
    tcase_set_timeout(pick_case, 300);
    tcase_add_test(pick_case, test_picker_and_comparison);
    tcase_add_test(pick_case, test_conv_library_of_record);
    suite_add_tcase(s, pick_case);
    /* training every committed experiment's run again: an hour or more on
     * 2 cores, so only on request (test_results_drift_long, label long) */
    const char *rerun_env = getenv("NL_DRIFT_RERUN");
    if (rerun_env && strcmp(rerun_env, "1") == 0) {
        TCase *rerun_case = tcase_create("rerun");
        tcase_set_timeout(rerun_case, 6 * 3600);
        tcase_add_test(rerun_case, test_rerun_is_bit_identical);
        suite_add_tcase(s, rerun_case);
    }
    return tu_run_suite(s);
}
