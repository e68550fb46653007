/* dbs_batch: the event part of dbs (see dbs.h for the exactly-once
 * rule). One transaction per call:
 *
 *   1. outside it, make sure a measurement partition exists for every day
 *      the batches touch (DDL in its own short transaction, so two
 *      collectors creating one partition only race on IF NOT EXISTS);
 *   2. BEGIN; lock each (agent, epoch) progress row and read committed_seq;
 *   3. turn every event above it into a COPY row of its table, resolving
 *      device, point and series ids from the cache (a miss inserts the
 *      device or point, for events about something the inventory did not
 *      list, and the series of a point and labels seen for the first time);
 *   4. COPY each table, update reachability and progress, COMMIT.
 *
 * Any failure rolls back everything, and the caller retries the same
 * batches, so the result of a call is all or nothing. */
#include "dbs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "serieskey.h"

/* Progress of one (agent, epoch) within a transaction. */
struct prog {
    const char *agent_id;
    uint64_t epoch;
    int64_t agent_key;
    uint64_t committed;
    uint64_t start; /* committed when the transaction began */
};

/* A reachability change to apply to devices.reachable. */
struct reach {
    int64_t device_id;
    int reachable;
    int64_t ts_ms;
};

struct txn {
    struct prog *progs;
    size_t nprogs;
    struct reach *reach;
    size_t nreach, capreach;
};

static const char *const copy_sql[] = {
    "COPY measurements (ts, series_id, quality, seq, value, raw, rate, text_value)"
    " FROM STDIN (FORMAT binary)",
    "COPY alarm_events (ts, device_id, code, point, labels, state, level, value, raw,"
    " limit_value, message, since, agent_key, epoch, seq) FROM STDIN",
    "COPY device_status (ts, device_id, reachable, reason, consecutive_failures, agent_key,"
    " epoch, seq) FROM STDIN",
    "COPY traps (ts, device_id, trap_oid, source, snmp_version, inform, varbinds, alarm_code,"
    " alarm_state, agent_key, epoch, seq) FROM STDIN",
    "COPY agent_status (ts, agent_key, spool_bytes, spool_events, spool_cap_bytes,"
    " events_per_s, polls_ok, polls_failed, reconnects, rss_bytes, dropped_events,"
    " traps_dropped, epoch, seq) FROM STDIN",
    "COPY spool_overflows (ts, agent_key, dropped, first_seq, last_seq, epoch, seq) FROM STDIN",
};

static int64_t day_of(int64_t ms)
{
    return ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
}

/* Step 1: partitions for every day with a measurement. */
static int ensure_partitions(struct dbs *s, const struct dbs_batch *b, size_t n)
{
    int64_t last = INT64_MIN;
    char key[32], day[32];

    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < b[i].batch->n_events; k++) {
            const Fm__Event *e = b[i].batch->events[k];
            int64_t d, dummy;
            int klen;

            if (e->kind_case != FM__EVENT__KIND_MEASUREMENT)
                continue;
            d = day_of(e->ts_ms);
            if (d == last)
                continue;
            last = d;
            klen = snprintf(key, sizeof(key), "D%" PRId64, d);
            if (chash_get(s->ids, key, (size_t)klen, &dummy))
                continue;
            snprintf(day, sizeof(day), "%" PRId64, d);
            const char *p[] = {day};
            PGresult *r =
                dbs__exec(s, "create measurement partition",
                          "SELECT fm_measurement_partition(date '1970-01-01' + $1::int)", 1, p);
            if (r == NULL)
                return dbs__fail(s);
            PQclear(r);
            chash_put(s->ids, key, (size_t)klen, d);
        }
    }
    return 0;
}

