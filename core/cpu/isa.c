/* CPUID and XGETBV, read once. Compiled for the x86-64 baseline whatever the
 * build's flags (CMakeLists.txt: normlab_baseline), since it runs before
 * anything has checked that this CPU can run the rest of the binary. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpu/isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { EAX, EBX, ECX, EDX };

/* XCR0 bits: the state the operating system saves on a context switch */
#define XCR0_SSE (1u << 1)
#define XCR0_YMM (1u << 2)
#define XCR0_OPMASK (1u << 5)
#define XCR0_ZMM_HI256 (1u << 6)
#define XCR0_HI16_ZMM (1u << 7)
#define XCR0_XTILECFG (1u << 17)
#define XCR0_XTILEDATA (1u << 18)

/* Linux 5.16 on: a process asks once for the AMX tile data state, which the
 * kernel otherwise leaves out of its signal frames (the instructions fault
 * without it). oneDNN asks too; asking twice is harmless. */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static bool amx_permitted(void)
{
#if defined(__x86_64__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}

static bool cpuid(unsigned leaf, unsigned subleaf, unsigned reg[4])
{
    const unsigned top = __get_cpuid_max(leaf & 0x80000000u, NULL);
    if (top < leaf)
        return false;
    __cpuid_count(leaf, subleaf, reg[EAX], reg[EBX], reg[ECX], reg[EDX]);
    return true;
}

static unsigned read_xcr0(void)
{
    unsigned eax, edx;
    /* xgetbv with ECX = 0, written as bytes: the mnemonic needs -mxsave */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    (void)edx;
    return eax;
}

static nl_isa_mask read_cpu(void)
{
    nl_isa_mask mask = 0;
    unsigned reg[4];
#define NL_ISA_READ(id, name, cpuinfo, leaf, subleaf, r, bit)                                     \
    if (cpuid(leaf, subleaf, reg) && (reg[r] >> (bit) & 1u))                                      \
        mask |= NL_ISA_BIT(id);
    NL_ISA_FEATURES(NL_ISA_READ)
#undef NL_ISA_READ
    /* The CPU may have an extension whose registers the kernel does not
     * save: then it is unusable (and the instructions fault). */
    const bool osxsave = cpuid(1, 0, reg) && (reg[ECX] >> 27 & 1u);
    const unsigned xcr0 = osxsave ? read_xcr0() : 0;
    const bool ymm = (xcr0 & (XCR0_SSE | XCR0_YMM)) == (XCR0_SSE | XCR0_YMM);
    const unsigned zmm_state = XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;
    const bool zmm = ymm && (xcr0 & zmm_state) == zmm_state;
    const nl_isa_mask needs_ymm = NL_ISA_BIT(AVX) | NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA) |
                                  NL_ISA_BIT(F16C) | NL_ISA_BIT(VAES) | NL_ISA_BIT(VPCLMULQDQ);
    const nl_isa_mask needs_zmm =
        NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512DQ) | NL_ISA_BIT(AVX512IFMA) |
        NL_ISA_BIT(AVX512CD) | NL_ISA_BIT(AVX512BW) | NL_ISA_BIT(AVX512VL) |
        NL_ISA_BIT(AVX512VBMI) | NL_ISA_BIT(AVX512VBMI2) | NL_ISA_BIT(AVX512VNNI) |
        NL_ISA_BIT(AVX512BITALG) | NL_ISA_BIT(AVX512VPOPCNTDQ) | NL_ISA_BIT(AVX512BF16);
    const nl_isa_mask needs_tiles = NL_ISA_BIT(AMX_BF16) | NL_ISA_BIT(AMX_TILE);
    if (!ymm)
        mask &= ~(needs_ymm | needs_zmm);
    if (!zmm)
        mask &= ~needs_zmm;
    const unsigned tile_state = XCR0_XTILECFG | XCR0_XTILEDATA;
    if ((mask & needs_tiles) && (!zmm || (xcr0 & tile_state) != tile_state || !amx_permitted()))
        mask &= ~needs_tiles;
    return mask;
}

/* read once: each cpuid is a trap to the hypervisor in a virtual machine,
 * and every choice between kernel sets asks. Threads that read at once
 * store the same mask. */
nl_isa_mask nl_isa_of_this_cpu(void)
{
    static _Atomic nl_isa_mask cached;
    static atomic_bool known;
    if (atomic_load(&known))
        return atomic_load(&cached);
    const nl_isa_mask mask = read_cpu();
    atomic_store(&cached, mask);
    atomic_store(&known, true);
    return mask;
}
#else
nl_isa_mask nl_isa_of_this_cpu(void) { return 0; }
#endif

static const struct {
    const char *name, *cpuinfo;
} features[] = {
#define NL_ISA_NAMES(id, name, cpuinfo, leaf, subleaf, reg, bit) {name, cpuinfo},
    NL_ISA_FEATURES(NL_ISA_NAMES)
#undef NL_ISA_NAMES
};

const char *nl_isa_name(int feature)
{
    return feature >= 0 && feature < NL_ISA_COUNT ? features[feature].name : "?";
}

const char *nl_isa_cpuinfo_flag(int feature)
{
    return feature >= 0 && feature < NL_ISA_COUNT ? features[feature].cpuinfo : "?";
}

nl_isa_mask nl_isa_of_cpuinfo_flags(const char *flags)
{
    nl_isa_mask mask = 0;
    for (int f = 0; f < NL_ISA_COUNT; f++) {
        char padded[64];
        snprintf(padded, sizeof padded, " %s ", features[f].cpuinfo);
        if (strstr(flags, padded))
            mask |= (nl_isa_mask)1 << f;
    }
    return mask;
}

char *nl_isa_list(nl_isa_mask mask, char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = '\0';
    for (int f = 0; f < NL_ISA_COUNT && used < size; f++)
        if (mask >> f & 1u)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     nl_isa_name(f));
    return buf;
}
