/* OUT/candidates.csv: one row per candidate, appended whole as it is
 * decided (log/files.h's CSV writer), and read back by a search that goes
 * on: the rows before a cut last line are what was decided; the file is
 * cut back to them and the search appends from there. Everything the
 * search's later choices read of a candidate is in its row (its stage,
 * its hashes, its accuracy as text, which reads back to the same double),
 * so a resumed search chooses as the uninterrupted one did. No timing is
 * recorded: the file of a resumed search is the uninterrupted one's, byte
 * for byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "log/files.h"
#include "norm/formula_edit.h"
#include "results/table.h"
#include "search/internal.h"

static const char *const columns[] = {"id", "generation", "parents", "operator", "expr", "params",
                                      "canonical_hash", "behaviour_hash", "stage", "reason",
                                      "hurdle_accuracy", "scores", "rung", "rung_scores"};
enum { N_COLUMNS = (int)(sizeof columns / sizeof columns[0]) };
/* the columns of a record written before rank.rungs (no rung, rung_scores) */
enum { N_COLUMNS_BEFORE_RUNGS = 12 };

static const char *mutation_name(int m)
{
    return m < 0 ? "start" : nl_formula_mutations[m].name;
}

/* the scores cell: each rank.models accuracy in order, "none" where its
 * run gave none, space-separated; "" when no model was run */
static void scores_cell(const double *scores, char *out, size_t size)
{
    int last = -1;
    for (int m = 0; m < NL_SEARCH_MAX_MODELS; m++)
        last = isnan(scores[m]) ? last : m;
    size_t used = 0;
    out[0] = '\0';
    for (int m = 0; m <= last && used < size; m++) {
        char v[32] = "none";
        if (!isnan(scores[m]))
            nl_fmt_float(v, sizeof v, scores[m]);
        used += (size_t)snprintf(out + used, size - used, "%s%s", m ? " " : "", v);
    }
}

/* the rung_scores cell: "STEPS: SCORES" for each rung trained, in order,
 * separated by "; " (each SCORES a scores cell); "" without rungs */
static void rung_scores_cell(const nl_search_candidate *c, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int r = 0; r <= c->rung && used < size; r++) {
        char scores[NL_SEARCH_MAX_MODELS * 32];
        scores_cell(c->rung_scores[r], scores, sizeof scores);
        used += (size_t)snprintf(out + used, size - used, "%s%ld: %s", r ? "; " : "", c->rung_steps[r], scores);
    }
}

/* a rung cell ("" or the steps of the last rung) and the rung_scores
 * cell into c: as many rungs as the rung_scores cell holds, the last at
 * the rung cell's steps */
static bool read_rungs(const char *rung, const char *cell, nl_search_candidate *c)
{
    c->rung = -1;
    for (int r = 0; r < NL_SEARCH_MAX_RUNGS; r++)
        for (int m = 0; m < NL_SEARCH_MAX_MODELS; m++)
            c->rung_scores[r][m] = NAN;
    if (!rung[0])
        return !cell[0];
    char buf[NL_SEARCH_MAX_RUNGS * (NL_SEARCH_MAX_MODELS + 1) * 32];
    if (strlen(cell) >= sizeof buf)
        return false;
    memcpy(buf, cell, strlen(cell) + 1);
    for (char *save = NULL, *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        char *colon = strchr(t, ':');
        long long steps;
        if (!colon || c->rung + 1 >= NL_SEARCH_MAX_RUNGS)
            return false;
        *colon = '\0';
        c->rung++;
        if (!nl_parse_ll(t + (t[0] == ' '), 1, 1000000, &steps) || colon[1] != ' ' ||
            !nl_search_scores_read(colon + 2, c->rung_scores[c->rung]))
            return false;
        c->rung_steps[c->rung] = (long)steps;
    }
    long long last;
    return c->rung >= 0 && nl_parse_ll(rung, 1, 1000000, &last) && last == c->rung_steps[c->rung];
}

bool nl_search_scores_read(const char *cell, double *scores)
{
    char buf[NL_SEARCH_MAX_MODELS * 32];
    for (int m = 0; m < NL_SEARCH_MAX_MODELS; m++)
        scores[m] = NAN;
    if (strlen(cell) >= sizeof buf)
        return false;
    memcpy(buf, cell, strlen(cell) + 1);
    int m = 0;
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save), m++)
        if (m >= NL_SEARCH_MAX_MODELS || (strcmp(t, "none") && !nl_parse_finite(t, &scores[m])))
            return false;
    return true;
}

