/* normlab search: an evolutionary search over formula normalizers
 * (core/search/search.h, issue 117). Parses the command line, prints a line
 * per candidate decided and, at the end, the funnel and the best. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "int_options.h"
#include "norm/formula_edit.h"
#include "search/search.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab search SEARCH.yaml [--out DIR] [--seed N] [--quiet]\n"
            "       normlab search SEARCH.yaml --funnel N\n\n"
            "Evolves formula normalizers (model.norm.type expr) on a base model, ranked\n"
            "on K models, as EvoNorm's search did: from the start formulas, each generation makes\n"
            "`population` children, each a mutation of a parent drawn by a Pareto\n"
            "tournament (T = `tournament` members drawn, one of those no other drawn one\n"
            "dominates on the scores drawn) among the best `population` candidates of the\n"
            "earlier generations that passed (the start formulas while none has). The\n"
            "mutations edit the parsed formula's tree, with words from the vocabulary:\n");
    for (int m = 0; m < nl_formula_mutation_count; m++)
        fprintf(out, "  %-14s %s\n", nl_formula_mutations[m].name, nl_formula_mutations[m].help);
    fprintf(out, "\nEach candidate is rejected at the first of these stages it fails, cheapest first:\n");
    for (int s = 0; s < NL_STAGE_COUNT; s++)
        fprintf(out, "  %-14s %s\n", nl_search_stages[s].name, nl_search_stages[s].help);
    fprintf(out, "\nThe degeneracy checks (reject: [...] names those applied; * by default):\n");
    for (int i = 0; i < nl_search_check_count; i++)
        fprintf(out, "  %-12s %s %s\n", nl_search_checks[i].name, nl_search_checks[i].by_default ? "*" : " ",
                nl_search_checks[i].help);
    fprintf(out,
            "\nThe numerics probe runs the formula's programs forward and backward on fixed\n"
            "tensors shaped as the model's first normalizer's input (16 positions at most),\n"
            "at input scales 1, 0.01 and 100 and at batches 8 and 2, and on an input\n"
            "centred along every axis (each mean 0); the hurdle trains the\n"
            "base config for hurdle.steps steps with `normlab run` in a child process (one\n"
            "thread, killed past hurdle.time_limit) and requires hurdle.min_accuracy.\n\n"
            "The search file (configs/README.md, \"Searching for a normalizer\"):\n"
            "  base: CONFIG.yaml or an inline config   the model, data and training\n"
            "  start: [\"x\", {expr: ..., params: ...}] the first generation\n"
            "  seed: 1\n"
            "  population: 16\n"
            "  generations: 10   (or candidates: N, the start formulas included)\n"
            "  hurdle: {steps: 100, min_accuracy: 0.2, time_limit: 600}\n"
            "  rank: {models: [A.yaml, B.yaml], time_limit: 600}   optional: K models\n"
            "    rungs: {min_steps: 100, eta: 3, max_steps: 900}  optional, in rank:\n"
            "      successive halving over each generation's survivors of the hurdle: all\n"
            "      trained min_steps on every model, the best 1/eta (Pareto order) eta times\n"
            "      longer, ..., up to max_steps; a later rung ranks first\n"
            "  holdout: {models: [C.yaml], top: 5}   optional: the best re-ranked on models\n"
            "    never ranked on (DIR/holdout/cID-hK, DIR/holdout.csv)\n"
            "  claims: {top: 3, batch_size: 8, seeds: 5}   optional: the best written as\n"
            "    experiment files of claims against batch, layer and group norm (DIR/claims)\n"
            "  tournament: 2\n"
            "  reject: [affine, elementwise]   the checks applied (default: the * rows)\n"
            "  target: {normalizer: group, within: 0.005}   optional: the normalizer trained\n"
            "    first on each model that scores (DIR/reference); the search stops at the\n"
            "    first candidate whose scores are on average within 0.005 of its (a\n"
            "    whole generation with rungs), and DIR/target.csv says which, after how\n"
            "    many candidates and how much CPU time\n\n"
            "Every candidate is a row of DIR/candidates.csv (id, generation, parents,\n"
            "operator, expr, params, canonical_hash, behaviour_hash, stage, reason,\n"
            "hurdle_accuracy, scores, rung, rung_scores), written as it is decided (with\n"
            "rungs, a generation's once it is halved); the hurdle runs are in DIR/hurdle/cID,\n"
            "the ranking runs in DIR/rank/cID-mK or, at a rung, cID-mK-sSTEPS (their configs\n"
            ".yaml, their output .log). Run the same command again to go on after a kill: the\n"
            "search reads the file and makes the\n"
            "same candidates it would have made. It replaces nothing it did not write: a\n"
            "link in DIR, a candidates.csv not a search's, or a hurdle file or run past\n"
            "the rows of candidates.csv is refused before anything is written.\n\n"
            "  --out DIR     where it records (default: results/NAME, NAME the file's name)\n"
            "  --seed N      the search's seed in place of the file's (default DIR:\n"
            "                results/NAME-seedN)\n"
            "  --quiet       no line per candidate\n"
            "  --funnel N    no search: N random formulas (the start formulas, each edited\n"
            "                by 1 to 4 drawn mutations) through the stages before the hurdle,\n"
            "                and how many each stage rejected and its time; nothing written\n\n"
            "Exit status: 0 the budget is spent or the target reached, 2 a bad search file or DIR refused\n"
            "(nothing written), 1 a failure at run time.\n");
}

typedef struct {
    const char *file, *out_dir, *funnel_text, *seed_text;
    bool quiet;
    long long funnel, seed;
} search_args;

static int take_funnel(void *ctx, const char *option, const char *value)
{
    search_args *a = ctx;
    return nl_cmd_ll_arg("search", option, value, &a->funnel);
}

static int take_seed(void *ctx, const char *option, const char *value)
{
    search_args *a = ctx;
    return nl_cmd_ll_arg("search", option, value, &a->seed);
}

static void on_candidate(void *ctx, const nl_search_candidate *c, bool resumed)
{
    const search_args *a = ctx;
    if (a->quiet)
        return;
    fprintf(stderr, "c%-5ld gen %-3d %-13s %-10s %s%s: ", c->id, c->generation,
            c->mutation < 0 ? "start" : nl_formula_mutations[c->mutation].name,
            nl_search_stages[c->stage].name, resumed ? "(recorded) " : "", c->expr);
    nl_cmd_put_text(stderr, c->reason);
    fputc('\n', stderr);
}

/* the funnel: each stage's rejections and time */
static void print_funnel(const nl_search_result *r)
{
    printf("%-11s %9s %9s %7s %12s\n", "stage", "entered", "rejected", "share", "ms each");
    for (int s = 0; s < NL_STAGE_HURDLE; s++) {
        const long in = r->stage_entered[s];
        printf("%-11s %9ld %9ld %6.1f%% ", nl_search_stages[s].name, in, r->stage_counts[s],
               100.0 * (double)r->stage_counts[s] / (double)(r->n ? r->n : 1));
        if (s == NL_STAGE_DEGENERATE || s == NL_STAGE_EQUIVALENT)
            printf("%12s\n", s == NL_STAGE_DEGENERATE ? "(in numerics)" : "-");
        else
            printf("%12.3f\n", in ? 1e3 * r->stage_s[s] / (double)in : 0.0);
    }
    const long rejected = r->n - r->stage_counts[NL_STAGE_HURDLE];
    const long distinct = r->n - r->stage_counts[NL_STAGE_DUPLICATE];
    printf("rejected before the hurdle: %ld of %ld (%.1f%%; of the %ld distinct, %.1f%%); %.3f ms a "
           "candidate, the slowest %.1f ms (%.1f ms of CPU time); %.0f candidates an hour on one thread\n", rejected, r->n,
           100.0 * (double)rejected / (double)(r->n ? r->n : 1), distinct,
           100.0 * (double)(rejected - r->stage_counts[NL_STAGE_DUPLICATE]) / (double)(distinct ? distinct : 1),
           1e3 * r->cheap_s / (double)(r->cheap_decided ? r->cheap_decided : 1), 1e3 * r->cheap_max_s,
           1e3 * r->cheap_max_cpu_s,
           3600.0 * (double)r->cheap_decided / (r->cheap_s > 0 ? r->cheap_s : 1e-9));
}

