/* `evidence INCIDENT [FILE OFFSET]` on the control socket: what an incident collected (packet
 * captures under <state_dir>/evidence/INCIDENT/), for approvers only — a capture holds the
 * peers' addresses and IKE exchanges. Without `file`: the list (name, size, time). With it: up
 * to EVIDENCE_CHUNK bytes of that file from `offset`, so that ikehealctl copies a file of any
 * size in bounded answers. Refusals and each file's first chunk go on the audit trail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/verbs/verbs.h"
#include "evidence.h"

#define EVIDENCE_CHUNK (512u * 1024u) /* well under PROTO_RESPONSE_MAX */

static int list(control_request *req, vici_builder *b, const char *state_dir, uint64_t inc) {
        _cleanup_(freep) evidence_file *files = NULL;
        _cleanup_(freep) char *dir = NULL;
        uint64_t total = 0;
        size_t n = 0;
        int r = evidence_list(state_dir, inc, &files, &n);

        if (r < 0 && r != -ENOENT) {
                control_request_set_error(req, "cannot read the evidence of incident %llu: %s", (unsigned long long) inc,
                                          strerror(-r));
                return r;
        }
        if (evidence_dir(state_dir, inc, &dir) < 0)
                return -ENOMEM;
        vici_builder_add_fmt(b, "incident", "%llu", (unsigned long long) inc);
        vici_builder_add_str(b, "directory", dir);
        vici_builder_begin_section(b, "files");
        for (size_t i = 0; i < n; i++) {
                char k[24];
                /* named by position: a file name has dots, which VICI paths split on */
                (void) snprintf(k, sizeof(k), "%zu", i + 1);
                vici_builder_begin_section(b, k);
                vici_builder_add_str(b, "name", files[i].name);
                vici_builder_add_fmt(b, "size", "%llu", (unsigned long long) files[i].size);
                vici_builder_add_fmt(b, "modified", "%llu", (unsigned long long) (files[i].mtime_usec / USEC_PER_SEC));
                vici_builder_end_section(b);
                total += files[i].size;
        }
        vici_builder_end_section(b);
        vici_builder_add_fmt(b, "total", "%llu", (unsigned long long) total);
        return 0;
}

static int evidence_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const vici_node *body = control_request_body(req);
        const char *file = vici_node_str(body, "file"), *state_dir = v->config(v->userdata)->state_dir;
        _cleanup_(freep) void *buf = NULL;
        uint64_t inc, offset = 0, size = 0;
        engine_who who;
        size_t len = 0;
        int r;

        if (vici_node_u64(body, "incident", &inc) < 0 || (file && vici_node_u64(body, "offset", &offset) < 0)) {
                control_request_set_error(req, "evidence: expected an incident number");
                return -EINVAL;
        }
        verbs_who(v->config(v->userdata), req, &who);
        if (!who.approver) {
                audit_trail_add(v->audit, "evidence_refused", "incident %llu: uid %u (%s) is not an approver",
                                (unsigned long long) inc, who.uid, who.user);
                control_request_set_error(req, "uid %u (%s) is not an approver", who.uid, who.user);
                return -EPERM;
        }
        if (!file)
                return list(req, b, state_dir, inc);
        if (!(buf = malloc(EVIDENCE_CHUNK)))
                return -ENOMEM;
        r = evidence_read(state_dir, inc, file, offset, buf, EVIDENCE_CHUNK, &len, &size);
        if (r < 0) {
                control_request_set_error(req, "incident %llu has no evidence file '%.128s': %s", (unsigned long long) inc,
                                          file, strerror(-r));
                return r;
        }
        if (offset == 0)
                audit_trail_add(v->audit, "evidence_export", "incident %llu: %s (%llu bytes) read by uid %u (%s)",
                                (unsigned long long) inc, file, (unsigned long long) size, who.uid, who.user);
        vici_builder_add_str(b, "file", file);
        vici_builder_add_fmt(b, "offset", "%llu", (unsigned long long) offset);
        vici_builder_add_fmt(b, "size", "%llu", (unsigned long long) size);
        vici_builder_add(b, "data", buf, len);
        return 0;
}

int evidence_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_EVIDENCE, evidence_handler, (void *) v);
}
