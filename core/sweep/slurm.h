/* Sweeps on Slurm: the shard of an array task, from the environment Slurm
 * gives it, and the sbatch script that runs a sweep as an array job. */
#ifndef NL_SWEEP_SLURM_H
#define NL_SWEEP_SLURM_H

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
} nl_sbatch_spec;

#define NL_SBATCH_MAX_TASKS 1000 /* Slurm's default MaxArraySize is 1001 */
#define NL_SBATCH_DEFAULT_THROTTLE 16

/* The sbatch script: an array job whose tasks each run their shard, the
 * first task queueing the merge as a job that depends on the whole array. */
nl_code nl_sbatch_script(const nl_sbatch_spec *spec, nl_buf *out, nl_error *err);

#endif
