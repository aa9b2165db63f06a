/* Text rendering of agent responses for people: a dedicated layout per verb where one exists
 * (status, reload), and a generic indented tree for everything else. */
#pragma once

#include <stdio.h>

#include "vici_msg.h"

void render_status(FILE *f, const vici_node *body);
void render_reload(FILE *f, const vici_node *body);
/* ctl/render_diag.c: checks, incidents and the diagnose triage report. */
void render_checks(FILE *f, const vici_node *body);
void render_incidents(FILE *f, const vici_node *body);
void render_diagnose(FILE *f, const vici_node *body);
void render_audit(FILE *f, const vici_node *body);
/* A value made safe for a terminal (control characters and bad UTF-8 shown as \xNN). */
void render_put_str(FILE *f, const char *s);
/* "key: value" lines, sections indented, lists one item per line. */
void render_tree(FILE *f, const vici_node *body);
