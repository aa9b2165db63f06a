/* common/swconf.h: strongSwan's settings syntax read as charon reads it. What charon accepts
 * must parse (the config check warns on what does not, and keeps it from becoming "last
 * good"), and what charon refuses must be refused with FILE:LINE:COL. */
#include <errno.h>
#include <string.h>

#include "swconf.h"
#include "tap.h"

static swconf *parse(const char *text, int *ret_r, char *err, size_t errlen) {
        swconf *c = NULL;
        err[0] = 0;
        *ret_r = swconf_parse("t.conf", text, strlen(text), &c, err, errlen);
        return c;
}

static void accepted(const char *what, const char *text, const char *key, const char *want) {
        char err[256];
        int r;
        swconf *c = parse(text, &r, err, sizeof(err));
        const char *got = c ? swconf_get(c, key) : NULL;
        CHECK(r >= 0 && got && strcmp(got, want) == 0, "%s: %s = '%s' (want '%s') %s", what, key, got ? got : "(none)", want,
              err);
        swconf_free(c);
}

static void refused(const char *what, const char *text, const char *where) {
        char err[256];
        int r;
        swconf *c = parse(text, &r, err, sizeof(err));
        CHECK(r == -EBADMSG && strstr(err, where), "%s: refused at %s: %s", what, where, err);
        swconf_free(c);
}

int main(void) {
        accepted("a comment after a value", "a {\n  mark_in = 20  # 0xffffffff by default\n}\n", "a.mark_in", "20");
        accepted("'}' ends a value on its line", "a { b = c }\nd = e\n", "a.b", "c");
        accepted("…and closes the section", "a { b = c }\nd = e\n", "d", "e");
        accepted("'{' on the next line", "plugins {\n  rest_api\n  {\n    uri = http://x/api/\n  }\n}\n",
                 "plugins.rest_api.uri", "http://x/api/");
        accepted("parts joined by one space", "a = b   c\td\n", "a", "b c d");
        accepted("a quoted part and a bare one", "a = \"x  y\" z\n", "a", "x  y z");
        accepted("escapes in a quoted value over lines", "a = \"l1\\nl2\n  more\"\n", "a", "l1\nl2\n  more");
        accepted("an empty value", "a =\nb = 1\n", "a", "");
        accepted("templates over lines", "conns {\n  x : base,\n      other\n  {\n    k = v\n  }\n}\n", "conns.x.k", "v");
        accepted("':' and '/' inside a value", "socket = unix:///run/charon.vici\n", "socket", "unix:///run/charon.vici");
        accepted("a later definition wins", "a = 1\na = 2\n", "a", "2");

        refused("an unterminated quote", "a {\n  b = \"open\n}\n", "t.conf:2:7:");
        refused("an unclosed section", "connections { rw { local_addrs = \n", "not closed");
        refused("'}' with nothing open", "a = 1\n}\n", "t.conf:2:1:");
        refused("a quote where a name belongs", "\"a\" = 1\n", "t.conf:1:1:");
        refused("a name with neither '=' nor '{'", "a {\n  lonely\n}\n", "t.conf:2:3: expected '=' or '{' after 'lonely'");
        return TAP_END();
}
