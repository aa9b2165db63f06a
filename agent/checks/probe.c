/* The IKE probe check (kind "ike_probe"): a real IKE_SA_INIT to UDP 500 and to UDP 4500 (with
 * the non-ESP marker) of each configured gateway address, optionally from inside another
 * network namespace (an outside vantage point), all in parallel (agent/checks/ike_probe.h does
 * one probe). A generic port test cannot see an nftables drop; this can: only a parsed IKE
 * answer counts.
 *
 * OK when every probe was answered. Otherwise FAIL class=reachability — the probe alone cannot
 * say why; diagnosis refines it with the firewall and daemon findings — with a reason naming
 * the first port that failed and how: "udp4500_silent", "udp500_refused", "unreachable".
 * Facts: one per probe ("198.18.0.1:4500" = "silent") and the slowest answer's latency.
 *
 * Every run sends new requests (fresh SPIs and nonces, and a fresh source port, as a new
 * client's would be: each target and port keeps a socket between runs, connected afresh for each,
 * see ike_probe_sock; one whose probe was not answered is closed, the next run makes a new one);
 * the KE public value and the SHA-1 for NAT-D are made once, at the
 * first run, and shared by every probe of the check (see ikev2_msg_keys: the private half is
 * never used, so a key per probe would prove nothing more and cost a key generation each). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/ike_probe.h"
#include "agent/checks/probe.h"
#include "netns.h"
#include "yaml_bind.h"

#define PROBE_TARGETS_MAX 16u
#define PROBE_PORTS_MAX 4u
#define PROBES_MAX (PROBE_TARGETS_MAX * PROBE_PORTS_MAX)

typedef struct one_probe {
        struct probe_state *owner;
        ike_probe *probe;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        char label[64];
        char rtt_key[72]; /* "rtt_us " + label */
        uint16_t port;
        bool done;
        ike_probe_verdict verdict;
        uint64_t rtt_usec;
        uint16_t notify;
        char detail[128];
} one_probe;

typedef struct probe_state {
        char **targets;
        char **ports_str;
        char *netns;
        uint64_t timeout_usec;
        uint32_t retries;

        uint16_t ports[PROBE_PORTS_MAX];
        size_t n_ports;
        one_probe *probes; /* n_targets × n_ports, allocated once the params are known */
        ike_probe_sock **socks; /* each probe's socket, kept between runs */
        size_t n_probes, n_done, probes_cap;
        ikev2_msg_keys *keys; /* made at the first run */
        check_run *run;
} probe_state;

#define POFF(f) offsetof(probe_state, f)

static const yfield probe_fields[] = {
        { "targets", YF_STRV, POFF(targets), .max = PROBE_TARGETS_MAX },
        { "ports", YF_STRV, POFF(ports_str), .max = PROBE_PORTS_MAX },
        { "netns", YF_STRING, POFF(netns), .max = 64 },
        { "timeout", YF_DURATION, POFF(timeout_usec), .min = 10 * USEC_PER_MSEC, .max = 60 * USEC_PER_SEC },
        { "retries", YF_U32, POFF(retries), .max = IKE_PROBE_RETRIES_MAX },
        {}
};

static int parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

        memset(ss, 0, sizeof(*ss));
        if (inet_pton(AF_INET, s, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                *len = sizeof(*in);
                return 0;
        }
        if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                *len = sizeof(*in6);
                return 0;
        }
        return -EINVAL;
}

static int probes_alloc(probe_state *s) {
        size_t n = 0;

        while (s->targets[n])
                n++;
        s->probes_cap = n * s->n_ports;
        if (s->probes_cap > PROBES_MAX)
                return -EINVAL; /* cannot happen: both lists are bounded when bound */
        s->probes = calloc(s->probes_cap, sizeof(*s->probes));
        s->socks = calloc(s->probes_cap, sizeof(*s->socks));
        return s->probes && s->socks ? 0 : -ENOMEM;
}

