/* libpcap, loaded the first time a capture is made rather than when ikeheald starts.
 *
 * Why: most gateways never capture, and a linked library is mapped, relocated and initialised
 * at every start whether it is used or not. ikeheald is not linked with libpcap: it defines the
 * few libpcap functions the project calls as thin forwarders, and pcap_lib_load() dlopen()s
 * libpcap.so.0.8 and resolves them all at once. Callers use the ordinary libpcap API after a
 * successful pcap_lib_load(); before it (or after it failed) pcap_create() fails with the
 * reason in its error buffer and the other forwarders fail the way libpcap reports an error
 * (-1, NULL), so nothing is called through a missing pointer. Adding a call to another libpcap
 * function means adding its forwarder to pcap_lib.c (the link fails until then). */
#pragma once

#include <stdbool.h>

/* Load and resolve libpcap once; later calls return the first result. 0, or -ELIBACC (cannot
 * be loaded), -ELIBBAD (a function missing). */
int pcap_lib_load(void);
/* Whether libpcap is in the process (loaded successfully). */
bool pcap_lib_loaded(void);
/* Why loading failed (a static string), or NULL if it did not fail or was not tried. */
const char *pcap_lib_error(void);
