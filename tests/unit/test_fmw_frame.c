/* Unit tests for fmwire framing: packing, the incremental decoder, and the
 * round trip of every envelope body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmwire.h"

#include <stdlib.h>
#include <string.h>

#include "fmw_samples.h"

/* Packs env into a new frame; caller frees. */
static uint8_t *frame_of(const Fm__Envelope *env, size_t *len)
{
    size_t cap = fmw_frame_size(env);
    uint8_t *buf = malloc(cap);
    int64_t n = fmw_frame_pack(env, buf, cap, FMW_MAX_FRAME_DEFAULT);

    assert_true(n > 0);
    assert_int_equal((size_t)n, cap);
    *len = (size_t)n;
    return buf;
}

/* ------------------------------------------------------------ tests */

static const Fm__Envelope__BodyCase all_bodies[] = {
    FM__ENVELOPE__BODY_HELLO,     FM__ENVELOPE__BODY_HELLO_ACK,
    FM__ENVELOPE__BODY_BATCH,     FM__ENVELOPE__BODY_ACK,
    FM__ENVELOPE__BODY_COMMAND,   FM__ENVELOPE__BODY_COMMAND_RESULT,
    FM__ENVELOPE__BODY_HEARTBEAT, FM__ENVELOPE__BODY_GOODBYE,
};

static void test_fmw_round_trip_of_every_body_repacks_identically(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_bodies) / sizeof(all_bodies[0]); i++) {
        struct sample s;
        fmw_decoder_t *d = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
        const uint8_t *payload;
        size_t len, plen;
        Fm__Envelope *out;
        char why[160];

        sample_any(&s, all_bodies[i]);
        assert_int_equal(fmw_envelope_validate(&s.env, NOW_MS, why, sizeof(why)), 0);
        uint8_t *frame = frame_of(&s.env, &len);
        fmw_decoder_input(d, frame, len);
        assert_int_equal(fmw_decoder_next(d, &payload, &plen), 1);
        assert_int_equal(plen, len - FMW_LEN_PREFIX);
        assert_int_equal(fmw_envelope_unpack(payload, plen, NULL, &out), 0);
        assert_int_equal(out->body_case, all_bodies[i]);
        assert_int_equal(fmw_envelope_validate(out, NOW_MS, why, sizeof(why)), 0);
        /* Re-packing the decoded envelope gives the same bytes. */
        size_t len2;
        uint8_t *frame2 = frame_of(out, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(frame2, frame, len);
        assert_int_equal(fmw_decoder_next(d, &payload, &plen), 0);
        assert_int_equal(fmw_decoder_finish(d), 0);
        fmw_envelope_free(out, NULL);
        free(frame2);
        free(frame);
        fmw_decoder_destroy(d);
    }
}

static void test_fmw_round_trip_keeps_batch_field_values(void **state)
{
    struct sample s;
    size_t len;
    Fm__Envelope *out;

    (void)state;
    sample_batch(&s);
    uint8_t *frame = frame_of(&s.env, &len);
    assert_int_equal(fmw_envelope_unpack(frame + 4, len - 4, NULL, &out), 0);
    assert_int_equal(out->batch->n_events, 6);
    assert_int_equal(out->batch->events[0]->seq, 100);
    assert_string_equal(out->batch->events[0]->measurement->labels[0]->key, "line");
    assert_true(out->batch->events[0]->measurement->value == 229.5);
    assert_string_equal(out->batch->events[1]->alarm->code, "ups_on_battery");
    assert_int_equal(out->batch->events[2]->reachability->consecutive_failures, 3);
    assert_string_equal(out->batch->events[3]->trap->varbinds[0]->value, "180");
    assert_int_equal(out->batch->events[4]->status->polls_ok, 77);
    assert_int_equal(out->batch->events[5]->overflow->last_seq, 10);
    fmw_envelope_free(out, NULL);
    free(frame);
}

/* Three frames back to back, delivered split at every byte boundary into two
 * pieces, and also one byte at a time: every frame comes out whole. */
