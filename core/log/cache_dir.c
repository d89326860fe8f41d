/* normlab's per-user cache directories (cache_dir.h) */
#include "log/cache_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a directory that is ours alone: made (0700) where missing */
static bool private_dir(const char *path, const char *what, char *why, size_t size)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        /* lint: the cache directory itself, checked private below */
        if (errno != ENOENT || mkdir(path, 0700) != 0 || lstat(path, &st) != 0) { /* lint: private cache */
            snprintf(why, size, "cannot make %s %.160s: %.80s", what, path, strerror(errno));
            return false;
        }
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(why, size, "%s %.200s is a symbolic link", what, path);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, size, "%s %.200s is not a directory", what, path);
        return false;
    }
    if (st.st_uid != geteuid()) {
        snprintf(why, size, "%s %.200s is owned by another user (uid %u)", what, path,
                 (unsigned)st.st_uid);
        return false;
    }
    if (st.st_mode & 022) {
        snprintf(why, size, "%s %.200s is writable by others (mode %03o)", what, path,
                 (unsigned)(st.st_mode & 0777));
        return false;
    }
    return true;
}

/* mkdir -p of the parents up to dir (left as the system makes them), then
 * dir itself checked private */
bool nl_cache_dir(const char *sub, const char *given, const char *what, char *dir, size_t size,
                  char *why, size_t why_size)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (given)
        n = snprintf(dir, size, "%s", given);
    else if (xdg && xdg[0] == '/')
        n = snprintf(dir, size, "%s/normlab/%s", xdg, sub);
    else if (home && home[0] == '/')
        n = snprintf(dir, size, "%s/.cache/normlab/%s", home, sub);
    else {
        snprintf(why, why_size, "neither XDG_CACHE_HOME nor HOME names a directory for %s", what);
        return false;
    }
    if (n < 0 || (size_t)n >= size) {
        snprintf(why, why_size, "the path of %s is too long", what);
        return false;
    }
    for (char *s = dir + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) { /* lint: mkdir -p of the cache's parents, no link followed */
                snprintf(why, why_size, "cannot make %.160s for %s: %.80s", dir, what, strerror(errno));
                *s = '/';
                return false;
            }
            *s = '/';
        }
    return private_dir(dir, what, why, why_size);
}
