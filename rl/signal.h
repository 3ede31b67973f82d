/* The stop signal of a run (SIGINT, SIGTERM): a flag polled between steps. Owns: the
 * process-wide flag and the saved previous handlers (signals are process-wide by nature). */
#pragma once

/* Catch SIGINT and SIGTERM: the first sets a flag (the loop checkpoints and exits), a second
 * of the same kind kills the process the default way. Returns 0 or an error. The flag is
 * process-wide by nature (signals are). */
int rl_signal_install(void);
/* The signal number received since install (0 if none). */
int rl_signal_pending(void);
/* Record the signal every rank agreed to stop on (dist_agree_signal), so a rank that did
 * not receive it itself exits the same way (128 + sig). */
void rl_signal_agreed(int sig);
/* Forget a received signal (tests). */
void rl_signal_clear(void);
/* Restore the previous handlers. */
void rl_signal_uninstall(void);
