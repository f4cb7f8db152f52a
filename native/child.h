/* The shim child: runs the plan's steps, in order, after clone, and ends in execve. */
#ifndef CHILD_H
#define CHILD_H

#include "plan.h"

#include <stdbool.h>
#include <sys/ioctl.h>

/* Whether F, with N fields, is a step with a valid number of fields. */
bool step_valid(char **f, uint32_t n);

/* Runs every step of P; each one's `step` report goes to the parent over CHAN (the pty master
 * of `console` rides along with its report). WS is the window size for `console`. */
_Noreturn void child_run(const struct plan *p, int chan, const struct winsize *ws);

#endif
