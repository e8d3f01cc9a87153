#define _GNU_SOURCE
#include "vae_cpu.h"

#include <dlfcn.h>

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

int vae_openmp_set_threads(int count) {
    void (*set_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (!set_threads) return 0;
    set_threads(count);
    return 1;
}

int vae_openmp_max_threads(void) {
    int (*max_threads)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    return max_threads ? max_threads() : 0;
}
