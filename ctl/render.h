/* Text rendering of agent responses for people: a dedicated layout per verb where one exists
 * (status, reload), and a generic indented tree for everything else. */
#pragma once

#include <stdio.h>

#include "vici_msg.h"

void render_status(FILE *f, const vici_node *body);
void render_reload(FILE *f, const vici_node *body);
/* "key: value" lines, sections indented, lists one item per line. */
void render_tree(FILE *f, const vici_node *body);
