/*
 * A document's history summed up from its log, for the REST routes that
 * show it (PROTOCOL.md §15): sessions (a timeslider's stops) and authorship
 * (who wrote each span of the text at a version). Blocking reads of the
 * files: they run on the worker's disk helper, never on the worker.
 */
#ifndef RINGPAD_DOC_HISTORY_H
#define RINGPAD_DOC_HISTORY_H

#include "ringpad/ot.h"
#include "store/store.h"

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>

/* A pause between two ops of one author that starts a new session. */
#define DOC_HISTORY_GAP_MS (5u * 60u * 1000u)
/* Sessions in one /history answer; its "next" says where to go on. */
#define DOC_HISTORY_MAX_SESSIONS 1000u
/* Distinct authors one /authors answer names (the rest are folded into the last). */
#define DOC_HISTORY_MAX_AUTHORS 4096u

/* The ops [from, to) grouped into sessions: a run of consecutive versions
 * by one author, no pause longer than gap_ms. Appends at most max_sessions
 * items {"by","from","to","start","end","ops","added","removed"} (comma
 * separated) to out; *count gets their number and *next the version where
 * the next answer starts (== to when done). added/removed are code points.
 * 0, -ERANGE (from left the log), -ENOENT, or another negative errno. */
int doc_history_sessions(int data_dir_fd, const char *name, size_t name_len, uint64_t from, uint64_t to,
                         uint32_t max_sessions, uint32_t gap_ms, ot_buf *out, uint32_t *count, uint64_t *next);

/* The text at v with who wrote it, from the retained version `base` (the
 * oldest, so that every retained op counts) on: appends "\"text\":...,\"base\":B,\"spans\":[{\"by\",\"from\",\"to\"}...]" to out,
 * spans in code points covering the text in order, adjacent spans by
 * different authors. An insert's characters keep their author through every
 * later op (the log holds the ops as applied, so replaying them carries the
 * authorship through the transforms); text older than the oldest retained
 * version B has "by": null. */
int doc_history_authors(int data_dir_fd, const char *name, size_t name_len, uint64_t base, uint64_t v,
                        ot_buf *out);

/* The same two summaries fed one record at a time, for a log read in pages
 * (cluster mode reads it from Redis). */
typedef struct doc_sessions doc_sessions;
/* NULL on no memory. Items go to out as doc_history_sessions writes them. */
doc_sessions *doc_sessions_new(uint64_t from, uint32_t max_sessions, uint32_t gap_ms, ot_buf *out);
/* 0, 1 (max_sessions are written: rec starts the next answer), or an error. */
int doc_sessions_feed(doc_sessions *s, const store_record *rec);
/* full: the last feed said 1. *next: where the next answer starts (to when done). */
int doc_sessions_end(doc_sessions *s, bool full, uint64_t to, uint32_t *count, uint64_t *next);
void doc_sessions_free(doc_sessions *s);

typedef struct doc_authors doc_authors;
/* Authorship from the text at version base on. NULL on no memory. */
doc_authors *doc_authors_new(uint64_t base, const char *text, size_t len);
/* The op at the next version; 0 or an error. */
int doc_authors_feed(doc_authors *a, const store_record *rec);
/* The answer at v (every op of [base, v) fed, else -ERANGE). */
int doc_authors_end(doc_authors *a, uint64_t v, ot_buf *out);
void doc_authors_free(doc_authors *a);

#endif /* RINGPAD_DOC_HISTORY_H */
