/* normlab eval: a finished run's final model on its test split, or on
 * another dataset, with batch norm folded or not; the record beside the run. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/names.h"
#include "cmd.h"
#include "int_options.h"
#include "config/config.h"
#include "train/eval.h"
#include "results/rundir.h"

#define MAX_DATA 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab eval RUN_DIR [--data KEY=VALUE]... [--fold-bn] [--name NAME]\n"
            "                    [--context N] [--batch N] [--batch-stats]\n"
            "                    [--device cpu|cuda] [--threads N]\n\n"
            "Evaluates a finished run's final model (RUN_DIR/final.nlck) in eval mode on the\n"
            "test split of its config.yaml (a token model: its validation text, loss and\n"
            "accuracy per token), and writes the record beside the run:\n"
            "RUN_DIR/eval/NAME.json and a row of RUN_DIR/eval/evals.csv (loss, accuracy,\n"
            "samples, folded or not, the data, context, batch, the device and the normlab\n"
            "version).\n\n"
            "  --data KEY=VALUE  a data.* key over config.yaml's, to evaluate on another\n"
            "                    dataset of the same input shape and classes (e.g.\n"
            "                    --data path=DIR, --data dataset=mnist); 'data.' may be left\n"
            "                    out; another dataset takes its own default path, not the\n"
            "                    run's\n"
            "  --fold-bn         batch norm folded into the linear or convolution before it\n"
            "                    (w' = w*gamma/sqrt(var+eps), b' = (b-mean)*gamma/sqrt(var+eps)\n"
            "                    + beta), the model built without those layers\n"
            "  --context N       a recurrent language model (rnn_lm) rebuilt from its final\n"
            "                    parameters to read sequences of N tokens; batch norm's\n"
            "                    per-step statistics past the trained length reuse its last\n"
            "                    step's. Models whose length the build fixes (rnn's image\n"
            "                    rows, a transformer's position table) are refused\n"
            "  --batch N         the evaluation batch size (default train.eval_batch_size;\n"
            "                    with --batch-stats train.batch_size); one larger than the\n"
            "                    split is the whole split\n"
            "  --batch-stats     each batch's own statistics instead of the running ones\n"
            "                    (train-mode evaluation, nothing updated; a short last batch\n"
            "                    left out): where the batch size changes the result; not\n"
            "                    with --fold-bn, which leaves no batch statistics\n"
            "  --name NAME       the record's name (default: test, test-folded, data or\n"
            "                    data-folded, then -tN, -bN, -batchstats as asked, numbered\n"
            "                    -2, -3, ... past those there; up to 200 letters, digits,\n"
            "                    '-', '_' and '.', not first)\n"
            "  --device D        cpu or cuda (default: the device the run trained on)\n"
            "  --threads N       CPU threads (default: the config's threads)\n\n"
            "A record is never replaced, also by evals running at once (each gets its\n"
            "own record and row); a record whose row cannot be written is taken back.\n"
            "Exit status: 0 evaluated and recorded, 1 failure at run time, 2 bad usage, not a\n"
            "finished run directory, a damaged final model, data of another shape or larger\n"
            "than this machine's memory, a model --fold-bn cannot fold or --context cannot\n"
            "rebuild, RUN_DIR/eval not a directory or evals.csv not a regular file, or the\n"
            "record named by --name there (nothing is written).\n");
}

typedef struct {
    const char *run_dir, *name;
    const char *data[MAX_DATA];
    int n_data;
    bool fold_bn, batch_stats;
    int device, threads, context, batch;
} eval_args;

/* A record's name is a file name of its own: RUN_DIR/eval/NAME.json, and
 * while it is written NAME.json.tmp.<pid>.<n>, within the 255 bytes a file
 * name has on Linux file systems (longer was exit 1, "File name too long",
 * found by tests/fuzz/fuzz_eval_args.c), and within the 256-byte buffer the
 * name is kept in (longer would have been cut short silently). */
#define RECORD_NAME_MAX 200

