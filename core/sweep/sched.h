/* The sweep scheduler: runs a plan's runs, each as its own `normlab run`
 * process (or as a thread of the sweep's process: run_in_thread), N at a
 * time, in one slice (shard) of the plan or taking runs one at a time
 * with other workers (--claim); skips the runs a sweep before finished,
 * runs the failed and interrupted ones again, waits for a run directory
 * another process is writing instead of starting it twice, and keeps
 * summary.csv (rebuilt from the run directories) up to date after every run.
 * It never prints: what happens is told to a callback as events, with the
 * counts a progress display needs; cmd/sweep.c prints them. Nor does it
 * know the command line's grammar: it describes each run (nl_sweep_run_desc)
 * and cmd/ spells that as a `normlab run` command line or runs it directly.
 *
 * The runs stay in the caller's process group (a kill of the group, or the
 * terminal's Ctrl-C, reaches them all) and get SIGTERM when the sweep's
 * process dies alone (PR_SET_PDEATHSIG; kill -9 of its pid): SIGTERM rather
 * than SIGKILL so that a run records itself as failed, and a run left
 * writing would hold its directory's lock and make the next sweep wait for
 * it. While nl_sweep_execute runs it blocks SIGCHLD, SIGINT and SIGTERM and
 * takes them synchronously (sigtimedwait): the first SIGINT or SIGTERM asks
 * every run to stop (SIGTERM: a run that also got the terminal's SIGINT
 * still stops cleanly, since `normlab run` handles each signal once), the
 * second kills them; it then writes summary.csv and returns. */
#ifndef NL_SWEEP_SCHED_H
#define NL_SWEEP_SCHED_H

#include <stdatomic.h>
#include <stdbool.h>

#include "base/status.h"
#include "sweep/sweep.h"

/* what a sweep does with a run, from its directory's state and saved config */
typedef enum {
    NL_SWEEP_RUN,     /* never started */
    NL_SWEEP_SKIP,    /* finished (ok or diverged) with the experiment's config */
    NL_SWEEP_RERUN,   /* failed or interrupted: run again */
    NL_SWEEP_FORCE,   /* finished, or interrupted with a checkpoint, with another config: run again (force) */
    NL_SWEEP_CHANGED, /* finished with another config: refused without force */
} nl_sweep_action;

/* A sweep of one plan into one directory: what each run needs and what is
 * known of it. Made by nl_sweep_prepare, freed by nl_sweep_job_free (which
 * also lets go of the sweep directory's locks). */
typedef struct {
    const nl_experiment *e;
    const nl_sweep_plan *p;
    char dir[1024];          /* the sweep directory, without a trailing / */
    nl_shard shard;
    bool worker;             /* --claim: take runs one at a time, by their work locks, with other workers */
    nl_sweep_result *results;  /* per run of the plan */
    nl_sweep_action *action;   /* per run (meaningful in the shard) */
    char (*why)[512];          /* per run: how its saved config differs */
    long *seen;                /* --claim: work-lock generations at the start */
    int total;                 /* runs in the shard */
    int finished_before;       /* of them: finished by an earlier sweep (skipped) */
    int diverged_before;
    int changed;               /* of them: NL_SWEEP_CHANGED */
    int lock_fd, shard_lock_fd;
    bool lock_created, shard_lock_created; /* this sweep made the file (it was absent) */
    /* the stop rule's passes (sweep/stop.h): per run, where it pauses (0:
     * it runs to its end; NULL: no run pauses), in epochs or steps */
    long *pause_at;
    bool pause_in_epochs;
} nl_sweep_job;

/* Reads every run directory of the plan under `dir` (trailing slashes are
 * dropped) and decides what to do with each run of the shard; `force` makes
 * a finished run with another config NL_SWEEP_FORCE instead of
 * NL_SWEEP_CHANGED, and an interrupted one whose checkpoint is of another
 * config NL_SWEEP_FORCE instead of NL_SWEEP_RERUN. Writes nothing. */
