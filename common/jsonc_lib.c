/* See jsonc_lib.h. One X-macro list names each function the project calls with its kind of
 * failure value, return type, parameters and arguments; it generates the table of pointers, the
 * dl_symbol list and the forwarders, so that the three cannot disagree. Releasing nothing
 * (json_object_put(NULL), json_tokener_free(NULL)) never maps the library. */
#include <errno.h>
#include <stddef.h>

#include <json-c/json.h>

#include "dl_table.h"
#include "jsonc_lib.h"
#include "macro.h"

/* X(kind, return type, name, (parameters), (arguments)); kind is what a forwarder returns when
 * json-c is not loaded: P NULL, I -1, Z 0 (false), V nothing, E an error (never success or
 * continue), S why loading failed; F and D take one parameter x and do nothing (D: return 0) for
 * NULL. */
#define JSONC_LIB_FUNCS(X)                                                                                           \
        X(I, int, json_object_array_add, (struct json_object * o, struct json_object *v), (o, v))                  \
        X(P, struct json_object *, json_object_array_get_idx, (const struct json_object *o, size_t i), (o, i))     \
        X(Z, size_t, json_object_array_length, (const struct json_object *o), (o))                                 \
        X(P, struct json_object *, json_object_get, (struct json_object * o), (o))                                 \
        X(Z, json_bool, json_object_get_boolean, (const struct json_object *o), (o))                               \
        X(Z, int32_t, json_object_get_int, (const struct json_object *o), (o))                                     \
        X(Z, int64_t, json_object_get_int64, (const struct json_object *o), (o))                                   \
        X(P, struct lh_table *, json_object_get_object, (const struct json_object *o), (o))                        \
        X(P, const char *, json_object_get_string, (struct json_object * o), (o))                                  \
        X(Z, int, json_object_get_string_len, (const struct json_object *o), (o))                                  \
        X(Z, int, json_object_is_type, (const struct json_object *o, enum json_type t), (o, t))                    \
        X(P, struct json_object *, json_object_new_array, (void), ())                                               \
        X(P, struct json_object *, json_object_new_boolean, (json_bool b), (b))                                    \
        X(P, struct json_object *, json_object_new_int, (int32_t i), (i))                                          \
        X(P, struct json_object *, json_object_new_int64, (int64_t i), (i))                                        \
        X(P, struct json_object *, json_object_new_object, (void), ())                                              \
        X(P, struct json_object *, json_object_new_string, (const char *s), (s))                                   \
        X(P, struct json_object *, json_object_new_string_len, (const char *s, const int l), (s, l))               \
        X(P, struct json_object *, json_object_new_uint64, (uint64_t i), (i))                                      \
        X(I, int, json_object_object_add, (struct json_object * o, const char *k, struct json_object *v),          \
          (o, k, v))                                                                                                 \
        X(Z, json_bool, json_object_object_get_ex,                                                                  \
          (const struct json_object *o, const char *k, struct json_object **v), (o, k, v))                          \
        X(Z, int, json_object_object_length, (const struct json_object *o), (o))                                   \
        X(D, int, json_object_put, (struct json_object * x), (x))                                                  \
        X(P, const char *, json_object_to_json_string_ext, (struct json_object * o, int f), (o, f))                \
        X(P, const char *, json_object_to_json_string_length, (struct json_object * o, int f, size_t *l),          \
          (o, f, l))                                                                                                 \
        X(S, const char *, json_tokener_error_desc, (enum json_tokener_error e), (e))                              \
        X(F, void, json_tokener_free, (struct json_tokener * x), (x))                                              \
        X(E, enum json_tokener_error, json_tokener_get_error, (struct json_tokener * t), (t))                      \
        X(Z, size_t, json_tokener_get_parse_end, (struct json_tokener * t), (t))                                   \
        X(P, struct json_tokener *, json_tokener_new_ex, (int depth), (depth))                                     \
        X(P, struct json_object *, json_tokener_parse, (const char *s), (s))                                       \
        X(P, struct json_object *, json_tokener_parse_ex, (struct json_tokener * t, const char *s, int l),          \
          (t, s, l))                                                                                                 \
        X(V, void, json_tokener_set_flags, (struct json_tokener * t, int f), (t, f))

static struct {
        int state; /* 0 = not tried, 1 = loaded, <0 = -errno of the failure */
        const char *error;
#define FIELD(kind, type, name, params, args) type(*name) params;
        JSONC_LIB_FUNCS(FIELD)
#undef FIELD
} lib;

#define SYMBOL(kind, type, name, params, args) { #name, offsetof(__typeof__(lib), name) },
static const dl_symbol symbols[] = { JSONC_LIB_FUNCS(SYMBOL) };
#undef SYMBOL

int jsonc_lib_load_as(const char *soname) {
        int r;

        if (lib.state)
                return lib.state > 0 ? 0 : lib.state;
        /* RTLD_NOW (in dl_table). The handle is never closed: objects live until the end. */
        r = dl_table_load(soname, symbols, ELEMENTSOF(symbols), &lib);
        if (r < 0) {
                lib.state = r;
                lib.error = r == -ELIBACC ? "json-c could not be loaded: cannot load " JSONC_SONAME
                                          : "json-c could not be loaded: " JSONC_SONAME " lacks a function ikeheald calls";
                return r;
        }
        lib.state = 1;
        return 0;
}

int jsonc_lib_load(void) {
        return jsonc_lib_load_as(JSONC_SONAME);
}

bool jsonc_lib_loaded(void) {
        return lib.state > 0;
}

const char *jsonc_lib_error(void) {
        return lib.state < 0 ? lib.error : NULL;
}

/* ---- the forwarders ---- */

#define FORWARD_P(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return jsonc_lib_load() < 0 ? NULL : lib.name args;                                                  \
        }
#define FORWARD_I(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return jsonc_lib_load() < 0 ? -1 : lib.name args;                                                    \
        }
#define FORWARD_Z(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return jsonc_lib_load() < 0 ? 0 : lib.name args;                                                     \
        }
#define FORWARD_E(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return jsonc_lib_load() < 0 ? json_tokener_error_parse_unexpected : lib.name args;                             \
        }
#define FORWARD_S(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return jsonc_lib_load() < 0 ? lib.error : lib.name args;                                             \
        }
#define FORWARD_V(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                if (jsonc_lib_load() >= 0)                                                                           \
                        lib.name args;                                                                               \
        }
#define FORWARD_F(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                if (x && jsonc_lib_load() >= 0)                                                                      \
                        lib.name args;                                                                               \
        }
#define FORWARD_D(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return !x || jsonc_lib_load() < 0 ? 0 : lib.name args;                                               \
        }
#define FORWARD(kind, type, name, params, args) FORWARD_##kind(type, name, params, args)
JSONC_LIB_FUNCS(FORWARD)
