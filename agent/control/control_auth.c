/* See control_internal.h: whether a peer may use a verb. Root may use every verb, members of
 * control.operator_groups every verb, members of control.reader_groups the read-only ones; a
 * refusal says which groups would have been allowed. */
#include <stdio.h>
#include <string.h>

#include "agent/control/control_internal.h"

static void groups_describe(char *buf, size_t size, char *const *a, char *const *b) {
        size_t n = 0, off = 0;
        char *const *lists[] = { a, b };

        buf[0] = 0;
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (size_t i = 0; lists[l] && lists[l][i]; i++) {
                        int k = snprintf(buf + off, size - off, "%s%s", n ? ", " : "", lists[l][i]);
                        if (k < 0 || (size_t) k >= size - off)
                                return;
                        off += (size_t) k;
                        n++;
                }
}

bool control_auth_check(const ikeheal_config *cfg, const control_peer *p, bool write, char *why,
                        size_t why_size, const char *verb) {
        char groups[512];

        if (p->uid == 0)
                return true;
        if (config_groups_match(cfg->operator_groups, p->gid, p->groups, p->n_groups))
                return true;
        if (!write && config_groups_match(cfg->reader_groups, p->gid, p->groups, p->n_groups))
                return true;

        groups_describe(groups, sizeof(groups), cfg->operator_groups,
                        write ? NULL : cfg->reader_groups);
        if (!groups[0])
                (void) snprintf(why, why_size, "permission denied: uid %u may not '%s' (needs root)",
                                (unsigned) p->uid, verb);
        else
                (void) snprintf(why, why_size,
                                "permission denied: uid %u may not '%s' (needs root or %s %s)",
                                (unsigned) p->uid, verb, strchr(groups, ',') ? "one of the groups" : "group",
                                groups);
        return false;
}

