/* Loading the gnuplot templates: built in, or edited copies from a directory. */
#include <stdlib.h>
#include <string.h>

#include "log/files.h"
#include "plot/templates.h"

nl_code pl_templates_load(const char *dir, pl_templates *t, nl_error *err)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < pl_n_builtin_templates && t->n < PL_MAX_TEMPLATES; i++)
        t->items[t->n++] = pl_builtin_templates[i];
    if (!dir)
        return NL_OK;
    if (!nl_is_dir(dir))
        return nl_fail(err, NL_ERR_USAGE, "--templates %s: no such directory", dir);
    int found = 0;
    char names[512] = "";
    size_t used = 0;
    for (int i = 0; i < t->n; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.gp", dir, t->items[i].name);
        if (used < sizeof names)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s.gp", i ? ", " : "", t->items[i].name);
        if (!nl_path_exists(path))
            continue;
        size_t len = 0;
        nl_code rc = nl_read_file(path, &t->owned[i], &len, err);
        if (rc) {
            pl_templates_free(t);
            return rc;
        }
        t->items[i].text = t->owned[i];
        t->items[i].len = len;
        found++;
    }
    if (found == 0) {
        pl_templates_free(t);
        return nl_fail(err, NL_ERR_USAGE, "--templates %s holds none of the templates (%s); "
                       "normlab plot --write-templates DIR writes them", dir, names);
    }
    return NL_OK;
}

void pl_templates_free(pl_templates *t)
{
    for (int i = 0; i < PL_MAX_TEMPLATES; i++)
        free(t->owned[i]);
    memset(t, 0, sizeof *t);
}

const char *pl_template_text(const pl_templates *t, const char *name)
{
    for (int i = 0; t && i < t->n; i++)
        if (!strcmp(t->items[i].name, name))
            return t->items[i].text;
    return "";
}

/* A user's copies to edit: a template already in `dir` is theirs (edited
 * or not), never replaced; any there refuses the lot before one is written */
nl_code pl_templates_write(const char *dir, nl_error *err)
{
    char path[1200];
    for (int i = 0; i < pl_n_builtin_templates; i++) {
        snprintf(path, sizeof path, "%s/%s.gp", dir, pl_builtin_templates[i].name);
        if (nl_path_exists(path))
            return nl_fail(err, NL_ERR_USAGE, "%s exists: templates already there are never "
                           "replaced; nothing was written: choose another directory, or remove "
                           "them", path);
    }
    nl_code rc = nl_make_dirs(dir, err);
    for (int i = 0; i < pl_n_builtin_templates && rc == NL_OK; i++) {
        snprintf(path, sizeof path, "%s/%s.gp", dir, pl_builtin_templates[i].name);
        rc = nl_write_exclusive(path, pl_builtin_templates[i].text, pl_builtin_templates[i].len,
                                NULL, err);
    }
    return rc;
}
