/* Privileges of the container process. Functions return 0 or an errno. */
#ifndef CAPS_H
#define CAPS_H

#include <stdint.h>
#include <sys/types.h>

/* Drops every capability not in KEEP from the bounding set (before caps_set: needs CAP_SETPCAP). */
int caps_bounding(uint64_t keep);
/* Switches to UID/GID with the supplementary GROUPS ("1,2,3" or ""), keeping capabilities. */
int caps_user(uid_t uid, gid_t gid, char *groups);
/* Sets the three sets, each masked with the permitted set held now; clears the ambient set. */
int caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable);

#endif
