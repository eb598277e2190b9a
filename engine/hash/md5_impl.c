/* md5_impl: the --md5 choice (engine.h enum md5_impl): names, and what
 * AUTO means on this CPU. */
#include <errno.h>
#include <string.h>

#include "engine_opts.h"
#include "md5mb.h"
#include "banned.h"

static const char *const md5_names[] = {
	[MD5_IMPL_AUTO] = "auto",
	[MD5_IMPL_OPENSSL] = "openssl",
	[MD5_IMPL_AVX2] = "avx2",
	[MD5_IMPL_AVX512] = "avx512",
};

const char *engine_md5_name(enum md5_impl m)
{
	if ((size_t)m < sizeof(md5_names) / sizeof(md5_names[0]))
		return md5_names[m];
	return "?";
}

int engine_md5_parse(const char *name, enum md5_impl *out)
{
	size_t i;

	for (i = 0; i < sizeof(md5_names) / sizeof(md5_names[0]); i++) {
		if (!strcmp(name, md5_names[i])) {
			*out = (enum md5_impl)i;
			return 0;
		}
	}
	return -EINVAL;
}

int engine_md5_resolve(enum md5_impl m, enum md5_impl *out,
		       struct errbuf *eb)
{
	switch (m) {
	case MD5_IMPL_AUTO:
		/* the scalar kernel is no faster than OpenSSL's assembly:
		 * without vectors, OpenSSL */
		*out = md5mb_kernel_best() == MD5MB_AVX512 ? MD5_IMPL_AVX512 :
		       md5mb_kernel_best() == MD5MB_AVX2 ? MD5_IMPL_AVX2 :
		       MD5_IMPL_OPENSSL;
		return 0;
	case MD5_IMPL_OPENSSL:
		*out = m;
		return 0;
	case MD5_IMPL_AVX2:
	case MD5_IMPL_AVX512:
		if (!md5mb_kernel_supported(m == MD5_IMPL_AVX2 ? MD5MB_AVX2 :
					    MD5MB_AVX512))
			return errbuf_set(eb, -ENOTSUP, "cannot hash with "
					  "--md5 %s: %s", engine_md5_name(m),
					  m == MD5_IMPL_AVX2 ?
					  "this CPU or build has no AVX2" :
					  "this CPU or build has no AVX-512 "
					  "(F, VL and BW)");
		*out = m;
		return 0;
	}
	return errbuf_set(eb, -EINVAL, "unknown --md5 value %d", (int)m);
}
