/* json-c loaded on first use (common/jsonc_lib.h): this binary is linked the way ikeheald is
 * (without json-c), so json-c may not be in the process until a json_* function is called —
 * releasing nothing does not count. A library that cannot be loaded, or lacks the functions, is
 * refused as a whole with the reason; every forwarder then returns its function's failure value,
 * and a JSON document is refused with that reason. The real library then loads, and real calls
 * through the forwarders parse, walk (json_object_object_foreach) and write JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/fleet/fleet_record.h"
#include "am_alert_body.h"
#include "json_doc.h"
#include "jsonc_lib.h"
#include "lib_test.h"
#include "tap.h"

static void forwarders_fail_cleanly(int err) {
        json_object *o = NULL;
        char why[200] = "";

        CHECK(!json_object_new_object() && !json_object_new_string("x") && !json_tokener_parse("{}"),
              "constructors and the parser: NULL");
        CHECK(json_object_array_add(NULL, NULL) == -1 && json_object_object_add(NULL, "k", NULL) == -1,
              "an int result: -1");
        CHECK(!json_object_object_get_ex(NULL, "k", &o) && json_object_array_length(NULL) == 0, "a value: 0 or false");
        CHECK(json_tokener_get_error(NULL) != json_tokener_success &&
                      json_tokener_get_error(NULL) != json_tokener_continue,
              "a tokener's error: an error");
        CHECK(json_tokener_error_desc(json_tokener_error_depth) == jsonc_lib_error(), "its description: the reason");
        CHECK(json_doc_parse("{}", 2, 8, &o, why, sizeof(why)) == err && !o && strcmp(why, jsonc_lib_error()) == 0,
              "a document is refused with the reason: %s", why);
        /* the writers say that json-c is missing, not that memory ran out */
        {
                am_incident inc = { .id = "1", .class_name = "firewall", .scope = "global", .severity = "fail",
                                    .reason = "r", .starts_usec = 1 };
                fleet_record rec = { .name = "gw", .version = "1", .health = "healthy" };
                char *body = NULL;
                CHECK(am_alert_body(&inc, 1, &body, NULL) == err && !body, "an Alertmanager body: %s", strerror(-err));
                CHECK(fleet_record_format(&rec, &body) == err && !body, "a fleet record: %s", strerror(-err));
        }
}

static void refused_missing(void) {
        CHECK(json_object_put(NULL) == 0, "releasing nothing");
        json_tokener_free(NULL);
        CHECK(!lib_mapped("/libjson-c.so") && !jsonc_lib_loaded() && !jsonc_lib_error(), "not loaded at start, nor by releasing nothing");
        CHECK(jsonc_lib_load_as("libjson-c-absent.so.5") == -ELIBACC, "a missing library: -ELIBACC");
        CHECK(jsonc_lib_error() && strcmp(jsonc_lib_error(), "json-c could not be loaded: cannot load " JSONC_SONAME) == 0,
              "refused, the reason kept: %s", jsonc_lib_error() ?: "(none)");
        CHECK(jsonc_lib_load() == -ELIBACC, "later loads return the first result");
        forwarders_fail_cleanly(-ELIBACC);
        CHECK(!lib_mapped("/libjson-c.so"), "nothing of json-c in the process");
}

static void refused_incomplete(void) {
        CHECK(jsonc_lib_load_as("libc.so.6") == -ELIBBAD, "a library without the functions: -ELIBBAD");
        CHECK(jsonc_lib_error() && strstr(jsonc_lib_error(), "lacks a function"), "refused, the reason kept: %s",
              jsonc_lib_error() ?: "(none)");
        forwarders_fail_cleanly(-ELIBBAD);
}

static void real_library(void) {
        static const char text[] = "{\"a\": [1, true, \"x\"], \"b\": {\"c\": 9007199254740993}}";
        json_object *doc = NULL, *v = NULL, *out;
        char why[200] = "";
        int keys = 0;

        CHECK(json_doc_parse(text, sizeof(text) - 1, 8, &doc, why, sizeof(why)) == 0 && doc,
              "the real library loads on the first parse: %s", why);
        CHECK(jsonc_lib_loaded() && lib_mapped("/libjson-c.so"), "now in the process");
        if (!doc)
                return;
        json_object_object_foreach(doc, k, val) {
                (void) val;
                keys += strcmp(k, "a") == 0 || strcmp(k, "b") == 0;
        }
        CHECK(keys == 2 && json_object_object_length(doc) == 2, "json_object_object_foreach walks its members");
        CHECK(json_object_object_get_ex(doc, "a", &v) && json_object_array_length(v) == 3 &&
                      json_object_get_boolean(json_object_array_get_idx(v, 1)) &&
                      strcmp(json_object_get_string(json_object_array_get_idx(v, 2)) ?: "", "x") == 0,
              "an array's members read");
        CHECK(json_object_object_get_ex(doc, "b", &v) && json_object_object_get_ex(v, "c", &v) &&
                      json_object_get_int64(v) == 9007199254740993LL,
              "a 64-bit integer read");
        out = json_object_new_object();
        CHECK(out && json_object_object_add(out, "n", json_object_new_uint64(7)) == 0 &&
                      json_object_object_add(out, "s", json_object_new_string_len("ab", 2)) == 0 &&
                      strcmp(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN), "{\"n\":7,\"s\":\"ab\"}") == 0,
              "an object written: %s", out ? json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN) : "(none)");
        json_object_put(out);
        CHECK(json_doc_parse("{\"a\":", 5, 8, &v, why, sizeof(why)) == -EBADMSG && strstr(why, "1:"),
              "a bad document refused with its place: %s", why);
        json_object_put(doc);
}

int main(void) {
        CHECK(lib_in_child(refused_missing) == 0, "a missing json-c: refused, every forwarder fails cleanly");
        CHECK(lib_in_child(refused_incomplete) == 0, "an incomplete library: refused");
        CHECK(lib_in_child(real_library) == 0, "the real library: loaded on first use, real calls work");
        return TAP_END();
}
