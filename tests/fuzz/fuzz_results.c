/* libFuzzer harness: the readers of finished runs that `table`, `compare`,
 * `plot` and `show` use (a sweep's summary.csv, a run's summary.json,
 * metrics.csv, config.yaml, series.csv and trace.csv), through what those
 * commands call: nl_run_dir_status and nl_sweep_read_result (summary.json by
 * nl_json_flat_get), nl_results_load of a sweep and of a single run,
 * nl_table_write, nl_plot_write (every kind that applies, scripts only:
 * nothing is rendered), the same through a where filter as `normlab plot
 * --where` and a plot's `where:` give it, and nl_plot_compare of the two.
 * Input: byte 0: the table's metric (a summary.csv metric column, byte 0
 * modulo their count) and the compare's curves metric (byte 0 / 16 modulo
 * theirs); byte 1: bit i (i < 6) set: file i is written (possibly empty),
 * clear: it is missing; bit 6: the plots are written again filtered by
 * KEY=VALUE, a key the results have (a varied one, byte 0 picks, else one
 * of config.yaml) with a run's value of it (byte 0 / 16 picks the run);
 * bit 7: also by a second key of config.yaml with its value there; then
 * fuzz_split's lengths and the six files, in this order: summary.csv,
 * summary.json, metrics.csv, config.yaml, series.csv, trace.csv. The sweep directory holds summary.csv and, for each of the
 * first runs it names, runs/<run>/ with the other five; the single run's
 * directory holds the five. */
#include "log/files.h"
#include "plot/plot.h"
#include "results/results.h"
#include "results/run_result.h"
#include "train/run.h"
/* fuzz_files.h's dataset helpers go unused here */
#pragma clang diagnostic ignored "-Wunused-function"
#include "fuzz_files.h"

#define HEADER 2
enum { SUMMARY_CSV, SUMMARY_JSON, METRICS, CONFIG, SERIES, TRACE, N_FILES };
/* byte 1's bits past the files' */
#define WHERE_VARIED (1u << N_FILES)
#define WHERE_CONFIG (1u << (N_FILES + 1))
static const char *const file_names[N_FILES] = {"summary.csv", "summary.json", "metrics.csv",
                                                "config.yaml", "series.csv",   "trace.csv"};
/* the runs of a sweep given files: enough for variants and seeds to differ */
#define MAX_RUNS 4

static void make_dir(const char *path)
{
    FUZZ_REQUIRE(mkdir(path, 0700) == 0, "cannot make %s", path);
}

/* a run's files into dir: those the mask says exist */
static void write_run(const char *dir, unsigned mask, const uint8_t **part, const size_t *len)
{
    for (int f = SUMMARY_JSON; f < N_FILES; f++)
        if (mask >> f & 1u)
            fuzz_write_file(dir, file_names[f], part[f], len[f], false);
}

/* The run names in the first field of summary.csv's records after the
 * header (plain lines: a name with a quote, a slash or nothing is left
 * alone), at most MAX_RUNS distinct */
static int run_names(const uint8_t *csv, size_t len, char names[MAX_RUNS][64])
{
    int n = 0;
    size_t i = 0;
    while (i < len && csv[i] != '\n')
        i++;
    while (i < len && n < MAX_RUNS) {
        size_t start = ++i, end = start;
        while (end < len && csv[end] != ',' && csv[end] != '\n')
            end++;
        bool ok = end > start && end - start < 64;
        for (size_t k = start; k < end && ok; k++)
            ok = csv[k] != '/' && csv[k] != '"' && csv[k] != '\r' && csv[k] != '\0';
        if (ok) {
            memcpy(names[n], csv + start, end - start);
            names[n][end - start] = '\0';
            ok = strcmp(names[n], ".") && strcmp(names[n], "..");
            for (int j = 0; j < n && ok; j++)
                ok = strcmp(names[j], names[n]) != 0;
        }
        n += ok;
        i = end;
        while (i < len && csv[i] != '\n')
            i++;
    }
    return n;
}

static nl_plot_report report;

