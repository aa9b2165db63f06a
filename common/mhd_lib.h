/* libmicrohttpd, loaded when an HTTP listener is first set up rather than when ikeheald starts.
 *
 * Why: libmicrohttpd is linked against GnuTLS and its nine libraries (nettle, hogweed, gmp,
 * p11-kit, idn2, unistring, tasn1, ffi). Being among the program's dependencies costs about
 * 2.5 MB of resident memory (0.4 MB of it anonymous: relocations and the constructors' data)
 * whether a listener is configured or not, and most gateways configure none. So ikeheald is not
 * linked with it: it defines the libmicrohttpd functions the project calls as thin forwarders,
 * and the first call of mhd_lib_load() (http_server_new() makes it) dlopen()s
 * libmicrohttpd.so.12 and resolves them all at once. Callers use the ordinary API.
 *
 * A library that cannot be loaded, lacks a function or is older than the headers ikeheald was
 * built with is refused as a whole, and mhd_lib_error() says why. The variadic info queries
 * (MHD_get_daemon_info(), MHD_get_connection_info()) forward only their first two arguments:
 * the kinds the project asks for take no more. Adding a call to another libmicrohttpd function
 * means adding its forwarder to mhd_lib.c (the link fails until then). */
#pragma once

#include <stdbool.h>

/* Load and resolve libmicrohttpd once; later calls return the first result. 0, or -ELIBACC
 * (cannot be loaded), -ELIBBAD (a function missing), -ENOPKG (older than the headers). */
int mhd_lib_load(void);
/* Whether libmicrohttpd is in the process (loaded successfully). */
bool mhd_lib_loaded(void);
/* Why loading failed (a static string), or NULL if it did not fail or was not tried. */
const char *mhd_lib_error(void);
