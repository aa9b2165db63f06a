/* A finding through its bytes and back (agent/checks/finding_wire.c): every part survives, and
 * every damaged form is refused as a whole — cut at each length, a bad magic, status or tag, a
 * NUL inside a text, a text too long, a fact twice, more evidence than a finding keeps. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/finding_wire.h"
#include "tap.h"

static void put_u32(char *p, uint32_t v) {
        p[0] = (char) v;
        p[1] = (char) (v >> 8);
        p[2] = (char) (v >> 16);
        p[3] = (char) (v >> 24);
}

int main(void) {
        finding *f = NULL, *g = NULL;
        char *buf = NULL, *copy;
        size_t size = 0;
        unsigned cut_refused = 0;

        if (finding_new(&f) < 0)
                return 1;
        (void) finding_set(f, CHECK_WARN, "standby material: %s", "x509/gw.pem expires in 3 days");
        (void) finding_fact_set(f, "certs", "%d", 2);
        (void) finding_fact_set(f, "expiry_s /etc/swanctl/x509/gw.pem", "%lld", -12345LL);
        (void) finding_fact_set(f, "empty", "%s", "");
        for (int i = 0; i < 40; i++)
                (void) finding_evidence(f, "line %d\twith a tab", i);
        CHECK(f->n_evidence == FINDING_EVIDENCE_MAX && f->n_evidence_dropped == 8, "the finding dropped 8 lines");
        CHECK(finding_pack(f, &buf, &size) == 0 && size > 0, "packed: %zu bytes", size);
        CHECK(finding_unpack(buf, size, &g) == 0 && g, "unpacked");
        CHECK(g && g->status == CHECK_WARN && strcmp(g->summary, f->summary) == 0, "status and summary");
        CHECK(g && g->n_facts == 3 && strcmp(finding_fact_get(g, "expiry_s /etc/swanctl/x509/gw.pem"), "-12345") == 0 &&
                      strcmp(finding_fact_get(g, "empty"), "") == 0 && strcmp(g->facts[0].key, "certs") == 0,
              "facts, in order, an empty value too");
        CHECK(g && g->n_evidence == FINDING_EVIDENCE_MAX && g->n_evidence_dropped == 8 &&
                      strcmp(g->evidence[39 - 8], "line 31\twith a tab") == 0,
              "evidence and the dropped count");
        g = finding_free(g);

        /* every proper prefix is refused, except those ending exactly between records */
        for (size_t n = 0; n < size; n++) {
                int r = finding_unpack(buf, n, &g);
                if (r == -EBADMSG)
                        cut_refused++;
                g = finding_free(g);
        }
        CHECK(cut_refused >= size - 1 - (1 + 3 + FINDING_EVIDENCE_MAX),
              "cut short: %u of %zu prefixes refused (the rest end between records)", cut_refused, size);

        copy = malloc(size + 8);
        memcpy(copy, buf, size);
        copy[0] = 'X';
        CHECK(finding_unpack(copy, size, &g) == -EBADMSG, "bad magic refused");
        memcpy(copy, buf, size);
        copy[4] = (char) _CHECK_STATUS_MAX;
        CHECK(finding_unpack(copy, size, &g) == -EBADMSG, "bad status refused");
        memcpy(copy, buf, size);
        copy[size] = 'Z';
        CHECK(finding_unpack(copy, size + 1, &g) == -EBADMSG, "unknown tag refused");
        memcpy(copy, buf, size);
        copy[9 + 4 + 3] = 0;
        CHECK(finding_unpack(copy, size, &g) == -EBADMSG, "a NUL inside a text refused");
        memcpy(copy, buf, size);
        put_u32(copy + 10, FINDING_TEXT_MAX + 1);
        CHECK(finding_unpack(copy, size, &g) == -EBADMSG, "a text longer than FINDING_TEXT_MAX refused");
        memcpy(copy, buf, size);
        put_u32(copy + 10, UINT32_MAX);
        CHECK(finding_unpack(copy, size, &g) == -EBADMSG, "a length past the end refused");
        free(copy);
        free(buf);
        buf = NULL;

        /* a fact twice, a second summary, evidence past the bound */
        {
                finding *h = NULL;
                char *b1 = NULL, *b2 = NULL, *both;
                size_t n1 = 0, n2 = 0;
                (void) finding_new(&h);
                (void) finding_fact_set(h, "k", "v");
                (void) finding_pack(h, &b1, &n1);
                both = malloc(n1 + n1);
                memcpy(both, b1, n1);
                memcpy(both + n1, b1 + 9, n1 - 9);
                CHECK(finding_unpack(both, n1 + n1 - 9, &g) == -EBADMSG, "a fact twice refused");
                (void) finding_set(h, CHECK_OK, "s");
                h->n_facts = 0;
                (void) finding_pack(h, &b2, &n2);
                both = realloc(both, n2 + n2);
                memcpy(both, b2, n2);
                memcpy(both + n2, b2 + 9, n2 - 9);
                CHECK(finding_unpack(both, n2 + n2 - 9, &g) == -EBADMSG, "a second summary refused");
                free(b2);
                b2 = NULL;
                for (unsigned i = 0; i < FINDING_EVIDENCE_MAX; i++)
                        (void) finding_evidence(h, "e");
                (void) finding_pack(h, &b2, &n2);
                both = realloc(both, n2 + 6);
                memcpy(both, b2, n2);
                memcpy(both + n2, "E\1\0\0\0e", 6);
                CHECK(finding_unpack(both, n2 + 6, &g) == -EBADMSG, "evidence past FINDING_EVIDENCE_MAX refused");
                free(both);
                free(b1);
                free(b2);
                h->n_facts = 1; /* its fact, hidden above, freed with it */
                finding_free(h);
        }
        /* out of order: a fact before the summary, evidence before a fact */
        {
                static const char fact_first[] = "IHF1\0\0\0\0\0F\1\0\0\0k\1\0\0\0vT\1\0\0\0s";
                static const char ev_first[] = "IHF1\0\0\0\0\0E\1\0\0\0eF\1\0\0\0k\1\0\0\0v";
                CHECK(finding_unpack(fact_first, sizeof(fact_first) - 1, &g) == -EBADMSG,
                      "a summary after a fact refused");
                CHECK(finding_unpack(ev_first, sizeof(ev_first) - 1, &g) == -EBADMSG, "a fact after evidence refused");
                CHECK(finding_unpack(fact_first, 9 + 11, &g) == 0 && g && g->n_facts == 1,
                      "the same fact alone is read");
                g = finding_free(g);
        }
        finding_free(f);
        return TAP_END();
}
