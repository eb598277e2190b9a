/* test.h: the tiny unit-test harness. Each tests/unit/test_<module>.c is
 * one executable; a failed CHECK prints file:line and the expression and
 * the test exits 1 at the end; TEST_SKIP exits 77 (ctest SKIP_RETURN_CODE). */
#ifndef SNAP_TEST_H
#define SNAP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                        \
	do {                                                               \
		test_checks++;                                             \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			test_failures++;                                   \
		}                                                          \
	} while (0)

#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long va_ = (long long)(a), vb_ = (long long)(b);      \
		test_checks++;                                             \
		if (va_ != vb_) {                                          \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s"  \
				" (%lld != %lld)\n", __FILE__, __LINE__,   \
				#a, #b, va_, vb_);                         \
			test_failures++;                                   \
		}                                                          \
	} while (0)

#define CHECK_STREQ(a, b)                                                  \
	do {                                                               \
		const char *sa_ = (a), *sb_ = (b);                         \
		test_checks++;                                             \
		if (!sa_ || !sb_ || strcmp(sa_, sb_)) {                    \
			fprintf(stderr, "%s:%d: CHECK_STREQ failed: "       \
				"'%s' != '%s'\n", __FILE__, __LINE__,      \
				sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
			test_failures++;                                   \
		}                                                          \
	} while (0)

/* expect a negative errno return */
#define CHECK_ERR(expr, err) CHECK_EQ((expr), -(err))

#define TEST_SKIP(why)                                                     \
	do {                                                               \
		fprintf(stderr, "SKIP: %s\n", why);                        \
		exit(77);                                                  \
	} while (0)

#define RUN_TEST(fn)                                                       \
	do {                                                               \
		int before_ = test_failures;                               \
		fn();                                                      \
		fprintf(stderr, "%s %s\n",                                 \
			test_failures == before_ ? "ok  " : "FAIL", #fn);  \
	} while (0)

static inline int test_finish(void)
{
	fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
	if (test_checks == 0) {
		fprintf(stderr, "no checks ran\n");
		return 1;
	}
	return test_failures ? 1 : 0;
}

#endif
