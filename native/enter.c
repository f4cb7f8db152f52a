#include "enter.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	int flag;
} types[] = {
	{ "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
	{ "net", CLONE_NEWNET },       { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS },
};

int ns_type(const char *type)
{
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (!strcmp(types[i].name, type))
			return types[i].flag;
	return 0;
}

int enter_open(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct record *r = &p->r[i];
		if (!strcmp(r->f[0], "cgroup-join")) {
			r->fd = open(r->f[1], O_WRONLY | O_CLOEXEC);
			if (r->fd < 0)
				r->fd = -errno;
		} else if (!strcmp(r->f[0], "setns")) {
			r->fd = open(r->f[2], O_RDONLY | O_CLOEXEC);
			if (r->fd < 0)
				return errno;
		}
	}
	return 0;
}

int enter_setns(struct plan *p, int *root)
{
	bool mnt = false;
	*root = -1;
	for (size_t i = 0; i < p->n; i++) {
		struct record *r = &p->r[i];
		if (strcmp(r->f[0], "setns"))
			continue;
		/* The type makes the kernel check that the file is a namespace of that kind. */
		int type = ns_type(r->f[1]);
		if (setns(r->fd, type) < 0 || close(r->fd) < 0)
			return errno;
		r->fd = -EBADF;
		mnt |= type == CLONE_NEWNS;
	}
	/* setns(mnt) moved our root and working directory to the container's root: the child's
	 * container paths resolve there, as the plan has no `rootfs` step. */
	if (mnt && (*root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno;
	return 0;
}

int enter_close(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->r[i].f[0], "cgroup-join") && p->r[i].fd >= 0 && close(p->r[i].fd) < 0)
			return errno;
	return 0;
}
