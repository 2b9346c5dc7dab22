/*
 * Owning the data directory: one server per data dir, and a dir it can write.
 *
 * Two servers on one data dir both append to the same logs and each acks
 * what the other may overwrite; so the first one takes an exclusive flock
 * on a lock file inside it (held for the life of the process: the kernel
 * drops it when the process dies, however it dies) and writes its pid there
 * for the message the second one prints. The lock file's name holds a '%',
 * which no document's file name can (see docname.h), so listing skips it.
 *
 * Writability is probed once at startup (create, write, fdatasync, unlink a
 * probe file) so a read-only mount or a missing permission stops the start
 * with the path and errno, instead of surfacing at the first edit.
 */
#ifndef RINGPAD_DATA_DIR_H
#define RINGPAD_DATA_DIR_H

#include <stddef.h>

#define DATA_DIR_LOCK_FILE "%lock%"
#define DATA_DIR_PROBE_FILE "%probe%"

/* Creates `path` when missing, takes the lock and records our pid.
 * 0 and *lock_fd (keep it open: closing it releases the lock), or a negative
 * errno with a sentence for the operator in err: -EWOULDBLOCK when another
 * process holds the lock (its pid named), else what failed and on which path. */
int data_dir_lock(const char *path, int *lock_fd, char *err, size_t err_cap);

/* Probes that files can be created, written and synced in the directory
 * dir_fd (named `path` in messages). 0 or a negative errno with err filled. */
int data_dir_check_writable(int dir_fd, const char *path, char *err, size_t err_cap);

#endif /* RINGPAD_DATA_DIR_H */
