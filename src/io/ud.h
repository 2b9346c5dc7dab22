/*
 * io_uring user_data encoding shared by every module that submits SQEs on a
 * worker's ring: a pointer (16-byte aligned) in the high bits, a 4-bit tag in
 * the low bits saying what completed.
 */
#ifndef RINGPAD_UD_H
#define RINGPAD_UD_H

#include <assert.h>
#include <stdint.h>

typedef enum ud_tag {
    UD_TAG_NONE = 0,          /* SQEs whose completion is ignored (cancels, close) */
    UD_TAG_ACCEPT = 1,        /* ptr: worker */
    UD_TAG_RECV = 2,          /* ptr: conn */
    UD_TAG_SEND = 3,          /* ptr: send op */
    UD_TAG_SEND_ZC = 4,       /* ptr: send op (CQE and later NOTIF CQE) */
    UD_TAG_TICK = 5,          /* ptr: worker */
    UD_TAG_MAILBOX_IN = 7,    /* ptr: mailbox_msg delivered to this ring */
    UD_TAG_MAILBOX_SENT = 8,  /* ptr: mailbox_msg posted from this ring (res < 0: not delivered) */
    UD_TAG_SHUTDOWN = 9,      /* ptr: worker (wake-up from the main thread) */
    UD_TAG_CLOSE = 10,        /* ptr: conn (socket close finished) */
    UD_TAG_STORE_WRITE = 11,  /* ptr: store_ring_io (log write) */
    UD_TAG_STORE_FSYNC = 12,  /* ptr: store_ring_io (fdatasync linked after the write) */
} ud_tag;

#define UD_TAG_MASK 0xFull
/* Bits 48..63 are free on x86-64/arm64 user space; a module may carry a small
 * number there (the mailbox: the target worker) with ud_get_high. */
#define UD_PTR_MASK 0x0000FFFFFFFFFFF0ull

static inline uint64_t ud_pack(const void *ptr, ud_tag tag) {
    assert(((uintptr_t)ptr & ~UD_PTR_MASK) == 0);
    return (uint64_t)(uintptr_t)ptr | (uint64_t)tag;
}
static inline ud_tag ud_get_tag(uint64_t ud) { return (ud_tag)(ud & UD_TAG_MASK); }
static inline void *ud_get_ptr(uint64_t ud) { return (void *)(uintptr_t)(ud & UD_PTR_MASK); }
static inline uint64_t ud_with_high(uint64_t ud, uint16_t high) { return ud | ((uint64_t)high << 48); }
static inline uint16_t ud_get_high(uint64_t ud) { return (uint16_t)(ud >> 48); }

#endif /* RINGPAD_UD_H */