static void print_outcome(const nl_search_spec *s, const nl_search_result *r, const char *out_dir)
{
    fprintf(stderr, "normlab search: %ld candidates (%ld read back from %s/candidates.csv):", r->n,
            r->resumed, out_dir);
    for (int s = 0; s < NL_STAGE_COUNT; s++)
        fprintf(stderr, "%s %ld %s", s ? "," : "", r->stage_counts[s], nl_search_stages[s].name);
    fputc('\n', stderr);
    if (r->cheap_decided)
        fprintf(stderr, "normlab search: the stages before the hurdle took %.1f ms a candidate (%.0f "
                "an hour); %ld hurdle runs took %.1f s each\n", 1e3 * r->cheap_s / (double)r->cheap_decided,
                3600.0 * (double)r->cheap_decided / (r->cheap_s > 0 ? r->cheap_s : 1e-9), r->hurdle_runs,
                r->hurdle_runs ? r->hurdle_s / (double)r->hurdle_runs : 0.0);
    long best[5];
    const int n = nl_search_best(s, r, best, 5);
    if (n == 0)
        printf("no candidate passed\n");
    for (int i = 0; i < n; i++) {
        const nl_search_candidate *c = &r->candidates[best[i] - 1];
        printf("%d. c%ld  hurdle %.4f", i + 1, c->id, c->accuracy);
        if (c->rung >= 0)
            printf("  at %ld steps", c->rung_steps[c->rung]);
        for (int m = 0; m < s->n_models; m++)
            printf("  %s %.4f", s->models[m].label, c->scores[m]);
        printf("  expr: %s%s%s\n", c->expr, c->params[0] ? "  params: " : "", c->params);
    }
    for (int i = 0; i < r->n_finalists && s->n_holdout; i++) {
        printf("%sheld out %d. c%ld", i ? "" : "re-ranked on holdout.models (holdout.csv):\n", i + 1, r->finalists[i]);
        for (int k = 0; k < s->n_holdout; k++)
            printf("  %s %.4f", s->holdout[k].label, r->holdout_scores[i][k]);
        printf("\n");
    }
    if (r->n_claims)
        printf("%d claims files in %s/claims: hypotheses, to be committed before their runs\n", r->n_claims,
               out_dir);
    if (!s->target_norm[0])
        return;
    const int k_models = nl_search_scoring_models(s);
    double mean = 0;
    for (int k = 0; k < k_models; k++)
        mean += r->reference[k] / k_models;
    printf("target: %s's accuracy %.4f on average over %d model%s, within %g: ", s->target_norm, mean, k_models,
           k_models == 1 ? "" : "s", s->target_within);
    if (r->reached)
        printf("reached by c%ld (%+.4f on average) at candidate %ld, %.1f CPU-seconds%s: %s\n", r->reached,
               r->reached_gap, r->n, r->target_cpu_s, r->target_cpu_whole ? "" : " since the search went on",
               r->candidates[r->reached - 1].expr);
    else
        printf("not reached in %ld candidates, %.1f CPU-seconds%s\n", r->n, r->target_cpu_s,
               r->target_cpu_whole ? "" : " since the search went on");
    printf("(%s/target.csv)\n", out_dir);
}

