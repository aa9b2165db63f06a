/* The engine's durable state: runs, temporary measures, the policy ledger and the pause flag,
 * as records of <state_dir>/engine.log (common/statelog.h: fdatasync per append, CRC-32C, torn
 * tail cut, damage refused). Each record is the whole current state of one run or measure;
 * replay keeps the last one per id. Compaction rewrites the live state when the log has grown
 * well past it.
 *
 * A measure in force is also written to its own side record (agent/engine/owed.h) after each record
 * of it, and that record removed once it is reverted: a revert that is owed survives the loss
 * of engine.log. At open, a side record of a measure the log does not know means the log lost
 * records: the start is refused (-EUCLEAN) unless the agent runs with --reset-state, which takes
 * the measure back from its side record so its revert is still done on time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/config/config.h"
#include "agent/engine/engine_internal.h"
#include "agent/engine/engine_owed.h"
#include "agent/engine/owed.h"
#include "agent/notify/state_logs.h"
#include "log.h"

enum {
        REC_RUN = 1,
        REC_MEASURE = 2,
        REC_META = 3,
};

static void add_u64(vici_builder *b, const char *k, uint64_t v) {
        vici_builder_add_fmt(b, k, "%llu", (unsigned long long) v);
}

static void run_encode(const run *r, vici_builder *b) {
        add_u64(b, "id", r->id);
        add_u64(b, "state", (uint64_t) r->state);
        vici_builder_add_str(b, "runbook", r->runbook);
        vici_builder_add_str(b, "runbook_sha256", r->runbook_sha256);
        vici_builder_add_str(b, "plan_hash", r->plan_hash);
        add_u64(b, "incident", r->incident);
        vici_builder_add_str(b, "signature", r->signature);
        add_u64(b, "grade", (uint64_t) r->grade);
        vici_builder_add_str(b, "why", r->why);
        add_u64(b, "operator_run", r->operator_run);
        if (r->drill)
                add_u64(b, "drill", r->drill);
        vici_builder_add_str(b, "requested_by", r->requested_by);
        add_u64(b, "step", r->step);
        add_u64(b, "n_steps", r->n_steps);
        add_u64(b, "rollback_pos", r->rollback_pos);
        add_u64(b, "recovery_pos", r->recovery_pos);
        add_u64(b, "approvers_needed", r->approvers_needed);
        add_u64(b, "approval_expires", r->approval_expires_usec);
        add_u64(b, "created", r->created_usec);
        add_u64(b, "updated", r->updated_usec);
        add_u64(b, "finished", r->finished_usec);
        vici_builder_add_str(b, "note", r->note);
        vici_builder_begin_section(b, "approvals");
        for (size_t i = 0; i < r->n_approvals; i++) {
                char k[24];
                (void) snprintf(k, sizeof(k), "%zu", i);
                vici_builder_begin_section(b, k);
                add_u64(b, "uid", r->approvals[i].uid);
                vici_builder_add_str(b, "user", r->approvals[i].user);
                add_u64(b, "time", r->approvals[i].time_usec);
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
        vici_builder_begin_section(b, "steps");
        for (size_t i = 0; i < r->n_steps; i++) {
                const run_step *s = &r->steps[i];
                char k[24];
                (void) snprintf(k, sizeof(k), "%zu", i);
                vici_builder_begin_section(b, k);
                add_u64(b, "phase", (uint64_t) s->phase);
                vici_builder_add_str(b, "name", s->name);
                add_u64(b, "measure", s->measure);
                if (s->params.ops) {
                        vici_builder_add_str(b, "kind", s->params.ops->kind);
                        vici_builder_begin_section(b, "params");
                        action_params_to_vici(&s->params, b);
                        vici_builder_end_section(b);
                }
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
}

static int params_decode(const vici_node *sec, action_params *ret) {
        const char *kind = vici_node_str(sec, "kind");
        const vici_node *p = vici_node_get(sec, "params");
        const action_ops *ops;

        if (!kind)
                return 0; /* not started: no parameters recorded */
        ops = action_find(kind);
        if (!ops || !p || p->type != VICI_NODE_SECTION)
                return -EBADMSG;
        return action_params_from_vici(ops, p, ret);
}

