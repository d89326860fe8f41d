/* The documentation's relative links: every `](target)` in the repository's
 * Markdown pages points at a file of the repository, and a `#anchor` into a
 * Markdown page names one of its headings. Write-ups move between these
 * pages; this is what tells a move that left a link behind. The pages are
 * found by walking the source tree (build trees and dot-directories left
 * out), so a new page is checked without being listed here. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "config/schema.h"
#include "plot/plot.h"
#include "results/series.h"
#include "testutil.h"

enum { MAX_PAGES = 4096 };
static char *pages[MAX_PAGES];
static int n_pages;

/* every *.md below the source directory `rel` ("" for the top) */
static void find_pages(const char *rel)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", NORMLAB_SOURCE_DIR, rel);
    DIR *d = opendir(dir);
    ck_assert_msg(d, "cannot list %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (name[0] == '.' || (!rel[0] && !strncmp(name, "build", 5)))
            continue;
        char child[1200], full[2400];
        snprintf(child, sizeof child, "%s%s%s", rel, rel[0] ? "/" : "", name);
        snprintf(full, sizeof full, "%s/%s", NORMLAB_SOURCE_DIR, child);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        const size_t n = strlen(name);
        if (S_ISDIR(st.st_mode))
            find_pages(child);
        else if (S_ISREG(st.st_mode) && n > 3 && !strcmp(name + n - 3, ".md")) {
            ck_assert_msg(n_pages < MAX_PAGES, "more than %d Markdown pages", MAX_PAGES);
            pages[n_pages++] = strdup(child);
        }
    }
    closedir(d);
}