/* Step 2: lock and read the progress of each (agent, epoch). */
static int lock_progress(struct dbs *s, struct txn *t, const struct dbs_batch *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k;

        for (k = 0; k < t->nprogs; k++) {
            if (t->progs[k].epoch == b[i].batch->epoch &&
                strcmp(t->progs[k].agent_id, b[i].agent_id) == 0)
                break;
        }
        if (k < t->nprogs)
            continue;
        char epoch[24];
        snprintf(epoch, sizeof(epoch), "%" PRIu64, b[i].batch->epoch);
        const char *p[] = {b[i].agent_id, epoch};
        PGresult *r = dbs__exec(s, "lock progress",
                                "SELECT p.committed_seq, a.agent_key FROM agent_progress p"
                                " JOIN agents a USING (agent_id)"
                                " WHERE p.agent_id = $1 AND p.epoch = $2 FOR UPDATE OF p",
                                2, p);
        if (r == NULL)
            return dbs__fail(s);
        if (PQntuples(r) != 1) {
            PQclear(r);
            snprintf(s->why, sizeof(s->why), "lock progress: agent %s epoch %s has no Hello",
                     b[i].agent_id, epoch);
            s->verdict = PG_GIVE_UP; /* ours, not the server's: the batch is at fault */
            return -EIO;
        }
        struct prog *pr = &t->progs[t->nprogs++];
        pr->agent_id = b[i].agent_id;
        pr->epoch = b[i].batch->epoch;
        pr->committed = pr->start = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        pr->agent_key = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
    }
    return 0;
}

/* Cache key of a device (point == NULL) or point: a tag byte, the agent
 * key's bytes, then the device name with its length in front, so that no
 * device and point names run together into another pair's key. Built by
 * hand: it is made once per event, and snprintf was most of the writer's
 * CPU. Names are bounded by the wire contract (FMW_MAX_ID, FMW_MAX_NAME). */
#define ID_KEY_MAX (1 + sizeof(int64_t) + 2 + FMW_MAX_ID + FMW_MAX_NAME + 2)

static size_t id_key(char *key, int64_t agent_key, const char *device, const char *point)
{
    size_t dl = strnlen(device, FMW_MAX_ID), n = 0;

    key[n++] = point ? 'p' : 'd';
    memcpy(key + n, &agent_key, sizeof(agent_key));
    n += sizeof(agent_key);
    key[n++] = (char)dl;
    memcpy(key + n, device, dl);
    n += dl;
    if (point) {
        size_t pl = strnlen(point, FMW_MAX_NAME);

        memcpy(key + n, point, pl);
        n += pl;
    }
    return n;
}

/* Id of a device (point == NULL) or point of an agent, from the cache or
 * inserted. Returns 0 or a negative errno. */
static int resolve_id(struct dbs *s, const char *agent_id, int64_t agent_key, const char *device,
                      const char *point, int64_t *id)
{
    char key[ID_KEY_MAX];
    size_t klen = id_key(key, agent_key, device, point);
    PGresult *r;

    if (chash_get(s->ids, key, klen, id))
        return 0;
    if (point) {
        int64_t dev;
        int rc = resolve_id(s, agent_id, agent_key, device, NULL, &dev);
        char devtext[24];

        if (rc)
            return rc;
        snprintf(devtext, sizeof(devtext), "%" PRId64, dev);
        const char *p[] = {devtext, point};
        r = dbs__exec(s, "add point",
                      "INSERT INTO points (device_id, name) VALUES ($1, $2)"
                      " ON CONFLICT (device_id, name) DO UPDATE SET name = EXCLUDED.name"
                      " RETURNING point_id",
                      2, p);
    } else {
        const char *p[] = {agent_id, device};
        r = dbs__exec(s, "add device",
                      "INSERT INTO devices (agent_id, name, in_inventory) VALUES ($1, $2, false)"
                      " ON CONFLICT (agent_id, name) DO UPDATE SET name = EXCLUDED.name"
                      " RETURNING device_id",
                      2, p);
    }
    if (r == NULL)
        return dbs__fail(s);
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    chash_put(s->ids, key, klen, *id);
    return 0;
}

/* Id of the series (point, labels), from the cache or found or inserted.
 * Looked up before inserting, so that a series known to the database costs
 * no identity value; a series another collector inserted meanwhile is found
 * by the second look-up. Returns 0 or a negative errno. */
