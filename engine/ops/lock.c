/* lock: lock objects under SNAP_ROOT/locks/ (lock.h, LOCKING.md). Two
 * backends behind struct lock_store_ops: a local directory (a new lock
 * is written to a temp name and linked to its final name, which fails if
 * it exists; a refresh is a rename over it) and an object store (one PUT;
 * names carry 64 random bits, so no conditional write is needed). */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "lock.h"
#include "objstore.h"
#include "relpath.h"
#include "banned.h"

#define LOCK_BODY_MAX 1024
#define LOCK_NAME_MAX 64
#define LOCK_MAX_SEEN 4096
#define LOCK_TMP_PREFIX ".tmp-"

struct lock;

/* Lock object storage; every hook required, called from the acquiring
 * thread or the refresh thread (never both at once for one name). */
struct lock_store_ops {
	/* write name (create: must not exist, -EEXIST) */
	int (*put)(struct lock *l, const char *name, const char *body,
		   size_t len, bool create, struct errbuf *eb);
	/* read name into buf (NUL-terminated); -ENOENT when gone */
	int (*get)(struct lock *l, const char *name, char *buf, size_t cap,
		   struct errbuf *eb);
	/* cb for each "*.lock" name; 0 or -errno */
	int (*list)(struct lock *l, int (*cb)(void *, const char *),
		    void *arg, struct errbuf *eb);
	/* remove name; 0 also when gone */
	int (*del)(struct lock *l, const char *name, struct errbuf *eb);
};

struct lock {
	const struct lock_store_ops *ops;
	char *dir;                   /* local: SNAP_ROOT/locks */
	struct objstore *os;         /* remote: SNAP_ROOT */
	const char *root;            /* as given, for messages */
	enum lock_kind kind;
	char name[LOCK_NAME_MAX];    /* ours */
	char host[256];
	char what[32];
	long pid;
	int64_t created_ns;
	unsigned expiry_s, refresh_s;
	/* refresh thread */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	double last_ok_mono;         /* last successful write */
	bool lost;                   /* our object was found gone */
};

/* ---- local backend ---------------------------------------------------- */

/* Open the temp of a lock write and hold it with flock(LOCK_EX) until
 * it is gone: a temp whose lock can be taken belongs to a killed writer
 * (local_reap_temp). Retries when a cleaner removed the name between our
 * create and our lock. */
static int local_open_tmp(int dfd, const char *tmp)
{
	struct stat a, b;
	int fd, tries;

	for (tries = 0; tries < 8; tries++) {
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0644);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX))
			return fd;  /* no locks here: no cleaner can take it */
		if (!fstat(fd, &a) &&
		    !fstatat(dfd, tmp, &b, AT_SYMLINK_NOFOLLOW) &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
	return -EAGAIN;
}

static int local_put(struct lock *l, const char *name, const char *body,
		     size_t len, bool create, struct errbuf *eb)
{
	char tmp[LOCK_NAME_MAX + 16];
	int dfd, fd, rc = 0;

	dfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errbuf_set(eb, -errno, "cannot open '%s': %s", l->dir,
				  strerror(errno));
	snprintf(tmp, sizeof(tmp), LOCK_TMP_PREFIX "%s", name);
	fd = local_open_tmp(dfd, tmp);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (write(fd, body, len) != (ssize_t)len || fsync(fd))
		rc = errno ? -errno : -EIO;
	if (rc)
		goto out_unlink;
	/* link fails with EEXIST when the name is taken: a create never
	 * replaces a lock; a refresh replaces ours atomically */
	if (create) {
		if (linkat(dfd, tmp, dfd, name, 0))
			rc = -errno;
	} else if (renameat(dfd, tmp, dfd, name)) {
		rc = -errno;
	}
	if (!rc && fsync(dfd))
		rc = -errno;
out_unlink:
	unlinkat(dfd, tmp, 0);
	close(fd);   /* after the unlink: the flock marks the temp live */
out:
	close(dfd);
	if (rc)
		return errbuf_set(eb, rc, "cannot write lock '%s/%s': %s",
				  l->dir, name, strerror(-rc));
	return 0;
}

