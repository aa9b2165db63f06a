/* The NAT/MTU check (kind "nat_mtu"): the failures that depend on the path, not on the peers'
 * configuration.
 *
 *  - NAT on the SAs (list-sas over VICI: nat-local, nat-remote, nat-fake, nat-any; a remote port
 *    other than 500/4500 means NAT rewrote it): facts nat_sas, nat_peers.
 *  - The signature of lost fragments, from charon's log events through the charon hub: the
 *    small IKE_SA_INIT got through, the large IKE_AUTH did not, so it is retransmitted, again
 *    and again, and never answered — "retransmit N of request with message ID 1" on an
 *    initiator, "received retransmit of request with ID 1, retransmitting response" on a
 *    responder whose answer does not arrive. `retransmits` (default 2) such lines for one IKE_SA
 *    within `window` (default 5m), without that SA being established since, is a FAIL
 *    class=nat_mtu reason=fragments_lost naming the peers; the sizes charon sent, and whether
 *    it split the message into IKE fragments (RFC 7383), are evidence. A peer that establishes
 *    clears its record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/nat_mtu.h"
#include "now.h"
#include "vici.h"
#include "charon_log.h"
#include "yaml_bind.h"

#define TRACKED_MAX 64u

typedef struct tracked {
        unsigned long uniqueid;
        char peer[64];
        unsigned retransmits;
        unsigned max_sent; /* bytes of the largest packet sent on it */
        bool fragmented;
        uint64_t last; /* CLOCK_MONOTONIC of the last retransmit */
} tracked;

typedef struct nat_mtu_state {
        uint32_t retransmits;
        uint64_t window_usec;

        check *check;
        const check_env *env;
        charon_listener *listener;
        check_run *run;
        tracked t[TRACKED_MAX];
        size_t next;
        unsigned nat_sas;
        char nat_peers[512];
} nat_mtu_state;

#define NOFF(f) offsetof(nat_mtu_state, f)

static const yfield nat_mtu_fields[] = {
        { "retransmits", YF_U32, NOFF(retransmits), .min = 1, .max = 100 },
        { "window", YF_DURATION, NOFF(window_usec), .min = USEC_PER_SEC, .max = 86400 * USEC_PER_SEC },
        {}
};

static int nat_mtu_parse(void *state, const ynode *params, ydiag *d) {
        nat_mtu_state *s = state;
        s->retransmits = 2;
        s->window_usec = 5 * 60 * USEC_PER_SEC;
        return ybind(params, nat_mtu_fields, s, d);
}

static tracked *track(nat_mtu_state *s, unsigned long id) {
        for (size_t i = 0; i < TRACKED_MAX; i++)
                if (s->t[i].uniqueid == id)
                        return &s->t[i];
        tracked *t = &s->t[s->next];
        s->next = (s->next + 1) % TRACKED_MAX;
        *t = (tracked){ .uniqueid = id };
        return t;
}

static void on_log(const char *event, const vici_node *msg, void *userdata) {
        nat_mtu_state *s = userdata;
        charon_log_line l;
        tracked *t;

        charon_log_from_vici(vici_node_str(msg, "group"), vici_node_str(msg, "level"), vici_node_str(msg, "ikesa-name"),
                             vici_node_str(msg, "ikesa-uniqueid"), vici_node_str(msg, "msg"), &l);
        if (!l.uniqueid)
                return;
        switch (l.event) {
        case CHARON_EV_RETRANSMIT:
                if (l.message_id != 1)
                        return;
                t = track(s, l.uniqueid);
                t->retransmits++;
                t->last = mono_usec();
                if (t->retransmits >= s->retransmits)
                        (void) check_trigger(s->check);
                return;
        case CHARON_EV_FRAGMENTED:
                track(s, l.uniqueid)->fragmented = true;
                return;
        case CHARON_EV_INITIATING:
                snprintf(track(s, l.uniqueid)->peer, sizeof(t->peer), "%s", l.peer);
                return;
        case CHARON_EV_ESTABLISHED: {
                bool was = false;
                for (size_t i = 0; i < TRACKED_MAX; i++)
                        if (s->t[i].uniqueid == l.uniqueid) {
                                was = s->t[i].retransmits >= s->retransmits;
                                s->t[i] = (tracked){};
                        }
                if (was)
                        (void) check_trigger(s->check);
                return;
        }
        default:
                break;
        }
        /* "sending packet: from A[4500] to B[4500] (1832 bytes)": sizes and the peer */
        const char *p = l.msg ? strstr(l.msg, "sending packet: ") : NULL;
        if (p) {
                const char *b = strstr(p, " bytes)");
                const char *o = b ? b : NULL;
                while (o && o > p && o[-1] >= '0' && o[-1] <= '9')
                        o--;
                t = track(s, l.uniqueid);
                if (b && o < b) {
                        unsigned n = (unsigned) strtoul(o, NULL, 10);
                        if (n > t->max_sent)
                                t->max_sent = n;
                }
                if (!t->peer[0] && l.peer[0])
                        snprintf(t->peer, sizeof(t->peer), "%s", l.peer);
        }
}