static int resolve_series(struct dbs *s, int64_t point_id, const Fm__Measurement *m, int64_t *id)
{
    static const char find[] =
        "SELECT series_id FROM series WHERE point_id = $1 AND labels = $2::jsonb";
    static const char add[] = "INSERT INTO series (point_id, labels) VALUES ($1, $2::jsonb)"
                              " ON CONFLICT (point_id, labels) DO NOTHING RETURNING series_id";
    static const char *const sql[] = {find, add, find};
    size_t klen = serieskey_build(&s->series_key, point_id, m->labels, m->n_labels);
    char pid[24];

    if (chash_get(s->ids, s->series_key.p, klen, id))
        return 0;
    snprintf(pid, sizeof(pid), "%" PRId64, point_id);
    const char *p[] = {pid, s->series_key.p + klen};
    for (size_t i = 0; i < 3; i++) {
        PGresult *r = dbs__exec(s, "add series", sql[i], 2, p);

        if (r == NULL)
            return dbs__fail(s);
        if (PQntuples(r) == 1) {
            *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            PQclear(r);
            chash_put(s->ids, s->series_key.p, klen, *id);
            return 0;
        }
        PQclear(r);
    }
    snprintf(s->why, sizeof(s->why), "add series: point %s labels %s: neither found nor inserted",
             pid, p[1]);
    s->verdict = PG_RETRY;
    return -EAGAIN;
}

static void labels_json(struct copybuf *c, Fm__Label *const *labels, size_t n)
{
    if (n == 0) {
        copybuf_null(c);
        return;
    }
    copybuf_raw(c, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            copybuf_raw(c, ",", 1);
        copybuf_json_str(c, labels[i]->key);
        copybuf_raw(c, ":", 1);
        copybuf_json_str(c, labels[i]->value);
    }
    copybuf_raw(c, "}", 1);
}

static const char *state_name(Fm__AlarmState st)
{
    return st == FM__ALARM_STATE__ALARM_STATE_RAISED    ? "raised"
           : st == FM__ALARM_STATE__ALARM_STATE_CLEARED ? "cleared"
                                                        : "unspecified";
}

static const char *level_name(Fm__AlarmLevel l)
{
    static const char *const names[] = {"unspecified", "warning", "critical", "state", "comm"};
    return (unsigned)l < 5 ? names[l] : "unspecified";
}

/* The (agent_key, epoch, seq) columns that end every event row. */
static void row_key(struct copybuf *c, const struct prog *p, uint64_t seq)
{
    copybuf_int(c, p->agent_key);
    copybuf_tab(c);
    copybuf_uint(c, p->epoch);
    copybuf_tab(c);
    copybuf_uint(c, seq);
    copybuf_eol(c);
}

/* Measurements go in binary COPY: they are most of the volume, and binary
 * spares formatting numbers and timestamps here and parsing them there.
 * The narrow row (schema 024): raw only when it differs from value (bit for
 * bit), text_value the text of a good value or the detail of a bad one. */
static void row_measurement(struct copybuf *c, const Fm__Event *e, int64_t series_id)
{
    const Fm__Measurement *m = e->measurement;
    int good = m->quality == FM__QUALITY__QUALITY_GOOD;

    if (c->len == 0)
        copybuf_bin_header(c);
    copybuf_bin_row(c, 8);
    copybuf_bin_ts_ms(c, e->ts_ms);
    copybuf_bin_i32(c, (int32_t)series_id);
    copybuf_bin_i16(c, (int16_t)m->quality);
    copybuf_bin_i64(c, (int64_t)e->seq);
    if (m->has_value) {
        copybuf_bin_f64(c, m->value);
        if (memcmp(&m->raw, &m->value, sizeof(m->raw)) != 0)
            copybuf_bin_f64(c, m->raw);
        else
            copybuf_bin_null(c);
    } else {
        copybuf_bin_null(c);
        copybuf_bin_null(c);
    }
    if (m->has_rate)
        copybuf_bin_f64(c, m->rate);
    else
        copybuf_bin_null(c);
    copybuf_bin_text(c, good ? m->text : m->quality_detail, 1);
}

