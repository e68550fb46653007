/* snmp_req: the requests of one device's poll and what their responses
 * become. See snmp_poll.h for the sequence; snmp_poll.c owns the loop side.
 *
 * net-snmp calls snmp__on_response from inside snmp_sess_read or
 * snmp_sess_timeout. The callback only records the outcome (events are
 * emitted right away, since the response PDU is freed when the callback
 * returns) and leaves d->action for the loop code, which sends the next
 * request after net-snmp has returned: no request is ever started from
 * inside net-snmp. */
#include "snmp_bulk.h"
#include "snmp_enc.h"
#include "snmp_poll_int.h"
#include "snmp_usm.h"
#include "snmp_value.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ events */

static uint64_t rate_key(size_t pt, const oid *suffix, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)pt;

    for (size_t i = 0; i < n; i++) {
        h ^= (uint64_t)suffix[i] + 0x9e3779b97f4a7c15ULL;
        h *= 1099511628211ULL;
    }
    return h == 0 ? 1 : h;
}

static struct snmp__rate *rate_slot(struct snmp__dev *d, uint64_t key)
{
    size_t mask, i;

    if (d->rate_used * 10 >= d->rate_cap * 7) {
        struct snmp__rate *old = d->rates;
        size_t oldcap = d->rate_cap;

        d->rate_cap = oldcap ? oldcap * 2 : 16;
        d->rates = fm_xcalloc(d->rate_cap, sizeof(*d->rates));
        d->rate_used = 0;
        for (size_t k = 0; k < oldcap; k++) {
            if (old[k].key != 0) {
                *rate_slot(d, old[k].key) = old[k];
                d->rate_used++;
            }
        }
        free(old);
    }
    mask = d->rate_cap - 1;
    for (i = key & mask; d->rates[i].key != 0 && d->rates[i].key != key; i = (i + 1) & mask)
        ;
    return &d->rates[i];
}

/* Computes the counter rate of a point (table row: suffix) from the value
 * of its previous poll. */
static void apply_rate(struct snmp__dev *d, size_t pt, const oid *suffix, size_t n,
                       const struct snmp_value *v, int64_t ts, Fm__Measurement *m)
{
    uint64_t key = rate_key(pt, suffix, n);
    struct snmp__rate *r = rate_slot(d, key);

    if (r->key == 0) {
        r->key = key;
        d->rate_used++;
    } else if (snmp_value_rate(r->last, v->counter, v->counter_bits,
                               (double)(ts - r->ts_ms) / 1000.0, &m->rate) == 0) {
        m->has_rate = true;
    }
    r->last = v->counter;
    r->ts_ms = ts;
}

static void emit_value(struct snmp__dev *d, size_t pt_idx, const oid *suffix, size_t n_suffix,
                       const struct snmp_value *v, int64_t ts)
{
    const struct point_cfg *pt = &d->prof->cfg->points[pt_idx];
    Fm__Event ev = FM__EVENT__INIT;
    Fm__Measurement m = FM__MEASUREMENT__INIT;
    Fm__Label lab = FM__LABEL__INIT;
    Fm__Label *labs[1] = {&lab};
    char index[OID_MAX_LEN * 11];

    ev.ts_ms = ts;
    ev.device = d->cfg->name;
    ev.kind_case = FM__EVENT__KIND_MEASUREMENT;
    ev.measurement = &m;
    m.point = pt->name;
    m.unit = pt->unit;
    m.quality = v->quality;
    m.quality_detail = (char *)(v->detail ? v->detail : "");
    m.has_value = v->has_value;
    m.value = v->value;
    m.raw = v->raw;
    m.text = (char *)v->text;
    if (pt->table && suffix != NULL) {
        oid_format(suffix, n_suffix, index, sizeof(index));
        lab.key = pt->index_label;
        lab.value = index;
        m.labels = labs;
        m.n_labels = 1;
    }
    if (pt->rate && v->has_value && v->counter_bits != 0)
        apply_rate(d, pt_idx, suffix, n_suffix, v, ts, &m);
    d->owner->stats.values++;
    event_sink_emit(d->owner->po.sink, &ev);
}

