/* The logs check's memory across restarts: the peers whose credential the gateway refused
 * (sticky entries of the tally), so that a restarted agent still knows them failing and an
 * authentication incident does not resolve on the quiet log of a fresh start. A small text file,
 * one peer a line, replaced atomically:
 *
 *   ikeheal-logs-peers 1
 *   CLASS EVENT COUNT FIRST_USEC LAST_USEC GAP_USEC ADDR ID
 *
 * times in µs of CLOCK_REALTIME, "-" for an empty address or identity. Loading is strict about
 * each line: a line that does not parse is skipped and counted (the file is ours, but a torn
 * or hand-edited one must not take the agent down). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent/checks/logs_tally.h"

#define LOGS_STORE_MAX (64u * 1024u)

/* Times of t are CLOCK_MONOTONIC µs; now_mono and now_real are the same instant on both clocks. */
int logs_store_save(const char *path, const logs_tally *t, uint64_t now_mono, uint64_t now_real);
/* ≥ 0: peers restored (their times on CLOCK_MONOTONIC); *ret_bad: lines skipped. -ENOENT: no
 * file. Peers whose retry window ended meanwhile are restored too; the next expiry says so. */
int logs_store_load(const char *path, logs_tally *t, uint64_t now_mono, uint64_t now_real, size_t *ret_bad);
/* Parse one line into *ret and its class; -EINVAL if it is not one (for the fuzz target). */
int logs_store_parse_line(const char *line, size_t len, fault_class *ret_cls, logs_tally_peer *ret);
