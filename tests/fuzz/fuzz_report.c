/* libFuzzer harness: what `normlab report DIR` reads of a sweep or run
 * directory, through what the command calls: nl_report_build (summary.csv
 * by nl_results_load, each run's summary.json, config.yaml, metrics.csv,
 * series.csv and trace.csv, verdicts.csv and its forest plot, the
 * experiment file and its declared plots, the compare figure of two
 * directories), the page built in memory as the command builds it before
 * writing it. Input: fuzz_sweep.h's (a mode byte, a file mask, the eight
 * files); the mode's bits here: bit 0: the single run's directory instead
 * of the sweep; bit 1: both, the sweep then the run (the compare figure);
 * bit 2: the experiment file given as --experiment gives it (one
 * directory only), clear: found by name in ROOT/experiments as the
 * command finds it in experiments/.
 *
 * Properties: bad input is an error value of exit status 2 with a
 * message (fuzz_check_error), never a crash, leak or undefined behaviour;
 * a page is HTML with every run counted and no "<script" but its own
 * (the input's text is escaped); the root is as it was before the call,
 * byte for byte in its listing: the report writes nothing beside the
 * results and removes its temporary directory (TMPDIR is ROOT/tmp).
 * gnuplot is kept off PATH: the figures' scripts are written, none is
 * drawn (a drawing would cost a process per figure per input). */
#include <ctype.h>

#include "report/report.h"
#include "fuzz_sweep.h"

#define MODE_SINGLE 1u
#define MODE_BOTH 2u
#define MODE_EXPERIMENT 4u

/* case-insensitive "<script" in the n bytes at s */
static const char *find_script(const char *s, size_t n)
{
    static const char tag[] = "<script";
    for (size_t i = 0; i + sizeof tag - 1 <= n; i++) {
        size_t k = 0;
        while (k < sizeof tag - 1 && tolower((unsigned char)s[i + k]) == tag[k])
            k++;
        if (k == sizeof tag - 1)
            return s + i;
    }
    return NULL;
}

static void check_page(const nl_report *rep, int n_dirs)
{
    const char *html = rep->html.data;
    FUZZ_REQUIRE(html && rep->html.len > 0 && !strncmp(html, "<!DOCTYPE html>", 15), "a page that is not HTML");
    FUZZ_REQUIRE(strlen(html) == rep->html.len, "a NUL byte in the page at %zu", strlen(html));
    FUZZ_REQUIRE(rep->n_runs >= n_dirs, "%d runs in %d directories", rep->n_runs, n_dirs);
    FUZZ_REQUIRE(rep->n_figures == 0, "%d figures drawn without gnuplot", rep->n_figures);
    /* the page's own script comes after </main>; nothing before it is one */
    const char *main_end = strstr(html, "</main>\n<script>");
    FUZZ_REQUIRE(main_end != NULL, "a page without its script");
    const char *script = find_script(html, (size_t)(main_end - html));
    FUZZ_REQUIRE(script == NULL, "a script in the page's body at byte %zu: %.60s", (size_t)(script - html), script);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sweep s;
    if (!fuzz_sweep_make(&s, data, size))
        return 0;
    const char *dirs[2] = {s.sweep, s.run};
    int n_dirs = 1;
    if (s.mode & MODE_BOTH)
        n_dirs = 2;
    else if (s.mode & MODE_SINGLE)
        dirs[0] = s.run;
    nl_report_options opt = {.command_line = "normlab report (fuzz)"};
    if ((s.mode & MODE_EXPERIMENT) && n_dirs == 1)
        opt.experiment = s.experiment;
    else
        opt.experiments_dir = s.experiments;

    char *before = fuzz_sweep_list(&s);
    nl_report rep;
    nl_error err = {0};
    const nl_code rc = nl_report_build(dirs, n_dirs, &opt, &rep, &err);
    if (rc != NL_OK)
        fuzz_check_error(rc, &err, "nl_report_build");
    else
        check_page(&rep, n_dirs);
    nl_report_free(&rep);
    char *after = fuzz_sweep_list(&s);
    fuzz_sweep_check_listing(before, after, NULL, "normlab report");
    free(before);
    free(after);
    return 0;
}
