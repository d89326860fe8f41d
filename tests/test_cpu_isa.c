// ctest-labels: cpu
/* Instruction sets: the CPUID decoding against the kernel's own (/proc/cpuinfo),
 * what the build compiled for against what this CPU has, the kernel sets a
 * binary holds (each its own code, the choice by NORMLAB_CPU_KERNELS and its
 * errors), and that the code which runs before the build's instruction set
 * is checked uses none of it. The kernel sets' numbers are checked by the
 * suites labelled "kernels", which CTest runs once per set. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "testutil.h"

/* The rule that ties CPUID to the kernel's flags, for a host `h` whose
 * CPUID reads `cpuid`, under `emulator` (NULL: natively). Natively the
 * kernel's flags are its own decoding of CPUID, so they must agree bit for
 * bit; under an emulator CPUID is the emulated model's and /proc/cpuinfo
 * still the host's, so nothing is compared: the harness that started the
 * emulator says so (tu_emulator), the CPU's identity does not (qemu's
 * EPYC-Milan reports exactly a Zen 3's family and model, without its VAES).
 * False, with why, where they differ; *compared says whether it compared. */
static bool kernel_agrees(const nl_host_facts *h, nl_isa_mask cpuid, const char *emulator,
                          bool *compared, char *why, size_t size)
{
    *compared = false;
    why[0] = '\0';
    if (emulator || !h->flags[0])
        return true;
    *compared = true;
    const nl_isa_mask kernel = nl_isa_of_cpuinfo_flags(h->flags);
    for (int f = 0; f < NL_ISA_COUNT; f++)
        if ((cpuid >> f & 1u) != (kernel >> f & 1u)) {
            snprintf(why, size, "%s: CPUID says %s, /proc/cpuinfo says %s", nl_isa_name(f),
                     (cpuid >> f & 1u) ? "present" : "absent",
                     (kernel >> f & 1u) ? "present" : "absent");
            return false;
        }
    return true;
}

/* An emulated model as qemu makes one of a host it stands for: the host's
 * identity and the host's extensions less one it lacks (qemu's EPYC-Milan
 * lacks this Zen 3's VAES; its TCG every AVX-512 extension): here the
 * last one the host has, so that every recorded host has a gap. */
static nl_isa_mask emulated_stand_in(const nl_host_facts *h)
{
    const nl_isa_mask has = nl_isa_of_cpuinfo_flags(h->flags);
    for (int f = NL_ISA_COUNT - 1; f >= 0; f--)
        if (has >> f & 1u)
            return has & ~((nl_isa_mask)1 << f);
    return has;
}

static void kernel_rule_on_host(const char *name, const nl_host_facts *h, bool recorded,
                                void *ctx)
{
    int *failures = ctx;
    char why[256], lacks[512];
    bool compared;
    if (!recorded) {
#if defined(__x86_64__)
        const nl_isa_mask cpu = nl_isa_of_this_cpu();
        const char *emulator = tu_emulator();
        const bool ok = kernel_agrees(h, cpu, emulator, &compared, why, sizeof why);
        ck_assert_msg(ok, "%s: %s", name, why);
        if (emulator)
            printf("skipped on %s: CPUID is %s's, /proc/cpuinfo the host's (%s family %d model "
                   "%d); the model lacks the host's: %s\n",
                   name, emulator, h->vendor, h->family, h->model,
                   nl_isa_list(nl_isa_of_cpuinfo_flags(h->flags) & ~cpu, lacks, sizeof lacks));
        else if (!compared)
            printf("%s: no flags in /proc/cpuinfo: nothing to compare\n", name);
#else
        ck_assert(nl_isa_of_this_cpu() == 0);
#endif
        return;
    }
    /* natively on that host CPUID is what its kernel decoded */
    if (!kernel_agrees(h, nl_isa_of_cpuinfo_flags(h->flags), NULL, &compared, why, sizeof why) || !compared) {
        printf("%s natively: %s\n", name, compared ? why : "not compared");
        (*failures)++;
    }
    /* and emulated there, as a model with the host's identity lacking a part */
    if (!kernel_agrees(h, emulated_stand_in(h), "qemu", &compared, why, sizeof why) || compared) {
        printf("%s under an emulator: %s\n", name, compared ? "compared" : why);
        (*failures)++;
    }
}

