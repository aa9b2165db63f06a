/* ikehealctl: the operator's client of ikeheald's control socket (common/proto.h). One command
 * per invocation: connect, send one request, render the answer as text or JSON.
 *
 * Exit status: 0 success; 1 failure (the agent refused or failed the request, or could not be
 * reached — always with a message on stderr); 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/init.h"
#include "ctl/json.h"
#include "ctl/json_shapes.h"
#include "ctl/render.h"
#include "duration.h"
#include "atomic_file.h"
#include "audit_log.h"
#include "proto.h"

#define DEFAULT_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define EXIT_USAGE 2

typedef struct ctl_command {
        const char *name;
        proto_verb verb;
        const char *args; /* synopsis of the arguments, "" for none */
        const char *help; /* a paragraph for `help COMMAND` */
        void (*render_text)(FILE *f, const vici_node *body);
        const json_shape *json; /* numbers, times and collections of --json (ctl/json_shapes.c) */
        /* The request body from the command's arguments (argv[0] is the first argument after
         * the command); <0 after a message on stderr: usage error. NULL: takes no arguments. */
        int (*build)(int argc, char **argv, vici_builder *b);
} ctl_command;

static int build_checks(int argc, char **argv, vici_builder *b) {
        if (argc > 1) {
                fprintf(stderr, "ikehealctl: checks takes at most one check name\n");
                return -EINVAL;
        }
        if (argc == 1)
                vici_builder_add_str(b, "name", argv[0]);
        return 0;
}

static int build_incidents(int argc, char **argv, vici_builder *b) {
        for (int i = 0; i < argc; i++) {
                if (strcmp(argv[i], "active") == 0)
                        vici_builder_add_str(b, "active", "yes");
                else if (argv[i][0] >= '1' && argv[i][0] <= '9' &&
                         strspn(argv[i], "0123456789") == strlen(argv[i]) && strlen(argv[i]) < 20)
                        vici_builder_add_str(b, "id", argv[i]);
                else {
                        fprintf(stderr, "ikehealctl: incidents: expected 'active' or an incident "
                                        "number, got '%s'\n", argv[i]);
                        return -EINVAL;
                }
        }
        return 0;
}

static int build_audit(int argc, char **argv, vici_builder *b) {
        if (argc > 1 || (argc == 1 && (strspn(argv[0], "0123456789") != strlen(argv[0]) || !argv[0][0]))) {
                fprintf(stderr, "ikehealctl: audit takes at most a number of records (or 'verify [FILE] [KEYFILE]')\n");
                return -EINVAL;
        }
        if (argc == 1 && (strlen(argv[0]) > 3 || strtoul(argv[0], NULL, 10) < 1 || strtoul(argv[0], NULL, 10) > PROTO_AUDIT_LAST_MAX)) {
                fprintf(stderr,
                        "ikehealctl: audit %s: the agent shows the last 1 to %u records; the whole log is "
                        "checked by 'audit verify' and read in its file (/var/lib/ikeheal/audit.log)\n",
                        argv[0], PROTO_AUDIT_LAST_MAX);
                return -EINVAL;
        }
        if (argc == 1)
                vici_builder_add_str(b, "last", argv[0]);
        return 0;
}

/* `--head SEQ:HASH` of `audit verify` */
static const char *opt_head;

static void verify_head_note(const audit_verify_result *v) {
        switch (v->head_from) {
        case AUDIT_HEAD_FROM_GIVEN:
                printf("; reaches the given head (record %llu)", (unsigned long long) v->head_seq);
                break;
        case AUDIT_HEAD_FROM_FILE:
                printf("; reaches its head record (record %llu, %s)", (unsigned long long) v->head_seq,
                       v->head_authenticated ? "HMAC verified" : "not authenticated: no key given");
                break;
        default:
                break;
        }
        if (v->after_head)
                printf(", %llu record(s) after it", (unsigned long long) v->after_head);
}

/* `audit verify [FILE] [KEYFILE] [--head SEQ:HASH]`: checked here, from the files themselves,
 * without the agent (a tampered agent host is exactly when one wants an independent check). */
