/* Checkpoints (train.checkpoint_every): a run killed with SIGKILL at a
 * random moment and started again with the same command ends with the same
 * metrics.csv (every column but elapsed_s, the wall clock), trace.csv,
 * series.csv and results as an uninterrupted run, bit for bit; a damaged, truncated or
 * foreign checkpoint, or output cut shorter than it records, is refused
 * (exit 2) without touching the run directory, and --force starts over; a
 * checkpoint of another config is refused naming the keys that changed, and
 * kept; the config's path and the run directory's as typed, the working
 * directory and the thread count do not stop a resume; a sweep killed alone
 * resumes its runs from their checkpoints, under another spelling of its
 * directory too. The kills are tried on an image model and on
 * a token model (random windows: the batcher's RNG and position). 
 * NL_KILL_TRIALS sets the random-kill trials (2 by default). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/rng.h"
#include "config/config.h"
#include "cpu/cpu.h"
#include "log/files.h"
#include "results/rundir.h"
#include "testutil.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/run.h"
#include "train/state.h"

/* a few seconds of training on one thread: batch norm with cumulative
 * running statistics (the layer counter), AdamW with clipping (the moments,
 * the grad_norm column), a trace, evaluations and log rows between
 * checkpoints (the windows a checkpoint cuts) */
static const char *config =
    "data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, test_size: 128}\n"
    "model: {arch: cnn, widths: [8, 16], norm: {type: batch, momentum: cumulative}}\n"
    "train:\n"
    "  batch_size: 16\n"
    "  steps: 1000\n"
    "  optimizer: {type: adamw, lr: 0.003}\n"
    "  clip_grad_norm: 1.0\n"
    "  eval_every: 250\n"
    "  log_every: 30\n"
    "  checkpoint_every: 50\n"
    "  trace: {activation: norm1, unit: 0, every: 150, samples: 64}\n"
    "threads: 1\n";

/* the transformers' training: AdamW with clipping, evaluations, log rows
 * and the logged series between checkpoints (rows a resumed run must cut) */
#define TRANSFORMER_TRAIN                                                                          \
    "train:\n"                                                                                     \
    "  batch_size: 16\n"                                                                           \
    "  steps: 1000\n"                                                                              \
    "  optimizer: {type: adamw, lr: 0.003}\n"                                                      \
    "  clip_grad_norm: 1.0\n"                                                                      \
    "  eval_every: 250\n"                                                                          \
    "  log_every: 30\n"                                                                            \
    "  log: {grad_norms: true, attention_logits: true}\n"                                          \
    "  checkpoint_every: 50\n"                                                                     \
    "threads: 1\n"

/* a small LM: windows drawn from the seed, batch norm over the tokens
 * (running statistics) */
static const char *token_config =
    "data: {dataset: synthetic_text, markov: {vocab: 8, length: 20000}}\n"
    "model: {arch: lm, d_model: 32, heads: 2, layers: 2, context: 32, norm: {type: batch}}\n"
    TRANSFORMER_TRAIN;

/* a small vit: a class token, layer norm */
static const char *vit_config =
    "data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, test_size: 128}\n"
    "model: {arch: vit, patch: 4, d_model: 16, heads: 2, layers: 2, mlp_ratio: 2}\n"
    TRANSFORMER_TRAIN;

/* dropout and noisy batch norm in a cnn: each step's masks and noise come
 * from the step, and a resumed run must draw the ones the uninterrupted
 * run drew; the variance-shift probe's rows in series.csv are cut and
 * continued as the others */
static const char *dropout_config =
    "data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, test_size: 128}\n"
    "model: {arch: cnn, widths: [8, 16], norm: {type: batch}, dropout: {p: 0.3},\n"
    "        norm_noise: {distribution: uniform}}\n"
    "train:\n"
    "  batch_size: 16\n"
    "  steps: 1000\n"
    "  optimizer: {type: adamw, lr: 0.003}\n"
    "  eval_every: 250\n"
    "  log_every: 30\n"
    "  checkpoint_every: 50\n"
    "  log: {variance_shift: true}\n"
    "threads: 1\n";

/* weight normalization's data-dependent initialization runs on a fresh
 * run only: a resumed run that redid it would leave the uninterrupted one */
static const char *weight_norm_config =
    "data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, test_size: 128}\n"
    "model: {arch: cnn, widths: [8, 16], norm: {type: mean_only},\n"
    "        param_norm: {type: weight, data_init: true}}\n"
    "train:\n"
    "  batch_size: 16\n"
    "  steps: 1000\n"
    "  optimizer: {lr: 0.05, momentum: 0.9}\n"
    "  eval_every: 250\n"
    "  log_every: 30\n"
    "  checkpoint_every: 50\n"
    "  log: {weight_stats: true}\n"
    "threads: 1\n";

/* spectral normalization's u, v move every training forward: a resumed run
 * must start from the ones the checkpoint kept */
static const char *spectral_norm_config =
    "data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, test_size: 128}\n"
    "model: {arch: cnn, widths: [8, 16], norm: {type: batch},\n"
    "        param_norm: {type: spectral, power_iterations: 2}}\n"
    "train:\n"
    "  batch_size: 16\n"
    "  steps: 1000\n"
    "  optimizer: {lr: 0.05, momentum: 0.9}\n"
    "  eval_every: 250\n"
    "  log_every: 30\n"
    "  checkpoint_every: 50\n"
    "  log: {weight_stats: true}\n"
    "threads: 1\n";

/* the configs the kill-and-resume test runs, one loop iteration each */
static const struct {
    const char *what, **yaml;
} resume_cases[] = {{"image", &config}, {"token", &token_config}, {"vit", &vit_config},
                   {"dropout", &dropout_config}, {"weight norm", &weight_norm_config},
                   {"spectral norm", &spectral_norm_config}};

static char *read_rel(const char *dir, const char *name)
{
    char rel[700];
    snprintf(rel, sizeof rel, "%s/%s", dir, name);
    return tu_tmp_read(rel);
}

static bool exists(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, name);
    return access(path, F_OK) == 0;
}

/* metrics.csv without its elapsed_s column (the 7th) */
static char *metrics_without_time(const char *dir)
{
    char *text = read_rel(dir, "metrics.csv");
    nl_buf b = {0};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int field = 1;
        for (const char *p = line; *p; p++) {
            if (*p == ',')
                field++;
            if (field != 7 || *p == ',')
                nl_buf_printf(&b, "%c", *p);
        }
        nl_buf_printf(&b, "\n");
    }
    free(text);
    return b.data;
}

