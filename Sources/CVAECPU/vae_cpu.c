#define _GNU_SOURCE
#include "vae_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define VAE_MXCSR_FTZ 0x8000u
#define VAE_MXCSR_DAZ 0x0040u
void vae_enable_flush_to_zero(void) { _mm_setcsr(_mm_getcsr() | VAE_MXCSR_FTZ | VAE_MXCSR_DAZ); }
int vae_flush_to_zero_enabled(void) {
    unsigned bits = VAE_MXCSR_FTZ | VAE_MXCSR_DAZ;
    return (_mm_getcsr() & bits) == bits;
}
#else
void vae_enable_flush_to_zero(void) {}
int vae_flush_to_zero_enabled(void) { return 0; }
#endif

#if defined(__linux__)
#include <sched.h>
int vae_usable_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}
#else
int vae_usable_cpu_count(void) { return 0; }
#endif