static int audit_verify(int argc, char **argv) {
        const char *path = argc > 0 ? argv[0] : "/var/lib/ikeheal/audit.log";
        _cleanup_(freep) char *key = NULL;
        size_t key_len = 0;
        audit_verify_result v;
        audit_head head;
        int r;

        if (argc > 2) {
                fprintf(stderr, "ikehealctl: audit verify [FILE] [KEYFILE] [--head SEQ:HASH]\n");
                return EXIT_USAGE;
        }
        if (opt_head && audit_head_parse(opt_head, &head) < 0) {
                fprintf(stderr, "ikehealctl: audit verify: --head: expected SEQ:HASH (a record number and its 64-digit "
                        "hash, e.g. IKEHEAL_AUDIT_HEAD from the journal), got '%s'\n", opt_head);
                return EXIT_USAGE;
        }
        if (argc == 2) {
                r = atomic_file_read(argv[1], AUDIT_KEY_MAX, &key, &key_len);
                if (r < 0) {
                        fprintf(stderr, "ikehealctl: audit verify: key %s: %s\n", argv[1], strerror(-r));
                        return 1;
                }
        }
        r = audit_log_verify(path, key, key_len, opt_head ? &head : NULL, &v);
        if (key)
                explicit_bzero(key, key_len);
        if (r == -EBADMSG) {
                const char *file = v.bad_file[0] ? v.bad_file : path;
                if (v.bad_line)
                        printf("%s: BROKEN at line %llu%s%s: ", path, (unsigned long long) v.bad_line,
                               strcmp(file, path) ? " of " : "", strcmp(file, path) ? file : "");
                else
                        printf("%s: BROKEN (%s): ", path, file);
                printf("%s (%llu records verified before it%s)\n", v.why, (unsigned long long) v.records,
                       v.macs_checked ? "" : "; HMACs not checked: no key given");
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "ikehealctl: audit verify: %s: %s\n", path, strerror(-r));
                return 1;
        }
        printf("%s: %llu records", path, (unsigned long long) v.records);
        if (v.records)
                printf(" (%llu..%llu%s) in %u file(s)", (unsigned long long) v.first_seq, (unsigned long long) v.last_seq,
                       v.first_seq > 1 ? ", older ones rotated away" : "", v.files);
        if (v.macs_checked)
                printf(", chain and HMACs intact");
        else if (v.signed_log)
                printf(", chain intact; HMACs NOT checked (no key given)");
        else
                printf(", chain intact (no HMACs: the log is not signed)");
        verify_head_note(&v);
        printf("; head %llu:%s%s\n", (unsigned long long) v.last_seq, v.head,
               v.torn_bytes ? " (an incomplete last line after it, not counted)" : "");
        return 0;
}

/* The commands this ikehealctl implements; the agent's verb table (proto.c) decides whether
 * each is read-only or needs an operator. */