static void emit_quality(struct snmp__dev *d, size_t pt_idx, Fm__Quality q, const char *detail,
                         int64_t ts)
{
    struct snmp_value v;

    memset(&v, 0, sizeof(v));
    v.quality = q;
    v.detail = detail;
    emit_value(d, pt_idx, NULL, 0, &v, ts);
}

/* ------------------------------------------------------------ requests */

static int send_pdu(struct snmp__dev *d, netsnmp_pdu *pdu)
{
    if (snmp_sess_async_send(d->sessp, pdu, snmp__on_response, d) == 0) {
        int liberr, syserr;
        char *msg = NULL;

        snmp_sess_error(d->sessp, &syserr, &liberr, &msg);
        if (d->enc_err != NULL)
            snprintf(d->reason, sizeof(d->reason), "cannot encode the request: %s", d->enc_err);
        else
            snprintf(d->reason, sizeof(d->reason), "send failed: %s", msg ? msg : "unknown");
        d->enc_err = NULL;
        free(msg);
        snmp_free_pdu(pdu);
        return -EIO;
    }
    d->outstanding = true;
    d->owner->stats.requests++;
    return 1;
}

static bool skipped(const struct snmp__dev *d, size_t i)
{
    return d->skip != NULL && (d->skip[i / 8] & (1u << (i % 8))) != 0;
}