/* On every recorded host and on this machine, natively and under an
 * emulator, the rule holds (tests/fixtures/hosts: the Zen 3 whose
 * /proc/cpuinfo shows VAES that qemu's EPYC-Milan, reporting the same
 * family and model, leaves out); test_cpuid_agrees_with_the_instructions
 * checks CPUID against what runs, emulated or not. */
START_TEST(test_cpuid_agrees_with_the_kernel)
{
    int failures = 0;
    const int hosts = tu_each_host(kernel_rule_on_host, &failures);
    ck_assert_msg(failures == 0, "the rule failed %d times over %d hosts", failures, hosts);
}
END_TEST

/* Host-reading assumptions planted, each run over the recorded hosts as a
 * test would run it: each must fail on one of them at least, or the
 * recorded hosts would not catch a test that holds only where it was
 * written. The first is the rule this test had until the Zen 3 (emulated
 * where CPUID's vendor, family and model differ from /proc/cpuinfo's: an
 * emulated model with the host's identity is taken for the host); the
 * second compares with the identity (vendor, model name, family, model)
 * of the machine a test was written on, a Zen 4. */
struct planted {
    int identity_rule_failed, written_here_failed;
};

static void planted_on_host(const char *name, const nl_host_facts *h, bool recorded, void *ctx)
{
    struct planted *p = ctx;
    if (!recorded)
        return;
    /* the emulated model reports the host's own identity */
    char cpuid_identity[256], kernel_identity[256];
    snprintf(cpuid_identity, sizeof cpuid_identity, "%s family %d model %d", h->vendor, h->family,
             h->model);
    snprintf(kernel_identity, sizeof kernel_identity, "%s family %d model %d", h->vendor,
             h->family, h->model);
    const bool inferred_emulated = strcmp(cpuid_identity, kernel_identity) != 0;
    char why[256];
    bool compared;
    if (!kernel_agrees(h, emulated_stand_in(h), inferred_emulated ? "qemu" : NULL, &compared, why,
                       sizeof why)) {
        printf("planted identity rule fails on %s: %s\n", name, why);
        p->identity_rule_failed++;
    }
    if (strcmp(h->vendor, "AuthenticAMD") || strcmp(h->model_name, "AMD EPYC") || h->family != 25 ||
        h->model != 17) {
        printf("planted written-here identity fails on %s: %s, %s family %d model %d\n", name,
               h->model_name, h->vendor, h->family, h->model);
        p->written_here_failed++;
    }
}

START_TEST(test_planted_host_assumptions_fail)
{
    struct planted p = {0};
    tu_each_host(planted_on_host, &p);
    ck_assert_msg(p.identity_rule_failed > 0,
                  "emulation inferred from the CPU's identity passed on every recorded host");
    ck_assert_msg(p.written_here_failed > 0,
                  "a check of the model the test was written on passed on every recorded host");
}
END_TEST

#if defined(__x86_64__)
static sigjmp_buf probe_jump;
static void probe_trap(int sig)
{
    (void)sig;
    siglongjmp(probe_jump, 1);
}

/* one instruction of an extension; true when it ran, false on SIGILL */
static bool probe_runs(void (*probe)(void))
{
    struct sigaction trap = {.sa_handler = probe_trap}, old;
    sigemptyset(&trap.sa_mask);
    ck_assert_int_eq(sigaction(SIGILL, &trap, &old), 0);
    volatile bool ran = false;
    if (sigsetjmp(probe_jump, 1) == 0) {
        probe();
        ran = true;
    }
    ck_assert_int_eq(sigaction(SIGILL, &old, NULL), 0);
    return ran;
}

static void probe_popcnt(void) { __asm__ volatile("popcnt %%eax, %%eax" ::: "eax", "cc"); }
static void probe_sse4_2(void) { __asm__ volatile("crc32l %%eax, %%eax" ::: "eax"); }
static void probe_avx(void) { __asm__ volatile("vxorps %%ymm0, %%ymm0, %%ymm0\n\tvzeroupper" ::: "xmm0"); }
static void probe_fma(void) { __asm__ volatile("vfmadd231ps %%xmm0, %%xmm0, %%xmm0" ::: "xmm0"); }
static void probe_avx2(void) { __asm__ volatile("vpaddd %%ymm0, %%ymm0, %%ymm0\n\tvzeroupper" ::: "xmm0"); }
static void probe_bmi2(void) { __asm__ volatile("shlx %%eax, %%eax, %%eax" ::: "eax"); }
static void probe_avx512f(void) { __asm__ volatile("vpxord %%zmm0, %%zmm0, %%zmm0\n\tvzeroupper" ::: "xmm0"); }
#endif

