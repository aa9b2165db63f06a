/* libnftnl and libmnl (the netlink half of nftables), loaded the first time ikeheald talks to
 * nftables rather than when it starts.
 *
 * Why: an agent whose configuration has no firewall check, runs no nft action and injects no nft
 * fault never calls them, yet being linked costs it their mapping and relocation at exec (about
 * 150 KiB of resident memory). So ikeheald is not linked with them: it defines the nftnl_* and
 * mnl_* functions the project calls as thin forwarders (mnl_attr_for_each and the like are
 * macros over mnl_attr_ok/mnl_attr_next, which are forwarded), and the first call dlopen()s
 * libmnl.so.0 and then libnftnl.so.11 and resolves them all at once. Callers use the libraries'
 * ordinary API (the headers stay) and need not know.
 *
 * A library that cannot be loaded or lacks a function is refused as a whole: every forwarder then
 * returns the function's own failure value (NULL for a pointer, -1 with errno ENOSYS for an int
 * that means -1/errno, 0 or false for a value, nothing for void), nothing is called through a
 * missing pointer, and nftnl_lib_error() says why. Entry points (opening a netlink socket,
 * starting a batch) call nftnl_lib_load() first, so that a run never gets as far as a forwarder
 * that fails silently. Calling another nftnl_* or mnl_* function means adding its line to
 * NFTNL_LIB_FUNCS in nftnl_lib.c (the link fails until then). */
#pragma once

#include <stdbool.h>

#define MNL_SONAME "libmnl.so.0"
#define NFTNL_SONAME "libnftnl.so.11"

/* Load and resolve both libraries once; later calls return the first result. 0, or -ELIBACC
 * (one cannot be loaded), -ELIBBAD (a function missing). */
int nftnl_lib_load(void);
/* The same from other file names, for tests. Only the first load of a process counts. */
int nftnl_lib_load_as(const char *mnl_soname, const char *nftnl_soname);
/* Whether the libraries are in the process (loaded successfully). */
bool nftnl_lib_loaded(void);
/* Why loading failed ("libnftnl could not be loaded: …", a static string), or NULL if it did not
 * fail or was not tried. */
const char *nftnl_lib_error(void);
/* For messages: nftnl_lib_error() when r is the load failure, strerror(-r) otherwise. */
const char *nftnl_lib_strerror(int r);
