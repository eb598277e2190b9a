/* snapstore_impl: what snapstore.c (local, dispatch) and
 * snapstore_remote.c share. Not a public header. */
#ifndef SNAP_SNAPSTORE_IMPL_H
#define SNAP_SNAPSTORE_IMPL_H

#include <pthread.h>

#include "log.h"
#include "snapstore.h"

struct objstore;
struct snapstore_rfd;

#define SNAPSTORE_CACHE_MAX 4

struct snapstore {
	char *root;                      /* path or URL; NULL: none */
	struct objstore *os;             /* NULL: local */
	struct logger log;
	const char *tmpdir;              /* remote spools */
	pthread_mutex_t lock;
	struct snapstore_rfd *rfds;      /* downloads being read */
	/* the last few downloads (snapshots never change once published,
	 * and restore reads its target four times): key -> temp file */
	struct {
		char *key;
		int fd;
	} cache[SNAPSTORE_CACHE_MAX];
	unsigned cache_next;             /* slot to replace next */
};

struct snapstore_tx {
	struct snapstore *ss;
	int dirfd;                       /* local: SNAP_ROOT/YYYY/MM */
	int fd;                          /* the temp file */
	int err;                         /* sticky write error */
	uint64_t len;                    /* bytes written */
	char *root;
	char relpath[SNAPSTORE_NAME_MAX];
	const char *base;                /* inside relpath */
	char tmpname[SNAPSTORE_NAME_MAX + 32];
};

/* Remote halves of the public functions (ss->os set, arguments
 * checked). begin gets a tx with ss, relpath and base filled and must
 * set fd. */
int snapstore_remote_open(struct snapstore *ss, const char *url,
			  const char *storage_options_json,
			  const struct engine_opts *o, struct errbuf *eb);
void snapstore_remote_free(struct snapstore *ss);
int snapstore_remote_list(struct snapstore *ss, struct snapstore_list *out,
			  struct errbuf *eb);
int snapstore_remote_remove(struct snapstore *ss, const char *relpath,
			    struct errbuf *eb);
int snapstore_remote_begin(struct snapstore_tx *tx, struct errbuf *eb);
int snapstore_remote_commit(struct snapstore_tx *tx, char **path_out,
			    struct errbuf *eb);
int snapstore_remote_open_reader(struct snapstore *ss, const char *path,
				 struct snapshot_reader **out,
				 struct errbuf *eb);

/* Append "YYYY/MM/<base>" (given as relpath, len bytes) to l. 0 or
 * -ENOMEM. */
int snapstore_list_push(struct snapstore_list *l, size_t *cap,
			const char *relpath, size_t len, int64_t t,
			enum snapshot_format fmt);
void snapstore_list_sort(struct snapstore_list *l);

#endif
