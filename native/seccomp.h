/* Syscall filters: compiled with libseccomp (`whalebox-shim seccomp-compile`), loaded by the
 * `seccomp` step. (libseccomp's own header is <seccomp.h>; this one is "seccomp.h".) */
#ifndef WHALEBOX_SECCOMP_H
#define WHALEBOX_SECCOMP_H

/* ARGV: `seccomp-compile DEFAULT ARCHES RULE...` (docs/shim-protocol.md), NULL-terminated.
 * Writes the filter's BPF program to stdout. Returns the exit status: 0, or 1 with a message on
 * stderr. */
int seccomp_compile(char **argv);

/* `seccomp PROGRAM`: loads PROGRAM (struct sock_filter[] in the host's byte order, as hex).
 * Returns 0 or an errno. */
int seccomp_step(char **f);

#endif
