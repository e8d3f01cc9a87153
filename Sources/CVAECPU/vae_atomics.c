#include "vae_atomics.h"

#include <sched.h>
#include <time.h>

int64_t vae_atomic_load(const int64_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }

void vae_atomic_store(int64_t *word, int64_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }

int vae_atomic_compare_exchange(int64_t *word, int64_t expected, int64_t desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void vae_wait_a_moment(int microseconds) {
    if (microseconds <= 0) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        return;
    }
    struct timespec pause = {0, (long)microseconds * 1000};
    nanosleep(&pause, 0);
}