/* What CPUID (with XGETBV: the registers the system saves) reports for an
 * extension is what the CPU runs: an instruction of each extension the
 * kernel sets tell apart runs where the bit is set and traps (SIGILL) where
 * it is not. True of a real CPU and of an emulated one, whichever this is. */
START_TEST(test_cpuid_agrees_with_the_instructions)
{
#if defined(__x86_64__)
    static const struct {
        int isa;
        void (*probe)(void);
    } probes[] = {
        {NL_ISA_POPCNT, probe_popcnt}, {NL_ISA_SSE4_2, probe_sse4_2}, {NL_ISA_AVX, probe_avx},
        {NL_ISA_FMA, probe_fma},       {NL_ISA_AVX2, probe_avx2},     {NL_ISA_BMI2, probe_bmi2},
        {NL_ISA_AVX512F, probe_avx512f},
    };
    const nl_isa_mask cpu = nl_isa_of_this_cpu();
    char ran[512] = "", trapped[512] = "";
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const bool has = cpu >> probes[i].isa & 1u;
        const bool runs = probe_runs(probes[i].probe);
        ck_assert_msg(has == runs, "%s: CPUID says %s, its instruction %s", nl_isa_name(probes[i].isa),
                      has ? "present" : "absent", runs ? "ran" : "trapped (SIGILL)");
        char *list = runs ? ran : trapped;
        snprintf(list + strlen(list), 512 - strlen(list), " %s", nl_isa_name(probes[i].isa));
    }
    printf("ran:%s; trapped:%s\n", ran, trapped[0] ? trapped : " none");
#endif
}
END_TEST

START_TEST(test_build_isa)
{
    /* the tests are compiled with the build's flags, as host.c is */
    ck_assert(nl_isa_of_build == NL_ISA_COMPILED);
    /* and they run where they were built: isa_guard.c lets the binary run */
    char missing[512];
    ck_assert_msg((nl_isa_of_build & ~nl_isa_of_this_cpu()) == 0, "the build needs %s",
                  nl_isa_list(nl_isa_of_build & ~nl_isa_of_this_cpu(), missing, sizeof missing));
    char list[1024];
    nl_isa_list(NL_ISA_BIT(AVX2) | NL_ISA_BIT(AVX512F), list, sizeof list);
    ck_assert_str_eq(list, "avx2, avx512f");
    ck_assert_str_eq(nl_isa_name(NL_ISA_COUNT), "?");
}
END_TEST

