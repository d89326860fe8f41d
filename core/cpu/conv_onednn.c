/* fp32 convolutions on oneDNN's primitives (conv_onednn.h).
 *
 * Handed plain NCHW, oneDNN 2.6 falls back to its gemm convolution and is slower than normlab's;
 * in its own channel-blocked layouts (nChw16c and blocked weights on AVX-512) its jit kernels are
 * faster even counting a reorder to and from NCHW around every convolution. So each primitive is
 * created with format_tag any, and each op reorders its NCHW / OIHW operands into the layouts the
 * primitive chose and its results back, inside the op. Where the plan gives the model a channel
 * block (core/plan/layout.c) the activations are already in the block the kernel set's oneDNN
 * takes (nChw16c, nChw8c: the geometry's in_block/out_block): the primitive is held to it and
 * reads and writes them in place, and only the weights are reordered.
 *
 * Everything is created when the model is planned (the workspace op): a small per-backend cache
 * keyed by geometry and batch holds the primitives, reorders and memory objects, whose buffers
 * (the blocked copies and every primitive's scratchpad: scratchpad mode user) lie in the model's
 * planned workspace. A training step at the planned batch allocates nothing. A batch other than a
 * planned one (a last partial batch, an evaluation) has its primitives created and cached at its
 * first use, where its buffers fit the least workspace planned for the geometry; else the op
 * answers false and normlab's path runs (the workspace is planned for both).
 *
 * Layers without a bias still run the primitives with one: a zeroed bias and a discarded bias
 * gradient in the workspace, so that a plan does not depend on what the workspace op is not told.
 *
 * The primitives use the OpenMP runtime normlab's loops use (libgomp) with the backend's threads;
 * oneDNN's direct convolutions add in a fixed order for a given thread count, so reruns repeat bit
 * for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"

#ifdef NORMLAB_HAVE_ONEDNN

#include <dnnl.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *nl_cpu_onednn_version(void)
{
    static char text[48];
    if (!text[0]) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(text, sizeof text, "onednn %d.%d.%d", v->major, v->minor, v->patch);
    }
    return text;
}

/* workspace buffers start on cache lines */
enum { WS_ALIGN = 64 };

static size_t align_up(size_t bytes) { return (bytes + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN; }

/* a primitive and the memory object its scratchpad is handed in (NULL: it
 * needs none) */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t scratch;
} step;

/* One operand of a primitive: the caller's tensor (user, plain layout) and
 * the primitive's view of it (inner: the same object where the layouts
 * agree, else a buffer at `offset` in the workspace with a reorder between
 * them; `sum` adds the inner result into the user's tensor). */
typedef struct {
    dnnl_memory_t user, inner;
    step reorder, sum;
    size_t offset;
} port;

/* the operands of the three primitives */
enum { F_X, F_W, F_B, F_Y, D_DY, D_W, D_DX, W_X, W_DY, W_DW, W_DB, PORT_COUNT };

typedef struct {
    nl_conv_geom g;
    int n;
    bool bf16;                    /* the primitives' operands in bf16 (train.precision bf16) */
    size_t bytes;                 /* the workspace it needs */
    bool unfit;                   /* more than was planned for g: never run (normlab's path is) */
    void *own; /* a blocked batch that was not planned: its buffers (else the caller's workspace) */
    bool dy_shared;               /* both backward primitives read dy in one layout: one copy */
    bool dx_in_place; /* the data gradient's layout is the caller's: written there unless added */
    size_t fwd_scratch, bwd_scratch; /* where the scratchpads go */
    size_t zero_bias, spare_dbias;  /* a layer without a bias: its zeros and its discarded gradient */
    step forward, backward_data, backward_weights;
    port ports[PORT_COUNT];
} conv_entry;

/* room for every implementation name a state meets (a dozen or so) */
enum { KERNELS_BYTES = 320, IMPL_BYTES = 64 };

struct nl_cpu_onednn {
    nl_conv_library choice;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    conv_entry *entries;
    int count, capacity;
    char kernels[KERNELS_BYTES]; /* nl_cpu_onednn_kernels */
};

/* ---- the system's side: the cap, the tiles, the primitives made ---- */

/* Linux 5.16 on (arch/x86/include/uapi/asm/prctl.h): a process asks once for
 * the AMX tile data state, which the kernel otherwise leaves out of its
 * signal frames; asking again is harmless */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static long real_arch_prctl(int code, unsigned long arg)
{
#if defined(__x86_64__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, code, arg);
#else
    (void)code, (void)arg;
    return -1;
#endif
}

static int real_set_max_cpu_isa(int isa) { return (int)dnnl_set_max_cpu_isa((dnnl_cpu_isa_t)isa); }

static const nl_cpu_onednn_system real_system = {nl_cpu_kernels_isa, real_arch_prctl,
                                                 real_set_max_cpu_isa, NULL};
