/* whalebox-shim: runs one container from the launch plan on fd 3 and reports on fd 4.
 * The contract is docs/shim-protocol.md. */
#include "child.h"
#include "enter.h"
#include "monitor.h"
#include "plan.h"
#include "report.h"
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define CLONE_NS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
		  CLONE_NEWNET | CLONE_NEWCGROUP)

/* Keeps FD open, on /dev/null if it is not, so that no fd of the shim's own lands on a number
 * that means something. Fd 4 is read-only there: reports then fail over to stderr. */
static int reserve(int fd, int flags)
{
	if (fcntl(fd, F_GETFD) >= 0)
		return 0;
	int null = open("/dev/null", flags);
	if (null < 0 || (null != fd && (dup2(null, fd) < 0 || close(null) < 0)))
		return errno;
	return 0;
}

static int options(const struct plan *p, struct opts *o)
{
	const char *last = NULL;
	bool console = false;
	*o = (struct opts){ 0 };
	for (size_t i = 0; i < p->n; i++) {
		char **f = p->r[i].f;
		uint32_t n = p->r[i].n;
		unsigned long long flags;
		if (!strcmp(f[0], "clone") && n == 2) {
			/* Anything else would change what clone does (the low byte is the exit signal). */
			if (field_num(f[1], 10, CLONE_NS, &flags) || (flags & ~(unsigned long long)CLONE_NS))
				return EINVAL;
			o->clone_flags = flags;
		} else if (!strcmp(f[0], "tty") && n == 1) {
			o->tty = true;
		} else if (!strcmp(f[0], "detach") && n == 1) {
			o->detach = true;
		} else if (!strcmp(f[0], "tee") && n == 1) {
			o->tee = true;
		} else if (!strcmp(f[0], "log") && n == 2) {
			o->log = f[1];
		} else if (!strcmp(f[0], "setns") && n == 3 && ns_type(f[1])) {
			o->setns = true;
		} else if (!strcmp(f[0], "clone-into-cgroup") && n == 2) {
			o->cgroup2 = f[1];
		} else if (!strcmp(f[0], "exit-file") && n == 2) {
			o->exit_file = f[1];
		} else if (!strcmp(f[0], "die-with-caller") && n == 2) {
			if (field_num(f[1], 10, INT32_MAX, &flags) || flags == 0)
				return EINVAL;
			o->caller = (pid_t)flags;
		} else if (!strcmp(f[0], "exit-command") && n >= 2) {
			o->exit_cmd = f + 1;
		} else if (step_valid(f, n)) {
			o->nsteps++;
			last = f[0];
			console |= !strcmp(f[0], "console");
		} else {
			return EINVAL;
		}
	}
	/* Steps after exec could never run; a console without `tty` would have nobody to relay it;
	 * after `setns` the exit command would run in the container's namespaces. */
	if (!last || strcmp(last, "exec") || (console && !o->tty) || (o->tee && !o->log) || (o->setns && o->exit_cmd))
		return EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	/* A tool mode, not a container: the runtime compiles a seccomp filter once and keeps it. */
	if (argc > 1 && !strcmp(argv[1], "seccomp-compile"))
		return seccomp_compile(argv + 1);
	/* Node may go away at any time: writing to fd 4 must fail with EPIPE, not kill the shim. */
	int err = signal(SIGPIPE, SIG_IGN) == SIG_ERR ? errno : 0;
	for (int fd = 0; fd <= 2 && !err; fd++)
		err = reserve(fd, O_RDWR);
	if (!err)
		err = reserve(4, O_RDONLY);
	/* Whatever else the caller's caller left open (a CI step's pipe, say) must not be held
	 * for the container's lifetime: a reader would never see EOF. */
	if (!err && close_range(5, ~0U, 0) < 0)
		err = errno;
	if (err) {
		report_fatal("setup", err);
		return 125;
	}

	struct plan p;
	struct opts o;
	err = plan_read(3, &p);
	if (close(3) < 0 && !err)
		err = errno;
	if (!err)
		err = options(&p, &o);
	if (err) {
		report_fatal("plan", err);
		return 125;
	}
	/* A build's step container must not outlive the build: the shim dies with its caller, and
	 * its container with it (the child's own PDEATHSIG). A caller gone already fails the run. */
	if (o.caller && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		report_fatal("die-with-caller", errno);
		return 125;
	}
	if (o.caller && getppid() != o.caller) {
		report_fatal("die-with-caller", ESRCH);
		return 125;
	}
	return monitor(&p, &o);
}
