/* libFuzzer harness: the writer helper (core/log/hold.c, files.c, outset.c)
 * on a tree the input builds. Per input, a scratch directory holds `tree/`
 * and `outside/` (a file and a directory of the user's); the input plants
 * entries in tree/ (directories, files, and symbolic links to outside/, to
 * another place in tree/, or to ".."), optionally names a directory in it as
 * the way to an --out (nl_write_root_add), then writes through one of the
 * helper's entry points at a path it spells from tree/'s names, "..", "."
 * and empty components.
 *
 * Input: a line of planted entries ("d NAME", "f NAME", "l NAME TARGET",
 * separated by ';'), a line "r PATH" or "-", a line with the operation's
 * letter (m make_dirs, o open_write, a write_atomic, x write_exclusive,
 * s an output set's add and commit, t tree check, n rename_into), and the
 * path (relative to the scratch directory; it is prefixed with "tree/").
 *
 * Properties: outside/ is byte for byte as it was (nothing written, made
 * or removed through a link); an error is a value with a message and exit
 * status 2 unless the OS failed (NL_ERR_IO); a success wrote its file at a
 * place whose real path lies inside tree/, reached without any link after
 * the registered root (the harness checks with lstat, component by
 * component below the root). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "log/files.h"

static char scratch[256];

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        for (struct dirent *e; d && (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* outside/: its entries, their kinds and sizes, into out */
static void outside_listing(char *out, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/outside", scratch);
    size_t n = 0;
    out[0] = '\0';
    DIR *d = opendir(path);
    FUZZ_REQUIRE(d, "outside/ is gone");
    for (struct dirent *e; (e = readdir(d));) {
        char sub[1024];
        struct stat st;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (lstat(sub, &st) == 0 && n < size)
            n += (size_t)snprintf(out + n, size - n, "%s:%o:%lld;", e->d_name, (unsigned)st.st_mode,
                                  (long long)st.st_size);
    }
    closedir(d);
    snprintf(path, sizeof path, "%s/outside/dir", scratch);
    d = opendir(path);
    FUZZ_REQUIRE(d, "outside/dir is gone");
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            FUZZ_REQUIRE(0, "outside/dir holds %s", e->d_name);
    closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(scratch, sizeof scratch, "/tmp/normlab-fuzz-paths-%ld", (long)getpid());
    remove_tree(scratch);
    FUZZ_REQUIRE(mkdir(scratch, 0777) == 0, "cannot make %s", scratch);
    FUZZ_REQUIRE(chdir(scratch) == 0, "cannot enter %s", scratch);
    return 0;
}

/* a name of the input's: no '/', not empty (planted entries only) */
static bool plain_name(const char *s)
{
    return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..") && strlen(s) < 64;
}

static void plant(char *spec)
{
    for (char *item = strtok(spec, ";"); item; item = strtok(NULL, ";")) {
        char kind = item[0];
        if (!kind || item[1] != ' ')
            continue;
        char *name = item + 2, *target = strchr(name, ' ');
        if (target)
            *target++ = '\0';
        /* names may nest under planted directories: each part plain */
        char copy[256];
        snprintf(copy, sizeof copy, "%s", name);
        bool ok = copy[0] != '\0';
        for (char *part = copy, *slash; ok && part; part = slash ? slash + 1 : NULL) {
            slash = strchr(part, '/');
            if (slash)
                *slash = '\0';
            ok = plain_name(part);
        }
        if (!ok)
            continue;
        char path[512];
        snprintf(path, sizeof path, "tree/%s", name);
        if (kind == 'd') {
            mkdir(path, 0777);
        } else if (kind == 'f') {
            const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0666);
            if (fd >= 0)
                close(fd);
        } else if (kind == 'l' && target) {
            /* a link to the user's file, their directory, up and out, or inside */
            const char *to = !strcmp(target, "F") ? "../outside/victim" : !strcmp(target, "D") ? "../outside/dir"
                           : !strcmp(target, "U") ? ".." : target;
            char abs[600];
            if (to[0] == '.' && to[1] == '.' && to[2] == '/') /* relative to the scratch, made absolute */
                snprintf(abs, sizeof abs, "%s/%s", scratch, to + 3);
            else
                snprintf(abs, sizeof abs, "%s", to);
            if (symlink(abs, path) != 0)
                continue;
        }
    }
}

