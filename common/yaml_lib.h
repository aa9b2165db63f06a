/* libyaml, loaded while something is parsed rather than linked: ikeheald reads YAML only when
 * it loads or reloads its configuration, runbooks and drills, and a linked library stays mapped
 * (and resident) for the life of the process. yaml_lib_get() loads it, or takes one more
 * reference; yaml_lib_put() drops one, and the last unloads it. Does not log. */
#pragma once

#include <yaml.h>

typedef struct yaml_lib {
        int (*parser_initialize)(yaml_parser_t *parser);
        void (*parser_delete)(yaml_parser_t *parser);
        void (*parser_set_input_string)(yaml_parser_t *parser, const unsigned char *input, size_t size);
        int (*parser_parse)(yaml_parser_t *parser, yaml_event_t *event);
        void (*event_delete)(yaml_event_t *event);
} yaml_lib;

#define YAML_SONAME "libyaml-0.so.2"

/* The functions, valid until the matching yaml_lib_put(). -ELIBACC: YAML_SONAME cannot be
 * loaded; -ELIBBAD: it lacks one of them. */
int yaml_lib_get(const yaml_lib **ret);
void yaml_lib_put(void);
