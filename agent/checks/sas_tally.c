/* Per-connection SA counts (agent/checks/sas_tally.h). Lookups are linear: the rows are the
 * configured connections (a handful to a few hundred), and a list-sas of thousands of SAs is
 * streamed once per check run. */
#include <stdlib.h>
#include <string.h>

#include "agent/checks/sas_tally.h"

static sas_conn *row_find(sas_tally *t, const char *name) {
        for (size_t i = t->n; i > 0; i--)
                if (strcmp(t->conns[i - 1].name, name) == 0)
                        return &t->conns[i - 1];
        return NULL;
}

sas_conn *sas_tally_row(sas_tally *t, const char *name) {
        sas_conn *c = row_find(t, name);
        if (c)
                return c;
        if (t->n >= SAS_TALLY_MAX || strlen(name) >= sizeof(c->name)) {
                c = row_find(t, SAS_TALLY_OTHER);
                if (c)
                        return c;
                name = SAS_TALLY_OTHER;
        }
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 8;
                sas_conn *n = realloc(t->conns, cap * sizeof(*n));
                if (!n)
                        return NULL;
                t->conns = n;
                t->cap = cap;
        }
        c = &t->conns[t->n++];
        *c = (sas_conn){ 0 };
        strncpy(c->name, name, sizeof(c->name) - 1);
        return c;
}

void sas_tally_reset(sas_tally *t) {
        t->n = 0;
        sas_peers_reset(&t->peers);
}

void sas_tally_done(sas_tally *t) {
        sas_peers_done(&t->peers);
        free(t->conns);
        *t = (sas_tally){ 0 };
}

void sas_tally_swap(sas_tally *a, sas_tally *b) {
        sas_tally x = *a;
        *a = *b;
        *b = x;
}

sas_ike_state sas_ike_state_of(const char *vici_state) {
        if (vici_state && strcmp(vici_state, "ESTABLISHED") == 0)
                return SAS_IKE_ESTABLISHED;
        if (vici_state && strcmp(vici_state, "CONNECTING") == 0)
                return SAS_IKE_CONNECTING;
        return SAS_IKE_OTHER;
}

const char *sas_ike_state_to_string(sas_ike_state s) {
        static const char *const names[_SAS_IKE_MAX] = { "established", "connecting", "other" };
        return s < _SAS_IKE_MAX ? names[s] : "other";
}
