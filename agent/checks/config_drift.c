/* The configuration check (kind "config"): what changed in strongSwan's configuration, and is
 * it safe? The swanctl tree (params `swanctl_dir`) and strongswan.conf with strongswan.d/
 * (params `strongswan_conf`) are hashed file by file (SHA-256 of the content, mode, owner);
 * the manifest is compared with the last-good one that mark_good() stored in
 * <state_dir>/snapshots/<check>.manifest.
 *
 *   swanctl.conf or strongswan.conf (with their includes) does not parse
 *                       → WARN class=daemon_config reason=config_syntax, FILE:LINE:COL: what
 *                         (charon keeps what it loaded; its next load of that file unloads
 *                         every connection, its next start fails). Such a tree is never
 *                         recorded as last good: a rollback must not put it back
 *   a file group- or world-writable, or a private key readable by others
 *                       → WARN class=daemon_config reason=unsafe_permissions (charon still
 *                         works: a risk to fix, by that file's mode — fact unsafe_path names
 *                         the first such file)
 *   drift from the last good manifest
 *                       → WARN class=config_change reason=drift, changed/added/removed paths
 *   a file a temporary measure wrote (psk_temp, encap, log_level: its first line is
 *   CONFIG_MEASURE_FILE_MARK) is evidence and a fact (measure_files), not drift and never in
 *   the manifest: the measure's revert removes it, and a rollback must not bring it back
 *   files changed and package-manager activity within `recent` (default 1h; the tails of
 *   params `package_logs`, dpkg's and apt's logs) → facts and evidence: "something changed"
 *
 * An unattended upgrade that tightens a default policy is a typical cause: the package
 * log's lines next to a firewall or daemon incident are what an operator asks for first. inotify on the directories runs the check when a file changes. */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions/config_manifest.h"
#include "agent/checks/config_drift.h"
#include "agent/checks/check_debounce.h"
#include "atomic_file.h"
#include "file_read.h"
#include "hex.h"
#include "log.h"
#include "swconf.h"
#include "yaml_bind.h"

#define FILES_MAX CONFIG_MANIFEST_FILES_MAX
#define FILE_MAX (4u * 1024u * 1024u)
#define MANIFEST_MAX CONFIG_MANIFEST_MAX
#define PKG_TAIL (64u * 1024u)
#define DEBOUNCE_USEC (200 * USEC_PER_MSEC)

typedef struct config_drift_state {
        char *swanctl_dir, *strongswan_conf;
        char **package_logs;
        uint64_t recent_usec;

        check *check;
        const check_env *env;
        int inotify_fd;
        ev_source *watch;
        check_debounce debounce;
        char *manifest; /* of the latest run, for mark_good */
        bool unparsable; /* the latest run found a file that does not parse */
} config_drift_state;

#define GOFF(f) offsetof(config_drift_state, f)

static const yfield config_drift_fields[] = {
        { "swanctl_dir", YF_PATH, GOFF(swanctl_dir), .max = 4096 },
        { "strongswan_conf", YF_PATH, GOFF(strongswan_conf), .max = 4096 },
        { "package_logs", YF_STRV, GOFF(package_logs), .max = 8 },
        { "recent", YF_DURATION, GOFF(recent_usec), .min = USEC_PER_SEC, .max = 30 * 86400 * USEC_PER_SEC },
        {}
};

static int config_drift_parse(void *state, const ynode *params, ydiag *d) {
        config_drift_state *s = state;
        int r;

        s->recent_usec = 3600 * USEC_PER_SEC;
        s->inotify_fd = -1;
        r = ybind(params, config_drift_fields, s, d);
        if (r < 0)
                return r;
        if (!s->swanctl_dir && !(s->swanctl_dir = strdup("/etc/swanctl")))
                return -ENOMEM;
        if (!s->strongswan_conf && !(s->strongswan_conf = strdup("/etc/strongswan.conf")))
                return -ENOMEM;
        if (!s->package_logs) {
                s->package_logs = calloc(3, sizeof(char *));
                if (!s->package_logs || !(s->package_logs[0] = strdup("/var/log/dpkg.log")) ||
                    !(s->package_logs[1] = strdup("/var/log/apt/history.log")))
                        return -ENOMEM;
        }
        return 0;
}

/* ---- the manifest ---- */

typedef struct walk {
        config_drift_state *s;
        finding *f;
        char *buf;
        size_t len, cap, files;
        unsigned unsafe, recent, measures;
        time_t now;
} walk;

