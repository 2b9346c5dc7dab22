// fuzz-sources: src/ws/ws.c src/base/utf8.c src/ws/deflate.c
/*
 * Fuzz target for ws_reader: the first input byte picks the configuration
 * (server/client role, deflate on/off, a small or default message limit, the
 * chunk size the rest of the input is fed in); the rest is the byte stream.
 * Checks the reader's own promises: consumed <= offered, events carry sane
 * fields, text messages are valid UTF-8, messages stay under the limit, and a
 * failed reader repeats its error without consuming.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "ws/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t knobs = data[0];
    data++;
    size--;
    static const size_t steps[4] = { 1, 3, 64, SIZE_MAX };
    size_t step = steps[knobs & 3];
    bool server = !(knobs & 4);
    bool deflate = knobs & 8;
    size_t max = (knobs & 16) ? 300 : WS_DEFAULT_MAX_MESSAGE_BYTES;

    pmd_inflater inf;
    pmd_inflater_init(&inf, 15, knobs & 32);
    ws_reader r;
    ws_reader_config cfg = { .max_message_bytes = max, .expect_masked = server,
                             .inflater = deflate ? &inf : NULL };
    ws_reader_init(&r, &cfg);

    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    size_t off = 0;
    bool failed = false;
    /* Bounded: every non-final pass consumes a byte or yields an event, and
     * events need at least 2 header bytes each. */
    for (size_t guard = 0; guard <= 2 * size + 4 && off < size && !failed; guard++) {
        size_t piece = size - off < step ? size - off : step;
        ws_event ev;
        size_t n = ws_reader_feed(&r, buf + off, piece, &ev);
        if (n > piece)
            abort();
        off += n;
        switch (ev.type) {
        case WS_EV_NONE:
            if (n != piece)
                abort();
            break;
        case WS_EV_MESSAGE:
            if (ev.len > max || (ev.opcode != WS_OP_TEXT && ev.opcode != WS_OP_BINARY))
                abort();
            if (ev.opcode == WS_OP_TEXT && !utf8_validate(ev.data, ev.len))
                abort();
            break;
        case WS_EV_PING:
        case WS_EV_PONG:
            if (ev.len > WS_MAX_CONTROL_PAYLOAD_BYTES)
                abort();
            break;
        case WS_EV_CLOSE:
            if (ev.close_code != WS_CLOSE_NO_STATUS && !ws_close_code_is_valid(ev.close_code))
                abort();
            break;
        case WS_EV_ERROR: {
            uint16_t code = ev.close_code;
            if (code != 1002 && code != 1007 && code != 1009 && code != 1011)
                abort();
            ws_event again;
            if (ws_reader_feed(&r, buf, size, &again) != 0 || again.type != WS_EV_ERROR ||
                again.err != ev.err)
                abort();
            failed = true;
            break;
        }
        }
    }
    free(buf);
    ws_reader_free(&r);
    pmd_inflater_free(&inf);
    return 0;
}
