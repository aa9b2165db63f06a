/* See daemon_state.h: what the daemon check's pieces (daemon.c, daemon_verdict.c,
 * daemon_unit.c, daemon_history.c) all ask of its state. */
#include <string.h>

#include "agent/checks/daemon_state.h"
#include "vici.h"

const char *daemon_unit_name(const daemon_state *s) {
        const char *u = s->unit ? s->unit : s->env ? s->env->charon.unit : NULL;
        return u && *u && strcmp(u, "none") != 0 ? u : NULL;
}

bool daemon_busy(const daemon_state *s) {
        return s->ps_error == 0 && (s->ps.state == 'R' || s->ps.cpu_ticks != s->cpu_ticks_asked);
}

bool daemon_overdue(const daemon_state *s, uint64_t now) {
        uint64_t rx = s->env && s->env->vici ? vici_client_last_progress(s->env->vici) : 0;
        if (!s->unanswered_since || now - s->unanswered_since <= s->answer_within_usec)
                return false;
        if (rx && now - rx <= s->answer_within_usec)
                return false;
        /* a charon that works while it owes the answer — reloading credentials on a loaded
         * machine — is slow, not hung: a restart would drop every SA of a healthy daemon. Up
         * to busy_within: a thread spinning while the one that answers is stuck is hung too. */
        return !(daemon_busy(s) && now - s->unanswered_since <= s->busy_within_usec);
}

bool daemon_alive(const daemon_state *s) {
        return s->watched_pid && s->ps_error == 0 && !proc_stat_exited(&s->ps) && !s->pid_exited;
}
