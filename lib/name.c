/*
 * name.c - the grammar of queue names, message ids and message file names.
 *
 * A message file name is its id followed by ",<letter><value>" fields (see
 * mq(7)).  Everything a consumer needs to order, expire or dead-letter a
 * message is in its name, so no body is ever read to decide.  The parser is
 * strict: a name it accepts is one mq could have written, which is what keeps
 * a planted or mangled file from being delivered, and what makes
 * format(parse(x)) == x for canonical names.
 *
 * The fan-out flag ",f" (fanout.c) is the one field without a value.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char alnum[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
isdigitc(int c)
{
	return c >= '0' && c <= '9';
}

static int
isalnumc(int c)
{
	return c != '\0' && strchr(alnum, c) != NULL;
}

int
mq_queue_name_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= MQ_QUEUE_MAX)
			return 0;
		if (!isalnumc(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	}
	return 1;
}

/*
 * Ids sort in enqueue order.  One process never hands out the same
 * microsecond twice, so the ids of a batch keep their input order even when
 * the clock is coarse or a batch is faster than a microsecond per message.
 */
void
mq_new_id(char id[MQ_ID_LEN + 1])
{
	static int64_t last;
	struct timespec ts;
	unsigned char r[8];
	int64_t us;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (us <= last)
		us = last + 1;
	last = us;
	arc4random_buf(r, sizeof(r));
	snprintf(id, MQ_ID_LEN + 1, "%010lld.%06lld.",
	    (long long)(us / 1000000), (long long)(us % 1000000));
	for (i = 0; i < sizeof(r); i++)
		id[18 + i] = alnum[r[i] % 62];
	id[MQ_ID_LEN] = '\0';
}

static int
id_ok(const char *s)
{
	int i;

	for (i = 0; i < MQ_ID_LEN; i++) {
		if (i == 10 || i == 17) {
			if (s[i] != '.')
				return 0;
		} else if (i < 17 ? !isdigitc(s[i]) : !isalnumc(s[i]))
			return 0;
	}
	return 1;
}

int64_t
mq_id_time(const char *id)
{
	return strtoll(id, NULL, 10);
}

