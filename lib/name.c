/*
 * name.c - the grammar of queue names, message ids and message file names
 * (bucket names are layout.c's).
 *
 * A message file name is its id followed by ",<letter><value>" fields (see
 * mq(7)).  Everything a consumer needs to order, expire or dead-letter a
 * message is in its name, so no body is ever read to decide.  The parser is
 * strict: a name it accepts is one mq could have written, which is what keeps
 * a planted or mangled file from being delivered, and what makes
 * format(parse(x)) == x for canonical names.  The rest of the library asks
 * here, and only here, whether a name is one of a message, and whether it
 * fits the place it lies in (name_fits).
 *
 * The writer keeps to the same grammar: what the parser would refuse (a
 * time past 2286, a lease of more than 31 years) is never formatted, so no
 * message is ever put, returned or claimed under a name that no one will
 * take.
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

#define NAME_SIZE_MAX	INT64_C(999999999999999)	/* ,s: 15 digits */

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
 * A clock past the 10 digits of an id (after 2286) gives no id: a name
 * made from it would be no name, and its message lost.  (One before 1970
 * counts on from the first microsecond, as a clock stepped back does.)
 */
int
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
	if (us / 1000000 > MQ_TIME_MAX) {
		errno = MQ_ERANGE;
		return -1;
	}
	last = us;
	arc4random_buf(r, sizeof(r));
	snprintf(id, MQ_ID_LEN + 1, "%010lld.%06lld.",
	    (long long)(us / 1000000), (long long)(us % 1000000));
	for (i = 0; i < sizeof(r); i++)
		id[18 + i] = alnum[r[i] % 62];
	id[MQ_ID_LEN] = '\0';
	return 0;
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
	static const char order[] = "pasxnkgfrdlt";
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
			if (fieldnum(&p, NAME_SIZE_MAX, &m->size) == -1)
				goto bad;
			break;
		case 'x':
			if (fieldnum(&p, MQ_TIME_MAX, &m->expiry) == -1 ||
			    m->expiry == 0)
				goto bad;
			break;
		case 'n':
			if (fieldnum(&p, MQ_TIME_MAX, &m->notbefore) == -1 ||
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
		case 'd':
			if (fieldnum(&p, MQ_TIME_MAX, &m->done) == -1 ||
			    m->done == 0)
				goto bad;
			break;
		case 'l':
			if (fieldnum(&p, MQ_LEASE_MAX, &m->lease) == -1 ||
			    m->lease == 0)
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

/*
 * The inverse of mq_name_parse, for the names mq writes.  A value the
 * parser would refuse is refused here, before any file gets the name: a
 * message named beyond the grammar would be in the spool and yet no
 * message (never delivered, quarantined by mq-fsck), so a put, nack or
 * claim that would make one fails instead.
 */
int
mq_name_format(const struct mq_name *m, char *buf, size_t len)
{
	int n;

	if (m->expiry < 0 || m->expiry > MQ_TIME_MAX || m->notbefore < 0 ||
	    m->notbefore > MQ_TIME_MAX || m->lease < 0 ||
	    m->lease > MQ_LEASE_MAX || m->size > NAME_SIZE_MAX ||
	    m->done < 0 || m->done > MQ_TIME_MAX) {
		errno = MQ_ERANGE;
		return -1;
	}
	if (m->prio < MQ_PRIORITY_MIN || m->prio > MQ_PRIORITY_MAX ||
	    m->attempts < 0 || m->attempts > ATTEMPTS_MAX || !id_ok(m->id)) {
		errno = EINVAL;
		return -1;
	}
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
	if (n >= 0 && (size_t)n < len && m->done > 0)
		n += snprintf(buf + n, len - n, ",d%lld", (long long)m->done);
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
 * release).  In a bucket, the name must also be one mq would have put
 * there: in ready/P.SEQ its priority is P (so a name without ,p, which is
 * priority 4, lies in a bucket of 4), in delayed/T its due time falls in
 * the window T.  Otherwise a consumer would deliver it in the order of one
 * priority and return it under another.  Anything else was not written by
 * mq there, and is left alone.  bucket is NULL for flat states, and for
 * messages waiting in an ordered group (they have no bucket yet).
 * A done message has its ack time (,d), there and only there, and its
 * size, which the count of done/ goes by; nothing of delivery is left in
 * its name (no expiry, due time, key, reason, lease or token), and its
 * ack time falls in the window of its bucket done/T.
 */
int
name_fits(const struct mq_name *m, int state, const char *bucket)
{
	unsigned long long seq;
	int64_t t;
	int prio;

	if ((m->token[0] != '\0') != (state == MQ_INFLIGHT))
		return 0;
	if (m->lease != 0 && state != MQ_INFLIGHT)
		return 0;
	if (m->reason[0] != '\0' && state != MQ_DEAD)
		return 0;
	if (state == MQ_DELAYED && m->notbefore == 0)
		return 0;
	if ((m->done != 0) != (state == MQ_DONE))
		return 0;
	if (state == MQ_DONE && (m->size < 0 || m->expiry != 0 ||
	    m->notbefore != 0 || m->key[0] != '\0'))
		return 0;
	if (bucket == NULL)
		return 1;
	if (state == MQ_READY)
		return parse_bucket(bucket, &prio, &seq) == 0 &&
		    prio == m->prio;
	if (state == MQ_DELAYED)
		return parse_window(bucket, &t) == 0 &&
		    t == m->notbefore - m->notbefore % DELAY_WINDOW;
	if (state == MQ_DONE)
		return parse_window(bucket, &t) == 0 &&
		    t == m->done - m->done % DONE_WINDOW;
	return 0;
}

/*
 * A hard link is a message only if it is a fan-out copy: a ",f" name on a
 * read-only file (see seal).  Any other is planted, and acting on it would
 * act on its twin.
 */
int
linked_ok(const struct mq_name *m, const struct stat *st)
{
	return st->st_nlink == 1 || (m->fanout && (st->st_mode & 0222) == 0);
}

/*
 * The message name a handle (a path, as mq-get prints it) ends in, parsed.
 * Only the name: where the handle points is checked by whoever acts on it
 * (session.c).
 */
int
mq_handle_name(const char *handle, struct mq_name *m)
{
	const char *base = strrchr(handle, '/');

	return mq_name_parse(base != NULL ? base + 1 : handle, m);
}
