/* mb_decode: values from raw register words; see mb_decode.h for why
 * this does not use libmodbus's float helpers. */
#include "mb_decode.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>

const char *const mb_type_names[] = {
    [MB_TYPE_BOOL] = "bool",   [MB_TYPE_INT16] = "int16",   [MB_TYPE_UINT16] = "uint16",
    [MB_TYPE_INT32] = "int32", [MB_TYPE_UINT32] = "uint32", [MB_TYPE_FLOAT32] = "float32",
    [MB_TYPE_INT64] = "int64", [MB_TYPE_UINT64] = "uint64", [MB_TYPE_FLOAT64] = "float64",
    [MB_TYPE_COUNT_] = NULL,
};

const char *const mb_order_names[] = {
    [MB_ORDER_ABCD] = "ABCD", [MB_ORDER_CDAB] = "CDAB", [MB_ORDER_BADC] = "BADC",
    [MB_ORDER_DCBA] = "DCBA", [MB_ORDER_COUNT_] = NULL,
};

unsigned mb_type_words(enum mb_type type)
{
    switch (type) {
    case MB_TYPE_INT32:
    case MB_TYPE_UINT32:
    case MB_TYPE_FLOAT32:
        return 2;
    case MB_TYPE_INT64:
    case MB_TYPE_UINT64:
    case MB_TYPE_FLOAT64:
        return 4;
    default:
        return 1;
    }
}

bool mb_type_is_integer(enum mb_type type)
{
    switch (type) {
    case MB_TYPE_INT16:
    case MB_TYPE_UINT16:
    case MB_TYPE_INT32:
    case MB_TYPE_UINT32:
    case MB_TYPE_INT64:
    case MB_TYPE_UINT64:
        return true;
    default:
        return false;
    }
}

static bool order_swaps_bytes(enum mb_order order)
{
    return order == MB_ORDER_BADC || order == MB_ORDER_DCBA;
}

static bool order_swaps_words(enum mb_order order)
{
    return order == MB_ORDER_CDAB || order == MB_ORDER_DCBA;
}

static uint16_t swap16(uint16_t w)
{
    return (uint16_t)((w << 8) | (w >> 8));
}

/* Word i of the value in logical (big-endian, ABCD) order, taken from the
 * device's words. Both swaps are involutions and commute, so the same
 * mapping serves encoding. */
static uint16_t logical_word(const uint16_t *words, unsigned k, unsigned i, enum mb_order order)
{
    uint16_t w = words[order_swaps_words(order) ? k - 1 - i : i];

    return order_swaps_bytes(order) ? swap16(w) : w;
}

int mb_decode_value(enum mb_type type, enum mb_order order, int bit, const uint16_t *words,
                    size_t n, struct mb_value *out)
{
    unsigned k = mb_type_words(type);
    uint64_t bits = 0;
    float f32;
    double f64;
    uint32_t u32;

    if ((unsigned)type >= MB_TYPE_COUNT_ || (unsigned)order >= MB_ORDER_COUNT_ || bit > 15)
        return -EINVAL;
    if (n < k)
        return -EMSGSIZE;
    for (unsigned i = 0; i < k; i++)
        bits = (bits << 16) | logical_word(words, k, i, order);

    memset(out, 0, sizeof(*out));
    out->exact = true;
    switch (type) {
    case MB_TYPE_BOOL:
        /* A coil arrives as one word 0/1; a bit-in-register picks its bit
         * from the register as the device sent it (byte order does not
         * renumber bits: bit 0 is the least significant of the word). */
        bits = bit < 0 ? (words[0] != 0) : ((words[0] >> bit) & 1u);
        out->i64 = (int64_t)bits;
        out->raw = (double)bits;
        break;
    case MB_TYPE_INT16:
        out->i64 = (int16_t)bits;
        out->raw = (double)out->i64;
        break;
    case MB_TYPE_INT32:
        out->i64 = (int32_t)(uint32_t)bits;
        out->raw = (double)out->i64;
        break;
    case MB_TYPE_INT64:
        out->i64 = (int64_t)bits;
        out->raw = (double)out->i64;
        out->exact = out->i64 >= -(INT64_C(1) << 53) && out->i64 <= (INT64_C(1) << 53);
        break;
    case MB_TYPE_UINT16:
    case MB_TYPE_UINT32:
        out->i64 = (int64_t)bits;
        out->raw = (double)bits;
        break;
    case MB_TYPE_UINT64:
        out->i64 = bits > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)bits;
        out->raw = (double)bits;
        out->exact = bits <= (UINT64_C(1) << 53);
        break;
    case MB_TYPE_FLOAT32:
        u32 = (uint32_t)bits;
        memcpy(&f32, &u32, sizeof(f32));
        out->raw = f32;
        break;
    case MB_TYPE_FLOAT64:
        memcpy(&f64, &bits, sizeof(f64));
        out->raw = f64;
        break;
    default:
        return -EINVAL;
    }
    out->bits = bits;
    return 0;
}

double mb_decode_scale(const struct mb_value *v, double scale, double offset)
{
    return v->raw * scale + offset;
}

bool mb_decode_bit(const struct mb_value *v, unsigned n)
{
    return n < 64 && ((v->bits >> n) & 1u);
}

int mb_encode_bits(enum mb_type type, enum mb_order order, uint64_t bits, uint16_t *words)
{
    unsigned k = mb_type_words(type);
    uint16_t logical[4];

    if ((unsigned)type >= MB_TYPE_COUNT_ || (unsigned)order >= MB_ORDER_COUNT_)
        return -EINVAL;
    for (unsigned i = 0; i < k; i++)
        logical[i] = (uint16_t)(bits >> (16 * (k - 1 - i)));
    for (unsigned i = 0; i < k; i++)
        words[i] = logical_word(logical, k, i, order);
    return 0;
}

int mb_type_parse(const char *name)
{
    for (int i = 0; mb_type_names[i] != NULL; i++)
        if (strcmp(name, mb_type_names[i]) == 0)
            return i;
    return -EINVAL;
}

int mb_order_parse(const char *name)
{
    if (strcasecmp(name, "AB") == 0)
        return MB_ORDER_ABCD;
    if (strcasecmp(name, "BA") == 0)
        return MB_ORDER_BADC;
    for (int i = 0; mb_order_names[i] != NULL; i++)
        if (strcasecmp(name, mb_order_names[i]) == 0)
            return i;
    return -EINVAL;
}
