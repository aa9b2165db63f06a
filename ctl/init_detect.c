/* What `ikehealctl init` finds on the host (see init.h). Everything is read, nothing changed:
 * unit files and /proc for strongSwan's flavour, strongswan.conf and swanctl.conf through
 * swconf.c, the swanctl tree's directories, the interfaces and /proc/net/udp for the IKE
 * addresses, the NTP clients' configuration, the live nftables ruleset (needs CAP_NET_ADMIN),
 * the group database. A fact that cannot be found is a note saying so and what to do. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <ifaddrs.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl/init.h"
#include "swconf.h"
#include "file_read.h"
#include "macro.h"
#include "nft_ruleset.h"

#define LIST_MAX 64

int init_list_push(init_list *l, const char *s) {
        char **v;

        if (init_list_has(l, s) || l->n >= LIST_MAX)
                return 0;
        if (!(v = realloc(l->v, (l->n + 2) * sizeof(*v))) || !(v[l->n] = strdup(s))) {
                if (v)
                        l->v = v;
                return -ENOMEM;
        }
        v[++l->n] = NULL;
        l->v = v;
        return 0;
}

bool init_list_has(const init_list *l, const char *s) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i], s) == 0)
                        return true;
        return false;
}

void init_list_done(init_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (init_list) { 0 };
}

int init_note(init_facts *f, bool made, const char *fmt, ...) {
        _cleanup_(freep) char *msg = NULL, *line = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0 || asprintf(&line, "%c %s", made ? '+' : '-', msg) < 0)
                return -ENOMEM;
        /* notes are never deduplicated away: push takes a copy unless the same line exists */
        return init_list_push(&f->notes, line);
}

static bool is_file(const char *p) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A unit file of that name in one of systemd's directories: its text (first 16 KiB), or NULL. */
static char *unit_text(const char *name) {
        static const char *const dirs[] = { "/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system",
                                            "/usr/lib/systemd/system", "/usr/local/lib/systemd/system" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                char p[512];
                char *text = NULL;
                size_t len;
                (void) snprintf(p, sizeof(p), "%s/%s", dirs[i], name);
                if (file_read_all(p, 16384, FILE_READ_FOLLOW, &text, &len, NULL) >= 0)
                        return text;
        }
        return NULL;
}

/* Which strongSwan daemons run now (by /proc/PID/comm). */
static void running(bool *ret_sysd, bool *ret_starter) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        struct stat self, ns;

        *ret_sysd = *ret_starter = false;
        if (!d)
                return;
        if (stat("/proc/self/ns/net", &self) < 0)
                self.st_ino = 0;
        while ((de = readdir(d))) {
                char p[64], comm[32] = "";
                FILE *c;
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                /* only this gateway's daemon: one in another network namespace serves another */
                (void) snprintf(p, sizeof(p), "/proc/%.20s/ns/net", de->d_name);
                if (self.st_ino && (stat(p, &ns) < 0 || ns.st_ino != self.st_ino || ns.st_dev != self.st_dev))
                        continue;
                (void) snprintf(p, sizeof(p), "/proc/%.20s/comm", de->d_name);
                if (!(c = fopen(p, "re")))
                        continue;
                if (fgets(comm, sizeof(comm), c))
                        comm[strcspn(comm, "\n")] = 0;
                fclose(c);
                *ret_sysd = *ret_sysd || strcmp(comm, "charon-systemd") == 0;
                *ret_starter = *ret_starter || strcmp(comm, "starter") == 0;
        }
        closedir(d);
}

static int detect_flavour(init_facts *f) {
        _cleanup_(freep) char *sw = unit_text("strongswan.service"), *st = unit_text("strongswan-starter.service");
        bool sw_sysd = sw && strstr(sw, "charon-systemd"), sw_starter = sw && !sw_sysd && (strstr(sw, "ipsec") || strstr(sw, "starter"));
        bool run_sysd, run_starter;

        running(&run_sysd, &run_starter);
        if (run_sysd || (!run_starter && sw_sysd)) {
                f->flavour = INIT_FLAVOUR_SYSTEMD;
                f->unit = sw_sysd ? "strongswan.service" : NULL;
        } else if (run_starter || st || sw_starter) {
                f->flavour = INIT_FLAVOUR_STARTER;
                f->unit = st ? "strongswan-starter.service" : sw_starter ? "strongswan.service" : NULL;
        }
        switch (f->flavour) {
        case INIT_FLAVOUR_SYSTEMD:
                return init_note(f, true, "strongSwan: charon-systemd (%s), configured with swanctl", run_sysd ? "running now" : "installed, not running");
        case INIT_FLAVOUR_STARTER:
                return init_note(f, true, "strongSwan: the starter flavour (ipsec.conf over stroke, %s)", run_starter ? "running now" : "installed, not running");
        case INIT_FLAVOUR_NONE:
                break;
        }
        return init_note(f, false, "strongSwan: neither charon-systemd nor the starter is installed or running; "
                                   "the checks below assume charon-systemd with swanctl");
}

