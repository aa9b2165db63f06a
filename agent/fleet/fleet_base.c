/* What every file of the fleet uses (agent/fleet/fleet_internal.h): the audit record and whether
 * the lease is known to be alive. */
#include <stdarg.h>
#include <stdio.h>

#include "agent/fleet/fleet_internal.h"
#include "now.h"

void fleet_audit(fleet *f, const char *kind, const char *fmt, ...) {
        char text[768];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (f->audit)
                f->audit(f->audit_userdata, kind, text);
}

bool fleet_lease_alive(const fleet *f) {
        return f->enabled && f->lease != 0 && mono_usec() < f->lease_alive_until;
}
