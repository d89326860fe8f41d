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
            "it does for rows of summary.csv that are cut short or malformed).\n\n"
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

int cmd_table(int argc, char **argv)
{
    nl_table_spec spec = {.metric = NULL}; /* the directory's primary metric */
    const char *dir = NULL, *csv_path = NULL;
    char pair_key[256], pair_a[256], pair_b[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nl_cmd_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--by") || !strcmp(a, "--metric") || !strcmp(a, "--pair") ||
                   !strcmp(a, "--csv")) {
            if (i + 1 >= argc)
                return nl_cmd_usage_error("table", "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--by")) {
                if (spec.n_by == 32)
                    return nl_cmd_usage_error("table", "too many --by keys (at most 32)");
                spec.by[spec.n_by++] = v;
            } else if (!strcmp(a, "--metric")) {
                spec.metric = v;
            } else if (!strcmp(a, "--csv")) {
                if (!v[0])
                    return nl_cmd_usage_error("table", "--csv needs a file name, got ''");
                csv_path = v;
            } else {
                const char *eq = strchr(v, '='), *comma = eq ? strchr(eq, ',') : NULL;
                if (!eq || !comma || eq == v || comma == eq + 1 || !comma[1] || strchr(comma + 1, ',') ||
                    strlen(v) >= sizeof pair_key)
                    return nl_cmd_usage_error("table", "--pair takes KEY=A,B, e.g. --pair "
                                              "model.norm.type=batch,group; got '%s'", v);
                snprintf(pair_key, sizeof pair_key, "%.*s", (int)(eq - v), v);
                snprintf(pair_a, sizeof pair_a, "%.*s", (int)(comma - eq - 1), eq + 1);
                snprintf(pair_b, sizeof pair_b, "%s", comma + 1);
                if (!strcmp(pair_a, pair_b))
                    return nl_cmd_usage_error("table", "--pair: A and B are both '%s'", pair_a);
                spec.pair_key = pair_key;
                spec.pair_a = pair_a;
                spec.pair_b = pair_b;
            }
        } else if (nl_cmd_operand("table", a, &dir, "directory")) {
            return 2;
        }
    }
    if (!dir)
        return nl_cmd_usage_error("table", "no sweep directory given");
    nl_buf md = {0}, csv = {0}, notes = {0};
    nl_error err = {0};
    int status = 0;
    if (nl_table_write(dir, &spec, &md, csv_path ? &csv : NULL, &notes, &err) != NL_OK) {
        status = nl_cmd_report("table", &err);
    } else if (csv_path && (nl_output_check(csv_path, true, NULL, &err) != NL_OK || /* a FIFO, a link: exit 2 */
                            nl_write_atomic(csv_path, csv.data, csv.len, &err) != NL_OK)) {
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
