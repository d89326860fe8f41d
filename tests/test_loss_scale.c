/* Dynamic loss scaling (core/train/loss_scale.h, the scale_check_finite
 * op, the training step's use of them): the scaler's sequence of scales
 * against GradScaler's on scripted overflows (tests/fixtures/gradscaler.nlfx,
 * written by tests/golden/make_goldens.py gradscaler: torch 1.13 has no CPU
 * kernel of torch._amp_update_scale_, so without a GPU the generator runs
 * that kernel's rule as AmpKernels.cu writes it, on float32 values), the
 * op's unscaling, flag and zero count, and runs whose scaled gradients
 * overflow: skipped steps, backoff and growth in series.csv, and a killed
 * run resumed continuing the scale's sequence exactly. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "testutil.h"
#include "train/checkpoint.h"
#include "train/loss_scale.h"

START_TEST(test_gradscaler_sequence)
{
    tu_fixture *fx = tu_fixture_load("gradscaler.nlfx");
    ck_assert_int_lt(_i, tu_fixture_cases(fx));
    char c[16];
    snprintf(c, sizeof c, "case%d", _i);
    const float *args = tu_getf_in(fx, c, "args");
    const tu_tensor *interval = tu_get_in(fx, c, "interval");
    const tu_tensor *flags = tu_get_in(fx, c, "found_inf");
    const float *scales = tu_getf_in(fx, c, "scale");
    const int32_t *trackers = tu_get_in(fx, c, "tracker")->data;
    nl_loss_scale_spec spec;
    nl_loss_scale_spec_defaults(&spec);
    spec.enabled = true;
    spec.init_scale = args[0];
    spec.growth_factor = args[1];
    spec.backoff_factor = args[2];
    spec.growth_interval = ((const int32_t *)interval->data)[0];
    nl_loss_scaler s;
    nl_loss_scaler_start(&s, &spec);
    long skipped = 0;
    for (size_t k = 0; k < flags->count; k++) {
        const bool found = ((const int32_t *)flags->data)[k] != 0;
        skipped += found;
        nl_loss_scaler_update(&s, &spec, found);
        ck_assert_msg((float)s.scale == scales[k] && s.scale == (double)(float)s.scale,
                      "%s step %zu: scale %.9g, GradScaler's %.9g", c, k, s.scale,
                      (double)scales[k]);
        ck_assert_msg(s.growth_tracker == trackers[k], "%s step %zu: tracker %ld, GradScaler's %d",
                      c, k, s.growth_tracker, trackers[k]);
        ck_assert_int_eq(s.skipped_steps, skipped);
    }
    tu_fixture_free(fx);
}
END_TEST

/* the cases hold both an overflow's backoff and a growth, and one growth
 * refused at the float range's end: the sequence test above can fail */
START_TEST(test_gradscaler_fixture_covers_the_rule)
{
    tu_fixture *fx = tu_fixture_load("gradscaler.nlfx");
    bool backoff = false, growth = false, refused = false;
    for (int i = 0; i < tu_fixture_cases(fx); i++) {
        char c[16];
        snprintf(c, sizeof c, "case%d", i);
        const float *args = tu_getf_in(fx, c, "args");
        const tu_tensor *flags = tu_get_in(fx, c, "found_inf");
        const float *scales = tu_getf_in(fx, c, "scale");
        const int32_t *trackers = tu_get_in(fx, c, "tracker")->data;
        float before = args[0];
        for (size_t k = 0; k < flags->count; k++) {
            const bool found = ((const int32_t *)flags->data)[k] != 0;
            backoff |= found && scales[k] < before;
            growth |= !found && scales[k] > before;
            refused |= !found && trackers[k] == 0 && scales[k] == before && isfinite(before) &&
                       !isfinite(before * args[1]);
            before = scales[k];
        }
    }
    ck_assert(backoff && growth && refused);
    tu_fixture_free(fx);
}
END_TEST

/* the op on the CPU: every element multiplied (inf and NaN too), the flag
 * set by an inf, a -inf or a NaN and left alone otherwise, the zeros counted
 * and added to the total; sizes on one thread and over the parallel path */
