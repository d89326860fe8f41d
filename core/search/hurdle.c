/* A candidate's hurdle (internal.h): the base config with its formula,
 * trained for the hurdle's steps by `normlab run` in a child process, as a
 * sweep runs its runs, so that a formula that crashes the trainer, hangs or
 * diverges costs the search one candidate and never the search itself.
 * The run's outcome is read from its summary.json through results/. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/number.h"
#include "log/files.h"
#include "proc/proc.h"
#include "results/run_result.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "search/internal.h"

/* the resolved config the run reads, written whole (a killed search
 * leaves a whole file or the one before) */
static nl_code write_config(const nl_config *cfg, const char *path, nl_error *err)
{
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_config_text(cfg, &text, &len, err);
    if (!rc)
        rc = nl_write_atomic(path, text, len, err);
    free(text);
    return rc;
}

/* runs `normlab run` on the config into dir, its output into log_path;
 * *end how it ended (killed past the time limit: *late) */
static nl_code run_child(double time_limit, const char *exe, const char *config, const char *dir,
                         const char *log_path, bool leftover, nl_proc_end *end, bool *late, nl_error *err)
{
    int fd;
    nl_code rc = nl_open_write(log_path, O_WRONLY | O_CREAT | O_TRUNC, &fd, err);
    if (rc)
        return rc;
    /* --force only for a run a killed search left half done, which starts
     * over as the uninterrupted search ran it: nothing else is replaced */
    const char *argv[] = {"normlab", "run", config, "--out", dir, "--quiet", "--threads", "1",
                          leftover ? "--force" : NULL, NULL};
    const nl_proc_spec spec = {.argv = argv, .path = exe, .out = {NL_PROC_FD, fd},
                               .err = {NL_PROC_FD, fd}, .die_with_parent = true};
    nl_proc p;
    rc = nl_proc_start(&spec, &p, err);
    close(fd);
    if (rc)
        return rc;
    *late = false;
    if ((rc = nl_proc_wait(&p, time_limit, end, err)) == NL_OK && !end->ended) {
        *late = true;
        nl_proc_signal(&p, SIGKILL);
        rc = nl_proc_wait(&p, -1, end, err);
    }
    return rc;
}

/* the finished child's test accuracy into *accuracy (its text into
 * value), or NaN and why there is none into reason */
static void outcome(const char *dir, const nl_proc_end *end, bool late, double time_limit,
                    double *accuracy, char value[256], char *reason, size_t size)
{
    char *json = NULL, how[64];
    const nl_summary_verdict v = late ? NL_SUMMARY_ABSENT : nl_summary_read(dir, &json);
    value[0] = '\0';
    if (json)
        nl_json_flat_get(json, NL_SUMMARY_REASON, value, 256);
    nl_proc_describe(end, how, sizeof how);
    *accuracy = NAN;
    if (late)
        snprintf(reason, size, "the run went past the time limit of %gs and was killed", time_limit);
    else if (v == NL_SUMMARY_DIVERGED)
        snprintf(reason, size, "the run diverged: %s", value);
    else if (v != NL_SUMMARY_OK)
        snprintf(reason, size, "the run failed (%s, summary %s)%s%s", how, nl_summary_verdict_name(v),
                 value[0] ? ": " : "", value);
    else if (!nl_json_flat_get(json, NL_SUMMARY_FINAL_TEST_ACCURACY, value, 256) ||
             !nl_parse_finite(value, accuracy))
        snprintf(reason, size, "the run recorded no test accuracy"), *accuracy = NAN;
    free(json);
}

/* The run a killed search left in dir: its process got SIGTERM when the
 * search died and may still be writing its summary; the new run would be
 * refused while it holds the directory. Waited for, up to the time limit. */
static void wait_for_leftover(double time_limit, const char *dir)
{
    const struct timespec tick = {0, 100 * 1000 * 1000};
    for (double waited = 0; waited < time_limit && nl_run_phase_read(dir) == NL_PHASE_RUNNING;
         waited += 0.1)
        nanosleep(&tick, NULL);
}

/* the id of a run's entry: cID, cID-mK (a ranking run), cID-mK-sSTEPS (a
 * rung's) or cID-hK (a held-out model's), each bare, .yaml or .log; 0 for
 * another name */
static long entry_id(const char *name)
{
    char digits[24];
    const size_t n = strspn(name + (name[0] == 'c'), "0123456789");
    const char *tail = name + 1 + n;
    if (tail[0] == '-' && (tail[1] == 'm' || tail[1] == 'h') && strspn(tail + 2, "0123456789") > 0) {
        tail += 2 + strspn(tail + 2, "0123456789");
        if (tail[0] == '-' && tail[1] == 's' && strspn(tail + 2, "0123456789") > 0)
            tail += 2 + strspn(tail + 2, "0123456789");
    }
    long long id;
    if (name[0] != 'c' || n == 0 || n >= sizeof digits ||
        (tail[0] && strcmp(tail, ".yaml") && strcmp(tail, ".log")))
        return 0;
    memcpy(digits, name + 1, n);
    digits[n] = '\0';
    return nl_parse_ll(digits, 1, NL_SEARCH_MAX_CANDIDATES, &id) ? (long)id : 0;
}