static int append(walk *w, const char *line) {
        size_t n = strlen(line);
        if (w->len + n + 1 > MANIFEST_MAX)
                return -E2BIG;
        if (w->len + n + 1 > w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 65536;
                while (cap < w->len + n + 1)
                        cap *= 2;
                char *p = realloc(w->buf, cap);
                if (!p)
                        return -ENOMEM;
                w->buf = p;
                w->cap = cap;
        }
        memcpy(w->buf + w->len, line, n + 1);
        w->len += n;
        return 0;
}

static bool is_key_path(const char *path) {
        return strstr(path, "/private/") || strstr(path, "/rsa/") || strstr(path, "/ecdsa/") || strstr(path, "/pkcs8/");
}

static void file_in(walk *w, const char *path, const struct stat *st) {
        _cleanup_(freep) char *data = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1] = "-", line[4500];
        size_t len;

        if (w->files++ >= FILES_MAX)
                return;
        if (atomic_file_read(path, FILE_MAX, &data, &len) >= 0 && EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL))
                hex_encode(md, md_len, hex);
        if ((st->st_mode & 022) || (is_key_path(path) && (st->st_mode & 077))) {
                if (!w->unsafe)
                        (void) finding_fact_set(w->f, "unsafe_path", "%s", path);
                w->unsafe++;
                (void) finding_evidence(w->f, "%s: mode %04o%s", path, (unsigned) (st->st_mode & 07777),
                                        st->st_mode & 022 ? " (writable by others)" : " (a key readable by others)");
        }
        /* a temporary measure's file is no part of the configuration's state: not drift while the
         * measure is in force, never recorded as last good (a rollback after its expiry would
         * bring it back for good) */
        if (data && config_manifest_measure_text(data, len)) {
                w->measures++;
                w->files--;
                (void) finding_evidence(w->f, "%s: a temporary measure's (written by ikeheald, removed at its expiry)",
                                        path);
                return;
        }
        if (w->now - st->st_mtime <= (time_t) (w->s->recent_usec / USEC_PER_SEC)) {
                w->recent++;
                if (w->recent <= 5)
                        (void) finding_evidence(w->f, "%s: changed %lds ago", path, (long) (w->now - st->st_mtime));
        }
        snprintf(line, sizeof(line), "%s %04o %u %u %s\n", hex, (unsigned) (st->st_mode & 07777), (unsigned) st->st_uid,
                 (unsigned) st->st_gid, path);
        (void) append(w, line);
}

static void tree_in(walk *w, const char *dir, unsigned depth) {
        struct dirent **list = NULL;
        int n;

        if (depth > 4)
                return;
        n = scandir(dir, &list, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                char path[4200];
                struct stat st;
                if (list[i]->d_name[0] != '.') {
                        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
                        if (lstat(path, &st) == 0) {
                                if (S_ISDIR(st.st_mode))
                                        tree_in(w, path, depth + 1);
                                else if (S_ISREG(st.st_mode))
                                        file_in(w, path, &st);
                        }
                }
                free(list[i]);
        }
        free(list);
}

/* Lines of `a` (a manifest) with no identical line in `b` (changed or only in a), or with
 * `by_path`, whose path is not in `b` at all (only in a). */
static unsigned diff_paths(const char *a, const char *b, finding *f, const char *what, unsigned budget, bool by_path) {
        unsigned n = 0;
        for (const char *p = a; p && *p;) {
                const char *e = strchr(p, '\n');
                size_t len = e ? (size_t) (e - p) : strlen(p);
                const char *path = memchr(p, '/', len);
                char needle[4600];
                if (by_path && path)
                        snprintf(needle, sizeof(needle), " %.*s\n", (int) (len - (size_t) (path - p)), path);
                else
                        snprintf(needle, sizeof(needle), "%.*s\n", (int) len, p);
                if (path && !strstr(b, needle)) {
                        n++;
                        if (n <= budget)
                                (void) finding_evidence(f, "%s: %.*s", what, (int) (len - (size_t) (path - p)), path);
                }
                p = e ? e + 1 : NULL;
        }
        return n;
}

/* Does `path` (and what it includes) parse as strongSwan reads it? A file missing or unreadable
 * is not this question's to judge. false with `err` set: FILE:LINE:COL: what. */
static bool parses(const char *path, char *err, size_t errlen) {
        _cleanup_(swconf_freep) swconf *c = NULL;
        int r = swconf_load(path, &c, err, errlen);
        return r != -EBADMSG && r != -E2BIG;
}

