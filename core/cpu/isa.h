/* x86 instruction-set extensions: which ones a piece of code was compiled to
 * use, and which ones the CPU it runs on has (CPUID, and XGETBV for the
 * register state the operating system saves).
 *
 * The CPU kernels are compiled as sets for x86-64 (the baseline), x86-64-v3
 * (AVX2, FMA), x86-64-v4 (AVX-512) and x86-64-v4-bf16 (AVX-512 and
 * AVX512_BF16, whose register state is AVX-512's), each carrying the mask
 * it was compiled with, so that one binary picks the best set the CPU runs
 * (core/cpu/host.c). A native build (NORMLAB_NATIVE=ON: -march=native) may
 * instead use every extension of the machine it was built on, so it would
 * stop with SIGILL on a CPU that lacks one: cmd/isa_guard.c compares the
 * two masks before main and says so instead.
 *
 * nl_isa_of_this_cpu lives in isa.c, which is compiled for the x86-64
 * baseline whatever the build's flags: it runs before anything checked that
 * the CPU can run the rest. */
#ifndef NL_CPU_ISA_H
#define NL_CPU_ISA_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t nl_isa_mask;

/* One row per extension: its name, the flag /proc/cpuinfo shows for it, and
 * where CPUID reports it (leaf, subleaf, register, bit). Extensions of the
 * x86-64 baseline (SSE, SSE2) are not listed: every x86-64 CPU has them. */
#define NL_ISA_FEATURES(X)                                                                         \
    X(SSE3, "sse3", "pni", 1, 0, ECX, 0)                                                           \
    X(SSSE3, "ssse3", "ssse3", 1, 0, ECX, 9)                                                       \
    X(SSE4_1, "sse4_1", "sse4_1", 1, 0, ECX, 19)                                                   \
    X(SSE4_2, "sse4_2", "sse4_2", 1, 0, ECX, 20)                                                   \
    X(POPCNT, "popcnt", "popcnt", 1, 0, ECX, 23)                                                   \
    X(PCLMUL, "pclmulqdq", "pclmulqdq", 1, 0, ECX, 1)                                              \
    X(AES, "aes", "aes", 1, 0, ECX, 25)                                                            \
    X(MOVBE, "movbe", "movbe", 1, 0, ECX, 22)                                                      \
    X(XSAVE, "xsave", "xsave", 1, 0, ECX, 26)                                                      \
    X(AVX, "avx", "avx", 1, 0, ECX, 28)                                                            \
    X(F16C, "f16c", "f16c", 1, 0, ECX, 29)                                                         \
    X(FMA, "fma", "fma", 1, 0, ECX, 12)                                                            \
    X(LZCNT, "abm", "abm", 0x80000001u, 0, ECX, 5)                                                 \
    X(BMI, "bmi1", "bmi1", 7, 0, EBX, 3)                                                           \
    X(AVX2, "avx2", "avx2", 7, 0, EBX, 5)                                                          \
    X(BMI2, "bmi2", "bmi2", 7, 0, EBX, 8)                                                          \
    X(ADX, "adx", "adx", 7, 0, EBX, 19)                                                            \
    X(AVX512F, "avx512f", "avx512f", 7, 0, EBX, 16)                                                \
    X(AVX512DQ, "avx512dq", "avx512dq", 7, 0, EBX, 17)                                             \
    X(AVX512IFMA, "avx512ifma", "avx512ifma", 7, 0, EBX, 21)                                       \
    X(AVX512CD, "avx512cd", "avx512cd", 7, 0, EBX, 28)                                             \
    X(AVX512BW, "avx512bw", "avx512bw", 7, 0, EBX, 30)                                             \
    X(AVX512VL, "avx512vl", "avx512vl", 7, 0, EBX, 31)                                             \
    X(AVX512VBMI, "avx512vbmi", "avx512vbmi", 7, 0, ECX, 1)                                        \
    X(AVX512VBMI2, "avx512_vbmi2", "avx512_vbmi2", 7, 0, ECX, 6)                                   \
    X(GFNI, "gfni", "gfni", 7, 0, ECX, 8)                                                          \
    X(VAES, "vaes", "vaes", 7, 0, ECX, 9)                                                          \
    X(VPCLMULQDQ, "vpclmulqdq", "vpclmulqdq", 7, 0, ECX, 10)                                       \
    X(AVX512VNNI, "avx512_vnni", "avx512_vnni", 7, 0, ECX, 11)                                     \
    X(AVX512BITALG, "avx512_bitalg", "avx512_bitalg", 7, 0, ECX, 12)                               \
    X(AVX512VPOPCNTDQ, "avx512_vpopcntdq", "avx512_vpopcntdq", 7, 0, ECX, 14)                      \
    X(AVX512BF16, "avx512_bf16", "avx512_bf16", 7, 1, EAX, 5)                                     \
    X(AMX_BF16, "amx_bf16", "amx_bf16", 7, 0, EDX, 22)                                             \
    X(AMX_TILE, "amx_tile", "amx_tile", 7, 0, EDX, 24)

