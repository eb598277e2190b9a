/* utf8: see utf8.h. */
#include "utf8.h"

#include "banned.h"

size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;      /* a continuation byte, or 0xc0/0xc1/0xf5+ */
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (s[0] == 0xe0 && s[1] < 0xa0)
		return 0;      /* overlong */
	if (s[0] == 0xed && s[1] >= 0xa0)
		return 0;      /* UTF-16 surrogate */
	if (s[0] == 0xf0 && s[1] < 0x90)
		return 0;      /* overlong */
	if (s[0] == 0xf4 && s[1] >= 0x90)
		return 0;      /* > U+10FFFF */
	return n;
}
