/* Which library runs the convolutions (conv_onednn.h): NORMLAB_CONV's
 * choice, auto's rule and what a run records of them. Compiled once per
 * process, as conv_onednn.c is: the choice is the process's. */
#include <stdio.h>
#include <stdlib.h>

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"

static const char *const library_names[] = {
    [NL_CONV_LIBRARY_AUTO] = "auto",
    [NL_CONV_LIBRARY_NORMLAB] = "normlab",
    [NL_CONV_LIBRARY_ONEDNN] = "onednn",
};
enum { LIBRARY_COUNT = sizeof library_names / sizeof library_names[0] };

nl_code nl_cpu_conv_library_from_env(nl_conv_library *out, nl_error *err)
{
    int choice;
    const nl_code rc = nl_cpu_library_choice("NORMLAB_CONV", "a convolution library",
                                             getenv("NORMLAB_CONV"), library_names, LIBRARY_COUNT,
                                             NL_CONV_LIBRARY_ONEDNN, &choice, err);
    if (rc == NL_OK)
        *out = (nl_conv_library)choice;
    return rc;
}

/* Whether oneDNN runs g under auto. Measured on an Ice Lake Xeon (2 cores,
 * AVX-512), forward + backward per layer inside training steps
 * (experiments/bench/layer_times.c, results/speed.md): its direct kernels
 * win on the 3x3 convolutions of 16 and 32 channels (1.1-2.2x, the stride-2
 * ones most), but on a 1x1 convolution (few FLOPs per value moved) the two
 * reorders around it cost more than the product saves (0.6-0.8x), and on a
 * first layer of one channel it is 0.6-0.9x. */
enum { ONEDNN_MIN_IN_C = 8, ONEDNN_MIN_KERNEL = 3 };

bool nl_cpu_onednn_rule(const nl_conv_geom *g)
{
    return g->kernel >= ONEDNN_MIN_KERNEL && g->in_c >= ONEDNN_MIN_IN_C;
}

nl_conv_library nl_cpu_conv_library_in_effect(nl_conv_library choice)
{
    return nl_cpu_onednn_version() ? choice : NL_CONV_LIBRARY_NORMLAB;
}

const char *nl_cpu_conv_library_name(nl_conv_library choice) { return library_names[choice]; }

const char *nl_cpu_conv_library_record(nl_conv_library choice, char *buf, size_t size)
{
    const char *onednn = nl_cpu_onednn_version();
    if (nl_cpu_conv_library_in_effect(choice) == NL_CONV_LIBRARY_NORMLAB)
        snprintf(buf, size, "normlab");
    else if (choice == NL_CONV_LIBRARY_ONEDNN)
        snprintf(buf, size, "%s", onednn);
    else /* the rule (nl_cpu_onednn_rule) is part of what fixes the bits: named,
          * with the instructions oneDNN's bf16 runs on (the AMX set's tiles) */
        snprintf(buf, size, "auto: %s where kernel >= %d, in_c >= %d, fp32/bf16 (%s), else normlab",
                 onednn, ONEDNN_MIN_KERNEL, ONEDNN_MIN_IN_C,
                 nl_cpu_kernels_isa() & NL_ISA_BIT(AMX_BF16) ? "amx_bf16" : "avx512_bf16");
    return buf;
}
