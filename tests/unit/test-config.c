/* Config parsing: the shipped etc/ikeheal.yaml equals the built-in defaults; every class of bad
 * input is an error that names file:line:col; durations parse and format exactly. What the
 * configuration names on disk: runbook, drill and scripts directories and files of others or
 * writable by others refused, FIFOs and symlinks refused at once (under an alarm), a missing
 * runbook directory and an empty set warned about, groups that do not exist, check params naming
 * a missing swanctl_dir or a FIFO, the audit key (missing, empty, too open, another's; a reload
 * that changes or drops it refused); a symlinked configuration refused without a byte of its
 * target in the error; quoted input cut to a short printable prefix. */
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>

#include "agent/config/config.h"
#include "atomic_file.h"
#include "duration.h"
#include "tap.h"

static char tmpdir[] = "/tmp/ikh-test-config-XXXXXX";

static char *write_file(const char *name, const char *text, mode_t mode) {
        static char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        chmod(path, mode);
        return path;
}

/* Load `text`; expect failure with `want` (substring) in the error, or success if want NULL. */
static void expect(const char *text, const char *want) {
        ikeheal_config *c = NULL;
        char *err = NULL;
        char *p = write_file("c.yaml", text, 0644);
        int r = config_load(p, &c, &err);

        if (!want)
                CHECK(r == 0 && c, "accepts a good file%s%s", err ? ": " : "", err ? err : "");
        else
                CHECK(r < 0 && err && strstr(err, want), "rejected with '%s' (got: %s)", want,
                      err ? err : "(none)");
        config_free(c);
        free(err);
}

