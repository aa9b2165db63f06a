/* See json_doc.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_doc.h"
#include "jsonc_lib.h"

static void locate(const char *data, size_t off, unsigned *line, unsigned *col) {
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < off; i++) {
                if (data[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else if (((unsigned char) data[i] & 0xc0) != 0x80)
                        (*col)++;
        }
}

int json_doc_parse(const char *data, size_t len, int max_depth, json_object **ret, char *err, size_t errlen) {
        json_tokener *tok;
        json_object *root;
        size_t end;
        int r;

        if (len > INT32_MAX)
                return -EMSGSIZE;
        r = jsonc_lib_load();
        if (r < 0) {
                (void) snprintf(err, errlen, "%s", jsonc_lib_error());
                return r;
        }
        tok = json_tokener_new_ex(max_depth);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, data, (int) len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (root && e == json_tokener_success) /* json-c stops at the end of the value */
                while (end < len && data[end] && strchr(" \t\r\n", data[end]))
                        end++;
        if (!root || end != len) {
                unsigned line, col;
                locate(data, end, &line, &col);
                (void) snprintf(err, errlen, "%u:%u: %s", line, col,
                                e == json_tokener_continue  ? "unexpected end of data"
                                : e == json_tokener_success ? "data after the JSON value"
                                                            : json_tokener_error_desc(e));
                json_object_put(root);
                return -EBADMSG;
        }
        *ret = root;
        return 0;
}
