// Process-level safety nets that must run inside a signal handler, where Swift code
// may not (it can allocate or take locks): the list of temporary files a fatal signal
// removes before the process ends.
#ifndef VAE_PROCESS_H
#define VAE_PROCESS_H

// Adds `path` (copied) to the temporary files a stop signal removes. Returns a slot
// for vae_temporary_forget, or -1 when the list is full or the path too long (the file
// is then not removed on a signal; the next write of the same output sweeps it).
int vae_temporary_remember(const char *path);

// Takes slot `slot` off the list (after the file was renamed or removed).
void vae_temporary_forget(int slot);

// Installs, for each of `signals`, a handler that removes every remembered temporary
// file, writes `before`, the signal's name, `after` and "\n" to standard error, and ends
// the process with `exit_status` (_exit: no atexit handlers, nothing buffered is
// flushed). For commands whose only answer to SIGTERM, SIGINT or SIGHUP is to stop
// without leaving a half-written file behind.
void vae_stop_removing_temporaries(const int *signals, int count, int exit_status, const char *before,
                                   const char *after);

// The same removal, for a caller that ends the process itself (a second stop signal
// during training). Async-signal-safe.
void vae_remove_temporaries(void);

#endif
