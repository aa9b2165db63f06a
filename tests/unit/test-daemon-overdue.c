/* The daemon check's "no answer" (agent/checks/daemon_state.c): a liveness request unanswered
 * past answer_within, with nothing else from charon meanwhile, is overdue — unless charon works
 * while it owes the answer (its CPU time moved since it was asked, or it is runnable): busy, not
 * hung, up to busy_within. A stopped or idle charon that owes an answer is overdue at once. */
#include "agent/checks/daemon_state.h"
#include "duration.h"
#include "tap.h"

#define NOW (1000 * USEC_PER_SEC)

static daemon_state waiting(uint64_t asked_ago, char state, uint64_t ticks_now) {
        return (daemon_state){ .answer_within_usec = 2 * USEC_PER_SEC, .busy_within_usec = 15 * USEC_PER_SEC,
                               .unanswered_since = NOW - asked_ago, .cpu_ticks_asked = 100,
                               .ps = { .pid = 42, .state = state, .cpu_ticks = ticks_now } };
}

int main(void) {
        daemon_state s = waiting(USEC_PER_SEC, 'S', 100);
        CHECK(!daemon_overdue(&s, NOW), "asked 1 s ago: not overdue yet");
        s = waiting(3 * USEC_PER_SEC, 'S', 100);
        CHECK(!daemon_busy(&s) && daemon_overdue(&s, NOW), "3 s, sleeping, no CPU used since: overdue (hung)");
        s = waiting(3 * USEC_PER_SEC, 'S', 104);
        CHECK(daemon_busy(&s) && !daemon_overdue(&s, NOW), "3 s, but CPU used since it was asked: busy, not overdue");
        s = waiting(3 * USEC_PER_SEC, 'R', 100);
        CHECK(daemon_busy(&s) && !daemon_overdue(&s, NOW), "3 s, runnable (waits for a CPU): busy, not overdue");
        s = waiting(16 * USEC_PER_SEC, 'R', 500);
        CHECK(daemon_overdue(&s, NOW), "16 s, still working: past busy_within, overdue whatever it does");
        s = waiting(3 * USEC_PER_SEC, 'S', 104);
        s.ps_error = -3; /* ESRCH: not read */
        CHECK(!daemon_busy(&s) && daemon_overdue(&s, NOW), "its /proc unreadable: nothing says it works, overdue");
        s = waiting(3 * USEC_PER_SEC, 'S', 104);
        s.busy_within_usec = 0;
        CHECK(daemon_overdue(&s, NOW), "busy_within 0: the old rule, overdue after answer_within");
        s = (daemon_state){ .answer_within_usec = 2 * USEC_PER_SEC };
        CHECK(!daemon_overdue(&s, NOW), "nothing asked: never overdue");
        return TAP_END();
}
