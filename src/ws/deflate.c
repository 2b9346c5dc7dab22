/*
 * permessage-deflate (RFC 7692): negotiation and zlib raw-deflate streams.
 */
#include "ws/deflate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PMD_MAX_OFFERS 16               /* offers looked at per header value */
#define PMD_MAX_PARAMS 16               /* parameters looked at per offer */
#define PMD_MAX_VALUE_BYTES 16          /* longest parameter value we accept */
#define PMD_MIN_GROW_BYTES 256

static const uint8_t pmd_tail[4] = { 0x00, 0x00, 0xff, 0xff };

const char *pmd_err_str(int err) {
    switch (err) {
    case 0: return "ok";
    case PMD_ERR_DATA: return "corrupt compressed data";
    case PMD_ERR_TOO_BIG: return "inflated message too big";
    case PMD_ERR_NOMEM: return "out of memory";
    case PMD_ERR_NOBUFS: return "output buffer too small";
    case PMD_ERR_ZLIB: return "zlib refused the parameters";
    default: return "unknown permessage-deflate error";
    }
}

pmd_config pmd_config_default(void) {
    return (pmd_config){
        .enable = true,
        .server_no_context_takeover = false,
        .client_no_context_takeover = false,
        .server_max_window_bits = 15,
        .client_max_window_bits = 15,
        .level = 1,
        .mem_level = 8,
        .compress_min_bytes = 128,
    };
}

/* ---- negotiation ---------------------------------------------------------------- */

typedef struct cursor {
    const char *p;
    const char *end;
} cursor;

static bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void skip_ows(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static bool parse_token(cursor *c, const char **tok, size_t *tok_len) {
    const char *start = c->p;
    while (c->p < c->end && is_tchar(*c->p))
        c->p++;
    *tok = start;
    *tok_len = (size_t)(c->p - start);
    return *tok_len > 0;
}

/* token or quoted-string, unescaped into `out`; false on bad syntax. A value
 * too long for `out` parses but comes back with *len = SIZE_MAX (so the
 * parameter is rejected while the list stays parseable). */
static bool parse_value(cursor *c, char out[PMD_MAX_VALUE_BYTES], size_t *len) {
    size_t n = 0;
    bool overflow = false;
    if (c->p < c->end && *c->p == '"') {
        c->p++;
        for (;;) {
            if (c->p >= c->end)
                return false;
            char ch = *c->p++;
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (c->p >= c->end)
                    return false;
                ch = *c->p++;
            }
            if (n < PMD_MAX_VALUE_BYTES)
                out[n++] = ch;
            else
                overflow = true;
        }
        /* RFC 6455 9.1: a quoted value must still be a token once unquoted. */
        for (size_t i = 0; i < n; i++)
            if (!is_tchar(out[i]))
                overflow = true;
        if (n == 0)
            overflow = true;
    } else {
        const char *tok;
        size_t tok_len;
        if (!parse_token(c, &tok, &tok_len))
            return false;
        if (tok_len > PMD_MAX_VALUE_BYTES)
            overflow = true;
        else
            memcpy(out, tok, tok_len);
        n = tok_len;
    }
    *len = overflow ? SIZE_MAX : n;
    return true;
}

static bool tok_eq(const char *tok, size_t len, const char *lit) {
    return strlen(lit) == len && strncasecmp(tok, lit, len) == 0;
}

