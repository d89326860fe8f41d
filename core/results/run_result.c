/* A run's result as its directory's summary.json tells it (run_result.h). */
#include "results/run_result.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/number.h"
#include "log/files.h"
#include "results/files.h"
#include "results/rundir.h"
#include "results/store.h"
#include "results/summary.h"

const char *const nl_sweep_metric_names[NL_SWEEP_N_METRICS] = {
    NL_SUMMARY_FINAL_TEST_LOSS,
    NL_SUMMARY_FINAL_TEST_ACCURACY,
    NL_SWEEP_TEST_ERROR_COLUMN,
    NL_SUMMARY_BEST_TEST_ACCURACY,
    NL_SUMMARY_FINAL_TRAIN_LOSS,
    NL_SUMMARY_FINAL_TEST_TRAINMODE_ACCURACY,
    NL_SUMMARY_STEPS,
    NL_SUMMARY_WALL_S,
    NL_SUMMARY_SAMPLES_PER_S,
    NL_SUMMARY_TEST_ACCURACY_BEFORE_RECALIBRATION,
    /* how samples_per_s was reached: a sweep spread over a cluster's nodes
     * mixes CPUs, and each run picks its threads and kernel set */
    NL_SUMMARY_THREADS,
    NL_SUMMARY_CPU_KERNELS,
};

const char *nl_run_phase_name(nl_run_phase p)
{
    static const char *const names[NL_PHASE_COUNT] = {"ok", "diverged", "failed", "interrupted", "killed",
                                                      "running", "pending", "stopped"};
    return p >= 0 && p < NL_PHASE_COUNT ? names[p] : "pending";
}

nl_run_phase nl_run_phase_read(const char *run_dir)
{
    nl_sweep_result r;
    nl_sweep_read_result(run_dir, &r);
    if (r.state == NL_SWEEP_OK || r.state == NL_SWEEP_DIVERGED)
        return r.state == NL_SWEEP_OK ? NL_PHASE_OK : NL_PHASE_DIVERGED;
    if (r.state == NL_SWEEP_STOPPED)
        return NL_PHASE_STOPPED;
    if (r.state == NL_SWEEP_FAILED)
        return strncmp(r.reason, NL_RUN_INTERRUPTED_REASON, strlen(NL_RUN_INTERRUPTED_REASON)) ? NL_PHASE_FAILED
                                                                                             : NL_PHASE_INTERRUPTED;
    /* not started: no summary saying running and no row logged (a run
     * that logged rows and left no summary stopped, or is going, part way) */
    char metrics[1200];
    struct stat st;
    nl_path_join(metrics, sizeof metrics, run_dir, NL_RUN_METRICS_FILE);
    const bool logged = (stat(metrics, &st) == 0 && st.st_size > 0) || nl_run_packed(run_dir, NULL, 0, NULL, 0);
    if (nl_summary_read(run_dir, NULL) != NL_SUMMARY_RUNNING && !logged)
        return NL_PHASE_PENDING;
    nl_run_writer w;
    return nl_run_dir_busy(run_dir, &w) ? NL_PHASE_RUNNING : NL_PHASE_KILLED;
}

void nl_run_phases_text(const int *counts, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int p = NL_PHASE_FAILED; p < NL_PHASE_COUNT && used < size; p++)
        if (counts[p])
            used += (size_t)snprintf(buf + used, size - used, "%s%d %s", used ? ", " : "", counts[p],
                                     nl_run_phase_name((nl_run_phase)p));
}

const char *nl_sweep_state_name(nl_sweep_state s)
{
    switch (s) {
    case NL_SWEEP_OK:
        return "ok";
    case NL_SWEEP_DIVERGED:
        return "diverged";
    case NL_SWEEP_FAILED:
        return "failed";
    case NL_SWEEP_STOPPED:
        return "stopped";
    default:
        return "pending";
    }
}

void nl_sweep_read_result(const char *run_dir, nl_sweep_result *out)
{
    memset(out, 0, sizeof *out);
    out->state = NL_SWEEP_PENDING;
    out->wall_s = NAN;
    char *json = NULL, value[256];
    const nl_summary_verdict verdict = nl_summary_read(run_dir, &json);
    if (verdict == NL_SUMMARY_TORN) {
        /* a copy cut short, a full disk: what it says is not a result */
        snprintf(out->reason, sizeof out->reason, "summary.json is cut short or not valid JSON");
        return;
    }
    if (!json)
        return;
    out->state = verdict == NL_SUMMARY_OK         ? NL_SWEEP_OK
                 : verdict == NL_SUMMARY_DIVERGED ? NL_SWEEP_DIVERGED
                 : verdict == NL_SUMMARY_FAILED   ? NL_SWEEP_FAILED
                 : verdict == NL_SUMMARY_STOPPED  ? NL_SWEEP_STOPPED
                                                  : NL_SWEEP_PENDING;
    nl_json_flat_get(json, NL_SUMMARY_STARTED_AT, out->started_at, sizeof out->started_at);
    nl_json_flat_get(json, NL_SUMMARY_REASON, out->reason, sizeof out->reason);
    if (out->state == NL_SWEEP_PENDING) {
        free(json);
        return;
    }
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++) {
        const char *name = nl_sweep_metric_names[m];
        if (!strcmp(name, NL_SWEEP_TEST_ERROR_COLUMN)) {
            if (nl_json_flat_get(json, NL_SUMMARY_FINAL_TEST_ACCURACY, value, sizeof value) && strcmp(value, "null")) {
                char *end;
                const double acc = strtod(value, &end);
                if (end != value && !*end)
                    nl_fmt_float(out->metrics[m], sizeof out->metrics[m], 1.0 - acc);
            }
            continue;
        }
        if (nl_json_flat_get(json, name, value, sizeof value) && strcmp(value, "null"))
            nl_copy_string(out->metrics[m], sizeof out->metrics[m], value);
        if (!strcmp(name, NL_SUMMARY_WALL_S) && out->metrics[m][0])
            out->wall_s = atof(out->metrics[m]);
    }
    free(json);
}

/* ---- how far a run got ---- */

void nl_read_run_progress(const char *run_dir, nl_run_progress *p)
{
    *p = (nl_run_progress){.last_step = -1, .last_train_loss = NAN, .last_test_step = -1,
                           .last_test_accuracy = NAN};
    char *text = NULL;
    nl_error err = {0};
    if (nl_run_file_read(run_dir, NL_RUN_METRICS_FILE, &text, NULL, &err) != NL_OK)
        return;
    /* step,epoch,split,loss,accuracy,...: the rows normlab writes, one a line */
    int line_no = 0;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        line_no++;
        if (!end) {
            p->cut_line = line_no; /* the writer stopped mid-row */
            break;
        }
        *end = '\0';
        /* the step by the one checked parser: a row whose step has a sign,
         * junk or overflows is no row, as a row sscanf cannot read */
        char *comma = strchr(line, ',');
        long long step = -1;
        if (comma) {
            *comma = '\0';
            if (!nl_parse_ll(line, 0, LONG_MAX, &step))
                step = -1;
            *comma = ',';
        }
        char split[32];
        double loss, accuracy;
        if (line_no > 1 && step >= 0 &&
            sscanf(comma + 1, "%*[^,],%31[^,],%lf,%lf", split, &loss, &accuracy) == 3) {
            p->last_step = step > p->last_step ? (long)step : p->last_step;
            if (!strcmp(split, "train"))
                p->last_train_loss = loss;
            else if (!strcmp(split, "test")) {
                p->last_test_step = (long)step;
                p->last_test_accuracy = accuracy;
            }
        }
        line = end + 1;
    }
    free(text);
}