/* Remove the temp of a lock write whose writer was killed (its flock can
 * be taken); a live writer's temp is left alone. Never fails. */
static void local_reap_temp(int dfd, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
		    O_CLOEXEC);
	if (fd < 0)
		return;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    !flock(fd, LOCK_EX | LOCK_NB))
		unlinkat(dfd, name, 0);
	close(fd);
}

static int local_get(struct lock *l, const char *name, char *buf, size_t cap,
		     struct errbuf *eb)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return errbuf_set(eb, -errno, "cannot read lock '%s': %s",
				  path, strerror(errno));
	}
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return errbuf_set(eb, -errno, "cannot read lock '%s': %s",
				  path, strerror(errno));
	buf[n] = '\0';
	return 0;
}

static bool is_lock_name(const char *s, size_t len)
{
	return len > 5 && len < LOCK_NAME_MAX && s[0] != '.' &&
	       !memcmp(s + len - 5, ".lock", 5);
}

static int local_list(struct lock *l, int (*cb)(void *, const char *),
		      void *arg, struct errbuf *eb)
{
	struct dirent *de;
	DIR *d = opendir(l->dir);
	int rc = 0;

	if (!d)
		return errbuf_set(eb, -errno, "cannot list '%s': %s", l->dir,
				  strerror(errno));
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (!strncmp(de->d_name, LOCK_TMP_PREFIX,
			     sizeof(LOCK_TMP_PREFIX) - 1)) {
			local_reap_temp(dirfd(d), de->d_name);
			continue;
		}
		if (!is_lock_name(de->d_name, strlen(de->d_name)))
			continue;
		rc = cb(arg, de->d_name);
		if (rc)
			break;
	}
	closedir(d);
	if (rc < 0 && !eb->code)
		errbuf_set(eb, rc, "cannot list '%s': %s", l->dir,
			   strerror(-rc));
	return rc < 0 ? rc : 0;
}

static int local_del(struct lock *l, const char *name, struct errbuf *eb)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	if (unlink(path) && errno != ENOENT)
		return errbuf_set(eb, -errno, "cannot remove lock '%s': %s",
				  path, strerror(errno));
	return 0;
}

static const struct lock_store_ops local_ops = {
	local_put, local_get, local_list, local_del,
};

/* ---- object-store backend --------------------------------------------- */

static int remote_put(struct lock *l, const char *name, const char *body,
		      size_t len, bool create, struct errbuf *eb)
{
	struct body_src src = { .kind = BODY_SRC_MEM, .mem = body,
				.len = len };
	char key[LOCK_NAME_MAX + 8];
	int rc;

	(void)create;   /* 64 random bits in the name: never taken */
	snprintf(key, sizeof(key), LOCK_DIR "/%s", name);
	rc = objstore_put(l->os, key, &src, NULL, NULL, eb);
	if (rc == -ENOENT) {
		/* no bucket: created with --create-bucket, else the error */
		rc = objstore_bucket_missing(l->os, eb);
		if (!rc)
			rc = objstore_put(l->os, key, &src, NULL, NULL, eb);
	}
	return rc;
}

static int remote_get(struct lock *l, const char *name, char *buf, size_t cap,
		      struct errbuf *eb)
{
	char key[LOCK_NAME_MAX + 8];

	snprintf(key, sizeof(key), LOCK_DIR "/%s", name);
	return objstore_get_small(l->os, key, buf, cap, eb);
}

struct remote_list_ctx {
	int (*cb)(void *, const char *);
	void *arg;
};

static int remote_list_cb(void *arg, const struct objstore_entry *e)
{
	struct remote_list_ctx *c = arg;
	char name[LOCK_NAME_MAX];
	size_t len;

	if (e->key_len <= sizeof(LOCK_DIR) ||
	    memcmp(e->key, LOCK_DIR "/", sizeof(LOCK_DIR)))
		return 0;
	len = e->key_len - sizeof(LOCK_DIR);
	if (!is_lock_name(e->key + sizeof(LOCK_DIR), len))
		return 0;
	memcpy(name, e->key + sizeof(LOCK_DIR), len);
	name[len] = '\0';
	return c->cb(c->arg, name);
}

