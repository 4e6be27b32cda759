/*
 * backlog.c - the count of a queue's backlog, kept so that a limit
 * (max_length, max_length_bytes in mq.conf(5)) is checked without a scan:
 * the messages ready, delayed or waiting their group's turn, and their
 * bytes (the ,s of their names).  Held, in-flight and dead ones are not
 * counted.
 *
 * Invariants:
 * - The count is the backlog record of the lock file (LK_BACKLOGREC,
 *   mq(7) LOCKS), read and written only under the backlog lock
 *   (LK_BACKLOG), held for one read and one write: a leaf lock, taken
 *   last, under any other, and never held while waiting for another.
 * - It is kept only while a limit is set: without one nothing here
 *   touches the lock file, and a put or a claim pays nothing.
 * - A road in adds before its rename and takes back what did not go in;
 *   a road out subtracts after its rename.  So a process killed in
 *   between leaves the count high, never low: the limit may refuse
 *   early, never let more in.
 * - The record names the configuration it was counted under (the newest
 *   change time of the files read, conf_ns): a record that does not
 *   parse, holds a value out of bounds, or is older than the
 *   configuration (a limit just set, on a queue that has messages) is
 *   stale, and the caller recounts (admit.c).  A full verdict from a
 *   record last recounted over RECHECK seconds ago (or in the future) is
 *   checked by a recount too, so a count left high, or planted, refuses
 *   for at most that long.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"

#define RECHECK		60	/* s a full verdict is trusted unrecounted */
#define COUNT_DIGITS	12	/* MQ_LENGTH_MAX and more */
#define BYTES_DIGITS	16
#define STAMP_DIGITS	19
#define TIME_DIGITS	11

struct rec {
	long long	 n, bytes;
	int64_t		 stamp;		/* conf_ns counted under */
	int64_t		 checked;	/* epoch s of the last recount */
};

int
backlog_on(const struct mq_queue *q)
{
	return q->conf.max_length > 0 || q->conf.max_length_bytes > 0;
}

static int
write_rec(struct mq_queue *q, const struct rec *r)
{
	char rec[LK_BACKLOGLEN + 1];

	/* fixed width, as the tail records; padded to a line by record_put */
	snprintf(rec, sizeof(rec), "b %0*lld %0*lld %0*lld %0*lld",
	    COUNT_DIGITS, r->n, BYTES_DIGITS, r->bytes,
	    STAMP_DIGITS, (long long)r->stamp, TIME_DIGITS,
	    (long long)r->checked);
	return record_put(q, LK_BACKLOGREC, LK_BACKLOGLEN, rec);
}

