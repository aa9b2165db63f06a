/* finding: facts replace by key, limits hold, evidence overflow is counted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/finding.h"
#include "tap.h"

int main(void) {
        finding *f = NULL;
        char big[4096];

        CHECK(finding_new(&f) == 0 && f->status == CHECK_UNKNOWN, "new finding is unknown");
        CHECK(finding_set(f, CHECK_FAIL, "udp/%d dropped", 4500) == 0 && f->status == CHECK_FAIL &&
                      strcmp(f->summary, "udp/4500 dropped") == 0, "status and summary");
        CHECK(finding_fact_set(f, "port", "%d", 4500) == 0 && finding_fact_set(f, "port", "500") == 0 &&
                      f->n_facts == 1 && strcmp(finding_fact_get(f, "port"), "500") == 0,
              "a fact is replaced by key");
        CHECK(!finding_fact_get(f, "nope"), "absent fact is NULL");
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        for (unsigned i = 0; i < FINDING_FACTS_MAX + 5; i++) {
                char key[16];
                snprintf(key, sizeof(key), "key%u", i);
                (void) finding_fact_set(f, key, "%u", i);
        }
        CHECK(f->n_facts == FINDING_FACTS_MAX, "facts bounded at %u", FINDING_FACTS_MAX);
        CHECK(finding_fact_set(f, "one-more", "x") == -E2BIG, "over the bound is -E2BIG");
        CHECK(finding_evidence(f, "%s", big) == 0 && strlen(f->evidence[0]) == FINDING_TEXT_MAX,
              "long text truncated to %u bytes", FINDING_TEXT_MAX);
        for (unsigned i = 0; i < FINDING_EVIDENCE_MAX + 7; i++)
                (void) finding_evidence(f, "line %u", i);
        CHECK(f->n_evidence == FINDING_EVIDENCE_MAX && f->n_evidence_dropped == 8,
              "evidence bounded, overflow counted (%zu dropped)", f->n_evidence_dropped);
        CHECK(check_status_worst(CHECK_WARN, CHECK_FAIL) == CHECK_FAIL &&
                      check_status_worst(CHECK_UNKNOWN, CHECK_WARN) == CHECK_UNKNOWN &&
                      check_status_worst(CHECK_OK, CHECK_OK) == CHECK_OK, "worst of two");
        CHECK(strcmp(check_status_to_string(CHECK_FAIL), "fail") == 0, "status names");
        finding_free(f);
        return TAP_END();
}
