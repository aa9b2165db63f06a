/* A check's work in a child process (agent/checks/check_child.c), on a real loop and real
 * processes: the child's finding comes back whole; a child that crashes, exits with an error or
 * writes more than the bound gives a reason and no finding; a child freed while it runs is
 * killed and reaped (no zombie left), and the agent's memory is not the child's (a change made
 * in the child is not seen here). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/checks/check_child.h"
#include "now.h"
#include "tap.h"

typedef struct result {
        bool called;
        finding *f;
        char why[200];
        pid_t child_pid;
} result;

static int touched; /* written by the child: the parent's copy stays 0 */

static void work_ok(void *userdata, finding *f) {
        touched = 1;
        (void) finding_set(f, CHECK_OK, "from pid %d", (int) getpid());
        (void) finding_fact_set(f, "pid", "%d", (int) getpid());
        for (int i = 0; i < 3; i++)
                (void) finding_evidence(f, "line %d", i);
}

static void work_crash(void *userdata, finding *f) {
        (void) finding_set(f, CHECK_OK, "never seen");
        (void) signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
}

static void work_exit(void *userdata, finding *f) {
        _exit(7);
}

static void work_big(void *userdata, finding *f) {
        /* 64 facts of 1 KiB and 32 lines of 1 KiB: within a finding's bounds, ~100 KiB on the pipe
         * (more than the pipe holds: the parent must read while the child writes) */
        char v[FINDING_TEXT_MAX];
        memset(v, 'x', sizeof(v) - 1);
        v[sizeof(v) - 1] = 0;
        for (unsigned i = 0; i < FINDING_FACTS_MAX; i++) {
                char key[16];
                snprintf(key, sizeof(key), "k%u", i);
                (void) finding_fact_set(f, key, "%s", v);
        }
        for (unsigned i = 0; i < FINDING_EVIDENCE_MAX; i++)
                (void) finding_evidence(f, "%s", v);
        (void) finding_set(f, CHECK_WARN, "big");
}

static void work_sleep(void *userdata, finding *f) {
        *(pid_t *) userdata = getpid(); /* the child's own copy: useless to the parent */
        sleep(30);
}

static void on_done(check_child *c, finding *f, const char *why, void *userdata) {
        result *r = userdata;
        r->called = true;
        r->f = f;
        snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
}

static void run(ev_loop *e, check_child_work work, result *r) {
        check_child *c = NULL;
        uint64_t until = mono_usec() + 10 * USEC_PER_SEC;

        *r = (result){};
        if (check_child_start(&c, e, work, on_done, r) < 0) {
                snprintf(r->why, sizeof(r->why), "could not start");
                return;
        }
        while (!r->called && mono_usec() < until)
                (void) ev_run(e, 100 * USEC_PER_MSEC);
        check_child_free(c);
}

static int zombies_of_mine(void) {
        siginfo_t si = { 0 };
        /* any child of this process that has exited and was not reaped */
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return errno == ECHILD ? 0 : -1;
        return si.si_pid != 0;
}

int main(void) {
        ev_loop *e = NULL;
        result r;
        char pid[16];

        if (ev_new(&e) < 0)
                return 1;

        run(e, work_ok, &r);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        CHECK(r.called && r.f && r.f->status == CHECK_OK && r.f->n_evidence == 3, "the child's finding came back (%s)",
              r.why);
        CHECK(r.f && strcmp(finding_fact_get(r.f, "pid"), pid) != 0, "made in another process (pid %s, here %s)",
              r.f ? finding_fact_get(r.f, "pid") : "-", pid);
        CHECK(touched == 0, "what the child changed is its own");
        CHECK(zombies_of_mine() == 0, "the child is reaped");
        finding_free(r.f);

        run(e, work_crash, &r);
        CHECK(r.called && !r.f && strstr(r.why, "killed by signal 11"), "a crash is a reason: %s", r.why);
        CHECK(zombies_of_mine() == 0, "the crashed child is reaped");

        run(e, work_exit, &r);
        CHECK(r.called && !r.f && strstr(r.why, "exited with status 7"), "an error exit is a reason: %s", r.why);

        run(e, work_big, &r);
        CHECK(r.called && r.f && r.f->n_facts == FINDING_FACTS_MAX && r.f->n_evidence == FINDING_EVIDENCE_MAX,
              "a finding at its bounds (more than a pipe holds) comes back whole (%s)", r.why);
        finding_free(r.f);

        {
                check_child *c = NULL;
                pid_t ignored = 0;
                uint64_t until;
                int left = 1;

                r = (result){};
                CHECK(check_child_start(&c, e, work_sleep, on_done, &ignored) == 0, "a child that sleeps");
                (void) ev_run(e, 50 * USEC_PER_MSEC);
                c = check_child_free(c);
                /* killed on free, reaped by the loop when it is gone */
                until = mono_usec() + 5 * USEC_PER_SEC;
                while (mono_usec() < until) {
                        siginfo_t si = { 0 };
                        (void) ev_run(e, 50 * USEC_PER_MSEC);
                        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) {
                                left = 0;
                                break;
                        }
                }
                CHECK(left == 0, "freed while it ran: killed, and reaped by the loop");
        }
        ev_unref(e);
        return TAP_END();
}
