/* `ringpad --version`: what was built, from which commit, against which libraries. */
#ifndef RINGPAD_VERSION_H
#define RINGPAD_VERSION_H

#include <stdio.h>

/* Facts only the build knows (build.zig passes them to main.c as defines). */
typedef struct version_build {
    const char *version;
    const char *commit;
    const char *mode;       /* Debug+UBSan, ReleaseSafe, ... */
    const char *liburing;   /* from pkg-config at build time: liburing 2.3 has no version call */
} version_build;

/* One "name value" line each; wolfSSL and zlib report the library loaded at run time. */
void version_print(FILE *out, const version_build *b);

#endif /* RINGPAD_VERSION_H */