enum {
#define NL_ISA_ENUM(id, name, cpuinfo, leaf, subleaf, reg, bit) NL_ISA_##id,
    NL_ISA_FEATURES(NL_ISA_ENUM)
#undef NL_ISA_ENUM
    NL_ISA_COUNT
};

#define NL_ISA_BIT(id) ((nl_isa_mask)1 << NL_ISA_##id)

/* The extensions the compiler was allowed to use in the translation unit
 * that expands this: what that code needs from the CPU. Each row of
 * NL_ISA_FEATURES needs its NL_ISA_C_ macro here (NL_ISA_COMPILED names
 * them all, so a row without one does not compile). The rows are the
 * extensions a compiler uses on its own, in vector, bit-manipulation and
 * carry code, and AMX's tiles, which normlab's own code never uses (oneDNN
 * does, in the set that lifts its cap: cpu/host.c); others (SHA, RDRAND,
 * ...) appear only through intrinsics, which normlab does not use. */
#ifdef __SSE3__
#define NL_ISA_C_SSE3 NL_ISA_BIT(SSE3)
#else
#define NL_ISA_C_SSE3 0
#endif
#ifdef __SSSE3__
#define NL_ISA_C_SSSE3 NL_ISA_BIT(SSSE3)
#else
#define NL_ISA_C_SSSE3 0
#endif
#ifdef __SSE4_1__
#define NL_ISA_C_SSE4_1 NL_ISA_BIT(SSE4_1)
#else
#define NL_ISA_C_SSE4_1 0
#endif
#ifdef __SSE4_2__
#define NL_ISA_C_SSE4_2 NL_ISA_BIT(SSE4_2)
#else
#define NL_ISA_C_SSE4_2 0
#endif
#ifdef __POPCNT__
#define NL_ISA_C_POPCNT NL_ISA_BIT(POPCNT)
#else
#define NL_ISA_C_POPCNT 0
#endif
#ifdef __PCLMUL__
#define NL_ISA_C_PCLMUL NL_ISA_BIT(PCLMUL)
#else
#define NL_ISA_C_PCLMUL 0
#endif
#ifdef __AES__
#define NL_ISA_C_AES NL_ISA_BIT(AES)
#else
#define NL_ISA_C_AES 0
#endif
#ifdef __MOVBE__
#define NL_ISA_C_MOVBE NL_ISA_BIT(MOVBE)
#else
#define NL_ISA_C_MOVBE 0
#endif
#ifdef __XSAVE__
#define NL_ISA_C_XSAVE NL_ISA_BIT(XSAVE)
#else
#define NL_ISA_C_XSAVE 0
#endif
#ifdef __AVX__
#define NL_ISA_C_AVX NL_ISA_BIT(AVX)
#else
#define NL_ISA_C_AVX 0
#endif
#ifdef __F16C__
#define NL_ISA_C_F16C NL_ISA_BIT(F16C)
#else
#define NL_ISA_C_F16C 0
#endif
#ifdef __FMA__
#define NL_ISA_C_FMA NL_ISA_BIT(FMA)
#else
#define NL_ISA_C_FMA 0
#endif
#ifdef __LZCNT__
#define NL_ISA_C_LZCNT NL_ISA_BIT(LZCNT)
#else
#define NL_ISA_C_LZCNT 0
#endif
#ifdef __BMI__
#define NL_ISA_C_BMI NL_ISA_BIT(BMI)
#else
#define NL_ISA_C_BMI 0
#endif
#ifdef __AVX2__
#define NL_ISA_C_AVX2 NL_ISA_BIT(AVX2)
#else
#define NL_ISA_C_AVX2 0
#endif
#ifdef __BMI2__
#define NL_ISA_C_BMI2 NL_ISA_BIT(BMI2)
#else
#define NL_ISA_C_BMI2 0
#endif
#ifdef __ADX__
#define NL_ISA_C_ADX NL_ISA_BIT(ADX)
#else
#define NL_ISA_C_ADX 0
#endif
#ifdef __AVX512F__
#define NL_ISA_C_AVX512F NL_ISA_BIT(AVX512F)
#else
#define NL_ISA_C_AVX512F 0
#endif
#ifdef __AVX512DQ__
#define NL_ISA_C_AVX512DQ NL_ISA_BIT(AVX512DQ)
#else
#define NL_ISA_C_AVX512DQ 0
#endif
#ifdef __AVX512IFMA__
#define NL_ISA_C_AVX512IFMA NL_ISA_BIT(AVX512IFMA)
#else
#define NL_ISA_C_AVX512IFMA 0
#endif
#ifdef __AVX512CD__
#define NL_ISA_C_AVX512CD NL_ISA_BIT(AVX512CD)
#else
#define NL_ISA_C_AVX512CD 0
#endif
#ifdef __AVX512BW__
#define NL_ISA_C_AVX512BW NL_ISA_BIT(AVX512BW)
#else
#define NL_ISA_C_AVX512BW 0
#endif
#ifdef __AVX512VL__
#define NL_ISA_C_AVX512VL NL_ISA_BIT(AVX512VL)
#else
#define NL_ISA_C_AVX512VL 0
#endif
#ifdef __AVX512VBMI__
#define NL_ISA_C_AVX512VBMI NL_ISA_BIT(AVX512VBMI)
#else
#define NL_ISA_C_AVX512VBMI 0
#endif
#ifdef __AVX512VBMI2__
#define NL_ISA_C_AVX512VBMI2 NL_ISA_BIT(AVX512VBMI2)
#else
#define NL_ISA_C_AVX512VBMI2 0
#endif
#ifdef __GFNI__
#define NL_ISA_C_GFNI NL_ISA_BIT(GFNI)
#else
#define NL_ISA_C_GFNI 0
#endif
#ifdef __VAES__
#define NL_ISA_C_VAES NL_ISA_BIT(VAES)
#else
#define NL_ISA_C_VAES 0
#endif
#ifdef __VPCLMULQDQ__
#define NL_ISA_C_VPCLMULQDQ NL_ISA_BIT(VPCLMULQDQ)
#else
#define NL_ISA_C_VPCLMULQDQ 0
#endif
#ifdef __AVX512VNNI__
#define NL_ISA_C_AVX512VNNI NL_ISA_BIT(AVX512VNNI)
#else
#define NL_ISA_C_AVX512VNNI 0
#endif
#ifdef __AVX512BITALG__
#define NL_ISA_C_AVX512BITALG NL_ISA_BIT(AVX512BITALG)
#else
#define NL_ISA_C_AVX512BITALG 0
#endif
#ifdef __AVX512VPOPCNTDQ__
#define NL_ISA_C_AVX512VPOPCNTDQ NL_ISA_BIT(AVX512VPOPCNTDQ)
#else
#define NL_ISA_C_AVX512VPOPCNTDQ 0
#endif
#ifdef __AVX512BF16__
#define NL_ISA_C_AVX512BF16 NL_ISA_BIT(AVX512BF16)
#else
#define NL_ISA_C_AVX512BF16 0
#endif
#ifdef __AMX_BF16__
#define NL_ISA_C_AMX_BF16 NL_ISA_BIT(AMX_BF16)
#else
#define NL_ISA_C_AMX_BF16 0
#endif
#ifdef __AMX_TILE__
#define NL_ISA_C_AMX_TILE NL_ISA_BIT(AMX_TILE)
#else
#define NL_ISA_C_AMX_TILE 0
#endif