static const ctl_command commands[] = {
        {
                .name = "status",
                .verb = PROTO_STATUS,
                .args = "",
                .help = "Show ikeheald's version, pid, uptime and configuration file, whether it is\n"
                        "connected to charon, charon's version and host, and the number of IKE SAs\n"
                        "(total and half-open) and CHILD SAs. Read-only: allowed for root and the\n"
                        "members of control.reader_groups and control.operator_groups.\n",
                .render_text = render_status,
                .json = &json_shape_status,
        },
        {
                .name = "reload",
                .verb = PROTO_RELOAD,
                .args = "",
                .help = "Make ikeheald re-read its configuration file (like SIGHUP, but with the\n"
                        "result reported back). A configuration with errors is rejected as a whole\n"
                        "and every error is shown; the old configuration stays in force.\n"
                        "State-changing: allowed for root and members of control.operator_groups.\n",
                .render_text = render_reload,
        },
        {
                .name = "diagnose",
                .verb = PROTO_DIAGNOSE,
                .args = "",
                .help = "Run every check now, wait for their results, and print a triage report in\n"
                        "the order of the incident playbook: the impact first (nobody, some peers,\n"
                        "everyone), then each problem with its failure class, scope, confidence and\n"
                        "evidence (one root cause, one problem: what it explains is listed with it),\n"
                        "then every check in checklist order. Exit status 0 even when problems are\n"
                        "found; use --json and the \"impact\" field in scripts. Read-only.\n",
                .render_text = render_diagnose,
                .json = &json_shape_diagnose,
        },
        {
                .name = "checks",
                .verb = PROTO_CHECKS,
                .args = "[NAME]",
                .help = "List the configured checks with their schedule, reported status (after\n"
                        "rise/fall hysteresis), the raw status of the last run and its finding: a\n"
                        "summary, facts and evidence. With NAME, that check only. Read-only.\n",
                .render_text = render_checks,
                .json = &json_shape_checks,
                .build = build_checks,
        },
        {
                .name = "incidents",
                .verb = PROTO_INCIDENTS,
                .args = "[active] [ID]",
                .help = "List incidents, newest first: class, scope, state (open, remediating,\n"
                        "escalated, resolved), when opened and resolved, and the summary. 'active'\n"
                        "hides resolved ones; ID shows one incident with its evidence. Incidents\n"
                        "survive agent restarts. Read-only.\n",
                .render_text = render_incidents,
                .json = &json_shape_incidents,
                .build = build_incidents,
        },
        {
                .name = "audit",
                .verb = PROTO_AUDIT,
                .args = "[N] | verify [FILE] [KEYFILE] [--head SEQ:HASH]",
                .help = "Show the audit log's head (sequence number and hash of the last record) and its\n"
                        "last N records (default 50): detections, incident changes, reloads, and later\n"
                        "plans, approvals, actions and reverts. Read-only.\n"
                        "'audit verify' checks the log files themselves, without the agent (default\n"
                        "/var/lib/ikeheal/audit.log and its rotated FILE.1, FILE.2 …, oldest first, as\n"
                        "one chain): the hash chain, and with KEYFILE every record's HMAC (without it,\n"
                        "it says the HMACs were not checked); then that the chain still reaches its\n"
                        "head: the head record FILE.head, or --head SEQ:HASH (IKEHEAL_AUDIT_HEAD in\n"
                        "the journal), so a deleted, cut or emptied tail is found too. It names the\n"
                        "first line that was edited, deleted or moved. Exit 1 if broken.\n",
                .render_text = render_audit,
                .json = &json_shape_audit,
                .build = build_audit,
        },
        {
                .name = "plan",
                .verb = PROTO_PLAN,
                .args = "INCIDENT|RUNBOOK",
                .help = "Dry run: the runbook an incident matches (or a runbook by name), the exact effects\n"
                        "each step would have (commands with the SHA-256 of the scripts, files, nftables\n"
                        "changes, VICI calls), the grade it would run at now and what raised it, and the\n"
                        "plan's hash, which approvals bind to. Nothing is executed. Read-only.\n",
                .render_text = render_plan,
                .json = &json_shape_plan,
                .build = build_plan,
        },
        {
                .name = "pending",
                .verb = PROTO_PENDING,
                .args = "",
                .help = "Runs waiting for approval (and runs only proposed, for an operator to start),\n"
                        "with their plan, its hash, the approvals so far and the time left before the\n"
                        "request expires (expiry means deny). Read-only.\n",
                .render_text = render_pending,
                .json = &json_shape_runs,
        },
        {
                .name = "runs",
                .verb = PROTO_RUNS,
                .args = "[RUN]",
                .help = "Runbook runs, newest first: the runbook, its incident, the grade it ran at and\n"
                        "why, each step's phase (started, applied, verified, failed, reverted) and how it\n"
                        "ended. With RUN, that run only. Read-only.\n",
                .render_text = render_pending,
                .json = &json_shape_runs,
                .build = build_runs,
        },
        {
                .name = "approve",
                .verb = PROTO_APPROVE,
                .args = "RUN PLAN_HASH [--wait]",
                .help = "Approve a pending run. PLAN_HASH is the hash 'pending' shows (at least its first\n"
                        "12 digits): if the plan changed since, the approval is refused and every earlier\n"
                        "approval of it is void. Needs root or a group in control.approver_groups; a run\n"
                        "needing two approvers needs two different users. Audited with uid and user.\n"
                        "--wait follows the run until it ends (exit 0 if it succeeded).\n",
                .render_text = render_result,
                .build = build_approve,
        },
        {
                .name = "deny",
                .verb = PROTO_DENY,
                .args = "RUN --reason TEXT",
                .help = "Deny a pending (or proposed) run; its incident is escalated to a human. Needs an\n"
                        "approver. Audited with uid, user and reason.\n",
                .render_text = render_result,
                .build = build_deny,
        },
        {
                .name = "run",
                .verb = PROTO_RUN,
                .args = "RUNBOOK [INCIDENT] [--wait]",
                .help = "Execute a runbook now, e.g. a manual one the agent only proposed. Needs an\n"
                        "approver, who counts as the first approval; policy, blast radius and a second\n"
                        "approver (when the runbook asks for two) still apply. --wait follows the run until\n"
                        "it ends (exit 0 if it succeeded).\n",
                .render_text = render_result,
                .json = &json_shape_run,
                .build = build_run,
        },
        {
                .name = "measures",
                .verb = PROTO_MEASURES,
                .args = "[all]",
                .help = "Temporary measures in force (PSK enabled, firewall relaxed, standby certificate\n"
                        "…) with the time left before they are reverted; 'all' adds the reverted ones\n"
                        "remembered. Read-only.\n",
                .render_text = render_measures,
                .json = &json_shape_measures,
                .build = build_measures,
        },
        {
                .name = "extend",
                .verb = PROTO_EXTEND,
                .args = "MEASURE DURATION",
                .help = "Push a measure's expiry back by DURATION (30m, 2h). Needs an approver; the\n"
                        "measure's whole life stays within the policy's maximum for its kind.\n",
                .render_text = render_result,
                .build = build_extend,
        },
        {
                .name = "revert",
                .verb = PROTO_REVERT,
                .args = "MEASURE",
                .help = "Revert a temporary measure now; one whose revert failed is tried again.\n",
                .render_text = render_result,
                .build = build_revert,
        },
        {
                .name = "psk",
                .verb = PROTO_PSK,
                .args = "show MEASURE",
                .help = "Print the secret of a temporary PSK fallback (a psk_temp measure in force), to give\n"
                        "to a peer that has to use it. Approvers only; every request is audited.\n",
                .render_text = render_result,
                .build = build_psk,
        },
        {
                .name = "evidence",
                .verb = PROTO_EVIDENCE,
                .args = "INCIDENT [--export DIR]",
                .help = "What an incident collected (packet captures of the capture action): each file with its\n"
                        "size and time. --export DIR copies them into DIR (made 0700 if missing; files 0600,\n"
                        "never over an existing file). Approvers only; refusals and exports are audited.\n",
                .render_text = render_evidence,
                .json = &json_shape_evidence,
                .build = build_evidence,
        },
        {
                .name = "drill",
                .verb = PROTO_DRILL,
                .args = "run NAME [--dry-run|--wait] | abort --reason TEXT | list | status | report [ID]",
                .help = "Chaos drills (drills.enabled must be true in ikeheal.yaml). 'run' injects the drill's\n"
                        "real fault — recorded durably first, removed by its deadline whatever happens — and\n"
                        "times detection and recovery against the drill's SLOs; it needs an approver and is\n"
                        "refused while an incident is active or the steady state does not hold. --dry-run\n"
                        "shows the fault, its removal, the expectation and the approval it will need, and\n"
                        "changes nothing. 'abort' removes the fault now. 'list' the drills; 'status' the one\n"
                        "in progress with its timeline; 'report' the history (TTD, TTR, SLOs met) and the\n"
                        "weighted score per fault class; 'report ID' one drill's timeline. 'run --wait' follows\n"
                        "the drill to its verdict (progress on a terminal; exit 0 if it passed).\n",
                .render_text = render_result,
                .json = &json_shape_drill,
                .build = build_drill,
        },
        {
                .name = "fleet",
                .verb = PROTO_FLEET,
                .args = "status | drills | pause --reason TEXT | resume | freeze --for DURATION --reason TEXT |\n"
                        "       drill-schedule set FILE|- | drill-schedule clear",
                .help = "The fleet this gateway coordinates with through etcd (the fleet: section). 'status'\n"
                        "shows this agent's lease (and whether it is known alive), the fleet slots it holds,\n"
                        "runs waiting for one, the fleet's pause or freeze as last read, and the last\n"
                        "request etcd did not answer. 'pause' and 'freeze' raise every agent's grades as a\n"
                        "local pause does (the freeze until its end), 'resume' lifts both; each is written\n"
                        "to etcd and applied by every agent at its next lease renewal. Operators; audited.\n"
                        "'drills' shows the fleet's drill schedule (<prefix>drills/schedule: entries as\n"
                        "drills.schedule, run by every agent besides its own, each start claimed in etcd so\n"
                        "that 'every' holds fleet-wide); 'drill-schedule set FILE' (or - for standard input)\n"
                        "writes it, checked first (one that does not parse is not written); 'clear' removes it.\n",
                .render_text = render_result,
                .build = build_fleet,
        },
        {
                .name = "fleet_drills",
                .verb = PROTO_FLEET_STATUS,
                .args = "",
                .help = "The fleet's drill schedule as this agent holds it: fleet drills (see 'help fleet').\n",
                .json = &json_shape_fleet_drills,
                .build = build_fleet_drills,
        },
        {
                .name = "fleet_status",
                .verb = PROTO_FLEET_STATUS,
                .args = "",
                .help = "The read-only half of 'fleet': fleet status (see 'help fleet').\n",
                .json = &json_shape_fleet,
                .build = build_fleet_status,
        },
        {
                .name = "drills",
                .verb = PROTO_DRILLS,
                .args = "list | status | report [ID]",
                .help = "The read-only half of 'drill': list, status, report [ID] (see 'help drill').\n",
                .render_text = render_drills,
                .json = &json_shape_drills,
                .build = build_drills,
        },
        {
                .name = "pause",
                .verb = PROTO_PAUSE,
                .args = "--reason TEXT",
                .help = "Stop automatic remediation: every runbook is raised to manual (plans are still\n"
                        "proposed; measures in force still expire on time).\n",
                .render_text = render_result,
                .build = build_pause,
        },
        {
                .name = "accept",
                .verb = PROTO_ACCEPT,
                .args = "--reason TEXT",
                .help = "The gateway as it is now becomes the last-good state that rollbacks return to and\n"
                        "drift is measured against — after a deliberate change (a new certificate, an edited\n"
                        "swanctl.conf, a standby pair a runbook swapped in), which otherwise leaves the config\n"
                        "check warning of drift and no newer state is ever recorded. Approvers only, audited\n"
                        "with the warnings it accepts; refused while an incident is active, a check fails or\n"
                        "has not reported, a temporary measure is in force or a drill is in progress.\n",
                .render_text = render_result,
                .build = build_pause,
        },
        {
                .name = "resume",
                .verb = PROTO_RESUME,
                .args = "",
                .help = "Resume automatic remediation and reset every circuit breaker.\n",
                .render_text = render_result,
                .build = build_pause,
        },
        {
                .name = "drain",
                .verb = PROTO_DRAIN,
                .args = "--for DURATION --reason TEXT",
                .help = "Take the gateway out of its load balancers' pool: GET /healthz answers 503 with the\n"
                        "reason until the time is up (kept on disk: it survives an agent restart and still\n"
                        "ends on time) or 'undrain'. Audited.\n",
                .render_text = render_result,
                .build = build_drain,
        },
        {
                .name = "undrain",
                .verb = PROTO_UNDRAIN,
                .args = "",
                .help = "End a drain (an operator's or a runbook's): GET /healthz follows the incidents again.\n",
                .render_text = render_result,
                .build = build_undrain,
        },
};

