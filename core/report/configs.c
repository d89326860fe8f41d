/* Each run's resolved config: the settings every run shares, once, then
 * per run the keys set differently across runs (the grid, derived keys and
 * what they change) before the rest, with its summary.json's provenance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/internal.h"
#include "results/files.h"

typedef struct {
    const char *key;
    const char *shared; /* the value every run has; NULL: it differs, or some run lacks it */
} config_key;

/* the keys of every run's config.yaml, in first-appearance order, and
 * whether all runs share each one's value */
static int config_keys(const rp_source *s, config_key **out)
{
    int n = 0, cap = 0, with_config = 0;
    config_key *keys = NULL;
    for (int i = 0; i < s->res.n_runs; i++) {
        const rp_run *r = &s->runs[i];
        with_config += r->have_config;
        for (int k = 0; r->have_config && k < r->config.n; k++) {
            int j = 0;
            while (j < n && strcmp(keys[j].key, r->config.items[k].key))
                j++;
            if (j < n)
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                config_key *grown = realloc(keys, (size_t)cap * sizeof *keys);
                if (!grown)
                    break;
                keys = grown;
            }
            keys[n++] = (config_key){r->config.items[k].key, r->config.items[k].value};
        }
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < s->res.n_runs && keys[j].shared; i++) {
            const char *v = s->runs[i].have_config ? nl_flat_get(&s->runs[i].config, keys[j].key) : NULL;
            if (!v || strcmp(v, keys[j].shared))
                keys[j].shared = NULL;
        }
    *out = keys;
    return with_config ? n : 0;
}

/* a row of a key/value table (class "kv": its cells are code by the style
 * sheet, so that 500 runs' tables do not repeat the markup in every cell) */
static void key_value_row(rp_page *p, const char *key, const char *value)
{
    rp_name_row(p->html, key, false, value);
}

static void prov_item(rp_page *p, const char *label, const char *value)
{
    if (!value[0])
        return;
    nl_buf_printf(p->html, "<dt>%s</dt><dd>", label);
    rp_esc(p->html, value);
    nl_buf_printf(p->html, "</dd>");
}

/* the provenance a run records besides its directory, times and reason:
 * what every run of a sweep usually shares, which "Where the runs were
 * made" (details.c) lists once; a run lists the fields that differ */
typedef enum { PROV_COMMIT, PROV_CPU, PROV_KERNELS, PROV_THREADS, PROV_DEVICE, PROV_HOST, PROV_COUNT } prov_field;
static const char *const prov_labels[PROV_COUNT] = {"commit", "CPU", "CPU kernel set", "threads", "device", "host"};

static const char *prov_value(const rp_run *r, prov_field f)
{
    const char *const values[PROV_COUNT] = {r->commit, r->cpu, r->kernels, r->threads, r->device, r->host};
    return values[f];
}

/* shared[f]: whether every run records the same value of field f */
static void prov_shared(const rp_source *s, bool shared[PROV_COUNT])
{
    for (int f = 0; f < PROV_COUNT; f++) {
        shared[f] = s->res.n_runs > 1;
        for (int i = 1; i < s->res.n_runs && shared[f]; i++)
            shared[f] = strcmp(prov_value(&s->runs[i], f), prov_value(&s->runs[0], f)) == 0;
    }
}

