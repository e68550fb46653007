/* regmap: JSON register maps and register encodings (see regmap.h). */
#include "regmap.h"

#include "fm_alloc.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"bool", "int16", "uint16", "int32", "uint32", "float32"};
static const char *const order_names[] = {"ABCD", "CDAB", "BADC", "DCBA"};

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0)
            return i;
    }
    return -1;
}

#define PERR(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -EINVAL;                                                                            \
    } while (0)

static int load_point(const char *path, size_t i, json_t *jp, struct regmap_point *p, char *err,
                      size_t errlen)
{
    json_t *name = json_object_get(jp, "name"), *fn = json_object_get(jp, "function");
    json_t *addr = json_object_get(jp, "address"), *type = json_object_get(jp, "type");
    json_t *order = json_object_get(jp, "byte_order"), *scale = json_object_get(jp, "scale");
    json_t *raw = json_object_get(jp, "raw"), *count = json_object_get(jp, "count");
    int t, o = RM_ABCD;

    if (!json_is_object(jp))
        PERR("%s: points[%zu]: not an object", path, i);
    if (!json_is_string(name) || json_string_length(name) == 0)
        PERR("%s: points[%zu].name: missing or not a string", path, i);
    if (!json_is_integer(fn) || json_integer_value(fn) < 1 || json_integer_value(fn) > 4)
        PERR("%s: points[%zu].function: must be 1, 2, 3 or 4", path, i);
    if (!json_is_integer(addr) || json_integer_value(addr) < 0 || json_integer_value(addr) > 65535)
        PERR("%s: points[%zu].address: must be an integer in 0..65535", path, i);
    if (!json_is_string(type) || (t = lookup(json_string_value(type), type_names, 6)) < 0)
        PERR("%s: points[%zu].type: must be one of bool int16 uint16 int32 uint32 float32", path,
             i);
    p->name = fm_xstrdup(json_string_value(name));
    p->function = (int)json_integer_value(fn);
    p->address = (uint16_t)json_integer_value(addr);
    p->type = (enum regmap_type)t;
    p->count = (t == RM_INT32 || t == RM_UINT32 || t == RM_FLOAT32) ? 2 : 1;
    if ((t == RM_BOOL) != (p->function <= 2))
        PERR("%s: points[%zu].type: %s does not fit function %d", path, i, type_names[t],
             p->function);
    if (p->count == 2 && p->address == 65535)
        PERR("%s: points[%zu].address: a 32-bit value cannot start at 65535", path, i);
    if (count != NULL && (!json_is_integer(count) || json_integer_value(count) != p->count))
        PERR("%s: points[%zu].count: %s takes %u register(s)", path, i, type_names[t], p->count);
    if (order != NULL) {
        const char *s = json_is_string(order) ? json_string_value(order) : "";

        if (p->count == 1 && strcmp(s, "AB") != 0)
            PERR("%s: points[%zu].byte_order: 16-bit values are AB", path, i);
        if (p->count == 2 && (o = lookup(s, order_names, 4)) < 0)
            PERR("%s: points[%zu].byte_order: must be ABCD, CDAB, BADC or DCBA", path, i);
    }
    p->order = (enum regmap_order)o;
    p->scale = 1;
    if (scale != NULL) {
        if (!json_is_number(scale) || json_number_value(scale) == 0)
            PERR("%s: points[%zu].scale: must be a non-zero number", path, i);
        p->scale = json_number_value(scale);
    }
    if (!json_is_array(raw) || json_array_size(raw) != p->count)
        PERR("%s: points[%zu].raw: must be an array of %u register value(s)", path, i, p->count);
    for (size_t k = 0; k < p->count; k++) {
        json_t *w = json_array_get(raw, k);
        json_int_t max = t == RM_BOOL ? 1 : 65535;

        if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > max)
            PERR("%s: points[%zu].raw[%zu]: must be an integer in 0..%lld", path, i, k,
                 (long long)max);
        p->raw[k] = (uint16_t)json_integer_value(w);
    }
    return 0;
}

