/* Notifications: every runbook event (started, succeeded, failed, pending approval, escalated,
 * measure expired …) goes to the journal and to the configured webhooks, over libcurl's multi
 * interface on the agent's loop (common/curl_glue.h), so a slow or dead endpoint never stalls
 * the agent: each delivery has a timeout, failures are retried with exponential backoff, and the
 * queue is bounded (the oldest undelivered message is dropped and counted).
 *
 *   notify:
 *     webhooks:
 *       - name: ops                 # unique; runbooks name targets by it
 *         url: http://127.0.0.1:9000/hook     # http or https only
 *         format: json              # json (generic) or slack (a Slack-compatible {"text": …})
 *         timeout: 5s               # per attempt (default 5s, at most 60s)
 *         retries: 3                # after the first attempt (default 3, at most 10)
 *         backoff: 1s               # first retry delay, doubled each time (default 1s)
 *         signing_key_file: /etc/ikeheal/ops.key   # optional: root's, 0600; each request then
 *                                   # carries X-Ikeheal-Signature: sha256=<hex HMAC-SHA256 of
 *                                   # the body with the file's bytes as the key>
 *     queue_max: 64                 # undelivered messages kept (default 64, at most 1024)
 *     alertmanager:                 # optional: incidents pushed as alerts (v2 API)
 *       url: http://127.0.0.1:9093  # Alertmanager's base URL; bodies go to <url>/api/v2/alerts
 *       bearer_token_file: /etc/ikeheal/am.token  # optional: root's, 0600; sent as
 *                                   # Authorization: Bearer <first line>
 *       resend: 1m                  # active incidents posted again this often (1s…1h):
 *                                   # Alertmanager ends an alert without endsAt after its
 *                                   # resolve_timeout unless it is posted again
 *       timeout: 5s                 # per attempt (default 5s, at most 60s)
 *       retries: 3                  # after the first attempt (default 3, at most 10)
 *       backoff: 1s                 # first retry delay, doubled each time (default 1s)
 *       instance: gw1               # the alerts' instance label (default: the host name)
 *
 * Generic JSON body (Content-Type: application/json):
 *   {"source":"ikeheal","host":"gw1","time":"2026-11-22T18:31:47Z","event":"run_failed",
 *    "incident":12,"runbook":"firewall-restore","grade":"auto","text":"…"}
 * ("incident" is omitted when 0, "runbook"/"grade" when NULL.) Messages about an incident add
 * what it is: "class", "scope", "severity", "reason", "peers" (an array of IKE identities) and,
 * when a run exists for it, "run": {"id":7,"runbook":"firewall-restore","state":"running"}.
 * Slack body: {"text":"[ikeheal gw1] run_failed: firewall-restore (incident 12): …"}
 * A 2xx status is success; anything else (or a transport error) is retried. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "macro.h"
#include "yaml_tree.h"

#define NOTIFY_WEBHOOKS_MAX 16u
#define NOTIFY_TEXT_MAX 2048u

typedef enum notify_format {
        NOTIFY_JSON,
        NOTIFY_SLACK,
} notify_format;

typedef struct notify_webhook {
        char *name;
        char *url;
        notify_format format;
        uint64_t timeout_usec;
        uint32_t retries;
        uint64_t backoff_usec;
        char *key_file;  /* signing_key_file (NULL: requests are not signed) */
        unsigned char *key; /* its bytes, read when the configuration is bound */
        size_t key_len;
} notify_webhook;

#define NOTIFY_KEY_MAX 4096u
#define NOTIFY_SIGNATURE_HEADER "X-Ikeheal-Signature"
/* "sha256=" and the hex HMAC-SHA256 of body under key (ret: at least 72 bytes). 0 or -EIO. */
int notify_sign(const unsigned char *key, size_t key_len, const char *body, size_t len, char ret[static 72]);

#define NOTIFY_ALERTMANAGER_TARGET "alertmanager" /* its deliveries' name in logs and the queue */
#define NOTIFY_TOKEN_MAX 1024u

typedef struct notify_alertmanager {
        char *url;        /* the base URL (NULL: incidents are not pushed) */
        char *token_file; /* bearer_token_file (NULL: none) */
        char *token;      /* its first line, read when the configuration is bound */
        uint64_t resend_usec, timeout_usec, backoff_usec;
        uint32_t retries;
        char *instance;   /* NULL: the host name */
} notify_alertmanager;

typedef struct notify_config {
        notify_webhook *webhooks;
        size_t n_webhooks;
        uint32_t queue_max;
        notify_alertmanager alertmanager;
} notify_config;

void notify_config_init(notify_config *c);
/* Bind the `notify:` mapping (NULL: none) strictly; errors with positions in d. */
int notify_config_bind(const ynode *node, notify_config *c, ydiag *d);
void notify_config_done(notify_config *c);
bool notify_config_has(const notify_config *c, const char *name);

typedef struct notify_message {
        const char *event;   /* [a-z_]+ */
        uint64_t incident;   /* 0: none */
        const char *runbook; /* may be NULL */
        const char *grade;   /* may be NULL */
        const char *text;
        uint64_t time_usec;  /* CLOCK_REALTIME; 0: now */
        /* what the incident is (class NULL: not about one; the others may be NULL) */
        const char *class_name, *scope, *severity, *reason;
        const char *const *peers; /* IKE identities */
        size_t n_peers;
        uint64_t run;             /* the incident's latest run (0: none) */
        const char *run_runbook, *run_state;
} notify_message;

typedef struct notifier_stats {
        uint64_t queued, delivered, retried, failed, dropped;
} notifier_stats;

typedef struct notifier notifier;

/* `cfg` is copied. */
int notifier_new(notifier **ret, ev_loop *e, const notify_config *cfg);
/* Transfers in flight are abandoned. */
notifier *notifier_free(notifier *n);
DEFINE_FREE_FUNC(notifier, notifier_free);
/* A reload: new targets; messages already queued keep their (copied) target. */
int notifier_set_config(notifier *n, const notify_config *cfg);

/* Queue m for `targets` (NULL-terminated names; NULL: every webhook). Unknown names are
 * ignored (the runbook parser rejects them). Returns how many deliveries were queued. */
int notifier_send(notifier *n, const char *const *targets, const notify_message *m);
void notifier_get_stats(const notifier *n, notifier_stats *ret);

/* Alertmanager (notify.alertmanager): its configuration in force (NULL: not configured), and
 * one v2 alerts body (a JSON array, am_alert_body()) queued for it, delivered like a webhook
 * message (in order, retried, bounded) with the bearer token. `what` names it in logs. */
const notify_alertmanager *notifier_alertmanager(const notifier *n);
int notifier_alertmanager_post(notifier *n, const char *what, const char *body);

/* Exposed for tests: the body for one format (malloc'ed). */
char *notify_render(notify_format f, const char *host, const notify_message *m);
