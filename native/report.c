#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REPORT_FD 4

static void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> 8 * i);
}

void rec_start(struct rec *r, const char *name)
{
	r->n = 0;
	r->len = 4;
	rec_str(r, name);
}

void rec_str(struct rec *r, const char *s)
{
	size_t n = strlen(s);
	if (r->len + 4 + n > sizeof r->buf)
		return; /* cannot happen with our names and numbers; never overflow */
	put32(r->buf + r->len, (uint32_t)n);
	memcpy(r->buf + r->len + 4, s, n);
	r->len += 4 + n;
	put32(r->buf, ++r->n);
}

void rec_num(struct rec *r, long long v)
{
	char s[24];
	snprintf(s, sizeof s, "%lld", v);
	rec_str(r, s);
}

/* Set by the first failed write (EPIPE once Node is gone): a partial record would garble the
 * stream, and a dead reader stays dead, so nothing more is written. */
static bool broken;

bool report_raw(const void *buf, size_t len)
{
	if (broken)
		return false;
	ssize_t n;
	do
		n = write(REPORT_FD, buf, len);
	while (n < 0 && errno == EINTR);
	broken = n != (ssize_t)len;
	return !broken;
}

bool report(const struct rec *r)
{
	return report_raw(r->buf, r->len);
}

void report_close(void)
{
	if (!broken && close(REPORT_FD) < 0)
		dprintf(STDERR_FILENO, "whalebox-shim: close reports: %s\n", strerror(errno));
	broken = true;
}

void report_fatal(const char *stage, int err)
{
	struct rec r;
	rec_start(&r, "fatal");
	rec_str(&r, stage);
	rec_num(&r, err);
	if (!report(&r))
		dprintf(STDERR_FILENO, "whalebox-shim: %s: %s\n", stage, strerror(err));
}
