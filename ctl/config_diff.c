/* `ikehealctl config diff [STATE_DIR]`: what changed in strongSwan's configuration since the
 * last-good version — read locally, without the agent, from the config check's manifest
 * (<state_dir>/snapshots/config.manifest) and content store (<state_dir>/config-store/): each
 * file changed, added or removed, with a line diff (longest common subsequence) of the text
 * files and the mode/owner changes. Exit 0: no change; 1: changes (shown) or an error. */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actions/config_manifest.h"
#include "atomic_file.h"
#include "ctl/commands.h"
#include "hex.h"

#define FILE_MAX (4u * 1024u * 1024u)
#define LINES_MAX 3000u

static int split(char *text, char ***ret) {
        size_t n = 0, cap = 64;
        char **v = malloc(cap * sizeof(char *));
        for (char *p = text; v && p && *p && n < LINES_MAX;) {
                char *e = strchr(p, '\n');
                if (e)
                        *e = 0;
                if (n == cap) {
                        char **nv = realloc(v, (cap *= 2) * sizeof(char *));
                        if (!nv)
                                break;
                        v = nv;
                }
                v[n++] = p;
                p = e ? e + 1 : NULL;
        }
        *ret = v;
        return v ? (int) n : -ENOMEM;
}

/* A line diff of a and b (" ", "-", "+" prefixes), LCS over at most LINES_MAX lines each. */
static void line_diff(char *a_text, char *b_text) {
        char **a = NULL, **b = NULL;
        int n = split(a_text, &a), m = split(b_text, &b);
        unsigned short *t;

        if (n < 0 || m < 0 || !(t = calloc((size_t) (n + 1) * (size_t) (m + 1), sizeof(*t)))) {
                printf("    (too large to compare)\n");
                free(a);
                free(b);
                return;
        }
#define T(i, j) t[(size_t) (i) * (size_t) (m + 1) + (size_t) (j)]
        for (int i = n - 1; i >= 0; i--)
                for (int j = m - 1; j >= 0; j--)
                        T(i, j) = strcmp(a[i], b[j]) == 0 ? T(i + 1, j + 1) + 1 : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
        for (int i = 0, j = 0; i < n || j < m;) {
                if (i < n && j < m && strcmp(a[i], b[j]) == 0) {
                        i++, j++;
                } else if (j < m && (i == n || T(i, j + 1) >= T(i + 1, j)))
                        printf("    + %s\n", b[j++]);
                else
                        printf("    - %s\n", a[i++]);
        }
#undef T
        free(t);
        free(a);
        free(b);
}

static int sha256_file(const char *path, char hex[65], char **ret, size_t *ret_len) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        int r = atomic_file_read(path, FILE_MAX, ret, ret_len);
        if (r < 0)
                return r;
        if (!EVP_Digest(*ret, *ret_len, md, &n, EVP_sha256(), NULL))
                return -EIO;
        hex_encode(md, n, hex);
        return 0;
}

/* Files of the swanctl tree (the directory of the manifest's swanctl.conf) it does not list. */
static unsigned walk_added(const char *dir, const char *manifest, size_t len, unsigned depth) {
        struct dirent **list = NULL;
        int k = depth > 4 ? 0 : scandir(dir, &list, NULL, alphasort);
        unsigned n = 0;

        for (int j = 0; j < k; j++) {
                char p[4500], needle[4600];
                struct stat st;
                (void) snprintf(p, sizeof(p), "%.4200s/%.255s", dir, list[j]->d_name);
                (void) snprintf(needle, sizeof(needle), " %s\n", p);
                if (list[j]->d_name[0] != '.' && lstat(p, &st) == 0) {
                        if (S_ISDIR(st.st_mode))
                                n += walk_added(p, manifest, len, depth + 1);
                        else if (S_ISREG(st.st_mode) && !memmem(manifest, len, needle, strlen(needle))) {
                                /* a temporary measure's file is no change of the configuration
                                 * (the agent's config check does not count it either) */
                                if (config_manifest_measure_file(p)) {
                                        printf("measure   %s  (a temporary measure's, removed at its expiry)\n", p);
                                } else {
                                        printf("added     %s\n", p);
                                        n++;
                                }
                        }
                }
                free(list[j]);
        }
        free(list);
        return n;
}

static unsigned added(const char *manifest, size_t len) {
        const char *hit = memmem(manifest, len, "/swanctl.conf\n", 14);
        const char *start = hit;

        if (!hit)
                return 0;
        while (start > manifest && start[-1] != ' ')
                start--;
        char root[4200];
        (void) snprintf(root, sizeof(root), "%.*s", (int) (hit - start), start);
        return walk_added(root, manifest, len, 0);
}

int ctl_config_diff(int argc, char **argv) {
        const char *dir = argc > 0 ? argv[0] : "/var/lib/ikeheal";
        _cleanup_(freep) char *manifest = NULL, *path = NULL;
        size_t len = 0;
        unsigned changes = 0;

        if (argc > 1) {
                fprintf(stderr, "ikehealctl: config diff [STATE_DIR]\n");
                return 2;
        }
        if (config_manifest_path(dir, "config", "", &path) < 0) {
                fprintf(stderr, "ikehealctl: config diff: %s is no state directory\n", dir);
                return 1;
        }
        if (atomic_file_read(path, CONFIG_MANIFEST_MAX, &manifest, &len) < 0) {
                fprintf(stderr, "ikehealctl: config diff: no last-good manifest %s (is a config check configured, and was the "
                                "gateway healthy since?)\n", path);
                return 1;
        }
        _cleanup_(freep) char *manifest_copy = strndup(manifest, len);
        if (!manifest_copy)
                return 1;
        for (char *line = manifest, *eol; line && *line; line = eol ? eol + 1 : NULL) {
                char hex[65], file[4200], now[65] = "", obj[4400];
                unsigned mode, uid, gid;
                struct stat st;
                if ((eol = strchr(line, '\n')))
                        *eol = 0;
                if (sscanf(line, "%64s %o %u %u %4199[^\n]", hex, &mode, &uid, &gid, file) != 5)
                        continue;
                _cleanup_(freep) char *old = NULL, *cur = NULL;
                size_t ol = 0, cl = 0;
                if (stat(file, &st) < 0) {
                        printf("removed   %s\n", file);
                        changes++;
                        continue;
                }
                if (sha256_file(file, now, &cur, &cl) < 0)
                        continue;
                bool meta = (st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid;
                if (strcmp(now, hex) == 0 && !meta)
                        continue;
                changes++;
                printf("changed   %s", file);
                if (meta)
                        printf("  (mode %04o → %04o, owner %u:%u → %u:%u)", mode, (unsigned) (st.st_mode & 07777), uid, gid,
                               (unsigned) st.st_uid, (unsigned) st.st_gid);
                printf("\n");
                (void) snprintf(obj, sizeof(obj), "%.4000s/config-store/%s", dir, hex);
                if (strcmp(now, hex) != 0) {
                        if (atomic_file_read(obj, FILE_MAX, &old, &ol) < 0)
                                printf("    (the last-good content is not in the store)\n");
                        else if (memchr(old, 0, ol) || memchr(cur, 0, cl))
                                printf("    (binary content differs)\n");
                        else
                                line_diff(old, cur);
                }
        }
        changes += added(manifest_copy, len);
        printf("%u change%s since the last-good configuration (%s)\n", changes, changes == 1 ? "" : "s", path);
        return changes ? 1 : 0;
}