static const nl_cpu_onednn_system *sys = &real_system;

void nl_cpu_onednn_system_set(const nl_cpu_onednn_system *replacement)
{
    sys = replacement ? replacement : &real_system;
}

const char *nl_cpu_onednn_kernels(const nl_cpu_onednn *state)
{
    return state ? state->kernels : NULL;
}

/* adds name to the list unless it is there (a whole entry, not a part) */
static void kernels_add(char *list, const char *name)
{
    const size_t len = strlen(name), used = strlen(list);
    for (const char *at = strstr(list, name); at; at = strstr(at + 1, name))
        if ((at == list || at[-1] == ' ') && (at[len] == ',' || at[len] == '\0'))
            return;
    if (used + len + 3 <= KERNELS_BYTES)
        snprintf(list + used, KERNELS_BYTES - used, "%s%s", used ? ", " : "", name);
}

void nl_cpu_onednn_kernels_note(nl_backend *be, const char *name)
{
    if (be->impl)
        kernels_add(((nl_cpu_onednn *)be->impl)->kernels, name);
}

/* ---- the rule ---- */

static nl_conv_library choice_of(const nl_backend *be)
{
    if (be->impl)
        return ((const nl_cpu_onednn *)be->impl)->choice;
    nl_conv_library choice = NL_CONV_LIBRARY_AUTO;
    nl_error ignored;
    /* a probe backend: the refusal of a bad value comes when one is opened */
    return nl_cpu_conv_library_from_env(&choice, &ignored) == NL_OK ? choice
                                                                     : NL_CONV_LIBRARY_AUTO;
}

static bool blocked(const nl_conv_geom *g) { return g->in_block || g->out_block; }

/* a blocked geometry is oneDNN's alone: normlab's path reads NCHW */
bool nl_cpu_onednn_chosen(const nl_backend *be, const nl_conv_geom *g)
{
    const nl_conv_library choice = choice_of(be);
    return choice == NL_CONV_LIBRARY_ONEDNN ||
           (choice == NL_CONV_LIBRARY_AUTO && (nl_cpu_onednn_rule(g) || blocked(g)));
}

/* The product precisions the primitives run: fp32, and bf16 in a kernel set
 * with AVX512-BF16 (whose own products are vdpbf16ps; the cap lets oneDNN
 * take its avx512_core_bf16 kernels there). bf16 operands are the fp32
 * ones rounded to nearest even by the reorders into the primitives, which
 * accumulate in fp32 and round what they write: train.precision's
 * semantics (conv2d.c), in oneDNN's order of summation. fp16 keeps
 * normlab's path. */
static bool precision_runs(const nl_backend *be)
{
    return be->product_precision == NL_PRECISION_FP32 ||
           (be->product_precision == NL_PRECISION_BF16 &&
            (nl_cpu_kernels_isa() & NL_ISA_BIT(AVX512BF16)));
}

static bool bf16_of(const nl_backend *be) { return be->product_precision == NL_PRECISION_BF16; }

bool nl_cpu_onednn_runs(const nl_backend *be, const nl_conv_geom *g)
{
    return nl_cpu_onednn_chosen(be, g) && precision_runs(be);
}

/* The block of the layout oneDNN's direct kernels take under the kernel
 * set's cap (nl_cpu_onednn_cap_instructions): nChw16c on AVX-512, nChw8c
 * on AVX2; none below, nor where oneDNN does not run the convolutions.
 * None for bf16 on the AMX set either: oneDNN 2.6's AMX convolutions
 * (brgconv, jit:avx512_core_amx, forward and both backward) take only
 * nhwc activations and refuse nChw16c, which then runs on the
 * avx512_core_bf16 kernels, the AVX512-BF16 set's bits exactly; NCHW
 * activations leave the layout to the primitive (nhwc there, reordered). */
int nl_cpu_onednn_block(const nl_backend *be)
{
    if (choice_of(be) == NL_CONV_LIBRARY_NORMLAB || !precision_runs(be))
        return 0;
    const nl_isa_mask isa = nl_cpu_kernels_isa();
    const nl_isa_mask tiles = NL_ISA_BIT(AMX_BF16) | NL_ISA_BIT(AMX_TILE);
    if (bf16_of(be) && (isa & tiles) == tiles)
        return 0;
    const nl_isa_mask avx512 = NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512BW) |
                               NL_ISA_BIT(AVX512DQ) | NL_ISA_BIT(AVX512VL);
    const nl_isa_mask avx2 = NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA);
    return (isa & avx512) == avx512 ? 16 : (isa & avx2) == avx2 ? 8 : 0;
}

/* an activation's tag: NCHW, or the channel-blocked layout of block */
static dnnl_format_tag_t activation_tag(int block)
{
    return block == 16 ? dnnl_aBcd16b : block == 8 ? dnnl_aBcd8b : dnnl_nchw;
}