int regmap_load(const char *path, struct regmap **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    json_t *points, *unit, *schema;
    struct regmap *m;
    int rc = 0;

    *out = NULL;
    if (root == NULL) {
        if (jerr.line <= 0) {
            snprintf(err, errlen, "%s: %s", path, jerr.text);
            return -ENOENT;
        }
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -EINVAL;
    }
    schema = json_object_get(root, "schema");
    points = json_object_get(root, "points");
    unit = json_object_get(root, "unit_id");
    m = fm_xcalloc(1, sizeof(*m));
    m->path = fm_xstrdup(path);
    if (!json_is_string(schema) || strcmp(json_string_value(schema), "modbus-regmap/1") != 0) {
        snprintf(err, errlen, "%s: schema: must be \"modbus-regmap/1\"", path);
        rc = -EINVAL;
        goto out;
    }
    if (!json_is_integer(unit) || json_integer_value(unit) < 1 || json_integer_value(unit) > 247) {
        snprintf(err, errlen, "%s: unit_id: must be an integer in 1..247", path);
        rc = -EINVAL;
        goto out;
    }
    m->unit_id = (int)json_integer_value(unit);
    m->device_class = fm_xstrdup(json_is_string(json_object_get(root, "device_class"))
                                     ? json_string_value(json_object_get(root, "device_class"))
                                     : "");
    if (!json_is_array(points) || json_array_size(points) == 0) {
        snprintf(err, errlen, "%s: points: must be a non-empty array", path);
        rc = -EINVAL;
        goto out;
    }
    m->points = fm_xcalloc(json_array_size(points), sizeof(*m->points));
    for (size_t i = 0; i < json_array_size(points); i++) {
        m->n = i + 1;
        rc = load_point(path, i, json_array_get(points, i), &m->points[i], err, errlen);
        if (rc != 0)
            goto out;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(m->points[k].name, m->points[i].name) == 0) {
                snprintf(err, errlen, "%s: points[%zu].name: '%s' already used by points[%zu]",
                         path, i, m->points[i].name, k);
                rc = -EINVAL;
                goto out;
            }
        }
    }
out:
    json_decref(root);
    if (rc != 0) {
        regmap_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void regmap_free(struct regmap *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->points[i].name);
    free(m->points);
    free(m->device_class);
    free(m->path);
    free(m);
}

const struct regmap_point *regmap_find(const struct regmap *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->points[i].name, name) == 0)
            return &m->points[i];
    }
    return NULL;
}

modbus_mapping_t *regmap_mapping_new(const struct regmap *m)
{
    unsigned lo[5] = {0, 65535, 65535, 65535, 65535}, hi[5] = {0};
    bool used[5] = {false};
    modbus_mapping_t *mb;

    for (size_t i = 0; i < m->n; i++) {
        const struct regmap_point *p = &m->points[i];
        unsigned last = p->address + p->count - 1u;

        used[p->function] = true;
        lo[p->function] = p->address < lo[p->function] ? p->address : lo[p->function];
        hi[p->function] = last > hi[p->function] ? last : hi[p->function];
    }
    for (int f = 1; f <= 4; f++) {
        if (!used[f])
            lo[f] = hi[f] = 0;
    }
    mb = modbus_mapping_new_start_address(
        lo[1], used[1] ? hi[1] - lo[1] + 1 : 0, lo[2], used[2] ? hi[2] - lo[2] + 1 : 0, lo[3],
        used[3] ? hi[3] - lo[3] + 1 : 0, lo[4], used[4] ? hi[4] - lo[4] + 1 : 0);
    if (mb == NULL)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        regmap_put_raw(mb, &m->points[i]);
    return mb;
}

static uint16_t *words_of(const modbus_mapping_t *mb, const struct regmap_point *p)
{
    if (p->function == 3)
        return &mb->tab_registers[p->address - mb->start_registers];
    return &mb->tab_input_registers[p->address - mb->start_input_registers];
}

