/* See dl_table.h. */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "dl_table.h"

typedef void (*generic_fn)(void);

int dl_table_load(const char *soname, const dl_symbol *syms, size_t n, void *table) {
        void *h;

        return dl_table_open(soname, syms, n, table, &h);
}

int dl_table_open(const char *soname, const dl_symbol *syms, size_t n, void *table, void **ret_handle) {
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

        if (!h)
                return -ELIBACC;
        for (size_t i = 0; i < n; i++)
                if (!dlsym(h, syms[i].name)) {
                        (void) dlclose(h);
                        return -ELIBBAD;
                }
        for (size_t i = 0; i < n; i++) {
                generic_fn f = (generic_fn) dlsym(h, syms[i].name);
                memcpy((char *) table + syms[i].offset, &f, sizeof(f));
        }
        *ret_handle = h;
        return 0;
}

void dl_table_close(void *handle) {
        if (handle)
                (void) dlclose(handle);
}
