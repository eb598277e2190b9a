/* fuzz_objmeta: arbitrary bytes as a stored "mtime" metadata value (server
 * input): the parser must not crash or read past len, and whatever it
 * accepts must survive both written forms unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objmeta.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[OBJMETA_MTIME_MAX];
	int64_t ns = 0, back = 0;

	if (!objmeta_mtime_parse((const char *)data, size, &ns))
		return 0;
	objmeta_mtime_s3(ns, out);
	if (!objmeta_mtime_parse(out, strlen(out), &back) || back != ns)
		abort();
	objmeta_mtime_az(ns, out);
	/* the Azure form holds years 1678-2261 only: the edges of the
	 * int64 ns range fall outside */
	if (ns > -9183950400LL * 1000000000LL &&
	    ns < 9183950400LL * 1000000000LL &&
	    (!objmeta_mtime_parse(out, strlen(out), &back) || back != ns))
		abort();
	return 0;
}