/* "8".."15", no sign, no leading zero. */
static int parse_window_bits(const char *v, size_t len) {
    if (len == 1 && (v[0] == '8' || v[0] == '9'))
        return v[0] - '0';
    if (len == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + (v[1] - '0');
    return -1;
}

typedef struct offer {
    bool ok;
    bool seen_snct, seen_cnct, seen_smwb, seen_cmwb;
    int smwb;                           /* -1 when absent */
    int cmwb;                           /* 0 when given without value, -1 absent */
} offer;

static void offer_param(offer *o, const char *name, size_t name_len, bool has_value,
                        const char *value, size_t value_len) {
    if (tok_eq(name, name_len, "server_no_context_takeover")) {
        if (o->seen_snct || has_value)
            o->ok = false;
        o->seen_snct = true;
    } else if (tok_eq(name, name_len, "client_no_context_takeover")) {
        if (o->seen_cnct || has_value)
            o->ok = false;
        o->seen_cnct = true;
    } else if (tok_eq(name, name_len, "server_max_window_bits")) {
        int bits = has_value ? parse_window_bits(value, value_len) : -1;
        if (o->seen_smwb || bits < 0)
            o->ok = false;
        o->seen_smwb = true;
        o->smwb = bits;
    } else if (tok_eq(name, name_len, "client_max_window_bits")) {
        int bits = has_value ? parse_window_bits(value, value_len) : 0;
        if (o->seen_cmwb || bits < 0)
            o->ok = false;
        o->seen_cmwb = true;
        o->cmwb = bits;
    } else {
        o->ok = false;                  /* unknown parameter: decline this offer */
    }
}

static uint8_t min_bits(int a, int b) {
    return (uint8_t)(a < b ? a : b);
}

static void accept_offer(const offer *o, const pmd_config *cfg, pmd_params *out) {
    int server_cap = cfg->server_max_window_bits >= 8 && cfg->server_max_window_bits <= 15
                         ? cfg->server_max_window_bits : 15;
    int client_cap = cfg->client_max_window_bits >= 8 && cfg->client_max_window_bits <= 15
                         ? cfg->client_max_window_bits : 15;
    memset(out, 0, sizeof *out);
    out->server_no_context_takeover = o->seen_snct || cfg->server_no_context_takeover;
    out->client_no_context_takeover = o->seen_cnct || cfg->client_no_context_takeover;
    /* The client caps our window: answer with the same or a smaller value. */
    out->server_max_window_bits = o->seen_smwb ? min_bits(o->smwb, server_cap) : 15;
    out->server_max_window_bits_sent = o->seen_smwb;
    /* The client lets us cap its window: say how far (it must honour it). */
    if (o->seen_cmwb) {
        out->client_max_window_bits = min_bits(o->cmwb > 0 ? o->cmwb : 15, client_cap);
        out->client_max_window_bits_sent = true;
    } else {
        out->client_max_window_bits = 15;
    }
}

int pmd_negotiate(const char *value, size_t value_len, const pmd_config *cfg, pmd_params *out) {
    if (!cfg->enable || value == NULL)
        return 0;
    cursor c = { value, value + value_len };
    for (int count_offers = 0; count_offers < PMD_MAX_OFFERS; count_offers++) {
        const char *name;
        size_t name_len;
        skip_ows(&c);
        if (!parse_token(&c, &name, &name_len))
            return 0;
        offer o = { .ok = tok_eq(name, name_len, "permessage-deflate"), .smwb = -1, .cmwb = -1 };
        int count_params = 0;
        for (;;) {
            skip_ows(&c);
            if (c.p >= c.end || *c.p != ';')
                break;
            c.p++;
            skip_ows(&c);
            const char *pname;
            size_t pname_len;
            if (!parse_token(&c, &pname, &pname_len))
                return 0;
            skip_ows(&c);
            char v[PMD_MAX_VALUE_BYTES];
            size_t v_len = 0;
            bool has_value = false;
            if (c.p < c.end && *c.p == '=') {
                c.p++;
                skip_ows(&c);
                if (!parse_value(&c, v, &v_len))
                    return 0;
                has_value = true;
            }
            if (++count_params > PMD_MAX_PARAMS) {
                o.ok = false;
            } else if (o.ok) {
                if (has_value && v_len == SIZE_MAX)
                    o.ok = false;
                else
                    offer_param(&o, pname, pname_len, has_value, v, v_len);
            }
        }
        if (c.p < c.end && *c.p != ',')
            return 0;                   /* malformed list: accept nothing */
        if (o.ok) {
            accept_offer(&o, cfg, out);
            return 1;
        }
        if (c.p >= c.end)
            return 0;
        c.p++;                          /* ',' */
    }
    return 0;
}

int pmd_format_response(const pmd_params *p, char *out, size_t cap) {
    char smwb[40] = "", cmwb[40] = "";
    if (p->server_max_window_bits_sent)
        snprintf(smwb, sizeof smwb, "; server_max_window_bits=%u", p->server_max_window_bits);
    if (p->client_max_window_bits_sent)
        snprintf(cmwb, sizeof cmwb, "; client_max_window_bits=%u", p->client_max_window_bits);
    int n = snprintf(out, cap, "permessage-deflate%s%s%s%s",
                     p->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     p->client_no_context_takeover ? "; client_no_context_takeover" : "",
                     smwb, cmwb);
    if (n < 0 || (size_t)n >= cap)
        return PMD_ERR_NOBUFS;
    return n;
}

/* ---- inflater ------------------------------------------------------------------- */

void pmd_inflater_init(pmd_inflater *inf, int window_bits, bool no_context_takeover) {
    memset(inf, 0, sizeof *inf);
    inf->window_bits = window_bits >= 8 && window_bits <= 15 ? window_bits : 15;
    inf->no_context_takeover = no_context_takeover;
}

void pmd_inflater_free(pmd_inflater *inf) {
    if (inf->ready)
        inflateEnd(&inf->z);
    inf->ready = false;
}

static int inflater_ready(pmd_inflater *inf) {
    if (inf->ready)
        return 0;
    memset(&inf->z, 0, sizeof inf->z);
    int rc = inflateInit2(&inf->z, -inf->window_bits);
    if (rc == Z_MEM_ERROR)
        return PMD_ERR_NOMEM;
    if (rc != Z_OK)
        return PMD_ERR_ZLIB;
    inf->ready = true;
    return 0;
}

/* Room for at least one more byte, doubling, never past limit_bytes. */
static int grow(uint8_t **buf, size_t len, size_t *cap, size_t limit_bytes) {
    if (len < *cap)
        return 0;
    if (*cap >= limit_bytes)
        return PMD_ERR_TOO_BIG;
    size_t want = *cap < PMD_MIN_GROW_BYTES ? PMD_MIN_GROW_BYTES : *cap * 2;
    if (want > limit_bytes)
        want = limit_bytes;
    uint8_t *p = realloc(*buf, want);
    if (p == NULL)
        return PMD_ERR_NOMEM;
    *buf = p;
    *cap = want;
    return 0;
}

/* Runs inflate over [in, in+len); *stream_end once the deflate stream ended (BFINAL). */
static int inflate_some(pmd_inflater *inf, const uint8_t *in, size_t len, uint8_t **out,
                        size_t *out_len, size_t *out_cap, size_t max_bytes, bool *stream_end) {
    /* One byte past the limit is the proof of a too-big message. */
    size_t limit = max_bytes + 1;
    inf->z.next_in = (Bytef *)(uintptr_t)in;
    /* Ends: each pass consumes input or produces output, and output is bounded. */
    for (;;) {
        if (inf->z.avail_in == 0) {
            size_t n = len > UINT_MAX ? UINT_MAX : len;
            inf->z.avail_in = (uInt)n;
            len -= n;
        }
        int rc = grow(out, *out_len, out_cap, limit);
        if (rc < 0)
            return rc;
        size_t room = *out_cap - *out_len;
        if (room > UINT_MAX)
            room = UINT_MAX;
        inf->z.next_out = *out + *out_len;
        inf->z.avail_out = (uInt)room;
        rc = inflate(&inf->z, Z_SYNC_FLUSH);
        *out_len += room - inf->z.avail_out;
        if (*out_len > max_bytes)
            return PMD_ERR_TOO_BIG;
        if (rc == Z_STREAM_END) {
            /* BFINAL: the rest of this message (e.g. the tail we append) is ignored. */
            *stream_end = true;
            inf->z.avail_in = 0;
            return 0;
        }
        if (rc == Z_MEM_ERROR)
            return PMD_ERR_NOMEM;
        if (rc == Z_BUF_ERROR) {
            if (inf->z.avail_out == 0)
                continue;               /* out of room: grow and go on */
            if (inf->z.avail_in == 0 && len == 0)
                break;                  /* all input used, nothing pending */
            return PMD_ERR_DATA;
        }
        if (rc != Z_OK)
            return PMD_ERR_DATA;
        if (inf->z.avail_in == 0 && len == 0 && inf->z.avail_out > 0)
            break;
    }
    return 0;
}

int pmd_inflate(pmd_inflater *inf, const uint8_t *in, size_t in_len, bool end_of_message,
                uint8_t **out, size_t *out_len, size_t *out_cap, size_t max_bytes) {
    int rc = inflater_ready(inf);
    if (rc < 0)
        return rc;
    bool stream_end = false;
    if (in_len > 0)
        rc = inflate_some(inf, in, in_len, out, out_len, out_cap, max_bytes, &stream_end);
    if (rc == 0 && end_of_message && !stream_end)
        rc = inflate_some(inf, pmd_tail, sizeof pmd_tail, out, out_len, out_cap, max_bytes,
                          &stream_end);
    if (rc < 0)
        return rc;
    if (stream_end || (end_of_message && inf->no_context_takeover)) {
        if (inflateReset(&inf->z) != Z_OK)
            return PMD_ERR_ZLIB;
    }
    return 0;
}

/* ---- deflater ------------------------------------------------------------------- */

void pmd_deflater_init(pmd_deflater *d, int window_bits, int level, int mem_level,
                       bool no_context_takeover, size_t compress_min_bytes) {
    memset(d, 0, sizeof *d);
    if (window_bits < 9)
        window_bits = 9;                /* zlib: raw deflate has no 256-byte window */
    if (window_bits > 15)
        window_bits = 15;
    d->window_bits = window_bits;
    d->level = level >= 0 && level <= 9 ? level : 1;
    d->mem_level = mem_level >= 1 && mem_level <= 9 ? mem_level : 8;
    d->no_context_takeover = no_context_takeover;
    d->compress_min_bytes = compress_min_bytes;
}

void pmd_deflater_free(pmd_deflater *d) {
    if (d->ready)
        deflateEnd(&d->z);
    d->ready = false;
}

bool pmd_should_compress(const pmd_deflater *d, size_t len) {
    return len >= d->compress_min_bytes;
}

size_t pmd_deflate_bound(size_t len) {
    /* Stored blocks cost 5 bytes per 16 KiB; the sync flush a few more. */
    return len + (len >> 8) + 64;
}

int64_t pmd_deflate_message(pmd_deflater *d, const uint8_t *in, size_t len, uint8_t *out,
                            size_t cap) {
    if (!d->ready) {
        memset(&d->z, 0, sizeof d->z);
        int rc = deflateInit2(&d->z, d->level, Z_DEFLATED, -d->window_bits, d->mem_level,
                              Z_DEFAULT_STRATEGY);
        if (rc == Z_MEM_ERROR)
            return PMD_ERR_NOMEM;
        if (rc != Z_OK)
            return PMD_ERR_ZLIB;
        d->ready = true;
    }
    if (len > UINT_MAX || cap > UINT_MAX)
        return PMD_ERR_NOBUFS;
    d->z.next_in = (Bytef *)(uintptr_t)in;
    d->z.avail_in = (uInt)len;
    d->z.next_out = out;
    d->z.avail_out = (uInt)cap;
    int rc = deflate(&d->z, Z_SYNC_FLUSH);
    size_t produced = cap - d->z.avail_out;
    /* avail_out == 0 means zlib may hold more output: did not fit. */
    if ((rc != Z_OK && rc != Z_BUF_ERROR) || d->z.avail_out == 0 || d->z.avail_in != 0 ||
        produced < sizeof pmd_tail || memcmp(out + produced - 4, pmd_tail, 4) != 0) {
        deflateReset(&d->z);
        return rc == Z_OK || rc == Z_BUF_ERROR ? PMD_ERR_NOBUFS : PMD_ERR_ZLIB;
    }
    if (d->no_context_takeover)
        deflateReset(&d->z);
    return (int64_t)(produced - sizeof pmd_tail);
}

void pmd_deflater_reset(pmd_deflater *d) {
    if (d->ready)
        deflateReset(&d->z);
}

void pmd_server_init(const pmd_params *p, const pmd_config *cfg, pmd_inflater *inf,
                     pmd_deflater *def) {
    pmd_inflater_init(inf, p->client_max_window_bits, p->client_no_context_takeover);
    int bits = p->server_max_window_bits < cfg->server_max_window_bits
                   ? p->server_max_window_bits : cfg->server_max_window_bits;
    pmd_deflater_init(def, bits, cfg->level, cfg->mem_level, p->server_no_context_takeover,
                      cfg->compress_min_bytes);
}