/* a where item into w as the command line adds it: a text it refuses (too
 * long, empty) is a usage error there, and skipped here */
static void add_where(nl_plot_where *w, const char *key, const char *value)
{
    char msg[512];
    if (key && value && !nl_plot_where_add(w, key, value, msg, sizeof msg))
        FUZZ_REQUIRE(msg[0] != '\0', "nl_plot_where_add refused '%s=%s' without a reason", key, value);
}

/* the plots of dir again, filtered by what byte 1's where bits ask for,
 * built from what the results hold (r, loaded from dir) */
static void check_where(const char *dir, const nl_results *r, unsigned mask, uint8_t pick)
{
    nl_plot_where where = {0};
    if (mask & WHERE_VARIED) {
        const char *key = r->n_keys > 0       ? r->keys[pick % r->n_keys]
                          : r->config.n > 0 ? r->config.items[pick % r->config.n].key
                                            : "model.norm.type";
        const char *value = r->n_runs > 0 ? nl_results_value(r, &r->runs[pick / 16 % r->n_runs], key) : "batch";
        add_where(&where, key, value ? value : "batch");
    }
    if ((mask & WHERE_CONFIG) && r->config.n > 0) {
        const nl_flat_entry *item = &r->config.items[(pick / 16 + 1u) % (unsigned)r->config.n];
        add_where(&where, item->key, item->value);
    }
    if (where.n == 0)
        return;
    nl_error err = {0};
    const nl_code rc = nl_plot_write_with(dir, NULL, 0, &where, NULL, &report, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_plot_write_with (where)");
        return;
    }
    FUZZ_REQUIRE(report.n >= 0 && report.n <= NL_PLOT_MAX_OUTPUTS, "%d plots", report.n);
}

/* what the results readers return: an error that follows the rules, or
 * runs whose fields are all there; then the plots through a where filter
 * when byte 1 asks for one */
static void check_results(const char *dir, bool sweep_dir, unsigned mask, uint8_t pick)
{
    nl_results r;
    nl_error err = {0};
    const nl_code rc = nl_results_load(dir, &r, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_results_load");
        return;
    }
    FUZZ_REQUIRE(r.sweep == sweep_dir, "%s read as a %s", dir, r.sweep ? "sweep" : "single run");
    FUZZ_REQUIRE(r.n_runs >= 0 && r.n_keys >= 0 && (r.sweep || r.n_runs == 1), "%d runs, %d keys",
                 r.n_runs, r.n_keys);
    FUZZ_REQUIRE(r.seed_key >= -1 && r.seed_key < r.n_keys, "seed key %d of %d", r.seed_key,
                 r.n_keys);
    for (int i = 0; i < r.n_runs; i++) {
        const nl_results_run *run = &r.runs[i];
        FUZZ_REQUIRE(memchr(run->status, 0, sizeof run->status) && memchr(run->name, 0, sizeof run->name),
                     "run %d: an unterminated name or status", i);
        for (int k = 0; k < r.n_keys; k++)
            FUZZ_REQUIRE(run->values[k] != NULL, "run %d: no value of key %d", i, k);
    }
    check_where(dir, &r, mask, pick);
    nl_results_free(&r);
}

static void check_table(const char *dir, const char *metric)
{
    nl_table_spec spec = {.metric = metric};
    nl_buf md = {0}, csv = {0}, notes = {0};
    nl_error err = {0};
    const nl_code rc = nl_table_write(dir, &spec, &md, &csv, &notes, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_table_write");
    } else {
        FUZZ_REQUIRE(md.data && strstr(md.data, metric), "the table does not name %s", metric);
        FUZZ_REQUIRE(csv.data && !strncmp(csv.data, "table", 5), "the CSV has no header");
    }
    nl_buf_free(&md);
    nl_buf_free(&csv);
    nl_buf_free(&notes);
}