static void row_alarm(struct copybuf *c, const Fm__Event *e, int64_t device_id)
{
    const Fm__AlarmTransition *a = e->alarm;

    copybuf_ts_ms(c, e->ts_ms);
    copybuf_tab(c);
    copybuf_int(c, device_id);
    copybuf_tab(c);
    copybuf_text(c, a->code);
    copybuf_tab(c);
    copybuf_text(c, a->point);
    copybuf_tab(c);
    labels_json(c, a->labels, a->n_labels);
    copybuf_tab(c);
    copybuf_text(c, state_name(a->state));
    copybuf_tab(c);
    copybuf_text(c, level_name(a->level));
    copybuf_tab(c);
    copybuf_double(c, a->value);
    copybuf_tab(c);
    copybuf_double(c, a->raw);
    copybuf_tab(c);
    copybuf_double(c, a->limit);
    copybuf_tab(c);
    copybuf_text(c, a->message);
    copybuf_tab(c);
    if (a->since_ms > 0)
        copybuf_ts_ms(c, a->since_ms);
    else
        copybuf_null(c);
    copybuf_tab(c);
}

static void row_reach(struct copybuf *c, const Fm__Event *e, int64_t device_id)
{
    copybuf_ts_ms(c, e->ts_ms);
    copybuf_tab(c);
    copybuf_int(c, device_id);
    copybuf_tab(c);
    copybuf_bool(c, e->reachability->reachable);
    copybuf_tab(c);
    copybuf_text(c, e->reachability->reason);
    copybuf_tab(c);
    copybuf_uint(c, e->reachability->consecutive_failures);
    copybuf_tab(c);
}

static void row_trap(struct copybuf *c, const Fm__Event *e, int64_t device_id)
{
    const Fm__Trap *t = e->trap;

    copybuf_ts_ms(c, e->ts_ms);
    copybuf_tab(c);
    copybuf_int(c, device_id);
    copybuf_tab(c);
    copybuf_text(c, t->trap_oid);
    copybuf_tab(c);
    copybuf_text(c, t->source);
    copybuf_tab(c);
    copybuf_uint(c, t->snmp_version);
    copybuf_tab(c);
    copybuf_bool(c, t->inform);
    copybuf_tab(c);
    copybuf_raw(c, "[", 1);
    for (size_t i = 0; i < t->n_varbinds; i++) {
        copybuf_raw(c, i ? ",{\"oid\":" : "{\"oid\":", i ? 8 : 7);
        copybuf_json_str(c, t->varbinds[i]->oid);
        copybuf_raw(c, ",\"type\":", 8);
        copybuf_json_str(c, t->varbinds[i]->type);
        copybuf_raw(c, ",\"value\":", 9);
        copybuf_json_str(c, t->varbinds[i]->value);
        copybuf_raw(c, "}", 1);
    }
    copybuf_raw(c, "]", 1);
    copybuf_tab(c);
    copybuf_text(c, t->alarm_code);
    copybuf_tab(c);
    copybuf_text(c, state_name(t->alarm_state));
    copybuf_tab(c);
}

static void row_status(struct copybuf *c, const Fm__Event *e, const struct prog *p)
{
    const Fm__AgentStatus *st = e->status;
    const uint64_t v[] = {st->spool_bytes, st->spool_events, st->spool_cap_bytes};
    const uint64_t w[] = {st->polls_ok,  st->polls_failed,   st->reconnects,
                          st->rss_bytes, st->dropped_events, st->traps_dropped};

    copybuf_ts_ms(c, e->ts_ms);
    copybuf_tab(c);
    copybuf_int(c, p->agent_key);
    copybuf_tab(c);
    for (size_t i = 0; i < 3; i++) {
        copybuf_uint(c, v[i]);
        copybuf_tab(c);
    }
    copybuf_double(c, st->events_per_s);
    copybuf_tab(c);
    for (size_t i = 0; i < 6; i++) {
        copybuf_uint(c, w[i]);
        copybuf_tab(c);
    }
    /* row_key would repeat agent_key: this table has it up front. */
    copybuf_uint(c, p->epoch);
    copybuf_tab(c);
    copybuf_uint(c, e->seq);
    copybuf_eol(c);
}

