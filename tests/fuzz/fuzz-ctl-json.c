/* Fuzz what ikehealctl does with an agent's answer: the input is a VICI message body as read
 * from the control socket; whatever decodes is rendered as JSON with every command's shape (the
 * numbers, times, charon dates, audit records and collections converted from the agent's
 * strings) and with every text layout. Nothing may crash, and the JSON must parse back. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl/commands.h"
#include "ctl/json_shapes.h"
#include "ctl/render.h"
#include "vici_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const json_shape *const shapes[] = {
        &json_shape_plain,  &json_shape_status,   &json_shape_checks, &json_shape_incidents,
        &json_shape_diagnose, &json_shape_audit, &json_shape_plan,   &json_shape_runs,
        &json_shape_measures, &json_shape_run,   &json_shape_drill,  &json_shape_drills,
};

static void (*const texts[])(FILE *, const vici_node *) = {
        render_status, render_reload, render_checks, render_incidents, render_diagnose, render_audit,
        render_plan,   render_pending, render_measures, render_result, render_drills, render_tree,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FILE *null;
        vici_node *n = NULL;

        if (!null && !(null = fopen("/dev/null", "w")))
                abort();
        if (vici_msg_parse(data, size, &n) < 0)
                return 0;
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
                char *out = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&out, &len);
                if (!f)
                        abort();
                if (json_render(f, n, shapes[i]) < 0)
                        abort();
                fclose(f);
                json_object *j = json_tokener_parse(out);
                if (!j)
                        abort(); /* what we print must be JSON */
                json_object_put(j);
                free(out);
        }
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
                texts[i](null, n);
        vici_node_free(n);
        return 0;
}
