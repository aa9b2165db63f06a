/* See curl_lib.h. One table of function pointers, filled once by curl_lib_load(); each
 * forwarder loads on first use and then calls through the table. The variadic setters hand on
 * their one argument with the type libcurl itself reads for that option number (long, object
 * pointer, function pointer or curl_off_t), as libcurl's own implementation does. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#include <curl/curl.h>

#include "curl_lib.h"
#include "dl_table.h"
#include "macro.h"

#define CURL_SONAME "libcurl.so.4"

typedef void (*generic_fn)(void);

static struct {
        int state; /* 0 = not tried, 1 = loaded, <0 = -errno of the failure */
        const char *error;
        CURLcode (*global_init)(long flags);
        curl_version_info_data *(*version_info)(CURLversion v);
        CURL *(*easy_init)(void);
        void (*easy_cleanup)(CURL *curl);
        CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
        CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
        const char *(*easy_strerror)(CURLcode code);
        CURLM *(*multi_init)(void);
        CURLMcode (*multi_cleanup)(CURLM *multi);
        CURLMcode (*multi_setopt)(CURLM *multi, CURLMoption option, ...);
        CURLMcode (*multi_add_handle)(CURLM *multi, CURL *easy);
        CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *easy);
        CURLMcode (*multi_assign)(CURLM *multi, curl_socket_t fd, void *p);
        CURLMcode (*multi_socket_action)(CURLM *multi, curl_socket_t fd, int ev, int *running);
        CURLMsg *(*multi_info_read)(CURLM *multi, int *left);
        struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
        void (*slist_free_all)(struct curl_slist *list);
} lib;

static const dl_symbol symbols[] = {
#define SYM(field, name) { name, offsetof(__typeof__(lib), field) }
        SYM(global_init, "curl_global_init"),
        SYM(version_info, "curl_version_info"),
        SYM(easy_init, "curl_easy_init"),
        SYM(easy_cleanup, "curl_easy_cleanup"),
        SYM(easy_setopt, "curl_easy_setopt"),
        SYM(easy_getinfo, "curl_easy_getinfo"),
        SYM(easy_strerror, "curl_easy_strerror"),
        SYM(multi_init, "curl_multi_init"),
        SYM(multi_cleanup, "curl_multi_cleanup"),
        SYM(multi_setopt, "curl_multi_setopt"),
        SYM(multi_add_handle, "curl_multi_add_handle"),
        SYM(multi_remove_handle, "curl_multi_remove_handle"),
        SYM(multi_assign, "curl_multi_assign"),
        SYM(multi_socket_action, "curl_multi_socket_action"),
        SYM(multi_info_read, "curl_multi_info_read"),
        SYM(slist_append, "curl_slist_append"),
        SYM(slist_free_all, "curl_slist_free_all"),
#undef SYM
};

static int load_fail(int r, const char *why) {
        lib.state = r;
        lib.error = why;
        return r;
}