static int detect_unit(init_facts *f) {
        if (f->unit)
                return init_note(f, true, "charon.unit: %s (its unit file is installed): the daemon check and "
                                          "daemon-restart watch and restart it over D-Bus", f->unit);
        return init_note(f, false, "charon.unit: no strongSwan unit file found (charon runs outside systemd?): "
                                   "the daemon check watches the VICI socket only (unit: none)");
}

/* strongswan.conf: the VICI socket, and whether the vici plugin is loaded. */
static int detect_vici(const init_opts *o, init_facts *f) {
        _cleanup_(swconf_freep) swconf *c = NULL;
        const char *sock = NULL, *from = NULL, *load;
        char err[512] = "";
        struct stat st;
        int r = swconf_load(f->strongswan_conf, &c, err, sizeof(err));

        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if ((r = *err ? init_note(f, false, "%s; the VICI socket is taken as strongSwan's default", err)
                              : init_note(f, false, "%s: %s; the VICI socket is taken as strongSwan's default",
                                          f->strongswan_conf, strerror(-r))) < 0)
                        return r;
        } else {
                f->strongswan_conf_read = true;
                if ((r = init_note(f, true, "%s read (%zu file(s) with its includes)", f->strongswan_conf, swconf_files(c))) < 0)
                        return r;
                if ((sock = swconf_get(c, "charon-systemd.plugins.vici.socket")))
                        from = "charon-systemd.plugins.vici.socket";
                else if ((sock = swconf_get(c, "charon.plugins.vici.socket")))
                        from = "charon.plugins.vici.socket";
        }
        if (!sock)
                sock = "unix:///var/run/charon.vici";
        if (strncmp(sock, "unix://", 7) != 0)
                return init_note(f, false, "charon.vici_socket: %s is %s, not a UNIX socket: the agent talks VICI over "
                                           "a UNIX socket only; the default is kept", from, sock);
        sock += 7;
        /* /var/run is a link to /run on every current distribution: name the real place */
        if (asprintf(&f->vici_socket, "%s%s", strncmp(sock, "/var/run/", 9) == 0 ? "/run/" : "",
                     strncmp(sock, "/var/run/", 9) == 0 ? sock + 9 : sock) < 0) {
                f->vici_socket = NULL;
                return -ENOMEM;
        }
        f->vici_loaded = true;
        if (c && ((load = swconf_get(c, "charon-systemd.load")) || (load = swconf_get(c, "charon.load"))) &&
            !strstr(load, "vici"))
                f->vici_loaded = false;
        if (c && (load = swconf_get(c, "charon.plugins.vici.load")) && strcmp(load, "no") == 0)
                f->vici_loaded = false;
        f->vici_up = stat(f->vici_socket, &st) == 0 && S_ISSOCK(st.st_mode);
        (void) o;
        if (!f->vici_loaded)
                return init_note(f, false, "charon.vici_socket: the vici plugin is not loaded (%s): connections, SAs, "
                                           "VICI log events and config rollback need it; load it (strongswan.d/charon/vici.conf)",
                                 f->strongswan_conf);
        return init_note(f, true, "charon.vici_socket: %s (%s%s)", f->vici_socket, from ? from : "strongSwan's default",
                         f->vici_up ? ", a socket is there now" : "; no socket there now: charon is not running?");
}

/* The files of one directory of the swanctl tree, into `l` (full paths). */
static int files_of(const char *dir, init_list *l) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return 0;
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_(freep) char *p = NULL;
                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
                        return closedir(d), -ENOMEM;
                if (is_file(p))
                        r = init_list_push(l, p);
        }
        closedir(d);
        return r;
}

