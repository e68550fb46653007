/* chash: see chash.h. */
#include "chash.h"

#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"

struct slot {
    char *key; /* NULL: empty */
    size_t len;
    uint64_t hash;
    int64_t value;
};

struct chash {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t max_entries;
};

/* FNV-1a, 64 bit: short keys, no adversary (keys come from our own inventory). */
static uint64_t hash_bytes(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

chash_t *chash_create(size_t max_entries)
{
    chash_t *h = fm_xcalloc(1, sizeof(*h));

    h->cap = 1024;
    h->slots = fm_xcalloc(h->cap, sizeof(*h->slots));
    h->max_entries = max_entries;
    return h;
}

void chash_clear(chash_t *h)
{
    for (size_t i = 0; i < h->cap; i++)
        free(h->slots[i].key);
    memset(h->slots, 0, h->cap * sizeof(*h->slots));
    h->count = 0;
}

void chash_destroy(chash_t *h)
{
    if (h == NULL)
        return;
    chash_clear(h);
    free(h->slots);
    free(h);
}

static struct slot *find(const chash_t *h, const char *key, size_t len, uint64_t hash)
{
    size_t mask = h->cap - 1;

    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct slot *s = &h->slots[i];

        if (s->key == NULL)
            return s;
        if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

int chash_get(const chash_t *h, const char *key, size_t len, int64_t *value)
{
    struct slot *s = find(h, key, len, hash_bytes(key, len));

    if (s->key == NULL)
        return 0;
    *value = s->value;
    return 1;
}

static void grow(chash_t *h)
{
    struct slot *old = h->slots;
    size_t oldcap = h->cap;

    h->cap *= 2;
    h->slots = fm_xcalloc(h->cap, sizeof(*h->slots));
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key != NULL)
            *find(h, old[i].key, old[i].len, old[i].hash) = old[i];
    }
    free(old);
}

void chash_put(chash_t *h, const char *key, size_t len, int64_t value)
{
    uint64_t hash = hash_bytes(key, len);
    struct slot *s = find(h, key, len, hash);

    if (s->key != NULL) {
        s->value = value;
        return;
    }
    if (h->count >= h->max_entries) {
        chash_clear(h);
        s = find(h, key, len, hash);
    } else if ((h->count + 1) * 10 > h->cap * 7) {
        grow(h);
        s = find(h, key, len, hash);
    }
    s->key = fm_xmalloc(len + 1);
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    s->len = len;
    s->hash = hash;
    s->value = value;
    h->count++;
}

size_t chash_count(const chash_t *h)
{
    return h->count;
}