/* the results in summary.json a resumed run must reproduce */
static void check_same_results(const char *dir, const char *ref, const char *what)
{
    char *got = read_rel(dir, "summary.json"), *want = read_rel(ref, "summary.json");
    static const char *const keys[] = {"status",          "steps",          "final_train_loss",
                                       "final_test_loss", "best_test_loss", "final_test_accuracy",
                                       "best_test_accuracy", "bn_frozen_from_step"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char a[64] = "", b[64] = "";
        ck_assert(nl_json_flat_get(got, keys[k], a, sizeof a));
        ck_assert(nl_json_flat_get(want, keys[k], b, sizeof b));
        ck_assert_msg(!strcmp(a, b), "%s: %s is %s, uninterrupted %s", what, keys[k], a, b);
    }
    free(got);
    free(want);
    char *m = metrics_without_time(dir), *mw = metrics_without_time(ref);
    ck_assert_msg(!strcmp(m, mw), "%s: metrics.csv differs from the uninterrupted run's", what);
    free(m);
    free(mw);
    static const char *const optional[] = {"trace.csv", "series.csv"};
    for (size_t k = 0; k < sizeof optional / sizeof optional[0]; k++) {
        if (!exists(ref, optional[k]))
            continue;
        char *t = read_rel(dir, optional[k]), *tw = read_rel(ref, optional[k]);
        ck_assert_msg(!strcmp(t, tw), "%s: %s differs from the uninterrupted run's", what,
                      optional[k]);
        free(t);
        free(tw);
    }
    ck_assert_msg(!exists(dir, NL_CHECKPOINT_FILE), "%s: the finished run kept its checkpoint",
                  what);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* the step of the last whole row of dir/metrics.csv (0 before any) */
static long last_logged_step(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", tu_tmp, dir);
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    if (nl_read_file(path, &text, &len, &err) != NL_OK)
        return 0;
    long step = 0;
    char *end = len > 0 && text[len - 1] == '\n' ? text + len - 1 : strrchr(text, '\n');
    if (end) {
        *end = '\0';
        const char *line = strrchr(text, '\n');
        step = atol(line ? line + 1 : text);
    }
    free(text);
    return step;
}

/* starts the run of `config_file` into `dir`, waits until it has a
 * checkpoint and has logged step `at` or later, and kills it with SIGKILL */
static void run_config_and_kill(const char *config_file, const char *dir, long at)
{
    char args[600];
    snprintf(args, sizeof args, "run %s --out %s --quiet", config_file, dir);
    const pid_t pid = tu_normlab_start(args, "killed.txt", "killed.txt");
    const double t0 = now_s();
    while (!(exists(dir, NL_CHECKPOINT_FILE) && last_logged_step(dir) >= at) && now_s() - t0 < 120)
        usleep(1000);
    ck_assert_msg(exists(dir, NL_CHECKPOINT_FILE), "no checkpoint within 120 s");
    int status;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFSIGNALED(status), "the run ended before the kill (make it longer)");
}

static void run_and_kill(const char *dir, long at)
{
    run_config_and_kill("c.yaml", dir, at);
}

START_TEST(test_kill_and_resume)
{
    const char *env = getenv("NL_KILL_TRIALS");
    const int trials = env && atoi(env) > 0 ? atoi(env) : 2;
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", *resume_cases[_i].yaml);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    ck_assert_msg(_i == 0 || exists("ref", "series.csv"), "the token run logged no series");
    const unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    for (int t = 0; t < trials; t++) {
        char dir[64], what[200];
        snprintf(dir, sizeof dir, "trial%d", t);
        /* the steps of 1000 where a kill leaves something to resume */
        const long at = 60 + rand() % 880;
        snprintf(what, sizeof what, "%s model, trial %d (seed %u, killed after step %ld)",
                 resume_cases[_i].what, t, seed, at);
        run_and_kill(dir, at);
        char args[600];
        snprintf(args, sizeof args, "run c.yaml --out %s", dir);
        const int rc = tu_normlab(args);
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 0, "%s: exit %d: %s", what, rc, out);
        ck_assert_msg(strstr(out, "resuming"), "%s: the run did not resume: %s", what, out);
        free(out);
        check_same_results(dir, "ref", what);
    }
    tu_tmp_remove();
}
END_TEST

/* the files of `dir` that a refused start must leave as they were */
static char *dir_state(const char *dir)
{
    nl_buf b = {0};
    static const char *const names[] = {"metrics.csv", "trace.csv", "series.csv", "summary.json",
                                        "config.yaml", NL_CHECKPOINT_FILE};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, names[i]);
        char *text = NULL;
        size_t len = 0;
        nl_error err = {0};
        struct stat st;
        /* a FIFO or a directory in a file's place (not read: a FIFO would block) */
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            nl_buf_printf(&b, "%s mode %o\n", names[i], (unsigned)st.st_mode);
        else if (nl_read_file(path, &text, &len, &err) == NL_OK) {
            nl_buf_printf(&b, "%s %zu %llx\n", names[i], len,
                          (unsigned long long)nl_checkpoint_hash(text, len));
            free(text);
        }
    }
    return b.data;
}

/* the header's CRC field (checkpoint.h) set to the CRC of text as the
 * writer of its header's format leaves it */
static void resign(char *text, size_t len)
{
    uint32_t version;
    memcpy(&version, text + 8, 4);
    const uint64_t crc = nl_checkpoint_file_crc(text, len, version >= NL_CHECKPOINT_WHOLE_CRC_VERSION);
    memcpy(text + NL_CHECKPOINT_CRC_AT, &crc, 8);
}

static void write_bytes(const char *path, const char *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* rewrites the checkpoint of `dir`: one byte flipped at `at` (from the end
 * when negative), or cut by `cut` bytes; `resign`: with the CRC of the
 * changed payload, as a writer with a bug would leave it */
static void damage(const char *dir, long at, long cut, bool resign_it)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, NL_CHECKPOINT_FILE);
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    ck_assert_int_eq(nl_read_file(path, &text, &len, &err), NL_OK);
    if (cut == 0) {
        const size_t i = at >= 0 ? (size_t)at : len - (size_t)-at;
        text[i] ^= 0x40;
    }
    if (resign_it)
        resign(text, len);
    write_bytes(path, text, len - (size_t)cut);
    free(text);
}

/* where the checkpoint `text` (this format, checkpoint.h's layout) holds its
 * thread count, data RNG, layer counters and data order */
typedef struct {
    size_t threads, rng, counters, order;
    int64_t n_counters, n_order;
} payload_places;

