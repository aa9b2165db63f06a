/* The drills' durable records: <state_dir>/drills.log (common/statelog.h: fdatasync per
 * append, CRC-32C, torn tail cut, damage refused). Each record is the whole current state of
 * one drill; replay keeps the last one per id. The record of a drill — with its fault's
 * parameters and deadline — is written before the fault is applied, so the next start can
 * remove a fault a crash left. The first record of a drill whose fault may be in place is also
 * its side record (agent/engine/owed.h) until the fault is gone, so the removal survives the loss of
 * drills.log: a side record the log does not know refuses the start, or with --reset-state is
 * taken back (as arming: the removal is done at once, and removals are idempotent). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/drill/drill_internal.h"
#include "agent/engine/owed.h"
#include "agent/notify/state_logs.h"
#include "faults/faults.h"
#include "log.h"

enum { REC_DRILL = 1 };

static const char *const phases[_DRILL_PHASE_MAX] = {
        [DRILL_INJECTING] = "injecting", [DRILL_WATCHING] = "watching", [DRILL_SETTLING] = "settling",
        [DRILL_ENDING] = "ending",       [DRILL_PASSED] = "passed",     [DRILL_FAILED] = "failed",
        [DRILL_ABORTED] = "aborted",
};
static const char *const fault_states[_DF_MAX] = {
        [DF_ARMING] = "arming",   [DF_ACTIVE] = "active",           [DF_REVERTING] = "reverting",
        [DF_REMOVED] = "removed", [DF_REVERT_FAILED] = "revert_failed",
};
static const char *const marks[_DM_MAX] = {
        [DM_INJECTED] = "injected", [DM_FIRST_FAIL] = "first_failing_finding", [DM_INCIDENT] = "incident_opened",
        [DM_RUNBOOK] = "runbook_started", [DM_APPLIED] = "step_applied", [DM_VERIFIED] = "verified",
        [DM_FAULT_REMOVED] = "fault_removed", [DM_STEADY] = "steady",
};

const char *drill_phase_to_string(drill_phase p) {
        return p >= 0 && p < _DRILL_PHASE_MAX ? phases[p] : "?";
}
const char *drill_fault_state_to_string(drill_fault_state s) {
        return s >= 0 && s < _DF_MAX ? fault_states[s] : "?";
}
const char *drill_mark_to_string(drill_mark m) {
        return m >= 0 && m < _DM_MAX ? marks[m] : "?";
}

static int lookup(const char *const *names, size_t n, const char *s) {
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return (int) i;
        return -1;
}

static void add_u64(vici_builder *b, const char *k, uint64_t v) {
        vici_builder_add_fmt(b, k, "%llu", (unsigned long long) v);
}

/* ms after injection, or "" when either stamp is missing */
static void add_after(vici_builder *b, const char *k, uint64_t from, uint64_t to) {
        if (from && to >= from)
                vici_builder_add_fmt(b, k, "%llu", (unsigned long long) ((to - from + 500) / 1000));
}

