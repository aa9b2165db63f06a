/* See incident.h. Incidents are kept in an array, newest last (small: active ones plus at most
 * INCIDENT_KEEP_RESOLVED resolved ones). Each change appends the whole incident, VICI-encoded,
 * to the state log; replay keeps the last record of each id. When the log holds many times
 * more records than incidents, it is compacted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/triage/incident.h"
#include "ev.h"
#include "now.h"
#include "record_store.h"

#define RECORD_INCIDENT 1

struct incident_store {
        incident *items;
        size_t n, allocated;
        uint64_t next_id;
        record_store store; /* its log NULL: memory only */
        /* held updates are written when their interval ends */
        ev_loop *event;
        ev_source *flush_timer;
        incident_cb flush_cb;
        void *flush_userdata;
};

static const char *const state_names[_INCIDENT_STATE_MAX] = {
        [INCIDENT_OPEN] = "open",
        [INCIDENT_REMEDIATING] = "remediating",
        [INCIDENT_ESCALATED] = "escalated",
        [INCIDENT_RESOLVED] = "resolved",
};

const char *incident_state_to_string(incident_state s) {
        return (unsigned) s < _INCIDENT_STATE_MAX ? state_names[s] : NULL;
}

int incident_state_from_string(const char *s, incident_state *ret) {
        for (unsigned i = 0; s && i < _INCIDENT_STATE_MAX; i++)
                if (strcmp(s, state_names[i]) == 0) {
                        *ret = (incident_state) i;
                        return 0;
                }
        return -EINVAL;
}

static void incident_done(incident *i) {
        for (size_t j = 0; j < i->n_evidence; j++)
                free(i->evidence[j]);
        i->n_evidence = 0;
}

static bool incident_active(const incident *i) {
        return i->state != INCIDENT_RESOLVED;
}

void incident_to_vici(const incident *i, vici_builder *b, bool with_evidence) {
        char name[24];

        (void) snprintf(name, sizeof(name), "%llu", (unsigned long long) i->id);
        vici_builder_begin_section(b, name);
        vici_builder_add_fmt(b, "id", "%llu", (unsigned long long) i->id);
        vici_builder_add_str(b, "class", fault_class_to_string(i->cls));
        vici_builder_add_str(b, "scope", fault_scope_to_string(i->scope));
        vici_builder_add_str(b, "severity", check_status_to_string(i->severity));
        vici_builder_add_fmt(b, "confidence", "%u", i->confidence);
        vici_builder_add_str(b, "state", incident_state_to_string(i->state));
        vici_builder_add_str(b, "reason", i->reason);
        vici_builder_add_str(b, "peers", i->peers);
        vici_builder_add_str(b, "root_check", i->root_check);
        vici_builder_add_str(b, "summary", i->summary);
        vici_builder_add_str(b, "explains", i->explains);
        vici_builder_add_str(b, "note", i->note);
        vici_builder_add_fmt(b, "opened_usec", "%llu", (unsigned long long) i->opened_usec);
        vici_builder_add_fmt(b, "updated_usec", "%llu", (unsigned long long) i->updated_usec);
        vici_builder_add_fmt(b, "resolved_usec", "%llu", (unsigned long long) i->resolved_usec);
        vici_builder_add_fmt(b, "updates", "%u", i->updates);
        if (with_evidence) {
                vici_builder_begin_list(b, "evidence");
                for (size_t j = 0; j < i->n_evidence; j++)
                        vici_builder_add_list_item(b, i->evidence[j]);
                vici_builder_end_list(b);
        }
        vici_builder_end_section(b);
}

static void copy_str(char *dst, size_t size, const char *src) {
        (void) snprintf(dst, size, "%s", src ? src : "");
}

