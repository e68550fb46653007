/* Unit tests for fmw_arena: alignment, growth past a chunk, the byte count
 * the collector charges to a connection, and envelopes unpacked into an
 * arena reading and re-packing exactly as with protobuf-c's own allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmw_arena.h"
#include "fmwire.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "fmw_samples.h"

static void test_fmw_arena_allocations_are_aligned_and_distinct(void **state)
{
    (void)state;
    fmw_arena_t *a = fmw_arena_create(0);
    unsigned char *prev = NULL;

    for (size_t size = 1; size < 300; size += 7) {
        unsigned char *p = fmw_arena_alloc(a, size);

        assert_non_null(p);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, 0xa5, size); /* ASan checks the whole block is ours */
        if (prev)
            assert_true(p != prev);
        prev = p;
    }
    fmw_arena_destroy(a);
    fmw_arena_destroy(NULL);
}

static void test_fmw_arena_grows_for_blocks_larger_than_its_chunk(void **state)
{
    (void)state;
    fmw_arena_t *a = fmw_arena_create(64);
    size_t before = fmw_arena_bytes(a);
    unsigned char *big = fmw_arena_alloc(a, 1u << 20);

    memset(big, 1, 1u << 20);
    assert_true(fmw_arena_bytes(a) >= before + (1u << 20));
    /* Small blocks after the big one still come out whole. */
    for (int i = 0; i < 1000; i++)
        memset(fmw_arena_alloc(a, 100), 2, 100);
    assert_int_equal(big[0], 1);
    assert_int_equal(big[(1u << 20) - 1], 1);
    fmw_arena_destroy(a);
}

static void test_fmw_arena_counts_the_bytes_it_holds(void **state)
{
    (void)state;
    fmw_arena_t *a = fmw_arena_create(100000);
    size_t first = fmw_arena_bytes(a);

    assert_true(first >= 100000);
    assert_true(first < 100000 + 4096);
    for (int i = 0; i < 100; i++)
        fmw_arena_alloc(a, 500);
    /* 50,000 bytes fit the first chunk (one chunk per block under ASan). */
    assert_true(fmw_arena_bytes(a) >= first);
    for (int i = 0; i < 1000; i++)
        fmw_arena_alloc(a, 500);
    assert_true(fmw_arena_bytes(a) >= 100 * 500 + 1000 * 500);
    fmw_arena_destroy(a);
}

static void test_fmw_arena_unpacks_every_body_like_the_default_allocator(void **state)
{
    (void)state;
    static const Fm__Envelope__BodyCase bodies[] = {
        FM__ENVELOPE__BODY_HELLO,     FM__ENVELOPE__BODY_HELLO_ACK,
        FM__ENVELOPE__BODY_BATCH,     FM__ENVELOPE__BODY_ACK,
        FM__ENVELOPE__BODY_COMMAND,   FM__ENVELOPE__BODY_COMMAND_RESULT,
        FM__ENVELOPE__BODY_HEARTBEAT, FM__ENVELOPE__BODY_GOODBYE,
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct sample s;
        char why[160];

        sample_any(&s, bodies[i]);
        size_t len = fm__envelope__get_packed_size(&s.env);
        uint8_t *buf = malloc(len), *again = malloc(len);
        assert_int_equal(fm__envelope__pack(&s.env, buf), len);

        fmw_arena_t *a = fmw_arena_create(len);
        Fm__Envelope *out = NULL;
        assert_int_equal(fmw_envelope_unpack(buf, len, fmw_arena_allocator(a), &out), 0);
        assert_int_equal(out->body_case, bodies[i]);
        assert_int_equal(fmw_envelope_validate(out, NOW_MS, why, sizeof(why)), 0);
        assert_int_equal(fm__envelope__get_packed_size(out), len);
        assert_int_equal(fm__envelope__pack(out, again), len);
        assert_memory_equal(buf, again, len);
        /* The decoded envelope is larger than its encoding, and counted. */
        assert_true(fmw_arena_bytes(a) >= len);
        fmw_arena_destroy(a);
        free(buf);
        free(again);
    }
}

static void test_fmw_arena_survives_a_failed_unpack(void **state)
{
    (void)state;
    struct sample s;

    sample_any(&s, FM__ENVELOPE__BODY_BATCH);
    size_t len = fm__envelope__get_packed_size(&s.env);
    uint8_t *buf = malloc(len);
    assert_int_equal(fm__envelope__pack(&s.env, buf), len);
    /* Cut short: protobuf-c frees what it built through the arena's free,
     * which must be harmless; the arena then goes as a whole. Each cut
     * decodes, or fails, exactly as with the default allocator. */
    int failed = 0;
    for (size_t cut = 1; cut < len; cut++) {
        fmw_arena_t *a = fmw_arena_create(0);
        Fm__Envelope *out = NULL, *ref = NULL;
        int rc = fmw_envelope_unpack(buf, len - cut, fmw_arena_allocator(a), &out);

        assert_int_equal(rc, fmw_envelope_unpack(buf, len - cut, NULL, &ref));
        if (rc == 0) {
            size_t n = fm__envelope__get_packed_size(ref);
            uint8_t *x = malloc(n + 1), *y = malloc(n + 1);

            assert_int_equal(fm__envelope__get_packed_size(out), n);
            fm__envelope__pack(out, x);
            fm__envelope__pack(ref, y);
            assert_memory_equal(x, y, n);
            free(x);
            free(y);
            fmw_envelope_free(ref, NULL);
        } else {
            failed++;
        }
        fmw_arena_destroy(a);
    }
    assert_true(failed > 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmw_arena_allocations_are_aligned_and_distinct),
        cmocka_unit_test(test_fmw_arena_grows_for_blocks_larger_than_its_chunk),
        cmocka_unit_test(test_fmw_arena_counts_the_bytes_it_holds),
        cmocka_unit_test(test_fmw_arena_unpacks_every_body_like_the_default_allocator),
        cmocka_unit_test(test_fmw_arena_survives_a_failed_unpack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
