#include "vae_loop_guard.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t guard_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t guard_changed = PTHREAD_COND_INITIALIZER;
static int guard_depth;            // arms not yet disarmed
static clockid_t guard_clock;      // the armed thread's CPU clock
static double guard_deadline;      // in that clock's seconds
static char guard_message[4096];
static int watchdog_started;

static double clock_seconds(clockid_t clock) {
    struct timespec now;
    if (clock_gettime(clock, &now) != 0) return -1;
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static void *watchdog(void *unused) {
    (void)unused;
    pthread_mutex_lock(&guard_mutex);
    for (;;) {
        while (guard_depth == 0) pthread_cond_wait(&guard_changed, &guard_mutex);
        if (clock_seconds(guard_clock) > guard_deadline) {
            // Only async-signal-safe calls from here: the guarded thread is in the middle of
            // a library call, holding whatever it holds.
            size_t length = strlen(guard_message);
            ssize_t written = write(STDERR_FILENO, guard_message, length);
            (void)written;
            _exit(1);
        }
        struct timespec wake;
        clock_gettime(CLOCK_REALTIME, &wake);
        wake.tv_nsec += 100 * 1000 * 1000;
        if (wake.tv_nsec >= 1000 * 1000 * 1000) {
            wake.tv_sec += 1;
            wake.tv_nsec -= 1000 * 1000 * 1000;
        }
        pthread_cond_timedwait(&guard_changed, &guard_mutex, &wake);
    }
    return NULL;
}

int vae_loop_guard_arm(double cpu_seconds, const char *message) {
    pthread_mutex_lock(&guard_mutex);
    int status = 0;
    if (guard_depth == 0) {
        clockid_t clock;
        double now = -1;
        if (pthread_getcpuclockid(pthread_self(), &clock) == 0) now = clock_seconds(clock);
        if (now < 0) {
            status = -1;
        } else if (!watchdog_started) {
            pthread_t thread;
            pthread_attr_t attributes;
            pthread_attr_init(&attributes);
            pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&thread, &attributes, watchdog, NULL) == 0) watchdog_started = 1;
            else status = -1;
            pthread_attr_destroy(&attributes);
        }
        if (status == 0) {
            guard_clock = clock;
            guard_deadline = now + cpu_seconds;
            snprintf(guard_message, sizeof guard_message, "%s\n", message);
        }
    }
    if (status == 0) {
        guard_depth++;
        pthread_cond_signal(&guard_changed);
    }
    pthread_mutex_unlock(&guard_mutex);
    return status;
}

void vae_loop_guard_disarm(void) {
    pthread_mutex_lock(&guard_mutex);
    if (guard_depth > 0) guard_depth--;
    pthread_mutex_unlock(&guard_mutex);
}
