/* Every file normlab reads is opened through nl_open_regular (core/log/files.c),
 * which refuses a FIFO, a directory or a device without blocking: this test
 * reads every C/C++ source under core/ and cmd/ (found by walking them) and
 * fails on each call that opens a file for reading any other way:
 *   fopen / freopen / popen with a mode that reads ("r...", or "+"), or a
 *   mode that is not a string literal (it cannot be told);
 *   open / openat whose flags have neither O_WRONLY nor O_RDWR;
 *   gzopen, which reads by itself.
 * The only raw opens allowed are the helper's own in core/log/files.c, each
 * marked "lint: the reader helper" (nl_open_regular, and nl_open_system for
 * the kernel's /proc, /sys and /dev/null: its one allowlist).
 *
 * The same for writing: every file normlab writes is opened, and every
 * directory made, renamed into or linked, through the writer helper of
 * core/log (hold.c, files.c, outset.c), which follows no symbolic link
 * where normlab writes. Outside those files a call that writes by a path
 * (open/openat/fopen for writing, creat, mkdir, rename, link, symlink,
 * mkdtemp, truncate, ...) is flagged, but for a line marked "lint: " with
 * the reason it writes only in a private directory of its own. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/files.h"
#include "testutil.h"

typedef struct {
    const char *const *calls;
    size_t n_calls;
    /* why the call `name(args)` does what the rule forbids; NULL when it does not */
    const char *(*why)(const char *name, const char *args);
    const char *const *helper_files; /* where the helper lives */
    size_t n_helper_files;
    bool whole_files;                /* every call in them allowed, or only marked lines */
    const char *mark;                /* a line carrying it passes (in the helper's files when !whole_files) */
} lint_rule;

static const char *const helper_file = "core/log/files.c";
static const char *const helper_mark = "lint: the reader helper";
/* the writer helper opens what it writes with flags it is given */
static const char *const reader_files[] = {"core/log/files.c", "core/log/hold.c"};

/* the argument text of the call whose '(' is at open_paren, up to its ')' */
static void call_args(const char *open_paren, char *out, size_t size)
{
    int depth = 0;
    size_t n = 0;
    for (const char *p = open_paren; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && --depth == 0)
            break;
        if (p != open_paren && n + 1 < size)
            out[n++] = *p;
    }
    out[n] = '\0';
}

/* the argument after the first top-level comma; "" if none */
static const char *second_arg(const char *args)
{
    int depth = 0;
    for (const char *p = args; *p; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                break;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == ',' && depth == 0) {
            while (isspace((unsigned char)p[1]))
                p++;
            return p + 1;
        }
    }
    return "";
}

/* why the call `name(args)` opens a file for reading outside the helper; NULL when it does not */
static const char *read_open(const char *name, const char *args)
{
    if (!strcmp(name, "gzopen"))
        return "gzopen reads the file itself";
    if (!strcmp(name, "fopen") || !strcmp(name, "freopen") || !strcmp(name, "popen")) {
        const char *mode = second_arg(args);
        if (mode[0] != '"')
            return "a mode that is not a string literal";
        return mode[1] == 'r' || memchr(mode + 1, '+', strcspn(mode + 1, "\"")) ? "a mode that reads"
                                                                              : NULL;
    }
    /* open, openat; a directory opened (O_DIRECTORY) is held, not read */
    return strstr(args, "O_WRONLY") || strstr(args, "O_RDWR") || strstr(args, "O_DIRECTORY") ? NULL
                                                                                           : "flags that read";
}

static const char *const openers[] = {"fopen", "freopen", "popen", "open", "openat", "gzopen"};

static const lint_rule readers = {openers, sizeof openers / sizeof *openers, read_open, reader_files,
                                  sizeof reader_files / sizeof *reader_files, false, helper_mark};

/* why the call `name(args)` writes by a path outside the writer helper; NULL when it does not */
static const char *write_open(const char *name, const char *args)
{
    if (!strcmp(name, "fopen") || !strcmp(name, "freopen")) {
        const char *mode = second_arg(args);
        if (mode[0] != '"')
            return "a mode that is not a string literal";
        return mode[1] == 'w' || mode[1] == 'a' || memchr(mode + 1, '+', strcspn(mode + 1, "\""))
                   ? "a mode that writes" : NULL;
    }
    if (!strcmp(name, "open") || !strcmp(name, "openat"))
        return strstr(args, "O_WRONLY") || strstr(args, "O_RDWR") || strstr(args, "O_CREAT")
                   ? "flags that write" : NULL;
    return "writes by a path";
}

static const char *const writers_calls[] = {"fopen", "freopen", "open", "openat", "creat", "mkdir", "mkdirat",
                                            "rename", "renameat", "renameat2", "link", "linkat", "symlink",
                                            "symlinkat", "mkdtemp", "mkstemp", "mkfifo", "truncate"};
static const char *const writer_files[] = {"core/log/hold.c", "core/log/files.c", "core/log/outset.c"};
static const lint_rule writers = {writers_calls, sizeof writers_calls / sizeof *writers_calls, write_open,
                                  writer_files, sizeof writer_files / sizeof *writer_files, true, "lint: "};

