/* Actions on a real loop: strict parameter binding (with positions), the canonical
 * serialisation round trip, and `exec` for real — allowlist and ownership checks on every path
 * component (group-writable file or directory, a symlink out of exec_dir, a sticky world-
 * writable directory), the script's exit status and output, a clean environment, a timeout
 * that kills the whole process group, the plan naming the script's SHA-256. Runs as root (the
 * scripts must be root-owned); skipped otherwise. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions/action.h"
#include "action_bind.h"
#include "actions/registry.h"
#include "atomic_file.h"
#include "tap.h"

static char root[64];
static ev_loop *ev;

static void test_params(void) {
        static const struct {
                const char *yaml, *want;
        } bad[] = {
                { "script: /x\nscrip: /y\n", "t.yaml:2:1: unknown key 'scrip'" },
                { "args: [a]\n", "t.yaml:1:1: action 'exec' needs parameter 'script'" },
                { "script: x.sh\n", "t.yaml:1:9: parameter 'script': expected an absolute path" },
                { "script: /a/../b\n", "t.yaml:1:9: parameter 'script': expected an absolute path without '..'" },
                { "script: /x\nargs: a\n", "t.yaml:2:7: parameter 'args': expected a sequence" },
                { "script: /x\ndisruptive: maybe\n", "t.yaml:2:13: expected a boolean" },
                { "script: [a]\n", "t.yaml:1:9: parameter 'script': expected a path" },
                { "script: /x\nargs: [a, [b]]\n", "t.yaml:2:11: parameter 'args': expected a string" },
        };
        action_params p = { 0 }, q = { 0 };
        char *err = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = action_bind_yaml(&action_exec, bad[i].yaml, &p, &err);
                CHECK(r < 0 && err && strstr(err, bad[i].want), "bad params %zu: want '%s', got '%s'", i, bad[i].want,
                      err ? err : "");
                free(err);
        }
        CHECK(action_bind_yaml(&action_exec, "script: /x/a.sh\nargs: [one, 'two words']\nrevert: /x/b.sh\ndisruptive: true\n",
                        &p, &err) == 0,
              "good params");
        free(err);
        CHECK(action_supports(&p, ACTION_REVERT) && !action_supports(&p, ACTION_VERIFY), "supports revert, not verify");

        vici_builder *b = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;
        vici_node *n = NULL;
        (void) vici_builder_new(&b);
        action_params_to_vici(&p, b);
        CHECK(vici_builder_finish(b, &buf, &len) == 0 && vici_msg_parse(buf, len, &n) == 0 &&
                      action_params_from_vici(&action_exec, n, &q) == 0,
              "round trip through VICI");
        CHECK(q.v[1].strv && strcmp(q.v[1].strv[1], "two words") == 0 && q.v[4].num == 1 &&
                      strcmp(q.v[2].str, "/x/b.sh") == 0,
              "values survive the round trip");
        free(buf);
        vici_node_free(n);
        action_params_done(&q);
        action_params_done(&p);
}

typedef struct result {
        bool done;
        int r;
        char detail[ACTION_DETAIL_MAX];
} result;

static void on_done(action_call *c, int r, void *userdata) {
        result *res = userdata;
        res->done = true;
        res->r = r;
        snprintf(res->detail, sizeof(res->detail), "%s", action_call_detail(c));
}

static int run_call(action_params *p, action_op op, uint64_t timeout, char *const *ctx, result *res, uint64_t *ret_ms) {
        action_env env = { .event = ev, .exec_dir = root };
        action_call *c = NULL;
        struct timespec a, z;
        int r;

        *res = (result){ 0 };
        clock_gettime(CLOCK_MONOTONIC, &a);
        r = action_call_new(&c, p, &env, op, timeout, ctx, on_done, res);
        if (r < 0)
                return r;
        CHECK(!res->done, "the callback never runs inside action_call_new");
        while (!res->done)
                (void) ev_run(ev, 100 * 1000);
        clock_gettime(CLOCK_MONOTONIC, &z);
        if (ret_ms)
                *ret_ms = (uint64_t) ((z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000);
        action_call_free(c);
        return 0;
}

static void script(const char *name, const char *body, mode_t mode) {
        char path[256], text[1024];
        snprintf(path, sizeof(path), "%s/%s", root, name);
        snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
        (void) atomic_file_write(path, text, strlen(text), mode);
        (void) chmod(path, mode);
}

static void params_for(action_params *p, const char *name, const char *extra) {
        char yaml[512], *err = NULL;
        snprintf(yaml, sizeof(yaml), "script: %s/%s\n%s", root, name, extra);
        if (action_bind_yaml(&action_exec, yaml, p, &err) < 0)
                fprintf(stderr, "bind: %s\n", err ? err : "?");
        free(err);
}

/* Gone, or a zombie waiting for whoever reaps orphans here: either way, dead. */
static bool alive(pid_t pid) {
        char path[64], *stat = NULL, *paren;
        size_t len = 0;
        bool r;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (atomic_file_read(path, 4096, &stat, &len) < 0)
                return false;
        paren = strrchr(stat, ')');
        r = !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
        free(stat);
        return r;
}

