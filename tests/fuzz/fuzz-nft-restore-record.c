/* Fuzz the nft_restore record reader (actions/nft_restore_record.c): a revert judges and undoes
 * a firewall change from this file in the state directory, so whatever is there must parse or
 * be refused with path:line:col, never read past its end. The input is the file; a record that
 * parses is written back with nft_restore_record_write() and must read again to the same
 * generation, objects, states and messages. Seeds: records as the writer makes them (version 2
 * with its slot's room, version 1), a version-2 record cut short and one with a wrong digest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/nft_restore_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char in_path[64], out_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        nft_restore_record rec = {}, again = {};
        char why[512];
        FILE *f;

        if (!in_path[0]) {
                snprintf(in_path, sizeof(in_path), "/tmp/fuzz-nft-restore-record-%d", (int) getpid());
                snprintf(out_path, sizeof(out_path), "%s.out", in_path);
        }
        if (!(f = fopen(in_path, "w")))
                abort();
        if (size && fwrite(data, size, 1, f) != 1)
                abort();
        fclose(f);

        if (nft_restore_record_read(in_path, &rec, why, sizeof(why)) == 0) {
                if (nft_restore_record_write(out_path, &rec) < 0 ||
                    nft_restore_record_read(out_path, &again, why, sizeof(why)) != 0)
                        abort();
                if (again.generation != rec.generation || again.n != rec.n || again.msgs_len != rec.msgs_len ||
                    (rec.msgs_len && memcmp(again.msgs, rec.msgs, rec.msgs_len) != 0))
                        abort();
                for (size_t i = 0; i < rec.n; i++)
                        if (again.objs[i].kind != rec.objs[i].kind || again.objs[i].family != rec.objs[i].family ||
                            strcmp(again.objs[i].table, rec.objs[i].table) != 0 ||
                            strcmp(again.objs[i].name, rec.objs[i].name) != 0 ||
                            strcmp(again.pre[i], rec.pre[i]) != 0 || strcmp(again.post[i], rec.post[i]) != 0)
                                abort();
                nft_restore_record_done(&again);
        }
        nft_restore_record_done(&rec);
        (void) unlink(in_path);
        (void) unlink(out_path);
        return 0;
}