/* appends "file:line: call (why)" to *found for each read open in `text`
 * (the source `rel`); the helper's marked lines in helper_file pass */
static int scan(const lint_rule *rule, const char *rel, char *text, nl_buf *found)
{
    tu_blank_c_comments(text, false);
    int hits = 0;
    for (char *p = text; *p; p++) {
        if (*p == '"' || *p == '\'') { /* a literal's text names no call */
            const char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                break;
            continue;
        }
        if (!isalpha((unsigned char)*p) ||
            (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.' ||
                          (p[-1] == '>' && p > text + 1 && p[-2] == '-'))))
            continue;
        size_t len = 0;
        while (isalnum((unsigned char)p[len]) || p[len] == '_')
            len++;
        const char *q = p + len;
        while (*q == ' ' || *q == '\t')
            q++;
        for (size_t k = 0; k < rule->n_calls; k++) {
            const char *call = rule->calls[k];
            if (strlen(call) != len || strncmp(p, call, len) || *q != '(')
                continue;
            char args[2048];
            call_args(q, args, sizeof args);
            const char *why = rule->why(call, args);
            if (!why)
                break;
            int line = 1;
            for (const char *c = text; c < p; c++)
                line += *c == '\n';
            hits++;
            nl_buf_printf(found, "%s:%d: %s(%.60s) (%s)\n", rel, line, call, args, why);
            break;
        }
        p += len - 1;
    }
    return hits;
}

/* the helper's own raw opens: in helper_file, on lines carrying the mark
 * (read from the text before its comments are blanked) */
static bool in_helper(const lint_rule *rule, const char *rel)
{
    for (size_t i = 0; i < rule->n_helper_files; i++)
        if (!strcmp(rel, rule->helper_files[i]))
            return true;
    return false;
}

static int allowed_lines(const lint_rule *rule, const char *rel, const char *text, int *lines, int max)
{
    if (!rule->whole_files && !in_helper(rule, rel))
        return 0;
    int n = 0, line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            line++;
        else if (!strncmp(p, rule->mark, strlen(rule->mark)) && n < max)
            lines[n++] = line;
    }
    return n;
}

static bool is_source(const char *name)
{
    static const char *const ext[] = {".c", ".h", ".cu", ".cuh", ".cpp", ".hpp", ".cc"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof ext / sizeof *ext; i++)
        if (!strcmp(dot, ext[i]))
            return true;
    return false;
}

static int n_sources;

/* scans every source below `rel`; the unmarked read opens into *found */
static void scan_tree(const lint_rule *rule, const char *rel, nl_buf *found, int *violations)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", NORMLAB_SOURCE_DIR, rel);
    DIR *d = opendir(dir);
    ck_assert_msg(d, "cannot list %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char child[1200], full[2400];
        snprintf(child, sizeof child, "%s/%s", rel, e->d_name);
        snprintf(full, sizeof full, "%s/%s", NORMLAB_SOURCE_DIR, child);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            scan_tree(rule, child, found, violations);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !is_source(e->d_name))
            continue;
        char *text = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_read_file(full, &text, NULL, &err) == NL_OK, "%s", err.msg);
        n_sources++;
        if (rule->whole_files && in_helper(rule, child)) {
            free(text);
            continue;
        }
        int allowed[64];
        const int n_allowed = allowed_lines(rule, child, text, allowed, 64);
        nl_buf hits = {0};
        scan(rule, child, text, &hits);
        /* each hit's line against the allowed ones */
        for (const char *h = hits.data ? hits.data : ""; *h;) {
            const size_t len = strcspn(h, "\n");
            const int line = atoi(strchr(h, ':') + 1);
            bool ok = false;
            for (int a = 0; a < n_allowed; a++)
                ok = ok || allowed[a] == line;
            if (!ok) {
                nl_buf_printf(found, "%.*s\n", (int)len, h);
                (*violations)++;
            }
            h += len + (h[len] == '\n');
        }
        nl_buf_free(&hits);
        free(text);
    }
    closedir(d);
}

typedef struct {
    const char *code;
    int hits;
} scan_case;

/* each case's code scanned under rule: the hits it must give */
static void check_cases(const lint_rule *rule, const scan_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *text = strdup(cases[i].code);
        nl_buf found = {0};
        const int hits = scan(rule, "case.c", text, &found);
        ck_assert_msg(hits == cases[i].hits, "case %zu (%s): %d hits, expected %d: %s", i,
                      cases[i].code, hits, cases[i].hits, found.data ? found.data : "");
        nl_buf_free(&found);
        free(text);
    }
}

