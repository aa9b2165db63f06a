/* The `nft_restore` action: put back, of the last-good nftables ruleset the firewall check kept
 * (<state_dir>/snapshots/<check>.nft.bin, the raw netlink dump of a healthy gateway), exactly the
 * objects that make IKE drop now — and nothing else. common/nft_diff.h names them: a table that
 * is new and drops → deleted; a chain whose policy or rules changed → put back as it was; a named
 * set a deciding rule reads → refilled. Every other difference (an admin's new table, another
 * chain, a set other rules use) is drift: reported, left alone. All of it is one transaction with
 * the generation it was computed on (the kernel refuses it if the ruleset changed meanwhile; one
 * fresh try).
 *
 * Before the change is sent, the objects as they are and the state each will have are written
 * to <check>.nft.restore (actions/nft_restore_record.h: a slot written in place, durable with
 * one fdatasync(); a record that is served or describes nothing is cleared). When the kernel's answer is lost, the
 * ruleset is read again and the objects' states say whether it was applied; the record is never
 * dropped before the outcome is known.
 *
 * Verify: by the outcome — every IKE packet the last-good ruleset accepted is accepted now —
 * not by the ruleset's hash, so an unrelated concurrent change does not fail it.
 * Revert: only the objects the restore changed, only if each is still as the restore left it
 * (else it stops: someone changed it since, a human decides), and never one whose return would
 * make IKE drop again — for a restore that is every object it changed, so the revert leaves the
 * firewall healed and says so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/nft_batch.h"
#include "actions/nft_objects.h"
#include "actions/nft_restore_record.h"
#include "actions/registry.h"
#include "atomic_file.h"
#include "netns.h"
#include "nft_diff.h"
#include "nft_ruleset.h"
#include "nftnl_lib.h"
#include "nft_watch.h"
#include "snapshot.h"

enum { P_NETNS, P_CHECK, P_TABLES, _P_MAX };

static const action_param_spec params[] = {
        [P_NETNS] = { "netns", AP_STRING, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_TABLES] = { "tables", AP_STRV, false }, /* only objects of these tables (any family); default all */
        [_P_MAX] = { 0 },
};

#define SNAPSHOT_MAX (64u * 1024u * 1024u) /* DUMP_KEEP_MAX of the firewall check */
#define DRIFT_LINES 8u
#define ATTEMPTS 5

static char *snap_path(const action_params *p, const action_env *env, const char *suffix) {
        char ext[16], *s = NULL;
        (void) snprintf(ext, sizeof(ext), "nft.%s", suffix);
        return snapshot_path(env->state_dir, nft_action_check(p), ext, &s) < 0 ? NULL : s;
}

/* The packets the firewall check judges: ESP unless esp: false, IPv6 if ipv6: true. */
static nft_diff_probes probes_of(const action_params *p, const action_env *env) {
        const char *esp = env->check_param ? env->check_param(env->check_userdata, nft_action_check(p), "esp") : NULL;
        const char *v6 = env->check_param ? env->check_param(env->check_userdata, nft_action_check(p), "ipv6") : NULL;
        return (nft_diff_probes){
                .esp = !esp || !(strcmp(esp, "false") == 0 || strcmp(esp, "no") == 0 || strcmp(esp, "0") == 0),
                .ipv6 = v6 && (strcmp(v6, "true") == 0 || strcmp(v6, "yes") == 0 || strcmp(v6, "1") == 0),
        };
}

static bool wanted(char *const *tables, const char *name) {
        for (size_t i = 0; tables && tables[i]; i++)
                if (strcmp(tables[i], name) == 0)
                        return true;
        return !tables;
}

/* The last-good snapshot: its bytes (kept: the index points into them), index and model. */
typedef struct snapshot {
        char *buf;
        size_t len;
        nft_msgs *msgs;
        nft_ruleset *model;
} snapshot;

static void snapshot_done(snapshot *s) {
        free(s->buf);
        nft_msgs_free(s->msgs);
        nft_ruleset_free(s->model);
        *s = (snapshot){};
}

/* The last snapshot read, kept while the file is the same (inode, size, mtime): parsing ten
 * thousand rules is most of a restore's work, and the snapshot changes only on mark_good. */
