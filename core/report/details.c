/* The section's text: the experiment's description (its file's leading
 * comment) and grid, where the runs were made (provenance), and each run's
 * resolved config: the settings every run shares once, and per run the
 * keys set differently across runs, first, with its summary.json's
 * provenance. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "report/internal.h"

void rp_description(rp_page *p, const rp_source *s)
{
    if (!s->have_exp) {
        if (s->res.sweep) {
            nl_buf_printf(p->html, "<p class=\"small\">No experiment file: ");
            rp_esc(p->html, s->no_experiment);
            nl_buf_printf(p->html, ".</p>\n");
        }
        return;
    }
    char *text = NULL;
    nl_error ignored = {0};
    if (nl_read_file_max(s->experiment, NL_READ_TEXT_MAX, &text, NULL, &ignored) != NL_OK)
        return;
    nl_buf_printf(p->html, "<h3 id=\"s%d-description\">Description</h3>\n", s->index);
    /* the file's leading comment, a paragraph each (as TensorBoard's HParams dashboard has it) */
    nl_buf about = {0};
    nl_experiment_description(text, &about);
    for (const char *at = about.data ? about.data : ""; *at;) {
        const char *end = strstr(at, "\n\n");
        const size_t len = end ? (size_t)(end - at) : strlen(at);
        char *piece = strndup(at, len);
        if (!piece)
            p->html->failed = true;
        nl_buf_printf(p->html, "<p class=\"description\">");
        rp_esc(p->html, piece ? piece : "");
        nl_buf_printf(p->html, "</p>\n");
        free(piece);
        at += len + (end ? 2 : 0);
    }
    if (about.failed)
        p->html->failed = true;
    nl_buf_free(&about);
    nl_buf_printf(p->html, "<p class=\"small\">Experiment file: <code>");
    rp_esc_path(p->html, s->experiment);
    nl_buf_printf(p->html, "</code>");
    if (s->from.from == NL_SWEEP_EXP_KEPT) {
        /* which text: the one the sweep kept, not the file at its path */
        nl_buf_printf(p->html, ", the copy the sweep kept of <code>");
        rp_esc(p->html, s->from.path);
        nl_buf_printf(p->html, "</code>%s", s->from.path_found ? ", changed since" : ", which is not there");
    }
    nl_buf_printf(p->html, "</p>\n");
    free(text);
    /* a sweep started with --set ran other settings than its file's text
     * says ("2 epochs" where it ran 3): the page says what ran */
    nl_buf opts = {0};
    if (s->res.sweep && nl_sweep_recorded_options(s->res.dir, &opts) > 0 && !opts.failed) {
        nl_buf_printf(p->html, "<p class=\"small started-with\">The sweep was started with <code>");
        rp_esc(p->html, opts.data + (opts.data[0] == ' '));
        nl_buf_printf(p->html, "</code>: where the description above says otherwise, its runs ran these "
                      "(each run's config below is what it ran).</p>\n");
    }
    nl_buf_free(&opts);
}

static void grid_row(rp_page *p, const char *key, const char *what)
{
    rp_name_row(p->html, key, true, what);
}

/* the grid as the experiment file writes it: axes, derived keys, fixed settings, exclusions */
static void experiment_grid(rp_page *p, const nl_experiment *e)
{
    char what[2048];
    for (int a = 0; a < e->n_axes; a++) {
        size_t used = 0;
        what[0] = '\0';
        for (int v = 0; v < e->axes[a].n && used < sizeof what; v++)
            used += (size_t)snprintf(what + used, sizeof what - used, "%s%s", v ? ", " : "", e->axes[a].values[v]);
        grid_row(p, e->axes[a].key, what);
    }
    for (int d = 0; d < e->n_derived; d++) {
        const nl_sweep_derived *x = &e->derived[d];
        snprintf(what, sizeof what, "derived: %g × (%s / %g)^%g%s", x->base_value, x->scale_with, x->base_at,
                 x->power, x->round ? ", rounded" : "");
        grid_row(p, x->key, what);
    }
    for (int i = 0; i < e->n_sets; i++) {
        snprintf(what, sizeof what, "every run: %s", e->sets[i].value);
        grid_row(p, e->sets[i].key, what);
    }
    for (int x = 0; x < e->n_excludes; x++) {
        size_t used = (size_t)snprintf(what, sizeof what, "excluded: ");
        for (int i = 0; i < e->excludes[x].n && used < sizeof what; i++)
            used += (size_t)snprintf(what + used, sizeof what - used, "%s%s=%s", i ? ", " : "",
                                     e->excludes[x].items[i].key, e->excludes[x].items[i].value);
        grid_row(p, "exclude", what);
    }
}

