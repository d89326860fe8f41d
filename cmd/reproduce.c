/* normlab reproduce: an experiment's sweep, then its verdicts, in one
 * command: `normlab sweep` and `normlab verdict` as they are, one after the
 * other (the same code paths, the same files, the same exit statuses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ident.h"
#include "cmd.h"
#include "int_options.h"
#include "log/files.h"
#include "results/claims.h"
#include "sweep/sweep.h"
#include "verdict/registered.h"
#include "verdict/verdict.h"

/* reproduce runs a sweep and reads its verdict: every seed its grid can
 * list must be a seed the verdict reads */
_Static_assert(NL_VERDICT_MAX_SEEDS >= NL_SWEEP_MAX_VALUES, "the verdict reads every seed");

/* --quick: every run this many steps, into a directory of its own: the
 * pipeline end to end in minutes, its verdicts about short runs */
#define QUICK_STEPS 30

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab reproduce NAME [--seeds N] [--quick] [--out DIR] [-j N] [--no-registration]\n\n"
            "Runs experiments/NAME.yaml's sweep (normlab sweep: finished runs are kept, so on\n"
            "the committed results/NAME it only redraws the plots), then computes and prints\n"
            "the verdicts on its claims (normlab verdict, replacing earlier verdict files of\n"
            "that directory). NAME may also be the experiment file's path.\n\n"
            "options:\n"
            "  --seeds N   the grid's seeds become 1..N (normlab sweep --seeds); without it, the\n"
            "              experiment's power: {seeds: N} where it records one (the seeds its\n"
            "              headline claims need for power 0.8) and the grid's seeds are 1..k,\n"
            "              k < N; a grid of other seeds (a confirmation's) runs as written\n"
            "  --quick     every run %d steps (--set train.steps=%d): a check of the pipeline,\n"
            "              not of the paper\n"
            "  --out DIR   the sweep directory (default results/NAME, NAME the file's name: where it\n"
            "              gives one; with --seeds or --quick /tmp/normlab-reproduce/NAME-seedsN-quick,\n"
            "              keeping the committed one)\n"
            "  -j N        runs at once (default 1)\n"
            "  --no-registration  the verdicts do not look the claims up in git\n\n"
            "Before the first run it checks what the verdicts will need: the file, its claims\n"
            "(at least one, each parsing), the git checkout the registration is looked up in\n"
            "(unless --no-registration) and the verdict files' places; a refusal (exit 2)\n"
            "writes nothing.\n\n"
            "Exit status: the sweep's when it fails (1 runs failed, 2 bad usage or experiment\n"
            "file), else the verdict's (0 written, 2 bad claims).\n",
            QUICK_STEPS, QUICK_STEPS);
}

typedef struct {
    const char *name, *out, *seeds, *jobs;
    bool quick, no_registration;
} reproduce_args;

/* sweep checks --seeds and -j again; checked here so that a bad one names
 * reproduce and never becomes part of the output directory's name */
static int check_count(void *ctx, const char *option, const char *value)
{
    (void)ctx;
    int n;
    return nl_cmd_int_arg("reproduce", option, value, &n) ? 2 : 0;
}

/* 0 to go on, NL_CMD_HELP, or the exit status */
static int parse_args(int argc, char **argv, reproduce_args *a)
{
    const nl_cmd_option options[] = {
        {.name = "--quick", .flag = &a->quick},
        {.name = "--no-registration", .flag = &a->no_registration},
        {.name = "--seeds", .text = &a->seeds, .take = check_count},
        {.name = "-j", .text = &a->jobs, .take = check_count},
        {.name = "--out", .text = &a->out, .nonempty = true},
        {0},
    };
    const nl_cmd_line line = {.command = "reproduce", .usage = usage, .options = options,
                              .operand = &a->name, .what = "experiment",
                              .missing = "no experiment named (e.g. normlab reproduce ba-ln-lstm)"};
    const int status = nl_cmd_walk(&line, argc, argv);
    if (status)
        return status;
    return 0;
}

/* NAME as given, never cut: a path (a '/' in it, or ending in .yaml) is the
 * file, its stem (the name without .yaml) everything before that suffix;
 * else experiments/NAME.yaml, NAME a whole identifier (so tiny.v2 is
 * experiments/tiny.v2.yaml, never tiny's) */
static nl_code resolve(const char *name, char *path, size_t size, char *stem, size_t stem_size, nl_error *err)
{
    const size_t len = strlen(name);
    const bool yaml = len > 5 && !strcmp(name + len - 5, ".yaml");
    char shown[300];
    if (!strchr(name, '/') && !yaml && !nl_ident_ok(name))
        return nl_fail(err, NL_ERR_USAGE, "'%s' is not an experiment's name (it names experiments/NAME.yaml); "
                       "accepted: " NL_IDENT_ACCEPTED ", at most %d characters, or the file's path",
                       nl_text_show(name, shown, sizeof shown), NL_IDENT_MAX);
    const int n = strchr(name, '/') || yaml ? snprintf(path, size, "%s", name)
                                            : snprintf(path, size, "experiments/%s.yaml", name);
    if (n < 0 || (size_t)n >= size)
        return nl_fail(err, NL_ERR_USAGE, "'%s': too long a path (at most %zu bytes)",
                       nl_text_show(name, shown, sizeof shown), size - 1);
    if (!nl_path_exists(path))
        return nl_fail(err, NL_ERR_USAGE, "no experiment file %s (NAME is experiments/NAME.yaml, or the file's "
                       "path)", path);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t stem_len = strlen(base);
    if (stem_len > 5 && !strcmp(base + stem_len - 5, ".yaml"))
        stem_len -= 5;
    if (stem_len >= stem_size)
        return nl_fail(err, NL_ERR_USAGE, "%s: too long a file name (at most %zu characters before .yaml)", path,
                       stem_size - 1);
    snprintf(stem, stem_size, "%.*s", (int)stem_len, base);
    return NL_OK;
}

