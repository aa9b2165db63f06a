/* See yaml_lib.h. The references are counted, so nested parses (and a caller that keeps the
 * library for a series of parses) load it once. */
#include <errno.h>
#include <stddef.h>

#include "dl_table.h"
#include "macro.h"
#include "yaml_lib.h"

static yaml_lib lib;
static void *handle;
static unsigned refs;

static const dl_symbol symbols[] = {
#define SYM(field, name) { name, offsetof(yaml_lib, field) }
        SYM(parser_initialize, "yaml_parser_initialize"),
        SYM(parser_delete, "yaml_parser_delete"),
        SYM(parser_set_input_string, "yaml_parser_set_input_string"),
        SYM(parser_parse, "yaml_parser_parse"),
        SYM(event_delete, "yaml_event_delete"),
#undef SYM
};

int yaml_lib_get(const yaml_lib **ret) {
        if (refs == 0) {
                int r = dl_table_open(YAML_SONAME, symbols, ELEMENTSOF(symbols), &lib, &handle);
                if (r < 0)
                        return r;
        }
        refs++;
        *ret = &lib;
        return 0;
}

void yaml_lib_put(void) {
        if (refs == 0 || --refs > 0)
                return;
        dl_table_close(handle);
        handle = NULL;
        lib = (yaml_lib){};
}
