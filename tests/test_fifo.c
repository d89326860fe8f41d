/* Every file normlab reads, replaced by a FIFO, and every command that
 * reads it: the command ends at once (a FIFO with no writer must not hang
 * it; a watchdog kills it after 30 s and fails the test) with exit status 2,
 * a message naming the FIFO's path, and nothing written anywhere. The pairs
 * come from one table, `readers`; the files are a finished run's, a sweep's
 * and its runs', the configs, an experiment file, a text corpus, IDX
 * (MNIST) files and plot templates. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/files.h"
#include "testutil.h"

/* a tiny MLP: it logs series.csv (gradient norms) and checkpoints, and
 * keeps its final model */
static const char *run_config = "name: small\n"
                                "seed: 3\n"
                                "data: {dataset: synthetic, train_size: 256, test_size: 64}\n"
                                "model: {arch: mlp, widths: [16], norm: {type: batch}}\n"
                                "train:\n"
                                "  batch_size: 32\n"
                                "  steps: 6\n"
                                "  eval_every: 3\n"
                                "  log_every: 2\n"
                                "  checkpoint_every: 3\n"
                                "  log: {grad_norms: true}\n"
                                "  optimizer: {lr: 0.05, momentum: 0.9}\n"
                                "threads: 1\n";

/* the same model started from the run's final model */
static const char *init_config = "seed: 3\n"
                                 "data: {dataset: synthetic, train_size: 256, test_size: 64}\n"
                                 "model: {arch: mlp, widths: [16], norm: {type: batch}}\n"
                                 "init: {from: run}\n"
                                 "train: {batch_size: 32, steps: 2, optimizer: {lr: 0.05}}\n"
                                 "threads: 1\n";

static const char *experiment = "name: exp\nbase: small.yaml\ngrid: {seed: [1, 2]}\n";

static const char *text_config = "data: {dataset: text, path: corpus.txt}\n"
                                 "model: {arch: lm, d_model: 16, heads: 2, layers: 1, context: 8}\n"
                                 "train: {batch_size: 4, steps: 2, eval_every: 2, "
                                 "optimizer: {type: adamw, lr: 0.01}}\n"
                                 "threads: 1\n";

/* an MNIST-style set in IDX files (tu_tmp_write_idx) */
static const char *idx_config = "data: {dataset: mnist, path: mn, train_size: 64, test_size: 32}\n"
                                "model: {arch: mlp, widths: [8]}\n"
                                "train: {batch_size: 16, steps: 2}\n"
                                "threads: 1\n";

#define MAX_READERS 8

/* each file normlab reads (relative to the test's directory) and every
 * command that reads it */
