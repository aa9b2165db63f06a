/* A library loaded on first use instead of linked (libcurl, libmicrohttpd, libpcap: what a
 * feature that is not configured should not cost every ikeheald; libyaml, needed only while a
 * file is parsed): its functions resolved at once into a table of pointers the forwarders call
 * through. Does not log. */
#pragma once

#include <stddef.h>

typedef struct dl_symbol {
        const char *name; /* the library's function */
        size_t offset;    /* where its address goes in the caller's table */
} dl_symbol;

/* dlopen SONAME (RTLD_NOW: a missing dependency fails here, not at the first call; the handle
 * is never closed once loaded) and store each of the N symbols' addresses at TABLE + offset.
 * -ELIBACC: it cannot be loaded; -ELIBBAD: a function is missing (nothing is stored then, and
 * the library is closed again). */
int dl_table_load(const char *soname, const dl_symbol *syms, size_t n, void *table);
/* The same, for a library that is closed again when no longer needed: *ret_handle is for
 * dl_table_close(), after which nothing in the table may be called. */
int dl_table_open(const char *soname, const dl_symbol *syms, size_t n, void *table, void **ret_handle);
void dl_table_close(void *handle);
