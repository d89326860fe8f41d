/* model.conv_algorithm (issue 119): the convolutions' algorithm is a key
 * of the run, not the environment (the NORMLAB_WINOGRAD it replaced,
 * which no record held). A run with winograd_f23 (or winograd_f43)
 * records it in its config.yaml, and where its plan put the convolutions
 * in the channel block its summary's conv_kernels names
 * normlab:winograd_f23 (normlab:winograd_f43); killed
 * after a checkpoint and resumed it ends with the uninterrupted run's
 * bits; resumed by a config without the key (direct) it is refused, not
 * continued on the other algorithm; a bad value exits 2 naming the file,
 * line and column, the key and the accepted values, with nothing written.
 * Where this build and CPU take no channel block (no oneDNN, or no AVX2
 * kernel set) the plan keeps every convolution direct and the test says
 * that the Winograd kernel's part did not run. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log/files.h"
#include "results/files.h"
#include "testutil.h"

/* a few seconds on one thread, widths in multiples of both blocks (8, 16)
 * so that layout auto can block it; checkpoints every 50 steps */
#define CONFIG_HEAD                                                                                \
    "data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, test_size: "   \
    "128}\n"                                                                                       \
    "model: {arch: cnn, widths: [16, 32], norm: {type: batch}, layout: auto"
#define CONFIG_TAIL                                                                                \
    "}\ntrain: {batch_size: 16, steps: 2000, optimizer: {type: adamw, lr: 0.003}, eval_every: "    \
    "500, log_every: 20, checkpoint_every: 50}\nthreads: 1\n"
static const char *direct = CONFIG_HEAD CONFIG_TAIL;

static bool exists(const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    struct stat st;
    return stat(path, &st) == 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* the number of whole rows in dir/metrics.csv */
static int metric_rows(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", tu_tmp, dir);
    FILE *f = fopen(path, "r");
    int rows = 0, c;
    while (f && (c = fgetc(f)) != EOF)
        rows += c == '\n';
    if (f)
        fclose(f);
    return rows;
}

/* starts c.yaml's run into `dir` and kills it once it has a checkpoint
 * and logged `rows` rows, before its end */
static void run_and_kill(const char *dir, int rows)
{
    char args[300], ck[300];
    snprintf(args, sizeof args, "run c.yaml --out %s --quiet", dir);
    snprintf(ck, sizeof ck, "%s/%s", dir, NL_CHECKPOINT_FILE);
    const pid_t pid = tu_normlab_start(args, "killed.txt", "killed.txt");
    const double t0 = now_s();
    while (!(exists(ck) && metric_rows(dir) >= rows) && now_s() - t0 < 120)
        usleep(1000);
    ck_assert_msg(exists(ck), "no checkpoint within 120 s");
    int status;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFSIGNALED(status), "the run ended before the kill (make it longer)");
}

static void same_metrics(const char *a, const char *b, const char *what)
{
    char *x = tu_metrics_without_time(a), *y = tu_metrics_without_time(b);
    ck_assert_msg(!strcmp(x, y), "%s: %s differs from %s", what, a, b);
    free(x);
    free(y);
}

/* a run with model.conv_algorithm `algorithm` (a Winograd one) */
static void recorded_and_resumed(const char *algorithm)
{
    tu_tmp_make("convalg");
    char config[1024], recorded[64], kernel[64];
    snprintf(config, sizeof config, CONFIG_HEAD ", conv_algorithm: %s" CONFIG_TAIL, algorithm);
    snprintf(recorded, sizeof recorded, "conv_algorithm: %s", algorithm);
    snprintf(kernel, sizeof kernel, "normlab:%s", algorithm);
    tu_tmp_write("c.yaml", config);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    char *yaml = tu_tmp_read("ref/config.yaml");
    ck_assert_msg(strstr(yaml, recorded), "config.yaml does not record the algorithm:\n%s", yaml);
    const bool blocked = strstr(yaml, "layout: blocked") != NULL;
    free(yaml);
    char *summary = tu_tmp_read("ref/summary.json");
    char kernels[512] = "";
    ck_assert(nl_json_flat_get(summary, "conv_kernels", kernels, sizeof kernels));
    free(summary);
    if (blocked)
        ck_assert_msg(strstr(kernels, kernel), "conv_kernels: %s", kernels);
    else {
        ck_assert_msg(!strstr(kernels, "winograd"), "winograd on nchw: %s", kernels);
        fprintf(stderr, "test_conv_algorithm: this build and CPU take no channel block (layout "
                        "auto chose nchw): the Winograd kernel's part did not run\n");
    }

    /* killed after a checkpoint; a config without the key is another run */
    run_and_kill("k", 12);
    tu_tmp_write("direct.yaml", direct);
    const int refused = tu_normlab("run direct.yaml --out k");
    char *out = tu_normlab_output();
    ck_assert_msg(refused != 0 && strstr(out, "model.conv_algorithm"),
                  "resumed on another algorithm (exit %d): %s", refused, out);
    free(out);
    /* the run's own config.yaml resumes it, to the uninterrupted bits
     * (which the refused start left it able to reach) */
    const int rc = tu_normlab("run k/config.yaml --out k");
    out = tu_normlab_output();
    ck_assert_msg(rc == 0 && strstr(out, "resum"), "exit %d: %s", rc, out);
    free(out);
    same_metrics("k", "ref", "resumed");
    /* the results (summary.json's times and rates are the clock's) */
    char *got = tu_tmp_read("k/summary.json"), *want = tu_tmp_read("ref/summary.json");
    static const char *const keys[] = {"steps", "final_train_loss", "final_test_loss",
                                       "best_test_accuracy", "conv_kernels"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char a[512] = "", b[512] = "";
        ck_assert(nl_json_flat_get(got, keys[i], a, sizeof a));
        ck_assert(nl_json_flat_get(want, keys[i], b, sizeof b));
        ck_assert_msg(!strcmp(a, b), "resumed: %s is %s, uninterrupted %s", keys[i], a, b);
    }
    free(got);
    free(want);
    tu_tmp_remove();
}

