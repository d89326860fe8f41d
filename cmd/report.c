/* normlab report: one self-contained HTML page for sweeps and runs
 * (core/report). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "cmd.h"
#include "int_options.h"
#include "log/files.h"
#include "report/report.h"
#include "results/files.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab report DIR... [--out FILE] [--force] [--experiment FILE]\n"
            "                     [--watch [--interval SECONDS]]\n\n"
            "Writes one HTML page for sweep and run directories (any mix) that opens in a browser\n"
            "with nothing else: no network, no files beside it. Per directory: the experiment's\n"
            "description and grid, the table over seeds (as normlab table: mean, sd and 95%%\n"
            "interval per cell), every run with its status (failed, diverged and unfinished runs\n"
            "shown as such), the plots the experiment declares as SVG (drawn by gnuplot from the\n"
            "templates of normlab plot, in a temporary directory: DIR is only read), the claims'\n"
            "verdicts and forest plot where verdicts.csv exists (normlab verdict), and each run's\n"
            "config (the keys set differently across runs first) and provenance. Tables sort by\n"
            "any column and filter by the varied keys. Several directories also get their curves\n"
            "in one figure (normlab compare) and one explorer over the runs of all of them, each\n"
            "run keyed by its directory as the key sweep (group, colour and filter by it).\n"
            "A search's directory (normlab search --out DIR, known by its candidates.csv), given\n"
            "alone, gets its own page: the survival funnel (candidates left after each stage,\n"
            "rung and the holdout), the Pareto front over the ranking models' scores, and each\n"
            "of the best three candidates' lineage back to the start population.\n\n"
            "options:\n"
            "  --out FILE         the page (default: DIR/report.html for one directory; required\n"
            "                     for several); written whole or not at all\n"
            "  --force            replace FILE when it exists (refused otherwise, nothing written)\n"
            "  --experiment FILE  the experiment file of one sweep directory (default: the file in\n"
            "                     experiments/ whose name: is the directory's name)\n"
            "  --watch            while a sweep among DIR runs (its .lock's process lives), write\n"
            "                     the page again whenever its runs' files change; the page says it\n"
            "                     is live and reloads itself. Once the sweep has ended (or was\n"
            "                     killed) the page is written a last time, without reloading, and\n"
            "                     the command exits; each page replaces the last whole (a file\n"
            "                     beside FILE, renamed). SIGINT (Ctrl-C) or SIGTERM stops it: the page\n"
            "                     being made is finished, the last one written says when the watch\n"
            "                     stopped and no longer reloads, nothing is left in TMPDIR\n"
            "  --interval SECONDS how often --watch looks, and the page reloads (default 5)\n\n"
            "Exit status: 0 written, 1 failure at run time, 2 bad usage, a directory that is no\n"
            "sweep or run or holds no runs, FILE exists (without --force), or FILE is a\n"
            "directory, FIFO, link or device, or a file stands where a directory of its path goes.\n"
            "--watch stopped by SIGINT or SIGTERM: 130 or 143 (128 + the signal's number, as a\n"
            "shell reports a command the signal ended) once its last page is written.\n");
}

typedef struct {
    const char *dirs[NL_REPORT_MAX_DIRS];
    int n_dirs;
    const char *out, *experiment;
    bool force, watch;
    int interval; /* --watch's seconds; 0: not given */
} report_args;

static int take_interval(void *ctx, const char *option, const char *value)
{
    return nl_cmd_int_arg("report", option, value, &((report_args *)ctx)->interval);
}

