/* Which library runs the CPU's fp32 convolutions: normlab's own
 * (conv2d.c: im2col + sgemm, winograd.c) or oneDNN's convolution
 * primitives (conv_onednn.c); the choice, auto's rule and the record are
 * conv_library.c's. Compiled once per process, not per kernel set:
 * oneDNN picks its own instructions for the CPU it runs on. */
#ifndef NL_CPU_CONV_ONEDNN_H
#define NL_CPU_CONV_ONEDNN_H

#include "backend/backend.h"
#include "cpu/isa.h"

/* NORMLAB_CONV: auto (the rule of nl_cpu_onednn_rule), normlab, onednn */
typedef enum {
    NL_CONV_LIBRARY_AUTO,
    NL_CONV_LIBRARY_NORMLAB,
    NL_CONV_LIBRARY_ONEDNN,
    NL_CONV_LIBRARY_COUNT
} nl_conv_library;

/* the choice NORMLAB_CONV asks for (unset or empty: auto); a value that is
 * not one of the names, or onednn in a build without it, is NL_ERR_USAGE */
nl_code nl_cpu_conv_library_from_env(nl_conv_library *out, nl_error *err);
/* the choice that runs: the chosen one, or normlab in a build without oneDNN */
nl_conv_library nl_cpu_conv_library_in_effect(nl_conv_library choice);
/* a choice's NORMLAB_CONV name */
const char *nl_cpu_conv_library_name(nl_conv_library choice);
/* auto's rule: whether oneDNN runs geometry g where it is not blocked */
bool nl_cpu_onednn_rule(const nl_conv_geom *g);
/* "onednn 2.6.3" (the library loaded), NULL in a build without oneDNN */
const char *nl_cpu_onednn_version(void);
/* caps oneDNN's instructions at the chosen kernel set's (avx512_core_amx,
 * avx512_core_bf16, avx512_core, avx2, sse41), so that a set, a library and
 * a thread count fix the bits on every CPU that runs the set; holds from
 * the process's first use of oneDNN on, so called before it (the backend's
 * open, products.c's first sgemm, every primitive's creation). In a set
 * with AMX it first asks Linux for the tile state, without which the tiles
 * fault; the cap stays below AMX where Linux refuses. */
void nl_cpu_onednn_cap_instructions(void);

/* The calls nl_cpu_onednn_cap_instructions and the primitives make, in
 * their order: the chosen set's instructions (nl_cpu_kernels_isa); for a
 * set with AMX, arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) (0:
 * granted); dnnl_set_max_cpu_isa (a dnnl_cpu_isa_t; 0: taken); then each
 * convolution primitive oneDNN makes, with the implementation it picked
 * ("brg:avx512_core_amx_bf16", "jit:avx512_core_bf16", ...), where
 * `primitive` is set. Tests put stubs in their place to follow that order
 * on any CPU; NULL puts the real calls back. Set it before oneDNN's first
 * use and not while other threads use it. */
typedef struct {
    nl_isa_mask (*kernels_isa)(void);
    long (*arch_prctl)(int code, unsigned long arg);
    int (*set_max_cpu_isa)(int isa);
    void (*primitive)(const char *impl);
} nl_cpu_onednn_system;
void nl_cpu_onednn_system_set(const nl_cpu_onednn_system *sys);
/* what a run with this choice records (summary.json's conv_library,
 * checkpoints, --version): "normlab", "onednn 2.6.3", or auto's "auto:
 * onednn 2.6.3 where ..." naming its rule; it fits NL_CONV_LIBRARY_RECORD_BYTES */
enum { NL_CONV_LIBRARY_RECORD_BYTES = 96 };
const char *nl_cpu_conv_library_record(nl_conv_library choice, char *buf, size_t size);

/* A backend's oneDNN state (be->impl of a CPU backend): its engine, stream
 * and the primitives of every convolution planned. */
typedef struct nl_cpu_onednn nl_cpu_onednn;
nl_code nl_cpu_onednn_open(nl_conv_library choice, nl_cpu_onednn **out, nl_error *err);
void nl_cpu_onednn_close(nl_cpu_onednn *state);
/* The implementations oneDNN picked for the convolutions planned on this
 * state so far (forward, backward data, backward weights: "jit:avx512_core",
 * "brg:avx512_core_amx_bf16", ...), each name once, in the order first
 * met, separated by ", " (be->conv_kernels, summary.json's conv_kernels):
 * what shows whether the AMX set's convolutions ran on the tiles. "" where
 * none was planned, NULL without a state. */
const char *nl_cpu_onednn_kernels(const nl_cpu_onednn *state);
/* adds a kernel of normlab's own that runs some of be's planned
 * convolutions in place of oneDNN's (once, in the same list); nothing on
 * a probe backend or in a build without oneDNN */
void nl_cpu_onednn_kernels_note(nl_backend *be, const char *name);
/* the name winograd_blocked.c's convolutions are listed under */
#define NL_CPU_WINOGRAD_BLOCKED_KERNEL "normlab:winograd_f23"
/* and those whose forward and data gradient winograd_blocked_f43.c runs
 * (their weight gradient winograd_blocked.c's) */
#define NL_CPU_WINOGRAD_F43_BLOCKED_KERNEL "normlab:winograd_f43"


/* Whether NORMLAB_CONV's choice (auto's rule, or onednn) gives geometry g
 * to oneDNN on backend be (a probe backend without state answers from
 * NORMLAB_CONV), and whether it runs there: fp32 products, and bf16 under
 * a kernel set with AVX512-BF16; fp16 keeps normlab's path (a convolution
 * chosen that does not run counts in be->conv_fallbacks). */
bool nl_cpu_onednn_chosen(const nl_backend *be, const nl_conv_geom *g);
bool nl_cpu_onednn_runs(const nl_backend *be, const nl_conv_geom *g);
/* The channel block (16 on AVX-512, 8 on AVX2) of the layout oneDNN's
 * kernels read in place on be, the channel block the plan may give a model; 0 where oneDNN
 * does not run be's convolutions. A geometry with a block (in_block,
 * out_block) is oneDNN's alone, whatever the rule. */
int nl_cpu_onednn_block(const nl_backend *be);
/* Plans g at batch n on be: its primitives are created and kept (a probe
 * backend only measures them); returns the workspace bytes they need, 0
 * where oneDNN cannot run g (the caller keeps normlab's path). */
size_t nl_cpu_onednn_conv_workspace(nl_backend *be, const nl_conv_geom *g, int n);
/* The ops on NCHW tensors, or channel-blocked ones where the geometry says
 * so (read and written in place, no reorder); false where g was not planned
 * on oneDNN (or a batch other than a planned one needs more than the
 * workspace_bytes the caller holds): the caller runs normlab's path. A
 * blocked geometry is never refused for its workspace: an unplanned batch
 * gets buffers of its own. */
bool nl_cpu_onednn_conv_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                                const float *weight, const float *bias, float *y,
                                void *workspace, size_t workspace_bytes);
bool nl_cpu_onednn_conv_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                                 const float *weight, const float *dy, float *dx,
                                 bool accumulate_dx, float *dweight, float *dbias,
                                 void *workspace, size_t workspace_bytes);

#endif
