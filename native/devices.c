/* Runs in the shim child, which exits at the first failed step: error paths leave fds open. */
#include "devices.h"

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

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Whole instructions only, and no more than the kernel would take from anyone. */
static int decode(const char *hex, unsigned char **prog, uint32_t *count)
{
	size_t len = strlen(hex), insn_hex = 2 * sizeof(struct bpf_insn);
	if (len == 0 || len % insn_hex || len / insn_hex > BPF_MAXINSNS)
		return EINVAL;
	unsigned char *buf = malloc(len / 2);
	if (!buf)
		return ENOMEM;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			return EINVAL;
		}
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	*prog = buf;
	*count = (uint32_t)(len / insn_hex);
	return 0;
}

static int bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int st_devices(char **f)
{
	unsigned char *insns;
	uint32_t count;
	int err = decode(f[2], &insns, &count);
	if (err)
		return err;
	/* The kernel wants every field it does not use zeroed. */
	union bpf_attr load;
	memset(&load, 0, sizeof load);
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)insns;
	load.insn_cnt = count;
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
