/* Sweeps on Slurm: the shard of an array task, from the environment Slurm
 * gives it, and the sbatch script that runs a sweep as an array job. */
#ifndef NL_SWEEP_SLURM_H
#define NL_SWEEP_SLURM_H

#include <stdbool.h>

#include "base/status.h"
#include "log/files.h"
#include "sweep/sweep.h"

/* the array variables, as the environment holds them (NULL: not set) */
typedef struct {
    const char *task_id, *task_count, *task_min, *task_max, *task_step;
} nl_slurm_array_env;

/* --shard auto: task (id - min) / step + 1 of count. NL_ERR_USAGE outside an
 * array job, for values that are not numbers or do not agree, and for an
 * array given as a list (1,3,7: its ids are not a range). */
nl_code nl_shard_from_slurm(const nl_slurm_array_env *env, nl_shard *out, nl_error *err);

typedef struct {
    const char *normlab;    /* absolute path of the binary */
    const char *experiment; /* absolute path of the experiment file */
    const char *sweep_dir;  /* absolute path of the sweep directory */
    const char *name;       /* the sweep's name */
    int n_runs;
    int tasks;              /* array tasks; 0: one per run, at most NL_SBATCH_MAX_TASKS */
    int throttle;           /* tasks at once; 0: NL_SBATCH_DEFAULT_THROTTLE */
    int cpus_per_task;      /* runs at once per task (-j): this many, at most its share of the runs */
    /* the user's sbatch options, each checked by nl_sbatch_check_option
     * (NULL: not given); #SBATCH lines of both the array and the merge job */
    const char *time, *mem, *partition, *account, *qos;
} nl_sbatch_spec;

#define NL_SBATCH_MAX_TASKS 1000 /* Slurm's default MaxArraySize is 1001 */
#define NL_SBATCH_DEFAULT_THROTTLE 16

/* Checks the value of one of --emit-sbatch's Slurm options ("--time",
 * "--mem", "--partition", "--account", "--qos"): a form Slurm accepts, and
 * nothing that could end the #SBATCH line or mean something to the shell.
 * NL_ERR_USAGE naming the option, the value and the accepted form. */
nl_code nl_sbatch_check_option(const char *option, const char *value, nl_error *err);

/* The sbatch script. Run with bash on a login node it queues itself as an
 * array job whose tasks each run their shard, then the merge job (its
 * #SBATCH options those of the array, less the array's own) with
 * --dependency=afterany on the array, and records both in the sweep
 * directory's slurm.txt (NL_SLURM_RECORD). Queued with plain sbatch, the
 * array's first task queues the merge instead (sbatch on compute nodes).
 * Either way, a merge that could not be queued is recorded there with
 * sbatch's message. */
nl_code nl_sbatch_script(const nl_sbatch_spec *spec, nl_buf *out, nl_error *err);

/* ---- the sweep directory's record of its Slurm jobs ---- */

#define NL_SLURM_RECORD "slurm.txt"

typedef struct {
    bool present;          /* the sweep directory has a slurm.txt */
    char array_job[32];    /* the array job's id */
    char merge_job[32];    /* the merge job's id; "" when it was not queued */
    char merge_error[512]; /* why not: what sbatch said */
} nl_slurm_record;

/* Reads <sweep_dir>/slurm.txt; none there is present = false and NL_OK.
 * NL_ERR_IO when it cannot be read. */
nl_code nl_slurm_record_read(const char *sweep_dir, nl_slurm_record *out, nl_error *err);

#endif
