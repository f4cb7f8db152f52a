/* The shim parent: clones the child, then monitors the container until it exits. */
#ifndef MONITOR_H
#define MONITOR_H

#include "plan.h"

#include <stdbool.h>
#include <sys/types.h>

/* The plan's options. */
struct opts {
	unsigned long clone_flags;
	bool tty;
	bool detach;           /* stop reporting after `started` */
	bool tee;              /* with `log`: copy the output to fd 1 and 2 as well */
	bool setns;            /* the plan joins an existing container */
	pid_t caller;          /* die-with-caller: the shim dies with this parent (0: it outlives it) */
	const char *log;       /* CRI log file, or NULL */
	const char *exit_file; /* or NULL */
	const char *cgroup2;   /* cgroup2 directory to clone into, or NULL */
	char **exit_cmd;       /* argv, or NULL */
	size_t nsteps;         /* steps in the plan; the last one is exec */
};

/* Runs the plan; returns the shim's exit status (the container's, or 125). */
int monitor(struct plan *p, const struct opts *o);

#endif
