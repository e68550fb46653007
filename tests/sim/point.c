/* point: behaviours and overrides (see point.h). */
#include "point.h"

#include "fm_alloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tag_text(uint8_t ber_tag)
{
    switch (ber_tag) {
    case BER_INTEGER:
        return "2";
    case BER_OCTET_STRING:
        return "4";
    case BER_NULL:
        return "5";
    case BER_OID:
        return "6";
    case BER_IPADDRESS:
        return "64";
    case BER_COUNTER32:
        return "65";
    case BER_GAUGE32:
        return "66";
    case BER_TIMETICKS:
        return "67";
    case BER_OPAQUE:
        return "68";
    default:
        return "70";
    }
}

struct sim_point *point_find(const struct sim_dev *d, const char *name)
{
    for (size_t i = 0; i < d->n_points; i++) {
        if (strcmp(d->points[i]->name, name) == 0)
            return d->points[i];
    }
    return NULL;
}

/* Points to the record for p->oid in the device's current data. */
static void resolve(struct sim_point *p)
{
    const struct sim_mib *mib = p->dev->tmpl->mib;
    bool exact;
    size_t i = snmprec_lower_bound(mib, p->oid.sub, p->oid.len, &exact);
    double v;

    p->rec = exact ? (long)i : -1;
    if (!exact)
        return;
    p->ber_tag = mib->recs[i].val[0];
    if (!p->configured && snmprec_value_number(mib->recs[i].val, mib->recs[i].val_len, &v) == 0)
        p->base = p->value = v;
}

struct sim_point *point_get(struct sim_dev *d, const char *name, char *why, size_t whylen)
{
    struct sim_point *p = point_find(d, name);

    if (p != NULL)
        return p;
    p = fm_xcalloc(1, sizeof(*p));
    p->dev = d;
    p->name = fm_xstrdup(name);
    p->rec = -1;
    if (d->proto == SIM_SNMP) {
        if (ber_oid_parse(name, &p->oid) != 0) {
            snprintf(why, whylen, "'%s' is not an OID", name);
            goto out_free;
        }
        resolve(p);
        if (p->rec < 0) {
            snprintf(why, whylen, "%s has no value at %s (data %s)", d->name, name, d->tmpl->name);
            goto out_free;
        }
    } else {
        p->mp = regmap_find(d->mtmpl->map, name);
        if (p->mp == NULL) {
            snprintf(why, whylen, "%s has no point '%s' (register map %s)", d->name, name,
                     d->mtmpl->name);
            goto out_free;
        }
        p->base = p->value = regmap_get(d->mapping, p->mp);
    }
    d->points = fm_xrealloc(d->points, (d->n_points + 1) * sizeof(*d->points));
    d->points[d->n_points++] = p;
    return p;
out_free:
    point_free(p);
    return NULL;
}

int point_override(struct sim_point *p, const char *text, bool flapping, char *why, size_t whylen)
{
    uint8_t buf[SNMPREC_VAL_MAX];
    char *end;

    if (p->dev->proto == SIM_SNMP) {
        if (p->rec >= 0 &&
            snmprec_encode(tag_text(p->ber_tag), text, buf, sizeof(buf), why, whylen) < 0)
            return -EINVAL;
    } else {
        strtod(text, &end);
        if (end == text || *end != '\0') {
            snprintf(why, whylen, "'%s' is not a number", text);
            return -EINVAL;
        }
    }
    free(p->ovr_text);
    p->ovr_text = fm_xstrdup(text);
    p->overridden = true;
    p->flapping = flapping;
    return 0;
}

void point_clear(struct sim_point *p)
{
    struct sim_dev *d = p->dev;

    free(p->ovr_text);
    p->ovr_text = NULL;
    p->overridden = false;
    p->flapping = false;
    if (p->configured)
        return;
    if (p->mp != NULL)
        regmap_put_raw(d->mapping, p->mp);
    for (size_t i = 0; i < d->n_points; i++) {
        if (d->points[i] == p) {
            d->points[i] = d->points[--d->n_points];
            break;
        }
    }
    point_free(p);
}

