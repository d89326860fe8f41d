/* A sweep's formula normalizers by their one name (config/norm_label.h,
 * issue 114): the cells of the keys that say which formula a run has
 * (model.norm.type where it is the formula kind, model.norm.expr and
 * model.norm.name) hold the run's name once read, so that tables, legends, the
 * report and TensorBoard group and show the formula as "bin" or
 * "evonorm-b0", never as "expr" or its text. A summary.csv written before
 * (model.norm.type "expr") is named from each run's config.yaml. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/flat.h"
#include "config/norm_label.h"
#include "log/files.h"
#include "results/files.h"
#include "results/results.h"

static const char *const formula_keys[] = {"model.norm.type", "model.norm.expr", "model.norm.name"};
#define N_FORMULA_KEYS (int)(sizeof formula_keys / sizeof *formula_keys)

bool nl_results_formula_text_key(const char *key)
{
    for (int c = 1; c < N_FORMULA_KEYS; c++)
        if (!strcmp(key, formula_keys[c]))
            return true;
    return false;
}

bool nl_results_run_norm_label(const char *run_dir, char *label, size_t size)
{
    char path[1300], *text = NULL;
    nl_error err = {0};
    nl_flat own = {0};
    snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, run_dir);
    bool named = nl_read_file(path, &text, NULL, &err) == NL_OK &&
                 nl_flat_from_yaml(text, path, &own, &err) == NL_OK && nl_norm_label_of(&own, label, size) &&
                 nl_norm_label_is_formula(label);
    free(text);
    nl_flat_free(&own);
    return named;
}

/* does run i need its config read: a formula cell not yet its name */
static bool unnamed_formula(const nl_results_run *run, const int *cols)
{
    if (cols[0] >= 0)
        return nl_norm_type_is_formula(run->values[cols[0]]);
    for (int c = 1; c < N_FORMULA_KEYS; c++)
        if (cols[c] >= 0 && run->values[cols[c]][0])
            return true;
    return false;
}

void nl_results_name_formulas(nl_results *r)
{
    int cols[N_FORMULA_KEYS], any = 0;
    for (int c = 0; c < N_FORMULA_KEYS; c++)
        any += (cols[c] = nl_results_key(r, formula_keys[c])) >= 0;
    for (int i = 0; any && i < r->n_runs; i++) {
        nl_results_run *run = &r->runs[i];
        char label[NL_NORM_LABEL_SIZE];
        if (!unnamed_formula(run, cols) || !nl_results_run_norm_label(run->dir, label, sizeof label))
            continue;
        for (int c = 0; c < N_FORMULA_KEYS; c++) {
            if (cols[c] < 0 || !run->values[cols[c]][0])
                continue; /* a key that does not apply to the run stays empty */
            char *named = strdup(label);
            if (named) {
                free(run->values[cols[c]]);
                run->values[cols[c]] = named;
            }
        }
    }
}