/* -1: go on; else the exit status */
static int parse_args(int argc, char **argv, report_args *a)
{
    const nl_cmd_option options[] = {
        {.name = "--force", .flag = &a->force},
        {.name = "--watch", .flag = &a->watch},
        {.name = "--interval", .take = take_interval, .needs = "a number of seconds"},
        {.name = "--out", .text = &a->out, .needs = "a file name", .nonempty = true},
        {.name = "--experiment", .text = &a->experiment, .needs = "a file name", .nonempty = true},
        {0},
    };
    const nl_cmd_line line = {.command = "report", .usage = usage, .options = options, .ctx = a,
                              .operands = a->dirs, .n_operands = &a->n_dirs,
                              .max_operands = NL_REPORT_MAX_DIRS, .what = "directories",
                              .missing = "no sweep or run directory given"};
    const int status = nl_cmd_walk(&line, argc, argv);
    if (status)
        return status == NL_CMD_HELP ? 0 : status;
    if (!a->out && a->n_dirs > 1)
        return nl_cmd_usage_error("report", "several directories: give --out FILE (where the page goes)");
    if (a->interval && !a->watch)
        return nl_cmd_usage_error("report", "--interval is how often --watch looks: give --watch too");
    return -1;
}

/* the command line, for the page's header */
static void command_line(int argc, char **argv, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "normlab");
    for (int i = 0; i < argc && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, " %s", argv[i]);
}

#define EXISTS_HINT "give --force to replace it, or --out FILE"

/* the page as an output set of one: checked again, written beside FILE,
 * placed whole (without force never over a file made meanwhile). Its
 * warnings are said with a page that is not live only (--watch makes
 * many). */
static int write_page(bool force, const nl_report_options *opt, const char *out, const nl_report *rep)
{
    for (const char *w = rep->notes.data && !opt->live_seconds ? rep->notes.data : ""; *w;) {
        const size_t len = strcspn(w, "\n");
        fprintf(stderr, "normlab report: warning: %.*s\n", (int)len, w);
        w += len + (w[len] == '\n');
    }
    nl_error err = {0};
    nl_outset *set = nl_outset_begin(force, EXISTS_HINT);
    nl_code rc = set ? nl_outset_add_buf(set, out, &rep->html, &err) : nl_fail(&err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK)
        rc = nl_outset_commit(set, NULL, &err);
    nl_outset_end(set);
    if (rc)
        return nl_cmd_report("report", &err);
    if (rep->n_candidates) {
        printf("%s (%.1f kB): a search's %ld candidates, %d figure%s%s\n", out, (double)rep->html.len / 1000.0,
               rep->n_candidates, rep->n_figures, rep->n_figures == 1 ? "" : "s",
               rep->gnuplot_missing ? " (gnuplot is not on PATH: none drawn)" : "");
        fflush(stdout);
        return 0;
    }
    printf("%s (%.1f kB): %d run%s, %d figure%s%s; %d finished%s%s%s\n", out, (double)rep->html.len / 1000.0,
           rep->n_runs, rep->n_runs == 1 ? "" : "s", rep->n_figures, rep->n_figures == 1 ? "" : "s",
           rep->gnuplot_missing ? " (gnuplot is not on PATH: none drawn)" : "", rep->n_finished,
           opt->live_seconds > 0 ? "; live: the sweep runs" : "", opt->stopped_by ? "; the watch stopped on " : "",
           opt->stopped_by ? opt->stopped_by : "");
    fflush(stdout);
    return 0;
}

/* the page made and written: 0, or the exit status of the failure */
static int make_page(const report_args *a, const char *out, const nl_report_options *opt, bool force)
{
    nl_report rep;
    nl_error err = {0};
    if (nl_report_build(a->dirs, a->n_dirs, opt, &rep, &err) != NL_OK)
        return nl_cmd_report("report", &err);
    const int written = write_page(force, opt, out, &rep);
    nl_report_free(&rep);
    return written;
}

/* --watch's stop: the signal that asked, 0 while none. The handler only
 * records it; the loop looks between pages and while it waits, so that the
 * page being made is finished (its figures' temporary directory removed)
 * and the last page written says the watch stopped. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static const int stop_signals[] = {SIGINT, SIGTERM};

static void catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaction(stop_signals[i], &sa, NULL);
    /* held back by whoever started the watch (a mask outlives exec): let
     * in, so that one that came before is taken now and the waits between
     * pages end on one */
    sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
}