static char *read_source(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    ck_assert(text && fread(text, 1, (size_t)n, f) == (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* GitHub's anchor for a heading: lower case, spaces to '-', letters, digits,
 * '-' and '_' kept, the rest dropped. Non-ASCII bytes are dropped too: the
 * headings of these pages are ASCII, and GitHub keeps non-ASCII letters but
 * drops symbols such as an em dash, which bytes cannot tell apart. */
static void slug(const char *heading, size_t len, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < size; i++) {
        const unsigned char c = (unsigned char)heading[i];
        if (c == ' ')
            out[k++] = '-';
        else if (c < 0x80 && (isalnum(c) || c == '-' || c == '_'))
            out[k++] = (char)tolower(c);
    }
    out[k] = '\0';
}

/* whether `page` (a path from the source root) has a heading whose anchor
 * is `anchor`; a repeated heading's anchors get -1, -2, ... as on GitHub */
static bool has_anchor(const char *page, const char *anchor)
{
    char *text = read_source(page);
    char seen[512][128];
    int n_seen = 0;
    bool found = false, fenced = false;
    for (char *line = text; line && *line && !found;) {
        char *end = strchr(line, '\n');
        const size_t len = end ? (size_t)(end - line) : strlen(line);
        if (!strncmp(line, "```", 3))
            fenced = !fenced;
        if (!fenced && line[0] == '#') {
            size_t h = 0;
            while (h < len && line[h] == '#')
                h++;
            while (h < len && line[h] == ' ')
                h++;
            char s[128], name[160];
            slug(line + h, len - h, s, sizeof s);
            int repeats = 0;
            for (int i = 0; i < n_seen; i++)
                repeats += !strcmp(seen[i], s);
            if (repeats)
                snprintf(name, sizeof name, "%s-%d", s, repeats);
            else
                snprintf(name, sizeof name, "%s", s);
            found = !strcmp(name, anchor);
            if (n_seen < 512)
                snprintf(seen[n_seen++], sizeof seen[0], "%s", s);
        }
        line = end ? end + 1 : NULL;
    }
    free(text);
    return found;
}

/* checks one link target of `page`; returns a message, or NULL when it resolves */
static const char *check_target(const char *page, const char *target, char *why, size_t size)
{
    if (strstr(target, "://") || !strncmp(target, "mailto:", 7))
        return NULL;
    char path[1024] = "", anchor[256] = "";
    const char *hash = strchr(target, '#');
    const size_t path_len = hash ? (size_t)(hash - target) : strlen(target);
    if (hash)
        snprintf(anchor, sizeof anchor, "%s", hash + 1);
    /* relative to the page's directory; an empty path is the page itself */
    const char *slash = strrchr(page, '/');
    if (path_len == 0)
        snprintf(path, sizeof path, "%s", page);
    else
        snprintf(path, sizeof path, "%.*s%.*s", slash ? (int)(slash - page + 1) : 0, page, (int)path_len,
                 target);
    char full[1400];
    snprintf(full, sizeof full, "%s/%s", NORMLAB_SOURCE_DIR, path);
    struct stat st;
    if (stat(full, &st) != 0) {
        snprintf(why, size, "%s: no file %s", target, path);
        return why;
    }
    const size_t n = strlen(path);
    if (anchor[0] && n > 3 && !strcmp(path + n - 3, ".md") && !has_anchor(path, anchor)) {
        snprintf(why, size, "%s: %s has no heading with the anchor #%s", target, path, anchor);
        return why;
    }
    return NULL;
}

START_TEST(test_relative_links_resolve)
{
    int links = 0, broken = 0;
    find_pages("");
    bool has_readme = false;
    for (int p = 0; p < n_pages; p++)
        has_readme |= !strcmp(pages[p], "README.md");
    ck_assert_msg(has_readme, "the walk of %s found no README.md", NORMLAB_SOURCE_DIR);
    for (int p = 0; p < n_pages; p++) {
        char *text = read_source(pages[p]);
        bool fenced = false;
        int line_no = 1;
        for (char *c = text; *c; c++) {
            if (*c == '\n')
                line_no++;
            if ((c == text || c[-1] == '\n') && !strncmp(c, "```", 3))
                fenced = !fenced;
            if (fenced || c[0] != ']' || c[1] != '(')
                continue;
            const char *start = c + 2, *close = strchr(start, ')');
            if (!close || memchr(start, '\n', (size_t)(close - start)))
                continue;
            char target[512], why[1600];
            snprintf(target, sizeof target, "%.*s", (int)(close - start), start);
            links++;
            if (check_target(pages[p], target, why, sizeof why)) {
                fprintf(stderr, "%s:%d: %s\n", pages[p], line_no, why);
                broken++;
            }
        }
        free(text);
    }
    ck_assert_msg(links > 50, "only %d links found: is the scanner still reading the pages?", links);
    ck_assert_msg(broken == 0, "%d of %d links in %d pages do not resolve (listed above)", broken,
                  links, n_pages);
    for (int p = 0; p < n_pages; p++)
        free(pages[p]);
}
END_TEST

/* An error message quoted in a page ("KEY: 'x' is not a ...; accepted: A |
 * B (did you mean ...") lists what the key accepts today: the normalizer
 * list quoted in the usage page had stayed at six names while the registry
 * grew to ten. The accepted text comes from the schema, as the parser's
 * message does. */
START_TEST(test_quoted_accepted_lists_are_current)
{
    find_pages("");
    int quoted = 0, stale = 0;
    for (int p = 0; p < n_pages; p++) {
        char *text = read_source(pages[p]);
        int line_no = 1;
        for (char *c = text; *c; c++) {
            if (*c == '\n')
                line_no++;
            static const char marker[] = "' is not a";
            if (strncmp(c, marker, sizeof marker - 1))
                continue;
            /* back over the value to "KEY: '" */
            char *quote = c - 1;
            while (quote > text && *quote != '\'' && *quote != '\n')
                quote--;
            if (*quote != '\'' || quote - text < 3 || quote[-1] != ' ' || quote[-2] != ':')
                continue;
            char *key_end = quote - 2, *key = key_end;
            while (key > text && (isalnum((unsigned char)key[-1]) || key[-1] == '.' || key[-1] == '_'))
                key--;
            char key_name[96];
            snprintf(key_name, sizeof key_name, "%.*s", (int)(key_end - key), key);
            const nl_key_def *def = nl_schema_find(key_name);
            const char *eol = strchr(c, '\n'), *acc = strstr(c, "; accepted: ");
            if (!def || !acc || (eol && acc > eol))
                continue;
            acc += strlen("; accepted: ");
            const char *end = strstr(acc, " (did you mean");
            if (!end || (eol && end > eol))
                end = eol ? eol : acc + strlen(acc);
            char want[1024];
            nl_schema_accepted(def, want, sizeof want);
            quoted++;
            if (strlen(want) != (size_t)(end - acc) || strncmp(acc, want, (size_t)(end - acc))) {
                fprintf(stderr, "%s:%d: %s: the page quotes 'accepted: %.*s', the parser says "
                                "'accepted: %s'\n",
                        pages[p], line_no, key_name, (int)(end - acc), acc, want);
                stale++;
            }
        }
        free(text);
    }
    ck_assert_msg(quoted > 0, "no quoted 'is not a ...; accepted:' message found: is the scanner "
                              "still reading the pages?");
    ck_assert_msg(stale == 0, "%d of %d quoted accepted-lists are stale (listed above)", stale, quoted);
}
END_TEST

/* A page that lists the kinds of a table says so with a marker line
 *   <!-- names every plot kind -->
 * (on a line of its own; the words after "every" are the table's own name for its kind: plot
 * kind, normalizer, architecture, optimizer, ...), and the paragraph after
 * it must name each of the table's rows in backquotes. A kind added to a
 * table then turns this test red until the pages listing its siblings
 * name it too. */
static const nl_name_table *table_named(const char *what)
{
    static const nl_name_table *const extra[] = {&nl_plot_kind_names, &nl_series_names};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (!strcmp(extra[i]->what, what))
            return extra[i];
    for (int k = 0; k < nl_config_schema_count; k++)
        if (nl_config_schema[k].type == NL_KT_ENUM && !strcmp(nl_config_schema[k].names->what, what))
            return nl_config_schema[k].names;
    return NULL;
}

START_TEST(test_marked_kind_lists_are_complete)
{
    find_pages("");
    int lists = 0, missing = 0;
    for (int p = 0; p < n_pages; p++) {
        char *text = read_source(pages[p]);
        static const char marker[] = "<!-- names every ";
        for (char *c = strstr(text, marker); c; c = strstr(c + 1, marker)) {
            /* a marker is a line of its own; one quoted in the text is not */
            if (c > text && c[-1] != '\n')
                continue;
            const char *what_start = c + sizeof marker - 1, *what_end = strstr(what_start, " -->");
            ck_assert_msg(what_end, "%s: a marker without its end", pages[p]);
            char what[64];
            snprintf(what, sizeof what, "%.*s", (int)(what_end - what_start), what_start);
            const nl_name_table *t = table_named(what);
            ck_assert_msg(t, "%s: <!-- names every %s -->: no table names its kind '%s'", pages[p], what, what);
            /* the paragraph: from the marker to the next blank line */
            const char *para = what_end, *end = strstr(para, "\n\n");
            const size_t len = end ? (size_t)(end - para) : strlen(para);
            lists++;
            for (int i = 0; i < t->count; i++) {
                char quoted[80];
                snprintf(quoted, sizeof quoted, "`%s`", nl_name_of(t, i));
                const char *hit = strstr(para, quoted);
                if (!hit || hit >= para + len) {
                    fprintf(stderr, "%s: the list after <!-- names every %s --> lacks %s\n", pages[p], what, quoted);
                    missing++;
                }
            }
        }
        free(text);
    }
    ck_assert_msg(lists > 0, "no <!-- names every ... --> marker found: is the scanner still reading the pages?");
    ck_assert_msg(missing == 0, "%d kinds missing from the marked lists (above)", missing);
}
END_TEST

/* The README is a newcomer's page: what normlab is, the two commands, a
 * tour and where to read more. It had grown to 28.6k characters of tables
 * and lab history (issue 55); the long text lives in the pages it links.
 * The bound is in bytes, as `wc -c` counts, and the pages that hold what
 * the README summarizes must stay linked from it. */
enum { README_MAX_BYTES = 14000 };

START_TEST(test_readme_is_short_and_links_the_long_pages)
{
    char *text = read_source("README.md");
    const size_t bytes = strlen(text);
    ck_assert_msg(bytes <= README_MAX_BYTES,
                  "README.md is %zu bytes, over its bound of %d: move the detail to a page under "
                  "results/ and link it",
                  bytes, README_MAX_BYTES);
    static const char *const long_pages[] = {
        "configs/README.md", "results/usage.md", "results/README.md", "results/reproductions.md",
        "results/speed.md", "results/cuda.md", "tests/README.md", "results/claims.md",
    };
    for (size_t i = 0; i < sizeof long_pages / sizeof long_pages[0]; i++) {
        char link[128];
        snprintf(link, sizeof link, "](%s", long_pages[i]);
        ck_assert_msg(strstr(text, link), "README.md no longer links %s, which holds what it summarizes",
                      long_pages[i]);
    }
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("doc_links");
    TCase *tc = tcase_create("links");
    tcase_add_test(tc, test_relative_links_resolve);
    tcase_add_test(tc, test_quoted_accepted_lists_are_current);
    tcase_add_test(tc, test_marked_kind_lists_are_complete);
    tcase_add_test(tc, test_readme_is_short_and_links_the_long_pages);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
