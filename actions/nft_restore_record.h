/* What an nft_restore apply changed, kept for its revert (<state_dir>/snapshots/<check>.nft.restore):
 * the generation the change was computed on, and per object (common/nft_diff.h) its state
 * before and the state the restore gives it (SHA-256 of its canonical text, or "absent"), then
 * the netlink messages of those objects as they were before. Written before the change is sent,
 * so a crash or a lost answer never leaves a change without the material to judge and undo it.
 *
 *   ikeheal-nft-restore 1
 *   generation 41
 *   object chain 1 filter input <pre> <post>        (kind, family number, percent-encoded names;
 *   object table 1 vendor%20x - <pre> absent         "-": no name)
 *   messages 1234
 *   <1234 bytes>
 *
 * Parse errors name path:line:col. Does not log. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "nft_diff.h"

typedef struct nft_restore_record {
        uint32_t generation;
        nft_object objs[NFT_DIFF_OBJECTS_MAX];
        char pre[NFT_DIFF_OBJECTS_MAX][2 * NFT_RULESET_HASH_SIZE + 1];
        char post[NFT_DIFF_OBJECTS_MAX][2 * NFT_RULESET_HASH_SIZE + 1];
        size_t n;
        uint8_t *msgs; /* the objects as they were, netlink messages back to back */
        size_t msgs_len;
} nft_restore_record;

#define NFT_RESTORE_RECORD_MAX (64u * 1024u * 1024u)

void nft_restore_record_done(nft_restore_record *rec);
/* Write rec (with its messages) to path atomically. */
int nft_restore_record_write(const char *path, const nft_restore_record *rec);
/* -ENOENT if there is none; -EBADMSG with `why` ("path:line:col: …") for a malformed one. */
int nft_restore_record_read(const char *path, nft_restore_record *ret, char *why, size_t why_size);
