/* The shim child: runs the plan's steps, in order, after clone, and ends in execve. */
#ifndef CHILD_H
#define CHILD_H

#include "plan.h"

#include <stdbool.h>
#include <sys/ioctl.h>

/* What the parent hands over at clone. */
struct child_io {
	int chan;         /* the child's end of the report channel */
	int peer;         /* the parent's end, which the child closes */
	int out, err;     /* write ends of the log pipes, for fd 1 and 2; -1 without `log` */
	int root;         /* root for container paths until `rootfs` (after `setns mnt`), or -1 */
	struct winsize ws; /* the window size for `console` */
};

/* Whether F, with N fields, is a step with a valid number of fields. */
bool step_valid(char **f, uint32_t n);

/* Runs every step of P; each one's `step` report goes to the parent over io->chan (the pty
 * master of `console` rides along with its report). */
_Noreturn void child_run(const struct plan *p, const struct child_io *io);

#endif
