/* normlab verdict: an experiment's declared claims computed from its
 * sweep's runs (core/verdict), written as verdicts.csv and verdicts.json,
 * printed, and drawn as a forest plot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "cmd.h"
#include "int_options.h"
#include "log/files.h"
#include "plot/plot.h"
#include "results/files.h"
#include "verdict/forest.h"
#include "verdict/ledger.h"
#include "verdict/verdict.h"
#include "verdict/withdrawn.h"

#define MAX_SWEEPS 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab verdict SWEEP_DIR... [--out DIR] [--seed N] [--level L] [--experiment FILE] [--force]\n"
            "                      [--no-registration] [--looks]\n"
            "       normlab verdict --withdrawn RESULTS_DIR [--out DIR] [--force]\n"
            "       normlab verdict --looks RESULTS_DIR [--out DIR] [--force]\n\n"
            "Computes the claims: an experiment file declares (results/usage.md, \"Claims and\n"
            "verdicts\") from its sweep directory's runs: per claim the effect paired by seed\n"
            "(a - b, a / b, a's value, or the rate of a bad outcome), its interval (n <= 2:\n"
            "nothing is decided; 3 to 9: Student's t, with the exact sign-flip p beside it;\n"
            "from 10: a studentized bootstrap of 10,000 resamples and its Monte Carlo error),\n"
            "one-sided p's of the claim and of its opposite, Holm's correction of both over\n"
            "the headline claims, and the verdict: holds, does not hold, inconclusive (with\n"
            "the seeds it would need), or described (a count). Says whether each claim is\n"
            "pre-registered: unchanged in the experiment file's git history at the commit\n"
            "its runs record. Names the commits, kernel sets and thread counts of the runs,\n"
            "and flags claims whose runs come from different commits. The experiment file\n"
            "is the one in experiments/ whose name: is the directory's name.\n\n"
            "Writes verdicts.csv and verdicts.json beside summary.csv and plots/verdicts.gp\n"
            "(rendered to verdicts.png when gnuplot is there: effect and interval per claim,\n"
            "the expectation marked); files that exist are refused (exit 2, nothing written)\n"
            "unless --force replaces them. The files of every SWEEP_DIR are written together,\n"
            "all or none: a failure leaves every old one as it was. Lists the withdrawn runs\n"
            "of the sweep and of its looks (NAME, NAME-confirm, NAME-confirm2, ...): committed\n"
            "runs a later commit removed (see --withdrawn).\n\n"
            "--withdrawn RESULTS_DIR lists, from the git history of RESULTS_DIR (a directory\n"
            "of sweeps in a git checkout, e.g. results), every sweep whose committed runs\n"
            "(runs/RUN/summary.json or metrics.csv) a later commit removed, wholly or in\n"
            "part: the commit, how many runs, where their data is now (an identical file in\n"
            "another directory: moved or restored; a rename within the sweep is no\n"
            "withdrawal) and the verdicts its verdicts.csv gave at the commit before. It\n"
            "writes them to RESULTS_DIR/withdrawn.csv (DIR/withdrawn.csv with --out), which\n"
            "results/claims.md's section \"Withdrawn runs\" is generated from.\n\n"
            "options:\n"
            "  --out DIR          write into DIR/<sweep name>/ instead\n"
            "  --seed N           the bootstrap's seed, 0 to 2^63 - 1 (default 1)\n"
            "  --level L          the intervals' level, in (0.5, 1) (default 0.95)\n"
            "  --experiment FILE  the experiment file (one SWEEP_DIR only)\n"
            "  --force            replace verdict files that exist\n"
            "  --no-registration  do not look claims up in git (an experiment file outside a\n"
            "                     git checkout is refused without it); marks them not checked,\n"
            "                     and lists no withdrawn runs\n"
            "  --withdrawn DIR    list the withdrawn runs under DIR instead (above)\n"
            "  --looks            for each claim with a plan: (results/usage.md), its looks (the\n"
            "                     sweep, NAME-confirm*, withdrawn sweeps not declared pilots),\n"
            "                     each with its seeds, z (the pooled t's p on the normal scale)\n"
            "                     and boundary, whether the plan was declared (its first commit\n"
            "                     in the experiment file) before the look's runs, and the\n"
            "                     plan's verdict: first-confirmation's is the first look whose\n"
            "                     claim was committed before its runs (the original included);\n"
            "                     a plan declared after its decisive look is marked post hoc.\n"
            "                     More looks than a group-sequential plan's K are refused (exit\n"
            "                     2). A sweep pilots: names is a pilot only where the history\n"
            "                     shows it declared before its runs were first committed; else\n"
            "                     it says so and counts it as a look. A pilot that names no\n"
            "                     sweep (beside SWEEP_DIR, or withdrawn) is refused (exit 2).\n"
            "                     Given a directory of sweeps (no summary.csv or verdicts.csv\n"
            "                     of its own, e.g. results), writes the ledger of every claim\n"
            "                     with a plan to RESULTS_DIR/looks.csv (DIR/looks.csv with\n"
            "                     --out), which results/claims.md's plan counts are read from.\n"
            "                     Each of its sweeps' experiment files is refused as a sweep's\n"
            "                     is (a pilot that names no sweep; outside a git checkout,\n"
            "                     unless --no-registration), whether the sweep has a\n"
            "                     verdicts.csv or not, and so is a directory none of whose\n"
            "                     sweeps has one yet (exit 2, nothing written)\n\n"
            "Exit status: 0 written, 1 failure at run time, 2 bad usage, claims or directory,\n"
            "or an output path holding a directory, FIFO or link where a file goes (or a file\n"
            "where a directory goes).\n");
}

typedef struct {
    const char *dirs[MAX_SWEEPS];
    int n_dirs;
    const char *out_dir, *experiment, *withdrawn;
    bool force, looks;
    nl_verdict_options opt;
} verdict_args;

/* --seed's or --level's value into the options */
static int take_number(void *ctx, const char *flag, const char *v)
{
    verdict_args *a = ctx;
    if (!strcmp(flag, "--seed")) {
        long long s;
        const int rc = nl_cmd_ll_arg("verdict", flag, v, &s);
        if (rc)
            return rc;
        a->opt.seed = (unsigned long long)s;
    } else {
        double level = NAN;
        if (!nl_parse_finite(v, &level) || !(level > 0.5 && level < 1))
            return nl_cmd_usage_error("verdict", "--level takes a number in (0.5, 1), e.g. 0.95; got '%s'", v);
        a->opt.level = level;
    }
    return 0;
}