static const ctl_command *command_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: ikehealctl [OPTIONS] COMMAND [ARGS]\n"
                "\n"
                "Operator client of ikeheald, the IKEv2 gateway self-healing agent.\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-10s %s%s\n", commands[i].name, proto_verb_summary(commands[i].verb),
                        proto_verb_is_write(commands[i].verb) ? " (operators)" : "");
        fprintf(f, "  %-10s %s\n", "lint", "check runbook and drill files locally: lint [--config FILE] FILE...");
        fprintf(f, "  %-10s %s\n", "", "(a file with a top-level 'fault:' key is a drill)");
        fprintf(f, "  %-10s %s\n", "config", "what changed since the last-good configuration: config diff [STATE_DIR]");
        fprintf(f, "  %-10s %s\n", "init", "a first ikeheal.yaml from this host: init [-o FILE] (see init --help)");
        fprintf(f, "  %-10s %s\n", "guard", "a change that confirms itself or is rolled back: guard [OPTIONS] -- COMMAND…,");
        fprintf(f, "  %-10s %s\n", "", "guard begin|confirm|abort|status, guard apt-pre|apt-post (see ikehealctl(8))");
        fprintf(f, "  %-10s %s\n", "help", "explain a command: help COMMAND");
        fprintf(f,
                "\n"
                "Options:\n"
                "  -s, --socket=PATH   control socket (default $IKEHEAL_SOCKET, else\n"
                "                      " PROTO_SOCKET_DEFAULT ")\n"
                "  -j, --json          print the agent's answer as JSON\n"
                "  -t, --timeout=SEC   give up after SEC seconds (\"2.5\", or \"500ms\", \"1m\";\n"
                "                      default 30)\n"
                "  -r, --reason=TEXT   why (deny, pause)\n"
                "  -c, --config=FILE   lint against this ikeheal.yaml (policy, webhooks, checks,\n"
                "                      and for drills its runbooks)\n"
                "      --dry-run       drill run: show what the drill would do, change nothing\n"
                "      --export=DIR    evidence: copy the incident's files into DIR\n"
                "      --wait          drill run, run, approve: follow it until it ends (progress\n"
                "                      on a terminal); exit 0 if it passed or succeeded\n"
                "  -h, --help          this text\n"
                "      --version       print the version\n"
                "\n"
                "Exit status: 0 success, 1 failure (refused, agent error, unreachable), 2 usage.\n"
                "See ikehealctl(8).\n");
}

