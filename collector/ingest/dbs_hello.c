/* dbs_hello: the Hello part of dbs (see dbs.h). Registers the site,
 * the agent, its devices and points in one transaction, and returns the
 * agent's committed sequence for the Hello's epoch. The inventory travels to
 * PostgreSQL as one JSON document that jsonb_to_recordset() unpacks, so a
 * Hello costs a handful of statements whatever the inventory's size. */
#include "dbs.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"

/* "DEVICE_CLASS_UPS" -> "ups" into out[64]; returns out. */
static const char *lower_enum(const ProtobufCEnumDescriptor *d, int value, const char *prefix,
                              char *out)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    size_t plen = strlen(prefix);

    if (v == NULL)
        return "unspecified";
    const char *n = v->name;
    if (strncmp(n, prefix, plen) == 0)
        n += plen;
    size_t i = 0;
    for (; n[i] && i < 63; i++)
        out[i] = (char)((n[i] >= 'A' && n[i] <= 'Z') ? n[i] + 32 : n[i]);
    out[i] = '\0';
    return out;
}

static json_t *device_json(const Fm__Device *d)
{
    json_t *tags = json_object(), *points = json_array();
    char cls[64], proto[64], type[64];

    for (size_t i = 0; i < d->n_tags; i++)
        json_object_set_new(tags, d->tags[i]->key, json_string(d->tags[i]->value));
    for (size_t i = 0; i < d->n_points; i++) {
        const Fm__Point *p = d->points[i];
        json_t *et = json_array();

        for (size_t k = 0; k < p->n_enum_text; k++)
            json_array_append_new(et, json_string(p->enum_text[k]));
        json_array_append_new(
            points, json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", p->name, "unit", p->unit, "type",
                              lower_enum(&fm__value_type__descriptor, p->type, "VALUE_TYPE_", type),
                              "tabular", (int)p->tabular, "enum_text", et));
    }
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o}", "name", d->name, "class",
        lower_enum(&fm__device_class__descriptor, d->class_, "DEVICE_CLASS_", cls), "protocol",
        lower_enum(&fm__protocol__descriptor, d->protocol, "PROTOCOL_", proto), "address",
        d->address, "parent", d->parent, "profile", d->profile, "poll_interval_ms",
        (json_int_t)d->poll_interval_ms, "tags", tags, "points", points);
}

/* The inventory plus the agent itself as device "", which holds agent-level
 * events. Returns new text; free(). */
static char *inventory_json(const Fm__Hello *h)
{
    json_t *arr = json_array();
    char *text;

    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:{}, s:[]}", "name",
                                         "", "class", "agent", "protocol", "unspecified", "address",
                                         "", "parent", "", "profile", "", "poll_interval_ms", 0,
                                         "tags", "points"));
    if (h->inventory) {
        for (size_t i = 0; i < h->inventory->n_devices; i++)
            json_array_append_new(arr, device_json(h->inventory->devices[i]));
    }
    text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

static const char *const sql_site =
    "INSERT INTO sites (site_id, name) VALUES ($1, $2) ON CONFLICT (site_id) DO UPDATE SET"
    " name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE sites.name END";

static const char *const sql_agent =
    "INSERT INTO agents (agent_id, site_id, software_version, config_digest, last_seen,"
    " collector_id, connected, peer_address, current_epoch)"
    " VALUES ($1, $2, $3, decode($4, 'hex'), now(), $5, true, $6, $7)"
    " ON CONFLICT (agent_id) DO UPDATE SET site_id = EXCLUDED.site_id,"
    " software_version = EXCLUDED.software_version, config_digest = EXCLUDED.config_digest,"
    " last_seen = now(), collector_id = EXCLUDED.collector_id, connected = true,"
    " peer_address = EXCLUDED.peer_address, current_epoch = EXCLUDED.current_epoch";

static const char *const sql_devices =
    "INSERT INTO devices (agent_id, name, class, protocol, address, parent, profile,"
    " poll_interval_ms, tags, in_inventory, updated_at)"
    " SELECT $1, name, class, protocol, address, parent, profile, poll_interval_ms, tags,"
    " true, now() FROM jsonb_to_recordset($2::jsonb) AS x(name text, class text,"
    " protocol text, address text, parent text, profile text, poll_interval_ms integer,"
    " tags jsonb)"
    " ON CONFLICT (agent_id, name) DO UPDATE SET class = EXCLUDED.class,"
    " protocol = EXCLUDED.protocol, address = EXCLUDED.address, parent = EXCLUDED.parent,"
    " profile = EXCLUDED.profile, poll_interval_ms = EXCLUDED.poll_interval_ms,"
    " tags = EXCLUDED.tags, in_inventory = true, updated_at = now()";

static const char *const sql_gone =
    "UPDATE devices SET in_inventory = false, updated_at = now()"
    " WHERE agent_id = $1 AND in_inventory"
    " AND name NOT IN (SELECT x->>'name' FROM jsonb_array_elements($2::jsonb) x)";

