/* What a run's summary.json says (summary.h): one verdict for every reader. */
#include "results/summary.h"

#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "log/files.h"
#include "results/files.h"
#include "results/store.h"
#include "results/summary_keys.h"

static const nl_name_entry status_entries[] = {
    [NL_RUN_RUNNING] = {"running", "in progress, or killed before it could say otherwise"},
    [NL_RUN_OK] = {"ok", "finished"},
    [NL_RUN_DIVERGED] = {"diverged", "stopped: the loss became NaN/inf or exceeded train.diverge_loss"},
    [NL_RUN_FAILED] = {"failed", "stopped by an error or an interruption"},
    [NL_RUN_STOPPED] = {"stopped", "stopped early by the sweep's stop rule; it can go on (--resume-stopped)"},
};
_Static_assert(sizeof status_entries / sizeof status_entries[0] == NL_RUN_STATUS_COUNT, "status");
static const nl_name_table status_names = {"run status", status_entries, NL_RUN_STATUS_COUNT, 0};

const char *nl_run_status_name(nl_run_status status) { return nl_name_of(&status_names, status); }

/* the verdict for each status run.c writes, by its name (nl_run_status_name) */
static const struct {
    nl_run_status status;
    nl_summary_verdict verdict;
} statuses[] = {
    {NL_RUN_RUNNING, NL_SUMMARY_RUNNING},
    {NL_RUN_OK, NL_SUMMARY_OK},
    {NL_RUN_DIVERGED, NL_SUMMARY_DIVERGED},
    {NL_RUN_FAILED, NL_SUMMARY_FAILED},
    {NL_RUN_STOPPED, NL_SUMMARY_STOPPED},
};
enum { N_STATUSES = sizeof statuses / sizeof statuses[0] };
_Static_assert((int)N_STATUSES == (int)NL_RUN_STATUS_COUNT, "a run status without a verdict");

const char *nl_summary_verdict_name(nl_summary_verdict v)
{
    if (v == NL_SUMMARY_ABSENT)
        return "absent";
    for (int i = 0; i < N_STATUSES; i++)
        if (statuses[i].verdict == v)
            return nl_run_status_name(statuses[i].status);
    return "torn";
}

bool nl_summary_finished(nl_summary_verdict v)
{
    return v == NL_SUMMARY_OK || v == NL_SUMMARY_DIVERGED;
}

nl_summary_verdict nl_summary_read(const char *dir, char **json)
{
    if (json)
        *json = NULL;
    char *text = NULL, status[32];
    /* the run's directory, or its sweep's pack (results/store.h) */
    if (!nl_run_file_exists(dir, NL_RUN_SUMMARY_FILE))
        return NL_SUMMARY_ABSENT;
    nl_error ignored = {0};
    /* a file there that cannot be read holds no result either */
    if (nl_run_file_read(dir, NL_RUN_SUMMARY_FILE, &text, NULL, &ignored) != NL_OK)
        return NL_SUMMARY_TORN;
    nl_summary_verdict verdict = NL_SUMMARY_TORN;
    /* a status is read only out of a whole file: the first lines of one
     * cut short say "ok" */
    if (nl_summary_json_whole(text) && nl_json_flat_get(text, NL_SUMMARY_STATUS, status, sizeof status))
        for (int i = 0; i < N_STATUSES; i++)
            if (!strcmp(status, nl_run_status_name(statuses[i].status)))
                verdict = statuses[i].verdict;
    if (json && verdict != NL_SUMMARY_TORN)
        *json = text;
    else
        free(text);
    return verdict;
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

static const char *json_container_end(const char *p, int depth, char close);

static const char *json_value_end(const char *p, int depth)
{
    if (*p == '"')
        return json_string_end(p);
    if (*p == '{' || *p == '[')
        return depth < 4 ? json_container_end(p, depth + 1, *p == '{' ? '}' : ']') : NULL;
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strncmp(p, words[i], strlen(words[i])))
            return p + strlen(words[i]);
    char *end;
    strtod(p, &end);
    return end == p ? NULL : end;
}

/* past an object or array starting at its bracket, close its closing
 * bracket (an object's items are "key": value); NULL when it is not whole */
static const char *json_container_end(const char *p, int depth, char close)
{
    p = json_space(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            if (*p != '"' || !(p = json_string_end(p)))
                return NULL;
            p = json_space(p);
            if (*p++ != ':')
                return NULL;
            p = json_space(p);
        }
        if (!(p = json_value_end(p, depth)))
            return NULL;
        p = json_space(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
        p = json_space(p);
    }
}

bool nl_summary_json_whole(const char *json)
{
    const char *p = json_space(json);
    if (*p != '{' || !(p = json_container_end(p, 0, '}')))
        return false;
    return *json_space(p) == '\0';
}

