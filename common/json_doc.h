/* One JSON document from outside (a webhook body, an etcd reply), read with json-c the strict
 * way: a depth limit, strict syntax, valid UTF-8, and the whole input one value (blanks may
 * follow it; a NUL is not a blank). A refusal says where as LINE:COL (from 1; columns count
 * characters, not UTF-8 continuation bytes). Does not log. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

/* The value of data[0..len) into *ret (the caller puts it), or -EBADMSG with "LINE:COL: what"
 * in err, -ENOMEM, -EMSGSIZE past INT32_MAX bytes; -ELIBACC/-ELIBBAD with the reason in err when
 * json-c cannot be loaded. */
int json_doc_parse(const char *data, size_t len, int max_depth, json_object **ret, char *err, size_t errlen);