/* ---- descriptors ---- */

/* storage: its nl_storage, of which a convolution takes bf16 alone
 * (layers/conv2d.c, conv_storage_io) */
static void plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                     dnnl_format_tag_t tag, unsigned storage)
{
    dnnl_memory_desc_init_by_tag(md, ndims, dims, storage == NL_STORAGE_BF16 ? dnnl_bf16 : dnnl_f32,
                                 tag);
}

/* the three operation descriptors of g at batch n, every layout left to
 * the library */
typedef struct {
    dnnl_convolution_desc_t fwd, bwd_data, bwd_weights;
} conv_descs;

static dnnl_status_t describe(const nl_conv_geom *g, int n, dnnl_data_type_t dt, conv_descs *d)
{
    const dnnl_dims_t src = {n, g->in_c, g->in_h, g->in_w};
    const dnnl_dims_t wei = {g->out_c, g->in_c, g->kernel, g->kernel};
    const dnnl_dims_t bia = {g->out_c};
    const dnnl_dims_t dst = {n, g->out_c, g->out_h, g->out_w};
    const dnnl_dims_t strides = {g->stride, g->stride};
    const dnnl_dims_t pad_l = {g->pad, g->pad};
    /* the right padding that gives out_h/out_w (the last window may not reach the edge) */
    const dnnl_dims_t pad_r = {(g->out_h - 1) * g->stride + g->kernel - g->in_h - g->pad,
                               (g->out_w - 1) * g->stride + g->kernel - g->in_w - g->pad};
    dnnl_memory_desc_t s, w, b, o;
    /* a blocked activation is held to its layout, so that the primitive
     * reads and writes it in place; NCHW ones are left to the library */
    dnnl_memory_desc_init_by_tag(&s, 4, src, dt,
                                 g->in_block ? activation_tag(g->in_block) : dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w, 4, wei, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b, 1, bia, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&o, 4, dst, dt,
                                 g->out_block ? activation_tag(g->out_block)
                                              : dnnl_format_tag_any);
    dnnl_status_t st = dnnl_convolution_forward_desc_init(&d->fwd, dnnl_forward_training,
                                                          dnnl_convolution_direct, &s, &w, &b,
                                                          &o, strides, pad_l, pad_r);
    if (st == dnnl_success)
        st = dnnl_convolution_backward_data_desc_init(&d->bwd_data, dnnl_convolution_direct, &s,
                                                      &w, &o, strides, pad_l, pad_r);
    if (st == dnnl_success)
        st = dnnl_convolution_backward_weights_desc_init(&d->bwd_weights,
                                                         dnnl_convolution_direct, &s, &w, &b, &o,
                                                         strides, pad_l, pad_r);
    return st;
}

/* the primitive descriptors; the backward ones take the forward's as hint */
typedef struct {
    dnnl_primitive_desc_t fwd, bwd_data, bwd_weights;
} conv_pds;

static void pds_destroy(conv_pds *p)
{
    dnnl_primitive_desc_destroy(p->fwd);
    dnnl_primitive_desc_destroy(p->bwd_data);
    dnnl_primitive_desc_destroy(p->bwd_weights);
    *p = (conv_pds){0};
}

static dnnl_status_t user_scratchpad(dnnl_primitive_attr_t *attr, float sum)
{
    dnnl_status_t st = dnnl_primitive_attr_create(attr);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (st != dnnl_success || sum == 0.0f)
        return st;
    dnnl_post_ops_t ops;
    st = dnnl_post_ops_create(&ops);
    if (st != dnnl_success)
        return st;
    st = dnnl_post_ops_append_sum(ops, sum);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(*attr, ops);
    dnnl_post_ops_destroy(ops);
    return st;
}

/* the implementation oneDNN picked for pd ("jit:avx512_core_bf16", ...),
 * told to the system's observer */
static void impl_of(const_dnnl_primitive_desc_t pd, char *out)
{
    const char *name = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success ||
        !name)
        name = "?";
    snprintf(out, IMPL_BYTES, "%s", name);
    if (sys->primitive)
        sys->primitive(out);
}

/* the three primitive descriptors, and where impl is given the names of
 * the implementations oneDNN picked for them (forward, backward data,
 * backward weights); the cap comes first, as oneDNN takes it only before
 * its first primitive */
