/*
 * fuzz-parse - the values users type: durations, times, sizes, states.
 *
 * Each parser takes the whole string or fails with EINVAL or ERANGE.  What
 * one accepts is checked by writing the value back in a canonical form and
 * parsing that: it must give the same value.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mq.h"
#include "fuzz.h"

#define DURATION_MAX	(INT64_C(100) * 365 * 86400 * 1000)
#define TIME_MAX	INT64_C(9999999999)

static int
allof(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

static void
duration(const char *s)
{
	char buf[64];
	int64_t ms, again;

	if (mq_parse_duration(s, &ms) == -1) {
		CHECK(errno == EINVAL || errno == ERANGE);
		return;
	}
	CHECK(s[0] >= '0' && s[0] <= '9');
	CHECK(allof(s, "0123456789smhd"));
	CHECK(ms >= 0 && ms <= DURATION_MAX);
	snprintf(buf, sizeof(buf), "%lldms", (long long)ms);
	CHECK(mq_parse_duration(buf, &again) == 0 && again == ms);
	if (ms % 1000 == 0) {
		/* a plain number is seconds */
		snprintf(buf, sizeof(buf), "%lld", (long long)(ms / 1000));
		CHECK(mq_parse_duration(buf, &again) == 0 && again == ms);
	}
	mq_format_age(ms / 1000, buf, sizeof(buf));
	CHECK(strlen(buf) >= 2);
}

/*
 * A time is epoch seconds or YYYY-MM-DDTHH:MM[:SS][Z] (a space may stand
 * for the T).  What is accepted in the second form must be that time
 * written out: nothing normalized (no 31 February), nothing skipped.
 */
static void
timeval(const char *s)
{
	char buf[64], fmt[32];
	struct tm tm;
	time_t t;
	int64_t v, again;
	size_t len = strlen(s);
	const char *d = s[0] == '@' ? s + 1 : s;

	if (mq_parse_time(s, &v) == -1) {
		CHECK(errno == EINVAL);
		return;
	}
	CHECK(v >= 0 && v <= TIME_MAX);
	if (d[0] != '\0' && allof(d, "0123456789")) {
		CHECK(v == strtoll(d, NULL, 10));
	} else {
		CHECK(len == 16 || len == 17 || len == 19 || len == 20);
		CHECK(s[10] == 'T' || s[10] == ' ');
		t = (time_t)v;
		CHECK(gmtime_r(&t, &tm) != NULL);
		snprintf(fmt, sizeof(fmt), "%%Y-%%m-%%d%c%%H:%%M%s%s", s[10],
		    len >= 19 ? ":%S" : "", s[len - 1] == 'Z' ? "Z" : "");
		strftime(buf, sizeof(buf), fmt, &tm);
		CHECK(strcmp(buf, s) == 0);
	}
	snprintf(buf, sizeof(buf), "@%lld", (long long)v);
	CHECK(mq_parse_time(buf, &again) == 0 && again == v);
}

static void
size(const char *s)
{
	char buf[64];
	int64_t n, again;
	size_t len = strlen(s);

	if (mq_parse_size(s, &n) == -1) {
		CHECK(errno == EINVAL || errno == ERANGE);
		return;
	}
	CHECK(n >= 0);
	CHECK(s[0] >= '0' && s[0] <= '9');
	if (strchr("kKmMgG", s[len - 1]) != NULL) {
		CHECK(n % 1024 == 0);
		CHECK(strspn(s, "0123456789") == len - 1);
	} else
		CHECK(allof(s, "0123456789"));
	snprintf(buf, sizeof(buf), "%lld", (long long)n);
	CHECK(mq_parse_size(buf, &again) == 0 && again == n);
}

static void
state(const char *s)
{
	int st;

	if ((st = mq_parse_state(s)) == -1) {
		CHECK(errno == EINVAL);
		return;
	}
	CHECK(st >= 0 && st < MQ_NSTATES);
	CHECK(strcmp(mq_state_name(st), s) == 0);
}

/* mq_format_age on any number, into any buffer down to none at all */
static void
age(const uint8_t *data, size_t n)
{
	char *buf;
	int64_t v = 0;
	size_t len;

	if (n < 9)
		return;
	memcpy(&v, data, sizeof(v));
	len = data[8] % 24;
	if ((buf = malloc(len ? len : 1)) == NULL)
		abort();
	mq_format_age(v, buf, len);
	if (len > 0)
		CHECK(strlen(buf) < len);
	free(buf);
	CHECK(strcmp(mq_state_name((int)v), "?") == 0 ||
	    ((int)v >= 0 && (int)v < MQ_NSTATES));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* local times parse the same everywhere, and as UTC */
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *s = fuzz_cstr(data, n);

	duration(s);
	timeval(s);
	size(s);
	state(s);
	age(data, n);
	free(s);
	return 0;
}
