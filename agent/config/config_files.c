/* What a configuration names on disk, checked when it is loaded from a file, so that
 * `ikeheald --check-config` (the unit's ExecStartPre), a start and a reload catch what would
 * otherwise fail later or silently do nothing:
 *
 * - agent.audit_key_file must be usable exactly as the audit trail will use it (a regular file
 *   of root's, mode 0600 or stricter, 1..AUDIT_KEY_MAX bytes); its sha256 is kept, so that a
 *   reload can tell the key changed (config_reload_check);
 * - runbook, drill and scripts directories must belong to root and not be group- or
 *   world-writable: whoever can add a file there can make the agent act as root. A runbook or
 *   drill directory that does not exist is a warning (a fresh install may not have one yet),
 *   but the agent then acts on nothing from it.
 *
 * Errors and warnings name the key's position in the file. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/config/config.h"
#include "audit_log.h"
#include "file_read.h"
#include "hex.h"
#include "yaml_bind.h"

static const ynode *item_or(const ynode *seq, size_t i, const ynode *fallback) {
        return seq && seq->type == YNODE_SEQ && i < seq->n_items ? seq->items[i] : fallback;
}

/* A directory the agent acts on what it holds. `missing`: the warning's tail when it does not
 * exist (NULL: nothing to say). */
static void dir_check(const char *key, const char *dir, const ynode *at, const char *missing, ydiag *d, ydiag *w) {
        struct stat st;
        char why[128];

        if (stat(dir, &st) < 0) {
                if (errno != ENOENT)
                        ydiag_add(d, at, "%s %s: %s", key, YQ_PATH(dir), strerror(errno));
                else if (missing)
                        ydiag_add(w, at, "warning: %s %s does not exist: %s", key, YQ_PATH(dir), missing);
                return;
        }
        if (!S_ISDIR(st.st_mode)) {
                ydiag_add(d, at, "%s %s is a %s, not a directory", key, YQ_PATH(dir), file_read_type(st.st_mode));
                return;
        }
        if (file_read_check_owner(&st, why, sizeof(why)) < 0)
                ydiag_add(d, at, "%s %s %s, refusing: whoever can write there can make the agent act as root", key,
                          YQ_PATH(dir), why);
}

static void audit_key_check(ikeheal_config *c, const ynode *at, ydiag *d) {
        _cleanup_(freep) char *key = NULL;
        unsigned char md[32];
        unsigned md_len = 0;
        struct stat st;
        size_t len = 0;
        int r;

        r = file_read_all(c->audit_key_file, AUDIT_KEY_MAX, 0, &key, &len, &st);
        if (r == -EFBIG)
                ydiag_add(d, at, "agent.audit_key_file %s is larger than %u bytes", YQ_PATH(c->audit_key_file),
                          AUDIT_KEY_MAX);
        else if (r < 0)
                ydiag_add(d, at, "agent.audit_key_file %s: %s", YQ_PATH(c->audit_key_file), file_read_strerror(r));
        else if (st.st_uid != 0)
                ydiag_add(d, at, "agent.audit_key_file %s belongs to uid %u, not root", YQ_PATH(c->audit_key_file),
                          (unsigned) st.st_uid);
        else if (st.st_mode & 077)
                ydiag_add(d, at, "agent.audit_key_file %s has mode %04o: others than root may use it (0600 or stricter)",
                          YQ_PATH(c->audit_key_file), (unsigned) (st.st_mode & 07777));
        else if (len == 0)
                ydiag_add(d, at, "agent.audit_key_file %s is empty", YQ_PATH(c->audit_key_file));
        else if (EVP_Digest(key, len, md, &md_len, EVP_sha256(), NULL) == 1)
                hex_encode(md, md_len, c->audit_key_id);
        if (key)
                explicit_bzero(key, len);
}

void config_files_check(ikeheal_config *c, const ynode *root, ydiag *d, ydiag *w) {
        const ynode *agent = ynode_get(root, "agent"), *drills = ynode_get(root, "drills");
        const ynode *rb_dirs = ynode_get(agent, "runbook_dirs"), *dr_dirs = ynode_get(drills, "dirs");
        const ynode *key = ynode_get(agent, "audit_key_file");

        c->audit_key_line = key ? key->line : 1;
        c->audit_key_col = key ? key->col : 1;
        if (c->audit_key_file)
                audit_key_check(c, key ?: agent ?: root, d);
        for (size_t i = 0; c->runbook_dirs && c->runbook_dirs[i]; i++)
                dir_check("runbook directory", c->runbook_dirs[i], item_or(rb_dirs, i, agent ?: root),
                          "no runbook from it, no incident will be acted on by its runbooks", d, w);
        if (c->exec_dir)
                dir_check("agent.exec_dir", c->exec_dir, ynode_get(agent, "exec_dir") ?: agent ?: root, NULL, d, w);
        for (size_t i = 0; c->drills.enabled && c->drills.dirs && c->drills.dirs[i]; i++)
                dir_check("drill directory", c->drills.dirs[i], item_or(dr_dirs, i, drills ?: root),
                          "no drill from it", d, w);
}

int config_reload_check(const ikeheal_config *old, const ikeheal_config *next, char **ret_error) {
        if (strcmp(old->audit_key_id, next->audit_key_id) == 0)
                return 0;
        if (ret_error &&
            asprintf(ret_error,
                     "%s:%u:%u: agent.audit_key_file: the audit key %s; the running agent keeps signing the "
                     "audit log with the key it started with: restart ikeheald to change it",
                     next->path, next->audit_key_line, next->audit_key_col,
                     !old->audit_key_id[0] ? "was added" : !next->audit_key_id[0] ? "was removed" : "changed") < 0)
                *ret_error = NULL;
        return -EBUSY;
}