static payload_places places_of(const char *text, size_t len)
{
    payload_places p = {.rng = 48 + (7 + 15) * 8};
    p.threads = 48 + nl_train_state_bytes(NL_CHECKPOINT_VERSION) + 3 * 8;
    const size_t keys_at = p.threads + 8 + NL_CHECKPOINT_KERNELS_BYTES + NL_CHECKPOINT_CONV_BYTES +
                           NL_CHECKPOINT_PRODUCTS_BYTES;
    int64_t keys_len, sizes[5]; /* parameters, optimizer, statistics, counters, order */
    memcpy(&keys_len, text + keys_at, 8);
    memcpy(sizes, text + keys_at + 8 + keys_len, sizeof sizes);
    p.n_counters = sizes[3];
    p.n_order = sizes[4];
    p.order = len - (size_t)p.n_order * 4;
    p.counters = p.order - (size_t)p.n_counters * 8;
    return p;
}

/* writes `n` bytes at `at` into dir's checkpoint and re-signs it (the CRC
 * of the changed payload), as a writer with a bug would leave it */
static void patch(const char *dir, size_t at, const void *bytes, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, NL_CHECKPOINT_FILE);
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    ck_assert_int_eq(nl_read_file(path, &text, &len, &err), NL_OK);
    memcpy(text + at, bytes, n);
    resign(text, len);
    write_bytes(path, text, len);
    free(text);
}

/* Checkpoints of the older formats, as normlab wrote them before the fields
 * that came later (checkpoint.h): format 2 without the CPU kernel set's name
 * (after the thread count), format 1 also without series.csv's length
 * (after metrics.csv's and trace.csv's). An unfinished run of either
 * version resumes and ends as the uninterrupted run. */
static void expect_refused_unchanged(const char *config, const char *dir, const char *fragment);
static void copy_dir(const char *from, const char *to);

START_TEST(test_older_formats_resume)
{
    const uint32_t version = (uint32_t)(1 + _i);
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", config);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    run_and_kill("k", 100);
    char path[1200];
    snprintf(path, sizeof path, "%s/k/%s", tu_tmp, NL_CHECKPOINT_FILE);
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    ck_assert_int_eq(nl_read_file(path, &text, &len, &err), NL_OK);
    /* the state fields added since the format go: each format's fields
     * follow the older ones' (format 5's precision and loss scaler, 7's
     * rank count). Format 5 is 6 but for its CRC, over the payload alone
     * (resign) */
    const size_t header = 48;
    const unsigned state_format = version < 5 ? 4 : version;
    /* where the format's state ends, once the newer fields are gone: the
     * fields after it move up with it */
    const size_t kept_end = header + nl_train_state_bytes(state_format), state_end = kept_end;
    const size_t added = nl_train_state_bytes(NL_CHECKPOINT_VERSION) - nl_train_state_bytes(state_format);
    memmove(text + kept_end, text + kept_end + added, len - kept_end - added);
    len -= added;
    const size_t series_at = state_end + 2 * 8;
    const size_t kernels_at = series_at + 2 * 8, keys_at = kernels_at + NL_CHECKPOINT_KERNELS_BYTES;
    if (version < 9) {
        /* format 9's product library goes (after the convolutions') */
        const size_t products_at = keys_at + NL_CHECKPOINT_CONV_BYTES;
        memmove(text + products_at, text + products_at + NL_CHECKPOINT_PRODUCTS_BYTES,
                len - products_at - NL_CHECKPOINT_PRODUCTS_BYTES);
        len -= NL_CHECKPOINT_PRODUCTS_BYTES;
    }
    if (version < 8) {
        /* format 8's convolution library goes (after the kernel set) */
        memmove(text + keys_at, text + keys_at + NL_CHECKPOINT_CONV_BYTES,
                len - keys_at - NL_CHECKPOINT_CONV_BYTES);
        len -= NL_CHECKPOINT_CONV_BYTES;
    }
    if (version < 4) {
        /* format 4's config keys go, and the header's hash is config.yaml's text's */
        int64_t keys_len;
        memcpy(&keys_len, text + keys_at, 8);
        const size_t keys_bytes = 8 + (size_t)keys_len;
        memmove(text + keys_at, text + keys_at + keys_bytes, len - keys_at - keys_bytes);
        len -= keys_bytes;
        char *yaml = read_rel("k", "config.yaml");
        const uint64_t text_hash = nl_checkpoint_hash(yaml, strlen(yaml));
        free(yaml);
        memcpy(text + 32, &text_hash, 8);
    }
    if (version < 3) {
        memmove(text + kernels_at, text + kernels_at + NL_CHECKPOINT_KERNELS_BYTES,
                len - kernels_at - NL_CHECKPOINT_KERNELS_BYTES);
        len -= NL_CHECKPOINT_KERNELS_BYTES;
    }
    if (version < 2) {
        memmove(text + series_at, text + series_at + 8, len - series_at - 8);
        len -= 8;
    }
    const uint64_t payload = len - header;
    memcpy(text + 8, &version, 4);
    memcpy(text + 16, &payload, 8);
    resign(text, len);
    write_bytes(path, text, len);
    free(text);
    /* its hash is of config.yaml's text, whose first line names the config
     * as typed: the run directory's config.yaml, which has that hash, says
     * whether another config was meant */
    expect_refused_unchanged("c.yaml --set train.log_every=25", "k", "train.log_every: 30 -> 25");
    const int rc = tu_normlab("run ./c.yaml --out k");
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 0 && strstr(out, "resuming"), "format %u: exit %d: %s", version, rc, out);
    ck_assert_msg(!strstr(out, "CPU kernels"), "format %u: %s", version, out);
    free(out);
    char what[64];
    snprintf(what, sizeof what, "resumed from a format-%u checkpoint", version);
    check_same_results("k", "ref", what);
    tu_tmp_remove();
}
END_TEST

/* The run of tests/fixtures/checkpoint-v4: written by normlab's format-4
 * writer from before the state's field table, killed after step 49 with its
 * checkpoint at step 40 (checkpoint_every), metrics.csv holding the rows to
 * step 49. */
static const char *fixture_config =
    "data: {dataset: synthetic, shape: [1, 8, 8], classes: 4, train_size: 200, test_size: 64}\n"
    "model: {arch: cnn, widths: [4, 8], norm: {type: batch, momentum: cumulative}}\n"
    "train:\n"
    "  batch_size: 16\n"
    "  steps: 600\n"
    "  optimizer: {lr: 0.05, momentum: 0.9}\n"
    "  clip_grad_norm: 1.0\n"
    "  eval_every: 30\n"
    "  log_every: 7\n"
    "  checkpoint_every: 20\n"
    "threads: 1\n";

/* the last row of `split` in the first `bytes` of metrics.csv: its step and
 * its loss, accuracy and lr columns as written; false when there is none */
typedef struct {
    long step;
    char loss[32], accuracy[32], lr[32];
    double elapsed_s;
    int count;         /* rows of the split */
    double best_loss, best_accuracy;
} split_rows;