static int remote_list(struct lock *l, int (*cb)(void *, const char *),
		       void *arg, struct errbuf *eb)
{
	struct remote_list_ctx c = { cb, arg };
	int rc = objstore_list(l->os, LOCK_DIR "/", remote_list_cb, &c, eb);

	if (rc == -ENOENT)
		return 0;
	return rc < 0 ? rc : 0;
}

static int remote_del(struct lock *l, const char *name, struct errbuf *eb)
{
	char key[LOCK_NAME_MAX + 8];

	snprintf(key, sizeof(key), LOCK_DIR "/%s", name);
	return objstore_del(l->os, key, eb);
}

static const struct lock_store_ops remote_ops = {
	remote_put, remote_get, remote_list, remote_del,
};

/* ---- the protocol ----------------------------------------------------- */

static const char *kind_name(enum lock_kind k)
{
	return k == LOCK_EXCLUSIVE ? "exclusive" : "shared";
}

static int body_of(const struct lock *l, int64_t now_ns, char *out,
		   size_t cap)
{
	return snprintf(out, cap, "{\"kind\":\"%s\",\"command\":\"%s\","
			"\"host\":\"%s\",\"pid\":%ld,\"created_ns\":%" PRId64
			",\"refreshed_ns\":%" PRId64 "}\n",
			kind_name(l->kind), l->what, l->host, l->pid,
			l->created_ns, now_ns);
}

/* value of "key": in a lock body: number or string (into s) */
static bool field_i64(const char *body, const char *key, int64_t *v)
{
	const char *p = strstr(body, key);

	if (!p)
		return false;
	*v = strtoll(p + strlen(key), NULL, 10);
	return true;
}

static void field_str(const char *body, const char *key, char *s, size_t cap)
{
	const char *p = strstr(body, key), *e;
	size_t n;

	snprintf(s, cap, "?");
	if (!p)
		return;
	p += strlen(key);
	e = strchr(p, '"');
	if (!e)
		return;
	n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
	memcpy(s, p, n);
	s[n] = '\0';
}

struct scan_ctx {
	struct lock *l;
	struct errbuf *eb;
	int64_t now_ns;
	bool conflict;
	char holder[512];
	unsigned seen;
	int err;
};

static int scan_one(void *arg, const char *name)
{
	struct scan_ctx *c = arg;
	struct lock *l = c->l;
	struct errbuf local = ERRBUF_INIT;
	char body[LOCK_BODY_MAX], host[256], cmd[32];
	int64_t refreshed = 0, pid = 0, age_s;
	bool exclusive = !strncmp(name, "exclusive-", 10);
	int rc;

	if (!strcmp(name, l->name) || ++c->seen > LOCK_MAX_SEEN)
		return 0;
	rc = l->ops->get(l, name, body, sizeof(body), &local);
	if (rc == -ENOENT)
		return 0;      /* removed meanwhile */
	if (rc < 0) {
		c->err = errbuf_set(c->eb, rc, "%s", local.msg);
		return 1;
	}
	/* an unreadable body counts as refreshed at its creation: a writer
	 * may be between creating and filling it (remote PUTs are whole,
	 * so this is only a torn local temp, which has another name) */
	if (!field_i64(body, "\"refreshed_ns\":", &refreshed))
		refreshed = c->now_ns;
	age_s = (c->now_ns - refreshed) / 1000000000LL;
	if (age_s > (int64_t)l->expiry_s) {
		/* its holder died or is stopped: it must not be trusted
		 * again (lock_check makes a resumed holder give up) */
		rc = l->ops->del(l, name, &local);
		if (rc < 0) {
			c->err = errbuf_set(c->eb, rc, "%s", local.msg);
			return 1;
		}
		return 0;
	}
	if (l->kind == LOCK_SHARED && !exclusive)
		return 0;
	field_str(body, "\"host\":\"", host, sizeof(host));
	field_str(body, "\"command\":\"", cmd, sizeof(cmd));
	field_i64(body, "\"pid\":", &pid);
	if (!c->conflict)
		snprintf(c->holder, sizeof(c->holder), "%s (%s lock) on host "
			 "'%s', pid %" PRId64 ", refreshed %" PRId64 " s ago; "
			 "a lock not refreshed for %u s is stale", cmd,
			 exclusive ? "exclusive" : "shared", host, pid,
			 age_s < 0 ? 0 : age_s, l->expiry_s);
	c->conflict = true;
	return 0;
}