int curl_lib_load(void) {
        const curl_version_info_data *v;
        int r;

        if (lib.state)
                return lib.state > 0 ? 0 : lib.state;
        /* RTLD_NOW: a dependency of libcurl that is missing fails here, not mid-transfer. The
         * handle is never closed: libcurl keeps global state for the life of the process. */
        r = dl_table_load(CURL_SONAME, symbols, ELEMENTSOF(symbols), &lib);
        if (r < 0)
                return load_fail(r, r == -ELIBACC ? "cannot load " CURL_SONAME
                                                  : CURL_SONAME " lacks a function ikeheald calls");
        v = lib.version_info(CURLVERSION_NOW);
        if (!v || v->version_num < LIBCURL_VERSION_NUM)
                return load_fail(-ENOPKG, CURL_SONAME " is older than the libcurl ikeheald was built with");
        if (lib.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return load_fail(-EIO, "libcurl's global initialisation failed");
        lib.state = 1;
        return 0;
}

bool curl_lib_loaded(void) {
        return lib.state > 0;
}

const char *curl_lib_error(void) {
        return lib.state < 0 ? lib.error : NULL;
}

/* ---- the forwarders (names in parentheses: curl.h may define them as checking macros) ---- */

CURL *(curl_easy_init)(void) {
        return curl_lib_load() < 0 ? NULL : lib.easy_init();
}

void (curl_easy_cleanup)(CURL *curl) {
        if (curl_lib_loaded()) /* a handle exists only if libcurl was loaded */
                lib.easy_cleanup(curl);
}

CURLcode (curl_easy_setopt)(CURL *curl, CURLoption option, ...) {
        CURLcode r;
        va_list ap;

        if (!curl_lib_loaded())
                return CURLE_FAILED_INIT;
        va_start(ap, option);
        if (option < CURLOPTTYPE_OBJECTPOINT)
                r = lib.easy_setopt(curl, option, va_arg(ap, long));
        else if (option < CURLOPTTYPE_FUNCTIONPOINT)
                r = lib.easy_setopt(curl, option, va_arg(ap, void *));
        else if (option < CURLOPTTYPE_OFF_T)
                r = lib.easy_setopt(curl, option, va_arg(ap, generic_fn));
        else if (option < CURLOPTTYPE_BLOB)
                r = lib.easy_setopt(curl, option, va_arg(ap, curl_off_t));
        else
                r = lib.easy_setopt(curl, option, va_arg(ap, void *));
        va_end(ap);
        return r;
}

CURLcode (curl_easy_getinfo)(CURL *curl, CURLINFO info, ...) {
        CURLcode r;
        va_list ap;

        if (!curl_lib_loaded())
                return CURLE_FAILED_INIT;
        va_start(ap, info);
        r = lib.easy_getinfo(curl, info, va_arg(ap, void *)); /* always a pointer to the result */
        va_end(ap);
        return r;
}

const char *(curl_easy_strerror)(CURLcode code) {
        if (!curl_lib_loaded())
                return lib.error ?: "libcurl not loaded";
        return lib.easy_strerror(code);
}

CURLM *(curl_multi_init)(void) {
        return curl_lib_load() < 0 ? NULL : lib.multi_init();
}

CURLMcode (curl_multi_cleanup)(CURLM *multi) {
        return curl_lib_loaded() ? lib.multi_cleanup(multi) : CURLM_BAD_HANDLE;
}

CURLMcode (curl_multi_setopt)(CURLM *multi, CURLMoption option, ...) {
        CURLMcode r;
        va_list ap;

        if (!curl_lib_loaded())
                return CURLM_INTERNAL_ERROR;
        va_start(ap, option);
        if (option < CURLOPTTYPE_OBJECTPOINT)
                r = lib.multi_setopt(multi, option, va_arg(ap, long));
        else if (option < CURLOPTTYPE_FUNCTIONPOINT)
                r = lib.multi_setopt(multi, option, va_arg(ap, void *));
        else if (option < CURLOPTTYPE_OFF_T)
                r = lib.multi_setopt(multi, option, va_arg(ap, generic_fn));
        else
                r = lib.multi_setopt(multi, option, va_arg(ap, curl_off_t));
        va_end(ap);
        return r;
}

CURLMcode (curl_multi_add_handle)(CURLM *multi, CURL *easy) {
        return curl_lib_loaded() ? lib.multi_add_handle(multi, easy) : CURLM_BAD_HANDLE;
}

CURLMcode (curl_multi_remove_handle)(CURLM *multi, CURL *easy) {
        return curl_lib_loaded() ? lib.multi_remove_handle(multi, easy) : CURLM_BAD_HANDLE;
}

CURLMcode (curl_multi_assign)(CURLM *multi, curl_socket_t fd, void *p) {
        return curl_lib_loaded() ? lib.multi_assign(multi, fd, p) : CURLM_BAD_HANDLE;
}

CURLMcode (curl_multi_socket_action)(CURLM *multi, curl_socket_t fd, int ev, int *running) {
        return curl_lib_loaded() ? lib.multi_socket_action(multi, fd, ev, running) : CURLM_BAD_HANDLE;
}

CURLMsg *(curl_multi_info_read)(CURLM *multi, int *left) {
        if (!curl_lib_loaded()) {
                if (left)
                        *left = 0;
                return NULL;
        }
        return lib.multi_info_read(multi, left);
}

struct curl_slist *(curl_slist_append)(struct curl_slist *list, const char *s) {
        return curl_lib_load() < 0 ? NULL : lib.slist_append(list, s);
}

void (curl_slist_free_all)(struct curl_slist *list) {
        if (curl_lib_loaded()) /* a list exists only if libcurl was loaded */
                lib.slist_free_all(list);
}
