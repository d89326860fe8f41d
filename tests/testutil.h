/* Shared test helpers: backends, random data, error metrics, and the reader
 * for the PyTorch golden fixtures written by tests/golden/make_goldens.py. */
#ifndef NL_TESTUTIL_H
#define NL_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "arch/kinds.h"
#include "log/host_facts.h"
#include "config/config.h"
#include "device/device.h"
#include "model/spec.h"
#include "train/train.h"

/* a CPU backend with a fixed thread count (0: every core), opened once per
 * process and team size */
nl_backend *tu_cpu(int threads);

/* a 2-thread CPU backend whose every convolution is oneDNN's
 * (NORMLAB_CONV=onednn), the channel-blocked layout's library, opened once;
 * NULL where this build or CPU has no channel block */
nl_backend *tu_onednn_blocked_cpu(void);

/* Checks an ops table against the list of ops (backend_ops.def): the slot
 * of every op the list gives `device` must be filled and every other slot
 * NULL. Returns how many slots are not so and names them in report
 * ("norm_backward (empty), ..."). */
int tu_ops_misfilled(const nl_ops *ops, nl_device device, char *report, size_t size);

void tu_fill_normal(float *x, size_t n, uint64_t seed, float mean, float std);
void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);

/* max |a - b| / max |b|: the error relative to the reference's scale, so
 * entries near zero do not blow up the metric */
double tu_norm_err(const float *got, const float *want, size_t n);
/* asserts tu_norm_err <= tol with a message naming what was compared */
#define tu_assert_close(got, want, n, tol, what)                                                   \
    do {                                                                                           \
        double e_ = tu_norm_err((got), (want), (n));                                               \
        ck_assert_msg(e_ <= (tol), "%s: normalized error %.3g > %.3g", (what), e_, (double)(tol)); \
    } while (0)

/* ---- golden fixtures ----
 * File layout (little endian): "NLFX", u32 version (1), u32 count, then per
 * tensor: u32 name length, name, u32 dtype (0 float32, 1 int32), u32 ndim,
 * u32 dims[ndim], data. */
typedef struct {
    char name[128];
    int dtype;
    int ndim;
    int dims[8];
    size_t count;
    void *data;
} tu_tensor;

typedef struct {
    char path[512];
    tu_tensor *tensors;
    int count;
} tu_fixture;

/* loads tests/fixtures/<file>; fails the test when missing or corrupt */
tu_fixture *tu_fixture_load(const char *file);
/* the same without check's asserts (usable in main): NULL and the reason in why */
tu_fixture *tu_fixture_read(const char *file, char *why, size_t size);
void tu_fixture_free(tu_fixture *f);
/* fails the test when the tensor is missing */
const tu_tensor *tu_get(const tu_fixture *f, const char *name);
/* tensor `what` of case `c`, stored as "<c>.<what>" */
const tu_tensor *tu_get_in(const tu_fixture *f, const char *c, const char *what);
const float *tu_getf_in(const tu_fixture *f, const char *c, const char *what);
/* a string the fixture stores as int32 characters, into buf */
const char *tu_get_string(const tu_fixture *f, const char *name, char *buf, size_t size);
/* the fixture's case count: its int32 tensor "cases" */
int tu_fixture_cases(const tu_fixture *f);
const tu_tensor *tu_find(const tu_fixture *f, const char *name); /* NULL when missing */
const float *tu_getf(const tu_fixture *f, const char *name);
float tu_scalar(const tu_fixture *f, const char *name);

/* ---- generated sections of the documentation ----
 * Checks that the text of `path` between begin_marker (a whole line) and
 * end_marker is what write() produces; with NL_UPDATE_README set, rewrites
 * it instead. `what` names the section in the failure message. Returns the
 * file's text as read (the caller frees it). */
char *tu_check_generated_section(const char *path, const char *begin_marker,
                                 const char *end_marker, void (*write)(FILE *out),
                                 const char *what);

/* ---- training from a dataset resident on the backend ----
 * Trains the model of a config text (its data, train: section and seed) on
 * `be` with nl_train (nl_train_tokens for token data), from host batches or
 * (resident) from the dataset
 * uploaded to the backend (core/train/device_data.h). Writes up to `max`
 * metric rows, their times set to 0 (the rest is what metrics.csv holds),
 * and returns their count. The variant says how the run is fed and
 * stepped, and receives what the run did: the backend's gather_rows and
 * gather_windows calls, and the steps replayed from a recording. */