void point_resolve_all(struct sim_dev *d)
{
    for (size_t i = 0; i < d->n_points; i++)
        resolve(d->points[i]);
}

static bool override_active(const struct sim_point *p)
{
    return p->overridden && (!p->flapping || p->dev->flap_on);
}

static void behave(struct sim_point *p, struct sim *s, double dt)
{
    const struct sim_motion m = {
        .kind = p->kind,
        .base = p->base,
        .min = p->min,
        .max = p->max,
        .step = p->step,
        .amplitude = p->amplitude,
        .period_s = p->period_s,
        .rate = p->rate,
    };

    p->value = sim_motion_next(&m, p->value, sim_wall_s(s), sim_elapsed_s(s), dt > 0, &s->rng);
}

static int cmp_ovl(const void *a, const void *b)
{
    const struct snmp_ovl *x = a, *y = b;

    return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* Serves one point; SNMP points add an overlay entry. */
static void serve(struct sim_point *p)
{
    struct sim_dev *d = p->dev;
    bool ovr = override_active(p);
    uint8_t buf[SNMPREC_VAL_MAX];
    char why[128];
    int n;

    if (d->proto != SIM_SNMP) {
        if (ovr)
            regmap_put(d->mapping, p->mp, strtod(p->ovr_text, NULL));
        else if (p->configured)
            regmap_put(d->mapping, p->mp, p->value);
        else
            regmap_put_raw(d->mapping, p->mp);
        return;
    }
    if (p->rec < 0 || (!ovr && !p->configured))
        return;
    if (ovr)
        n = snmprec_encode(tag_text(p->ber_tag), p->ovr_text, buf, sizeof(buf), why, sizeof(why));
    else
        n = snmprec_encode_number(p->ber_tag, p->value, p->decimals, buf, sizeof(buf));
    if (n < 0)
        return;
    if (p->enc == NULL || n > p->enc_len) {
        free(p->enc);
        p->enc = fm_xmalloc((size_t)n);
    }
    memcpy(p->enc, buf, (size_t)n);
    p->enc_len = (uint16_t)n;
    d->ovl[d->n_ovl].rec = (uint32_t)p->rec;
    d->ovl[d->n_ovl].val = p->enc;
    d->ovl[d->n_ovl].len = p->enc_len;
    d->n_ovl++;
}

void point_apply(struct sim_dev *d)
{
    if (d->proto == SIM_SNMP) {
        d->ovl = fm_xrealloc(d->ovl, (d->n_points + 1) * sizeof(*d->ovl));
        d->n_ovl = 0;
    }
    for (size_t i = 0; i < d->n_points; i++)
        serve(d->points[i]);
    if (d->proto == SIM_SNMP) {
        qsort(d->ovl, d->n_ovl, sizeof(*d->ovl), cmp_ovl);
        /* Two points on one OID: the later one wins, one entry is served. */
        size_t k = 0;

        for (size_t i = 0; i < d->n_ovl; i++) {
            if (k > 0 && d->ovl[k - 1].rec == d->ovl[i].rec)
                k--;
            d->ovl[k++] = d->ovl[i];
        }
        d->n_ovl = k;
    }
}

void point_tick(struct sim_dev *d, double dt)
{
    bool any = false;

    for (size_t i = 0; i < d->n_points; i++) {
        struct sim_point *p = d->points[i];

        if (p->configured) {
            behave(p, d->sim, dt);
            any = true;
        }
    }
    if (any)
        point_apply(d);
}

void point_format(const struct sim_point *p, char *buf, size_t len)
{
    if (override_active(p))
        snprintf(buf, len, "%s", p->ovr_text);
    else if (p->mp != NULL)
        snprintf(buf, len, "%.6g", regmap_get(p->dev->mapping, p->mp));
    else
        snprintf(buf, len, "%.*f", p->decimals, p->value);
}

void point_free(struct sim_point *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free(p->ovr_text);
    free(p->enc);
    free(p);
}
