/* fleet: builds the fleet from the fleet file (see fleet.h). */
#include "fleet.h"

#include "fleet_conf.h"
#include "fm_addr.h"
#include "fm_alloc.h"
#include "mb_rtu.h"
#include "point.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct loader {
    struct sim *s;
    struct fleet_cfg *cfg;
    fmc_doc_t *doc;
    char *dir;
    char *err;
    size_t errlen;
};

/* A path from the fleet file, made relative to the fleet file's directory. */
static char *resolve_path(const struct loader *l, const char *p)
{
    char *out;
    size_t n;

    if (p[0] == '/')
        return fm_xstrdup(p);
    n = strlen(l->dir) + strlen(p) + 2;
    out = fm_xmalloc(n);
    snprintf(out, n, "%s/%s", l->dir, p);
    return out;
}

/* Reports "path: message" given as one text: the part before the first ": "
 * is the key path whose line is reported. Returns -EINVAL. */
static int perr(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct loader *l, const char *fmt, ...)
{
    char text[1024];
    char *sep;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    sep = strstr(text, ": ");
    if (sep == NULL)
        return fmc_errorf(l->doc, l->err, l->errlen, "", "%s", text);
    *sep = '\0';
    return fmc_errorf(l->doc, l->err, l->errlen, text, "%s", sep + 2);
}

static int load_snmp_templates(struct loader *l)
{
    struct sim *s = l->s;
    char why[512];

    s->snmp_tmpls = fm_xcalloc(l->cfg->n_snmp_templates + 1, sizeof(*s->snmp_tmpls));
    for (size_t i = 0; i < l->cfg->n_snmp_templates; i++) {
        struct fleet_snmp_tmpl_cfg *c = &l->cfg->snmp_templates[i];
        struct sim_snmp_template *t = &s->snmp_tmpls[i];
        char *file;
        int rc;

        if (sim_find_snmp_tmpl(s, c->name) != NULL)
            return perr(l,
                        "snmp_templates[%zu].name: '%s' is "
                        "already used",
                        i, c->name);
        file = resolve_path(l, c->file);
        rc = snmprec_load(file, &t->mib, why, sizeof(why));
        free(file);
        if (rc != 0) {
            perr(l, "snmp_templates[%zu].file: %s", i, why);
            return rc;
        }
        t->name = fm_xstrdup(c->name);
        s->n_snmp_tmpls = i + 1;
        if (c->trap != NULL && ber_oid_parse(c->trap, &t->trap) != 0)
            return perr(l,
                        "snmp_templates[%zu].trap: '%s' is "
                        "not an OID",
                        i, c->trap);
        t->trap_objects = fm_xcalloc(c->n_trap_objects + 1, sizeof(*t->trap_objects));
        t->n_trap_objects = c->n_trap_objects;
        for (size_t k = 0; k < c->n_trap_objects; k++) {
            if (ber_oid_parse(c->trap_objects[k], &t->trap_objects[k]) != 0)
                return perr(l, "snmp_templates[%zu].trap_objects[%zu]: '%s' is not an OID", i, k,
                            c->trap_objects[k]);
        }
    }
    return 0;
}

static int load_mb_templates(struct loader *l)
{
    struct sim *s = l->s;
    char why[512];

    s->mb_tmpls = fm_xcalloc(l->cfg->n_modbus_templates + 1, sizeof(*s->mb_tmpls));
    for (size_t i = 0; i < l->cfg->n_modbus_templates; i++) {
        struct fleet_mb_tmpl_cfg *c = &l->cfg->modbus_templates[i];
        char *file;
        int rc;

        if (sim_find_mb_tmpl(s, c->name) != NULL)
            return perr(l, "modbus_templates[%zu].name: '%s' is already used", i, c->name);
        file = resolve_path(l, c->file);
        rc = regmap_load(file, &s->mb_tmpls[i].map, why, sizeof(why));
        free(file);
        if (rc != 0) {
            perr(l, "modbus_templates[%zu].file: %s", i, why);
            return rc;
        }
        s->mb_tmpls[i].name = fm_xstrdup(c->name);
        s->n_mb_tmpls = i + 1;
    }
    return 0;
}

static struct sim_rtu_bus *find_bus(const struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->n_buses; i++) {
        if (strcmp(s->buses[i]->name, name) == 0)
            return s->buses[i];
    }
    return NULL;
}