static void row_overflow(struct copybuf *c, const Fm__Event *e, const struct prog *p)
{
    copybuf_ts_ms(c, e->ts_ms);
    copybuf_tab(c);
    copybuf_int(c, p->agent_key);
    copybuf_tab(c);
    copybuf_uint(c, e->overflow->dropped);
    copybuf_tab(c);
    copybuf_uint(c, e->overflow->first_seq);
    copybuf_tab(c);
    copybuf_uint(c, e->overflow->last_seq);
    copybuf_tab(c);
    copybuf_uint(c, p->epoch);
    copybuf_tab(c);
    copybuf_uint(c, e->seq);
    copybuf_eol(c);
}

/* Step 3 for one event. */
static int add_event(struct dbs *s, struct txn *t, const char *agent_id, const struct prog *p,
                     const Fm__Event *e)
{
    const char *dev = e->device ? e->device : "";
    int64_t id;
    int rc;

    switch (e->kind_case) {
    case FM__EVENT__KIND_MEASUREMENT:
        rc = resolve_id(s, agent_id, p->agent_key, dev, e->measurement->point, &id);
        if (rc == 0)
            rc = resolve_series(s, id, e->measurement, &id);
        if (rc)
            return rc;
        row_measurement(&s->meas, e, id);
        return 0;
    case FM__EVENT__KIND_ALARM:
        if ((rc = resolve_id(s, agent_id, p->agent_key, dev, NULL, &id)) != 0)
            return rc;
        row_alarm(&s->alarms, e, id);
        row_key(&s->alarms, p, e->seq);
        return 0;
    case FM__EVENT__KIND_REACHABILITY:
        if ((rc = resolve_id(s, agent_id, p->agent_key, dev, NULL, &id)) != 0)
            return rc;
        row_reach(&s->status, e, id);
        row_key(&s->status, p, e->seq);
        if (t->nreach == t->capreach) {
            t->capreach = t->capreach ? 2 * t->capreach : 16;
            t->reach = fm_xrealloc(t->reach, t->capreach * sizeof(*t->reach));
        }
        t->reach[t->nreach++] = (struct reach){id, e->reachability->reachable, e->ts_ms};
        return 0;
    case FM__EVENT__KIND_TRAP:
        if ((rc = resolve_id(s, agent_id, p->agent_key, dev, NULL, &id)) != 0)
            return rc;
        row_trap(&s->traps, e, id);
        row_key(&s->traps, p, e->seq);
        return 0;
    case FM__EVENT__KIND_STATUS:
        row_status(&s->agent_status, e, p);
        return 0;
    case FM__EVENT__KIND_OVERFLOW:
        row_overflow(&s->overflows, e, p);
        return 0;
    default:
        return 0; /* validation refuses events without a kind */
    }
}

