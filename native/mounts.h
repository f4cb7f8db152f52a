/*
 * Container paths: resolved below the root opened by the `rootfs` step with
 * openat2(RESOLVE_IN_ROOT), so that symlinks in an image never lead outside it. Mounts on them
 * go through /proc/self/fd/N, the path of what was resolved. Functions return 0 or an errno.
 */
#ifndef MOUNTS_H
#define MOUNTS_H

#include <sys/types.h>

enum create { CREATE_NONE, CREATE_DIR, CREATE_FILE, CREATE_SKIP };

#define FD_PATH_MAX 32
/* "/proc/self/fd/FD" in BUF. */
char *fd_path(char buf[FD_PATH_MAX], int fd);

/* Opens container path PATH with FLAGS; returns the fd, or -1 with errno set. */
int root_open(int root, const char *path, int flags);

int root_mkdirs(int root, const char *path, mode_t mode);
/* mount(2) on container path TARGET (SRC is a host path); CREATE says what to do when it is
 * missing. A bind mount is remounted with the RDONLY/NOSUID/NODEV/NOEXEC bits of FLAGS. */
int root_mount(int root, const char *src, const char *target, const char *fstype,
	       unsigned long flags, const char *data, enum create create);
int root_remount(int root, const char *path, unsigned long flags);
int root_mask(int root, const char *path);
int root_readonly(int root, const char *path);
int root_mknod(int root, const char *path, mode_t mode, dev_t dev, uid_t uid, gid_t gid);
int root_symlink(int root, const char *target, const char *path);
int root_pivot(int root);

#endif