static int load_buses(struct loader *l)
{
    struct sim *s = l->s;

    s->buses = fm_xcalloc(l->cfg->n_rtu_buses + 1, sizeof(*s->buses));
    for (size_t i = 0; i < l->cfg->n_rtu_buses; i++) {
        struct fleet_bus_cfg *c = &l->cfg->rtu_buses[i];
        struct sim_rtu_bus *b;

        if (find_bus(s, c->name) != NULL)
            return perr(l, "rtu_buses[%zu].name: '%s' is already used", i, c->name);
        b = fm_xcalloc(1, sizeof(*b));
        b->name = fm_xstrdup(c->name);
        b->link = c->link != NULL ? resolve_path(l, c->link) : NULL;
        b->master = b->slave = -1;
        s->buses[s->n_buses++] = b;
    }
    return 0;
}

/* Configures one point with a behaviour from the fleet file. */
static int load_point(struct loader *l, struct sim_dev *d, size_t i, size_t j)
{
    struct fleet_point_cfg *c = &l->cfg->devices[i].points[j];
    struct sim_point *p;
    char why[256], path[96];

    snprintf(path, sizeof(path), "devices[%zu].points[%zu]", i, j);
    p = point_get(d, c->point, why, sizeof(why));
    if (p == NULL)
        return fmc_errorf(l->doc, l->err, l->errlen, path, "point: %s", why);
    if (p->configured)
        return fmc_errorf(l->doc, l->err, l->errlen, path, "point: %s is listed twice", c->point);
    if (d->proto == SIM_SNMP &&
        (snmprec_encode_number(p->ber_tag, 0, 0, (uint8_t[64]){0}, 64) < 0 ||
         (c->base == NULL &&
          snmprec_value_number(d->tmpl->mib->recs[p->rec].val, d->tmpl->mib->recs[p->rec].val_len,
                               &(double){0}) != 0)))
        return fmc_errorf(l->doc, l->err, l->errlen, path,
                          "point: %s does not hold a number (tag 0x%02x)", c->point, p->ber_tag);
    if (c->base != NULL) {
        char *end;

        p->base = strtod(c->base, &end);
        if (end == c->base || *end != '\0')
            return fmc_errorf(l->doc, l->err, l->errlen, path, "base: '%s' is not a number",
                              c->base);
    }
    p->configured = true;
    p->kind = (enum sim_behaviour)c->behaviour;
    p->min = c->min;
    p->max = c->max;
    p->step = c->step;
    p->amplitude = c->amplitude;
    p->period_s = (double)c->period_ms / 1000.0;
    p->rate = c->rate;
    p->decimals = (int)c->decimals;
    p->value = p->base;
    if (p->kind == SIM_WALK) {
        if (!(c->max > c->min))
            return fmc_errorf(l->doc, l->err, l->errlen, path,
                              "walk needs max above min (min %g, max %g)", c->min, c->max);
        if (p->step <= 0)
            p->step = (c->max - c->min) / 20;
        p->value = p->base < p->min ? p->min : p->base > p->max ? p->max : p->base;
    }
    return 0;
}

static int load_device(struct loader *l, size_t i, size_t *n_snmp, size_t *n_tcp)
{
    struct fleet_dev_cfg *c = &l->cfg->devices[i];
    struct sim *s = l->s;
    struct sim_dev *d;
    int rc;

    if (sim_find_dev(s, c->name) != NULL)
        return perr(l,
                    "devices[%zu].name: '%s' is already "
                    "used",
                    i, c->name);
    d = fm_xcalloc(1, sizeof(*d));
    s->devs[s->n_devs++] = d;
    d->sim = s;
    d->index = i;
    d->name = fm_xstrdup(c->name);
    d->site = fm_xstrdup(c->site);
    d->proto = (enum sim_proto)c->protocol;
    d->address = fm_xstrdup(c->address != NULL ? c->address : l->cfg->address);
    d->community = fm_xstrdup(c->community);
    d->snmp_bulk = d->snmp_bulk0 = c->bulk;
    d->port = (int)c->port;
    if (d->proto == SIM_SNMP) {
        d->tmpl = sim_find_snmp_tmpl(s, c->tmpl);
        if (d->tmpl == NULL)
            return perr(l,
                        "devices[%zu].template: no "
                        "snmp_templates entry named '%s'",
                        i, c->tmpl);
        d->tmpl0 = d->tmpl;
        if (d->port == 0 && l->cfg->snmp_base_port != 0)
            d->port = (int)(l->cfg->snmp_base_port + (int64_t)*n_snmp);
        (*n_snmp)++;
        if (d->tmpl->mib->uptime_rec >= 0) {
            const struct snmprec_rec *r = &d->tmpl->mib->recs[d->tmpl->mib->uptime_rec];
            double up = 0;

            snmprec_value_number(r->val, r->val_len, &up);
            d->uptime0 = (uint32_t)up;
        }
    } else {
        d->mtmpl = sim_find_mb_tmpl(s, c->tmpl);
        if (d->mtmpl == NULL)
            return perr(l,
                        "devices[%zu].template: no "
                        "modbus_templates entry named '%s'",
                        i, c->tmpl);
        d->unit_id = c->unit_id != 0 ? (int)c->unit_id : d->mtmpl->map->unit_id;
        d->mapping = regmap_mapping_new(d->mtmpl->map);
        if (d->mapping == NULL)
            return perr(l,
                        "devices[%zu]: cannot allocate "
                        "registers",
                        i);
        if (d->proto == SIM_MODBUS_TCP) {
            if (d->port == 0 && l->cfg->modbus_base_port != 0)
                d->port = (int)(l->cfg->modbus_base_port + (int64_t)*n_tcp);
            (*n_tcp)++;
        } else {
            struct sim_rtu_bus *b = c->bus != NULL ? find_bus(s, c->bus) : NULL;

            if (b == NULL)
                return perr(l, "devices[%zu].bus: %s%s%s", i,
                            c->bus ? "no rtu_buses entry named '"
                                   : "required for "
                                     "modbus-rtu",
                            c->bus ? c->bus : "", c->bus ? "'" : "");
            if (mb_rtu_attach(b, d) != 0)
                return perr(l,
                            "devices[%zu].unit_id: unit %d "
                            "is already on bus %s",
                            i, d->unit_id, b->name);
        }
    }
    for (size_t j = 0; j < c->n_points; j++) {
        rc = load_point(l, d, i, j);
        if (rc != 0)
            return rc;
    }
    point_apply(d);
    return 0;
}

