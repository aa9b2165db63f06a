/* A gateway's fleet record: one JSON object with every field, incidents by class (only classes
 * with an active incident), an unknown role and no group said as such. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fleet/fleet_record.h"
#include "tap.h"

static const char *str(json_object *j, const char *k) {
        json_object *v;
        return json_object_object_get_ex(j, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int64_t num(json_object *j, const char *k) {
        json_object *v;
        return json_object_object_get_ex(j, k, &v) ? json_object_get_int64(v) : -1;
}

int main(void) {
        fleet_record r = { .name = "gw-1", .version = "0.1.0", .health = "degraded", .vrrp_role = "MASTER",
                           .vrrp_group = "vg1", .drained = true, .drills_running = 1, .slots_held = 2,
                           .updated_usec = 1796575435758065ULL };
        char *s = NULL;
        json_object *j, *inc, *v;

        r.incidents[FAULT_DAEMON] = 2;
        r.incidents[FAULT_FIREWALL] = 1;
        CHECK(fleet_record_format(&r, &s) == 0 && s, "formatted: %s", s ? s : "");
        j = s ? json_tokener_parse(s) : NULL;
        CHECK(j && json_object_is_type(j, json_type_object), "one JSON object");
        CHECK(j && !strcmp(str(j, "name"), "gw-1") && !strcmp(str(j, "version"), "0.1.0") &&
                      !strcmp(str(j, "health"), "degraded") && !strcmp(str(j, "vrrp_role"), "MASTER") &&
                      !strcmp(str(j, "vrrp_group"), "vg1"),
              "name, version, health, role, group");
        CHECK(j && num(j, "incidents_active") == 3 && json_object_object_get_ex(j, "incidents", &inc) &&
                      json_object_object_length(inc) == 2 && num(inc, fault_class_to_string(FAULT_DAEMON)) == 2 &&
                      num(inc, fault_class_to_string(FAULT_FIREWALL)) == 1,
              "active incidents by class, and their sum");
        CHECK(j && json_object_object_get_ex(j, "drained", &v) && json_object_get_boolean(v) && num(j, "drills_running") == 1 &&
                      num(j, "slots_held") == 2 && num(j, "updated_usec") == 1796575435758065LL,
              "drained, drills, slots, time");
        json_object_put(j);
        free(s);

        fleet_record empty = { .name = "gw-2" };
        s = NULL;
        CHECK(fleet_record_format(&empty, &s) == 0, "a record with nothing known");
        j = s ? json_tokener_parse(s) : NULL;
        CHECK(j && !strcmp(str(j, "vrrp_role"), "unknown") && !strcmp(str(j, "health"), "unknown") &&
                      json_object_object_get_ex(j, "vrrp_group", &v) && v == NULL && num(j, "incidents_active") == 0,
              "unknown role and health, no group (null), no incidents: %s", s ? s : "");
        json_object_put(j);
        free(s);
        return TAP_END();
}