nl_code nl_search_record(nl_csv *csv, const nl_search_candidate *c, nl_error *err)
{
    char id[24], generation[16], parents[48], accuracy[32], scores[NL_SEARCH_MAX_MODELS * 32], rung[24] = "";
    char rung_scores[NL_SEARCH_MAX_RUNGS * (NL_SEARCH_MAX_MODELS + 1) * 32];
    snprintf(id, sizeof id, "%ld", c->id);
    snprintf(generation, sizeof generation, "%d", c->generation);
    if (c->parents[1])
        snprintf(parents, sizeof parents, "%ld %ld", c->parents[0], c->parents[1]);
    else if (c->parents[0])
        snprintf(parents, sizeof parents, "%ld", c->parents[0]);
    else
        parents[0] = '\0';
    if (isnan(c->accuracy))
        accuracy[0] = '\0';
    else
        nl_fmt_float(accuracy, sizeof accuracy, c->accuracy);
    scores_cell(c->scores, scores, sizeof scores);
    if (c->rung >= 0)
        snprintf(rung, sizeof rung, "%ld", c->rung_steps[c->rung]);
    rung_scores_cell(c, rung_scores, sizeof rung_scores);
    const char *fields[N_COLUMNS] = {id, generation, parents, mutation_name(c->mutation), c->expr,
                                     c->params, c->canonical, c->behaviour,
                                     nl_search_stages[c->stage].name, c->reason, accuracy, scores,
                                     rung, rung_scores};
    return nl_csv_row(csv, fields, err);
}

/* a hash as the writer writes it: 16 lowercase hex digits, or "" where
 * none is written (kept as text: a digest is no number to read) */
static bool hash_cell(const char *cell, bool empty_ok)
{
    const size_t n = strlen(cell);
    return n == 0 ? empty_ok : n == 16 && strspn(cell, "0123456789abcdef") == 16;
}

/* the parents cell: "", "A" or "A B", each an id before this row's */
static bool parents_cell(const char *cell, long id, long parents[2])
{
    parents[0] = parents[1] = 0;
    if (!cell[0])
        return true;
    char buf[48];
    if (strlen(cell) >= sizeof buf)
        return false;
    memcpy(buf, cell, strlen(cell) + 1);
    char *second = strchr(buf, ' ');
    if (second)
        *second++ = '\0';
    long long a, b = 0;
    return nl_parse_ll(buf, 1, id - 1, &a) && (!second || nl_parse_ll(second, 1, id - 1, &b)) &&
           (parents[0] = (long)a, parents[1] = (long)b, true);
}

/* a row's cells into c; false when one is not what the writer writes */
static bool read_row(char **cells, nl_search_candidate *c)
{
    memset(c, 0, sizeof *c);
    long long id;
    bool ok = nl_parse_ll(cells[0], 1, NL_SEARCH_MAX_CANDIDATES, &id);
    c->id = ok ? (long)id : 0;
    ok = ok && nl_parse_int(cells[1], 0, NL_SEARCH_MAX_CANDIDATES, &c->generation);
    ok = ok && parents_cell(cells[2], c->id, c->parents);
    c->mutation = -2;
    for (int m = -1; m < nl_formula_mutation_count; m++)
        if (!strcmp(cells[3], mutation_name(m)))
            c->mutation = m;
    snprintf(c->expr, sizeof c->expr, "%s", cells[4]);
    snprintf(c->params, sizeof c->params, "%s", cells[5]);
    ok = ok && hash_cell(cells[6], true) && hash_cell(cells[7], true);
    snprintf(c->canonical, sizeof c->canonical, "%s", cells[6]);
    snprintf(c->behaviour, sizeof c->behaviour, "%s", cells[7]);
    c->stage = NL_STAGE_COUNT;
    for (int s = 0; s < NL_STAGE_COUNT; s++)
        if (!strcmp(cells[8], nl_search_stages[s].name))
            c->stage = (nl_search_stage)s;
    snprintf(c->reason, sizeof c->reason, "%s", cells[9]);
    c->accuracy = NAN;
    ok = ok && (!cells[10][0] || nl_parse_finite(cells[10], &c->accuracy));
    ok = ok && nl_search_scores_read(cells[11], c->scores);
    ok = ok && read_rungs(cells[12], cells[13], c);
    return ok && c->mutation > -2 && c->stage < NL_STAGE_COUNT;
}

/* the bytes of the header and the whole rows: up to the last line break */
static off_t whole_bytes(const char *text)
{
    const char *last = strrchr(text, '\n');
    return last ? (off_t)(last - text + 1) : 0;
}