static const struct {
    const char *file;
    const char *commands[MAX_READERS];
    bool absent; /* the fixture has none (a finished run: a killed one's) */
} readers[] = {
    {.file = "small.yaml",
     .commands = {"run small.yaml --out new", "validate small.yaml", "show small.yaml",
                  "sweep exp.yaml --dry-run --out new", "sweep exp.yaml --out new"}},
    {.file = "exp.yaml",
     .commands = {"sweep exp.yaml --dry-run --out new", "sweep exp.yaml --out new",
                  "validate exp.yaml"}},
    {.file = "init.yaml", .commands = {"run init.yaml --out new", "validate init.yaml"}},
    {.file = "corpus.txt", .commands = {"run text.yaml --out new", "validate text.yaml"}},
    {.file = "mn/train-images-idx3-ubyte", .commands = {"run mn.yaml --out new", "validate mn.yaml"}},
    {.file = "mn/t10k-labels-idx1-ubyte", .commands = {"run mn.yaml --out new", "validate mn.yaml"}},
    {.file = "run/config.yaml",
     .commands = {"eval run", "show run", "plot run", "compare run sw/runs/seed-1 --out new",
                  "run init.yaml --out new"}},
    {.file = "run/summary.json",
     .commands = {"eval run", "show run", "plot run", "compare run sw/runs/seed-1 --out new",
                  "run init.yaml --out new", "run small.yaml --out run",
                  "run small.yaml --out run --force"}},
    {.file = "run/metrics.csv", .commands = {"plot run", "compare run sw/runs/seed-1 --out new"}},
    {.file = "run/series.csv", .commands = {"plot run"}},
    {.file = "run/final.nlck", .commands = {"eval run", "run init.yaml --out new"}},
    {.file = "run/checkpoint.nlck", .commands = {"run small.yaml --out run --force"}, .absent = true},
    {.file = "run/.normlab-run",
     .commands = {"eval run", "show run", "run init.yaml --out new", "run small.yaml --out run",
                  "run small.yaml --out run --force"}},
    {.file = "run/eval/evals.csv", .commands = {"eval run"}},
    {.file = "tpl/curves.gp", .commands = {"plot run --templates tpl", "plot sw --templates tpl"}},
    {.file = "tpl/compare.gp", .commands = {"compare run sw/runs/seed-1 --out new --templates tpl"}},
    {.file = "sw/summary.csv", .commands = {"table sw", "plot sw"}},
    {.file = "sw/runs/seed-1/config.yaml",
     .commands = {"table sw", "plot sw", "sweep exp.yaml --out sw"}},
    {.file = "sw/runs/seed-1/summary.json", .commands = {"sweep exp.yaml --out sw"}},
    {.file = "sw/runs/seed-1/metrics.csv", .commands = {"plot sw"}},
    {.file = "sw/runs/seed-1/stderr.txt", .commands = {"sweep exp.yaml --out sw --force"}},
};

/* every name, kind, size and modification time under the test's directory
 * (its output file aside): what a refused command must leave as it was */