static struct {
        char *path;
        struct stat st;
        snapshot s;
        /* which IKE packets s.model accepts, for the probes asked last: a walk of every input
         * chain per packet, the same answer until the snapshot changes */
        nft_diff_accepts accepts;
        bool have_accepts;
} cache;

/* What the last-good ruleset accepts (snap NULL: every packet counts), from the cache when it
 * is the cached snapshot's for the same probes. */
static int snapshot_accepts(const snapshot *snap, const nft_diff_probes *pr, nft_diff_accepts *ret) {
        int r;

        if (snap && snap == &cache.s && cache.have_accepts && cache.accepts.probes.esp == pr->esp &&
            cache.accepts.probes.ipv6 == pr->ipv6) {
                *ret = cache.accepts;
                return 0;
        }
        if ((r = nft_diff_accepts_of(snap ? snap->model : NULL, pr, ret)) < 0)
                return r;
        if (snap && snap == &cache.s) {
                cache.accepts = *ret;
                cache.have_accepts = true;
        }
        return 0;
}

static int snapshot_get(const char *path, const snapshot **ret, char *why, size_t n) {
        struct stat st;
        snapshot s = {};
        int r;

        if (stat(path, &st) < 0) {
                r = -errno;
                (void) snprintf(why, n, "no last-good snapshot (%s: %s)", path, nftnl_lib_strerror(r));
                return r;
        }
        if (cache.path && strcmp(cache.path, path) == 0 && cache.st.st_ino == st.st_ino && cache.st.st_dev == st.st_dev &&
            cache.st.st_size == st.st_size && cache.st.st_mtim.tv_sec == st.st_mtim.tv_sec &&
            cache.st.st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
                *ret = &cache.s;
                return 0;
        }
        r = atomic_file_read(path, SNAPSHOT_MAX, &s.buf, &s.len);
        if (r < 0) {
                (void) snprintf(why, n, "no last-good snapshot (%s: %s)", path, nftnl_lib_strerror(r));
                return r;
        }
        r = nft_msgs_new(&s.msgs, (const uint8_t *) s.buf, s.len, &s.model);
        if (r < 0) {
                (void) snprintf(why, n, "snapshot %s is not a ruleset this agent can restore: %s", path, nftnl_lib_strerror(r));
                snapshot_done(&s);
                return r;
        }
        char *dup = strdup(path);
        if (!dup) {
                snapshot_done(&s);
                return -ENOMEM;
        }
        snapshot_done(&cache.s);
        free(cache.path);
        cache.path = dup;
        cache.st = st;
        cache.s = s;
        cache.have_accepts = false;
        *ret = &cache.s;
        return 0;
}

/* The ruleset now, through the watch this process shares for the namespace: when the firewall
 * check has read this generation already, nothing is read again. `w` holds the reference. No
 * dump is kept for the restore: it reads the tables it changes (nft_watch_raw_tables()). */
static int ruleset_now(const char *ns, nft_watch **w, const nft_ruleset **ret) {
        int r = *w ? 0 : nft_watch_shared(w, ns, 0);
        if (r >= 0)
                r = nft_watch_refresh(*w, NULL);
        if (r < 0)
                return r;
        *ret = nft_watch_ruleset(*w);
        return 0;
}

/* The ruleset read whole, now: to tell what a batch whose answer was lost did. */
static int read_now(const char *netns, nft_ruleset **ret) {
        return nft_ruleset_dump(netns, NULL, NULL, ret);
}

/* The tables the objects are in, each once. */
static size_t table_keys(const nft_object *objs, size_t n, nft_table_key *keys) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                bool seen = false;
                for (size_t j = 0; j < k && !seen; j++)
                        seen = keys[j].family == objs[i].family && strcmp(keys[j].name, objs[i].table) == 0;
                if (!seen)
                        keys[k++] = (nft_table_key){ .family = objs[i].family, .name = objs[i].table };
        }
        return k;
}

