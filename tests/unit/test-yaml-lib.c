/* libyaml is loaded only while YAML is parsed (common/yaml_lib.h): mapped during a parse or
 * while a caller holds it, unmapped after, and a parse still reads and reports as before. */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "yaml_lib.h"
#include "yaml_tree.h"

static bool mapped(void) {
        char line[512];
        bool found = false;
        FILE *f = fopen("/proc/self/maps", "re");

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "libyaml") != NULL;
        fclose(f);
        return found;
}

int main(void) {
        static const char good[] = "a: 1\nb: [x, y]\n";
        static const char bad[] = "a: [1\n";
        const yaml_lib *y = NULL;
        ynode *root = NULL;
        ydiag d;

        CHECK(!mapped(), "libyaml is not mapped at start (not linked)");
        ydiag_init(&d, "t.yaml");
        CHECK(ytree_parse_buffer(good, sizeof(good) - 1, &d, &root) == 0 && root &&
                      ynode_get(root, "b") && ynode_get(root, "b")->n_items == 2,
              "a document parses");
        CHECK(!mapped(), "and libyaml is unmapped after the parse");
        root = ynode_free(root);
        CHECK(ytree_parse_buffer(bad, sizeof(bad) - 1, &d, &root) < 0 && !root && d.n_msgs > 0,
              "a syntax error is reported with its position: %s", d.n_msgs ? d.msgs[0] : "(none)");
        CHECK(!mapped(), "unmapped after a failed parse too");
        ydiag_done(&d);

        CHECK(yaml_lib_get(&y) == 0 && y && mapped(), "held: mapped");
        ydiag_init(&d, "t.yaml");
        CHECK(ytree_parse_buffer(good, sizeof(good) - 1, &d, &root) == 0 && root && mapped(),
              "a parse while held leaves it mapped");
        root = ynode_free(root);
        ydiag_done(&d);
        yaml_lib_put();
        CHECK(!mapped(), "released: unmapped");
        yaml_lib_put();
        CHECK(!mapped(), "one put too many is harmless");
        return TAP_END();
}
