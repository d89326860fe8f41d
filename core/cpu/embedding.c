/* Token + position embedding. The backward's scatter-add keeps the op's
 * order (backend.h) on any thread count: the positions are counting-sorted
 * by token (stable, so each token's positions stay increasing), then each
 * thread owns whole rows of the table and adds their positions in order. */
#include <string.h>

#include "cpu/cpu.h"

void nl_cpu_embedding_forward(nl_backend *be, int n, int t, int d, const int32_t *tokens,
                              const float *token_table, const float *pos_table, float *y)
{
    (void)be;
    const long rows = (long)n * t;
    NL_PARALLEL_FOR_IF(rows * d >= NL_PARALLEL_MIN,
    for (long p = 0; p < rows; p++) {
        const float *e = token_table + (size_t)tokens[p] * d;
        float *out = y + (size_t)p * d;
        if (pos_table) {
            const float *pos = pos_table + (size_t)(p % t) * d;
            for (int j = 0; j < d; j++)
                out[j] = e[j] + pos[j];
        } else {
            memcpy(out, e, (size_t)d * sizeof *out);
        }
    }
    );
}

size_t nl_cpu_embedding_backward_workspace(nl_backend *be, int n, int t, int vocab)
{
    (void)be;
    /* the sorted positions and each token's first index into them */
    return ((size_t)n * t + (size_t)vocab + 1) * sizeof(int32_t);
}

void nl_cpu_embedding_backward(nl_backend *be, int n, int t, int d, int vocab,
                               const int32_t *tokens, const float *dy, float *dtoken_table,
                               bool accumulate_dtoken, float *dpos_table, void *workspace)
{
    (void)be;
    const long rows = (long)n * t;
    int32_t *sorted = workspace, *start = sorted + rows;
    memset(start, 0, ((size_t)vocab + 1) * sizeof *start);
    for (long p = 0; p < rows; p++)
        start[tokens[p] + 1]++;
    for (int v = 0; v < vocab; v++)
        start[v + 1] += start[v];
    /* start[v] is token v's next free slot while filling; shifted back after */
    for (long p = 0; p < rows; p++)
        sorted[start[tokens[p]]++] = (int32_t)p;
    for (int v = vocab; v > 0; v--)
        start[v] = start[v - 1];
    start[0] = 0;

    NL_PARALLEL_FOR_IF(rows * d >= NL_PARALLEL_MIN,
    for (int v = 0; v < vocab; v++) {
        float *row = dtoken_table + (size_t)v * d;
        if (!accumulate_dtoken)
            memset(row, 0, (size_t)d * sizeof *row);
        for (int32_t at = start[v]; at < start[v + 1]; at++) {
            const float *g = dy + (size_t)sorted[at] * d;
            for (int j = 0; j < d; j++)
                row[j] += g[j];
        }
    }
    );
    if (!dpos_table)
        return;
    NL_PARALLEL_FOR_IF(rows * d >= NL_PARALLEL_MIN,
    for (int s = 0; s < t; s++) {
        float *row = dpos_table + (size_t)s * d;
        memset(row, 0, (size_t)d * sizeof *row);
        for (int i = 0; i < n; i++) {
            const float *g = dy + ((size_t)i * t + s) * d;
            for (int j = 0; j < d; j++)
                row[j] += g[j];
        }
    }
    );
}
