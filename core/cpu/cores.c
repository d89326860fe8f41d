/* How many threads a run should use, and the floating-point mode they run in.
 *
 * Cores busy with other work: an OpenMP team whose threads share a core with
 * another busy process waits at every barrier for the thread the scheduler
 * has set aside, one time slice (milliseconds) at a time; a 2-thread CNN run
 * beside one busy loop on 2 cores fell 10-35x. A team sized to the cores that
 * are free when the run starts keeps close to the free cores' share. The size
 * is chosen once, at the start: results are reproducible for a given thread
 * count (summary.json records it), and a team that changed mid-run would
 * change the last bits of the matrix products.
 *
 * Subnormal floats: SGD momentum on units that get exactly-zero gradients
 * decays geometrically into subnormals, and each arithmetic operation on one
 * takes a microcode assist on Intel cores (a batch-2 MLP step ran 6x
 * slower). Flush-to-zero (results) and denormals-are-zero (inputs) remove
 * them, as PyTorch's torch.set_flush_denormal(True) does. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "log/files.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/* MXCSR: FTZ is bit 15, DAZ bit 6 */
#define MXCSR_FLUSH_BITS 0x8040u
#endif

int nl_cpu_usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return omp_get_num_procs();
}

/* busy and total jiffies of the CPUs this process may use, from /proc/stat */
static bool read_cpu_jiffies(const cpu_set_t *usable, unsigned long long *busy,
                             unsigned long long *total)
{
    FILE *f = nl_fopen_system("/proc/stat");
    if (!f)
        return false;
    char line[512];
    *busy = *total = 0;
    int counted = 0;
    while (fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[8] = {0};
        /* per-CPU lines only: "cpuN user nice system idle iowait irq softirq steal" */
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
            continue;
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, usable))
            continue;
        const unsigned long long idle = v[3] + v[4];
        const unsigned long long all = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        *busy += all - idle;
        *total += all;
        counted++;
    }
    fclose(f);
    return counted > 0;
}

static double seconds_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double nl_cpu_busy_cores(int sample_ms)
{
    cpu_set_t usable;
    if (sched_getaffinity(0, sizeof usable, &usable) != 0)
        return 0.0;
    unsigned long long busy0, total0, busy1, total1;
    if (!read_cpu_jiffies(&usable, &busy0, &total0))
        return 0.0;
    const double own0 = seconds_of(CLOCK_PROCESS_CPUTIME_ID), wall0 = seconds_of(CLOCK_MONOTONIC);
    const struct timespec pause = {.tv_sec = sample_ms / 1000,
                                   .tv_nsec = (long)(sample_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    if (!read_cpu_jiffies(&usable, &busy1, &total1) || total1 <= total0)
        return 0.0;
    const double own = seconds_of(CLOCK_PROCESS_CPUTIME_ID) - own0;
    const double wall = seconds_of(CLOCK_MONOTONIC) - wall0;
    const int cores = CPU_COUNT(&usable);
    /* the jiffies of all usable CPUs together advance `cores` per tick */
    const double busy_share = (double)(busy1 - busy0) / (double)(total1 - total0);
    const double others = busy_share * cores - (wall > 0.0 ? own / wall : 0.0);
    return others > 0.0 ? others : 0.0;
}

int nl_cpu_auto_threads(int usable, double busy)
{
    /* a core counts as taken when something else kept it more than half busy */
    const int taken = (int)(busy + 0.5);
    const int free_cores = usable - taken;
    return free_cores >= 1 ? free_cores : 1;
}

static void set_flush_this_thread(bool flush)
{
#ifdef MXCSR_FLUSH_BITS
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(flush ? csr | MXCSR_FLUSH_BITS : csr & ~MXCSR_FLUSH_BITS);
#elif defined(__aarch64__)
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    const unsigned long fz = 1ul << 24; /* flushes inputs and results */
    fpcr = flush ? fpcr | fz : fpcr & ~fz;
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#else
    (void)flush;
#endif
}

bool nl_cpu_flush_supported(void)
{
#if defined(MXCSR_FLUSH_BITS) || defined(__aarch64__)
    return true;
#else
    return false;
#endif
}

void nl_cpu_set_flush_subnormals(int threads, bool flush)
{
    set_flush_this_thread(flush);
    /* every thread of the pool the kernels and OpenBLAS run on; the pool's
     * threads persist between regions, and threads it starts later copy the
     * starting thread's mode */
    #pragma omp parallel num_threads(threads)
    set_flush_this_thread(flush);
}

bool nl_cpu_flushes_subnormals(void)
{
#ifdef MXCSR_FLUSH_BITS
    return (_mm_getcsr() & MXCSR_FLUSH_BITS) == MXCSR_FLUSH_BITS;
#elif defined(__aarch64__)
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (fpcr >> 24) & 1u;
#else
    return false;
#endif
}