static int run_decode(const vici_node *n, run *r) {
        uint64_t v[14] = { 0 };
        const vici_node *sec;
        int k = 0;

        k |= vici_node_u64_max(n, "id", UINT64_MAX, &r->id);
        k |= vici_node_u64_max(n, "state", _RUN_STATE_MAX - 1, &v[0]);
        k |= vici_node_u64_max(n, "grade", _GRADE_MAX - 1, &v[1]);
        k |= vici_node_u64_max(n, "incident", UINT64_MAX, &r->incident);
        k |= vici_node_u64_max(n, "operator_run", 1, &v[2]);
        if (vici_node_get(n, "drill"))
                k |= vici_node_u64_max(n, "drill", UINT64_MAX, &r->drill);
        k |= vici_node_u64_max(n, "step", RUNBOOK_STEPS_MAX, &v[3]);
        k |= vici_node_u64_max(n, "n_steps", RUNBOOK_STEPS_MAX, &v[4]);
        k |= vici_node_u64_max(n, "rollback_pos", RUNBOOK_STEPS_MAX, &v[5]);
        k |= vici_node_u64_max(n, "recovery_pos", RUNBOOK_STEPS_MAX, &v[6]);
        k |= vici_node_u64_max(n, "approvers_needed", ENGINE_APPROVERS_MAX, &v[7]);
        k |= vici_node_u64_max(n, "approval_expires", UINT64_MAX, &r->approval_expires_usec);
        k |= vici_node_u64_max(n, "created", UINT64_MAX, &r->created_usec);
        k |= vici_node_u64_max(n, "updated", UINT64_MAX, &r->updated_usec);
        k |= vici_node_u64_max(n, "finished", UINT64_MAX, &r->finished_usec);
        k |= vici_node_str_copy(n, "runbook", r->runbook, sizeof(r->runbook));
        k |= vici_node_str_copy(n, "runbook_sha256", r->runbook_sha256, sizeof(r->runbook_sha256));
        k |= vici_node_str_copy(n, "plan_hash", r->plan_hash, sizeof(r->plan_hash));
        k |= vici_node_str_copy(n, "signature", r->signature, sizeof(r->signature));
        k |= vici_node_str_copy(n, "why", r->why, sizeof(r->why));
        k |= vici_node_str_copy(n, "requested_by", r->requested_by, sizeof(r->requested_by));
        k |= vici_node_str_copy(n, "note", r->note, sizeof(r->note));
        if (k)
                return -EBADMSG;
        r->state = (run_state) v[0];
        r->grade = (grade) v[1];
        r->operator_run = v[2];
        r->step = v[3];
        r->n_steps = v[4];
        r->rollback_pos = v[5];
        r->recovery_pos = v[6];
        r->approvers_needed = (uint32_t) v[7];
        sec = vici_node_get(n, "approvals");
        for (const vici_node *a = sec ? sec->child : NULL; a; a = a->next) {
                run_approval *ap;
                if (r->n_approvals >= ENGINE_APPROVERS_MAX || a->type != VICI_NODE_SECTION)
                        return -EBADMSG;
                ap = &r->approvals[r->n_approvals++];
                k |= vici_node_u64_max(a, "uid", UINT32_MAX, &v[8]);
                k |= vici_node_str_copy(a, "user", ap->user, sizeof(ap->user));
                k |= vici_node_u64_max(a, "time", UINT64_MAX, &ap->time_usec);
                ap->uid = (uint32_t) v[8];
        }
        sec = vici_node_get(n, "steps");
        size_t i = 0;
        for (const vici_node *s = sec ? sec->child : NULL; s; s = s->next, i++) {
                if (i >= r->n_steps || s->type != VICI_NODE_SECTION)
                        return -EBADMSG;
                k |= vici_node_u64_max(s, "phase", _PHASE_MAX - 1, &v[9]);
                k |= vici_node_str_copy(s, "name", r->steps[i].name, sizeof(r->steps[i].name));
                k |= vici_node_u64_max(s, "measure", UINT64_MAX, &r->steps[i].measure);
                r->steps[i].phase = (step_phase) v[9];
                if (k || params_decode(s, &r->steps[i].params) < 0)
                        return -EBADMSG;
        }
        return k || i != r->n_steps ? -EBADMSG : 0;
}

