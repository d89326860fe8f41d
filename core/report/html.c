/* The page's frame (head with the inlined CSS, the script at the end),
 * escaping, numbers as the page shows them, and warnings. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "base/ident.h"
#include "report/assets.h"
#include "report/internal.h"
#include "verdict/unit.h"
#include "version_git.h"

/* the n bytes at s, escaped (rp_esc) */
static void esc_n(nl_buf *b, const char *s, size_t n)
{
    const char *plain = s, *const end = s + n;
    while (s < end) {
        const unsigned char c = (unsigned char)*s;
        const int len = nl_utf8_len(s);
        /* control bytes (but tab and line feed) and bytes that are not UTF-8
         * make a page no parser accepts as is: U+FFFD in their place */
        const char *entity = c == '&'    ? "&amp;"
                             : c == '<'  ? "&lt;"
                             : c == '>'  ? "&gt;"
                             : c == '"'  ? "&quot;"
                             : c == '\'' ? "&#39;"
                             : (len == 0 || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) ? "&#xfffd;"
                                            : NULL;
        const int step = len && s + len <= end ? len : 1;
        if (entity) {
            nl_buf_printf(b, "%.*s%s", (int)(s - plain), plain, entity);
            plain = s + step;
        }
        s += step;
    }
    if (s > plain)
        nl_buf_printf(b, "%.*s", (int)(s - plain), plain);
}

void rp_esc(nl_buf *b, const char *s) { esc_n(b, s, strlen(s)); }

void rp_esc_path(nl_buf *b, const char *path)
{
    /* its parts, "." dropped and "NAME/.." folded away; a leading ".." kept */
    const char *parts[128];
    size_t lens[128];
    int n = 0;
    const bool absolute = path[0] == '/';
    for (const char *at = path; *at && n < 128;) {
        const size_t len = strcspn(at, "/");
        if ((len == 1 && at[0] == '.') || len == 0) {
            /* nothing: "./" or "//" */
        } else if (len == 2 && !strncmp(at, "..", 2) && n > 0 && !(lens[n - 1] == 2 && !strncmp(parts[n - 1], "..", 2))) {
            n--;
        } else {
            parts[n] = at;
            lens[n++] = len;
        }
        at += len + (at[len] == '/');
    }
    if (n == 128) { /* a path of more parts than any real one: as given */
        rp_esc(b, path);
        return;
    }
    nl_buf_printf(b, "%s", absolute ? "/" : n ? "" : ".");
    for (int i = 0; i < n; i++) {
        nl_buf_printf(b, "%s", i ? "/" : "");
        esc_n(b, parts[i], lens[i]);
    }
}

void rp_esc_name(nl_buf *b, const char *s)
{
    while (*s) {
        const size_t n = strcspn(s, "._");
        esc_n(b, s, n + (s[n] != '\0'));
        s += n + (s[n] != '\0');
        if (*s && (s[-1] == '.' || s[-1] == '_'))
            nl_buf_printf(b, "<wbr>");
    }
}

void rp_name_row(nl_buf *b, const char *name, bool code, const char *text)
{
    nl_buf_printf(b, "%s", code ? "<tr><td><code>" : "<tr><td>");
    rp_esc_name(b, name);
    nl_buf_printf(b, "%s", code ? "</code></td><td>" : "</td><td>");
    rp_esc(b, text);
    nl_buf_printf(b, "</td></tr>\n");
}

/* JSON inside <script>: "<" only ever inside its strings, written \u003c
 * so that no "</script>" in a run's name ends the block */
void rp_script_json(nl_buf *html, const char *id, const nl_buf *json)
{
    nl_buf_printf(html, "<script type=\"application/json\" id=\"%s\">", id);
    const char *s = json->data ? json->data : "{}";
    for (const char *lt; (lt = strchr(s, '<')); s = lt + 1)
        nl_buf_printf(html, "%.*s\\u003c", (int)(lt - s), s);
    nl_buf_printf(html, "%s</script>\n", s);
}

bool rp_lazy(const rp_source *s)
{
    return s->res.n_runs > RP_LAZY_RUNS;
}

