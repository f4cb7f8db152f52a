#include "finish.h"

#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TMP ".tmp"

int exit_file_open(struct exit_file *e, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!*name)
		return EINVAL;
	if (strlen(name) + strlen(TMP) >= sizeof e->name)
		return ENAMETOOLONG;
	strcpy(e->name, name);
	char dir[PATH_MAX];
	int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) : 0;
	if (n >= (int)sizeof dir)
		return ENAMETOOLONG;
	e->dir = open(!slash ? "." : n ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return e->dir < 0 ? errno : 0;
}

int exit_file_write(const struct exit_file *e, int code, int sig)
{
	char tmp[sizeof e->name + sizeof TMP], line[32];
	snprintf(tmp, sizeof tmp, "%s" TMP, e->name); /* fits: checked when opened */
	int len = snprintf(line, sizeof line, "%d %d\n", code, sig);
	int fd = openat(e->dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	ssize_t n = write(fd, line, (size_t)len);
	int err = n < 0 ? errno : n != len ? EIO : 0;
	if (close(fd) < 0 && !err)
		err = errno;
	/* rename: readers see the old file or the whole new one. */
	if (!err && renameat(e->dir, tmp, e->dir, e->name) < 0)
		err = errno;
	return err;
}

void exit_command(char **argv)
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