void drill_rec_to_vici(const drill_rec *r, vici_builder *b) {
        uint64_t t0 = r->t[DM_INJECTED];

        add_u64(b, "id", r->id);
        vici_builder_add_str(b, "drill", r->name);
        vici_builder_add_str(b, "sha256", r->sha256);
        vici_builder_add_str(b, "phase", drill_phase_to_string(r->phase));
        vici_builder_add_str(b, "class", r->fault_class);
        add_u64(b, "weight", r->weight);
        vici_builder_add_str(b, "expect_class", r->expect_class);
        vici_builder_add_str(b, "expect_scope", r->expect_scope);
        vici_builder_add_str(b, "expect_runbook", r->expect_runbook);
        vici_builder_add_str(b, "recovery", r->recovery == DRILL_RECOVER_REMOVE_FAULT ? "remove_fault" : "runbook");
        add_u64(b, "detect_within_ms", r->detect_within_usec / 1000);
        add_u64(b, "recover_within_ms", r->recover_within_usec / 1000);
        vici_builder_add_str(b, "requested_by", r->requested_by);
        vici_builder_add_str(b, "scheduled", r->scheduled ? "yes" : "no");
        vici_builder_begin_section(b, "fault");
        vici_builder_add_str(b, "kind", r->fault.ops ? r->fault.ops->kind : "");
        vici_builder_add_str(b, "state", drill_fault_state_to_string(r->fault_state));
        add_u64(b, "deadline", r->deadline_usec);
        vici_builder_begin_section(b, "params");
        if (r->fault.ops)
                action_params_to_vici(&r->fault, b);
        vici_builder_end_section(b);
        vici_builder_end_section(b);
        add_u64(b, "started", r->started_usec);
        add_u64(b, "finished", r->finished_usec);
        vici_builder_begin_section(b, "t");
        for (int m = 0; m < _DM_MAX; m++)
                add_u64(b, marks[m], r->t[m]);
        vici_builder_end_section(b);
        vici_builder_begin_section(b, "timeline_ms");
        for (int m = 1; m < _DM_MAX; m++)
                add_after(b, marks[m], t0, r->t[m]);
        vici_builder_end_section(b);
        add_after(b, "ttd_ms", t0, r->t[DM_INCIDENT]);
        add_after(b, "ttr_ms", t0, r->t[DM_STEADY]);
        vici_builder_add_str(b, "first_fail_check", r->first_fail_check);
        add_u64(b, "incident", r->incident);
        vici_builder_add_str(b, "incident_scope", r->incident_scope);
        add_u64(b, "run", r->run);
        vici_builder_add_str(b, "runbook", r->runbook);
        add_u64(b, "pending", r->pending_usec);
        add_u64(b, "approval_wait_ms", r->approval_wait_usec / 1000);
        vici_builder_add_str(b, "auto_approved", r->auto_approved ? "yes" : "no");
        vici_builder_add_str(b, "detect_ok", r->detect_ok ? "yes" : "no");
        vici_builder_add_str(b, "recover_ok", r->recover_ok ? "yes" : "no");
        vici_builder_add_str(b, "note", r->note);
}

static bool yes(const vici_node *n, const char *k) {
        const char *v = vici_node_str(n, k);
        return v && strcmp(v, "yes") == 0;
}

static int rec_decode(const vici_node *n, drill_rec *r) {
        const vici_node *f = vici_node_get(n, "fault"), *t = vici_node_get(n, "t"), *p;
        uint64_t w = 0, rs = 0, dw = 0, rw = 0, aw = 0;
        int k = 0, ph, fs;
        const action_ops *ops;

        k |= vici_node_u64_max(n, "id", UINT64_MAX, &r->id);
        k |= vici_node_str_copy(n, "drill", r->name, sizeof(r->name));
        k |= vici_node_str_copy(n, "sha256", r->sha256, sizeof(r->sha256));
        k |= vici_node_str_copy(n, "class", r->fault_class, sizeof(r->fault_class));
        k |= vici_node_u64_max(n, "weight", DRILL_WEIGHT_MAX, &w);
        k |= vici_node_str_copy(n, "expect_class", r->expect_class, sizeof(r->expect_class));
        k |= vici_node_str_copy(n, "expect_scope", r->expect_scope, sizeof(r->expect_scope));
        k |= vici_node_str_copy(n, "expect_runbook", r->expect_runbook, sizeof(r->expect_runbook));
        k |= vici_node_u64_max(n, "detect_within_ms", UINT64_MAX / 1000, &dw);
        k |= vici_node_u64_max(n, "recover_within_ms", UINT64_MAX / 1000, &rw);
        k |= vici_node_str_copy(n, "requested_by", r->requested_by, sizeof(r->requested_by));
        k |= vici_node_u64_max(n, "started", UINT64_MAX, &r->started_usec);
        k |= vici_node_u64_max(n, "finished", UINT64_MAX, &r->finished_usec);
        k |= vici_node_str_copy(n, "first_fail_check", r->first_fail_check, sizeof(r->first_fail_check));
        k |= vici_node_u64_max(n, "incident", UINT64_MAX, &r->incident);
        k |= vici_node_str_copy(n, "incident_scope", r->incident_scope, sizeof(r->incident_scope));
        k |= vici_node_u64_max(n, "run", UINT64_MAX, &r->run);
        k |= vici_node_str_copy(n, "runbook", r->runbook, sizeof(r->runbook));
        k |= vici_node_u64_max(n, "pending", UINT64_MAX, &r->pending_usec);
        k |= vici_node_u64_max(n, "approval_wait_ms", UINT64_MAX / 1000, &aw);
        k |= vici_node_str_copy(n, "note", r->note, sizeof(r->note));
        k |= vici_node_u64_max(f, "deadline", UINT64_MAX, &r->deadline_usec);
        for (int m = 0; m < _DM_MAX; m++)
                k |= vici_node_u64_max(t, marks[m], UINT64_MAX, &r->t[m]);
        ph = lookup(phases, _DRILL_PHASE_MAX, vici_node_str(n, "phase"));
        fs = lookup(fault_states, _DF_MAX, vici_node_str(f, "state"));
        rs = vici_node_str(n, "recovery") && strcmp(vici_node_str(n, "recovery"), "remove_fault") == 0;
        if (k || ph < 0 || fs < 0 || w < 1)
                return -EBADMSG;
        r->phase = (drill_phase) ph;
        r->fault_state = (drill_fault_state) fs;
        r->weight = (uint32_t) w;
        r->recovery = (uint32_t) rs;
        r->detect_within_usec = dw * 1000;
        r->recover_within_usec = rw * 1000;
        r->approval_wait_usec = aw * 1000;
        r->scheduled = yes(n, "scheduled");
        r->auto_approved = yes(n, "auto_approved");
        r->detect_ok = yes(n, "detect_ok");
        r->recover_ok = yes(n, "recover_ok");
        ops = fault_find(vici_node_str(f, "kind"));
        p = vici_node_get(f, "params");
        if (!ops || !p || p->type != VICI_NODE_SECTION)
                return -EBADMSG;
        return action_params_from_vici(ops, p, &r->fault);
}

