#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BIND_REMOUNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

char *fd_path(char buf[FD_PATH_MAX], int fd)
{
	snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
	return buf;
}

int root_open(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned)flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

/* Copies PATH to BUF and splits it into its directory and last component. */
static int split(const char *path, char buf[PATH_MAX], const char **dir, const char **base)
{
	if (snprintf(buf, PATH_MAX, "%s", path) >= PATH_MAX)
		return ENAMETOOLONG;
	char *slash = strrchr(buf, '/');
	*dir = slash == buf ? "/" : slash ? buf : ".";
	*base = slash ? slash + 1 : buf;
	if (slash)
		*slash = '\0';
	return **base ? 0 : EINVAL;
}

/* Opens the directory holding container path PATH; *base gets the last component. */
static int open_parent(int root, const char *path, char buf[PATH_MAX], const char **base)
{
	const char *dir;
	int err = split(path, buf, &dir, base);
	if (err)
		return errno = err, -1;
	return root_open(root, dir, O_PATH | O_DIRECTORY);
}

/* mkdir -p inside the root; returns an O_PATH fd of the last directory, or -1 with errno.
 * Each component is created in its resolved parent, by name, so nothing escapes the root. */
static int mkdirs_fd(int root, const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return errno = ENAMETOOLONG, -1;
	int dir = root_open(root, "/", O_PATH | O_DIRECTORY);
	mode_t old = umask(0); /* the plan's mode, exactly */
	for (size_t i = strspn(buf, "/"); dir >= 0 && buf[i]; i += strspn(buf + i, "/")) {
		size_t n = strcspn(buf + i, "/");
		char c = buf[i + n];
		buf[i + n] = '\0';
		int fd = root_open(root, buf, O_PATH | O_DIRECTORY);
		if (fd < 0 && errno == ENOENT && (mkdirat(dir, buf + i, mode) == 0 || errno == EEXIST))
			fd = root_open(root, buf, O_PATH | O_DIRECTORY);
		int saved = errno;
		close(dir);
		dir = fd;
		errno = saved;
		buf[i + n] = c;
		i += n;
	}
	umask(old);
	return dir;
}

int root_mkdirs(int root, const char *path, mode_t mode)
{
	int fd = mkdirs_fd(root, path, mode);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* Creates an empty file at PATH (and its missing parents) to mount a file on. */
static int make_file(int root, const char *path)
{
	char buf[PATH_MAX];
	const char *dir, *base;
	int err = split(path, buf, &dir, &base);
	if (err)
		return err;
	int d = mkdirs_fd(root, dir, 0755);
	if (d < 0)
		return errno;
	mode_t old = umask(0);
	int fd = openat(d, base, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	err = fd < 0 ? errno : 0;
	umask(old);
	if (fd >= 0)
		close(fd);
	close(d);
	return err;
}

/* Opens container path PATH for a mount; 0 with *fd = -1 means "missing, skip it". */
static int open_target(int root, const char *path, enum create create, int *fd)
{
	*fd = root_open(root, path, O_PATH);
	if (*fd >= 0 || errno != ENOENT || create == CREATE_NONE)
		return *fd < 0 ? errno : 0;
	if (create == CREATE_SKIP)
		return 0;
	int err = create == CREATE_DIR ? root_mkdirs(root, path, 0755) : make_file(root, path);
	if (err)
		return err;
	*fd = root_open(root, path, O_PATH);
	return *fd < 0 ? errno : 0;
}

static int mount_fd(const char *src, int fd, const char *fstype, unsigned long flags, const char *data)
{
	char p[FD_PATH_MAX];
	int err = mount(src, fd_path(p, fd), fstype, flags, data) < 0 ? errno : 0;
	close(fd);
	return err;
}

int root_remount(int root, const char *path, unsigned long flags)
{
	/* A fresh lookup: an fd taken before a mount names what lies beneath it. */
	int fd = root_open(root, path, O_PATH);
	if (fd < 0)
		return errno;
	return mount_fd(NULL, fd, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
}

/* A bind's own flags (ro, nosuid, nodev, noexec) cannot be given to mount(2) with MS_BIND.
 * mount_setattr(2) adds them without clearing what the source had (a nosuid source stays
 * nosuid), and with MS_REC to every submount too: `-v /sys/fs/cgroup:/cg:ro` is read-only
 * all the way down, not only at its top. */
static int bind_attrs(int root, const char *target, unsigned long flags)
{
	struct mount_attr attr = {
		.attr_set = (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) | (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
			    (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) | (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0),
	};
	/* A fresh lookup: an fd taken before the mount names what lies beneath it. */
	int fd = root_open(root, target, O_PATH);
	if (fd < 0)
		return errno;
	unsigned int at = AT_EMPTY_PATH | (flags & MS_REC ? AT_RECURSIVE : 0);
	int err = mount_setattr(fd, "", at, &attr, sizeof attr) < 0 ? errno : 0;
	close(fd);
	return err;
}

int root_mount(int root, const char *src, const char *target, const char *fstype,
	       unsigned long flags, const char *data, enum create create)
{
	int fd, err = open_target(root, target, create, &fd);
	if (err || fd < 0)
		return err;
	if ((err = mount_fd(src, fd, fstype, flags, data)))
		return err;
	if ((flags & MS_BIND) && (flags & BIND_REMOUNT_FLAGS))
		return bind_attrs(root, target, flags);
	return 0;
}

int root_mask(int root, const char *path)
{
	int fd = root_open(root, path, O_PATH);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		return err;
	}
	if (S_ISDIR(st.st_mode))
		return mount_fd("tmpfs", fd, "tmpfs", MS_RDONLY, NULL);
	return mount_fd("/dev/null", fd, NULL, MS_BIND, NULL);
}

int root_readonly(int root, const char *path)
{
	int fd = root_open(root, path, O_PATH);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno;
	char p[FD_PATH_MAX];
	int err = mount_fd(fd_path(p, fd), fd, NULL, MS_BIND | MS_REC, NULL);
	if (err)
		return err;
	/* Remounting with MS_RDONLY alone would clear the other per-mount flags. */
	if ((fd = root_open(root, path, O_PATH)) < 0)
		return errno;
	struct statvfs sv;
	if (fstatvfs(fd, &sv) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	unsigned long keep = (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) |
			     (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
			     (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
	return mount_fd(NULL, fd, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
}

int root_mknod(int root, const char *path, mode_t mode, dev_t dev, uid_t uid, gid_t gid)
{
	char buf[PATH_MAX];
	const char *base;
	int d = open_parent(root, path, buf, &base);
	if (d < 0)
		return errno;
	mode_t old = umask(0);
	int err = mknodat(d, base, mode, dev) < 0 ? errno : 0;
	umask(old);
	if (!err && fchownat(d, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		err = errno;
	close(d);
	return err == EEXIST ? 0 : err;
}

int root_symlink(int root, const char *target, const char *path)
{
	char buf[PATH_MAX];
	const char *base;
	int d = open_parent(root, path, buf, &base);
	if (d < 0)
		return errno;
	int err = symlinkat(target, d, base) < 0 ? errno : 0;
	close(d);
	return err == EEXIST ? 0 : err;
}

int root_pivot(int root)
{
	/* pivot_root(".", ".") stacks the old root on the new one; detaching "." then drops it. */
	if (fchdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return errno;
	return 0;
}