nl_code rp_script_deflated(nl_buf *html, const char *id, const nl_buf *content, nl_error *err)
{
    const char *text = content->data ? content->data : "";
    const uLong len = (uLong)content->len;
    uLongf packed_len = compressBound(len);
    unsigned char *packed = malloc(packed_len ? packed_len : 1);
    if (!packed || content->failed)
        return free(packed), nl_fail(err, NL_ERR_NOMEM, "out of memory writing the page");
    /* zlib's format (RFC 1950): DecompressionStream('deflate') reads it */
    if (compress2(packed, &packed_len, (const Bytef *)text, len, 6) != Z_OK) {
        free(packed);
        return nl_fail(err, NL_ERR_NOMEM, "cannot compress %lu bytes of the page", (unsigned long)len);
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    nl_buf_printf(html, "<script type=\"application/octet-stream\" id=\"%s\" data-bytes=\"%lu\">", id,
                  (unsigned long)len);
    char quad[77];
    size_t q = 0;
    for (uLongf i = 0; i < packed_len; i += 3) {
        const unsigned v = (unsigned)packed[i] << 16 | (i + 1 < packed_len ? (unsigned)packed[i + 1] << 8 : 0) |
                           (i + 2 < packed_len ? packed[i + 2] : 0);
        quad[q++] = b64[v >> 18 & 63];
        quad[q++] = b64[v >> 12 & 63];
        quad[q++] = i + 1 < packed_len ? b64[v >> 6 & 63] : '=';
        quad[q++] = i + 2 < packed_len ? b64[v & 63] : '=';
        if (q == 76 || i + 3 >= packed_len) {
            quad[q] = '\0';
            nl_buf_printf(html, "%s", quad);
            q = 0;
        }
    }
    nl_buf_printf(html, "</script>\n");
    free(packed);
    return NL_OK;
}

bool rp_is_fraction(const char *metric)
{
    return strstr(metric, "accuracy") != NULL || strstr(metric, "error") != NULL;
}

/* verdict/unit.h's rule, the one the claims' rows and normlab verdict use */
rp_unit rp_metric_unit(const char *metric)
{
    const nl_metric_unit u = nl_metric_unit_of(metric);
    return (rp_unit){u.scale, u.value, u.difference};
}

const char *rp_metric_text(const char *metric, const char *value, char *buf, size_t size)
{
    char *end;
    const double v = value && *value ? strtod(value, &end) : NAN;
    if (!value || !*value)
        snprintf(buf, size, "%s", "");
    else if (*end)
        snprintf(buf, size, "%s", value); /* text: a kernel set */
    else if (!isfinite(v))
        snprintf(buf, size, "%s", isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
    else if (rp_is_fraction(metric))
        snprintf(buf, size, "%.2f", 100 * v);
    else
        snprintf(buf, size, "%.4g", v);
    return buf;
}

/* an asset's text: the build embeds every file of core/report/assets */
static const char *asset(const char *name)
{
    for (int i = 0; i < nl_n_report_assets; i++)
        if (!strcmp(nl_report_assets[i].name, name))
            return nl_report_assets[i].text;
    return "";
}

void rp_page_head(rp_page *p, const char *title, int n_dirs)
{
    char when[40];
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    /* the empty icon keeps a browser from asking for /favicon.ico */
    nl_buf_printf(p->html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"normlab %s\">\n<title>", NORMLAB_VERSION);
    rp_esc(p->html, title);
    nl_buf_printf(p->html, " · normlab report</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>\n%s</style>\n"
                  "</head>\n<body data-live=\"%d\">\n<header class=\"page\">\n", asset("report.css"),
                  p->opt->live_seconds);
    if (p->opt->live_seconds > 0)
        nl_buf_printf(p->html, "<p class=\"live\" role=\"status\">Live: the sweep is running. This page is "
                      "written again as its runs go on and reloads itself every %d s; it stops once the sweep "
                      "has ended.</p>\n", p->opt->live_seconds);
    if (p->opt->stopped_by) {
        /* the last page of a watch ended by a signal: without this it would
         * read as a finished sweep's, or (before) as live for ever */
        char stopped[40];
        struct tm st;
        gmtime_r(&p->opt->stopped_at, &st);
        strftime(stopped, sizeof stopped, "%Y-%m-%d %H:%M:%S UTC", &st);
        nl_buf_printf(p->html, "<p class=\"stopped\" role=\"status\">The watch stopped at %s (%s)%s. This page "
                      "is not written again and does not reload; <code>normlab report</code> makes a new one.</p>\n",
                      stopped, p->opt->stopped_by,
                      p->opt->stopped_while_running ? ", while the sweep was still running: its runs as they "
                                                      "stood then" : "");
    }
    nl_buf_printf(p->html, "<h1>");
    rp_esc(p->html, title);
    nl_buf_printf(p->html, "</h1>\n<p class=\"meta\">normlab report of %d director%s, written %s by normlab %s "
                  "(commit %s)", n_dirs, n_dirs == 1 ? "y" : "ies", when, NORMLAB_VERSION, NORMLAB_GIT_COMMIT);
    if (p->opt->command_line) {
        nl_buf_printf(p->html, ": <code>");
        rp_esc(p->html, p->opt->command_line);
        nl_buf_printf(p->html, "</code>");
    }
    nl_buf_printf(p->html, ". Errors and accuracies in percent; intervals are Student-t 95%% intervals over "
                  "seeds, on the logit scale for errors and accuracies and the log scale for "
                  "losses (each table says which). Click a column's header to sort by it.</p>\n");
}

/* the page's script: core/report/assets/report.*.js, in the order of their
 * names (the build embeds them sorted: report.1-tables.js first), one
 * function's body in pieces, so that they share its names and run once */
void rp_page_tail(rp_page *p)
{
    nl_buf_printf(p->html, "</main>\n<script>\n(function () {\n'use strict';\n");
    for (int i = 0; i < nl_n_report_assets; i++) {
        const char *name = nl_report_assets[i].name;
        const size_t n = strlen(name);
        if (n > 3 && !strcmp(name + n - 3, ".js"))
            nl_buf_printf(p->html, "%s", nl_report_assets[i].text);
    }
    nl_buf_printf(p->html, "})();\n</script>\n</body>\n</html>\n");
}

void rp_warn(rp_source *s, rp_page *p, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    nl_buf_printf(&s->warnings, "%s\n", line);
    nl_buf_printf(&p->out->notes, "%s: %s\n", s->res.dir, line);
}

void rp_warnings_box(rp_page *p, const rp_source *s)
{
    if (!s->warnings.len)
        return;
    nl_buf_printf(p->html, "<div class=\"warn\" role=\"note\"><strong>Read with care:</strong>\n<ul>\n");
    for (const char *w = s->warnings.data; *w;) {
        const size_t len = strcspn(w, "\n");
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)len, w);
        nl_buf_printf(p->html, "<li>");
        rp_esc(p->html, line);
        nl_buf_printf(p->html, "</li>\n");
        w += len + (w[len] == '\n');
    }
    nl_buf_printf(p->html, "</ul></div>\n");
}
