/* The agent's audit trail: every detection and decision appended to the audit log
 * (common/audit_log.h: hash-chained, optionally HMAC-signed, fsynced) under the state
 * directory, and mirrored to the journal with the record's sequence number and hash, so that a
 * log cut short or rewritten can be told from the journal's copy (IKEHEAL_AUDIT_HEAD is what
 * `ikehealctl audit verify --head` takes). A log that no longer verifies at start-up — its
 * chain broken, or no longer reaching its head record — is damage: said at error level and to
 * every webhook, kept aside as evidence (audit.log.broken-TIME, with its head and rotated
 * files) and a new chain begins with a record saying why. Rotation follows audit.rotate_size_kib
 * and audit.keep. Once it is open, the state logs are vetted (agent/core/state_logs.h), so that a
 * reset of a damaged one is audited. The `audit` verb shows the head and the latest records. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/agent.h"
#include "agent/core/alert.h"
#include "agent/control/control.h"
#include "agent/core/state_logs.h"
#include "atomic_file.h"
#include "audit_log.h"
#include "log.h"

#define AUDIT_SHOW_MAX 200u

static uint64_t realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

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

/* The log at `path` does not verify: say so loudly (journal at error level, a webhook), keep
 * it aside with its head and rotated files, and begin a new chain with a record saying why. */
static int broken(agent *a, const char *path, const char *key, size_t key_len) {
        audit_verify_result v = {};
        char aside[600], where[700];
        int r;

        (void) audit_log_verify(path, key, key_len, NULL, &v);
        if (v.bad_line)
                (void) snprintf(where, sizeof(where), "%s line %llu", v.bad_file, (unsigned long long) v.bad_line);
        else
                (void) snprintf(where, sizeof(where), "%s", v.bad_file[0] ? v.bad_file : path);
        r = audit_log_set_aside(path, (uint64_t) time(NULL), aside, sizeof(aside));
        if (r < 0)
                return log_error_errno(r, "audit log %s is DAMAGED (%s: %s) and cannot be moved aside", path, where,
                                       v.why);
        log_error("audit log %s is DAMAGED: %s: %s; kept as %s (with its head and rotated files), starting a new "
                  "chain", path, where, v.why[0] ? v.why : "does not verify", aside);
        r = audit_log_open(&a->audit, path, key, key_len);
        if (r < 0)
                return r;
        agent_audit(a, "audit_broken", "the previous audit log failed verification (%s: %s); kept as %s", where,
                    v.why, aside);
        char text[2048];
        (void) snprintf(text, sizeof(text), "audit log %s is damaged (%s: %s); kept as %s, a new chain begins", path,
                        where, v.why, aside);
        alert_send_later(a, "audit_broken", text);
        return 0;
}

int agent_audit_open(agent *a) {
        _cleanup_(freep) char *key = NULL, *path = NULL;
        size_t key_len = 0;
        int r;

        if (a->config->audit_key_file) {
                r = key_read(a->config->audit_key_file, &key, &key_len);
                if (r < 0)
                        return log_error_errno(r, "audit key %s unusable (must exist, belong to root, mode 0600 "
                                                  "or stricter)", a->config->audit_key_file);
        }
        if (asprintf(&path, "%s/audit.log", a->config->state_dir) < 0)
                return -ENOMEM;
        r = audit_log_open(&a->audit, path, key, key_len);
        if (r == -EBADMSG)
                r = broken(a, path, key, key_len);
        if (key)
                explicit_bzero(key, key_len);
        if (r < 0)
                return log_error_errno(r, "cannot open the audit log %s", path);
        r = audit_log_set_rotation(a->audit, (uint64_t) a->config->audit_rotate_kib * 1024, a->config->audit_keep);
        if (r < 0)
                return log_error_errno(r, "audit log rotation settings refused");
        if (audit_log_dropped_bytes(a->audit))
                log_warning("audit log: dropped an incomplete last line (%llu bytes, an append the crash interrupted), "
                            "ignoring", (unsigned long long) audit_log_dropped_bytes(a->audit));
        if (audit_log_head_was_missing(a->audit))
                log_warning("audit log %s had no head record (%s.head): a cut tail could not be ruled out; one is kept "
                            "from now on", path, path);
        /* the state logs next, while nothing has read them: a reset of one is audited */
        return state_logs_vet(a);
}