static int address_literal(const char *s) {
        unsigned char buf[16];
        return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int detect_swanctl(init_facts *f) {
        _cleanup_(swconf_freep) swconf *c = NULL;
        _cleanup_(freep) char *conf = NULL;
        static const char *const keydirs[] = { "private", "rsa", "ecdsa", "pkcs8" };
        const char *names[LIST_MAX];
        char err[512] = "", p[4200];
        size_t n;
        int r;

        if (!is_dir(f->swanctl_dir))
                return init_note(f, false, "swanctl tree: %s does not exist%s", f->swanctl_dir,
                                 f->flavour == INIT_FLAVOUR_STARTER ? " (the starter flavour keeps its configuration in ipsec.conf)" : "");
        if (asprintf(&conf, "%s/swanctl.conf", f->swanctl_dir) < 0)
                return -ENOMEM;
        f->swanctl_tree = is_file(conf);
        r = f->swanctl_tree ? swconf_load(conf, &c, err, sizeof(err)) : -ENOENT;
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                r = *err ? init_note(f, false, "%s: no connection names for the conns check", err)
                         : init_note(f, false, "%s: %s: no connection names for the conns check", conf, strerror(-r));
        else {
                n = swconf_children(c, "connections", names, ELEMENTSOF(names));
                for (size_t i = 0; i < n && i < ELEMENTSOF(names) && r >= 0; i++) {
                        char key[512];
                        const char *la;
                        r = init_list_push(&f->conns, names[i]);
                        (void) snprintf(key, sizeof(key), "connections.%s.local_addrs", names[i]);
                        if (r >= 0 && (la = swconf_get(c, key))) {
                                _cleanup_(freep) char *copy = strdup(la);
                                char *save = NULL;
                                if (!copy)
                                        return -ENOMEM;
                                for (char *t = strtok_r(copy, ", ", &save); t && r >= 0; t = strtok_r(NULL, ", ", &save))
                                        if (address_literal(t))
                                                r = init_list_push(&f->addresses, t);
                        }
                }
                if (r >= 0)
                        r = init_note(f, n > 0, "%s: %zu connection(s)%s%s", conf, n, n ? ": " : " defined; the conns check will "
                                      "only compare with the last-good set", n ? names[0] : "");
        }
        if (r < 0)
                return r;
        (void) snprintf(p, sizeof(p), "%s/x509", f->swanctl_dir);
        if ((r = files_of(p, &f->certs)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(keydirs); i++) {
                (void) snprintf(p, sizeof(p), "%s/%s", f->swanctl_dir, keydirs[i]);
                if ((r = files_of(p, &f->keys)) < 0)
                        return r;
        }
        (void) snprintf(p, sizeof(p), "%s/x509crl", f->swanctl_dir);
        {
                init_list crls = { 0 };
                r = files_of(p, &crls);
                f->has_crls = crls.n > 0;
                init_list_done(&crls);
                if (r < 0)
                        return r;
        }
        if (f->certs.n == 0)
                return init_note(f, false, "certificates: none in %s/x509 (PSK or EAP only?): no certificate check", f->swanctl_dir);
        return init_note(f, true, "certificates: %zu in %s/x509 (%s%s), %zu key file(s)", f->certs.n, f->swanctl_dir,
                         f->certs.v[0], f->certs.n > 1 ? ", …" : "", f->keys.n);
}

/* What a PEM file holds, from its first lines: 'c' a certificate, 'k' a private key, 0 neither. */
static int pem_kind(const char *path) {
        _cleanup_(freep) char *text = NULL;
        size_t len;

        if (file_read_all(path, 65536, FILE_READ_FOLLOW, &text, &len, NULL) < 0)
                return 0;
        if (strstr(text, "-----BEGIN CERTIFICATE-----"))
                return 'c';
        if (strstr(text, "PRIVATE KEY-----"))
                return 'k';
        return 0;
}

static int detect_standby(const init_opts *o, init_facts *f) {
        char cand[2][4200];
        size_t nc = 0;

        if (o->standby_dir)
                (void) snprintf(cand[nc++], sizeof(cand[0]), "%s", o->standby_dir);
        else {
                const char *slash = strrchr(f->swanctl_dir, '/');
                (void) snprintf(cand[nc++], sizeof(cand[0]), "%s/standby", f->swanctl_dir);
                if (slash && slash != f->swanctl_dir)
                        (void) snprintf(cand[nc++], sizeof(cand[0]), "%.*s/standby", (int) (slash - f->swanctl_dir), f->swanctl_dir);
        }
        for (size_t i = 0; i < nc; i++) {
                init_list files = { 0 };
                int r = files_of(cand[i], &files);
                for (size_t j = 0; r >= 0 && j < files.n; j++) {
                        int k = pem_kind(files.v[j]);
                        char **slot = k == 'c' ? &f->standby_cert : k == 'k' ? &f->standby_key : NULL;
                        if (slot && !*slot && !(*slot = strdup(files.v[j])))
                                r = -ENOMEM;
                }
                init_list_done(&files);
                if (r < 0)
                        return r;
                if (f->standby_cert && f->standby_key)
                        return init_note(f, true, "standby pair: %s and %s (the certificate check validates them; the "
                                                  "cert-standby runbook switches to them)", f->standby_cert, f->standby_key);
                free(f->standby_cert);
                free(f->standby_key);
                f->standby_cert = f->standby_key = NULL;
        }
        return init_note(f, false, "standby pair: no certificate and key in %s%s%s: without one the cert-standby runbook "
                                   "has nothing to switch to (issue one from the same CA, pass --standby DIR)",
                         cand[0], nc > 1 ? " or " : "", nc > 1 ? cand[1] : "");
}

/* Does anything listen on UDP 500, and on which address (hex from /proc/net/udp)? */
static int udp500(init_facts *f) {
        FILE *u = fopen("/proc/net/udp", "re");
        char line[512];
        bool any = false;
        int r = 0;

        if (!u)
                return 0;
        while (r >= 0 && fgets(line, sizeof(line), u)) {
                unsigned a, port;
                if (sscanf(line, " %*u: %8X:%4X", &a, &port) != 2 || port != 500)
                        continue;
                if (a == 0)
                        any = true;
                else {
                        struct in_addr in = { .s_addr = a }; /* /proc prints the address in host order of the raw word */
                        char s[INET_ADDRSTRLEN];
                        if (inet_ntop(AF_INET, &in, s, sizeof(s)) && (ntohl(in.s_addr) >> 24) != 127)
                                r = init_list_push(&f->addresses, s);
                }
        }
        fclose(u);
        if (r < 0)
                return r;
        return any ? 1 : 0;
}

static int detect_addresses(init_facts *f) {
        struct ifaddrs *ifa = NULL;
        size_t from_conns = f->addresses.n;
        int any, r = 0;

        if ((any = udp500(f)) < 0)
                return any;
        if (f->addresses.n > from_conns || from_conns > 0)
                return init_note(f, true, "ike_probe targets: %s%s (%s)", f->addresses.v[0], f->addresses.n > 1 ? ", …" : "",
                                 from_conns ? "the connections' local_addrs" : "the addresses charon's UDP 500 sockets are bound to");
        if (getifaddrs(&ifa) < 0)
                return init_note(f, false, "ike_probe targets: cannot list the interfaces (%s)", strerror(errno));
        for (struct ifaddrs *i = ifa; i && r >= 0; i = i->ifa_next) {
                char s[INET6_ADDRSTRLEN];
                if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
                        continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                        const struct in_addr *a = &((const struct sockaddr_in *) i->ifa_addr)->sin_addr;
                        if ((ntohl(a->s_addr) >> 24) == 127 || (ntohl(a->s_addr) >> 16) == 0xa9fe)
                                continue;
                        (void) inet_ntop(AF_INET, a, s, sizeof(s));
                } else if (i->ifa_addr->sa_family == AF_INET6) {
                        const struct in6_addr *a = &((const struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
                        if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a))
                                continue;
                        (void) inet_ntop(AF_INET6, a, s, sizeof(s));
                } else
                        continue;
                r = init_list_push(&f->addresses, s);
        }
        freeifaddrs(ifa);
        if (r < 0)
                return r;
        if (f->addresses.n == 0)
                return init_note(f, false, "ike_probe targets: no address found to probe (no local_addrs, no non-loopback "
                                           "address): no ike_probe check; add one with the gateway's public address");
        return init_note(f, true, "ike_probe targets: %s%s (charon listens on %s; the interfaces' addresses, loopback "
                                  "excluded: keep the ones peers connect to)", f->addresses.v[0], f->addresses.n > 1 ? ", …" : "",
                         any ? "UDP 500 on every address" : "no UDP 500 socket now");
}

/* NTP servers of timesyncd, chrony and ntpd/ntpsec: addresses become "address:123"; names are
 * noted (the clock check does no DNS). */
static int ntp_word(init_facts *f, const char *w, const char *file) {
        unsigned char buf[16];
        char s[80];

        if (inet_pton(AF_INET, w, buf) == 1)
                (void) snprintf(s, sizeof(s), "%s:123", w);
        else if (inet_pton(AF_INET6, w, buf) == 1)
                (void) snprintf(s, sizeof(s), "[%s]:123", w);
        else
                return init_note(f, false, "clock: %s names NTP server '%s', not an address: the clock check does no DNS "
                                           "(add its address to servers)", file, w);
        return init_list_push(&f->ntp, s);
}

static int ntp_file(init_facts *f, const char *path, bool timesyncd) {
        FILE *in = fopen(path, "re");
        char line[1024];
        int r = 0;

        if (!in)
                return 0;
        while (r >= 0 && fgets(line, sizeof(line), in)) {
                char *save = NULL, *w, *rest;
                line[strcspn(line, "#\n")] = 0;
                if (timesyncd) {
                        if (strncmp(line, "NTP=", 4) != 0 && strncmp(line, "FallbackNTP=", 12) != 0)
                                continue;
                        rest = strchr(line, '=') + 1;
                        for (w = strtok_r(rest, " \t", &save); w && r >= 0; w = strtok_r(NULL, " \t", &save))
                                r = ntp_word(f, w, path);
                } else {
                        w = strtok_r(line, " \t", &save);
                        if (!w || (strcmp(w, "server") != 0 && strcmp(w, "pool") != 0 && strcmp(w, "peer") != 0))
                                continue;
                        if ((w = strtok_r(NULL, " \t", &save)))
                                r = ntp_word(f, w, path);
                }
        }
        fclose(in);
        return r;
}

static int detect_ntp(const init_opts *o, init_facts *f) {
        static const char *const plain[] = { "chrony/chrony.conf", "ntpsec/ntp.conf", "ntp.conf" };
        static const char *const globs[] = { "chrony/sources.d/*.sources", "chrony/conf.d/*.conf" };
        char p[512];
        glob_t g;
        int r;

        (void) snprintf(p, sizeof(p), "%s/systemd/timesyncd.conf", o->etc);
        if ((r = ntp_file(f, p, true)) < 0)
                return r;
        (void) snprintf(p, sizeof(p), "%s/systemd/timesyncd.conf.d/*.conf", o->etc);
        if (glob(p, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc && r >= 0; i++)
                        r = ntp_file(f, g.gl_pathv[i], true);
                globfree(&g);
        }
        for (size_t i = 0; i < ELEMENTSOF(plain) && r >= 0; i++) {
                (void) snprintf(p, sizeof(p), "%s/%s", o->etc, plain[i]);
                r = ntp_file(f, p, false);
        }
        for (size_t i = 0; i < ELEMENTSOF(globs) && r >= 0; i++) {
                (void) snprintf(p, sizeof(p), "%s/%s", o->etc, globs[i]);
                if (glob(p, 0, NULL, &g) == 0) {
                        for (size_t j = 0; j < g.gl_pathc && r >= 0; j++)
                                r = ntp_file(f, g.gl_pathv[j], false);
                        globfree(&g);
                }
        }
        if (r < 0)
                return r;
        if (f->ntp.n)
                return init_note(f, true, "clock: NTP servers %s%s (the clock check measures the offset against them)",
                                 f->ntp.v[0], f->ntp.n > 1 ? ", …" : "");
        return init_note(f, false, "clock: no NTP server given as an address (timesyncd, chrony, ntpsec): the clock "
                                   "check relies on the kernel's synchronised flag only");
}

static const char *family_name(int family) {
        switch (family) {
        case NFPROTO_INET: return "inet";
        case NFPROTO_IPV4: return "ip";
        case NFPROTO_IPV6: return "ip6";
        case NFPROTO_NETDEV: return "netdev";
        default: return "other";
        }
}

static int detect_nft(init_facts *f) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        int r = nft_ruleset_dump(NULL, NULL, NULL, &rs);

        if (r < 0)
                return init_note(f, false, "nftables: cannot read the ruleset (%s%s): the firewall check is kept, "
                                           "it reads the ruleset as root", strerror(-r), r == -EPERM ? ", run init as root" : "");
        f->nft_read = true;
        for (size_t i = 0; i < rs->n_chains && r >= 0; i++) {
                const nftr_chain *c = &rs->chains[i];
                const nftr_table *t = &rs->tables[c->table];
                char s[256];
                if (!c->base || (t->family == NFPROTO_NETDEV ? c->hooknum != NF_NETDEV_INGRESS : c->hooknum != NF_INET_LOCAL_IN))
                        continue;
                (void) snprintf(s, sizeof(s), "%s %s, chain %s (%s, priority %d, policy %s, %zu rules)", family_name(t->family),
                                t->name, c->name, t->family == NFPROTO_NETDEV ? "ingress" : "input", (int) c->priority,
                                c->policy == NF_DROP ? "drop" : "accept", c->n_rules);
                r = init_list_push(&f->nft_inputs, s);
        }
        if (r < 0)
                return r;
        if (f->nft_inputs.n == 0)
                return init_note(f, true, "nftables: no chain on the input path (%zu table(s)): everything passes today; "
                                          "the firewall check watches for one that drops IKE", rs->n_tables);
        return init_note(f, true, "nftables: %zu chain(s) on the input path, e.g. %s: the firewall check verifies UDP "
                                  "500/4500 and ESP pass them", f->nft_inputs.n, f->nft_inputs.v[0]);
}

