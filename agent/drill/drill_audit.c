/* The drill runner's audit records (agent/drill/drill_internal.h): one line each, to the trail
 * the runner was given. */
#include <stdarg.h>
#include <stdio.h>

#include "agent/drill/drill_internal.h"

void drill_audit(drill_runner *dr, const char *kind, const char *fmt, ...) {
        char text[2048];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (dr->audit)
                dr->audit(dr->audit_userdata, kind, text);
}
