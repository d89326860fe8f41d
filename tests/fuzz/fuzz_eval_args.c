/* libFuzzer harness: `normlab eval`'s command line (cmd/eval.c's cmd_eval:
 * the options, then nl_eval_run's checks of them against the run, then the
 * evaluation and its record) on one finished run of fuzz_final_model.h's
 * config, made once per process (LLVMFuzzerInitialize). The real
 * evaluation runs per input: on this run it takes about a millisecond.
 * main()'s "--name=value" split (common to every command) is not fuzzed
 * here: cmd_eval is called as main calls it, after that split.
 *
 * Input: the arguments after RUN_DIR, separated by NUL bytes (at most
 * MAX_ARGS; an empty input is `normlab eval RUN_DIR`).
 *
 * Properties: the exit status is 0 or 2 (never 1 for bad arguments: the
 * run is sound, so a failure at run time cannot be the input's doing);
 * status 2 comes with a message on stderr and leaves the run directory as it
 * was (its files and their bytes); status 0 either printed the help (an -h
 * or --help among the arguments) and wrote nothing, or wrote exactly one
 * record, RUN_DIR/eval/NAME.json, and one row of RUN_DIR/eval/evals.csv,
 * and changed nothing else. The records are removed after each input, so
 * every input meets the same run.
 *
 * An argument that sizes the data at a million samples or more (a value
 * of 7 digits or more after "size=") is skipped: evaluating that many is
 * legitimately slow and takes more than the fuzzer's 2 GiB; what no machine
 * can hold is refused by nl_check_dataset_fits (test_eval checks that).
 *
 * stderr is captured per input (to check the message); the sanitizers
 * report to the real one. */
#include <dirent.h>
#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "config/config.h"
#include "fuzz_final_model.h"
#include "log/files.h"
#include "train/checkpoint.h"
#include "train/eval.h"
#include "train/run.h"
/* fuzz_files.h's dataset helpers go unused here */
#pragma clang diagnostic ignored "-Wunused-function"
#include "fuzz_files.h"

enum { MAX_ARGS = 24 };

static struct {
    char run_dir[512], capture[512];
    char *tree; /* the run directory as made (tree_listing) */
    int stderr_fd; /* the real stderr */
} fixture;

/* every file under dir (recursively, relative to root) with its size and
 * its bytes' hash, one a line, into out */
static void list_tree(const char *root, const char *rel, FILE *out)
{
    char path[1200];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    FUZZ_REQUIRE(d != NULL, "opendir %s", path);
    struct dirent *e;
    /* readdir's order is the directory's own: the same directory lists
     * alike as long as it holds the same names */
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[1200], file[1400];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(file, sizeof file, "%s/%s", root, sub);
        struct stat st;
        FUZZ_REQUIRE(lstat(file, &st) == 0, "lstat %s", file);
        if (S_ISDIR(st.st_mode)) {
            fprintf(out, "%s/\n", sub);
            list_tree(root, sub, out);
            continue;
        }
        char *bytes = NULL;
        size_t len = 0;
        nl_error err = {0};
        FUZZ_REQUIRE(nl_read_file(file, &bytes, &len, &err) == NL_OK, "%s", err.msg);
        fprintf(out, "%s %zu %016llx\n", sub, len,
                (unsigned long long)nl_checkpoint_hash(bytes, len));
        free(bytes);
    }
    closedir(d);
}

/* the run directory, eval/ aside, as text (caller frees); *records: the
 * eval/ directory's files (-1 when there is none) */
static char *tree_listing(int *records)
{
    char *text = NULL, eval_dir[600];
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    FUZZ_REQUIRE(out != NULL, "open_memstream");
    list_tree(fixture.run_dir, "", out);
    fclose(out);
    /* eval/'s lines out of the listing: what an accepted call may add */
    char *w = text;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        const size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        if (strncmp(line, NL_EVAL_DIR "/", strlen(NL_EVAL_DIR) + 1) != 0) {
            memmove(w, line, n);
            w += n;
        }
        line += n;
    }
    *w = '\0';
    snprintf(eval_dir, sizeof eval_dir, "%s/" NL_EVAL_DIR, fixture.run_dir);
    *records = -1;
    DIR *d = opendir(eval_dir);
    if (d) {
        *records = 0;
        for (struct dirent *e; (e = readdir(d));)
            *records += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        closedir(d);
    }
    return text;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fuzz_files_dir();
    snprintf(fixture.run_dir, sizeof fixture.run_dir, "%s/run", dir);
    snprintf(fixture.capture, sizeof fixture.capture, "%s/stderr.txt", dir);
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    FUZZ_REQUIRE(cfg && nl_config_load_string(fuzz_final_model_config, "fuzz-final-model.yaml", NULL, 0,
                                              cfg, &err) == NL_OK, "config: %s", err.msg);
    const nl_run_options opt = {.out_dir = fixture.run_dir, .threads = 1, .device = -1, .force = true};
    nl_run_outcome outcome;
    FUZZ_REQUIRE(nl_run(cfg, &opt, &outcome, &err) == NL_OK, "the run: %s", err.msg);
    free(cfg);
    int records;
    fixture.tree = tree_listing(&records);
    FUZZ_REQUIRE(records == -1, "the run has eval records already");
    /* what an accepted eval prints goes nowhere; what it and the
     * sanitizers say on stderr, see cmd_eval_captured */
    const int null_fd = open("/dev/null", O_WRONLY);
    FUZZ_REQUIRE(null_fd >= 0 && dup2(null_fd, STDOUT_FILENO) >= 0, "/dev/null");
    close(null_fd);
    fixture.stderr_fd = dup(STDERR_FILENO);
    FUZZ_REQUIRE(fixture.stderr_fd >= 0, "dup stderr");
    __sanitizer_set_report_fd((void *)(intptr_t)fixture.stderr_fd);
    return 0;
}

