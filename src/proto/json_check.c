#include "proto/json_check.h"

#include "base/utf8.h"

#include <stdint.h>

typedef struct scan {
    const char *s;
    size_t len;
    size_t i;
} scan;

static void skip_ws(scan *p) {
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool eat(scan *p, char c) {
    if (p->i < p->len && p->s[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

static bool literal(scan *p, const char *word, size_t n) {
    if (p->len - p->i < n) return false;
    for (size_t k = 0; k < n; k++)
        if (p->s[p->i + k] != word[k]) return false;
    p->i += n;
    return true;
}

static bool digits(scan *p) {
    size_t start = p->i;
    while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    return p->i > start;
}

static bool number(scan *p) {
    eat(p, '-');
    if (eat(p, '0')) {
        /* no leading zeros */
    } else if (!digits(p)) {
        return false;
    }
    if (eat(p, '.') && !digits(p)) return false;
    if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (!eat(p, '+')) eat(p, '-');
        if (!digits(p)) return false;
    }
    return true;
}

static bool hex4(scan *p, uint32_t *out) {
    if (p->len - p->i < 4) return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
                   : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
                                          : 16u;
        if (d == 16u) return false;
        v = v * 16u + d;
    }
    *out = v;
    return true;
}

static bool string(scan *p) {
    if (!eat(p, '"')) return false;
    size_t start = p->i;
    while (p->i < p->len) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            bool ok = utf8_validate((const uint8_t *)p->s + start, p->i - start);
            p->i++;
            return ok;
        }
        if (c < 0x20) return false;
        p->i++;
        if (c != '\\') continue;
        if (p->i >= p->len) return false;
        char e = p->s[p->i++];
        if (e == 'u') {
            uint32_t u;
            if (!hex4(p, &u)) return false;
            if (u >= 0xDC00 && u <= 0xDFFF) return false; /* a lone low surrogate */
            if (u >= 0xD800 && u <= 0xDBFF) {
                uint32_t lo;
                if (!eat(p, '\\') || !eat(p, 'u') || !hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
            return false;
        }
    }
    return false;
}

static bool value(scan *p, unsigned depth_left);

/* An array or object after its opening bracket; `object` says which. */
static bool members(scan *p, bool object, unsigned depth_left) {
    char close = object ? '}' : ']';
    skip_ws(p);
    if (eat(p, close)) return true;
    /* one member per pass: bounded by the length */
    while (p->i < p->len) {
        if (object) {
            if (!string(p)) return false;
            skip_ws(p);
            if (!eat(p, ':')) return false;
        }
        if (!value(p, depth_left)) return false;
        skip_ws(p);
        if (eat(p, close)) return true;
        if (!eat(p, ',')) return false;
        skip_ws(p);
    }
    return false;
}

static bool value(scan *p, unsigned depth_left) {
    skip_ws(p);
    if (p->i >= p->len) return false;
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        if (depth_left == 0) return false;
        p->i++;
        return members(p, c == '{', depth_left - 1);
    }
    if (c == '"') return string(p);
    if (c == 't') return literal(p, "true", 4);
    if (c == 'f') return literal(p, "false", 5);
    if (c == 'n') return literal(p, "null", 4);
    return number(p);
}

bool json_syntax_ok(const char *text, size_t len_bytes, unsigned max_depth) {
    scan p = {.s = text, .len = len_bytes, .i = 0};
    if (!value(&p, max_depth)) return false;
    skip_ws(&p);
    return p.i == p.len;
}
