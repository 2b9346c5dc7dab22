/*
 * One REST call, apart from its connection: a parsed head (rest_route.c)
 * turned into requests for the documents' owners, their answers collected
 * (a listing asks every listed document's owner) and one response handed
 * to the caller's rest_reply. The HTTP connection (rest.c) is one caller;
 * the unit tests are another.
 */
#ifndef RINGPAD_REST_CALL_H
#define RINGPAD_REST_CALL_H

#include "collab/session.h"
#include "http/http.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rest_call rest_call;

/* The response when not even an error body can be written. */
#define REST_OOM_BODY "{\"code\":\"no_memory\",\"message\":\"" PROTO_NO_MEMORY_MESSAGE "\"}"

/* Where the call's one response goes, then the end of the call (the call is
 * already freed when done runs). */
typedef struct rest_reply_ops {
    void (*respond)(void *ctx, int status, const char *json, size_t len_bytes);
    void (*done)(void *ctx);
} rest_reply_ops;

/* A call on this worker's session layer (NULL on no memory); nothing runs yet. */
rest_call *rest_call_new(session_worker *sw, const rest_reply_ops *ops, void *ctx);
/* Parses the head and runs the call, or waits for a POST body (rest_call_feed).
 * The call may be over (respond + done) when this returns. */
void rest_call_begin(rest_call *k, const http_request *req);
/* Body bytes of a POST (the caller bounds them by Content-Length). */
void rest_call_feed(rest_call *k, const uint8_t *data, size_t len_bytes);
/* Runs the POST once its whole body is in (no-op before, or after it ran).
 * The call may be over when this returns. */
void rest_call_continue(rest_call *k);
/* The caller went away: no response, no done; a late answer is dropped. */
void rest_call_abort(rest_call *k);

#endif /* RINGPAD_REST_CALL_H */
