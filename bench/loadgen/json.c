#include "json.h"

#include <errno.h>
#include <string.h>

static size_t skip_ws(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* s[i] == '"'. Returns the index after the closing quote, or 0 on error. */
static size_t scan_string(const char *s, size_t i, size_t n, bool *escaped) {
    i++;
    *escaped = false;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') return i + 1;
        if (c == '\\') {
            *escaped = true;
            i += 2;
            continue;
        }
        if (c < 0x20) return 0;
        i++;
    }
    return 0;
}

/* One value starting at s[i]; returns the index after it, or 0 on error. */
static size_t scan_value(const char *s, size_t i, size_t n, int depth) {
    if (i >= n || depth > LG_JSON_MAX_DEPTH) return 0;
    char c = s[i];
    bool esc;
    if (c == '"') return scan_string(s, i, n, &esc);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        i = skip_ws(s, i + 1, n);
        if (i < n && s[i] == close) return i + 1;
        for (;;) {
            if (c == '{') {
                if (i >= n || s[i] != '"') return 0;
                i = scan_string(s, i, n, &esc);
                if (i == 0) return 0;
                i = skip_ws(s, i, n);
                if (i >= n || s[i] != ':') return 0;
                i = skip_ws(s, i + 1, n);
            }
            i = scan_value(s, i, n, depth + 1);
            if (i == 0) return 0;
            i = skip_ws(s, i, n);
            if (i >= n) return 0;
            if (s[i] == close) return i + 1;
            if (s[i] != ',') return 0;
            i = skip_ws(s, i + 1, n);
        }
    }
    size_t start = i;
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i > start ? i : 0;
}

int lg_json_scan(const char *s, size_t n, lg_jmsg *m) {
    memset(m, 0, sizeof(*m));
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{') return -EINVAL;
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == '}') return 0;
    for (;;) {
        bool esc;
        if (i >= n || s[i] != '"') return -EINVAL;
        size_t ks = i + 1;
        i = scan_string(s, i, n, &esc);
        if (i == 0) return -EINVAL;
        size_t kl = i - 1 - ks;
        i = skip_ws(s, i, n);
        if (i >= n || s[i] != ':') return -EINVAL;
        i = skip_ws(s, i + 1, n);
        size_t vs = i;
        bool is_str = i < n && s[i] == '"';
        bool vesc = false;
        i = is_str ? scan_string(s, i, n, &vesc) : scan_value(s, i, n, 1);
        if (i == 0) return -EINVAL;
        lg_jval v = {.p = is_str ? s + vs + 1 : s + vs,
                     .len = is_str ? i - vs - 2 : i - vs,
                     .present = true,
                     .is_string = is_str,
                     .escaped = vesc};
        lg_jval *slot = NULL;
#define K(name) (kl == sizeof(#name) - 1 && memcmp(s + ks, #name, kl) == 0) slot = &m->name
        if K(type); else if K(doc); else if K(v); else if K(id); else if K(op);
        else if K(text); else if K(code); else if K(message); else if K(ref);
        else if K(by); else if K(session);
#undef K
        if (slot != NULL) *slot = v;
        i = skip_ws(s, i, n);
        if (i >= n) return -EINVAL;
        if (s[i] == '}') return skip_ws(s, i + 1, n) == n ? 0 : -EINVAL;
        if (s[i] != ',') return -EINVAL;
        i = skip_ws(s, i + 1, n);
    }
}

int lg_json_uint(const lg_jval *v, uint64_t *out) {
    if (!v->present || v->is_string || v->len == 0 || v->len > 16) return -EINVAL;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->p[i] < '0' || v->p[i] > '9') return -EINVAL;
        x = x * 10 + (uint64_t)(v->p[i] - '0');
    }
    if (v->len > 1 && v->p[0] == '0') return -EINVAL;
    if (x > 9007199254740991ULL) return -EINVAL;
    *out = x;
    return 0;
}

static int hex4(const char *p, uint32_t *out) {
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (uint32_t)(c - 'A' + 10);
        else return -EINVAL;
    }
    *out = x;
    return 0;
}

int lg_json_unescape(const lg_jval *v, ot_buf *out) {
    if (!v->present || !v->is_string) return -EINVAL;
    if (!v->escaped) return ot_buf_append(out, v->p, v->len) == 0 ? 0 : -ENOMEM;
    const char *s = v->p;
    size_t n = v->len, i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] != '\\') run++;
        if (run > i && ot_buf_append(out, s + i, run - i) != 0) return -ENOMEM;
        i = run;
        if (i >= n) break;
        if (i + 1 >= n) return -EINVAL;
        char e = s[i + 1];
        char c;
        i += 2;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (i + 4 > n || hex4(s + i, &cp) != 0) return -EINVAL;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || hex4(s + i + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -EINVAL;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -EINVAL;
            }
            char u[4];
            size_t ul;
            if (cp < 0x80) { u[0] = (char)cp; ul = 1; }
            else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); ul = 2; }
            else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F)); ul = 3;
            } else {
                u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); ul = 4;
            }
            if (ot_buf_append(out, u, ul) != 0) return -ENOMEM;
            continue;
        }
        default: return -EINVAL;
        }
        if (ot_buf_append(out, &c, 1) != 0) return -ENOMEM;
    }
    return 0;
}

bool lg_json_str_eq(const lg_jval *v, const char *s, size_t len) {
    if (!v->present || !v->is_string) return false;
    if (!v->escaped) return v->len == len && memcmp(v->p, s, len) == 0;
    /* escaped names are rare (ids are printable ASCII, doc names have no escapes) */
    ot_buf b;
    ot_buf_init(&b);
    bool eq = false;
    if (lg_json_unescape(v, &b) == 0) eq = b.len == len && (len == 0 || memcmp(b.data, s, len) == 0);
    ot_buf_free(&b);
    return eq;
}
