/* sparse: writing a file with holes. Restore and sync give a file the
 * scan found sparse (entry.sparse) its holes back: all-zero blocks are
 * not written, and the file is truncated to its size at the end. */
#ifndef SNAP_SPARSE_H
#define SNAP_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Holes are made in units of this many bytes (the page and the usual
 * filesystem block). */
#define SPARSE_BLOCK 4096

/* Are the len bytes at p all zero? */
bool sparse_is_zero(const void *p, size_t len);

/* Write buf[len] at offset off of fd, skipping every SPARSE_BLOCK-aligned
 * block (relative to off, which callers keep block-aligned) that is all
 * zeros: those stay holes. 0 or -errno. */
int sparse_pwrite(int fd, const void *buf, size_t len, uint64_t off);

#endif
