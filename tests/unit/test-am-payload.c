/* Alertmanager payloads (common/am_payload.h, common/am_alert_body.h): a webhook payload as
 * Alertmanager 0.25 sends it parsed to the field (Go's zero endsAt, a nanosecond fraction, an
 * offset time, sorted labels), every refusal with its location (line:col for JSON that does not
 * parse, the field otherwise) and every limit; the v2 alerts body for an incident, exact, and
 * its refusals. */
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_alert_body.h"
#include "am_payload.h"
#include "atomic_file.h"
#include "tap.h"

static void test_parse_fixture(void) {
        _cleanup_(am_webhook_freep) am_webhook *w = NULL;
        _cleanup_(freep) char *data = NULL;
        char err[AM_ERROR_MAX] = "";
        size_t len = 0;
        int r;

        CHECK(atomic_file_read("tests/fixtures/alertmanager/webhook-firing.json", 1 << 20, &data, &len) >= 0, "fixture read");
        r = am_webhook_parse(data, len, NULL, &w, err);
        CHECK(r == 0, "parsed (%d %s)", r, err);
        if (r < 0)
                return;
        CHECK(w->firing && strcmp(w->receiver, "ikeheal") == 0 && w->truncated == 2 &&
              strcmp(w->group_key, "{}:{alertname=\"IKEUDP500Unreachable\"}") == 0 &&
              strcmp(w->external_url, "http://alertmanager.example:9093") == 0, "group fields");
        CHECK(w->n_alerts == 2, "two alerts");
        const am_alert *a = &w->alerts[0], *b = &w->alerts[1];
        CHECK(a->firing && a->n_labels == 5 && strcmp(a->labels[0].name, "alertname") == 0 &&
              strcmp(a->labels[4].name, "job") == 0, "labels sorted");
        CHECK(strcmp(am_alert_label(a, "ikeheal_class"), "firewall") == 0 &&
              strcmp(am_alert_label(a, "instance"), "198.18.0.1:500") == 0 && !am_alert_label(a, "nope"), "label lookup");
        CHECK(strcmp(am_alert_annotation(a, "description"), "probe_success == 0 for 2m") == 0, "annotation lookup");
        CHECK(a->starts_usec == 1796551200123456ull, "startsAt to the µs (%llu)", (unsigned long long) a->starts_usec);
        CHECK(a->ends_usec == 0, "Go's zero endsAt is none");
        CHECK(strcmp(a->fingerprint, "b1e4c7a2d3f40516") == 0 && strncmp(a->generator_url, "http://prometheus", 17) == 0,
              "fingerprint, generatorURL");
        CHECK(!b->firing && b->n_annotations == 0 && !am_alert_annotation(b, "summary"), "resolved alert");
        CHECK(b->starts_usec == 1796544000000000ull && b->ends_usec == 1796549400000000ull, "offset time, endsAt");
}

static void expect_refusal(const char *body, const am_limits *lim, int want, const char *want_err) {
        am_webhook *w = NULL;
        char err[AM_ERROR_MAX] = "";
        int r = am_webhook_parse(body, strlen(body), lim, &w, err);

        CHECK(r == want && !w && strstr(err, want_err), "refused %d \"%s\" (want %d, \"%s\")", r, err, want, want_err);
        am_webhook_free(w);
}

#define HEAD "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":["
#define ALERT(labels) "{\"status\":\"firing\",\"labels\":" labels ",\"startsAt\":\"2026-12-06T10:00:00Z\"}"

