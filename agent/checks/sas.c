/* The SAs check (kind "sas"): how many peers are connected, compared with what is normal here.
 * Each run streams charon's `list-sas` over VICI and counts IKE SAs by state (ESTABLISHED;
 * CONNECTING = half-open) and installed CHILD SAs, and names the peers that are up (fact
 * peers_up: remote addresses) — which is how diagnosis tells "one peer fails while the others
 * work" (local) from "everyone fails" (global).
 *
 * The baseline is learnt: an exponentially weighted average of the established count, never
 * below the recent peak's half. A count that falls under `drop_ratio` of a baseline of at least
 * `min_baseline` is a collapse: FAIL reason=sa_collapse scope=global (an impact, whose cause the
 * other checks name). Half-open SAs above `half_open_max` are a WARN (reason=half_open: a
 * flood, or peers that cannot finish IKE_AUTH). ike-updown/child-updown events run the check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/sas.h"
#include "agent/checks/sas_tally.h"
#include "agent/checks/check_debounce.h"
#include "vici.h"
#include "yaml_bind.h"

#define DEBOUNCE_USEC (50 * USEC_PER_MSEC)

typedef struct sas_state {
        /* params */
        uint32_t drop_percent;  /* drop_ratio as a percentage */
        uint32_t min_baseline;
        uint32_t half_open_max;

        check *check;
        const check_env *env;
        charon_listener *listener, *child_listener;
        check_debounce debounce;
        check_run *run;

        unsigned established, connecting, other, children;
        char peers_up[1024];
        sas_tally building, last; /* per connection: this run's, and the last complete one */
        bool per_peer;            /* count per peer too (GET /metrics asks) */
        double baseline;
        unsigned peak;
} sas_state;

#define SOFF(f) offsetof(sas_state, f)

static const yfield sas_fields[] = {
        { "drop_percent", YF_U32, SOFF(drop_percent), .min = 1, .max = 99 },
        { "min_baseline", YF_U32, SOFF(min_baseline), .min = 1, .max = 1000000 },
        { "half_open_max", YF_U32, SOFF(half_open_max), .min = 1, .max = 1000000 },
        {}
};

static int sas_parse(void *state, const ynode *params, ydiag *d) {
        sas_state *s = state;
        s->drop_percent = 50;
        s->min_baseline = 2;
        s->half_open_max = 100;
        return ybind(params, sas_fields, s, d);
}

static void on_updown(const char *event, const vici_node *msg, void *userdata) {
        sas_state *s = userdata;
        check_debounce_kick(&s->debounce, s->env->event, s->check, DEBOUNCE_USEC);
}

static void on_state(bool connected, int reason, void *userdata) {
        sas_state *s = userdata;
        if (connected)
                (void) check_trigger(s->check);
}

static int sas_attach(void *state, check *c, const check_env *env) {
        sas_state *s = state;
        int r;

        s->check = c;
        s->env = env;
        if (!env->hub)
                return 0;
        r = charon_hub_listen(env->hub, "ike-updown", on_updown, on_state, s, &s->listener);
        if (r < 0)
                return r;
        return charon_hub_listen(env->hub, "child-updown", on_updown, NULL, s, &s->child_listener);
}

/* One CHILD SA's bytes and packets into its peer's row. */
static void peer_count(sas_tally *t, const char *conn, const char *peer, const vici_node *ch) {
        const char *child = vici_node_str(ch, "name") ?: ch->name;
        sas_peer *p = sas_peers_row(&t->peers, conn, peer ?: "?", child ?: "?");
        uint64_t v;

        if (!p)
                return;
        if (vici_node_u64(ch, "bytes-in", &v) >= 0)
                p->bytes_in += v;
        if (vici_node_u64(ch, "bytes-out", &v) >= 0)
                p->bytes_out += v;
        if (vici_node_u64(ch, "packets-in", &v) >= 0)
                p->packets_in += v;
        if (vici_node_u64(ch, "packets-out", &v) >= 0)
                p->packets_out += v;
}

