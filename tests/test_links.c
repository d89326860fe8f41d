/* A clone cannot be turned against its user: a symbolic link committed at
 * any file or directory normlab writes (a sweep's lock, a run's marker,
 * stderr.txt, metrics.csv, plots/, eval/, runs/, configs/, verdict files,
 * an export) must never make a command write outside the tree.
 *
 * The list of what to plant is not typed here: the fixture is made by the
 * commands that write (a sweep, a shard of it, plot, eval, verdict, export,
 * compare, report), and every file and directory each one left is a place
 * to plant a link. For each, a copy of the tree gets a link there (to a file
 * or an empty directory outside it), the command that made it runs again on
 * the copy, and it must refuse with exit 2 naming the link, while nothing
 * outside the tree changes. Entries inside a run directory also face
 * `normlab run --force` on that run. Figures and records are many files of
 * one kind: of the entries one command made in one directory with one
 * extension, the first by name stands for the rest. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/files.h"
#include "testutil.h"

#define MAX_ENTRIES 2048

/* tiny runs: a fraction of a second each */
static const char base_config[] = "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
                                  "model: {arch: mlp, widths: [16]}\n"
                                  "train: {batch_size: 16, steps: 20, eval_every: 10, log_every: 10}\n";

typedef struct {
    char path[400]; /* relative to the fixture tree, "SW/runs/x/.normlab-run" */
    bool dir;
    int command;    /* the fixture command that made it */
    bool stands_for_others;
} entry;

static entry entries[MAX_ENTRIES];
static int n_entries;

/* the fixture's writers, in order; "T" is the tree (t/ made, w/ rerun) */
static const struct {
    const char *args;
    const char *again; /* what makes it write the same files again */
} writers[] = {
    {"sweep tiny.yaml --out T/SW -j 1", ""},
    {"sweep tiny.yaml --out T/SW --shard 1/2", ""},
    {"plot T/SW", ""},
    {"plot T/SW/runs/RUN", ""},
    {"eval T/SW/runs/RUN", " --name again"},
    {"verdict T/SW --experiment tiny.yaml --out T/V --no-registration", " --force"},
    {"export tensorboard T/SW --out T/TB", " --force"},
    {"compare T/SW/runs/RUN T/SW/runs/RUN2 --out T/CMP", ""},
    {"report T/SW --out T/page.html", " --force"},
};
#define N_WRITERS ((int)(sizeof writers / sizeof *writers))

static char run_name[256], run2_name[256];

/* args with T replaced by tree, RUN and RUN2 by the fixture's runs */
static void spell(const char *args, const char *tree, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = args; *p && n + 1 < size;) {
        const char *word = NULL;
        size_t skip = 1;
        if (!strncmp(p, "RUN2", 4))
            word = run2_name, skip = 4;
        else if (!strncmp(p, "RUN", 3))
            word = run_name, skip = 3;
        else if (*p == 'T' && (p[1] == '/' || p[1] == '\0') && (p == args || p[-1] == ' '))
            word = tree;
        if (word) {
            n += (size_t)snprintf(out + n, size - n, "%s", word);
            p += skip;
        } else {
            out[n++] = *p++;
        }
    }
    out[n < size ? n : size - 1] = '\0';
}

static bool known(const char *rel)
{
    for (int i = 0; i < n_entries; i++)
        if (!strcmp(entries[i].path, rel))
            return true;
    return false;
}

/* every entry under tu_tmp/t/<rel> not seen before, credited to command c */
static void collect(const char *rel, int c)
{
    char abs[1024];
    snprintf(abs, sizeof abs, "%s/t/%s", tu_tmp, rel);
    DIR *d = opendir(abs);
    ck_assert_msg(d, "cannot list %s", abs);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[400], path[1400];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(path, sizeof path, "%s/%s", abs, e->d_name);
        struct stat st;
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_msg(!S_ISLNK(st.st_mode), "the fixture itself holds a link: %s", sub);
        if (!known(sub)) {
            ck_assert_int_lt(n_entries, MAX_ENTRIES);
            entry *en = &entries[n_entries++];
            snprintf(en->path, sizeof en->path, "%s", sub);
            en->dir = S_ISDIR(st.st_mode);
            en->command = c;
        }
        if (S_ISDIR(st.st_mode))
            collect(sub, c);
    }
    closedir(d);
}

