/* libcurl, loaded the first time HTTP is needed rather than when ikeheald starts.
 *
 * Why: libcurl is linked against some thirty libraries (GnuTLS, Kerberos, LDAP, SSH, …).
 * Merely being in the program's dependencies costs about 4 MB of resident memory: the dynamic
 * loader maps and relocates every one of them and runs their constructors at exec, whether a
 * transfer ever happens or not — not initialising libcurl cannot avoid that. Most gateways
 * configure no webhook and no revocation check, so ikeheald is not linked with libcurl: it
 * defines the few libcurl functions the project calls (curl_easy_*, curl_multi_*,
 * curl_slist_*) as thin forwarders, and the first call dlopen()s libcurl.so.4 and resolves
 * them all at once. Callers use the ordinary libcurl API and need not know.
 *
 * A libcurl that cannot be loaded, lacks a function or is older than the headers ikeheald was
 * built with (an option it does not know would be ignored silently) is refused as a whole: every
 * forwarder then fails the way libcurl itself reports a failure to start (NULL handle,
 * CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR), and curl_lib_error() says why. Adding a call to
 * another libcurl function means adding its forwarder to curl_lib.c (the link fails until then). */
#pragma once

#include <stdbool.h>

/* Load and resolve libcurl once; later calls return the first result. 0, or -ELIBACC (cannot
 * be loaded), -ELIBBAD (a function missing), -ENOPKG (older than the headers), -EIO (its global
 * initialisation failed). */
int curl_lib_load(void);
/* Whether libcurl is in the process (loaded successfully). */
bool curl_lib_loaded(void);
/* Why loading failed (a static string), or NULL if it did not fail or was not tried. */
const char *curl_lib_error(void);
