/* See tunnel_flow.h. */
#include <stdio.h>
#include <string.h>

#include "agent/checks/tunnel_flow.h"
#include "macro.h"

static tunnel_flow *flow_of(tunnel_flows *fls, const tunnel *t) {
        tunnel_flow *free_slot = NULL;
        for (size_t i = 0; i < TUNNELS_MAX; i++) {
                tunnel_flow *fl = &fls->f[i];
                if (fl->used && strcmp(fl->conn, t->conn) == 0 && strcmp(fl->child, t->child) == 0)
                        return fl;
                if (!fl->used && !free_slot)
                        free_slot = fl;
        }
        if (free_slot) {
                *free_slot = (tunnel_flow){ .used = true, .in = t->bytes_in, .out = t->bytes_out };
                (void) snprintf(free_slot->conn, sizeof(free_slot->conn), "%s", t->conn);
                (void) snprintf(free_slot->child, sizeof(free_slot->child), "%s", t->child);
        }
        return free_slot;
}

int tunnel_flow_out_grew(const tunnel_flows *fls, const tunnel *t) {
        for (size_t i = 0; i < TUNNELS_MAX; i++) {
                const tunnel_flow *fl = &fls->f[i];
                if (!fl->used || strcmp(fl->conn, t->conn) != 0 || strcmp(fl->child, t->child) != 0)
                        continue;
                if (t->bytes_out < fl->out || t->bytes_in < fl->in)
                        return -1;
                return t->bytes_out > fl->out;
        }
        return -1;
}

bool tunnel_listed(char *const *list, const tunnel *t) {
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX];
        for (size_t i = 0; list && list[i]; i++)
                if (tunnel_name_split(list[i], conn, child) >= 0 && strcmp(conn, t->conn) == 0 &&
                    strcmp(child, t->child) == 0)
                        return true;
        return false;
}

static void secs(char *buf, size_t size, uint64_t v) {
        if (v == TUNNEL_NEVER)
                (void) snprintf(buf, size, "never");
        else
                (void) snprintf(buf, size, "%llus", (unsigned long long) v);
}

flow_verdict tunnel_flow_judge(tunnel_flows *fls, const tunnel *t, const tunnel_flow_params *p, uint64_t now, finding *f) {
        char name[2 * TUNNEL_NAME_MAX], key[2 * TUNNEL_NAME_MAX + 16], ii[24], io[24];
        tunnel_flow *fl = flow_of(fls, t);
        flow_verdict v = FLOW_OK;

        (void) snprintf(name, sizeof(name), "%s/%s", t->conn, t->child);
        (void) snprintf(key, sizeof(key), "%s.counters", name);
        secs(ii, sizeof(ii), t->idle_in);
        secs(io, sizeof(io), t->idle_out);
        (void) finding_fact_set(f, key, "in=%llu bytes/%llu packets out=%llu bytes/%llu packets idle_in=%s idle_out=%s",
                                (unsigned long long) t->bytes_in, (unsigned long long) t->packets_in,
                                (unsigned long long) t->bytes_out, (unsigned long long) t->packets_out, ii, io);
        if (!fl)
                return FLOW_OK;
        bool out_grew = t->bytes_out > fl->out, in_grew = t->bytes_in > fl->in;
        if (t->bytes_in < fl->in || t->bytes_out < fl->out) /* rekeyed: new counters */
                fl->in_still_since = 0;
        else if (in_grew)
                fl->in_still_since = 0;
        else if (out_grew && !fl->in_still_since)
                fl->in_still_since = now;
        fl->in = t->bytes_in;
        fl->out = t->bytes_out;
        if (p->one_way_usec && fl->in_still_since && t->ike == TUNNEL_IKE_ESTABLISHED &&
            now - fl->in_still_since >= p->one_way_usec) {
                v = FLOW_ONE_WAY;
                (void) finding_evidence(f, "%s: one-way for %llus: outbound grows (%llu bytes, idle %s), inbound stands at "
                                           "%llu bytes (idle %s) while the IKE_SA is up",
                                        name, (unsigned long long) ((now - fl->in_still_since) / USEC_PER_SEC),
                                        (unsigned long long) t->bytes_out, io, (unsigned long long) t->bytes_in, ii);
        } else if (p->traffic) {
                uint64_t idle = t->idle_in < t->idle_out ? t->idle_in : t->idle_out;
                if (idle == TUNNEL_NEVER)
                        idle = t->installed_for; /* never used: idle since installed */
                if (idle != TUNNEL_NEVER && idle <= UINT64_MAX / USEC_PER_SEC && idle * USEC_PER_SEC >= p->idle_max_usec) {
                        v = FLOW_NO_TRAFFIC;
                        (void) finding_evidence(f, "%s: no traffic for %llus (in %llu bytes idle %s, out %llu bytes idle %s)",
                                                name, (unsigned long long) idle, (unsigned long long) t->bytes_in, ii,
                                                (unsigned long long) t->bytes_out, io);
                }
        }
        return v;
}
