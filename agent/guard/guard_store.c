/* The guard's durable record: one file, <state_dir>/guard.rec, replaced atomically (temporary
 * file, fsync, rename, fsync of the directory) at every change of the guard's state, so that a
 * crash at any moment leaves the last state said. Its content is a VICI message (the codec the
 * control protocol already parses), the guard's fields as strings; a record that does not parse
 * or lacks a field is -EBADMSG, never half-read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guard/guard.h"
#include "atomic_file.h"
#include "vici_msg.h"

#define GUARD_FILE "guard.rec"
#define GUARD_FILE_MAX (16u * 1024u)

static const char *const states[_GUARD_STATE_MAX] = {
        [GUARD_OPEN] = "open",       [GUARD_VERIFYING] = "verifying",   [GUARD_ROLLING_BACK] = "rolling_back",
        [GUARD_KEPT] = "kept",       [GUARD_ROLLED_BACK] = "rolled_back", [GUARD_ROLLBACK_FAILED] = "rollback_failed",
        [GUARD_STALE] = "stale",
};

const char *guard_state_to_string(guard_state s) {
        return s >= 0 && s < _GUARD_STATE_MAX ? states[s] : "?";
}

bool guard_state_final(guard_state s) {
        return s == GUARD_KEPT || s == GUARD_ROLLED_BACK || s == GUARD_ROLLBACK_FAILED || s == GUARD_STALE;
}

static void add_u64(vici_builder *b, const char *k, uint64_t v) {
        vici_builder_add_fmt(b, k, "%llu", (unsigned long long) v);
}

void guard_rec_to_vici(const guard_rec *rec, vici_builder *b) {
        add_u64(b, "id", rec->id);
        vici_builder_add_str(b, "state", guard_state_to_string(rec->state));
        add_u64(b, "begun_usec", rec->begun_usec);
        add_u64(b, "confirm_by_usec", rec->confirm_by_usec);
        add_u64(b, "verify_for_usec", rec->verify_for_usec);
        add_u64(b, "verify_until_usec", rec->verify_until_usec);
        add_u64(b, "ended_usec", rec->ended_usec);
        add_u64(b, "uid", rec->uid);
        vici_builder_add_str(b, "paused_engine", rec->paused_engine ? "yes" : "no");
        vici_builder_add_str(b, "forced", rec->forced ? "yes" : "no");
        vici_builder_add_str(b, "user", rec->user);
        vici_builder_add_str(b, "reason", rec->reason);
        vici_builder_add_str(b, "packages", rec->packages);
        vici_builder_add_str(b, "mark", rec->mark);
        vici_builder_add_str(b, "outcome", rec->outcome);
        vici_builder_add_str(b, "peers", rec->peers);
        add_u64(b, "peers_untracked", rec->peers_untracked);
}

static int path_of(const char *state_dir, char **ret) {
        if (!state_dir || !state_dir[0])
                return -EINVAL;
        return asprintf(ret, "%s/" GUARD_FILE, state_dir) < 0 ? -ENOMEM : 0;
}

int guard_store_save(const char *state_dir, const guard_rec *rec) {
        _cleanup_(freep) char *path = NULL;
        _cleanup_(freep) uint8_t *buf = NULL;
        vici_builder *b = NULL;
        size_t len = 0;
        int r;

        r = path_of(state_dir, &path);
        if (r < 0)
                return r;
        r = vici_builder_new(&b);
        if (r < 0)
                return r;
        guard_rec_to_vici(rec, b);
        r = vici_builder_finish(b, &buf, &len); /* consumes b */
        if (r < 0)
                return r;
        return atomic_file_write(path, buf, len, 0600);
}

static int get_u64(const vici_node *n, const char *k, uint64_t *ret) {
        return vici_node_u64(n, k, ret) < 0 ? -EBADMSG : 0;
}

static int get_str(const vici_node *n, const char *k, char *buf, size_t size) {
        return vici_node_str_copy(n, k, buf, size) < 0 ? -EBADMSG : 0;
}

static int get_bool(const vici_node *n, const char *k, bool *ret) {
        const char *s = vici_node_str(n, k);
        if (!s || (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0))
                return -EBADMSG;
        *ret = strcmp(s, "yes") == 0;
        return 0;
}

/* Fill rec from a parsed record; -EBADMSG for anything missing or out of range. */
static int rec_from_vici(const vici_node *n, guard_rec *rec) {
        const char *st = vici_node_str(n, "state");
        uint64_t uid = 0;
        int r = -EBADMSG;

        *rec = (guard_rec){};
        for (int s = 0; st && s < _GUARD_STATE_MAX; s++)
                if (strcmp(states[s], st) == 0) {
                        rec->state = (guard_state) s;
                        r = 0;
                }
        if (r >= 0)
                r = get_u64(n, "id", &rec->id);
        if (r >= 0)
                r = get_u64(n, "begun_usec", &rec->begun_usec);
        if (r >= 0)
                r = get_u64(n, "confirm_by_usec", &rec->confirm_by_usec);
        if (r >= 0)
                r = get_u64(n, "verify_for_usec", &rec->verify_for_usec);
        if (r >= 0)
                r = get_u64(n, "verify_until_usec", &rec->verify_until_usec);
        if (r >= 0)
                r = get_u64(n, "ended_usec", &rec->ended_usec);
        if (r >= 0)
                r = vici_node_u64_max(n, "uid", UINT32_MAX, &uid) < 0 ? -EBADMSG : 0;
        rec->uid = (uint32_t) uid;
        if (r >= 0)
                r = get_bool(n, "paused_engine", &rec->paused_engine);
        if (r >= 0)
                r = get_bool(n, "forced", &rec->forced);
        if (r >= 0)
                r = get_str(n, "user", rec->user, sizeof(rec->user));
        if (r >= 0)
                r = get_str(n, "reason", rec->reason, sizeof(rec->reason));
        if (r >= 0)
                r = get_str(n, "packages", rec->packages, sizeof(rec->packages));
        if (r >= 0)
                r = get_str(n, "mark", rec->mark, sizeof(rec->mark));
        if (r >= 0)
                r = get_str(n, "outcome", rec->outcome, sizeof(rec->outcome));
        if (r >= 0)
                r = get_str(n, "peers", rec->peers, sizeof(rec->peers));
        if (r >= 0) {
                uint64_t u = 0;
                r = vici_node_u64_max(n, "peers_untracked", UINT32_MAX, &u) < 0 ? -EBADMSG : 0;
                rec->peers_untracked = (uint32_t) u;
        }
        if (r >= 0 && rec->verify_for_usec > GUARD_WINDOW_MAX_USEC)
                r = -EBADMSG;
        if (r < 0)
                *rec = (guard_rec){};
        return r;
}

int guard_store_load(const char *state_dir, guard_rec *ret) {
        _cleanup_(freep) char *path = NULL, *buf = NULL;
        vici_node *n = NULL;
        size_t len = 0;
        int r;

        r = path_of(state_dir, &path);
        if (r < 0)
                return r;
        r = atomic_file_read(path, GUARD_FILE_MAX, &buf, &len);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        r = vici_msg_parse(buf, len, &n);
        if (r < 0)
                return -EBADMSG;
        r = rec_from_vici(n, ret);
        vici_node_free(n);
        return r;
}