static uint8_t *bit_of(const modbus_mapping_t *mb, const struct regmap_point *p)
{
    if (p->function == 1)
        return &mb->tab_bits[p->address - mb->start_bits];
    return &mb->tab_input_bits[p->address - mb->start_input_bits];
}

void regmap_put_raw(modbus_mapping_t *mb, const struct regmap_point *p)
{
    if (p->type == RM_BOOL) {
        *bit_of(mb, p) = p->raw[0] ? 1 : 0;
        return;
    }
    memcpy(words_of(mb, p), p->raw, p->count * sizeof(uint16_t));
}

void regmap_encode(enum regmap_type t, enum regmap_order o, double raw, uint16_t words[2])
{
    uint32_t u;

    switch (t) {
    case RM_INT16:
        words[0] = (uint16_t)(int16_t)fmin(fmax(round(raw), INT16_MIN), INT16_MAX);
        return;
    case RM_UINT16:
    case RM_BOOL:
        words[0] = (uint16_t)fmin(fmax(round(raw), 0), UINT16_MAX);
        return;
    case RM_INT32:
        u = (uint32_t)(int32_t)fmin(fmax(round(raw), INT32_MIN), INT32_MAX);
        break;
    case RM_UINT32:
        u = (uint32_t)fmin(fmax(round(raw), 0), UINT32_MAX);
        break;
    default: {
        float f = (float)raw;

        memcpy(&u, &f, sizeof(u));
        break;
    }
    }
    /* Bytes A (most significant) .. D of the value, spread per the order. */
    uint16_t ab = (uint16_t)(u >> 16), cd = (uint16_t)u;
    uint16_t ba = (uint16_t)((ab >> 8) | (ab << 8)), dc = (uint16_t)((cd >> 8) | (cd << 8));

    switch (o) {
    case RM_ABCD:
        words[0] = ab, words[1] = cd;
        break;
    case RM_CDAB:
        words[0] = cd, words[1] = ab;
        break;
    case RM_BADC:
        words[0] = ba, words[1] = dc;
        break;
    case RM_DCBA:
        words[0] = dc, words[1] = ba;
        break;
    }
}

double regmap_decode(enum regmap_type t, enum regmap_order o, const uint16_t words[2])
{
    uint16_t ab, cd;
    uint32_t u;
    float f;

    switch (t) {
    case RM_BOOL:
    case RM_UINT16:
        return words[0];
    case RM_INT16:
        return (int16_t)words[0];
    default:
        break;
    }
    switch (o) {
    case RM_ABCD:
        ab = words[0], cd = words[1];
        break;
    case RM_CDAB:
        ab = words[1], cd = words[0];
        break;
    case RM_BADC:
        ab = (uint16_t)((words[0] >> 8) | (words[0] << 8));
        cd = (uint16_t)((words[1] >> 8) | (words[1] << 8));
        break;
    default:
        ab = (uint16_t)((words[1] >> 8) | (words[1] << 8));
        cd = (uint16_t)((words[0] >> 8) | (words[0] << 8));
        break;
    }
    u = (uint32_t)ab << 16 | cd;
    if (t == RM_INT32)
        return (int32_t)u;
    if (t == RM_UINT32)
        return u;
    memcpy(&f, &u, sizeof(f));
    return f;
}

void regmap_put(modbus_mapping_t *mb, const struct regmap_point *p, double v)
{
    uint16_t w[2];

    if (p->type == RM_BOOL) {
        *bit_of(mb, p) = v != 0;
        return;
    }
    regmap_encode(p->type, p->order, p->type == RM_FLOAT32 ? v : v / p->scale, w);
    memcpy(words_of(mb, p), w, p->count * sizeof(uint16_t));
}

double regmap_get(const modbus_mapping_t *mb, const struct regmap_point *p)
{
    double raw;

    if (p->type == RM_BOOL)
        return *bit_of(mb, p);
    raw = regmap_decode(p->type, p->order, words_of(mb, p));
    return p->type == RM_FLOAT32 ? raw : raw * p->scale;
}