static split_rows rows_of(const char *metrics, size_t bytes, const char *split)
{
    split_rows r = {.step = -1, .best_loss = INFINITY, .best_accuracy = -1};
    char *text = strndup(metrics, bytes), *save = NULL;
    ck_assert_ptr_nonnull(text);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char step[32], epoch[32], name[32], loss[32], acc[32], lr[32];
        double elapsed;
        if (sscanf(line, "%31[^,],%31[^,],%31[^,],%31[^,],%31[^,],%31[^,],%lf", step, epoch, name,
                   loss, acc, lr, &elapsed) != 7 || strcmp(name, split) != 0)
            continue;
        r.step = atol(step);
        snprintf(r.loss, sizeof r.loss, "%s", loss);
        snprintf(r.accuracy, sizeof r.accuracy, "%s", acc);
        snprintf(r.lr, sizeof r.lr, "%s", lr);
        r.elapsed_s = elapsed;
        r.count++;
        r.best_loss = fmin(r.best_loss, atof(loss));
        r.best_accuracy = fmax(r.best_accuracy, atof(acc));
    }
    free(text);
    return r;
}

/* a value of the state as metrics.csv writes it */
static const char *as_written(char *buf, size_t size, double v)
{
    return nl_fmt_float(buf, size, v);
}

/* The committed format-4 checkpoint is read field by field into the state
 * the run's own metrics.csv says the loop had at step 40 (the rows its
 * output lengths count), and the run resumes from it to the end. */
START_TEST(test_format4_fixture_reads)
{
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", fixture_config);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp -a '%s/tests/fixtures/checkpoint-v4' '%s/k'", NORMLAB_SOURCE_DIR,
             tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    char *fixture_metrics = read_rel("k", "metrics.csv");

    /* the model and config hashes `normlab run c.yaml` has */
    nl_config cfg;
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(fixture_config, "c.yaml", NULL, 0, &cfg, &err) == NL_OK,
                  "%s", err.msg);
    nl_backend *be = tu_cpu(1);
    nl_dataset data = {0};
    ck_assert_msg(nl_dataset_load(&cfg.data, &data, &err) == NL_OK, "%s", err.msg);
    nl_model_spec spec;
    nl_run_model_spec(&cfg, &spec);
    nl_model *m = NULL;
    ck_assert_msg(nl_model_create(&spec, be, cfg.train.eval_batch_size, cfg.train.batch_size,
                                 cfg.seed, &m, &err) == NL_OK, "%s", err.msg);
    char *text = NULL;
    nl_flat flat = {0};
    nl_buf keys = {0};
    ck_assert_msg(nl_checkpoint_config(&cfg, NL_DEVICE_CPU, &text, &flat, &keys, &err) == NL_OK,
                  "%s", err.msg);
    const nl_checkpoint_want want = {nl_checkpoint_hash(keys.data, keys.len),
                                     nl_checkpoint_hash(text, strlen(text))};
    char dir[600];
    snprintf(dir, sizeof dir, "%s/k", tu_tmp);
    nl_train_state s;
    nl_checkpoint_files files;
    int32_t *order = NULL;
    nl_checkpoint_found found;
    ck_assert_msg(nl_checkpoint_read(dir, &want, m, &s, &files, &order, &found, NULL, &err) == NL_OK,
                  "%s", err.msg);
    ck_assert_int_eq(found, NL_CHECKPOINT_LOADED);

    /* where the loop stood, from the rows the checkpoint counts */
    const nl_train_spec *t = &cfg.train;
    ck_assert_int_le((size_t)files.metrics_bytes, strlen(fixture_metrics));
    const split_rows train = rows_of(fixture_metrics, (size_t)files.metrics_bytes, "train");
    const split_rows test = rows_of(fixture_metrics, (size_t)files.metrics_bytes, "test");
    const split_rows trainmode = rows_of(fixture_metrics, (size_t)files.metrics_bytes,
                                         "test_trainmode");
    const long last_logged = rows_of(fixture_metrics, strlen(fixture_metrics), "train").step;
    ck_assert_int_eq(s.step, last_logged / t->checkpoint_every * t->checkpoint_every);
    ck_assert_int_eq(s.window_steps, s.step - train.step);
    ck_assert_int_eq(s.evaluations, test.count);
    ck_assert_int_eq(s.last_eval_step, test.step);
    const long per_epoch = data.train.n / t->batch_size;
    ck_assert_int_eq(s.data_n, data.train.n);
    ck_assert_int_eq(s.data_epoch, s.step / per_epoch);
    ck_assert_int_eq(s.data_pos, s.step % per_epoch * t->batch_size);
    ck_assert_ptr_eq(s.data_order, order);
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", s.lr);
    ck_assert_str_eq(buf, train.lr);
    ck_assert_str_eq(as_written(buf, sizeof buf, s.final_train_loss), train.loss);
    ck_assert_str_eq(as_written(buf, sizeof buf, s.final_test_loss), test.loss);
    ck_assert_str_eq(as_written(buf, sizeof buf, s.final_test_accuracy), test.accuracy);
    ck_assert_str_eq(as_written(buf, sizeof buf, s.final_trainmode_accuracy), trainmode.accuracy);
    ck_assert_double_eq_tol(s.best_test_loss, test.best_loss, 1e-6 * test.best_loss);
    ck_assert_double_eq_tol(s.best_test_accuracy, test.best_accuracy, 1e-9);
    /* no evaluation since the window began: its sums are all on the
     * model's counters; with clipping, its pre-clip norms add up */
    ck_assert(test.step <= train.step);
    ck_assert(s.window_sums[0] == 0.0 && s.window_sums[1] == 0.0);
    ck_assert(s.model_metrics[0] > 0.0 && s.model_metrics[1] >= 0.0 &&
              s.model_metrics[1] <= (double)(s.window_steps * t->batch_size));
    ck_assert(s.window_sums[2] > 0.0);
    ck_assert(s.train_s > 0.0 && s.eval_s > 0.0 && s.elapsed_s >= s.train_s + s.eval_s);
    ck_assert(s.elapsed_s >= train.elapsed_s - 0.0005);
    ck_assert_int_eq(files.threads, 1);
    ck_assert_int_eq(files.trace_bytes, 0);
    ck_assert_int_eq(files.series_bytes, 0);
    free(order);
    free(text);
    nl_flat_free(&flat);
    nl_buf_free(&keys);
    nl_model_free(m);
    nl_dataset_free(&data);
    nl_backend_close(be);

    /* the run goes on from it to its end, the rows before the checkpoint kept */
    const int rc = tu_normlab("run c.yaml --out k");
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 0 && strstr(out, "resuming") && strstr(out, "at step 40"), "exit %d: %s",
                  rc, out);
    free(out);
    char *summary = read_rel("k", "summary.json"), status[32] = "", steps[32] = "";
    ck_assert(nl_json_flat_get(summary, "status", status, sizeof status));
    ck_assert(nl_json_flat_get(summary, "steps", steps, sizeof steps));
    ck_assert_str_eq(status, "ok");
    ck_assert_int_eq(atol(steps), t->steps);
    free(summary);
    char *metrics = read_rel("k", "metrics.csv");
    ck_assert(!strncmp(metrics, fixture_metrics, (size_t)files.metrics_bytes));
    ck_assert_int_eq(rows_of(metrics, strlen(metrics), "train").step, t->steps);
    free(metrics);
    free(fixture_metrics);
    tu_tmp_remove();
}
END_TEST