static const char *const sql_points =
    "INSERT INTO points (device_id, name, unit, value_type, tabular, enum_text, updated_at)"
    " SELECT d.device_id, p.name, p.unit, p.type, p.tabular,"
    " ARRAY(SELECT jsonb_array_elements_text(p.enum_text)), now()"
    " FROM jsonb_array_elements($2::jsonb) dj"
    " JOIN devices d ON d.agent_id = $1 AND d.name = dj->>'name'"
    " CROSS JOIN LATERAL jsonb_to_recordset(dj->'points')"
    " AS p(name text, unit text, type text, tabular boolean, enum_text jsonb)"
    " ON CONFLICT (device_id, name) DO UPDATE SET unit = EXCLUDED.unit,"
    " value_type = EXCLUDED.value_type, tabular = EXCLUDED.tabular,"
    " enum_text = EXCLUDED.enum_text, updated_at = now()";

static const char *const sql_progress_new =
    "INSERT INTO agent_progress (agent_id, epoch) VALUES ($1, $2) ON CONFLICT DO NOTHING";

static const char *const sql_progress =
    "SELECT p.committed_seq, a.agent_key FROM agent_progress p JOIN agents a USING (agent_id)"
    " WHERE p.agent_id = $1 AND p.epoch = $2";

static const char *const sql_ids = "SELECT d.name, d.device_id, p.name, p.point_id FROM devices d"
                                   " LEFT JOIN points p USING (device_id) WHERE d.agent_id = $1";

/* Fills the id cache with the agent's devices and points, so that its
 * events need no lookups. */
static int load_ids(struct dbs *s, const char *agent_id, int64_t agent_key)
{
    const char *p[] = {agent_id};
    PGresult *r = dbs__exec(s, "load device ids", sql_ids, 1, p);
    char key[512];

    if (r == NULL)
        return dbs__fail(s);
    for (int i = 0; i < PQntuples(r); i++) {
        int n =
            snprintf(key, sizeof(key), "d\x1f%" PRId64 "\x1f%s", agent_key, PQgetvalue(r, i, 0));
        chash_put(s->ids, key, (size_t)n, strtoll(PQgetvalue(r, i, 1), NULL, 10));
        if (PQgetisnull(r, i, 3))
            continue;
        n = snprintf(key, sizeof(key), "p\x1f%" PRId64 "\x1f%s\x1f%s", agent_key,
                     PQgetvalue(r, i, 0), PQgetvalue(r, i, 2));
        chash_put(s->ids, key, (size_t)n, strtoll(PQgetvalue(r, i, 3), NULL, 10));
    }
    PQclear(r);
    return 0;
}

int dbs_hello(struct dbs *s, const Fm__Hello *h, const char *peer, uint64_t *committed)
{
    char epoch[24], digest[2 * FMW_DIGEST_LEN + 1] = "";
    char *inv = inventory_json(h);
    PGresult *r;
    int64_t agent_key;
    int rc;

    for (size_t i = 0; i < h->config_digest.len && i < FMW_DIGEST_LEN; i++)
        snprintf(digest + 2 * i, 3, "%02x", h->config_digest.data[i]);
    snprintf(epoch, sizeof(epoch), "%" PRIu64, h->epoch);
    const char *site[] = {h->site_id, h->site_name};
    const char *agent[] = {
        h->agent_id, h->site_id, h->software_version, digest[0] ? digest : NULL, s->collector_id,
        peer,        epoch};
    const char *inv_p[] = {h->agent_id, inv};
    const char *prog[] = {h->agent_id, epoch};

    if ((rc = pg_begin(s->pg, s->why, sizeof(s->why))) != 0)
        goto out_txn;
    if ((r = dbs__exec(s, "register site", sql_site, 2, site)) == NULL)
        goto out_rollback;
    PQclear(r);
    if ((r = dbs__exec(s, "register agent", sql_agent, 7, agent)) == NULL)
        goto out_rollback;
    PQclear(r);
    if ((r = dbs__exec(s, "register devices", sql_devices, 2, inv_p)) == NULL)
        goto out_rollback;
    PQclear(r);
    if ((r = dbs__exec(s, "retire devices", sql_gone, 2, inv_p)) == NULL)
        goto out_rollback;
    PQclear(r);
    if ((r = dbs__exec(s, "register points", sql_points, 2, inv_p)) == NULL)
        goto out_rollback;
    PQclear(r);
    if ((r = dbs__exec(s, "create progress", sql_progress_new, 2, prog)) == NULL)
        goto out_rollback;
    PQclear(r);
    if ((r = dbs__exec(s, "read progress", sql_progress, 2, prog)) == NULL)
        goto out_rollback;
    *committed = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    agent_key = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    if ((rc = pg_commit(s->pg, s->why, sizeof(s->why))) != 0)
        goto out_txn;
    free(inv);
    return load_ids(s, h->agent_id, agent_key);

out_rollback:
    pg_rollback(s->pg);
    rc = dbs__fail(s);
out_txn:
    free(inv);
    /* Rows made in the failed transaction are gone: so are their cached ids. */
    chash_clear(s->ids);
    return rc;
}
