#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "2026-11-28T02:25:01.123456789Z stdout F ": 40, and room for any year of a 64-bit time_t */
#define HEAD_MAX 64

int log_open(struct log *l, const char *path)
{
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return l->fd < 0 ? errno : 0;
}

int log_pipes(struct log *l, int ends[2])
{
	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return errno;
	l->out.pipe = out[0];
	l->err.pipe = err[0];
	ends[0] = out[1];
	ends[1] = err[1];
	return 0;
}

/* "YYYY-MM-DDThh:mm:ss" of a Unix time, UTC, in OUT. Arithmetic (Howard Hinnant's
 * civil_from_days) rather than gmtime_r, which would link glibc's time zone code (tz files,
 * scanf: 180 KB) into the static binary. */
static int utc(char *out, size_t size, long long t)
{
	long long days = t / 86400, secs = t % 86400;
	if (secs < 0)
		secs += 86400, days--;
	days += 719468; /* from 0000-03-01, so that leap days end a year */
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;                                 /* [0, 146096] */
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
	long long mp = (5 * doy + 2) / 153;                                  /* March is 0 */
	long long month = mp < 10 ? mp + 3 : mp - 9;
	return snprintf(out, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
			yoe + era * 400 + (month <= 2), month, doy - (153 * mp + 2) / 5 + 1,
			secs / 3600, secs / 60 % 60, secs % 60);
}

/*
 * Writes the log line of s->line[0..len) followed by more[0..n), and empties the line. ONE
 * write(2) per line: with O_APPEND, lines of the two streams never interleave. A failed write
 * drops the line (a full disk must never block the container); a line written only in part is
 * ended by a newline in front of the next one, so that a reader sees one torn line, not two
 * glued together.
 */
static void emit(struct log *l, struct log_stream *s, char tag, const char *more, size_t n)
{
	static char buf[1 + HEAD_MAX + LOG_LINE_MAX + 1];
	char *head = buf + 1;
	buf[0] = '\n';
	size_t len = s->len;
	s->len = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for this clock */
	int h = utc(head, HEAD_MAX, ts.tv_sec);
	h += snprintf(head + h, HEAD_MAX - (size_t)h, ".%09ldZ %s %c ", ts.tv_nsec, s->name, tag);
	memcpy(head + h, s->line, len);
	memcpy(head + h + len, more, n);
	head[h + len + n] = '\n';
	size_t total = (size_t)h + len + n + 1 + l->torn;
	ssize_t w = write(l->fd, l->torn ? buf : head, total);
	if (w > 0)
		l->torn = (size_t)w < total;
}

void log_feed(struct log *l, struct log_stream *s, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		size_t room = LOG_LINE_MAX - s->len;
		if (take > room) {
			/* The line does not fit: the buffer's worth is a partial chunk. */
			emit(l, s, 'P', data, room);
			data += room, n -= room;
		} else if (nl) {
			emit(l, s, 'F', data, take);
			data += take + 1, n -= take + 1;
		} else {
			/* Kept even when it fills the buffer: a newline may still come and make it F. */
			memcpy(s->line + s->len, data, take);
			s->len += take, n = 0;
		}
	}
}

void log_flush(struct log *l, struct log_stream *s)
{
	if (s->len > 0)
		emit(l, s, 'P', "", 0);
}

void log_events(const struct log *l, struct pollfd p[2])
{
	p[0] = (struct pollfd){ .fd = l->out.pipe, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = l->err.pipe, .events = POLLIN };
}

static void read_pipe(struct log *l, struct log_stream *s)
{
	char buf[LOG_LINE_MAX];
	ssize_t n = read(s->pipe, buf, sizeof buf);
	if (n > 0) {
		log_feed(l, s, buf, (size_t)n);
		log_tee(l, s == &l->out ? STDOUT_FILENO : STDERR_FILENO, buf, (size_t)n);
	} else if (n == 0 || errno != EINTR) {
		/* EOF: every writer is gone. A read error cannot happen on a pipe; it would end the
		 * stream the same way. */
		log_flush(l, s);
		close(s->pipe); /* a read end at EOF: nothing is lost if this fails */
		s->pipe = -1;
	}
}

void log_tee(struct log *l, int fd, const char *data, size_t n)
{
	for (size_t off = 0; l->tee && off < n;) {
		ssize_t w = write(fd, data + off, n - off);
		if (w >= 0)
			off += (size_t)w;
		else if (errno != EINTR)
			l->tee = false;
	}
}

void log_io(struct log *l, const struct pollfd p[2])
{
	if (p[0].revents)
		read_pipe(l, &l->out);
	if (p[1].revents)
		read_pipe(l, &l->err);
}

bool log_reading(const struct log *l)
{
	return l->out.pipe >= 0 || l->err.pipe >= 0;
}