/* A run resumed past train.freeze_bn_after says where the freezing began,
 * as the uninterrupted run does, not where this process's first step was. */
START_TEST(test_frozen_step_resumes)
{
    const char *trace = strstr(config, "  trace:");
    ck_assert_ptr_nonnull(trace);
    char frozen[2000];
    snprintf(frozen, sizeof frozen, "%.*s  freeze_bn_after: 40\n%s", (int)(trace - config), config,
             trace);
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", frozen);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    run_and_kill("k", 120); /* its checkpoint at step 50 or later */
    const int rc = tu_normlab("run c.yaml --out k");
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 0 && strstr(out, "resuming") && strstr(out, "frozen from step 40 on"),
                  "exit %d: %s", rc, out);
    free(out);
    check_same_results("k", "ref", "resumed after train.freeze_bn_after");
    tu_tmp_remove();
}
END_TEST

/* A run resumed with another CPU kernel set (a requeued job on a node of
 * another generation) says so: the rest may differ in the last bits. */
START_TEST(test_other_kernel_set_noted)
{
    int runnable[2], found = 0;
    for (int i = 0; i < nl_cpu_kernel_set_count() && found < 2; i++)
        if (nl_cpu_kernel_set_runs_here(i))
            runnable[found++] = i;
    if (found < 2) {
        printf("one kernel set runs here: nothing to switch between\n");
        return;
    }
    const char *first = nl_cpu_kernel_set_name(runnable[1]);
    const char *second = nl_cpu_kernel_set_name(runnable[0]);
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", config);
    ck_assert_int_eq(setenv("NORMLAB_CPU_KERNELS", first, 1), 0);
    run_and_kill("k", 100);
    ck_assert_int_eq(setenv("NORMLAB_CPU_KERNELS", second, 1), 0);
    const int rc = tu_normlab("run c.yaml --out k");
    ck_assert_int_eq(unsetenv("NORMLAB_CPU_KERNELS"), 0);
    char *out = tu_normlab_output();
    char want[200];
    snprintf(want, sizeof want, "taken with the %s CPU kernels, this run has %s", first, second);
    ck_assert_msg(rc == 0 && strstr(out, "resuming") && strstr(out, want), "exit %d: %s", rc, out);
    free(out);
    char *summary = read_rel("k", "summary.json");
    snprintf(want, sizeof want, "\"cpu_kernels\": \"%s\"", second);
    ck_assert_msg(strstr(summary, want), "%s", summary);
    free(summary);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_bad_checkpoint_refused)
{
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", config);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    run_and_kill("k", 100);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -a '%s/k' '%s/k.orig'", tu_tmp, tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    const struct {
        long at, cut;
        bool resign;
        const char *fragment;
    } cases[] = {
        {-5, 0, false, "checksum does not match"},        /* in the data order */
        {100, 0, false, "checksum does not match"},       /* in the loop's state */
        {0, 0, false, "not a normlab checkpoint"},        /* the magic */
        {8, 0, false, "format"},                          /* the version */
        {0, 7, false, "truncated"},
        /* a sound CRC over a state the training loop cannot go on from
         * (found by fuzz_checkpoint): refused before the run writes anything */
        {-5, 0, true, "names sample"},                    /* the data order */
        {95, 0, true, "data position"},                   /* data_pos's top byte */
        {63, 0, true, "log window"},                      /* window_steps's top byte */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s/k' && cp -a '%s/k.orig' '%s/k'", tu_tmp, tu_tmp,
                 tu_tmp);
        ck_assert_int_eq(system(cmd), 0);
        damage("k", cases[k].at, cases[k].cut, cases[k].resign);
        char *before = dir_state("k");
        const int rc = tu_normlab("run c.yaml --out k");
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 2, "case %zu: exit %d: %s", k, rc, out);
        ck_assert_msg(strstr(out, NL_CHECKPOINT_FILE) && strstr(out, cases[k].fragment) &&
                          strstr(out, "--force"),
                      "case %zu: the message does not say what is wrong: %s", k, out);
        char *after = dir_state("k");
        ck_assert_msg(!strcmp(before, after), "case %zu: the refused run changed its directory",
                      k);
        free(before);
        free(after);
        free(out);
    }
    /* fields a sound CRC does not vouch for, each refused by name */
    char *file = read_rel("k.orig", NL_CHECKPOINT_FILE);
    snprintf(cmd, sizeof cmd, "%s/k.orig/%s", tu_tmp, NL_CHECKPOINT_FILE);
    struct stat file_stat;
    ck_assert_int_eq(stat(cmd, &file_stat), 0);
    const payload_places at = places_of(file, (size_t)file_stat.st_size);
    ck_assert_msg(at.n_counters > 0 && at.n_order > 1, "%lld counters, an order of %lld", (long long)at.n_counters,
                  (long long)at.n_order);
    int32_t second_last;
    memcpy(&second_last, file + at.order + (size_t)(at.n_order - 2) * 4, 4);
    int64_t header_step;
    memcpy(&header_step, file + 40, 8);
    nl_rng rng;
    memcpy(&rng, file + at.rng, sizeof rng);
    free(file);
    rng.inc &= ~(uint64_t)1;
    const int64_t minus_one = -1, later_step = header_step + 1;
    char twice[64];
    snprintf(twice, sizeof twice, "names sample %ld twice", (long)second_last);
    const struct {
        size_t at;
        const void *bytes;
        size_t n;
        const char *fragment;
    } fields[] = {
        {at.order + (size_t)(at.n_order - 1) * 4, &second_last, 4, twice},
        {at.counters, &minus_one, 8, "layer counter 0 is negative"},
        {at.threads, &minus_one, 8, "thread count (-1) is negative"},
        {at.rng, &rng, sizeof rng, "random generator"},
        {40, &later_step, 8, "its header says step"},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        copy_dir("k.orig", "k");
        patch("k", fields[k].at, fields[k].bytes, fields[k].n);
        expect_refused_unchanged("c.yaml", "k", fields[k].fragment);
    }

    /* --force starts over and ends as the uninterrupted run */
    ck_assert_int_eq(tu_normlab("run c.yaml --out k --force"), 0);
    check_same_results("k", "ref", "--force over a damaged checkpoint");

    /* metrics.csv shorter than the checkpoint counts */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/k' && cp -a '%s/k.orig' '%s/k' && truncate -s 100 '%s/k/metrics.csv'",
             tu_tmp, tu_tmp, tu_tmp, tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    char *before = dir_state("k");
    ck_assert_int_eq(tu_normlab("run c.yaml --out k"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "metrics.csv has 100 bytes, fewer than"), "%s", out);
    char *after = dir_state("k");
    ck_assert_msg(!strcmp(before, after), "the refused run changed its directory");
    free(before);
    free(after);
    free(out);

    /* a sound checkpoint of another config is refused, naming the keys
     * (old -> new), and kept; --force starts over */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/k' && cp -a '%s/k.orig' '%s/k'", tu_tmp, tu_tmp, tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    /* keys added since the checkpoint's format may be named between them */
    expect_refused_unchanged("c.yaml --set train.log_every=25 --set model.norm.eps=0.001", "k",
                             "model.norm.eps: 1.0e-05 -> 0.001; ");
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "; train.log_every: 30 -> 25"), "%s", out);
    ck_assert_msg(strstr(out, "--force"), "the refusal does not name --force: %s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("run c.yaml --out k --set train.log_every=25 --force"), 0);
    out = tu_normlab_output();
    ck_assert_msg(!strstr(out, "resum"), "--force resumed: %s", out);
    free(out);
    ck_assert_msg(!exists("k", NL_CHECKPOINT_FILE), "the finished run kept its checkpoint");
    char *first = read_rel("k", "metrics.csv");
    ck_assert_msg(strstr(first, "\n0,0.0000,test,"), "--force did not start at step 0: %.300s", first);
    free(first);
    tu_tmp_remove();
}
END_TEST