static void test_fmw_decoder_reassembles_frames_split_at_every_byte(void **state)
{
    struct sample a, b, c;
    size_t la, lb, lc;

    (void)state;
    sample_hello(&a);
    sample_batch(&b);
    sample_other(&c, FM__ENVELOPE__BODY_ACK);
    uint8_t *fa = frame_of(&a.env, &la), *fb = frame_of(&b.env, &lb), *fc = frame_of(&c.env, &lc);
    size_t total = la + lb + lc;
    uint8_t *stream = malloc(total);
    memcpy(stream, fa, la);
    memcpy(stream + la, fb, lb);
    memcpy(stream + la + lb, fc, lc);

    for (size_t cut = 0; cut <= total; cut++) {
        fmw_decoder_t *d = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
        const uint8_t *p;
        size_t n;
        int frames = 0;
        size_t lens[3] = {la - 4, lb - 4, lc - 4};
        const uint8_t *want[3] = {fa + 4, fb + 4, fc + 4};
        /* Copies make the pieces separate allocations, as socket reads are. */
        uint8_t *p1 = malloc(cut ? cut : 1), *p2 = malloc(total - cut ? total - cut : 1);
        memcpy(p1, stream, cut);
        memcpy(p2, stream + cut, total - cut);

        fmw_decoder_input(d, p1, cut);
        while (fmw_decoder_next(d, &p, &n) == 1) {
            assert_int_equal(n, lens[frames]);
            assert_memory_equal(p, want[frames], n);
            frames++;
        }
        fmw_decoder_input(d, p2, total - cut);
        int rc;
        while ((rc = fmw_decoder_next(d, &p, &n)) == 1) {
            assert_int_equal(n, lens[frames]);
            assert_memory_equal(p, want[frames], n);
            frames++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(frames, 3);
        assert_int_equal(fmw_decoder_finish(d), 0);
        fmw_decoder_destroy(d);
        free(p1);
        free(p2);
    }

    /* One byte per read. */
    fmw_decoder_t *d = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
    int frames = 0;
    for (size_t i = 0; i < total; i++) {
        const uint8_t *p;
        size_t n;
        uint8_t byte = stream[i];
        fmw_decoder_input(d, &byte, 1);
        while (fmw_decoder_next(d, &p, &n) == 1)
            frames++;
    }
    assert_int_equal(frames, 3);
    assert_int_equal(fmw_decoder_finish(d), 0);
    fmw_decoder_destroy(d);
    free(stream);
    free(fa);
    free(fb);
    free(fc);
}

static void test_fmw_decoder_returns_two_frames_from_one_read(void **state)
{
    struct sample a, b;
    size_t la, lb;
    const uint8_t *p;
    size_t n;

    (void)state;
    sample_other(&a, FM__ENVELOPE__BODY_HEARTBEAT);
    sample_other(&b, FM__ENVELOPE__BODY_GOODBYE);
    uint8_t *fa = frame_of(&a.env, &la), *fb = frame_of(&b.env, &lb);
    uint8_t *both = malloc(la + lb);
    memcpy(both, fa, la);
    memcpy(both + la, fb, lb);
    fmw_decoder_t *d = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
    fmw_decoder_input(d, both, la + lb);
    assert_int_equal(fmw_decoder_next(d, &p, &n), 1);
    /* In-place: the payload points into the caller's buffer, no copy. */
    assert_ptr_equal(p, both + 4);
    assert_int_equal(n, la - 4);
    assert_int_equal(fmw_decoder_next(d, &p, &n), 1);
    assert_ptr_equal(p, both + la + 4);
    assert_int_equal(fmw_decoder_next(d, &p, &n), 0);
    assert_int_equal(fmw_decoder_finish(d), 0);
    fmw_decoder_destroy(d);
    free(both);
    free(fa);
    free(fb);
}

/* Each kind of bad frame is rejected with its own error. */
static void test_fmw_decoder_rejects_bad_frames_with_distinct_errors(void **state)
{
    static const struct {
        const char *what;
        uint8_t bytes[12];
        size_t len;
        size_t max_frame;
        int next_rc;   /* from fmw_decoder_next */
        int finish_rc; /* from fmw_decoder_finish */
        int unpack_rc; /* from unpacking the payload, when next gave one */
    } cases[] = {
        /* zero length: a frame with nothing in it */
        {"zero", {0, 0, 0, 0}, 4, 1024, FMW_EZEROLEN, FMW_EZEROLEN, 0},
        /* declared length one over the maximum */
        {"oversize", {0, 0, 4, 1}, 4, 1024, FMW_ETOOBIG, FMW_ETOOBIG, 0},
        /* 4 GiB declared: over any maximum */
        {"huge", {0xff, 0xff, 0xff, 0xff}, 4, 1024, FMW_ETOOBIG, FMW_ETOOBIG, 0},
        /* stream ends inside the payload */
        {"truncated body", {0, 0, 0, 8, 0x0a, 0x02}, 6, 1024, 0, FMW_ETRUNC, 0},
        /* stream ends inside the length prefix */
        {"truncated prefix", {0, 0}, 2, 1024, 0, FMW_ETRUNC, 0},
        /* complete frame whose payload is not protobuf (field 0, wire type 7) */
        {"garbage", {0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff}, 8, 1024, 1, 0, FMW_EDECODE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fmw_decoder_t *d = fmw_decoder_create(cases[i].max_frame);
        const uint8_t *p;
        size_t n;
        Fm__Envelope *env = NULL;

        fmw_decoder_input(d, cases[i].bytes, cases[i].len);
        int rc = fmw_decoder_next(d, &p, &n);
        if (rc != cases[i].next_rc)
            fail_msg("%s: next returned %d, want %d", cases[i].what, rc, cases[i].next_rc);
        if (rc == 1) {
            assert_int_equal(fmw_envelope_unpack(p, n, NULL, &env), cases[i].unpack_rc);
            assert_null(env);
            assert_int_equal(fmw_decoder_next(d, &p, &n), 0);
        }
        if (rc < 0) /* a failed decoder stays failed */
            assert_int_equal(fmw_decoder_next(d, &p, &n), FMW_EFAILED);
        assert_int_equal(fmw_decoder_finish(d), cases[i].finish_rc);
        fmw_decoder_destroy(d);
    }
    /* The codes are distinct and each has its own message. */
    const int codes[] = {FMW_EZEROLEN, FMW_ETOOBIG, FMW_ETRUNC, FMW_EDECODE, FMW_EINVALID};
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = i + 1; j < 5; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(fmw_strerror(codes[i]), fmw_strerror(codes[j]));
        }
    }
}