/* waits `seconds`, or less when a stop signal comes. The signals are held
 * back between the look at the flag and the wait, which lets them in
 * (pselect's mask): one that comes just before the wait ends it at once
 * rather than after a whole interval. */
static void wait_unless_stopped(int seconds)
{
    sigset_t stops, before;
    sigemptyset(&stops);
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaddset(&stops, stop_signals[i]);
    sigprocmask(SIG_BLOCK, &stops, &before);
    if (!stop_signal)
        pselect(0, NULL, NULL, NULL, &(struct timespec){.tv_sec = seconds}, &before);
    sigprocmask(SIG_SETMASK, &before, NULL);
}

/* --watch: a page whenever the sweep's files change while it runs, then a
 * last one without reloading. The first page is refused over an existing
 * file as any page is (without --force); the later ones replace the
 * watch's own. SIGINT and SIGTERM end it with a last page that says so:
 * a page being made when the signal comes is not written (it would say
 * "live"), the stopped one is, and the exit status is the signal's. */
static int watch(const report_args *a, const char *out, nl_report_options opt)
{
    const int interval = a->interval ? a->interval : 5;
    unsigned long long last = 0;
    bool written = false;
    catch_stop_signals();
    while (!stop_signal) {
        const bool running = nl_report_running(a->dirs, a->n_dirs);
        const unsigned long long stamp = nl_report_stamp(a->dirs, a->n_dirs);
        opt.live_seconds = running ? interval : 0;
        if (!written || !running || stamp != last) {
            nl_report rep;
            nl_error err = {0};
            if (nl_report_build(a->dirs, a->n_dirs, &opt, &rep, &err) != NL_OK) {
                /* a figure's gnuplot killed by the terminal's Ctrl-C as well */
                if (stop_signal)
                    break;
                return nl_cmd_report("report", &err);
            }
            const bool writes = !stop_signal;
            const int status = writes ? write_page(a->force || written, &opt, out, &rep) : 0;
            nl_report_free(&rep);
            /* a signal that came while the page was written finds it
             * written: the stopped page replaces it (issue 118: it was
             * refused as a file that exists, and the live page stayed) */
            written = written || (writes && status == 0);
            if (stop_signal)
                break;
            if (status || !running)
                return status;
        }
        last = stamp;
        wait_unless_stopped(interval);
    }
    const int sig = stop_signal;
    opt.live_seconds = 0;
    opt.stopped_by = sig == SIGINT ? "SIGINT" : "SIGTERM";
    opt.stopped_at = time(NULL);
    opt.stopped_while_running = nl_report_running(a->dirs, a->n_dirs);
    const int status = make_page(a, out, &opt, a->force || written);
    return status ? status : 128 + sig;
}

int cmd_report(int argc, char **argv)
{
    report_args a = {0};
    const int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    char out[1200];
    if (a.out)
        nl_copy_string(out, sizeof out, a.out);
    else
        nl_path_join(out, sizeof out, a.dirs[0], NL_REPORT_PAGE);
    nl_error err = {0};
    if (nl_is_dir(out))
        nl_fail(&err, NL_ERR_USAGE, "%s is a directory; name the page's file, e.g. --out %s/" NL_REPORT_PAGE, out, out);
    /* refused before any work: the page never replaces a file unasked,
     * nor anything but a regular file (a FIFO, a link) with --force */
    else
        nl_output_check(out, a.force, EXISTS_HINT, &err);
    if (err.code)
        return nl_cmd_report("report", &err);
    char line[2048];
    command_line(argc, argv, line, sizeof line);
    const nl_report_options opt = {.experiment = a.experiment, .command_line = line};
    return a.watch ? watch(&a, out, opt) : make_page(&a, out, &opt, a.force);
}
