/* The configuration `ikehealctl init` writes (see init.h): the agent's defaults spelled out
 * where a gateway differs from them, one check per thing found, and the notes as comments on
 * top, so that the file says why each line is there. Strings go out double-quoted with YAML
 * escapes: paths and names come from the host and may hold anything. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl/init.h"

static void quoted(FILE *out, const char *s) {
        fputc('"', out);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\')
                        fprintf(out, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(out, "\\x%02x", c);
                else
                        fputc(c, out);
        }
        fputc('"', out);
}

static void list(FILE *out, const init_list *l) {
        fputc('[', out);
        for (size_t i = 0; i < l->n; i++) {
                if (i)
                        fputs(", ", out);
                quoted(out, l->v[i]);
        }
        fputc(']', out);
}

static void notes(FILE *out, const init_facts *f) {
        fputs("# Written by `ikehealctl init` from what it found on this host. Check it with\n"
              "# `ikeheald --check-config -c FILE`; see ikeheal.yaml(5) for every key.\n#\n"
              "# Found and used (+), not found or not usable (-):\n", out);
        for (size_t i = 0; i < f->notes.n; i++) {
                const char *s = f->notes.v[i];
                /* one note per comment line, wrapped at words near 100 columns */
                fputs("#", out);
                size_t col = 1;
                for (const char *w = s; *w;) {
                        size_t n = strcspn(w, " ");
                        if (col + 1 + n > 100 && col > 4) {
                                fputs("\n#    ", out);
                                col = 5;
                        } else {
                                fputc(' ', out);
                                col++;
                        }
                        for (size_t k = 0; k < n; k++)
                                fputc((unsigned char) w[k] < 0x20 ? '?' : w[k], out);
                        col += n;
                        w += n;
                        while (*w == ' ')
                                w++;
                }
                fputc('\n', out);
        }
        fputc('\n', out);
}

int init_write(const init_facts *f, FILE *out) {
        bool swanctl = f->flavour != INIT_FLAVOUR_STARTER && f->swanctl_tree;

        notes(out, f);
        fputs("agent:\n"
              "  log_level: info\n"
              "  state_dir: /var/lib/ikeheal\n"
              "  # the shipped runbooks; each one's grade says whether it runs alone (auto), after an\n"
              "  # approval (approve) or is only proposed (manual)\n"
              "  runbook_dirs: [/etc/ikeheal/runbooks.d]\n"
              "  last_good_after: 30s\n\n", out);
        fputs("control:\n  socket: /run/ikeheal/ikeheal.sock\n  mode: \"0660\"\n", out);
        if (f->group_readers)
                fputs("  group: ikeheal\n  reader_groups: [ikeheal]\n", out);
        else
                fputs("  # no group ikeheal on this host: only root may talk to the agent\n  group: ~\n", out);
        if (f->group_approvers)
                fputs("  operator_groups: [ikeheal-approvers]\n  approver_groups: [ikeheal-approvers]\n", out);
        fputs("\ncharon:\n  vici_socket: ", out);
        quoted(out, f->vici_socket ? f->vici_socket : "/run/charon.vici");
        fputs("\n  unit: ", out);
        quoted(out, f->unit ? f->unit : "strongswan.service");
        fputs("\n\nchecks:\n", out);
        fputs("  - kind: daemon\n", out);
        if (!f->unit)
                fputs("    # no unit file found: charon is watched over VICI alone\n    params: {unit: none}\n", out);
        if (f->addresses.n) {
                fputs("  - kind: ike_probe\n    interval: 10s\n    params: {targets: ", out);
                list(out, &f->addresses);
                fputs("}\n", out);
        } else
                fputs("  # - kind: ike_probe      # no address found: give the gateway's public one\n"
                      "  #   params: {targets: [192.0.2.1]}\n", out);
        fputs("  - kind: firewall\n", out);
        if (f->vici_loaded) {
                fputs("  - kind: sas\n", out);
                if (swanctl) {
                        fputs("  - kind: conns\n", out);
                        if (f->conns.n) {
                                fputs("    params: {expected: ", out);
                                list(out, &f->conns);
                                fputs("}\n", out);
                        }
                } else
                        fputs("  # conns: needs swanctl (connections loaded over VICI from swanctl.conf)\n", out);
        } else
                fputs("  # sas, conns: need the vici plugin\n", out);
        if (f->certs.n && f->flavour != INIT_FLAVOUR_STARTER) {
                fputs("  - kind: certificate\n    params:\n      swanctl_dir: ", out);
                quoted(out, f->swanctl_dir);
                fputc('\n', out);
                if (f->standby_cert && f->standby_key) {
                        fputs("      standby: [", out);
                        quoted(out, f->standby_cert);
                        fputs(", ", out);
                        quoted(out, f->standby_key);
                        fputs("]\n", out);
                }
                if (f->has_crls) {
                        fputs("  - kind: revocation\n    params: {swanctl_dir: ", out);
                        quoted(out, f->swanctl_dir);
                        fputs("}\n", out);
                }
        } else if (f->flavour == INIT_FLAVOUR_STARTER)
                fputs("  # certificate: reads the swanctl tree's layout (x509/, private/); ipsec.d is not read\n", out);
        fputs("  - kind: clock\n", out);
        if (f->ntp.n) {
                fputs("    params: {servers: ", out);
                list(out, &f->ntp);
                fputs("}\n", out);
        }
        if (swanctl) {
                fputs("  - kind: config\n    params:\n      swanctl_dir: ", out);
                quoted(out, f->swanctl_dir);
                fputs("\n      strongswan_conf: ", out);
                quoted(out, f->strongswan_conf);
                fputc('\n', out);
        } else
                fputs("  # config (drift and rollback): needs the swanctl tree\n", out);
        fputs("  - kind: logs\n", out);
        if (f->unit || !f->vici_loaded) {
                fputs("    params: {", out);
                if (f->unit) {
                        fputs("journal_units: [", out);
                        quoted(out, f->unit);
                        fputc(']', out);
                }
                if (!f->vici_loaded)
                        fputs(f->unit ? ", vici: no" : "vici: no", out);
                fputs("}\n", out);
        }
        fputs("  - kind: nat_mtu\n", out);
        fputs("  - kind: audit            # the agent's own audit log whole (a damaged one kept aside)\n", out);
        fputs("\n# Chaos drills prove detection and repair on this gateway; enable them once the agent has\n"
              "# accepted a last-good state (ikehealctl accept), see ikeheal-drill(5).\n"
              "drills:\n  enabled: false\n  dirs: [/etc/ikeheal/drills.d]\n", out);
        return ferror(out) ? -EIO : 0;
}
