/* `ikehealctl init`: a first ikeheal.yaml from what is on the host. init_detect.c finds the
 * facts (strongSwan's flavour, unit, VICI socket, swanctl tree, certificates and keys, a standby
 * pair, the addresses charon listens on, NTP servers, the nftables input path, our groups),
 * init_write.c turns them into a commented configuration, init.c is the command (options,
 * output file, the check by `ikeheald --check-config`). Every choice made, and every one that
 * could not be made, is a note: written into the configuration as comments, and on stderr. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct init_list {
        char **v;
        size_t n;
} init_list;

int init_list_push(init_list *l, const char *s);
bool init_list_has(const init_list *l, const char *s);
void init_list_done(init_list *l);

typedef enum init_flavour {
        INIT_FLAVOUR_NONE,    /* no strongSwan found */
        INIT_FLAVOUR_SYSTEMD, /* charon-systemd (strongswan.service), configured with swanctl */
        INIT_FLAVOUR_STARTER, /* the starter (strongswan-starter.service), ipsec.conf over stroke */
} init_flavour;

typedef struct init_opts {
        const char *strongswan_conf; /* NULL: $STRONGSWAN_CONF, else /etc/strongswan.conf */
        const char *swanctl_dir;     /* NULL: $SWANCTL_DIR, else /etc/swanctl */
        const char *standby_dir;     /* NULL: <swanctl>/standby, then beside the swanctl tree */
        const char *etc;             /* where ipsec.conf, timesyncd, chrony live: /etc */
} init_opts;

typedef struct init_facts {
        init_flavour flavour;
        const char *unit;           /* static string, NULL: none found */
        char *strongswan_conf;
        bool strongswan_conf_read;
        char *vici_socket;
        bool vici_loaded;           /* the vici plugin is (as far as the configuration says) loaded */
        bool vici_up;               /* a socket is there now */
        char *swanctl_dir;
        bool swanctl_tree;          /* swanctl.conf exists */
        init_list conns;            /* connection names of swanctl.conf */
        init_list certs, keys;      /* files of x509/ and of the key directories */
        char *standby_cert, *standby_key;
        bool has_crls;
        init_list addresses;        /* probe targets */
        init_list ntp;              /* "address:port" of NTP servers given as addresses */
        init_list nft_inputs;       /* "family table, chain NAME (policy P)" */
        bool nft_read;
        bool group_readers, group_approvers;
        init_list notes;            /* "+ …" a choice made, "- …" one that could not be made */
} init_facts;

/* Find everything; what is missing becomes a note, never an error. -ENOMEM only. */
int init_detect(const init_opts *o, init_facts *f);
void init_facts_done(init_facts *f);
int init_note(init_facts *f, bool made, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The configuration, with the notes as comments. */
int init_write(const init_facts *f, FILE *out);

/* The command: ikehealctl init [-o FILE] [--strongswan-conf FILE] [--swanctl-dir DIR]
 * [--standby DIR] [--no-check]. */
int ctl_init(int argc, char **argv);
/* Its usage text (init --help, help init). */
void ctl_init_usage(FILE *f);
