/* The etcd watch stream as etcd 3.4's JSON gateway writes it (taken from a real member): the
 * created message, a PUT (no "type": proto3 omits the default) and a DELETE, a cancel after a
 * compaction, a stream's error and a refused request; fed whole and a byte at a time; and what
 * must be refused, with where in the stream. */
#include <errno.h>
#include <string.h>

#include "etcd_watch.h"
#include "tap.h"

#define HDR "\"header\":{\"cluster_id\":\"8675189272785597256\",\"member_id\":\"10368057919100788199\",\"revision\":\"%s\",\"raft_term\":\"2\"}"

typedef struct seen {
        unsigned n, created, puts, deletes, errors, canceled;
        int64_t last_rev;
        char last_key[64], last_value[64];
} seen;

static int on_msg(const etcd_watch_msg *m, void *userdata) {
        seen *s = userdata;
        s->n++;
        s->created += m->created;
        s->canceled += m->canceled;
        s->errors += m->is_error;
        for (size_t i = 0; i < m->n_events; i++) {
                if (m->events[i].is_delete)
                        s->deletes++;
                else
                        s->puts++;
                s->last_rev = m->events[i].kv.mod_revision;
                (void) snprintf(s->last_key, sizeof(s->last_key), "%s", m->events[i].kv.key);
                (void) snprintf(s->last_value, sizeof(s->last_value), "%s", m->events[i].kv.value);
        }
        return 0;
}

static int feed(const char *s, size_t step, seen *out, char *err) {
        etcd_watch_parser *p;
        int r = 0;
        *out = (seen){};
        if (etcd_watch_parser_new(&p) < 0)
                return -ENOMEM;
        size_t n = strlen(s);
        for (size_t off = 0; off < n && r == 0; off += step)
                r = etcd_watch_parser_feed(p, s + off, n - off < step ? n - off : step, on_msg, out, err);
        if (r == 0 && etcd_watch_parser_pending(p) > 0)
                r = 1; /* an object left incomplete */
        etcd_watch_parser_free(p);
        return r;
}

static int stop_cb(const etcd_watch_msg *m, void *userdata) {
        (void) m;
        (*(unsigned *) userdata)++;
        return -ECANCELED;
}