/* where the runs are: the hurdle's and the ranking's */
static const char *const run_dirs[] = {"hurdle", "rank", "holdout"};

nl_code nl_search_hurdle_check(const char *out_dir, long last, nl_error *err)
{
    nl_code rc = NL_OK;
    for (size_t k = 0; !rc && k < sizeof run_dirs / sizeof run_dirs[0]; k++) {
        char root[1100];
        snprintf(root, sizeof root, "%s/%s", out_dir, run_dirs[k]);
        DIR *d = opendir(root);
        if (!d)
            continue; /* none yet (anything else there: nl_make_dirs refuses it) */
        for (struct dirent *e; !rc && (e = readdir(d));) {
            const long id = entry_id(e->d_name);
            if (id > 0 && (last == 0 || id > last))
                rc = nl_fail(err, NL_ERR_USAGE, "%s/%s exists, but %s/candidates.csv %s: it is not "
                             "this search's, and the search would write there; nothing was written: "
                             "give another --out, or move it", root, e->d_name, out_dir,
                             last ? "records no candidate that left it" : "does not exist");
        }
        closedir(d);
    }
    return rc;
}

/* one run of the search: cfg written into OUT/SUB/NAME.yaml and trained
 * into OUT/SUB/NAME (its output NAME.log); its test accuracy or NaN and
 * why into reason */
static nl_code child(const nl_search_options *opt, const char *sub, const char *name, const nl_config *cfg,
                     double time_limit, bool leftover, double *accuracy, char value[256], char *reason,
                     size_t size, nl_error *err)
{
    char root[1100], dir[1200], config[1200], log_path[1200];
    snprintf(root, sizeof root, "%s/%s", opt->out_dir, sub);
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    snprintf(config, sizeof config, "%s/%s.yaml", root, name);
    snprintf(log_path, sizeof log_path, "%s/%s.log", root, name);
    nl_code rc = nl_make_dirs(root, err);
    struct stat st;
    const char *const paths[] = {dir, config, log_path};
    for (int i = 0; i < 3 && !rc && !leftover; i++)
        if (lstat(paths[i], &st) == 0)
            rc = nl_fail(err, NL_ERR_USAGE, "%s exists, but no search left it there; nothing was "
                         "replaced: give another --out, or move it", paths[i]);
    if (!rc)
        rc = write_config(cfg, config, err);
    if (!rc && leftover && nl_path_exists(dir))
        wait_for_leftover(time_limit, dir);
    nl_proc_end end = {0};
    bool late = false;
    if (!rc)
        rc = run_child(time_limit, opt->exe, config, dir, log_path, leftover, &end, &late, err);
    if (!rc)
        outcome(dir, &end, late, time_limit, accuracy, value, reason, size);
    return rc;
}

nl_code nl_search_hurdle(const nl_search_spec *s, const nl_search_options *opt, const nl_config *cfg,
                         nl_search_candidate *c, bool leftover, nl_error *err)
{
    char name[32], value[256];
    snprintf(name, sizeof name, "c%ld", c->id);
    const nl_code rc = child(opt, "hurdle", name, cfg, s->time_limit_s, leftover, &c->accuracy, value,
                             c->reason, sizeof c->reason, err);
    c->stage = NL_STAGE_HURDLE;
    if (rc || isnan(c->accuracy))
        return rc;
    if (c->accuracy < s->min_accuracy) {
        snprintf(c->reason, sizeof c->reason, "test accuracy %s after %ld steps, below the floor %g",
                 value, s->hurdle_steps, s->min_accuracy);
    } else {
        c->stage = NL_STAGE_PASSED;
        snprintf(c->reason, sizeof c->reason, "test accuracy %s after %ld steps", value, s->hurdle_steps);
    }
    return NL_OK;
}

nl_code nl_search_rank(const nl_search_spec *s, const nl_search_options *opt, int k, const nl_config *cfg,
                       nl_search_candidate *c, bool leftover, nl_error *err)
{
    char value[256], why[400], at[48] = "";
    const nl_code rc = child(opt, "rank", cfg->name, cfg, s->rank_time_limit_s, leftover, &c->scores[k],
                             value, why, sizeof why, err);
    if (s->n_rungs)
        snprintf(at, sizeof at, " at %ld steps", cfg->train.steps);
    if (!rc && isnan(c->scores[k])) {
        c->stage = NL_STAGE_RANK;
        snprintf(c->reason, sizeof c->reason, "%s%s: %s", s->models[k].label, at, why);
    }
    return rc;
}

nl_code nl_search_train(const nl_search_options *opt, const char *sub, const nl_config *cfg, double time_limit,
                        bool leftover, double *accuracy, char *why, size_t size, nl_error *err)
{
    char value[256];
    return child(opt, sub, cfg->name, cfg, time_limit, leftover, accuracy, value, why, size, err);
}
