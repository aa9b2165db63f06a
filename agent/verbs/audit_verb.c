/* The `audit` verb: the audit trail's head and its latest records, from the rotated files too
 * when the current one holds fewer than asked for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/verbs/verbs.h"
#include "atomic_file.h"
#include "audit_log.h"
#include "proto.h"

#define AUDIT_SHOW_MAX PROTO_AUDIT_LAST_MAX

static size_t lines_in(const char *buf, size_t len) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
                n += buf[i] == '\n';
        return n;
}

static int audit_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const char *path;
        char *bufs[AUDIT_SHOW_MAX + 1];
        size_t lens[AUDIT_SHOW_MAX + 1], nb = 0, have = 0, skip;
        uint64_t want = 50;
        char head[65];

        if (!v->audit) {
                control_request_set_error(req, "the audit log is not open");
                return -ENOENT;
        }
        if (vici_node_get(control_request_body(req), "last") &&
            (vici_node_u64(control_request_body(req), "last", &want) < 0 || want == 0 || want > AUDIT_SHOW_MAX)) {
                control_request_set_error(req, "audit: the last 1 to %u records can be shown", AUDIT_SHOW_MAX);
                return -EINVAL;
        }
        vici_builder_add_fmt(b, "records", "%llu", (unsigned long long) audit_trail_head(v->audit, head));
        vici_builder_add_str(b, "head", head);
        path = audit_trail_path(v->audit);
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

int audit_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_AUDIT, audit_handler, (void *) v);
}