START_TEST(test_scale_check_finite_op)
{
    static const size_t sizes[] = {1, 37, 1000, 3 * NL_PARALLEL_MIN + 5};
    static const float specials[] = {0.0f, INFINITY, -INFINITY, NAN};
    nl_backend *be = tu_cpu(4);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const size_t n = sizes[si];
        for (int special = -1; special < 4; special++) {
            float *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
            ck_assert(x && want);
            tu_fill_normal(x, n, 11 + si, 0.0f, 3.0f);
            /* zeros: a few placed, the special at the end */
            size_t zeros = 0;
            for (size_t i = 0; i < n; i += 7)
                x[i] = 0.0f;
            if (special >= 0)
                x[n - 1] = specials[special];
            for (size_t i = 0; i < n; i++)
                zeros += x[i] == 0.0f;
            const float factor = 1.0f / 3.0f;
            for (size_t i = 0; i < n; i++)
                want[i] = x[i] * factor;
            double slots[NL_UNSCALE_SLOTS];
            for (int k = 0; k < NL_UNSCALE_SLOTS; k++)
                slots[k] = -1.0; /* the parts' slots are written, not added to */
            slots[NL_UNSCALE_ZEROS] = 5.0;
            float flag = 0.0f;
            be->ops->scale_check_finite(be, n, x, &factor, &flag, slots);
            const bool bad = special > 0;
            ck_assert_msg(flag == (bad ? 1.0f : 0.0f), "n %zu special %d: flag %g", n, special,
                          (double)flag);
            ck_assert_msg(slots[NL_UNSCALE_ZEROS] == 5.0 + (double)zeros,
                          "n %zu special %d: zeros %.0f, want %zu", n, special,
                          slots[NL_UNSCALE_ZEROS] - 5.0, zeros);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(!memcmp(&x[i], &want[i], sizeof x[i]) ||
                                  (isnan(x[i]) && isnan(want[i])),
                              "n %zu: x[%zu] = %g, want %g", n, i, (double)x[i], (double)want[i]);
            /* a set flag stays set over a clean pass */
            flag = 1.0f;
            x[n - 1] = 1.0f;
            be->ops->scale_check_finite(be, n, x, &factor, &flag, slots);
            ck_assert(flag == 1.0f);
            free(x);
            free(want);
        }
    }
}
END_TEST

/* a small MLP whose inputs are scaled up (data.shift.contrast), so that the
 * largest scale makes the first layer's scaled weight gradient overflow */
/* threads: 1, because the resume test compares a killed-and-resumed run with
 * an uninterrupted one bit for bit: left to threads: 0, each process picks
 * its count from the cores other work keeps busy at its start, and under a
 * loaded suite the two sides took different counts (and last bits) */
static const char overflow_config[] =
    "threads: 1\n"
    "data:\n  dataset: synthetic\n  shape: [16]\n  classes: 4\n  train_size: 2000\n"
    "  test_size: 500\n  shift:\n    contrast: 100\n"
    "model:\n  arch: mlp\n  widths: [32, 32]\n  norm:\n    type: batch\n"
    "flush_subnormals: false\n"
    "train:\n  batch_size: 32\n  steps: %ld\n  optimizer:\n    lr: 0.1\n  eval_every: 100\n"
    "  log_every: 1\n  checkpoint_every: %ld\n"
    "  loss_scale:\n    enabled: true\n    init_scale: 3.4e38\n    growth_interval: 3\n";

static void write_overflow_config(long steps, long checkpoint_every)
{
    char text[1200];
    snprintf(text, sizeof text, overflow_config, steps, checkpoint_every);
    tu_tmp_write("c.yaml", text);
}

/* series.csv's rows of one series, in step order, into values (steps
 * 0..n-1 logged); the count */
static int series_values(const char *csv, const char *series, double *values, int max)
{
    int count = 0;
    char key[80];
    snprintf(key, sizeof key, ",%s,", series);
    for (const char *line = csv; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *hit = strstr(line, key);
        const char *eol = strchr(line, '\n');
        if (!hit || (eol && hit > eol))
            continue;
        const long step = atol(line);
        ck_assert_int_eq(step, count);
        const char *value = line;
        for (int comma = 0; comma < 4; comma++)
            value = strchr(value, ',') + 1;
        ck_assert_int_lt(count, max);
        values[count++] = strtod(value, NULL);
    }
    return count;
}

