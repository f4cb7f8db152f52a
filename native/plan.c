/* Reading the plan: bounds-checked, and nothing is trusted to be NUL-terminated. */
#include "plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLAN_MAGIC 0x31504257u /* "WBP1" */
#define PLAN_MAX (16u << 20)   /* far above any real plan; refuses absurd lengths */

static uint32_t le32(const void *p)
{
	const unsigned char *b = p;
	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Reads exactly LEN bytes: the plan is never read "until EOF" (Node keeps the pipe open). */
static int read_full(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EINVAL; /* truncated */
		done += (size_t)n;
	}
	return 0;
}

int record_decode(char *buf, size_t len, size_t *pos, char **f, uint32_t max)
{
	size_t p = *pos;
	if (len - p < 4)
		return -1;
	uint32_t n = le32(buf + p);
	if (n == 0 || n > max)
		return -1;
	p += 4;
	for (uint32_t i = 0; i < n; i++) {
		if (len - p < 4)
			return -1;
		uint32_t flen = le32(buf + p);
		if (flen > len - p - 4 || memchr(buf + p + 4, '\0', flen))
			return -1;
		memmove(buf + p, buf + p + 4, flen);
		buf[p + flen] = '\0';
		f[i] = buf + p;
		p += 4 + (size_t)flen;
	}
	f[n] = NULL;
	*pos = p;
	return (int)n;
}

int plan_read(int fd, struct plan *p)
{
	unsigned char hdr[8];
	int err = read_full(fd, hdr, sizeof hdr);
	if (err)
		return err;
	uint32_t len = le32(hdr + 4);
	if (le32(hdr) != PLAN_MAGIC || len > PLAN_MAX)
		return EINVAL;
	char *buf = malloc(len ? len : 1);
	if (!buf)
		return ENOMEM;
	if ((err = read_full(fd, buf, len)))
		return err;

	size_t cap = 0, pos = 0;
	*p = (struct plan){ NULL, 0 };
	while (pos < len) {
		if (len - pos < 4)
			return EINVAL;
		/* Every field takes at least 4 bytes, which bounds the allocation. */
		uint32_t n = le32(buf + pos);
		if (n > (len - pos - 4) / 4)
			return EINVAL;
		if (p->n == cap) {
			cap = cap ? 2 * cap : 32;
			struct record *r = realloc(p->r, cap * sizeof *r);
			if (!r)
				return ENOMEM;
			p->r = r;
		}
		char **f = malloc(((size_t)n + 1) * sizeof *f);
		if (!f)
			return ENOMEM;
		if (record_decode(buf, len, &pos, f, n) < 0)
			return EINVAL;
		p->r[p->n++] = (struct record){ f, n, -EBADF };
	}
	return 0;
}

int field_num(const char *s, int base, unsigned long long max, unsigned long long *out)
{
	/* strtoull would accept blanks, a sign and "0x"; a field is digits only. */
	if (!isxdigit((unsigned char)*s))
		return EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return EINVAL;
	*out = v;
	return 0;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int field_hex(const char *s, size_t unit, size_t max, unsigned char **out, size_t *n)
{
	size_t len = strlen(s);
	if (len == 0 || len % (2 * unit) || len / (2 * unit) > max)
		return EINVAL;
	unsigned char *buf = malloc(len / 2);
	if (!buf)
		return ENOMEM;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			return EINVAL;
		}
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = buf;
	*n = len / (2 * unit);
	return 0;
}
