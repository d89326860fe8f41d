/* Shapes. Data are float32, NCHW for images; feature vectors are (N, D)
 * and stored as C = D, H = W = 1 with ndim 2, so every kernel sees one
 * layout. Token sequences are (N, T, D) with ndim 3, recorded as C = D,
 * H = T, W = 1 but laid out token-major, not as NCHW: token (i, t) is the
 * row of D floats at (i*T + t)*D (see backend.h), so ops over the last axis
 * see N*T rows. On the backend floor, below the layers that hold them
 * (layers/tensor.h) and the kernels that read the channel-blocked layout,
 * so that both take its index from one place (nl_plane_of). */
#ifndef NL_BACKEND_SHAPE_H
#define NL_BACKEND_SHAPE_H

#include <stddef.h>

#include "base/storage.h"

typedef struct {
    int n; /* capacity: the largest batch the model was planned for */
    int c, h, w;
    int ndim; /* 2: (N, D=c); 3: (N, T=h, D=c), w = 1; 4: (N, C, H, W) */
    /* images only: 0 is NCHW; B > 0 the channel-blocked layout of oneDNN's
     * convolutions (nChw16c for B = 16), (N, C/B, H, W, B), c a multiple of
     * B (the plan's channel block: core/plan/layout.c), indexed by nl_plane_of. Layers that read a
     * blocked activation run a family of kernels their device runs on the
     * block (nl_layer_vtable.family, backend_ops.def: runs); the layout
     * pass reorders a blocked input of any other to NCHW. */
    int block;
    /* the storage type (nl_storage, base/storage.h) of its values and of
     * its gradient: fp32 (0), or a 16-bit type (words in the same layout)
     * where the plan's precision pass (core/plan/precision.c) found every
     * reader and writer of them rounding to that type anyway, so the
     * stored values are the same numbers. Blocked activations alone. */
    unsigned char value_store, grad_store;
} nl_shape;

/* a kernel's operands, the index of each one's storage type in its
 * geometry's io (backend.h) */
enum { NL_IO_X, NL_IO_Y, NL_IO_DX, NL_IO_DY, NL_IO_OPERANDS };
#define NL_IO_MASK(k) (1u << (k))

static inline size_t nl_shape_per_sample(nl_shape s) { return (size_t)s.c * s.h * s.w; }
static inline size_t nl_shape_count(nl_shape s) { return (size_t)s.n * nl_shape_per_sample(s); }
/* Ops over the last axis see rows_per_sample rows per sample (T for token
 * sequences, 1 otherwise), and the norm family's planes of a channel hold
 * plane values per row (1 for tokens and feature vectors, H*W for images). */
static inline int nl_shape_rows_per_sample(nl_shape s) { return s.ndim == 3 ? s.h : 1; }
static inline int nl_shape_plane(nl_shape s) { return s.ndim == 3 ? 1 : s.h * s.w; }

/* Where plane nc (sample nc / c, channel nc % c) of a tensor of c channels
 * of hw values lies: value p of it at first + p * step, in (N, C, HW)
 * (block 0, step 1) or in the channel-blocked (N, C/B, HW, B) of
 * nl_shape.block (step B): the one place the blocked index is written.
 * Plain loops that read a plane through it in pixel order take its sums in
 * the same order whatever the layout. */
typedef struct {
    size_t first, step;
} nl_plane_at;

static inline nl_plane_at nl_plane_of(int c, int hw, int block, long nc)
{
    if (!block)
        return (nl_plane_at){(size_t)nc * hw, 1};
    const long i = nc / c;
    const int ch = (int)(nc % c);
    return (nl_plane_at){((size_t)i * (c / block) + ch / block) * hw * block + ch % block,
                         (size_t)block};
}

#endif
