/* Container output written to a CRI "k8s-file" log (option `log`; with `tee`, also to the
 * caller's stdout and stderr), for detached and, with `tee`, foreground containers:
 * one `<RFC 3339 UTC time> <stream> <F|P> <text>\n` line per line of output. */
#ifndef LOG_H
#define LOG_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#define LOG_LINE_MAX 16384 /* longer lines are cut into P chunks */

struct log_stream {
	const char *name; /* "stdout" or "stderr" */
	int pipe;         /* read end of the container's pipe; -1 without one, and after its EOF */
	size_t len;       /* line[0..len) is an unfinished line */
	char line[LOG_LINE_MAX];
};

struct log {
	int fd;   /* the log file, -1 without `log` */
	bool torn; /* the last line was written only in part */
	bool tee;  /* option `tee`: the output also goes to the shim's own fd 1 and 2 */
	struct log_stream out, err;
};

#define LOG_INIT { .fd = -1, .out = { .name = "stdout", .pipe = -1 }, \
		   .err = { .name = "stderr", .pipe = -1 } }

/* Parent, before clone: opens the log file PATH. Returns 0 or an errno. */
int log_open(struct log *l, const char *path);
/* Parent, before clone: makes the pipes of stdout and stderr; ends[0] and ends[1] receive their
 * write ends, for the child's fd 1 and 2. Returns 0 or an errno. */
int log_pipes(struct log *l, int ends[2]);

/* Adds container output to stream S: an F line for each newline, a P line for a full buffer. */
void log_feed(struct log *l, struct log_stream *s, const char *data, size_t n);
/* The end of stream S: its unfinished line, if any, becomes a P line. */
void log_flush(struct log *l, struct log_stream *s);

/* Fills the two pollfds of the pipes, and acts on their results. */
void log_events(const struct log *l, struct pollfd p[2]);
void log_io(struct log *l, const struct pollfd p[2]);
/* Writes container output to the caller's FD (with `tee`). A caller that went away (EPIPE)
 * only stops the copy: the container goes on and its log stays whole. */
void log_tee(struct log *l, int fd, const char *data, size_t n);
/* Whether a pipe has not reached EOF yet. */
bool log_reading(const struct log *l);

#endif
