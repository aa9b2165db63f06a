/* The certificate check's last survey, reused while nothing it read or computed can have
 * changed: the survey runs in a child process (agent/checks/check_child.h, ~2.5 ms of CPU with
 * OpenSSL's cold caches), which at a 1 s interval would cost more than the check is worth.
 *
 * A survey stands while
 *   - every file it reads is as it was: the swanctl tree's directories and their regular files,
 *     and the standby files, by device, inode, size, mode, owner and both change times (a
 *     rewrite in place changes ctime), hashed into one fingerprint;
 *   - the clock is between the survey and the next instant at which a verdict changes with time
 *     alone (the finding's next_change_usec), and no certificate's count of days left has moved
 *     (each one's notAfter is known from its expiry_s fact);
 *   - it is younger than CERT_CACHE_MAX_AGE_USEC: a file system whose times are too coarse to
 *     show a rewrite still gets a fresh survey now and then.
 * Reused, its finding is the same but for each certificate's seconds left (expiry_s), which
 * follow the clock. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "agent/checks/finding.h"

#define CERT_CACHE_MAX_AGE_USEC (300 * USEC_PER_SEC)

/* The swanctl tree's directories the certificate survey reads, in its order: the CAs, the
 * certificates, then from CERT_TREE_FIRST_KEY_DIR on the keys'. One list for the survey, its
 * fingerprint and its watches, so that what is fingerprinted is what is read. */
#define CERT_TREE_DIRS 6u
#define CERT_TREE_FIRST_KEY_DIR 2u
extern const char *const cert_tree_dirs[CERT_TREE_DIRS];

typedef struct cert_cache {
        char *packed; /* the finding (agent/checks/finding_wire.h); NULL: none */
        size_t size;
        uint64_t fingerprint;
        time_t surveyed; /* the survey's clock, whole seconds */
        uint64_t made_usec; /* CLOCK_MONOTONIC */
} cert_cache;

/* What the survey of this tree (and standby list, NULL-terminated or NULL) would read. */
uint64_t cert_cache_fingerprint(const char *swanctl_dir, char *const *standby);
/* Keep f (a survey made at `surveyed` of files with this fingerprint). */
void cert_cache_store(cert_cache *c, const finding *f, uint64_t fingerprint, time_t surveyed);
/* The kept finding brought to `now`, if it still stands: 0 and *ret; -ESTALE; -ENOMEM. */
int cert_cache_reuse(cert_cache *c, uint64_t fingerprint, time_t now, finding **ret);
void cert_cache_clear(cert_cache *c);
