#include "sweep/slurm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* a whole number in `text`, the value of variable `name` */
static nl_code env_long(const char *name, const char *text, long *out, nl_error *err)
{
    char *end;
    errno = 0;
    const long v = strtol(text, &end, 10);
    if (end == text || *end || errno)
        return nl_fail(err, NL_ERR_USAGE, "--shard auto: %s is '%s', not a whole number", name, text);
    *out = v;
    return NL_OK;
}

nl_code nl_shard_from_slurm(const nl_slurm_array_env *env, nl_shard *out, nl_error *err)
{
    if (!env->task_id || !env->task_count)
        return nl_fail(err, NL_ERR_USAGE,
                       "--shard auto: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not both set: "
                       "not a task of a Slurm array job (submit with sbatch --array, see --emit-sbatch; "
                       "or give --shard I/N)");
    long id = 0, count = 0, min = 0, step = 1, max = 0;
    nl_code rc;
    if ((rc = env_long("SLURM_ARRAY_TASK_ID", env->task_id, &id, err)) ||
        (rc = env_long("SLURM_ARRAY_TASK_COUNT", env->task_count, &count, err)) ||
        (env->task_min && (rc = env_long("SLURM_ARRAY_TASK_MIN", env->task_min, &min, err))) ||
        (env->task_step && (rc = env_long("SLURM_ARRAY_TASK_STEP", env->task_step, &step, err))))
        return rc;
    if (count < 1 || count > 100000)
        return nl_fail(err, NL_ERR_USAGE, "--shard auto: SLURM_ARRAY_TASK_COUNT is %ld; accepted: 1..100000",
                       count);
    if (step < 1)
        return nl_fail(err, NL_ERR_USAGE, "--shard auto: SLURM_ARRAY_TASK_STEP is %ld; accepted: 1 or more",
                       step);
    if (!env->task_min && count > 1)
        return nl_fail(err, NL_ERR_USAGE,
                       "--shard auto: SLURM_ARRAY_TASK_MIN is not set, so task %ld's place among %ld tasks "
                       "is unknown; give --shard I/N",
                       id, count);
    if (!env->task_min)
        min = id; /* the one task */
    if (id < min || (id - min) % step != 0)
        return nl_fail(err, NL_ERR_USAGE,
                       "--shard auto: SLURM_ARRAY_TASK_ID %ld is not one of the array's ids (from "
                       "SLURM_ARRAY_TASK_MIN %ld in steps of %ld)",
                       id, min, step);
    /* a list (--array=1,3,7) has ids that are no range: its count and its
     * max do not agree with min and step */
    const long last = min + (count - 1) * step;
    if (env->task_max && (rc = env_long("SLURM_ARRAY_TASK_MAX", env->task_max, &max, err)))
        return rc;
    if (env->task_max && max != last)
        return nl_fail(err, NL_ERR_USAGE,
                       "--shard auto: the array's ids are not a range: %ld tasks from %ld in steps of %ld "
                       "end at %ld, but SLURM_ARRAY_TASK_MAX is %ld; submit --array=MIN-MAX[:STEP] (as "
                       "--emit-sbatch does), or give --shard I/N",
                       count, min, step, last, max);
    if (id > last)
        return nl_fail(err, NL_ERR_USAGE,
                       "--shard auto: SLURM_ARRAY_TASK_ID %ld is past the array's last id %ld (%ld tasks "
                       "from %ld in steps of %ld)",
                       id, last, count, min, step);
    out->index = (int)((id - min) / step) + 1;
    out->count = (int)count;
    return NL_OK;
}

/* `text` as one shell word: single-quoted, a ' inside written '\'' */
static void shell_quote(nl_buf *b, const char *text)
{
    nl_buf_printf(b, "'");
    for (const char *c = text; *c; c++) {
        if (*c == '\'')
            nl_buf_printf(b, "'\\''");
        else
            nl_buf_printf(b, "%c", *c);
    }
    nl_buf_printf(b, "'");
}