/* A record back into an incident. -EBADMSG for anything that does not decode completely. */
static int incident_decode(const vici_node *sec, incident *ret) {
        incident i = {};
        uint64_t v;

        if (vici_node_u64(sec, "id", &i.id) < 0 || i.id == 0 ||
            fault_class_from_string(vici_node_str(sec, "class"), &i.cls) < 0 ||
            fault_scope_from_string(vici_node_str(sec, "scope"), &i.scope) < 0 ||
            incident_state_from_string(vici_node_str(sec, "state"), &i.state) < 0)
                return -EBADMSG;
        const char *sev = vici_node_str(sec, "severity");
        i.severity = sev && strcmp(sev, "fail") == 0 ? CHECK_FAIL : CHECK_WARN;
        if (vici_node_u64(sec, "confidence", &v) >= 0 && v <= 100)
                i.confidence = (unsigned) v;
        copy_str(i.reason, sizeof(i.reason), vici_node_str(sec, "reason"));
        copy_str(i.peers, sizeof(i.peers), vici_node_str(sec, "peers"));
        copy_str(i.root_check, sizeof(i.root_check), vici_node_str(sec, "root_check"));
        copy_str(i.summary, sizeof(i.summary), vici_node_str(sec, "summary"));
        copy_str(i.explains, sizeof(i.explains), vici_node_str(sec, "explains"));
        copy_str(i.note, sizeof(i.note), vici_node_str(sec, "note"));
        (void) vici_node_u64(sec, "opened_usec", &i.opened_usec);
        (void) vici_node_u64(sec, "updated_usec", &i.updated_usec);
        (void) vici_node_u64(sec, "resolved_usec", &i.resolved_usec);
        if (vici_node_u64(sec, "updates", &v) >= 0 && v <= UINT32_MAX)
                i.updates = (uint32_t) v;
        const vici_node *ev = vici_node_get(sec, "evidence");
        for (const vici_node *n = ev && ev->type == VICI_NODE_LIST ? ev->child : NULL;
             n && i.n_evidence < INCIDENT_EVIDENCE_MAX; n = n->next) {
                i.evidence[i.n_evidence] = strndup(n->value, n->len);
                if (!i.evidence[i.n_evidence]) {
                        incident_done(&i);
                        return -ENOMEM;
                }
                i.n_evidence++;
        }
        *ret = i;
        return 0;
}

static void flush_arm(incident_store *s);

static incident *store_find(incident_store *s, uint64_t id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->items[i].id == id)
                        return &s->items[i];
        return NULL;
}

static incident *store_add(incident_store *s) {
        if (s->n == s->allocated) {
                size_t n = s->allocated ? s->allocated * 2 : 16;
                incident *p = reallocarray(s->items, n, sizeof(*p));
                if (!p)
                        return NULL;
                s->items = p;
                s->allocated = n;
        }
        s->items[s->n] = (incident){};
        return &s->items[s->n++];
}

/* Forget the oldest resolved incidents beyond the limit. */
static void store_trim(incident_store *s) {
        size_t resolved = 0;
        for (size_t i = 0; i < s->n; i++)
                resolved += !incident_active(&s->items[i]);
        for (size_t i = 0; i < s->n && resolved > INCIDENT_KEEP_RESOLVED;) {
                if (incident_active(&s->items[i])) {
                        i++;
                        continue;
                }
                incident_done(&s->items[i]);
                memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(s->items[0]));
                s->n--;
                resolved--;
        }
}

static int encode_record(const incident *i, uint8_t **ret, size_t *ret_len) {
        _cleanup_(vici_builder_freep) vici_builder *b = NULL;
        int r = vici_builder_new(&b);
        if (r < 0)
                return r;
        incident_to_vici(i, b, true);
        return vici_builder_finish(TAKE_PTR(b), ret, ret_len); /* finish consumes the builder */
}

static int replay_record(uint16_t type, const void *payload, size_t len, void *userdata) {
        incident_store *s = userdata;
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        incident inc;
        int r;

        if (type != RECORD_INCIDENT)
                return 0; /* a record type of a newer version: skip, do not fail */
        r = vici_msg_parse(payload, len, &root);
        if (r < 0 || !root->child || root->child->type != VICI_NODE_SECTION)
                return r == -ENOMEM ? r : 0;
        r = incident_decode(root->child, &inc);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        incident *slot = store_find(s, inc.id);
        if (slot)
                incident_done(slot);
        else if (!(slot = store_add(s))) {
                incident_done(&inc);
                return -ENOMEM;
        }
        *slot = inc;
        if (inc.id >= s->next_id)
                s->next_id = inc.id + 1;
        return 0;
}

