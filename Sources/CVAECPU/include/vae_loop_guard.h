// A guard for library calls that can loop forever on bad input (HDF5 1.10 on some
// damaged files: docs/faults.md), where no error would ever come back.
#ifndef VAE_LOOP_GUARD_H
#define VAE_LOOP_GUARD_H

// Arms the guard for the calling thread: from now on a watchdog thread (started on
// first use) checks ten times a second how much CPU time this thread has used since;
// past `cpu_seconds` it writes `message` to standard error and ends the process with
// status 1 (under mpirun that ends the job). CPU time, not wall time: a thread
// waiting on a slow disk or file system never trips it, a thread spinning in a loop
// does. Arms nest (the outermost sets the limit); one thread at a time. Returns 0, or
// -1 when the thread's CPU clock or the watchdog thread cannot be had (then unguarded).
int vae_loop_guard_arm(double cpu_seconds, const char *message);

// Disarms one arm of the calling thread.
void vae_loop_guard_disarm(void);

#endif