static void test_exec(void) {
        action_params p = { 0 };
        action_env env = { .event = ev, .exec_dir = root };
        char why[512], path[300];
        result res;
        uint64_t ms = 0;
        char *ctx[] = { "IKEHEAL_RUN=7", "IKEHEAL_STEP=fix", NULL };

        script("ok.sh", "echo hello; echo world >&2; exit 0", 0755);
        params_for(&p, "ok.sh", "args: [a, b]\n");
        CHECK(action_exec.validate(&p, &env, why, sizeof(why)) == 0, "a root-owned 0755 script validates (%s)", why);
        run_call(&p, ACTION_APPLY, 5 * USEC_PER_SEC, ctx, &res, NULL);
        CHECK(res.r == 0 && strstr(res.detail, "hello") && strstr(res.detail, "world"), "exit 0, output kept: %s",
              res.detail);
        action_plan plan = { 0 };
        (void) action_plan_make(&p, &env, ACTION_APPLY, &plan);
        CHECK(strstr(plan.text, "ok.sh 'a' 'b' (sha256 ") && !strstr(plan.text, "unreadable"), "plan names args and sha256: %s",
              plan.text);
        action_params_done(&p);

        script("fail.sh", "echo broken; exit 3", 0755);
        params_for(&p, "fail.sh", "");
        run_call(&p, ACTION_APPLY, 5 * USEC_PER_SEC, NULL, &res, NULL);
        CHECK(res.r == -EPROTO && strstr(res.detail, "exit status 3: broken"), "exit 3 fails with its output: %s", res.detail);
        action_params_done(&p);

        snprintf(path, sizeof(path), "echo x >%s/env.out; env >%s/env.out", root, root);
        script("env.sh", path, 0755);
        params_for(&p, "env.sh", "");
        setenv("IKEHEAL_SECRET_LEAK", "1", 1);
        run_call(&p, ACTION_APPLY, 5 * USEC_PER_SEC, ctx, &res, NULL);
        char *out = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/env.out", root);
        (void) atomic_file_read(path, 65536, &out, &len);
        CHECK(out && strstr(out, "IKEHEAL_RUN=7") && strstr(out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin") &&
                      !strstr(out, "IKEHEAL_SECRET_LEAK"),
              "clean environment with the context only");
        free(out);
        action_params_done(&p);

        /* a timeout kills the whole group: the script's background child too */
        snprintf(path, sizeof(path), "sleep 30 & echo $! >%s/child.pid; sleep 30", root);
        script("slow.sh", path, 0755);
        params_for(&p, "slow.sh", "");
        run_call(&p, ACTION_APPLY, 300 * USEC_PER_MSEC, NULL, &res, &ms);
        CHECK(res.r == -ETIME && ms < 2000, "timeout after 300ms → -ETIME in %llu ms", (unsigned long long) ms);
        snprintf(path, sizeof(path), "%s/child.pid", root);
        out = NULL;
        (void) atomic_file_read(path, 64, &out, &len);
        pid_t child = out ? (pid_t) atoi(out) : 0;
        for (int i = 0; i < 100 && child > 0 && alive(child); i++)
                usleep(10000);
        CHECK(child > 0 && !alive(child), "the script's background child died with the group");
        free(out);
        action_params_done(&p);

        /* what may not run */
        script("gw.sh", "exit 0", 0775);
        params_for(&p, "gw.sh", "");
        CHECK(action_exec.validate(&p, &env, why, sizeof(why)) == -EPERM && strstr(why, "group- or world-writable"),
              "group-writable script refused: %s", why);
        run_call(&p, ACTION_APPLY, 5 * USEC_PER_SEC, NULL, &res, NULL);
        CHECK(res.r == -EPERM && strstr(res.detail, "refused"), "and not run: %s", res.detail);
        action_params_done(&p);

        snprintf(path, sizeof(path), "%s/escape.sh", root);
        if (symlink("/bin/true", path) < 0)
                perror("symlink");
        params_for(&p, "escape.sh", "");
        CHECK(action_exec.validate(&p, &env, why, sizeof(why)) == -EPERM && strstr(why, "outside exec_dir"),
              "a symlink out of exec_dir refused: %s", why);
        action_params_done(&p);

        snprintf(path, sizeof(path), "%s/open", root);
        (void) mkdir(path, 0755);
        (void) chmod(path, 01777);
        snprintf(path, sizeof(path), "%s/open/x.sh", root);
        (void) atomic_file_write(path, "#!/bin/sh\nexit 0\n", 17, 0755);
        (void) chmod(path, 0755);
        params_for(&p, "open/x.sh", "");
        CHECK(action_exec.validate(&p, &env, why, sizeof(why)) == -EPERM && strstr(why, "/open is group- or world-writable"),
              "a sticky world-writable directory on the path refused: %s", why);
        action_params_done(&p);

        params_for(&p, "ok.sh", "");
        run_call(&p, ACTION_VERIFY, 5 * USEC_PER_SEC, NULL, &res, NULL);
        CHECK(res.r == -EOPNOTSUPP, "verify without a verify script: -EOPNOTSUPP, later");
        action_params_done(&p);
}

static int called;
static void notify_cb(void *userdata, const char *event, const char *text) {
        called += strcmp(event, "tell") == 0 && strcmp(text, "hi") == 0;
}

static void test_notify(void) {
        action_params p = { 0 };
        action_env env = { .event = ev, .notify = notify_cb };
        action_call *c = NULL;
        result res = { 0 };
        char *err = NULL;

        CHECK(action_bind_yaml(&action_notify, "message: hi\nevent: tell\n", &p, &err) == 0, "notify params");
        free(err);
        CHECK(action_call_new(&c, &p, &env, ACTION_APPLY, 0, NULL, on_done, &res) == 0, "notify call");
        while (!res.done)
                (void) ev_run(ev, 100 * 1000);
        CHECK(res.r == 0 && called == 1, "notify delivered once");
        action_call_free(c);
        action_params_done(&p);
}

static mode_t mode_of(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? st.st_mode & 07777 : 0;
}

/* file_mode on real files: exactly the file whose mode became unsafe gets its last-good mode
 * back (a safe change elsewhere is drift, left alone); verify, revert; and the precondition
 * that refuses a step with no last-good manifest (file_mode and config_rollback alike). */
static void test_file_mode(void) {
        char dir[128], key[192], conf[192], man[192], text[512], why[256];
        action_env env = { .event = ev };
        action_params p = { 0 }, cr = { 0 };
        action_plan plan = { 0 };
        result res = { 0 };
        char *err = NULL;

        snprintf(dir, sizeof(dir), "%s/fm", root);
        snprintf(key, sizeof(key), "%s/private/gw.key", dir);
        snprintf(conf, sizeof(conf), "%s/swanctl.conf", dir);
        snprintf(text, sizeof(text), "mkdir -p %s/private %s/state/snapshots", dir, dir);
        CHECK(system(text) == 0, "file_mode: tree");
        CHECK(atomic_file_write(key, "k\n", 2, 0600) >= 0 && atomic_file_write(conf, "c\n", 2, 0644) >= 0, "files");
        snprintf(man, sizeof(man), "%s/state", dir);
        env.state_dir = man;
        CHECK(action_bind_yaml(&action_file_mode, "{}", &p, &err) == 0 && action_bind_yaml(&action_config_rollback, "{}", &cr, &err) == 0,
              "file_mode and config_rollback params");
        free(err);
        err = NULL;

        CHECK(action_precondition(&p, &env, why, sizeof(why)) == -ENOENT && strstr(why, "no last-good manifest"),
              "file_mode without a last-good manifest: precondition fails: %s", why);
        CHECK(action_precondition(&cr, &env, why, sizeof(why)) == -ENOENT && strstr(why, "no last-good configuration"),
              "config_rollback without a last-good manifest: precondition fails: %s", why);

        snprintf(man, sizeof(man), "%s/state/snapshots/config.manifest", dir);
        snprintf(text, sizeof(text), "- 0600 0 0 %s\n- 0644 0 0 %s\n", key, conf);
        CHECK(atomic_file_write(man, text, strlen(text), 0600) >= 0, "last-good manifest");
        snprintf(man, sizeof(man), "%s/state", dir);
        CHECK(action_precondition(&cr, &env, why, sizeof(why)) == 0, "config_rollback with a manifest: precondition holds");
        CHECK(action_precondition(&p, &env, why, sizeof(why)) == -ENOENT, "nothing unsafe: file_mode has nothing to do (%s)", why);

        CHECK(chmod(key, 0644) == 0 && chmod(conf, 0600) == 0, "the key readable by others; swanctl.conf made stricter");
        CHECK(action_precondition(&p, &env, why, sizeof(why)) == 0, "unsafe key: precondition holds");
        CHECK(action_plan_make(&p, &env, ACTION_APPLY, &plan) == 0 && strstr(plan.text, key) && !strstr(plan.text, conf),
              "the plan names the key only: %s", plan.text);
        action_call *c = NULL;
        CHECK(action_call_new(&c, &p, &env, ACTION_APPLY, USEC_PER_SEC, NULL, on_done, &res) == 0, "apply");
        while (!res.done)
                (void) ev_run(ev, 100 * 1000);
        CHECK(res.r == 0 && mode_of(key) == 0600 && mode_of(conf) == 0600,
              "apply: the key is 0600 again, swanctl.conf left as it is (%04o %04o): %s", mode_of(key), mode_of(conf),
              action_call_detail(c));
        c = action_call_free(c);
        res = (result){ 0 };
        CHECK(action_call_new(&c, &p, &env, ACTION_VERIFY, USEC_PER_SEC, NULL, on_done, &res) == 0, "verify");
        while (!res.done)
                (void) ev_run(ev, 100 * 1000);
        CHECK(res.r == 0, "verify: %s", action_call_detail(c));
        c = action_call_free(c);
        res = (result){ 0 };
        CHECK(action_call_new(&c, &p, &env, ACTION_REVERT, USEC_PER_SEC, NULL, on_done, &res) == 0, "revert");
        while (!res.done)
                (void) ev_run(ev, 100 * 1000);
        CHECK(res.r == 0 && mode_of(key) == 0644 && mode_of(conf) == 0600, "revert: the key's mode from before is back (%04o)",
              mode_of(key));
        CHECK(strstr(action_call_detail(c), "1 of 1 file(s) given back"), "revert counts the file: %s", action_call_detail(c));
        c = action_call_free(c);
        /* a revert that cannot put a mode back counts only what it did */
        char moved[4200];
        snprintf(moved, sizeof(moved), "%s.moved", key);
        res = (result){ 0 };
        CHECK(action_call_new(&c, &p, &env, ACTION_APPLY, USEC_PER_SEC, NULL, on_done, &res) == 0, "apply again");
        while (!res.done)
                (void) ev_run(ev, 100 * 1000);
        c = action_call_free(c);
        CHECK(rename(key, moved) == 0, "the key moved away");
        res = (result){ 0 };
        CHECK(action_call_new(&c, &p, &env, ACTION_REVERT, USEC_PER_SEC, NULL, on_done, &res) == 0, "revert");
        while (!res.done)
                (void) ev_run(ev, 100 * 1000);
        CHECK(res.r < 0 && strstr(action_call_detail(c), "0 of 1 file(s) given back") &&
                      strstr(action_call_detail(c), "stopped: No such file"),
              "a failed revert says 0 of 1 and why: %s", action_call_detail(c));
        CHECK(rename(moved, key) == 0, "the key back");
        action_call_free(c);
        action_params_done(&p);
        action_params_done(&cr);
}

/* A value or key with a newline or a terminal escape reaches the message only quoted: each such
 * byte as '?', so an error line can neither be split nor recolour the operator's terminal. */
static void test_params_quoted(void) {
        action_params p = { 0 };
        char *err = NULL;
        int r;

        r = action_bind_yaml(&action_exec, "script: \"x\\n\\e[31mred\"\n", &p, &err);
        CHECK(r < 0 && err && strstr(err, "got 'x??[31mred'") && !strchr(err, '\033') && !strstr(err, "x\n"),
              "a path with a newline and an escape is quoted: %s", err ? err : "");
        free(err);
        r = action_bind_yaml(&action_exec, "script: /x\n\"scr\\nip\\e\": /y\n", &p, &err);
        CHECK(r < 0 && err && strstr(err, "unknown key 'scr?ip?'") && !strchr(err, '\033'),
              "an unknown key with control characters is quoted: %s", err ? err : "");
        free(err);
}

int main(void) {
        char cmd[128];

        test_params();
        test_params_quoted();
        if (geteuid() != 0) {
                printf("exec tests need root (scripts must be root-owned)\n");
                return TAP_END();
        }
        /* under /run: root-owned 0755 all the way up, unlike /tmp */
        snprintf(root, sizeof(root), "/run/test-action-%d", (int) getpid());
        if (mkdir(root, 0755) < 0 || ev_new(&ev) < 0)
                return 1;
        test_exec();
        test_notify();
        test_file_mode();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", root);
        ev_unref(ev);
        return TAP_END();
}
