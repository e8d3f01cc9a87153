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

// Training's stop signals. The first one is recorded for the trainer, which reads it
// once per step (vae_stop_signal) and stops every rank after the same step with a
// checkpoint. A later SIGINT, SIGTERM or SIGHUP ends the process at once, removing the temporary files,
// writing `second_before`, the signal's name and `second_after` to standard error and
// exiting with `exit_status`, except while a checkpoint is being written
// (vae_checkpoint_write_begin/end): then it waits until the write has ended, so that a
// second SIGTERM from an impatient scheduler does not cost the checkpoint.
void vae_stop_requests_install(const int *signals, int count, int exit_status, const char *second_before,
                               const char *second_after);

// The first stop signal received, or 0.
int vae_stop_signal(void);

// Brackets a checkpoint write (nesting is not supported). _end ends the process, as
// described above, when a second stop signal arrived during the write.
void vae_checkpoint_write_begin(void);
void vae_checkpoint_write_end(void);
