/* Incident updates coalesced (agent/triage/incident.c): a problem whose details change many times a
 * second (a flood renaming its peers) is written and reported at most once per
 * INCIDENT_COALESCE_USEC, the record carrying how many updates it stands for; held updates are
 * written by incident_store_flush() once their interval ends and when the store is freed; a
 * state change is never held; and a resolution says what ended it when the root check's finding
 * tells (fact "resolution"). Durable: the state log is read back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/triage/incident.h"
#include "tap.h"

#define S 1000000ull

static unsigned opened, updated, changed, carried;

static void on_incident(const incident *i, incident_event ev, void *userdata) {
        switch (ev) {
        case INCIDENT_OPENED:
                opened++;
                break;
        case INCIDENT_UPDATED:
                updated++;
                carried += i->coalesced;
                break;
        case INCIDENT_STATE_CHANGED:
                changed++;
                break;
        }
}

static void problem(diagnosis *d, unsigned k) {
        *d = (diagnosis){ .n_problems = 1 };
        d->problems[0] = (diagnosis_problem){ .cls = FAULT_AUTHENTICATION, .scope = FAULT_SCOPE_GLOBAL,
                                              .severity = CHECK_FAIL, .confidence = 80 };
        snprintf(d->problems[0].reason, sizeof(d->problems[0].reason), "flood");
        snprintf(d->problems[0].root_check, sizeof(d->problems[0].root_check), "logs");
        snprintf(d->problems[0].peers, sizeof(d->problems[0].peers), "flood%u.example@198.18.%u.%u", k, k / 250, k % 250);
}

int main(void) {
        char dir[] = "/tmp/ikh-test-coalesce-XXXXXX";
        incident_store *s = NULL;
        diagnosis d;
        finding *f = NULL;
        uint64_t t0 = 1800000000 * S;

        if (!mkdtemp(dir))
                return 1;
        CHECK(incident_store_new(&s, dir, NULL) == 0, "store");
        diagnosis_input in = { .check = "logs", .kind = "logs", .reported = CHECK_FAIL };

        /* 300 updates in 0.3 s: opened, then nothing written until the interval ends */
        for (unsigned k = 0; k < 300; k++) {
                problem(&d, k);
                (void) incident_store_apply(s, &d, &in, 1, t0 + k * 1000, on_incident, NULL);
        }
        CHECK(opened == 1 && updated == 0, "one opening, updates held (%u updated)", updated);
        CHECK(incident_store_get(s, 0)->updates == 299 && strstr(incident_store_get(s, 0)->peers, "flood299"),
              "held in memory: 299 updates, the latest peers");
        CHECK(incident_store_flush(s, t0 + S / 2, on_incident, NULL) == 0 && updated == 0, "not yet due");
        CHECK(incident_store_flush(s, t0 + S + 1, on_incident, NULL) == 0 && updated == 1 && carried == 298,
              "due: one record for 299 updates (carried %u)", carried);
        CHECK(incident_store_flush(s, t0 + 3 * S, on_incident, NULL) == 0 && updated == 1, "nothing held: nothing written");

        /* an update after the interval is written at once */
        problem(&d, 1000);
        (void) incident_store_apply(s, &d, &in, 1, t0 + 3 * S, on_incident, NULL);
        CHECK(updated == 2, "an update after a quiet interval is written at once");
        problem(&d, 1001);
        (void) incident_store_apply(s, &d, &in, 1, t0 + 3 * S + 10, on_incident, NULL);
        CHECK(updated == 2, "and the next one held");

        /* resolution: never held, says what ended it */
        CHECK(finding_new(&f) == 0 && finding_set(f, CHECK_OK, "no failure") == 0 &&
                      finding_fact_set(f, "resolution", "client1.lab.test@198.18.0.2 established an IKE_SA") == 0,
              "an OK finding saying how it ended");
        in = (diagnosis_input){ .check = "logs", .kind = "logs", .reported = CHECK_OK, .finding = f };
        d = (diagnosis){};
        (void) incident_store_apply(s, &d, &in, 1, t0 + 3 * S + 20, on_incident, NULL);
        CHECK(changed == 1 && incident_store_get(s, 0)->state == INCIDENT_RESOLVED &&
                      strcmp(incident_store_get(s, 0)->note, "client1.lab.test@198.18.0.2 established an IKE_SA") == 0,
              "resolved at once, the note from the root check: %s", incident_store_get(s, 0)->note);
        incident_store_free(s);
        finding_free(f);

        /* what was held is durable */
        s = NULL;
        CHECK(incident_store_new(&s, dir, NULL) == 0 && incident_store_size(s) == 1 &&
                      incident_store_get(s, 0)->state == INCIDENT_RESOLVED &&
                      strstr(incident_store_get(s, 0)->peers, "flood1001") && incident_store_get(s, 0)->updates == 301,
              "read back: resolved, the last peers, 301 updates");
        incident_store_free(s);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", dir);
        return TAP_END();
}
