/* json-c, loaded the first time ikeheald reads or writes JSON rather than when it starts.
 *
 * Why: only webhooks, Alertmanager, the HTTP endpoints, the fleet and etcd speak JSON; an agent
 * configured for none of them never calls json-c, yet being linked costs it the library's
 * mapping and relocation at exec (about 80 KiB of resident memory). So ikeheald is not linked
 * with it: it defines the json_* functions the project calls as thin forwarders
 * (json_object_object_foreach expands to json_object_get_object and json-c's inline lh_*
 * accessors, so it is covered), and the first call dlopen()s libjson-c.so.5 and resolves them
 * all at once. Callers use json-c's ordinary API (the headers stay) and need not know. The
 * notifier loads it when webhooks or Alertmanager are configured (as it sets up libcurl), so that
 * a json-c that cannot be loaded is logged then, not at the first incident.
 *
 * A library that cannot be loaded or lacks a function is refused as a whole: every forwarder then
 * returns the function's own failure value (NULL for an object or string, -1 for an int result,
 * 0 or false for a value, a parse error for a tokener's error and the reason for its
 * description, nothing for void): a caller sees what a failing json-c would give it, and
 * jsonc_lib_error() says why.
 * Calling another json_* function means adding its line to JSONC_LIB_FUNCS in jsonc_lib.c (the
 * link fails until then). */
#pragma once

#include <stdbool.h>

#define JSONC_SONAME "libjson-c.so.5"

/* Load and resolve json-c once; later calls return the first result. 0, or -ELIBACC (cannot be
 * loaded), -ELIBBAD (a function missing). */
int jsonc_lib_load(void);
/* The same from another file name, for tests. Only the first load of a process counts. */
int jsonc_lib_load_as(const char *soname);
/* Whether json-c is in the process (loaded successfully). */
bool jsonc_lib_loaded(void);
/* Why loading failed ("json-c could not be loaded: …", a static string), or NULL if it did not
 * fail or was not tried. */
const char *jsonc_lib_error(void);
