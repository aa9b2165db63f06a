/* A YAML document as a small immutable tree that remembers where every node came from, so
 * that every later error can name file:line:col. Built on libyaml's event parser with hard
 * limits (file size, depth, node count); anchors, aliases, tags and multiple documents are
 * refused: configuration and runbooks are plain data and must read the same to a human.
 *
 * Diagnostics are collected in a ydiag (all errors of a file at once, bounded), formatted as
 * "FILE:LINE:COL: message". This module does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define YTREE_FILE_MAX (1024u * 1024u)
#define YTREE_DEPTH_MAX 24u
#define YTREE_NODES_MAX 50000u
#define YDIAG_MAX 64u

typedef enum ynode_type {
        YNODE_SCALAR,
        YNODE_MAP,
        YNODE_SEQ,
} ynode_type;

typedef struct ynode ynode;
struct ynode {
        ynode_type type;
        unsigned line, col;  /* 1-based */
        char *value;         /* SCALAR: NUL-terminated */
        size_t len;
        bool plain;          /* SCALAR: unquoted (so "~"/"null"/"" may mean null) */
        ynode **items;       /* SEQ: items; MAP: key, value, key, value, … */
        size_t n_items;      /* SEQ: count; MAP: 2 × pairs */
};

typedef struct ydiag {
        char *file;
        char **msgs;
        size_t n_msgs;
        size_t n_dropped; /* errors past YDIAG_MAX */
} ydiag;

void ydiag_init(ydiag *d, const char *file);
void ydiag_done(ydiag *d);
void ydiag_add(ydiag *d, const ynode *at, const char *fmt, ...) _printf_(3, 4);
void ydiag_add_at(ydiag *d, unsigned line, unsigned col, const char *fmt, ...) _printf_(4, 5);
/* All messages joined by newlines (malloc'ed), or NULL if there are none. */
char *ydiag_join(const ydiag *d);

/* Input quoted in a message: at most size - 4 bytes of `s` (the rest cut, marked "..."), every
 * byte that is not printable ASCII as '?'. A message never carries a whole line of what it
 * read, nor a terminal escape. Every parse error that quotes input goes through this, usually
 * as YQ() (names, keys, values: YQUOTE_MAX) or YQ_PATH() (paths: YQUOTE_PATH_MAX); the buffer
 * of those lives until the end of the enclosing block. Returns buf. */
#define YQUOTE_MAX 32u
#define YQUOTE_PATH_MAX 128u
const char *yquote(const char *s, char *buf, size_t size);
#define YQ(s) yquote((s), (char[YQUOTE_MAX + 4]){ 0 }, YQUOTE_MAX + 4)
#define YQ_PATH(s) yquote((s), (char[YQUOTE_PATH_MAX + 4]){ 0 }, YQUOTE_PATH_MAX + 4)

/* Parse a whole file (or buffer). On a syntax error or a limit, returns -EINVAL/-E2BIG (or
 * -errno for I/O) with the reason in `d`; on success *ret is the root (NULL for an empty
 * document). Duplicate keys in a mapping are errors. ytree_parse_file() reads with
 * file_read_all() (common/file_read.h): a symlink, a FIFO or anything not a regular file is an
 * error at 1:1. */
int ytree_parse_file(const char *path, ydiag *d, ynode **ret);
int ytree_parse_buffer(const void *buf, size_t len, ydiag *d, ynode **ret);
ynode *ynode_free(ynode *n);
DEFINE_FREE_FUNC(ynode, ynode_free);

/* MAP lookup by key; NULL if absent or `map` is not a map. */
const ynode *ynode_get(const ynode *map, const char *key);
bool ynode_is_null(const ynode *n);
