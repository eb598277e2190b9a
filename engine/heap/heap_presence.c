/* heap_presence: a batch of ids and names, flushed through heap_has_many. */
#include "heap_presence.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* objects looked up at once */
#define PRESENCE_BATCH 4096

struct heap_presence {
	struct heap *heap;
	unsigned threads;
	size_t n;
	struct objid ids[PRESENCE_BATCH];
	char *names[PRESENCE_BATCH];
	unsigned char present[PRESENCE_BATCH];
};

int heap_presence_new(struct heap *h, unsigned threads,
		      struct heap_presence **out, struct errbuf *eb)
{
	struct heap_presence *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	p->heap = h;
	p->threads = threads ? threads : 1;
	*out = p;
	return 0;
}

static void drop_names(struct heap_presence *p)
{
	while (p->n)
		free(p->names[--p->n]);
}

void heap_presence_free(struct heap_presence *p)
{
	if (!p)
		return;
	drop_names(p);
	free(p);
}

int heap_presence_finish(struct heap_presence *p, struct errbuf *eb)
{
	size_t i;
	int ret;

	ret = heap_has_many(p->heap, p->ids, p->n, p->threads, p->present,
			    eb);
	for (i = 0; i < p->n && !ret; i++) {
		char hex[OBJID_HEX_LEN + 1], shown[512];

		if (p->present[i])
			continue;
		objid_to_hex(&p->ids[i], hex);
		errbuf_quote_name(shown, sizeof(shown), p->names[i],
				  strlen(p->names[i]));
		ret = errbuf_set(eb, -ENOENT, "cannot restore '%s': heap "
				 "object %s is missing from '%s'", shown, hex,
				 heap_root(p->heap));
	}
	drop_names(p);
	return ret;
}

int heap_presence_add(struct heap_presence *p, const struct objid *id,
		      const char *name, size_t len, struct errbuf *eb)
{
	p->names[p->n] = strndup(name, len);
	if (!p->names[p->n])
		return errbuf_set(eb, -ENOMEM, "out of memory");
	p->ids[p->n++] = *id;
	return p->n == PRESENCE_BATCH ? heap_presence_finish(p, eb) : 0;
}