static int detect_groups(init_facts *f) {
        f->group_readers = getgrnam("ikeheal") != NULL;
        f->group_approvers = getgrnam("ikeheal-approvers") != NULL;
        return init_note(f, f->group_readers && f->group_approvers,
                         "control: groups ikeheal (readers) %s, ikeheal-approvers %s%s", f->group_readers ? "exists" : "missing",
                         f->group_approvers ? "exists" : "missing",
                         f->group_readers && f->group_approvers ? "" : " (systemd-sysusers ikeheal.conf creates them): root only until then");
}

static int detect_starter(const init_opts *o, init_facts *f) {
        char p[512];

        if (f->flavour != INIT_FLAVOUR_STARTER)
                return 0;
        (void) snprintf(p, sizeof(p), "%s/ipsec.conf", o->etc);
        return init_note(f, false, "starter flavour: works: the IKE probe, the firewall, the daemon (via %s), the clock, "
                                   "logs%s, last-good nftables restore. Needs swanctl: the conns check, config rollback "
                                   "(%s is not in the swanctl tree), the PSK fallback%s",
                         f->unit ? f->unit : "its unit", f->vici_loaded ? " and VICI events (the vici plugin is loaded)" : "", p,
                         f->vici_loaded ? "" : ", SA counts and VICI log events (load the vici plugin)");
}

