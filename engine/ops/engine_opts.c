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
	o->jobs = (unsigned)cores;
	o->scan_jobs = 2;
	o->transfers = 16;
	o->retries = 5;
	o->progress = true;
}
