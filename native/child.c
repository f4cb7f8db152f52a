/* Steps return 0 or an errno. On a failure the child exits at once, so error paths do not bother
 * closing fds. */
#include "child.h"

#include "caps.h"
#include "devices.h"
#include "enter.h"
#include "mounts.h"
#include "report.h"
#include "seccomp.h"
#include "tty.h"
#include "tuning.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define ID_MAX ((uid_t)-2) /* -1 means "unchanged" to the kernel */

static struct {
	int chan;   /* reports to the parent */
	int root;   /* root of container paths, from `rootfs` */
	int master; /* pty master, sent with the next report */
	int fd;     /* the record's fd (struct record) of the step being run */
	char **env;
	const struct winsize *ws;
} c;

static int sys(long r)
{
	return r < 0 ? errno : 0;
}

/* An empty field stands for NULL. */
static const char *opt(const char *s)
{
	return *s ? s : NULL;
}

/* The parent opened the file: by now, after `setns mnt`, its path may lead into the container. */
static int st_cgroup_join(char **f)
{
	(void)f;
	if (c.fd < 0)
		return -c.fd; /* the parent's open failed */
	if (write(c.fd, "0", 1) < 0 || close(c.fd) < 0)
		return errno;
	return 0;
}

static int st_unshare(char **f)
{
	unsigned long long flags;
	return field_num(f[1], 10, INT_MAX, &flags) ? EINVAL : sys(unshare((int)flags));
}

