/* The parts every script shares: the output (PNG or SVG, chosen by the
 * variable fmt), the look, and writing the script and its data. */
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

/* PDF: a point per PNG pixel; pdfcairo's line width unit is half a point
 * and its fonts are scaled by 0.5 unless told otherwise, so linewidth 2 and
 * fontscale 1 keep the PNG's proportions */
void pl_header(pl_script *s, const char *what, int width, int height)
{
    nl_buf *b = &s->gp;
    nl_buf_printf(b,
                  "# %s\n"
                  "# Written by normlab plot. Reads the CSV files it names by column name.\n"
                  "# Render from this directory: gnuplot %s.gp (PNG), or\n"
                  "#   gnuplot -e 'fmt=\"svg\"' %s.gp (SVG; \"pdf\" for PDF)\n"
                  "if (!exists(\"fmt\")) fmt = \"png\"\n"
                  "if (fmt eq \"svg\") {\n"
                  "    set terminal svg size %d,%d dynamic font \"Sans,12\" background rgb \"white\"\n"
                  "} else { if (fmt eq \"pdf\") {\n"
                  "    set terminal pdfcairo size %.2fin,%.2fin font \"Sans,11\" fontscale 1 linewidth 2 background rgb \"white\"\n"
                  "} else {\n"
                  "    set terminal pngcairo size %d,%d font \"Sans,11\" background rgb \"white\"\n"
                  "} }\n"
                  "set output \"%s.\".fmt\n"
                  "set termoption noenhanced\n"
                  "set datafile separator comma\n"
                  "set border lc rgb \"#444444\"\n"
                  "set grid lc rgb \"#e0e0e0\" lt 1\n"
                  "set key opaque box lc rgb \"#cccccc\" samplen 2.5 spacing 1.1\n"
                  "set style fill transparent solid 0.18 noborder\n",
                  what, s->name, s->name, width, height, width / 72.0, height / 72.0, width, height, s->name);
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