static dnnl_status_t pds_create(dnnl_engine_t engine, const nl_conv_geom *g, int n, bool bf16,
                                conv_pds *p, char (*impl)[IMPL_BYTES])
{
    *p = (conv_pds){0};
    nl_cpu_onednn_cap_instructions();
    conv_descs d;
    dnnl_primitive_attr_t attr;
    dnnl_status_t st = describe(g, n, bf16 ? dnnl_bf16 : dnnl_f32, &d);
    if (st != dnnl_success)
        return st;
    st = user_scratchpad(&attr, 0.0f);
    if (st != dnnl_success)
        return st;
    st = dnnl_primitive_desc_create(&p->fwd, &d.fwd, attr, engine, NULL);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&p->bwd_data, &d.bwd_data, attr, engine, p->fwd);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&p->bwd_weights, &d.bwd_weights, attr, engine, p->fwd);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) {
        pds_destroy(p);
        return st;
    }
    char names[3][IMPL_BYTES];
    const const_dnnl_primitive_desc_t made[3] = {p->fwd, p->bwd_data, p->bwd_weights};
    for (int i = 0; i < 3; i++)
        impl_of(made[i], impl ? impl[i] : names[i]);
    return st;
}

static const dnnl_memory_desc_t *md_of(const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

static size_t scratch_bytes(const_dnnl_primitive_desc_t pd)
{
    return dnnl_memory_desc_get_size(md_of(pd, dnnl_query_scratchpad_md));
}

/* ---- the workspace's layout ---- */

/* Each port's primitive-side query and the pass it belongs to; a port whose
 * layout equals its plain one needs no buffer, except the data gradient, which the
 * primitive writes apart so that it can be added into an accumulating dx. */
typedef struct {
    int pd; /* 0 forward, 1 backward data, 2 backward weights */
    dnnl_query_t query;
    int ndims;
    bool output;
} port_spec;

static const port_spec port_specs[PORT_COUNT] = {
    [F_X] = {0, dnnl_query_src_md, 4, false},
    [F_W] = {0, dnnl_query_weights_md, 4, false},
    [F_B] = {0, dnnl_query_weights_md, 1, false},
    [F_Y] = {0, dnnl_query_dst_md, 4, true},
    [D_DY] = {1, dnnl_query_diff_dst_md, 4, false},
    [D_W] = {1, dnnl_query_weights_md, 4, false},
    [D_DX] = {1, dnnl_query_diff_src_md, 4, true},
    [W_X] = {2, dnnl_query_src_md, 4, false},
    [W_DY] = {2, dnnl_query_diff_dst_md, 4, false},
    [W_DW] = {2, dnnl_query_diff_weights_md, 4, true},
    [W_DB] = {2, dnnl_query_diff_weights_md, 1, true},
};

static const dnnl_memory_desc_t *port_md(const conv_pds *p, int k)
{
    const dnnl_primitive_desc_t pds[3] = {p->fwd, p->bwd_data, p->bwd_weights};
    const port_spec *s = &port_specs[k];
    /* the bias is the second weights operand */
    return dnnl_primitive_desc_query_md(pds[s->pd], s->query, s->ndims == 1 ? 1 : 0);
}

/* the caller's layout of port k's tensor: NCHW or channel-blocked
 * activations (the geometry's blocks) in fp32 or, where the plan stores
 * them so (io), their storage type, which a bf16 primitive then reads or writes in
 * place; OIHW weights, a bias vector */
static void port_plain(const nl_conv_geom *g, int n, int k, dnnl_memory_desc_t *md)
{
    const dnnl_dims_t x = {n, g->in_c, g->in_h, g->in_w};
    const dnnl_dims_t y = {n, g->out_c, g->out_h, g->out_w};
    const dnnl_dims_t w = {g->out_c, g->in_c, g->kernel, g->kernel};
    const dnnl_dims_t b = {g->out_c};
    const unsigned char *io = g->io;
    switch (k) {
    case F_X: case W_X: plain_md(md, 4, x, activation_tag(g->in_block), io[NL_IO_X]); break;
    case D_DX: plain_md(md, 4, x, activation_tag(g->in_block), io[NL_IO_DX]); break;
    case F_Y: plain_md(md, 4, y, activation_tag(g->out_block), io[NL_IO_Y]); break;
    case D_DY: case W_DY:
        plain_md(md, 4, y, activation_tag(g->out_block), io[NL_IO_DY]);
        break;
    case F_W: case D_W: case W_DW: plain_md(md, 4, w, dnnl_oihw, NL_STORAGE_FP32); break;
    default: plain_md(md, 1, b, dnnl_a, NL_STORAGE_FP32); break;
    }
}

static bool port_buffered(const conv_pds *p, const nl_conv_geom *g, int n, int k)
{
    dnnl_memory_desc_t plain;
    port_plain(g, n, k, &plain);
    return k == D_DX || !dnnl_memory_desc_equal(&plain, port_md(p, k));
}

/* Lays the buffers out: the forward's from 0, the backward's from 0 again
 * (the passes never overlap), each pass's scratchpads after its buffers.
 * With `e`, records the offsets in it. Returns the bytes. */
static size_t layout(const conv_pds *p, const nl_conv_geom *g, int n, conv_entry *e)
{
    size_t at[2] = {0, 0}; /* forward, backward */
    const bool dy_shared = dnnl_memory_desc_equal(port_md(p, D_DY), port_md(p, W_DY));
    dnnl_memory_desc_t plain_dx;
    port_plain(g, n, D_DX, &plain_dx);
    if (e) {
        e->dy_shared = dy_shared;
        e->dx_in_place = dnnl_memory_desc_equal(&plain_dx, port_md(p, D_DX));
    }
    for (int k = 0; k < PORT_COUNT; k++) {
        if (!port_buffered(p, g, n, k))
            continue;
        if (k == W_DY && dy_shared) {
            if (e)
                e->ports[W_DY].offset = e->ports[D_DY].offset;
            continue;
        }
        size_t *cursor = &at[port_specs[k].pd != 0];
        if (e)
            e->ports[k].offset = *cursor;
        *cursor += align_up(dnnl_memory_desc_get_size(port_md(p, k)));
    }
    const size_t bias = align_up((size_t)g->out_c * sizeof(float));
    if (e) {
        e->zero_bias = at[0];
        e->spare_dbias = at[1];
    }
    at[0] += bias;
    at[1] += bias;
    const size_t bwd = scratch_bytes(p->bwd_data) > scratch_bytes(p->bwd_weights)
                           ? scratch_bytes(p->bwd_data)
                           : scratch_bytes(p->bwd_weights);
    if (e) {
        e->fwd_scratch = at[0];
        e->bwd_scratch = at[1];
    }
    at[0] += align_up(scratch_bytes(p->fwd));
    at[1] += align_up(bwd);
    /* the reorders' scratchpads (none on the CPU for these layouts) come after */
    return (at[0] > at[1] ? at[0] : at[1]) + WS_ALIGN;
}

/* ---- building an entry ---- */

static dnnl_status_t step_create(dnnl_engine_t engine, const_dnnl_primitive_desc_t pd, step *s)
{
    dnnl_status_t st = dnnl_primitive_create(&s->prim, pd);
    const dnnl_memory_desc_t *scratch = md_of(pd, dnnl_query_scratchpad_md);
    if (st == dnnl_success && dnnl_memory_desc_get_size(scratch) > 0)
        st = dnnl_memory_create(&s->scratch, scratch, engine, DNNL_MEMORY_NONE);
    return st;
}

static void step_destroy(step *s)
{
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    if (s->scratch)
        dnnl_memory_destroy(s->scratch);
    *s = (step){0};
}

/* a reorder from src to dst (sum: 1 adds into dst) */
static dnnl_status_t reorder_create(dnnl_engine_t engine, const dnnl_memory_desc_t *src,
                                    const dnnl_memory_desc_t *dst, float sum, step *s)
{
    dnnl_primitive_attr_t attr;
    dnnl_status_t st = user_scratchpad(&attr, sum);
    if (st != dnnl_success)
        return st;
    dnnl_primitive_desc_t pd;
    st = dnnl_reorder_primitive_desc_create(&pd, src, engine, dst, engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success)
        return st;
    st = step_create(engine, pd, s);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static dnnl_status_t port_create(dnnl_engine_t engine, const conv_pds *p, const nl_conv_geom *g,
                                 int n, int k, port *out)
{
    dnnl_memory_desc_t plain;
    port_plain(g, n, k, &plain);
    const dnnl_memory_desc_t *inner = port_md(p, k);
    dnnl_status_t st = dnnl_memory_create(&out->user, &plain, engine, DNNL_MEMORY_NONE);
    if (st != dnnl_success || !port_buffered(p, g, n, k)) {
        out->inner = out->user;
        return st;
    }
    st = dnnl_memory_create(&out->inner, inner, engine, DNNL_MEMORY_NONE);
    if (st != dnnl_success)
        return st;
    if (!port_specs[k].output)
        return reorder_create(engine, &plain, inner, 0.0f, &out->reorder);
    st = reorder_create(engine, inner, &plain, 0.0f, &out->reorder);
    if (st == dnnl_success && k == D_DX)
        st = reorder_create(engine, inner, &plain, 1.0f, &out->sum);
    return st;
}

static void port_destroy(port *p)
{
    if (p->inner && p->inner != p->user)
        dnnl_memory_destroy(p->inner);
    if (p->user)
        dnnl_memory_destroy(p->user);
    step_destroy(&p->reorder);
    step_destroy(&p->sum);
    *p = (port){0};
}

static void entry_destroy(conv_entry *e)
{
    free(e->own);
    e->own = NULL;
    step_destroy(&e->forward);
    step_destroy(&e->backward_data);
    step_destroy(&e->backward_weights);
    for (int k = 0; k < PORT_COUNT; k++)
        port_destroy(&e->ports[k]);
}

static dnnl_status_t entry_create(dnnl_engine_t engine, const nl_conv_geom *g, int n, bool bf16,
                                  conv_entry *e, char (*impl)[IMPL_BYTES])
{
    *e = (conv_entry){.g = *g, .n = n, .bf16 = bf16};
    conv_pds p;
    dnnl_status_t st = pds_create(engine, g, n, bf16, &p, impl);
    if (st != dnnl_success)
        return st;
    e->bytes = layout(&p, g, n, e);
    st = step_create(engine, p.fwd, &e->forward);
    if (st == dnnl_success)
        st = step_create(engine, p.bwd_data, &e->backward_data);
    if (st == dnnl_success)
        st = step_create(engine, p.bwd_weights, &e->backward_weights);
    for (int k = 0; k < PORT_COUNT && st == dnnl_success; k++)
        st = port_create(engine, &p, g, n, k, &e->ports[k]);
    pds_destroy(&p);
    if (st != dnnl_success)
        entry_destroy(e);
    return st;
}

/* ---- the cache ---- */

static bool same_geom(const nl_conv_geom *a, const nl_conv_geom *b)
{
    return a->in_c == b->in_c && a->in_h == b->in_h && a->in_w == b->in_w &&
           a->out_c == b->out_c && a->out_h == b->out_h && a->out_w == b->out_w &&
           a->kernel == b->kernel && a->stride == b->stride && a->pad == b->pad &&
           a->in_block == b->in_block && a->out_block == b->out_block &&
           memcmp(a->io, b->io, sizeof a->io) == 0;
}

static conv_entry *find(nl_cpu_onednn *s, const nl_conv_geom *g, int n, bool bf16)
{
    for (int i = 0; i < s->count; i++)
        if (s->entries[i].n == n && s->entries[i].bf16 == bf16 && same_geom(&s->entries[i].g, g))
            return &s->entries[i];
    return NULL;
}

/* whether a model planned g on oneDNN (an entry for it at some batch) */
static bool planned(const nl_cpu_onednn *s, const nl_conv_geom *g, bool bf16)
{
    for (int i = 0; i < s->count; i++)
        if (same_geom(&s->entries[i].g, g) && s->entries[i].bf16 == bf16 && !s->entries[i].unfit)
            return true;
    return false;
}

/* creates and keeps g at batch n; NULL where the library or memory refuses */
static conv_entry *add(nl_cpu_onednn *s, const nl_conv_geom *g, int n, bool bf16)
{
    conv_entry *grown = nl_grow(s->entries, s->count, &s->capacity, sizeof *grown, 16);
    if (!grown)
        return NULL;
    s->entries = grown;
    conv_entry *e = &s->entries[s->count++];
    /* one oneDNN would not create is kept as unfit, so that no later step
     * tries again (and allocates) */
    char impl[3][IMPL_BYTES];
    if (entry_create(s->engine, g, n, bf16, e, impl) != dnnl_success) {
        *e = (conv_entry){.g = *g, .n = n, .bf16 = bf16, .unfit = true};
        return e;
    }
    for (int i = 0; i < 3; i++)
        kernels_add(s->kernels, impl[i]);
    return e;
}

/* oneDNN picks its kernels for the CPU it runs on, as OpenBLAS does: each
 * kernel set therefore caps oneDNN's instructions at those it assumes
 * (cpu/host.c pins OpenBLAS's core alike), so that a set, a library and a
 * thread count fix the bits on every CPU that runs the set. The cap holds
 * for the process from its first use of oneDNN on (later calls are
 * refused): called before each first use, a probe backend's included. */
void nl_cpu_onednn_cap_instructions(void)
{
    const nl_isa_mask isa = sys->kernels_isa();
    const nl_isa_mask avx512 = NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512BW) |
                               NL_ISA_BIT(AVX512DQ) | NL_ISA_BIT(AVX512VL);
    const nl_isa_mask avx2 = NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA);
    const bool bf16 = (isa & NL_ISA_BIT(AVX512BF16)) != 0;
    const nl_isa_mask tiles = NL_ISA_BIT(AMX_BF16) | NL_ISA_BIT(AMX_TILE);
    /* Linux's permission for the tile state, then the cap that lets oneDNN
     * onto the tiles, both before its first primitive (pds_create calls
     * this first). isa.c asked too, when it read the CPU; asked again where
     * the cap is decided, a refusal keeps oneDNN below AMX. */
    const bool amx = (isa & avx512) == avx512 && (isa & tiles) == tiles &&
                     sys->arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    const dnnl_cpu_isa_t avx512_cap = amx    ? dnnl_cpu_isa_avx512_core_amx
                                      : bf16 ? dnnl_cpu_isa_avx512_core_bf16
                                             : dnnl_cpu_isa_avx512_core;
    const dnnl_cpu_isa_t cap = (isa & avx512) == avx512 ? avx512_cap
                               : (isa & avx2) == avx2   ? dnnl_cpu_isa_avx2
                                                        : dnnl_cpu_isa_sse41;
    /* refused once oneDNN has picked a kernel: the first cap holds */
    sys->set_max_cpu_isa((int)cap);
}

