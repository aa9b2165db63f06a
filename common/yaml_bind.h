/* Typed binding of a YAML mapping onto a C struct, driven by a const table of fields. Every
 * mismatch is reported with the node's position and what was expected; unknown keys are errors
 * (a misspelt key silently ignored is how a gateway ends up running with a default nobody
 * chose). Binding continues after an error so that one run reports all of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yaml_tree.h"

typedef enum yfield_type {
        YF_STRING,   /* char *            any scalar */
        YF_PATH,     /* char *            absolute path */
        YF_BOOL,     /* bool              true/false/yes/no/on/off */
        YF_U32,      /* uint32_t          decimal, within [min, max] when max != 0 */
        YF_DURATION, /* uint64_t usec     "30s", "5m" … within [min, max] when max != 0 */
        YF_MODE,     /* mode_t            octal "0660", at most 07777 */
        YF_LOGLEVEL, /* int               debug/info/notice/warning/error */
        YF_STRV,     /* char **           sequence of scalars, NULL-terminated */
        YF_SECTION,  /* nested mapping bound with `fields` onto the same base */
        YF_NODE,     /* const ynode *     the node itself, bound later by its owner (the node
                      *                   belongs to the tree; the tree must outlive its use) */
} yfield_type;

typedef struct yfield {
        const char *key;
        yfield_type type;
        size_t offset;
        const struct yfield *fields; /* YF_SECTION; the table ends with { .key = NULL } */
        uint64_t min, max;
} yfield;

/* Bind `map` (a MAP node, or NULL/null meaning "all defaults") onto `base`. String fields
 * replace (and free) what `base` held. Returns 0, or -EINVAL when at least one error was added
 * to `d`. */
int ybind(const ynode *map, const yfield *fields, void *base, ydiag *d);

/* Free every string / string list the table points at in `base` (recursing into sections). */
void ybind_free(const yfield *fields, void *base);

/* Helpers for hand-written binders (runbooks): one scalar → value, error added to d. */
int ybind_scalar_bool(const ynode *n, ydiag *d, bool *ret);
int ybind_scalar_u32(const ynode *n, ydiag *d, uint64_t min, uint64_t max, uint32_t *ret);
int ybind_scalar_duration(const ynode *n, ydiag *d, uint64_t min, uint64_t max, uint64_t *ret);
/* For hand-written binders that walk the tree themselves (runbooks, drills): */
/* Report every key of `map` not in `known` (NULL-terminated), naming the allowed ones; false if
 * there was one. */
bool ybind_keys_known(const ynode *map, const char *const *known, ydiag *d);
/* Is n of type t? Otherwise an error "what: expected …, got …" at n. */
bool ybind_need(const ynode *n, ynode_type t, ydiag *d, const char *what);
/* A key's value node; with `required`, its absence is an error at the mapping. */
const ynode *ybind_field(const ynode *map, const char *key, bool required, ydiag *d);
/* A scalar's copy into *ret (replacing, and freeing, what it held); -EINVAL if n is no scalar. */
int ybind_scalar_dup(const ynode *n, ydiag *d, const char *what, char **ret);

void strv_free(char **v);
bool strv_contains(char *const *v, const char *s);
static inline void strv_freep(char ***p) {
        strv_free(*p);
}