/* One field of exactly width digits at *p, then a space or the end. */
static int
field(const char **p, int width, long long *v)
{
	int i;

	*v = 0;
	for (i = 0; i < width; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += width;
	if (**p != ' ' && **p != '\n')
		return -1;
	(*p)++;
	return 0;
}

/* The record, or -1 when it is none this code wrote, or out of bounds. */
static int
read_rec(struct mq_queue *q, struct rec *r)
{
	char rec[LK_BACKLOGLEN + 1];
	const char *p = rec + 2;
	long long st, ck;

	if (pread(q->lockfd, rec, LK_BACKLOGLEN, LK_BACKLOGREC) !=
	    LK_BACKLOGLEN)
		return -1;
	rec[LK_BACKLOGLEN] = '\0';
	if (rec[0] != 'b' || rec[1] != ' ' ||
	    field(&p, COUNT_DIGITS, &r->n) == -1 ||
	    field(&p, BYTES_DIGITS, &r->bytes) == -1 ||
	    field(&p, STAMP_DIGITS, &st) == -1 ||
	    field(&p, TIME_DIGITS, &ck) == -1)
		return -1;
	r->stamp = st;
	r->checked = ck;
	/* digits only, so never negative; a count past any limit is junk */
	if (r->n > MQ_LENGTH_MAX * 2 || r->bytes > MQ_LENGTH_BYTES_MAX * 2)
		return -1;
	return 0;
}

static int
fresh(struct mq_queue *q, const struct rec *r)
{
	return r->stamp >= q->conf.conf_ns;
}

/*
 * Add n messages of bytes to the count (n < 0: take away).  With
 * BL_CHECK, messages that would take the backlog past a limit are not
 * added: BL_FULL.  BL_STALE: the record cannot be trusted (see above),
 * nothing was changed; only a check asks for the recount of a full
 * verdict grown old, unless BL_FRESH says one was just made.  0: added.
 */
int
backlog_add(struct mq_queue *q, long long n, long long bytes, int flags)
{
	struct rec r;
	int64_t now;
	int res = 0, saved;

	if (!backlog_on(q))
		return 0;
	if (lk(q, LK_BACKLOG, 1, F_WRLCK) == -1)
		return -1;
	if (read_rec(q, &r) == -1 || !fresh(q, &r)) {
		res = BL_STALE;
		goto out;
	}
	if ((flags & BL_CHECK) && n > 0 &&
	    ((q->conf.max_length > 0 && r.n + n > q->conf.max_length) ||
	    (q->conf.max_length_bytes > 0 &&
	    r.bytes + bytes > q->conf.max_length_bytes))) {
		now = mq_now_ms() / 1000;
		res = !(flags & BL_FRESH) && (r.checked + RECHECK <= now ||
		    r.checked > now) ? BL_STALE : BL_FULL;
		goto out;
	}
	if (flags & BL_PEEK)
		goto out;	/* it would fit: nothing is added */
	r.n += n;
	r.bytes += bytes;
	/* a count left high by a crash, made low again: never below 0 */
	if (r.n < 0)
		r.n = 0;
	if (r.bytes < 0)
		r.bytes = 0;
	res = write_rec(q, &r);
out:
	saved = errno;
	unlock(q, LK_BACKLOG);
	errno = saved;
	return res;
}

/* What a message weighs in the backlog: its size (,s), none if unknown. */
long long
backlog_bytes(const struct mq_name *m)
{
	return m->size > 0 ? m->size : 0;
}

/* One message left the backlog (a road out), or a road in failed. */
void
backlog_out(struct mq_queue *q, const struct mq_name *m)
{
	backlog_sub(q, 1, backlog_bytes(m));
}

/* Take back what a road out removed, or a road in did not bring. */
void
backlog_sub(struct mq_queue *q, long long n, long long bytes)
{
	int saved = errno;

	/* a stale record is recounted before it is used: nothing to fix */
	backlog_add(q, -n, -bytes, 0);
	errno = saved;
}

/*
 * A new count (a recount, admit.c), under the configuration of now.
 * The caller holds the queue lock exclusive, so no move is under way.
 */
int
backlog_set(struct mq_queue *q, long long n, long long bytes)
{
	struct rec r = { n, bytes, q->conf.conf_ns, mq_now_ms() / 1000 };
	int res, saved;

	if (lk(q, LK_BACKLOG, 1, F_WRLCK) == -1)
		return -1;
	res = write_rec(q, &r);
	saved = errno;
	unlock(q, LK_BACKLOG);
	errno = saved;
	return res;
}

/*
 * n roads in are coming at once (a group commit), of bytes in all: they
 * are counted under one hold of the lock if they all fit, and room()
 * takes from that (backlog_take_ahead) instead of the record; what is not
 * taken is given back by backlog_ahead_end.  When they do not all fit,
 * or the record is stale, each is checked for itself.  A put killed in
 * between leaves the count high by what it counted ahead.
 */
void
backlog_ahead(struct mq_queue *q, long long n, long long bytes)
{
	q->ahead.n = q->ahead.bytes = 0;
	if (n < 2 || !backlog_on(q))
		return;
	if (backlog_add(q, n, bytes, BL_CHECK) == 0) {
		q->ahead.n = n;
		q->ahead.bytes = bytes;
	}
}

int
backlog_take_ahead(struct mq_queue *q, long long bytes)
{
	if (q->ahead.n == 0)
		return 0;
	q->ahead.n--;
	q->ahead.bytes -= bytes;
	return 1;
}

void
backlog_ahead_end(struct mq_queue *q)
{
	if (q->ahead.n > 0 || q->ahead.bytes > 0)
		backlog_sub(q, q->ahead.n, q->ahead.bytes);
	q->ahead.n = q->ahead.bytes = 0;
}

/* The count as it stands (mq-stat): -1 when there is none to trust. */
int
backlog_get(struct mq_queue *q, long long *n, long long *bytes)
{
	struct rec r;
	int res;

	if (lk(q, LK_BACKLOG, 1, F_RDLCK) == -1)
		return -1;
	res = read_rec(q, &r) == 0 && fresh(q, &r) ? 0 : -1;
	unlock(q, LK_BACKLOG);
	if (res == 0) {
		*n = r.n;
		*bytes = r.bytes;
	}
	return res;
}
