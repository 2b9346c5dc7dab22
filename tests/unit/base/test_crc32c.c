#include <criterion/criterion.h>
#include <string.h>

#include "base/crc32c.h"

Test(crc32c, check_vector) {
    cr_assert_eq(crc32c("123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32c_update_sw(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32c_update_hw(0, "123456789", 9), 0xE3069283u);
}

Test(crc32c, empty_is_zero) {
    cr_assert_eq(crc32c("", 0), 0u);
}

/* RFC 3720 (iSCSI) B.4 vectors. */
Test(crc32c, iscsi_vectors) {
    unsigned char buf[32];
    memset(buf, 0, sizeof buf);
    cr_assert_eq(crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, sizeof buf);
    cr_assert_eq(crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    cr_assert_eq(crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    cr_assert_eq(crc32c(buf, 32), 0x113FDB5Cu);
}

Test(crc32c, hw_and_sw_agree_on_every_length_and_alignment) {
    unsigned char buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t start = 0; start < 9; start++)
        for (size_t len = 0; len + start <= sizeof buf; len += 7)
            cr_assert_eq(crc32c_update_hw(0, buf + start, len),
                         crc32c_update_sw(0, buf + start, len),
                         "start %zu len %zu", start, len);
}

Test(crc32c, chaining_equals_one_shot) {
    const char *text = "The quick brown fox jumps over the lazy dog, many times over and over.";
    size_t len = strlen(text);
    uint32_t whole = crc32c(text, len);
    for (size_t cut = 0; cut <= len; cut++)
        cr_assert_eq(crc32c_update(crc32c(text, cut), text + cut, len - cut), whole);
}
