/* The parts every script shares: the start (its size and the templates
 * that set the output format and the look), and writing the script and
 * its data. */
#include <string.h>

#include "plot/internal.h"

const char *pl_q(const char *s, char *buf, size_t size)
{
    size_t k = 0;
    if (size < 3)
        return "\"\"";
    buf[k++] = '"';
    for (; *s && k + 4 < size; s++) {
        if (*s == '"' || *s == '\\') {
            buf[k++] = '\\';
            buf[k++] = *s;
        } else if (*s == '\n') {
            buf[k++] = '\\';
            buf[k++] = 'n';
        } else {
            buf[k++] = *s;
        }
    }
    buf[k++] = '"';
    buf[k] = '\0';
    return buf;
}

void pl_header(pl_script *s, const char *what, int width, int height)
{
    char q[600];
    nl_buf_printf(&s->gp,
                  "# %s\n"
                  "# Written by normlab plot from its templates (plots/style.gp, plots/%s.gp) and\n"
                  "# the results; reads the CSV files it names by column name.\n"
                  "# Render from this directory: gnuplot %s.gp (PNG), or\n"
                  "#   gnuplot -e 'fmt=\"svg\"' %s.gp (SVG; \"pdf\" for PDF)\n"
                  /* normlab renders to a temporary name of its own (nl_plot_render) */
                  "if (!exists(\"fig_name\")) fig_name = %s\nfig_width = %d\nfig_height = %d\n\n"
                  "%s\n%s\n",
                  what, s->kind, s->name, s->name, pl_q(s->name, q, sizeof q), width, height,
                  pl_template_text(s->templates, "style"), pl_template_text(s->templates, s->kind));
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
    char file[128];
    snprintf(file, sizeof file, "%s.gp", s->name);
    return pl_write_data(s, file, &s->gp, err);
}
