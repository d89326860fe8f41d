/* The training loop's probe table (core/config/probes.def, train/probe.h),
 * row by row: every row has a case here (a row without one fails), and
 * each case turns its row on through the row's own key on a small run and
 * finds the row's rows at exactly the steps its config asks for: every
 * series kind the row names in series.csv at those steps and no others
 * (the trace: trace.csv's steps), while the run's metrics equal those of
 * the run without it; and each row with a check refuses, before the run,
 * a run it cannot measure, naming the key to blame. A new probe is one line
 * in config/probes.def (which can declare its train.log.* key), its file,
 * and a case below (and a refusal, when it has a check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/probe.h"

static const char cnn[] =
    "data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, train_size: 128, test_size: 64}\n"
    "model: {arch: cnn, widths: [4, 8], dropout: {p: 0.2}}\n"
    "train: {batch_size: 16, steps: 12, eval_every: 6, log_every: 4, "
    "optimizer: {lr: 0.05, momentum: 0.9}}\n"
    "threads: 1\n";
static const char resnet[] =
    "data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, train_size: 128, test_size: 64}\n"
    "model: {arch: resnet, widths: [4, 8], blocks_per_stage: 1}\n"
    "train: {batch_size: 16, steps: 12, eval_every: 6, log_every: 4, "
    "optimizer: {type: adamw, lr: 0.01}}\n"
    "threads: 1\n";
static const char mlp[] =
    "data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, train_size: 128, test_size: 64}\n"
    "model: {arch: mlp, widths: [8], norm: {type: none}}\n"
    "train: {batch_size: 16, steps: 12, optimizer: {lr: 0.05}}\n"
    "threads: 1\n";
static const char lstm[] =
    "seed: 3\n"
    "data: {dataset: synthetic_text}\n"
    "model: {arch: rnn_lm, cell: lstm, hidden: 12, layers: 2, context: 8, "
    "norm: {type: batch, placement: in_cell}}\n"
    "train: {batch_size: 8, eval_batch_size: 16, steps: 12, eval_every: 6, log_every: 4, "
    "optimizer: {type: adamw, lr: 0.01}}\n"
    "threads: 1\n";

/* A run with one row on: its key's value, more settings, the steps its
 * rows must carry (-1 ends the list). */
typedef struct {
    const char *key;
    const char *config;
    const char *value;
    const char *more;
    long steps[8];
} probe_case;

