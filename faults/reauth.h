/* Peers meet a configuration fault now, not at their next re-authentication: after the broken
 * configuration is loaded, charon keeps the IKE_SAs it established under the old one (hours,
 * until they rekey or re-authenticate). Every established IKE_SA is terminated over VICI
 * (list-sas, then `terminate ike-id=N` each, without waiting for the peers' answers), so road
 * warriors reconnect — and authenticate or negotiate proposals against the fault. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "actions/action.h"

#define REAUTH_SAS_MAX 1024u

typedef struct fault_reauth fault_reauth;
typedef void (*fault_reauth_done)(fault_reauth *s, int r, void *userdata);

struct fault_reauth {
        struct vici_client *vici;
        uint64_t ids[REAUTH_SAS_MAX];
        size_t n, replied, failed;
        bool pending;
        fault_reauth_done done;
        void *userdata;
        char detail[160];
};

/* Begin; done() is called once (never from inside this call), with 0 or -errno and detail
 * saying how many SAs went. -ENOTCONN: charon is not connected over VICI. */
int fault_reauth_start(fault_reauth *s, struct vici_client *vici, fault_reauth_done done, void *userdata);
void fault_reauth_cancel(fault_reauth *s);