/* the real path of what was written lies in tree/ */
static void require_inside(const char *path)
{
    char real[4096], tree[600], tree_real[4096];
    snprintf(tree, sizeof tree, "%s/tree", scratch);
    FUZZ_REQUIRE(realpath(tree, tree_real), "tree/ is gone");
    if (!realpath(path, real))
        return; /* a directory made and removed by an aborted set */
    FUZZ_REQUIRE(!strncmp(real, tree_real, strlen(tree_real)), "%s was written at %s, outside %s", path, real,
                 tree_real);
}

/* the way to --out (tree/ROOT's directories) passes a link: the user's
 * own choice, which the helper follows; such inputs name no root, so
 * that every link planted is one the helper must not follow */
static bool link_on_the_way(const char *root)
{
    char path[1400];
    snprintf(path, sizeof path, "tree/%s", root);
    for (char *slash = strchr(path + 5, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        struct stat st;
        const bool link = lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
        *slash = '/';
        if (link || strstr(path, ".."))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char *lines[4] = {0};
    int n = 0;
    for (char *p = text; n < 4 && p; n++) {
        lines[n] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    if (n < 4 || strlen(lines[3]) > 1200) {
        free(text);
        return 0;
    }
    remove_tree("tree");
    remove_tree("outside");
    FUZZ_REQUIRE(mkdir("tree", 0777) == 0 && mkdir("outside", 0777) == 0 && mkdir("outside/dir", 0777) == 0,
                 "cannot make the scratch tree");
    FILE *v = fopen("outside/victim", "w");
    FUZZ_REQUIRE(v && fputs("the user's own\n", v) >= 0 && fclose(v) == 0, "cannot write the victim");
    char before[4096], after[4096];
    outside_listing(before, sizeof before);
    plant(lines[0]);

    nl_write_roots_reset();
    nl_error err = {0};
    nl_code rc = NL_OK;
    if (lines[1][0] == 'r' && lines[1][1] == ' ' && !link_on_the_way(lines[1] + 2)) {
        char root[1400];
        snprintf(root, sizeof root, "tree/%s", lines[1] + 2);
        rc = nl_write_root_add(root, &err);
    }
    char path[1400];
    snprintf(path, sizeof path, "tree/%s", lines[3]);
    static const char body[] = "normlab\n";
    int fd = -1;
    if (rc == NL_OK) {
        switch (lines[2][0]) {
        case 'm':
            rc = nl_make_dirs(path, &err);
            break;
        case 'o':
            rc = nl_open_write(path, O_WRONLY | O_CREAT | O_APPEND, &fd, &err);
            if (rc == NL_OK) {
                FUZZ_REQUIRE(write(fd, body, sizeof body - 1) == (ssize_t)(sizeof body - 1), "write");
                close(fd);
            }
            break;
        case 'a':
            rc = nl_write_atomic(path, body, sizeof body - 1, &err);
            break;
        case 'x':
            rc = nl_write_exclusive(path, body, sizeof body - 1, NULL, &err);
            break;
        case 's': {
            nl_outset *set = nl_outset_begin(true, NULL);
            FUZZ_REQUIRE(set, "out of memory");
            rc = nl_outset_add(set, path, body, sizeof body - 1, &err);
            if (rc == NL_OK)
                rc = nl_outset_commit(set, NULL, &err);
            nl_outset_end(set);
            break;
        }
        case 't':
            rc = nl_tree_refuse_links(path, &err);
            break;
        case 'n': {
            const int tmp = open("tree/.fuzz-temp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0666);
            if (tmp >= 0)
                close(tmp);
            rc = tmp >= 0 ? nl_rename_into("tree/.fuzz-temp", path, &err) : NL_OK;
            break;
        }
        default:
            break;
        }
    }
    if (rc != NL_OK)
        fuzz_check_error(rc, &err, path);
    else if (strchr("oaxsn", lines[2][0]) && lines[2][0])
        require_inside(path);
    outside_listing(after, sizeof after);
    FUZZ_REQUIRE(!strcmp(before, after), "outside/ changed (%s -> %s) by '%c' at %s", before, after, lines[2][0],
                 path);
    char *victim = NULL;
    nl_error read_err = {0};
    FUZZ_REQUIRE(nl_read_file("outside/victim", &victim, NULL, &read_err) == NL_OK &&
                     !strcmp(victim, "the user's own\n"),
                 "the user's file now holds: %s", victim ? victim : read_err.msg);
    free(victim);
    free(text);
    return 0;
}