/* 0 to go on, NL_CMD_HELP, or the exit status */
static int parse_args(int argc, char **argv, verdict_args *a)
{
    bool no_registration = false;
    const nl_cmd_option options[] = {
        {.name = "--force", .flag = &a->force},
        {.name = "--looks", .flag = &a->looks},
        {.name = "--no-registration", .flag = &no_registration},
        {.name = "--out", .text = &a->out_dir},
        {.name = "--experiment", .text = &a->experiment},
        {.name = "--withdrawn", .text = &a->withdrawn},
        {.name = "--seed", .take = take_number},
        {.name = "--level", .take = take_number},
        {0},
    };
    const nl_cmd_line line = {.command = "verdict", .usage = usage, .options = options, .ctx = a,
                              .operands = a->dirs, .n_operands = &a->n_dirs,
                              .max_operands = MAX_SWEEPS, .what = "sweep directories"};
    const int status = nl_cmd_walk(&line, argc, argv);
    if (status)
        return status;
    a->opt.registration = !no_registration;
    if (a->withdrawn && (a->n_dirs || a->experiment))
        return nl_cmd_usage_error("verdict", "--withdrawn lists a results directory's withdrawn runs; it takes no "
                                  "sweep directory or --experiment");
    if (a->withdrawn)
        return 0;
    if (!a->n_dirs)
        return nl_cmd_usage_error("verdict", "no sweep directory given");
    if (a->experiment && a->n_dirs > 1)
        return nl_cmd_usage_error("verdict", "--experiment names the file of one sweep directory; %d given",
                                  a->n_dirs);
    return 0;
}

/* one sweep's claims and verdicts, and where they go */
typedef struct {
    nl_claim_set claims;
    nl_verdict_report report;
    char out[1200];
    bool gnuplot_missing; /* the forest plot was not rendered */
    nl_buf withdrawn; /* the lines of its withdrawn runs (and its looks') */
} sweep_verdicts;

/* a sweep's verdict files (nl_verdict_outputs), written as one set with the other sweeps' */
static const char *const *const outputs = nl_verdict_outputs;
#define EXISTS_HINT "give --force to replace the verdict files, or --out DIR"

/* the withdrawn runs of the sweep in dir and of its looks, from the history
 * of the directory it is in (none where that is not in a git checkout: a
 * sweep made outside one has no committed runs to lose) */
