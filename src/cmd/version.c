#include "cmd/version.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <zlib.h>

void version_print(FILE *out, const version_build *b) {
    fprintf(out, "ringpad %s\ncommit %s\nbuild %s\nliburing %s\nwolfssl %s\nzlib %s\n", b->version, b->commit,
            b->mode, b->liburing, wolfSSL_lib_version(), zlibVersion());
}