static bool plain_name(const char *s)
{
    if (!s[0] || s[0] == '.' || strlen(s) > RECORD_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* one option with its value into a: 0 when taken, else the exit status */
static int take_valued(void *ctx, const char *opt, const char *v)
{
    eval_args *a = ctx;
    if (strcmp(opt, "--data") == 0) {
        if (!strchr(v, '='))
            return nl_cmd_usage_error("eval", "--data takes KEY=VALUE, e.g. --data dataset=mnist; "
                                      "got '%s'", v);
        if (a->n_data == MAX_DATA)
            return nl_cmd_usage_error("eval", "too many --data options (at most %d)", MAX_DATA);
        a->data[a->n_data++] = v;
    } else if (strcmp(opt, "--name") == 0) {
        if (!plain_name(v))
            return nl_cmd_usage_error("eval", "--name: '%.*s%s' is not a record name (up to "
                                      "%d letters, digits, '-', '_' and '.', not first)",
                                      RECORD_NAME_MAX, v, strlen(v) > RECORD_NAME_MAX ? "..." : "",
                                      RECORD_NAME_MAX);
        a->name = v;
    } else if (strcmp(opt, "--context") == 0 || strcmp(opt, "--batch") == 0) {
        return nl_cmd_int_arg("eval", opt, v, strcmp(opt, "--context") == 0 ? &a->context : &a->batch);
    } else if (strcmp(opt, "--threads") == 0) {
        return nl_cmd_int_arg("eval", opt, v, &a->threads);
    } else if (nl_cmd_device_arg("eval", v, &a->device)) {
        return 2;
    }
    return 0;
}

/* -1 when the command line asks for an evaluation, else the exit status */
static int parse_args(int argc, char **argv, eval_args *a)
{
    const nl_cmd_option options[] = {
        {.name = "--fold-bn", .flag = &a->fold_bn},
        {.name = "--batch-stats", .flag = &a->batch_stats},
        {.name = "--data", .take = take_valued},
        {.name = "--name", .take = take_valued},
        {.name = "--context", .take = take_valued},
        {.name = "--batch", .take = take_valued},
        {.name = "--threads", .take = take_valued},
        {.name = "--device", .take = take_valued},
        {0},
    };
    const nl_cmd_line line = {.command = "eval", .usage = usage, .options = options, .ctx = a,
                              .operand = &a->run_dir, .what = "run directory",
                              .missing = "no run directory given"};
    const int status = nl_cmd_walk(&line, argc, argv);
    return status == NL_CMD_HELP ? 0 : status ? status : -1;
}

/* evaluates and records; the exit status */
static int evaluate_and_record(const eval_args *a)
{
    const nl_eval_options opt = {a->run_dir, a->data,    a->n_data,   a->fold_bn,      a->device,
                                 a->threads, a->context, a->batch,    a->batch_stats};
    nl_eval_result r;
    nl_error err = {0};
    /* where the record goes checked first: refused before the evaluation */
    if (nl_eval_check_outputs(a->run_dir, a->name, &err) != NL_OK || nl_eval_run(&opt, &r, &err) != NL_OK)
        return nl_cmd_report("eval", &err);
    char name[256], path[1400];
    if (a->name)
        snprintf(name, sizeof name, "%s", a->name);
    else
        nl_eval_record_name(&opt, name, sizeof name);
    if (nl_eval_write_record(a->run_dir, name, sizeof name, !a->name, &opt, &r, path, sizeof path,
                             &err) != NL_OK)
        return nl_cmd_report("eval", &err);
    printf("%s: test loss %.4f, accuracy %.2f%%%s over %ld %s%s", a->run_dir, r.loss,
           100.0 * r.accuracy, r.tokens ? " per token" : "", r.samples,
           r.tokens ? "windows" : "samples", r.overrides[0] ? " of " : "");
    if (r.overrides[0])
        printf("%s", r.overrides);
    if (r.tokens)
        printf(", context %d (trained at %d)", r.context, r.trained_context);
    printf(", batch %d%s", r.batch, a->batch_stats ? " with its own statistics" : "");
    if (a->fold_bn)
        printf(", %d batch norm layer%s folded", r.folded_layers, r.folded_layers == 1 ? "" : "s");
    printf("\n");
    if (!r.overrides[0] && r.run_final_test_accuracy == r.run_final_test_accuracy)
        printf("  the run's own final evaluation: accuracy %.2f%%\n",
               100.0 * r.run_final_test_accuracy);
    printf("  record: %s\n", path);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    eval_args a = {.device = -1};
    const int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    /* held from before the run is checked until its record is written: a
     * run started over meanwhile (--force) waits for no one and is refused,
     * rather than get this record of the model it replaces */
    int lock_fd;
    nl_error err = {0};
    if (nl_run_dir_read_lock(a.run_dir, &lock_fd, &err) != NL_OK)
        return nl_cmd_report("eval", &err);
    const int result = evaluate_and_record(&a);
    if (lock_fd >= 0)
        close(lock_fd);
    return result;
}
