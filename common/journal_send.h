/* Writing records to the systemd journal: the journal's native protocol as systemd documents it
 * (systemd.journal-fields(7), the "Native Journal Protocol"), spoken by this small module instead
 * of sd_journal_sendv() from libsystemd, whose footprint (and that of the libraries it pulls in)
 * every agent would carry for this one call.
 *
 * A record is one datagram to /run/systemd/journal/socket holding its fields, each
 * "NAME=value\n", or, for a value with a newline, "NAME\n", the value's length as a
 * little-endian 64-bit number, the value, "\n". A record too large for a datagram goes in a
 * sealed memfd whose descriptor an otherwise empty datagram carries. */
#pragma once

#include <sys/uio.h>

/* Sends the n fields of iov ("NAME=value" each, the value any bytes) as one journal record:
 * 0 when the datagram was sent; -EINVAL when n < 1, an entry has no '=' or its NAME is not a field
 * name a client may set (1–64 of A–Z, 0–9 and '_', not starting with a digit or '_': those are
 * the trusted fields journald adds itself); else the -errno of the socket, memfd or send. */
int journal_sendv(const struct iovec *iov, int n);

/* For tests: send to the datagram socket at `path` instead; NULL restores the journal's own.
 * -EINVAL when the path does not fit a sockaddr_un. */
int journal_send_set_path(const char *path);
