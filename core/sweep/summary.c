/* summary.csv: one row per run of the plan, rebuilt from the run
 * directories' summary.json files (the source of truth) and replaced
 * atomically, so a reader (or a kill -9) never sees half of it. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/number.h"
#include "config/flat.h"
#include "log/files.h"
#include "results/files.h"
#include "sweep/sweep.h"

nl_code nl_sweep_summary_text(const nl_experiment *e, const nl_sweep_plan *p,
                              const nl_sweep_result *results, nl_buf *b, nl_error *err)
{
    memset(b, 0, sizeof *b);
    nl_buf_printf(b, NL_SWEEP_RUN_COLUMN);
    for (int c = 0; c < p->n_columns; c++) {
        nl_buf_printf(b, ",");
        nl_buf_csv_field(b, p->columns[c]);
    }
    nl_buf_printf(b, "," NL_SWEEP_STATUS_COLUMN);
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++)
        nl_buf_printf(b, ",%s", nl_sweep_metric_names[m]);
    nl_buf_printf(b, "\n");
    for (int i = 0; i < p->n_runs; i++) {
        const nl_sweep_run *r = &p->runs[i];
        nl_buf_csv_field(b, r->dir);
        for (int c = 0; c < p->n_columns; c++) {
            char plain[1024];
            nl_buf_printf(b, ",");
            nl_buf_csv_field(b, nl_unquote(nl_sweep_run_value(e, p, r, c), plain, sizeof plain));
        }
        nl_buf_printf(b, ",%s", nl_sweep_state_name(results[i].state));
        for (int m = 0; m < NL_SWEEP_N_METRICS; m++) {
            nl_buf_printf(b, ",");
            nl_buf_csv_field(b, results[i].metrics[m]);
        }
        nl_buf_printf(b, "\n");
    }
    if (b->failed) {
        nl_buf_free(b);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing summary.csv");
    }
    return NL_OK;
}

nl_code nl_sweep_write_summary(const nl_experiment *e, const nl_sweep_plan *p,
                               const nl_sweep_result *results, const char *sweep_dir, nl_error *err)
{
    nl_buf b;
    nl_code rc = nl_sweep_summary_text(e, p, results, &b, err);
    if (rc)
        return rc;
    char path[1200];
    nl_path_join(path, sizeof path, sweep_dir, NL_SWEEP_SUMMARY_FILE);
    rc = nl_write_atomic(path, b.data, b.len, err);
    nl_buf_free(&b);
    return rc;
}

/* "name.tmp.<pid>" of a writer that is no longer alive on this machine */
static bool stale_temp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t)
        return false;
    long long pid;
    if (!nl_parse_ll(t + 5, 1, INT_MAX, &pid)) /* a pid_t */
        return false;
    /* a zombie (killed, not yet reaped by whoever inherited it) is dead too */
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = nl_fopen_system(path);
    if (f) {
        const size_t got = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[got] = '\0';
        const char *paren = strrchr(stat, ')');
        return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
    }
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int nl_sweep_remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (!stale_temp(entry->d_name))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        removed += unlink(path) == 0;
    }
    closedir(d);
    return removed;
}
