// CPU floating-point control, which Swift cannot reach without a C intrinsic.
#ifndef VAE_CPU_H
#define VAE_CPU_H

// Sets flush-to-zero and denormals-are-zero for the calling thread (x86 MXCSR;
// a no-op elsewhere). Subnormal floats make Adam steps on dead ReLU units
// several times slower; results are unchanged to every printed digit.
void vae_enable_flush_to_zero(void);

// 1 when the calling thread has both FTZ and DAZ set (x86); 0 otherwise.
int vae_flush_to_zero_enabled(void);

// CPUs in this process's affinity mask (mpirun binding, taskset, cgroup cpusets);
// 0 where that cannot be read.
int vae_usable_cpu_count(void);

#endif
