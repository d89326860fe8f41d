/* normlab reproduce: an experiment's sweep, then its verdicts, in one
 * command: `normlab sweep` and `normlab verdict` as they are, one after the
 * other (the same code paths, the same files, the same exit statuses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "int_options.h"
#include "log/files.h"
#include "results/claims.h"

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
            "              headline claims need for power 0.8)\n"
            "  --quick     every run %d steps (--set train.steps=%d): a check of the pipeline,\n"
            "              not of the paper\n"
            "  --out DIR   the sweep directory (default results/NAME; with --seeds or --quick\n"
            "              /tmp/normlab-reproduce/NAME-seedsN-quick, keeping the committed one)\n"
            "  -j N        runs at once (default 1)\n"
            "  --no-registration  the verdicts do not look the claims up in git\n\n"
            "Exit status: the sweep's when it fails (1 runs failed, 2 bad usage or experiment\n"
            "file), else the verdict's (0 written, 2 bad claims).\n",
            QUICK_STEPS, QUICK_STEPS);
}

typedef struct {
    const char *name, *out, *seeds, *jobs;
    bool quick, no_registration;
} reproduce_args;

static int parse_args(int argc, char **argv, reproduce_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (nl_cmd_is_help(s)) {
            usage(stdout);
            return -1;
        } else if (!strcmp(s, "--quick")) {
            a->quick = true;
        } else if (!strcmp(s, "--no-registration")) {
            a->no_registration = true;
        } else if (!strcmp(s, "--seeds") || !strcmp(s, "--out") || !strcmp(s, "-j")) {
            if (i + 1 >= argc || (!strcmp(s, "--out") && !argv[i + 1][0]))
                return nl_cmd_usage_error("reproduce", "%s needs a value", s);
            *(!strcmp(s, "--seeds") ? &a->seeds : !strcmp(s, "--out") ? &a->out : &a->jobs) = argv[++i];
            /* sweep checks them again; checked here so that a bad one names
             * reproduce and never becomes part of the output directory's name */
            int n;
            if (strcmp(s, "--out") && nl_cmd_int_arg("reproduce", s, argv[i], &n))
                return 2;
        } else if (s[0] == '-' && s[1]) {
            return nl_cmd_usage_error("reproduce", "unknown option '%s'", s);
        } else if (a->name) {
            return nl_cmd_usage_error("reproduce", "one experiment at a time ('%s' and '%s')", a->name, s);
        } else {
            a->name = s;
        }
    }
    if (!a->name)
        return nl_cmd_usage_error("reproduce", "no experiment named (e.g. normlab reproduce ba-ln-lstm)");
    return 0;
}

int cmd_reproduce(int argc, char **argv)
{
    reproduce_args a = {0};
    const int bad = parse_args(argc, argv, &a);
    if (bad)
        return bad < 0 ? 0 : bad;
    const size_t len = strlen(a.name);
    const bool is_path = strchr(a.name, '/') || (len > 5 && !strcmp(a.name + len - 5, ".yaml"));
    char path[1100], base[256], out[1400], steps[64];
    if (is_path)
        nl_copy_string(path, sizeof path, a.name);
    else
        snprintf(path, sizeof path, "experiments/%s.yaml", a.name);
    const char *slash = strrchr(path, '/');
    snprintf(base, sizeof base, "%.*s", (int)strcspn(slash ? slash + 1 : path, "."), slash ? slash + 1 : path);
    if (a.out)
        nl_copy_string(out, sizeof out, a.out);
    else if (a.seeds || a.quick)
        snprintf(out, sizeof out, "/tmp/normlab-reproduce/%s%s%s%s", base, a.seeds ? "-seeds" : "",
                 a.seeds ? a.seeds : "", a.quick ? "-quick" : "");
    else
        snprintf(out, sizeof out, "results/%s", base);
    snprintf(steps, sizeof steps, "train.steps=%d", QUICK_STEPS);
    /* the seeds power asks for, recorded in the experiment file */
    char power_seeds[16] = "";
    nl_claim_set *claims = malloc(sizeof *claims);
    nl_error ignored = {0};
    if (!a.seeds && claims && nl_claims_load(path, claims, &ignored) == NL_OK && claims->power.seeds > 0) {
        snprintf(power_seeds, sizeof power_seeds, "%d", claims->power.seeds);
        a.seeds = power_seeds;
        printf("normlab reproduce: %d seeds, as %s's power: records\n", claims->power.seeds, path);
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
