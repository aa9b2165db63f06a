/* ICMP echo (RFC 792) for IPv4: the request a probe sends and the strict reading of what a raw
 * ICMP socket receives (the IP header, then the ICMP message). Only an echo reply that carries
 * our identifier, a sequence number, our payload pattern and a right checksum counts: anything
 * else on the socket (other hosts' echoes, errors, replies to another probe) is not ours.
 * Pure functions, no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ICMP_ECHO_HEADER 8u
#define ICMP_ECHO_IP_HEADER 20u   /* the request's IPv4 header (no options) */
#define ICMP_ECHO_MIN_TOTAL 64u   /* the smallest probe: 20 + 8 + 36 bytes of pattern */
#define ICMP_ECHO_MAX_TOTAL 9000u /* the largest: a jumbo frame */

/* Write an echo request into buf (size ≥ total - ICMP_ECHO_IP_HEADER) for an IPv4 packet of
 * `total` bytes: the ICMP message, checksummed, its payload a pattern derived from id and seq.
 * The ICMP length, or -EINVAL for total outside [ICMP_ECHO_MIN_TOTAL, ICMP_ECHO_MAX_TOTAL] or
 * a buffer too small. */
int icmp_echo_request(uint8_t *buf, size_t size, size_t total, uint16_t id, uint16_t seq);

/* Read a datagram of a raw IPv4 ICMP socket. 0 with *ret_seq when it is an echo reply with
 * identifier id, a valid checksum and our pattern (its size need not be ours: a peer may trim);
 * -EBADMSG when it is not IPv4 or is truncated or broken; -ENOMSG when it is well formed but not
 * our reply (another type, another identifier). */
int icmp_echo_reply(const uint8_t *pkt, size_t len, uint16_t id, uint16_t *ret_seq);
