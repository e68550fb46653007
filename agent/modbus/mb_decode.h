/* mb_decode: fieldmon's own decoding of Modbus values from raw 16-bit
 * register words (or coil / discrete-input bits).
 *
 * Why hand-written: libmodbus ships float getters (modbus_get_float_abcd ..),
 * but their behaviour changed between releases (upstream issues #611, #665,
 * #838; the setters of Debian 12's 3.1.6 are not the inverse of the getters)
 * and there are none for 64-bit values. Assembling bytes from words is a few
 * shifts; owning it means one tested definition of every order.
 *
 * Orders name where the bytes A (most significant) .. D land in the words as
 * the device returns them (Modbus words are big-endian on the wire, "AB"):
 *   ABCD  big-endian, high word first (the Modbus convention)
 *   CDAB  word-swapped, "low word first"
 *   BADC  bytes swapped within each word, high word first
 *   DCBA  fully little-endian
 * The same four names apply to 64-bit values (ABCD = A..H big-endian,
 * CDAB = words in reverse order, BADC = bytes swapped in each word, DCBA =
 * both). For 16-bit values only the byte swap matters: ABCD/CDAB read "AB",
 * BADC/DCBA read "BA".
 *
 * Pure functions; callable from any thread. */
#ifndef AGENT_MODBUS_DECODE_H
#define AGENT_MODBUS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mb_type {
    MB_TYPE_BOOL, /* a coil / discrete input, or one bit of a register (bit >= 0) */
    MB_TYPE_INT16,
    MB_TYPE_UINT16,
    MB_TYPE_INT32,
    MB_TYPE_UINT32,
    MB_TYPE_FLOAT32,
    MB_TYPE_INT64,
    MB_TYPE_UINT64,
    MB_TYPE_FLOAT64,
    MB_TYPE_COUNT_,
};

enum mb_order {
    MB_ORDER_ABCD,
    MB_ORDER_CDAB,
    MB_ORDER_BADC,
    MB_ORDER_DCBA,
    MB_ORDER_COUNT_,
};

/* Names as written in configuration ("float32", "CDAB"); NULL-terminated,
 * indexed by the enums above. */
extern const char *const mb_type_names[];
extern const char *const mb_order_names[];

/* Number of 16-bit registers a type occupies (1 for bool and 16-bit types). */
unsigned mb_type_words(enum mb_type type);

/* True for the types read from registers as a whole number (not float, not bool). */
bool mb_type_is_integer(enum mb_type type);

/* One decoded value. `raw` is the number as the device reported it (before
 * scale and offset); `bits` is the value's bit pattern in logical (ABCD)
 * order, zero-extended: for integers the two's-complement pattern, for floats
 * the IEEE-754 pattern. `exact` is false when an int64/uint64 does not fit a
 * double exactly (|v| > 2^53). */
struct mb_value {
    double raw;
    uint64_t bits;
    int64_t i64; /* signed view of integer types (uint64 above INT64_MAX: saturated) */
    bool exact;
};

/* Assembles the value of `type` from words[0..n-1] in `order`. For
 * MB_TYPE_BOOL, `bit` selects a bit 0..15 of words[0] (bit-in-register) or,
 * when bit < 0, the value is words[0] != 0 (coils and discrete inputs are
 * handed over as one word 0/1 per bit). Returns 0, or -EINVAL for an unknown
 * type/order or bit > 15, -EMSGSIZE when n is smaller than the type needs
 * (never reads past words[n-1]). Borrows words. */
int mb_decode_value(enum mb_type type, enum mb_order order, int bit, const uint16_t *words,
                    size_t n, struct mb_value *out);

/* Engineering value: raw * scale + offset. */
double mb_decode_scale(const struct mb_value *v, double scale, double offset);

/* Bit n (0 = least significant) of a value's pattern; false for n >= 64. */
bool mb_decode_bit(const struct mb_value *v, unsigned n);

/* Encodes a value's logical bit pattern `bits` (the low 16 * words bits) into
 * registers in `order`: the inverse of mb_decode_value's assembly. Used by
 * tests and simulators to serve values, so they never depend on libmodbus's
 * setters. words must hold mb_type_words(type) entries. Returns 0 or -EINVAL. */
int mb_encode_bits(enum mb_type type, enum mb_order order, uint64_t bits, uint16_t *words);

/* Parses a type or order name (case-sensitive for types, case-insensitive for
 * orders; "AB" and "BA" are accepted as ABCD and BADC). Returns the enum value
 * or -EINVAL. */
int mb_type_parse(const char *name);
int mb_order_parse(const char *name);

#endif
