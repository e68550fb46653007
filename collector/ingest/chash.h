/* chash: a map from byte-string keys to int64 values (open addressing,
 * linear probing). The DB writer threads keep device and point ids in it so
 * that a measurement costs no lookup in PostgreSQL. Not thread-safe: one map
 * per thread. Bounded: past max_entries the map empties itself (a cache). */
#ifndef CHASH_H
#define CHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct chash chash_t;

/* Returns a new map holding at most max_entries; free with chash_destroy. */
chash_t *chash_create(size_t max_entries);
void chash_destroy(chash_t *h);

/* Returns 1 and sets *value if key (len bytes) is present, else 0. */
int chash_get(const chash_t *h, const char *key, size_t len, int64_t *value);
/* Inserts or replaces; copies the key. */
void chash_put(chash_t *h, const char *key, size_t len, int64_t value);
void chash_clear(chash_t *h);
size_t chash_count(const chash_t *h);

#endif