START_TEST(test_kernel_sets)
{
    const int count = nl_cpu_kernel_set_count();
    ck_assert_int_ge(count, 1);
    nl_error err = {0};
    /* auto takes the first set this CPU runs */
    ck_assert_int_eq(nl_cpu_kernels_choose("auto", &err), NL_OK);
    int first = 0;
    while (!nl_cpu_kernel_set_runs_here(first))
        first++;
    ck_assert_str_eq(nl_cpu_kernels_name(), nl_cpu_kernel_set_name(first));
    const nl_ops *seen[16] = {0};
    ck_assert_int_le(count, 16);
    for (int i = 0; i < count; i++) {
        const char *name = nl_cpu_kernel_set_name(i);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(name, nl_cpu_kernel_set_name(j));
        /* an nl_error keeps its first message: each expected failure gets a clean one */
        nl_error_clear(&err);
        if (!nl_cpu_kernel_set_runs_here(i)) {
            ck_assert_int_eq(nl_cpu_kernels_choose(name, &err), NL_ERR_UNSUPPORTED);
            ck_assert_ptr_nonnull(strstr(err.msg, "which this CPU lacks"));
            continue;
        }
        ck_assert_int_eq(nl_cpu_kernels_choose(name, &err), NL_OK);
        ck_assert_str_eq(nl_cpu_kernels_name(), name);
        nl_backend *be = NULL;
        ck_assert_int_eq(nl_backend_open(NL_DEVICE_CPU, NULL, &be, &err), NL_OK);
        ck_assert_str_eq(be->cpu_kernels, name);
        ck_assert_ptr_eq(be->ops, nl_cpu_ops());
        /* each set is its own compilation: no two share a kernel, but a
         * set that lets a library run further (AMX) shares the kernels of
         * the set it extends */
        seen[i] = be->ops;
        const nl_isa_mask library = nl_cpu_kernel_set_library_isa(i);
        for (int j = 0; j < count; j++)
            if (library && j != i &&
                nl_cpu_kernel_set_isa(j) == (nl_cpu_kernel_set_isa(i) & ~library)) {
                ck_assert(nl_cpu_kernel_set_runs_here(j));
                seen[i] = NULL;
            }
        for (int j = 0; j < i; j++)
            if (seen[j] && seen[i]) {
                ck_assert_ptr_ne(seen[j], be->ops);
                ck_assert_ptr_ne((void *)seen[j]->linear_forward, (void *)be->ops->linear_forward);
                ck_assert_ptr_ne((void *)seen[j]->norm_forward, (void *)be->ops->norm_forward);
            }
        nl_backend_close(be);
    }
    nl_error_clear(&err);
    ck_assert_int_eq(nl_cpu_kernels_choose("no-such-set", &err), NL_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "accepted: auto"));
    ck_assert_ptr_nonnull(strstr(err.msg, nl_cpu_kernel_set_name(count - 1)));
    ck_assert_int_eq(nl_cpu_kernels_choose(NULL, &err), NL_OK);
}
END_TEST

/* `normlab run` of the smoke config under NORMLAB_CPU_KERNELS=set in
 * tu_tmp, into out_dir, with `extra` options; its output in out.txt */
static int run_under_set(const char *set, const char *extra, const char *out_dir)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && NORMLAB_CPU_KERNELS=%s %s run %s/configs/synthetic-smoke.yaml %s --out %s "
             "> out.txt 2>&1",
             tu_tmp, set, NORMLAB_BINARY, NORMLAB_SOURCE_DIR, extra, out_dir);
    return WEXITSTATUS(system(cmd));
}

/* that run refused: exit 2, its message holding both texts, and no run
 * directory written */
static void refused_before_writing(const char *set, const char *text, const char *also)
{
    ck_assert_int_eq(run_under_set(set, "", "refused"), 2);
    char *out = tu_tmp_read("out.txt");
    ck_assert_msg(strstr(out, text) && strstr(out, also), "%s", out);
    free(out);
    char path[512];
    snprintf(path, sizeof path, "%s/refused", tu_tmp);
    ck_assert_msg(access(path, F_OK) != 0, "the refused run wrote %s", path);
}

/* NORMLAB_CPU_KERNELS for the command: a set by name runs and is recorded
 * in summary.json; an unknown one is refused before anything is written */
START_TEST(test_command_line)
{
    tu_tmp_make("cpu-isa");
    const int last = nl_cpu_kernel_set_count() - 1;
    const char *set = nl_cpu_kernel_set_name(last);
    if (nl_cpu_kernel_set_runs_here(last)) {
        ck_assert_int_eq(run_under_set(set, "--set train.steps=3", "run"), 0);
        char *summary = tu_tmp_read("run/summary.json");
        char want[128];
        snprintf(want, sizeof want, "\"cpu_kernels\": \"%s\"", set);
        ck_assert_msg(strstr(summary, want), "summary.json lacks %s", want);
        free(summary);
    }
    refused_before_writing("avx9000", "NORMLAB_CPU_KERNELS 'avx9000' is not one this normlab holds",
                           "accepted: auto");
    tu_tmp_remove();
}
END_TEST

/* runs a command, returning its output (at most size - 1 bytes) */
static void command_output(const char *cmd, char *buf, size_t size)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(buf, 1, size - 1, p);
    buf[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
}

/* The normlab the tests run sees the CPU this test sees: natively the
 * same, and under tests/portable/unit.sh the same emulated one (a normlab
 * run natively there would name this machine's kernel sets). */