/* list the locks, remove stale ones, note a live conflicting one */
static int scan(struct lock *l, bool *conflict, char *holder, size_t cap,
		struct errbuf *eb)
{
	struct scan_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.l = l;
	c.eb = eb;
	c.now_ns = clock_now_ns();
	rc = l->ops->list(l, scan_one, &c, eb);
	if (c.err)
		return c.err;
	if (rc < 0)
		return rc;
	*conflict = c.conflict;
	snprintf(holder, cap, "%s", c.holder);
	return 0;
}

static int write_own(struct lock *l, bool create, struct errbuf *eb)
{
	char body[LOCK_BODY_MAX];
	int n = body_of(l, clock_now_ns(), body, sizeof(body));

	if (n < 0 || (size_t)n >= sizeof(body))
		return errbuf_set(eb, -ENAMETOOLONG, "lock body too long");
	return l->ops->put(l, l->name, body, (size_t)n, create, eb);
}

static void *refresh_main(void *arg)
{
	struct lock *l = arg;
	struct timespec ts;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct errbuf eb = ERRBUF_INIT;
		char probe[LOCK_BODY_MAX];
		int rc;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += l->refresh_s;
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		/* a lock removed as stale by another run is lost for good:
		 * writing it back would hide that from lock_check */
		rc = l->ops->get(l, l->name, probe, sizeof(probe), &eb);
		if (rc == 0)
			rc = write_own(l, false, &eb);
		pthread_mutex_lock(&l->mu);
		if (rc == -ENOENT)
			l->lost = true;
		else if (rc == 0)
			l->last_ok_mono = clock_mono_s();
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static int open_store(struct lock *l, const struct engine_opts *o,
		      struct errbuf *eb)
{
	const char *root = o->snap_root;
	size_t n;

	if (strstr(root, "://")) {
		struct objstore_config cfg;

		unsigned transfers;

		objstore_config_defaults(&cfg);
		transfers = cfg.transfers;   /* a few small requests */
		engine_objstore_config(o, &cfg);
		/* on its own thread, a few small requests; on the run's
		 * stage, the run's settings (it may be the first store) */
		if (!cfg.stage)
			cfg.transfers = transfers;
		l->ops = &remote_ops;
		return objstore_open(root, o->snap_storage_options, &cfg,
				     &l->os, eb);
	}
	l->ops = &local_ops;
	n = strlen(root) + sizeof(LOCK_DIR) + 2;
	l->dir = malloc(n);
	if (!l->dir)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	snprintf(l->dir, n, "%s/" LOCK_DIR, root);
	return relpath_mkdir_p(l->dir, eb);
}

static void lock_free(struct lock *l)
{
	if (!l)
		return;
	objstore_free(l->os);
	free(l->dir);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

int lock_acquire(const struct engine_opts *o, enum lock_kind kind,
		 const char *what, struct lock **out, struct errbuf *eb)
{
	struct errbuf ignored = ERRBUF_INIT;
	struct lock *l;
	char holder[512];
	uint64_t rnd;
	bool conflict = false, written = false;
	int rc;

	if (!o || !o->snap_root || !what || !out)
		return errbuf_set(eb, -EINVAL, "cannot lock: invalid "
				  "arguments");
	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->root = o->snap_root;
	l->kind = kind;
	l->expiry_s = o->lock_expiry_s ? o->lock_expiry_s :
		      LOCK_EXPIRY_DEFAULT_S;
	l->refresh_s = lock_refresh_period(l->expiry_s, o->lock_refresh_s);
	snprintf(l->what, sizeof(l->what), "%s", what);
	if (gethostname(l->host, sizeof(l->host) - 1))
		snprintf(l->host, sizeof(l->host), "?");
	/* the host name goes into JSON: keep it plain */
	for (char *p = l->host; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	l->pid = (long)getpid();
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		rc = errbuf_set(eb, -EIO, "cannot get random bytes");
		goto fail;
	}
	snprintf(l->name, sizeof(l->name), "%s-%016" PRIx64 ".lock",
		 kind_name(kind), rnd);
	rc = open_store(l, o, eb);
	if (rc < 0)
		goto fail;
	/* look first (cheap refusal), write, look again: of two runs that
	 * write at the same time, the later lister sees the earlier one */
	rc = scan(l, &conflict, holder, sizeof(holder), eb);
	if (rc < 0)
		goto fail;
	if (!conflict) {
		l->created_ns = clock_now_ns();
		rc = write_own(l, true, eb);
		if (rc < 0)
			goto fail;
		written = true;
		l->last_ok_mono = clock_mono_s();
		rc = scan(l, &conflict, holder, sizeof(holder), eb);
		if (rc < 0)
			goto fail;
	}
	if (conflict) {
		rc = errbuf_set(eb, -EBUSY, "'%s' is locked by %s", l->root,
				holder);
		goto fail;
	}
	if (pthread_create(&l->thread, NULL, refresh_main, l)) {
		rc = errbuf_set(eb, -EAGAIN, "cannot start the lock refresh "
				"thread");
		goto fail;
	}
	l->thread_started = true;
	*out = l;
	return 0;
fail:
	if (written)
		l->ops->del(l, l->name, &ignored);
	lock_free(l);
	return rc;
}

unsigned lock_refresh_period(unsigned expiry_s, unsigned refresh_s)
{
	unsigned most = expiry_s / 3 ? expiry_s / 3 : 1;

	if (!refresh_s)
		refresh_s = LOCK_REFRESH_DEFAULT_S;
	return refresh_s > most ? most : refresh_s;
}

bool lock_refresh_too_old(double since_s, unsigned expiry_s)
{
	/* The refresh was "one period before the expiry" before: with a
	 * period of half the expiry or more (SNAPSHOOTER_LOCK_EXPIRY=2,
	 * _REFRESH=1) any lateness of the refresh thread failed the run
	 * ("not refreshed for 1 s (expiry 2 s)") */
	return since_s > (double)expiry_s * 2.0 / 3.0;
}

int lock_check(struct lock *l, struct errbuf *eb)
{
	struct errbuf local = ERRBUF_INIT;
	char body[LOCK_BODY_MAX];
	double since;
	bool lost;
	int rc;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	since = clock_mono_s() - l->last_ok_mono;
	lost = l->lost;
	pthread_mutex_unlock(&l->mu);
	/* another run treats us as stale after expiry_s without a refresh:
	 * stop while a third of it is left for publishing */
	if (!lost && lock_refresh_too_old(since, l->expiry_s))
		return errbuf_set(eb, -ESTALE, "lost the lock on '%s': not "
				  "refreshed for %.1f s (expiry %u s); nothing "
				  "was published", l->root, since, l->expiry_s);
	rc = lost ? -ENOENT : l->ops->get(l, l->name, body, sizeof(body),
					    &local);
	if (rc == -ENOENT)
		return errbuf_set(eb, -ESTALE, "lost the lock on '%s': another "
				  "run removed it as stale; nothing was "
				  "published", l->root);
	if (rc < 0)
		return errbuf_set(eb, rc, "%s", local.msg);
	return 0;
}

void lock_release(struct lock *l)
{
	struct errbuf ignored = ERRBUF_INIT;

	if (!l)
		return;
	if (l->thread_started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	}
	l->ops->del(l, l->name, &ignored);
	lock_free(l);
}
