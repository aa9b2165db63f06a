/* A gateway's record (agent/fleet/fleet_record.h), rendered with json-c. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fleet/fleet_record.h"
#include "jsonc_lib.h"

int fleet_record_format(const fleet_record *r, char **ret) {
        json_object *j, *inc;
        uint32_t active = 0;
        char *s;
        int k = jsonc_lib_load(); /* its reason: jsonc_lib_error() */

        if (k < 0)
                return k;
        j = json_object_new_object();
        inc = json_object_new_object();
        if (!j || !inc) {
                json_object_put(j);
                json_object_put(inc);
                return -ENOMEM;
        }
        for (int c = 0; c < _FAULT_CLASS_MAX; c++)
                if (r->incidents[c]) {
                        json_object_object_add(inc, fault_class_to_string((fault_class) c), json_object_new_int64(r->incidents[c]));
                        active += r->incidents[c];
                }
        json_object_object_add(j, "name", json_object_new_string(r->name ? r->name : ""));
        json_object_object_add(j, "version", json_object_new_string(r->version ? r->version : ""));
        json_object_object_add(j, "health", json_object_new_string(r->health ? r->health : "unknown"));
        json_object_object_add(j, "incidents_active", json_object_new_int64(active));
        json_object_object_add(j, "incidents", inc);
        json_object_object_add(j, "vrrp_role", json_object_new_string(r->vrrp_role && r->vrrp_role[0] ? r->vrrp_role : "unknown"));
        json_object_object_add(j, "vrrp_group", r->vrrp_group ? json_object_new_string(r->vrrp_group) : NULL);
        json_object_object_add(j, "drained", json_object_new_boolean(r->drained));
        json_object_object_add(j, "drills_running", json_object_new_int64(r->drills_running));
        json_object_object_add(j, "slots_held", json_object_new_int64(r->slots_held));
        json_object_object_add(j, "updated_usec", json_object_new_uint64(r->updated_usec));
        s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
