#include "monitor.h"

#include "child.h"
#include "report.h"
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static struct {
	pid_t pid;      /* the container's PID 1, once cloned */
	int sfd;        /* signalfd */
	int chan;       /* reports from the child; -1 after its EOF */
	bool reaped;
	bool failed;    /* the child reported a failing step */
	size_t done;    /* steps the child reported as done */
	int status;     /* from waitpid */
	struct relay relay;
} m = { .pid = -1, .chan = -1, .relay = { .master = -1 } };

/* The parent failed: say so, and take the container along rather than leave it unmonitored. */
static _Noreturn void die(const char *stage, int err)
{
	report_fatal(stage, err);
	if (m.pid > 0 && !m.reaped && kill(m.pid, SIGKILL) == 0)
		waitpid(m.pid, NULL, 0);
	exit(125);
}

/* One message from the child: a `step` record, forwarded as it is, maybe with the pty master. */
static void on_channel(const struct opts *o)
{
	char buf[256];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { buf, sizeof buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof cm.buf };
	ssize_t n = recvmsg(m.chan, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		die("channel", errno);
	if (n == 0) {
		/* EOF: the child has exec'd (its end is close-on-exec) or died. Only when every step
		 * before exec was done and none failed did exec succeed. */
		close(m.chan);
		m.chan = -1;
		if (!m.failed && m.done + 1 == o->nsteps) {
			struct rec r;
			rec_start(&r, "started");
			report(&r);
		}
		return;
	}
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
		int fd, err;
		memcpy(&fd, CMSG_DATA(h), sizeof fd);
		if ((err = relay_start(&m.relay, fd)))
			die("pty", err);
	}
	report_raw(buf, (size_t)n);
	char *f[5];
	size_t pos = 0;
	if (record_decode(buf, (size_t)n, &pos, f, 4) != 4 || strcmp(f[2], "0"))
		m.failed = true;
	else
		m.done++;
}

static void on_signal(void)
{
	struct signalfd_siginfo si;
	ssize_t n = read(m.sfd, &si, sizeof si);
	if (n != sizeof si)
		die("signals", n < 0 ? errno : EIO);
	if (si.ssi_signo == SIGCHLD) {
		pid_t w = m.reaped ? 0 : waitpid(m.pid, &m.status, WNOHANG);
		if (w < 0)
			die("wait", errno);
		m.reaped |= w == m.pid;
	} else if (si.ssi_signo == SIGWINCH) {
		relay_winch(&m.relay);
	} else if (!m.reaped && kill(m.pid, (int)si.ssi_signo) < 0) {
		die("kill", errno);
	}
}

static int write_exit_file(const char *path, int code, int sig)
{
	char tmp[PATH_MAX], line[32];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return ENAMETOOLONG;
	int len = snprintf(line, sizeof line, "%d %d\n", code, sig);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	ssize_t n = write(fd, line, (size_t)len);
	int err = n < 0 ? errno : n != len ? EIO : 0;
	if (close(fd) < 0 && !err)
		err = errno;
	/* rename: readers see the old file or the whole new one. */
	if (!err && rename(tmp, path) < 0)
		err = errno;
	return err;
}

/* Nobody heard the exit report, so the exit command cleans up instead: in its own session,
 * stdio on /dev/null, not waited for. */
static void run_exit_command(char **argv)
{
	pid_t pid = fork();
	if (pid < 0)
		report_fatal("exit-command", errno);
	if (pid != 0)
		return;
	sigset_t none;
	sigemptyset(&none);
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0 || setsid() < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
	    close_range(3, ~0U, 0) < 0 || signal(SIGPIPE, SIG_DFL) == SIG_ERR ||
	    sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(127);
	execvp(argv[0], argv);
	_exit(127);
}

/* Fork-like clone into new namespaces. With a cgroup2 directory, clone3(CLONE_INTO_CGROUP)
 * places the child there as it is born: no migration, so no cgroup_threadgroup_rwsem write
 * lock and the RCU grace period it costs (~10 ms here). */
static long spawn(const struct opts *o)
{
	if (!o->cgroup2)
		return syscall(SYS_clone, o->clone_flags | SIGCHLD, 0, 0, 0, 0);
	int dir = open(o->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		die("cgroup", errno);
	struct clone_args args = {
		.flags = o->clone_flags | CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)dir,
	};
	long pid = syscall(SYS_clone3, &args, sizeof args);
	int err = errno;
	if (pid != 0 && close(dir) < 0)
		die("cgroup", errno);
	errno = err;
	return pid;
}

int monitor(const struct plan *p, const struct opts *o)
{
	struct winsize ws = { 0 };
	if (o->tty)
		tty_size(&ws);

	/* Blocked before clone so that none is lost; the child unblocks them at once. */
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (m.sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		die("signals", errno);

	/* SEQPACKET keeps each report one message, and carries the pty master. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("channel", errno);
	long pid = spawn(o);
	if (pid < 0)
		die("clone", errno);
	if (pid == 0)
		child_run(p, sv[1], &ws);
	m.pid = (pid_t)pid;
	m.chan = sv[0];
	if (close(sv[1]) < 0)
		die("channel", errno);
	struct rec r;
	rec_start(&r, "pid");
	rec_num(&r, pid);
	report(&r);

	/* Until the container is reaped and every report of the child has been read. */
	while (!m.reaped || m.chan >= 0) {
		struct pollfd pfd[4] = { { m.sfd, POLLIN, 0 }, { m.chan, POLLIN, 0 } };
		relay_events(&m.relay, pfd + 2);
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", errno);
		}
		if (pfd[1].revents)
			on_channel(o);
		if (pfd[0].revents)
			on_signal();
		relay_io(&m.relay, pfd + 2);
	}
	relay_drain(&m.relay);

	int code = WIFEXITED(m.status) ? WEXITSTATUS(m.status) : -1;
	int sig = WIFSIGNALED(m.status) ? WTERMSIG(m.status) : 0;
	int status = code >= 0 ? code : 128 + sig;
	int err = o->exit_file ? write_exit_file(o->exit_file, code, sig) : 0;
	if (err) {
		report_fatal("exit-file", err);
		status = 125;
	}
	rec_start(&r, "exit");
	rec_num(&r, code);
	rec_num(&r, sig);
	if (!report(&r) && o->exit_cmd)
		run_exit_command(o->exit_cmd);
	return status;
}
