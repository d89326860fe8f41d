/* Shapes and activations. Data are float32, NCHW for images; feature vectors
 * are (N, D) and stored as C = D, H = W = 1 with ndim 2, so every kernel sees
 * one layout. Token sequences are (N, T, D) with ndim 3, recorded as C = D,
 * H = T, W = 1 but laid out token-major, not as NCHW: token (i, t) is the
 * row of D floats at (i*T + t)*D (see backend.h), so ops over the last axis
 * see N*T rows. Pointers are device pointers of the model's backend. */
#ifndef NL_TENSOR_H
#define NL_TENSOR_H

#include <stddef.h>

typedef struct {
    int n; /* capacity: the largest batch the model was planned for */
    int c, h, w;
    int ndim; /* 2: (N, D=c); 3: (N, T=h, D=c), w = 1; 4: (N, C, H, W) */
    /* images only: 0 is NCHW; B > 0 the channel-blocked layout of oneDNN's
     * convolutions (nChw16c for B = 16), (N, C/B, H, W, B), c a multiple of
     * B (model.layout: blocked). Layers that read a blocked activation say
     * so (nl_layer_vtable.takes_blocked); the builder refuses the others. */
    int block;
} nl_shape;

static inline size_t nl_shape_per_sample(nl_shape s) { return (size_t)s.c * s.h * s.w; }
static inline size_t nl_shape_count(nl_shape s) { return (size_t)s.n * nl_shape_per_sample(s); }
/* Ops over the last axis see rows_per_sample rows per sample (T for token
 * sequences, 1 otherwise), and the norm family's planes of a channel hold
 * plane values per row (1 for tokens and feature vectors, H*W for images). */
static inline int nl_shape_rows_per_sample(nl_shape s) { return s.ndim == 3 ? s.h : 1; }
static inline int nl_shape_plane(nl_shape s) { return s.ndim == 3 ? 1 : s.h * s.w; }

/* an activation and its gradient, planned when the model is built */
typedef struct nl_act {
    char name[64];
    nl_shape shape;
    float *data;
    float *grad;      /* NULL where no gradient flows (the input batch) */
    int needs_grad;   /* planner: allocate grad */
    struct nl_act *alias_of; /* flatten: same storage as another activation */
    int consumers;    /* planner: how many layers read it */
} nl_act;

#endif