nl_code nl_sbatch_script(const nl_sbatch_spec *sp, nl_buf *out, nl_error *err)
{
    if (sp->n_runs < 1)
        return nl_fail(err, NL_ERR_USAGE, "--emit-sbatch: the experiment has no runs (all excluded)");
    int tasks = sp->tasks > 0 ? sp->tasks : (sp->n_runs < NL_SBATCH_MAX_TASKS ? sp->n_runs : NL_SBATCH_MAX_TASKS);
    if (tasks > sp->n_runs)
        tasks = sp->n_runs; /* a task beyond the runs would have nothing to do */
    int throttle = sp->throttle > 0 ? sp->throttle : NL_SBATCH_DEFAULT_THROTTLE;
    if (throttle > tasks)
        throttle = tasks;
    const int cpus = sp->cpus_per_task > 0 ? sp->cpus_per_task : 1;
    /* as many runs at once as the task has CPUs and runs; a task of fewer
     * runs than CPUs gives each run more threads (the sweep's cores / -j) */
    const int per_task = (sp->n_runs + tasks - 1) / tasks;
    const int jobs = cpus < per_task ? cpus : per_task;
    /* the experiment checked the name: a file name's letters, no quoting */
    const char *name = sp->name;

    nl_buf merge = {0};
    shell_quote(&merge, sp->normlab);
    nl_buf_printf(&merge, " sweep ");
    shell_quote(&merge, sp->experiment);
    nl_buf_printf(&merge, " --merge --out ");
    shell_quote(&merge, sp->sweep_dir);
    if (merge.failed) {
        nl_buf_free(&merge);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }

    nl_buf_printf(out,
                  "#!/bin/bash\n"
                  "# normlab sweep %s: %d run%s in %d array task%s, at most %d at once, each running\n"
                  "# its shard (--shard auto) %d run%s at a time. Submit: sbatch THIS_FILE\n"
                  "#SBATCH --job-name=normlab-%s\n"
                  "#SBATCH --array=1-%d%%%d\n"
                  "#SBATCH --cpus-per-task=%d\n"
                  "#SBATCH --output=normlab-%s-%%A_%%a.out\n",
                  sp->name, sp->n_runs, sp->n_runs == 1 ? "" : "s", tasks, tasks == 1 ? "" : "s", throttle,
                  jobs, jobs == 1 ? "" : "s", name, tasks, throttle, cpus, name);
    nl_buf_printf(out, "set -u\nnormlab=");
    shell_quote(out, sp->normlab);
    nl_buf_printf(out, "\nexperiment=");
    shell_quote(out, sp->experiment);
    nl_buf_printf(out, "\nout=");
    shell_quote(out, sp->sweep_dir);
    nl_buf_printf(out, "\nmerge=");
    shell_quote(out, merge.data);
    nl_buf_printf(out,
                  "\n# The merge (summary.csv and plots from every run directory) is a job of its own\n"
                  "# that Slurm starts once every task of this array has ended, whichever way they\n"
                  "# ended (afterany: a failed run is a row of summary.csv, not a reason to skip it).\n"
                  "# The first task queues it; if that is requeued the merge runs twice, harmlessly.\n"
                  "if [ \"${SLURM_ARRAY_TASK_ID:-}\" = \"${SLURM_ARRAY_TASK_MIN:-1}\" ]; then\n"
                  "  sbatch --job-name=normlab-%s-merge --dependency=afterany:\"$SLURM_ARRAY_JOB_ID\" \\\n"
                  "    --output=normlab-%s-merge-%%j.out --wrap \"$merge\" ||\n"
                  "    echo \"normlab: could not queue the merge; run it once the array is done: $merge\" >&2\n"
                  "fi\n"
                  "exec \"$normlab\" sweep \"$experiment\" --out \"$out\" --shard auto -j %d\n",
                  name, name, jobs);
    nl_buf_free(&merge);
    if (out->failed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    return NL_OK;
}