/* Commands ikehealctl answers itself, without the agent (no entry in the verb table). */
static const struct {
        const char *name, *args, *help;
} local_commands[] = {
        {
                .name = "lint",
                .args = "[--config FILE] FILE...",
                .help = "Check runbook and drill files locally, with the agent's parsers, without the agent\n"
                        "(a file whose top-level mapping has a 'fault' key is a drill). With --config,\n"
                        "runbooks are checked also against that ikeheal.yaml's policy, webhooks, checks and\n"
                        "scripts directory, and drills against its checks and runbooks. Files are read as\n"
                        "the agent reads them (no symlink, no FIFO, root's and not group- or world-writable).\n"
                        "Prints every error as FILE:LINE:COL; exit 1 if there is one.\n",
        },
        {
                .name = "config",
                .args = "diff [STATE_DIR]",
                .help = "What changed in strongSwan's configuration since the last-good version, read from\n"
                        "the state directory (default /var/lib/ikeheal) without the agent: files changed\n"
                        "(with a line diff, mode or owner changes), removed and added. Exit 1 when something\n"
                        "changed.\n",
        },
        {
                .name = "help",
                .args = "[COMMAND]",
                .help = "Without COMMAND, the list of commands and options; with it, what the command does,\n"
                        "its arguments and who may use it.\n",
        },
};