drill_rec *drill_rec_free(drill_rec *r) {
        if (r) {
                action_params_done(&r->fault);
                free(r);
        }
        return NULL;
}

static void rec_replace(drill_runner *dr, drill_rec *r) {
        for (size_t i = 0; i < dr->n_recs; i++)
                if (dr->recs[i]->id == r->id) {
                        drill_rec_free(dr->recs[i]);
                        dr->recs[i] = r;
                        return;
                }
        drill_rec **n = realloc(dr->recs, (dr->n_recs + 1) * sizeof(*n));
        if (!n) {
                drill_rec_free(r);
                dr->undecodable++;
                return;
        }
        dr->recs = n;
        dr->recs[dr->n_recs++] = r;
}

static int replay(uint16_t type, const void *payload, size_t len, void *userdata) {
        drill_runner *dr = userdata;
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        drill_rec *r;

        if (type != REC_DRILL || vici_msg_parse(payload, len, &root) < 0) {
                dr->undecodable++;
                return 0;
        }
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        if (rec_decode(root, r) < 0) {
                drill_rec_free(r);
                dr->undecodable++;
                return 0;
        }
        if (r->id >= dr->next_id)
                dr->next_id = r->id + 1;
        rec_replace(dr, r);
        return 0;
}

/* The fault may still be in place: its removal is owed. */
static bool fault_live(const drill_rec *r) {
        return r->fault_state == DF_ARMING || r->fault_state == DF_ACTIVE || r->fault_state == DF_REVERTING ||
               r->fault_state == DF_REVERT_FAILED;
}

typedef struct owed_scan {
        drill_runner *dr;
        const char *state_dir;
        unsigned lost;
} owed_scan;

static int owed_one(uint64_t id, const void *buf, size_t len, const char *path, void *userdata) {
        owed_scan *o = userdata;
        drill_runner *dr = o->dr;
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        bool reset = dr->config->reset_state;
        drill_rec *r;

        for (size_t i = 0; i < dr->n_recs; i++)
                if (dr->recs[i]->id == id) {
                        if (!fault_live(dr->recs[i]))
                                (void) owed_remove(o->state_dir, "drill", id); /* the log is ahead */
                        return 0;
                }
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        if (!buf || vici_msg_parse(buf, len, &root) < 0 || rec_decode(root, r) < 0 || r->id != id || !fault_live(r)) {
                drill_rec_free(r);
                if (!reset) {
                        log_error("owed fault removal record %s cannot be read: a drill's fault may still be in place "
                                  "that nothing would remove; refusing to start ('ikeheald --reset-state' sets it "
                                  "aside)", path);
                        o->lost++;
                        return 0;
                }
                log_error("--reset-state: owed fault removal record %s cannot be read; kept as %s.broken: check by "
                          "hand what drill %llu injected", path, path, (unsigned long long) id);
                (void) owed_set_aside(path);
                return 0;
        }
        if (!reset) {
                log_error("%s/drills.log does not know drill %llu (%s) whose fault %s says may still be in place: the "
                          "log lost records; refusing to start. 'ikeheald --reset-state' takes the drill back from "
                          "that record and removes its fault", o->state_dir, (unsigned long long) id, r->name,
                          path);
                drill_rec_free(r);
                o->lost++;
                return 0;
        }
        if (r->id >= dr->next_id)
                dr->next_id = r->id + 1;
        log_warning("--reset-state: drill %llu taken back from %s; its fault's removal is owed", (unsigned long long) id,
                    path);
        drill_audit(dr, "recovery", "drill %llu (%s) was missing from drills.log; taken back from its side record "
                    "%s: its fault is still to be removed", (unsigned long long) id, r->name, path);
        rec_replace(dr, r);
        /* into the new log */
        for (size_t i = 0; i < dr->n_recs; i++)
                if (dr->recs[i]->id == id && drill_persist(dr, dr->recs[i]) < 0)
                        return -EIO;
        return 0;
}

