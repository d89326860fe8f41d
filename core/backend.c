/* The backend factory: opening and closing a backend of either device, and
 * the probe that plans a model's memory without one. It lives outside every
 * backend, so that what opens a backend or plans a model depends on the ops
 * interface (backend.h), and only this file knows the backends there are. */
#include <stdlib.h>

#include "backend.h"
#include "cpu/cpu.h"

#ifdef NORMLAB_HAVE_CUDA
nl_code nl_cuda_backend_open(int threads, nl_backend **out, nl_error *err);
void nl_cuda_backend_close(nl_backend *be);
#endif

nl_code nl_backend_open(nl_device device, const nl_backend_options *options, nl_backend **out,
                        nl_error *err)
{
    const nl_backend_options defaults = {0};
    const nl_backend_options *opt = options ? options : &defaults;
    if (device == NL_DEVICE_CUDA) {
#ifdef NORMLAB_HAVE_CUDA
        nl_code rc = nl_cuda_backend_open(opt->threads, out, err);
        if (rc == NL_OK) {
            (*out)->usable_cores = nl_cpu_usable_cores();
            (*out)->flush_subnormals = false; /* the GPU keeps IEEE subnormals */
        }
        return rc;
#else
        return nl_fail(err, NL_ERR_UNSUPPORTED,
                       "device 'cuda' was asked for, but this normlab was built without CUDA "
                       "support (rebuild with the CUDA toolkit in /usr/local/cuda and "
                       "-DNORMLAB_CUDA=ON), or use device: cpu");
#endif
    }
    return nl_cpu_backend_open(opt, out, err);
}

void nl_backend_close(nl_backend *be)
{
    if (!be)
        return;
#ifdef NORMLAB_HAVE_CUDA
    if (be->device == NL_DEVICE_CUDA) {
        nl_cuda_backend_close(be);
        return;
    }
#endif
    free(be);
}

int nl_backend_max_threads(int threads) { return threads > 0 ? threads : nl_cpu_usable_cores(); }

nl_backend nl_backend_probe(int threads)
{
    /* the CPU's ops answer every workspace question from shapes alone */
    return (nl_backend){.ops = nl_cpu_ops(), .device = NL_DEVICE_CPU, .threads = threads > 0 ? threads : 1};
}
