/* Fuzz the decoders of the engine's durable records (agent/engine/engine_store.c): a run and a
 * measure as engine.log replays them at every start and as an owed revert record
 * (<state_dir>/owed/measure-ID) is read back — files in the state directory. The input is one
 * VICI message, decoded as a run and as a measure (each with the action parameters of its kind,
 * action_params_from_vici()); what decodes is encoded again with the store's own encoder and
 * must decode again. The store's file is included whole so that its own static decoders run;
 * its exported functions are renamed to stay apart from the library's. Seeds: records as the
 * encoders write them.
 */
#include <stdint.h>
#include <stdlib.h>

#define engine_now fuzz_engine_now
#define engine_mono fuzz_engine_mono
#define engine_store_open fuzz_engine_store_open
#define engine_store_run fuzz_engine_store_run
#define engine_persist_measure fuzz_engine_persist_measure
#define engine_persist_meta fuzz_engine_persist_meta
#define engine_owed_update fuzz_engine_owed_update
#include "agent/engine/engine_store.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_free(run *r) {
        for (size_t j = 0; j < RUNBOOK_STEPS_MAX; j++)
                action_params_done(&r->steps[j].params);
        free(r);
}

static void measure_free(measure *m) {
        action_params_done(&m->params);
        free(m);
}

/* Encode with `enc`, parse and decode again with `dec`: a decoded record must survive that. */
static void again(void (*enc)(const void *, vici_builder *), const void *obj, int (*dec)(const vici_node *, void *),
                  void *fresh) {
        vici_builder *b = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;
        vici_node *root = NULL;

        if (vici_builder_new(&b) < 0)
                return;
        enc(obj, b);
        if (vici_builder_finish(b, &buf, &len) == 0) {
                if (vici_msg_parse(buf, len, &root) < 0 || dec(root, fresh) < 0)
                        abort();
        }
        vici_node_free(root);
        free(buf);
}

static void run_enc(const void *o, vici_builder *b) { run_encode(o, b); }
static int run_dec(const vici_node *n, void *o) { return run_decode(n, o); }
static void measure_enc(const void *o, vici_builder *b) { measure_encode(o, b); }
static int measure_dec(const vici_node *n, void *o) { return measure_decode(n, o); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vici_node *root = NULL;
        run *r, *r2;
        measure *m, *m2;

        if (vici_msg_parse(data, size, &root) < 0)
                return 0;
        r = calloc(1, sizeof(*r));
        r2 = calloc(1, sizeof(*r2));
        m = calloc(1, sizeof(*m));
        m2 = calloc(1, sizeof(*m2));
        if (!r || !r2 || !m || !m2)
                abort();
        if (run_decode(root, r) == 0)
                again(run_enc, r, run_dec, r2);
        if (measure_decode(root, m) == 0)
                again(measure_enc, m, measure_dec, m2);
        run_free(r);
        run_free(r2);
        measure_free(m);
        measure_free(m2);
        vici_node_free(root);
        return 0;
}
