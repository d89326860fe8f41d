/* A run's result as its directory's summary.json tells it (result.h): the
 * one part of sweep/ the plots read, so it depends on nothing else here. */
#include "sweep/result.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log/files.h"
#include "train/run.h"

const char *const nl_sweep_metric_names[NL_SWEEP_N_METRICS] = {
    "final_test_loss",  "final_test_accuracy",           "final_test_error",
    "best_test_accuracy", "final_train_loss",            "final_test_trainmode_accuracy",
    "steps",            "wall_s",                        "samples_per_s",
    "test_accuracy_before_recalibration",
    /* how samples_per_s was reached: a sweep spread over a cluster's nodes
     * mixes CPUs, and each run picks its threads and kernel set */
    "threads",          "cpu_kernels",
};

const char *nl_sweep_state_name(nl_sweep_state s)
{
    switch (s) {
    case NL_SWEEP_OK:
        return "ok";
    case NL_SWEEP_DIVERGED:
        return "diverged";
    case NL_SWEEP_FAILED:
        return "failed";
    default:
        return "pending";
    }
}

void nl_sweep_read_result(const char *run_dir, nl_sweep_result *out)
{
    memset(out, 0, sizeof *out);
    out->state = NL_SWEEP_PENDING;
    out->wall_s = NAN;
    char path[1200], *json = NULL, value[256];
    nl_path_join(path, sizeof path, run_dir, "summary.json");
    nl_error err = {0};
    if (nl_read_file(path, &json, NULL, &err) != NL_OK)
        return;
    if (nl_json_flat_get(json, "status", value, sizeof value)) {
        if (!strcmp(value, "ok"))
            out->state = NL_SWEEP_OK;
        else if (!strcmp(value, "diverged"))
            out->state = NL_SWEEP_DIVERGED;
        else if (!strcmp(value, "failed"))
            out->state = NL_SWEEP_FAILED;
    }
    nl_json_flat_get(json, "started_at", out->started_at, sizeof out->started_at);
    nl_json_flat_get(json, "reason", out->reason, sizeof out->reason);
    if (out->state == NL_SWEEP_PENDING) {
        free(json);
        return;
    }
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++) {
        const char *name = nl_sweep_metric_names[m];
        if (!strcmp(name, "final_test_error")) {
            if (nl_json_flat_get(json, "final_test_accuracy", value, sizeof value) && strcmp(value, "null")) {
                char *end;
                const double acc = strtod(value, &end);
                if (end != value && !*end)
                    nl_fmt_float(out->metrics[m], sizeof out->metrics[m], 1.0 - acc);
            }
            continue;
        }
        if (nl_json_flat_get(json, name, value, sizeof value) && strcmp(value, "null"))
            nl_copy_string(out->metrics[m], sizeof out->metrics[m], value);
        if (!strcmp(name, "wall_s") && out->metrics[m][0])
            out->wall_s = atof(out->metrics[m]);
    }
    free(json);
}