/* the same config over data files that changed since the checkpoint (all
 * of them taken: train_size 0): refused before anything is written */
/* runs `config` into `dir` again, which must be refused before resuming
 * (exit 2, a message naming the checkpoint and holding `fragment`) with
 * the directory's files as they were */
static void expect_refused_unchanged(const char *config, const char *dir, const char *fragment)
{
    char *before = dir_state(dir);
    char args[600];
    snprintf(args, sizeof args, "run %s --out %s", config, dir);
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 2 && strstr(out, NL_CHECKPOINT_FILE) && strstr(out, fragment) &&
                      !strstr(out, "resuming"), "exit %d: %s", rc, out);
    char *after = dir_state(dir);
    ck_assert_msg(!strcmp(before, after), "the refused run changed its directory");
    free(before);
    free(after);
    free(out);
}

START_TEST(test_checkpoint_of_other_data_refused)
{
    tu_tmp_make("checkpoint");
    tu_tmp_write_idx("idx", 64, 16, 64, -1);
    tu_tmp_write("i.yaml", "data: {dataset: mnist, path: idx}\nmodel: {arch: mlp, widths: [16]}\n"
                           "train: {batch_size: 16, steps: 200000, log_every: 10, checkpoint_every: 20}\n"
                           "threads: 1\n");
    run_config_and_kill("i.yaml", "k", 100);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -r '%s/idx'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    tu_tmp_write_idx("idx", 48, 16, 48, -1);
    expect_refused_unchanged("i.yaml", "k", "was taken over 64 training samples, the data now has 48");
    tu_tmp_remove();
}
END_TEST

/* a token run's checkpoint has no data order, only the batcher's place:
 * a place its split cannot have (under a sound CRC) is refused before the
 * run writes anything, as for image runs */
START_TEST(test_token_position_refused)
{
    tu_tmp_make("checkpoint");
    tu_tmp_write("t.yaml", token_config);
    run_config_and_kill("t.yaml", "k", 100);
    damage("k", 95, 0, true); /* data_pos's top byte */
    expect_refused_unchanged("t.yaml", "k", "does not fit this split");
    tu_tmp_remove();
}
END_TEST

/* a copy of `from` as `to`, both under the test's directory */
static void copy_dir(const char *from, const char *to)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/%s' && cp -a '%s/%s' '%s/%s'", tu_tmp, to, tu_tmp, from, tu_tmp,
             to);
    ck_assert_int_eq(system(cmd), 0);
}

/* `normlab ARGS` in `cwd` (under the test's directory), its output in out.txt */
static int normlab_in(const char *cwd, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s/%s' && %s %s > '%s/out.txt' 2>&1", tu_tmp, cwd, NORMLAB_BINARY,
             args, tu_tmp);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A killed run started again by another spelling of its config's path or
 * its directory, from another working directory, or on another thread
 * count, resumes (the checkpoint is of the config's keys, not of the text
 * naming its path): the same thread count ends as the uninterrupted run,
 * another says that its last bits may differ, --quiet or not. */
START_TEST(test_resume_whatever_the_spelling)
{
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", config);
    ck_assert_int_eq(tu_normlab("run c.yaml --out ref --quiet"), 0);
    run_and_kill("k", 60);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir '%s/elsewhere'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    const struct {
        const char *dir, *cwd, *args;
        bool same_threads;
    } cases[] = {
        {"k1", ".", "run ./c.yaml --out ./k1 --quiet", true},
        {"k2", ".", "run %s/c.yaml --out %s/k2/ --quiet", true},
        {"k3", "elsewhere", "run ../c.yaml --out ../k3 --quiet", true},
        {"k4", ".", "run c.yaml --out k4 --threads 2 --quiet", false},
        {"k5", ".", "run c.yaml --out k5 --threads 2", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        copy_dir("k", cases[i].dir);
        char args[1400];
        snprintf(args, sizeof args, cases[i].args, tu_tmp, tu_tmp);
        const int rc = normlab_in(cases[i].cwd, args);
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 0 && strstr(out, "resumed from the checkpoint at step"), "%s: exit %d: %s",
                      args, rc, out);
        if (cases[i].same_threads)
            check_same_results(cases[i].dir, "ref", args);
        else
            ck_assert_msg(strstr(out, "the checkpoint was taken on 1 thread, this run has 2: the last "
                                      "bits of matrix products"), "%s: no notice: %s", args, out);
        free(out);
    }
    tu_tmp_remove();
}
END_TEST

/* rewrites the config keys in dir's checkpoint (this format, checkpoint.h's
 * layout) from `from` to `to`, with the header's hash and CRC they need,
 * as a crafted file would */