static void test_fmw_decoder_accepts_frame_of_exactly_max_size(void **state)
{
    const size_t max = 70000;
    /* A heartbeat padded with an unknown length-delimited field (number 15)
     * so the payload is exactly `max` bytes: unknown fields are legal. */
    uint8_t *frame = calloc(1, max + 4);
    const uint8_t *p;
    size_t n;
    Fm__Envelope *env;

    (void)state;
    frame[0] = (uint8_t)(max >> 24);
    frame[1] = (uint8_t)(max >> 16);
    frame[2] = (uint8_t)(max >> 8);
    frame[3] = (uint8_t)max;
    /* tag (15 << 3 | 2) = 0x7a, then a 3-byte varint length */
    size_t body = max - 1 - 3;
    frame[4] = 0x7a;
    frame[5] = (uint8_t)(0x80 | (body & 0x7f));
    frame[6] = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
    frame[7] = (uint8_t)(body >> 14);

    fmw_decoder_t *d = fmw_decoder_create(max);
    /* Deliver in two pieces so the split-frame path handles the full size. */
    fmw_decoder_input(d, frame, 1000);
    assert_int_equal(fmw_decoder_next(d, &p, &n), 0);
    fmw_decoder_input(d, frame + 1000, max + 4 - 1000);
    assert_int_equal(fmw_decoder_next(d, &p, &n), 1);
    assert_int_equal(n, max);
    assert_int_equal(fmw_envelope_unpack(p, n, NULL, &env), 0);
    assert_int_equal(env->body_case, FM__ENVELOPE__BODY__NOT_SET);
    fmw_envelope_free(env, NULL);
    assert_int_equal(fmw_decoder_finish(d), 0);
    fmw_decoder_destroy(d);

    /* The same frame one byte over a smaller maximum is refused. */
    d = fmw_decoder_create(max - 1);
    fmw_decoder_input(d, frame, max + 4);
    assert_int_equal(fmw_decoder_next(d, &p, &n), FMW_ETOOBIG);
    fmw_decoder_destroy(d);
    free(frame);
}

static void test_fmw_frame_pack_refuses_small_buffer_and_oversize(void **state)
{
    struct sample s;
    uint8_t buf[16];

    (void)state;
    sample_hello(&s);
    assert_int_equal(fmw_frame_pack(&s.env, buf, sizeof(buf), FMW_MAX_FRAME_DEFAULT),
                     FMW_ENOSPC);
    size_t need = fmw_frame_size(&s.env);
    uint8_t *big = malloc(need);
    assert_int_equal(fmw_frame_pack(&s.env, big, need, need - 5), FMW_ETOOBIG);
    assert_int_equal(fmw_frame_pack(&s.env, big, need, need - 4), (int64_t)need);
    free(big);
}

static void test_fmw_decoder_create_rejects_bad_limits(void **state)
{
    (void)state;
    assert_null(fmw_decoder_create(0));
    assert_null(fmw_decoder_create(FMW_MAX_FRAME_LIMIT + 1));
    fmw_decoder_t *d = fmw_decoder_create(FMW_MAX_FRAME_LIMIT);
    assert_non_null(d);
    fmw_decoder_destroy(d);
    fmw_decoder_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmw_round_trip_of_every_body_repacks_identically),
        cmocka_unit_test(test_fmw_round_trip_keeps_batch_field_values),
        cmocka_unit_test(test_fmw_decoder_reassembles_frames_split_at_every_byte),
        cmocka_unit_test(test_fmw_decoder_returns_two_frames_from_one_read),
        cmocka_unit_test(test_fmw_decoder_rejects_bad_frames_with_distinct_errors),
        cmocka_unit_test(test_fmw_decoder_accepts_frame_of_exactly_max_size),
        cmocka_unit_test(test_fmw_frame_pack_refuses_small_buffer_and_oversize),
        cmocka_unit_test(test_fmw_decoder_create_rejects_bad_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
