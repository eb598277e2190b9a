/* run: see run.h. */
#include "run.h"

#include "banned.h"

void run_init(struct run *run, const struct engine_opts *o,
	      struct logger *log, struct run_stats *stats)
{
	run->o = o;
	run->log = log;
	run->stats = stats;
	run_error_init(&run->err);
}

void run_destroy(struct run *run)
{
	run_error_destroy(&run->err);
}