static unsigned package_activity(config_drift_state *s, finding *f, time_t now) {
        unsigned n = 0;
        for (size_t i = 0; s->package_logs && s->package_logs[i]; i++) {
                int fd = file_read_open(s->package_logs[i], FILE_READ_FOLLOW, NULL); /* never a FIFO */
                FILE *fp = fd >= 0 ? fdopen(fd, "re") : NULL;
                if (!fp && fd >= 0)
                        (void) close(fd);
                char line[1024];
                if (!fp)
                        continue;
                if (fseek(fp, -(long) PKG_TAIL, SEEK_END) == 0)
                        (void) !fgets(line, sizeof(line), fp); /* skip the partial line */
                else
                        rewind(fp);
                while (fgets(line, sizeof(line), fp)) {
                        struct tm tm = {};
                        /* dpkg.log: "2026-11-22 14:10:01 upgrade …"; apt history: "Start-Date: 2026-11-22  14:10:01" */
                        const char *p = strncmp(line, "Start-Date: ", 12) == 0 ? line + 12 : line;
                        if (!strptime(p, "%Y-%m-%d %H:%M:%S", &tm))
                                continue;
                        tm.tm_isdst = -1;
                        time_t t = mktime(&tm);
                        if (t == (time_t) -1 || now - t > (time_t) (s->recent_usec / USEC_PER_SEC) ||
                            !(strstr(line, " upgrade ") || strstr(line, " install ") || strstr(line, " remove ") ||
                              p != line))
                                continue;
                        if (++n <= 3) {
                                line[strcspn(line, "\n")] = 0;
                                (void) finding_evidence(f, "%s: %s", s->package_logs[i], line);
                        }
                }
                fclose(fp);
        }
        return n;
}

static char *snap_path(const config_drift_state *s) {
        char *p = NULL;
        if (!s->env || config_manifest_path(s->env->state_dir, check_name(s->check), "", &p) < 0)
                return NULL;
        return p;
}

static void watch_tree(config_drift_state *s);

static int config_drift_start(void *state, const check_env *env, check_run *run) {
        config_drift_state *s = state;
        walk w = { .s = s, .now = time(NULL) };
        _cleanup_(freep) char *path = snap_path(s), *good = NULL;
        char sdir[4200];
        struct stat st;
        int r;

        watch_tree(s);
        r = finding_new(&w.f);
        if (r < 0)
                return r;
        tree_in(&w, s->swanctl_dir, 0);
        if (lstat(s->strongswan_conf, &st) == 0 && S_ISREG(st.st_mode))
                file_in(&w, s->strongswan_conf, &st);
        snprintf(sdir, sizeof(sdir), "%.*s/strongswan.d", (int) (strrchr(s->strongswan_conf, '/') - s->strongswan_conf),
                 s->strongswan_conf);
        tree_in(&w, sdir, 0);
        unsigned pkgs = package_activity(s, w.f, w.now);

        (void) finding_fact_set(w.f, "files", "%zu", w.files);
        (void) finding_fact_set(w.f, "recent_changes", "%u", w.recent);
        if (w.measures)
                (void) finding_fact_set(w.f, "measure_files", "%u", w.measures);
        (void) finding_fact_set(w.f, "packages_changed", "%u", pkgs);
        char swanctl_conf[4200], err[512] = "";
        snprintf(swanctl_conf, sizeof(swanctl_conf), "%s/swanctl.conf", s->swanctl_dir);
        s->unparsable = !parses(swanctl_conf, err, sizeof(err)) || !parses(s->strongswan_conf, err, sizeof(err));
        free(s->manifest);
        s->manifest = w.buf;
        unsigned changed = 0, removed = 0;
        if (path && s->manifest && atomic_file_read(path, MANIFEST_MAX, &good, NULL) >= 0) {
                changed = diff_paths(s->manifest, good, w.f, "changed or added", 8, false);
                removed = diff_paths(good, s->manifest, w.f, "removed", 8, true);
                (void) finding_fact_set(w.f, "drift", "%s", changed || removed ? "yes" : "no");
        }
        if (w.files == 0)
                (void) finding_set(w.f, CHECK_UNKNOWN, "no configuration file found in %s or %s", s->swanctl_dir,
                                   s->strongswan_conf);
        else if (s->unparsable) {
                (void) finding_set(w.f, CHECK_WARN, "%s: charon keeps what it loaded before; its next load unloads "
                                                    "every connection of that file, its next start fails", err);
                (void) finding_fact_set(w.f, CHECK_FACT_CLASS, "daemon_config");
                (void) finding_fact_set(w.f, CHECK_FACT_REASON, "config_syntax");
        } else if (w.unsafe) {
                (void) finding_set(w.f, CHECK_WARN, "%u configuration file(s) writable by others or keys readable by "
                                                    "others", w.unsafe);
                (void) finding_fact_set(w.f, CHECK_FACT_CLASS, "daemon_config");
                (void) finding_fact_set(w.f, CHECK_FACT_REASON, "unsafe_permissions");
        } else if (changed || removed) {
                (void) finding_set(w.f, CHECK_WARN, "configuration differs from the last good one (%u changed or "
                                                    "added, %u removed)%s", changed, removed,
                                   pkgs ? "; packages changed recently" : "");
                (void) finding_fact_set(w.f, CHECK_FACT_CLASS, "config_change");
                (void) finding_fact_set(w.f, CHECK_FACT_REASON, "drift");
        } else
                (void) finding_set(w.f, CHECK_OK, "%zu configuration files, as last good%s", w.files,
                                   w.recent || pkgs ? " (recent changes noted)" : "");
        check_run_done(run, w.f);
        return 0;
}

