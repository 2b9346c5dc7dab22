/* Documents written straight to a data dir through the store, for suites that
 * test what reads them back (the document table, startup checks). */
#ifndef RINGPAD_TESTS_STORE_FIXTURE_H
#define RINGPAD_TESTS_STORE_FIXTURE_H

#include "store/store.h"

/* Creates document `name` in `data_dir` with count_ops ops "w:<i>" (each
 * appending "a") in its first log segment, no snapshot, flushed. With keep
 * non-NULL the open document, its files and its log are handed over;
 * otherwise they are closed. */
void store_fixture_write_doc(const char *data_dir, const char *name, int count_ops, ot_doc **keep,
                             store_doc_files *keep_files, store_log **keep_log);

#endif