static void check_plots(const char *dir)
{
    nl_error err = {0};
    const nl_code rc = nl_plot_write(dir, NULL, 0, &report, &err);
    if (rc != NL_OK)
        fuzz_check_error(rc, &err, "nl_plot_write");
    else
        FUZZ_REQUIRE(report.n >= 0 && report.n <= NL_PLOT_MAX_OUTPUTS, "%d plots", report.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[N_FILES];
    size_t len[N_FILES];
    if (!fuzz_split(data, size, HEADER, N_FILES, part, len))
        return 0;
    const unsigned mask = data[1];
    const char *base = fuzz_files_dir();
    char sweep[400], single[400], runs[420], run[500], out[400];
    snprintf(sweep, sizeof sweep, "%s/sweep", base);
    snprintf(single, sizeof single, "%s/single-run", base);
    snprintf(out, sizeof out, "%s/compare", base);
    fuzz_remove_tree(sweep);
    fuzz_remove_tree(single);
    fuzz_remove_tree(out);
    make_dir(sweep);
    make_dir(single);
    if (mask & 1u) {
        fuzz_write_file(sweep, file_names[SUMMARY_CSV], part[SUMMARY_CSV], len[SUMMARY_CSV], false);
        snprintf(runs, sizeof runs, "%s/runs", sweep);
        make_dir(runs);
        char names[MAX_RUNS][64];
        const int n = run_names(part[SUMMARY_CSV], len[SUMMARY_CSV], names);
        for (int i = 0; i < n; i++) {
            snprintf(run, sizeof run, "%s/%s", runs, names[i]);
            make_dir(run);
            write_run(run, mask, part, len);
        }
    }
    write_run(single, mask, part, len);

    /* summary.json as `show`, the sweeps and the plots read it */
    const nl_run_status status = nl_run_dir_status(single);
    FUZZ_REQUIRE(status >= 0 && status < NL_RUN_STATUS_COUNT, "status %d", (int)status);
    nl_sweep_result res;
    nl_sweep_read_result(single, &res);
    FUZZ_REQUIRE(res.state >= NL_SWEEP_PENDING && res.state <= NL_SWEEP_FAILED, "state %d",
                 (int)res.state);
    FUZZ_REQUIRE(memchr(res.started_at, 0, sizeof res.started_at) &&
                 memchr(res.reason, 0, sizeof res.reason), "an unterminated field");
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++)
        FUZZ_REQUIRE(memchr(res.metrics[m], 0, sizeof res.metrics[m]), "metric %d unterminated", m);
    if (mask >> SUMMARY_JSON & 1u) {
        char *json = fuzz_text(part[SUMMARY_JSON], len[SUMMARY_JSON]);
        if (json) {
            /* a value never overruns the buffer, however small */
            for (size_t cap = 1; cap <= 9; cap += 4) {
                char value[9];
                memset(value, 'x', sizeof value);
                if (nl_json_flat_get(json, "status", value, cap))
                    FUZZ_REQUIRE(strlen(value) < cap, "a %zu-byte value in %zu bytes",
                                 strlen(value), cap);
                for (size_t k = cap; k < sizeof value; k++)
                    FUZZ_REQUIRE(value[k] == 'x', "byte %zu written past %zu", k, cap);
            }
            free(json);
        }
    }

    check_results(sweep, mask & 1u, mask, data[0]);
    check_results(single, false, mask, data[0]);
    const char *metric = nl_sweep_metric_names[data[0] % NL_SWEEP_N_METRICS];
    check_table(sweep, metric);
    check_table(single, metric);
    check_plots(sweep);
    check_plots(single);

    nl_plot_spec spec;
    nl_plot_spec_init(&spec, NL_PLOT_CURVES);
    nl_copy_string(spec.metric, sizeof spec.metric,
                   nl_name_of(&nl_plot_curve_metric_names, data[0] / 16 % nl_plot_curve_metric_names.count));
    const char *dirs[2] = {sweep, single};
    nl_error err = {0};
    const nl_code rc = nl_plot_compare(dirs, 2, &spec, out, NULL, &report, &err);
    if (rc != NL_OK)
        fuzz_check_error(rc, &err, "nl_plot_compare");
    return 0;
}
