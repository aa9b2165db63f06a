/* A set of runbooks, loaded whole: every file of the runbook directories is parsed (all errors
 * of all files collected), then what spans files is checked — unique names, escalation targets
 * that exist — and only a set without a single error is returned. The agent swaps sets on
 * reload, so a bad edit leaves the running set untouched. Also: matching an incident to the best
 * runbook, and the plan of a runbook with its hash. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/runbook_internal.h"
#include "agent/config/yaml_set.h"
#include "duration.h"
#include "hex.h"
#include "yaml_bind.h"

struct runbook_set {
        unsigned n_ref;
        runbook **items;
        size_t n;
        char hash[65];
};

runbook_set *runbook_set_ref(runbook_set *s) {
        if (s)
                s->n_ref++;
        return s;
}

runbook_set *runbook_set_free(runbook_set *s) {
        if (!s || --s->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                runbook_free(s->items[i]);
        free(s->items);
        free(s);
        return NULL;
}

static int set_finish(runbook_set *s, char **errors) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char out[32];
        unsigned outlen = 0;

        for (size_t i = 0; i < s->n; i++) {
                const runbook *a = s->items[i];
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->items[j]->name, a->name) == 0)
                                (void) yaml_set_error(errors, "%s:%u:%u: duplicate runbook name '%s' (also in %s:%u)", a->file,
                                                  a->name_line, a->name_col, a->name, s->items[j]->file,
                                                  s->items[j]->name_line);
                if (a->escalate == RB_ESCALATE_RUNBOOK) {
                        const runbook *t = runbook_set_find(s, a->escalate_runbook);
                        if (!t)
                                (void) yaml_set_error(errors, "%s:%u:%u: escalate.runbook '%s' does not exist", a->file,
                                                  a->escalate_line, a->escalate_col, YQ(a->escalate_runbook));
                        else if (t->escalate == RB_ESCALATE_RUNBOOK && strcmp(t->escalate_runbook, a->name) == 0)
                                (void) yaml_set_error(errors, "%s:%u:%u: escalate.runbook '%s' escalates back to '%s' (a loop)",
                                                  a->file, a->escalate_line, a->escalate_col, t->name, a->name);
                }
        }
        if (!md)
                return -ENOMEM;
        (void) EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (size_t i = 0; i < s->n; i++)
                (void) EVP_DigestUpdate(md, s->items[i]->sha256, 64);
        (void) EVP_DigestFinal_ex(md, out, &outlen);
        EVP_MD_CTX_free(md);
        hex_encode(out, outlen, s->hash);
        return *errors ? -EINVAL : 0;
}

/* The end of a load: the set only if neither a file nor the cross-file checks found an error;
 * otherwise every message. Takes *s and *errors. */
static int set_hand_out(runbook_set **s, int r, char **errors, runbook_set **ret, char **ret_error) {
        if (r == -ENOMEM)
                return r;
        if (set_finish(*s, errors) < 0 || *errors || r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(*errors);
                return -EINVAL;
        }
        *ret = TAKE_PTR(*s);
        return 0;
}

static int set_add_file(runbook_set *s, const char *path, const runbook_ctx *ctx, char **errors) {
        runbook *rb = NULL;
        ydiag d;
        int r;

        if (s->n >= RUNBOOK_SET_MAX)
                return yaml_set_error(errors, "%s: more than %u runbooks", path, RUNBOOK_SET_MAX) < 0 ? -ENOMEM : -E2BIG;
        ydiag_init(&d, path);
        r = runbook_parse_file(path, ctx, &d, &rb);
        if (yaml_set_take(errors, &d) < 0)
                r = -ENOMEM;
        ydiag_done(&d);
        if (r < 0) {
                runbook_free(rb);
                return r == -ENOMEM ? r : 0; /* reported; keep going to find every error */
        }
        runbook **items = realloc(s->items, (s->n + 1) * sizeof(*items));
        if (!items) {
                runbook_free(rb);
                return -ENOMEM;
        }
        s->items = items;
        s->items[s->n++] = rb;
        return 0;
}

int runbook_set_load(char *const *dirs, const runbook_ctx *ctx, runbook_set **ret, char **ret_error) {
        _cleanup_(runbook_set_freep) runbook_set *s = calloc(1, sizeof(runbook_set));
        _cleanup_(strv_freep) char **paths = NULL;
        _cleanup_(freep) char *errors = NULL;
        int r;

        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        r = yaml_set_list(dirs, "runbook", &paths, &errors);
        for (size_t i = 0; r >= 0 && paths[i]; i++)
                r = set_add_file(s, paths[i], ctx, &errors);
        return set_hand_out(&s, r, &errors, ret, ret_error);
}

