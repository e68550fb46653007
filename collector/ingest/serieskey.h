/* serieskey: a measurement's series identity, (point, labels), as the
 * writer's cache key and as the labels' JSON text. PostgreSQL's jsonb keeps
 * the last of duplicate keys and orders keys itself, so two label lists
 * that make one jsonb value are one series: the labels are put in one
 * canonical order here (by key bytes, the last of equal keys kept), and
 * equal series get equal cache keys. Pure: no I/O, no allocation of its own
 * beyond the copybuf it writes to. */
#ifndef SERIESKEY_H
#define SERIESKEY_H

#include <stddef.h>
#include <stdint.h>

#include "copybuf.h"
#include "fmwire.h"

/* Writes to out (room for n) the labels of in sorted by key bytes, with only
 * the last of labels with equal keys; returns how many were written. NULL
 * keys and values read as "". */
size_t serieskey_canon(Fm__Label *const *in, size_t n, const Fm__Label **out);

/* Resets c and writes the cache key of (point_id, labels) into it, then a
 * NUL-terminated JSON object of the labels (canonical order). Returns the
 * key's length; the JSON text starts at c->p + that length. n must not
 * exceed FMW_MAX_LABELS (the wire's limit; validation refuses more). */
size_t serieskey_build(struct copybuf *c, int64_t point_id, Fm__Label *const *labels, size_t n);

#endif
