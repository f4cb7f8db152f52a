#include "caps.h"

#include "plan.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int caps_bounding(uint64_t keep)
{
	/* PR_CAPBSET_READ fails with EINVAL past cap_last_cap: no need for /proc here. */
	for (unsigned cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			return errno == EINVAL ? 0 : errno;
		if (!(keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return errno;
	}
	return 0;
}

int caps_user(uid_t uid, gid_t gid, char *groups)
{
	size_t n = *groups ? 1 : 0;
	for (const char *c = groups; *c; c++)
		n += *c == ',';
	gid_t *list = malloc((n ? n : 1) * sizeof *list);
	if (!list)
		return ENOMEM;
	n = 0;
	for (char *g, *rest = *groups ? groups : NULL; (g = strsep(&rest, ","));) {
		unsigned long long v;
		if (field_num(g, 10, (gid_t)-2, &v))
			return free(list), EINVAL;
		list[n++] = (gid_t)v;
	}
	int err = 0;
	/* Without KEEPCAPS, leaving uid 0 would empty the permitted set before `caps` sets it. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(n, list) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		err = errno;
	free(list);
	return err;
}

int caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d) < 0)
		return errno;
	uint64_t have = d[0].permitted | (uint64_t)d[1].permitted << 32;
	effective &= have;
	permitted &= have;
	inheritable &= have;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		d[i].effective = (uint32_t)(effective >> 32 * i);
		d[i].permitted = (uint32_t)(permitted >> 32 * i);
		d[i].inheritable = (uint32_t)(inheritable >> 32 * i);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    syscall(SYS_capset, &h, d) < 0)
		return errno;
	return 0;
}