nl_code nl_sweep_prepare(nl_sweep_job *j, const nl_experiment *e, const nl_sweep_plan *p,
                         const char *dir, nl_shard shard, bool worker, bool force, nl_error *err);
void nl_sweep_job_free(nl_sweep_job *j);

/* The directory's locks (dirlock.c): an unsharded sweep holds .lock
 * exclusively, a shard shares it and holds its shard lock, a --claim worker
 * shares it; a busy one is NL_ERR_USAGE naming its holder. Who holds them
 * is written by announce_holder once the sweep has passed every check;
 * unlock_refused lets them go as they were found. */
nl_code nl_sweep_lock_dir(nl_sweep_job *j, nl_error *err);
void nl_sweep_announce_holder(const nl_sweep_job *j);
void nl_sweep_unlock_refused(nl_sweep_job *j);

/* <dir>/runs/<run's directory name> */
void nl_sweep_run_dir(const nl_sweep_job *j, int run, char *out, size_t size);

/* Removes what a kill -9 during an atomic write left: the sweep's own
 * temporary files and those of the runs in `runs_of_all` ? every run : the
 * shard's runs, when no other process is writing them. */
void nl_sweep_clean_temps(const nl_sweep_job *j, bool runs_of_all);

/* how many runs are in each state (indexed by nl_sweep_state) */
typedef struct {
    int n[NL_SWEEP_STATE_COUNT];
} nl_sweep_counts;

/* --merge: summary.csv rebuilt from the run directories, running nothing.
 * NL_ERR_USAGE when the sweep directory does not exist. */
nl_code nl_sweep_merge(nl_sweep_job *j, nl_sweep_counts *counts, nl_error *err);

/* ---- running ---- */

typedef enum {
    NL_SWEEP_EV_BEGIN,    /* the runs are about to start (counts, jobs, threads) */
    NL_SWEEP_EV_SKIPPED,  /* a run finished by an earlier sweep (before BEGIN) */
    NL_SWEEP_EV_STARTED,  /* a run's process (or thread) started */
    NL_SWEEP_EV_TICK,     /* the runs began, or tick_s passed with no other event */
    NL_SWEEP_EV_FINISHED, /* a run of this sweep ended ok or diverged */
    NL_SWEEP_EV_FAILED,   /* a run of this sweep failed, or was stopped (progress.stopping) */
    NL_SWEEP_EV_WAITING,  /* another process writes the run's directory: waited for */
    NL_SWEEP_EV_TAKEN,    /* the result another process or worker left (result->state) */
    NL_SWEEP_EV_INTERRUPTED, /* SIGINT or SIGTERM: progress.stopping is 1 (runs asked to
                                stop) or 2 (killed) */
    NL_SWEEP_EV_ERROR,    /* a failure the sweep goes on after, or stops starting runs at */
} nl_sweep_event_kind;

/* the counts of the shard's runs, as a progress display shows them */
typedef struct {
    int total;        /* in the shard */
    int done;         /* finished, before this sweep or in it */
    int running, failed, diverged;
    int to_run;       /* runs this sweep set out to run */
    int finished_now; /* of them, finished */
    int jobs;         /* runs at once */
    double elapsed_s; /* since the runs began */
    double eta_s;     /* until the last run ends; NAN before one has finished */
    int stopping;     /* 0, or the SIGINT/SIGTERM count (1 stop, 2 kill) */
} nl_sweep_progress;

typedef struct {
    nl_sweep_event_kind kind;
    int run;                       /* index in the plan; -1 for the sweep's own events */
    const char *name;              /* the run's directory name; NULL for the sweep's */
    const nl_sweep_result *result; /* SKIPPED, FINISHED, FAILED, TAKEN */
    double took_s;                 /* FINISHED, FAILED: since the run started */
    /* FAILED: how the process ended ("exit status 3", "killed by signal 9");
     * WAITING: what the other process did ("is being written by another process") */
    const char *how;
    /* FAILED: the last lines of the run's latest attempt in its stderr.txt;
     * TAKEN: how the other process's config differs ("" when it is the same,
     * NULL when another --claim worker failed the run) */
    const char *detail;
    const char *log_path;          /* FAILED: the run's stderr.txt */
    long writer_pid;               /* WAITING: the other writer (0: unknown) */
    const char *writer_host;       /* WAITING: "" unknown */
    int threads;                   /* BEGIN: per run */
    const nl_error *error;         /* ERROR */
    nl_sweep_progress progress;    /* after the event */
} nl_sweep_event;