/* What the verdicts after the sweep will need, checked before its first
 * run: the claims (present, parsing), the registration lookup's git
 * checkout, and verdict's files' places under out (replaced, as reproduce
 * always does, but never a directory or FIFO where a file goes). A sweep
 * of hours that ends in a refusal of its verdicts is work thrown away. */
static nl_code preflight(const reproduce_args *a, const char *path, const nl_claim_set *claims, const char *out,
                         nl_error *err)
{
    if (claims->n == 0)
        return nl_fail(err, NL_ERR_CONFIG, "%s declares no claims: (results/usage.md, \"Claims and verdicts\", "
                       "says how); reproduce computes verdicts after the sweep: normlab sweep %s runs it alone",
                       path, path);
    if (!a->no_registration) {
        nl_registry *reg = NULL;
        const nl_code rc = nl_registry_open(claims, &reg, err);
        nl_registry_close(reg);
        if (rc)
            return rc;
    }
    return nl_verdict_check_outputs(out, true, "", err);
}

/* the sweep directory: --out, else results/NAME or a directory of its own
 * under /tmp for a sweep that is not the committed one's; NAME the file's
 * name: (the sweep's name), else its whole stem */
static nl_code output_dir(const reproduce_args *a, const nl_claim_set *claims, const char *stem, char *out,
                          size_t size, nl_error *err)
{
    const char *name = claims->name[0] ? claims->name : stem;
    char shown[300];
    if (a->out)
        return snprintf(out, size, "%s", a->out) < (int)size ? NL_OK
               : nl_fail(err, NL_ERR_USAGE, "--out: too long a path (at most %zu bytes)", size - 1);
    if (!nl_ident_ok(name))
        return nl_fail(err, NL_ERR_USAGE, "%s gives no name: and its file name '%s' is not a sweep's name; "
                       "accepted: " NL_IDENT_ACCEPTED "; give name: or --out DIR", claims->path,
                       nl_text_show(name, shown, sizeof shown));
    if (a->seeds || a->quick)
        snprintf(out, size, "/tmp/normlab-reproduce/%s%s%s%s", name, a->seeds ? "-seeds" : "", a->seeds ? a->seeds : "",
                 a->quick ? "-quick" : "");
    else
        snprintf(out, size, "results/%s", name);
    return NL_OK;
}

/* the file resolved, its claims read, the output named and everything the
 * verdicts need checked: NL_OK, or the refusal, before any run */
static nl_code prepare(reproduce_args *a, nl_claim_set *claims, char *path, size_t path_size, char *out,
                       size_t out_size, nl_error *err)
{
    char stem[256];
    nl_code rc = resolve(a->name, path, path_size, stem, sizeof stem, err);
    if (rc == NL_OK)
        rc = nl_claims_load(path, claims, err);
    if (rc == NL_OK)
        rc = output_dir(a, claims, stem, out, out_size, err);
    if (rc == NL_OK)
        rc = preflight(a, path, claims, out, err);
    return rc;
}

int cmd_reproduce(int argc, char **argv)
{
    reproduce_args a = {0};
    const int bad = parse_args(argc, argv, &a);
    if (bad)
        return bad < 0 ? 0 : bad;
    char path[1100], out[1400], steps[64];
    nl_claim_set *claims = malloc(sizeof *claims);
    nl_error err = {0};
    const nl_code rc = claims ? prepare(&a, claims, path, sizeof path, out, sizeof out, &err)
                              : nl_fail(&err, NL_ERR_NOMEM, "out of memory");
    if (rc) {
        free(claims);
        return nl_cmd_report("reproduce", &err);
    }
    snprintf(steps, sizeof steps, "train.steps=%d", QUICK_STEPS);
    /* the seeds power asks for, recorded in the experiment file, where they
     * extend the grid's 1..k; a grid of other seeds (a confirmation's fresh
     * ones) is run as written: 1..N would repeat the original's seeds */
    char power_seeds[16] = "";
    if (!a.seeds && claims->power.seeds > 0) {
        nl_experiment e;
        const nl_code loaded = nl_experiment_load(path, &e, &err);
        if (loaded) {
            free(claims);
            return nl_cmd_report("reproduce", &err);
        }
        const int prefix = nl_experiment_seed_prefix(&e);
        nl_experiment_free(&e);
        if (prefix > 0 && prefix < claims->power.seeds) {
            snprintf(power_seeds, sizeof power_seeds, "%d", claims->power.seeds);
            a.seeds = power_seeds;
            printf("normlab reproduce: %d seeds, as %s's power: records\n", claims->power.seeds, path);
        }
    }
    free(claims);
    char *sweep[12] = {"sweep", path, "--out", out, "-j", (char *)(a.jobs ? a.jobs : "1")};
    int n = 6;
    if (a.seeds) {
        sweep[n++] = "--seeds";
        sweep[n++] = (char *)a.seeds;
    }
    if (a.quick) {
        sweep[n++] = "--set";
        sweep[n++] = steps;
    }
    const int status = cmd_sweep(n, sweep);
    if (status != 0)
        return status;
    char *verdict[] = {"verdict", out, "--experiment", path, "--force", "--no-registration"};
    return cmd_verdict(a.no_registration ? 6 : 5, verdict);
}