nl_code nl_cpu_onednn_open(nl_conv_library choice, nl_cpu_onednn **out, nl_error *err)
{
    *out = NULL;
    nl_cpu_onednn_cap_instructions();
    nl_cpu_onednn *s = calloc(1, sizeof *s);
    if (!s)
        return nl_fail(err, NL_ERR_NOMEM, "cannot allocate the oneDNN state");
    s->choice = choice;
    if (choice == NL_CONV_LIBRARY_NORMLAB) {
        *out = s;
        return NL_OK;
    }
    if (dnnl_engine_create(&s->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags) != dnnl_success) {
        nl_cpu_onednn_close(s);
        return nl_fail(err, NL_ERR_RUNTIME, "oneDNN could not open its CPU engine");
    }
    *out = s;
    return NL_OK;
}

void nl_cpu_onednn_close(nl_cpu_onednn *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->count; i++)
        entry_destroy(&s->entries[i]);
    free(s->entries);
    if (s->stream)
        dnnl_stream_destroy(s->stream);
    if (s->engine)
        dnnl_engine_destroy(s->engine);
    free(s);
}

/* a probe backend's question: the bytes, from descriptors alone */
static size_t probe_bytes(const nl_conv_geom *g, int n, bool bf16)
{
    nl_cpu_onednn_cap_instructions();
    dnnl_engine_t engine;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
        return 0;
    conv_pds p;
    size_t bytes = 0;
    if (pds_create(engine, g, n, bf16, &p, NULL) == dnnl_success) {
        bytes = layout(&p, g, n, NULL);
        pds_destroy(&p);
    }
    dnnl_engine_destroy(engine);
    return bytes;
}

