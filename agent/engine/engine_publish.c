/* Who hears of a run's changes: the store records a run, then every listener
 * (engine_subscribe()) is told — the store itself tells nobody. */
#include <errno.h>

#include "agent/engine/engine_internal.h"

int engine_subscribe(engine *e, const engine_listener *l) {
        for (size_t i = 0; i < e->n_listeners; i++)
                if (e->listeners[i].run_changed == l->run_changed && e->listeners[i].userdata == l->userdata)
                        return 0;
        if (e->n_listeners >= ENGINE_LISTENERS_MAX)
                return -ENOSPC;
        e->listeners[e->n_listeners++] = *l;
        return 0;
}

void engine_unsubscribe(engine *e, void *userdata) {
        size_t w = 0;
        for (size_t i = 0; i < e->n_listeners; i++)
                if (e->listeners[i].userdata != userdata)
                        e->listeners[w++] = e->listeners[i];
        e->n_listeners = w;
}

int engine_persist_run(engine *e, const run *r) {
        int k = engine_store_run(e, r);
        /* a drill times its steps from every change of a run */
        for (size_t i = 0; i < e->n_listeners; i++)
                e->listeners[i].run_changed(r, e->listeners[i].userdata);
        return k;
}