static nl_code sweep_withdrawals(const char *dir, sweep_verdicts *s, nl_error *err)
{
    char parent[1100], name[256];
    nl_copy_string(parent, sizeof parent, dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/')
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    nl_copy_string(name, sizeof name, slash ? slash + 1 : parent);
    if (slash)
        *slash = '\0';
    else
        nl_copy_string(parent, sizeof parent, ".");
    nl_withdrawals w;
    nl_code rc = nl_withdrawals_find(slash == parent ? "/" : parent, &w, err);
    if (rc == NL_ERR_USAGE) {
        nl_error_clear(err);
        return NL_OK;
    }
    if (rc == NL_OK)
        nl_withdrawals_text(&w, name, &s->withdrawn);
    nl_withdrawals_free(&w);
    return rc;
}

static nl_code compute(const char *dir, const verdict_args *a, sweep_verdicts *s, nl_error *err)
{
    char path[1100];
    nl_code rc;
    if (a->experiment)
        nl_copy_string(path, sizeof path, a->experiment);
    else if ((rc = nl_verdict_find_experiment(dir, "experiments", path, sizeof path, err)))
        return rc;
    if ((rc = nl_claims_load(path, &s->claims, err)))
        return rc;
    if (s->claims.n == 0)
        return nl_fail(err, NL_ERR_CONFIG, "%s declares no claims: (results/usage.md, \"Claims and verdicts\", "
                       "says how)", path);
    /* a pilot that names no sweep is refused before anything is computed or written; with --looks, the
     * refusals --looks RESULTS_DIR makes of each of its sweeps (one rule: nl_looks_check). Without it, an
     * experiment file outside git is left to the registration lookup, after the claims' own refusals */
    rc = a->looks ? nl_looks_check(dir, &s->claims, a->opt.registration, err)
                  : nl_looks_check_pilots(dir, &s->claims, a->opt.registration, err);
    if (rc)
        return rc;
    if ((rc = nl_verdict_compute(dir, &s->claims, &a->opt, &s->report, err)))
        return rc;
    if (a->opt.registration && (rc = sweep_withdrawals(dir, s, err)))
        return rc;
    /* a look beyond a plan's K is refused here, before anything is written */
    if (a->looks && (rc = nl_looks_report(dir, &s->claims, a->opt.level, &s->withdrawn, err)))
        return rc;
    if (a->out_dir)
        snprintf(s->out, sizeof s->out, "%s/%s", a->out_dir, s->claims.name[0] ? s->claims.name : "sweep");
    else
        nl_copy_string(s->out, sizeof s->out, dir);
    return NL_OK;
}

/* every verdict file absent, or a regular file to replace with --force:
 * refused before anything is written (a directory or FIFO in one's place,
 * or in the place of a directory of its path, too) */
static nl_code check_outputs(const sweep_verdicts *s, bool force, nl_error *err)
{
    return nl_verdict_check_outputs(s->out, force, EXISTS_HINT, err);
}

/* verdicts.csv, verdicts.json and the forest plot (rendered where gnuplot
 * is, in the set's work directory) staged into set */
static nl_code stage_verdicts(sweep_verdicts *s, nl_outset *set, nl_error *err)
{
    char plots[1300], path[1400];
    nl_path_join(plots, sizeof plots, s->out, NL_PLOTS_DIR);
    nl_buf csv = {0}, json = {0};
    nl_verdict_csv(&s->report, &csv);
    nl_verdict_json(&s->report, &json);
    nl_path_join(path, sizeof path, s->out, outputs[0]);
    nl_code rc = nl_outset_add_buf(set, path, &csv, err);
    nl_path_join(path, sizeof path, s->out, outputs[1]);
    if (rc == NL_OK)
        rc = nl_outset_add_buf(set, path, &json, err);
    nl_buf_free(&csv);
    nl_buf_free(&json);
    nl_plot_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return rc ? rc : nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK && (rc = nl_outset_make_dirs(set, plots, err)) == NL_OK)
        rc = nl_outset_work_dir(set, plots, rep->work_dir, sizeof rep->work_dir, err);
    if (rc == NL_OK)
        rc = nl_verdict_forest(&s->report, plots, rep, err);
    if (rc == NL_OK)
        rc = nl_plot_render(rep, NL_PLOT_PNG, err);
    if (rc == NL_OK)
        rc = nl_plot_stage(rep, set, err);
    s->gnuplot_missing = rep->gnuplot_missing;
    free(rep);
    return rc;
}

/* every sweep's files staged, then placed together: all or none */
static int write_verdicts(sweep_verdicts *s, int n, bool force)
{
    nl_error err = {0};
    nl_outset *set = nl_outset_begin(force, EXISTS_HINT);
    nl_code rc = set ? NL_OK : nl_fail(&err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && rc == NL_OK; i++)
        rc = stage_verdicts(&s[i], set, &err);
    if (rc == NL_OK)
        rc = nl_outset_commit(set, NULL, &err);
    nl_outset_end(set);
    if (rc)
        return nl_cmd_report("verdict", &err);
    for (int i = 0; i < n; i++)
        printf("%s/verdicts.csv, verdicts.json, plots/verdicts.gp%s\n", s[i].out,
               s[i].gnuplot_missing ? " (no gnuplot on PATH: not rendered)" : ", plots/verdicts.png");
    return 0;
}

