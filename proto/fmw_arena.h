/* fmw_arena: a bump allocator to unpack envelopes into.
 *
 * protobuf-c allocates every message, string and repeated field of an
 * envelope separately: a batch of 1,000 measurements is several thousand
 * mallocs when it is unpacked and as many frees when it is done with.
 * Unpacked through an arena's allocator, each of them is a pointer bump, the
 * whole envelope goes with one fmw_arena_destroy, and fmw_arena_bytes says
 * exactly how much memory the decoded envelope holds (the collector charges
 * that to the connection).
 *
 * Memory comes from fm_xmalloc in chunks that double in size; nothing is
 * freed before fmw_arena_destroy, so an arena is for one envelope (or one
 * batch of work) whose parts all die together. One thread at a time. */
#ifndef FMW_ARENA_H
#define FMW_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct fmw_arena fmw_arena_t;

/* Returns a new arena whose first chunk holds at least hint bytes. */
fmw_arena_t *fmw_arena_create(size_t hint);

/* The allocator to hand protobuf-c (or fmw_envelope_unpack); its free does
 * nothing. Valid while the arena lives. */
ProtobufCAllocator *fmw_arena_allocator(fmw_arena_t *a);

/* Returns size bytes aligned for any type. Never NULL (aborts when out of
 * memory, as fm_xmalloc). */
void *fmw_arena_alloc(fmw_arena_t *a, size_t size);

/* Bytes the arena holds from the system: its chunks and itself. */
size_t fmw_arena_bytes(const fmw_arena_t *a);

/* Frees every chunk and the arena. NULL is a no-op. */
void fmw_arena_destroy(fmw_arena_t *a);

#endif
