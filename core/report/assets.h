/* normlab report's page assets (core/report/assets: report.css and
 * the script's pieces report.N-PART.js, run in the order of their names),
 * built into the binary by core/plot/embed_templates.cmake, sorted by name. */
#ifndef NL_REPORT_ASSETS_H
#define NL_REPORT_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *name; /* the file name: "report.css" */
    const char *text;
    size_t len;
} nl_report_asset;

extern const nl_report_asset nl_report_assets[];
extern const int nl_n_report_assets;

#endif
