#include "store/data_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* "<pid>\n" and some slack; a longer file is not ours. */
#define DATA_DIR_PID_TEXT_BYTES 32

static int fail(int rc, char *err, size_t cap, const char *fmt, const char *path) {
    snprintf(err, cap, fmt, path, strerror(-rc));
    return rc;
}

/* The pid the holder wrote, or 0 when unreadable (it may be writing it). */
static long read_holder_pid(int fd) {
    char text[DATA_DIR_PID_TEXT_BYTES];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0) return 0;
    text[n] = '\0';
    char *end = NULL;
    long pid = strtol(text, &end, 10);
    return end != text && pid > 0 ? pid : 0;
}

int data_dir_lock(const char *path, int *lock_fd, char *err, size_t err_cap) {
    *lock_fd = -1;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return fail(-errno, err, err_cap, "--data-dir %s cannot be created: %s", path);
    int dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return fail(-errno, err, err_cap, "--data-dir %s cannot be opened: %s", path);
    /* The lock is held through a read-only fd: a file held open for writing
     * would keep the file system from being remounted read-only. Creating it
     * on a read-only dir fails; a lock file left by an earlier run is still
     * lockable, and the writability probe then names the real problem. */
    int fd = openat(dir_fd, DATA_DIR_LOCK_FILE, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : 0;
    if (rc == -EROFS || rc == -EACCES) {
        fd = openat(dir_fd, DATA_DIR_LOCK_FILE, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) rc = 0;
    }
    if (rc != 0) {
        close(dir_fd);
        return fail(rc, err, err_cap, "--data-dir %s: cannot open its lock file: %s", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = -errno;
        if (rc == -EWOULDBLOCK) {
            long pid = read_holder_pid(fd);
            char who[48];
            if (pid > 0) snprintf(who, sizeof who, "pid %ld", pid);
            else snprintf(who, sizeof who, "a process that is starting");
            snprintf(err, err_cap,
                     "--data-dir %s is in use by another ringpad (%s holds %s/%s); two servers on one data "
                     "dir lose acknowledged ops: stop that one or pick another --data-dir",
                     path, who, path, DATA_DIR_LOCK_FILE);
        } else {
            fail(rc, err, err_cap, "--data-dir %s: cannot lock it: %s", path);
        }
        close(fd);
        close(dir_fd);
        return rc;
    }
    char text[DATA_DIR_PID_TEXT_BYTES];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    int wfd = openat(dir_fd, DATA_DIR_LOCK_FILE, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (wfd < 0 || pwrite(wfd, text, (size_t)n, 0) != n) {
        /* Only the message of a second server loses its pid: the lock is the flock. */
    }
    if (wfd >= 0) close(wfd);
    close(dir_fd);
    *lock_fd = fd;
    return 0;
}

int data_dir_check_writable(int dir_fd, const char *path, char *err, size_t err_cap) {
    int fd = openat(dir_fd, DATA_DIR_PROBE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(-errno, err, err_cap, "--data-dir %s is not writable (creating a file: %s)", path);
    int rc = 0;
    const char probe = 'x';
    ssize_t n = pwrite(fd, &probe, 1, 0);
    if (n != 1) rc = n < 0 ? -errno : -EIO;
    else if (fdatasync(fd) != 0) rc = -errno;
    close(fd);
    int urc = unlinkat(dir_fd, DATA_DIR_PROBE_FILE, 0) == 0 ? 0 : -errno;
    if (rc != 0) return fail(rc, err, err_cap, "--data-dir %s is not writable (writing a file: %s)", path);
    if (urc != 0) return fail(urc, err, err_cap, "--data-dir %s is not writable (removing a file: %s)", path);
    return 0;
}