static int snapshot_records(statelog_writer *w, void *userdata) {
        incident_store *s = userdata;
        for (size_t i = 0; i < s->n; i++) {
                _cleanup_(freep) uint8_t *buf = NULL;
                size_t len;
                int r = encode_record(&s->items[i], &buf, &len);
                if (r < 0)
                        return r;
                r = statelog_writer_append(w, RECORD_INCIDENT, buf, len);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Durable before reported. */
static int store_persist(incident_store *s, const incident *i) {
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t len;
        int r;

        if (!s->store.log)
                return 0;
        r = encode_record(i, &buf, &len);
        if (r < 0)
                return r;
        r = record_store_append(&s->store, RECORD_INCIDENT, buf, len);
        if (r < 0)
                return r;
        /* a failed compaction leaves the old log, which is still complete */
        (void) record_store_compact_if_due(&s->store, s->n);
        return 0;
}

int incident_store_new(incident_store **ret, const char *state_dir, uint64_t *ret_dropped) {
        _cleanup_(incident_store_freep) incident_store *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->next_id = 1;
        if (state_dir) {
                r = record_store_open(&s->store, state_dir, "incidents", replay_record, snapshot_records, 8, 256, s);
                if (r < 0)
                        return r;
                if (ret_dropped)
                        *ret_dropped = statelog_dropped_bytes(s->store.log);
                store_trim(s);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

incident_store *incident_store_free(incident_store *s) {
        if (!s)
                return NULL;
        s->flush_timer = ev_source_disable_unref(s->flush_timer);
        ev_unref(s->event);
        for (size_t i = 0; i < s->n; i++) {
                if (s->items[i].coalesced)
                        (void) store_persist(s, &s->items[i]); /* what was held is not lost */
                incident_done(&s->items[i]);
        }
        free(s->items);
        record_store_done(&s->store);
        free(s);
        return NULL;
}

/* Copy a problem's description into an incident; true if something an operator would care
 * about changed (not just the evidence lines). */
static int incident_fill(incident *i, const diagnosis_problem *p, bool *ret_changed) {
        bool changed = i->scope != p->scope || i->severity != p->severity ||
                       strcmp(i->reason, p->reason) != 0 || strcmp(i->peers, p->peers) != 0 ||
                       strcmp(i->root_check, p->root_check) != 0;

        i->cls = p->cls;
        i->scope = p->scope;
        i->severity = p->severity;
        i->confidence = p->confidence;
        copy_str(i->reason, sizeof(i->reason), p->reason);
        copy_str(i->peers, sizeof(i->peers), p->peers);
        copy_str(i->root_check, sizeof(i->root_check), p->root_check);
        copy_str(i->summary, sizeof(i->summary), p->summary);
        copy_str(i->explains, sizeof(i->explains), p->explains);
        incident_done(i);
        for (size_t j = 0; j < p->n_evidence && j < INCIDENT_EVIDENCE_MAX; j++) {
                i->evidence[j] = strdup(p->evidence[j]);
                if (!i->evidence[j])
                        return -ENOMEM;
                i->n_evidence++;
        }
        *ret_changed = changed;
        return 0;
}

/* May an incident whose problem disappeared from a complete diagnosis be resolved? Only if the
 * check that reported it can tell: an UNKNOWN (charon not connected yet after a restart) is
 * no evidence of health. A check still failing on something diagnosis no longer counts as a
 * problem (peers' "no config" while every connection is loaded) does not hold it open. */
static bool root_healthy(const incident *i, const diagnosis_input *in, size_t n_in) {
        for (size_t k = 0; k < n_in; k++)
                if (strcmp(in[k].check, i->root_check) == 0)
                        return in[k].reported != CHECK_UNKNOWN;
        return true; /* the check is gone (reconfigured): nothing left to wait for */
}

/* Write an incident (with whatever updates it held) and report it. `carried`: updates the
 * record carries beyond one (an UPDATED record). */
static int record(incident_store *s, incident *i, uint64_t now_usec, incident_event ev, uint32_t carried,
                  incident_cb cb, void *userdata) {
        int r = store_persist(s, i);
        i->persisted_usec = now_usec;
        i->coalesced = carried;
        if (cb)
                cb(i, ev, userdata);
        i->coalesced = 0;
        return r;
}

int incident_store_flush(incident_store *s, uint64_t now_usec, incident_cb cb, void *userdata) {
        int ret = 0;

        for (size_t j = 0; j < s->n; j++) {
                incident *i = &s->items[j];
                if (!i->coalesced || (now_usec >= i->persisted_usec && now_usec - i->persisted_usec < INCIDENT_COALESCE_USEC))
                        continue;
                int r = record(s, i, now_usec, INCIDENT_UPDATED, i->coalesced - 1, cb, userdata);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int on_flush(ev_source *src, uint64_t usec, void *userdata) {
        incident_store *s = userdata;

        s->flush_timer = ev_source_disable_unref(s->flush_timer);
        (void) incident_store_flush(s, real_usec(), s->flush_cb, s->flush_userdata);
        for (size_t j = 0; j < s->n; j++)
                if (s->items[j].coalesced) {
                        flush_arm(s); /* held since less than an interval: its turn comes */
                        break;
                }
        return 0;
}

static void flush_arm(incident_store *s) {
        if (!s->event || s->flush_timer)
                return;
        (void) ev_add_time_relative(s->event, &s->flush_timer, CLOCK_MONOTONIC, INCIDENT_COALESCE_USEC,
                                          50 * USEC_PER_MSEC, on_flush, s);
}

int incident_store_attach_event(incident_store *s, ev_loop *e, incident_cb cb, void *userdata) {
        s->event = ev_ref(e);
        s->flush_cb = cb;
        s->flush_userdata = userdata;
        return 0;
}

/* Why an incident resolved: what its root check says ended it (a peer established, a peer
 * stopped trying), else that every check concerned is healthy. */
static void resolution_note(incident *i, const diagnosis_input *in, size_t n_in) {
        for (size_t k = 0; k < n_in; k++) {
                const char *why;
                if (strcmp(in[k].check, i->root_check) != 0 || !in[k].finding)
                        continue;
                why = finding_fact_get(in[k].finding, "resolution");
                if (why && *why) {
                        (void) snprintf(i->note, sizeof(i->note), "%s", why);
                        return;
                }
        }
        copy_str(i->note, sizeof(i->note), "every check concerned reports healthy");
}

int incident_store_apply(incident_store *s, const diagnosis *d, const diagnosis_input *in,
                         size_t n_in, uint64_t now_usec, incident_cb cb, void *userdata) {
        int ret = 0, r;

        for (size_t k = 0; k < d->n_problems; k++) {
                const diagnosis_problem *p = &d->problems[k];
                incident *i = NULL;
                bool changed = true, opened = false;

                for (size_t j = 0; j < s->n; j++)
                        if (incident_active(&s->items[j]) && s->items[j].cls == p->cls) {
                                i = &s->items[j];
                                break;
                        }
                if (!i) {
                        i = store_add(s);
                        if (!i)
                                return -ENOMEM;
                        i->id = s->next_id++;
                        i->state = INCIDENT_OPEN;
                        i->opened_usec = now_usec;
                        opened = true;
                }
                r = incident_fill(i, p, &changed);
                if (r < 0)
                        return r;
                if (!opened && !changed)
                        continue;
                i->updated_usec = now_usec;
                if (!opened)
                        i->updates++;
                /* written less than an interval ago: hold it, carried into the next record */
                if (!opened && now_usec >= i->persisted_usec && now_usec - i->persisted_usec < INCIDENT_COALESCE_USEC) {
                        i->coalesced++;
                        flush_arm(s);
                        continue;
                }
                r = record(s, i, now_usec, opened ? INCIDENT_OPENED : INCIDENT_UPDATED, i->coalesced, cb, userdata);
                if (r < 0 && ret == 0)
                        ret = r;
        }

        /* active incidents whose problem is gone */
        for (size_t j = 0; j < s->n; j++) {
                incident *i = &s->items[j];
                bool present = false;
                if (!incident_active(i))
                        continue;
                for (size_t k = 0; k < d->n_problems && !present; k++)
                        present = d->problems[k].cls == i->cls;
                if (present || !root_healthy(i, in, n_in) || diagnosis_withheld(d, i->root_check))
                        continue;
                i->state = INCIDENT_RESOLVED;
                i->resolved_usec = i->updated_usec = now_usec;
                resolution_note(i, in, n_in);
                r = record(s, i, now_usec, INCIDENT_STATE_CHANGED, 0, cb, userdata);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        store_trim(s);
        return ret;
}

bool incident_store_would_resolve(const incident_store *s, const diagnosis *d, const diagnosis_input *in,
                                  size_t n_in) {
        for (size_t j = 0; j < s->n; j++) {
                const incident *i = &s->items[j];
                bool present = false;
                if (!incident_active(i))
                        continue;
                for (size_t k = 0; k < d->n_problems && !present; k++)
                        present = d->problems[k].cls == i->cls;
                if (!present && root_healthy(i, in, n_in) && !diagnosis_withheld(d, i->root_check))
                        return true;
                /* the check that found it is healthy again, but another still says so:
                 * perhaps only because it has not looked since */
                for (size_t k = 0; present && k < n_in; k++)
                        if (strcmp(in[k].check, i->root_check) == 0 && in[k].reported == CHECK_OK)
                                return true;
        }
        return false;
}

int incident_store_set_state(incident_store *s, uint64_t id, incident_state state,
                             const char *note, uint64_t now_usec, incident_cb cb, void *userdata) {
        incident *i = store_find(s, id);

        if (!i)
                return -ENOENT;
        if ((unsigned) state >= _INCIDENT_STATE_MAX || !incident_active(i))
                return -EINVAL;
        i->state = state;
        i->updated_usec = now_usec;
        if (state == INCIDENT_RESOLVED)
                i->resolved_usec = now_usec;
        copy_str(i->note, sizeof(i->note), note);
        return record(s, i, now_usec, INCIDENT_STATE_CHANGED, 0, cb, userdata);
}

size_t incident_store_size(const incident_store *s) {
        return s->n;
}

const incident *incident_store_get(const incident_store *s, size_t i) {
        return i < s->n ? &s->items[s->n - 1 - i] : NULL;
}

const incident *incident_store_find(const incident_store *s, uint64_t id) {
        return store_find((incident_store *) s, id);
}

size_t incident_store_active(const incident_store *s) {
        size_t n = 0;
        for (size_t i = 0; i < s->n; i++)
                n += incident_active(&s->items[i]);
        return n;
}