static void measure_encode(const measure *m, vici_builder *b) {
        add_u64(b, "id", m->id);
        add_u64(b, "state", (uint64_t) m->state);
        add_u64(b, "run", m->run);
        add_u64(b, "incident", m->incident);
        vici_builder_add_str(b, "runbook", m->runbook);
        vici_builder_add_str(b, "step", m->step);
        vici_builder_add_str(b, "kind", m->kind);
        vici_builder_add_str(b, "signature", m->signature);
        add_u64(b, "applied", m->applied_usec);
        add_u64(b, "expires", m->expires_usec);
        add_u64(b, "reverted", m->reverted_usec);
        add_u64(b, "extensions", m->extensions);
        vici_builder_add_str(b, "note", m->note);
        vici_builder_begin_section(b, "params");
        action_params_to_vici(&m->params, b);
        vici_builder_end_section(b);
}

static int measure_decode(const vici_node *n, measure *m) {
        uint64_t st = 0, ext = 0;
        const action_ops *ops;
        const vici_node *p;
        int k = 0;

        k |= vici_node_u64_max(n, "id", UINT64_MAX, &m->id);
        k |= vici_node_u64_max(n, "state", _MEASURE_STATE_MAX - 1, &st);
        k |= vici_node_u64_max(n, "run", UINT64_MAX, &m->run);
        k |= vici_node_u64_max(n, "incident", UINT64_MAX, &m->incident);
        k |= vici_node_str_copy(n, "runbook", m->runbook, sizeof(m->runbook));
        k |= vici_node_str_copy(n, "step", m->step, sizeof(m->step));
        k |= vici_node_str_copy(n, "kind", m->kind, sizeof(m->kind));
        k |= vici_node_str_copy(n, "signature", m->signature, sizeof(m->signature));
        k |= vici_node_u64_max(n, "applied", UINT64_MAX, &m->applied_usec);
        k |= vici_node_u64_max(n, "expires", UINT64_MAX, &m->expires_usec);
        k |= vici_node_u64_max(n, "reverted", UINT64_MAX, &m->reverted_usec);
        k |= vici_node_u64_max(n, "extensions", UINT32_MAX, &ext);
        k |= vici_node_str_copy(n, "note", m->note, sizeof(m->note));
        if (k)
                return -EBADMSG;
        m->state = (measure_state) st;
        m->extensions = (uint32_t) ext;
        ops = action_find(m->kind);
        p = vici_node_get(n, "params");
        if (!ops || !p || p->type != VICI_NODE_SECTION)
                return -EBADMSG;
        return action_params_from_vici(ops, p, &m->params);
}

static void meta_encode(const engine *e, vici_builder *b) {
        add_u64(b, "paused", e->paused);
        vici_builder_add_str(b, "pause_reason", e->pause_reason);
        add_u64(b, "next_run", e->next_run_id);
        add_u64(b, "next_measure", e->next_measure_id);
        policy_ledger_to_vici(e->ledger, b); /* its own "ledger" section */
}

static int encode(int type, const void *obj, const engine *e, uint8_t **buf, size_t *len) {
        vici_builder *b = NULL;
        int r = vici_builder_new(&b);

        if (r < 0)
                return r;
        if (type == REC_RUN)
                run_encode(obj, b);
        else if (type == REC_MEASURE)
                measure_encode(obj, b);
        else
                meta_encode(e, b);
        return vici_builder_finish(b, buf, len);
}

static void run_replace(engine *e, run *r) {
        for (size_t i = 0; i < e->n_runs; i++)
                if (e->runs[i]->id == r->id) {
                        for (size_t j = 0; j < e->runs[i]->n_steps; j++)
                                action_params_done(&e->runs[i]->steps[j].params);
                        free(e->runs[i]);
                        e->runs[i] = r;
                        return;
                }
        run **n = realloc(e->runs, (e->n_runs + 1) * sizeof(*n));
        if (!n) {
                for (size_t j = 0; j < r->n_steps; j++)
                        action_params_done(&r->steps[j].params);
                free(r);
                e->undecodable++;
                return;
        }
        e->runs = n;
        e->runs[e->n_runs++] = r;
}

static void measure_replace(engine *e, measure *m) {
        for (size_t i = 0; i < e->n_measures; i++)
                if (e->measures[i]->id == m->id) {
                        action_params_done(&e->measures[i]->params);
                        free(e->measures[i]);
                        e->measures[i] = m;
                        return;
                }
        measure **n = realloc(e->measures, (e->n_measures + 1) * sizeof(*n));
        if (!n) {
                action_params_done(&m->params);
                free(m);
                e->undecodable++;
                return;
        }
        e->measures = n;
        e->measures[e->n_measures++] = m;
}

