/* Fuzz the etcd JSON gateway reply parser: any body.
 */
#include <stdint.h>
#include <string.h>

#include "etcd_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        etcd_reply *r = NULL;
        char err[ETCD_ERROR_MAX];
        if (etcd_reply_parse((const char *) data, size, &r, err) == 0) {
                for (size_t i = 0; i < r->n_kvs; i++)
                        if (strlen(r->kvs[i].key) > ETCD_KEY_MAX)
                                __builtin_trap();
                etcd_reply_free(r);
        }
        return 0;
}
