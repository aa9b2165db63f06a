/* Removing objects from a ruleset model and moving rules within a chain: what a model that
 * follows the kernel's change notifications (common/nft_change.h) needs beyond the builders. */
#include <stdlib.h>
#include <string.h>

#include "nft_ruleset.h"
#include "nft_ruleset_private.h"

void nft_ruleset_del_chain(nft_ruleset *rs, size_t chain) {
        if (chain >= rs->n_chains)
                return;
        rs->n_rules_total -= rs->chains[chain].n_rules;
        nftr_chain_done(&rs->chains[chain]);
        memmove(&rs->chains[chain], &rs->chains[chain + 1], (rs->n_chains - chain - 1) * sizeof(*rs->chains));
        rs->n_chains--;
}

void nft_ruleset_del_set(nft_ruleset *rs, size_t set) {
        if (set >= rs->n_sets)
                return;
        rs->n_elems_total -= rs->sets[set].n_elems;
        nftr_set_done(&rs->sets[set]);
        memmove(&rs->sets[set], &rs->sets[set + 1], (rs->n_sets - set - 1) * sizeof(*rs->sets));
        rs->n_sets--;
}

void nft_ruleset_del_table(nft_ruleset *rs, size_t table) {
        if (table >= rs->n_tables)
                return;
        for (size_t i = rs->n_chains; i-- > 0;)
                if (rs->chains[i].table == table)
                        nft_ruleset_del_chain(rs, i);
        for (size_t i = rs->n_sets; i-- > 0;)
                if (rs->sets[i].table == table)
                        nft_ruleset_del_set(rs, i);
        for (size_t i = 0; i < rs->n_chains; i++)
                if (rs->chains[i].table > table)
                        rs->chains[i].table--;
        for (size_t i = 0; i < rs->n_sets; i++)
                if (rs->sets[i].table > table)
                        rs->sets[i].table--;
        free(rs->tables[table].name);
        memmove(&rs->tables[table], &rs->tables[table + 1], (rs->n_tables - table - 1) * sizeof(*rs->tables));
        rs->n_tables--;
}

void nft_ruleset_del_rule(nft_ruleset *rs, nftr_chain *c, size_t rule) {
        if (rule >= c->n_rules)
                return;
        nftr_rule_done(&c->rules[rule]);
        memmove(&c->rules[rule], &c->rules[rule + 1], (c->n_rules - rule - 1) * sizeof(*c->rules));
        c->n_rules--;
        rs->n_rules_total--;
}

void nft_ruleset_del_elem(nft_ruleset *rs, nftr_set *s, size_t elem) {
        if (elem >= s->n_elems)
                return;
        nftr_elem_done(&s->elems[elem]);
        memmove(&s->elems[elem], &s->elems[elem + 1], (s->n_elems - elem - 1) * sizeof(*s->elems));
        s->n_elems--;
        rs->n_elems_total--;
}

void nft_ruleset_move_rule(nftr_chain *c, size_t from, size_t to) {
        nftr_rule r;

        if (from >= c->n_rules || to >= c->n_rules || from == to)
                return;
        r = c->rules[from];
        if (from < to)
                memmove(&c->rules[from], &c->rules[from + 1], (to - from) * sizeof(*c->rules));
        else
                memmove(&c->rules[to + 1], &c->rules[to], (from - to) * sizeof(*c->rules));
        c->rules[to] = r;
}