static int replay(uint16_t type, const void *payload, size_t len, void *userdata) {
        engine *e = userdata;
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        uint64_t v;

        if (vici_msg_parse(payload, len, &root) < 0) {
                e->undecodable++;
                return 0;
        }
        if (type == REC_RUN) {
                run *r = calloc(1, sizeof(*r));
                if (!r)
                        return -ENOMEM;
                if (run_decode(root, r) < 0) {
                        for (size_t j = 0; j < RUNBOOK_STEPS_MAX; j++)
                                action_params_done(&r->steps[j].params);
                        free(r);
                        e->undecodable++;
                        return 0;
                }
                if (r->id >= e->next_run_id)
                        e->next_run_id = r->id + 1;
                run_replace(e, r);
        } else if (type == REC_MEASURE) {
                measure *m = calloc(1, sizeof(*m));
                if (!m)
                        return -ENOMEM;
                if (measure_decode(root, m) < 0) {
                        action_params_done(&m->params);
                        free(m);
                        e->undecodable++;
                        return 0;
                }
                if (m->id >= e->next_measure_id)
                        e->next_measure_id = m->id + 1;
                measure_replace(e, m);
        } else if (type == REC_META) {
                const char *why = vici_node_str(root, "pause_reason");
                const vici_node *l = vici_node_get(root, "ledger");
                e->paused = vici_node_u64(root, "paused", &v) == 0 && v == 1;
                (void) snprintf(e->pause_reason, sizeof(e->pause_reason), "%s", why ? why : "");
                if (vici_node_u64(root, "next_run", &v) == 0 && v > e->next_run_id)
                        e->next_run_id = v;
                if (vici_node_u64(root, "next_measure", &v) == 0 && v > e->next_measure_id)
                        e->next_measure_id = v;
                if (policy_ledger_from_vici(e->ledger, l) < 0)
                        e->undecodable++;
        } else
                e->undecodable++;
        return 0;
}

typedef struct owed_scan {
        engine *e;
        const char *state_dir;
        unsigned lost;          /* owed measures the log does not know */
} owed_scan;

static int owed_one(uint64_t id, const void *buf, size_t len, const char *path, void *userdata) {
        owed_scan *o = userdata;
        engine *e = o->e;
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        measure *m, *known = NULL;

        for (size_t i = 0; i < e->n_measures; i++)
                if (e->measures[i]->id == id)
                        known = e->measures[i];
        if (known) {
                /* the log is ahead: a crash between its record and this file's update */
                if (!measure_state_live(known->state))
                        (void) owed_remove(o->state_dir, "measure", id);
                return 0;
        }
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        if (!buf || vici_msg_parse(buf, len, &root) < 0 || measure_decode(root, m) < 0 || m->id != id ||
            !measure_state_live(m->state)) {
                action_params_done(&m->params);
                free(m);
                if (!e->config->reset_state) {
                        log_error("owed revert record %s cannot be read: a measure may still be in force that nothing "
                                  "would revert; refusing to start ('ikeheald --reset-state' sets it aside)", path);
                        o->lost++;
                        return 0;
                }
                log_error("--reset-state: owed revert record %s cannot be read; kept as %s.broken: check by hand "
                          "what measure %llu changed", path, path, (unsigned long long) id);
                (void) owed_set_aside(path);
                return 0;
        }
        if (!e->config->reset_state) {
                log_error("%s/engine.log does not know measure %llu (%s, runbook %s) whose revert %s says is owed: the "
                          "log lost records; refusing to start. 'ikeheald --reset-state' takes the measure back from "
                          "that record and reverts it on time", o->state_dir, (unsigned long long) id, m->kind,
                          m->runbook, path);
                action_params_done(&m->params);
                free(m);
                o->lost++;
                return 0;
        }
        if (m->id >= e->next_measure_id)
                e->next_measure_id = m->id + 1;
        /* whether its apply completed is not known: active, so it is reverted at its expiry (at
         * once if that has passed); a revert is idempotent, and the expiry bounds it either way */
        m->state = MEASURE_ACTIVE;
        measure_replace(e, m);
        /* into the new log (looked up again: the replace frees `m` if it runs out of memory) */
        m = measure_lookup(e, id);
        if (!m)
                return -ENOMEM;
        if (engine_persist_measure(e, m) < 0)
                return -EIO;
        log_warning("--reset-state: measure %llu (%s) taken back from %s; its revert is owed", (unsigned long long) id,
                    m->kind, path);
        engine_audit(e, "recovery", "measure %llu (%s, runbook %s step %s) was missing from engine.log; taken back from "
                     "its side record %s: its revert is still owed", (unsigned long long) id, m->kind, m->runbook,
                     m->step, path);
        return 0;
}