int main(void) {
        ikeheal_config *c = NULL, *d = NULL;
        char *err = NULL, buf[64];
        uint64_t u;
        int r;

        if (!mkdtemp(tmpdir))
                return 1;

        /* the shipped file equals the defaults */
        {
                /* a copy of our own, 0644: a checkout made with umask 002 is group-writable, which
                 * the agent rightly refuses */
                char *shipped = NULL;
                size_t n = 0;
                CHECK(atomic_file_read("etc/ikeheal.yaml", 1 << 20, &shipped, &n) == 0, "etc/ikeheal.yaml read");
                r = config_load(write_file("shipped.yaml", shipped ? shipped : "", 0644), &c, &err);
                free(shipped);
        }
        CHECK(r == 0, "etc/ikeheal.yaml loads (%s)", err ? err : "ok");
        r = config_load(write_file("empty.yaml", "", 0644), &d, &err);
        CHECK(r == 0, "an empty file means all defaults");
        if (c && d) {
                CHECK(c->log_level == d->log_level && c->log_level == LOG_INFO, "log_level");
                CHECK(strcmp(c->state_dir, d->state_dir) == 0, "state_dir");
                CHECK(strcmp(c->control_socket, d->control_socket) == 0, "control.socket");
                CHECK(c->control_mode == d->control_mode && c->control_mode == 0660, "control.mode");
                CHECK(!c->control_group && !d->control_group, "control.group");
                CHECK(c->reader_groups && !c->reader_groups[0] && !d->reader_groups, "reader_groups");
                CHECK(c->operator_groups && !c->operator_groups[0], "operator_groups");
                CHECK(c->control_max_clients == d->control_max_clients, "max_clients");
                CHECK(c->control_max_clients_per_uid == d->control_max_clients_per_uid &&
                              c->control_max_clients_per_uid == 4, "max_clients_per_uid");
                CHECK(strcmp(c->vici_socket, d->vici_socket) == 0, "vici_socket");
                CHECK(c->vici_timeout_usec == d->vici_timeout_usec, "timeout");
                CHECK(c->vici_reconnect_min_usec == d->vici_reconnect_min_usec, "reconnect_min");
                CHECK(c->vici_reconnect_max_usec == d->vici_reconnect_max_usec, "reconnect_max");
                CHECK(strcmp(c->charon_unit, d->charon_unit) == 0, "unit");
                CHECK(c->charon_start_grace_usec == d->charon_start_grace_usec &&
                              c->charon_start_grace_usec == 2 * USEC_PER_SEC, "start_grace");
                CHECK(c->guard.confirm_within_usec == d->guard.confirm_within_usec &&
                              c->guard.verify_for_usec == d->guard.verify_for_usec && !c->guard.window.set &&
                              !d->guard.window.set && d->guard.verify_for_usec == 30 * USEC_PER_SEC,
                      "guard: no window, confirm_within, verify_for");
                CHECK(!c->http.enabled && !d->http.enabled && (!c->http.listen || !c->http.listen[0]) && !d->http.listen &&
                              http_config_equal(&c->http, &d->http), "http: off by default, shipped as the defaults");
        }
        config_free(c);
        config_free(d);

        expect("agent:\n  log_level: debug\ncontrol:\n  operator_groups: [root, adm]\n", NULL);
        expect("agent:\n  bogus: 1\n", "c.yaml:2:3: unknown key 'bogus'");
        expect("guard:\n  window: {days: [mon], from: \"09:00\", to: \"17:00\"}\n  verify_for: 10s\n", NULL);
        expect("guard:\n  verify_for: 2d\n", "c.yaml:2:15: ");
        expect("guard:\n  window: {days: [mon], from: \"19:00\", to: \"17:00\"}\n", "c.yaml:2:");
        expect("guard:\n  windows: 1\n", "c.yaml:2:3: unknown key 'windows'");
        expect("http:\n  listen: [\"127.0.0.1:9469\", \"[::1]:9469\"]\n", NULL);
        expect("http:\n  listen: [\"localhost:9469\"]\n", "c.yaml:2:12: http.listen: 'localhost:9469' is not a numeric");
        expect("http:\n  listen: [\"127.0.0.1:0\"]\n", "2:12: http.listen: '127.0.0.1:0' is not");
        expect("http:\n  listen: [\"[::1]9469\"]\n", "2:12: http.listen:");
        expect("http:\n  listen: [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n", "2:27: http.listen: '127.0.0.1:1' is listed twice");
        expect("http:\n  timeout: 0s\n", "out of range");
        expect("http:\n  rate_per_second: 10\n  rate_burst: 5\n", "3:15: http.rate_burst 5 is below");
        expect("http:\n  metrics_token_file: /nonexistent/ikh-token\n", "2:23: http.metrics_token_file /nonexistent/ikh-token:");
        expect("http:\n  bogus: 1\n", "2:3: unknown key 'bogus'");
        expect("notify:\n  webhooks:\n    - {name: a, url: 'http://127.0.0.1:1/', signing_key_file: /nonexistent/ikh-k}\n",
               "3:63: signing_key_file /nonexistent/ikh-k:");
        {
                char yaml[256];
                const char *key = write_file("hook.key", "secret", 0644);
                snprintf(yaml, sizeof(yaml), "notify:\n  webhooks:\n    - {name: a, url: 'http://127.0.0.1:1/', signing_key_file: %s}\n", key);
                expect(yaml, "has mode 0644: others than root may read it");
                (void) write_file("hook.key", "secret", 0600);
                expect(yaml, NULL);
        }
        expect("agent:\n  log_level: loud\n", "c.yaml:2:14: expected a log level");
        expect("agent:\n  state_dir: relative/path\n", "2:14: expected an absolute path");
        expect("charon:\n  timeout: 10\n", "2:12: expected a duration with a unit");
        expect("charon:\n  timeout: 1h\n", "out of range");
        expect("control:\n  max_clients: -1\n", "2:16: expected an unsigned integer");
        expect("control:\n  max_clients: 0\n", "out of range");
        expect("control:\n  mode: 0666\n", "gives others access");
        expect("control:\n  mode: 999\n", "octal file mode");
        expect("control:\n  group: no-such-group-ikh\n", "no such group");
        expect("control:\n  reader_groups: wheel\n", "expected a sequence");
        expect("control:\n  reader_groups: [[a]]\n", "expected a string");
        expect("agent: [1, 2]\n", "1:8: expected a mapping");
        expect("agent:\n  log_level: info\n  log_level: debug\n", "3:3: duplicate key 'log_level'");
        expect("agent: &a\n  log_level: info\ncontrol: *a\n", "anchors are not supported");
        expect("agent:\n  log_level: [\n", "c.yaml:");
        expect("a: 1\n---\nb: 2\n", "only one YAML document");
        expect("charon:\n  reconnect_min: 10s\n  reconnect_max: 1s\n", "larger than");
        expect("charon:\n  start_grace: 0s\n", NULL);
        expect("charon:\n  start_grace: 2m\n", "2:16: duration '2m' out of range [0s, 1m]");
        expect("agent:\n  log_level:\n", "has no value");
        /* checks */
        expect("checks:\n  - kind: conns\n    interval: 5s\n    params: {expected: [rw]}\n", NULL);
        expect("checks:\n  - kind: nosuch\n", "2:11: unknown check kind 'nosuch'");
        expect("checks:\n  - interval: 5s\n", "2:5: check needs a 'kind'");
        expect("checks:\n  - kind: conns\n  - kind: conns\n", "two checks are named 'conns'");
        expect("checks:\n  - kind: conns\n  - kind: conns\n    name: conns-2\n", NULL);
        expect("checks:\n  - kind: conns\n    name: Bad Name\n", "use a-z, 0-9");
        expect("checks:\n  - kind: conns\n    params: {expectd: [rw]}\n", "3:14: unknown key 'expectd'");
        expect("checks:\n  - kind: conns\n    rise: 0\n", "out of range");
        expect("checks:\n  - kind: conns\n    interval: 1\n", "expected a duration with a unit");
        expect("checks: {kind: conns}\n", "expected a list of checks");
        expect("check_defaults:\n  interval: 2s\n  bogus: 1\n", "3:3: unknown key 'bogus'");
        /* drills: strict, and a schedule resolved against the drill set only when enabled */
        {
                char dir[300], good[1024];
                snprintf(dir, sizeof(dir), "%s/drills.d", tmpdir);
                (void) mkdir(dir, 0755);
                snprintf(good, sizeof(good), "checks: []\ndrills:\n  enabled: true\n  dirs: [%s]\n", dir);
                expect(good, NULL);
                expect("drills:\n  enabld: true\n", "2:3: unknown key 'enabld'");
                expect("drills:\n  history: 0\n", "out of range");
                expect("drills:\n  schedule:\n    - drill: x\n      every: 7d\n      window: {days: [sun], from: \"02:00\", "
                       "to: \"04:00\"}\n      evry: 1d\n",
                       "unknown key 'evry'");
                expect("drills:\n  schedule:\n    - drill: x\n      window: {days: [sun], from: \"02:00\", to: \"04:00\"}\n",
                       "every: required");
                expect("drills:\n  schedule:\n    - drill: x\n      every: 7d\n", "window: required");
                expect("drills:\n  schedule:\n    - drill: x\n      every: 7d\n      window: {days: [sun], from: \"25:00\", "
                       "to: \"04:00\"}\n",
                       "5:35: expected a time of day");
                expect("drills:\n  schedule:\n    - drill: x\n      every: 7d\n      window: {days: [sun], from: \"02:00\", "
                       "to: \"04:00\"}\n",
                       NULL); /* disabled: not resolved */
                snprintf(good, sizeof(good), "checks: []\ndrills:\n  enabled: true\n  dirs: [%s]\n  schedule:\n"
                         "    - drill: nosuch\n      every: 7d\n      window: {days: [sun], from: \"02:00\", to: \"04:00\"}\n",
                         dir);
                expect(good, "6:7: drills.schedule: no drill 'nosuch' in drills.dirs");
                (void) rmdir(dir);
        }
        {
                char *p = write_file("k.yaml", "check_defaults: {interval: 7s, fall: 3}\n"
                                               "checks:\n  - kind: conns\n    fall: 1\n", 0644);
                r = config_load(p, &c, &err);
                CHECK(r == 0 && c->n_checks == 1 && c->checks[0].sched.interval_usec == 7 * USEC_PER_SEC &&
                              c->checks[0].sched.fall == 1 && strcmp(c->checks[0].name, "conns") == 0,
                      "defaults apply, an entry overrides them");
                config_free(c);
                c = NULL;
                p = write_file("k.yaml", "agent: {log_level: info}\n", 0644);
                r = config_load(p, &c, &err);
                CHECK(r == 0 && c->checks_implicit && c->n_checks >= 1,
                      "no checks key: every kind needing no params (%zu)", c ? c->n_checks : 0);
                config_free(c);
                c = NULL;
                p = write_file("k.yaml", "checks: []\n", 0644);
                r = config_load(p, &c, &err);
                CHECK(r == 0 && c->n_checks == 0 && !c->checks_implicit, "checks: [] means none");
                config_free(c);
                c = NULL;
        }
        /* all errors of a file at once */
        {
                char *p = write_file("c.yaml", "agent:\n  x: 1\n  y: 2\ncharon:\n  z: 3\n", 0644);
                r = config_load(p, &c, &err);
                CHECK(r < 0 && err && strstr(err, ":2:3:") && strstr(err, ":3:3:") &&
                              strstr(err, ":5:3:"),
                      "reports every error in one run");
                free(err);
                err = NULL;
        }
        /* a config others could have written is refused */
        r = config_load(write_file("w.yaml", "", 0666), &c, &err);
        CHECK(r < 0 && err && strstr(err, "world-writable"), "refuses a world-writable file");
        free(err);
        err = NULL;
        r = config_load("/nonexistent/ikh.yaml", &c, &err);
        CHECK(r == -ENOENT && err && strstr(err, "/nonexistent/ikh.yaml:1:1: cannot open"),
              "missing file names the path");
        free(err);

        /* what the configuration names on disk, and the file itself */
        {
                char dir[100], rb[150], dr[150], ex[200], key[200], fifo[200], text[2048], *q;
                snprintf(dir, sizeof(dir), "%s/disk", tmpdir);
                snprintf(rb, sizeof(rb), "%s/runbooks", dir);
                snprintf(dr, sizeof(dr), "%s/drills", dir);
                snprintf(ex, sizeof(ex), "%s/scripts", dir);
                snprintf(key, sizeof(key), "%s/audit.key", dir);
                snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
                CHECK(mkdir(dir, 0755) == 0 && mkdir(rb, 0755) == 0 && mkdir(dr, 0755) == 0 && mkdir(ex, 0755) == 0 &&
                              mkfifo(fifo, 0644) == 0,
                      "directories and a FIFO made");
                alarm(20); /* a FIFO that blocks fails the test instead of hanging it */

                /* a missing runbook directory and no runbook: warnings, counted, not errors */
                snprintf(text, sizeof(text), "agent:\n  runbook_dirs: [%s/nope]\nchecks: []\n", dir);
                r = config_load(write_file("c.yaml", text, 0644), &c, &err);
                CHECK(r == 0 && c->n_warnings == 2 && c->warnings && strstr(c->warnings, "c.yaml:2:18: warning: runbook "
                                                                                         "directory") &&
                              strstr(c->warnings, "/nope does not exist") && strstr(c->warnings, "warning: no runbook"),
                      "missing runbook directory and no runbook: 2 located warnings (%s)", c ? c->warnings : err);
                config_free(c);
                c = NULL;

                /* world-writable runbook directory, runbook file, drill file, drill directory, exec dir */
                snprintf(text, sizeof(text), "agent:\n  runbook_dirs: [%s]\nchecks: []\n", rb);
                chmod(rb, 0777);
                expect(text, "c.yaml:2:18: runbook directory");
                expect(text, "is group- or world-writable (mode 0777), refusing");
                chmod(rb, 0755);
                snprintf(ex, sizeof(ex), "%s/runbooks/x.yaml", dir);
                FILE *f = fopen(ex, "w");
                fputs("name: x\nmatch: {class: firewall}\nsteps:\n  - name: look\n    action: notify\n", f);
                fclose(f);
                chmod(ex, 0666);
                expect(text, "x.yaml:1:1: runbook file is group- or world-writable (mode 0666), refusing");
                (void) unlink(ex);
                CHECK(mkfifo(ex, 0644) == 0, "a FIFO as a runbook");
                expect(text, "x.yaml:1:1: cannot read: is a FIFO");
                (void) unlink(ex);
                CHECK(symlink(key, ex) == 0, "a symlink as a runbook");
                expect(text, "x.yaml:1:1: cannot read: is a symbolic link");
                (void) unlink(ex);
                snprintf(ex, sizeof(ex), "%s/scripts", dir);
                chmod(ex, 0775);
                snprintf(text, sizeof(text), "agent:\n  exec_dir: %s\nchecks: []\n", ex);
                expect(text, "c.yaml:2:13: agent.exec_dir");
                expect(text, "is group- or world-writable (mode 0775)");
                chmod(ex, 0755);
                snprintf(text, sizeof(text), "checks: []\ndrills:\n  enabled: true\n  dirs: [%s]\n", dr);
                chmod(dr, 0757);
                expect(text, "c.yaml:4:10: drill directory");
                chmod(dr, 0755);
                snprintf(ex, sizeof(ex), "%s/d.yaml", dr);
                f = fopen(ex, "w");
                fputs("name: d\n", f);
                fclose(f);
                chmod(ex, 0622);
                expect(text, "d.yaml:1:1: drill file is group- or world-writable (mode 0622), refusing");
                (void) unlink(ex);

                /* groups that do not exist authorise nobody */
                expect("control:\n  operator_groups: [root, no-such-group-ikh]\n",
                       "c.yaml:2:27: control.operator_groups: no such group 'no-such-group-ikh'");
                expect("control:\n  approver_groups: [nope-ikh]\n", "control.approver_groups: no such group");
                expect("control:\n  reader_groups: [nope-ikh]\n", "control.reader_groups: no such group");

                /* check params: a swanctl_dir that is not there, a FIFO where a certificate is read */
                snprintf(text, sizeof(text), "checks:\n  - kind: certificate\n    params: {swanctl_dir: %s/nope}\n", dir);
                expect(text, "3:27: swanctl_dir");
                snprintf(text, sizeof(text), "checks:\n  - kind: certificate\n    params: {swanctl_dir: %s, standby: [%s]}\n",
                         dir, fifo);
                expect(text, "standby: ");
                expect(text, "/fifo is a FIFO, not a regular file");

                /* the configuration itself: a FIFO, a symlink (its target never quoted), another's file */
                r = config_load(fifo, &c, &err);
                CHECK(r == -EBADFD && err && strstr(err, "/fifo:1:1: cannot open: is a FIFO"),
                      "a FIFO as the configuration: refused at once (%s)", err ? err : "-");
                free(err);
                err = NULL;
                write_file("secret.yaml", "SECRET-CONTENT-7f3a: the first line of a root-only file\n", 0600);
                snprintf(ex, sizeof(ex), "%s/secret.yaml", tmpdir);
                snprintf(text, sizeof(text), "%s/link.yaml", tmpdir);
                CHECK(symlink(ex, text) == 0, "a symlinked configuration");
                r = config_load(text, &c, &err);
                CHECK(r == -ELOOP && err && strstr(err, "link.yaml:1:1: cannot open: is a symbolic link") &&
                              !strstr(err, "SECRET-CONTENT"),
                      "a symlinked configuration is refused, nothing of its target shown (%s)", err ? err : "-");
                free(err);
                err = NULL;
                (void) unlink(text);
                q = write_file("other.yaml", "", 0644);
                CHECK(chown(q, 4321, 4321) == 0, "a configuration of uid 4321");
                r = config_load(q, &c, &err);
                CHECK(r < 0 && err && strstr(err, "other.yaml:1:1: file belongs to uid 4321, not root, refusing"),
                      "another user's configuration is refused (%s)", err ? err : "-");
                free(err);
                err = NULL;
                (void) remove(q);
                (void) remove(ex);

                /* quoted input is a short printable prefix */
                expect("SECRET-CONTENT-7f3a-0123456789abcdefghijklmnopqrstuvwxyz: 1\n",
                       "unknown key 'SECRET-CONTENT-7f3a-0123456789ab...' (expected");
                expect("agent:\n  \"a\\e[31mb\\x01\": 1\n", "unknown key 'a?[31mb?'");

                /* the audit key: checked as the audit trail will use it */
                snprintf(text, sizeof(text), "agent:\n  audit_key_file: %s\nchecks: []\n", key);
                expect(text, "c.yaml:2:19: agent.audit_key_file");
                expect(text, "No such file or directory");
                f = fopen(key, "w");
                fclose(f);
                chmod(key, 0600);
                expect(text, "audit.key is empty");
                f = fopen(key, "w");
                fputs("key one", f);
                fclose(f);
                chmod(key, 0640);
                expect(text, "has mode 0640: others than root may use it");
                chmod(key, 0600);
                CHECK(chown(key, 4321, 0) == 0, "a key of uid 4321");
                expect(text, "audit.key belongs to uid 4321, not root");
                CHECK(chown(key, 0, 0) == 0, "back to root");
                r = config_load(write_file("c.yaml", text, 0644), &c, &err);
                CHECK(r == 0 && strlen(c->audit_key_id) == 64, "a good key loads, its id kept (%s)", err ? err : "ok");
                r = config_load(write_file("c.yaml", text, 0644), &d, &err);
                CHECK(r == 0 && config_reload_check(c, d, &err) == 0, "a reload with the same key is allowed");
                config_free(d);
                d = NULL;
                f = fopen(key, "w");
                fputs("key two", f);
                fclose(f);
                r = config_load(write_file("c.yaml", text, 0644), &d, &err);
                CHECK(r == 0 && config_reload_check(c, d, &err) == -EBUSY && err &&
                              strstr(err, "c.yaml:2:19: agent.audit_key_file: the audit key changed") &&
                              strstr(err, "restart ikeheald"),
                      "a reload with a changed key is refused (%s)", err ? err : "-");
                free(err);
                err = NULL;
                config_free(d);
                d = NULL;
                r = config_load(write_file("c.yaml", "checks: []\n", 0644), &d, &err);
                CHECK(r == 0 && config_reload_check(c, d, &err) == -EBUSY && err && strstr(err, "the audit key was removed"),
                      "a reload without the key is refused (%s)", err ? err : "-");
                free(err);
                err = NULL;
                config_free(d);
                config_free(c);
                c = d = NULL;
                alarm(0);
                (void) unlink(key);
                (void) unlink(fifo);
                (void) rmdir(rb);
                (void) rmdir(dr);
                snprintf(ex, sizeof(ex), "%s/scripts", dir);
                (void) rmdir(ex);
                (void) rmdir(dir);
        }

        /* durations */
        CHECK(duration_parse("1h30m", &u) == 0 && u == 5400 * USEC_PER_SEC, "1h30m");
        CHECK(duration_parse("500ms", &u) == 0 && u == 500 * USEC_PER_MSEC, "500ms");
        CHECK(duration_parse("2d", &u) == 0 && u == 2 * 86400 * USEC_PER_SEC, "2d");
        CHECK(duration_parse("30", &u) == -EINVAL, "unitless refused");
        CHECK(duration_parse("5x", &u) == -EINVAL, "unknown unit refused");
        CHECK(duration_parse("", &u) == -EINVAL, "empty refused");
        CHECK(duration_parse("s", &u) == -EINVAL, "unit without number refused");
        CHECK(duration_parse("99999999999999999999s", &u) == -ERANGE, "overflow refused");
        CHECK(duration_parse("400d", &u) == -ERANGE, "over a year refused");
        CHECK(strcmp(duration_format(5400 * USEC_PER_SEC + 500, buf, sizeof(buf)), "1h30m500us") == 0,
              "format 1h30m500us (%s)", buf);
        CHECK(strcmp(duration_format(0, buf, sizeof(buf)), "0s") == 0, "format 0s");

        (void) remove(write_file("c.yaml", "", 0644));
        (void) remove(write_file("empty.yaml", "", 0644));
        (void) remove(write_file("shipped.yaml", "", 0644));
        (void) remove(write_file("w.yaml", "", 0644));
        (void) remove(write_file("k.yaml", "", 0644));
        (void) rmdir(tmpdir);
        return TAP_END();
}
