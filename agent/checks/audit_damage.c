/* The audit check (kind "audit"): is the agent's own record of what it did whole? When the
 * agent finds its audit log damaged at start (a complete record failing its hash or HMAC, a
 * cut tail, an emptied file), it keeps the log aside as <state_dir>/audit.log.broken-<time>
 * (with its head and rotated files) and begins a new chain. Each such file is a FAIL of its
 * own, class=integrity reason=audit_damaged, until a person has looked at it and moved it out
 * of the state directory: the incident stays open across restarts for exactly as long as the
 * evidence is there, and nothing else closes it. No runbook can repair a record. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/checks/audit_damage.h"
#include "duration.h"
#include "now.h"

#define ASIDE_PREFIX "audit.log.broken-"

/* "audit.log.broken-<digits>" exactly: the log itself, not its .head or rotated files. */
static bool aside_name(const char *name) {
        size_t n = strlen(ASIDE_PREFIX);
        if (strncmp(name, ASIDE_PREFIX, n) != 0 || !name[n])
                return false;
        return strspn(name + n, "0123456789") == strlen(name + n);
}

static int audit_damage_start(void *state, const check_env *env, check_run *run) {
        finding *f = NULL;
        struct dirent **list = NULL;
        const char *first = NULL;
        char age[32];
        unsigned kept = 0;
        int n, r;

        r = finding_new(&f);
        if (r < 0)
                return r;
        n = scandir(env->state_dir, &list, NULL, alphasort);
        if (n < 0) {
                (void) finding_set(f, CHECK_UNKNOWN, "cannot read the state directory %s: %s", env->state_dir,
                                   strerror(errno));
                check_run_done(run, f);
                return 0;
        }
        for (int i = 0; i < n; i++) {
                char path[4200];
                struct stat st;
                if (aside_name(list[i]->d_name) && kept++ < 8) {
                        snprintf(path, sizeof(path), "%s/%s", env->state_dir, list[i]->d_name);
                        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                                uint64_t ago = (uint64_t) (time(NULL) > st.st_mtime ? time(NULL) - st.st_mtime : 0);
                                (void) finding_evidence(f, "%s: kept aside, last written %s ago", path,
                                                        duration_format(ago * USEC_PER_SEC, age, sizeof(age)));
                        }
                        if (!first)
                                (void) finding_fact_set(f, "kept", "%s", path);
                        first = list[i]->d_name;
                }
        }
        if (kept) {
                (void) finding_set(f, CHECK_FAIL, "the audit log was found damaged and kept aside as %s/%s%s: what the "
                                                  "agent did before it cannot be proven; look at it (ikehealctl audit "
                                                  "verify FILE), then move it out of %s",
                                   env->state_dir, first, kept > 1 ? " (and earlier ones)" : "", env->state_dir);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "integrity");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "audit_damaged");
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        } else
                (void) finding_set(f, CHECK_OK, "no damaged audit log kept aside in %s", env->state_dir);
        for (int i = 0; i < n; i++)
                free(list[i]);
        free(list);
        check_run_done(run, f);
        return 0;
}

static void audit_damage_cancel(void *state) {
}

const check_ops audit_damage_check_ops = {
        .kind = "audit",
        .description = "the agent's audit log whole: no damaged log kept aside waiting for a person",
        .start = audit_damage_start,
        .cancel = audit_damage_cancel,
};
