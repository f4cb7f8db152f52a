#include "tuning.h"
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Writes all of VALUE to PATH, which must exist: a sysctl the kernel does not have is an error. */
static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int err = n < 0 ? errno : (size_t)n != len ? EIO : 0;
	if (close(fd) < 0 && !err)
		err = errno;
	return err;
}

int st_sysctl(char **f)
{
	/* The name comes from the engine, checked there; a path that climbs out is refused anyway. */
	if (f[1][0] == '/' || strstr(f[1], "..") != NULL)
		return EINVAL;
	char path[PATH_MAX];
	int len = snprintf(path, sizeof path, "/proc/sys/%s", f[1]);
	if (len < 0 || (size_t)len >= sizeof path)
		return ENAMETOOLONG;
	return write_file(path, f[2]);
}

int st_oom_score_adj(char **f)
{
	unsigned long long magnitude;
	const char *digits = f[1][0] == '-' ? f[1] + 1 : f[1];
	if (field_num(digits, 10, 1000, &magnitude))
		return EINVAL;
	return write_file("/proc/self/oom_score_adj", f[1]);
}