nl_code nl_search_records_read(const char *path, nl_search_candidate **rows, long *n, off_t *bytes,
                               nl_error *err)
{
    *rows = NULL;
    *n = 0;
    *bytes = -1;
    if (!nl_path_exists(path))
        return NL_OK;
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file_max(path, (size_t)1 << 30, &text, &len, err);
    if (!rc && strlen(text) != len)
        rc = nl_fail(err, NL_ERR_DATA, "%s holds a NUL byte: not a candidates.csv normlab search "
                     "wrote; nothing was written; give another --out", path);
    nl_csv_table t = {0};
    if (!rc)
        rc = nl_csv_table_parse(text, path, &t, err);
    *bytes = text ? whole_bytes(text) : 0;
    free(text);
    if (!rc && t.n_cols == N_COLUMNS_BEFORE_RUNGS && !strcmp(t.header[0], columns[0]))
        rc = nl_fail(err, NL_ERR_DATA, "%s was written by an older normlab search: it has no rung and "
                     "rung_scores columns (rank.rungs), and a search does not append rows of another "
                     "form to it; nothing was written; give another --out (the file itself is left as "
                     "it is, readable as before)", path);
    if (!rc && (t.n_cols != N_COLUMNS || strcmp(t.header[0], columns[0])))
        rc = nl_fail(err, NL_ERR_DATA, "%s is not a search's candidates.csv (its header is not "
                     "normlab search's); nothing was written; give another --out", path);
    if (!rc && t.n_rows && !(*rows = calloc((size_t)t.n_rows, sizeof **rows)))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int r = 0; !rc && r < t.n_rows; r++) {
        if (!read_row(t.rows[r], &(*rows)[r]) || (*rows)[r].id != r + 1)
            rc = nl_fail(err, NL_ERR_DATA, "%s: row %d is not one normlab search writes (ids 1, 2, "
                         "... with the columns it writes); nothing was written; give another --out",
                         path, r + 2);
        *n = r + 1;
    }
    nl_csv_table_free(&t);
    if (rc) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

nl_code nl_search_records_open(const char *path, off_t bytes, nl_csv *csv, nl_error *err)
{
    return bytes > 0 ? nl_csv_continue(csv, path, N_COLUMNS, bytes, err)
                     : nl_csv_open(csv, path, columns, N_COLUMNS, err);
}

nl_code nl_search_records_bytes(const char *path, long rows, off_t *bytes, nl_error *err)
{
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file_max(path, (size_t)1 << 30, &text, &len, err);
    if (rc)
        return rc;
    /* the header and `rows` records: line breaks outside a quoted cell (a
     * doubled quote inside one toggles twice) */
    bool quoted = false;
    long records = -1;
    size_t i = 0;
    for (; i < len && records < rows; i++)
        if (text[i] == '"')
            quoted = !quoted;
        else if (text[i] == '\n' && !quoted)
            records++;
    free(text);
    if (records < rows)
        return nl_fail(err, NL_ERR_DATA, "%s holds fewer than %ld rows", path, rows);
    *bytes = (off_t)i;
    return NL_OK;
}

nl_code nl_search_record_load(const char *dir, nl_search_spec *s, nl_search_result *r, nl_error *err)
{
    memset(s, 0, sizeof *s);
    memset(r, 0, sizeof *r);
    char path[1100];
    nl_path_join(path, sizeof path, dir, "candidates.csv");
    off_t bytes;
    nl_code rc = nl_search_records_read(path, &r->candidates, &r->n, &bytes, err);
    if (!rc && bytes < 0)
        return nl_fail(err, NL_ERR_USAGE, "%s has no candidates.csv: not the directory of a normlab search", dir);
    /* what the order reads of the search file, as the rows show it: K the
     * most scores a row holds (a passed candidate holds all K), the rungs
     * those some row was trained to */
    for (long i = 0; !rc && i < r->n; i++) {
        const nl_search_candidate *c = &r->candidates[i];
        r->stage_counts[c->stage]++;
        for (int k = 0; k < NL_SEARCH_MAX_MODELS; k++)
            if (!isnan(c->scores[k]) && k >= s->n_models)
                s->n_models = k + 1;
        for (int g = s->n_rungs; g <= c->rung; g++)
            s->rung_steps[g] = c->rung_steps[g];
        s->n_rungs = c->rung + 1 > s->n_rungs ? c->rung + 1 : s->n_rungs;
    }
    for (int k = 0; k < s->n_models; k++)
        snprintf(s->models[k].label, sizeof s->models[k].label, "rank.models[%d]", k);
    if (!rc)
        rc = nl_search_holdout_read(dir, s, r, err);
    if (!rc)
        rc = nl_search_target_read(dir, s, r, err);
    if (rc)
        nl_search_result_free(r);
    return rc;
}
