/* Terminating every established IKE_SA so that peers meet a loaded fault (faults/reauth.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vici.h"
#include "faults/reauth.h"

static void finish(fault_reauth *s, int r) {
        s->pending = false;
        if (r >= 0)
                (void) snprintf(s->detail, sizeof(s->detail), "%zu established IKE_SA(s) terminated (%zu refused): peers "
                                "authenticate again now", s->n - s->failed, s->failed);
        s->done(s, r, s->userdata);
}

static void on_terminated(vici_client *c, int error, const vici_node *reply, void *userdata) {
        fault_reauth *s = userdata;
        const char *ok = reply ? vici_node_str(reply, "success") : NULL;

        /* an SA gone on its own in between is as good as terminated; count only refusals */
        if (error < 0 || !ok || strcmp(ok, "yes") != 0)
                s->failed++;
        if (++s->replied == s->n)
                finish(s, error < 0 && s->failed == s->n ? error : 0);
}

static void on_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        fault_reauth *s = userdata;

        for (const vici_node *sa = item ? item->child : NULL; sa; sa = sa->next) {
                uint64_t id;
                const char *state = vici_node_str(sa, "state");
                if (sa->type != VICI_NODE_SECTION || !state || strcmp(state, "ESTABLISHED") != 0 ||
                    vici_node_u64(sa, "uniqueid", &id) < 0 || s->n >= REAUTH_SAS_MAX)
                        continue;
                s->ids[s->n++] = id;
        }
}

static void on_listed(vici_client *c, int error, const vici_node *reply, void *userdata) {
        fault_reauth *s = userdata;
        size_t sent = 0;

        if (error < 0) {
                (void) snprintf(s->detail, sizeof(s->detail), "cannot list charon's SAs: %s", strerror(-error));
                finish(s, error);
                return;
        }
        if (s->n == 0) {
                finish(s, 0);
                return;
        }
        for (size_t i = 0; i < s->n; i++) {
                _cleanup_(freep) uint8_t *msg = NULL;
                vici_builder *b = NULL;
                size_t len = 0;
                int r = vici_builder_new(&b);
                if (r >= 0) {
                        vici_builder_add_fmt(b, "ike-id", "%llu", (unsigned long long) s->ids[i]);
                        vici_builder_add_str(b, "timeout", "-1"); /* the DELETE is sent; no waiting for the peer */
                        r = vici_builder_finish(b, &msg, &len);
                }
                if (r >= 0)
                        r = vici_client_command(s->vici, "terminate", msg, len, on_terminated, s);
                if (r < 0) {
                        /* what was sent still answers; the rest count as refused */
                        s->failed += s->n - i;
                        s->replied += s->n - i;
                        if (sent == 0 || s->replied == s->n)
                                finish(s, sent ? 0 : r);
                        return;
                }
                sent++;
        }
}

int fault_reauth_start(fault_reauth *s, struct vici_client *vici, fault_reauth_done done, void *userdata) {
        int r;

        *s = (fault_reauth){ .vici = vici, .done = done, .userdata = userdata };
        if (!vici || !vici_client_is_connected(vici)) {
                (void) snprintf(s->detail, sizeof(s->detail), "charon is not connected over VICI: its SAs cannot be terminated");
                return -ENOTCONN;
        }
        r = vici_client_stream(vici, "list-sas", "list-sa", NULL, 0, on_sa, on_listed, s);
        s->pending = r >= 0;
        return r;
}

void fault_reauth_cancel(fault_reauth *s) {
        if (s->pending)
                vici_client_forget(s->vici, s);
        s->pending = false;
}