void rp_grid(rp_page *p, const rp_source *s)
{
    if (!s->res.sweep)
        return;
    nl_buf_printf(p->html, "<h3 id=\"s%d-grid\">Grid</h3>\n<div class=\"scroll\"><table>\n<thead><tr><th>key"
                  "</th><th>values</th></tr></thead>\n<tbody>\n", s->index);
    if (s->have_exp) {
        experiment_grid(p, &s->exp);
        /* the options the sweep was started with, over the file's settings */
        nl_buf opts = {0};
        if (nl_sweep_recorded_options(s->res.dir, &opts) > 0 && !opts.failed)
            rp_name_row(p->html, "started with", false, opts.data + (opts.data[0] == ' '));
        nl_buf_free(&opts);
    } else {
        /* without the file: the values summary.csv holds */
        for (int k = 0; k < s->res.n_keys; k++) {
            const char *values[256];
            char what[2048];
            const int n = nl_results_distinct(&s->res, k, values, 256);
            size_t used = 0;
            what[0] = '\0';
            for (int v = 0; v < n && used < sizeof what; v++)
                used += (size_t)snprintf(what + used, sizeof what - used, "%s%s", v ? ", " : "",
                                         values[v][0] ? values[v] : "(not set)");
            grid_row(p, s->res.keys[k], what);
        }
    }
    nl_buf_printf(p->html, "</tbody></table></div>\n");
}

/* ---- provenance ---- */

/* "a (70 runs), b (2 runs)": the distinct values of one field over the runs */
static void distinct_line(rp_page *p, const rp_source *s, const char *label, size_t offset)
{
    const char *values[16];
    int counts[16], n = 0, more = 0;
    for (int i = 0; i < s->res.n_runs; i++) {
        const char *v = (const char *)&s->runs[i] + offset;
        int j = 0;
        while (j < n && strcmp(values[j], v))
            j++;
        if (j < n)
            counts[j]++;
        else if (n < 16)
            values[n] = v, counts[n++] = 1;
        else
            more++;
    }
    nl_buf_printf(p->html, "<dt>%s</dt><dd>", label);
    for (int j = 0; j < n; j++) {
        nl_buf_printf(p->html, "%s", j ? "; " : "");
        rp_esc(p->html, values[j][0] ? values[j] : "(not recorded)");
        if (n > 1 || counts[j] != s->res.n_runs)
            nl_buf_printf(p->html, " (%d run%s)", counts[j], counts[j] == 1 ? "" : "s");
    }
    if (more)
        nl_buf_printf(p->html, "; and %d runs with other values", more);
    nl_buf_printf(p->html, "</dd>\n");
}

#define FIELD(name) offsetof(rp_run, name)

void rp_provenance(rp_page *p, const rp_source *s)
{
    char first[32] = "", last[32] = "";
    for (int i = 0; i < s->res.n_runs; i++) {
        const rp_run *r = &s->runs[i];
        if (r->started[0] && (!first[0] || strcmp(r->started, first) < 0))
            nl_copy_string(first, sizeof first, r->started);
        if (r->finished[0] && strcmp(r->finished, last) > 0)
            nl_copy_string(last, sizeof last, r->finished);
    }
    nl_buf_printf(p->html, "<h3 id=\"s%d-provenance\">Where the runs were made</h3>\n<dl class=\"prov\">\n",
                  s->index);
    distinct_line(p, s, "commit", FIELD(commit));
    distinct_line(p, s, "CPU", FIELD(cpu));
    distinct_line(p, s, "CPU kernel set", FIELD(kernels));
    distinct_line(p, s, "threads", FIELD(threads));
    distinct_line(p, s, "device", FIELD(device));
    distinct_line(p, s, "host", FIELD(host));
    nl_buf_printf(p->html, "<dt>time</dt><dd>");
    rp_esc(p->html, first[0] ? first : "?");
    nl_buf_printf(p->html, " to ");
    rp_esc(p->html, last[0] ? last : "?");
    nl_buf_printf(p->html, "</dd>\n</dl>\n");
}
