/* fdio: read(2), write(2) and their positional forms on plain file
 * descriptors, retried on EINTR, with the -errno returns of the rest of
 * the code: the one place for the loops every module used to write out. */
#ifndef SNAP_FDIO_H
#define SNAP_FDIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* One read(2) of up to len bytes, retried while interrupted (EINTR).
 * Returns the bytes read (short or 0 at end of file, as read(2)) or
 * -errno. For streams that take whatever one call gives. */
ssize_t fdio_read(int fd, void *buf, size_t len);

/* One pread(2) of up to len bytes at off, retried while interrupted.
 * Returns the bytes read (0 at end of file) or -errno. The file position
 * is not moved. */
ssize_t fdio_pread(int fd, void *buf, size_t len, uint64_t off);

/* Read until len bytes or end of file, retrying EINTR. Returns the bytes
 * read (less than len only at end of file) or -errno; after an error the
 * bytes read before it are in buf but not counted. */
ssize_t fdio_read_full(int fd, void *buf, size_t len);

/* Write all len bytes, retrying EINTR and continuing after short
 * writes. Returns 0 or -errno; after an error an unknown prefix of buf
 * has been written. */
int fdio_write_full(int fd, const void *buf, size_t len);

/* pwrite(2) all len bytes at off, as fdio_write_full. The file position
 * is not moved. */
int fdio_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* Did the file change between the fstat() before a read and the one after
 * it: size or mtime differ. What "changed while read" means for a copy or
 * a hash: such bytes may match no state of the file, so they are read
 * again. (ctime is not compared: a chmod during a read leaves the bytes
 * as they were.) */
static inline bool fdio_stat_changed(const struct stat *before,
				     const struct stat *after)
{
	return before->st_size != after->st_size ||
	       before->st_mtim.tv_sec != after->st_mtim.tv_sec ||
	       before->st_mtim.tv_nsec != after->st_mtim.tv_nsec;
}

#endif
