#include "monitor.h"

#include "child.h"
#include "enter.h"
#include "finish.h"
#include "log.h"
#include "report.h"
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
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
	struct log log;
	struct exit_file exit;
} m = { .pid = -1, .chan = -1, .relay = { .master = -1 }, .log = LOG_INIT };

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
			bool heard = report(&r);
			if (o->detach) {
				/* A caller gone before the start may not have recorded the container: it
				 * must not run unseen. Ended now, its exit command cleans up after it. */
				if (!heard && kill(m.pid, SIGKILL) < 0)
					die("kill", errno);
				/* Nobody hears the exit of a detached container: the exit command runs. */
				report_close();
			}
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

/* Fork-like clone into new namespaces (or none, with `setns`). With a cgroup2 directory,
 * clone3(CLONE_INTO_CGROUP) places the child there as it is born: no migration, so no
 * cgroup_threadgroup_rwsem write lock and the RCU grace period it costs (~10 ms here). */
static long spawn(const struct opts *o, int cgroup)
{
	if (cgroup < 0)
		return syscall(SYS_clone, o->clone_flags | SIGCHLD, 0, 0, 0, 0);
	struct clone_args args = {
		.flags = o->clone_flags | CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgroup,
	};
	return syscall(SYS_clone3, &args, sizeof args);
}

static int close_fd(int fd)
{
	return fd >= 0 && close(fd) < 0 ? errno : 0;
}

int monitor(struct plan *p, const struct opts *o)
{
	struct child_io io = { .out = -1, .err = -1 };
	if (o->tty)
		tty_size(&io.ws);

	/* Every host file first, then `setns`: after `setns mnt`, host paths lead into the
	 * container. */
	int err, cgroup = -1;
	if (o->log && (err = log_open(&m.log, o->log)))
		die("log", err);
	if (o->exit_file && (err = exit_file_open(&m.exit, o->exit_file)))
		die("exit-file", err);
	if (o->cgroup2 && (cgroup = open(o->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("cgroup", errno);
	if ((err = enter_open(p)) || (err = enter_setns(p, &io.root)))
		die("setns", err);

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
	io.chan = sv[1];
	io.peer = sv[0];
	/* With a terminal, its master is what goes to the log. */
	m.relay.log = o->log ? &m.log : NULL;
	m.log.tee = o->tee;
	int ends[2];
	if (o->log && !o->tty) {
		if ((err = log_pipes(&m.log, ends)))
			die("log", err);
		io.out = ends[0];
		io.err = ends[1];
	}
	long pid = spawn(o, cgroup);
	if (pid < 0)
		die("clone", errno);
	if (pid == 0)
		child_run(p, &io);
	m.pid = (pid_t)pid;
	m.chan = sv[0];
	/* What only the child needs; the write ends especially: their EOF is the end of output. */
	if ((err = close_fd(sv[1])) || (err = close_fd(io.out)) || (err = close_fd(io.err)) ||
	    (err = close_fd(io.root)) || (err = close_fd(cgroup)) || (err = enter_close(p)))
		die("close", err);
	struct rec r;
	rec_start(&r, "pid");
	rec_num(&r, pid);
	report(&r);

	/* Until the container is reaped, every report of the child has been read, and its output
	 * has reached the log: its last words come before the exit file. */
	while (!m.reaped || m.chan >= 0 || log_reading(&m.log)) {
		struct pollfd pfd[6] = { { m.sfd, POLLIN, 0 }, { m.chan, POLLIN, 0 } };
		relay_events(&m.relay, pfd + 2);
		log_events(&m.log, pfd + 4);
		if (poll(pfd, 6, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", errno);
		}
		if (pfd[1].revents)
			on_channel(o);
		if (pfd[0].revents)
			on_signal();
		relay_io(&m.relay, pfd + 2);
		log_io(&m.log, pfd + 4);
	}
	relay_drain(&m.relay);
	log_flush(&m.log, &m.log.out); /* a terminal's last line */

	int code = WIFEXITED(m.status) ? WEXITSTATUS(m.status) : -1;
	int sig = WIFSIGNALED(m.status) ? WTERMSIG(m.status) : 0;
	int status = code >= 0 ? code : 128 + sig;
	err = o->exit_file ? exit_file_write(&m.exit, code, sig) : 0;
	if (err) {
		report_fatal("exit-file", err);
		status = 125;
	}
	rec_start(&r, "exit");
	rec_num(&r, code);
	rec_num(&r, sig);
	if (!report(&r) && o->exit_cmd)
		exit_command(o->exit_cmd);
	return status;
}