/* a listing's file (withdrawn.csv, looks.csv) written through an output
 * set: an existing one replaced only with --force, nothing written on a
 * refusal */
static nl_code write_listing(const char *path, const nl_buf *csv, bool force, nl_error *err)
{
    nl_outset *set = nl_outset_begin(force, EXISTS_HINT);
    nl_code rc = set ? NL_OK : nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK && (rc = nl_outset_add_buf(set, path, csv, err)) == NL_OK)
        rc = nl_outset_commit(set, NULL, err);
    nl_outset_end(set);
    return rc;
}

/* --withdrawn: the results directory's withdrawn runs, listed and written
 * to withdrawn.csv (nothing written on a refusal) */
static int list_withdrawn(const verdict_args *a)
{
    nl_error err = {0};
    nl_withdrawals w;
    if (nl_withdrawals_find(a->withdrawn, &w, &err))
        return nl_cmd_report("verdict", &err);
    char path[1400];
    nl_path_join(path, sizeof path, a->out_dir ? a->out_dir : a->withdrawn, NL_WITHDRAWN_FILE);
    nl_buf text = {0}, csv = {0};
    nl_withdrawals_text(&w, NULL, &text);
    nl_withdrawals_csv(&w, &csv);
    nl_code rc = write_listing(path, &csv, a->force, &err);
    if (rc == NL_OK) {
        nl_cmd_put_text(stdout, text.data ? text.data : "");
        printf("%s%s\n", path, w.shallow ? " (a shallow clone: removals before its first commit are not seen)" : "");
    }
    nl_buf_free(&text);
    nl_buf_free(&csv);
    nl_withdrawals_free(&w);
    return rc ? nl_cmd_report("verdict", &err) : 0;
}

/* --looks RESULTS_DIR: the ledger of every claim with a plan, written to
 * looks.csv (the experiment files from experiments/, each refused as for
 * a sweep, --no-registration too; nothing written on a refusal) */
static int write_looks(const verdict_args *a)
{
    nl_error err = {0};
    nl_buf csv = {0};
    int rows = 0;
    char path[1400];
    nl_path_join(path, sizeof path, a->out_dir ? a->out_dir : a->dirs[0], NL_LOOKS_FILE);
    nl_code rc = nl_looks_csv(a->dirs[0], "experiments", a->opt.registration, a->opt.level, &csv, &rows, &err);
    if (rc == NL_OK)
        rc = write_listing(path, &csv, a->force, &err);
    nl_buf_free(&csv);
    if (rc)
        return nl_cmd_report("verdict", &err);
    printf("%s (%d claim rows with a plan)\n", path, rows);
    return 0;
}

int cmd_verdict(int argc, char **argv)
{
    verdict_args a = {.opt = {.level = 0.95, .seed = 1, .resamples = 10000, .registration = true}};
    const int bad = parse_args(argc, argv, &a);
    if (bad)
        return bad < 0 ? 0 : bad;
    if (a.withdrawn)
        return list_withdrawn(&a);
    if (a.looks && a.n_dirs == 1 && !a.experiment && nl_looks_is_results_dir(a.dirs[0]))
        return write_looks(&a);
    sweep_verdicts *s = calloc((size_t)a.n_dirs, sizeof *s);
    if (!s) {
        fprintf(stderr, "normlab verdict: out of memory\n");
        return 1;
    }
    nl_error err = {0};
    int status = 0, done = 0;
    /* every sweep computed and checked before anything is written */
    for (; done < a.n_dirs && status == 0; done++)
        if (compute(a.dirs[done], &a, &s[done], &err) != NL_OK || check_outputs(&s[done], a.force, &err))
            status = nl_cmd_report("verdict", &err);
    for (int i = 0; i < a.n_dirs && status == 0; i++) {
        nl_buf text = {0};
        nl_verdict_text(&s[i].report, &text);
        nl_cmd_put_text(stdout, text.data ? text.data : "");
        nl_cmd_put_text(stdout, s[i].withdrawn.data ? s[i].withdrawn.data : "");
        nl_buf_free(&text);
    }
    if (status == 0)
        status = write_verdicts(s, a.n_dirs, a.force);
    for (int i = 0; i < done; i++) {
        nl_verdict_report_free(&s[i].report);
        nl_buf_free(&s[i].withdrawn);
    }
    free(s);
    return status;
}
