/* xattr_warn: the one warning restore and sync give about xattrs they
 * could not set, instead of one per file. */
#include <unistd.h>

#include "engine.h"
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
