/* A native build (NORMLAB_NATIVE=ON: -march=native) may use any extension of
 * the CPU it was built on. Started on a CPU without one (a cluster's login
 * node built it, a compute node of another generation runs it), it would
 * stop with SIGILL somewhere in its first computation, after it had made
 * its run directory. This check runs before main and says what is missing.
 * It is compiled for the x86-64 baseline (CMakeLists.txt: normlab_baseline),
 * so that it can itself run on any x86-64 CPU. */
#include <stdio.h>
#include <unistd.h>

#include "cpu/isa.h"

__attribute__((constructor)) static void refuse_a_cpu_without_the_build_isa(void)
{
    const nl_isa_mask missing = nl_isa_of_build & ~nl_isa_of_this_cpu();
    if (!missing)
        return;
    char names[512];
    fprintf(stderr,
            "normlab: this binary was compiled for the CPU it was built on (NORMLAB_NATIVE=ON, "
            "-march=native), and this CPU lacks %s, which its code uses.\n"
            "Build it on this machine, or build one binary for every x86-64 CPU with "
            "'cmake -DNORMLAB_NATIVE=OFF' (the default): it carries AVX-512, AVX2 and baseline "
            "kernels and picks the best this CPU runs.\n",
            nl_isa_list(missing, names, sizeof names));
    _exit(1);
}