static void test_refusals(void) {
        expect_refusal("", NULL, -EBADMSG, "1:1: unexpected end of data");
        expect_refusal("{\n  \"version\": \"4\",\n  \"status\": firing\n}", NULL, -EBADMSG, "3:14: boolean expected");
        expect_refusal("{\"version\":\"4\"} x", NULL, -EBADMSG, "1:17: ");
        expect_refusal("[1]", NULL, -EBADMSG, "not a JSON object");
        {
                /* a NUL after the value is data, not a blank */
                static const char nul_after[] = "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}\0";
                am_webhook *w = NULL;
                char err[AM_ERROR_MAX] = "";
                int r = am_webhook_parse(nul_after, sizeof(nul_after) - 1, NULL, &w, err);
                CHECK(r == -EBADMSG && !w && strstr(err, "1:46: data after the JSON value"), "a NUL after the JSON value is refused: %d \"%s\"", r, err);
                am_webhook_free(w);
        }
        expect_refusal("{\"status\":\"firing\",\"alerts\":[]}", NULL, -EBADMSG, "version: missing");
        expect_refusal("{\"version\":\"3\",\"status\":\"firing\",\"alerts\":[]}", NULL, -EBADMSG, "version: \"3\"");
        expect_refusal("{\"version\":4,\"status\":\"firing\",\"alerts\":[]}", NULL, -EBADMSG, "version: not a string");
        expect_refusal("{\"version\":\"4\",\"status\":\"on\",\"alerts\":[]}", NULL, -EBADMSG, "status: \"on\"");
        expect_refusal("{\"version\":\"4\",\"status\":\"firing\"}", NULL, -EBADMSG, "alerts: missing");
        expect_refusal("{\"version\":\"4\",\"status\":\"firing\",\"alerts\":{}}", NULL, -EBADMSG, "alerts: not an array");
        expect_refusal(HEAD "1]}", NULL, -EBADMSG, "alerts[0]: not an object");
        expect_refusal(HEAD ALERT("{}") "," ALERT("{\"a\":1}") "]}", NULL, -EBADMSG, "alerts[1].labels.a: not a string");
        expect_refusal(HEAD ALERT("{\"a-b\":\"1\"}") "]}", NULL, -EBADMSG, "alerts[0].labels: \"a-b\" is not a label name");
        expect_refusal(HEAD ALERT("{\"a\":\"x\\u0000y\"}") "]}", NULL, -EBADMSG, "alerts[0].labels.a: contains NUL");
        expect_refusal(HEAD "{\"status\":\"firing\",\"labels\":{}}]}", NULL, -EBADMSG, "alerts[0].startsAt: missing");
        expect_refusal(HEAD "{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"yesterday\"}]}", NULL, -EBADMSG,
                       "alerts[0].startsAt: \"yesterday\" is not an RFC 3339 time");
        expect_refusal(HEAD "{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"2026-12-06T10:00:00Z\",\"fingerprint\":\"XYZ\"}]}",
                       NULL, -EBADMSG, "alerts[0].fingerprint");
        expect_refusal(HEAD ALERT("{\"a\":\"\xff\"}") "]}", NULL, -EBADMSG, "1:");
        expect_refusal("{\"version\":\"4\",\"status\":\"firing\",\"truncatedAlerts\":-1,\"alerts\":[]}", NULL, -EBADMSG,
                       "truncatedAlerts");
        /* depth: json-c's own limit stops it before any walk */
        expect_refusal(HEAD "[[[[[[[[[[]]]]]]]]]]]}", NULL, -EBADMSG, "1:");

        /* limits */
        expect_refusal(HEAD "]}", &(am_limits){ .max_bytes = 10 }, -EMSGSIZE, "more than 10");
        expect_refusal(HEAD ALERT("{}") "," ALERT("{}") "]}", &(am_limits){ .max_alerts = 1 }, -EBADMSG, "alerts: more than 1");
        expect_refusal(HEAD ALERT("{\"a\":\"1\",\"b\":\"2\"}") "]}", &(am_limits){ .max_pairs = 1 }, -EBADMSG,
                       "alerts[0].labels: more than 1 entries");
        expect_refusal(HEAD ALERT("{\"abcd\":\"1\"}") "]}", &(am_limits){ .max_name = 3 }, -EBADMSG, "\"abcd\" is not a label name");
        expect_refusal(HEAD ALERT("{\"a\":\"12345\"}") "]}", &(am_limits){ .max_value = 4 }, -EBADMSG,
                       "alerts[0].labels.a: longer than 4 bytes");
        am_webhook *w = NULL;
        const char *ok = HEAD ALERT("{\"a\":\"1234\"}") "]} \n";
        CHECK(am_webhook_parse(ok, strlen(ok), &(am_limits){ .max_value = 4 }, &w, NULL) == 0 && w && w->n_alerts == 1,
              "at the limits, with trailing white space: parsed");
        am_webhook_free(w);
}

