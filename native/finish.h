/* After the container: its exit file, and the exit command when nobody heard the exit report. */
#ifndef FINISH_H
#define FINISH_H

#include <limits.h>

/* The directory is opened before clone: after `setns mnt` the parent's own paths lead into the
 * container. */
struct exit_file {
	int dir;
	char name[NAME_MAX + 1]; /* the file's name in dir; NAME.tmp must fit too */
};

/* Opens the directory of PATH. Returns 0 or an errno. */
int exit_file_open(struct exit_file *e, const char *path);
/* Writes `CODE SIGNAL\n` to NAME.tmp, then renames it to NAME. Returns 0 or an errno. */
int exit_file_write(const struct exit_file *e, int code, int sig);

/* Runs ARGV in its own session, stdio on /dev/null, not waited for. */
void exit_command(char **argv);

#endif
