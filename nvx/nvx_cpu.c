/*
 * CPU feature detection: the best SIMD level usable here. Pure function of the hardware and OS; the
 * Python side calls it once at import and keeps the answer in a read-only module constant.
 */
#include "nvx.h"

#if NVX_X86_SIMD
#include <cpuid.h>

/* XCR0: which register states the OS saves on context switch (AVX needs YMM, AVX-512 also ZMM+k). */
static uint64_t os_saved_state(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

int nvx_cpu_level(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX)) return NVX_LEVEL_SCALAR;
    uint64_t xcr0 = os_saved_state();
    if ((xcr0 & 0x6) != 0x6) return NVX_LEVEL_SCALAR;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX2)) return NVX_LEVEL_SCALAR;
    if ((b & bit_AVX512F) && (b & bit_AVX512BW) && (xcr0 & 0xE6) == 0xE6) return NVX_LEVEL_AVX512;
    return NVX_LEVEL_AVX2;
}
#else
int nvx_cpu_level(void)
{
    return NVX_LEVEL_SCALAR;
}
#endif
