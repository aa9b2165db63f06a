/* A check's work done in a child process: fork(), the child fills a finding and writes it to a
 * pipe (agent/checks/finding_wire.h), exits; the parent reads it from the loop and gets the
 * finding back. For the work that would leave the resident agent carrying what it touched for
 * good — OpenSSL's X.509, key and verification code and its method caches, ~0.75 MiB of RSS for
 * the certificate check — and that parses files a crash there should not take the agent down
 * with: a child that dies is a reason, not an outage.
 *
 * The child is the agent's own copy (no exec): it must only read, compute and return; it dies
 * with the agent (PR_SET_PDEATHSIG). Freeing a child still running kills it and reaps it later
 * from the loop (actions/spawn.h). Watched through a pidfd, never SIGCHLD. */
#pragma once

#include "agent/checks/finding.h"
#include "ev.h"
#include "macro.h"

/* The most a child's finding may take on the pipe: more is refused as a whole. */
#define CHECK_CHILD_OUTPUT_MAX (256u * 1024u)

typedef struct check_child check_child;

/* In the child: fill f (new, status UNKNOWN). */
typedef void (*check_child_work)(void *userdata, finding *f);
/* In the parent, once: the child's finding (the callee owns it), or NULL and why not (the child
 * died, exited with an error, or wrote something unreadable). The child may be freed here. */
typedef void (*check_child_done)(check_child *c, finding *f, const char *why, void *userdata);

int check_child_start(check_child **ret, ev_loop *e, check_child_work work, check_child_done done,
                      void *userdata);
check_child *check_child_free(check_child *c);
DEFINE_FREE_FUNC(check_child, check_child_free);
