/* ikehealctl's runbook commands (ctl/engine_cmds.c): request builders for plan, pending,
 * approve, deny, run, measures, extend, revert, pause and resume; and the local `lint`
 * (ctl/lint.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vici_msg.h"

/* --reason TEXT, --config FILE (set by main's option parsing; NULL when absent). */
extern const char *ctl_opt_reason;
extern const char *ctl_opt_config;
extern bool ctl_opt_dry_run;
extern bool ctl_opt_wait; /* --wait: drill run, run, approve */

int build_plan(int argc, char **argv, vici_builder *b);
int build_runs(int argc, char **argv, vici_builder *b);
int build_approve(int argc, char **argv, vici_builder *b);
int build_deny(int argc, char **argv, vici_builder *b);
int build_run(int argc, char **argv, vici_builder *b);
int build_measures(int argc, char **argv, vici_builder *b);
int build_extend(int argc, char **argv, vici_builder *b);
int build_revert(int argc, char **argv, vici_builder *b);
int build_psk(int argc, char **argv, vici_builder *b);
int build_pause(int argc, char **argv, vici_builder *b);
/* `drill run NAME [--dry-run] | abort --reason TEXT` and `drill list | status | report [ID]` */
int build_drill(int argc, char **argv, vici_builder *b);
int build_drills(int argc, char **argv, vici_builder *b);
/* ctl/drain_cmds.c: `drain --for DURATION --reason TEXT`, `undrain` */
extern const char *ctl_opt_for;
int build_drain(int argc, char **argv, vici_builder *b);
int build_undrain(int argc, char **argv, vici_builder *b);
/* ctl/evidence_cmds.c: `evidence INCIDENT [--export DIR]`; the export after the list came back:
 * the exit status */
extern const char *ctl_opt_export;
int build_evidence(int argc, char **argv, vici_builder *b);
void render_evidence(FILE *f, const vici_node *body);
int ctl_evidence_export(const char *socket_path, const vici_node *list, uint64_t timeout_usec);
/* ctl/fleet_cmds.c: `fleet pause|resume|freeze`, `fleet status` */
int build_fleet(int argc, char **argv, vici_builder *b);
int build_fleet_status(int argc, char **argv, vici_builder *b);
int build_fleet_drills(int argc, char **argv, vici_builder *b);

/* `config diff [STATE_DIR]` (no agent): 0 unchanged, 1 changed or error, 2 usage. */
int ctl_config_diff(int argc, char **argv);
/* `lint FILE…` (no agent), runbooks and drills: exit status 0 clean, 1 errors, 2 usage. */
int ctl_lint(int argc, char **argv);

/* ctl/wait.c: follow drill or run `id` until it ends (--wait); the exit status: 0 passed or
 * succeeded, 1 otherwise. */
typedef enum ctl_wait_what {
        CTL_WAIT_DRILL,
        CTL_WAIT_RUN,
} ctl_wait_what;
int ctl_wait(const char *socket_path, ctl_wait_what what, const char *id, bool json, uint64_t timeout_usec);

/* `guard …` (ctl/guard_cmds.c), dispatched before the main option parser: its exit status, or
 * -1 when the command is not `guard`. */
int ctl_guard_main(int argc, char **argv);
void ctl_guard_usage(FILE *f);

/* ctl/render_engine.c */
void render_plan(FILE *f, const vici_node *body);
void render_pending(FILE *f, const vici_node *body);
void render_measures(FILE *f, const vici_node *body);
void render_result(FILE *f, const vici_node *body);
/* ctl/render_drill.c */
void render_drills(FILE *f, const vici_node *body);