static void rewrite_keys(const char *dir, const char *from, const char *to)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, NL_CHECKPOINT_FILE);
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    ck_assert_int_eq(nl_read_file(path, &text, &len, &err), NL_OK);
    const size_t keys_at = 48 + nl_train_state_bytes(NL_CHECKPOINT_VERSION) + 4 * 8 +
                           NL_CHECKPOINT_KERNELS_BYTES + NL_CHECKPOINT_CONV_BYTES +
                           NL_CHECKPOINT_PRODUCTS_BYTES;
    int64_t keys_len;
    memcpy(&keys_len, text + keys_at, 8);
    char *keys = strndup(text + keys_at + 8, (size_t)keys_len);
    char *at = strstr(keys, from);
    ck_assert_msg(at != NULL, "no '%s' in the checkpoint's keys", from);
    nl_buf b = {0};
    nl_buf_printf(&b, "%.*s%s%s", (int)(at - keys), keys, to, at + strlen(from));
    const int64_t new_len = (int64_t)b.len;
    const size_t tail = len - keys_at - 8 - (size_t)keys_len;
    char *out = malloc(keys_at + 8 + b.len + tail);
    memcpy(out, text, keys_at);
    memcpy(out + keys_at, &new_len, 8);
    memcpy(out + keys_at + 8, b.data, b.len);
    memcpy(out + keys_at + 8 + b.len, text + keys_at + 8 + keys_len, tail);
    const size_t out_len = keys_at + 8 + b.len + tail;
    const uint64_t payload = out_len - 48, hash = nl_checkpoint_hash(b.data, b.len);
    memcpy(out + 16, &payload, 8);
    memcpy(out + 32, &hash, 8);
    resign(out, out_len);
    write_bytes(path, out, out_len);
    free(out);
    nl_buf_free(&b);
    free(keys);
    free(text);
}

/* A checkpoint at a step past train.steps (a sound file crafted for a
 * shorter run) is refused naming both numbers, before anything is written. */
START_TEST(test_step_past_end_refused)
{
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", config);
    run_and_kill("k", 100);
    rewrite_keys("k", "train.steps=1000\n", "train.steps=60\n");
    char *file = read_rel("k", NL_CHECKPOINT_FILE), want[200];
    int64_t step;
    memcpy(&step, file + 40, 8); /* the header's step (checkpoint.h) */
    free(file);
    snprintf(want, sizeof want, "is at step %lld, past this run's 60 steps", (long long)step);
    expect_refused_unchanged("c.yaml --set train.steps=60", "k", want);
    tu_tmp_remove();
}
END_TEST

/* Values are compared as written: seed 1000001 is not 1000000, although
 * the two are one number to float precision */
START_TEST(test_near_values_refused)
{
    tu_tmp_make("checkpoint");
    char *text = malloc(strlen(config) + 32);
    sprintf(text, "%sseed: 1000000\n", config);
    tu_tmp_write("c.yaml", text);
    free(text);
    run_and_kill("k", 60);
    expect_refused_unchanged("c.yaml --set seed=1000001", "k", "seed: 1000000 -> 1000001");
    tu_tmp_remove();
}
END_TEST

/* A checkpoint.nlck that is a FIFO is refused at once (no writer to wait
 * for), a directory named for what it is, --force included: exit 2 and
 * nothing changed. */
START_TEST(test_not_a_file_refused)
{
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", config);
    run_and_kill("k", 60);
    char path[1200];
    snprintf(path, sizeof path, "%s/k/%s", tu_tmp, NL_CHECKPOINT_FILE);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    char *before = dir_state("k");
    const pid_t pid = tu_normlab_start("run c.yaml --out k", "out.txt", "out.txt");
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 2000 && (done = waitpid(pid, &status, WNOHANG)) == 0; i++)
        usleep(10000);
    if (done == 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("a FIFO named %s hung the run for 20 s", NL_CHECKPOINT_FILE);
    }
    char *out = tu_normlab_output();
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2 && strstr(out, "is a FIFO, not a regular file"),
                  "FIFO: %s", out);
    free(out);
    char *after = dir_state("k");
    ck_assert_msg(!strcmp(before, after), "the refused run changed its directory");
    free(before);
    free(after);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    expect_refused_unchanged("c.yaml", "k", "is a directory, not a regular file");
    expect_refused_unchanged("c.yaml --force", "k", "is a directory, not a regular file");
    tu_tmp_remove();
}
END_TEST

/* a sweep killed alone: its runs stop (SIGTERM) and keep their checkpoints;
 * the sweep run again resumes them and ends as an uninterrupted one */
static const char *const sweep_modes[] = {"", "--one-process", "--claim"};

