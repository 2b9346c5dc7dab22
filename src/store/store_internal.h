/*
 * What the store's file code shares between its files (store_files.c opens,
 * lists and deletes documents; store_history.c keeps checkpoints, prunes and
 * rebuilds old versions). Private to the store layer.
 */
#ifndef RINGPAD_STORE_INTERNAL_H
#define RINGPAD_STORE_INTERNAL_H

#include "store/store.h"

#include "proto/docname.h"

#define STORE_SNAPSHOT_FILE "snapshot"
#define STORE_SNAPSHOT_TMP_FILE "snapshot.tmp"
#define STORE_CHECKPOINT_TMP_FILE "ckpt.tmp"
#define STORE_SEGMENT_PREFIX "log."
#define STORE_CHECKPOINT_PREFIX "ckpt."
/* Segments (and checkpoints) per document: with a checkpoint every 1000 ops
 * this is 100 million ops before a document must be pruned or split. */
#define STORE_MAX_SEGMENTS 100000u
#define STORE_PATH_NAME_BYTES (DOCNAME_FILE_MAX_BYTES + STORE_SEGMENT_NAME_BYTES + 2)

int store_fsync_fd(int fd);
/* The document's directory name (docname_to_file); -EINVAL for a bad name. */
int store_doc_file_name(const char *name, size_t name_len, char out[DOCNAME_FILE_MAX_BYTES]);
/* Reads a whole file (blocking). -ENOENT when it does not exist. */
int store_read_file(int dir_fd, const char *name, uint8_t **out, size_t *out_len);
/* Versions of the files named `prefix` + 20 digits in dir_fd, ascending (malloc'ed). */
int store_list_versions(int dir_fd, const char *prefix, uint64_t **out, size_t *count);
/* Opens (creating when asked) the document's directory. */
int store_open_doc_dir(int data_dir_fd, const char *fname, bool create);

/* A checkpoint picked for a rebuild: the newest sound one at or below a
 * version, older damaged ones skipped (named in `fallback`). */
typedef struct store_base {
    uint64_t version;
    uint8_t *image;           /* the checkpoint file (NULL: the empty text at 0) */
    size_t image_len;
    char fallback[512];       /* non-empty: a damaged checkpoint was skipped */
} store_base;

/* Picks the base for a rebuild at or below `at` (UINT64_MAX: the newest).
 * -ERANGE when there is none. Free base->image. */
int store_pick_base(int dir_fd, const char *fname, uint64_t at, store_base *base);

#endif /* RINGPAD_STORE_INTERNAL_H */