static const probe_case cases[] = {
    /* at the evaluations: steps 0, 6 and 12 */
    {"train.log.variance_shift", cnn, "true", "", {0, 6, 12, -1}},
    {"train.log.step_norms", lstm, "true", "", {0, 6, 12, -1}},
    {"train.log.block_skip", resnet, "true", "", {0, 6, 12, -1}},
    /* at initialization alone */
    {"train.log.signal_propagation", resnet, "true",
     "--set train.log.signal_propagation_batches=2", {0, -1}},
    /* eval mode: every 4 steps, the last step's model too; train mode: on
     * steps 0, 4 and 8's own batches (step 12 is not taken) */
    {"train.trace.activation", cnn, "conv2.in",
     "--set train.trace.every=4 --set train.trace.samples=32", {0, 4, 8, 12, -1}},
    {"train.trace.activation", cnn, "conv2.in",
     "--set train.trace.every=4 --set train.trace.mode=train", {0, 4, 8, -1}},
    /* in steps 0, 5 and 10, before their updates */
    {"train.log.landscape.every", cnn, "5", "", {0, 5, 10, -1}},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* A run the row's check refuses: validate exits 2 naming `blamed`. */
typedef struct {
    const char *key;
    const char *config;
    const char *value;
    const char *more;
    const char *blamed;
} refusal_case;

static const refusal_case refusals[] = {
    /* the model has nothing the probe measures */
    {"train.log.variance_shift", mlp, "true", "", "train.log.variance_shift"},
    {"train.log.step_norms", cnn, "true", "", "train.log.step_norms"},
    {"train.log.block_skip", cnn, "true", "", "train.log.block_skip"},
    {"train.log.signal_propagation", mlp, "true", "", "train.log.signal_propagation"},
    {"train.log.signal_propagation", lstm, "true", "", "train.log.signal_propagation"},
    {"train.trace.activation", lstm, "x", "", "train.trace.activation"},
    {"train.trace.activation", cnn, "nope", "", "train.trace.activation"},
    {"train.trace.activation", cnn, "conv2.in", "--set train.trace.unit=4", "train.trace.unit"},
    /* more than the splits hold */
    {"train.log.signal_propagation", cnn, "true", "--set train.log.signal_propagation_batches=9",
     "train.log.signal_propagation_batches"},
    {"train.trace.activation", cnn, "conv2.in", "--set train.trace.samples=65",
     "train.trace.samples"},
};
enum { N_REFUSALS = sizeof refusals / sizeof refusals[0] };

static bool expected_step(const probe_case *c, long step)
{
    for (int i = 0; c->steps[i] >= 0; i++)
        if (c->steps[i] == step)
            return true;
    return false;
}

static int count_steps(const probe_case *c)
{
    int n = 0;
    while (c->steps[n] >= 0)
        n++;
    return n;
}

/* the rows of `csv` (step first, after a header line) of `series` (any
 * row when NULL): their count in *rows, a bit per expected step seen in
 * *seen; false when a row is at another step */
static bool steps_of(const probe_case *c, const char *csv, const char *series, unsigned *seen,
                     int *rows)
{
    *seen = 0;
    *rows = 0;
    bool only_expected = true;
    for (const char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char *end;
        const long step = strtol(line + 1, &end, 10);
        if (series) {
            /* ",<series>," right after the step */
            const size_t n = strlen(series);
            if (*end != ',' || strncmp(end + 1, series, n) || end[1 + n] != ',')
                continue;
        }
        (*rows)++;
        if (!expected_step(c, step)) {
            only_expected = false;
            continue;
        }
        for (int i = 0; c->steps[i] >= 0; i++)
            if (c->steps[i] == step)
                *seen |= 1u << i;
    }
    return only_expected;
}

static void check_case(const nl_probe_kind *kind, const probe_case *c)
{
    tu_tmp_make("probe-table");
    tu_tmp_write("r.yaml", c->config);
    ck_assert_int_eq(tu_normlab("run r.yaml --out plain --quiet"), 0);
    char args[1024];
    snprintf(args, sizeof args, "run r.yaml --out probed --quiet --set %s=%s %s", kind->key,
             c->value, c->more);
    const int status = tu_normlab(args);
    char *output = tu_normlab_output();
    ck_assert_msg(status == 0, "%s: exit %d:\n%s", args, status, output);
    free(output);

    char *a = tu_metrics_without_time("plain"), *b = tu_metrics_without_time("probed");
    ck_assert_msg(!strcmp(a, b), "%s changed training:\n%s\nvs\n%s", kind->key, a, b);
    free(a);
    free(b);

    const unsigned all = (1u << count_steps(c)) - 1;
    unsigned seen;
    int rows;
    if (kind->series[0] == NL_SERIES_COUNT) { /* trace.csv's rows */
        char *trace = tu_tmp_read("probed/trace.csv");
        const bool only_expected = steps_of(c, trace, NULL, &seen, &rows);
        ck_assert_msg(only_expected && seen == all && rows == count_steps(c),
                      "%s (%s): trace.csv's steps are not the expected ones:\n%s", kind->key,
                      c->more, trace);
        free(trace);
        tu_tmp_remove();
        return;
    }
    char *series = tu_tmp_read("probed/series.csv");
    for (int k = 0; kind->series[k] != NL_SERIES_COUNT; k++) {
        const char *name = nl_name_of(&nl_series_names, kind->series[k]);
        ck_assert_msg(steps_of(c, series, name, &seen, &rows) && seen == all,
                      "%s: series %s not at exactly the expected steps:\n%.3000s", kind->key,
                      name, series);
    }
    free(series);
    tu_tmp_remove();
}

START_TEST(test_every_row_has_a_case)
{
    ck_assert_int_ge(nl_probe_kind_count, 5);
    for (int k = 0; k < nl_probe_kind_count; k++) {
        const nl_probe_kind *kind = nl_probe_kinds[k];
        ck_assert_msg(kind->key && kind->on && kind->series && kind->size > 0 && kind->open &&
                          kind->due && kind->observe && kind->emit && kind->close,
                      "row %d (%s) is incomplete", k, kind->key ? kind->key : "?");
        int found = 0;
        for (int i = 0; i < N_CASES; i++)
            found += !strcmp(cases[i].key, kind->key);
        ck_assert_msg(found > 0, "the probe %s has no case in test_probe_table.c", kind->key);
    }
    /* a row with a check has a refusal, a row without one none */
    for (int k = 0; k < nl_probe_kind_count; k++) {
        const nl_probe_kind *kind = nl_probe_kinds[k];
        int found = 0;
        for (int i = 0; i < N_REFUSALS; i++)
            found += !strcmp(refusals[i].key, kind->key);
        ck_assert_msg((found > 0) == (kind->check != NULL),
                      "the probe %s %s a check but %s refusal in test_probe_table.c", kind->key,
                      kind->check ? "has" : "has no", found ? "a" : "no");
    }
    /* and no case names a key the table has not */
    for (int i = 0; i < N_CASES; i++) {
        int found = 0;
        for (int k = 0; k < nl_probe_kind_count; k++)
            found += !strcmp(cases[i].key, nl_probe_kinds[k]->key);
        ck_assert_msg(found == 1, "case %d: %s is no row of the probe table", i, cases[i].key);
    }
}
END_TEST

START_TEST(test_row_due_and_emitted)
{
    const probe_case *c = &cases[_i];
    for (int k = 0; k < nl_probe_kind_count; k++)
        if (!strcmp(nl_probe_kinds[k]->key, c->key))
            check_case(nl_probe_kinds[k], c);
}
END_TEST

START_TEST(test_row_refuses)
{
    const refusal_case *c = &refusals[_i];
    tu_tmp_make("probe-refusal");
    tu_tmp_write("r.yaml", c->config);
    char args[1024], blamed[256];
    snprintf(args, sizeof args, "validate r.yaml --set %s=%s %s", c->key, c->value, c->more);
    const int status = tu_normlab(args);
    char *output = tu_normlab_output();
    snprintf(blamed, sizeof blamed, ": %s: ", c->blamed);
    ck_assert_msg(status == 2 && strstr(output, blamed), "%s: exit %d, not 2 naming %s:\n%s",
                  args, status, c->blamed, output);
    free(output);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probe_table");
    TCase *tc = tcase_create("probe_table");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_row_has_a_case);
    tcase_add_loop_test(tc, test_row_due_and_emitted, 0, N_CASES);
    tcase_add_loop_test(tc, test_row_refuses, 0, N_REFUSALS);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
