/* What an nft_restore apply changed, kept for its revert (<state_dir>/snapshots/<check>.nft.restore):
 * the generation the change was computed on, and per object (common/nft_diff.h) its state
 * before and the state the restore gives it (SHA-256 of its canonical text, or "absent"), then
 * the netlink messages of those objects as they were before. Written before the change is sent,
 * so a crash or a lost answer never leaves a change without the material to judge and undo it.
 *
 *   ikeheal-nft-restore 2 <length> <sha256>        (of the body that follows, in hex)
 *   generation 41                                  (the body: <length> bytes)
 *   object chain 1 filter input <pre> <post>        (kind, family number, percent-encoded names;
 *   object table 1 vendor%20x - <pre> absent         "-": no name)
 *   messages 1234
 *   <1234 bytes>
 *   <anything: the file's unused room>
 *
 * The file is a slot written in place: made once (nft_restore_record_prepare(), or the first
 * write), with room for a record of a few tables, its directory entry made durable then; a
 * record is then durable with one write and one fdatasync() — no new file, no rename, no
 * directory to sync while a restore waits. A write cut short (a crash before the sync returned)
 * leaves a body that does not match its length or digest: the restore that wrote it never sent
 * its change (the change is sent only once the record is durable), so such a record reads as
 * "not written to its end" and means nothing was changed. A cleared slot (length 0) is no record.
 * Version 1 (no length or digest, the body right after "ikeheal-nft-restore 1", written whole by
 * a rename) is still read.
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
/* the room a new slot is made with: a restore of a table or a small chain fits in place */
#define NFT_RESTORE_RECORD_ROOM (64u * 1024u)

void nft_restore_record_done(nft_restore_record *rec);
/* Make the slot at path (an empty record, NFT_RESTORE_RECORD_ROOM bytes, file and directory
 * entry durable) unless there is one: the first restore then pays no more than the others. */
int nft_restore_record_prepare(const char *path);
/* Write rec (with its messages) into the slot at path, made if there is none; durable when it
 * returns 0. On failure the slot may hold a record cut short (read as not written to its end). */
int nft_restore_record_write(const char *path, const nft_restore_record *rec);
/* Empty the slot: no record from now on (nothing to put back). Not synced: a crash may bring
 * back the record before it, as an unlink not synced would; an interrupted clear reads as a
 * record not written to its end. 0 also when there is no slot. */
int nft_restore_record_clear(const char *path);
/* -ENOENT if there is none (no slot, or cleared); -ENODATA with `why` for a record not written
 * to its end (its restore changed nothing); -EBADMSG with `why` ("path:line:col: …") for a
 * malformed one. */
int nft_restore_record_read(const char *path, nft_restore_record *ret, char *why, size_t why_size);
