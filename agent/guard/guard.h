/* The change guard: a change to the gateway confirms itself or is rolled back ("commit
 * confirmed"). `begin` takes a fresh last-good point (the checks' snapshots: nftables objects,
 * the configuration files with their modes, the loaded connections) while every check is fresh
 * and none fails, and the roster of the peers up (guard_peers.c); the change is made; `confirm`
 * starts the verification: every check runs again and none may fail for verify_for, and when it
 * ends every peer of the roster must be up again. Then the change is kept (and becomes the last
 * good state). A failing check during verification, a peer not back, no confirmation by
 * confirm_by, or `abort` rolls back —
 * with the restore actions' own minimal, ownership-checked rules (nft_restore: only the objects
 * that make IKE drop; config_rollback: only the files that differ) — and says what it undid.
 *
 * While a guard is open the automatic last-good recording is held (a change still unconfirmed
 * must not become the state rollbacks return to) and automatic remediation is paused (the guard's
 * rollback is the remedy; the engine must not race it). Both are released when the guard ends.
 *
 * One guard at a time, recorded durably in <state_dir>/guard.rec before begin answers and at every
 * change of state: a guard open when the agent (or the host) stopped is rolled back at the next
 * start once its confirmation window has passed, and resumed with what is left of it otherwise.
 * Every transition is audited; a rollback is also notified (webhooks). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "macro.h"

typedef struct triage triage;
typedef struct incident_store incident_store;
typedef struct engine engine;
typedef struct drill_runner drill_runner;
typedef struct notifier notifier;
typedef struct ikeheal_config ikeheal_config;

typedef enum guard_state {
        GUARD_OPEN,          /* the change is being made; waiting for confirm (or confirm_by) */
        GUARD_VERIFYING,     /* confirmed: every check must stay healthy until verify_until */
        GUARD_ROLLING_BACK,  /* undoing the change */
        GUARD_KEPT,          /* verified: the change is the new last good state */
        GUARD_ROLLED_BACK,   /* undone */
        GUARD_ROLLBACK_FAILED, /* the undo stopped: a human decides (the outcome says why) */
        GUARD_STALE,         /* its time ran out long ago while the agent was down (guard.stale_after):
                              * not rolled back — the gateway ran on with the change — a human decides */
        _GUARD_STATE_MAX,
} guard_state;

#define GUARD_TEXT_MAX 1024u
#define GUARD_PEERS_MAX 4096u
#define GUARD_CONFIRM_DEFAULT_USEC (5 * 60 * USEC_PER_SEC)
#define GUARD_VERIFY_DEFAULT_USEC (30 * USEC_PER_SEC)
#define GUARD_WINDOW_MAX_USEC (24 * 3600 * USEC_PER_SEC)

/* One guarded change: what is durable of it. Times are CLOCK_REALTIME µs (they must mean the
 * same after a reboot). */
typedef struct guard_rec {
        uint64_t id;
        guard_state state;
        uint64_t begun_usec, confirm_by_usec, verify_for_usec, verify_until_usec, ended_usec;
        uint32_t uid;
        bool paused_engine; /* the guard paused automatic remediation (and resumes it) */
        bool forced;        /* begun outside the change window with --force */
        char user[64];
        char reason[256];   /* what the change is (the command, "dpkg run", the operator's text) */
        char packages[GUARD_TEXT_MAX]; /* packages dpkg changed, when the change is a dpkg run */
        char mark[64];      /* an opaque mark the client keeps with the guard (the dpkg log's size) */
        char outcome[GUARD_TEXT_MAX];  /* why it ended, what was undone */
        /* the peers up at the begin (agent/guard/guard_peers.c: one a line), each required back
         * when the verification ends; peers_untracked: up too, past the roster's bound */
        char peers[GUARD_PEERS_MAX];
        uint32_t peers_untracked;
} guard_rec;

typedef struct guard_deps {
        ev_loop *event;
        triage *triage;
        incident_store *incidents;
        engine *engine;
        drill_runner *drills;
        notifier *notifier;
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
} guard_deps;

typedef struct guard guard;

int guard_new(guard **ret, const guard_deps *deps, const ikeheal_config *config);
guard *guard_free(guard *g);
/* After the loop runs (and the engine has started): roll back, or resume, what a previous life
 * left open. */
int guard_start(guard *g);
void guard_reconfigure(guard *g, const ikeheal_config *config);

/* Why a guard may not begin now (an incident, a drill, another guard, a check that fails or has
 * not reported, a temporary measure), or NULL. */
const char *guard_refusal(const guard *g, char *why, size_t n);

typedef struct guard_begin_params {
        uint64_t confirm_within_usec; /* 0: the default */
        uint64_t verify_for_usec;     /* 0: the default */
        uint32_t uid;
        const char *user;
        const char *reason;
        const char *mark;
        bool force;                   /* outside the change window */
} guard_begin_params;

/* Take the roster of the peers up now (IKE_SAs by remote identity; a site-to-site peer's
 * CHILD_SAs) for the next guard_begin(); done is called once with 0 or -errno and why. 0: the
 * listing runs; -EBUSY: another begin is taking one; -ENXIO/-ENOTCONN: charon cannot be asked. */
int guard_take_roster(guard *g, void (*done)(int result, const char *why, void *userdata), void *userdata);

/* Begin a guard now (the caller has just had every check run afresh; the roster taken by
 * guard_take_roster() is the peers it requires back). 0 with the guard open and
 * recorded; -EBUSY (refused: why says so), -EIO (it could not be recorded: nothing was begun). */
int guard_begin(guard *g, const guard_begin_params *p, char *why, size_t n);
/* The change is made: verify it. packages (may be NULL): what dpkg changed. -ENOENT: no guard
 * open; -EALREADY: already verifying or ended. */
int guard_confirm(guard *g, const char *packages, char *why, size_t n);
/* Roll back now. -ENOENT: no guard open. */
int guard_abort(guard *g, const char *reason, uint32_t uid, const char *user, char *why, size_t n);

/* The guard in progress, or the last one (NULL: none ever). */
const guard_rec *guard_current(const guard *g);
bool guard_active(const guard *g);
const char *guard_state_to_string(guard_state s);
bool guard_state_final(guard_state s);

/* agent/guard/guard_store.c: the record in <state_dir>/guard.rec (atomic replace, fsync). */
int guard_store_save(const char *state_dir, const guard_rec *rec);
/* 0 and *ret filled; -ENOENT: no guard ever; -EBADMSG: the file does not hold a record. */
int guard_store_load(const char *state_dir, guard_rec *ret);
/* The record as a VICI section's fields (also what `guard status` answers with). */
typedef struct vici_builder vici_builder;
void guard_rec_to_vici(const guard_rec *rec, vici_builder *b);