/* of the entries command c made in one directory with one extension, the
 * first by name stands for the others */
static bool same_kind(const entry *a, const entry *b)
{
    if (a->command != b->command || a->dir || b->dir)
        return false;
    const char *sa = strrchr(a->path, '/'), *sb = strrchr(b->path, '/');
    const size_t da = sa ? (size_t)(sa - a->path) : 0, db = sb ? (size_t)(sb - b->path) : 0;
    if (da != db || strncmp(a->path, b->path, da))
        return false;
    const char *ea = strrchr(a->path + da, '.'), *eb = strrchr(b->path + db, '.');
    /* names without an extension, or dot files (.normlab-run): each its own kind */
    if (!ea || !eb || ea == a->path + da + 1 || eb == b->path + db + 1)
        return false;
    return !strcmp(ea, eb);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static void make_fixture(void)
{
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("tiny.yaml", "name: tiny\nbase: base.yaml\ngrid:\n  model.norm.type: [none, batch]\n  seed: [1]\n"
                              "claims:\n  - {id: any, paper: p, metric: final_test_error, a: {model.norm.type: batch},\n"
                              "     b: {model.norm.type: none}, expect: a ~ b within 1}\n");
    char cmd[2048], outside[1024];
    snprintf(outside, sizeof outside, "%s/outside", tu_tmp);
    ck_assert_int_eq(mkdir(outside, 0777), 0);
    snprintf(cmd, sizeof cmd, "%s/t", tu_tmp);
    ck_assert_int_eq(mkdir(cmd, 0777), 0);
    for (int c = 0; c < N_WRITERS; c++) {
        if (c == 2) { /* the sweep's runs, by name, for the commands that take one */
            char runs[1024];
            snprintf(runs, sizeof runs, "%s/t/SW/runs", tu_tmp);
            struct dirent **names;
            const int n = scandir(runs, &names, NULL, alphasort);
            int found = 0;
            for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.' && found < 2)
                    snprintf(found++ ? run2_name : run_name, sizeof run_name, "%s", names[i]->d_name);
                free(names[i]);
            }
            free(names);
            ck_assert_int_eq(found, 2);
        }
        spell(writers[c].args, "t", cmd, sizeof cmd);
        ck_assert_msg(tu_normlab(cmd) == 0, "%s: %s", cmd, tu_normlab_output());
        collect("", c);
    }
    qsort(entries, (size_t)n_entries, sizeof *entries, by_path);
    for (int i = 1; i < n_entries; i++)
        for (int j = 0; j < i; j++)
            if (!entries[j].stands_for_others && same_kind(&entries[j], &entries[i])) {
                entries[i].stands_for_others = true; /* stood for by entries[j] */
                break;
            }
}

/* the directory of the run `rel` lies in (SW/runs/NAME), or "" */
static void run_dir_of(const char *rel, char *out, size_t size)
{
    out[0] = '\0';
    const char *runs = strstr(rel, "SW/runs/");
    if (runs != rel)
        return;
    const char *name = rel + strlen("SW/runs/");
    const char *end = strchr(name, '/');
    if (!end) /* the run directory itself: named on run's command line, the user's */
        return;
    snprintf(out, size, "%.*s", (int)(end - rel), rel);
}

static void assert_outside_untouched(const char *after)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/outside/victim", tu_tmp);
    char *victim = tu_tmp_read("outside/victim");
    ck_assert_msg(!strcmp(victim, "the user's own file\n"), "after %s the file outside holds: %s", after, victim);
    free(victim);
    snprintf(path, sizeof path, "%s/outside/dir", tu_tmp);
    DIR *d = opendir(path);
    ck_assert(d);
    for (struct dirent *e; (e = readdir(d));)
        ck_assert_msg(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."),
                      "after %s the directory outside holds %s", after, e->d_name);
    closedir(d);
    /* nothing beside them either */
    snprintf(path, sizeof path, "%s/outside", tu_tmp);
    d = opendir(path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    ck_assert_msg(n == 2, "after %s the outside holds %d entries, not 2", after, n);
}

