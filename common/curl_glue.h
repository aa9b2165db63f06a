/* libcurl's multi interface driven by the agent's sd-event loop: every transfer's sockets and
 * timeouts become event sources, so HTTP (CRL downloads, OCSP, webhooks) never blocks the loop.
 * A transfer is an easy handle the caller configured; it gets one callback when it is done. */
#pragma once

#include <curl/curl.h>

#include "ev.h"
#include "macro.h"

typedef struct curl_glue curl_glue;

/* The transfer ended: result is CURLE_OK or the error; the easy handle is the caller's again
 * (removed from the multi handle) and may be inspected and freed from the callback. */
typedef void (*curl_glue_done_cb)(curl_glue *g, CURL *easy, CURLcode result, void *userdata);

/* Loads libcurl if it is not yet (common/curl_lib.h). 0, -ENOMEM, or curl_lib_load()'s error. */
int curl_glue_new(curl_glue **ret, ev_loop *e);
/* Removes (without callbacks) every transfer still running. */
curl_glue *curl_glue_free(curl_glue *g);
DEFINE_FREE_FUNC(curl_glue, curl_glue_free);

/* Start a configured transfer. */
int curl_glue_add(curl_glue *g, CURL *easy, curl_glue_done_cb cb, void *userdata);
/* Abandon one (no callback); the handle is the caller's again. */
void curl_glue_remove(curl_glue *g, CURL *easy);