size_t nl_cpu_onednn_conv_workspace(nl_backend *be, const nl_conv_geom *g, int n)
{
    nl_cpu_onednn *s = be->impl;
    if (!nl_cpu_onednn_runs(be, g))
        return 0;
    const bool bf16 = bf16_of(be);
    if (!s)
        return probe_bytes(g, n, bf16);
    const conv_entry *e = find(s, g, n, bf16);
    if (!e)
        e = add(s, g, n, bf16);
    return e ? e->bytes : 0;
}

/* the entry for g at batch n where its buffers fit the caller's workspace
 * (workspace_bytes: the model's own, so that whether an evaluation's batch
 * runs here or on normlab's path depends on that model and this CPU alone,
 * not on which models the backend held before: a run started from another
 * run's final model loads that model on the same backend first), created at
 * its first use */
static conv_entry *planned_entry(const nl_backend *be, nl_cpu_onednn *s, const nl_conv_geom *g,
                                 int n, size_t workspace_bytes)
{
    if (!s || !s->engine || !nl_cpu_onednn_runs(be, g))
        return NULL;
    const bool bf16 = bf16_of(be);
    conv_entry *e = find(s, g, n, bf16);
    if (!e) {
        if (!planned(s, g, bf16) && !blocked(g))
            return NULL;
        e = add(s, g, n, bf16);
    }
    if (!e || e->unfit)
        return NULL;
    if (e->own || e->bytes <= workspace_bytes)
        return e;
    /* normlab's path cannot read a blocked layout: a batch that was not
     * planned (an evaluation's last, smaller one) gets buffers of its own,
     * once, at its first use */
    if (blocked(g) && (e->own = aligned_alloc(WS_ALIGN, align_up(e->bytes))))
        return e;
    /* kept (found, not created again, at the next use) but not marked
     * unfit: a model with a larger workspace runs it here */
    return NULL;
}

