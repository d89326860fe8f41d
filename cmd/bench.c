/* normlab bench: how fast the engine runs, against this machine's own
 * references measured in the same process (a streaming copy for the
 * normalizers, sgemm for conv/linear layers and training). A table goes to
 * stdout, one CSV row per measurement to --csv; experiments/bench/ holds the
 * PyTorch side, which writes the same CSV columns, and the comparison. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench_cmd.h"
#include "cmd.h"
#include "device/device.h"
#include "log/files.h"
#include "version_git.h"

/* ---- --busy: other work on the machine ---- */

typedef struct {
    pid_t pids[1024];
    int count;
} busy_loops;

static void stop_busy_loops(busy_loops *b)
{
    for (int i = 0; i < b->count; i++)
        kill(b->pids[i], SIGKILL);
    for (int i = 0; i < b->count; i++)
        waitpid(b->pids[i], NULL, 0);
    b->count = 0;
}

/* n processes spinning on the CPU, as another user's job would; they die
 * with the bench, however it ends */
static int start_busy_loops(busy_loops *b, int n)
{
    const pid_t parent = getpid();
    for (int i = 0; i < n; i++) {
        fflush(NULL);
        const pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "normlab bench: --busy: fork: %s\n", strerror(errno));
            stop_busy_loops(b);
            return -1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            volatile unsigned long spin = 0;
            for (;;)
                spin++;
        }
        b->pids[b->count++] = pid;
    }
    if (n > 0) {
        /* let the scheduler see them before the threads are picked */
        const struct timespec settle = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
        nanosleep(&settle, NULL);
    }
    return 0;
}

void nl_bench_describe_setting(char *buf, size_t size)
{
    const char *vars[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND", "OMP_PLACES",
                          "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof vars / sizeof vars[0] && used < size; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", used ? "+" : "", vars[i], v);
    }
    if (!buf[0])
        nl_copy_string(buf, size, "default");
}

static void print_load(const char *when)
{
    char load[128] = "?";
    FILE *f = nl_fopen_system("/proc/loadavg");
    if (f) {
        if (!fgets(load, sizeof load, f))
            nl_copy_string(load, sizeof load, "?");
        fclose(f);
        load[strcspn(load, "\n")] = '\0';
    }
    printf("load (%s): %s\n", when, load);
}

/* the options of `bench --run` alone */
static const char *const run_only[] = {"--set", "--rounds", "--torch", "--step", "--skip",
                                       "--keep", "--python", "--peer"};

/* the setting column: the threading knobs, then what the options change */
static void describe_setting(const bench_options *o, char *setting, size_t size)
{
    nl_bench_describe_setting(setting, size);
    if (o->cpu_clock) {
        const size_t used = strlen(setting);
        snprintf(setting + used, size - used, "+clock=cpu");
    }
    if (o->precision != NL_PRECISION_FP32) {
        const size_t used = strlen(setting);
        snprintf(setting + used, size - used, "+precision=%s",
                 nl_name_of(&nl_precision_names, o->precision));
    }
}

/* what the numbers below depend on: the build, the machine, its load */
static void print_header(const bench_output *out, const bench_options *o, const nl_backend *be)
{
    char cpu[512];
    printf("normlab bench %s (commit %s), %d threads, setting %s%s\n", NORMLAB_VERSION,
           NORMLAB_GIT_COMMIT, be->threads, out->setting, o->quick ? ", quick" : "");
    printf("cpu: %s\n", nl_backend_cpu_description(cpu, sizeof cpu));
    const nl_bench_machine *m = &out->machine;
    printf("machine: %s; %s (built for %s, kernels %s); L1d %d KiB, L2 %d KiB, L3 %d KiB; "
           "OpenBLAS core %s\n",
           m->cpu_model[0] ? m->cpu_model : "unknown CPU", m->isa, m->build_isa, be->cpu_kernels,
           m->l1d_kib, m->l2_kib, m->l3_kib, m->openblas_core);
    printf("threads: %d of %d usable cores (%.1f busy with other work at the start, %d busy "
           "loop%s started by --busy); subnormals %s\n",
           be->threads, be->usable_cores, be->busy_cores, o->busy, o->busy == 1 ? "" : "s",
           be->flush_subnormals ? "flushed to zero" : "kept");
    print_load("start");
    printf("\n");
}

/* every section the options name, in the table's order */
static void run_sections(bench_output *out, const bench_options *o, nl_backend *be)
{
    bench_peak(out, be);
    if (!o->kernels && !o->training && !o->eval) /* --peak alone */
        return;
    const double square = bench_sgemm_square(out, o);
    if (o->kernels) {
        bench_norms(out, o, be);
        bench_layers(out, o, be, square);
    }
    if (o->training && bench_kernel_model(o, 0))
        bench_training(out, o, be, square);
    for (int i = 0; i < bench_n_own_training; i++)
        if (o->training && o->model[bench_own_training[i].arch])
            bench_own_training[i].run(out, o, be);
    if (o->training && bench_any_cell(o))
        bench_training_rnn(out, o, be, square);
    if (o->eval && bench_kernel_model(o, 0))
        bench_eval(out, o, be);
}

/* the backend is open and the busy loops run: the sections, then the CSV
 * closed; 1 if a measurement or the CSV failed */
static int bench_with(const bench_options *o, nl_backend *be)
{
    nl_error err = {0};
    /* before any model is built: the product ops' workspaces depend on it */
    be->product_precision = o->precision;
    bench_output out = {.threads = be->threads, .busy = o->busy,
                        .flush_subnormals = be->flush_subnormals, .cpu_kernels = be->cpu_kernels};
    nl_bench_machine_describe(&out.machine);
    describe_setting(o, out.setting, sizeof out.setting);
    if (o->csv && bench_open_csv(&out, o->csv, &err) != NL_OK)
        return nl_cmd_report("bench", &err);
    setvbuf(stdout, NULL, _IOLBF, 0);
    print_header(&out, o, be);
    run_sections(&out, o, be);
    print_load("end");
    if (out.open && nl_csv_close(&out.csv, &err) != NL_OK) {
        nl_cmd_report("bench", &err);
        out.failures++;
    }
    return out.failures ? 1 : 0;
}

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--run") == 0)
            return nl_cmd_bench_run(argc, argv);
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof run_only / sizeof run_only[0]; k++)
            if (strcmp(argv[i], run_only[k]) == 0)
                return nl_cmd_usage_error("bench", "%s belongs to --run CONFIG (real runs of a "
                                          "config)", argv[i]);
    bench_options o;
    bool help = false;
    int rc = bench_parse_options(argc, argv, &o, &help);
    if (rc)
        return rc;
    if (help) {
        bench_usage(stdout);
        return 0;
    }
    busy_loops busy = {0};
    if (start_busy_loops(&busy, o.busy) != 0)
        return 1;
    nl_backend *be = NULL;
    const nl_backend_options backend_opt = {.threads = o.threads};
    nl_error err = {0};
    if (nl_backend_open(NL_DEVICE_CPU, &backend_opt, &be, &err) != NL_OK) {
        stop_busy_loops(&busy);
        return nl_cmd_report("bench", &err);
    }
    rc = bench_with(&o, be);
    nl_backend_close(be);
    stop_busy_loops(&busy);
    return rc;
}
