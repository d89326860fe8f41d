/* normlab table: the numbers behind a figure, over seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log/files.h"
#include "plot/plot.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab table DIR [--by KEY]... [--metric NAME] [--pair KEY=A,B] [--csv FILE]\n\n"
            "Summarizes a sweep directory's runs over seeds: one row per cell of the --by keys\n"
            "(default: every varied key but the seed and keys the others determine, such as a\n"
            "learning rate derived from the batch size) with the number of seeds, diverged\n"
            "runs, mean, standard deviation and Student-t 95%% interval of the metric, as a\n"
            "Markdown table on stdout. Accuracies and errors print in percent. When --by\n"
            "leaves out a key that varies, a cell pools configurations: the count is of runs\n"
            "and a pooled column names the keys and values (a warning says so on stderr, as\n"
            "it does for rows of summary.csv that are cut short or malformed). A formula\n"
            "normalizer is its one name (model.norm.name, its formulas: key, else\n"
            "expr-<hash of its text>), in rows and in --pair: --pair model.norm.type=batch,bin.\n\n"
            "options:\n"
            "  --by KEY        a cell key, e.g. --by model.norm.type --by train.batch_size\n"
            "  --metric NAME   a summary.csv column (default: final_test_loss for a language\n"
            "                  model, its measure; final_test_error for the others)\n"
            "  --pair KEY=A,B  also paired differences B - A of KEY's values A and B, between\n"
            "                  runs with the same seed and the same other keys (the same data\n"
            "                  order): the seed-to-seed spread they share cancels, e.g.\n"
            "                  --pair model.norm.type=batch,group. A key that applies to one of\n"
            "                  A and B only (dyt's alpha_init) gives a row per value, paired\n"
            "                  with the other's runs\n"
            "  --csv FILE      also write the rows as CSV, in summary.csv's units (fractions)\n\n"
            "Exit status: 0 written, 1 failure at run time, 2 bad usage or directory, or a\n"
            "directory, FIFO or link at --csv FILE (replaced only when a regular file).\n");
}

typedef struct {
    nl_table_spec spec;
    const char *csv_path;
    char pair_key[256], pair_a[256], pair_b[256];
} table_args;

/* --by, --pair or --csv's value into t: 0, or the exit status */
static int take_value(void *ctx, const char *option, const char *v)
{
    table_args *t = ctx;
    if (!strcmp(option, "--by")) {
        if (t->spec.n_by == 32)
            return nl_cmd_usage_error("table", "too many --by keys (at most 32)");
        t->spec.by[t->spec.n_by++] = v;
    } else if (!strcmp(option, "--csv")) {
        if (!v[0])
            return nl_cmd_usage_error("table", "--csv needs a file name, got ''");
        t->csv_path = v;
    } else {
        const char *eq = strchr(v, '='), *comma = eq ? strchr(eq, ',') : NULL;
        if (!eq || !comma || eq == v || comma == eq + 1 || !comma[1] || strchr(comma + 1, ',') ||
            strlen(v) >= sizeof t->pair_key)
            return nl_cmd_usage_error("table", "--pair takes KEY=A,B, e.g. --pair "
                                      "model.norm.type=batch,group; got '%s'", v);
        snprintf(t->pair_key, sizeof t->pair_key, "%.*s", (int)(eq - v), v);
        snprintf(t->pair_a, sizeof t->pair_a, "%.*s", (int)(comma - eq - 1), eq + 1);
        snprintf(t->pair_b, sizeof t->pair_b, "%s", comma + 1);
        if (!strcmp(t->pair_a, t->pair_b))
            return nl_cmd_usage_error("table", "--pair: A and B are both '%s'", t->pair_a);
        t->spec.pair_key = t->pair_key;
        t->spec.pair_a = t->pair_a;
        t->spec.pair_b = t->pair_b;
    }
    return 0;
}

int cmd_table(int argc, char **argv)
{
    table_args t = {.spec = {.metric = NULL}}; /* the directory's primary metric */
    const char *dir = NULL;
    const nl_cmd_option options[] = {
        {.name = "--by", .take = take_value},
        {.name = "--metric", .text = &t.spec.metric},
        {.name = "--pair", .take = take_value},
        {.name = "--csv", .take = take_value},
        {0},
    };
    const nl_cmd_line line = {.command = "table", .usage = usage, .options = options, .ctx = &t,
                              .operand = &dir, .what = "directory", .missing = "no sweep directory given"};
    const int walked = nl_cmd_walk(&line, argc, argv);
    if (walked)
        return walked == NL_CMD_HELP ? 0 : walked;
    nl_buf md = {0}, csv = {0}, notes = {0};
    nl_error err = {0};
    int status = 0;
    if (nl_table_write(dir, &t.spec, &md, t.csv_path ? &csv : NULL, &notes, &err) != NL_OK) {
        status = nl_cmd_report("table", &err);
    } else if (t.csv_path && (nl_output_check(t.csv_path, true, NULL, &err) != NL_OK || /* a FIFO, a link: exit 2 */
                              nl_write_atomic(t.csv_path, csv.data, csv.len, &err) != NL_OK)) {
        status = nl_cmd_report("table", &err);
    } else {
        /* what the table leaves out or pools, where it cannot be missed */
        for (const char *w = notes.data ? notes.data : ""; *w;) {
            const size_t len = strcspn(w, "\n");
            fprintf(stderr, "normlab table: warning: %.*s\n", (int)len, w);
            w += len + (w[len] == '\n');
        }
        nl_cmd_put_text(stdout, md.data);
    }
    nl_buf_free(&md);
    nl_buf_free(&csv);
    nl_buf_free(&notes);
    return status;
}
