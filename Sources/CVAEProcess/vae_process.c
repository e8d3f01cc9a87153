#include "vae_process.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 16
#define PATH_BYTES 4096
#define MESSAGE_BYTES 1024

// A slot is claimed (1) before its path is written and published (2) after: the
// handler only reads published slots, so it never sees half a path.
static char paths[SLOTS][PATH_BYTES];
static atomic_int state[SLOTS];
static char stop_before[MESSAGE_BYTES];
static char stop_after[MESSAGE_BYTES];
static int stop_status = 1;

int vae_temporary_remember(const char *path) {
    size_t length = strlen(path);
    if (length >= PATH_BYTES) return -1;
    for (int slot = 0; slot < SLOTS; slot++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&state[slot], &expected, 1)) {
            memcpy(paths[slot], path, length + 1);
            atomic_store(&state[slot], 2);
            return slot;
        }
    }
    return -1;
}

void vae_temporary_forget(int slot) {
    if (slot >= 0 && slot < SLOTS) atomic_store(&state[slot], 0);
}

void vae_remove_temporaries(void) {
    for (int slot = 0; slot < SLOTS; slot++) {
        if (atomic_load(&state[slot]) == 2) unlink(paths[slot]);
    }
}

static const char *signal_name(int signal) {
    switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    default: return "a signal";
    }
}

static void write_all(const char *text) {
    size_t left = strlen(text);
    while (left > 0) {
        ssize_t written = write(STDERR_FILENO, text, left);
        if (written <= 0) return;  // standard error closed or full: nothing to be done
        text += written;
        left -= (size_t)written;
    }
}

static void stop(int signal) {
    vae_remove_temporaries();
    write_all(stop_before);
    write_all(signal_name(signal));
    write_all(stop_after);
    write_all("\n");
    _exit(stop_status);
}

void vae_stop_removing_temporaries(const int *signals, int count, int exit_status, const char *before,
                                   const char *after) {
    strncpy(stop_before, before, MESSAGE_BYTES - 1);
    strncpy(stop_after, after, MESSAGE_BYTES - 1);
    stop_status = exit_status;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stop;
    sigfillset(&action.sa_mask);  // one stop at a time: a second signal waits for _exit
    for (int i = 0; i < count; i++) sigaction(signals[i], &action, NULL);
}

static atomic_int first_stop_signal;
static atomic_int deferred_stop_signal;
static atomic_int writing_checkpoint;

static void stop_request(int signal) {
    int none = 0;
    if (atomic_compare_exchange_strong(&first_stop_signal, &none, signal)) return;  // the first: a request
    if (signal != SIGINT && signal != SIGTERM && signal != SIGHUP) return;  // a repeated warning (SIGUSR1)
    if (atomic_load(&writing_checkpoint)) {
        atomic_store(&deferred_stop_signal, signal);  // after the write (vae_checkpoint_write_end)
        return;
    }
    stop(signal);
}

void vae_stop_requests_install(const int *signals, int count, int exit_status, const char *second_before,
                               const char *second_after) {
    strncpy(stop_before, second_before, MESSAGE_BYTES - 1);
    strncpy(stop_after, second_after, MESSAGE_BYTES - 1);
    stop_status = exit_status;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stop_request;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    for (int i = 0; i < count; i++) sigaction(signals[i], &action, NULL);
}

int vae_stop_signal(void) { return atomic_load(&first_stop_signal); }

void vae_checkpoint_write_begin(void) { atomic_store(&writing_checkpoint, 1); }

void vae_checkpoint_write_end(void) {
    atomic_store(&writing_checkpoint, 0);
    int deferred = atomic_exchange(&deferred_stop_signal, 0);
    if (deferred != 0) stop(deferred);
}