/* The forced overflow: steps are skipped, the scale backs off on each and
 * grows after growth_interval clean steps, as the scaler's rule says given
 * the skips series.csv records; the run still learns. */
START_TEST(test_overflow_skips_and_backs_off)
{
    tu_tmp_make("loss_scale");
    write_overflow_config(60, 0);
    ck_assert_int_eq(tu_normlab("run c.yaml --out r --quiet"), 0);
    char *csv = tu_tmp_read("r/series.csv");
    enum { MAX = 64 };
    double scale[MAX], skipped[MAX], zero_share[MAX];
    const int n = series_values(csv, "loss_scale", scale, MAX);
    ck_assert_int_eq(n, 60);
    ck_assert_int_eq(series_values(csv, "skipped_steps", skipped, MAX), n);
    ck_assert_int_eq(series_values(csv, "grad_zero_share", zero_share, MAX), n);
    free(csv);
    nl_loss_scale_spec spec;
    nl_loss_scale_spec_defaults(&spec);
    spec.enabled = true;
    spec.init_scale = 3.4e38f;
    spec.growth_interval = 3;
    nl_loss_scaler s;
    nl_loss_scaler_start(&s, &spec);
    bool backoff = false, growth = false;
    for (int k = 0; k < n; k++) {
        ck_assert_msg((float)scale[k] == (float)s.scale, "step %d: scale %.9g, the rule's %.9g",
                      k, scale[k], s.scale);
        const bool found = skipped[k] > (k > 0 ? skipped[k - 1] : 0.0);
        ck_assert(skipped[k] - (k > 0 ? skipped[k - 1] : 0.0) <= 1.0);
        const double before = s.scale;
        nl_loss_scaler_update(&s, &spec, found);
        backoff |= s.scale < before;
        growth |= s.scale > before;
        ck_assert(zero_share[k] >= 0.0 && zero_share[k] <= 1.0);
    }
    ck_assert_msg(skipped[n - 1] > 0 && backoff && growth,
                  "the forced overflow skipped %.0f steps (backoff %d, growth %d)",
                  skipped[n - 1], backoff, growth);
    char *summary = tu_tmp_read("r/summary.json");
    ck_assert_msg(strstr(summary, "\"status\": \"ok\""), "%s", summary);
    free(summary);
    tu_tmp_remove();
}
END_TEST

/* metrics.csv of a run without its elapsed_s column (the 7th; the
 * clipped runs' grad_norm follows it) */
static char *metrics_without_elapsed(const char *dir)
{
    char rel[600];
    snprintf(rel, sizeof rel, "%s/metrics.csv", dir);
    char *text = tu_tmp_read(rel), *w = text;
    int field = 0;
    for (const char *c = text; *c; c++) {
        if (*c == '\n')
            field = 0;
        else if (*c == ',' && ++field == 6)
            continue;
        if (field != 6)
            *w++ = *c;
    }
    *w = '\0';
    return text;
}

/* Scaling by a power of two is exact: an fp32 run scaled at 65536 logs the
 * unscaled run's metrics bit for bit, and an fp32 run without scaling
 * writes no series.csv (its files as before) */
START_TEST(test_power_of_two_scale_is_exact)
{
    tu_tmp_make("loss_scale");
    /* threads: 1 pins both processes' team, as overflow_config's does: the
     * evaluation's products split their rows by thread */
    tu_tmp_write("c.yaml",
                 "threads: 1\n"
                 "data:\n  dataset: synthetic\n  shape: [16]\n  classes: 4\n  train_size: 2000\n"
                 "  test_size: 500\nmodel:\n  arch: mlp\n  widths: [32, 32]\n  norm:\n"
                 "    type: batch\ntrain:\n  batch_size: 32\n  steps: 100\n  optimizer:\n"
                 "    type: adamw\n  eval_every: 50\n  log_every: 10\n  clip_grad_norm: 1\n");
    ck_assert_int_eq(tu_normlab("run c.yaml --out plain --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run c.yaml --out scaled --quiet --set "
                                "train.loss_scale.enabled=true"), 0);
    char *plain = metrics_without_elapsed("plain"), *scaled = metrics_without_elapsed("scaled");
    ck_assert_str_eq(plain, scaled);
    ck_assert_msg(strstr(plain, "grad_norm"), "no grad_norm column: %s", plain);
    free(plain);
    free(scaled);
    char path[1200];
    snprintf(path, sizeof path, "%s/plain/series.csv", tu_tmp);
    ck_assert_msg(access(path, F_OK) != 0, "an fp32 run without scaling wrote series.csv");
    snprintf(path, sizeof path, "%s/scaled/series.csv", tu_tmp);
    ck_assert_msg(access(path, F_OK) == 0, "the scaled run wrote no series.csv");
    tu_tmp_remove();
}
END_TEST

