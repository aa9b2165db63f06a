/* See audit_scan.h. A line: SEQ \t TIME_USEC \t KIND \t PREV \t MAC \t TEXT, MAC over the line
 * without the MAC field (prefix and text), the record's hash over the whole line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_scan.h"

void audit_chain_init(audit_chain *c) {
        *c = (audit_chain){};
        memcpy(c->hash, AUDIT_ZERO_HASH, sizeof(c->hash));
}

static bool hex64(const char *s, size_t n) {
        if (n != AUDIT_HASH_HEX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* A sequence number: decimal, no leading zero, not 0. */
static bool seq_parse(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 19 || s[0] == '0')
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return true;
}

/* Check one line (without its newline) as the next record of c; NULL or why not. */
static const char *line_check(const char *line, size_t len, const uint8_t *key, size_t key_len, audit_chain *c,
                              char ret_hash[AUDIT_HASH_HEX + 1], uint64_t *ret_seq) {
        const char *f[6];
        size_t nf = 0, fl[6];
        uint64_t seq;
        char mac[AUDIT_HASH_HEX + 1];

        f[nf++] = line;
        for (size_t i = 0; i < len && nf < 6; i++)
                if (line[i] == '\t')
                        f[nf++] = line + i + 1;
        if (nf != 6)
                return "not six tab-separated fields";
        for (size_t i = 0; i < 5; i++)
                fl[i] = (size_t) (f[i + 1] - f[i]) - 1;
        fl[5] = len - (size_t) (f[5] - line);
        if (!seq_parse(f[0], fl[0], &seq))
                return "bad sequence number";
        if (!hex64(f[3], fl[3]))
                return "bad previous-record hash";
        if (!c->started) {
                bool rotated = fl[2] == strlen(AUDIT_KIND_ROTATED) && memcmp(f[2], AUDIT_KIND_ROTATED, fl[2]) == 0;
                if (seq == 1 && memcmp(f[3], AUDIT_ZERO_HASH, AUDIT_HASH_HEX) != 0)
                        return "the first record's previous-record hash is not zero";
                if (seq != 1 && !rotated)
                        return "the log does not begin at record 1 nor with a rotation record (its start is missing)";
                c->anchored = seq != 1;
                c->seq = seq - 1;
                memcpy(c->hash, f[3], AUDIT_HASH_HEX);
        } else if (seq != c->seq + 1)
                return "sequence number out of order (a record deleted, inserted or moved)";
        else if (memcmp(f[3], c->hash, AUDIT_HASH_HEX) != 0)
                return "previous-record hash does not match (a record before it changed or went missing)";
        if (fl[4] == AUDIT_HASH_HEX) {
                if (!hex64(f[4], fl[4]))
                        return "bad MAC field";
                if (c->records > 0 && !c->macs)
                        return "a record with an HMAC in a log without them";
                c->macs = true;
        } else if (fl[4] == 1 && f[4][0] == '-') {
                if (c->macs)
                        return "a record without an HMAC in a signed log";
                if (key_len)
                        return "the record carries no HMAC but a key was given";
        } else
                return "bad MAC field";
        if (key_len) {
                size_t pre = (size_t) (f[4] - line);
                char *both = malloc(pre + fl[5] + 1);
                if (!both)
                        return "out of memory";
                memcpy(both, line, pre);
                memcpy(both + pre, f[5], fl[5]);
                audit_hmac_hex(key, key_len, both, pre + fl[5], mac);
                free(both);
                if (!audit_hex_equal(f[4], mac))
                        return "HMAC does not match (the record was changed, or the key is not the writer's)";
        }
        audit_sha256_hex(line, len, ret_hash);
        *ret_seq = seq;
        return NULL;
}

int audit_scan(const char *buf, size_t len, const uint8_t *key, size_t key_len, audit_chain *c) {
        const char *p = buf, *end = buf + len;
        uint64_t line_no = 0;

        c->records = c->valid_bytes = c->torn_bytes = c->bad_line = 0;
        c->first_seq = 0;
        c->why[0] = 0;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                char hash[AUDIT_HASH_HEX + 1];
                const char *why;
                uint64_t seq = 0;

                line_no++;
                if (!nl) {
                        c->torn_bytes = (uint64_t) (end - p); /* incomplete: the caller decides */
                        break;
                }
                why = line_check(p, (size_t) (nl - p), key, key_len, c, hash, &seq);
                if (why) {
                        c->bad_line = line_no;
                        (void) snprintf(c->why, sizeof(c->why), "%s", why);
                        return -EBADMSG;
                }
                if (!c->first_seq)
                        c->first_seq = seq;
                c->started = true;
                c->seq = seq;
                memcpy(c->hash, hash, sizeof(c->hash));
                if (c->want_seq == seq) {
                        c->want_found = true;
                        memcpy(c->want_hash, hash, sizeof(c->want_hash));
                }
                c->records++;
                p = nl + 1;
                c->valid_bytes = (uint64_t) (p - buf);
        }
        return 0;
}