/* A run of the sweep as the scheduler hands it on: what `normlab run` is
 * to do, not how its command line spells it (cmd/ owns that grammar). */
typedef struct {
    char config_path[1200]; /* the run's config, written by the sweep */
    char out_dir[1200];     /* its run directory */
    int threads;            /* CPU threads: the config's threads key */
    bool force;             /* start over instead of resuming (NL_SWEEP_FORCE) */
    long pause_at;          /* > 0: pause there for the stop rule (sweep/stop.h) */
    bool pause_in_epochs;   /* ... pause_at is an epoch, else a step */
    bool quiet;             /* no progress output */
} nl_sweep_run_desc;

/* A run's command line (argv[0] "normlab", NULL-terminated), pointing
 * into `text`: what a run's process is started with, and what heads its
 * stderr.txt whether it runs as a process or a thread. */
#define NL_SWEEP_MAX_ARGS 16
typedef struct {
    char *argv[NL_SWEEP_MAX_ARGS + 1];
    int argc;
    char text[4096];
} nl_sweep_command;

/* A run as a thread of the sweep's own process: given its description,
 * its stderr.txt open for appending (the function dups what it keeps; the
 * scheduler closes `log_fd` after it returns) and a flag set when the sweep
 * asks it to stop, it does what the run's process would do and returns the
 * exit status the process would have. */
typedef int (*nl_sweep_thread_fn)(void *ctx, const nl_sweep_run_desc *run, int log_fd,
                                  atomic_int *stop);

typedef struct {
    const char *exe;       /* the normlab binary the runs are started with */
    /* the command line of a run (its process's argv; its log's header) */
    void (*command_line)(const nl_sweep_run_desc *run, nl_sweep_command *out);
    /* non-NULL: each run is a thread of this process calling run_in_thread
     * (runs on one GPU then share one CUDA context, whose kernels can run
     * at once, where processes take turns); the runs cannot be killed, so
     * a second SIGINT only asks again, and a crash of one run ends the
     * sweep (the next sweep runs the unfinished ones again) */
    nl_sweep_thread_fn run_in_thread;
    void *thread_ctx;
    int jobs;              /* runs at once, >= 1 */
    double tick_s;         /* TICK events while nothing happens, this often (0: 0.5 s) */
    void (*on_event)(void *ctx, const nl_sweep_event *ev);
    void *ctx;
} nl_sweep_exec_options;

typedef struct {
    nl_sweep_counts counts;     /* every run of the plan, at the end */
    int shard_failed, shard_pending;
    int stopping;               /* SIGINT/SIGTERM count: nonzero when interrupted */
    bool start_failed;          /* a run could not be started (an ERROR event said why) */
    double elapsed_s;
} nl_sweep_outcome;

/* Runs the shard's runs that are not NL_SWEEP_SKIP (the job must have no
 * NL_SWEEP_CHANGED runs). Takes the sweep directory's lock first: an
 * unsharded sweep holds it exclusively, a shard shared with its own shard
 * lock exclusively, a --claim worker shared (released by nl_sweep_job_free
 * or the process's end, never inherited by the runs, so that a killed sweep
 * releases them); NL_ERR_RUNTIME when another sweep holds them. Errors after
 * the runs began are ERROR events; the return value is for the ones that
 * stop the sweep before it starts, and for the final summary.csv. */
nl_code nl_sweep_execute(nl_sweep_job *j, const nl_sweep_exec_options *opt, nl_sweep_outcome *out,
                         nl_error *err);

/* the number of cores this process may run on */
int nl_sweep_cpu_count(void);

#endif
