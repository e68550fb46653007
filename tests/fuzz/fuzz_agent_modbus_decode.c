/* Fuzz target for mb_decode: byte 0 picks the type, byte 1 the order,
 * byte 2 the bit (signed), the rest are register words (big-endian pairs,
 * possibly fewer than the type needs). Checks that decoding never reads past
 * the words given and that encoding the decoded bits gives the words back. */
#include "mb_decode.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint16_t *words;
    uint16_t back[4];
    struct mb_value v;
    size_t n;
    int rc, type, order, bit;

    if (size < 3)
        return 0;
    type = data[0] % (MB_TYPE_COUNT_ + 1);
    order = data[1] % (MB_ORDER_COUNT_ + 1);
    bit = (int8_t)data[2];
    n = (size - 3) / 2;
    /* An exact-size heap copy so AddressSanitizer sees any overread. */
    words = malloc(n ? n * sizeof(*words) : 1);
    if (words == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        words[i] = (uint16_t)(data[3 + 2 * i] << 8 | data[4 + 2 * i]);
    rc = mb_decode_value(type, order, bit, words, n, &v);
    if (rc == 0 && type != MB_TYPE_BOOL) {
        if (mb_encode_bits(type, order, v.bits, back) != 0 ||
            memcmp(back, words, mb_type_words(type) * sizeof(uint16_t)) != 0)
            abort();
    } else if (rc != 0 && rc != -EINVAL && rc != -EMSGSIZE) {
        abort();
    }
    free(words);
    return 0;
}
