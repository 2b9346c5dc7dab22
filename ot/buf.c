/* The growable byte buffer the serializers and text copies write into. */
#include <stdlib.h>
#include <string.h>

#include "ot_internal.h"

void ot_buf_init(ot_buf *buf) {
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void ot_buf_free(ot_buf *buf) {
    free(buf->data);
    ot_buf_init(buf);
}

void ot_buf_clear(ot_buf *buf) {
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

int ot_buf_reserve(ot_buf *buf, size_t extra_bytes) {
    if (extra_bytes > SIZE_MAX - 1 - buf->len)
        return OT_ERR_NOMEM;
    size_t need = buf->len + extra_bytes + 1;
    if (need <= buf->cap)
        return OT_OK;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *data = realloc(buf->data, cap);
    if (!data)
        return OT_ERR_NOMEM;
    buf->data = data;
    buf->cap = cap;
    return OT_OK;
}

int ot_buf_append(ot_buf *buf, const char *bytes, size_t len_bytes) {
    int rc = ot_buf_reserve(buf, len_bytes);
    if (rc)
        return rc;
    if (len_bytes)
        memcpy(buf->data + buf->len, bytes, len_bytes);
    buf->len += len_bytes;
    buf->data[buf->len] = '\0';
    return OT_OK;
}
