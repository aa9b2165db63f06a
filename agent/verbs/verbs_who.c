/* The requesting peer as the engine sees it: its uid and user, and whether it may approve (root
 * or a member of control.approver_groups, by its SO_PEERCRED credentials). */
#include "agent/verbs/verbs.h"

void verbs_who(const ikeheal_config *c, control_request *req, engine_who *ret) {
        const control_peer *p = control_request_peer(req);

        *ret = (engine_who){
                .uid = p->uid,
                .user = p->user,
                .approver = p->uid == 0 || config_groups_match(c->approver_groups, p->gid, p->groups, p->n_groups),
        };
}