static void on_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        sas_state *s = userdata;

        /* { <ike-sa name> { state = ESTABLISHED, remote-host = …, child-sas { … } } } */
        for (const vici_node *ike = item ? item->child : NULL; ike; ike = ike->next) {
                const char *st = vici_node_str(ike, "state"), *remote = vici_node_str(ike, "remote-host");
                const char *remote_id = vici_node_str(ike, "remote-id");
                if (st && strcmp(st, "ESTABLISHED") == 0) {
                        s->established++;
                        if (remote && !strstr(s->peers_up, remote)) {
                                size_t used = strlen(s->peers_up);
                                snprintf(s->peers_up + used, sizeof(s->peers_up) - used, "%s%s", used ? "," : "",
                                         remote);
                        }
                } else if (st && strcmp(st, "CONNECTING") == 0)
                        s->connecting++;
                else
                        s->other++;
                sas_conn *row = ike->name ? sas_tally_row(&s->building, ike->name) : NULL;
                if (row)
                        row->ike[sas_ike_state_of(st)]++;
                const vici_node *children = vici_node_get(ike, "child-sas");
                for (const vici_node *ch = children ? children->child : NULL; ch; ch = ch->next) {
                        const char *cst = vici_node_str(ch, "state");
                        bool installed = cst && strcmp(cst, "INSTALLED") == 0;
                        if (installed)
                                s->children++;
                        if (!row)
                                continue;
                        uint64_t v;
                        if (installed)
                                row->child_installed++;
                        else
                                row->child_other++;
                        if (vici_node_u64(ch, "bytes-in", &v) >= 0)
                                row->bytes_in += v;
                        if (vici_node_u64(ch, "bytes-out", &v) >= 0)
                                row->bytes_out += v;
                        if (vici_node_u64(ch, "packets-in", &v) >= 0)
                                row->packets_in += v;
                        if (vici_node_u64(ch, "packets-out", &v) >= 0)
                                row->packets_out += v;
                        if (s->per_peer)
                                peer_count(&s->building, ike->name, remote_id ?: remote, ch);
                }
        }
}

static void on_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        sas_state *s = userdata;
        check_run *run = TAKE_PTR(s->run);
        finding *f = NULL;

        if (!run || finding_new(&f) < 0)
                return;
        if (error < 0) {
                (void) finding_set(f, CHECK_UNKNOWN, "cannot list SAs: %s", strerror(-error));
                check_run_done(run, f);
                return;
        }
        sas_tally_swap(&s->building, &s->last);
        unsigned n = s->established;
        bool collapse = s->baseline >= s->min_baseline && n * 100.0 < s->baseline * s->drop_percent;

        (void) finding_fact_set(f, "ike_sas", "%u", n);
        (void) finding_fact_set(f, "half_open", "%u", s->connecting);
        (void) finding_fact_set(f, "child_sas", "%u", s->children);
        (void) finding_fact_set(f, "baseline", "%.1f", s->baseline);
        (void) finding_fact_set(f, "peers_up", "%s", s->peers_up);
        if (collapse) {
                (void) finding_set(f, CHECK_FAIL, "IKE SAs collapsed: %u established, normally %.1f", n, s->baseline);
                (void) finding_fact_set(f, CHECK_FACT_REASON, "sa_collapse");
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        } else if (s->connecting > s->half_open_max) {
                (void) finding_set(f, CHECK_WARN, "%u half-open IKE SAs (more than %u)", s->connecting, s->half_open_max);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "resource");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "half_open");
        } else
                (void) finding_set(f, CHECK_OK, "%u IKE SAs established, %u CHILD SAs, %u half-open", n, s->children,
                                   s->connecting);
        /* learn only from counts that are not a collapse: a long outage must not become normal
         * (it decays slowly through the peak rule instead) */
        if (!collapse) {
                s->baseline = s->baseline == 0 ? n : 0.7 * s->baseline + 0.3 * n;
                if (n > s->peak)
                        s->peak = n;
                if (s->baseline < s->peak / 2.0)
                        s->baseline = s->peak / 2.0;
        }
        check_run_done(run, f);
}

static int sas_start(void *state, const check_env *env, check_run *run) {
        sas_state *s = state;
        int r;

        if (!env->vici || !vici_client_is_connected(env->vici))
                return check_run_unknown(run, "charon is not connected (the daemon check says why)");
        s->established = s->connecting = s->other = s->children = 0;
        s->peers_up[0] = 0;
        sas_tally_reset(&s->building);
        r = vici_client_stream(env->vici, "list-sas", "list-sa", NULL, 0, on_sa, on_done, s);
        if (r < 0)
                return r;
        s->run = run;
        return 0;
}

static void sas_cancel(void *state) {
        sas_state *s = state;
        s->run = NULL;
        vici_client_forget(s->env->vici, s);
}

static void sas_done(void *state) {
        sas_state *s = state;
        if (s->env)
                vici_client_forget(s->env->vici, s);
        check_debounce_done(&s->debounce);
        charon_listener_free(s->listener);
        charon_listener_free(s->child_listener);
        sas_tally_done(&s->building);
        sas_tally_done(&s->last);
}

const sas_tally *sas_check_tally(check *c) {
        if (!c || check_get_ops(c) != &sas_check_ops)
                return NULL;
        const sas_state *s = check_ops_state(c);
        return &s->last;
}

const check_ops sas_check_ops = {
        .kind = "sas",
        .description = "IKE/CHILD SA counts against a learnt baseline; which peers are up",
        .state_size = sizeof(sas_state),
        .parse = sas_parse,
        .attach = sas_attach,
        .start = sas_start,
        .cancel = sas_cancel,
        .done = sas_done,
};

void sas_check_set_per_peer(check *c, bool on) {
        sas_state *s = c && check_get_ops(c) == &sas_check_ops ? (sas_state *) check_ops_state(c) : NULL;

        if (s)
                s->per_peer = on;
}
