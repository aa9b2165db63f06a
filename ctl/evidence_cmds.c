/* `ikehealctl evidence INCIDENT [--export DIR]`: what an incident collected, listed by the agent
 * (approvers only), and with --export copied into DIR (made 0700 if missing; each file 0600, never
 * over an existing one) in bounded chunks, one request each. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "evidence.h"
#include "proto.h"

const char *ctl_opt_export;

int build_evidence(int argc, char **argv, vici_builder *b) {
        char *end;
        if (argc != 1 || !argv[0][0] || (strtoull(argv[0], &end, 10), *end)) {
                fprintf(stderr, "ikehealctl: evidence INCIDENT [--export DIR]\n");
                return -EINVAL;
        }
        vici_builder_add_str(b, "incident", argv[0]);
        return 0;
}

void render_evidence(FILE *f, const vici_node *body) {
        const vici_node *files = vici_node_get(body, "files");
        size_t n = 0;

        for (const vici_node *c = files ? files->child : NULL; c; c = c->next)
                n++;
        fprintf(f, "incident %s: %zu file(s), %s bytes in %s\n", vici_node_str(body, "incident") ?: "?", n,
                vici_node_str(body, "total") ?: "0", vici_node_str(body, "directory") ?: "?");
        for (const vici_node *c = files ? files->child : NULL; c; c = c->next) {
                const char *mod = vici_node_str(c, "modified");
                time_t t = mod ? (time_t) strtoll(mod, NULL, 10) : 0;
                char when[32] = "?";
                struct tm tm;
                if (t && gmtime_r(&t, &tm))
                        (void) strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                fprintf(f, "  %-48s %12s  %s\n", vici_node_str(c, "name") ?: "?", vici_node_str(c, "size") ?: "?", when);
        }
}

/* One chunk of a file: the response body, or <0 after a message on stderr. */
static int chunk(const char *socket_path, const char *incident, const char *name, uint64_t offset, uint64_t timeout_usec,
                 vici_node **ret) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(vici_builder_freep) vici_builder *b = NULL;
        _cleanup_(freep) uint8_t *msg = NULL;
        vici_node *body = NULL;
        proto_header h;
        size_t len = 0;
        int r;

        if ((r = vici_builder_new(&b)) < 0)
                return r;
        vici_builder_add_str(b, "incident", incident);
        vici_builder_add_str(b, "file", name);
        vici_builder_add_fmt(b, "offset", "%llu", (unsigned long long) offset);
        if ((r = vici_builder_finish(TAKE_PTR(b), &msg, &len)) >= 0 && (r = proto_connect(socket_path, &fd)) >= 0)
                r = proto_call(fd, PROTO_EVIDENCE, msg, len, timeout_usec, &h, &body);
        if (r < 0) {
                fprintf(stderr, "ikehealctl: evidence --export: %s\n", strerror(-r));
                return r;
        }
        if (h.status != 0) {
                fprintf(stderr, "ikehealctl: evidence --export: %s\n", vici_node_str(body, "error") ?: strerror(EPROTO));
                vici_node_free(body);
                return -EPROTO;
        }
        *ret = body;
        return 0;
}

static int export_file(const char *socket_path, const char *incident, const char *dir, const char *name,
                       uint64_t timeout_usec, uint64_t *ret_size) {
        _cleanup_(freep) char *path = NULL;
        _cleanup_(closep) int fd = -1;
        uint64_t offset = 0, size = 0;
        int r;

        if (evidence_name_valid(name) < 0 || asprintf(&path, "%s/%s", dir, name) < 0)
                return -EINVAL;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                fprintf(stderr, "ikehealctl: evidence --export: cannot create %s: %s\n", path, strerror(-r));
                return r;
        }
        do {
                vici_node *body = NULL;
                const vici_node *data;
                if ((r = chunk(socket_path, incident, name, offset, timeout_usec, &body)) < 0)
                        return r;
                data = vici_node_get(body, "data");
                r = vici_node_u64(body, "size", &size);
                if (r < 0 || !data || data->type != VICI_NODE_VALUE || (data->len == 0 && offset < size)) {
                        vici_node_free(body);
                        fprintf(stderr, "ikehealctl: evidence --export: %s: a malformed answer\n", name);
                        return -EBADMSG;
                }
                for (size_t w = 0; w < data->len;) {
                        ssize_t k = write(fd, data->value + w, data->len - w);
                        if (k < 0) {
                                r = -errno;
                                vici_node_free(body);
                                fprintf(stderr, "ikehealctl: evidence --export: %s: %s\n", path, strerror(-r));
                                return r;
                        }
                        w += (size_t) k;
                }
                offset += data->len;
                vici_node_free(body);
        } while (offset < size);
        if (fsync(fd) < 0)
                return -errno;
        *ret_size = offset;
        return 0;
}

int ctl_evidence_export(const char *socket_path, const vici_node *list, uint64_t timeout_usec) {
        const vici_node *files = vici_node_get(list, "files");
        const char *incident = vici_node_str(list, "incident");
        uint64_t total = 0;
        size_t n = 0;
        struct stat st;

        if (!incident)
                return 1;
        if (mkdir(ctl_opt_export, 0700) < 0 && errno != EEXIST) {
                fprintf(stderr, "ikehealctl: evidence --export: cannot make %s: %s\n", ctl_opt_export, strerror(errno));
                return 1;
        }
        if (lstat(ctl_opt_export, &st) < 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "ikehealctl: evidence --export: %s is not a directory\n", ctl_opt_export);
                return 1;
        }
        for (const vici_node *c = files ? files->child : NULL; c; c = c->next) {
                uint64_t size = 0;
                const char *name = vici_node_str(c, "name");
                if (!name || export_file(socket_path, incident, ctl_opt_export, name, timeout_usec, &size) < 0)
                        return 1;
                total += size;
                n++;
        }
        printf("exported %zu file(s), %llu bytes, of incident %s to %s\n", n, (unsigned long long) total, incident,
               ctl_opt_export);
        return 0;
}
