/* normlab pack SWEEP_DIR: a finished sweep's runs/ into SWEEP_DIR/runs.sqlite
 * (results/store.h), which every reader reads as it read the directories. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "results/files.h"
#include "results/store.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab pack SWEEP_DIR\n\n"
            "Puts a finished sweep's run directories (SWEEP_DIR/runs/RUN/) into one SQLite file,\n"
            "SWEEP_DIR/" NL_SWEEP_PACK ", then removes them. table, verdict, plot, show, compare,\n"
            "report, export tensorboard, init.from and a sweep run again read the packed sweep as\n"
            "they read its directories (a run by its old path, SWEEP_DIR/runs/RUN); eval refuses a\n"
            "run inside it. `normlab export csv SWEEP_DIR --out DIR` writes the run\n"
            "directories back, file for file. The file opens without normlab (the sqlite3 shell,\n"
            "Python's sqlite3 and zlib, pandas): table runs holds each run's config.yaml, summary.json\n"
            "and metrics.csv deflated against the first run's (table dictionaries), files every other\n"
            "file as an SQLite Archive keeps it, normlab_pack the schema_version; results/usage.md\n"
            "shows how to read them.\n\n"
            "Packing is one transaction into a temporary beside the sweep, read back and compared\n"
            "byte for byte with every file it replaces, then renamed into place; only then are\n"
            "the directories removed. Killed before the rename, the directories stay; after it,\n"
            "`normlab pack` again compares the directories left with the pack and removes them.\n\n"
            "Exit status: 0 packed, 1 failure at run time, 2 a directory that is no sweep or is\n"
            "packed already, a run unfinished, being written or holding a checkpoint, a sweep\n"
            "running there, a link or a file that is not regular in runs/, or a pack there that\n"
            "does not match its directories. Nothing is written or removed on an error.\n");
}

int cmd_pack(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (nl_cmd_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (nl_cmd_operand("pack", argv[i], &dir, "sweep directory"))
            return 2;
    }
    if (!dir)
        return nl_cmd_usage_error("pack", "give a sweep directory, e.g. normlab pack results/quickstart");
    nl_store_pack_report rep;
    nl_error err = {0};
    const double started = nl_cmd_now();
    if (nl_store_pack(dir, &rep, &err))
        return nl_cmd_report("pack", &err);
    if (rep.resumed)
        printf("%s: packed already; the %d run director%s left were the pack's, byte for byte, and are "
               "removed\n", dir, rep.runs, rep.runs == 1 ? "y" : "ies");
    else
        printf("%s/" NL_SWEEP_PACK ": %d runs, %d files, %.1f MiB of files in %.1f MiB, in %.1f s\n", dir,
               rep.runs, rep.files, (double)rep.bytes_in / 1048576.0, (double)rep.bytes_out / 1048576.0,
               nl_cmd_now() - started);
    return 0;
}