/* Joins the namespace bound at a path: a network namespace the engine has configured. */
static int st_join_ns(char **f)
{
	int type = ns_type(f[1]);
	if (!type)
		return EINVAL;
	int fd = open(f[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int err = sys(setns(fd, type));
	if (close(fd) < 0 && !err)
		err = errno;
	return err;
}

static int st_mount(char **f)
{
	unsigned long long flags;
	if (field_num(f[4], 10, ULONG_MAX, &flags))
		return EINVAL;
	return sys(mount(opt(f[1]), f[2], opt(f[3]), flags, opt(f[5])));
}

static int st_rootfs(char **f)
{
	c.root = open(f[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	return sys(c.root);
}

static int st_cmount(char **f)
{
	static const char *const creates[] = { [CREATE_NONE] = "", [CREATE_DIR] = "dir",
					       [CREATE_FILE] = "file", [CREATE_SKIP] = "skip" };
	unsigned long long flags;
	if (field_num(f[4], 10, ULONG_MAX, &flags))
		return EINVAL;
	for (enum create i = CREATE_NONE; i <= CREATE_SKIP; i++)
		if (!strcmp(f[6], creates[i]))
			return root_mount(c.root, opt(f[1]), f[2], opt(f[3]), flags, opt(f[5]), i);
	return EINVAL;
}

static int st_mknod(char **f)
{
	mode_t type = !strcmp(f[2], "c") ? S_IFCHR : !strcmp(f[2], "b") ? S_IFBLK
		    : !strcmp(f[2], "p") ? S_IFIFO : 0;
	unsigned long long major, minor, mode, uid, gid;
	if (!type || field_num(f[3], 10, UINT_MAX, &major) || field_num(f[4], 10, UINT_MAX, &minor) ||
	    field_num(f[5], 8, 07777, &mode) || field_num(f[6], 10, ID_MAX, &uid) ||
	    field_num(f[7], 10, ID_MAX, &gid))
		return EINVAL;
	return root_mknod(c.root, f[1], type | (mode_t)mode, makedev(major, minor), (uid_t)uid,
			  (gid_t)gid);
}

static int st_symlink(char **f)
{
	return root_symlink(c.root, f[1], f[2]);
}

static int st_mkdirs(char **f)
{
	unsigned long long mode;
	return field_num(f[2], 8, 07777, &mode) ? EINVAL : root_mkdirs(c.root, f[1], (mode_t)mode);
}

static int st_sethostname(char **f)
{
	return sys(sethostname(f[1], strlen(f[1])));
}

static int st_lo_up(char **f)
{
	(void)f;
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return errno;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 || close(fd) < 0)
		return errno;
	return 0;
}

static int st_pivot_root(char **f)
{
	(void)f;
	return root_pivot(c.root);
}

static int st_mask(char **f)
{
	return root_mask(c.root, f[1]);
}

static int st_readonly(char **f)
{
	return root_readonly(c.root, f[1]);
}

static int st_remount(char **f)
{
	unsigned long long flags;
	return field_num(f[2], 10, ULONG_MAX, &flags) ? EINVAL : root_remount(c.root, f[1], flags);
}

static int st_console(char **f)
{
	unsigned long long bind;
	return field_num(f[1], 10, 1, &bind) ? EINVAL : tty_console(c.root, c.ws, bind, &c.master);
}

static int st_setsid(char **f)
{
	(void)f;
	return sys(setsid());
}

static int st_stdin_null(char **f)
{
	(void)f;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || close(fd) < 0)
		return errno;
	return 0;
}

static int st_chdir(char **f)
{
	return sys(chdir(f[1]));
}

static int st_umask(char **f)
{
	unsigned long long mask;
	if (field_num(f[1], 8, 0777, &mask))
		return EINVAL;
	umask((mode_t)mask);
	return 0;
}

static int rlim(const char *s, rlim_t *v)
{
	unsigned long long n;
	if (!strcmp(s, "-1"))
		n = RLIM_INFINITY;
	else if (field_num(s, 10, RLIM_INFINITY, &n))
		return EINVAL;
	*v = n;
	return 0;
}

static int st_rlimit(char **f)
{
	unsigned long long res;
	struct rlimit rl;
	if (field_num(f[1], 10, RLIM_NLIMITS - 1, &res) || rlim(f[2], &rl.rlim_cur) ||
	    rlim(f[3], &rl.rlim_max))
		return EINVAL;
	return sys(setrlimit((int)res, &rl));
}

static int st_bounding(char **f)
{
	unsigned long long keep;
	return field_num(f[1], 16, UINT64_MAX, &keep) ? EINVAL : caps_bounding(keep);
}

static int st_user(char **f)
{
	unsigned long long uid, gid;
	if (field_num(f[1], 10, ID_MAX, &uid) || field_num(f[2], 10, ID_MAX, &gid))
		return EINVAL;
	int err = caps_user((uid_t)uid, (gid_t)gid, f[3]);
	/* A new effective uid or gid clears the parent-death signal: set it again. A parent that
	 * died meanwhile is caught when this step's report cannot be sent. */
	return err ? err : sys(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
}

static int st_caps(char **f)
{
	unsigned long long e, p, i;
	if (field_num(f[1], 16, UINT64_MAX, &e) || field_num(f[2], 16, UINT64_MAX, &p) ||
	    field_num(f[3], 16, UINT64_MAX, &i))
		return EINVAL;
	return caps_set(e, p, i);
}

static int st_no_new_privs(char **f)
{
	(void)f;
	return sys(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

static int st_env(char **f)
{
	c.env = f + 1;
	return 0;
}

/* execvp's search, but in the container's PATH (SEARCH), not the shim's. */
static int find_program(const char *search, const char *name, char out[PATH_MAX])
{
	if (strchr(name, '/'))
		return snprintf(out, PATH_MAX, "%s", name) < PATH_MAX ? 0 : ENAMETOOLONG;
	int err = ENOENT;
	for (const char *dir = search;;) {
		const char *end = strchrnul(dir, ':');
		int len = (int)(end - dir);
		struct stat st;
		/* An empty entry is the working directory, as for execvp. */
		if (snprintf(out, PATH_MAX, "%.*s/%s", len ? len : 1, len ? dir : ".", name) < PATH_MAX &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			err = EACCES; /* unless a later entry has an executable one */
		}
		if (!*end)
			return err;
		dir = end + 1;
	}
}

static int st_exec(char **f)
{
	static char *no_env[] = { NULL };
	char path[PATH_MAX];
	int err = find_program(f[1], f[2], path);
	if (err)
		return err;
	/* The report channel is close-on-exec too: its EOF tells the parent that execve worked. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return errno;
	execve(path, f + 2, c.env ? c.env : no_env);
	return errno;
}

#define MANY UINT32_MAX

static const struct step {
	const char *name;
	uint32_t min, max; /* number of fields, the name included */
	int (*run)(char **f);
} steps[] = {
	{ "cgroup-join", 2, 2, st_cgroup_join },
	{ "devices", 3, 3, st_devices },
	{ "unshare", 2, 2, st_unshare },
	{ "join-ns", 3, 3, st_join_ns },
	{ "mount", 6, 6, st_mount },
	{ "rootfs", 2, 2, st_rootfs },
	{ "cmount", 7, 7, st_cmount },
	{ "mknod", 8, 8, st_mknod },
	{ "symlink", 3, 3, st_symlink },
	{ "mkdirs", 3, 3, st_mkdirs },
	{ "sethostname", 2, 2, st_sethostname },
	{ "lo-up", 1, 1, st_lo_up },
	{ "pivot-root", 1, 1, st_pivot_root },
	{ "mask", 2, 2, st_mask },
	{ "sysctl", 3, 3, st_sysctl },
	{ "readonly", 2, 2, st_readonly },
	{ "remount", 3, 3, st_remount },
	{ "console", 2, 2, st_console },
	{ "setsid", 1, 1, st_setsid },
	{ "stdin-null", 1, 1, st_stdin_null },
	{ "chdir", 2, 2, st_chdir },
	{ "umask", 2, 2, st_umask },
	{ "oom-score-adj", 2, 2, st_oom_score_adj },
	{ "rlimit", 4, 4, st_rlimit },
	{ "bounding", 2, 2, st_bounding },
	{ "user", 4, 4, st_user },
	{ "caps", 4, 4, st_caps },
	{ "no-new-privs", 1, 1, st_no_new_privs },
	{ "seccomp", 2, 2, seccomp_step },
	{ "env", 1, MANY, st_env },
	{ "exec", 3, MANY, st_exec },
};

static const struct step *step_find(const char *name)
{
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
		if (!strcmp(steps[i].name, name))
			return &steps[i];
	return NULL;
}

bool step_valid(char **f, uint32_t n)
{
	const struct step *s = step_find(f[0]);
	return s && n >= s->min && n <= s->max;
}

static long long usec_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t); /* cannot fail for this clock */
	return (t.tv_sec - t0->tv_sec) * 1000000LL + (t.tv_nsec - t0->tv_nsec) / 1000;
}

/* Sends `step I ERR USEC`, with the pty master attached once `console` made it. */
static void report_step(size_t i, int err, long long usec)
{
	struct rec r;
	rec_start(&r, "step");
	rec_num(&r, (long long)i);
	rec_num(&r, err);
	rec_num(&r, usec);
	struct iovec iov = { r.buf, r.len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	if (c.master >= 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		cm.h = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(int)), .cmsg_level = SOL_SOCKET,
					 .cmsg_type = SCM_RIGHTS };
		memcpy(CMSG_DATA(&cm.h), &c.master, sizeof(int));
	}
	/* Without the parent nobody would monitor the container: give up. */
	if (sendmsg(c.chan, &mh, MSG_NOSIGNAL) < 0 || (c.master >= 0 && close(c.master) < 0))
		_exit(125);
	c.master = -1;
}

/* The container starts with default signal dispositions and nothing blocked. */
static int reset_signals(void)
{
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || (sig > SIGSYS && sig < SIGRTMIN))
			continue; /* unchangeable, or glibc's own */
		if (signal(sig, SIG_DFL) == SIG_ERR)
			return -1;
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Before any step: nothing of the parent's may keep the container alive or reachable. */
static int setup(const struct child_io *io)
{
	/* With the parent's end closed here too, the channel tells of the parent's death. */
	if (close(io->peer) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -1;
	/* A parent that died before the prctl sent no signal, but its end is closed now: poll sees
	 * a hang-up. */
	struct pollfd chan = { io->chan, POLLOUT, 0 };
	if (poll(&chan, 1, 0) < 0 || (chan.revents & (POLLHUP | POLLERR)))
		return -1;
	/* Until execve resets it, /proc/PID of the child is closed to the processes of a container
	 * that it joins (`setns`): the host fds it holds stay out of their reach. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -1;
	/* fd 1 and 2 go to the log before any step can write to them. */
	if (io->out >= 0 && (dup2(io->out, STDOUT_FILENO) < 0 || dup2(io->err, STDERR_FILENO) < 0 ||
			     close(io->out) < 0 || close(io->err) < 0))
		return -1;
	/* fd 4 is the parent's (fd 3 was closed once the plan was read). */
	return reset_signals() < 0 || close(4) < 0 ? -1 : 0;
}

_Noreturn void child_run(const struct plan *p, const struct child_io *io)
{
	c.chan = io->chan;
	c.root = io->root;
	c.master = -1;
	c.ws = &io->ws;
	/* Not a step, so no report: the parent sees status 125 before any step report. */
	if (setup(io) < 0)
		_exit(125);
	for (size_t i = 0; i < p->n; i++) {
		const struct step *s = step_find(p->r[i].f[0]);
		if (!s)
			continue; /* an option, for the parent */
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		c.fd = p->r[i].fd;
		int err = s->run(p->r[i].f);
		report_step(i, err, usec_since(&t0));
		if (err)
			_exit(s->run != st_exec ? 125 : err == ENOENT ? 127 : 126);
	}
	_exit(125); /* not reached: the parent checked that the plan ends with exec */
}
