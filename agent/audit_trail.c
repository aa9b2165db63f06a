/* The agent's audit trail: every detection and decision appended to the audit log
 * (common/audit_log.h: hash-chained, optionally HMAC-signed, fsynced) under the state
 * directory, and mirrored to the journal with the record's sequence number and hash, so that a
 * log cut short or rewritten can be told from the journal's copy. A log that no longer verifies
 * at start-up is kept aside as evidence (audit.log.broken-TIME) and a new chain begins with a
 * record saying why. Once it is open, the state logs are vetted (agent/state_logs.h), so that a
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

#include "agent/agent.h"
#include "agent/control.h"
#include "agent/state_logs.h"
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
        if (r == -EBADMSG) {
                audit_verify_result v = {};
                char aside[600];
                (void) audit_log_verify(path, key, key_len, &v);
                snprintf(aside, sizeof(aside), "%s.broken-%llu", path, (unsigned long long) time(NULL));
                if (rename(path, aside) < 0)
                        return log_error_errno(-errno, "audit log %s does not verify and cannot be moved aside", path);
                log_error("audit log %s does not verify (line %llu: %s); kept as %s, starting a new chain", path,
                          (unsigned long long) v.bad_line, v.why, aside);
                r = audit_log_open(&a->audit, path, key, key_len);
                if (r >= 0)
                        agent_audit(a, "audit_broken", "previous log failed verification at line %llu (%s); kept as %s",
                                    (unsigned long long) v.bad_line, v.why, aside);
        }
        if (r < 0)
                return log_error_errno(r, "cannot open the audit log %s", path);
        if (key)
                explicit_bzero(key, key_len);
        if (audit_log_dropped_bytes(a->audit))
                log_warning("audit log: dropped a torn last line (%llu bytes), ignoring",
                            (unsigned long long) audit_log_dropped_bytes(a->audit));
        /* the state logs next, while nothing has read them: a reset of one is audited */
        return state_logs_vet(a);
}

void agent_audit(agent *a, const char *kind, const char *fmt, ...) {
        char text[AUDIT_TEXT_MAX], hash[65], f_kind[64], f_seq[48], f_hash[96];
        const char *fields[4] = { f_kind, f_seq, f_hash, NULL };
        va_list ap;
        int r;

        if (!a->audit)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        r = audit_log_append(a->audit, realtime_usec(), kind, text, hash);
        if (r < 0) {
                log_error_errno(r, "cannot append to the audit log (%s: %s)", kind, text);
                return;
        }
        snprintf(f_kind, sizeof(f_kind), "IKEHEAL_AUDIT_KIND=%s", kind);
        snprintf(f_seq, sizeof(f_seq), "IKEHEAL_AUDIT_SEQ=%llu", (unsigned long long) audit_log_head(a->audit, hash));
        snprintf(f_hash, sizeof(f_hash), "IKEHEAL_AUDIT_HASH=%s", hash);
        log_fields(LOG_INFO, fields, "audit %s: %s", kind, text);
}

/* ---- the `audit` verb: head and the latest records ---- */

static int audit_handler(control_request *req, vici_builder *b, void *userdata) {
        agent *a = userdata;
        _cleanup_(freep) char *path = NULL, *buf = NULL;
        uint64_t want = 50;
        char head[65];
        size_t len;

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
        vici_builder_begin_list(b, "lines");
        if (atomic_file_read(path, AUDIT_FILE_MAX, &buf, &len) >= 0) {
                /* the last `want` lines */
                size_t start = len, n = 0;
                while (start > 0 && n <= want) {
                        start--;
                        if (buf[start] == '\n' && start + 1 < len)
                                n++;
                }
                if (n > want)
                        start++;
                for (char *p = buf + start, *e; p < buf + len; p = e + 1) {
                        e = memchr(p, '\n', (size_t) (buf + len - p));
                        if (!e)
                                break;
                        *e = 0;
                        if (*p)
                                vici_builder_add_list_item(b, p);
                }
        }
        vici_builder_end_list(b);
        return 0;
}

int audit_verb_register(agent *a) {
        return control_server_register(a->control, PROTO_AUDIT, audit_handler, a);
}