int runbook_set_load_files(char *const *files, const runbook_ctx *ctx, runbook_set **ret, char **ret_error) {
        _cleanup_(runbook_set_freep) runbook_set *s = calloc(1, sizeof(runbook_set));
        _cleanup_(freep) char *errors = NULL;
        int r = 0;

        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        for (size_t i = 0; files && files[i] && r >= 0; i++)
                r = set_add_file(s, files[i], ctx, &errors);
        return set_hand_out(&s, r, &errors, ret, ret_error);
}

size_t runbook_set_size(const runbook_set *s) {
        return s ? s->n : 0;
}

const runbook *runbook_set_get(const runbook_set *s, size_t i) {
        return s && i < s->n ? s->items[i] : NULL;
}

const runbook *runbook_set_find(const runbook_set *s, const char *name) {
        for (size_t i = 0; s && name && i < s->n; i++)
                if (strcmp(s->items[i]->name, name) == 0)
                        return s->items[i];
        return NULL;
}

const runbook *runbook_set_match(const runbook_set *s, const rb_subject *subj) {
        const runbook *best = NULL;

        for (size_t i = 0; s && i < s->n; i++) {
                const runbook *rb = s->items[i];
                if (!runbook_matches(rb, subj))
                        continue;
                if (!best || rb->priority > best->priority ||
                    (rb->priority == best->priority && strcmp(rb->name, best->name) < 0))
                        best = rb;
        }
        return best;
}

uint64_t runbook_set_next_open_for(const runbook_set *s, uint64_t open_usec) {
        uint64_t best = 0;

        for (size_t i = 0; s && i < s->n; i++) {
                uint64_t t = rb_cond_next_open_for(s->items[i]->match, open_usec);
                if (t && (!best || t < best))
                        best = t;
        }
        return best;
}

const char *runbook_set_hash(const runbook_set *s) {
        return s ? s->hash : "";
}

/* The plan is text a human reads and the hash binds: one block per step, then what happens on
 * failure. The runbook's file hash is in it, so editing the runbook voids an approval too. */
int runbook_plan_make(const runbook *rb, const action_env *env, runbook_expand_fn expand, void *userdata,
                      runbook_plan *ret) {
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        unsigned char md[32];
        unsigned mdlen = 0;
        bool disruptive = false;
        char a[32];

        if (!f)
                return -ENOMEM;
        fprintf(f, "runbook %s (grade %s, file %s sha256 %s)\n", rb->name, grade_to_string(rb->grade), rb->file,
                rb->sha256);
        for (size_t i = 0; i < rb->n_steps; i++) {
                const rb_step *s = &rb->steps[i];
                _cleanup_(action_params_done) action_params filled = { 0 };
                const action_params *params = &s->params;
                action_plan p = { 0 };
                if (expand) {
                        if (action_params_copy(&s->params, &filled) < 0) {
                                (void) fclose(f);
                                return -ENOMEM;
                        }
                        expand(&filled, userdata);
                        params = &filled;
                }
                (void) action_plan_make(params, env, ACTION_APPLY, &p);
                fprintf(f, "step %zu %s: %s%s%s, timeout %s\n", i + 1, s->name, s->params.ops->kind,
                        s->has_grade ? ", grade " : "", s->has_grade ? grade_to_string(s->grade) : "",
                        duration_format(s->timeout_usec, a, sizeof(a)));
                fprintf(f, "%s", p.text);
                disruptive |= p.disruptive;
                if (s->verify_check || s->verify_action)
                        fprintf(f, "  verify within %s:%s%s%s\n", duration_format(s->verify_within_usec, a, sizeof(a)),
                                s->verify_check ? " check " : "", s->verify_check ? s->verify_check : "",
                                s->verify_action ? " and the action's own verify" : "");
                if (s->expires_in_usec) {
                        action_plan rp = { 0 };
                        (void) action_plan_make(params, env, ACTION_REVERT, &rp);
                        fprintf(f, "  temporary measure: reverted after %s by:\n%s",
                                duration_format(s->expires_in_usec, a, sizeof(a)), rp.text);
                }
        }
        fprintf(f, "on failure: %s", rb->rollback ? "revert the steps done, newest first" : "no rollback");
        for (size_t i = 0; i < rb->n_on_failure; i++)
                fprintf(f, "; then %s (%s)", rb->on_failure[i].name, rb->on_failure[i].params.ops->kind);
        fprintf(f, "; escalate to %s\n",
                rb->escalate == RB_ESCALATE_RUNBOOK ? rb->escalate_runbook
                : rb->escalate == RB_ESCALATE_GRADE ? grade_to_string(rb->escalate_grade)
                                                    : "a human");
        if (fclose(f) != 0)
                return -ENOMEM;
        if (EVP_Digest(text, size, md, &mdlen, EVP_sha256(), NULL) != 1)
                return -EIO;
        hex_encode(md, mdlen, ret->hash);
        ret->text = TAKE_PTR(text);
        ret->disruptive = disruptive;
        return 0;
}

void runbook_plan_done(runbook_plan *p) {
        free(p->text);
        p->text = NULL;
}
