/* A formula's plan as one buffer a GPU reads (backend/formula_program.h's
 * nl_formula_image_layout): the graphs' node tables and row programs,
 * copied as the host lays them out, for the CUDA backend's program runner
 * (core/cuda/formula.cu), which is handed the buffer on the device. */
#include <string.h>

#include "norm/formula.h"

static void put(unsigned char *out, size_t at, const void *what, size_t bytes)
{
    if (bytes)
        memcpy(out + at, what, bytes);
}

void nl_formula_plan_image(const nl_formula_plan *p, void *out)
{
    const nl_formula_image im = nl_formula_image_layout(p);
    unsigned char *o = out;
    memset(o, 0, im.bytes);
    for (int k = 0; k < 2; k++) {
        const nl_fgraph *g = k ? &p->eval : &p->train;
        const nl_fgraph_image *gi = &im.graph[k];
        const size_t count = (size_t)(g->count > 0 ? g->count : 0);
        put(o, gi->nodes, g->nodes, count * sizeof *g->nodes);
        put(o, gi->offset, g->offset, count * sizeof *g->offset);
        put(o, gi->in_saved, g->in_saved, count * sizeof *g->in_saved);
        put(o, gi->acc_offset, g->acc_offset, count * sizeof *g->acc_offset);
        put(o, gi->rows[0], g->forward.rows, (size_t)g->forward.n_rows * sizeof *g->forward.rows);
        put(o, gi->rows[1], g->backward.rows, (size_t)g->backward.n_rows * sizeof *g->backward.rows);
    }
}
