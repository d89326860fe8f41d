/* normlab sweep's command line, shared by its files: parsed and checked
 * in sweep_options.c (with the help text), acted on in sweep.c. */
#ifndef NL_CMD_SWEEP_CMD_H
#define NL_CMD_SWEEP_CMD_H

#include <stdbool.h>

#include "sweep/sweep.h"

typedef struct {
    const char *path, *out_dir, *sets[64];
    int n_sets;
    int jobs;
    bool jobs_given; /* -j given: with --emit-sbatch it is the array's throttle */
    int seeds; /* --seeds N; 0: the file's */
    bool dry_run, merge, force, shard_auto, claim, emit_sbatch, one_process;
    bool resume_stopped; /* go on with the runs the stop rule stopped (stop:) */
    int array_tasks, array_throttle, cpus_per_task;
    /* --time, --mem, --partition, --account, --qos (NULL: not given) */
    const char *slurm_options[5];
    nl_shard shard;
} sweep_args;

/* argv[*i] (and the values it takes, *i moved past them) into a; an exit
 * status, or -1 when it was --help and the help is printed */
int sweep_parse_arg(int argc, char **argv, int *i, sweep_args *a);
/* the options together: what does not go with what; an exit status */
int sweep_check_args(sweep_args *a);

#endif