START_TEST(test_binary_sees_this_cpu)
{
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose("auto", &err), NL_OK);
    char want[512];
    snprintf(want, sizeof want, "cpu kernels: %s (", nl_cpu_kernels_name());
    char runs[512] = "this CPU runs";
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++)
        if (nl_cpu_kernel_set_runs_here(i))
            snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s %s",
                     strcmp(runs, "this CPU runs") ? "," : "", nl_cpu_kernel_set_name(i));
    strncat(runs, ";", sizeof runs - strlen(runs) - 1);
    char cmd[1200], out[4096];
    snprintf(cmd, sizeof cmd, "NORMLAB_CPU_KERNELS=auto %s --version 2>&1", NORMLAB_BINARY);
    command_output(cmd, out, sizeof out);
    ck_assert_msg(strstr(out, want), "normlab --version lacks '%s':\n%s", want, out);
    ck_assert_msg(strstr(out, runs), "normlab --version lacks '%s':\n%s", runs, out);
}
END_TEST

/* Each kernel set pins the OpenBLAS core of the instructions it assumes
 * (cpu/host.c), so a set and a thread count give the same products on every
 * CPU that runs the set; a core the user names wins. Under
 * tests/portable/unit.sh OPENBLAS_CORETYPE is already set (normlab cannot
 * re-execute itself inside the emulator), and only the override is checked. */
START_TEST(test_openblas_core_pinned)
{
    char cmd[1200], out[4096], want[256];
    const bool emulated = tu_emulator() != NULL;
    for (int i = 0; i < nl_cpu_kernel_set_count() && !emulated; i++) {
        if (!nl_cpu_kernel_set_runs_here(i))
            continue;
        const char *pin = nl_cpu_kernel_set_openblas_core(i);
        snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE NORMLAB_CPU_KERNELS=%s %s --version 2>&1",
                 nl_cpu_kernel_set_name(i), NORMLAB_BINARY);
        command_output(cmd, out, sizeof out);
        if (pin)
            snprintf(want, sizeof want, "openblas core: %s (%s's;", pin, nl_cpu_kernel_set_name(i));
        else
            snprintf(want, sizeof want, "(OpenBLAS's choice for this CPU;");
        ck_assert_msg(strstr(out, want), "normlab --version lacks '%s':\n%s", want, out);
    }
    /* Prescott runs on every x86-64 CPU with SSE3; elsewhere the name is
     * only reported back. Where the set in use pins Prescott itself, the
     * line names the set. */
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose("auto", &err), NL_OK);
    const char *auto_pin = nl_cpu_kernel_set_openblas_core(nl_cpu_kernels_index());
    if (auto_pin && strcmp(auto_pin, "Prescott") == 0)
        snprintf(want, sizeof want, "(%s's;", nl_cpu_kernels_name());
    else
        snprintf(want, sizeof want, "(OPENBLAS_CORETYPE=Prescott;");
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=Prescott %s --version 2>&1", NORMLAB_BINARY);
    command_output(cmd, out, sizeof out);
    ck_assert_msg(strstr(out, want), "normlab --version lacks '%s':\n%s", want, out);
#if defined(__x86_64__)
    ck_assert_msg(strstr(out, "openblas core: Prescott ("), "%s", out);
#endif
}
END_TEST

/* issue 118 #6: an OPENBLAS_CORETYPE whose kernels need instructions the
 * CPU lacks is refused before anything runs (its first product would die
 * of SIGILL with summary.json left "running"): against a planted AVX2 CPU,
 * and against this one through normlab where a core beyond it exists */
