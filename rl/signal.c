/* The stop signal of a run: the first SIGINT/SIGTERM sets a flag the loops poll after each
 * step (checkpoint, then exit), a second of the same kind quits at once the default way. */
#include "rl/signal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

static volatile sig_atomic_t g_signal;
static struct sigaction g_old_int, g_old_term;
static int g_installed;

static void on_signal(int sig) {
    if (g_signal == sig) {
        /* second time: leave now, the default way */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_signal = sig;
    static const char msg[] = "\nrlc: signal received; finishing the step, saving a checkpoint and exiting "
                              "(send it again to quit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

int rl_signal_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    g_signal = 0;
    if (sigaction(SIGINT, &sa, g_installed ? NULL : &g_old_int) != 0 ||
        sigaction(SIGTERM, &sa, g_installed ? NULL : &g_old_term) != 0)
        return rlc_err_errno("cannot install signal handlers");
    g_installed = 1;
    return 0;
}

int rl_signal_pending(void) { return (int)g_signal; }
void rl_signal_clear(void) { g_signal = 0; }
void rl_signal_agreed(int sig) { g_signal = sig; }

void rl_signal_uninstall(void) {
    if (!g_installed) return;
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
    g_installed = 0;
}