/* cmd_eval with stderr captured into *said (caller frees); the exit status */
static int cmd_eval_captured(int argc, char **argv, char **said)
{
    fflush(stderr);
    const int fd = open(fixture.capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_REQUIRE(fd >= 0 && dup2(fd, STDERR_FILENO) >= 0, "capture stderr");
    close(fd);
    const int status = cmd_eval(argc, argv);
    fflush(stderr);
    FUZZ_REQUIRE(dup2(fixture.stderr_fd, STDERR_FILENO) >= 0, "restore stderr");
    size_t len = 0;
    nl_error err = {0};
    FUZZ_REQUIRE(nl_read_file(fixture.capture, said, &len, &err) == NL_OK, "%s", err.msg);
    return status;
}

static bool asks_help(char **args, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(args[i], "-h") || !strcmp(args[i], "--help"))
            return true;
    return false;
}

/* whether an argument asks for a million samples or more (see the top) */
static bool oversized(char **args, int n)
{
    for (int i = 0; i < n; i++) {
        const char *size = strstr(args[i], "size=");
        int digits = 0;
        for (const char *c = size ? size + 5 : ""; *c; c++)
            digits += *c >= '0' && *c <= '9';
        if (digits >= 7)
            return true;
    }
    return false;
}

/* the lines of dir/name */
static int count_lines(const char *dir, const char *name)
{
    char path[1200], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    nl_error err = {0};
    if (nl_read_file(path, &text, NULL, &err) != NL_OK)
        return -1;
    int lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    free(text);
    return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char *argv[MAX_ARGS + 3] = {"eval", fixture.run_dir};
    int argc = 2;
    for (size_t at = 0; size > 0 && at <= size && argc < MAX_ARGS + 2;) {
        argv[argc++] = text + at;
        at += strlen(text + at) + 1;
    }
    argv[argc] = NULL;
    if (oversized(argv + 2, argc - 2)) {
        free(text);
        return 0;
    }

    char *said = NULL;
    const int status = cmd_eval_captured(argc, argv, &said);
    int records;
    char *tree = tree_listing(&records);
    FUZZ_REQUIRE(status == 0 || status == 2, "exit status %d: %s", status, said);
    FUZZ_REQUIRE(!strcmp(tree, fixture.tree), "exit status %d changed the run directory's files:\n"
                 "before:\n%s\nafter:\n%s", status, fixture.tree, tree);
    if (status == 2) {
        FUZZ_REQUIRE(!strncmp(said, "normlab eval: ", 14) && said[14] != '\n',
                     "a refusal without a message: '%s'", said);
        FUZZ_REQUIRE(records == -1, "a refusal wrote %d files into eval/: %s", records, said);
    } else if (asks_help(argv + 2, argc - 2) && records == -1) {
        /* the help: nothing written */
    } else {
        /* one record and the table */
        char eval_dir[600];
        snprintf(eval_dir, sizeof eval_dir, "%s/" NL_EVAL_DIR, fixture.run_dir);
        FUZZ_REQUIRE(records == 2, "an accepted eval left %d files in eval/ (a record and %s)",
                     records, NL_EVAL_TABLE);
        FUZZ_REQUIRE(count_lines(eval_dir, NL_EVAL_TABLE) == 2, "%s has %d lines, not a header "
                     "and one row", NL_EVAL_TABLE, count_lines(eval_dir, NL_EVAL_TABLE));
        fuzz_remove_tree(eval_dir);
    }
    free(tree);
    free(said);
    free(text);
    return 0;
}