START_TEST(test_openblas_core_beyond_the_cpu_refused)
{
    const nl_isa_mask avx2_cpu = NL_ISA_BIT(SSE3) | NL_ISA_BIT(SSSE3) | NL_ISA_BIT(SSE4_1) |
                                 NL_ISA_BIT(SSE4_2) | NL_ISA_BIT(AVX) | NL_ISA_BIT(AVX2) |
                                 NL_ISA_BIT(FMA);
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_openblas_core_check("SkylakeX", avx2_cpu, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "avx512f") && strstr(err.msg, "Haswell") &&
                      !strstr(err.msg, "SkylakeX,") && strstr(err.msg, "unset it"),
                  "%s", err.msg);
    ck_assert_int_eq(nl_cpu_openblas_core_check("haswell", avx2_cpu, &err), NL_OK);
    ck_assert_int_eq(nl_cpu_openblas_core_check("NotACore", avx2_cpu, &err), NL_OK);
    ck_assert_int_eq(nl_cpu_openblas_core_check("", avx2_cpu, &err), NL_OK);
    static const char *const beyond[] = {"SapphireRapids", "Cooperlake", "SkylakeX", "Haswell", "SandyBridge"};
    for (size_t i = 0; i < sizeof beyond / sizeof beyond[0]; i++) {
        nl_error here = {0};
        if (nl_cpu_openblas_core_check(beyond[i], 0, &here) == NL_OK)
            continue;
        tu_tmp_make("openblas-core");
        char cmd[1400], out[4096];
        snprintf(cmd, sizeof cmd, "cd %s && OPENBLAS_CORETYPE=%s %s run %s/configs/quickstart-cnn.yaml --out r 2>&1; echo \"exit $?\"",
                 tu_tmp, beyond[i], NORMLAB_BINARY, NORMLAB_SOURCE_DIR);
        command_output(cmd, out, sizeof out);
        ck_assert_msg(strstr(out, "exit 2") && strstr(out, "OPENBLAS_CORETYPE"), "%s", out);
        char path[600];
        snprintf(path, sizeof path, "%s/r", tu_tmp);
        ck_assert_msg(access(path, F_OK) != 0, "a refused core wrote %s", path);
        tu_tmp_remove();
        break;
    }
}
END_TEST

/* The code before isa_guard.c's check (the check itself and isa.c's CPUID)
 * must run on any x86-64 CPU: no VEX or EVEX encoded instruction, which is
 * what -march=native would let the compiler use. */
START_TEST(test_baseline_objects)
{
#if defined(__x86_64__)
    char objects[4096];
    snprintf(objects, sizeof objects, "%s", NORMLAB_BASELINE_OBJECTS);
    int checked = 0;
    for (char *save = NULL, *obj = strtok_r(objects, ":", &save); obj; obj = strtok_r(NULL, ":", &save)) {
        char cmd[4200], listing[1 << 16];
        snprintf(cmd, sizeof cmd,
                 "objdump -d --no-show-raw-insn '%s' | grep -E '^ +[0-9a-f]+:\\s+v[a-z]' | head -5", obj);
        command_output(cmd, listing, sizeof listing);
        ck_assert_msg(listing[0] == '\0', "%s uses extensions beyond x86-64:\n%s", obj, listing);
        checked++;
    }
    ck_assert_int_eq(checked, 2);
#endif
}
END_TEST

/* Each kernel set object exports its set and nothing else, so that its
 * kernels cannot stand in for the build's own at link time. */
START_TEST(test_kernel_set_objects)
{
    char sets[1024];
    snprintf(sets, sizeof sets, "%s", NORMLAB_KERNEL_SET_OBJECTS);
    int checked = 0;
    for (char *save = NULL, *isa = strtok_r(sets, ":", &save); isa; isa = strtok_r(NULL, ":", &save)) {
        char id[64];
        snprintf(id, sizeof id, "%s", isa);
        for (char *c = id; *c; c++)
            if (*c == '-')
                *c = '_';
        char cmd[2048], listing[4096], want[128];
        /* common symbols (clang's OpenMP reduction lock) are shared by design */
        snprintf(cmd, sizeof cmd, "nm -g --defined-only '%s/%s.o' | grep -v ' C '",
                 NORMLAB_KERNEL_SET_DIR, id);
        command_output(cmd, listing, sizeof listing);
        snprintf(want, sizeof want, " D nl_cpu_kernels_%s\n", id);
        ck_assert_msg(strstr(listing, want) && strchr(listing, '\n') == strrchr(listing, '\n'),
                      "%s exports:\n%s", id, listing);
        checked++;
    }
    int library_rows = 0;
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++)
        library_rows += nl_cpu_kernel_set_library_isa(i) != 0;
    ck_assert_int_eq(checked, nl_cpu_kernel_set_count() - 1 - library_rows);
}
END_TEST

