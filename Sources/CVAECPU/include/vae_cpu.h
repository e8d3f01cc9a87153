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

// The OpenMP runtime oneDNN runs its threads on (libgomp, loaded with libdnnl): sets the
// thread count of the calling thread's next parallel regions, as omp_set_num_threads.
// Found at run time (dlsym), so that nothing links libgomp's development files. Returns 0
// when no OpenMP runtime is loaded, 1 otherwise.
int vae_openmp_set_threads(int count);

// omp_get_max_threads() of the calling thread; 0 when no OpenMP runtime is loaded.
int vae_openmp_max_threads(void);

#endif
