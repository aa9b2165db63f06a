/* See audit_trail.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/notify/audit_trail.h"
#include "agent/notify/notify_later.h"
#include "atomic_file.h"
#include "audit_log.h"
#include "log.h"
#include "log_ids.h"
#include "now.h"

struct audit_trail {
        audit_log *log;
        char *path;
};

/* The key file: root's, not readable by others (it signs what the agent did). */
static int key_read(const char *path, char **ret, size_t *ret_len) {
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return -errno;
        if (st.st_uid != 0 || (st.st_mode & 077))
                return -EPERM;
        r = atomic_file_read(path, AUDIT_KEY_MAX, ret, ret_len);
        if (r >= 0 && *ret_len == 0)
                r = -EINVAL;
        return r;
}

/* The log does not verify: say so loudly (journal at error level, a webhook), keep it aside
 * with its head and rotated files, and begin a new chain with a record saying why. */
static int broken(audit_trail *t, ev_loop *e, notifier *const *webhooks, const char *key, size_t key_len) {
        audit_verify_result v = {};
        char aside[600], where[700];
        int r;

        (void) audit_log_verify(t->path, key, key_len, NULL, &v);
        if (v.bad_line)
                (void) snprintf(where, sizeof(where), "%s line %llu", v.bad_file, (unsigned long long) v.bad_line);
        else
                (void) snprintf(where, sizeof(where), "%s", v.bad_file[0] ? v.bad_file : t->path);
        r = audit_log_set_aside(t->path, (uint64_t) time(NULL), aside, sizeof(aside));
        if (r < 0)
                return log_error_errno(r, "audit log %s is DAMAGED (%s: %s) and cannot be moved aside", t->path, where,
                                       v.why);
        log_error("audit log %s is DAMAGED: %s: %s; kept as %s (with its head and rotated files), starting a new "
                  "chain", t->path, where, v.why[0] ? v.why : "does not verify", aside);
        r = audit_log_open(&t->log, t->path, key, key_len);
        if (r < 0)
                return r;
        audit_trail_add(t, "audit_broken", "the previous audit log failed verification (%s: %s); kept as %s", where,
                        v.why, aside);
        char text[2048];
        (void) snprintf(text, sizeof(text), "audit log %s is damaged (%s: %s); kept as %s, a new chain begins",
                        t->path, where, v.why, aside);
        notifier_send_later(webhooks, e, "audit_broken", text);
        return 0;
}

static int trail_open(audit_trail *t, ev_loop *e, notifier *const *webhooks, const audit_trail_params *p) {
        _cleanup_(freep) char *key = NULL;
        size_t key_len = 0;
        int r;

        if (p->key_file) {
                r = key_read(p->key_file, &key, &key_len);
                if (r < 0)
                        return log_error_errno(r, "audit key %s unusable (must exist, belong to root, mode 0600 "
                                                  "or stricter)", p->key_file);
        }
        r = audit_log_open(&t->log, t->path, key, key_len);
        if (r == -EBADMSG)
                r = broken(t, e, webhooks, key, key_len);
        if (key)
                explicit_bzero(key, key_len);
        if (r < 0)
                return log_error_errno(r, "cannot open the audit log %s", t->path);
        r = audit_log_set_rotation(t->log, (uint64_t) p->rotate_kib * 1024, p->keep);
        if (r < 0)
                return log_error_errno(r, "audit log rotation settings refused");
        if (audit_log_dropped_bytes(t->log))
                log_warning("audit log: dropped an incomplete last line (%llu bytes, an append the crash interrupted), "
                            "ignoring", (unsigned long long) audit_log_dropped_bytes(t->log));
        if (audit_log_head_was_missing(t->log))
                log_warning("audit log %s had no head record (%s.head): a cut tail could not be ruled out; one is kept "
                            "from now on", t->path, t->path);
        return 0;
}

int audit_trail_open(audit_trail **ret, ev_loop *e, notifier *const *webhooks, const audit_trail_params *p) {
        _cleanup_(audit_trail_freep) audit_trail *t = calloc(1, sizeof(*t));
        int r;

        if (!t || asprintf(&t->path, "%s/audit.log", p->state_dir) < 0)
                return -ENOMEM;
        r = trail_open(t, e, webhooks, p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

audit_trail *audit_trail_free(audit_trail *t) {
        if (!t)
                return NULL;
        audit_log_free(t->log);
        free(t->path);
        free(t);
        return NULL;
}

const char *audit_trail_path(const audit_trail *t) {
        return t->path;
}

uint64_t audit_trail_head(const audit_trail *t, char ret_hash[65]) {
        return audit_log_head(t->log, ret_hash);
}

void audit_trail_addv(audit_trail *t, const char *kind, const char *fmt, va_list ap) {
        char text[AUDIT_TEXT_MAX], hash[65], f_kind[64], f_seq[48], f_hash[96], f_head[128];
        const char *fields[6] = { f_kind, f_seq, f_hash, f_head, LOG_MID_AUDIT, NULL };
        uint64_t seq;
        int r;

        if (!t || !t->log)
                return;
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        seq = audit_log_head(t->log, hash);
        r = audit_log_append(t->log, real_usec(), kind, text, hash);
        if (r < 0 && audit_log_head(t->log, hash) == seq) {
                log_error_errno(r, "cannot append to the audit log (%s: %s)", kind, text);
                return;
        }
        if (r < 0)
                log_error_errno(r, "audit log: the record is written but its head record could not be updated");
        seq = audit_log_head(t->log, hash);
        (void) snprintf(f_kind, sizeof(f_kind), "IKEHEAL_AUDIT_KIND=%s", kind);
        (void) snprintf(f_seq, sizeof(f_seq), "IKEHEAL_AUDIT_SEQ=%llu", (unsigned long long) seq);
        (void) snprintf(f_hash, sizeof(f_hash), "IKEHEAL_AUDIT_HASH=%s", hash);
        /* what `ikehealctl audit verify --head` takes */
        (void) snprintf(f_head, sizeof(f_head), "IKEHEAL_AUDIT_HEAD=%llu:%s", (unsigned long long) seq, hash);
        log_fields(LOG_INFO, fields, "audit %s: %s", kind, text);
}

void audit_trail_add(audit_trail *t, const char *kind, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        audit_trail_addv(t, kind, fmt, ap);
        va_end(ap);
}