/* The AMX set (x86-64-v4-bf16-amx, where the binary holds the AVX512-BF16
 * set): x86-64-v4-bf16's kernels with oneDNN's cap lifted to its tiles. It
 * needs the tiles beyond that set's instructions, auto never takes it (only
 * a name does: nothing has shown its convolutions on the tiles), and where
 * the CPU (or Linux's permission) lacks them a run that names it is
 * refused, naming what is missing. Whether its convolutions run on the
 * tiles is test_conv_onednn's (test_amx_tiles), where an AMX CPU is lent. */
START_TEST(test_amx_set)
{
    const nl_isa_mask tiles = NL_ISA_BIT(AMX_BF16) | NL_ISA_BIT(AMX_TILE);
    int amx = -1, bf16 = -1;
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++) {
        if (!strcmp(nl_cpu_kernel_set_name(i), "x86-64-v4-bf16-amx"))
            amx = i;
        if (!strcmp(nl_cpu_kernel_set_name(i), "x86-64-v4-bf16"))
            bf16 = i;
    }
    ck_assert_msg((amx >= 0) == (bf16 >= 0), "the AMX set comes with the AVX512-BF16 set");
    if (amx < 0) {
        printf("no AVX512-BF16 set in this build: no AMX set\n");
        return;
    }
    ck_assert(nl_cpu_kernel_set_library_isa(amx) == tiles);
    ck_assert(nl_cpu_kernel_set_isa(amx) == (nl_cpu_kernel_set_isa(bf16) | tiles));
    ck_assert(!nl_cpu_kernel_set_automatic(amx) && nl_cpu_kernel_set_automatic(bf16));
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose("auto", &err), NL_OK);
    ck_assert_str_ne(nl_cpu_kernels_name(), "x86-64-v4-bf16-amx");
    if (!nl_cpu_kernel_set_runs_here(amx)) {
        ck_assert_int_eq(nl_cpu_kernels_choose("x86-64-v4-bf16-amx", &err), NL_ERR_UNSUPPORTED);
        char missing[128];
        nl_isa_list(nl_cpu_kernel_set_isa(amx) & ~nl_isa_of_this_cpu(), missing, sizeof missing);
        ck_assert_msg(strstr(err.msg, missing) && strstr(err.msg, "which this CPU lacks"), "%s",
                      err.msg);
        if ((nl_isa_of_this_cpu() & tiles) != tiles)
            ck_assert_msg(strstr(err.msg, "amx_"), "%s", err.msg);
        /* the command refuses it before writing anything */
        tu_tmp_make("cpu-isa-amx");
        refused_before_writing("x86-64-v4-bf16-amx", missing, "which this CPU lacks");
        tu_tmp_remove();
        ck_assert_int_eq(nl_cpu_kernels_choose(NULL, &err), NL_OK);
        return;
    }
    ck_assert_int_eq(nl_cpu_kernels_choose("x86-64-v4-bf16-amx", &err), NL_OK);
    ck_assert_str_eq(nl_cpu_kernels_name(), "x86-64-v4-bf16-amx");
    nl_backend *be = NULL;
    ck_assert_int_eq(nl_backend_open(NL_DEVICE_CPU, NULL, &be, &err), NL_OK);
    ck_assert_str_eq(be->cpu_kernels, "x86-64-v4-bf16-amx");
    ck_assert_ptr_nonnull(strstr(be->conv_library, "amx_bf16"));
    nl_backend_close(be);
    ck_assert_int_eq(nl_cpu_kernels_choose(NULL, &err), NL_OK);
}
END_TEST

/* Winograd's products on AVX-512 take a block's 16 tiles as one vector
 * (winograd.c, multiply): each lane gets the same FMAs in the same order as
 * in the 8-float kernel of x86-64-v3, so a 3x3 convolution's output, input
 * gradient and weight gradient must be the same bits in both sets (not its
 * bias gradient, whose sums over the map each set vectorizes its own way).
 * 12 outputs and 10 inputs: the forward's three row groups and the input
 * gradient's take the 16-float kernel for two and the 8-float one for the
 * third. */
enum { WG_N = 3, WG_IN = 10, WG_OUT = 12, WG_SIDE = 9 };
typedef struct {
    float y[WG_N * WG_OUT * WG_SIDE * WG_SIDE], dx[WG_N * WG_IN * WG_SIDE * WG_SIDE];
    float dweight[WG_OUT * WG_IN * 9], dbias[WG_OUT];
} wg_results;

