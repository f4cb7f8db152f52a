/* libseccomp turns a profile's rules into a BPF program for every architecture of the filter
 * (x86_64, and the i386 and x32 entry points the same kernel offers), with argument comparisons
 * on 64-bit values; docs/DESIGN.md says why it is linked rather than redone. Building takes
 * about 10 ms, so it is not part of a start: the runtime compiles once per profile (this file's
 * `seccomp-compile` mode) and keeps the program; the `seccomp` step only loads it. */
#include "seccomp.h"

#include "plan.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARGS_MAX 6 /* syscall arguments */

/* `allow`, `errno:N`, `trace:N`, `kill-thread`, `kill-process`, `trap`, `log`. */
static int parse_action(const char *s, uint32_t *act)
{
	static const struct {
		const char *name;
		uint32_t act;
	} plain[] = {
		{ "allow", SCMP_ACT_ALLOW },	   { "kill-thread", SCMP_ACT_KILL_THREAD },
		{ "kill-process", SCMP_ACT_KILL_PROCESS }, { "trap", SCMP_ACT_TRAP },
		{ "log", SCMP_ACT_LOG },
	};
	for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
		if (!strcmp(s, plain[i].name)) {
			*act = plain[i].act;
			return 0;
		}
	}
	unsigned long long ret;
	if (!strncmp(s, "errno:", 6) && !field_num(s + 6, 10, UINT16_MAX, &ret))
		*act = SCMP_ACT_ERRNO((uint16_t)ret);
	else if (!strncmp(s, "trace:", 6) && !field_num(s + 6, 10, UINT16_MAX, &ret))
		*act = SCMP_ACT_TRACE((uint16_t)ret);
	else
		return EINVAL;
	return 0;
}

/* `INDEX:OP:VALUE:VALUETWO`. */
static int parse_arg(char *s, struct scmp_arg_cmp *arg)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT }, { "le", SCMP_CMP_LE },
		{ "eq", SCMP_CMP_EQ }, { "ge", SCMP_CMP_GE }, { "gt", SCMP_CMP_GT },
		{ "masked-eq", SCMP_CMP_MASKED_EQ },
	};
	char *index = strsep(&s, ":"), *op = strsep(&s, ":"), *a = strsep(&s, ":"), *b = s;
	unsigned long long i, va, vb;
	if (!b || field_num(index, 10, ARGS_MAX - 1, &i) || field_num(a, 10, UINT64_MAX, &va) ||
	    field_num(b, 10, UINT64_MAX, &vb))
		return EINVAL;
	for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
		if (!strcmp(op, ops[k].name)) {
			*arg = (struct scmp_arg_cmp){ (unsigned)i, ops[k].op, va, vb };
			return 0;
		}
	}
	return EINVAL;
}

/* `ACTION NAME,NAME... [ARG]...`: one rule per syscall name, all with the same conditions. */
static int add_rule(scmp_filter_ctx ctx, uint32_t def, char *rule)
{
	char *action = strsep(&rule, " "), *names = strsep(&rule, " ");
	struct scmp_arg_cmp args[ARGS_MAX];
	unsigned n = 0;
	uint32_t act;
	if (!names || !*names || parse_action(action, &act))
		return EINVAL;
	for (char *arg; (arg = strsep(&rule, " "));)
		if (n == ARGS_MAX || parse_arg(arg, &args[n++]))
			return EINVAL;
	/* libseccomp refuses a rule that would change nothing (EACCES). */
	if (act == def)
		return 0;
	for (char *name; (name = strsep(&names, ","));) {
		/* A name this libseccomp does not know (a syscall newer than it) is left to the
		 * default action, as runc does. Names of other architectures (chown32) resolve to
		 * pseudo numbers that libseccomp places on the architectures having them. */
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR)
			continue;
		int rc = seccomp_rule_add_array(ctx, act, nr, n, args);
		if (rc < 0)
			return -rc;
	}
	return 0;
}

/* F: DEFAULT ARCHES RULE..., NULL-terminated. */
static int build(scmp_filter_ctx ctx, uint32_t def, char **f)
{
	/* no_new_privs is the plan's own step; libseccomp would set it with the filter.
	 * SYSRAWRC: the kernel's errno, where libseccomp would say ECANCELED.
	 * OPTIMIZE 2, a binary tree of syscall numbers instead of a chain: the kernel runs the
	 * filter for every syscall number when it loads it (its action cache), which then takes
	 * 0.5 ms instead of 1.4 ms here for Docker's profile, and each syscall walks log(n) tests. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc < 0)
		return -rc;
	/* The native architecture is already there (EEXIST when listed too). */
	for (char *arches = *f[1] ? f[1] : NULL, *name; (name = strsep(&arches, ","));) {
		uint32_t arch = seccomp_arch_resolve_name(name);
		if (!arch)
			return EINVAL;
		rc = seccomp_arch_add(ctx, arch);
		if (rc < 0 && rc != -EEXIST)
			return -rc;
	}
	for (char **rule = f + 2; *rule; rule++) {
		int err = add_rule(ctx, def, *rule);
		if (err)
			return err;
	}
	return 0;
}

static int compile(char **f)
{
	uint32_t def;
	if (!f[0] || !f[1] || parse_action(f[0], &def))
		return EINVAL;
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return ENOMEM; /* the action was checked: only memory is left to fail */
	int err = build(ctx, def, f);
	if (!err)
		err = -seccomp_export_bpf(ctx, STDOUT_FILENO);
	seccomp_release(ctx);
	return err;
}

int seccomp_compile(char **argv)
{
	int err = compile(argv + 1);
	if (err)
		fprintf(stderr, "whalebox-shim: seccomp-compile: %s\n", strerror(err));
	return err ? 1 : 0;
}

int seccomp_step(char **f)
{
	unsigned char *insns;
	size_t count;
	int err = field_hex(f[1], sizeof(struct sock_filter), BPF_MAXINSNS, &insns, &count);
	if (err)
		return err;
	/* No flags: what libseccomp's seccomp_load() does with this filter's attributes. Without
	 * no_new_privs the kernel wants CAP_SYS_ADMIN, which the plan's order guarantees. */
	struct sock_fprog prog = { (unsigned short)count, (struct sock_filter *)insns };
	err = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? errno : 0;
	free(insns);
	return err;
}
