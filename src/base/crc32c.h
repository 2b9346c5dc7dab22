/*
 * CRC32C (Castagnoli), the checksum of ringpad's log records and snapshots.
 * crc32c("123456789") == 0xE3069283. Chaining: crc32c_update(crc32c(a), b)
 * == crc32c(a || b). Start a fresh checksum with crc = 0.
 */
#ifndef RINGPAD_CRC32C_H
#define RINGPAD_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Picks the SSE4.2 instruction when the CPU has it, else the table. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len_bytes);
uint32_t crc32c(const void *data, size_t len_bytes);

/* The two implementations, exposed so tests can check they agree.
 * crc32c_update_hw falls back to the table when the CPU lacks SSE4.2. */
uint32_t crc32c_update_sw(uint32_t crc, const void *data, size_t len_bytes);
uint32_t crc32c_update_hw(uint32_t crc, const void *data, size_t len_bytes);
bool crc32c_hw_available(void);

#endif /* RINGPAD_CRC32C_H */
