/* The `guard` verb: a change to the gateway that confirms itself or is rolled back
 * (agent/guard/guard.h). One write verb, three operations in its body's "op":
 *
 *   begin    confirm_within, verify_for (durations), reason, mark, force: approvers only (it
 *            takes a new last-good point). The peers up are listed (the roster the change must
 *            not lose), then every check runs once more (as for `accept`), so the point is the
 *            gateway as it is at the request; refused with the reason during
 *            an incident, a drill, another guard, a failing check or outside the change window
 *            without force.
 *   confirm  packages: the change is made; verify it
 *   abort    reason: roll back now
 *
 * and the read verb `guards`: the guard in progress, or the last one (readers may see it).
 * Each answer is the guard's record (guard_rec_to_vici()) plus "result", a sentence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/control/control.h"
#include "agent/guard/guard.h"
#include "agent/verbs/verbs.h"
#include "duration.h"

static int refuse(control_request *req, int err, const char *op, const char *why) {
        control_request_set_error(req, "guard %s: refused: %s", op, why);
        return err;
}

static void answer(const verbs_ctx *v, vici_builder *b, const char *result) {
        const guard_rec *rec = guard_current(v->guard);

        vici_builder_add_str(b, "result", result);
        vici_builder_add_str(b, "active", guard_active(v->guard) ? "yes" : "no");
        if (rec)
                guard_rec_to_vici(rec, b);
}

static int duration_of(control_request *req, const char *key, uint64_t *ret) {
        const char *s = vici_node_str(control_request_body(req), key);

        *ret = 0;
        if (!s)
                return 0;
        if (duration_parse(s, ret) < 0 || *ret == 0 || *ret > GUARD_WINDOW_MAX_USEC) {
                control_request_set_error(req, "guard begin: %s: '%s' is not a duration between 1s and 24h", key, s);
                return -EINVAL;
        }
        return 0;
}

static int begin_finish(const verbs_ctx *v, control_request *req, vici_builder *b, bool complete, uint64_t elapsed_usec) {
        const vici_node *body = control_request_body(req);
        const char *force = vici_node_str(body, "force");
        guard_begin_params p = { .reason = vici_node_str(body, "reason"),
                                 .mark = vici_node_str(body, "mark"),
                                 .force = force && strcmp(force, "yes") == 0 };
        char why[512];
        engine_who who;
        int r;

        if (!complete)
                return refuse(req, -ETIMEDOUT, "begin", "not every check finished a fresh run in time; nothing begun");
        if (duration_of(req, "confirm_within", &p.confirm_within_usec) < 0 ||
            duration_of(req, "verify_for", &p.verify_for_usec) < 0)
                return -EINVAL;
        verbs_who(v->config(v->userdata), req, &who);
        p.uid = who.uid;
        p.user = who.user;
        r = guard_begin(v->guard, &p, why, sizeof(why));
        if (r < 0)
                return refuse(req, r, "begin", why);
        answer(v, b, "guard begun: make the change, then confirm (or it is rolled back when the time to confirm ends)");
        return 0;
}

/* A begin waiting for charon's list of the peers up, then for a round of the checks. */
typedef struct begin_query {
        const verbs_ctx *v;
        control_request *req;
        vici_builder *reply;
} begin_query;

static void on_roster(int result, const char *why, void *userdata) {
        begin_query *q = userdata;
        int r = result;

        if (r >= 0)
                r = verbs_check_round(q->v, q->req, q->reply, begin_finish);
        if (r < 0) {
                (void) refuse(q->req, r, "begin", result < 0 && why && why[0] ? why : strerror(-r));
                (void) control_request_reply(q->req, r, NULL);
        }
        control_request_unref(q->req);
        free(q);
}

static int guard_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *op = vici_node_str(body, "op");
        char why[512];
        const char *no;
        engine_who who;
        uint64_t d;
        int r;

        if (!v->guard)
                return refuse(req, -ENXIO, op ?: "?", "the agent has no change guard");
        verbs_who(v->config(v->userdata), req, &who);
        if (!op) {
                control_request_set_error(req, "guard: no operation (begin, confirm, abort)");
                return -EINVAL;
        }
        if (strcmp(op, "begin") == 0) {
                if (!who.approver)
                        return refuse(req, -EPERM, op, "it takes a new last-good point: approvers only");
                if (duration_of(req, "confirm_within", &d) < 0 || duration_of(req, "verify_for", &d) < 0)
                        return -EINVAL;
                if ((no = guard_refusal(v->guard, why, sizeof(why))))
                        return refuse(req, -EBUSY, op, no);
                /* the point taken is the gateway after this request, not the checks' last runs:
                 * first the peers up, then a fresh round of every check */
                begin_query *q = calloc(1, sizeof(*q));
                if (!q)
                        return -ENOMEM;
                *q = (begin_query){ .v = v, .req = control_request_ref(req), .reply = b };
                r = guard_take_roster(v->guard, on_roster, q);
                if (r < 0) {
                        control_request_unref(q->req);
                        free(q);
                        return refuse(req, r, op,
                                      r == -EBUSY ? "another guard is beginning" : "cannot list charon's SAs (the peers a change must not lose)");
                }
                control_request_defer(req);
                return 0;
        }
        if (strcmp(op, "confirm") == 0) {
                r = guard_confirm(v->guard, vici_node_str(body, "packages"), why, sizeof(why));
                if (r < 0)
                        return refuse(req, r, op, why);
                answer(v, b, "confirmed: every check runs now and must stay healthy for the verification time");
                return 0;
        }
        if (strcmp(op, "abort") == 0) {
                r = guard_abort(v->guard, vici_node_str(body, "reason"), who.uid, who.user, why, sizeof(why));
                if (r < 0)
                        return refuse(req, r, op, why);
                answer(v, b, "rolling back");
                return 0;
        }
        control_request_set_error(req, "guard: unknown operation '%s' (begin, confirm, abort)", op);
        return -EINVAL;
}

static int guards_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;

        if (!v->guard) {
                control_request_set_error(req, "guards: the agent has no change guard");
                return -ENXIO;
        }
        answer(v, b, guard_current(v->guard) ? "" : "no guarded change yet");
        return 0;
}

int guard_verb_register(control_server *s, const verbs_ctx *v) {
        int r = control_server_register(s, PROTO_GUARD, guard_handler, (void *) v);
        if (r < 0)
                return r;
        return control_server_register(s, PROTO_GUARDS, guards_handler, (void *) v);
}
