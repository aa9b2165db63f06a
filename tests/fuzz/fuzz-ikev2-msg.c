/* Fuzz the strict IKE_SA_INIT response parser: every datagram a probed gateway (or anyone on
 * the path) sends back goes through it. The input is one datagram; its own first 8 bytes serve
 * as "our" initiator SPI so the fuzzer gets past the SPI check and into the payload chain, and a
 * second pass with a fixed SPI covers the refusal path. The corpus holds real answers captured
 * from charon by tests/integration/ike-probe.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ikev2_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t fixed[IKEV2_SPI_SIZE] = {0x11, 0x22, 0x33, 0x44,
                                                      0x55, 0x66, 0x77, 0x88};
        uint8_t spi[IKEV2_SPI_SIZE] = {0};
        ikev2_msg_response r;
        const char *why = NULL;
        uint8_t *copy;

        /* an exact-size heap copy, so ASan sees any read one byte past the datagram */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        if (size)
                memcpy(copy, data, size);
        memcpy(spi, copy, size < IKEV2_SPI_SIZE ? size : IKEV2_SPI_SIZE);
        if (ikev2_msg_parse_init_response(copy, size, spi, &r, &why) == 0) {
                /* an accepted answer is self-consistent */
                if (r.n_payloads == 0 || r.n_payloads > IKEV2_MSG_MAX_PAYLOADS)
                        abort();
                if (!(r.has_sa && r.has_ke && r.has_nonce) && !r.notify && !r.cookie && !r.redirect)
                        abort();
        } else if (!why)
                abort(); /* every refusal names its reason */
        (void) ikev2_msg_parse_init_response(copy, size, fixed, &r, &why);
        free(copy);
        return 0;
}