typedef struct {
    bool resident; /* from the dataset on the backend */
    bool recorded; /* train.cuda_graph: auto (else off) */
    long gathers, replayed_steps, steps;
} tu_train_variant;
int tu_train_rows(nl_backend *be, const char *config_text, tu_train_variant *variant,
                  nl_metric_row *rows, int max);
/* the same without check's asserts, for any thread: -1 and the reason in err when the
 * config, the data, the build or the run fails */
int tu_train_rows_try(nl_backend *be, const char *config_text, tu_train_variant *variant,
                      nl_metric_row *rows, int max, nl_error *err);
/* the n rows of two runs are the same, bit for bit (times aside); the names
 * and the config number are for the message */
void tu_assert_same_rows(const nl_metric_row *want, const nl_metric_row *got, int n,
                         const char *want_name, const char *got_name, int config);
/* the run of `config_text` fed from a resident dataset logs the rows the
 * host-fed run logs, bit for bit, and did gather on the device; `config`
 * numbers it in messages */
void tu_assert_resident_repeats_host(nl_backend *be, const char *config_text, int config);
/* the run of `config_text` with its training step recorded once and
 * replayed (train.cuda_graph: auto) logs the rows of the run that launches
 * every kernel, bit for bit, and replayed every step (the config must log
 * no series), fed from the host and from a resident dataset */
void tu_assert_replayed_repeats_direct(nl_backend *be, const char *config_text, int config);

/* ---- the normlab binary ----
 * NORMLAB_BINARY is the program the tests run as `normlab`: the build's,
 * or NORMLAB_TEST_BINARY from the environment where set (a script that runs
 * it under qemu-user as another CPU: tests/portable/unit.sh). Either is a
 * path that exec and sh -c both run. */
const char *tu_normlab_binary(void);
#define NORMLAB_BINARY tu_normlab_binary()

/* ---- the hosts ----
 * Every host the test command has met, as recorded in tests/fixtures/hosts
 * (STEM.cpuinfo and STEM.lscpu, in name order), then this machine: visit
 * gets its name (the stem, or "this machine"), its facts read through
 * log/host_facts.h and whether it is a recording. A test that reads a fact
 * of the host runs its reading for each, so that it holds on every host
 * met and not only where it was written. A recording that does not read
 * fails the test. Returns the number of hosts visited. */
typedef void (*tu_host_visit)(const char *name, const nl_host_facts *facts, bool recorded,
                              void *ctx);
int tu_each_host(tu_host_visit visit, void *ctx);
/* the emulator the harness that started this program names
 * (NORMLAB_TEST_EMULATOR, exported by tests/portable/unit.sh, which starts
 * qemu: "qemu-EPYC-Milan"); NULL natively. Never inferred from the CPU. */
const char *tu_emulator(void);

/* ---- the committed reproductions ----
 * Calls visit for every experiments/NAME.yaml whose sweep directory is
 * committed (it holds a summary.csv and .gitignore does not name it: the
 * quickstart's is the user's own), in name order, with the experiment's
 * file name, its sweep directory relative to the source tree, and the exit
 * status and output of `normlab sweep experiments/NAME.yaml --dry-run`
 * (a line per run: "   4  RUN  KEY=VALUE ...  ACTION (DETAIL)"). A dry run
 * that names no sweep directory fails the test. Returns how many it visited:
 * the list is what is committed, so no test keeps a list of its own. */
typedef void (*tu_sweep_visit)(const char *experiment, const char *dir, int status,
                               const char *output, void *ctx);
int tu_committed_sweeps(tu_sweep_visit visit, void *ctx);

/* Calls visit for every committed sweep directory under results/ (a
 * summary.csv that .gitignore does not name), with its absolute path; in
 * name order, without a dry run. Returns how many it visited. */
typedef void (*tu_dir_visit)(const char *dir, void *ctx);
int tu_committed_sweep_dirs(tu_dir_visit visit, void *ctx);

/* ---- the sample of them the default suite reads (issue 115) ----
 * Both visits above go over every committed sweep only where the
 * environment says NL_COMMITTED_SWEEPS=all (the tests' NAME_all entries,
 * label long); otherwise over a fixed, seeded sample, so that the default
 * suite's time does not grow with results/: the committed sweep names
 * ordered by the FNV-1a 64-bit hash of TU_SAMPLE_SEED "/" NAME, and of
 * them the first TU_SAMPLE_COUNT whose summary.csv lists at most
 * TU_SAMPLE_MAX_RUNS runs. The list is derived from results/ each time,
 * never kept; tests/committed_sample.py draws the same one (test_committed_sweeps
 * compares the two). */