static bool winograd_in_set(const char *name, wg_results *r)
{
    int index = -1;
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++)
        if (strcmp(nl_cpu_kernel_set_name(i), name) == 0)
            index = i;
    if (index < 0 || !nl_cpu_kernel_set_runs_here(index))
        return false;
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose(name, &err), NL_OK);
    nl_backend *be = NULL;
    /* normlab's own convolutions: auto would take this shape to oneDNN;
     * a fixed team: the weight gradient's per-thread sums change with the
     * thread count, which threads 0 takes from the load at the start (the
     * suite beside it made the sets' teams differ, and the bits) */
    setenv("NORMLAB_CONV", "normlab", 1);
    const nl_backend_options opt = {.threads = 2};
    ck_assert_int_eq(nl_backend_open(NL_DEVICE_CPU, &opt, &be, &err), NL_OK);
    unsetenv("NORMLAB_CONV");
    const nl_conv_geom g = {.in_c = WG_IN, .in_h = WG_SIDE, .in_w = WG_SIDE, .out_c = WG_OUT,
                            .out_h = WG_SIDE, .out_w = WG_SIDE, .kernel = 3, .stride = 1, .pad = 1};
    static float x[WG_N * WG_IN * WG_SIDE * WG_SIDE], dy[WG_N * WG_OUT * WG_SIDE * WG_SIDE];
    static float weight[WG_OUT * WG_IN * 9], bias[WG_OUT];
    uint32_t state = 12345u;
    float *fills[] = {x, dy, weight, bias};
    const size_t counts[] = {sizeof x / sizeof *x, sizeof dy / sizeof *dy,
                             sizeof weight / sizeof *weight, sizeof bias / sizeof *bias};
    for (int f = 0; f < 4; f++)
        for (size_t i = 0; i < counts[f]; i++) {
            state = state * 1664525u + 1013904223u;
            fills[f][i] = (float)(state >> 8) / (float)(1u << 24) - 0.5f;
        }
    const size_t workspace_bytes = be->ops->conv2d_workspace(be, &g, WG_N);
    void *workspace = malloc(workspace_bytes);
    ck_assert_ptr_nonnull(workspace);
    be->ops->conv2d_forward(be, &g, WG_N, x, weight, bias, r->y, workspace, workspace_bytes);
    be->ops->conv2d_backward(be, &g, WG_N, x, weight, dy, r->dx, false, r->dweight, r->dbias,
                             workspace, workspace_bytes);
    free(workspace);
    nl_backend_close(be);
    return true;
}

START_TEST(test_winograd_same_bits_in_every_set)
{
    static wg_results reference, other;
    if (!winograd_in_set("x86-64-v3", &reference))
        return;
    const char *wide[] = {"x86-64-v4", "x86-64-v4-bf16"};
    for (int k = 0; k < 2; k++) {
        memset(&other, 0, sizeof other);
        if (!winograd_in_set(wide[k], &other))
            continue;
        ck_assert_msg(memcmp(reference.y, other.y, sizeof other.y) == 0, "%s: forward", wide[k]);
        ck_assert_msg(memcmp(reference.dx, other.dx, sizeof other.dx) == 0, "%s: input gradient",
                      wide[k]);
        ck_assert_msg(memcmp(reference.dweight, other.dweight, sizeof other.dweight) == 0,
                      "%s: weight gradient", wide[k]);
    }
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose(NULL, &err), NL_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpu_isa");
    TCase *tc = tcase_create("isa");
    tcase_add_test(tc, test_cpuid_agrees_with_the_kernel);
    tcase_add_test(tc, test_planted_host_assumptions_fail);
    tcase_add_test(tc, test_cpuid_agrees_with_the_instructions);
    tcase_add_test(tc, test_build_isa);
    tcase_add_test(tc, test_kernel_sets);
    tcase_add_test(tc, test_command_line);
    tcase_add_test(tc, test_binary_sees_this_cpu);
    tcase_add_test(tc, test_openblas_core_pinned);
    tcase_add_test(tc, test_openblas_core_beyond_the_cpu_refused);
    tcase_add_test(tc, test_baseline_objects);
    tcase_add_test(tc, test_kernel_set_objects);
    tcase_add_test(tc, test_amx_set);
    tcase_add_test(tc, test_winograd_same_bits_in_every_set);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