static bool has_checkpoint(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, NL_CHECKPOINT_FILE);
    return access(path, F_OK) == 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the run of c.yaml into `dir`, killed once it has written a checkpoint */
static void run_until_checkpoint(const char *dir)
{
    char args[600];
    snprintf(args, sizeof args, "run c.yaml --out %s --quiet", dir);
    const pid_t pid = tu_normlab_start(args, "killed.txt", "killed.txt");
    const double t0 = now_s();
    while (!has_checkpoint(dir) && now_s() - t0 < 120)
        usleep(200);
    ck_assert_msg(has_checkpoint(dir), "no checkpoint within 120 s");
    int status;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFSIGNALED(status), "the run ended before the kill (make it longer)");
}

/* A killed scaled run resumed from its checkpoint logs what the
 * uninterrupted run logs, bit for bit: the scale, the growth tracker and
 * the skipped steps continue; another train.precision is refused, naming
 * both values, with exit status 2. */
START_TEST(test_resume_continues_the_scale)
{
    tu_tmp_make("loss_scale");
    write_overflow_config(4000, 100);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    run_until_checkpoint("k");
    const int refused = tu_normlab("run c.yaml --out k --set train.precision=bf16");
    char *out = tu_normlab_output();
    ck_assert_msg(refused == 2 && strstr(out, "train.precision") && strstr(out, "fp32") &&
                      strstr(out, "bf16"),
                  "exit %d: %s", refused, out);
    free(out);
    const int rc = tu_normlab("run c.yaml --out k");
    out = tu_normlab_output();
    /* the output's end, where a refusal says why (check's messages are short) */
    const size_t len = strlen(out);
    ck_assert_msg(rc == 0 && strstr(out, "resuming"), "exit %d: ...%s", rc,
                  out + (len > 600 ? len - 600 : 0));
    free(out);
    char *want = tu_metrics_without_time("ref"), *got = tu_metrics_without_time("k");
    ck_assert_str_eq(want, got);
    free(want);
    free(got);
    want = tu_tmp_read("ref/series.csv");
    got = tu_tmp_read("k/series.csv");
    const char *last = strstr(want, "\n3999,skipped_steps,0,model,");
    ck_assert_msg(last && atof(last + strlen("\n3999,skipped_steps,0,model,")) > 0,
                  "the reference run skipped nothing");
    ck_assert_msg(!strcmp(want, got), "series.csv of the resumed run differs");
    free(want);
    free(got);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loss_scale");
    TCase *rule = tcase_create("rule");
    /* as many runs as the fixture has cases (1 when it cannot be read:
     * that run fails saying why) */
    char why[256];
    tu_fixture *fx = tu_fixture_read("gradscaler.nlfx", why, sizeof why);
    const tu_tensor *count = fx ? tu_find(fx, "cases") : NULL;
    const int cases = count ? ((const int32_t *)count->data)[0] : 1;
    if (fx)
        tu_fixture_free(fx);
    tcase_add_loop_test(rule, test_gradscaler_sequence, 0, cases);
    tcase_add_test(rule, test_gradscaler_fixture_covers_the_rule);
    tcase_add_test(rule, test_scale_check_finite_op);
    suite_add_tcase(s, rule);
    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 600);
    tcase_add_test(runs, test_overflow_skips_and_backs_off);
    tcase_add_test(runs, test_power_of_two_scale_is_exact);
    tcase_add_test(runs, test_resume_continues_the_scale);
    suite_add_tcase(s, runs);
    return tu_run_suite(s);
}
