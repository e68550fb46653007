/* fmw_validate: envelope unpacking and contract checks.
 *
 * protobuf-c checks the encoding; this file checks the meaning. Everything a
 * peer sends passes here before any other code looks at it, so the rest of
 * the collector and agent may rely on: a body is present, identifiers are
 * short printable names, counts are under the limits in fmwire.h, numbers
 * are finite, timestamps are plausible and event sequences increase. */
#include "fmwire.h"
#include "fm_clock.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Field paths are built with snprintf into fixed buffers; a path cut short
 * only shortens an error message, so truncation is intended here.
 *
 * Paths matter only for the message of a failure, and formatting them for
 * every field of every event was most of the cost of validating a batch. So
 * a first pass runs without paths (vpath does nothing), and only an envelope
 * that fails is checked again with paths to say where. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* A validation pass: the first failure is written to why, later ones are
 * ignored (the first is the one worth reporting). */
struct vctx {
    char *why;
    size_t whylen;
    int64_t now_ms;
    int failed;
    int paths; /* build field paths (the second pass) */
};

__attribute__((format(printf, 4, 5))) static void vpath(const struct vctx *v, char *p, size_t len,
                                                        const char *fmt, ...)
{
    va_list ap;

    if (!v->paths) {
        p[0] = '\0';
        return;
    }
    va_start(ap, fmt);
    vsnprintf(p, len, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static int vfail(struct vctx *v, const char *path,
                                                       const char *fmt, ...)
{
    va_list ap;
    int n;

    if (v->failed++ || v->whylen == 0 || !v->paths)
        return FMW_EINVALID;
    n = snprintf(v->why, v->whylen, "%s: ", path);
    if (n >= 0 && (size_t)n < v->whylen) {
        va_start(ap, fmt);
        vsnprintf(v->why + n, v->whylen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return FMW_EINVALID;
}

/* Identifiers (agent, site, device names) are what operators type and what
 * file names and log lines are built from: printable ASCII without spaces,
 * quotes or slashes. */
static int is_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':' || c == '@';
}

static int check_id(struct vctx *v, const char *path, const char *s, int required)
{
    size_t n = s ? strnlen(s, FMW_MAX_ID + 1) : 0;

    if (n == 0)
        return required ? vfail(v, path, "is empty") : 0;
    if (n > FMW_MAX_ID)
        return vfail(v, path, "longer than %u bytes", FMW_MAX_ID);
    for (size_t i = 0; i < n; i++) {
        if (!is_id_char((unsigned char)s[i]))
            return vfail(v, path, "byte 0x%02x at offset %zu is not allowed in a name",
                         (unsigned char)s[i], i);
    }
    return 0;
}

/* Free text may hold anything but control characters other than tab. */
static int check_str(struct vctx *v, const char *path, const char *s, size_t max, int required)
{
    size_t n = s ? strnlen(s, max + 1) : 0;

    if (n == 0)
        return required ? vfail(v, path, "is empty") : 0;
    if (n > max)
        return vfail(v, path, "longer than %zu bytes", max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return vfail(v, path, "control byte 0x%02x at offset %zu", c, i);
    }
    return 0;
}

static int check_ts(struct vctx *v, const char *path, int64_t ts, int required)
{
    if (ts == 0 && !required)
        return 0;
    if (ts < FMW_MIN_TS_MS)
        return vfail(v, path, "%" PRId64 " ms is before 2000-01-01", ts);
    if (ts > v->now_ms + FMW_MAX_FUTURE_MS)
        return vfail(v, path, "%" PRId64 " ms is more than 24 h in the future", ts);
    return 0;
}

static int check_count(struct vctx *v, const char *path, size_t n, size_t max)
{
    if (n > max)
        return vfail(v, path, "%zu entries, at most %zu allowed", n, max);
    return 0;
}

static int check_finite(struct vctx *v, const char *path, double x)
{
    if (!isfinite(x))
        return vfail(v, path, "not a finite number");
    return 0;
}

static int check_labels(struct vctx *v, const char *path, Fm__Label **labels, size_t n)
{
    char p[96];

    if (check_count(v, path, n, FMW_MAX_LABELS))
        return FMW_EINVALID;
    for (size_t i = 0; i < n; i++) {
        vpath(v, p, sizeof(p), "%s[%zu]", path, i);
        if (check_str(v, p, labels[i]->key, FMW_MAX_NAME, 1) ||
            check_str(v, p, labels[i]->value, FMW_MAX_NAME, 0))
            return FMW_EINVALID;
    }
    return 0;
}

static int check_point(struct vctx *v, const char *path, const Fm__Point *pt)
{
    char p[128];

    vpath(v, p, sizeof(p), "%s.name", path);
    if (check_str(v, p, pt->name, FMW_MAX_NAME, 1))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.unit", path);
    if (check_str(v, p, pt->unit, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.enum_text", path);
    if (check_count(v, p, pt->n_enum_text, 256))
        return FMW_EINVALID;
    for (size_t i = 0; i < pt->n_enum_text; i++) {
        if (check_str(v, p, pt->enum_text[i], FMW_MAX_NAME, 1))
            return FMW_EINVALID;
    }
    return 0;
}

static int check_device(struct vctx *v, const char *path, const Fm__Device *dev)
{
    char p[128];

    vpath(v, p, sizeof(p), "%s.name", path);
    if (check_id(v, p, dev->name, 1))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.parent", path);
    if (check_id(v, p, dev->parent, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.address", path);
    if (check_str(v, p, dev->address, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.profile", path);
    if (check_str(v, p, dev->profile, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.tags", path);
    if (check_count(v, p, dev->n_tags, FMW_MAX_TAGS))
        return FMW_EINVALID;
    for (size_t i = 0; i < dev->n_tags; i++) {
        vpath(v, p, sizeof(p), "%s.tags[%zu]", path, i);
        if (check_str(v, p, dev->tags[i]->key, FMW_MAX_NAME, 1) ||
            check_str(v, p, dev->tags[i]->value, FMW_MAX_NAME, 0))
            return FMW_EINVALID;
    }
    vpath(v, p, sizeof(p), "%s.points", path);
    if (check_count(v, p, dev->n_points, FMW_MAX_POINTS))
        return FMW_EINVALID;
    for (size_t i = 0; i < dev->n_points; i++) {
        vpath(v, p, sizeof(p), "%s.points[%zu]", path, i);
        if (check_point(v, p, dev->points[i]))
            return FMW_EINVALID;
    }
    return 0;
}

static int check_hello(struct vctx *v, const Fm__Hello *h)
{
    char p[96];

    if (check_id(v, "hello.agent_id", h->agent_id, 1) ||
        check_id(v, "hello.site_id", h->site_id, 1) ||
        check_str(v, "hello.site_name", h->site_name, FMW_MAX_NAME, 0) ||
        check_str(v, "hello.software_version", h->software_version, FMW_MAX_ID, 0) ||
        check_ts(v, "hello.sent_at_ms", h->sent_at_ms, 0))
        return FMW_EINVALID;
    if (h->epoch == 0)
        return vfail(v, "hello.epoch", "must not be 0");
    if (h->config_digest.len != 0 && h->config_digest.len != FMW_DIGEST_LEN)
        return vfail(v, "hello.config_digest", "%zu bytes, want %u (SHA-256)", h->config_digest.len,
                     FMW_DIGEST_LEN);
    if (h->inventory == NULL)
        return 0;
    if (check_count(v, "hello.inventory.devices", h->inventory->n_devices, FMW_MAX_DEVICES))
        return FMW_EINVALID;
    for (size_t i = 0; i < h->inventory->n_devices; i++) {
        vpath(v, p, sizeof(p), "hello.inventory.devices[%zu]", i);
        if (check_device(v, p, h->inventory->devices[i]))
            return FMW_EINVALID;
    }
    return 0;
}

static int check_measurement(struct vctx *v, const char *path, const Fm__Measurement *m)
{
    char p[96];

    vpath(v, p, sizeof(p), "%s.point", path);
    if (check_str(v, p, m->point, FMW_MAX_NAME, 1))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.labels", path);
    if (check_labels(v, p, m->labels, m->n_labels))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.text", path);
    if (check_str(v, p, m->text, FMW_MAX_TEXT, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.quality_detail", path);
    if (check_str(v, p, m->quality_detail, FMW_MAX_TEXT, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.unit", path);
    if (check_str(v, p, m->unit, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    if (m->quality == FM__QUALITY__QUALITY_UNSPECIFIED) {
        vpath(v, p, sizeof(p), "%s.quality", path);
        return vfail(v, p, "is not set");
    }
    vpath(v, p, sizeof(p), "%s.value", path);
    if (m->has_value && (check_finite(v, p, m->value) || check_finite(v, p, m->raw)))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.rate", path);
    if (m->has_rate && check_finite(v, p, m->rate))
        return FMW_EINVALID;
    return 0;
}

static int check_alarm(struct vctx *v, const char *path, const Fm__AlarmTransition *a)
{
    char p[96];

    vpath(v, p, sizeof(p), "%s.code", path);
    if (check_str(v, p, a->code, FMW_MAX_NAME, 1))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.point", path);
    if (check_str(v, p, a->point, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.labels", path);
    if (check_labels(v, p, a->labels, a->n_labels))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.message", path);
    if (check_str(v, p, a->message, FMW_MAX_TEXT, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.state", path);
    if (a->state != FM__ALARM_STATE__ALARM_STATE_RAISED &&
        a->state != FM__ALARM_STATE__ALARM_STATE_CLEARED)
        return vfail(v, p, "must be raised or cleared");
    vpath(v, p, sizeof(p), "%s.value", path);
    if (check_finite(v, p, a->value) || check_finite(v, p, a->raw) || check_finite(v, p, a->limit))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.since_ms", path);
    return check_ts(v, p, a->since_ms, 0);
}

static int check_trap(struct vctx *v, const char *path, const Fm__Trap *t)
{
    char p[96];

    vpath(v, p, sizeof(p), "%s.trap_oid", path);
    if (check_str(v, p, t->trap_oid, FMW_MAX_OID, 1))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.source", path);
    if (check_str(v, p, t->source, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.alarm_code", path);
    if (check_str(v, p, t->alarm_code, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "%s.varbinds", path);
    if (check_count(v, p, t->n_varbinds, FMW_MAX_VARBINDS))
        return FMW_EINVALID;
    for (size_t i = 0; i < t->n_varbinds; i++) {
        vpath(v, p, sizeof(p), "%s.varbinds[%zu]", path, i);
        if (check_str(v, p, t->varbinds[i]->oid, FMW_MAX_OID, 1) ||
            check_str(v, p, t->varbinds[i]->type, FMW_MAX_NAME, 0) ||
            check_str(v, p, t->varbinds[i]->value, FMW_MAX_TEXT, 0))
            return FMW_EINVALID;
    }
    return 0;
}

static int check_event(struct vctx *v, size_t i, const Fm__Event *e)
{
    char p[64];

    vpath(v, p, sizeof(p), "batch.events[%zu].ts_ms", i);
    if (check_ts(v, p, e->ts_ms, 1))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "batch.events[%zu].device", i);
    if (check_id(v, p, e->device, 0))
        return FMW_EINVALID;
    vpath(v, p, sizeof(p), "batch.events[%zu]", i);
    switch (e->kind_case) {
    case FM__EVENT__KIND_MEASUREMENT:
        return check_measurement(v, p, e->measurement);
    case FM__EVENT__KIND_ALARM:
        return check_alarm(v, p, e->alarm);
    case FM__EVENT__KIND_REACHABILITY:
        return check_str(v, p, e->reachability->reason, FMW_MAX_TEXT, 0);
    case FM__EVENT__KIND_TRAP:
        return check_trap(v, p, e->trap);
    case FM__EVENT__KIND_STATUS:
        return 0;
    case FM__EVENT__KIND_OVERFLOW:
        if (e->overflow->first_seq > e->overflow->last_seq)
            return vfail(v, p, "overflow first_seq %" PRIu64 " after last_seq %" PRIu64,
                         e->overflow->first_seq, e->overflow->last_seq);
        return 0;
    default:
        return vfail(v, p, "event has no kind");
    }
}

static int check_batch(struct vctx *v, const Fm__EventBatch *b)
{
    uint64_t prev = 0;
    char p[64];

    if (b->epoch == 0)
        return vfail(v, "batch.epoch", "must not be 0");
    if (b->n_events == 0)
        return vfail(v, "batch.events", "batch holds no events");
    if (check_count(v, "batch.events", b->n_events, FMW_MAX_BATCH_EVENTS))
        return FMW_EINVALID;
    for (size_t i = 0; i < b->n_events; i++) {
        const Fm__Event *e = b->events[i];

        vpath(v, p, sizeof(p), "batch.events[%zu].seq", i);
        if (e->seq == 0)
            return vfail(v, p, "must not be 0");
        if (e->seq <= prev)
            return vfail(v, p, "%" PRIu64 " is not above %" PRIu64, e->seq, prev);
        prev = e->seq;
        if (check_event(v, i, e))
            return FMW_EINVALID;
    }
    return 0;
}

static int check_command(struct vctx *v, const Fm__Command *c)
{
    if (c->id == 0)
        return vfail(v, "command.id", "must not be 0");
    if (check_str(v, "command.actor", c->actor, FMW_MAX_NAME, 0))
        return FMW_EINVALID;
    switch (c->kind_case) {
    case FM__COMMAND__KIND_SET_CALIBRATION:
        if (check_id(v, "command.set_calibration.device", c->set_calibration->device, 1) ||
            check_str(v, "command.set_calibration.point", c->set_calibration->point, FMW_MAX_NAME,
                      1) ||
            check_str(v, "command.set_calibration.reason", c->set_calibration->reason, FMW_MAX_TEXT,
                      0) ||
            check_finite(v, "command.set_calibration.offset", c->set_calibration->offset) ||
            check_finite(v, "command.set_calibration.gain", c->set_calibration->gain))
            return FMW_EINVALID;
        return 0;
    case FM__COMMAND__KIND_POLL_NOW:
        return check_id(v, "command.poll_now.device", c->poll_now->device, 0);
    default:
        return vfail(v, "command", "command has no kind");
    }
}

static int validate_body(struct vctx *v, const Fm__Envelope *env)
{
    switch (env->body_case) {
    case FM__ENVELOPE__BODY_HELLO:
        return check_hello(v, env->hello);
    case FM__ENVELOPE__BODY_HELLO_ACK:
        if (env->hello_ack->epoch == 0)
            return vfail(v, "hello_ack.epoch", "must not be 0");
        return check_str(v, "hello_ack.collector_id", env->hello_ack->collector_id, FMW_MAX_ID, 0);
    case FM__ENVELOPE__BODY_BATCH:
        return check_batch(v, env->batch);
    case FM__ENVELOPE__BODY_ACK:
        if (env->ack->epoch == 0)
            return vfail(v, "ack.epoch", "must not be 0");
        return 0;
    case FM__ENVELOPE__BODY_COMMAND:
        return check_command(v, env->command);
    case FM__ENVELOPE__BODY_COMMAND_RESULT:
        if (env->command_result->id == 0)
            return vfail(v, "command_result.id", "must not be 0");
        return check_str(v, "command_result.error", env->command_result->error, FMW_MAX_TEXT, 0);
    case FM__ENVELOPE__BODY_HEARTBEAT:
        return check_ts(v, "heartbeat.sent_at_ms", env->heartbeat->sent_at_ms, 0);
    case FM__ENVELOPE__BODY_GOODBYE:
        return check_str(v, "goodbye.detail", env->goodbye->detail, FMW_MAX_TEXT, 0);
    default:
        return vfail(v, "envelope", "no body");
    }
}

int fmw_envelope_validate(const Fm__Envelope *env, int64_t now_ms, char *why, size_t whylen)
{
    struct vctx v = {.why = why, .whylen = whylen, .now_ms = now_ms};

    if (whylen > 0)
        why[0] = '\0';
    if (validate_body(&v, env) == 0)
        return 0;
    v.failed = 0;
    v.paths = 1;
    return validate_body(&v, env);
}

const char *fmw_envelope_kind(const Fm__Envelope *env)
{
    switch (env->body_case) {
    case FM__ENVELOPE__BODY_HELLO:
        return "hello";
    case FM__ENVELOPE__BODY_HELLO_ACK:
        return "hello_ack";
    case FM__ENVELOPE__BODY_BATCH:
        return "batch";
    case FM__ENVELOPE__BODY_ACK:
        return "ack";
    case FM__ENVELOPE__BODY_COMMAND:
        return "command";
    case FM__ENVELOPE__BODY_COMMAND_RESULT:
        return "command_result";
    case FM__ENVELOPE__BODY_HEARTBEAT:
        return "heartbeat";
    case FM__ENVELOPE__BODY_GOODBYE:
        return "goodbye";
    default:
        return "empty";
    }
}

void fmw_heartbeat_init(Fm__Envelope *env, Fm__Heartbeat *hb)
{
    fm__heartbeat__init(hb);
    hb->sent_at_ms = fm_clock_wall_ms();
    fm__envelope__init(env);
    env->body_case = FM__ENVELOPE__BODY_HEARTBEAT;
    env->heartbeat = hb;
}

int fmw_envelope_unpack(const uint8_t *payload, size_t len, ProtobufCAllocator *alloc,
                        Fm__Envelope **out)
{
    *out = fm__envelope__unpack(alloc, len, payload);
    return *out ? 0 : FMW_EDECODE;
}

void fmw_envelope_free(Fm__Envelope *env, ProtobufCAllocator *alloc)
{
    if (env != NULL)
        fm__envelope__free_unpacked(env, alloc);
}
