/* inventory: see inventory.h. */
#include "inventory.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* config's enums are in the order of fieldmon.proto's, shifted by one. */
static Fm__DeviceClass dev_class(int c)
{
    return (Fm__DeviceClass)(c + 1);
}

static Fm__ValueType value_type(int t)
{
    return (Fm__ValueType)(t + 1);
}

static void digest_file(const char *path, uint8_t *out)
{
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char buf[8192];
    unsigned int len = 0;
    size_t n;

    memset(out, 0, FMW_DIGEST_LEN);
    if (f == NULL || md == NULL) {
        if (f != NULL)
            fclose(f);
        EVP_MD_CTX_free(md);
        return;
    }
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(md, buf, n);
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    fclose(f);
}

struct inventory *inventory_create(const struct agent_cfg *cfg, const char *path)
{
    struct inventory *in = fm_xcalloc(1, sizeof(*in));

    fm__inventory__init(&in->inv);
    in->inv.n_devices = cfg->n_devices;
    in->inv.devices = fm_xcalloc(cfg->n_devices ? cfg->n_devices : 1, sizeof(Fm__Device *));
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct device_cfg *d = &cfg->devices[i];
        const struct profile_cfg *pr = d->prof;
        Fm__Device *dv = fm_xcalloc(1, sizeof(*dv));
        char *addr = fm_xmalloc(300);

        fm__device__init(dv);
        dv->name = d->name;
        dv->class_ = dev_class(d->dev_class);
        /* Address as proto/fieldmon.proto says: host:port, or serial-device@unit. */
        if (d->protocol == DEVICE_PROTOCOL_MODBUS_TCP) {
            dv->protocol = FM__PROTOCOL__PROTOCOL_MODBUS_TCP;
            snprintf(addr, 300, "%s:%d", d->modbus.host, (int)d->modbus.port);
        } else if (d->protocol == DEVICE_PROTOCOL_MODBUS_RTU) {
            dv->protocol = FM__PROTOCOL__PROTOCOL_MODBUS_RTU;
            snprintf(addr, 300, "%s@%d", d->modbus.serial, (int)d->modbus.unit_id);
        } else {
            dv->protocol = FM__PROTOCOL__PROTOCOL_SNMP;
            snprintf(addr, 300, "%s:%d", d->snmp.host, (int)d->snmp.port);
        }
        dv->address = addr;
        dv->parent = d->parent;
        dv->profile = d->profile;
        dv->poll_interval_ms = (uint32_t)d->interval_ms;
        dv->n_tags = d->n_tags;
        dv->tags = fm_xcalloc(d->n_tags ? d->n_tags : 1, sizeof(Fm__Tag *));
        for (size_t t = 0; t < d->n_tags; t++) {
            Fm__Tag *tag = fm_xcalloc(1, sizeof(*tag));
            fm__tag__init(tag);
            tag->key = d->tags[t].key;
            tag->value = d->tags[t].value;
            dv->tags[t] = tag;
        }
        dv->n_points = pr->n_points;
        dv->points = fm_xcalloc(pr->n_points ? pr->n_points : 1, sizeof(Fm__Point *));
        for (size_t p = 0; p < pr->n_points; p++) {
            Fm__Point *pt = fm_xcalloc(1, sizeof(*pt));
            fm__point__init(pt);
            pt->name = pr->points[p].name;
            pt->unit = pr->points[p].unit;
            pt->type = value_type(pr->points[p].type);
            pt->tabular = pr->points[p].table;
            dv->points[p] = pt;
        }
        in->inv.devices[i] = dv;
        if (d->interval_ms > 0)
            in->events_per_s += (double)pr->n_points * 1000.0 / (double)d->interval_ms;
    }
    digest_file(path, in->digest);
    return in;
}

void inventory_destroy(struct inventory *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->inv.n_devices; i++) {
        Fm__Device *dv = in->inv.devices[i];
        for (size_t t = 0; t < dv->n_tags; t++)
            free(dv->tags[t]);
        for (size_t p = 0; p < dv->n_points; p++)
            free(dv->points[p]);
        free(dv->tags);
        free(dv->points);
        free(dv->address);
        free(dv);
    }
    free(in->inv.devices);
    free(in);
}
