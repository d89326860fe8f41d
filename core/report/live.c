/* What normlab report --watch asks between pages: whether a sweep is
 * still running, and whether its files changed since the last page. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report.h"
#include "results/files.h"
#include "results/rundir.h"

/* A sweep runs while a process holds its .lock (sweep/sched.c), which the
 * holder writes its pid and host into; the file stays when it ends. A
 * holder on this host is asked whether it lives (without taking the lock,
 * which would turn a sweep starting at that moment away); one on another
 * host (a Slurm shard) cannot be asked and is taken to run. */
static bool sweep_running(const char *dir)
{
    char path[1200];
    nl_path_join(path, sizeof path, dir, NL_SWEEP_LOCK);
    int fd;
    nl_error ignored = {0}; /* no lock file, or one that is no regular file: no sweep holds it */
    if (nl_open_regular(path, true, &fd, &ignored) != NL_OK || fd < 0)
        return false;
    nl_run_writer holder = {0};
    nl_lock_holder_read(fd, &holder);
    close(fd);
    if (holder.pid <= 0)
        return false;
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    if (holder.host[0] && strcmp(holder.host, "-") && strcmp(holder.host, host))
        return true;
    return kill((pid_t)holder.pid, 0) == 0 || errno == EPERM;
}

bool nl_report_running(const char *const *dirs, int n_dirs)
{
    for (int i = 0; i < n_dirs; i++)
        if (sweep_running(dirs[i]))
            return true;
    return false;
}

static void stamp_file(const char *path, unsigned long long *h)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    const unsigned long long parts[] = {(unsigned long long)st.st_size, (unsigned long long)st.st_mtim.tv_sec,
                                        (unsigned long long)st.st_mtim.tv_nsec, (unsigned long long)st.st_ino};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        *h = (*h ^ parts[i]) * 0x100000001b3ull; /* FNV-1a's prime */
}

unsigned long long nl_report_stamp(const char *const *dirs, int n_dirs)
{
    /* the files a page is made from: summary.csv and verdicts.csv, and
     * each run's summary.json and metrics.csv (a run dir's own files too) */
    static const char *const sweep_files[] = {NL_SWEEP_SUMMARY_FILE, NL_SWEEP_VERDICTS_FILE, NL_RUN_SUMMARY_FILE, NL_RUN_METRICS_FILE};
    static const char *const run_files[] = {NL_RUN_SUMMARY_FILE, NL_RUN_METRICS_FILE};
    unsigned long long h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n_dirs; i++) {
        char path[1600];
        for (size_t f = 0; f < sizeof sweep_files / sizeof sweep_files[0]; f++) {
            nl_path_join(path, sizeof path, dirs[i], sweep_files[f]);
            stamp_file(path, &h);
        }
        char runs[1200];
        nl_path_join(runs, sizeof runs, dirs[i], "runs");
        DIR *d = opendir(runs);
        for (struct dirent *e; d && (e = readdir(d));)
            for (size_t f = 0; e->d_name[0] != '.' && f < sizeof run_files / sizeof run_files[0]; f++) {
                snprintf(path, sizeof path, "%s/%s/%s", runs, e->d_name, run_files[f]);
                stamp_file(path, &h);
            }
        if (d)
            closedir(d);
    }
    return h;
}