void agent_audit(agent *a, const char *kind, const char *fmt, ...) {
        char text[AUDIT_TEXT_MAX], hash[65], f_kind[64], f_seq[48], f_hash[96], f_head[128];
        const char *fields[5] = { f_kind, f_seq, f_hash, f_head, NULL };
        uint64_t seq;
        va_list ap;
        int r;

        if (!a->audit)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        seq = audit_log_head(a->audit, hash);
        r = audit_log_append(a->audit, realtime_usec(), kind, text, hash);
        if (r < 0 && audit_log_head(a->audit, hash) == seq) {
                log_error_errno(r, "cannot append to the audit log (%s: %s)", kind, text);
                return;
        }
        if (r < 0)
                log_error_errno(r, "audit log: the record is written but its head record could not be updated");
        seq = audit_log_head(a->audit, hash);
        snprintf(f_kind, sizeof(f_kind), "IKEHEAL_AUDIT_KIND=%s", kind);
        snprintf(f_seq, sizeof(f_seq), "IKEHEAL_AUDIT_SEQ=%llu", (unsigned long long) seq);
        snprintf(f_hash, sizeof(f_hash), "IKEHEAL_AUDIT_HASH=%s", hash);
        /* what `ikehealctl audit verify --head` takes */
        snprintf(f_head, sizeof(f_head), "IKEHEAL_AUDIT_HEAD=%llu:%s", (unsigned long long) seq, hash);
        log_fields(LOG_INFO, fields, "audit %s: %s", kind, text);
}

/* ---- the `audit` verb: head and the latest records ---- */

static size_t lines_in(const char *buf, size_t len) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
                n += buf[i] == '\n';
        return n;
}

static int audit_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        _cleanup_(freep) char *path = NULL;
        char *bufs[AUDIT_SHOW_MAX + 1];
        size_t lens[AUDIT_SHOW_MAX + 1], nb = 0, have = 0, skip;
        uint64_t want = 50;
        char head[65];

        if (!a->audit) {
                control_request_set_error(req, "the audit log is not open");
                return -ENOENT;
        }
        if (vici_node_get(control_request_body(req), "last") &&
            (vici_node_u64(control_request_body(req), "last", &want) < 0 || want == 0 || want > AUDIT_SHOW_MAX)) {
                control_request_set_error(req, "last: 1..%u", AUDIT_SHOW_MAX);
                return -EINVAL;
        }
        vici_builder_add_fmt(b, "records", "%llu", (unsigned long long) audit_log_head(a->audit, head));
        vici_builder_add_str(b, "head", head);
        if (asprintf(&path, "%s/audit.log", a->config->state_dir) < 0)
                return -ENOMEM;
        vici_builder_add_str(b, "path", path);
        /* the last `want` lines, from the rotated files too when the current one has fewer */
        for (unsigned i = 0; i <= AUDIT_KEEP_MAX && have < want && nb < ELEMENTSOF(bufs); i++) {
                char p[600];
                if (i)
                        (void) snprintf(p, sizeof(p), "%s.%u", path, i);
                else
                        (void) snprintf(p, sizeof(p), "%s", path);
                if (atomic_file_read(p, AUDIT_FILE_MAX, &bufs[nb], &lens[nb]) < 0)
                        break;
                have += lines_in(bufs[nb], lens[nb]);
                nb++;
        }
        skip = have > want ? have - want : 0;
        vici_builder_begin_list(b, "lines");
        for (size_t k = nb; k-- > 0;) {
                char *buf = bufs[k], *end = bufs[k] + lens[k];
                for (char *p = buf, *e; p < end; p = e + 1) {
                        e = memchr(p, '\n', (size_t) (end - p));
                        if (!e)
                                break;
                        *e = 0;
                        if (skip > 0)
                                skip--;
                        else if (*p)
                                vici_builder_add_list_item(b, p);
                }
        }
        vici_builder_end_list(b);
        for (size_t k = 0; k < nb; k++)
                free(bufs[k]);
        return 0;
}

int audit_verb_register(agent *a) {
        return control_server_register(a->control, PROTO_AUDIT, audit_handler, a);
}