#define TU_SAMPLE_SEED "issue-115"
#define TU_SAMPLE_COUNT 8
#define TU_SAMPLE_MAX_RUNS 400
/* whether this run reads every committed sweep (NL_COMMITTED_SWEEPS=all) */
bool tu_committed_all(void);
/* the sample's names (results/NAME), in its order, into names (each up
 * to 256 bytes); returns how many (at most TU_SAMPLE_COUNT) */
int tu_committed_sample(char names[][256]);
/* FNV-1a 64 of seed "/" name: the sample's order */
uint64_t tu_sample_hash(const char *seed, const char *name);

/* C source text with its comments blanked (newlines kept, so line numbers
 * hold); string and character literals kept whole, or with their insides
 * blanked too when blank_literals (for lints of the code alone) */
void tu_blank_c_comments(char *text, bool blank_literals);

/* ---- scratch directories for tests that run the normlab binary ---- */
extern char tu_tmp[256]; /* the current test's directory */
/* makes a fresh /tmp/normlab-<tag>-XXXXXX into tu_tmp */
void tu_tmp_make(const char *tag);
/* writes / reads a file relative to tu_tmp (reading fails the test if it cannot) */
void tu_tmp_write(const char *name, const char *text);
char *tu_tmp_read(const char *name);
/* <run_dir>/metrics.csv (relative to tu_tmp) without its last column, elapsed_s (the clock's) */
char *tu_metrics_without_time(const char *run_dir);
/* runs `normlab <args>` in tu_tmp with its output in tu_tmp/out.txt; returns the exit status */
int tu_normlab(const char *args);
/* starts `normlab ARGS` in the test's directory without waiting: its own
 * process group (kill(-pid) reaches its children), stdout and stderr to the
 * two files (the same name: both into it), and killed with the test */
pid_t tu_normlab_start(const char *args, const char *out_log, const char *err_log);
char *tu_normlab_output(void);
/* writes an MNIST-style set (plain IDX files) into tu_tmp/<dir>: n_train
 * training and n_test test images of 28x28; the training files' headers
 * claim train_claim samples, and training label bad_label (when >= 0) is 10,
 * out of range */
void tu_tmp_write_idx(const char *dir, uint32_t n_train, uint32_t n_test, uint32_t train_claim,
                      int bad_label);
/* `git ARGS` in tu_tmp (a scratch repository: no user config, no signing,
 * branch main), its output dropped; fails the test when git does */
void tu_git(const char *args);
/* HEAD's hash in tu_tmp's repository into hash: abbreviated to `abbrev`
 * characters as runs record it (git rev-parse --short=N), or whole (0) */
void tu_git_head(char *hash, size_t size, int abbrev);
/* removes tu_tmp (tests call it when they pass: a failing test leaves it to look at) */
void tu_tmp_remove(void);

/* A small image model for kind-by-kind comparisons: `arch` on 1 x 8 x 8
 * images, 5 classes, two stages of widths 16 and 32 with ReLU, `kind` at
 * `placement` with 4 groups and ghost batches of 3 where it reads them */
nl_model_spec tu_small_image_spec(nl_arch arch, nl_norm_kind kind, nl_placement placement);

/* `yaml` loaded into cfg (failing the test with the loader's message) and
 * written back as normlab resolves a config before it runs (model.layout
 * still auto): the text, malloc'd */
char *tu_resolved_config(const char *yaml, nl_config *cfg);

struct nl_model;
/* the model's mean loss per row (each sample holds m->rows_per_sample rows:
 * tokens for an LM, 1 otherwise) over the n samples loaded, forward in
 * NL_MODE_TRAIN_FROZEN so the running statistics stay put */
double tu_model_mean_loss(struct nl_model *m, int n);
/* Central finite differences (step h) of tu_model_mean_loss against the
 * gradient the last backward left in parameter `index`, at 8 of its entries
 * (all of them when it has 8 or fewer) picked from `seed`: returns the
 * largest |difference - gradient| and puts the largest |gradient| seen (at
 * least 1e-6) in *max_grad. */
double tu_param_fd_error(struct nl_model *m, int n, int index, uint64_t seed, float h,
                         double *max_grad);

/* runs a check suite, returns the process exit status */
int tu_run_suite(Suite *s);

#endif