START_TEST(test_recorded_and_resumed) { recorded_and_resumed("winograd_f23"); }
END_TEST

/* F(4x4, 3x3) for the forward and data gradient (the CNN's 16 -> 32 at
 * 6x6: its tiles hang 2 rows and columns over the map) */
START_TEST(test_f43_recorded_and_resumed) { recorded_and_resumed("winograd_f43"); }
END_TEST

START_TEST(test_bad_value)
{
    tu_tmp_make("convalg");
    tu_tmp_write("bad.yaml", CONFIG_HEAD ", conv_algorithm: winograd" CONFIG_TAIL);
    ck_assert_int_eq(tu_normlab("run bad.yaml --out bad"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "bad.yaml:2:") && strstr(out, "model.conv_algorithm") &&
                      strstr(out, "direct | winograd_f23"),
                  "%s", out);
    free(out);
    ck_assert_msg(!exists("bad"), "a refused run wrote its directory");
    tu_tmp_remove();
}
END_TEST

/* the files in the conv cache under tu_tmp/cache */
static int cache_entries(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/cache/normlab/conv", tu_tmp);
    DIR *d = opendir(path);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        count += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return count;
}

/* model.conv_algorithm auto: the plan times the three algorithms on each
 * eligible convolution's shape once per host, kernel set and shape, keeps
 * the answer in the user's cache ($XDG_CACHE_HOME/normlab/conv) and
 * records its choices in config.yaml's model.conv_choices; a later plan
 * takes the cached answer (an entry edited to another choice is what
 * the next run runs); a resume by the run's config.yaml runs the recorded
 * choices with no cache at all (none is written: nothing was measured),
 * to the uninterrupted bits, and so does one by the asked config on the
 * cache; a list of the wrong length is refused with exit 2 naming the
 * key; where no private cache can be had, the rule decides (16 input
 * channels: direct). */
