/* regmap: Modbus register maps (`schema: modbus-regmap/1` JSON, see
 * tests/sim/data/README.md) and the encoding of values into registers.
 *
 * A map lists points: function (1 coils, 2 discrete inputs, 3 holding, 4
 * input registers), 0-based address, count, type (bool, int16, uint16,
 * int32, uint32, float32), byte order (AB; ABCD, CDAB, BADC, DCBA), scale
 * (engineering = raw x scale) and `raw`, the words a device returns.
 *
 * float32 is encoded here by hand: libmodbus 3.1.6's modbus_set_float_*()
 * setters are not the inverse of its getters (Debian 12, see the register
 * map notes), so a simulator built on them would serve the wrong order. */
#ifndef SIM_REGMAP_H
#define SIM_REGMAP_H

#include <stddef.h>
#include <stdint.h>

#include <modbus/modbus.h>

enum regmap_type { RM_BOOL, RM_INT16, RM_UINT16, RM_INT32, RM_UINT32, RM_FLOAT32 };
enum regmap_order { RM_ABCD, RM_CDAB, RM_BADC, RM_DCBA };

struct regmap_point {
    char *name;
    int function; /* 1..4 */
    uint16_t address;
    uint16_t count; /* 1 or 2 */
    enum regmap_type type;
    enum regmap_order order;
    double scale;
    uint16_t raw[2];
};

struct regmap {
    char *path;
    char *device_class;
    int unit_id; /* from the file, 1..247 */
    struct regmap_point *points;
    size_t n;
};

/* Loads a JSON register map. Returns 0, or -EINVAL with "path:line: why"
 * (JSON syntax) or "path: points[3].type: why" in err; -errno if unreadable.
 * *out: new; free with regmap_free. */
int regmap_load(const char *path, struct regmap **out, char *err, size_t errlen);
void regmap_free(struct regmap *m);

/* Finds a point by name; NULL if none. */
const struct regmap_point *regmap_find(const struct regmap *m, const char *name);

/* A new mapping covering every point's table range, filled with raw values.
 * Free with modbus_mapping_free. NULL on allocation failure. */
modbus_mapping_t *regmap_mapping_new(const struct regmap *m);

/* Writes engineering value v of point p into the mapping (rounded, clamped
 * to the type's range; bools are v != 0). */
void regmap_put(modbus_mapping_t *mb, const struct regmap_point *p, double v);
/* Writes the point's raw words back (the file's value). */
void regmap_put_raw(modbus_mapping_t *mb, const struct regmap_point *p);
/* Engineering value of the point as the mapping holds it now. */
double regmap_get(const modbus_mapping_t *mb, const struct regmap_point *p);

/* Encodes v (already raw units) into words per type and order. */
void regmap_encode(enum regmap_type t, enum regmap_order o, double raw, uint16_t words[2]);
/* Decodes words into a raw-units value. */
double regmap_decode(enum regmap_type t, enum regmap_order o, const uint16_t words[2]);

#endif
