/* fuzz_snapshot_check: arbitrary bytes as one frame: the prescan must not
 * crash, and whatever it accepts msgpack-c must parse completely (the
 * prescan's promise to the reader), within its memory bound. */
#include <stdint.h>
#include <stdlib.h>

#include <msgpack.h>

#include "snapshot_check.h"
#include "snapshot_format.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked u;
	const char *why = NULL;
	size_t at = 0, off = 0;
	msgpack_unpack_return ur;

	if (size > SNAPSHOT_FRAME_MAX)
		return 0;
	if (snapshot_check_frame(data, size, &why, &at)) {
		if (!why || at > size)
			abort();
		return 0;
	}
	msgpack_unpacked_init(&u);
	ur = msgpack_unpack_next(&u, (const char *)data, size, &off);
	if (ur != MSGPACK_UNPACK_SUCCESS || off != size)
		abort();
	msgpack_unpacked_destroy(&u);
	return 0;
}
