// Atomic 64-bit words in memory that several processes map (node shared memory): the
// streaming reader's "block ready" tags and step counters. Swift's own atomics cover
// memory Swift allocated, not a window other ranks write into.
#ifndef VAE_ATOMICS_H
#define VAE_ATOMICS_H

#include <stdint.h>

int64_t vae_atomic_load(const int64_t *word);              // acquire
void vae_atomic_store(int64_t *word, int64_t value);       // release
// Sets *word to desired when it holds expected; returns 1 when it did.
int vae_atomic_compare_exchange(int64_t *word, int64_t expected, int64_t desired);
// A short wait in a polling loop: a CPU pause hint, or a sleep of `microseconds` when > 0.
void vae_wait_a_moment(int microseconds);

#endif
