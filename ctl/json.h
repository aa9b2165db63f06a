/* JSON rendering of a decoded VICI body for `ikehealctl --json`: sections become objects,
 * lists arrays, values strings (always valid UTF-8: bad bytes become U+FFFD). VICI has only
 * strings; a value whose dotted path is listed in `numeric` and that is a plain decimal integer
 * is written as a JSON number instead. */
#pragma once

#include <stdio.h>

#include "vici_msg.h"

/* `numeric`: NULL-terminated dotted paths ("ikesas.total"; a "*" segment matches any one
 * name: "checks.*.runs"), or NULL. Ends with a newline. */
void json_render(FILE *f, const vici_node *root, const char *const *numeric);
/* Length of the valid UTF-8 sequence at p (at most n bytes, n > 0), or 0 if invalid: overlong
 * forms, surrogates and code points above U+10FFFF are invalid. */
size_t json_utf8_char_len(const void *p, size_t n);
/* One JSON string literal with quotes, from `len` raw bytes. */
void json_render_string(FILE *f, const char *s, size_t len);
