#include "sweep/slurm.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"

/* a whole number in `text`, the value of variable `name` */
static nl_code env_long(const char *name, const char *text, long *out, nl_error *err)
{
    /* Slurm's ids and counts are ints >= 0; within that, min + (count - 1) *
     * step cannot overflow a long */
    int v;
    char range[96];
    if (!nl_parse_int(text, 0, INT_MAX, &v))
        return nl_fail(err, NL_ERR_USAGE, "--shard auto: %s is '%s', not %s", name, text,
                       nl_range_text(range, sizeof range, 0, INT_MAX));
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

/* ---- the user's sbatch options ---- */

/* `n` digits at *p (1 <= n <= most), their value in *v; moves *p past them */
static bool digits(const char **p, int most, long *v)
{
    int n = 0;
    *v = 0;
    while (**p >= '0' && **p <= '9') {
        if (++n > most)
            return false;
        *v = *v * 10 + (**p - '0');
        (*p)++;
    }
    return n > 0;
}

/* Slurm's time forms: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS;
 * after the first field, minutes and seconds are two digits at most, < 60 */
static bool slurm_time(const char *t)
{
    const char *p = t;
    long v;
    if (!digits(&p, 9, &v))
        return false;
    const bool days = *p == '-';
    if (days && (p++, !digits(&p, 9, &v)))
        return false;
    int fields = 1;
    while (*p == ':') {
        p++;
        if (++fields > 3 || !digits(&p, 2, &v) || v > 59)
            return false;
    }
    return *p == '\0';
}

/* a number with an optional K, M, G or T (Slurm's default unit: M) */
static bool slurm_memory(const char *m)
{
    const char *p = m;
    long v;
    if (!digits(&p, 12, &v))
        return false;
    if (*p && strchr("KMGTkmgt", *p))
        p++;
    return *p == '\0';
}

/* a Slurm name: letters, digits, _ . - (not first: . -); `list`: names
 * joined by commas */
static bool slurm_name(const char *n, bool list)
{
    const size_t len = strlen(n);
    if (len == 0 || len > 64)
        return false;
    bool start = true;
    for (const char *c = n; *c; c++) {
        const bool word = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                          *c == '_';
        if (word || (!start && (*c == '.' || *c == '-')))
            start = false;
        else if (list && !start && *c == ',')
            start = true;
        else
            return false;
    }
    return !start;
}

nl_code nl_sbatch_check_option(const char *option, const char *value, nl_error *err)
{
    const char *accepted = NULL;
    bool ok = false;
    if (!strcmp(option, "--time")) {
        ok = slurm_time(value);
        accepted = "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 90, 4:00:00, 2-12)";
    } else if (!strcmp(option, "--mem")) {
        ok = slurm_memory(value);
        accepted = "a number of megabytes, or a number with a suffix K, M, G or T (e.g. 4000, 16G)";
    } else if (!strcmp(option, "--partition")) {
        ok = slurm_name(value, true);
        accepted = "a partition name, or names joined by commas: letters, digits, _ . - (at most 64)";
    } else if (!strcmp(option, "--account") || !strcmp(option, "--qos")) {
        ok = slurm_name(value, false);
        accepted = !strcmp(option, "--qos") ? "a QOS name: letters, digits, _ . - (at most 64)"
                                            : "an account name: letters, digits, _ . - (at most 64)";
    } else {
        return nl_fail(err, NL_ERR_USAGE, "%s is not an sbatch option of normlab sweep", option);
    }
    if (ok)
        return NL_OK;
    /* the value as the user gave it, but a newline or a control character
     * shown as ? so that the message stays one line */
    char shown[80];
    size_t n = 0;
    for (const char *c = value; *c && n + 4 < sizeof shown; c++)
        shown[n++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
    if (value[n] && n + 4 >= sizeof shown)
        memcpy(shown + n, "...", 3), n += 3;
    shown[n] = '\0';
    return nl_fail(err, NL_ERR_USAGE, "%s: '%s' is not accepted; accepted: %s", option, shown, accepted);
}

/* ---- the script ---- */

/* the #SBATCH lines of the user's options, as both jobs carry them */
static void user_options(const nl_sbatch_spec *sp, nl_buf *b)
{
    const char *const names[] = {"time", "mem", "partition", "account", "qos"};
    const char *const values[] = {sp->time, sp->mem, sp->partition, sp->account, sp->qos};
    for (int i = 0; i < 5; i++)
        if (values[i])
            nl_buf_printf(b, "#SBATCH --%s=%s\n", names[i], values[i]);
}

/* the array job's size: its tasks, how many run at once, the CPUs of each,
 * and how many runs a task runs at once */
typedef struct {
    int tasks;
    int throttle;
    int cpus;
    int jobs;
} sbatch_shape;

/* what goes into the script: checked here too, so that no caller can put a
 * line of its own into it */
static nl_code sbatch_check_spec(const nl_sbatch_spec *sp, nl_error *err)
{
    if (sp->n_runs < 1)
        return nl_fail(err, NL_ERR_USAGE, "--emit-sbatch: the experiment has no runs (all excluded)");
    const char *const options[] = {"--time", "--mem", "--partition", "--account", "--qos"};
    const char *const values[] = {sp->time, sp->mem, sp->partition, sp->account, sp->qos};
    for (int i = 0; i < 5; i++)
        if (values[i] && nl_sbatch_check_option(options[i], values[i], err) != NL_OK)
            return err->code;
    const char *const paths[] = {sp->normlab, sp->experiment, sp->sweep_dir};
    for (int i = 0; i < 3; i++)
        if (strpbrk(paths[i], "\n\r"))
            return nl_fail(err, NL_ERR_USAGE, "--emit-sbatch: the path '%s' has a line break; a job script "
                           "cannot hold it", paths[i]);
    return NL_OK;
}

static sbatch_shape sbatch_shape_of(const nl_sbatch_spec *sp)
{
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
    return (sbatch_shape){.tasks = tasks, .throttle = throttle, .cpus = cpus, .jobs = jobs};
}

/* the array job's comment and #SBATCH lines, and the shell variables the
 * rest of the script reads */
static void write_array_job_header(const nl_sbatch_spec *sp, const sbatch_shape *shape, const char *merge_command,
                                   nl_buf *out)
{
    const int tasks = shape->tasks, throttle = shape->throttle, cpus = shape->cpus, jobs = shape->jobs;
    /* the experiment checked the name: a file name's letters, no quoting */
    const char *name = sp->name;
    nl_buf_printf(out,
                  "#!/bin/bash\n"
                  "# normlab sweep %s: %d run%s in %d array task%s, at most %d at once, each running\n"
                  "# its shard (--shard auto) %d run%s at a time; then a merge job (summary.csv and\n"
                  "# the plots from every run directory) once every task has ended.\n"
                  "#\n"
                  "# Submit from a login node:   bash THIS_FILE\n"
                  "#   queues this file as the array job, then the merge job with\n"
                  "#   --dependency=afterany on the array, and records both job ids in the sweep\n"
                  "#   directory's " NL_SLURM_RECORD " (normlab sweep EXPERIMENT --dry-run shows them);\n"
                  "#   the compute nodes need no sbatch.\n"
                  "# Or:                         sbatch THIS_FILE\n"
                  "#   where compute nodes may call sbatch: the array's first task queues the merge.\n"
                  "# A merge that could not be queued is recorded in " NL_SLURM_RECORD " with sbatch's\n"
                  "# message, and normlab sweep reports it.\n"
                  "#SBATCH --job-name=normlab-%s\n"
                  "#SBATCH --array=1-%d%%%d\n"
                  "#SBATCH --cpus-per-task=%d\n"
                  "#SBATCH --output=normlab-%s-%%A_%%a.out\n",
                  sp->name, sp->n_runs, sp->n_runs == 1 ? "" : "s", tasks, tasks == 1 ? "" : "s", throttle,
                  jobs, jobs == 1 ? "" : "s", name, tasks, throttle, cpus, name);
    user_options(sp, out);
    nl_buf_printf(out, "set -u\nnormlab=");
    shell_quote(out, sp->normlab);
    nl_buf_printf(out, "\nexperiment=");
    shell_quote(out, sp->experiment);
    nl_buf_printf(out, "\nout=");
    shell_quote(out, sp->sweep_dir);
    nl_buf_printf(out, "\nmerge=");
    shell_quote(out, merge_command);
}

/* merge_job(): prints the merge job's script */
static void write_merge_job(const nl_sbatch_spec *sp, const char *merge_command, nl_buf *out)
{
    const char *name = sp->name;
    /* the merge job's script: the array's options less the array's own */
    nl_buf_printf(out,
                  "\n\n# The merge job's script: the options of the array job above, less the array's\n"
                  "# own (--array, --cpus-per-task).\n"
                  "merge_job() {\n"
                  "    cat <<'NORMLAB_MERGE_JOB'\n"
                  "#!/bin/bash\n"
                  "#SBATCH --job-name=normlab-%s-merge\n"
                  "#SBATCH --output=normlab-%s-merge-%%j.out\n",
                  name, name);
    user_options(sp, out);
    nl_buf_printf(out, "exec %s\nNORMLAB_MERGE_JOB\n}\n", merge_command);
}

/* record() and queue_merge(), and what the script does run by bash on a
 * login node (queue the array, then the merge) or as an array task (its
 * shard, -j `jobs`) */
static void write_submission(int jobs, nl_buf *out)
{
    nl_buf_printf(out,
                  "\n# " NL_SLURM_RECORD " in the sweep directory: the array job, and the merge job or why\n"
                  "# it is not queued (written whole: a reader sees the old file or the new one)\n"
                  "record() {\n"
                  "    mkdir -p \"$out\" &&\n"
                  "        printf 'array_job: %%s\\nmerge_job: %%s\\nmerge_error: %%s\\n' \"$1\" \"$2\" \"$3\" \\\n"
                  "            > \"$out/" NL_SLURM_RECORD ".tmp.$$\" &&\n"
                  "        mv -f \"$out/" NL_SLURM_RECORD ".tmp.$$\" \"$out/" NL_SLURM_RECORD "\" ||\n"
                  "        echo \"normlab: could not write $out/" NL_SLURM_RECORD "\" >&2\n"
                  "}\n"
                  "\n# queues the merge job to start once every task of array job $1 has ended,\n"
                  "# whichever way (afterany: a failed run is a row of summary.csv, not a reason\n"
                  "# to skip the merge); records what happened\n"
                  "queue_merge() {\n"
                  "    local said rc id why\n"
                  "    said=$(merge_job | sbatch --parsable --dependency=afterany:\"$1\" 2>&1)\n"
                  "    rc=$?\n"
                  "    id=${said##*$'\\n'}\n"
                  "    id=${id%%%%;*}\n"
                  "    if [ \"$rc\" = 0 ] && [[ $id =~ ^[0-9]+$ ]]; then\n"
                  "        merge_id=$id\n"
                  "        record \"$1\" \"$id\" \"\"\n"
                  "        return 0\n"
                  "    fi\n"
                  "    why=$(printf '%%s' \"$said\" | tr '\\n\\r' '  ')\n"
                  "    [ -n \"$why\" ] || why=\"sbatch exited with status $rc\"\n"
                  "    record \"$1\" \"\" \"$why\"\n"
                  "    echo \"normlab: could not queue the merge job after array job $1: $why\" >&2\n"
                  "    echo \"normlab: once the array has ended, run: $merge\" >&2\n"
                  "    return 1\n"
                  "}\n"
                  "\n"
                  "if [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then\n"
                  "    # bash THIS_FILE on a login node: the array, then the merge after it\n"
                  "    if [ ! -f \"$0\" ]; then\n"
                  "        echo \"normlab: save this script to a file and run: bash FILE\" >&2\n"
                  "        exit 2\n"
                  "    fi\n"
                  "    array=$(sbatch --parsable \"$0\" merge-queued-by-submitter) || exit 1\n"
                  "    array=${array##*$'\\n'}\n"
                  "    array=${array%%%%;*}\n"
                  "    if ! [[ $array =~ ^[0-9]+$ ]]; then\n"
                  "        echo \"normlab: sbatch gave '$array', not a job id\" >&2\n"
                  "        exit 1\n"
                  "    fi\n"
                  "    queue_merge \"$array\" || exit 1\n"
                  "    echo \"normlab: queued array job $array and merge job $merge_id after it \"\\\n"
                  "\"(recorded in $out/" NL_SLURM_RECORD ")\"\n"
                  "    exit 0\n"
                  "fi\n"
                  "# an array task; queued by plain sbatch, the first one queues the merge\n"
                  "if [ \"${1:-}\" != merge-queued-by-submitter ] &&\n"
                  "    [ \"$SLURM_ARRAY_TASK_ID\" = \"${SLURM_ARRAY_TASK_MIN:-1}\" ]; then\n"
                  "    queue_merge \"$SLURM_ARRAY_JOB_ID\"\n"
                  "fi\n"
                  "exec \"$normlab\" sweep \"$experiment\" --out \"$out\" --shard auto -j %d\n",
                  jobs);
}

nl_code nl_sbatch_script(const nl_sbatch_spec *sp, nl_buf *out, nl_error *err)
{
    if (sbatch_check_spec(sp, err) != NL_OK)
        return err->code;
    const sbatch_shape shape = sbatch_shape_of(sp);

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
    write_array_job_header(sp, &shape, merge.data, out);
    write_merge_job(sp, merge.data, out);
    write_submission(shape.jobs, out);
    nl_buf_free(&merge);
    if (out->failed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    return NL_OK;
}

/* ---- slurm.txt ---- */

/* the value of "key: value" in `text`, up to the line's end */
static void record_value(const char *text, const char *key, char *out, size_t size)
{
    out[0] = '\0';
    const char *v = nl_line_after(text, key, ':');
    if (!v)
        return;
    while (*v == ' ')
        v++;
    size_t len = strcspn(v, "\n");
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\r'))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

nl_code nl_slurm_record_read(const char *sweep_dir, nl_slurm_record *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    char path[1200];
    nl_path_join(path, sizeof path, sweep_dir, NL_SLURM_RECORD);
    if (!nl_path_exists(path))
        return NL_OK;
    char *text = NULL;
    size_t len = 0;
    const nl_code rc = nl_read_file_max(path, 1 << 16, &text, &len, err);
    if (rc != NL_OK)
        return rc;
    out->present = true;
    record_value(text, "array_job", out->array_job, sizeof out->array_job);
    record_value(text, "merge_job", out->merge_job, sizeof out->merge_job);
    record_value(text, "merge_error", out->merge_error, sizeof out->merge_error);
    free(text);
    return NL_OK;
}