#define NL_ISA_OR_COMPILED(id, name, cpuinfo, leaf, subleaf, reg, bit) | NL_ISA_C_##id
#define NL_ISA_COMPILED ((nl_isa_mask)0 NL_ISA_FEATURES(NL_ISA_OR_COMPILED))

/* What this CPU has and its operating system saves the registers of (no
 * AVX without the YMM state enabled in XCR0, no AVX-512 without the opmask
 * and ZMM state, no AMX without the tile state and Linux's permission for
 * this process to use it); 0 on other architectures. */
nl_isa_mask nl_isa_of_this_cpu(void);

/* What the code compiled with the build's own flags (-march=native, or the
 * baseline) needs: NL_ISA_COMPILED of core/cpu/host.c. */
extern const nl_isa_mask nl_isa_of_build;

/* The extension's name (its row in NL_ISA_FEATURES), "?" out of range. */
const char *nl_isa_name(int feature);
/* The flag /proc/cpuinfo shows for it (its own decoding of CPUID). */
const char *nl_isa_cpuinfo_flag(int feature);
/* the extensions whose flag a /proc/cpuinfo flags line shows (" a b c ") */
nl_isa_mask nl_isa_of_cpuinfo_flags(const char *flags);

/* The names of the extensions in `mask`, separated by ", ", into buf (cut
 * to fit); returns buf. */
char *nl_isa_list(nl_isa_mask mask, char *buf, size_t size);

#endif