/* A decimal field value without sign or leading zeros (except "0"). */
static int
fieldnum(const char **pp, int64_t max, int64_t *out)
{
	const char *p = *pp;
	int64_t v = 0;

	if (!isdigitc(*p) || (p[0] == '0' && isdigitc(p[1])))
		return -1;
	for (; isdigitc(*p); p++) {
		if (v > (max - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

static int
fieldword(const char **pp, char *out, size_t len, int (*ok)(int))
{
	const char *p = *pp;
	size_t n = 0;

	while (*p != '\0' && *p != ',') {
		if (!ok(*p) || n + 1 >= len)
			return -1;
		out[n++] = *p++;
	}
	if (n == 0)
		return -1;
	out[n] = '\0';
	*pp = p;
	return 0;
}

static int
islowerc(int c)
{
	return c >= 'a' && c <= 'z';
}

static int
ishexc(int c)
{
	return isdigitc(c) || (c >= 'a' && c <= 'f');
}

int
mq_name_parse(const char *s, struct mq_name *m)
{
	static const char order[] = "pasxnkgfrlt";
	const char *p, *o = order;
	int64_t v;

	memset(m, 0, sizeof(*m));
	m->prio = MQ_PRIORITY_DEFAULT;
	m->size = -1;
	if (strlen(s) > MQ_NAME_MAX || !id_ok(s))
		goto bad;
	memcpy(m->id, s, MQ_ID_LEN);
	m->id[MQ_ID_LEN] = '\0';
	p = s + MQ_ID_LEN;
	while (*p == ',') {
		p++;
		/* fields come in canonical order, each at most once */
		if (*p == '\0' || (o = strchr(o, *p)) == NULL)
			goto bad;
		o++;
		switch (*p++) {
		case 'p':
			if (fieldnum(&p, MQ_PRIORITY_MAX, &v) == -1)
				goto bad;
			m->prio = (int)v;
			break;
		case 'a':
			if (fieldnum(&p, ATTEMPTS_MAX, &v) == -1)
				goto bad;
			m->attempts = (int)v;
			break;
		case 's':
			if (fieldnum(&p, INT64_C(999999999999999), &m->size) == -1)
				goto bad;
			break;
		case 'x':
			if (fieldnum(&p, INT64_C(9999999999), &m->expiry) == -1 ||
			    m->expiry == 0)
				goto bad;
			break;
		case 'n':
			if (fieldnum(&p, INT64_C(9999999999), &m->notbefore) == -1 ||
			    m->notbefore == 0)
				goto bad;
			break;
		case 'k':
			if (fieldword(&p, m->key, sizeof(m->key), ishexc) == -1 ||
			    strlen(m->key) != MQ_KEY_HEX)
				goto bad;
			break;
		case 'g':
			if (fieldword(&p, m->group, sizeof(m->group),
			    ishexc) == -1 || strlen(m->group) != MQ_KEY_HEX)
				goto bad;
			break;
		case 'f':
			/* a flag: no value */
			if (*p != ',' && *p != '\0')
				goto bad;
			m->fanout = 1;
			break;
		case 'r':
			if (fieldword(&p, m->reason, sizeof(m->reason),
			    islowerc) == -1)
				goto bad;
			break;
		case 'l':
			if (fieldnum(&p, INT64_C(999999999999), &m->lease) ==
			    -1 || m->lease == 0)
				goto bad;
			break;
		case 't':
			if (fieldword(&p, m->token, sizeof(m->token),
			    isalnumc) == -1 || strlen(m->token) < 6)
				goto bad;
			break;
		}
	}
	if (*p != '\0')
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
mq_name_format(const struct mq_name *m, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s,p%d,a%d", m->id, m->prio, m->attempts);
	if (n >= 0 && (size_t)n < len && m->size >= 0)
		n += snprintf(buf + n, len - n, ",s%lld", (long long)m->size);
	if (n >= 0 && (size_t)n < len && m->expiry > 0)
		n += snprintf(buf + n, len - n, ",x%lld", (long long)m->expiry);
	if (n >= 0 && (size_t)n < len && m->notbefore > 0)
		n += snprintf(buf + n, len - n, ",n%lld",
		    (long long)m->notbefore);
	if (n >= 0 && (size_t)n < len && m->key[0] != '\0')
		n += snprintf(buf + n, len - n, ",k%s", m->key);
	if (n >= 0 && (size_t)n < len && m->group[0] != '\0')
		n += snprintf(buf + n, len - n, ",g%s", m->group);
	if (n >= 0 && (size_t)n < len && m->fanout)
		n += snprintf(buf + n, len - n, ",f");
	if (n >= 0 && (size_t)n < len && m->reason[0] != '\0')
		n += snprintf(buf + n, len - n, ",r%s", m->reason);
	if (n >= 0 && (size_t)n < len && m->lease > 0)
		n += snprintf(buf + n, len - n, ",l%lld", (long long)m->lease);
	if (n >= 0 && (size_t)n < len && m->token[0] != '\0')
		n += snprintf(buf + n, len - n, ",t%s", m->token);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Whether a parsed name may live in a state directory: a claim token only
 * and always in flight (so never in held/: a hold drops it), a reason only
 * in dead/, a due time always in delayed/ (and kept in held/, for the
 * release).  Anything else was not written by mq there, and is left alone.
 */
int
name_fits(const struct mq_name *m, int state)
{
	if ((m->token[0] != '\0') != (state == MQ_INFLIGHT))
		return 0;
	if (m->lease != 0 && state != MQ_INFLIGHT)
		return 0;
	if (m->reason[0] != '\0' && state != MQ_DEAD)
		return 0;
	if (state == MQ_DELAYED && m->notbefore == 0)
		return 0;
	return 1;
}

/*
 * When the lease of an in-flight file ends, in epoch ms: its mtime (set
 * when claimed or touched) plus the lease in its name.  A name without a
 * lease, as older versions wrote, has its deadline as its mtime.
 */
int64_t
lease_end(const struct stat *st, const struct mq_name *m)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 +
	    st->st_mtim.tv_nsec / 1000000 + m->lease;
}
