/* The parts every script shares: the start (its size and the templates
 * that set the output format and the look), and writing the script and
 * its data. */
#include <stdio.h>
#include <string.h>

#include "base/ident.h"
#include "plot/script.h"
#include "results/store.h"
#include "results/table.h"

/* Gnuplot substitutes `...` in double-quoted strings with a shell command's
 * output before it parses them (and control bytes end or split the
 * command), so those are written as octal escapes, which gnuplot turns back
 * into the character only after substitution; '"' and '\\' are escaped, and
 * bytes that are not well-formed UTF-8 become '?', as do control bytes
 * other than a tab (a directory's name may hold them): the SVG terminal
 * writes a string's bytes into XML, which has no way to hold those (issue
 * 118; tests/svg_xml.py parses every SVG normlab writes). */
const char *pl_q(const char *s, char *buf, size_t size)
{
    size_t k = 0;
    if (size < 3)
        return "\"\"";
    buf[k++] = '"';
    while (*s && k + 6 < size) {
        const unsigned char c = (unsigned char)*s;
        const int n = nl_utf8_len(s);
        if (c == '"' || c == '\\') {
            buf[k++] = '\\';
            buf[k++] = (char)c;
        } else if (c == '\n') { /* a label's line break, as gnuplot writes it */
            buf[k++] = '\\';
            buf[k++] = 'n';
        } else if (c < 0x20 && c != '\t') {
            buf[k++] = '?';
        } else if (c == '`' || c < 0x20 || c == 0x7f) {
            k += (size_t)snprintf(buf + k, size - k, "\\%03o", c);
        } else if (n == 0) {
            buf[k++] = '?';
        } else if (k + (size_t)n + 2 < size) {
            memcpy(buf + k, s, (size_t)n);
            k += (size_t)n;
            s += n - 1;
        } else {
            break;
        }
        s++;
    }
    buf[k++] = '"';
    buf[k] = '\0';
    return buf;
}

/* text for a comment line of a script: one line, no control bytes */
static const char *comment_text(const char *s, char *buf, size_t size)
{
    size_t k = 0;
    for (; *s && k + 1 < size; s++)
        buf[k++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
    buf[k] = '\0';
    return buf;
}

/* What no escaping function lets through, checked on the whole script before
 * it is written: a writer that printed a string without pl_q (or a data
 * cell without pl_cell_text) and a hostile one reached it. NULL when clean. */
static const char *script_problem(const nl_buf *gp)
{
    for (size_t i = 0; i < gp->len; i++) {
        const unsigned char c = (unsigned char)gp->data[i];
        if (c == '`')
            return "a backquote (gnuplot would run it as a shell command)";
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return "a control byte";
        if (c >= 0x80) {
            const int n = nl_utf8_len(gp->data + i);
            if (!n)
                return "bytes that are not UTF-8";
            i += (size_t)n - 1;
        }
    }
    return NULL;
}

/* a label for a CSV cell: no commas, quotes or newlines */
const char *pl_cell_text(const char *s, char *buf, size_t size)
{
    size_t k = 0;
    while (*s && k + 1 < size) {
        const unsigned char c = (unsigned char)*s;
        const int n = nl_utf8_len(s);
        if (c == ',')
            buf[k++] = ';';
        else if (c == '"' || c == '`' || c < 0x20 || c == 0x7f)
            buf[k++] = ' '; /* a cell may sit in a script's data block: nothing gnuplot would act on */
        else if (n == 0)
            buf[k++] = '?';
        else if (k + (size_t)n < size) {
            memcpy(buf + k, s, (size_t)n);
            k += (size_t)n;
            s += n - 1;
        } else
            break;
        s++;
    }
    buf[k] = '\0';
    return buf;
}

void pl_header(pl_script *s, const char *what, int width, int height)
{
    char q[600], line[600];
    nl_buf_printf(&s->gp,
                  "# %s\n"
                  "# Written by normlab plot from its templates (plots/style.gp, plots/%s.gp) and\n"
                  "# the results; reads the CSV files it names by column name.\n"
                  "# Render from this directory: gnuplot %s.gp (PNG), or\n"
                  "#   gnuplot -e 'fmt=\"svg\"' %s.gp (SVG; \"pdf\" for PDF)\n"
                  /* normlab renders to a temporary name of its own (nl_plot_render) */
                  "if (!exists(\"fig_name\")) fig_name = %s\nfig_width = %d\nfig_height = %d\n\n"
                  "%s\n%s\n",
                  comment_text(what, line, sizeof line), s->kind, s->name, s->name, pl_q(s->name, q, sizeof q), width, height,
                  pl_template_text(s->templates, "style"), pl_template_text(s->templates, s->kind));
}

nl_code pl_write_kind_data(const pl_script *s, const nl_buf *data, char *file, size_t size, nl_error *err)
{
    snprintf(file, size, "%s.csv", s->name);
    return pl_write_data(s, file, data, err);
}

nl_code pl_write_data(const pl_script *s, const char *file, const nl_buf *data, nl_error *err)
{
    if (data->failed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing %s", file);
    char path[1300];
    nl_path_join(path, sizeof path, s->plots_dir, file);
    return nl_write_atomic(path, data->data ? data->data : "", data->len, err);
}

nl_code pl_finish(pl_script *s, nl_error *err)
{
    nl_buf_printf(&s->gp, "unset output\n");
    const char *problem = s->gp.failed ? NULL : script_problem(&s->gp);
    if (problem)
        return nl_fail(err, NL_ERR_RUNTIME, "%s.gp: the script would hold %s: a string reached it unescaped "
                       "(a bug: please report it)", s->name, problem);
    char file[128];
    snprintf(file, sizeof file, "%s.gp", s->name);
    return pl_write_data(s, file, &s->gp, err);
}

const char *pl_every_complete(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    nl_csv_table t;
    nl_error ignored = {0};
    /* a run's file, from its directory or its sweep's pack (results/store.h) */
    char dir[1300];
    nl_copy_string(dir, sizeof dir, path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if ((slash ? nl_run_csv_read(dir, slash + 1, &t, &ignored) : nl_csv_table_read(path, &t, &ignored)) != NL_OK)
        return buf;
    /* gnuplot counts the data lines from 0 after the header (line 1) */
    if (t.cut_line >= 3 && t.blank_lines == 0)
        snprintf(buf, size, " every ::0::%d", t.cut_line - 3);
    nl_csv_table_free(&t);
    return buf;
}