static int probe_parse(void *state, const ynode *params, ydiag *d) {
        probe_state *s = state;
        const ynode *at = params ? ynode_get(params, "ports") : NULL;
        int r;

        s->timeout_usec = 2 * USEC_PER_SEC;
        s->retries = 2;
        r = ybind(params, probe_fields, s, d);
        if (r < 0)
                return r;
        if (!s->targets || !s->targets[0]) {
                ydiag_add(d, params, "ike_probe needs 'targets': the gateway addresses to probe");
                return -EINVAL;
        }
        for (size_t i = 0; s->targets[i]; i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                if (parse_addr(s->targets[i], 500, &ss, &len) < 0) {
                        ydiag_add(d, ynode_get(params, "targets"),
                                  "targets: '%s' is not an IPv4 or IPv6 address (no names: a probe "
                                  "must not depend on DNS)", YQ(s->targets[i]));
                        return -EINVAL;
                }
        }
        if (s->netns && netns_name_valid(s->netns) < 0) {
                ydiag_add(d, ynode_get(params, "netns"), "netns: '%s' is not a network namespace name", YQ(s->netns));
                return -EINVAL;
        }
        if (!s->ports_str) {
                s->ports[0] = IKE_PROBE_PORT;
                s->ports[1] = IKE_PROBE_PORT_NATT;
                s->n_ports = 2;
                return probes_alloc(s);
        }
        for (size_t i = 0; s->ports_str[i]; i++) {
                char *end;
                unsigned long p = strtoul(s->ports_str[i], &end, 10);
                if (*end || end == s->ports_str[i] || p == 0 || p > 65535) {
                        ydiag_add(d, at, "ports: '%s' is not a UDP port", YQ(s->ports_str[i]));
                        return -EINVAL;
                }
                s->ports[s->n_ports++] = (uint16_t) p;
        }
        if (s->n_ports == 0) {
                ydiag_add(d, at, "ports: at least one port");
                return -EINVAL;
        }
        return probes_alloc(s);
}

static void probes_free(probe_state *s) {
        for (size_t i = 0; i < s->n_probes; i++)
                s->probes[i].probe = ike_probe_free(s->probes[i].probe);
        s->n_probes = s->n_done = 0;
}

static void probe_finish(probe_state *s) {
        finding *f = NULL;
        const one_probe *first_bad = NULL;
        uint64_t max_rtt = 0;
        size_t answered = 0;
        check_run *run = TAKE_PTR(s->run);

        if (finding_new(&f) < 0) {
                probes_free(s);
                return;
        }
        for (size_t i = 0; i < s->n_probes; i++) {
                const one_probe *p = &s->probes[i];
                (void) finding_fact_set(f, p->label, "%s", ike_probe_verdict_to_string(p->verdict));
                if (p->verdict == IKE_PROBE_ANSWERED) {
                        /* each port's own round trip (the latency histogram of /metrics) */
                        (void) finding_fact_set(f, p->rtt_key, "%llu", (unsigned long long) p->rtt_usec);
                        answered++;
                        if (p->rtt_usec > max_rtt)
                                max_rtt = p->rtt_usec;
                } else if (!first_bad)
                        first_bad = p;
                (void) finding_evidence(f, "%s: %s", p->label, p->detail);
        }
        (void) finding_fact_set(f, "answered", "%zu/%zu", answered, s->n_probes);
        if (answered)
                (void) finding_fact_set(f, "latency_ms", "%.1f", (double) max_rtt / USEC_PER_MSEC);
        if (s->netns)
                (void) finding_fact_set(f, "vantage", "netns %s", s->netns);
        if (!first_bad)
                (void) finding_set(f, CHECK_OK, "IKE answered on every probed port (%zu probes, slowest %.1f ms)",
                                   s->n_probes, (double) max_rtt / USEC_PER_MSEC);
        else {
                const char *how = first_bad->verdict == IKE_PROBE_SILENT     ? "silent"
                                  : first_bad->verdict == IKE_PROBE_REFUSED  ? "refused"
                                  : first_bad->verdict == IKE_PROBE_GARBAGE  ? "garbage"
                                  : first_bad->verdict == IKE_PROBE_UNREACHABLE ? "unreachable"
                                                                              : "error";
                (void) finding_set(f, CHECK_FAIL, "IKE not answering on %s (%s); %zu of %zu probes answered",
                                   first_bad->label, how, answered, s->n_probes);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "reachability");
                if (first_bad->verdict == IKE_PROBE_UNREACHABLE)
                        (void) finding_fact_set(f, CHECK_FACT_REASON, "unreachable");
                else
                        (void) finding_fact_set(f, CHECK_FACT_REASON, "udp%u_%s", first_bad->port, how);
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        }
        probes_free(s);
        if (run)
                check_run_done(run, f);
        else
                finding_free(f);
}