static void tree_state(const char *rel, nl_buf *b)
{
    char dir[1400];
    snprintf(dir, sizeof dir, "%s/%s", tu_tmp, rel);
    DIR *d = opendir(dir);
    ck_assert_msg(d, "cannot list %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            (!rel[0] && (!strcmp(e->d_name, "out.txt") || !strcmp(e->d_name, "err.txt"))))
            continue;
        char child[1400], path[2800];
        snprintf(child, sizeof child, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(path, sizeof path, "%s/%s", tu_tmp, child);
        struct stat st;
        ck_assert_int_eq(lstat(path, &st), 0);
        nl_buf_printf(b, "%s %o %lld %lld.%09ld\n", child, (unsigned)st.st_mode,
                      (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        if (S_ISDIR(st.st_mode))
            tree_state(child, b);
    }
    closedir(d);
}

static char *tree(void)
{
    nl_buf b = {0};
    tree_state("", &b);
    return b.data ? b.data : strdup("");
}

/* the directory commands were told to write (--out new): a command that
 * wrongly wrote it is reported once, not again by every later command */
static void remove_new(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s/new", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* runs `normlab args`; false when the watchdog had to kill it */
static bool run_watched(const char *args, int *status)
{
    const pid_t pid = tu_normlab_start(args, "out.txt", "err.txt");
    pid_t done = 0;
    for (int i = 0; i < 3000 && (done = waitpid(pid, status, WNOHANG)) == 0; i++)
        usleep(10000);
    if (done == pid)
        return true;
    kill(-pid, SIGKILL);
    waitpid(pid, status, 0);
    return false;
}

static void make_fixtures(void)
{
    tu_tmp_write("small.yaml", run_config);
    tu_tmp_write("init.yaml", init_config);
    tu_tmp_write("exp.yaml", experiment);
    tu_tmp_write("text.yaml", text_config);
    tu_tmp_write("mn.yaml", idx_config);
    tu_tmp_write_idx("mn", 64, 32, 64, -1);
    /* the inputs are good: a refusal below is the FIFO's */
    static const char *const configs[] = {"small.yaml", "init.yaml", "exp.yaml", "text.yaml",
                                          "mn.yaml"};
    nl_buf corpus = {0};
    for (int i = 0; i < 400; i++)
        nl_buf_printf(&corpus, "the quick brown fox jumps over the lazy dog. ");
    tu_tmp_write("corpus.txt", corpus.data);
    nl_buf_free(&corpus);
    ck_assert_int_eq(tu_normlab("run small.yaml --out run --quiet"), 0);
    ck_assert_int_eq(tu_normlab("eval run"), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw"), 0);
    ck_assert_int_eq(tu_normlab("plot --write-templates tpl"), 0);
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        char args[128];
        snprintf(args, sizeof args, "validate %s", configs[c]);
        ck_assert_msg(tu_normlab(args) == 0, "normlab %s fails on the real files", args);
    }
    for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", tu_tmp, readers[r].file);
        struct stat st;
        ck_assert_msg(readers[r].absent ? stat(path, &st) != 0 : stat(path, &st) == 0 && S_ISREG(st.st_mode),
                      "the fixture %s %s", readers[r].absent ? "has a" : "has no", readers[r].file);
    }
}

/* the refusals, table row by row */
START_TEST(test_fifo_refused_by_every_reader)
{
    tu_tmp_make("fifo");
    make_fixtures();
    int failures = 0;
    nl_buf report = {0};
    for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++) {
        char path[1400], aside[1500];
        snprintf(path, sizeof path, "%s/%s", tu_tmp, readers[r].file);
        snprintf(aside, sizeof aside, "%s.aside", path);
        ck_assert(readers[r].absent || rename(path, aside) == 0);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        for (int c = 0; c < MAX_READERS && readers[r].commands[c]; c++) {
            const char *command = readers[r].commands[c];
            char *before = tree();
            int status = 0;
            const bool ended = run_watched(command, &status);
            char *after = tree(), *out = tu_tmp_read("err.txt");
            const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            const char *problem = !ended                          ? "hung (killed after 30 s)"
                                  : rc != 2                       ? "did not exit 2"
                                  : !strstr(out, readers[r].file) ? "named not the file on stderr"
                                  : strcmp(before, after)         ? "wrote something"
                                                                  : NULL;
            if (problem) {
                failures++;
                nl_buf_printf(&report, "%s a FIFO: normlab %s %s (exit %d): %.200s\n",
                              readers[r].file, command, problem, rc, out);
            }
            free(before);
            free(after);
            free(out);
            remove_new();
        }
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISFIFO(st.st_mode)) {
            failures++;
            nl_buf_printf(&report, "%s a FIFO: a command replaced or removed it\n", readers[r].file);
        }
        unlink(path);
        ck_assert(readers[r].absent || rename(aside, path) == 0);
    }
    if (failures)
        fputs(report.data, stderr); /* the whole list: check's messages are short */
    ck_assert_msg(!failures, "%d command(s) did not refuse a FIFO as they should (listed above)",
                  failures);
    nl_buf_free(&report);
    tu_tmp_remove();
}
END_TEST

/* ---- the helpers themselves: every way core/log/files.h opens a file to
 * read it, on every kind of file that is not a regular one ---- */

static nl_code via_open_regular(const char *path, nl_error *err)
{
    int fd;
    const nl_code rc = nl_open_regular(path, false, &fd, err);
    if (fd >= 0)
        close(fd);
    return rc;
}

static nl_code via_open_regular_absent_ok(const char *path, nl_error *err)
{
    int fd;
    const nl_code rc = nl_open_regular(path, true, &fd, err);
    if (fd >= 0)
        close(fd);
    return rc;
}

static nl_code via_fopen_regular(const char *path, nl_error *err)
{
    FILE *f;
    const nl_code rc = nl_fopen_regular(path, false, &f, err);
    if (f)
        fclose(f);
    return rc;
}

static nl_code via_open_regular_rw(const char *path, nl_error *err)
{
    int fd;
    const nl_code rc = nl_open_regular_rw(path, &fd, err);
    if (fd >= 0)
        close(fd);
    return rc;
}

static nl_code via_read_file(const char *path, nl_error *err)
{
    char *text = NULL;
    const nl_code rc = nl_read_file(path, &text, NULL, err);
    free(text);
    return rc;
}

static nl_code via_check_regular(const char *path, nl_error *err)
{
    return nl_check_regular(path, true, err);
}

static nl_code via_csv_continue(const char *path, nl_error *err)
{
    nl_csv csv;
    const nl_code rc = nl_csv_continue(&csv, path, 1, 0, err);
    if (rc == NL_OK)
        nl_csv_close(&csv, err);
    return rc;
}

static nl_code via_csv_open(const char *path, nl_error *err)
{
    nl_csv csv;
    static const char *const columns[] = {"a"};
    const nl_code rc = nl_csv_open(&csv, path, columns, 1, err);
    if (rc == NL_OK)
        nl_csv_close(&csv, err);
    return rc;
}

/* the readers refuse bad input (NL_ERR_DATA); the openers that write go
 * through the writer helper (core/log/hold.c), whose refusal of what is in
 * its way is a usage error, as an output set's is (both exit status 2) */
static const struct {
    const char *name;
    nl_code (*call)(const char *path, nl_error *err);
    nl_code refused;
} openers[] = {
    {"nl_open_regular", via_open_regular, NL_ERR_DATA},
    {"nl_open_regular (absent ok)", via_open_regular_absent_ok, NL_ERR_DATA},
    {"nl_fopen_regular", via_fopen_regular, NL_ERR_DATA},
    {"nl_open_regular_rw", via_open_regular_rw, NL_ERR_USAGE},
    {"nl_read_file", via_read_file, NL_ERR_DATA},
    {"nl_check_regular", via_check_regular, NL_ERR_DATA},
    {"nl_csv_continue", via_csv_continue, NL_ERR_USAGE},
    {"nl_csv_open", via_csv_open, NL_ERR_USAGE},
};

/* each opener refuses each kind with its code, the path and the kind
 * named, at once (the test's own timeout catches a hang), and reads a
 * regular file */
START_TEST(test_helpers_refuse_every_kind)
{
    tu_tmp_make("fifo-kinds");
    char fifo[512], dir[512], sock[512], regular[512];
    snprintf(fifo, sizeof fifo, "%s/fifo", tu_tmp);
    snprintf(dir, sizeof dir, "%s/dir", tu_tmp);
    snprintf(sock, sizeof sock, "%s/sock", tu_tmp);
    snprintf(regular, sizeof regular, "%s/regular", tu_tmp);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    const int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert(strlen(sock) < sizeof addr.sun_path);
    strcpy(addr.sun_path, sock);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&addr, sizeof addr), 0);
    const struct {
        const char *path, *kind;
    } kinds[] = {{fifo, "a FIFO"}, {dir, "a directory"}, {sock, "a socket"}, {"/dev/null", "a device"}};
    for (size_t o = 0; o < sizeof openers / sizeof *openers; o++) {
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
            nl_error err = {0};
            const nl_code rc = openers[o].call(kinds[k].path, &err);
            char want[600];
            snprintf(want, sizeof want, "%s is %s, not a regular file", kinds[k].path, kinds[k].kind);
            ck_assert_msg(rc == openers[o].refused && nl_code_exit_status(rc) == 2 && strstr(err.msg, want),
                          "%s on %s: code %d, '%s'", openers[o].name, kinds[k].kind, rc, err.msg);
        }
        /* a regular file is read (and the descriptor blocks again: a read
         * of the whole file returns it all) */
        tu_tmp_write("regular", "a\n");
        nl_error err = {0};
        ck_assert_msg(openers[o].call(regular, &err) == NL_OK, "%s on a regular file: %s",
                      openers[o].name, err.msg);
    }
    int fd;
    nl_error err = {0};
    tu_tmp_write("regular", "a\n");
    ck_assert_int_eq(nl_open_regular(regular, false, &fd, &err), NL_OK);
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);
    /* the kernel's files: the allowlist and nothing else */
    FILE *f = nl_fopen_system("/proc/self/stat");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_ptr_null(nl_fopen_system(regular));
    ck_assert_int_eq(nl_open_system(fifo, O_RDONLY), -1);
    close(s);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fifo");
    TCase *tc = tcase_create("readers");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_helpers_refuse_every_kind);
    tcase_add_test(tc, test_fifo_refused_by_every_reader);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
