#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "store_live.h"

/* ---- a missing range of ops is refused (or, when asked, accepted and described) ---- */

/* "m": snapshot at 90, log.50 holding 50..99, log.100 holding 100..104, and a
 * meta file recording version 105 (as a load or an unload writes it). */
static void missing_fixture(datadir *dd) {
    dd_open(dd);
    live lv;
    store_recovery rep;
    live_open(&lv, dd, "m", true, &rep);
    for (int i = 0; i < 105; i++) {
        live_edit(&lv, i);
        if (i == 49 || i == 99) {
            live_flush(&lv);
            cr_assert_eq(compact_blocking(&lv.files, lv.log, lv.doc, 10), 0);
        }
    }
    live_flush(&lv);
    store_meta floor = {.version = 105, .log_end_offset = STORE_META_NOT_A_CACHE};
    cr_assert_eq(store_meta_write(lv.files.dir_fd, &floor), 0);
    live_close(&lv);
}

static int open_m(const datadir *dd, unsigned flags, store_recovery *rep, ot_doc **doc) {
    ot_limits lim = test_limits();
    store_doc_files files;
    *doc = NULL;
    int rc = store_doc_open(dd->fd, "m", 1, flags, &lim, doc, &files, rep);
    if (rc == 0)
        store_doc_files_close(&files);
    return rc;
}

Test(store_recover, emptied_active_segment_is_refused_with_the_range) {
    datadir dd;
    missing_fixture(&dd);
    const char *active = doc_file_path(&dd, "m", "log.00000000000000000100");
    off_t before = file_size(active);
    cr_assert_gt(before, 0);
    cr_assert_eq(truncate(active, 0), 0);
    store_recovery rep;
    ot_doc *doc = NULL;
    cr_assert_eq(open_m(&dd, 0, &rep, &doc), STORE_ERR_MISSING);
    cr_assert_null(doc);
    cr_assert_not_null(strstr(rep.message, "m: ops [100, 105) are missing: the log ends at version 100 "
                                           "but version 105 was reached (m/meta recorded it)"), "%s", rep.message);
    cr_assert_not_null(strstr(rep.message, "--accept-data-loss"), "%s", rep.message);
    cr_assert_eq(file_size(active), 0, "nothing was changed");
    /* asked to: it opens at what the files hold and says what is gone */
    cr_assert_eq(open_m(&dd, STORE_OPEN_ACCEPT_LOSS, &rep, &doc), 0, "%s", rep.message);
    cr_assert_eq(ot_doc_version(doc), 100);
    cr_assert_eq(rep.lost_from, 100);
    cr_assert_eq(rep.lost_to, 105);
    cr_assert_not_null(strstr(rep.message, "m: ops [100, 105) are lost"), "%s", rep.message);
    cr_assert_not_null(strstr(rep.message, "continues at version 100"), "%s", rep.message);
    ot_doc_free(doc);
    dd_close(&dd);
}

Test(store_recover, deleted_middle_segment_is_refused_with_the_range) {
    datadir dd;
    missing_fixture(&dd);
    cr_assert_eq(unlink(doc_file_path(&dd, "m", "log.00000000000000000050")), 0);
    store_recovery rep;
    ot_doc *doc = NULL;
    cr_assert_eq(open_m(&dd, 0, &rep, &doc), STORE_ERR_VERSION_GAP);
    cr_assert_not_null(strstr(rep.message, "m/log.00000000000000000100: record at byte offset 24 is version "
                                           "100, not 90: ops [90, 100) are missing"), "%s", rep.message);
    dd_close(&dd);
}

Test(store_recover, all_logs_deleted_is_refused_with_the_range) {
    datadir dd;
    missing_fixture(&dd);
    cr_assert_eq(unlink(doc_file_path(&dd, "m", "log.00000000000000000050")), 0);
    cr_assert_eq(unlink(doc_file_path(&dd, "m", "log.00000000000000000100")), 0);
    store_recovery rep;
    ot_doc *doc = NULL;
    cr_assert_eq(open_m(&dd, 0, &rep, &doc), STORE_ERR_MISSING);
    cr_assert_not_null(strstr(rep.message, "m: ops [90, 105) are missing"), "%s", rep.message);
    dd_close(&dd);
}

Test(store_recover, segment_name_is_evidence_without_meta) {
    datadir dd;
    missing_fixture(&dd);
    cr_assert_eq(unlink(doc_file_path(&dd, "m", "meta")), 0);
    /* ops 90..99 and 100..104 gone, the files still named */
    cr_assert_eq(truncate(doc_file_path(&dd, "m", "log.00000000000000000050"), STORE_SEGMENT_HEADER_BYTES), 0);
    cr_assert_eq(truncate(doc_file_path(&dd, "m", "log.00000000000000000100"), 0), 0);
    store_recovery rep;
    ot_doc *doc = NULL;
    cr_assert_eq(open_m(&dd, 0, &rep, &doc), STORE_ERR_MISSING);
    cr_assert_not_null(strstr(rep.message, "m: ops [90, 100) are missing"), "%s", rep.message);
    cr_assert_not_null(strstr(rep.message, "segment m/log.00000000000000000100 starts there"), "%s", rep.message);
    dd_close(&dd);
}
