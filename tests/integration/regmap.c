/* regmap: see regmap.h. */
#include "regmap.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int regmap_load(const char *path, struct regmap *map)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr), *pts, *pt;
    size_t i;

    memset(map, 0, sizeof(*map));
    if (root == NULL) {
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
        return -EINVAL;
    }
    pts = json_object_get(root, "points");
    map->unit_id = (int)json_integer_value(json_object_get(root, "unit_id"));
    map->n = json_array_size(pts);
    map->pts = calloc(map->n ? map->n : 1, sizeof(*map->pts));
    map->where = calloc(map->n ? map->n : 1, sizeof(*map->where));
    json_array_foreach(pts, i, pt)
    {
        struct regmap_point *p = &map->pts[i];
        const char *order = json_string_value(json_object_get(pt, "byte_order"));
        json_t *v = json_object_get(pt, "value"), *scale = json_object_get(pt, "scale");

        snprintf(p->name, sizeof(p->name), "%s", json_string_value(json_object_get(pt, "name")));
        p->where.function = (uint8_t)json_integer_value(json_object_get(pt, "function"));
        p->where.address = (uint16_t)json_integer_value(json_object_get(pt, "address"));
        p->where.count = (uint16_t)json_integer_value(json_object_get(pt, "count"));
        p->type = mb_type_parse(json_string_value(json_object_get(pt, "type")));
        p->order = order ? mb_order_parse(order) : MB_ORDER_ABCD;
        p->scale = scale ? json_number_value(scale) : 1.0;
        p->value = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
        if (p->type < 0 || p->order < 0) {
            fprintf(stderr, "%s: %s: bad type or order\n", path, p->name);
            json_decref(root);
            regmap_free(map);
            return -EINVAL;
        }
        map->where[i] = p->where;
    }
    json_decref(root);
    return 0;
}

void regmap_free(struct regmap *map)
{
    free(map->pts);
    free(map->where);
    memset(map, 0, sizeof(*map));
}