static void objects_text(const nft_ruleset *now, const nft_object *objs, size_t n, char *buf, size_t size) {
        size_t w = 0;
        buf[0] = 0;
        for (size_t i = 0; i < n && w < size; i++) {
                char o[600];
                const bool there = nft_diff_find_table(now, objs[i].family, objs[i].table) >= 0 &&
                                   (objs[i].kind == NFT_OBJECT_TABLE ||
                                    (objs[i].kind == NFT_OBJECT_CHAIN ? !!nft_diff_find_chain(now, objs[i].family, objs[i].table, objs[i].name)
                                                                      : !!nft_diff_find_set(now, objs[i].family, objs[i].table, objs[i].name)));
                int k = snprintf(buf + w, size - w, "%s%s %s", i ? "; " : "",
                                 objs[i].kind == NFT_OBJECT_TABLE ? "delete" : there ? "put back" : "recreate",
                                 nft_object_to_string(&objs[i], o, sizeof(o)));
                if (k > 0)
                        w += (size_t) k;
        }
}

/* ---- apply ---- */

typedef struct decision {
        nft_object objs[NFT_DIFF_OBJECTS_MAX];
        char why[NFT_DIFF_OBJECTS_MAX][NFT_VERDICT_WHY_MAX];
        size_t n;
        char err[NFT_VERDICT_WHY_MAX];
} decision;

static int decide(const action_params *p, const action_env *env, const nft_ruleset *now, const snapshot *snap, decision *d) {
        nft_diff_probes pr = probes_of(p, env);
        nft_diff_accepts acc;
        int r = snapshot_accepts(snap, &pr, &acc);

        if (r < 0) {
                (void) snprintf(d->err, sizeof(d->err), "cannot evaluate the last-good ruleset: %s", nftnl_lib_strerror(r));
                return r;
        }
        r = nft_diff_broken_for(now, snap->model, &acc, d->objs, &d->n, d->why, d->err, sizeof(d->err));

        for (size_t i = 0; r >= 0 && i < d->n; i++)
                if (!wanted(p->v[P_TABLES].strv, d->objs[i].table)) {
                        char o[600];
                        (void) snprintf(d->err, sizeof(d->err), "%s is outside the tables this step may change",
                                        nft_object_to_string(&d->objs[i], o, sizeof(o)));
                        return -EPERM;
                }
        return r;
}