static int snapshot(statelog_writer *w, void *userdata);

int drill_store_open(drill_runner *dr, const char *state_dir) {
        owed_scan o = { .dr = dr, .state_dir = state_dir };
        int r;

        dr->next_id = 1;
        if (!state_dir)
                return 0;
        r = record_store_open(&dr->store, state_dir, "drills", replay, snapshot, 4, 256, dr);
        if (r < 0)
                return state_log_open_failed(state_dir, "drills", r);
        state_log_report(dr->store.log, dr->undecodable);
        r = owed_load(state_dir, "drill", owed_one, &o);
        if (r < 0)
                return log_error_errno(r, "cannot read the owed revert records in %s/owed", state_dir);
        if (o.lost)
                return -EUCLEAN;
        /* every fault still in place has its side record, also one recorded before they existed */
        for (size_t i = 0; i < dr->n_recs; i++)
                if (fault_live(dr->recs[i]) && !owed_exists(state_dir, "drill", dr->recs[i]->id)) {
                        r = drill_persist(dr, dr->recs[i]);
                        if (r < 0)
                                return r;
                }
        return 0;
}

static int encode(const drill_rec *r, uint8_t **buf, size_t *len) {
        vici_builder *b = NULL;
        int k = vici_builder_new(&b);

        if (k < 0)
                return k;
        drill_rec_to_vici(r, b);
        return vici_builder_finish(b, buf, len);
}

static int snapshot(statelog_writer *w, void *userdata) {
        drill_runner *dr = userdata;

        for (size_t i = 0; i < dr->n_recs; i++) {
                _cleanup_(freep) uint8_t *buf = NULL;
                size_t len = 0;
                int r = encode(dr->recs[i], &buf, &len);
                if (r < 0 || (r = statelog_writer_append(w, REC_DRILL, buf, len)) < 0)
                        return r;
        }
        return 0;
}

int drill_persist(drill_runner *dr, const drill_rec *r) {
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t len = 0;
        int k;

        if (!dr->store.log)
                return 0;
        k = encode(r, &buf, &len);
        if (k >= 0)
                k = record_store_append(&dr->store, REC_DRILL, buf, len);
        if (k < 0)
                return log_error_errno(k, "cannot record the drill's state durably");
        /* written once, before the fault is applied (its parameters and deadline are what a
         * removal needs; the timeline marks that follow are not): no extra syncs per mark */
        if (!fault_live(r))
                k = owed_remove(dr->config->state_dir, "drill", r->id);
        else if (!owed_exists(dr->config->state_dir, "drill", r->id))
                k = owed_write(dr->config->state_dir, "drill", r->id, buf, len);
        if (k < 0)
                return log_error_errno(k, "cannot update the owed fault removal record of drill %llu",
                                       (unsigned long long) r->id);
        k = record_store_compact_if_due(&dr->store, dr->n_recs);
        if (k < 0)
                log_warning_errno(k, "cannot compact drills.log, ignoring");
        return 0;
}

static bool finished(const drill_rec *r) {
        return r->phase >= DRILL_PASSED && (r->fault_state == DF_REMOVED || r->fault_state == DF_REVERT_FAILED);
}

void drill_prune(drill_runner *dr, size_t keep) {
        size_t done = 0, w = 0;

        for (size_t i = 0; i < dr->n_recs; i++)
                done += finished(dr->recs[i]);
        for (size_t i = 0; i < dr->n_recs; i++) {
                drill_rec *r = dr->recs[i];
                if (finished(r) && done > keep && r != dr->active) {
                        done--;
                        if (dr->store.log)
                                (void) owed_remove(dr->config->state_dir, "drill", r->id);
                        drill_rec_free(r);
                        continue;
                }
                dr->recs[w++] = r;
        }
        dr->n_recs = w;
}

void drill_save(drill_runner *dr) {
        if (dr->active)
                (void) drill_persist(dr, dr->active);
}
