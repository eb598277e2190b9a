/* team: threads that run one function side by side (team.h). */
#include "team.h"

#include <pthread.h>
#include <stdlib.h>

#include "banned.h"

unsigned team_run(unsigned n, void *(*fn)(void *), void *arg)
{
	pthread_t *th = n > 1 ? calloc(n - 1, sizeof(*th)) : NULL;
	unsigned started = 0, i;

	/* no memory for the thread ids: the caller alone, as with no
	 * threads */
	for (i = 0; th && i < n - 1; i++) {
		if (pthread_create(&th[i], NULL, fn, arg))
			break;
		started++;
	}
	fn(arg);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	return started + 1;
}