/* The states of the objects in rs, into st[i]; how many equal want[i] (NULL: skip). */
static int states(const nft_ruleset *rs, const nft_object *objs, size_t n, char (*st)[2 * NFT_RULESET_HASH_SIZE + 1]) {
        for (size_t i = 0; i < n; i++) {
                int r = nft_diff_object_state(rs, &objs[i], st[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static size_t count_equal(char (*a)[2 * NFT_RULESET_HASH_SIZE + 1], char (*b)[2 * NFT_RULESET_HASH_SIZE + 1], size_t n) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                k += strcmp(a[i], b[i]) == 0;
        return k;
}

/* One attempt: read, decide, record, commit with that generation. -ERESTART: it changed
 * meanwhile (nothing applied). */
static int apply_once(const action_params *p, action_call *call, const snapshot *snap, const char *rec_path, nft_restore_record *rec,
                      size_t *ret_drift) {
        const action_env *env = action_call_env(call);
        const char *ns = nft_action_netns(p, env);
        _cleanup_(nft_ruleset_freep) nft_ruleset *after = NULL;
        _cleanup_(nft_msgs_freep) nft_msgs *now_msgs = NULL;
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        _cleanup_(nft_watch_freep) nft_watch *w = NULL;
        _cleanup_(freep) char *drift = NULL, *pre_buf = NULL;
        _cleanup_(freep) uint8_t *raw = NULL;
        const nft_ruleset *now = NULL;
        _cleanup_(freep) decision *d = calloc(1, sizeof(*d));
        char why[2048], what[1500], cur[NFT_DIFF_OBJECTS_MAX][2 * NFT_RULESET_HASH_SIZE + 1];
        nft_table_key keys[NFT_DIFF_OBJECTS_MAX];
        size_t raw_len = 0, pre_len = 0, drift_n = 0;
        FILE *f;
        int r;

        if (!d)
                return -ENOMEM;
        r = ruleset_now(ns, &w, &now);
        if (r < 0) {
                action_call_set_detail(call, "cannot read the ruleset: %s", nftnl_lib_strerror(r));
                return r;
        }
        r = decide(p, env, now, snap, d);
        if (r < 0) {
                action_call_set_detail(call, "%s%s: nothing changed",
                                       r == -ESRCH ? "the drop is not in anything changed since last good: " : "", d->err);
                return r;
        }
        if (d->n == 0) {
                (void) nft_diff_drift(now, snap->model, d->objs, d->n, DRIFT_LINES, &drift, &drift_n);
                *ret_drift = drift_n;
                (void) nft_restore_record_clear(rec_path); /* a revert must only ever undo what this apply did: nothing */
                action_call_set_detail(call, "nothing drops IKE (generation %u): nothing to restore%s%s", now->generation,
                                       drift_n ? "; drift left alone: " : "", drift_n ? drift : "");
                return 0;
        }

        /* the record first: the objects as they are, and the state the restore gives them. The
         * messages of their tables as the kernel gives them are the revert's material: of the
         * model's generation (the batch carries it), read for those tables alone */
        r = nft_watch_raw_tables(w, keys, table_keys(d->objs, d->n, keys), &raw, &raw_len);
        if (r == -ESTALE)
                return -ERESTART; /* changed since it was decided: decide again */
        if (r < 0) {
                action_call_set_detail(call, "cannot read the tables it would change: %s; nothing changed", nftnl_lib_strerror(r));
                return r;
        }
        rec->generation = now->generation;
        rec->n = d->n;
        memcpy(rec->objs, d->objs, d->n * sizeof(d->objs[0]));
        if ((r = states(now, d->objs, d->n, rec->pre)) < 0 || (r = states(snap->model, d->objs, d->n, rec->post)) < 0 ||
            (r = nft_msgs_new(&now_msgs, raw, raw_len, NULL)) < 0)
                return r;
        if (!(f = open_memstream(&pre_buf, &pre_len)))
                return -ENOMEM;
        r = nft_msgs_write(now_msgs, now, d->objs, d->n, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        nft_restore_record_done(rec);
        rec->msgs = (uint8_t *) TAKE_PTR(pre_buf);
        rec->msgs_len = pre_len;
        /* durable before anything is sent: never a change without its revert's material on disk */
        if ((r = nft_restore_record_write(rec_path, rec)) < 0) {
                action_call_set_detail(call, "cannot keep the objects as they are in %s before changing them: %s; nothing changed",
                                       rec_path, nftnl_lib_strerror(r));
                return r;
        }
        (void) nft_diff_drift(now, snap->model, d->objs, d->n, DRIFT_LINES, &drift, &drift_n);
        *ret_drift = drift_n;
        if ((r = nft_batch_new(&b, now->generation)) < 0)
                (void) snprintf(why, sizeof(why), "%s", nftnl_lib_strerror(r));
        else
                r = nft_msgs_emit(snap->msgs, snap->model, d->objs, d->n, now, b, why, sizeof(why));
        if (r < 0) {
                (void) nft_restore_record_clear(rec_path);
                action_call_set_detail(call, "cannot restore: %s; nothing changed", why);
                return r;
        }
        objects_text(now, d->objs, d->n, what, sizeof(what));
        r = nft_batch_commit(b, ns, why, sizeof(why));
        if (r == -ERESTART) {
                (void) nft_restore_record_clear(rec_path);
                return r;
        }
        if (r < 0) {
                (void) nft_restore_record_clear(rec_path); /* refused whole by the kernel: the record describes nothing */
                action_call_set_detail(call, "restore refused, nothing changed: %s", why);
                return r;
        }
        if (r == NFT_BATCH_UNKNOWN) {
                /* answered or not, the kernel applied all of it or none: the objects say which */
                int k = read_now(ns, &after);
                if (k < 0 || (k = states(after, d->objs, d->n, cur)) < 0) {
                        action_call_set_detail(call, "%s; the ruleset cannot be read to tell (%s): the record %s is kept", why,
                                               strerror(-k), rec_path);
                        return -EIO;
                }
                if (count_equal(cur, rec->post, d->n) != d->n) {
                        bool none = count_equal(cur, rec->pre, d->n) == d->n && after->generation == now->generation;
                        if (none)
                                (void) nft_restore_record_clear(rec_path);
                        action_call_set_detail(call, "%s; read again: %s", why,
                                               none ? "not applied, nothing changed"
                                                    : "the objects are neither as before nor as restored (changed meanwhile?); the "
                                                      "record is kept");
                        return -EIO;
                }
                action_call_set_detail(call, "restored (the kernel's answer was lost; read again, every object is as restored): "
                                             "%s (generation %u)%s%s",
                                       what, now->generation, drift_n ? "; drift left alone: " : "", drift_n ? drift : "");
                return 0;
        }
        action_call_set_detail(call, "restored from the last-good snapshot: %s (generation %u; %s)%s%s", what, now->generation,
                               d->why[0], drift_n ? "; drift left alone: " : "", drift_n ? drift : "");
        return 0;
}

static int apply(const action_params *p, action_call *call) {
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *bin = snap_path(p, env, "bin"), *rec_path = snap_path(p, env, "restore");
        _cleanup_(freep) nft_restore_record *rec = calloc(1, sizeof(*rec));
        const snapshot *snap;
        char why[512];
        size_t drift = 0;
        int r;

        if (!bin || !rec_path || !rec)
                return -ENOMEM;
        if ((r = snapshot_get(bin, &snap, why, sizeof(why))) < 0) {
                action_call_set_detail(call, "%s", why);
                return r;
        }
        /* the generation check refuses a batch after any change anywhere in the ruleset: a busy
         * admin makes that frequent, and each try reads and decides afresh */
        for (int attempt = 0; attempt < ATTEMPTS; attempt++)
                if ((r = apply_once(p, call, snap, rec_path, rec, &drift)) != -ERESTART)
                        break;
        if (r == -ERESTART)
                action_call_set_detail(call, "the ruleset kept changing while the restore was computed: nothing changed");
        nft_restore_record_done(rec);
        return r;
}

/* ---- verify ---- */

static int verify(const action_params *p, action_call *call) {
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *bin = snap_path(p, env, "bin"), *drift = NULL;
        _cleanup_(nft_watch_freep) nft_watch *w = NULL;
        nft_diff_probes pr = probes_of(p, env);
        const nft_ruleset *now;
        const snapshot *snap = NULL;
        char why[NFT_VERDICT_WHY_MAX];
        size_t drift_n = 0;
        int r;

        if (!bin)
                return -ENOMEM;
        if ((r = ruleset_now(nft_action_netns(p, env), &w, &now)) < 0) {
                action_call_set_detail(call, "cannot read the ruleset: %s", nftnl_lib_strerror(r));
                return r;
        }
        /* without a snapshot: every packet must pass */
        nft_diff_accepts acc;
        (void) snapshot_get(bin, &snap, why, sizeof(why));
        if ((r = snapshot_accepts(snap, &pr, &acc)) < 0) {
                action_call_set_detail(call, "cannot evaluate the last-good ruleset: %s", nftnl_lib_strerror(r));
                return r;
        }
        r = nft_diff_passes_for(now, now, NULL, 0, &acc, why, sizeof(why));
        if (r == 0)
                action_call_set_detail(call, "still not let through: %s", why);
        else if (r > 0) {
                if (snap)
                        (void) nft_diff_drift(now, snap->model, NULL, 0, DRIFT_LINES, &drift, &drift_n);
                action_call_set_detail(call, "IKE passes every input base chain as when last good (generation %u)%s%s",
                                       now->generation, drift_n ? "; drift: " : "", drift_n ? drift : "");
        }
        return r < 0 ? r : r == 0 ? -EPROTO : 0;
}

/* ---- revert ---- */

static int revert_once(const action_params *p, action_call *call, const nft_restore_record *rec, const char *rec_path) {
        const action_env *env = action_call_env(call);
        const char *ns = nft_action_netns(p, env);
        _cleanup_(nft_ruleset_freep) nft_ruleset *pre = NULL;
        _cleanup_(nft_watch_freep) nft_watch *watch = NULL;
        _cleanup_(nft_msgs_freep) nft_msgs *pre_msgs = NULL;
        const nft_ruleset *now;
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        nft_diff_probes pr = probes_of(p, env);
        nft_object back[NFT_DIFF_OBJECTS_MAX];
        char cur[NFT_DIFF_OBJECTS_MAX][2 * NFT_RULESET_HASH_SIZE + 1], why[1024], kept[1024] = "", o[600];
        size_t n_back = 0, w = 0;
        int r;

        if ((r = ruleset_now(ns, &watch, &now)) < 0) {
                action_call_set_detail(call, "cannot read the ruleset: %s", nftnl_lib_strerror(r));
                return r;
        }
        if ((r = states(now, rec->objs, rec->n, cur)) < 0)
                return r;
        /* only what is still as the restore left it is ours to touch */
        for (size_t i = 0; i < rec->n; i++)
                if (strcmp(cur[i], rec->post[i]) != 0 && strcmp(cur[i], rec->pre[i]) != 0) {
                        action_call_set_detail(call, "%s changed since the restore: not reverted, nothing touched (a human must "
                                                     "decide; the objects as they were are in %s)",
                                               nft_object_to_string(&rec->objs[i], o, sizeof(o)), rec_path);
                        return -EBUSY;
                }
        if ((r = nft_msgs_new(&pre_msgs, rec->msgs, rec->msgs_len, &pre)) < 0) {
                action_call_set_detail(call, "the record %s holds no readable ruleset: %s", rec_path, nftnl_lib_strerror(r));
                return r;
        }
        for (size_t i = 0; i < rec->n; i++) {
                if (strcmp(cur[i], rec->pre[i]) == 0)
                        continue; /* already as before */
                /* never put back what makes IKE drop again */
                r = nft_diff_passes(now, pre, &rec->objs[i], 1, now, &pr, why, sizeof(why));
                if (r < 0)
                        return r;
                if (r == 0) {
                        int k = snprintf(kept + w, sizeof(kept) - w, "%s%s (it would drop %s)", w ? "; " : "",
                                         nft_object_to_string(&rec->objs[i], o, sizeof(o)), why);
                        if (k > 0 && (size_t) k < sizeof(kept) - w)
                                w += (size_t) k;
                        continue;
                }
                back[n_back++] = rec->objs[i];
        }
        if (n_back > 0) {
                if ((r = nft_batch_new(&b, now->generation)) < 0 ||
                    (r = nft_msgs_emit(pre_msgs, pre, back, n_back, now, b, why, sizeof(why))) < 0) {
                        action_call_set_detail(call, "cannot put back: %s", why);
                        return r;
                }
                r = nft_batch_commit(b, ns, why, sizeof(why));
                if (r == NFT_BATCH_UNKNOWN) {
                        /* the answer was lost: put back is what the objects must show now */
                        _cleanup_(nft_ruleset_freep) nft_ruleset *after = NULL;
                        char st[2 * NFT_RULESET_HASH_SIZE + 1];
                        r = nft_ruleset_dump(ns, NULL, NULL, &after);
                        for (size_t i = 0; r >= 0 && i < rec->n; i++) {
                                bool in = false;
                                for (size_t j = 0; j < n_back; j++)
                                        in |= memcmp(&back[j], &rec->objs[i], sizeof(back[j])) == 0;
                                if (in && (r = nft_diff_object_state(after, &rec->objs[i], st)) >= 0 && strcmp(st, rec->pre[i]) != 0)
                                        r = -EIO;
                        }
                }
                if (r < 0) {
                        if (r != -ERESTART)
                                action_call_set_detail(call, "revert refused, nothing changed: %s", why);
                        return r;
                }
        }
        (void) nft_restore_record_clear(rec_path); /* served */
        objects_text(now, back, n_back, why, sizeof(why));
        action_call_set_detail(call, "%s%s%s%s", n_back ? "put back as before the restore: " : "nothing put back",
                               n_back ? why : "", w ? "; left as restored: " : "", kept);
        return 0;
}

static int revert(const action_params *p, action_call *call) {
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *rec_path = snap_path(p, env, "restore");
        _cleanup_(freep) nft_restore_record *rec = calloc(1, sizeof(*rec));
        char why[512];
        int r;

        if (!rec_path || !rec)
                return -ENOMEM;
        r = nft_restore_record_read(rec_path, rec, why, sizeof(why));
        if (r == -ENOENT) {
                action_call_set_detail(call, "nothing to put back: the restore did not change the ruleset");
                return 0;
        }
        if (r == -ENODATA) {
                /* a change is sent only once its record is durable: cut short, nothing was sent */
                action_call_set_detail(call, "nothing to put back: %s", why);
                return 0;
        }
        if (r < 0) {
                action_call_set_detail(call, "%s", r == -EBADMSG ? why : nftnl_lib_strerror(r));
                return r;
        }
        for (int attempt = 0; attempt < ATTEMPTS; attempt++)
                if ((r = revert_once(p, call, rec, rec_path)) != -ERESTART)
                        break;
        if (r == -ERESTART)
                action_call_set_detail(call, "the ruleset kept changing: not reverted, nothing changed");
        nft_restore_record_done(rec);
        return r;
}

static int nft_restore_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        int r = op == ACTION_APPLY ? apply(p, call) : op == ACTION_REVERT ? revert(p, call) : verify(p, call);

        action_call_done(call, r);
        return 0;
}

static int nft_restore_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        _cleanup_(freep) char *bin = snap_path(p, env, "bin"), *drift = NULL;
        _cleanup_(nft_watch_freep) nft_watch *w = NULL;
        _cleanup_(freep) decision *d = calloc(1, sizeof(*d));
        const char *ns = nft_action_netns(p, env);
        const nft_ruleset *now;
        const snapshot *snap;
        char why[512], o[600];
        size_t drift_n = 0;
        int r;

        if (!bin || !d)
                return action_plan_add(out, "  nftables restore: no state directory");
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  nftables: UDP 500, UDP 4500 and ESP must pass every input base chain wherever the "
                                            "last-good ruleset let them through");
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  nftables: put back the objects the restore changed, only those still as it left "
                                            "them and only if that does not drop IKE again (one transaction); else stop");
        if ((r = snapshot_get(bin, &snap, why, sizeof(why))) < 0)
                return action_plan_add(out, "  nftables: restore from %s — but %s", bin, why);
        if ((r = ruleset_now(ns, &w, &now)) < 0) {
                return action_plan_add(out, "  nftables: cannot read the ruleset%s%s now: %s", ns ? " in netns " : "", ns ?: "",
                                       nftnl_lib_strerror(r));
        }
        r = decide(p, env, now, snap, d);
        if (r < 0)
                (void) action_plan_add(out, "  nftables (generation %u): cannot restore: %s", now->generation, d->err);
        else if (d->n == 0)
                (void) action_plan_add(out, "  nftables (generation %u): nothing drops IKE, nothing to change", now->generation);
        for (size_t i = 0; r >= 0 && i < d->n; i++) {
                bool there = d->objs[i].kind == NFT_OBJECT_TABLE ||
                             (d->objs[i].kind == NFT_OBJECT_CHAIN ? !!nft_diff_find_chain(now, d->objs[i].family, d->objs[i].table, d->objs[i].name)
                                                                  : !!nft_diff_find_set(now, d->objs[i].family, d->objs[i].table, d->objs[i].name));
                (void) action_plan_add(out, "  nftables%s%s (generation %u): %s %s%s — %s", ns ? " in netns " : "", ns ?: "",
                                       now->generation,
                                       d->objs[i].kind == NFT_OBJECT_TABLE ? "delete" : there ? "put back" : "recreate",
                                       nft_object_to_string(&d->objs[i], o, sizeof(o)),
                                       d->objs[i].kind == NFT_OBJECT_TABLE ? " (not in the last-good snapshot)"
                                                                           : " as in the last-good snapshot",
                                       d->why[i]);
        }
        (void) nft_diff_drift(now, snap->model, d->objs, d->n, DRIFT_LINES, &drift, &drift_n);
        if (drift_n)
                (void) action_plan_add(out, "  left alone (drift): %s", drift);
        return 0;
}

static int nft_restore_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        if (p->v[P_NETNS].set && netns_name_valid(p->v[P_NETNS].str) < 0) {
                (void) snprintf(why, n, "netns '%s' is not a valid namespace name", p->v[P_NETNS].str);
                return -EINVAL;
        }
        if (p->v[P_CHECK].set && (strchr(p->v[P_CHECK].str, '/') || p->v[P_CHECK].str[0] == '.')) {
                (void) snprintf(why, n, "check: the name of a firewall check, not a path");
                return -EINVAL;
        }
        return 0;
}

static bool nft_restore_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_nft_restore = {
        .kind = "nft_restore",
        .description = "put back the nftables objects that drop IKE as they were when last good, atomically",
        .params = params,
        .effects = true,
        .validate = nft_restore_validate,
        .plan = nft_restore_plan,
        .start = nft_restore_start,
        .supports = nft_restore_supports,
};
