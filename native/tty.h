/* Terminals: the `console` step in the child, the relay in the parent. */
#ifndef TTY_H
#define TTY_H

#include "log.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/ioctl.h>

/* Child: makes a pty of the container's devpts its terminal, bound over /dev/console when BIND
 * (a container's init; not an exec'd process). Returns 0 or an errno; *master receives the
 * master for the parent. */
int tty_console(int root, const struct winsize *ws, bool bind, int *master);

/* Parent, before clone: the window size of fd 0 (zero when it is not a terminal). */
void tty_size(struct winsize *ws);

/* Parent: copies fd 0 to the master and the master to fd 1, or, with a log, only the master
 * to the log's stdout. */
struct relay {
	int master;      /* -1 until the console step sends it, and after it hangs up */
	struct log *log; /* or NULL */
	bool in_eof;     /* fd 0 is done (from the start with a log: it is not read) */
	bool out_err;    /* fd 1 failed: output is still read (and dropped) so the container never blocks */
	size_t off, len; /* in[off..len) has yet to reach the master */
	char in[4096];
};

/* Takes the master: non-blocking, and, without a log, fd 0 in raw mode until exit when it is a
 * terminal. */
int relay_start(struct relay *r, int master);
/* Fills the two pollfds the relay needs (fd 0, master), and acts on their results. */
void relay_events(const struct relay *r, struct pollfd p[2]);
void relay_io(struct relay *r, const struct pollfd p[2]);
/* Copies what is left once the container has exited. */
void relay_drain(struct relay *r);
/* SIGWINCH: the master gets the window size of fd 0. */
void relay_winch(const struct relay *r);

#endif