/* the scanner itself: what it must flag and what it must pass */
START_TEST(test_scanner_cases)
{
    static const scan_case cases[] = {
        {"FILE *f = fopen(path, \"r\");", 1},
        {"FILE *f = fopen(path, \"rb\");", 1},
        {"FILE *f = fopen(path, \"a+\");", 1},
        {"FILE *f = fopen(path, mode);", 1},
        {"FILE *f = fopen(path, \"w\");", 0},
        {"FILE *f = fopen(\"/x\", \"ab\");", 0},
        {"int fd = open(path, O_RDONLY | O_CLOEXEC);", 1},
        {"int fd = open(path, O_RDONLY);", 1},
        {"int fd = open(name_of(dir, \"x\"), O_CLOEXEC);", 1},
        {"int fd = openat(AT_FDCWD, path, O_RDONLY);", 1},
        {"int fd = open(path, O_WRONLY | O_CREAT, 0666);", 0},
        {"int fd = open(path, O_RDWR | O_CREAT, 0666);", 0},
        {"int fd = openat(at, name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY);", 0},
        {"gzFile g = gzopen(path, \"rb\");", 1},
        {"FILE *p = popen(\"ls\", \"r\");", 1},
        {"FILE *f = freopen(path, \"r\", stdin);", 1},
        {"rc = be->open(path, O_RDONLY);", 0},
        {"rc = cuda.open(threads, out, err);", 0},
        {"rc = reopen(path, O_RDONLY);", 0},
        {"rc = nl_open_regular(path, false, &fd, err);", 0},
        {"/* fopen(path, \"r\") in a comment */ x = 1;", 0},
        {"// open(path, O_RDONLY)\nx = 1;", 0},
        {"msg(\"cannot open(%s)\", p); int fd = open(p, O_RDONLY);", 1},
    };
    check_cases(&readers, cases, sizeof cases / sizeof *cases);
}
END_TEST

/* every source under core/ and cmd/ scanned under rule: no violation (each
 * listed on stderr), and the walk found the sources */
static void assert_rule_holds(const lint_rule *rule, const char *what)
{
    nl_buf found = {0};
    int violations = 0;
    n_sources = 0;
    scan_tree(rule, "core", &found, &violations);
    scan_tree(rule, "cmd", &found, &violations);
    ck_assert_msg(n_sources > 100, "the walk found only %d sources under core/ and cmd/", n_sources);
    if (violations)
        fputs(found.data, stderr);
    ck_assert_msg(!violations, "%d %s", violations, what);
    nl_buf_free(&found);
}

/* core/ and cmd/: no read open outside the helper */
START_TEST(test_no_read_open_outside_the_helper)
{
    assert_rule_holds(&readers, "file(s) opened for reading outside nl_open_regular (listed above): use "
                      "nl_open_regular / nl_fopen_regular / nl_read_file (core/log/files.h), or "
                      "nl_fopen_system for /proc, /sys and /dev/null");
}
END_TEST

/* the helper's marked lines exist (the allowance is not left over) */
START_TEST(test_helper_marks)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, helper_file);
    char *text = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
    int lines[16];
    const int n = allowed_lines(&readers, helper_file, text, lines, 16);
    nl_buf hits = {0};
    const int opens = scan(&readers, helper_file, text, &hits);
    ck_assert_msg(n >= 2 && opens == n, "%s: %d marked lines, %d read opens:\n%s", helper_file, n,
                  opens, hits.data ? hits.data : "");
    nl_buf_free(&hits);
    free(text);
}
END_TEST

/* the writer rule: what it flags and what it passes */
START_TEST(test_writer_scanner_cases)
{
    static const scan_case cases[] = {
        {"int fd = open(path, O_WRONLY | O_CREAT, 0666);", 1},
        {"int fd = open(path, O_RDWR);", 1},
        {"int fd = openat(dirfd, name, O_CREAT | O_EXCL, 0666);", 1},
        {"int fd = open(path, O_RDONLY);", 0},
        {"FILE *f = fopen(path, \"w\");", 1},
        {"FILE *f = fopen(path, \"ab\");", 1},
        {"FILE *f = fopen(path, \"r+\");", 1},
        {"FILE *f = fopen(path, \"rb\");", 0},
        {"if (mkdir(dir, 0777) != 0) x = 1;", 1},
        {"rename(tmp, path);", 1},
        {"link(tmp, path);", 1},
        {"symlink(target, path);", 1},
        {"mkdtemp(buf);", 1},
        {"nl_open_write(path, O_WRONLY | O_CREAT, &fd, err);", 0},
        {"nl_rename_into(tmp, path, err);", 0},
        {"x = s->rename(a, b);", 0},
        {"/* mkdir(dir) in a comment */ x = 1;", 0},
    };
    check_cases(&writers, cases, sizeof cases / sizeof *cases);
}
END_TEST

/* core/ and cmd/: nothing written by a path outside the writer helper */
START_TEST(test_no_write_outside_the_helper)
{
    assert_rule_holds(&writers, "call(s) write by a path outside core/log's writer helper (listed above): use "
                      "nl_open_write / nl_write_atomic / nl_make_dirs / nl_rename_into (core/log/files.h), "
                      "which follow no link where normlab writes; or mark a private temporary's line "
                      "\"lint: <why>\"");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("readers_lint");
    TCase *tc = tcase_create("lint");
    tcase_add_test(tc, test_scanner_cases);
    tcase_add_test(tc, test_no_read_open_outside_the_helper);
    tcase_add_test(tc, test_helper_marks);
    tcase_add_test(tc, test_writer_scanner_cases);
    tcase_add_test(tc, test_no_write_outside_the_helper);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