static int nat_mtu_attach(void *state, check *c, const check_env *env) {
        nat_mtu_state *s = state;
        s->check = c;
        s->env = env;
        return env->hub ? charon_hub_listen(env->hub, "log", on_log, NULL, s, &s->listener) : 0;
}

static void verdict(nat_mtu_state *s, finding *f) {
        uint64_t now = mono_usec();
        char peers[512] = "";
        unsigned n = 0;

        (void) finding_fact_set(f, "nat_sas", "%u", s->nat_sas);
        if (s->nat_peers[0])
                (void) finding_fact_set(f, "nat_peers", "%s", s->nat_peers);
        for (size_t i = 0; i < TRACKED_MAX; i++) {
                const tracked *t = &s->t[i];
                if (!t->uniqueid || t->retransmits < s->retransmits || now - t->last > s->window_usec)
                        continue;
                n++;
                const char *who = t->peer[0] ? t->peer : "?";
                if (!strstr(peers, who)) {
                        size_t used = strlen(peers);
                        snprintf(peers + used, sizeof(peers) - used, "%s%s", used ? "," : "", who);
                }
                (void) finding_evidence(f, "IKE_SA #%lu with %s: IKE_AUTH retransmitted %u times%s%.0u%s%s", t->uniqueid,
                                        who, t->retransmits, t->max_sent ? ", largest packet " : "", t->max_sent,
                                        t->max_sent ? " bytes" : "",
                                        t->fragmented ? ", split into IKE fragments" : ", not IKE-fragmented");
        }
        if (n) {
                (void) finding_set(f, CHECK_FAIL,
                                   "IKE_AUTH never answered after IKE_SA_INIT succeeded (%u SA%s): large messages "
                                   "lost on the path — IP fragments dropped (NAT, firewall) or MTU",
                                   n, n == 1 ? "" : "s");
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "nat_mtu");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "fragments_lost");
                (void) finding_fact_set(f, CHECK_FACT_PEERS, "%s", peers);
        } else
                (void) finding_set(f, CHECK_OK, "no sign of lost fragments; %u SA%s behind NAT", s->nat_sas,
                                   s->nat_sas == 1 ? "" : "s");
}

static void on_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        nat_mtu_state *s = userdata;
        for (const vici_node *ike = item ? item->child : NULL; ike; ike = ike->next) {
                const char *port = vici_node_str(ike, "remote-port"), *remote = vici_node_str(ike, "remote-host");
                bool nat = vici_node_str(ike, "nat-remote") || vici_node_str(ike, "nat-local") ||
                           vici_node_str(ike, "nat-fake") || vici_node_str(ike, "nat-any") ||
                           (port && strcmp(port, "500") != 0 && strcmp(port, "4500") != 0);
                if (!nat)
                        continue;
                s->nat_sas++;
                if (remote && !strstr(s->nat_peers, remote)) {
                        size_t used = strlen(s->nat_peers);
                        snprintf(s->nat_peers + used, sizeof(s->nat_peers) - used, "%s%s", used ? "," : "", remote);
                }
        }
}

static void on_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        nat_mtu_state *s = userdata;
        check_run *run = TAKE_PTR(s->run);
        finding *f = NULL;

        if (!run || finding_new(&f) < 0)
                return;
        if (error < 0)
                (void) finding_evidence(f, "list-sas failed: %s", strerror(-error));
        verdict(s, f);
        check_run_done(run, f);
}

static int nat_mtu_start(void *state, const check_env *env, check_run *run) {
        nat_mtu_state *s = state;
        int r;

        s->nat_sas = 0;
        s->nat_peers[0] = 0;
        if (env->vici && vici_client_is_connected(env->vici)) {
                r = vici_client_stream(env->vici, "list-sas", "list-sa", NULL, 0, on_sa, on_done, s);
                if (r >= 0) {
                        s->run = run;
                        return 0;
                }
        }
        finding *f = NULL;
        if (finding_new(&f) < 0)
                return -ENOMEM;
        verdict(s, f);
        check_run_done(run, f);
        return 0;
}

static void nat_mtu_cancel(void *state) {
        nat_mtu_state *s = state;
        s->run = NULL;
        vici_client_forget(s->env->vici, s);
}

static void nat_mtu_forget(void *state) {
        nat_mtu_state *s = state;
        memset(s->t, 0, sizeof(s->t));
}

static void nat_mtu_done(void *state) {
        nat_mtu_state *s = state;
        if (s->env)
                vici_client_forget(s->env->vici, s);
        charon_listener_free(s->listener);
}

const check_ops nat_mtu_check_ops = {
        .kind = "nat_mtu",
        .description = "NAT on the SAs, and IKE_AUTH lost on the path (fragments dropped, MTU)",
        .state_size = sizeof(nat_mtu_state),
        .parse = nat_mtu_parse,
        .attach = nat_mtu_attach,
        .start = nat_mtu_start,
        .cancel = nat_mtu_cancel,
        .forget = nat_mtu_forget,
        .done = nat_mtu_done,
};