static int copy_table(struct dbs *s, const char *sql, const struct copybuf *c)
{
    PGresult *r;

    if (c->len == 0)
        return 0;
    r = PQexec(s->pg, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        dbs__set_error(s, "copy", r);
        PQclear(r);
        return dbs__fail(s);
    }
    PQclear(r);
    if (PQputCopyData(s->pg, c->p, (int)c->len) != 1 || PQputCopyEnd(s->pg, NULL) != 1) {
        dbs__set_error(s, "copy", NULL);
        return dbs__fail(s);
    }
    int rc = 0;
    while ((r = PQgetResult(s->pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            dbs__set_error(s, "copy", r);
            rc = -EIO;
        }
        PQclear(r);
    }
    return rc ? dbs__fail(s) : 0;
}

/* Step 4 after the COPYs: reachability and high-water marks. */
static int finish_txn(struct dbs *s, struct txn *t)
{
    char a[24], b[24], c[24];
    PGresult *r;

    for (size_t i = 0; i < t->nreach; i++) {
        snprintf(a, sizeof(a), "%" PRId64, t->reach[i].device_id);
        snprintf(b, sizeof(b), "%" PRId64, t->reach[i].ts_ms);
        const char *p[] = {a, t->reach[i].reachable ? "t" : "f", b};
        r = dbs__exec(s, "update reachability",
                      "UPDATE devices SET reachable = $2,"
                      " reachable_since = to_timestamp($3::bigint / 1000.0)"
                      " WHERE device_id = $1 AND reachable IS DISTINCT FROM $2",
                      3, p);
        if (r == NULL)
            return dbs__fail(s);
        PQclear(r);
    }
    for (size_t i = 0; i < t->nprogs; i++) {
        if (t->progs[i].committed == t->progs[i].start)
            continue;
        snprintf(a, sizeof(a), "%" PRIu64, t->progs[i].epoch);
        snprintf(c, sizeof(c), "%" PRIu64, t->progs[i].committed);
        const char *p[] = {t->progs[i].agent_id, a, c};
        r = dbs__exec(s, "update progress",
                      "UPDATE agent_progress SET committed_seq = $3, updated_at = now()"
                      " WHERE agent_id = $1 AND epoch = $2",
                      3, p);
        if (r == NULL)
            return dbs__fail(s);
        PQclear(r);
    }
    return pg_commit(s->pg, s->why, sizeof(s->why));
}

static struct prog *find_prog(struct txn *t, const struct dbs_batch *b)
{
    for (size_t k = 0; k < t->nprogs; k++) {
        if (t->progs[k].epoch == b->batch->epoch && strcmp(t->progs[k].agent_id, b->agent_id) == 0)
            return &t->progs[k];
    }
    return NULL;
}

static int write_txn(struct dbs *s, struct txn *t, struct dbs_batch *b, size_t n)
{
    int rc;

    if ((rc = pg_begin(s->pg, s->why, sizeof(s->why))) != 0)
        return rc;
    if ((rc = lock_progress(s, t, b, n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct prog *p = find_prog(t, &b[i]);

        b[i].applied = 0;
        for (size_t k = 0; k < b[i].batch->n_events; k++) {
            const Fm__Event *e = b[i].batch->events[k];

            if (e->seq <= p->committed)
                continue;
            if ((rc = add_event(s, t, b[i].agent_id, p, e)) != 0)
                return rc;
            b[i].applied++;
        }
        if (b[i].batch->n_events > 0) {
            uint64_t last = b[i].batch->events[b[i].batch->n_events - 1]->seq;
            if (last > p->committed)
                p->committed = last;
        }
    }
    if (s->meas.len > 0)
        copybuf_bin_trailer(&s->meas);
    struct copybuf *bufs[] = {&s->meas,  &s->alarms,       &s->status,
                              &s->traps, &s->agent_status, &s->overflows};
    for (size_t i = 0; i < 6; i++) {
        if ((rc = copy_table(s, copy_sql[i], bufs[i])) != 0)
            return rc;
    }
    if ((rc = finish_txn(s, t)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        b[i].committed_seq = find_prog(t, &b[i])->committed;
    return 0;
}

int dbs_write(struct dbs *s, struct dbs_batch *b, size_t n)
{
    struct txn t = {0};
    int rc;

    copybuf_reset(&s->meas);
    copybuf_reset(&s->alarms);
    copybuf_reset(&s->status);
    copybuf_reset(&s->traps);
    copybuf_reset(&s->agent_status);
    copybuf_reset(&s->overflows);
    rc = ensure_partitions(s, b, n);
    if (rc)
        return rc;
    t.progs = fm_xcalloc(n, sizeof(*t.progs));
    rc = write_txn(s, &t, b, n);
    if (rc) {
        pg_rollback(s->pg);
        /* Ids inserted by the rolled-back transaction do not exist. */
        chash_clear(s->ids);
    }
    free(t.progs);
    free(t.reach);
    return rc;
}
