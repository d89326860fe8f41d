/* A run's result as its directory's summary.json tells it (result.h): the
 * one part of sweep/ the plots read, so it depends on nothing else here. */
#include "sweep/result.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* ---- a whole flat JSON object ---- */

static const char *json_space(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* past a string starting at its quote; NULL when it does not end */
static const char *json_string_end(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!*++p)
                return NULL;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

static const char *json_object_end(const char *p, int depth);

static const char *json_value_end(const char *p, int depth)
{
    if (*p == '"')
        return json_string_end(p);
    if (*p == '{')
        return depth < 4 ? json_object_end(p, depth + 1) : NULL;
    if (*p == '[') {
        if (depth >= 4)
            return NULL;
        p = json_space(p + 1);
        if (*p == ']')
            return p + 1;
        for (;;) {
            if (!(p = json_value_end(p, depth + 1)))
                return NULL;
            p = json_space(p);
            if (*p == ']')
                return p + 1;
            if (*p++ != ',')
                return NULL;
            p = json_space(p);
        }
    }
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strncmp(p, words[i], strlen(words[i])))
            return p + strlen(words[i]);
    char *end;
    strtod(p, &end);
    return end == p ? NULL : end;
}

/* past an object starting at its brace; NULL when it is not whole */
static const char *json_object_end(const char *p, int depth)
{
    p = json_space(p + 1);
    if (*p == '}')
        return p + 1;
    for (;;) {
        if (*p != '"' || !(p = json_string_end(p)))
            return NULL;
        p = json_space(p);
        if (*p++ != ':')
            return NULL;
        if (!(p = json_value_end(json_space(p), depth)))
            return NULL;
        p = json_space(p);
        if (*p == '}')
            return p + 1;
        if (*p++ != ',')
            return NULL;
        p = json_space(p);
    }
}

bool nl_summary_json_whole(const char *json)
{
    const char *p = json_space(json);
    if (*p != '{' || !(p = json_object_end(p, 0)))
        return false;
    return *json_space(p) == '\0';
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
    if (!nl_summary_json_whole(json)) {
        /* a copy cut short, a full disk: what it says is not a result */
        snprintf(out->reason, sizeof out->reason, "summary.json is cut short or not valid JSON");
        free(json);
        return;
    }
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

/* ---- how far a run got ---- */

/* the header of checkpoint.nlck as checkpoint.h lays it out: the magic,
 * then at byte 40 the step (i64, little endian) */
static long checkpoint_step(const char *run_dir)
{
    char path[1200];
    nl_path_join(path, sizeof path, run_dir, "checkpoint.nlck");
    FILE *f;
    nl_error ignored = {0}; /* what is not a checkpoint says nothing of progress */
    if (nl_fopen_regular(path, true, &f, &ignored) != NL_OK || !f)
        return -1;
    unsigned char header[48];
    const bool whole = fread(header, 1, sizeof header, f) == sizeof header;
    fclose(f);
    if (!whole || memcmp(header, "NLCKPT\0\0", 8) != 0)
        return -1;
    int64_t step = 0;
    for (int i = 7; i >= 0; i--)
        step = (int64_t)((uint64_t)step << 8 | header[40 + i]);
    return step >= 0 ? (long)step : -1;
}

void nl_read_run_progress(const char *run_dir, nl_run_progress *p)
{
    *p = (nl_run_progress){.last_step = -1, .last_train_loss = NAN, .last_test_step = -1,
                           .last_test_accuracy = NAN, .checkpoint_step = checkpoint_step(run_dir)};
    char path[1200], *text = NULL;
    nl_path_join(path, sizeof path, run_dir, "metrics.csv");
    nl_error err = {0};
    if (nl_read_file(path, &text, NULL, &err) != NL_OK)
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
        long step;
        char split[32];
        double loss, accuracy;
        if (line_no > 1 && sscanf(line, "%ld,%*[^,],%31[^,],%lf,%lf", &step, split, &loss, &accuracy) == 4) {
            p->last_step = step > p->last_step ? step : p->last_step;
            if (!strcmp(split, "train"))
                p->last_train_loss = loss;
            else if (!strcmp(split, "test")) {
                p->last_test_step = step;
                p->last_test_accuracy = accuracy;
            }
        }
        line = end + 1;
    }
    free(text);
}
