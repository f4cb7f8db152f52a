/* Per-container kernel settings the child writes before exec: namespaced sysctls and the
 * OOM score adjustment. */
#ifndef WHALEBOX_TUNING_H
#define WHALEBOX_TUNING_H

/* `sysctl PATH VALUE`: writes VALUE to /proc/sys/PATH (PATH with '/' separators, no "..").
 * Returns 0 or an errno. */
int st_sysctl(char **f);

/* `oom-score-adj N`: writes N (-1000..1000) to /proc/self/oom_score_adj. Returns 0 or an errno. */
int st_oom_score_adj(char **f);

#endif
