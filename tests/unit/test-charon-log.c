/* The charon log classifier on lines the lab's real charon wrote for each fault
 * (tests/fixtures/charon-log/, captured by tests/integration/check-logs.sh): each capture must
 * yield its fault's class and event, the failing peer's address where the line names it, and
 * nothing the fault did not cause; plus the line shapes (file log, journal, VICI fields). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charon_log.h"
#include "tap.h"

#define FIXTURES "tests/fixtures/charon-log/"

typedef struct tally {
        unsigned cls[_FAULT_CLASS_MAX];
        unsigned ev[_CHARON_EV_MAX];
        unsigned lines, charon;
        char peer[64], peer_id[64];
        unsigned refused;
} tally;

static int run_file(const char *name, tally *t) {
        char path[256], *line = NULL;
        size_t cap = 0;
        ssize_t n;
        FILE *f;

        snprintf(path, sizeof(path), FIXTURES "%s", name);
        f = fopen(path, "re");
        if (!f)
                return -1;
        *t = (tally){};
        while ((n = getline(&line, &cap, f)) >= 0) {
                charon_log_line l;
                t->lines++;
                if (line[0] == '#' || charon_log_parse_text(line, (size_t) n, &l) < 0)
                        continue;
                t->charon++;
                t->cls[l.cls]++;
                t->ev[l.event]++;
                if (l.cls != FAULT_NONE && l.peer[0] && !t->peer[0])
                        snprintf(t->peer, sizeof(t->peer), "%s", l.peer);
                if (l.cls != FAULT_NONE && l.peer_id[0] && !t->peer_id[0])
                        snprintf(t->peer_id, sizeof(t->peer_id), "%s", l.peer_id);
                t->refused += l.refused;
        }
        free(line);
        fclose(f);
        return 0;
}

static void expect(const char *file, fault_class cls, charon_log_event ev, fault_class never) {
        tally t;
        if (run_file(file, &t) < 0) {
                CHECK(0, "%s: fixture missing", file);
                return;
        }
        CHECK(t.charon > 10 && t.cls[cls] > 0 && t.ev[ev] > 0, "%s: %u lines, %u × %s (%s)", file, t.charon,
              t.cls[cls], fault_class_to_string(cls), charon_log_event_to_string(ev));
        if (never != FAULT_NONE)
                CHECK(t.cls[never] == 0, "%s: nothing classified %s", file, fault_class_to_string(never));
}

int main(void) {
        charon_log_line l;

        /* shapes */
        const char *file_line = "2026-11-22T15:45:31.872 10[IKE1] <rw|7> received proposals unacceptable\n";
        CHECK(charon_log_parse_text(file_line, strlen(file_line), &l) == 0 && strcmp(l.group, "IKE") == 0 &&
                      l.level == 1 && strcmp(l.conn, "rw") == 0 && l.uniqueid == 7 &&
                      l.cls == FAULT_PROPOSAL && l.msg_len == strlen("received proposals unacceptable"),
              "file log line: group, level, IKE_SA, message, class");
        const char *journal = "12[IKE] <3> 198.18.0.9 is initiating an IKE_SA";
        CHECK(charon_log_parse_text(journal, strlen(journal), &l) == 0 && l.uniqueid == 3 && !l.conn[0] &&
                      l.event == CHARON_EV_INITIATING && strcmp(l.peer, "198.18.0.9") == 0,
              "journal shape, unnamed IKE_SA <3>, peer from 'is initiating'");
        CHECK(charon_log_parse_text("hello [world]", 13, &l) < 0, "not charon's: refused");
        charon_log_from_vici("IKE", "1", "rw", "5", "received AUTHENTICATION_FAILED notify error", &l);
        CHECK(l.cls == FAULT_AUTHENTICATION && l.uniqueid == 5 && strcmp(l.conn, "rw") == 0,
              "VICI log event fields");
        charon_log_from_vici("CFG", "1", NULL, NULL,
                             "no IKE config found for 198.18.0.1...198.18.0.2, sending NO_PROPOSAL_CHOSEN", &l);
        CHECK(l.cls == FAULT_DAEMON_CONFIG, "no IKE config is a configuration fault, not a proposal one");
        charon_log_from_vici("IKE", "1", NULL, NULL, "retransmit 3 of request with message ID 1", &l);
        CHECK(l.event == CHARON_EV_RETRANSMIT && l.message_id == 1 && l.cls == FAULT_NONE, "retransmit, message ID");
        charon_log_from_vici("ENC", "1", NULL, NULL, "splitting IKE message (1832 bytes) into 2 fragments", &l);
        CHECK(l.event == CHARON_EV_FRAGMENTED && l.size == 1832, "fragmentation, size");
        charon_log_from_vici("IKE", "0", "rw", "6",
                             "IKE_SA rw[6] established between 198.18.0.1[gw]...198.18.0.2[client1]", &l);
        CHECK(l.event == CHARON_EV_ESTABLISHED && strcmp(l.peer, "198.18.0.2") == 0 &&
                      strcmp(l.peer_id, "client1") == 0,
              "established: the peer's address and identity");
        charon_log_from_vici("CFG", "1", NULL, "9",
                             "looking for peer configs matching 198.18.0.1[gw]...198.18.0.3[O=lab, CN=client 3]", &l);
        CHECK(l.event == CHARON_EV_PEER_CFG && strcmp(l.peer, "198.18.0.3") == 0 &&
                      strcmp(l.peer_id, "O=lab/CN=client_3") == 0,
              "peer config lookup: address and identity, a DN made list-safe (%s)", l.peer_id);
        charon_log_from_vici("IKE", "1", "rw", "9", "tried 1 shared key for 'gw' - 'client1', but MAC mismatched", &l);
        CHECK(l.cls == FAULT_AUTHENTICATION && l.refused && !l.peer[0] && strcmp(l.peer_id, "client1") == 0,
              "a wrong PSK: the peer's identity, refused by us");
        charon_log_from_vici("NET", "1", NULL, NULL, "sending packet: from 198.18.0.1[4500] to 198.18.0.7[4500] (80 bytes)", &l);
        CHECK(l.event == CHARON_EV_NONE && strcmp(l.peer, "198.18.0.7") == 0, "sending packet: the peer is the target");
        charon_log_from_vici("NET", "1", NULL, NULL, "received packet: from 198.18.0.8[500] to 198.18.0.1[500]", &l);
        CHECK(strcmp(l.peer, "198.18.0.8") == 0, "received packet: the peer is the source");
        charon_log_from_vici("IKE", "1", NULL, NULL, "AUTH", &l);
        CHECK(l.event == CHARON_EV_NONE, "a message shorter than any needle");
        charon_log_from_vici("IKE", "1", NULL, NULL, "peer said TS_UNACCEPTABLE", &l);
        CHECK(l.cls == FAULT_TRAFFIC_SELECTORS, "a needle at the very end of the message");
        charon_log_from_vici("IKE", "1", NULL, NULL, "INVALID_SPI then NO_PROPOSAL_CHOSEN", &l);
        CHECK(l.cls == FAULT_PROPOSAL, "two needles: the table's order decides, not the position");
        char longline[CHARON_LOG_LINE_MAX * 2];
        memset(longline, 'A', sizeof(longline));
        memcpy(longline, "01[IKE] ", 8);
        CHECK(charon_log_parse_text(longline, sizeof(longline), &l) == 0 && l.msg_len < CHARON_LOG_LINE_MAX,
              "an overlong line is cut, not overrun");

        /* the captures: gateway side and client side of each fault */
        expect("ike-proposal-gw.log", FAULT_PROPOSAL, CHARON_EV_NO_PROPOSAL, FAULT_AUTHENTICATION);
        expect("ike-proposal-client.log", FAULT_PROPOSAL, CHARON_EV_NO_PROPOSAL, FAULT_AUTHENTICATION);
        expect("esp-proposal-gw.log", FAULT_PROPOSAL, CHARON_EV_NO_PROPOSAL, FAULT_TRAFFIC_SELECTORS);
        expect("esp-proposal-client.log", FAULT_PROPOSAL, CHARON_EV_NO_PROPOSAL, FAULT_TRAFFIC_SELECTORS);
        expect("ts-mismatch-gw.log", FAULT_TRAFFIC_SELECTORS, CHARON_EV_TS_UNACCEPTABLE, FAULT_PROPOSAL);
        expect("ts-mismatch-client.log", FAULT_TRAFFIC_SELECTORS, CHARON_EV_TS_UNACCEPTABLE, FAULT_PROPOSAL);
        expect("wrong-psk-gw.log", FAULT_AUTHENTICATION, CHARON_EV_AUTH_FAILED, FAULT_PROPOSAL);
        expect("wrong-psk-client.log", FAULT_AUTHENTICATION, CHARON_EV_AUTH_FAILED, FAULT_PROPOSAL);
        expect("cert-expired-gw.log", FAULT_AUTHENTICATION, CHARON_EV_AUTH_FAILED, FAULT_REVOCATION);
        expect("cert-expired-client.log", FAULT_CERTIFICATE, CHARON_EV_CERT_EXPIRED, FAULT_REVOCATION);
        expect("cert-notyet-client.log", FAULT_CERTIFICATE, CHARON_EV_CERT_EXPIRED, FAULT_REVOCATION);
        expect("chain-incomplete-gw.log", FAULT_AUTHENTICATION, CHARON_EV_AUTH_FAILED, FAULT_REVOCATION);
        expect("chain-incomplete-client.log", FAULT_CERTIFICATE, CHARON_EV_CHAIN_INCOMPLETE, FAULT_REVOCATION);
        {
                tally t;
                CHECK(run_file("wrong-psk-gw.log", &t) == 0 && strcmp(t.peer_id, "client1.lab.test") == 0 &&
                              t.ev[CHARON_EV_INITIATING] > 0 && t.ev[CHARON_EV_PEER_CFG] > 0 && t.refused > 0,
                      "the gateway's PSK failure names the peer's identity (%s) and is a refusal of its "
                      "credential; its address comes per IKE_SA from 'is initiating'", t.peer_id);
                CHECK(run_file("wrong-psk-client.log", &t) == 0 && t.cls[FAULT_AUTHENTICATION] > 0 && t.refused == 0,
                      "the client's side: refused by the peer, not refusing it");
                CHECK(run_file("cert-expired-gw.log", &t) == 0 && t.cls[FAULT_AUTHENTICATION] > 0 && t.refused == 0,
                      "the gateway told N(AUTH_FAILED) by a peer refusing its certificate: not a refusal of ours");
        }
        return TAP_END();
}
