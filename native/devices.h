/* Device access control on cgroup v2: the runtime's BPF_PROG_TYPE_CGROUP_DEVICE program,
 * loaded and attached to the container's cgroup2 directory. */
#ifndef WHALEBOX_DEVICES_H
#define WHALEBOX_DEVICES_H

/* `devices DIR PROGRAM`: loads PROGRAM (struct bpf_insn[] in the host's byte order, as hex)
 * and attaches it to the cgroup2 directory DIR (a host path) with BPF_F_ALLOW_MULTI.
 * Returns 0 or an errno. */
int st_devices(char **f);

#endif
