/* The committed reproductions stay finished at HEAD: `normlab sweep E
 * --dry-run` of every experiment whose results are committed plans no run.
 * A change that renames runs (a key that stops applying leaves the run
 * names), changes a resolved config or breaks reading an old one would
 * otherwise make `normlab sweep` on the committed results train again
 * instead of only redrawing their plots, and nothing else would notice.
 * The experiments are the files in experiments/; a sweep directory is
 * committed when it holds a summary.csv and .gitignore does not name it (the
 * quickstart's is the user's own). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/files.h"
#include "testutil.h"

/* whether .gitignore names "/<dir>/" (the user's own sweep directories) */
static bool ignored(const char *gitignore, const char *dir)
{
    char line[1100];
    snprintf(line, sizeof line, "\n/%s/\n", dir);
    return strstr(gitignore, line) != NULL;
}

START_TEST(test_committed_sweeps_plan_no_run)
{
    char *gitignore = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(NORMLAB_SOURCE_DIR "/.gitignore", &gitignore, NULL, &err) == NL_OK,
                  "%s", err.msg);
    DIR *d = opendir(NORMLAB_SOURCE_DIR "/experiments");
    ck_assert(d);
    int checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "cd '%s' && '%s' sweep 'experiments/%s' --dry-run 2>&1",
                 NORMLAB_SOURCE_DIR, NORMLAB_BUILT_BINARY, e->d_name);
        FILE *p = popen(cmd, "r");
        ck_assert(p);
        char line[4096], dir[1024] = "", planned[8192] = "";
        size_t used = 0;
        while (fgets(line, sizeof line, p)) {
            /* "sweep results/NAME: N combinations, ..." */
            if (!dir[0] && sscanf(line, "sweep %1023[^:]:", dir) == 1)
                continue;
            /* "   4  NAME  KEY=VALUE ...  ACTION (DETAIL)": any action but skip */
            int index;
            if (sscanf(line, "%d ", &index) == 1 && !strstr(line, "  skip (") &&
                used + strlen(line) < sizeof planned) {
                memcpy(planned + used, line, strlen(line) + 1);
                used += strlen(line);
            }
        }
        const int status = pclose(p);
        ck_assert_msg(dir[0], "experiments/%s: no sweep directory in its dry run", e->d_name);
        char summary[1200], path[1200];
        snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, dir);
        nl_path_join(summary, sizeof summary, path, "summary.csv");
        if (!nl_path_exists(summary) || ignored(gitignore, dir))
            continue;
        ck_assert_msg(status == 0, "experiments/%s: the dry run exited %d", e->d_name, status);
        ck_assert_msg(!planned[0],
                      "experiments/%s: the committed sweep %s would train again at HEAD:\n%s",
                      e->d_name, dir, planned);
        checked++;
    }
    closedir(d);
    free(gitignore);
    /* the committed reproductions are there to be checked */
    ck_assert_int_ge(checked, 1);
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