static int snapshot(statelog_writer *w, void *userdata);

int engine_store_open(engine *e, const char *state_dir) {
        owed_scan o = { .e = e, .state_dir = state_dir };
        int r;

        e->next_run_id = e->next_measure_id = 1;
        if (!state_dir)
                return 0;
        /* every record is a whole object: the log can be rewritten once it is mostly history */
        r = record_store_open(&e->store, state_dir, "engine", replay, snapshot, 8, 512, e);
        if (r < 0)
                return state_log_open_failed(state_dir, "engine", r);
        state_log_report(e->store.log, e->undecodable);
        r = owed_load(state_dir, "measure", owed_one, &o);
        if (r < 0)
                return log_error_errno(r, "cannot read the owed revert records in %s/owed", state_dir);
        if (o.lost)
                return -EUCLEAN;
        /* every measure in force has its side record, also one recorded before they existed (no
         * syncs otherwise: an expired measure's revert waits for this open) */
        for (size_t i = 0; i < e->n_measures; i++)
                if (measure_state_live(e->measures[i]->state) && !owed_exists(state_dir, "measure", e->measures[i]->id)) {
                        r = engine_persist_measure(e, e->measures[i]);
                        if (r < 0)
                                return r;
                }
        return 0;
}

static int snapshot(statelog_writer *w, void *userdata) {
        engine *e = userdata;
        uint8_t *buf = NULL;
        size_t len = 0;
        int r;

        for (size_t i = 0; i < e->n_runs; i++) {
                if ((r = encode(REC_RUN, e->runs[i], e, &buf, &len)) < 0)
                        return r;
                r = statelog_writer_append(w, REC_RUN, buf, len);
                free(buf);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < e->n_measures; i++) {
                if ((r = encode(REC_MEASURE, e->measures[i], e, &buf, &len)) < 0)
                        return r;
                r = statelog_writer_append(w, REC_MEASURE, buf, len);
                free(buf);
                if (r < 0)
                        return r;
        }
        if ((r = encode(REC_META, NULL, e, &buf, &len)) < 0)
                return r;
        r = statelog_writer_append(w, REC_META, buf, len);
        free(buf);
        return r;
}

static int persist(engine *e, int type, const void *obj) {
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t len = 0;
        int r;

        if (!e->store.log)
                return 0;
        r = encode(type, obj, e, &buf, &len);
        if (r >= 0)
                r = record_store_append(&e->store, (uint16_t) type, buf, len);
        if (r < 0)
                return log_error_errno(r, "cannot record the engine's state durably");
        if (type == REC_MEASURE) {
                const measure *m = obj;
                /* written once, before the step is applied (what a revert needs and the expiry);
                 * an extension rewrites it (engine_owed_update()); later states add nothing: a
                 * measure taken back is reverted at its expiry either way */
                if (!measure_state_live(m->state))
                        r = owed_remove(e->config->state_dir, "measure", m->id);
                else if (m->state == MEASURE_ARMING || !owed_exists(e->config->state_dir, "measure", m->id))
                        r = owed_write(e->config->state_dir, "measure", m->id, buf, len);
                if (r < 0)
                        return log_error_errno(r, "cannot update the owed revert record of measure %llu",
                                               (unsigned long long) m->id);
        }
        r = record_store_compact_if_due(&e->store, e->n_runs + e->n_measures);
        if (r < 0)
                log_warning_errno(r, "cannot compact engine.log, ignoring");
        return 0;
}

int engine_store_run(engine *e, const run *r) {
        return persist(e, REC_RUN, r);
}

int engine_persist_measure(engine *e, const measure *m) {
        int r = persist(e, REC_MEASURE, m);
        engine_hold_good_for_measures(e);
        return r;
}

int engine_owed_update(engine *e, const measure *m) {
        _cleanup_(freep) uint8_t *buf = NULL;
        size_t len = 0;
        int r;

        if (!e->store.log || !measure_state_live(m->state))
                return 0;
        r = encode(REC_MEASURE, m, e, &buf, &len);
        if (r >= 0)
                r = owed_write(e->config->state_dir, "measure", m->id, buf, len);
        if (r < 0)
                return log_error_errno(r, "cannot update the owed revert record of measure %llu",
                                       (unsigned long long) m->id);
        return 0;
}

int engine_persist_meta(engine *e) {
        return persist(e, REC_META, NULL);
}
