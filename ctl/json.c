/* See json.h. Output is pretty-printed with two-space indents, keys in VICI's order. Duplicate
 * keys are passed through as they came (VICI allows them; the agent does not send them). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ctl/json.h"

#define JSON_PATH_MAX 512

size_t json_utf8_char_len(const void *p, size_t n) {
        const unsigned char *s = p;
        uint32_t cp;
        size_t len;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3;
                cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4;
                cp = s[0] & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

void json_render_string(FILE *f, const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *) str;

        fputc('"', f);
        for (size_t i = 0; i < len;) {
                unsigned char ch = s[i];
                size_t n;

                switch (ch) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                case '\b':
                        fputs("\\b", f);
                        break;
                case '\f':
                        fputs("\\f", f);
                        break;
                default:
                        if (ch < 0x20 || ch == 0x7f) {
                                fprintf(f, "\\u%04x", ch);
                                break;
                        }
                        n = json_utf8_char_len(s + i, len - i);
                        if (n == 0) {
                                fputs("\\ufffd", f);
                                break;
                        }
                        fwrite(s + i, 1, n, f);
                        i += n;
                        continue;
                }
                i++;
        }
        fputc('"', f);
}

static bool is_decimal(const char *s, size_t len) {
        size_t i = 0;

        if (len > 0 && s[0] == '-')
                i++;
        if (i == len || len - i > 19)
                return false;
        /* JSON forbids leading zeros */
        if (s[i] == '0' && len - i > 1)
                return false;
        for (; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* Does the dotted path match the pattern, where a "*" segment matches any one segment
 * (section names chosen by the agent: check names, incident ids)? */
static bool path_match(const char *path, const char *pat) {
        while (*pat) {
                if (pat[0] == '*' && (pat[1] == '.' || pat[1] == 0)) {
                        const char *dot = strchr(path, '.');
                        if (!*path)
                                return false;
                        path = dot ? dot : path + strlen(path);
                        pat++;
                } else {
                        if (*path != *pat)
                                return false;
                        path++;
                        pat++;
                        continue;
                }
        }
        return *path == 0;
}

static bool path_listed(const char *path, const char *const *numeric) {
        for (size_t i = 0; numeric && numeric[i]; i++)
                if (path_match(path, numeric[i]))
                        return true;
        return false;
}

static void indent(FILE *f, unsigned depth) {
        for (unsigned i = 0; i < depth; i++)
                fputs("  ", f);
}

static void json_render_section(FILE *f, const vici_node *sec, char *path, size_t plen,
                                const char *const *numeric, unsigned depth) {
        bool first = true;

        fputc('{', f);
        for (const vici_node *n = sec->child; n; n = n->next) {
                const char *name = n->name ? n->name : "";
                char *npath = NULL;
                size_t nlen = plen;

                /* extend the dotted path in place; a path too long to track is just not numeric */
                if (path && plen + 1 + strlen(name) < JSON_PATH_MAX) {
                        if (plen)
                                path[nlen++] = '.';
                        strcpy(path + nlen, name);
                        nlen += strlen(name);
                        npath = path;
                }

                fputs(first ? "\n" : ",\n", f);
                first = false;
                indent(f, depth + 1);
                json_render_string(f, name, strlen(name));
                fputs(": ", f);
                switch (n->type) {
                case VICI_NODE_SECTION:
                        json_render_section(f, n, npath, nlen, numeric, depth + 1);
                        break;
                case VICI_NODE_LIST: {
                        bool first_item = true;
                        fputc('[', f);
                        for (const vici_node *it = n->child; it; it = it->next) {
                                fputs(first_item ? "\n" : ",\n", f);
                                first_item = false;
                                indent(f, depth + 2);
                                json_render_string(f, it->value ? it->value : "", it->len);
                        }
                        if (!first_item) {
                                fputc('\n', f);
                                indent(f, depth + 1);
                        }
                        fputc(']', f);
                        break;
                }
                case VICI_NODE_VALUE:
                        if (npath && path_listed(npath, numeric) && is_decimal(n->value, n->len))
                                fwrite(n->value, 1, n->len, f);
                        else
                                json_render_string(f, n->value ? n->value : "", n->len);
                        break;
                }
                if (path)
                        path[plen] = 0;
        }
        if (!first) {
                fputc('\n', f);
                indent(f, depth);
        }
        fputc('}', f);
}

void json_render(FILE *f, const vici_node *root, const char *const *numeric) {
        char path[JSON_PATH_MAX] = "";

        if (!root)
                fputs("{}", f);
        else
                json_render_section(f, root, path, 0, numeric, 0);
        fputc('\n', f);
}
