/*
 * permessage-deflate (RFC 7692) on zlib raw deflate streams: negotiation of
 * the Sec-WebSocket-Extensions offer, and per-connection inflater/deflater.
 *
 * Prefix pmd_ ("permessage-deflate"): deflate_* is zlib's namespace.
 */
#ifndef RINGPAD_DEFLATE_H
#define RINGPAD_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

typedef enum pmd_err {
    PMD_ERR_DATA = -1,                  /* corrupt compressed data */
    PMD_ERR_TOO_BIG = -2,               /* inflated size over the limit */
    PMD_ERR_NOMEM = -3,
    PMD_ERR_NOBUFS = -4,                /* output buffer too small (deflate) */
    PMD_ERR_ZLIB = -5,                  /* zlib refused the parameters */
} pmd_err;

const char *pmd_err_str(int err);

/* The server's side of the negotiation. */
typedef struct pmd_config {
    bool enable;                        /* false: never negotiate */
    bool server_no_context_takeover;    /* always reset our deflater per message (less memory) */
    bool client_no_context_takeover;    /* ask the client to reset per message */
    uint8_t server_max_window_bits;     /* our deflater window, 9..15 */
    uint8_t client_max_window_bits;     /* asked of the client when it allows it, 8..15 */
    int level;                          /* zlib level 1..9 */
    int mem_level;                      /* zlib memLevel 1..9 (deflater memory) */
    size_t compress_min_bytes;          /* outgoing messages below this go uncompressed */
} pmd_config;

/* enable, windows 15/15, context takeover on both sides, level 1 (JSON ops are
 * short: speed over ratio), memLevel 8, compress_min_bytes 128. */
pmd_config pmd_config_default(void);

/* What was agreed for one connection. */
typedef struct pmd_params {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    uint8_t server_max_window_bits;     /* 8..15 (15 when not mentioned) */
    uint8_t client_max_window_bits;     /* 8..15 (15 when not mentioned) */
    bool server_max_window_bits_sent;   /* include in the response */
    bool client_max_window_bits_sent;
} pmd_params;

/* Looks at one Sec-WebSocket-Extensions header value (a list of offers) and
 * accepts the first permessage-deflate offer whose parameters are all known,
 * unique and in range (RFC 7692 7.1). Returns 1 and fills *out when one was
 * accepted, 0 when none was (including a malformed list), never an error:
 * a bad offer is declined, the connection goes on uncompressed. */
int pmd_negotiate(const char *value, size_t value_len, const pmd_config *cfg, pmd_params *out);

/* The Sec-WebSocket-Extensions response value for `p` into `out` (NUL-ended).
 * Returns its length, or PMD_ERR_NOBUFS. */
int pmd_format_response(const pmd_params *p, char *out, size_t cap);

/* ---- inflater: the receiving side of one connection --------------------------- */

typedef struct pmd_inflater {
    z_stream z;
    bool ready;                         /* zlib state allocated (lazily, first message) */
    bool no_context_takeover;           /* reset after every message */
    int window_bits;                    /* 8..15 */
} pmd_inflater;

void pmd_inflater_init(pmd_inflater *inf, int window_bits, bool no_context_takeover);
void pmd_inflater_free(pmd_inflater *inf);

/* Inflates one piece of a compressed message, appending the output to
 * (*out, *out_len, *out_cap), a malloc'd buffer grown by doubling and never
 * beyond max_bytes (+1 probe byte), so a zip bomb stops at the limit with
 * PMD_ERR_TOO_BIG. `end_of_message` appends the stripped 00 00 ff ff tail and
 * resets the stream when no_context_takeover. Returns 0 or a negative pmd_err;
 * after an error the inflater must not be used again (the connection fails). */
int pmd_inflate(pmd_inflater *inf, const uint8_t *in, size_t in_len, bool end_of_message,
                uint8_t **out, size_t *out_len, size_t *out_cap, size_t max_bytes);

/* ---- deflater: the sending side of one connection ----------------------------- */

typedef struct pmd_deflater {
    z_stream z;
    bool ready;
    bool no_context_takeover;
    int window_bits;                    /* zlib's: 9..15 */
    int level;
    int mem_level;
    size_t compress_min_bytes;
} pmd_deflater;

/* window_bits 8 is compressed with 9 (zlib refuses 8 for raw deflate); safe
 * because zlib never emits a distance beyond window - 262 = 250 < 256. */
void pmd_deflater_init(pmd_deflater *d, int window_bits, int level, int mem_level,
                       bool no_context_takeover, size_t compress_min_bytes);
void pmd_deflater_free(pmd_deflater *d);

/* True when a message of `len` bytes is worth compressing. */
bool pmd_should_compress(const pmd_deflater *d, size_t len);

/* Room enough in `out` for pmd_deflate_message of `len` bytes. */
size_t pmd_deflate_bound(size_t len);

/* Compresses one whole message into `out` (tail stripped, ready for a frame
 * with RSV1). Returns the compressed length, or a negative pmd_err; on
 * PMD_ERR_NOBUFS the deflater was reset and the message can go uncompressed. */
int64_t pmd_deflate_message(pmd_deflater *d, const uint8_t *in, size_t len, uint8_t *out,
                            size_t cap);

/* Drops the compression context (the next message starts fresh). Always safe
 * for the peer: its inflater keeps history we simply stop referring to. */
void pmd_deflater_reset(pmd_deflater *d);

/* Inflater/deflater for the server end of a negotiated connection. */
void pmd_server_init(const pmd_params *p, const pmd_config *cfg, pmd_inflater *inf,
                     pmd_deflater *def);

#endif /* RINGPAD_DEFLATE_H */
