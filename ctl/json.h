/* `ikehealctl --json`: a decoded VICI answer as one JSON object, built with json-c. Every
 * document starts with "schema": JSON_SCHEMA_VERSION (raised when a shape changes in a way a
 * script would notice). Sections become objects, lists arrays of strings, values strings,
 * with these exceptions, given per command by its shape:
 *   - "yes" and "no" are the booleans true and false (the agent's only booleans);
 *   - `numbers`: plain decimal integers become JSON numbers;
 *   - `times_sec`, `times_usec`: seconds or µs since the epoch become RFC 3339 strings in UTC
 *     ("2026-12-06T13:00:00Z"; µs ones with six decimals, "…13:00:00.500000Z"), 0 becomes
 *     null, and a "_usec" suffix is dropped from the key;
 *     `times_charon`: charon's own date format, the same way;
 *   - `collections`: sections whose members are named by the agent (ids, check names) become
 *     arrays in the agent's order, each member an object with its name inside as `key`;
 *   - `audit_lines`: lists of audit records become objects (seq, time, kind, text, prev, mac).
 * Paths are dotted VICI paths; a "*" segment matches any one name ("runs.*.created").
 * Strings are valid UTF-8 (a bad byte becomes U+FFFD). The shapes are documented in
 * ikehealctl(8). */
#pragma once

#include <stdio.h>

#include "vici_msg.h"

#define JSON_SCHEMA_VERSION 1

typedef struct json_collection {
        const char *path; /* "runs", "drills", "*.history" */
        const char *key;  /* the member's name as this field ("id", "name") */
} json_collection;

typedef struct json_shape {
        const char *const *numbers;
        const char *const *times_sec;
        const char *const *times_usec;
        const char *const *times_charon;
        const char *const *audit_lines;
        const json_collection *collections; /* ends with { NULL } */
} json_shape;

/* Print the document for `root` (NULL: only the schema) with a final newline. `shape` NULL:
 * every value a string. 0, -ENOMEM, -EIO, or -ELIBACC/-ELIBBAD (json-c cannot be loaded). */
int json_render(FILE *f, const vici_node *root, const json_shape *shape);
/* What a json_render() failure r says to a user: json-c's reason when it could not be loaded
 * (-ELIBACC, -ELIBBAD), else strerror(-r). */
const char *json_render_error(int r);
/* Length of the valid UTF-8 sequence at p (at most n bytes, n > 0), or 0 if invalid: overlong
 * forms, surrogates and code points above U+10FFFF are invalid. */
size_t json_utf8_char_len(const void *p, size_t n);
