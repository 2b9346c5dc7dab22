/*
 * Store fixtures for the recovery suites: a temporary data dir and a live
 * document (an ot_doc with its log and files) edited with random ops.
 */
#ifndef RINGPAD_TEST_STORE_LIVE_H
#define RINGPAD_TEST_STORE_LIVE_H

#include "store/store.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct datadir {
    char path[64];
    int fd;
} datadir;

/* An open document: the live ot_doc, its log and files. */
typedef struct live {
    ot_doc *doc;
    store_log *log;
    store_doc_files files;
    uint32_t rng;
} live;

void dd_open(datadir *dd);
int dd_delete_one(void *ctx, const char *name, size_t len);
void dd_close(datadir *dd);
char *doc_file_path(const datadir *dd, const char *dir, const char *file);
ot_limits test_limits(void);
void live_open(live *lv, const datadir *dd, const char *name, bool create,
              store_recovery *rep);
void live_close(live *lv);
void random_op(live *lv, uint64_t base, ot_op *op);
void live_edit(live *lv, int index);
void live_flush(live *lv);
void text_of(const ot_doc *doc, ot_buf *out);
void assert_same_doc(const ot_doc *a, const ot_doc *b);
int compact_new_segment(store_doc_files *files, store_log *log, uint64_t version);
int compact_blocking(store_doc_files *files, store_log *log, const ot_doc *doc,
                     uint32_t history_depth);
off_t file_size(const char *path);

#endif
