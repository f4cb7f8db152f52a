#include "tty.h"

#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <termios.h>
#include <unistd.h>

/* On failure the child exits at once, so error paths leave fds open. */
int tty_console(int root, const struct winsize *ws, bool bind, int *master)
{
	int unlock = 0;
	unsigned n;
	int m = root_open(root, "/dev/ptmx", O_RDWR | O_NOCTTY);
	if (m < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCGPTN, &n) < 0)
		return errno;
	char path[32], p[FD_PATH_MAX];
	snprintf(path, sizeof path, "/dev/pts/%u", n);
	int s = root_open(root, path, O_RDWR | O_NOCTTY);
	if (s < 0 || ioctl(s, TIOCSWINSZ, ws) < 0)
		return errno;
	int err = bind ? root_mount(root, fd_path(p, s), "/dev/console", NULL, MS_BIND, NULL,
				    CREATE_FILE) : 0;
	if (err)
		return err;
	if (setsid() < 0 || ioctl(s, TIOCSCTTY, 0) < 0 || dup2(s, 0) < 0 || dup2(s, 1) < 0 ||
	    dup2(s, 2) < 0 || close(s) < 0)
		return errno;
	*master = m;
	return 0;
}

/* The caller's terminal: stdin, or stdout/stderr when stdin is not one (`run -t` without -i
 * gets /dev/null as stdin but still a terminal of the caller's size). */
static int size_of_caller(struct winsize *ws)
{
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (ioctl(fd, TIOCGWINSZ, ws) == 0)
			return 0;
	return -1;
}

void tty_size(struct winsize *ws)
{
	if (size_of_caller(ws) < 0)
		*ws = (struct winsize){ 0 };
}

static struct termios saved;
static int raw_fd = -1;

static void restore(void)
{
	tcsetattr(raw_fd, TCSADRAIN, &saved); /* at exit: nothing left to do if it fails */
}

int relay_start(struct relay *r, int master)
{
	r->master = master;
	int fl = fcntl(master, F_GETFL);
	if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) < 0)
		return errno;
	if (r->log && !r->log->tee) {
		r->in_eof = true; /* output goes to the log; fd 0 is nothing of the container's */
		return 0;
	}
	/* The caller's terminal goes raw, the container's pty does the line discipline; it may be
	 * only on stdout (`run -t` without -i), where raw mode still stops a second \n -> \r\n. */
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO && raw_fd < 0; fd++)
		if (isatty(fd))
			raw_fd = fd;
	if (raw_fd < 0)
		return 0;
	if (tcgetattr(raw_fd, &saved) < 0)
		return errno;
	if (atexit(restore))
		return ENOMEM;
	struct termios t = saved;
	cfmakeraw(&t);
	return tcsetattr(raw_fd, TCSADRAIN, &t) < 0 ? errno : 0;
}

void relay_events(const struct relay *r, struct pollfd p[2])
{
	/* fd 0 is read only when the last chunk has reached the master: back-pressure. */
	bool want_in = r->master >= 0 && !r->in_eof && r->off == r->len;
	p[0] = (struct pollfd){ .fd = want_in ? STDIN_FILENO : -1, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = r->master, .events = POLLIN | (r->off < r->len ? POLLOUT : 0) };
}

/* Moves one read of container output to fd 1; false when there is nothing more for now. */
static bool copy_out(struct relay *r)
{
	char buf[4096];
	ssize_t n = read(r->master, buf, sizeof buf);
	if (n <= 0) {
		/* EIO: every slave fd is closed, the container is gone. */
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(r->master);
			r->master = -1;
		}
		return false;
	}
	if (r->log) {
		log_feed(r->log, &r->log->out, buf, (size_t)n);
		if (!r->log->tee)
			return true;
	}
	for (ssize_t off = 0; off < n && !r->out_err;) {
		ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
		if (w >= 0)
			off += w;
		else if (errno != EINTR)
			r->out_err = true;
	}
	return true;
}

void relay_io(struct relay *r, const struct pollfd p[2])
{
	if (p[0].revents) {
		ssize_t n = read(STDIN_FILENO, r->in, sizeof r->in);
		if (n > 0)
			r->off = 0, r->len = (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			r->in_eof = true;
	}
	if (p[1].revents & POLLOUT) {
		ssize_t n = write(r->master, r->in + r->off, r->len - r->off);
		if (n >= 0)
			r->off += (size_t)n;
		else if (errno != EAGAIN && errno != EINTR)
			r->off = r->len, r->in_eof = true; /* the master takes no more input */
	}
	if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
		copy_out(r);
}

void relay_drain(struct relay *r)
{
	while (r->master >= 0 && copy_out(r))
		;
}

void relay_winch(const struct relay *r)
{
	struct winsize ws;
	/* Best effort: a size that cannot be read or set leaves the old one. */
	if (r->master >= 0 && size_of_caller(&ws) == 0)
		ioctl(r->master, TIOCSWINSZ, &ws);
}
