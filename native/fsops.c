/*
 * fsops.node: the file-system calls that Node.js lacks (mknod, the l*xattr family), as a
 * Node-API addon. Layers hold thousands of entries; an addon call costs microseconds where a
 * process per file, or even per batch, costs milliseconds. Each function throws an Error like
 * Node's own (message "syscall path: strerror", properties code, errno, syscall, path).
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define MAX_ARGS 4
#define XATTR_VALUE_MAX 65536

/* The errno's name for the `code` property, as Node's own fs errors carry it (glibc >= 2.32). */
static const char *errno_name(int err)
{
	if (err == ENOTSUP) /* == EOPNOTSUPP here; Node (libuv) calls it ENOTSUP */
		return "ENOTSUP";
	const char *name = strerrorname_np(err);
	return name ? name : "EUNKNOWN";
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value)
{
	napi_value v;
	if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
		napi_set_named_property(env, obj, key, v);
}

/* Throws the Error for a failed syscall; returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path)
{
	char text[PATH_MAX + 128];
	snprintf(text, sizeof text, "%s %s: %s", syscall, path, strerror(err));
	napi_value message, error, num;
	if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok ||
	    napi_create_error(env, NULL, message, &error) != napi_ok)
		return NULL;
	set_string(env, error, "code", errno_name(err));
	set_string(env, error, "syscall", syscall);
	set_string(env, error, "path", path);
	if (napi_create_int32(env, -err, &num) == napi_ok)
		napi_set_named_property(env, error, "errno", num);
	napi_throw(env, error);
	return NULL;
}

/* The call's arguments; throws a TypeError and returns false when there are fewer than N. */
static bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv)
{
	size_t argc = MAX_ARGS;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
		napi_throw_error(env, NULL, "cannot read the arguments");
		return false;
	}
	if (argc < n) {
		napi_throw_type_error(env, NULL, "missing arguments");
		return false;
	}
	return true;
}

/* A string argument into BUF (PATH_MAX bytes); false (with a TypeError thrown) otherwise. */
static bool get_path(napi_env env, napi_value v, char *buf)
{
	size_t len;
	if (napi_get_value_string_utf8(env, v, buf, PATH_MAX, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "expected a string");
		return false;
	}
	if (len >= PATH_MAX - 1) {
		napi_throw_range_error(env, NULL, "path too long");
		return false;
	}
	return true;
}

/* An xattr name into BUF (XATTR_NAME_MAX + 1 bytes); longer names are an error, not truncated. */
static bool get_xattr_name(napi_env env, napi_value v, char *buf)
{
	size_t len;
	if (napi_get_value_string_utf8(env, v, buf, XATTR_NAME_MAX + 1, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "expected an attribute name");
		return false;
	}
	if (len >= XATTR_NAME_MAX || strlen(buf) != len) {
		napi_throw_range_error(env, NULL, "invalid attribute name (too long, or holding a NUL)");
		return false;
	}
	return true;
}

static bool get_u32(napi_env env, napi_value v, uint32_t *out)
{
	if (napi_get_value_uint32(env, v, out) != napi_ok) {
		napi_throw_type_error(env, NULL, "expected a number");
		return false;
	}
	return true;
}

/* mknod(path, mode, major, minor): mode holds the file type bits (S_IFCHR, ...). */
static napi_value fs_mknod(napi_env env, napi_callback_info info)
{
	napi_value argv[MAX_ARGS];
	char path[PATH_MAX];
	uint32_t mode, major, minor;
	if (!get_args(env, info, 4, argv) || !get_path(env, argv[0], path) || !get_u32(env, argv[1], &mode) ||
	    !get_u32(env, argv[2], &major) || !get_u32(env, argv[3], &minor))
		return NULL;
	/* The umask may clip the permissions: the caller sets them afterwards with chmod (changing
	 * the umask here would race with files created by libuv's threads). */
	if (mknod(path, (mode_t)mode, makedev(major, minor)) < 0)
		return throw_errno(env, errno, "mknod", path);
	return NULL;
}

/* lsetxattr(path, name, value: Buffer). */
static napi_value fs_lsetxattr(napi_env env, napi_callback_info info)
{
	napi_value argv[MAX_ARGS];
	char path[PATH_MAX], name[XATTR_NAME_MAX + 1];
	void *data;
	size_t len;
	if (!get_args(env, info, 3, argv) || !get_path(env, argv[0], path) || !get_xattr_name(env, argv[1], name))
		return NULL;
	if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "expected a Buffer value");
		return NULL;
	}
	if (lsetxattr(path, name, data, len, 0) < 0)
		return throw_errno(env, errno, "lsetxattr", path);
	return NULL;
}

/* lgetxattr(path, name): the value as a Buffer, or undefined when the attribute is absent. */
static napi_value fs_lgetxattr(napi_env env, napi_callback_info info)
{
	napi_value argv[MAX_ARGS], result;
	char path[PATH_MAX], name[XATTR_NAME_MAX + 1];
	if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], path) || !get_xattr_name(env, argv[1], name))
		return NULL;
	char *value = malloc(XATTR_VALUE_MAX);
	if (!value)
		return throw_errno(env, ENOMEM, "lgetxattr", path);
	ssize_t n = lgetxattr(path, name, value, XATTR_VALUE_MAX);
	int err = errno;
	if (n < 0) {
		free(value);
		if (err == ENODATA)
			return NULL;
		return throw_errno(env, err, "lgetxattr", path);
	}
	napi_status status = napi_create_buffer_copy(env, (size_t)n, value, NULL, &result);
	free(value);
	if (status != napi_ok) {
		napi_throw_error(env, NULL, "cannot make the value's Buffer");
		return NULL;
	}
	return result;
}

/* llistxattr(path): the attribute names, as an array of strings. */
static napi_value fs_llistxattr(napi_env env, napi_callback_info info)
{
	napi_value argv[MAX_ARGS], result;
	char path[PATH_MAX];
	if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], path))
		return NULL;
	char *names = malloc(XATTR_LIST_MAX);
	if (!names)
		return throw_errno(env, ENOMEM, "llistxattr", path);
	ssize_t n = llistxattr(path, names, XATTR_LIST_MAX);
	if (n < 0) {
		int err = errno;
		free(names);
		return throw_errno(env, err, "llistxattr", path);
	}
	if (napi_create_array(env, &result) != napi_ok) {
		free(names);
		napi_throw_error(env, NULL, "cannot make the names' array");
		return NULL;
	}
	uint32_t index = 0;
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1) {
		napi_value name;
		if (napi_create_string_utf8(env, names + off, NAPI_AUTO_LENGTH, &name) != napi_ok ||
		    napi_set_element(env, result, index++, name) != napi_ok) {
			free(names);
			napi_throw_error(env, NULL, "cannot fill the names' array");
			return NULL;
		}
	}
	free(names);
	return result;
}

static napi_value init(napi_env env, napi_value exports)
{
	const napi_property_descriptor functions[] = {
		{ "mknod", NULL, fs_mknod, NULL, NULL, NULL, napi_default, NULL },
		{ "lsetxattr", NULL, fs_lsetxattr, NULL, NULL, NULL, napi_default, NULL },
		{ "lgetxattr", NULL, fs_lgetxattr, NULL, NULL, NULL, napi_default, NULL },
		{ "llistxattr", NULL, fs_llistxattr, NULL, NULL, NULL, napi_default, NULL },
	};
	if (napi_define_properties(env, exports, sizeof functions / sizeof *functions, functions) != napi_ok)
		return NULL;
	return exports;
}

NAPI_MODULE(fsops, init)