static int help_command(const char *name) {
        const ctl_command *c = command_find(name);

        if (strcmp(name, "init") == 0) {
                ctl_init_usage(stdout);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(local_commands); i++)
                if (strcmp(name, local_commands[i].name) == 0) {
                        printf("Usage: ikehealctl %s %s\n\n%s", local_commands[i].name, local_commands[i].args,
                               local_commands[i].help);
                        return 0;
                }
        if (strcmp(name, "guard") == 0) {
                ctl_guard_usage(stdout);
                return 0;
        }
        if (!c) {
                fprintf(stderr, "ikehealctl: unknown command '%s'; see 'ikehealctl --help'\n", name);
                return EXIT_USAGE;
        }
        printf("Usage: ikehealctl [OPTIONS] %s%s%s\n\n%s", c->name, c->args[0] ? " " : "", c->args,
               c->help);
        return 0;
}

static int parse_timeout(const char *s, uint64_t *ret) {
        char *end;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (end != s && *end == 0 && errno == 0) {
                if (!isfinite(d) || d <= 0 || d > 86400)
                        return -ERANGE;
                *ret = (uint64_t) (d * USEC_PER_SEC);
                return *ret > 0 ? 0 : -ERANGE;
        }
        if (duration_parse(s, ret) < 0)
                return -EINVAL;
        return *ret > 0 ? 0 : -ERANGE;
}

static const char *connect_hint(int r) {
        switch (-r) {
        case ENOENT:
        case ECONNREFUSED:
                return " (is ikeheald running?)";
        case EACCES:
        case EPERM:
                return " (needs root or membership in the socket's group)";
        default:
                return "";
        }
}