static void expect_refused(const char *args, const char *link)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s", args);
    const int status = tu_normlab(cmd);
    char *out = tu_normlab_output();
    char named[512];
    snprintf(named, sizeof named, "w/%s", link);
    ck_assert_msg(status == 2 && strstr(out, named) && strstr(out, "symbolic link"),
                  "a link at %s: `normlab %s` gave %d:\n%s", named, cmd, status, out);
    free(out);
    assert_outside_untouched(cmd);
}

START_TEST(test_link_at_every_written_path)
{
    tu_tmp_make("links");
    make_fixture();
    tu_tmp_write("outside/victim", "the user's own file\n");
    char path[1024];
    snprintf(path, sizeof path, "%s/outside/dir", tu_tmp);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    int tried = 0, files = 0, dirs = 0;
    for (int i = 0; i < n_entries; i++) {
        const entry *en = &entries[i];
        if (en->stands_for_others)
            continue;
        char cmd[4096];
        const int len = snprintf(cmd, sizeof cmd, "rm -rf '%s/w' && cp -a '%s/t' '%s/w' && rm -rf '%s/w/%s' && "
                                 "ln -s '%s/outside/%s' '%s/w/%s'", tu_tmp, tu_tmp, tu_tmp, tu_tmp, en->path, tu_tmp,
                                 en->dir ? "dir" : "victim", tu_tmp, en->path);
        ck_assert_int_lt(len, (int)sizeof cmd);
        ck_assert_int_eq(system(cmd), 0);
        char args[2048];
        spell(writers[en->command].args, "w", args, sizeof args);
        strncat(args, writers[en->command].again, sizeof args - strlen(args) - 1);
        expect_refused(args, en->path);
        char run_dir[400];
        run_dir_of(en->path, run_dir, sizeof run_dir);
        if (run_dir[0]) {
            const char *name = run_dir + strlen("SW/runs/");
            snprintf(args, sizeof args, "run w/SW/configs/%s.yaml --out w/%s --force --quiet", name, run_dir);
            expect_refused(args, en->path);
        }
        tried++;
        if (en->dir)
            dirs++;
        else
            files++;
    }
    /* the fixture must hold what the issue named, or the test proves little */
    static const char *const named[] = {"SW/.lock", "SW/.lock-shard-1-of-2", "SW/runs", "SW/configs", "SW/plots",
                                        "SW/summary.csv", "V", "TB"};
    for (size_t i = 0; i < sizeof named / sizeof *named; i++)
        ck_assert_msg(known(named[i]), "the fixture never wrote %s", named[i]);
    char run_files[3][300];
    snprintf(run_files[0], sizeof run_files[0], "SW/runs/%s/.normlab-run", run_name);
    snprintf(run_files[1], sizeof run_files[1], "SW/runs/%s/stderr.txt", run_name);
    snprintf(run_files[2], sizeof run_files[2], "SW/runs/%s/metrics.csv", run_name);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(known(run_files[i]), "the fixture never wrote %s", run_files[i]);
    ck_assert_int_gt(files, 10);
    ck_assert_int_gt(dirs, 4);
    fprintf(stderr, "test_links: %d places tried (%d files, %d directories) of %d written\n", tried, files, dirs,
            n_entries);
    tu_tmp_remove();
}
END_TEST

/* What the user names is theirs: --out through a link of their own goes
 * where the link points; below it nothing is followed */
START_TEST(test_link_the_user_named_is_followed)
{
    tu_tmp_make("links");
    tu_tmp_write("base.yaml", base_config);
    char path[1024], target[1024];
    snprintf(target, sizeof target, "%s/real", tu_tmp);
    ck_assert_int_eq(mkdir(target, 0777), 0);
    snprintf(path, sizeof path, "%s/mine", tu_tmp);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_int_eq(tu_normlab("run base.yaml --out mine/r --quiet"), 0);
    char *summary = tu_tmp_read("real/r/summary.json");
    free(summary);
    /* an output path longer than normlab takes: refused before any work */
    char args[2048] = "run base.yaml --out ";
    size_t n = strlen(args);
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(args + n, sizeof args - n, "%s", "a-directory-name-of-some-length-here-ok/");
    ck_assert_int_eq(tu_normlab(args), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--out") && strstr(out, "at most"), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/a-directory-name-of-some-length-here-ok", tu_tmp);
    struct stat st;
    ck_assert_msg(stat(path, &st) != 0, "%s was made for a refused --out", path);
    /* a name longer than the file system takes: exit 2, not 1 */
    snprintf(args, sizeof args, "run base.yaml --out x/");
    n = strlen(args);
    for (int i = 0; i < 300; i++)
        args[n++] = 'n';
    args[n] = '\0';
    ck_assert_int_eq(tu_normlab(args), 2);
    tu_tmp_remove();
}
END_TEST

