/* test_fdio: the EINTR-safe read and write helpers, on pipes (short
 * reads and writes, interruptions by a signal without SA_RESTART) and on
 * a temp file (the positional forms). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdio.h"
#include "test.h"
#include "tmpfile.h"

#define PIPE_CAP 4096

/* What the SIGALRM handler does on each tick: after `after` ticks it
 * writes `feed` into feed_fd once, or drains drain_fd. Ticks before
 * that interrupt a blocked call, which then has nothing to go on with. */
static volatile sig_atomic_t ticks;
static int tick_after;
static int feed_fd = -1;
static const char *feed;
static int drain_fd = -1;
static volatile sig_atomic_t drained;

static void on_tick(int sig)
{
	static char sink[PIPE_CAP];
	int saved = errno;
	ssize_t n;

	(void)sig;
	ticks++;
	if (ticks == tick_after && feed_fd >= 0)
		(void)!write(feed_fd, feed, strlen(feed));
	if (ticks >= tick_after && drain_fd >= 0) {
		n = read(drain_fd, sink, sizeof(sink));
		if (n > 0)
			drained += (sig_atomic_t)n;
	}
	errno = saved;
}

/* A SIGALRM every 20 ms, its handler installed without SA_RESTART so a
 * blocked read or write returns EINTR instead of going on. */
static void ticker_start(int after)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };

	ticks = 0;
	drained = 0;
	tick_after = after;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void ticker_stop(void)
{
	struct itimerval off = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	feed_fd = -1;
	drain_fd = -1;
}

/* The setup itself interrupts: a plain read(2) on an empty pipe fails
 * with EINTR, so the helpers below are really retried. */
static void test_ticker_interrupts(void)
{
	int p[2];
	char c;
	ssize_t n;

	CHECK(!pipe(p));
	ticker_start(1000);
	n = read(p[0], &c, 1);
	CHECK_EQ(n, -1);
	CHECK_EQ(errno, EINTR);
	ticker_stop();
	close(p[0]);
	close(p[1]);
}

static void test_read_short(void)
{
	char buf[16];
	int p[2];

	CHECK(!pipe(p));
	CHECK_EQ(write(p[1], "abc", 3), 3);
	/* one read takes what the pipe holds */
	CHECK_EQ(fdio_read(p[0], buf, sizeof(buf)), 3);
	CHECK(!memcmp(buf, "abc", 3));
	CHECK_EQ(write(p[1], "defgh", 5), 5);
	close(p[1]);
	/* a full read stops short at end of file, then reads 0 */
	CHECK_EQ(fdio_read_full(p[0], buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "defgh", 5));
	CHECK_EQ(fdio_read_full(p[0], buf, sizeof(buf)), 0);
	CHECK_EQ(fdio_read(p[0], buf, sizeof(buf)), 0);
	CHECK_EQ(fdio_read_full(p[0], buf, 0), 0);
	close(p[0]);
}

static void test_read_eintr(void)
{
	char buf[16];
	int p[2];

	CHECK(!pipe(p));
	feed_fd = p[1];
	feed = "xyz";
	ticker_start(3);
	/* blocked on an empty pipe: two interruptions, then data */
	CHECK_EQ(fdio_read(p[0], buf, sizeof(buf)), 3);
	CHECK(ticks >= 3);
	ticker_stop();
	CHECK(!memcmp(buf, "xyz", 3));
	close(p[0]);
	close(p[1]);
}

static void test_read_full_eintr(void)
{
	char buf[8];
	int p[2];

	CHECK(!pipe(p));
	CHECK_EQ(write(p[1], "abc", 3), 3);
	feed_fd = p[1];
	feed = "defgh";
	ticker_start(3);
	/* "abc" at once, then blocked (interrupted) until the rest comes */
	CHECK_EQ(fdio_read_full(p[0], buf, 8), 8);
	CHECK(ticks >= 3);
	ticker_stop();
	CHECK(!memcmp(buf, "abcdefgh", 8));
	close(p[0]);
	close(p[1]);
}

/* A write larger than the pipe holds, into a full pipe that the handler
 * drains a page per tick from the third on: the write is interrupted,
 * goes on in short pieces, and every byte arrives once, in order. */
static void test_write_full_eintr(void)
{
	static char big[3 * PIPE_CAP], back[3 * PIPE_CAP];
	int p[2], fl, i;
	size_t filled = 0, got = 0;
	ssize_t n;

	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	CHECK(!pipe(p));
	(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_CAP);
	fl = fcntl(p[1], F_GETFL);
	CHECK(!fcntl(p[1], F_SETFL, fl | O_NONBLOCK));
	while ((n = write(p[1], "f", 1)) == 1)
		filled++;
	CHECK(errno == EAGAIN);
	CHECK(!fcntl(p[1], F_SETFL, fl));
	/* a tick after the pipe is empty must not block in the handler */
	CHECK(!fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK));
	drain_fd = p[0];
	ticker_start(3);
	CHECK_EQ(fdio_write_full(p[1], big, sizeof(big)), 0);
	CHECK(ticks >= 3);
	ticker_stop();
	close(p[1]);
	/* what the handler drained was the filler first, then big's head */
	CHECK((size_t)drained >= filled);
	if ((size_t)drained < filled) {
		close(p[0]);
		return;
	}
	got = (size_t)drained - filled;
	n = fdio_read_full(p[0], back + got, sizeof(back) - got);
	CHECK_EQ(n, (ssize_t)(sizeof(big) - got));
	CHECK(!memcmp(back + got, big + got, sizeof(big) - got));
	close(p[0]);
}

static void test_positional(void)
{
	char buf[8];
	int fd = tmpfile_open(tmpfile_dir(), NULL);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(fdio_pwrite_full(fd, "hello", 5, 100), 0);
	CHECK_EQ(fdio_pwrite_full(fd, "", 0, 200), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_END), 105);
	CHECK_EQ(fdio_pread(fd, buf, sizeof(buf), 101), 4);
	CHECK(!memcmp(buf, "ello", 4));
	CHECK_EQ(fdio_pread(fd, buf, sizeof(buf), 105), 0);
	CHECK_EQ(fdio_pread(fd, buf, 2, 0), 2);
	CHECK(!buf[0] && !buf[1]);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_EQ(fdio_write_full(fd, "ab", 2), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 2);
	CHECK_EQ(fdio_read_full(fd, buf, 3), 3);
	CHECK(!buf[0] && !buf[1] && !buf[2]);
	close(fd);
}

static void test_errors(void)
{
	char buf[4];
	int p[2];

	CHECK_ERR(fdio_read(-1, buf, sizeof(buf)), EBADF);
	CHECK_ERR(fdio_read_full(-1, buf, sizeof(buf)), EBADF);
	CHECK_ERR(fdio_pread(-1, buf, sizeof(buf), 0), EBADF);
	CHECK_ERR(fdio_write_full(-1, "x", 1), EBADF);
	CHECK_ERR(fdio_pwrite_full(-1, "x", 1, 0), EBADF);
	CHECK(!pipe(p));
	CHECK_ERR(fdio_pread(p[0], buf, sizeof(buf), 0), ESPIPE);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR(fdio_write_full(p[1], "x", 1), EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

int main(void)
{
	RUN_TEST(test_ticker_interrupts);
	RUN_TEST(test_read_short);
	RUN_TEST(test_read_eintr);
	RUN_TEST(test_read_full_eintr);
	RUN_TEST(test_write_full_eintr);
	RUN_TEST(test_positional);
	RUN_TEST(test_errors);
	return test_finish();
}
