/* What normlab and its tests know of the host's CPU, read in one place: the
 * kernel's view (/proc/cpuinfo's identity, flags and processors; the caches
 * of CPU 0 from sysfs) of this machine, or of a host recorded elsewhere (a
 * snapshot: the text of its /proc/cpuinfo and of `lscpu`, as
 * tests/fixtures/hosts holds them). Whatever reads such a fact reads it
 * through here, so a test can run the same reading against every recorded
 * host and not only the one it runs on. CPUID itself is nl_isa_of_this_cpu
 * (cpu/isa.h): a snapshot holds the kernel's decoding of it, the flags
 * (nl_isa_of_cpuinfo_flags turns them into its mask). */
#ifndef NL_HOST_FACTS_H
#define NL_HOST_FACTS_H

#include <stdbool.h>

#include "base/status.h"

typedef struct {
    char vendor[32];      /* vendor_id: AuthenticAMD, GenuineIntel; "" unknown */
    int family, model;    /* cpu family, model; -1 unknown */
    char model_name[128]; /* model name */
    char flags[8192];     /* the flags line, a space at each end: " a b c " */
    int cpus;             /* processors listed; 0 unknown */
    int l1d_kib, l2_kib, l3_kib; /* one instance's size; 0 unknown */
} nl_host_facts;

/* snapshot NULL: this machine. Otherwise the stem of a recorded host:
 * STEM.cpuinfo (required) and STEM.lscpu (its caches; optional). A
 * snapshot that is missing, not a regular file or has no flags line is
 * NL_ERR_DATA naming it. This machine without /proc/cpuinfo (not Linux)
 * gives facts with nothing known, NL_OK. */
nl_code nl_host_facts_read(const char *snapshot, nl_host_facts *facts, nl_error *err);

bool nl_host_has_flag(const nl_host_facts *facts, const char *flag);

#endif
