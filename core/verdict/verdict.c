/* normlab verdict's front door (verdict/verdict.h): the names its report
 * prints, the report's freeing, and which experiment or claims file a sweep
 * directory's claims are in. The computation is verdict/compute.c's, the
 * files verdict/output.c's. */
#include "verdict/verdict.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const nl_verdict_kind_names[NL_VERDICT_KIND_COUNT] = {"holds", "does not hold", "inconclusive",
                                                                  "described"};
const char *const nl_family_names[NL_FAMILY_COUNT] = {"headline", "secondary", "cell", "description"};

void nl_verdict_report_free(nl_verdict_report *r)
{
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

/* ---- the experiment file of a directory ---- */

/* whether the directory's path ends with the file's name: (a whole component);
 * *broken (where given) says the file did not load */
static bool names_dir(const char *path, const char *dir, bool *broken)
{
    nl_claim_set *set = malloc(sizeof *set);
    nl_error ignored = {0};
    bool yes = false, loaded = set && nl_claims_load(path, set, &ignored) == NL_OK;
    if (loaded && set->name[0]) {
        const size_t len = strlen(dir), n = strlen(set->name);
        yes = len >= n && !strcmp(dir + len - n, set->name) && (len == n || dir[len - n - 1] == '/');
    }
    if (broken)
        *broken = set && !loaded;
    free(set);
    return yes;
}

static bool scan_dir(const char *experiments_dir, const char *dir, char *path, size_t size)
{
    DIR *d = opendir(experiments_dir);
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        const size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml"))
            continue;
        snprintf(path, size, "%s/%s", experiments_dir, e->d_name);
        found = names_dir(path, dir, NULL);
    }
    if (d)
        closedir(d);
    return found;
}

nl_code nl_verdict_find_experiment(const char *sweep_dir, const char *experiments_dir, char *path, size_t size,
                                   nl_error *err)
{
    char dir[1024], claims_dir[1100];
    nl_copy_string(dir, sizeof dir, sweep_dir);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    const char *base = strrchr(dir, '/');
    snprintf(path, size, "%s/%s.yaml", experiments_dir, base ? base + 1 : dir);
    /* the file named after the directory is its experiment even when it
     * does not load: the caller's load then says why, rather than this
     * saying no file names the directory */
    bool broken = false;
    if (nl_path_exists(path) && (names_dir(path, dir, &broken) || broken))
        return NL_OK;
    snprintf(claims_dir, sizeof claims_dir, "%s/claims", experiments_dir);
    if (scan_dir(experiments_dir, dir, path, size) || scan_dir(claims_dir, dir, path, size))
        return NL_OK;
    return nl_fail(err, NL_ERR_USAGE, "no experiment file in %s/ (nor claims file in %s/) names '%s' (%s); give "
                   "it with --experiment FILE", experiments_dir, claims_dir, base ? base + 1 : dir, sweep_dir);
}
