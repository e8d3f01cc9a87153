// malloc_count: an LD_PRELOAD shim that counts heap allocations, so `vae-dist bench`
// can show that a steady-state training step allocates nothing (or what it allocates).
//
//   cc -O2 -shared -fPIC -o malloc_count.so malloc_count.c
//   LD_PRELOAD=$PWD/malloc_count.so vae-dist bench
//
// Every malloc/calloc/realloc/memalign/posix_memalign/aligned_alloc/valloc/pvalloc of
// every thread is counted (with the bytes asked for) and forwarded to glibc's own
// __libc_* entry points. The bench finds vae_malloc_count() by dlsym. free is not
// interposed: freeing is not what costs, and glibc's free takes any of these blocks.
// vae_malloc_trace(n) arms a backtrace on standard error for each of the next n
// allocations (`vae-dist bench --trace-allocations N`), to say where a step allocates.
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Atomic uint64_t allocation_count;
static _Atomic uint64_t allocation_bytes;
static _Atomic int traces_left;
static __thread int inside_trace;

uint64_t vae_malloc_count(void) { return atomic_load_explicit(&allocation_count, memory_order_relaxed); }
uint64_t vae_malloc_bytes(void) { return atomic_load_explicit(&allocation_bytes, memory_order_relaxed); }
void vae_malloc_trace(int allocations) { atomic_store(&traces_left, allocations); }

static void record(size_t size) {
    atomic_fetch_add_explicit(&allocation_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&allocation_bytes, size, memory_order_relaxed);
    if (atomic_load_explicit(&traces_left, memory_order_relaxed) > 0 && !inside_trace) {
        if (atomic_fetch_sub(&traces_left, 1) > 0) {
            // backtrace() may allocate on its first use; the flag keeps that from recursing.
            inside_trace = 1;
            void *frames[32];
            int depth = backtrace(frames, 32);
            static const char header[] = "malloc_count: allocation in the traced window:\n";
            (void)!write(2, header, sizeof header - 1);
            backtrace_symbols_fd(frames, depth, 2);
            inside_trace = 0;
        }
    }
}

__attribute__((constructor)) static void load_unwinder(void) {
    // The first backtrace() loads libgcc_s: do it now, not inside a traced allocation.
    void *frame;
    inside_trace = 1;
    backtrace(&frame, 1);
    inside_trace = 0;
}

void *malloc(size_t size) { record(size); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { record(count * size); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { record(size); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { record(size); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { record(size); return __libc_memalign(alignment, size); }
void *valloc(size_t size) { record(size); return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), size); }
void *pvalloc(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    record(size);
    return __libc_memalign(page, (size + page - 1) / page * page);
}
int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    record(size);
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer && size) return ENOMEM;
    *result = pointer;
    return 0;
}