/* the entry that runs g at batch n, or NULL where normlab's path must:
 * counted where the choice gave g to oneDNN (fp16 products, or bf16 under
 * a kernel set without AVX512-BF16, included) */
static conv_entry *entry_for(nl_backend *be, const nl_conv_geom *g, int n,
                             size_t workspace_bytes)
{
    conv_entry *e = planned_entry(be, be->impl, g, n, workspace_bytes);
    if (!e && nl_cpu_onednn_chosen(be, g))
        be->conv_fallbacks++;
    return e;
}

/* ---- running ---- */

static void bind(port *p, const void *user, char *workspace)
{
    dnnl_memory_set_data_handle(p->user, (void *)user);
    if (p->inner != p->user)
        dnnl_memory_set_data_handle(p->inner, workspace + p->offset);
}

/* Runs s with args (room for one more: the scratchpad). The ops return
 * nothing: a primitive that was created runs on the CPU engine without a
 * failure left to report (oneDNN checks its arguments at creation). */
static void run(nl_cpu_onednn *state, const step *s, dnnl_exec_arg_t *args, int nargs,
                char *scratch)
{
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, scratch);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    dnnl_primitive_execute(s->prim, state->stream, nargs, args);
}

/* copies an input port into the primitive's layout */
static void port_in(nl_cpu_onednn *state, port *p, char *scratch)
{
    if (p->inner == p->user)
        return;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->inner}};
    run(state, &p->reorder, args, 2, scratch);
}