/* results/NAME for search file DIR/NAME.yaml (results/NAME-seedN under --seed N) */
static void default_out(const search_args *a, char *out, size_t size)
{
    const char *base = strrchr(a->file, '/');
    base = base ? base + 1 : a->file;
    const char *dot = strrchr(base, '.');
    const int n = snprintf(out, size, "results/%.*s", (int)(dot ? dot - base : (long)strlen(base)), base);
    if (a->seed_text && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "-seed%lld", a->seed);
}

int cmd_search(int argc, char **argv)
{
    search_args a = {0};
    const nl_cmd_option options[] = {
        {.name = "--out", .text = &a.out_dir, .needs = "a directory", .nonempty = true},
        {.name = "--quiet", .flag = &a.quiet},
        {.name = "--funnel", .text = &a.funnel_text, .take = take_funnel, .needs = "a number of formulas"},
        {.name = "--seed", .text = &a.seed_text, .take = take_seed, .needs = "a seed (an integer)"},
        {0},
    };
    const nl_cmd_line line = {.command = "search", .usage = usage, .options = options, .ctx = &a,
                              .operand = &a.file, .what = "search file",
                              .missing = "no search file given"};
    const int walked = nl_cmd_walk(&line, argc, argv);
    if (walked)
        return walked == NL_CMD_HELP ? 0 : walked;
    char out[1024], exe[PATH_MAX];
    if (!a.out_dir)
        default_out(&a, out, sizeof out);
    const ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (exe_len < 0) {
        fprintf(stderr, "normlab search: cannot find the normlab binary (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    exe[exe_len] = '\0';
    nl_search_spec s;
    nl_error err = {0};
    int status = 0;
    if (nl_search_load(a.file, &s, &err) != NL_OK) {
        status = nl_cmd_report("search", &err);
    } else {
        if (a.seed_text)
            s.seed = (uint64_t)a.seed;
        const nl_search_options opt = {.exe = exe, .out_dir = a.out_dir ? a.out_dir : out,
                                       .funnel = (long)a.funnel,
                                       .on_candidate = on_candidate, .ctx = &a};
        nl_search_result r;
        if (nl_search_run(&s, &opt, &r, &err) != NL_OK)
            status = nl_cmd_report("search", &err);
        else if (a.funnel)
            print_funnel(&r);
        else
            print_outcome(&s, &r, opt.out_dir);
        nl_search_result_free(&r);
    }
    nl_search_spec_free(&s);
    return status;
}
