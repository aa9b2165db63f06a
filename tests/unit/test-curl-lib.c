/* libcurl loaded on first use (common/curl_lib.h): this binary is linked the way ikeheald is
 * (without libcurl), so libcurl must be absent from the process until HTTP is needed — also
 * after a notifier without webhooks was made and used — and present once a webhook is
 * configured. Then the forwarders hand every argument type through unchanged: a file:// transfer
 * on a real sd-event loop (common/curl_glue.h) with string, long, function-pointer and curl_off_t
 * options and a curl_off_t result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curl_glue.h"
#include "curl_lib.h"
#include "agent/notify/notifier.h"
#include "lib_test.h"
#include "tap.h"

typedef struct sink {
        char buf[256];
        size_t len;
        bool done;
        CURLcode result;
} sink;

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata) {
        sink *k = userdata;
        size_t n = size * nmemb;

        if (n > sizeof(k->buf) - 1 - k->len)
                n = sizeof(k->buf) - 1 - k->len;
        memcpy(k->buf + k->len, data, n);
        k->len += n;
        return size * nmemb;
}

static void on_done(curl_glue *g, CURL *easy, CURLcode result, void *userdata) {
        sink *k = userdata;
        k->done = true;
        k->result = result;
}

static CURLcode fetch(ev_loop *e, curl_glue *g, const char *url, curl_off_t from, sink *k,
                      curl_off_t *ret_size) {
        CURL *easy = curl_easy_init();

        *k = (sink){0};
        if (!easy)
                return CURLE_FAILED_INIT;
        (void) curl_easy_setopt(easy, CURLOPT_URL, url);
        (void) curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "file");
        (void) curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
        (void) curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
        (void) curl_easy_setopt(easy, CURLOPT_WRITEDATA, k);
        (void) curl_easy_setopt(easy, CURLOPT_RESUME_FROM_LARGE, from);
        if (curl_glue_add(g, easy, on_done, k) < 0) {
                curl_easy_cleanup(easy);
                return CURLE_FAILED_INIT;
        }
        for (int i = 0; i < 500 && !k->done; i++)
                (void) ev_run(e, 10 * USEC_PER_MSEC);
        *ret_size = -1;
        (void) curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, ret_size);
        curl_easy_cleanup(easy);
        return k->done ? k->result : CURLE_OPERATION_TIMEDOUT;
}

int main(void) {
        static const notify_message msg = {.event = "test", .text = "nothing to send"};
        char path[] = "/tmp/test-curl-lib-XXXXXX", url[64];
        notify_webhook w = {.name = (char *) "ops", .url = (char *) "http://127.0.0.1:9/hook"};
        notify_config none = {.queue_max = 4}, one = {.webhooks = &w, .n_webhooks = 1, .queue_max = 4};
        ev_loop *e = NULL;
        notifier *n = NULL;
        curl_glue *g = NULL;
        curl_off_t size;
        sink k;
        int fd;

        CHECK(ev_new(&e) >= 0, "ev_new");
        CHECK(!curl_lib_loaded() && !curl_lib_error() && !lib_mapped("/libcurl"),
              "libcurl is not in the process at start");

        CHECK(notifier_new(&n, e, &none) == 0, "notifier without webhooks");
        CHECK(notifier_send(n, NULL, &msg) == 0, "a message to no webhook: nothing queued");
        n = notifier_free(n);
        CHECK(!curl_lib_loaded() && !lib_mapped("/libcurl"), "libcurl still not loaded after it");

        CHECK(notifier_new(&n, e, &one) == 0, "notifier with a webhook");
        CHECK(curl_lib_loaded() && lib_mapped("/libcurl") && !curl_lib_error(),
              "libcurl loaded as soon as a webhook is configured");
        n = notifier_free(n);
        CHECK(curl_lib_load() == 0, "loading again is a no-op");

        fd = mkstemp(path);
        CHECK(fd >= 0 && write(fd, "hello, curl\n", 12) == 12, "a 12-byte file");
        if (fd >= 0)
                close(fd);
        snprintf(url, sizeof(url), "file://%s", path);
        CHECK(curl_glue_new(&g, e) == 0, "curl_glue_new");
        CHECK(fetch(e, g, url, 0, &k, &size) == CURLE_OK && k.len == 12 &&
                      memcmp(k.buf, "hello, curl\n", 12) == 0,
              "file:// fetched through the forwarders (string, long, callback, data options)");
        CHECK(size == 12, "curl_off_t result through getinfo: %lld", (long long) size);
        CHECK(fetch(e, g, url, 7, &k, &size) == CURLE_OK && k.len == 5 &&
                      memcmp(k.buf, "curl\n", 5) == 0,
              "curl_off_t option through setopt: resumed from byte 7");
        CHECK(strlen(curl_easy_strerror(CURLE_FILESIZE_EXCEEDED)) > 0, "curl_easy_strerror");
        g = curl_glue_free(g);
        unlink(path);
        ev_unref(e);
        return TAP_END();
}
