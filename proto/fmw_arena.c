/* fmw_arena: see fmw_arena.h. */
#include "fmw_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "fm_alloc.h"

#define ARENA_MIN_CHUNK 4096u

/* Under AddressSanitizer every allocation gets a chunk of its own, so that
 * reading past the end of a decoded field still hits a redzone. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_OWN_CHUNKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_OWN_CHUNKS 1
#endif
#endif
#ifndef ARENA_OWN_CHUNKS
#define ARENA_OWN_CHUNKS 0
#endif
#define ARENA_ALIGN alignof(max_align_t)

struct chunk {
    struct chunk *prev;
    size_t size; /* usable bytes after the header */
    size_t used;
    alignas(max_align_t) unsigned char mem[];
};

struct fmw_arena {
    ProtobufCAllocator pc;
    struct chunk *top;
    size_t bytes;
};

static struct chunk *chunk_new(struct fmw_arena *a, size_t size)
{
    struct chunk *c = fm_xmalloc(sizeof(*c) + size);

    c->prev = a->top;
    c->size = size;
    c->used = 0;
    a->top = c;
    a->bytes += sizeof(*c) + size;
    return c;
}

void *fmw_arena_alloc(fmw_arena_t *a, size_t size)
{
    struct chunk *c = a->top;
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

    if (need < size)
        abort(); /* size near SIZE_MAX: no caller asks this */
    if (ARENA_OWN_CHUNKS) {
        c = chunk_new(a, size);
        c->used = size;
        return c->mem;
    }
    if (c->size - c->used < need) {
        size_t next = c->size * 2;

        c = chunk_new(a, next > need ? next : need);
    }
    void *p = c->mem + c->used;
    c->used += need;
    return p;
}

static void *pc_alloc(void *data, size_t size)
{
    return fmw_arena_alloc(data, size);
}

static void pc_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

fmw_arena_t *fmw_arena_create(size_t hint)
{
    struct fmw_arena *a = fm_xcalloc(1, sizeof(*a));

    a->pc.alloc = pc_alloc;
    a->pc.free = pc_free;
    a->pc.allocator_data = a;
    a->bytes = sizeof(*a);
    chunk_new(a, hint > ARENA_MIN_CHUNK ? hint : ARENA_MIN_CHUNK);
    return a;
}

ProtobufCAllocator *fmw_arena_allocator(fmw_arena_t *a)
{
    return &a->pc;
}

size_t fmw_arena_bytes(const fmw_arena_t *a)
{
    return a->bytes;
}

void fmw_arena_destroy(fmw_arena_t *a)
{
    if (a == NULL)
        return;
    for (struct chunk *c = a->top, *prev; c; c = prev) {
        prev = c->prev;
        free(c);
    }
    free(a);
}
