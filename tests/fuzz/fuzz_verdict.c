/* libFuzzer harness: the claims of `normlab verdict` (nl_claims_parse) and,
 * where they parse, their evaluation (nl_verdict_compute) on a committed
 * results directory, then the three outputs (verdicts.csv, verdicts.json,
 * the screen's table). The input is an experiment or claims file's text
 * (up to its first NUL byte, which the file loader refuses), named as if
 * it were experiments/fuzz.yaml; the seeds are the committed experiment and
 * claims files, so an input keeps its `name:` and is evaluated on that
 * experiment's own runs (results/NAME), where its keys, values and metrics
 * exist and the deep paths (each:, each_row:, sweep:, source: tables, count
 * and rate claims) are reached. A name that is no results directory is
 * evaluated on FALLBACK_SWEEP.
 *
 * Properties: bad input is refused as an error value with a message that
 * names the file and line (NL_ERR_CONFIG: "FILE:LINE:"), never reported as a
 * run-time failure; a computed report has a verdict per row, intervals in
 * order, and Holm's adjusted p no smaller than its p. Nothing is written:
 * compute reads, the outputs go to memory buffers. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "log/files.h"
#include "verdict/verdict.h"

#define RESULTS NORMLAB_SOURCE_DIR "/results"
#define FALLBACK_SWEEP RESULTS "/loss-scaling-lm"
/* fewer resamples than the command's 10,000: the bootstrap's arithmetic is
 * the same, and an input costs milliseconds, not a second */
#define FUZZ_RESAMPLES 64

/* whether msg names a file and a line: "PATH:LINE:" somewhere in it */
static bool names_file_line(const char *msg)
{
    for (const char *p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
        const char *q = p + 1;
        while (isdigit((unsigned char)*q))
            q++;
        if (q > p + 1 && *q == ':' && p > msg && !isspace((unsigned char)p[-1]))
            return true;
    }
    return false;
}

static void check_refusal(nl_code rc, const nl_error *err, const char *what)
{
    fuzz_check_error(rc, err, what);
    if (rc == NL_ERR_CONFIG)
        FUZZ_REQUIRE(names_file_line(err->msg), "%s: a refusal without file:line: %s", what, err->msg);
}

/* results/NAME where the name is a plain relative path to a directory there */
static void sweep_dir_of(const nl_claim_set *set, char *dir, size_t size)
{
    const char *name = set->name;
    bool plain = name[0] && name[0] != '/' && !strstr(name, "..");
    for (const char *c = name; plain && *c; c++)
        plain = isalnum((unsigned char)*c) || strchr("-_./", *c);
    snprintf(dir, size, "%s/%s", RESULTS, name);
    if (!plain || !nl_path_exists(dir))
        snprintf(dir, size, "%s", FALLBACK_SWEEP);
}

static void check_report(const nl_verdict_report *r)
{
    for (int i = 0; i < r->n; i++) {
        const nl_verdict *v = &r->v[i];
        FUZZ_REQUIRE(v->verdict >= 0 && v->verdict < NL_VERDICT_KIND_COUNT, "%s: verdict %d", v->id, (int)v->verdict);
        FUZZ_REQUIRE(v->id[0] && v->claim, "row %d has no claim", i);
        FUZZ_REQUIRE(v->n >= 0 && v->agree >= 0, "%s: n %d, agree %d", v->id, v->n, v->agree);
        if (!isnan(v->lo) && !isnan(v->hi))
            FUZZ_REQUIRE(v->lo <= v->hi, "%s: interval [%g, %g]", v->id, v->lo, v->hi);
        if (!isnan(v->p) && !isnan(v->p_holm))
            FUZZ_REQUIRE(v->p_holm >= v->p - 1e-12 && v->p_holm <= 1 + 1e-12, "%s: p %g, Holm's p %g", v->id, v->p,
                         v->p_holm);
    }
    nl_buf csv = {0}, json = {0}, text = {0};
    nl_verdict_csv(r, &csv);
    nl_verdict_json(r, &json);
    nl_verdict_text(r, &text);
    nl_buf_free(&csv);
    nl_buf_free(&json);
    nl_buf_free(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    nl_claim_set *set = calloc(1, sizeof *set);
    if (!text || !set) {
        free(text);
        free(set);
        return 0;
    }
    nl_error err = {0};
    nl_code rc = nl_claims_parse(text, NORMLAB_SOURCE_DIR "/experiments/fuzz.yaml", set, &err);
    if (rc != NL_OK) {
        check_refusal(rc, &err, "nl_claims_parse");
    } else if (set->n > 0) {
        char dir[1400];
        sweep_dir_of(set, dir, sizeof dir);
        const nl_verdict_options opt = {.level = 0.95, .seed = 1, .resamples = FUZZ_RESAMPLES};
        nl_verdict_report r = {0};
        rc = nl_verdict_compute(dir, set, &opt, &r, &err);
        if (rc != NL_OK)
            check_refusal(rc, &err, "nl_verdict_compute");
        else
            check_report(&r);
        nl_verdict_report_free(&r);
    }
    free(set);
    free(text);
    return 0;
}