static int run(const char *socket_path, const ctl_command *c, int argc, char **argv, bool json,
               uint64_t timeout_usec) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(vici_node_freep) vici_node *body = NULL;
        _cleanup_(vici_builder_freep) vici_builder *req = NULL;
        _cleanup_(freep) uint8_t *msg = NULL;
        size_t msg_len = 0;
        proto_header h;
        int r;

        if (c->build) {
                r = vici_builder_new(&req);
                if (r < 0)
                        return 1;
                if (c->build(argc, argv, req) < 0)
                        return EXIT_USAGE;
                r = vici_builder_finish(TAKE_PTR(req), &msg, &msg_len); /* consumes req */
                if (r < 0) {
                        fprintf(stderr, "ikehealctl: %s: cannot encode the request: %s\n", c->name,
                                strerror(-r));
                        return EXIT_USAGE;
                }
        }

        r = proto_connect(socket_path, &fd);
        if (r < 0) {
                fprintf(stderr, "ikehealctl: cannot connect to ikeheald at %s: %s%s\n", socket_path,
                        strerror(-r), connect_hint(r));
                return 1;
        }
        r = proto_call(fd, c->verb, msg, msg_len, timeout_usec, &h, &body);
        if (r == -ETIMEDOUT) {
                char buf[64];
                fprintf(stderr, "ikehealctl: %s: no answer from ikeheald within %s\n", c->name,
                        duration_format(timeout_usec, buf, sizeof(buf)));
                return 1;
        }
        if (r == -EPROTONOSUPPORT) {
                fprintf(stderr,
                        "ikehealctl: %s: ikeheald answered in another protocol version (this "
                        "ikehealctl speaks %u)\n",
                        c->name, PROTO_VERSION);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "ikehealctl: %s: %s\n", c->name,
                        r == -ECONNRESET ? "ikeheald closed the connection without an answer"
                                         : strerror(-r));
                return 1;
        }
        if (h.status != 0) {
                const char *why = vici_node_str(body, "error");
                fprintf(stderr, "ikehealctl: %s: %s\n", c->name,
                        why ? why : strerror(h.status < 0 ? -h.status : h.status));
                return 1;
        }
        if (ctl_opt_wait && (c->verb == PROTO_DRILL || c->verb == PROTO_RUN || c->verb == PROTO_APPROVE) &&
            !(c->verb == PROTO_DRILL && ctl_opt_dry_run)) {
                /* the request was accepted: say so, then follow what it started */
                const char *id = c->verb == PROTO_APPROVE ? argv[0] : vici_node_str(body, c->verb == PROTO_DRILL ? "drill" : "run");
                if (!json && vici_node_str(body, "result"))
                        render_result(stderr, body);
                if (!id) {
                        fprintf(stderr, "ikehealctl: %s --wait: the agent named nothing to follow\n", c->name);
                        return 1;
                }
                return ctl_wait(socket_path, c->verb == PROTO_DRILL ? CTL_WAIT_DRILL : CTL_WAIT_RUN, id, json,
                                timeout_usec);
        }
        if (c->verb == PROTO_EVIDENCE && ctl_opt_export)
                return ctl_evidence_export(socket_path, body, timeout_usec);
        if (json)
                r = json_render(stdout, body, c->json ?: &json_shape_plain);
        else if (c->render_text)
                c->render_text(stdout, body);
        else
                render_tree(stdout, body);
        if (r < 0 || fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "ikehealctl: cannot write output: %s\n",
                        r < 0 ? json_render_error(r) : strerror(errno));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_DRY_RUN, ARG_HEAD, ARG_WAIT, ARG_FOR, ARG_EXPORT };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "reason", required_argument, NULL, 'r' },
                { "config", required_argument, NULL, 'c' },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "head", required_argument, NULL, ARG_HEAD },
                { "wait", no_argument, NULL, ARG_WAIT },
                { "for", required_argument, NULL, ARG_FOR },
                { "export", required_argument, NULL, ARG_EXPORT },
                {},
        };
        const char *socket_path = getenv("IKEHEAL_SOCKET");
        uint64_t timeout_usec = DEFAULT_TIMEOUT_USEC;
        const ctl_command *cmd;
        bool json = false;
        int c;

        if (!socket_path || !socket_path[0])
                socket_path = PROTO_SOCKET_DEFAULT;
        /* init talks to no agent and has options of its own: dispatched before ours are parsed */
        if (argc > 1 && strcmp(argv[1], "init") == 0)
                return ctl_init(argc - 1, argv + 1);
        /* guard runs a command whose options follow "--": dispatched before ours are parsed too */
        if ((c = ctl_guard_main(argc, argv)) >= 0)
                return c;

        /* options may follow the command too ("ikehealctl status --json"); "--" ends them */
        while ((c = getopt_long(argc, argv, "s:jt:hr:c:", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        socket_path = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'r':
                        ctl_opt_reason = optarg;
                        break;
                case 'c':
                        ctl_opt_config = optarg;
                        break;
                case 't':
                        if (parse_timeout(optarg, &timeout_usec) < 0) {
                                fprintf(stderr,
                                        "ikehealctl: invalid timeout '%s' (seconds, e.g. 2.5 or "
                                        "500ms; at most 1 day)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        help(stdout);
                        return 0;
                case ARG_DRY_RUN:
                        ctl_opt_dry_run = true;
                        break;
                case ARG_HEAD:
                        opt_head = optarg;
                        break;
                case ARG_WAIT:
                        ctl_opt_wait = true;
                        break;
                case ARG_FOR:
                        ctl_opt_for = optarg;
                        break;
                case ARG_EXPORT:
                        ctl_opt_export = optarg;
                        break;
                case ARG_VERSION:
                        printf("ikehealctl %s (control protocol %u)\n", IKEHEAL_VERSION,
                               PROTO_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'ikehealctl --help'.\n");
                        return EXIT_USAGE;
                }

        if (optind >= argc) {
                fprintf(stderr, "ikehealctl: missing command\n\n");
                help(stderr);
                return EXIT_USAGE;
        }
        if (strcmp(argv[optind], "help") == 0) {
                if (optind + 1 >= argc) {
                        help(stdout);
                        return 0;
                }
                if (optind + 2 < argc) {
                        fprintf(stderr, "ikehealctl: help takes one command\n");
                        return EXIT_USAGE;
                }
                return help_command(argv[optind + 1]);
        }
        if (strcmp(argv[optind], "audit") == 0 && optind + 1 < argc && strcmp(argv[optind + 1], "verify") == 0)
                return audit_verify(argc - optind - 2, argv + optind + 2);
        if (strcmp(argv[optind], "config") == 0 && optind + 1 < argc && strcmp(argv[optind + 1], "diff") == 0)
                return ctl_config_diff(argc - optind - 2, argv + optind + 2);
        if (strcmp(argv[optind], "lint") == 0)
                return ctl_lint(argc - optind - 1, argv + optind + 1);
        /* `drill list|status|report` read; `drill run|abort` write: two verbs, one command */
        if (strcmp(argv[optind], "drill") == 0 && optind + 1 < argc &&
            (strcmp(argv[optind + 1], "list") == 0 || strcmp(argv[optind + 1], "status") == 0 ||
             strcmp(argv[optind + 1], "report") == 0))
                argv[optind] = (char *) "drills";
        /* `fleet status` read; `fleet pause|resume|freeze` write: two verbs, one command */
        if (strcmp(argv[optind], "fleet") == 0 && optind + 1 < argc && strcmp(argv[optind + 1], "status") == 0) {
                argv[++optind] = (char *) "fleet_status";
        }
        if (strcmp(argv[optind], "fleet") == 0 && optind + 1 < argc && strcmp(argv[optind + 1], "drills") == 0)
                argv[++optind] = (char *) "fleet_drills";
        cmd = command_find(argv[optind]);
        if (!cmd) {
                if (proto_verb_from_string(argv[optind]) >= 0)
                        fprintf(stderr,
                                "ikehealctl: '%s' is not available in this version of ikehealctl\n",
                                argv[optind]);
                else
                        fprintf(stderr, "ikehealctl: unknown command '%s'; see 'ikehealctl --help'\n",
                                argv[optind]);
                return EXIT_USAGE;
        }
        if (!cmd->build && optind + 1 < argc) {
                fprintf(stderr, "ikehealctl: %s takes no arguments (got '%s')\n", cmd->name,
                        argv[optind + 1]);
                return EXIT_USAGE;
        }
        return run(socket_path, cmd, argc - optind - 1, argv + optind + 1, json, timeout_usec);
}
