/* run_error: the first error of a multi-threaded run (run_error.h). */
#include "run_error.h"

#include <string.h>

#include "banned.h"

void run_error_init(struct run_error *re)
{
	pthread_mutex_init(&re->lock, NULL);
	memset(&re->err, 0, sizeof(re->err));
}

void run_error_destroy(struct run_error *re)
{
	pthread_mutex_destroy(&re->lock);
}

bool run_error_set(struct run_error *re, const struct errbuf *eb, int code)
{
	bool kept = false;

	pthread_mutex_lock(&re->lock);
	if (!re->err.code) {
		re->err.code = code;
		memcpy(re->err.msg, eb->msg, sizeof(re->err.msg));
		kept = true;
	}
	pthread_mutex_unlock(&re->lock);
	return kept;
}

bool run_error_failed(struct run_error *re)
{
	bool failed;

	pthread_mutex_lock(&re->lock);
	failed = re->err.code != 0;
	pthread_mutex_unlock(&re->lock);
	return failed;
}

int run_error_take(struct run_error *re, struct errbuf *eb)
{
	int code;

	pthread_mutex_lock(&re->lock);
	code = re->err.code;
	if (code)
		*eb = re->err;
	pthread_mutex_unlock(&re->lock);
	return code;
}