static void set_skip(struct snmp__dev *d, size_t i)
{
    if (d->skip == NULL)
        d->skip = fm_xcalloc(d->prof->n_scalars / 8 + 1, 1);
    d->skip[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Sends a request for the n_req OIDs in d->req. A v1/v2c session encodes
 * them itself when net-snmp builds the message (snmp__build); for v3 they
 * go into the PDU's variable list for net-snmp's encoder. */
static int send_req(struct snmp__dev *d, netsnmp_pdu *pdu)
{
    if (!snmp__encoded(d)) {
        for (size_t k = 0; k < d->n_req; k++)
            snmp_add_null_var(pdu, d->req[k]->v, d->req[k]->len);
    }
    return send_pdu(d, pdu);
}

static int send_get(struct snmp__dev *d)
{
    const struct snmp__prof *pr = d->prof;

    d->n_sent = 0;
    for (size_t i = d->get_next; i < pr->n_scalars && d->n_sent < d->chunk; i++) {
        if (skipped(d, i))
            continue;
        d->req[d->n_sent] = &pr->scalar_oid[i];
        d->sent[d->n_sent++] = (uint16_t)i;
    }
    d->n_req = d->n_sent;
    return send_req(d, snmp_pdu_create(SNMP_MSG_GET));
}

static struct snmp__walk *walk_begin(struct snmp__dev *d)
{
    const struct snmp__prof *pr = d->prof;
    struct snmp__walk *w = fm_xcalloc(1, sizeof(*w) + pr->n_columns * sizeof(w->cols[0]));

    w->sent = fm_xcalloc(pr->n_columns, sizeof(*w->sent));
    for (size_t c = 0; c < pr->n_columns; c++)
        w->cols[c].cursor = pr->column_oid[c];
    return w;
}

/* The walk's next request is a GETBULK (else a GETNEXT). */
static bool walk_bulk(const struct snmp__dev *d)
{
    return !d->getnext && !d->walk->trial;
}

static int send_walk(struct snmp__dev *d)
{
    struct snmp__walk *w = d->walk;
    bool bulk = walk_bulk(d);
    netsnmp_pdu *pdu;

    w->n_sent = 0;
    for (size_t c = 0; c < d->prof->n_columns && w->n_sent < d->chunk; c++) {
        if (!w->cols[c].done)
            w->sent[w->n_sent++] = (uint16_t)c;
    }
    if (w->n_sent == 0)
        return 0;
    pdu = snmp_pdu_create(bulk ? SNMP_MSG_GETBULK : SNMP_MSG_GETNEXT);
    if (bulk) {
        pdu->non_repeaters = 0;
        pdu->max_repetitions = (long)d->max_rep;
    }
    for (size_t k = 0; k < w->n_sent; k++)
        d->req[k] = &w->cols[w->sent[k]].cursor;
    d->n_req = w->n_sent;
    return send_req(d, pdu);
}

void snmp__begin(struct snmp__dev *d)
{
    /* A v3 device whose last poll failed is discovered again: the probe
     * tells a live device that refuses the credentials from a dead one
     * (v3_silent), and picks up an engine id that changed. */
    d->step = d->engine_known && !(d->cfg->snmp.version == SNMP_VERSION_CFG_3 &&
                                   d->cycles_done > 0 && d->health.last_failed)
                  ? STEP_GET
                  : STEP_PROBE;
    d->discovered = false;
    d->rediscovered = false;
    d->get_next = 0;
    d->answered = false;
    d->action = ACT_NONE;
    d->reason[0] = '\0';
    snmp__adapt_begin(d);
    if (d->skip != NULL)
        memset(d->skip, 0, d->prof->n_scalars / 8 + 1);
}

void snmp__end(struct snmp__dev *d)
{
    if (d->walk != NULL) {
        free(d->walk->sent);
        free(d->walk);
        d->walk = NULL;
    }
}

int snmp__send_next(struct snmp__dev *d)
{
    const struct snmp__prof *pr = d->prof;

    d->action = ACT_NONE;
    if (d->step == STEP_PROBE) {
        /* net-snmp probes synchronously inside the send unless told not to
         * (and may clear the flag after a failed discovery), which would
         * block the loop for a dead device's whole timeout. */
        snmp_sess_session(d->sessp)->flags |= SNMP_FLAGS_DONT_PROBE;
        return send_pdu(d, snmp_target_probe_pdu());
    }
    if (d->step == STEP_GET) {
        while (d->get_next < pr->n_scalars && skipped(d, d->get_next))
            d->get_next++;
        if (d->get_next < pr->n_scalars)
            return send_get(d);
        d->step = STEP_WALK;
        if (pr->n_columns > 0 && d->walk == NULL)
            d->walk = walk_begin(d);
    }
    if (d->step == STEP_WALK && d->walk != NULL) {
        int rc = send_walk(d);

        if (rc != 0)
            return rc;
    }
    d->step = STEP_DONE;
    return 0;
}

int snmp__build(netsnmp_session *s, netsnmp_pdu *pdu, u_char **buf, size_t *buf_len, size_t *len)
{
    struct snmp__dev *d = s->myvoid;
    struct snmp_enc_req r = {
        .version = pdu->version,
        .community = s->community,
        .community_len = s->community_len,
        .command = (uint8_t)pdu->command,
        .reqid = pdu->reqid,
        .oids = d->req,
        .n_oids = d->n_req,
    };
    int n;

    if (pdu->command == SNMP_MSG_GETBULK) {
        r.field1 = pdu->non_repeaters;
        r.field2 = pdu->max_repetitions;
    }
    while ((n = snmp_enc_request(&r, *buf, *buf_len)) == -ENOSPC && *buf_len < 65536) {
        u_char *bigger = realloc(*buf, *buf_len * 2);

        if (bigger == NULL)
            return -1;
        *buf = bigger;
        *buf_len *= 2;
    }
    if (n < 0) {
        d->enc_err = n == -ENOSPC ? "larger than 64 KB" : "an OID BER cannot encode";
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

/* ------------------------------------------------------------ responses */

/* A v3 device that authenticated the request but whose access rules (VACM)
 * refuse the user at this security level fails the poll: every point would
 * otherwise be a device error. True when pdu is that refusal. */
static bool v3_denied(struct snmp__dev *d, const netsnmp_pdu *pdu)
{
    static const char *const levels[] = {"noAuthNoPriv", "authNoPriv", "authPriv"};
    const struct snmp_dev_cfg *c = &d->cfg->snmp;
    int level = c->auth_protocol == SNMP_AUTH_NONE ? 0 : c->priv_protocol == SNMP_PRIV_NONE ? 1 : 2;

    if (pdu->errstat != SNMP_ERR_AUTHORIZATIONERROR || c->version != SNMP_VERSION_CFG_3)
        return false;
    snprintf(d->reason, sizeof(d->reason),
             "SNMPv3: authorizationError: the device's access rules refuse user '%s' at %s",
             c->user, levels[level]);
    d->action = ACT_FAIL;
    return true;
}

static void on_get(struct snmp__dev *d, netsnmp_pdu *pdu, int64_t ts)
{
    const struct snmp__prof *pr = d->prof;
    netsnmp_variable_list *vb = pdu->variables;
    struct snmp_value v;

    if (v3_denied(d, pdu))
        return;
    if (pdu->errstat == SNMP_ERR_TOOBIG) {
        d->owner->stats.toobig++;
        if (d->n_sent > 1) {
            snmp__adapt_lower(d, false, (unsigned)d->n_sent / 2, "tooBig");
        } else {
            emit_quality(d, pr->scalar_pt[d->sent[0]], FM__QUALITY__QUALITY_DEVICE_ERROR, "tooBig",
                         ts);
            set_skip(d, d->sent[0]);
        }
        return;
    }
    if (pdu->errstat != SNMP_ERR_NOERROR) {
        /* SNMPv1 (and broken v2 agents) fail a whole request for one bad
         * OID: report that point and ask again for the others. */
        long ix = pdu->errindex;
        Fm__Quality q = pdu->errstat == SNMP_ERR_NOSUCHNAME ? FM__QUALITY__QUALITY_NO_SUCH_OBJECT
                                                            : FM__QUALITY__QUALITY_DEVICE_ERROR;

        if (ix >= 1 && (size_t)ix <= d->n_sent) {
            emit_quality(d, pr->scalar_pt[d->sent[ix - 1]], q, snmp_errstring(pdu->errstat), ts);
            set_skip(d, d->sent[ix - 1]);
            return;
        }
        for (size_t k = 0; k < d->n_sent; k++)
            emit_quality(d, pr->scalar_pt[d->sent[k]], q, snmp_errstring(pdu->errstat), ts);
        d->get_next = d->sent[d->n_sent - 1] + 1u;
        return;
    }
    for (size_t k = 0; k < d->n_sent; k++) {
        size_t si = d->sent[k];
        size_t pt = pr->scalar_pt[si];

        if (vb == NULL) {
            emit_quality(d, pt, FM__QUALITY__QUALITY_DECODE_ERROR, "missing in the response", ts);
            continue;
        }
        if (snmp_oid_compare(vb->name, vb->name_length, pr->scalar_oid[si].v,
                             pr->scalar_oid[si].len) != 0) {
            emit_quality(d, pt, FM__QUALITY__QUALITY_DECODE_ERROR,
                         "response OID differs from the request", ts);
        } else {
            snmp_value_decode(&pr->cfg->points[pt], vb->type, vb->val.string, vb->val_len, &v);
            emit_value(d, pt, NULL, 0, &v, ts);
        }
        vb = vb->next_variable;
    }
    d->get_next = d->sent[d->n_sent - 1] + 1u;
}

static void on_walk_error(struct snmp__dev *d, netsnmp_pdu *pdu)
{
    struct snmp__walk *w = d->walk;
    long ix = pdu->errindex;

    if (pdu->errstat == SNMP_ERR_TOOBIG) {
        d->owner->stats.toobig++;
        if (d->max_rep > 1 && walk_bulk(d)) {
            snmp__adapt_lower(d, true, d->max_rep / 2, "tooBig");
            return;
        }
        if (w->n_sent > 1) {
            snmp__adapt_lower(d, false, (unsigned)w->n_sent / 2, "tooBig");
            return;
        }
        /* Not even one row of one column fits: like a scalar that is too
         * big, the point is bad, not the device. */
        emit_quality(d, d->prof->column_pt[w->sent[0]], FM__QUALITY__QUALITY_DEVICE_ERROR, "tooBig",
                     fm_clock_wall_ms());
        w->cols[w->sent[0]].done = true;
        return;
    }
    /* SNMPv1 GETNEXT past the end of the MIB answers noSuchName: that
     * column is finished. Any other error ends the columns it names. */
    if (ix >= 1 && (size_t)ix <= w->n_sent) {
        w->cols[w->sent[ix - 1]].done = true;
        return;
    }
    for (size_t k = 0; k < w->n_sent; k++)
        w->cols[w->sent[k]].done = true;
    if (pdu->errstat != SNMP_ERR_NOSUCHNAME)
        FM_WARN("snmp: %s: table walk: %s", d->cfg->name, snmp_errstring(pdu->errstat));
}

#define BULK_CHECK_MAX 512

/* From now on d walks its tables with GETNEXT (see snmp_bulk.h): logged
 * once per device, with the reason. */
static void bulk_fallback(struct snmp__dev *d, const char *why)
{
    if (d->getnext)
        return;
    d->getnext = true;
    d->owner->stats.bulk_fallbacks++;
    FM_NOTICE("snmp: %s: %s: walking with GETNEXT", d->cfg->name, why);
}

/* Checks a GETBULK answer; returns how many of its varbinds to use, and
 * switches d to GETNEXT when the answer is wrong. */
static size_t bulk_usable(struct snmp__dev *d, netsnmp_pdu *pdu)
{
    struct snmp__walk *w = d->walk;
    /* The first BULK_CHECK_MAX varbinds are checked (an answer of more is
     * not short); past them, on_walk's own check still stops a column
     * that does not move forward. */
    struct snmp_bulk_vb vbs[BULK_CHECK_MAX];
    struct snmp_bulk_result r;
    size_t n = 0, total = 0;
    char why[2 * OID_MAX_LEN * 11 + 64];

    for (netsnmp_variable_list *vb = pdu->variables; vb; vb = vb->next_variable, total++) {
        if (n == BULK_CHECK_MAX)
            continue;
        vbs[n].name = vb->name;
        vbs[n].len = vb->name_length;
        vbs[n].val_len = vb->val_len;
        vbs[n++].end = vb->type == SNMP_ENDOFMIBVIEW || vb->type == SNMP_NOSUCHOBJECT ||
                       vb->type == SNMP_NOSUCHINSTANCE;
    }
    if (snmp_bulk_check(d->req, w->n_sent, d->max_rep, vbs, n, &r) == SNMP_BULK_OK)
        return total;
    snmp_bulk_why(&r, vbs, why, sizeof(why));
    bulk_fallback(d, why);
    return r.verdict == SNMP_BULK_LOOP ? r.at : total;
}

/* A GETBULK refused with an error a GETNEXT of the same names might not
 * get: anything but tooBig, or tooBig when the request cannot get smaller.
 * The names are asked again with GETNEXT; if that works, the device walks
 * with GETNEXT from then on, else the error is the columns' (on_walk_error). */
static bool bulk_try_getnext(struct snmp__dev *d, netsnmp_pdu *pdu)
{
    struct snmp__walk *w = d->walk;

    if (!walk_bulk(d) || (pdu->errstat == SNMP_ERR_TOOBIG && (d->max_rep > 1 || w->n_sent > 1)))
        return false;
    w->trial = true;
    w->trial_err = pdu->errstat;
    return true;
}

static void on_walk(struct snmp__dev *d, netsnmp_pdu *pdu, int64_t ts)
{
    const struct snmp__prof *pr = d->prof;
    struct snmp__walk *w = d->walk;
    struct snmp_value v;
    size_t k = 0, use;

    if (v3_denied(d, pdu))
        return;
    if (pdu->errstat != SNMP_ERR_NOERROR) {
        if (bulk_try_getnext(d, pdu))
            return;
        on_walk_error(d, pdu); /* a trial GETNEXT's error: as for GETNEXT */
        w->trial = false;
        return;
    }
    if (w->trial) {
        char why[96], num[32];

        snprintf(why, sizeof(why), "GETBULK answers %s where GETNEXT does not",
                 snmp_bulk_err_name(w->trial_err, num, sizeof(num)));
        w->trial = false;
        bulk_fallback(d, why);
    }
    if (walk_bulk(d)) {
        use = bulk_usable(d, pdu);
    } else if (pdu->variables == NULL) {
        /* A GETNEXT answer without varbinds would be asked again forever. */
        FM_WARN("snmp: %s: table walk: answer without varbinds; %zu column%s stopped", d->cfg->name,
                w->n_sent, w->n_sent == 1 ? "" : "s");
        for (size_t c = 0; c < w->n_sent; c++)
            w->cols[w->sent[c]].done = true;
        return;
    } else {
        use = w->n_sent; /* GETNEXT: one varbind per name; more are ignored */
    }
    for (netsnmp_variable_list *vb = pdu->variables; vb && k < use; vb = vb->next_variable, k++) {
        size_t c = w->sent[k % w->n_sent];
        struct snmp__col *col = &w->cols[c];
        const oid_t *base = &pr->column_oid[c];

        if (col->done)
            continue;
        if (vb->type == SNMP_ENDOFMIBVIEW || vb->type == SNMP_NOSUCHOBJECT ||
            vb->type == SNMP_NOSUCHINSTANCE ||
            !oid_in_subtree(base->v, base->len, vb->name, vb->name_length) ||
            vb->name_length > OID_MAX_LEN) {
            col->done = true;
            continue;
        }
        /* An agent that does not move forward would loop us forever. */
        if (snmp_oid_compare(vb->name, vb->name_length, col->cursor.v, col->cursor.len) <= 0 ||
            ++col->rows > (uint32_t)d->cfg->snmp.max_rows) {
            FM_WARN("snmp: %s: table walk of %s stopped: %s", d->cfg->name,
                    pr->cfg->points[pr->column_pt[c]].name,
                    col->rows > (uint32_t)d->cfg->snmp.max_rows ? "more than max_rows rows"
                                                                : "OIDs not increasing");
            col->done = true;
            continue;
        }
        snmp_value_decode(&pr->cfg->points[pr->column_pt[c]], vb->type, vb->val.string, vb->val_len,
                          &v);
        emit_value(d, pr->column_pt[c], vb->name + base->len, vb->name_length - base->len, &v, ts);
        memcpy(col->cursor.v, vb->name, vb->name_length * sizeof(oid));
        col->cursor.len = vb->name_length;
    }
}

/* A v3 device that answered this poll's engine id discovery but none of
 * its authenticated requests: most devices (net-snmp's snmpd among them)
 * drop a request they cannot decrypt without a Report. */
static void v3_silent(struct snmp__dev *d)
{
    const struct snmp_dev_cfg *c = &d->cfg->snmp;
    bool priv = c->priv_protocol != SNMP_PRIV_NONE;

    snprintf(d->reason, sizeof(d->reason),
             "SNMPv3: no answer to %s requests after %d tries, though the device answered "
             "engine id discovery: wrong %s_passphrase or %s_protocol (%s)?",
             priv ? "encrypted" : "authenticated", (int)c->retries + 1, priv ? "priv" : "auth",
             priv ? "priv" : "auth",
             priv ? snmp_usm_priv_names[c->priv_protocol] : snmp_usm_auth_names[c->auth_protocol]);
}

static void on_timeout(struct snmp__dev *d)
{
    /* Some devices (or firewalls in front of them) answer small requests
     * but lose large GETBULK answers: resend the walk step with half the
     * repetitions, down to one, if the device is known to be alive (it
     * answered in this poll, or its last poll was good). A walk that times
     * out with one repetition fails the poll; snmp_adapt then forgets what
     * this poll lowered. */
    bool alive = d->answered || (d->cycles_done > 0 && !d->health.last_failed);

    if (d->step == STEP_WALK && alive && d->max_rep > 1 && walk_bulk(d)) {
        snmp__adapt_lower(d, true, d->max_rep / 2, "walk request timed out");
        d->action = ACT_NEXT;
        return;
    }
    if (d->discovered && !d->answered && d->step != STEP_PROBE &&
        d->cfg->snmp.auth_protocol != SNMP_AUTH_NONE)
        v3_silent(d);
    else if (d->step == STEP_WALK && walk_bulk(d))
        snprintf(d->reason, sizeof(d->reason),
                 "table walk: timeout after %d tries with max-repetitions %u",
                 (int)d->cfg->snmp.retries + 1, d->max_rep);
    else
        snprintf(d->reason, sizeof(d->reason), "%s: timeout after %d tries",
                 d->step == STEP_PROBE ? "engine id discovery" : "request",
                 (int)d->cfg->snmp.retries + 1);
    d->action = ACT_FAIL;
}

/* Why a v3 device refused a request, from the USM counter its Report
 * names (RFC 3414 3.2), in the user's words. */
static void v3_refusal(struct snmp__dev *d, int type)
{
    const struct snmp_dev_cfg *c = &d->cfg->snmp;
    char *r = d->reason;
    size_t n = sizeof(d->reason);

    switch (type) {
    case SNMPERR_UNKNOWN_USER_NAME:
        snprintf(r, n, "SNMPv3: unknown user '%s': the device has no such user", c->user);
        break;
    case SNMPERR_AUTHENTICATION_FAILURE:
        snprintf(r, n,
                 "SNMPv3: wrong digest: auth_passphrase or auth_protocol (%s) differs from the "
                 "device's",
                 snmp_usm_auth_names[c->auth_protocol]);
        break;
    case SNMPERR_DECRYPTION_ERR:
        snprintf(r, n,
                 "SNMPv3: decryption error: priv_passphrase or priv_protocol (%s) differs from "
                 "the device's",
                 snmp_usm_priv_names[c->priv_protocol]);
        break;
    case SNMPERR_UNSUPPORTED_SEC_LEVEL:
        snprintf(r, n,
                 "SNMPv3: unsupported security level: the device's user '%s' has no %s; set "
                 "auth_protocol and priv_protocol as the device has them",
                 c->user, c->priv_protocol != SNMP_PRIV_NONE ? "privacy" : "authentication");
        break;
    case SNMPERR_NOT_IN_TIME_WINDOW:
        snprintf(r, n, "SNMPv3: not in time window, still after a resynchronisation");
        break;
    case SNMPERR_UNKNOWN_ENG_ID:
        snprintf(r, n, "SNMPv3: unknown engine id: engine_id differs from the device's");
        break;
    default:
        snprintf(r, n, "SNMPv3 report: %s", snmp_api_errstring(type));
        break;
    }
}

static void on_report(struct snmp__dev *d, netsnmp_pdu *pdu)
{
    int type = snmpv3_get_report_type(pdu);

    /* The probe's Report, or a device whose engine id changed (replaced or
     * reset): once per poll, or a device that keeps refusing would be asked
     * again forever. A configured engine_id is kept. */
    if (d->step == STEP_PROBE || (type == SNMPERR_UNKNOWN_ENG_ID && !d->rediscovered)) {
        int rc = snmp_target_set_engine_id(d->sessp, pdu, d->cfg->snmp.engine_id[0] == '\0');

        if (rc == 1)
            FM_NOTICE("snmp: %s: SNMPv3 engine id changed (device replaced or reset)",
                      d->cfg->name);
        if (rc >= 0) {
            d->engine_known = true;
            if (d->step == STEP_PROBE) {
                d->step = STEP_GET;
                d->discovered = true;
            } else {
                d->rediscovered = true;
            }
            d->action = ACT_NEXT;
            return;
        }
    }
    v3_refusal(d, type);
    d->action = ACT_FAIL;
}

int snmp__on_response(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct snmp__dev *d = magic;
    int64_t ts;

    if (d->owner->stopping || op == NETSNMP_CALLBACK_OP_RESEND)
        return 1; /* a retry went out: the request is still outstanding */
    d->outstanding = false;
    if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
        on_timeout(d);
        return 1;
    }
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || pdu == NULL) {
        snprintf(d->reason, sizeof(d->reason), "request failed (net-snmp operation %d)", op);
        d->action = ACT_FAIL;
        return 1;
    }
    if (pdu->command == SNMP_MSG_REPORT) {
        on_report(d, pdu);
        return 1;
    }
    d->answered = true;
    d->action = ACT_NEXT;
    ts = fm_clock_wall_ms();
    if (d->step == STEP_GET)
        on_get(d, pdu, ts);
    else if (d->step == STEP_WALK)
        on_walk(d, pdu, ts);
    else if (d->step == STEP_PROBE)
        d->step = STEP_GET; /* answered without a report: engine already known */
    return 1;
}