/* the helper's entry points, each on its own, at a link: what the trees'
 * check in front of them must not be the only thing that refuses */
START_TEST(test_each_writer_refuses_a_link)
{
    tu_tmp_make("links");
    char dir[512], victim[600], place[600], sub[600];
    snprintf(dir, sizeof dir, "%s", tu_tmp);
    tu_tmp_write("victim", "the user's own file\n");
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(place, sizeof place, "%s/link", dir);
    ck_assert_int_eq(symlink(victim, place), 0);
    snprintf(sub, sizeof sub, "%s/d", dir);
    ck_assert_int_eq(mkdir(sub, 0777), 0);
    snprintf(sub, sizeof sub, "%s/dlink", dir);
    char target[600];
    snprintf(target, sizeof target, "%s/d", dir);
    ck_assert_int_eq(symlink(target, sub), 0);
    nl_error err = {0};
    int fd = -1;
    ck_assert_int_eq(nl_open_write(place, O_WRONLY | O_APPEND, &fd, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, place) && strstr(err.msg, "symbolic link"), "%s", err.msg);
    ck_assert_int_eq(fd, -1);
    nl_error_clear(&err);
    ck_assert_int_eq(nl_open_write(place, O_RDWR | O_CREAT, &fd, &err), NL_ERR_USAGE);
    nl_error_clear(&err);
    ck_assert_int_eq(nl_write_atomic(place, "x", 1, &err), NL_ERR_USAGE);
    nl_error_clear(&err);
    ck_assert_int_eq(nl_write_exclusive(place, "x", 1, NULL, &err), NL_ERR_USAGE);
    nl_error_clear(&err);
    /* through a linked directory: the directory is what is named */
    char through[700];
    snprintf(through, sizeof through, "%s/dlink/f", dir);
    ck_assert_int_eq(nl_open_write(through, O_WRONLY | O_CREAT, &fd, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, sub), "%s", err.msg);
    nl_error_clear(&err);
    ck_assert_int_eq(nl_make_dirs(through, &err), NL_ERR_USAGE);
    nl_error_clear(&err);
    nl_outset *set = nl_outset_begin(true, NULL);
    ck_assert_int_eq(nl_outset_add(set, through, "x", 1, &err), NL_ERR_USAGE);
    nl_outset_end(set);
    nl_error_clear(&err);
    ck_assert_int_eq(nl_rename_into(victim, place, &err), NL_ERR_USAGE);
    nl_error_clear(&err);
    ck_assert_int_eq(nl_tree_refuse_links(dir, &err), NL_ERR_USAGE);
    nl_error_clear(&err);
    /* '..' below a path's start leaves it */
    char up[700];
    snprintf(up, sizeof up, "%s/d/../victim2", dir);
    ck_assert_int_eq(nl_write_atomic(up, "x", 1, &err), NL_ERR_USAGE);
    nl_error_clear(&err);
    char *text = tu_tmp_read("victim");
    ck_assert_str_eq(text, "the user's own file\n");
    free(text);
    snprintf(target, sizeof target, "%s/d", dir);
    DIR *d = opendir(target);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 0);
    /* a path that does not fit comes out empty, never shortened */
    char small[16];
    nl_path_join(small, sizeof small, "/tmp/somewhere", "long-name");
    ck_assert_str_eq(small, "");
    nl_path_join(small, sizeof small, "/tmp", "x");
    ck_assert_str_eq(small, "/tmp/x");
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("links");
    TCase *tc = tcase_create("links");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_link_at_every_written_path);
    tcase_add_test(tc, test_link_the_user_named_is_followed);
    tcase_add_test(tc, test_each_writer_refuses_a_link);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