static int load_traps(struct loader *l)
{
    struct sim *s = l->s;
    struct fleet_traps_cfg *t = &l->cfg->traps;
    char host[256];
    const char *why = "is not an IPv4 or IPv6 address";
    int port;

    s->traps.community = fm_xstrdup(t->community);
    s->traps.inform = t->inform;
    s->traps.timeout_ms = t->timeout_ms;
    s->traps.retries = (uint32_t)t->retries;
    if (t->receiver == NULL)
        return 0;
    s->traps.receiver = fm_xstrdup(t->receiver);
    /* An address, not a name: IPv4 (127.0.0.1:1162) or IPv6 ([::1]:1162). */
    if (fm_addr_split(t->receiver, host, sizeof(host), &port, &why) <= 0 ||
        sim_sockaddr(host, port, &s->trap_addr, &s->trap_addr_len) != 0)
        return fmc_errorf(l->doc, l->err, l->errlen, "traps.receiver",
                          "'%s' %s (address:port, IPv6 as [::1]:1162)", t->receiver, why);
    s->trap_addr_ok = true;
    return 0;
}

int fleet_load(struct sim *s, const char *path, char *err, size_t errlen)
{
    struct fleet_cfg cfg;
    struct loader l = {.s = s, .cfg = &cfg, .err = err, .errlen = errlen};
    char *copy;
    size_t n_snmp = 0, n_tcp = 0;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    rc = fmc_load_file(path, &fleet_schema, &cfg, &l.doc, err, errlen);
    if (rc != 0)
        return rc;
    copy = fm_xstrdup(path);
    l.dir = fm_xstrdup(dirname(copy));
    free(copy);
    s->fleet_path = fm_xstrdup(path);
    s->tick_ms = cfg.tick_ms;
    s->time_scale = cfg.time_scale;
    s->snmp_max_msg = (size_t)cfg.snmp_max_msg_size;
    s->rng = cfg.seed * 2654435761u + 88172645463325252ull;
    rc = load_traps(&l);
    if (rc == 0)
        rc = load_snmp_templates(&l);
    if (rc == 0)
        rc = load_mb_templates(&l);
    if (rc == 0)
        rc = load_buses(&l);
    s->devs = fm_xcalloc(cfg.n_devices + 1, sizeof(*s->devs));
    for (size_t i = 0; rc == 0 && i < cfg.n_devices; i++)
        rc = load_device(&l, i, &n_snmp, &n_tcp);
    if (rc == 0 && cfg.n_devices == 0)
        rc = fmc_errorf(l.doc, err, errlen, "devices", "the fleet has no devices");
    fmc_free(&fleet_schema, &cfg);
    fmc_doc_free(l.doc);
    free(l.dir);
    return rc;
}

void fleet_print_reference(FILE *out)
{
    fmc_print_reference(&fleet_schema, out, "Fleet file keys");
}
