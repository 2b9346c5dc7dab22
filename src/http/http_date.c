/* HTTP-date formatting and parsing (see http_date.h). */
#include "http/http_date.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char k_days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char k_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int http_date_format(int64_t unix_s, char out[HTTP_DATE_BYTES]) {
    if (unix_s < 0 || unix_s > 253402300799LL) /* 9999-12-31T23:59:59Z */
        return -EINVAL;
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return -EINVAL;
    int n = snprintf(out, HTTP_DATE_BYTES, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                     k_days[tm.tm_wday], tm.tm_mday, k_months[tm.tm_mon], tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n == HTTP_DATE_BYTES - 1 ? n : -EINVAL;
}

/* A small cursor over the input; every reader fails once and stays failed. */
typedef struct cursor {
    const char *s;
    size_t len;
    size_t pos;
    bool bad;
} cursor;

static void expect(cursor *c, const char *lit) {
    size_t n = strlen(lit);
    if (c->bad || c->len - c->pos < n || memcmp(c->s + c->pos, lit, n) != 0) {
        c->bad = true;
        return;
    }
    c->pos += n;
}

/* Exactly `digits` decimal digits. */
static int number(cursor *c, size_t digits) {
    if (c->bad || c->len - c->pos < digits) {
        c->bad = true;
        return 0;
    }
    int v = 0;
    for (size_t i = 0; i < digits; i++) {
        char ch = c->s[c->pos + i];
        if (ch < '0' || ch > '9') {
            c->bad = true;
            return 0;
        }
        v = v * 10 + (ch - '0');
    }
    c->pos += digits;
    return v;
}

static int month(cursor *c) {
    if (c->bad || c->len - c->pos < 3) {
        c->bad = true;
        return 0;
    }
    for (int m = 0; m < 12; m++) {
        if (memcmp(c->s + c->pos, k_months[m], 3) == 0) {
            c->pos += 3;
            return m;
        }
    }
    c->bad = true;
    return 0;
}

/* Day name: 3 letters, or the long form for RFC 850 ("Sunday"). */
static bool skip_day_name(cursor *c, bool long_form) {
    static const char *const long_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
    for (int d = 0; d < 7; d++) {
        const char *name = long_form ? long_names[d] : k_days[d];
        size_t n = strlen(name);
        if (c->len - c->pos >= n && memcmp(c->s + c->pos, name, n) == 0) {
            c->pos += n;
            return true;
        }
    }
    return false;
}

static void time_of_day(cursor *c, struct tm *tm) {
    tm->tm_hour = number(c, 2);
    expect(c, ":");
    tm->tm_min = number(c, 2);
    expect(c, ":");
    tm->tm_sec = number(c, 2);
}

static int finish(cursor *c, struct tm *tm, int64_t *unix_s) {
    if (c->bad || c->pos != c->len)
        return -EINVAL;
    if (tm->tm_mday < 1 || tm->tm_mday > 31 || tm->tm_hour > 23 || tm->tm_min > 59 ||
        tm->tm_sec > 60)
        return -EINVAL;
    time_t t = timegm(tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *unix_s = (int64_t)t;
    return 0;
}

int http_date_parse(const char *s, size_t len, int64_t *unix_s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    cursor c = {.s = s, .len = len};
    if (len == 29) { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        if (!skip_day_name(&c, false))
            return -EINVAL;
        expect(&c, ", ");
        tm.tm_mday = number(&c, 2);
        expect(&c, " ");
        tm.tm_mon = month(&c);
        expect(&c, " ");
        tm.tm_year = number(&c, 4) - 1900;
        expect(&c, " ");
        time_of_day(&c, &tm);
        expect(&c, " GMT");
        return finish(&c, &tm, unix_s);
    }
    if (len == 24) { /* asctime: Sun Nov  6 08:49:37 1994 */
        if (!skip_day_name(&c, false))
            return -EINVAL;
        expect(&c, " ");
        tm.tm_mon = month(&c);
        expect(&c, " ");
        if (!c.bad && c.pos < c.len && c.s[c.pos] == ' ') {
            c.pos++;
            tm.tm_mday = number(&c, 1);
        } else {
            tm.tm_mday = number(&c, 2);
        }
        expect(&c, " ");
        time_of_day(&c, &tm);
        expect(&c, " ");
        tm.tm_year = number(&c, 4) - 1900;
        return finish(&c, &tm, unix_s);
    }
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    if (!skip_day_name(&c, true))
        return -EINVAL;
    expect(&c, ", ");
    tm.tm_mday = number(&c, 2);
    expect(&c, "-");
    tm.tm_mon = month(&c);
    expect(&c, "-");
    int yy = number(&c, 2);
    /* Two-digit years: 70..99 are 19xx, the rest 20xx (RFC 9110 5.6.7 asks for
     * "not more than 50 years in the future"; 1970 is as early as a file gets). */
    tm.tm_year = yy >= 70 ? yy : yy + 100;
    expect(&c, " ");
    time_of_day(&c, &tm);
    expect(&c, " GMT");
    return finish(&c, &tm, unix_s);
}
