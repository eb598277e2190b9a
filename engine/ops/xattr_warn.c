/* xattr_warn: the one warning restore and sync give about xattrs they
 * could not set, instead of one per file; and the one warning about what
 * an object store as the target cannot keep. */
#include <unistd.h>

#include "engine.h"
#include "entry.h"
#include "banned.h"

void xattr_warn(const struct logger *log, const char *root,
		const struct run_stats *st)
{
	if (st->xattrs_unsupported)
		log_warn(log, "'%s' does not support extended attributes: "
			 "the xattrs and ACLs of %llu entr%s not restored",
			 root, (unsigned long long)st->xattrs_unsupported,
			 st->xattrs_unsupported == 1 ? "y were" : "ies were");
	if (st->xattrs_skipped)
		log_warn(log, "%llu extended attribute%s not set in '%s': %s",
			 (unsigned long long)st->xattrs_skipped,
			 st->xattrs_skipped == 1 ? "" : "s", root,
			 geteuid() ? "security.* and trusted.* need root "
			 "(or the kernel refused them, e.g. user.* on a "
			 "symlink)" : "the kernel refused them (e.g. user.* "
			 "on a symlink)");
}

bool store_drops_meta(const struct entry *e)
{
	return e->link || e->nlink > 1 || (e->mode & 07000) ||
	       e->xattrs_len || e->has_xattr_ref;
}

void store_meta_warn(const struct logger *log, const char *root,
		     const struct run_stats *st)
{
	if (st->meta_not_kept)
		log_warn(log, "'%s' is an object store: it keeps content and "
			 "mtime only; the hard links, xattrs/ACLs or "
			 "setuid/setgid/sticky bits of %llu file%s not kept "
			 "(nor any owner or mode)", root,
			 (unsigned long long)st->meta_not_kept,
			 st->meta_not_kept == 1 ? " were" : "s were");
}
