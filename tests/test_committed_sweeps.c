/* The committed reproductions stay finished at HEAD: `normlab sweep E
 * --dry-run` of every experiment whose results are committed plans no run.
 * A change that renames runs (a key that stops applying leaves the run
 * names), changes a resolved config or breaks reading an old one would
 * otherwise make `normlab sweep` on the committed results train again
 * instead of only redrawing their plots, and nothing else would notice.
 * The experiments are the files in experiments/; a sweep directory is
 * committed when it holds a summary.csv and .gitignore does not name it (the
 * quickstart's is the user's own). */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* one committed sweep: its dry run exits 0 and plans no run (every line's
 * action is a skip) */
static void plans_no_run(const char *experiment, const char *dir, int status, const char *output,
                         void *ctx)
{
    (void)ctx;
    ck_assert_msg(status == 0, "experiments/%s: the dry run exited %d", experiment, status);
    char planned[8192] = "";
    size_t used = 0;
    for (const char *line = output; *line;) {
        const char *end = strchr(line, '\n');
        const size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        char text[4096];
        snprintf(text, sizeof text, "%.*s", (int)len, line);
        /* "   4  NAME  KEY=VALUE ...  ACTION (DETAIL)": any action but skip */
        int index;
        if (sscanf(text, "%d ", &index) == 1 && !strstr(text, "  skip (") &&
            used + strlen(text) < sizeof planned) {
            memcpy(planned + used, text, strlen(text) + 1);
            used += strlen(text);
        }
        line += len;
    }
    ck_assert_msg(!planned[0], "experiments/%s: the committed sweep %s would train again at HEAD:\n%s",
                  experiment, dir, planned);
}

START_TEST(test_committed_sweeps_plan_no_run)
{
    /* the committed reproductions are there to be checked */
    ck_assert_int_ge(tu_committed_sweeps(plans_no_run, NULL), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("committed_sweeps");
    TCase *tc = tcase_create("dry_run");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_committed_sweeps_plan_no_run);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
