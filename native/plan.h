/* The launch plan: length-prefixed records read from fd 3 (docs/shim-protocol.md). */
#ifndef PLAN_H
#define PLAN_H

#include <stddef.h>
#include <stdint.h>

/* One record: f[0] is its name, f[1..n) its fields, f[n] is NULL. Fields are NUL-terminated. */
struct record {
	char **f;
	uint32_t n;
	/* The host file of a `cgroup-join` or `setns` record, which the parent opens before clone
	 * (and before any setns, while host paths are reachable): an fd, or -errno when the open
	 * failed. -EBADF until then. */
	int fd;
};

struct plan {
	struct record *r;
	size_t n;
};

/* Reads and decodes the plan on FD. Returns 0 or an errno (EINVAL: malformed). */
int plan_read(int fd, struct plan *p);

/*
 * Decodes the record at buf[*pos..len) in place, advancing *pos: each field moves over its own
 * length prefix and gets a NUL. Stores up to MAX field pointers and a NULL in F. Returns the
 * number of fields, or -1 if the record is truncated, empty, has a NUL inside a field or more
 * than MAX fields.
 */
int record_decode(char *buf, size_t len, size_t *pos, char **f, uint32_t max);

/* Parses all of S as a number in BASE that is at most MAX. Returns 0 or EINVAL. */
int field_num(const char *s, int base, unsigned long long max, unsigned long long *out);

/* Decodes all of S, lowercase hex, into whole UNIT-byte items, 1 to MAX of them (a BPF program):
 * *OUT (malloc'd) receives the bytes, *N the number of items. Returns 0, EINVAL or ENOMEM. */
int field_hex(const char *s, size_t unit, size_t max, unsigned char **out, size_t *n);

#endif
