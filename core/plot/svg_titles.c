/* Hover titles of an SVG gnuplot wrote (plot.h, pl_svg_titles).
 *
 * gnuplot's SVG terminal wraps each plot of a plot command in
 * <g id="gnuplot_plot_N"><title>gnuplot_plot_N</title>...</g>, and a
 * browser shows that title when the pointer rests on the curve: a name of
 * gnuplot's, not the legend's. gnuplot has no option to title the group,
 * so the file is rewritten here: a group that draws a key entry (its first
 * <text>) is titled with that text; a group without one (a band, or a
 * curve in a panel whose key is drawn elsewhere, as the curves kind does)
 * takes the label of the key entry drawn in the same colour, when exactly
 * one label has that colour; any other group loses its title, so the
 * figure's own shows. The texts copied are gnuplot's, already escaped for
 * XML by it, from one place in the file to another. */
#include <stdlib.h>
#include <string.h>

#include "log/files.h"
#include "plot/internal.h"

#define GROUP_TITLE "<title>gnuplot_plot_"
#define TITLE_END "</title>"

typedef struct {
    const char *title, *title_end; /* the <title> element, whole */
    const char *label;             /* the key entry's text, in the file; NULL: none */
    size_t label_len;
    const char *colour; /* "rgb(...)" of what it draws first; NULL: none */
    size_t colour_len;
} svg_group;

/* the end of the <g> whose content starts at `s`: after its </g>, or the
 * end of the text */
static const char *group_end(const char *s)
{
    int depth = 1;
    while (*s && depth > 0) {
        if (!strncmp(s, "</g>", 4)) {
            depth--;
            s += 4;
        } else if (!strncmp(s, "<g", 2) && (s[2] == ' ' || s[2] == '>')) {
            const char *close = strchr(s, '>');
            if (!close)
                return s + strlen(s);
            depth += close[-1] != '/';
            s = close + 1;
        } else {
            s++;
        }
    }
    return s;
}

/* the first of `what` in [s, end), or NULL */
static const char *find_before(const char *s, const char *end, const char *what)
{
    const char *at = strstr(s, what);
    return at && at < end ? at : NULL;
}

/* a group's key text and the colour it draws with: gnuplot writes the
 * drawing's colours in single quotes (stroke='rgb(..)', fill = 'rgb(..)',
 * color='rgb(..)' of a point), the text's and the key box's in double */
static void describe(svg_group *g, const char *body, const char *end)
{
    const char *text = find_before(body, end, "<text>");
    const char *text_end = text ? find_before(text, end, "</text>") : NULL;
    if (text_end) {
        g->label = text + strlen("<text>");
        g->label_len = (size_t)(text_end - g->label);
    }
    static const char *const drawn[] = {"stroke='rgb(", "fill = 'rgb(", "color='rgb("};
    for (size_t i = 0; i < sizeof drawn / sizeof drawn[0]; i++) {
        const char *at = find_before(body, end, drawn[i]);
        if (at && (!g->colour || at + strlen(drawn[i]) - 4 < g->colour)) {
            g->colour = at + strlen(drawn[i]) - 4;
            const char *close = find_before(g->colour, end, ")");
            g->colour_len = close ? (size_t)(close + 1 - g->colour) : 0;
        }
    }
}

/* the label of the one key entry drawn in g's colour */
static void label_by_colour(svg_group *g, const svg_group *all, int n)
{
    const char *label = NULL;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const svg_group *k = &all[i];
        if (k == g || !k->label || !k->colour || k->colour_len != g->colour_len ||
            strncmp(k->colour, g->colour, g->colour_len))
            continue;
        if (label && (len != k->label_len || strncmp(label, k->label, len)))
            return; /* two labels share the colour: neither is surely its */
        label = k->label;
        len = k->label_len;
    }
    g->label = label;
    g->label_len = len;
}

/* every plot group of the file, described; NULL when out of memory */
static svg_group *groups_of(const char *svg, int *n)
{
    int cap = 0;
    for (const char *p = svg; (p = strstr(p, GROUP_TITLE)); p++)
        cap++;
    svg_group *g = calloc((size_t)cap + 1, sizeof *g);
    *n = 0;
    for (const char *p = svg; g && *n < cap && (p = strstr(p, GROUP_TITLE)); p++) {
        const char *title_end = strstr(p, TITLE_END);
        if (!title_end)
            break;
        svg_group *at = &g[(*n)++];
        at->title = p;
        at->title_end = title_end + strlen(TITLE_END);
        describe(at, at->title_end, group_end(at->title_end));
    }
    for (int i = 0; g && i < *n; i++)
        if (!g[i].label && g[i].colour && g[i].colour_len)
            label_by_colour(&g[i], g, *n);
    return g;
}

nl_code pl_svg_titles(const char *path, const char *figure, nl_error *err)
{
    char *svg = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file_max(path, NL_READ_TEXT_MAX, &svg, &len, err);
    if (rc)
        return rc;
    int n = 0;
    svg_group *g = groups_of(svg, &n);
    nl_buf out = {0};
    const char *from = svg;
    /* the figure's own title: "Gnuplot" says nothing */
    const char *root = strstr(svg, "<title>Gnuplot</title>");
    if (root && (!n || root < g[0].title) && !strpbrk(figure, "<&")) {
        nl_buf_printf(&out, "%.*s<title>%s</title>", (int)(root - svg), svg, figure);
        from = root + strlen("<title>Gnuplot</title>");
    }
    for (int i = 0; g && i < n; i++) {
        nl_buf_printf(&out, "%.*s", (int)(g[i].title - from), from);
        if (g[i].label)
            nl_buf_printf(&out, "<title>%.*s</title>", (int)g[i].label_len, g[i].label);
        from = g[i].title_end;
    }
    nl_buf_printf(&out, "%s", from);
    if (!g || out.failed)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory rewriting %s", path);
    else
        rc = nl_write_atomic(path, out.data, out.len, err);
    nl_buf_free(&out);
    free(g);
    free(svg);
    return rc;
}
