/*
 * parse.c - values users type: durations, points in time, sizes.
 *
 * Every parser takes the whole string or fails with EINVAL (ERANGE when the
 * value does not fit); none accepts a sign, so "-5s" cannot sneak a negative
 * lease past a check.  Durations are kept in milliseconds, times in epoch
 * seconds.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mq.h"

#define DURATION_MAX	(INT64_C(100) * 365 * 86400 * 1000)	/* 100 years */

/* Read an unsigned decimal number; *end points past it. */
static int
number(const char *s, const char **end, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (*s - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + (*s - '0');
	}
	*end = s;
	*out = v;
	return 0;
}

int
mq_parse_duration(const char *s, int64_t *ms)
{
	static const struct { const char *u; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 },
	};
	const size_t nunits = sizeof(units) / sizeof(units[0]);
	int64_t total = 0, v;
	const char *p = s;
	size_t i;
	int first = 1;

	if (*s == '\0') {
		errno = EINVAL;
		return -1;
	}
	while (*p != '\0') {
		errno = EINVAL;
		if (number(p, &p, DURATION_MAX, &v) == -1)
			return -1;
		if (*p == '\0' && first) {
			i = 1;		/* a plain number is seconds */
		} else {
			/* "ms" comes first so that it is not read as minutes */
			for (i = 0; i < nunits; i++)
				if (strncmp(p, units[i].u, strlen(units[i].u)) == 0)
					break;
			if (i == nunits) {
				errno = EINVAL;
				return -1;
			}
			p += strlen(units[i].u);
		}
		first = 0;
		if (v > (DURATION_MAX - total) / units[i].ms) {
			errno = ERANGE;
			return -1;
		}
		total += v * units[i].ms;
	}
	*ms = total;
	return 0;
}

/*
 * The shape of YYYY-MM-DDTHH:MM[:SS][Z] (a space may stand for the T),
 * checked before strptime, which would skip spaces, take one digit where
 * two belong, or take no separator between date and time at all.
 */
static int
iso_shape(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i, len = strlen(s);

	if (len > 16 && s[len - 1] == 'Z')
		len--;
	if (len != 16 && len != 19)
		return 0;
	for (i = 0; i < len; i++) {
		if (pat[i] == 'd' ? s[i] < '0' || s[i] > '9' :
		    pat[i] == 'T' ? s[i] != 'T' && s[i] != ' ' : s[i] != pat[i])
			return 0;
	}
	return 1;
}

int
mq_parse_time(const char *s, int64_t *epoch)
{
	struct tm tm, want;
	const char *end;
	char *rest;
	int64_t v;
	time_t t;

	/* "@" (as date(1) takes it) marks epoch seconds, nothing else */
	if (number(s + (*s == '@'), &end, MQ_TIME_MAX, &v) == 0 &&
	    *end == '\0') {
		*epoch = v;
		return 0;
	}
	if (!iso_shape(s))
		goto bad;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, s[10] == 'T' ? "%Y-%m-%dT%H:%M" : "%Y-%m-%d %H:%M",
	    &tm);
	if (rest == NULL)
		goto bad;
	if (*rest == ':' && (rest = strptime(rest, ":%S", &tm)) == NULL)
		goto bad;
	want = tm;
	if (strcmp(rest, "Z") == 0) {
		t = timegm(&tm);
		if (gmtime_r(&t, &tm) == NULL)
			goto bad;
	} else if (*rest == '\0') {
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (localtime_r(&t, &tm) == NULL)
			goto bad;
	} else
		goto bad;
	/*
	 * 31 February, a leap second, or a local time skipped by a DST
	 * change would come back as another time: refuse them.
	 */
	if (tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon ||
	    tm.tm_mday != want.tm_mday || tm.tm_hour != want.tm_hour ||
	    tm.tm_min != want.tm_min || tm.tm_sec != want.tm_sec)
		goto bad;
	/* times in names have 10 digits: the year 2286 is far enough */
	if (t < 0 || (int64_t)t > MQ_TIME_MAX)
		goto bad;
	*epoch = t;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
mq_parse_size(const char *s, int64_t *bytes)
{
	const char *end;
	int64_t v, mul = 1;

	errno = EINVAL;
	if (number(s, &end, INT64_MAX, &v) == -1)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1024;
		break;
	case 'm': case 'M':
		mul = 1024 * 1024;
		break;
	case 'g': case 'G':
		mul = 1024 * 1024 * 1024;
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (*end != '\0' && end[1] != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (v > INT64_MAX / mul) {
		errno = ERANGE;
		return -1;
	}
	*bytes = v * mul;
	return 0;
}

/*
 * A rate, as -r of mq-work and rate in mq.conf take it: "N" or "N/s"
 * (per second), "N/m", "N/h", N from 1 to MQ_RATE_MAX; the interval
 * between two tokens in microseconds.
 */
int
mq_parse_rate(const char *s, int64_t *us)
{
	static const struct { const char *u; int64_t us; } units[] = {
		{ "", 1000000 }, { "/s", 1000000 }, { "/m", 60000000 },
		{ "/h", INT64_C(3600000000) },
	};
	const char *end;
	int64_t n;
	size_t i;

	if (number(s, &end, INT64_MAX, &n) == -1 || n < 1 ||
	    n > MQ_RATE_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].u) == 0) {
			*us = units[i].us / n;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

/* An age in the largest unit that keeps it short: 42s, 5m, 3h, 2d. */
void
mq_format_age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 2 * 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

int64_t
mq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ceil_s(int64_t ms)
{
	return (ms + 999) / 1000;
}
