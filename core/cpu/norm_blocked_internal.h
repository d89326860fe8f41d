/* What the blocked normalizers' forward (norm_blocked.c) and backward
 * (norm_blocked_backward.c) share: the layout's indexing and the sums pass.
 * It includes no norm_blocked.h, which is norm_blocked.c's module. */
#ifndef NL_CPU_NORM_BLOCKED_INTERNAL_H
#define NL_CPU_NORM_BLOCKED_INTERNAL_H

#include <assert.h>

#include "backend/backend.h"

enum {
    LANES = 8,                       /* floats per vector */
    BLOCK_MAX = 64,                  /* the largest block B */
    VECTORS_MAX = BLOCK_MAX / LANES, /* vectors per pixel */
    PIXEL_CHUNK = 32,                /* pixels per float partial: 8 per phase */
    PANEL = 512,                     /* channels of the per-channel stack arrays */
};

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

typedef struct {
    int n, c, hw, B;
    int nb;          /* channel blocks per sample */
    int groups, cpg; /* cpg: channels per statistics group (groups >= 1) */
} layout;

static inline layout layout_of(const nl_norm_geom *g)
{
    assert(g->block > 0 && g->block % LANES == 0 && g->block <= BLOCK_MAX &&
           g->c % g->block == 0 && "a block is a multiple of 8 that divides C");
    assert(g->stats_precision == NL_PRECISION_FP32 && "blocked statistics are fp32");
    assert((g->groups == 0 || g->c % g->groups == 0) && "groups divide C");
    return (layout){g->n, g->c, g->hw, g->block, g->c / g->block, g->groups,
                    g->groups ? g->c / g->groups : 0};
}

/* the first float of item (i, cb), item index i * nb + cb */
static inline size_t item_at(const layout *L, long item)
{
    return (size_t)item * (size_t)L->hw * (size_t)L->B;
}

/* value (i, c, p) */
static inline size_t value_at(const layout *L, int i, int c, int p)
{
    return (((size_t)i * L->nb + (size_t)(c / L->B)) * L->hw + (size_t)p) * L->B +
           (size_t)(c % L->B);
}

/* the statistics group of channel c in sample i */
static inline long stat_of(const layout *L, int i, int c)
{
    return L->groups == 0 ? c : (long)i * L->groups + c / L->cpg;
}

/* What the sums of channel c in sample i are taken about: STATS, a value of
 * its statistics group, the one the plain kernels shift by (batch: the
 * channel's first value in sample 0; groups: the group's first value in
 * this sample; 0 without centring); PLANE, the plane's first value; MEAN,
 * the saved mean (the backward's sums of dy * (x - mean)). */
typedef enum { SHIFT_STATS, SHIFT_PLANE, SHIFT_MEAN } shift_kind;

/* The sums of the items of samples [i0, i1) and channel blocks [b0, b1)
 * into part: entry (i - i0) * width + (c - b0 * B), width = (b1 - b0) * B,
 * two doubles each: the sums of (x - shift) and (x - shift)^2, or with dy
 * of g and g * (x - shift) (item_sums). */
void nl_cpu_blocked_tile_sums(const layout *L, const nl_norm_geom *g, shift_kind kind, int i0,
                              int i1, int b0, int b1, const float *x, const float *dy,
                              const float *y, const float *save_mean, double *part);

/* the samples a tile of per-sample groups takes (norm_blocked.c says why) */
int nl_cpu_blocked_cached_samples(const layout *L);

/* per channel of blocks [b0, b1): the sums over every sample, in sample
 * order, into total (two per channel), through part (entries of it) in
 * tiles of samples */
void nl_cpu_blocked_channel_totals(const layout *L, const nl_norm_geom *g, shift_kind kind, int b0,
                                   int b1, const float *x, const float *dy, const float *y,
                                   const float *save_mean, double *part, size_t entries,
                                   double *total);

#endif
