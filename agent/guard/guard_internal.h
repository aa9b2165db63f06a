/* Inside the change guard (agent/guard/): the rollback sequence guard.c drives. */
#pragma once

#include "agent/guard/guard.h"

typedef struct action_env action_env;
typedef struct check_set check_set;
typedef struct guard_rollback guard_rollback;

/* Called once with 0 (every step done) or the first step's -errno, and the text of what was
 * undone (valid during the call). The callback may free the rollback. */
typedef void (*guard_rollback_done_fn)(int result, const char *undone, void *userdata);

/* Plan the undo over `checks` (their firewall and config checks); guard_rollback_start() runs
 * it. -ENXIO: no action environment. */
int guard_rollback_new(guard_rollback **ret, const action_env *env, check_set *checks, guard_rollback_done_fn done,
                       void *userdata);
void guard_rollback_start(guard_rollback *rb);
/* Cancels a call in flight (no callback). */
guard_rollback *guard_rollback_free(guard_rollback *rb);

/* agent/guard/guard_peers.c: the roster of peers that are up (one a line, GUARD_PEERS_MAX). */
#define GUARD_PEER_LINE_MAX 256u
typedef struct vici_client vici_client;
typedef struct vici_node vici_node;
typedef struct guard_peers guard_peers;
typedef void (*guard_peers_fn)(int result, guard_peers *p, void *userdata);
struct guard_peers {
        char list[GUARD_PEERS_MAX]; /* one peer a line */
        size_t len;
        unsigned n, untracked;      /* lines; peers past the bound (counted, not tracked) */
        bool busy;
        vici_client *vici;
        guard_peers_fn done;
        void *userdata;
};
/* List charon's SAs into p; done gets 0 or -errno (p->list valid during the call). -EBUSY: a
 * listing is in flight on this client; -ENXIO: no VICI client; -ENOTCONN: charon is not
 * connected. */
int guard_peers_list(guard_peers *p, vici_client *vici, guard_peers_fn done, void *userdata);
/* The reduction itself: empty the roster; add one `list-sa` item's SAs to it. */
void guard_peers_reset(guard_peers *p);
void guard_peers_add_sas(guard_peers *p, const vici_node *item);
/* Forget a listing in flight (done is not called); current: the VICI client in use now. */
void guard_peers_cancel(guard_peers *p, vici_client *current);
/* The lines of `was` that `now` lacks, ", "-joined into missing (truncated to size); how many. */
unsigned guard_peers_missing(const char *was, const guard_peers *now, char *missing, size_t size);
