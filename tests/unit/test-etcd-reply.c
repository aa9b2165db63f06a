/* etcd's JSON gateway replies, as etcd 3.4 writes them (taken from a real cluster): lease grant
 * and keepalive, a txn that took a slot and one that found it taken, a range, an error; and
 * base64 both ways. Anything else is refused with where. */
#include <errno.h>
#include <string.h>

#include "base64.h"
#include "etcd_reply.h"
#include "tap.h"

static etcd_reply *parse(const char *s, int *r, char *err) {
        etcd_reply *rep = NULL;
        *r = etcd_reply_parse(s, strlen(s), &rep, err);
        return rep;
}

int main(void) {
        char err[ETCD_ERROR_MAX], *out;
        size_t n;
        etcd_reply *rep;
        int r;

        CHECK(base64_encode("/ikh/slots/0", 12, &out) == 0 && strcmp(out, "L2lraC9zbG90cy8w") == 0, "encode");
        free(out);
        CHECK(base64_encode("gw", 2, &out) == 0 && strcmp(out, "Z3c=") == 0, "encode with padding: %s", out);
        free(out);
        CHECK(base64_decode("Z3c=", 4, &out, &n) == 0 && n == 2 && memcmp(out, "gw", 2) == 0, "decode with padding");
        free(out);
        CHECK(base64_decode("Z3d=", 4, &out, &n) == -EINVAL, "bits left over are refused");
        CHECK(base64_decode("Z3c", 3, &out, &n) == -EINVAL, "a length not a multiple of 4");
        CHECK(base64_decode("Z=c=", 4, &out, &n) == -EINVAL, "padding inside");
        CHECK(base64_decode("", 0, &out, &n) == 0 && n == 0, "empty");
        free(out);

        rep = parse("{\"header\":{\"cluster_id\":\"4340877111276483674\",\"member_id\":\"12385117920106023703\",\"revision\":\"1\","
                    "\"raft_term\":\"2\"},\"ID\":\"799285904510171655\",\"TTL\":\"5\"}", &r, err);
        CHECK(r == 0 && rep->id == 799285904510171655LL && rep->ttl == 5 && rep->revision == 1 && !rep->is_error, "lease grant");
        etcd_reply_free(rep);

        rep = parse("{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"799285904510171657\",\"TTL\":\"5\"}}\n", &r, err);
        CHECK(r == 0 && rep->ttl == 5 && rep->id == 799285904510171657LL, "keepalive (wrapped in result, newline)");
        etcd_reply_free(rep);
        rep = parse("{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"123\"}}", &r, err);
        CHECK(r == 0 && rep->ttl == 0, "keepalive of a lease that is gone: TTL 0");
        etcd_reply_free(rep);

        rep = parse("{\"header\":{\"revision\":\"2\"},\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":"
                    "{\"revision\":\"2\"}}}]}", &r, err);
        CHECK(r == 0 && rep->succeeded && rep->n_kvs == 0, "txn that took the slot");
        etcd_reply_free(rep);
        rep = parse("{\"header\":{\"revision\":\"2\"},\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"2\"},"
                    "\"kvs\":[{\"key\":\"L2lraC9zbG90cy8w\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\","
                    "\"value\":\"Z3cx\",\"lease\":\"799285904510171657\"}],\"count\":\"1\"}}]}", &r, err);
        CHECK(r == 0 && !rep->succeeded && rep->n_kvs == 1 && strcmp(rep->kvs[0].key, "/ikh/slots/0") == 0 &&
                      strcmp(rep->kvs[0].value, "gw1") == 0 && rep->kvs[0].lease == 799285904510171657LL,
              "txn that found the slot taken: who holds it");
        etcd_reply_free(rep);

        rep = parse("{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"L2lraC9zbG90cy8w\",\"create_revision\":\"2\","
                    "\"value\":\"Z3cx\"},{\"key\":\"Lw==\"}],\"count\":\"2\"}", &r, err);
        CHECK(r == 0 && rep->n_kvs == 2 && rep->count == 2 && strcmp(rep->kvs[1].key, "/") == 0 && rep->kvs[1].value[0] == 0,
              "range of two keys, one without a value");
        etcd_reply_free(rep);

        rep = parse("{\"error\":\"etcdserver: request timed out\",\"message\":\"etcdserver: request timed out\",\"code\":14}", &r,
                    err);
        CHECK(r == 0 && rep->is_error && rep->code == 14 && strcmp(rep->message, "etcdserver: request timed out") == 0,
              "an error reply (no quorum)");
        etcd_reply_free(rep);

        rep = parse("{\"header\":{\"revision\":\"x2\"}}", &r, err);
        CHECK(r == -EBADMSG && strstr(err, "header.revision"), "a revision that is no number: %s", err);
        rep = parse("{\"kvs\":[{\"key\":\"L2lra!\"}]}", &r, err);
        CHECK(r == -EBADMSG && strcmp(err, "kvs[0].key: not base64") == 0, "a key that is not base64: %s", err);
        rep = parse("{\"kvs\":[{\"key\":\"AA==\"}]}", &r, err);
        CHECK(r == -EBADMSG && strstr(err, "NUL"), "a key with a NUL: %s", err);
        rep = parse("{\"succeeded\":\"yes\"}", &r, err);
        CHECK(r == -EBADMSG && strstr(err, "succeeded"), "succeeded of the wrong type: %s", err);
        rep = parse("{\"header\":\n {\"revision\": }", &r, err);
        CHECK(r == -EBADMSG && strncmp(err, "2:", 2) == 0, "JSON that does not parse, with line:col: %s", err);
        rep = parse("{} {}", &r, err);
        CHECK(r == -EBADMSG && strncmp(err, "1:4:", 4) == 0, "two values: %s", err);
        CHECK(etcd_reply_parse("{}\0", 3, &rep, err) == -EBADMSG, "a NUL after the value is not white space");
        rep = parse("[1]", &r, err);
        CHECK(r == -EBADMSG, "not an object");
        rep = parse("{\"error\":\"x\",\"code\":99}", &r, err);
        CHECK(r == -EBADMSG && strstr(err, "code"), "a code that is no gRPC status: %s", err);
        return TAP_END();
}