START_TEST(test_auto)
{
    tu_tmp_make("convalg");
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/cache", tu_tmp);
    setenv("XDG_CACHE_HOME", cache, 1);
    tu_tmp_write("c.yaml", CONFIG_HEAD ", conv_algorithm: auto" CONFIG_TAIL);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    char *yaml = tu_tmp_read("ref/config.yaml");
    ck_assert_msg(strstr(yaml, "conv_algorithm: auto"), "%s", yaml);
    if (!strstr(yaml, "layout: blocked")) {
        free(yaml);
        fprintf(stderr, "test_conv_algorithm: no channel block here: auto has nothing to "
                        "choose\n");
        unsetenv("XDG_CACHE_HOME");
        tu_tmp_remove();
        return;
    }
    /* the CNN's second convolution (16 -> 32) is the one Winograd could run */
    const char *line = strstr(yaml, "conv_choices: [");
    ck_assert_msg(line && line[15] >= '0' && line[15] <= '2' && line[16] == ']', "%s", yaml);
    const char chose = line[15];
    free(yaml);
    ck_assert_int_eq(cache_entries(), 1);
    char *summary = tu_tmp_read("ref/summary.json");
    char kernels[512] = "";
    ck_assert(nl_json_flat_get(summary, "conv_kernels", kernels, sizeof kernels));
    free(summary);
    ck_assert_msg((strstr(kernels, "normlab:winograd_f23 16->32@6x6") != NULL) == (chose == '1') &&
                      (strstr(kernels, "normlab:winograd_f43 16->32@6x6") != NULL) == (chose == '2'),
                  "chose %c, conv_kernels: %s", chose, kernels);

    /* the cache decides the next plan: its entry edited to another choice
     * (winograd_f43, or direct where it chose that), which the run runs */
    char dir[1200], path[1500];
    snprintf(dir, sizeof dir, "%s/normlab/conv", cache);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) && e->d_name[0] == '.')
        ;
    ck_assert_ptr_nonnull(e);
    snprintf(path, sizeof path, "normlab/conv/%s", e->d_name);
    closedir(d);
    char rel[1600];
    snprintf(rel, sizeof rel, "cache/%s", path);
    char *entry = tu_tmp_read(rel), *flipped = strdup(entry);
    char *choice = strstr(flipped, "\nchoice ");
    ck_assert_ptr_nonnull(choice);
    choice++;
    choice[7] = chose == '2' ? '0' : '2';
    tu_tmp_write(rel, flipped);
    ck_assert_int_eq(tu_normlab("run c.yaml --out other --quiet"), 0);
    yaml = tu_tmp_read("other/config.yaml");
    line = strstr(yaml, "conv_choices: [");
    ck_assert_msg(line && line[15] == choice[7], "the cache's choice was not taken:\n%s", yaml);
    free(yaml);
    summary = tu_tmp_read("other/summary.json");
    ck_assert(nl_json_flat_get(summary, "conv_kernels", kernels, sizeof kernels));
    free(summary);
    ck_assert_msg((strstr(kernels, "normlab:winograd_f43 16->32@6x6") != NULL) == (choice[7] == '2'),
                  "cached %c, conv_kernels: %s", choice[7], kernels);
    tu_tmp_write(rel, entry);
    free(entry);
    free(flipped);

    /* killed after a checkpoint: resumed by its config.yaml with no cache
     * at all, nothing is measured; by the asked config, the cache answers */
    tu_tmp_write("c.yaml", CONFIG_HEAD ", conv_algorithm: auto" CONFIG_TAIL);
    run_and_kill("k", 12);
    char moved[1200];
    snprintf(moved, sizeof moved, "%s/cache-away", tu_tmp);
    ck_assert_int_eq(rename(cache, moved), 0);
    int rc = tu_normlab("run k/config.yaml --out k");
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 0 && strstr(out, "resum"), "exit %d: %s", rc, out);
    free(out);
    same_metrics("k", "ref", "resumed by config.yaml");
    ck_assert_int_eq(cache_entries(), 0);
    ck_assert_int_eq(rename(moved, cache), 0); /* no cache was made: nothing asked one */
    run_and_kill("k2", 12);
    rc = tu_normlab("run c.yaml --out k2");
    out = tu_normlab_output();
    ck_assert_msg(rc == 0 && strstr(out, "resum"), "exit %d: %s", rc, out);
    free(out);
    same_metrics("k2", "ref", "resumed by the asked config");

    /* a list that is not the model's */
    tu_tmp_write("long.yaml", CONFIG_HEAD ", conv_algorithm: auto, conv_choices: [1, 1]"
                              CONFIG_TAIL);
    ck_assert_int_eq(tu_normlab("run long.yaml --out long"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.conv_choices") && strstr(out, "2 choices"), "%s", out);
    free(out);
    /* choices under an algorithm that does not read them: refused, nothing written */
    tu_tmp_write("direct.yaml", CONFIG_HEAD ", conv_algorithm: direct, conv_choices: [1]" CONFIG_TAIL);
    ck_assert_int_eq(tu_normlab("run direct.yaml --out direct"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.conv_choices: applies only when") && strstr(out, "model.conv_algorithm is auto"),
                  "%s", out);
    free(out);
    char written[1100];
    snprintf(written, sizeof written, "%s/direct", tu_tmp);
    ck_assert_msg(access(written, F_OK) != 0, "%s was written", written);

    /* no private cache (writable by others): the rule, direct at 16 */
    ck_assert_int_eq(chmod(dir, 0777), 0);
    ck_assert_int_eq(tu_normlab("run c.yaml --out rule --quiet"), 0);
    yaml = tu_tmp_read("rule/config.yaml");
    ck_assert_msg(strstr(yaml, "conv_choices: [0]"), "%s", yaml);
    free(yaml);
    unsetenv("XDG_CACHE_HOME");
    tu_tmp_remove();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conv_algorithm");
    TCase *tc = tcase_create("key");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_recorded_and_resumed);
    tcase_add_test(tc, test_f43_recorded_and_resumed);
    tcase_add_test(tc, test_bad_value);
    tcase_add_test(tc, test_auto);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
