/* ikehealctl --json on answers built the way the agent builds them, read back with json-c: the
 * schema field, booleans, numbers, RFC 3339 times (0 as null, "_usec" dropped from the key),
 * collections as arrays with their member's name inside, audit records as objects, charon's
 * date, and strings that stay valid JSON whatever bytes the agent sent. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/json.h"
#include "ctl/json_shapes.h"
#include "tap.h"
#include "vici_msg.h"

typedef void (*build_fn)(vici_builder *b);

static json_object *doc(build_fn build, const json_shape *shape, char **ret_text) {
        vici_builder *b = NULL;
        vici_node *n = NULL;
        uint8_t *msg = NULL;
        size_t len = 0, out_len = 0;
        char *out = NULL;
        json_object *j = NULL;
        FILE *f;

        if (vici_builder_new(&b) < 0)
                return NULL;
        build(b);
        if (vici_builder_finish(b, &msg, &len) < 0 || vici_msg_parse(msg, len, &n) < 0) {
                free(msg);
                return NULL;
        }
        f = open_memstream(&out, &out_len);
        if (f) {
                if (json_render(f, n, shape) < 0)
                        printf("json_render failed\n");
                fclose(f);
                j = json_tokener_parse(out);
        }
        free(msg);
        vici_node_free(n);
        *ret_text = out;
        return j;
}

static json_object *at(json_object *o, const char *path) {
        char buf[256], *save = NULL;
        (void) snprintf(buf, sizeof(buf), "%s", path);
        for (char *t = strtok_r(buf, ".", &save); o && t; t = strtok_r(NULL, ".", &save)) {
                if (json_object_is_type(o, json_type_array))
                        o = json_object_array_get_idx(o, (size_t) atoi(t));
                else if (!json_object_object_get_ex(o, t, &o))
                        return NULL;
        }
        return o;
}

static const char *str(json_object *o, const char *path) {
        json_object *v = at(o, path);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void runs(vici_builder *b) {
        vici_builder_add_str(b, "paused", "no");
        vici_builder_begin_section(b, "runs");
        vici_builder_begin_section(b, "12");
        vici_builder_add_str(b, "state", "succeeded");
        vici_builder_add_str(b, "incident", "3");
        vici_builder_add_str(b, "created", "1765026000");
        vici_builder_add_str(b, "note", "bad \xff byte, a tab\there, \x01 and \"quotes\"");
        vici_builder_begin_list(b, "phases");
        vici_builder_add_list_item(b, "1 restore: done");
        vici_builder_end_list(b);
        vici_builder_end_section(b);
        vici_builder_begin_section(b, "9");
        vici_builder_add_str(b, "state", "failed");
        vici_builder_end_section(b);
        vici_builder_end_section(b);
}

static void empty_runs(vici_builder *b) {
        vici_builder_begin_section(b, "runs");
        vici_builder_end_section(b);
}

static void incidents(vici_builder *b) {
        vici_builder_add_str(b, "active", "1");
        vici_builder_begin_section(b, "incidents");
        vici_builder_begin_section(b, "4");
        vici_builder_add_str(b, "id", "4");
        vici_builder_add_str(b, "opened_usec", "1765026000500000");
        vici_builder_add_str(b, "resolved_usec", "0");
        vici_builder_end_section(b);
        vici_builder_end_section(b);
}

static void audit(vici_builder *b) {
        vici_builder_add_str(b, "records", "2");
        vici_builder_begin_list(b, "lines");
        vici_builder_add_list_item(b, "2\t1765026000000000\tdetect\tabcd\tef01\tfirewall: UDP 4500 dropped");
        vici_builder_add_list_item(b, "not a record");
        vici_builder_end_list(b);
}

static void status(vici_builder *b) {
        vici_builder_add_str(b, "version", "0.1.0");
        vici_builder_add_str(b, "pid", "42");
        vici_builder_add_str(b, "started", "1765026000");
        vici_builder_begin_section(b, "charon");
        vici_builder_add_str(b, "state", "connected");
        vici_builder_add_str(b, "since", "Dec 06 13:00:00 2026");
        vici_builder_end_section(b);
}

int main(void) {
        char *t = NULL;
        json_object *j;

        setenv("TZ", "UTC", 1);
        j = doc(runs, &json_shape_runs, &t);
        CHECK(j, "runs: valid JSON:\n%s", t);
        CHECK(json_object_get_int(at(j, "schema")) == 1, "schema 1");
        CHECK(json_object_is_type(at(j, "paused"), json_type_boolean) && !json_object_get_boolean(at(j, "paused")),
              "\"no\" is false");
        CHECK(json_object_is_type(at(j, "runs"), json_type_array) && json_object_array_length(at(j, "runs")) == 2,
              "runs: an array of 2");
        CHECK(json_object_get_int(at(j, "runs.0.id")) == 12 && json_object_is_type(at(j, "runs.0.id"), json_type_int) &&
                      json_object_get_int(at(j, "runs.1.id")) == 9,
              "the agent's order, each run's id inside as a number");
        CHECK(json_object_get_int(at(j, "runs.0.incident")) == 3, "incident: a number");
        CHECK(str(j, "runs.0.created") && strcmp(str(j, "runs.0.created"), "2025-12-06T13:00:00Z") == 0,
              "created: RFC 3339 (%s)", str(j, "runs.0.created"));
        CHECK(str(j, "runs.0.note") && strstr(str(j, "runs.0.note"), "bad \xef\xbf\xbd byte, a tab\there, \x01 and \"quotes\""),
              "a bad byte becomes U+FFFD, control characters and quotes survive the round trip");
        CHECK(str(j, "runs.0.phases.0") && strcmp(str(j, "runs.0.phases.0"), "1 restore: done") == 0, "a list stays an array of strings");
        json_object_put(j);
        free(t);

        j = doc(empty_runs, &json_shape_runs, &t);
        CHECK(j && json_object_is_type(at(j, "runs"), json_type_array) && json_object_array_length(at(j, "runs")) == 0,
              "no runs: an empty array:\n%s", t);
        json_object_put(j);
        free(t);

        j = doc(incidents, &json_shape_incidents, &t);
        CHECK(j && json_object_get_int(at(j, "active")) == 1 && json_object_get_int(at(j, "incidents.0.id")) == 4,
              "incidents: the id once, a number:\n%s", t);
        CHECK(str(j, "incidents.0.opened") && strcmp(str(j, "incidents.0.opened"), "2025-12-06T13:00:00.500000Z") == 0 &&
                      !at(j, "incidents.0.opened_usec"),
              "opened_usec → opened, RFC 3339");
        {
                json_object *v = (json_object *) 1;
                CHECK(json_object_object_get_ex(at(j, "incidents.0"), "resolved", &v) && v == NULL,
                      "never resolved: null (json-c's NULL)");
        }
        json_object_put(j);
        free(t);

        j = doc(audit, &json_shape_audit, &t);
        CHECK(j && json_object_get_int(at(j, "lines.0.seq")) == 2 && str(j, "lines.0.kind") &&
                      strcmp(str(j, "lines.0.kind"), "detect") == 0 && str(j, "lines.0.time") &&
                      strcmp(str(j, "lines.0.time"), "2025-12-06T13:00:00.000000Z") == 0 && str(j, "lines.0.text") &&
                      strcmp(str(j, "lines.0.text"), "firewall: UDP 4500 dropped") == 0 && str(j, "lines.0.mac"),
              "an audit record as an object:\n%s", t);
        CHECK(str(j, "lines.1") && strcmp(str(j, "lines.1"), "not a record") == 0, "a line that is no record stays a string");
        json_object_put(j);
        free(t);

        j = doc(status, &json_shape_status, &t);
        CHECK(j && json_object_get_int(at(j, "pid")) == 42 && str(j, "version") && strcmp(str(j, "version"), "0.1.0") == 0,
              "status: pid a number, version a string:\n%s", t);
        CHECK(str(j, "charon.since") && strcmp(str(j, "charon.since"), "2026-12-06T13:00:00Z") == 0,
              "charon's own date as RFC 3339 (%s)", str(j, "charon.since"));
        json_object_put(j);
        free(t);
        return TAP_END();
}
