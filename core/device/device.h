/* Opening a backend: the factory that picks the CPU backend (core/cpu) or
 * the CUDA one (core/cuda) for a device, and the probe that plans a model's
 * memory without either. It sits above both backends, so that they and
 * everything that only runs ops (layers, normalizers) depend on the ops
 * interface (backend/backend.h) alone, and only device.c knows the backends
 * there are. */
#ifndef NL_DEVICE_H
#define NL_DEVICE_H

#include <stddef.h>

#include "backend/backend.h"
#include "base/names.h"
#include "base/status.h"

/* Opens a backend; opt NULL means the defaults. CUDA is an error in a build
 * without it. */
nl_code nl_backend_open(nl_device device, const nl_backend_options *opt, nl_backend **out,
                        nl_error *err);
void nl_backend_close(nl_backend *be);

/* A backend that only answers shape questions (workspace sizes for
 * `threads` host threads, at product precision `precision`, and the CPU's
 * channel block): for planning a model's memory without opening a device.
 * It allocates nothing and must not run ops or be closed. */
nl_backend nl_backend_probe(int threads, nl_precision precision);
/* The probe of `device`'s own backend (the CUDA one's ops table, loaded
 * but not opened), so that a plan for a device is sized by its kernels;
 * false, with the CPU's probe in *out, where this build cannot open the
 * device (a run there is refused when it opens it). */
bool nl_backend_probe_on(nl_device device, int threads, nl_precision precision, nl_backend *out);

/* What a device offers the model's plan (core/plan), declared by its
 * backend (its probe: nl_backend_probe_on) from the build, the kernel set
 * and NORMLAB_CONV, never measured, and without opening the device. */
typedef struct {
    nl_device device;
    /* the channel block its convolutions take at each product precision
     * (the CPU's oneDNN: 16 AVX-512, 8 AVX2); 0: NCHW alone */
    int channel_block[NL_PRECISION_COUNT];
} nl_device_caps;
nl_device_caps nl_device_caps_of(nl_device device);
/* The ranks of a data-parallel run on the CPU agree on one CPU kernel set
 * before opening their backends: each fills its vote, the ranks sum the
 * votes, and each decides from the sums alike. Ranks that chose
 * automatically take the best set all of them run, with *note saying so
 * when that changed a set; pinned sets that differ are NL_ERR_USAGE on
 * every rank. */
/* The same votes carry each rank's product and convolution libraries
 * (NORMLAB_GEMM, NORMLAB_CONV, as in effect in its build): ranks whose
 * libraries differ would sum their products in other orders, so that is
 * NL_ERR_USAGE too. */
enum {
    NL_KERNEL_SETS_MAX = 32,
    NL_LIBRARY_VOTES_MAX = 8,
    NL_KERNEL_VOTES_MAX = 2 * NL_KERNEL_SETS_MAX + 1 + NL_LIBRARY_VOTES_MAX
};
/* returns how many of the votes count */
int nl_backend_cpu_kernel_votes(double votes[NL_KERNEL_VOTES_MAX]);
nl_code nl_backend_cpu_kernels_agree(const double *sums, int ranks, char *note, size_t note_size,
                                     nl_error *err);

/* What this build and machine offer, for --version and `list`. */
const char *nl_backend_cpu_description(char *buf, size_t size);
/* the CPU kernel set in use, those the binary holds and those this CPU runs */
const char *nl_backend_cpu_kernels_description(char *buf, size_t size);
int nl_backend_cuda_built(void);
/* The most host threads a run with `threads` (the config's or --threads;
 * <= 0: the usable cores, before busy ones are left out) can use: what the
 * memory plan sizes per-thread workspaces for. */
int nl_backend_max_threads(int threads);
/* Describes the visible GPU, or why there is none; returns 1 when usable. */
int nl_backend_cuda_describe(char *buf, size_t size);

#endif
