/* A pack's runs written back as run directories (store.h): normlab
 * export csv, the tree that was packed, file for file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/rundir.h"
#include "results/store.h"
#include "results/store_internal.h"

typedef struct {
    nl_store *s;
    nl_outset *set;
    const char *out;
    const char *run;
    int runs;
    nl_error *err;
    nl_code rc;
} export_job;

static int export_file(const char *rel, void *ctx)
{
    export_job *j = ctx;
    char path[2400], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s/%s", j->out, j->run, rel);
    j->rc = nl_store_read(j->s, j->run, rel, &text, &len, j->err);
    if (!j->rc)
        j->rc = nl_outset_add(j->set, path, text, len, j->err);
    free(text);
    return j->rc != NL_OK;
}

static int export_run(const char *run, void *ctx)
{
    export_job *j = ctx;
    char dir[2000];
    snprintf(dir, sizeof dir, "%s/%s", j->out, run);
    j->run = run;
    j->rc = nl_outset_make_dirs(j->set, dir, j->err);
    if (!j->rc)
        j->rc = nl_store_each_file(j->s, run, export_file, j, j->err);
    j->runs += !j->rc;
    return j->rc != NL_OK;
}

nl_code nl_store_export(const char *sweep_dir, const char *out, int *runs, nl_error *err)
{
    *runs = 0;
    export_job j = {.out = out, .err = err};
    nl_code rc = nl_store_open(sweep_dir, &j.s, err);
    if (rc)
        return rc;
    if (nl_path_exists(out) && !(nl_is_dir(out) && nl_dir_is_empty(out)))
        return nl_fail(err, NL_ERR_USAGE, "%s exists and is not an empty directory; nothing was written: give "
                       "another --out", out);
    if (!(j.set = nl_outset_begin(false, "give another --out")))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    rc = nl_outset_make_dirs(j.set, out, err);
    if (!rc)
        rc = nl_store_each_run(j.s, export_run, &j, err);
    if (!rc)
        rc = j.rc;
    if (!rc)
        rc = nl_outset_commit(j.set, NULL, err);
    nl_outset_end(j.set);
    *runs = rc ? 0 : j.runs;
    return rc;
}