START_TEST(test_sweep_resumes_runs)
{
    const char *mode = sweep_modes[_i];
    tu_tmp_make("checkpoint");
    tu_tmp_write("c.yaml", config);
    tu_tmp_write("exp.yaml", "name: ck\nbase: c.yaml\ngrid:\n  seed: [1, 2]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out ref"), 0);
    char args[1400];
    snprintf(args, sizeof args, "sweep exp.yaml -j 2 --out s %s", mode);
    /* the kill must land while both runs are under way: on a loaded machine
     * one may finish before the other writes its first checkpoint, and a
     * finished run has nothing to resume; such an attempt is started over */
    for (int attempt = 0;; attempt++) {
        ck_assert_int_lt(attempt, 5);
        const pid_t sweep = tu_normlab_start(args, "sweep.txt", "sweep.txt");
        const double t0 = now_s();
        while (!(exists("s/runs/seed-1", NL_CHECKPOINT_FILE) &&
                 exists("s/runs/seed-2", NL_CHECKPOINT_FILE)) &&
               now_s() - t0 < 60)
            usleep(2000);
        int status;
        ck_assert_int_eq(kill(sweep, SIGKILL), 0);
        ck_assert(waitpid(sweep, &status, 0) == sweep);
        /* the runs stop on their own (the sweep's death signal) */
        for (int i = 0; i < 3000; i++) {
            nl_run_writer w;
            char d1[1200], d2[1200];
            snprintf(d1, sizeof d1, "%s/s/runs/seed-1", tu_tmp);
            snprintf(d2, sizeof d2, "%s/s/runs/seed-2", tu_tmp);
            if (!nl_run_dir_busy(d1, &w) && !nl_run_dir_busy(d2, &w))
                break;
            usleep(10000);
        }
        bool finished = false;
        for (int seed = 1; seed <= 2; seed++) {
            char dir[64];
            snprintf(dir, sizeof dir, "s/runs/seed-%d", seed);
            char *summary = exists(dir, "summary.json") ? read_rel(dir, "summary.json") : NULL;
            finished |= summary && strstr(summary, "\"status\": \"ok\"") != NULL;
            free(summary);
        }
        if (!finished)
            break;
        char path[1200];
        snprintf(path, sizeof path, "rm -rf '%s/s'", tu_tmp);
        ck_assert_int_eq(system(path), 0);
    }
    if (_i == 0) {
        /* the experiment changed since: its interrupted runs refuse their
         * checkpoints, naming the key, and keep them; --force starts them over */
        copy_dir("s", "changed");
        ck_assert_int_ne(tu_normlab("sweep exp.yaml -j 2 --out changed --set train.log_every=25"), 0);
        char *log = read_rel("changed/runs/seed-1", "stderr.txt");
        ck_assert_msg(strstr(log, "train.log_every: 30 -> 25") && exists("changed/runs/seed-1", NL_CHECKPOINT_FILE),
                      "the changed run did not refuse its checkpoint: %s", log);
        free(log);
        ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out changed --set train.log_every=25 --force"), 0);
        log = read_rel("changed/runs/seed-1", "stderr.txt");
        /* the last attempt: after the last "== TIME normlab run ..." line */
        const char *last = log;
        for (const char *p = strstr(log, "== "); p; p = strstr(p + 1, "\n== "))
            last = p;
        ck_assert_msg(strstr(last, "--force") && !strstr(last, "resum") &&
                          !exists("changed/runs/seed-1", NL_CHECKPOINT_FILE),
                      "--force did not start the run over: %s", log);
        free(log);
    }
    /* the sweep directory as another machine might mount it */
    snprintf(args, sizeof args, "sweep ./exp.yaml -j 2 --out %s/./s/ %s", tu_tmp, mode);
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 0, "%s: exit %d: %s", args, rc, out);
    free(out);
    for (int seed = 1; seed <= 2; seed++) {
        char dir[64], ref[64];
        snprintf(dir, sizeof dir, "s/runs/seed-%d", seed);
        snprintf(ref, sizeof ref, "ref/runs/seed-%d", seed);
        char *log = read_rel(dir, "stderr.txt");
        ck_assert_msg(strstr(log, "resumed from the checkpoint at step"), "%s: seed %d did not resume: %s",
                      mode, seed, log);
        free(log);
        check_same_results(dir, ref, dir);
    }
    tu_tmp_remove();
}
END_TEST


/* The state's field table, which the checkpoint's writer and reader both
 * iterate, covers the struct: its fields follow one another from offset 0
 * to data_order (the payload's tail, the struct's last member) with no gap,
 * so a field added to nl_train_state but not to the table fails here. */
START_TEST(test_state_table_covers_struct)
{
    size_t at = 0;
    for (int i = 0; i < nl_train_state_field_count; i++) {
        const nl_train_state_field *f = &nl_train_state_fields[i];
        ck_assert_msg(f->offset == at, "field %s at offset %zu, the previous one ends at %zu: a "
                      "field of nl_train_state is missing from nl_train_state_fields", f->name,
                      f->offset, at);
        ck_assert_msg(f->size > 0, "field %s has no bytes", f->name);
        at += f->size;
    }
    ck_assert_msg(at == offsetof(nl_train_state, data_order), "the table ends at %zu, data_order "
                  "begins at %zu: a field is missing from nl_train_state_fields", at,
                  offsetof(nl_train_state, data_order));
    ck_assert_msg(offsetof(nl_train_state, data_order) + sizeof(const int32_t *) ==
                  sizeof(nl_train_state), "a field after data_order is in no checkpoint");
    ck_assert_uint_eq(nl_train_state_bytes(NL_CHECKPOINT_VERSION), at);
}
END_TEST

/* Every field written comes back: each byte of the struct a distinct
 * value, written and read into a zeroed struct. */
START_TEST(test_state_round_trip)
{
    nl_train_state written, got;
    unsigned char *bytes = (unsigned char *)&written;
    for (size_t i = 0; i < sizeof written; i++)
        bytes[i] = (unsigned char)(1 + i % 251);
    written.data_order = NULL;
    const size_t n = nl_train_state_bytes(NL_CHECKPOINT_VERSION);
    unsigned char *buf = malloc(n + 1);
    ck_assert_ptr_nonnull(buf);
    buf[n] = 0xA5; /* the writer stops at its length */
    nl_train_state_write(&written, buf);
    ck_assert_uint_eq(buf[n], 0xA5);
    memset(&got, 0, sizeof got);
    nl_train_state_read(&got, buf, NL_CHECKPOINT_VERSION);
    free(buf);
    for (int i = 0; i < nl_train_state_field_count; i++) {
        const nl_train_state_field *f = &nl_train_state_fields[i];
        ck_assert_msg(!memcmp((const unsigned char *)&written + f->offset,
                              (const unsigned char *)&got + f->offset, f->size),
                      "field %s does not come back", f->name);
    }
    ck_assert_ptr_null(got.data_order);
    ck_assert_msg(!memcmp(&written, &got, offsetof(nl_train_state, data_order)),
                  "the state does not come back whole");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *state_case = tcase_create("state");
    tcase_add_test(state_case, test_state_table_covers_struct);
    tcase_add_test(state_case, test_state_round_trip);
    suite_add_tcase(s, state_case);
    TCase *tc = tcase_create("checkpoint");
    const char *trials = getenv("NL_KILL_TRIALS");
    tcase_set_timeout(tc, 300 + 60 * (trials && atoi(trials) > 0 ? atoi(trials) : 2));
    tcase_add_loop_test(tc, test_kill_and_resume, 0,
                        (int)(sizeof resume_cases / sizeof resume_cases[0]));
    tcase_add_test(tc, test_bad_checkpoint_refused);
    tcase_add_loop_test(tc, test_older_formats_resume, 0, NL_CHECKPOINT_VERSION - 1);
    tcase_add_test(tc, test_format4_fixture_reads);
    tcase_add_test(tc, test_frozen_step_resumes);
    tcase_add_test(tc, test_other_kernel_set_noted);
    tcase_add_test(tc, test_checkpoint_of_other_data_refused);
    tcase_add_test(tc, test_token_position_refused);
    tcase_add_loop_test(tc, test_sweep_resumes_runs, 0, (int)(sizeof sweep_modes / sizeof sweep_modes[0]));
    suite_add_tcase(s, tc);
    /* what decides whether a checkpoint is taken (CK_RUN_CASE=config runs these alone) */
    TCase *config_case = tcase_create("config");
    tcase_set_timeout(config_case, 300);
    tcase_add_test(config_case, test_resume_whatever_the_spelling);
    tcase_add_test(config_case, test_step_past_end_refused);
    tcase_add_test(config_case, test_near_values_refused);
    tcase_add_test(config_case, test_not_a_file_refused);
    suite_add_tcase(s, config_case);
    return tu_run_suite(s);
}
