/* A writer of Prometheus' text exposition format (version 0.0.4, what GET /metrics answers
 * with): metric families, each opened with its HELP and TYPE lines and followed by its
 * samples, written in the order the caller gives them, so the same state renders to the same
 * bytes. It checks what a scraper or `promtool check metrics` would refuse: metric and label
 * names, a counter's "_total" suffix, a family written twice, a sample outside its family,
 * duplicate or reserved label names; label values and HELP texts are escaped, label values that
 * are not UTF-8 have each bad byte replaced by '?'. Errors stick: the first one is returned by
 * every later call and by prom_text_finish(), so a renderer may check once at the end; a call
 * that fails writes nothing. This module does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "prom_hist.h"

typedef enum prom_type {
        PROM_COUNTER,
        PROM_GAUGE,
        PROM_HISTOGRAM,
} prom_type;

typedef struct prom_label {
        const char *name;
        const char *value;
} prom_label;

typedef struct prom_text prom_text;

/* The whole exposition may not grow past this (a renderer gone wrong must not eat memory). */
#define PROM_TEXT_MAX (64u * 1024u * 1024u)

int prom_text_new(prom_text **ret);
prom_text *prom_text_free(prom_text *p);
DEFINE_FREE_FUNC(prom_text, prom_text_free);

/* Opens a family: "# HELP name help" and "# TYPE name type". -EINVAL for a bad name (a
 * counter's must end in "_total"; a histogram's may not end in "_bucket", "_sum" or "_count"),
 * -EEXIST for a family already written. */
int prom_text_family(prom_text *p, const char *name, prom_type type, const char *help);
/* One sample of the open counter or gauge family: "name{labels} value". -EINVAL when no such
 * family is open, or for a bad or repeated label name. */
int prom_text_sample(prom_text *p, const prom_label *labels, size_t n_labels, double value);
/* One series of the open histogram family: its cumulative _bucket lines (label "le", the last
 * "+Inf"), _sum and _count. -EINVAL as prom_text_sample(), or for "le" among the labels. */
int prom_text_histogram(prom_text *p, const prom_label *labels, size_t n_labels, const prom_hist *h);
/* The exposition (malloc'ed, NUL-terminated) and its length; the writer is empty again. The
 * first error of any earlier call instead (the writer is then empty too). */
int prom_text_finish(prom_text *p, char **ret_text, size_t *ret_len);

/* Formats a sample value as the writer does: "NaN", "+Inf", "-Inf", integers without an
 * exponent, other values in the shortest form that reads back to the same double. */
void prom_text_format_value(double v, char *buf, size_t size);
/* Whether s is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or label name
 * ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", which Prometheus reserves). */
bool prom_text_metric_name_valid(const char *s);
bool prom_text_label_name_valid(const char *s);