/* run i's details: provenance, then its keys that differ across runs */
static void run_details(rp_page *p, const rp_source *s, int i, const config_key *keys, int n_keys, int n_shared,
                        const bool shared_prov[PROV_COUNT])
{
    const rp_run *r = &s->runs[i];
    nl_buf_printf(p->html, "<details class=\"run\" id=\"s%d-run-%d\"><summary><code>", s->index, i + 1);
    rp_esc(p->html, s->res.runs[i].name);
    nl_buf_printf(p->html, "</code> <span class=\"status status-%s\">%s</span></summary>\n<dl class=\"prov\">",
                  rp_status_name(r), rp_status_name(r));
    /* a sweep's run lives at SWEEP/runs/NAME, its section's path and the
     * summary's name: its directory is listed only where it lives elsewhere */
    char usual[sizeof s->res.dir + sizeof s->res.runs[i].name + 8];
    snprintf(usual, sizeof usual, "%s/" NL_SWEEP_RUNS_DIR "/%s", s->res.dir, s->res.runs[i].name);
    if (!s->res.sweep || strcmp(usual, s->res.runs[i].dir))
        prov_item(p, "directory", s->res.runs[i].dir);
    for (int f = 0; f < PROV_COUNT; f++)
        if (!shared_prov[f])
            prov_item(p, prov_labels[f], prov_value(r, f));
    prov_item(p, "started", r->started);
    prov_item(p, "finished", r->finished);
    prov_item(p, "why", r->result.reason);
    nl_buf_printf(p->html, "</dl>\n");
    if (!r->have_config) {
        nl_buf_printf(p->html, "<p class=\"small\">No readable config.yaml.</p></details>\n");
        return;
    }
    /* the keys that differ and this run sets; its name is the summary's, and
     * a key only other runs set (one that does not apply here) is counted,
     * not listed: at 500 runs those rows were most of the page */
    int n_unset = 0;
    nl_buf_printf(p->html, "<table class=\"kv differs\"><tbody>\n");
    for (int k = 0; k < n_keys; k++) {
        const char *v = keys[k].shared ? NULL : nl_flat_get(&r->config, keys[k].key);
        if (!keys[k].shared && !v)
            n_unset++;
        else if (v && strcmp(keys[k].key, "name"))
            key_value_row(p, keys[k].key, v);
    }
    nl_buf_printf(p->html, "</tbody></table>\n<p class=\"small\">and the %d settings <a href=\"#s%d-shared\">every "
                  "run shares</a>", n_shared, s->index);
    if (n_unset)
        nl_buf_printf(p->html, "; %d key%s other runs set do%s not apply here", n_unset, n_unset == 1 ? "" : "s",
                      n_unset == 1 ? "es" : "");
    nl_buf_printf(p->html, ".</p></details>\n");
}

nl_code rp_configs(rp_page *p, const rp_source *s, nl_error *err)
{
    config_key *keys = NULL;
    const int n_keys = config_keys(s, &keys);
    int n_shared = 0;
    for (int k = 0; k < n_keys; k++)
        n_shared += keys[k].shared != NULL;
    nl_buf_printf(p->html, "<h3 id=\"s%d-configs\">Each run: config and provenance</h3>\n<p class=\"hint\">A run's "
                  "resolved config (its config.yaml) is the keys set differently across runs, listed with it, and "
                  "the %d settings every run shares, listed once; its provenance lists what is not the same for "
                  "every run (<a href=\"#s%d-provenance\">where the runs were made</a>).</p>\n", s->index, n_shared,
                  s->index);
    bool shared_prov[PROV_COUNT];
    prov_shared(s, shared_prov);
    /* a big sweep's details are made by the page's script from a block of
     * their HTML deflated: a run's when a link asks for it, every run's
     * when the button below is pressed (rp_lazy) */
    const bool lazy = rp_lazy(s);
    nl_buf *page = p->html, details = {0};
    if (lazy) {
        nl_buf_printf(p->html, "<div class=\"lazy-details\" id=\"s%d-details\" data-rows=\"s%d-details-rows\">"
                      "<p class=\"small\">%d runs: a run's details open here when its name in the runs table is "
                      "followed. <button type=\"button\" class=\"all-details\">List every run's details</button>"
                      "</p></div>\n", s->index, s->index, s->res.n_runs);
        p->html = &details;
    }
    for (int i = 0; i < s->res.n_runs; i++)
        run_details(p, s, i, keys, n_keys, n_shared, shared_prov);
    p->html = page;
    nl_code rc = NL_OK;
    if (lazy) {
        char id[32];
        snprintf(id, sizeof id, "s%d-details-rows", s->index);
        rc = rp_script_deflated(p->html, id, &details, err);
    }
    nl_buf_free(&details);
    nl_buf_printf(p->html, "<details id=\"s%d-shared\"><summary>The settings every run shares (%d)</summary>\n",
                  s->index, n_shared);
    nl_buf_printf(p->html, "<div class=\"scroll\"><table class=\"kv\"><tbody>\n");
    for (int k = 0; k < n_keys; k++)
        if (keys[k].shared)
            key_value_row(p, keys[k].key, keys[k].shared);
    nl_buf_printf(p->html, "</tbody></table></div></details>\n");
    free(keys);
    return rc;
}
