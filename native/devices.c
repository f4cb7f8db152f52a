/* Runs in the shim child, which exits at the first failed step: error paths leave fds open. */
#include "devices.h"
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel looks at the license only for GPL-only helpers, and the program calls none. */
static const char license[] = "MIT";

static int bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int st_devices(char **f)
{
	/* Whole instructions only, and no more than the kernel would take from anyone. */
	unsigned char *insns;
	size_t count;
	int err = field_hex(f[2], sizeof(struct bpf_insn), BPF_MAXINSNS, &insns, &count);
	if (err)
		return err;
	/* The kernel wants every field it does not use zeroed. */
	union bpf_attr load;
	memset(&load, 0, sizeof load);
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)insns;
	load.insn_cnt = (uint32_t)count;
	load.license = (uint64_t)(uintptr_t)license;
	int prog = bpf(BPF_PROG_LOAD, &load);
	err = prog < 0 ? errno : 0;
	free(insns);
	if (err)
		return err;
	int cgroup = open(f[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup < 0)
		return errno;
	/* ALLOW_MULTI: a program above (a parent's, systemd's) keeps running too; both must allow. */
	union bpf_attr attach;
	memset(&attach, 0, sizeof attach);
	attach.target_fd = (uint32_t)cgroup;
	attach.attach_bpf_fd = (uint32_t)prog;
	attach.attach_type = BPF_CGROUP_DEVICE;
	attach.attach_flags = BPF_F_ALLOW_MULTI;
	if (bpf(BPF_PROG_ATTACH, &attach) < 0)
		return errno;
	/* The cgroup holds the program now, until the cgroup is removed. */
	if (close(prog) < 0 || close(cgroup) < 0)
		return errno;
	return 0;
}