int main(void) {
        char err[ETCD_ERROR_MAX], stream[2048];
        seen s;
        int r;

        (void) snprintf(stream, sizeof(stream),
                        "{\"result\":{" HDR ",\"created\":true}}\n"
                        "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"L3gvcGF1c2U=\",\"create_revision\":\"2\","
                        "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"d2h5IG5vdA==\"}}]}}\n"
                        "{\"result\":{" HDR ",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3gvcGF1c2U=\","
                        "\"mod_revision\":\"3\"}}]}}\n",
                        "1", "2", "3");
        r = feed(stream, strlen(stream), &s, err);
        CHECK(r == 0 && s.n == 3 && s.created == 1 && s.puts == 1 && s.deletes == 1 && s.last_rev == 3 &&
                      strcmp(s.last_key, "/x/pause") == 0 && s.last_value[0] == 0,
              "created, a PUT, a DELETE, fed whole (r %d: %s)", r, r ? err : "");
        r = feed(stream, 1, &s, err);
        CHECK(r == 0 && s.n == 3 && s.puts == 1 && s.deletes == 1, "the same fed a byte at a time");
        r = feed(stream, 200, &s, err);
        CHECK(r == 0 && s.n == 3, "… and in pieces that cut objects anywhere");

        r = feed("{\"result\":{\"events\":[{\"kv\":{\"key\":\"L3g=\",\"value\":\"e30=\"}}]}}"
                 "{\"result\":{\"events\":[{\"kv\":{\"key\":\"L3k=\",\"value\":\"In19XFsi\"}}]}}",
                 1, &s, err);
        CHECK(r == 0 && s.n == 2 && strcmp(s.last_value, "\"}}\\[\"") == 0,
              "objects back to back, braces inside strings and escapes do not end an object (%s)", s.last_value);
        r = feed("{\"result\":{\"events\":[{\"kv\":{\"key\":\"L3g=\",\"value\":\"\\\"}\\\\\"}}]}}", 1, &s, err);
        CHECK(r == -EBADMSG && strstr(err, "not base64"), "an escaped quote and backslash stay inside the string: %s", err);

        r = feed("{\"result\":{\"header\":{\"revision\":\"3\"},\"canceled\":true,\"compact_revision\":\"3\"}}\n", 5, &s, err);
        CHECK(r == 0 && s.canceled == 1, "canceled after a compaction");
        r = feed("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}\n", 3, &s, err);
        CHECK(r == 0 && s.errors == 1, "the stream's error");
        {
                etcd_watch_msg *m = NULL;
                const char *e = "{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}";
                CHECK(etcd_watch_msg_parse(e, strlen(e), &m, err) == 0 && m->is_error && m->code == 14 &&
                              strcmp(m->message, "etcdserver: no leader") == 0,
                      "… its code and message");
                etcd_watch_msg_free(m);
                e = "{\"error\":\"illegal base64 data at input byte 0\",\"message\":\"illegal base64 data at input byte 0\",\"code\":2}";
                m = NULL;
                CHECK(etcd_watch_msg_parse(e, strlen(e), &m, err) == 0 && m->is_error && m->code == 2 &&
                              strncmp(m->message, "illegal base64", 14) == 0,
                      "a refused request");
                etcd_watch_msg_free(m);
                e = "{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}";
                m = NULL;
                CHECK(etcd_watch_msg_parse(e, strlen(e), &m, err) == 0 && m->created && m->revision == 9 && m->n_events == 0,
                      "created at revision 9");
                etcd_watch_msg_free(m);
        }

        /* refused, with where */
        r = feed("{\"result\":{\"created\":true}}\n  x", 1, &s, err);
        CHECK(r == -EBADMSG && s.n == 1 && strcmp(err, "2:3: expected '{' (a JSON object)") == 0,
              "garbage between objects: %s", err);
        r = feed("\n{\"result\":{\"created\":tru}}", 4, &s, err);
        CHECK(r == -EBADMSG && strncmp(err, "2:", 2) == 0, "bad JSON, placed in the stream: %s", err);
        r = feed("{\"result\":{\"events\":[{\"type\":\"PUTS\",\"kv\":{}}]}}", 7, &s, err);
        CHECK(r == -EBADMSG && strstr(err, "events[0].type"), "an unknown event type: %s", err);
        r = feed("{\"result\":{\"events\":[{\"kv\":{\"key\":\"!!!!\"}}]}}", 7, &s, err);
        CHECK(r == -EBADMSG && strstr(err, "events[0].kv.key: not base64"), "a key not base64: %s", err);
        r = feed("{\"result\":{\"events\":[{}]}}", 7, &s, err);
        CHECK(r == -EBADMSG && strstr(err, "events[0].kv: missing"), "an event without kv: %s", err);
        r = feed("{\"result\":{\"header\":{\"revision\":\"x\"}}}", 7, &s, err);
        CHECK(r == -EBADMSG && strstr(err, "result.header.revision"), "a revision not a number: %s", err);
        r = feed("{\"header\":{}}", 7, &s, err);
        CHECK(r == -EBADMSG && strstr(err, "result: missing"), "neither result nor error: %s", err);
        char deep[64] = "";
        for (int i = 0; i < 20; i++)
                strcat(deep, "[");
        r = feed(deep, 1, &s, err);
        CHECK(r == -EBADMSG && strstr(err, "expected '{'"), "a stream that does not begin with an object: %s", err);
        deep[0] = '{';
        r = feed(deep, 1, &s, err);
        CHECK(r == -EBADMSG && strcmp(err, "1:17: nested too deeply") == 0, "nested too deeply: %s", err);
        {
                etcd_watch_parser *p;
                static char big[ETCD_WATCH_MSG_MAX + 64];
                memset(big, ' ', sizeof(big) - 1);
                big[0] = '{';
                big[1] = '"';
                CHECK(etcd_watch_parser_new(&p) == 0, "parser");
                r = etcd_watch_parser_feed(p, big, sizeof(big) - 1, on_msg, &s, err);
                CHECK(r == -EMSGSIZE && strcmp(err, "1:1: object longer than the limit") == 0,
                      "an object that never ends is cut at the limit: %s", err);
                r = etcd_watch_parser_feed(p, "{}", 2, on_msg, &s, err);
                CHECK(r == -EMSGSIZE && strcmp(err, "1:1: object longer than the limit") == 0, "… and the stream stays failed");
                etcd_watch_parser_free(p);
        }
        {
                etcd_watch_parser *p;
                unsigned calls = 0;
                const char *two = "{\"result\":{}}{\"result\":{}}";
                CHECK(etcd_watch_parser_new(&p) == 0, "parser");
                r = etcd_watch_parser_feed(p, two, strlen(two), stop_cb, &calls, err);
                CHECK(r == -ECANCELED && calls == 1, "the callback's error stops the feed");
                etcd_watch_parser_free(p);
        }
        r = feed("{\"result\":{\"created\":true}", 1, &s, err);
        CHECK(r == 1 && s.n == 0, "an object cut off is pending, not delivered");
        return TAP_END();
}