static void on_result(ike_probe *p, const ike_probe_result *res, void *userdata) {
        one_probe *o = userdata;
        probe_state *s = o->owner;

        o->done = true;
        o->verdict = res->verdict;
        /* a socket that saw no answer is not trusted with the next run: a namespace deleted and
         * made again, a route gone — a new one starts from scratch */
        if (res->verdict != IKE_PROBE_ANSWERED)
                s->socks[o - s->probes] = ike_probe_sock_unref(s->socks[o - s->probes]);
        o->rtt_usec = res->rtt_usec;
        o->notify = res->notify;
        snprintf(o->detail, sizeof(o->detail), "%s", res->detail);
        if (++s->n_done == s->n_probes)
                probe_finish(s);
}

static void socks_free(probe_state *s) {
        for (size_t i = 0; s->socks && i < s->probes_cap; i++)
                s->socks[i] = ike_probe_sock_unref(s->socks[i]);
}

static int probe_start(void *state, const check_env *env, check_run *run) {
        probe_state *s = state;
        int r = 0;

        if (!s->probes)
                return -EINVAL; /* parse did not succeed */
        if (!s->keys) {
                r = ikev2_msg_keys_new(&s->keys, 0);
                if (r < 0)
                        return r;
        }
        s->run = run;
        for (size_t t = 0; s->targets[t]; t++)
                for (size_t k = 0; k < s->n_ports && s->n_probes < s->probes_cap; k++) {
                        one_probe *o = &s->probes[s->n_probes];
                        *o = (one_probe){ .owner = s, .port = s->ports[k] };
                        (void) parse_addr(s->targets[t], s->ports[k], &o->addr, &o->addr_len);
                        snprintf(o->label, sizeof(o->label), "%s%s%s:%u",
                                 strchr(s->targets[t], ':') ? "[" : "", s->targets[t],
                                 strchr(s->targets[t], ':') ? "]" : "", s->ports[k]);
                        snprintf(o->rtt_key, sizeof(o->rtt_key), "rtt_us %s", o->label);
                        s->n_probes++;
                }
        for (size_t i = 0; i < s->n_probes; i++) {
                one_probe *o = &s->probes[i];
                if (!s->socks[i]) {
                        r = ike_probe_sock_new(&s->socks[i], env->event, o->addr.ss_family, s->netns);
                        if (r < 0)
                                break;
                }
                ike_probe_options opts = {
                        .addr = (const struct sockaddr *) &o->addr,
                        .addr_len = o->addr_len,
                        .natt = o->port == IKE_PROBE_PORT_NATT,
                        .netns = s->netns,
                        .timeout_usec = s->timeout_usec,
                        .retries = s->retries,
                        .keys = s->keys,
                        .sock = s->socks[i],
                };
                r = ike_probe_start(&o->probe, env->event, &opts, on_result, o);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                probes_free(s);
                socks_free(s);
                s->run = NULL;
                return r;
        }
        return 0;
}

static void probe_cancel(void *state) {
        probe_state *s = state;
        probes_free(s);
        s->run = NULL;
}

static void probe_done(void *state) {
        probe_state *s = state;
        probes_free(s);
        socks_free(s);
        free(s->socks);
        free(s->probes);
        s->keys = ikev2_msg_keys_free(s->keys);
        strv_free(s->targets);
        strv_free(s->ports_str);
        free(s->netns);
}

const check_ops probe_check_ops = {
        .kind = "ike_probe",
        .description = "a real IKE_SA_INIT to UDP 500 and 4500 of each gateway address is answered",
        .state_size = sizeof(probe_state),
        .parse = probe_parse,
        .start = probe_start,
        .cancel = probe_cancel,
        .done = probe_done,
};
