/* workpool: threads over a shardq. */
#include "workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "banned.h"

struct worker {
	struct workpool *pool;
	size_t shard;
};

struct workpool {
	struct workpool_def def;
	struct shardq *queue;
	struct worker *workers;   /* def.workers */
	pthread_t *threads;       /* the first nstarted run */
	unsigned nstarted;
	unsigned njoined;         /* threads[0..njoined) joined */
};

int workpool_new(const struct workpool_def *def, struct workpool **out,
		 struct errbuf *eb)
{
	struct workpool *p = calloc(1, sizeof(*p));
	size_t shards, per_shard;
	unsigned i;

	*out = NULL;
	if (!p)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	p->def = *def;
	if (!p->def.workers)
		p->def.workers = 1;
	shards = p->def.shards ? p->def.shards : p->def.workers;
	p->def.shards = shards;
	/* queue_cap in all, each shard at least 1 */
	per_shard = (p->def.queue_cap + shards - 1) / shards;
	if (!per_shard)
		per_shard = 1;
	p->workers = calloc(p->def.workers, sizeof(*p->workers));
	p->threads = calloc(p->def.workers, sizeof(*p->threads));
	if (!p->workers || !p->threads ||
	    shardq_new(shards, per_shard, &p->queue) < 0) {
		workpool_free(p);
		return errbuf_set(eb, -ENOMEM, "out of memory");
	}
	for (i = 0; i < p->def.workers; i++) {
		p->workers[i].pool = p;
		p->workers[i].shard = i;
	}
	*out = p;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->pool->def.work(w->pool->def.arg, w->shard);
	return NULL;
}

int workpool_start(struct workpool *p, struct errbuf *eb)
{
	unsigned i;

	for (i = p->nstarted; i < p->def.workers; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main,
				   &p->workers[i]))
			break;
		p->nstarted++;
	}
	if (!p->nstarted)
		return errbuf_set(eb, -EAGAIN, "cannot start threads");
	return 0;
}

struct shardq *workpool_queue(struct workpool *p)
{
	return p->queue;
}

unsigned workpool_running(const struct workpool *p)
{
	return p->nstarted - p->njoined;
}

void workpool_close(struct workpool *p)
{
	if (p)
		shardq_close(p->queue);
}

void workpool_abort(struct workpool *p)
{
	if (p)
		shardq_abort(p->queue);
}

void workpool_join(struct workpool *p)
{
	if (!p)
		return;
	for (; p->njoined < p->nstarted; p->njoined++)
		pthread_join(p->threads[p->njoined], NULL);
}

void workpool_free(struct workpool *p)
{
	void *item;

	if (!p)
		return;
	if (p->queue) {
		shardq_abort(p->queue);
		workpool_join(p);
		while (shardq_drain(p->queue, &item) == 1)
			if (p->def.free_item)
				p->def.free_item(item);
		shardq_free(p->queue);
	}
	free(p->threads);
	free(p->workers);
	free(p);
}