static void test_body(void) {
        const char *peers[] = { "CN=b", "CN=a", "CN=b" };
        am_incident inc = {
                .id = "42", .class_name = "firewall", .scope = "global", .severity = "critical", .reason = "udp4500-drop",
                .instance = "gw1", .peers = peers, .n_peers = 3, .summary = "UDP 4500 dropped", .evidence = "probe: \"timeout\"",
                .starts_usec = 1796551200123456ull,
        };
        _cleanup_(freep) char *body = NULL;
        size_t len = 0;
        int r;

        r = am_alert_body(&inc, 1, &body, &len);
        CHECK(r == 0, "firing body (%d)", r);
        const char *want =
                "[{\"labels\":{\"alertname\":\"IkehealIncident\",\"incident\":\"42\",\"class\":\"firewall\",\"scope\":\"global\","
                "\"severity\":\"critical\",\"reason\":\"udp4500-drop\",\"instance\":\"gw1\",\"peers\":\"CN=a,CN=b\"},"
                "\"annotations\":{\"summary\":\"UDP 4500 dropped\",\"evidence\":\"probe: \\\"timeout\\\"\"},"
                "\"startsAt\":\"2026-12-06T10:00:00Z\"}]";
        CHECK(body && strcmp(body, want) == 0 && len == strlen(want), "exact body:\n%s", body ? body : "(null)");
        free(body);
        body = NULL;

        inc.ends_usec = 1796551800000000ull;
        inc.n_peers = 0;
        inc.runbook = "firewall-restore";
        inc.generator_url = "http://gw1:9469/incidents/42";
        r = am_alert_body(&inc, 1, &body, &len);
        CHECK(r == 0 && strstr(body, "\"endsAt\":\"2026-12-06T10:10:00Z\"") && !strstr(body, "peers") &&
              strstr(body, "\"runbook\":\"firewall-restore\"") && strstr(body, "\"generatorURL\":\"http://gw1:9469/incidents/42\""),
              "resolved body: %s", body ? body : "(null)");
        free(body);
        body = NULL;

        r = am_alert_body(NULL, 0, &body, &len);
        CHECK(r == 0 && strcmp(body, "[]") == 0, "no incidents: []");
        free(body);
        body = NULL;

        am_incident bad = inc;
        bad.reason = NULL;
        CHECK(am_alert_body(&bad, 1, &body, &len) == -EINVAL && !body, "reason required");
        bad = inc;
        bad.severity = "\xc3";
        CHECK(am_alert_body(&bad, 1, &body, &len) == -EINVAL, "not UTF-8 refused");
        const char *comma[] = { "CN=a,O=x" };
        bad = inc;
        bad.peers = comma;
        bad.n_peers = 1;
        CHECK(am_alert_body(&bad, 1, &body, &len) == -EINVAL, "a peer with ',' refused");
        bad = inc;
        bad.starts_usec = 0;
        CHECK(am_alert_body(&bad, 1, &body, &len) == -EINVAL, "startsAt required");
        char longv[AM_LABEL_VALUE_MAX + 2];
        memset(longv, 'x', sizeof(longv) - 1);
        longv[sizeof(longv) - 1] = '\0';
        bad = inc;
        bad.instance = longv;
        CHECK(am_alert_body(&bad, 1, &body, &len) == -EINVAL, "over-long label refused, not cut");
}

int main(void) {
        test_parse_fixture();
        test_refusals();
        test_body();
        return TAP_END();
}
