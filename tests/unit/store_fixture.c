#include "store_fixture.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void store_fixture_write_doc(const char *data_dir, const char *name, int count_ops, ot_doc **keep,
                             store_doc_files *keep_files, store_log **keep_log) {
    int dfd = open(data_dir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dfd, 0);
    ot_doc *doc = NULL;
    store_doc_files files;
    store_recovery rep;
    ot_limits lim = ot_limits_default();
    cr_assert_eq(store_doc_open(dfd, name, strlen(name), true, &lim, &doc, &files, &rep), 0);
    store_log_config cfg = store_log_config_default();
    store_log *log;
    cr_assert_eq(store_log_new(&cfg, files.log_fd, files.log_end_offset, 0, &log), 0);
    for (int i = 0; i < count_ops; i++) {
        char id[16], op[32];
        snprintf(id, sizeof id, "w:%d", i);
        snprintf(op, sizeof op, i == 0 ? "[\"a\"]" : "[%d,\"a\"]", i);
        ot_op o;
        ot_op_init(&o);
        cr_assert_eq(ot_op_parse_json(&o, op, strlen(op), NULL, NULL), OT_OK);
        ot_submit_result res;
        ot_op_init(&res.op);
        cr_assert_eq(ot_doc_submit(doc, (uint64_t)i, &o, id, strlen(id), "t", 1, 0, &res), OT_OK);
        ot_op_free(&res.op);
        ot_op_free(&o);
        store_record rec = {.base_version = (uint64_t)i, .id = id, .id_len = strlen(id), .author = "t",
                            .author_len = 1, .op_json = op, .op_len = strlen(op)};
        cr_assert_eq(store_log_append(log, &rec), 0);
    }
    cr_assert_eq(store_sync_flush(log, 0, NULL, NULL), 0);
    close(dfd);
    if (keep != NULL) {
        *keep = doc;
        *keep_files = files;
        *keep_log = log;
        return;
    }
    store_log_free(log);
    ot_doc_free(doc);
    store_doc_files_close(&files);
}
