/* See pcap_lib.h. One table of function pointers, filled once by pcap_lib_load(); each
 * forwarder calls through it, or fails as libpcap would when the table is not filled. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "dl_table.h"
#include "macro.h"
#include "pcap_lib.h"

#define PCAP_SONAME "libpcap.so.0.8"

static struct {
        int state; /* 0 = not tried, 1 = loaded, <0 = -errno of the failure */
        const char *error;
        pcap_t *(*create)(const char *, char *);
        int (*set_snaplen)(pcap_t *, int);
        int (*set_immediate_mode)(pcap_t *, int);
        int (*set_buffer_size)(pcap_t *, int);
        int (*activate)(pcap_t *);
        int (*compile)(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32);
        int (*setfilter)(pcap_t *, struct bpf_program *);
        void (*freecode)(struct bpf_program *);
        int (*setnonblock)(pcap_t *, int, char *);
        int (*get_selectable_fd)(pcap_t *);
        int (*dispatch)(pcap_t *, int, pcap_handler, u_char *);
        pcap_dumper_t *(*dump_fopen)(pcap_t *, FILE *);
        void (*dump)(u_char *, const struct pcap_pkthdr *, const u_char *);
        int (*dump_flush)(pcap_dumper_t *);
        void (*dump_close)(pcap_dumper_t *);
        void (*close)(pcap_t *);
        char *(*geterr)(pcap_t *);
        const char *(*statustostr)(int);
} lib;

static const dl_symbol symbols[] = {
#define SYM(field, name) { name, offsetof(__typeof__(lib), field) }
        SYM(create, "pcap_create"),
        SYM(set_snaplen, "pcap_set_snaplen"),
        SYM(set_immediate_mode, "pcap_set_immediate_mode"),
        SYM(set_buffer_size, "pcap_set_buffer_size"),
        SYM(activate, "pcap_activate"),
        SYM(compile, "pcap_compile"),
        SYM(setfilter, "pcap_setfilter"),
        SYM(freecode, "pcap_freecode"),
        SYM(setnonblock, "pcap_setnonblock"),
        SYM(get_selectable_fd, "pcap_get_selectable_fd"),
        SYM(dispatch, "pcap_dispatch"),
        SYM(dump_fopen, "pcap_dump_fopen"),
        SYM(dump, "pcap_dump"),
        SYM(dump_flush, "pcap_dump_flush"),
        SYM(dump_close, "pcap_dump_close"),
        SYM(close, "pcap_close"),
        SYM(geterr, "pcap_geterr"),
        SYM(statustostr, "pcap_statustostr"),
#undef SYM
};

int pcap_lib_load(void) {
        int r;

        if (lib.state != 0)
                return lib.state > 0 ? 0 : lib.state;
        /* RTLD_NOW: a missing dependency fails here, not in the middle of a capture */
        r = dl_table_load(PCAP_SONAME, symbols, ELEMENTSOF(symbols), &lib);
        if (r < 0) {
                lib.error = r == -ELIBACC ? "libpcap.so.0.8 cannot be loaded (is libpcap installed?)"
                                          : "libpcap lacks a function ikeheald calls";
                return (lib.state = r);
        }
        return (lib.state = 1, 0);
}

bool pcap_lib_loaded(void) {
        return lib.state > 0;
}

const char *pcap_lib_error(void) {
        return lib.error;
}

/* The forwarders: libpcap's own API. Only pcap_create() can be reached without a loaded
 * library (every other call needs the pcap_t it returned); the others still check. */
pcap_t *pcap_create(const char *source, char *errbuf) {
        if (!pcap_lib_loaded()) {
                (void) snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", lib.error ?: "libpcap is not loaded");
                return NULL;
        }
        return lib.create(source, errbuf);
}

#define FORWARD(ret, name, field, fail, params, args)   \
        ret name params {                               \
                if (!pcap_lib_loaded())                 \
                        return fail;                    \
                return lib.field args;                  \
        }
#define FORWARD_VOID(name, field, params, args)         \
        void name params {                              \
                if (pcap_lib_loaded())                  \
                        lib.field args;                 \
        }

FORWARD(int, pcap_set_snaplen, set_snaplen, PCAP_ERROR, (pcap_t * p, int n), (p, n))
FORWARD(int, pcap_set_immediate_mode, set_immediate_mode, PCAP_ERROR, (pcap_t * p, int on), (p, on))
FORWARD(int, pcap_set_buffer_size, set_buffer_size, PCAP_ERROR, (pcap_t * p, int n), (p, n))
FORWARD(int, pcap_activate, activate, PCAP_ERROR, (pcap_t * p), (p))
FORWARD(int, pcap_compile, compile, PCAP_ERROR,
        (pcap_t * p, struct bpf_program *prog, const char *s, int optimize, bpf_u_int32 netmask),
        (p, prog, s, optimize, netmask))
FORWARD(int, pcap_setfilter, setfilter, PCAP_ERROR, (pcap_t * p, struct bpf_program *prog), (p, prog))
FORWARD_VOID(pcap_freecode, freecode, (struct bpf_program * prog), (prog))
FORWARD(int, pcap_setnonblock, setnonblock, PCAP_ERROR, (pcap_t * p, int on, char *errbuf), (p, on, errbuf))
FORWARD(int, pcap_get_selectable_fd, get_selectable_fd, PCAP_ERROR, (pcap_t * p), (p))
FORWARD(int, pcap_dispatch, dispatch, PCAP_ERROR, (pcap_t * p, int n, pcap_handler cb, u_char *user), (p, n, cb, user))
FORWARD(pcap_dumper_t *, pcap_dump_fopen, dump_fopen, NULL, (pcap_t * p, FILE *f), (p, f))
FORWARD_VOID(pcap_dump, dump, (u_char * user, const struct pcap_pkthdr *h, const u_char *bytes), (user, h, bytes))
FORWARD(int, pcap_dump_flush, dump_flush, PCAP_ERROR, (pcap_dumper_t * d), (d))
FORWARD_VOID(pcap_dump_close, dump_close, (pcap_dumper_t * d), (d))
FORWARD_VOID(pcap_close, close, (pcap_t * p), (p))
FORWARD(char *, pcap_geterr, geterr, (char *) "libpcap is not loaded", (pcap_t * p), (p))
FORWARD(const char *, pcap_statustostr, statustostr, "libpcap is not loaded", (int status), (status))