/* writes an output port back to the caller's layout (accumulate: added) */
static void port_out(nl_cpu_onednn *state, port *p, bool accumulate, char *scratch)
{
    if (p->inner == p->user)
        return;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, p->inner}, {DNNL_ARG_TO, p->user}};
    run(state, accumulate ? &p->sum : &p->reorder, args, 2, scratch);
}

bool nl_cpu_onednn_conv_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                                const float *weight, const float *bias, float *y,
                                void *workspace, size_t workspace_bytes)
{
    conv_entry *e = entry_for(be, g, n, workspace_bytes);
    if (!e)
        return false;
    nl_cpu_onednn *s = be->impl;
    char *ws = e->own ? e->own : workspace, *scratch = ws + e->fwd_scratch;
    port *p = e->ports;
    if (!bias) {
        memset(ws + e->zero_bias, 0, (size_t)g->out_c * sizeof(float));
        bias = (const float *)(ws + e->zero_bias);
    }
    bind(&p[F_X], x, ws);
    bind(&p[F_W], weight, ws);
    bind(&p[F_B], bias, ws);
    bind(&p[F_Y], y, ws);
    port_in(s, &p[F_X], scratch);
    port_in(s, &p[F_W], scratch);
    port_in(s, &p[F_B], scratch);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, p[F_X].inner},
                               {DNNL_ARG_WEIGHTS, p[F_W].inner},
                               {DNNL_ARG_BIAS, p[F_B].inner},
                               {DNNL_ARG_DST, p[F_Y].inner}};
    run(s, &e->forward, args, 4, scratch);
    port_out(s, &p[F_Y], false, scratch);
    dnnl_stream_wait(s->stream);
    return true;
}

static void backward_data(nl_cpu_onednn *s, conv_entry *e, const float *weight, float *dx,
                          bool accumulate_dx, char *ws)
{
    char *scratch = ws + e->bwd_scratch;
    port *p = e->ports;
    bind(&p[D_W], weight, ws);
    bind(&p[D_DX], dx, ws);
    port_in(s, &p[D_W], scratch);
    /* the data gradient goes apart only to be added, or reordered */
    const bool direct = !accumulate_dx && e->dx_in_place;
    if (direct)
        dnnl_memory_set_data_handle(p[D_DX].inner, dx);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, p[D_DY].inner},
                               {DNNL_ARG_WEIGHTS, p[D_W].inner},
                               {DNNL_ARG_DIFF_SRC, p[D_DX].inner}};
    run(s, &e->backward_data, args, 3, scratch);
    if (!direct)
        port_out(s, &p[D_DX], accumulate_dx, scratch);
}

static void backward_weights(nl_cpu_onednn *s, conv_entry *e, const float *x, float *dweight,
                             float *dbias, char *ws)
{
    char *scratch = ws + e->bwd_scratch;
    port *p = e->ports;
    bind(&p[W_X], x, ws);
    bind(&p[W_DW], dweight, ws);
    bind(&p[W_DB], dbias ? (void *)dbias : (void *)(ws + e->spare_dbias), ws);
    port_in(s, &p[W_X], scratch);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, p[W_X].inner},
                               {DNNL_ARG_DIFF_DST, p[W_DY].inner},
                               {DNNL_ARG_DIFF_WEIGHTS, p[W_DW].inner},
                               {DNNL_ARG_DIFF_BIAS, p[W_DB].inner}};
    run(s, &e->backward_weights, args, 4, scratch);
    port_out(s, &p[W_DW], false, scratch);
    port_out(s, &p[W_DB], false, scratch);
}

bool nl_cpu_onednn_conv_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                                 const float *weight, const float *dy, float *dx,
                                 bool accumulate_dx, float *dweight, float *dbias,
                                 void *workspace, size_t workspace_bytes)
{
    conv_entry *e = entry_for(be, g, n, workspace_bytes);
    if (!e)
        return false;
    nl_cpu_onednn *s = be->impl;
    char *ws = e->own ? e->own : workspace, *scratch = ws + e->bwd_scratch;
    port *p = e->ports;
    /* dy once into each layout the two primitives want (one copy where they agree) */
    bind(&p[D_DY], dy, ws);
    port_in(s, &p[D_DY], scratch);
    bind(&p[W_DY], dy, ws);
    if (!e->dy_shared)
        port_in(s, &p[W_DY], scratch);
    if (dx)
        backward_data(s, e, weight, dx, accumulate_dx, ws);
    backward_weights(s, e, x, dweight, dbias, ws);
    dnnl_stream_wait(s->stream);
    return true;
}

#endif
