/* The sweep's front door (sweep.h): a planned run's values as its columns
 * and overrides show them, a shard of the plan, and how a run's saved
 * config differs from the one the plan wants. The experiment file is read
 * in experiment.c, the plan built in plan.c, summary.csv written in
 * summary.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "config/config.h"
#include "config/flat.h"
#include "results/files.h"
#include "results/store.h"
#include "sweep/sweep.h"

const char *nl_sweep_run_value(const nl_experiment *e, const nl_sweep_plan *p, const nl_sweep_run *r,
                               int column)
{
    (void)p;
    if (column < e->n_axes) /* "" for a grid key that does not apply to the run */
        return r->choice[column] >= 0 ? e->axes[column].values[r->choice[column]] : "";
    return r->derived[column - e->n_axes];
}

void nl_sweep_run_overrides(const nl_experiment *e, const nl_sweep_plan *p, const nl_sweep_run *r,
                            char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < p->n_columns && used < size - 1; c++)
        if (c >= e->n_axes || r->choice[c] >= 0)
            used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", used ? " " : "", p->columns[c],
                                     nl_sweep_run_formula(p, r, c, nl_sweep_run_value(e, p, r, c)));
}

nl_code nl_shard_parse(const char *text, nl_shard *out, nl_error *err)
{
    /* I and N each whole (digits only: " 2/4" and "2/4x" are no shard) */
    const char *slash = strchr(text, '/');
    char i_text[32] = ""; /* an I longer than this is no number in range either */
    if (slash && (size_t)(slash - text) < sizeof i_text)
        snprintf(i_text, sizeof i_text, "%.*s", (int)(slash - text), text);
    long long i = 0, n = 0;
    if (!slash || !nl_parse_ll(i_text, 0, LLONG_MAX, &i) || !nl_parse_ll(slash + 1, 0, LLONG_MAX, &n))
        return nl_fail(err, NL_ERR_USAGE, "--shard: '%s' is not I/N (e.g. --shard 2/4)", text);
    if (n < 1 || n > 100000)
        return nl_fail(err, NL_ERR_USAGE, "--shard %s: N must be between 1 and 100000", text);
    if (i < 1 || i > n)
        return nl_fail(err, NL_ERR_USAGE, "--shard %s: I must be between 1 and N (%lld)", text, n);
    out->index = (int)i;
    out->count = (int)n;
    return NL_OK;
}

/* a run's config.yaml as its record: from its directory, or from its
 * sweep's pack (results/store.h) where the directory is packed */
static nl_code load_saved(const char *saved_path, nl_config *cfg, nl_error *err)
{
    char run_dir[1500], *text = NULL;
    nl_copy_string(run_dir, sizeof run_dir, saved_path);
    char *slash = strrchr(run_dir, '/');
    if (slash)
        *slash = '\0';
    if (!slash || !nl_run_packed(run_dir, NULL, 0, NULL, 0))
        return nl_config_load_record(saved_path, NULL, 0, cfg, err);
    nl_code rc = nl_run_file_read(run_dir, NL_RUN_CONFIG_FILE, &text, NULL, err);
    if (!rc)
        rc = nl_config_load_record_string(text, saved_path, cfg, err);
    free(text);
    return rc;
}

int nl_sweep_config_diff(const char *saved_path, const char *wanted_text, char *diff, size_t size)
{
    diff[0] = '\0';
    nl_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return -1;
    nl_error err = {0};
    nl_flat saved = {0}, wanted = {0};
    int count = -1;
    if (load_saved(saved_path, cfg, &err) != NL_OK ||
        nl_flat_from_config(cfg, &saved, NULL, &err) != NL_OK ||
        nl_flat_from_yaml(wanted_text, "wanted", &wanted, &err) != NL_OK) {
        snprintf(diff, size, "%s", err.msg);
        goto done;
    }
    count = nl_flat_diff(&saved, &wanted, nl_flat_key_outside_run, nl_values_equal, diff, size);
done:
    nl_flat_free(&saved);
    nl_flat_free(&wanted);
    free(cfg);
    return count;
}

bool nl_sweep_finished_as(const char *run_dir, const char *wanted_text)
{
    nl_sweep_result result;
    nl_sweep_read_result(run_dir, &result);
    if (result.state != NL_SWEEP_OK && result.state != NL_SWEEP_DIVERGED)
        return false;
    char saved[1500], why[512];
    snprintf(saved, sizeof saved, "%s/" NL_RUN_CONFIG_FILE, run_dir);
    return nl_sweep_config_diff(saved, wanted_text, why, sizeof why) == 0;
}
