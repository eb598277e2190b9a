/* engine_opts: defaults for every tunable of the engine. */
#include <sched.h>
#include <unistd.h>

#include "engine_opts.h"
#include "objstore.h"

void engine_opts_defaults(struct engine_opts *o)
{
	/* the CPUs this process may use: on a 64-core host a job pinned
	 * to 4 of them (taskset, a cpuset) gets 8 workers, not 128 */
	unsigned cores = engine_usable_cpus();

	o->log.level = LOG_WARNING;
	o->log.erase_line = false;
	o->io = IO_MODE_AUTO;
	/* twice the cores: a worker blocked on a disk read, an inode or the
	 * journal leaves its core to another (cold cache, 100,000 small
	 * files: restore 5.5-5.9 s -> 4.4-4.5 s, sync 4.3 -> 3.0 s,
	 * make-snapshot 4.1-4.7 -> 3.6-3.7 s; no change when cached) */
	o->jobs = cores > 512 ? 1024 : 2 * cores;
	o->scan_jobs = 2;
	o->transfers = 16;
	o->retries = 5;
	o->progress = true;
}

unsigned engine_usable_cpus(void)
{
	cpu_set_t set;
	long n;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

unsigned engine_workers(const struct engine_opts *o, bool wait_on_network)
{
	unsigned n = o->jobs ? o->jobs : 1;

	if (wait_on_network && o->transfers > n)
		n = o->transfers;
	return n;
}

enum io_backend engine_io_backend(const struct engine_opts *o)
{
	return o->io == IO_MODE_SYNC ? IO_BACKEND_SYNC :
	       o->io == IO_MODE_URING ? IO_BACKEND_URING : IO_BACKEND_AUTO;
}

void engine_objstore_config(const struct engine_opts *o,
			    struct objstore_config *cfg)
{
	objstore_config_defaults(cfg);
	if (!o)
		return;
	if (o->transfers)
		cfg->transfers = o->transfers;
	cfg->retries = o->retries;
	if (o->connect_timeout_s)
		cfg->connect_timeout_ms = (long)o->connect_timeout_s * 1000;
	if (o->io_timeout_s)
		cfg->low_speed_time_s = (long)o->io_timeout_s;
	cfg->create_bucket = o->create_bucket;
	cfg->stage = o->net;
}