/* The content of every file of a healthy manifest goes into the content-addressed store
 * <state_dir>/config-store/<sha256> (what the config_rollback action restores from). A file
 * that no longer has the content the run saw means the picture is not stable: nothing is
 * promoted this time. */
static int store_objects(const config_drift_state *s, const config_manifest *m) {
        _cleanup_(freep) char *dir = NULL;

        if (asprintf(&dir, "%s/config-store", s->env->state_dir) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        for (size_t i = 0; i < m->n; i++) {
                const config_manifest_entry *e = &m->e[i];
                _cleanup_(freep) char *data = NULL;
                unsigned char md[EVP_MAX_MD_SIZE];
                unsigned md_len = 0;
                char now[65], obj[4300];
                size_t len = 0;
                struct stat st;

                if (strlen(e->hash) != 64)
                        continue; /* "-": unreadable when the manifest was made */
                if (atomic_file_read(e->path, FILE_MAX, &data, &len) < 0 ||
                    !EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL))
                        return -ESTALE;
                hex_encode(md, md_len, now);
                if (strcmp(now, e->hash) != 0)
                        return -ESTALE;
                snprintf(obj, sizeof(obj), "%s/%s", dir, e->hash);
                if (stat(obj, &st) < 0 && atomic_file_write(obj, data, len, 0600) < 0)
                        return -EIO;
        }
        return 0;
}

static void config_drift_mark_good(void *state, const check_env *env) {
        config_drift_state *s = state;
        _cleanup_(freep) char *path = snap_path(s);
        config_manifest m = { 0 };

        if (s->unparsable) {
                log_warning("%s: the configuration does not parse: not recorded as last good", check_name(s->check));
                return;
        }
        /* objects first, the manifest last: a manifest on disk vouches for its objects; one
         * that the restoring actions could not read is not promoted */
        if (path && s->manifest && config_manifest_parse(s->manifest, &m) >= 0 && store_objects(s, &m) >= 0)
                (void) atomic_file_write(path, s->manifest, strlen(s->manifest), 0600);
        config_manifest_done(&m);
}

static int on_watch(ev_source *src, int fd, uint32_t revents, void *userdata) {
        config_drift_state *s = userdata;
        char buf[4096];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        check_debounce_kick(&s->debounce, s->env->event, s->check, DEBOUNCE_USEC);
        return 0;
}

/* Watch the tree and strongswan.conf; again at every run: a watch follows an inode, so a
 * directory replaced by a rename or created since (configuration management) is watched from the
 * next run on — the swanctl directory's own watch runs the check when it happens. Adding a
 * watch that exists changes nothing. */
static void watch_tree(config_drift_state *s) {
        static const char *const subdirs[] = { "", "/x509", "/x509ca", "/private", "/conf.d" };
        char path[4200];

        if (s->inotify_fd < 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                snprintf(path, sizeof(path), "%s%s", s->swanctl_dir, subdirs[i]);
                (void) inotify_add_watch(s->inotify_fd, path,
                                         IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB);
        }
        (void) inotify_add_watch(s->inotify_fd, s->strongswan_conf, IN_CLOSE_WRITE | IN_ATTRIB);
}

static int config_drift_attach(void *state, check *c, const check_env *env) {
        config_drift_state *s = state;

        s->check = c;
        s->env = env;
        s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->inotify_fd < 0)
                return 0;
        watch_tree(s);
        return ev_add_io(env->event, &s->watch, s->inotify_fd, EPOLLIN, on_watch, s);
}

static void config_drift_done(void *state) {
        config_drift_state *s = state;
        s->watch = ev_source_disable_unref(s->watch);
        check_debounce_done(&s->debounce);
        if (s->inotify_fd >= 0)
                close(s->inotify_fd);
        free(s->swanctl_dir);
        free(s->strongswan_conf);
        strv_free(s->package_logs);
        free(s->manifest);
}

const check_ops config_drift_check_ops = {
        .kind = "config",
        .description = "strongSwan's configuration: drift from the last good one, permissions, recent changes",
        .state_size = sizeof(config_drift_state),
        .parse = config_drift_parse,
        .attach = config_drift_attach,
        .start = config_drift_start,
        .mark_good = config_drift_mark_good,
        .done = config_drift_done,
};
