// CPUID feature query: an ISA counts only when the CPU has it and the OS saves its registers
// (XGETBV), and AMX only once Linux grants this process the tile data state (arch_prctl).
#include "CKernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static unsigned long long xgetbv0(void) {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

static int amx_permitted(void) {
#if defined(__linux__)
  // ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18): without it the first tile load faults.
  return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
  return 0;
#endif
}

static unsigned detect(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!osxsave || !avx) return 0;
  unsigned long long xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return 0;  // SSE and AVX state
  unsigned b7 = 0, d7 = 0, a71 = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) { b7 = b; d7 = d; }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) a71 = a;
  unsigned features = 0;
  if (fma && ((b7 >> 5) & 1)) features |= CK_AVX2_FMA;
  int zmm_state = (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
  int avx512 = ((b7 >> 16) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1);
  if ((features & CK_AVX2_FMA) && avx512 && zmm_state) {
    features |= CK_AVX512;
    if ((a71 >> 5) & 1) features |= CK_AVX512_BF16;
  }
  int tile_state = (xcr0 & 0x60000ULL) == 0x60000ULL;  // XTILECFG, XTILEDATA
  if (((d7 >> 24) & 1) && ((d7 >> 22) & 1) && tile_state && amx_permitted()) features |= CK_AMX_BF16;
  return features;
}

unsigned ck_cpu_features(void) {
  static int cached = -1;
  int value = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
  if (value < 0) {
    value = (int)detect();
    __atomic_store_n(&cached, value, __ATOMIC_RELEASE);
  }
  return (unsigned)value;
}

#else

unsigned ck_cpu_features(void) { return 0; }

#endif
