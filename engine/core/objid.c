/* objid: hex and base64 renderings of a content id. */
#include "objid.h"

#include <errno.h>

#include "encode.h"

void objid_to_hex(const struct objid *id, char out[OBJID_HEX_LEN + 1])
{
	encode_hex(id->b, OBJID_LEN, out);
}

int objid_from_hex(const char *hex, size_t len, struct objid *out)
{
	if (len != OBJID_HEX_LEN)
		return -EINVAL;
	return decode_hex(hex, OBJID_LEN, out->b);
}

void objid_to_base64(const struct objid *id, char out[25])
{
	encode_base64(id->b, OBJID_LEN, out);
}
