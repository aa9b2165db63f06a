/* ikeheald: command line, logging set-up, then the agent's event loop. Start-up failures are the
 * only fatal errors; once running, every error is handled where it happens. */
/* sysexits' EX_CONFIG: the unit's RestartPreventExitStatus keeps a broken config from looping. */
#define EXIT_CONFIG 78

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/agent.h"
#include "agent/config/config.h"
#include "log.h"

#define DEFAULT_CONFIG "/etc/ikeheal/ikeheal.yaml"

static void help(void) {
        printf("Usage: ikeheald [OPTIONS]\n"
               "\n"
               "IKEv2 gateway self-healing agent: watches strongSwan's charon, diagnoses\n"
               "failures and runs graded runbooks. Normally started by systemd\n"
               "(ikeheald.service, Type=notify).\n"
               "\n"
               "  -c, --config=PATH    configuration file (default " DEFAULT_CONFIG ")\n"
               "  -n, --check-config   validate the configuration, print every error, exit\n"
               "      --log-target=T   auto (default), stderr or journal\n"
               "      --log-level=L    override agent.log_level (debug, info, …)\n"
               "      --reset-state    set a damaged state log aside (audited) and start anew\n"
               "  -h, --help           this text\n"
               "      --version        print the version\n"
               "\n"
               "Exit status: 0 clean stop or valid config, 1 failure, 2 usage, 78 invalid\n"
               "config or a damaged state log.\n"
               "See ikeheald(8) and ikeheal.yaml(5).\n");
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_LOG_TARGET, ARG_LOG_LEVEL, ARG_RESET_STATE };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 'n' },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "reset-state", no_argument, NULL, ARG_RESET_STATE },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        const char *config_path = DEFAULT_CONFIG;
        log_target target = LOG_TARGET_AUTO;
        int level_override = -1, c, r;
        bool check_only = false, reset_state = false;
        ikeheal_config *cfg = NULL;
        agent *a = NULL;
        char *err = NULL;

        while ((c = getopt_long(argc, argv, "c:nh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'n':
                        check_only = true;
                        break;
                case ARG_LOG_TARGET:
                        if (strcmp(optarg, "auto") == 0)
                                target = LOG_TARGET_AUTO;
                        else if (strcmp(optarg, "stderr") == 0)
                                target = LOG_TARGET_STDERR;
                        else if (strcmp(optarg, "journal") == 0)
                                target = LOG_TARGET_JOURNAL;
                        else {
                                fprintf(stderr, "ikeheald: unknown log target '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        level_override = log_level_from_string(optarg);
                        if (level_override < 0) {
                                fprintf(stderr, "ikeheald: unknown log level '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case ARG_RESET_STATE:
                        reset_state = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("ikeheald %s\n", IKEHEAL_VERSION);
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "ikeheald: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        log_setup("ikeheald", check_only ? LOG_TARGET_STDERR : target);

        r = config_load(config_path, &cfg, &err);
        if (r < 0) {
                if (check_only)
                        fprintf(stderr, "%s\n", err ? err : strerror(-r));
                else
                        log_error("cannot load configuration: %s", err ? err : strerror(-r));
                free(err);
                return EXIT_CONFIG;
        }
        if (check_only) {
                /* warnings: what may be meant but likely is not (no runbook directory…) */
                if (cfg->warnings)
                        fprintf(stderr, "%s\n", cfg->warnings);
                if (cfg->n_warnings > 0)
                        printf("%s: configuration OK, %u warning%s\n", config_path, cfg->n_warnings,
                               cfg->n_warnings == 1 ? "" : "s");
                else
                        printf("%s: configuration OK\n", config_path);
                config_free(cfg);
                return 0;
        }
        for (const char *l = cfg->warnings, *nl; l && *l; l = nl ? nl + 1 : NULL) {
                nl = strchr(l, '\n');
                log_warning("%.*s", nl ? (int) (nl - l) : (int) strlen(l), l);
        }
        if (level_override >= 0)
                log_set_max_level(level_override);
        else
                log_set_max_level(cfg->log_level);

        cfg->reset_state = reset_state;
        r = agent_new(&a, cfg, level_override); /* takes cfg, also on failure */
        if (r < 0) {
                log_error_errno(r, "failed to start");
                /* a damaged state log (named in the error above) needs a human, not a restart */
                return r == -EUCLEAN ? EXIT_CONFIG : 1;
        }
        r = agent_register_verbs(a);
        if (r < 0) {
                log_error_errno(r, "cannot register the control verbs");
                agent_free(a);
                return 1;
        }
        r = agent_run(a);
        agent_free(a);
        return r < 0 ? 1 : 0;
}
