#include "store/store_faults.h"

#include "base/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const point_names[STORE_POINT_COUNT] = {
    [STORE_POINT_LOG_WRITE] = "log-write", [STORE_POINT_LOG_FSYNC] = "log-fsync",
    [STORE_POINT_LOG_TORN] = "log-torn",   [STORE_POINT_SEGMENT] = "segment",
    [STORE_POINT_SNAPSHOT] = "snapshot",   [STORE_POINT_LOAD] = "load",
};

static int point_of(const char *s, size_t len) {
    for (int i = 0; i < STORE_POINT_COUNT; i++)
        if (strlen(point_names[i]) == len && memcmp(point_names[i], s, len) == 0) return i;
    return -1;
}

static int errno_of(const char *s) {
    static const struct { const char *name; int value; } names[] = {
        {"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EROFS", EROFS}, {"EDQUOT", EDQUOT}, {"SHORT", STORE_FAULT_SHORT},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, s) == 0) return names[i].value;
    return 0;
}

/* "<point>:<rest>" -> point, *rest. */
static int split_point(char *item, char **rest) {
    char *colon = strchr(item, ':');
    if (colon == NULL) return -1;
    *rest = colon + 1;
    return point_of(item, (size_t)(colon - item));
}

static bool parse_u32(const char *s, uint32_t *out) {
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || v == 0 || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

int store_fault_plan_parse(const char *spec, store_fault_plan *out, char *err, size_t err_cap) {
    memset(out, 0, sizeof *out);
    out->crash_point = -1;
    out->fail_point = -1;
    char buf[256];
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, err_cap, "RINGPAD_STORE_FAULTS is longer than %zu bytes", sizeof buf - 1);
        return -EINVAL;
    }
    memcpy(buf, spec, strlen(spec) + 1);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char shown[sizeof buf];   /* parsing cuts the item; the message shows it whole */
        memcpy(shown, item, strlen(item) + 1);
        char *rest = NULL;
        if (strncmp(item, "crash=", 6) == 0) {
            int p = split_point(item + 6, &rest);
            if (p < 0 || !parse_u32(rest, &out->crash_at)) goto bad;
            out->crash_point = p;
        } else if (strncmp(item, "fail=", 5) == 0) {
            int p = split_point(item + 5, &rest);
            char *e = rest, *n = rest != NULL ? strchr(rest, ':') : NULL;
            char *k = n != NULL ? strchr(n + 1, ':') : NULL;
            if (p < 0 || p == STORE_POINT_LOG_TORN || n == NULL || k == NULL) goto bad;
            *n = '\0';
            *k = '\0';
            out->fail_errno = errno_of(e);
            if (out->fail_errno == 0 || !parse_u32(n + 1, &out->fail_from) || !parse_u32(k + 1, &out->fail_count))
                goto bad;
            out->fail_point = p;
        } else {
            goto bad;
        }
        continue;
    bad:
        snprintf(err, err_cap, "RINGPAD_STORE_FAULTS: cannot read \"%s\" (crash=<point>:<n> or "
                 "fail=<point>:<EIO|ENOSPC|EROFS|EDQUOT|SHORT>:<n>:<count>)", shown);
        return -EINVAL;
    }
    return 0;
}

int store_fault_crashes_next(const store_fault_plan *plan, store_point point) {
    return plan != NULL && plan->crash_point == (int)point && plan->passes[point] + 1 == plan->crash_at;
}

int store_fault_hit(store_fault_plan *plan, store_point point) {
    if (plan == NULL) return 0;
    uint32_t n = ++plan->passes[point];
    if (plan->crash_point == (int)point && n == plan->crash_at) {
        log_warn("RINGPAD_STORE_FAULTS: crashing at %s (passage %u)", point_names[point], n);
        _exit(STORE_FAULT_CRASH_EXIT);
    }
    if (plan->fail_point == (int)point && n >= plan->fail_from && n - plan->fail_from < plan->fail_count) {
        log_warn("RINGPAD_STORE_FAULTS: failing %s (passage %u) with %s", point_names[point], n,
                 plan->fail_errno == STORE_FAULT_SHORT ? "a short write" : strerror(plan->fail_errno));
        return plan->fail_errno == STORE_FAULT_SHORT ? STORE_FAULT_SHORT : -plan->fail_errno;
    }
    return 0;
}
