/* The gnuplot templates of plots/ (style.gp and one per plot kind), built
 * into the binary by core/plot/embed_templates.cmake, or edited copies read
 * from a directory (normlab plot --templates DIR). */
#ifndef NL_PLOT_TEMPLATES_H
#define NL_PLOT_TEMPLATES_H

#include <stddef.h>

#include "base/status.h"

typedef struct {
    const char *name; /* "style", "curves", ...: the file name without .gp */
    const char *text;
    size_t len;
} pl_template;

extern const pl_template pl_builtin_templates[];
extern const int pl_n_builtin_templates;

#define PL_MAX_TEMPLATES 32

/* the templates a plot run uses: the built-in ones, each replaced by
 * DIR/NAME.gp where that exists */
typedef struct {
    pl_template items[PL_MAX_TEMPLATES];
    char *owned[PL_MAX_TEMPLATES]; /* texts read from the directory */
    int n;
} pl_templates;

/* dir NULL: the built-in ones. A directory that does not exist, or holds
 * none of the templates, is an NL_ERR_USAGE error naming the accepted files. */
nl_code pl_templates_load(const char *dir, pl_templates *t, nl_error *err);
void pl_templates_free(pl_templates *t);
/* the template's text; "" when there is none of that name */
const char *pl_template_text(const pl_templates *t, const char *name);
/* writes the built-in templates into dir (made when missing), for editing */
nl_code pl_templates_write(const char *dir, nl_error *err);

#endif
