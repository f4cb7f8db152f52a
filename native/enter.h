/* Parent, before clone: opening the host files of the plan, then entering the namespaces of an
 * existing container (`setns`, for exec). Functions return 0 or an errno. */
#ifndef ENTER_H
#define ENTER_H

#include "plan.h"

/* The CLONE_NEW* flag of a `setns` TYPE, or 0 when TYPE is not one. */
int ns_type(const char *type);

/* Opens the file of every `cgroup-join` and `setns` record into its fd: after `setns mnt` host
 * paths are unreachable. A `cgroup-join` file that cannot be opened is the child's to report,
 * as its step. */
int enter_open(struct plan *p);

/* setns() into each `setns` namespace, in plan order. *root receives the root of the joined
 * mount namespace (`setns mnt`), or -1. */
int enter_setns(struct plan *p, int *root);

/* Closes the parent's copies of the `cgroup-join` files once the child has them. */
int enter_close(struct plan *p);

#endif