int init_detect(const init_opts *o, init_facts *f) {
        const char *env;
        int r;

        *f = (init_facts) { 0 };
        env = getenv("STRONGSWAN_CONF");
        if (!(f->strongswan_conf = strdup(o->strongswan_conf ? o->strongswan_conf : env && *env ? env : "/etc/strongswan.conf")))
                return -ENOMEM;
        env = getenv("SWANCTL_DIR");
        if (!(f->swanctl_dir = strdup(o->swanctl_dir ? o->swanctl_dir : env && *env ? env : "/etc/swanctl")))
                return -ENOMEM;
        if ((r = detect_flavour(f)) < 0 || (r = detect_unit(f)) < 0 || (r = detect_vici(o, f)) < 0 ||
            (r = detect_swanctl(f)) < 0 || (r = detect_standby(o, f)) < 0 || (r = detect_addresses(f)) < 0 ||
            (r = detect_ntp(o, f)) < 0 || (r = detect_nft(f)) < 0 || (r = detect_groups(f)) < 0 ||
            (r = detect_starter(o, f)) < 0)
                return r;
        return 0;
}

void init_facts_done(init_facts *f) {
        free(f->strongswan_conf);
        free(f->vici_socket);
        free(f->swanctl_dir);
        free(f->standby_cert);
        free(f->standby_key);
        init_list_done(&f->conns);
        init_list_done(&f->certs);
        init_list_done(&f->keys);
        init_list_done(&f->addresses);
        init_list_done(&f->ntp);
        init_list_done(&f->nft_inputs);
        init_list_done(&f->notes);
}
