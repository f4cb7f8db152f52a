/* Report records: built here, written to fd 4 by the parent, sent over the channel by the child. */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A record under construction; reports are a name and a few numbers, so they stay small. */
struct rec {
	uint32_t n;
	size_t len;
	char buf[128];
};

void rec_start(struct rec *r, const char *name);
void rec_str(struct rec *r, const char *s);
void rec_num(struct rec *r, long long v);

/* Writes bytes holding whole records to fd 4. False once any write has failed. */
bool report_raw(const void *buf, size_t len);
bool report(const struct rec *r);

/* Stops reporting for good: the caller (a detached run) listens no further than `started`. */
void report_close(void);

/* Reports `fatal STAGE ERR`, or says it on stderr when fd 4 is unusable. */
void report_fatal(const char *stage, int err);

#endif
