#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/data_dir.h"

static char base[64];
static char dir[96];

static void make_base(void) {
    strcpy(base, "/tmp/ringpad-datadir-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/data", base);
}

static void rm_base(void) {
    umount(dir); /* the read-only test's mount, if any */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    cr_assert_eq(system(cmd), 0);
}

Test(data_dir, creates_the_dir_and_locks_it_once, .init = make_base, .fini = rm_base) {
    char err[512] = "";
    int a = -1, b = -1;
    cr_assert_eq(data_dir_lock(dir, &a, err, sizeof err), 0, "%s", err);
    cr_assert_geq(a, 0);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    /* a second holder (another open file: flock conflicts even in one process) */
    cr_assert_eq(data_dir_lock(dir, &b, err, sizeof err), -EWOULDBLOCK);
    cr_assert_eq(b, -1);
    char want[64];
    snprintf(want, sizeof want, "(pid %ld holds", (long)getpid());
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, dir), "%s", err);
    /* released with its fd: the next server gets it */
    close(a);
    cr_assert_eq(data_dir_lock(dir, &b, err, sizeof err), 0, "%s", err);
    close(b);
}

Test(data_dir, a_path_that_cannot_be_a_dir_is_named, .init = make_base, .fini = rm_base) {
    char file[128];
    snprintf(file, sizeof file, "%s/plain-file", base);
    int fd = open(file, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    char err[512] = "";
    int l = -1;
    cr_assert_eq(data_dir_lock(file, &l, err, sizeof err), -ENOTDIR);
    cr_assert_not_null(strstr(err, file), "%s", err);
    cr_assert_not_null(strstr(err, strerror(ENOTDIR)), "%s", err);
}

Test(data_dir, writable_probe_passes_and_leaves_nothing, .init = make_base, .fini = rm_base) {
    cr_assert_eq(mkdir(dir, 0755), 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    char err[512] = "";
    cr_assert_eq(data_dir_check_writable(dfd, dir, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_neq(fstatat(dfd, DATA_DIR_PROBE_FILE, &st, 0), 0);
    close(dfd);
}

Test(data_dir, an_unwritable_dir_is_refused_with_path_and_errno, .init = make_base, .fini = rm_base) {
    cr_assert_eq(mkdir(dir, 0755), 0);
    int want;
    if (geteuid() == 0) {
        /* root ignores permissions: a read-only mount is what refuses it */
        cr_assert_eq(mount("tmpfs", dir, "tmpfs", MS_RDONLY, "size=16k"), 0, "%s", strerror(errno));
        want = EROFS;
    } else {
        cr_assert_eq(chmod(dir, 0555), 0);
        want = EACCES;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dfd, 0);
    char err[512] = "";
    cr_assert_eq(data_dir_check_writable(dfd, dir, err, sizeof err), -want);
    cr_assert_not_null(strstr(err, dir), "%s", err);
    cr_assert_not_null(strstr(err, strerror(want)), "%s", err);
    close(dfd);
    /* no lock file there yet: the lock names the same errno */
    int l = -1;
    int rc = data_dir_lock(dir, &l, err, sizeof err);
    cr_assert_eq(rc, -want, "%d %s", rc, err);
    cr_assert_not_null(strstr(err, strerror(want)), "%s", err);
    if (l >= 0) close(l);
    if (geteuid() != 0) chmod(dir, 0755);
}
