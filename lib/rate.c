/*
 * rate.c - how fast a queue's messages may be taken: a token bucket
 * shared by every consumer of the queue that honours it (rate in
 * mq.conf(5): mq-work and mq-forward), and one a process keeps for itself
 * (-r of mq-work).  A caller that would take a message asks for tokens
 * first, and gives back those it had no message for.
 *
 * Invariants:
 * - A bucket is one time, SPENT: the tokens that came due up to SPENT
 *   are taken.  A token comes due every interval T; the bucket holds at
 *   most BURST of them, so SPENT counts as no earlier than now - BURST*T.
 *   Taking n tokens adds n*T to SPENT, and only tokens already due are
 *   taken, so SPENT never passes now: a start that came late is made up
 *   (up to BURST), time spent idle is not.
 * - The shared bucket is the rate record of the lock file (LK_RATEREC,
 *   mq(7) LOCKS), on the real-time clock, in microseconds: read and
 *   written only under the rate lock (LK_RATE), which is taken alone,
 *   with no other lock held, and held for one read and one write.
 * - Whoever may write the queue may write the record: what it holds is
 *   clamped into [now - BURST*T, now] when read.  A record that does not
 *   parse (a new queue's, a torn one) is SPENT = 0, a full bucket; a
 *   time after now (a clock stepped back, a planted record) is now, an
 *   empty one.  So no caller waits more than T for a token, and none
 *   takes more than BURST at once.
 * - The process's own bucket is the same, on the monotonic clock, in
 *   struct rate.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define BURST_DEFAULT	2

static int64_t
clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
write_rate(struct mq_queue *q, int64_t spent)
{
	char rec[LK_RATELEN];

	/* fixed width, as the tail records */
	snprintf(rec, sizeof(rec), "r %016lld", (long long)spent);
	return record_put(q, LK_RATEREC, LK_RATELEN, rec);
}

/* SPENT as the record holds it: 0 when it does not parse, huge stays huge. */
static int64_t
read_rate(struct mq_queue *q)
{
	char rec[LK_RATELEN];
	int64_t v = 0;
	size_t i;

	if (pread(q->lockfd, rec, LK_RATELEN, LK_RATEREC) != LK_RATELEN ||
	    rec[0] != 'r' || rec[1] != ' ' || rec[2] < '0' || rec[2] > '9')
		return 0;
	for (i = 2; i < LK_RATELEN && rec[i] >= '0' && rec[i] <= '9'; i++) {
		if (v > (INT64_MAX - (rec[i] - '0')) / 10)
			return INT64_MAX;
		v = v * 10 + (rec[i] - '0');
	}
	if (i < LK_RATELEN && rec[i] != ' ' && rec[i] != '\n')
		return 0;
	return v;
}

/* The tokens of a bucket due at now, *spent clamped to what it may be. */
static int64_t
due(int64_t t, int burst, int64_t *spent, int64_t now)
{
	if (*spent > now)
		*spent = now;
	if (*spent < now - burst * t)
		*spent = now - burst * t;
	return (now - *spent) / t;
}

/* Microseconds to milliseconds, rounded up: a wake-up never comes early. */
static int64_t
up_ms(int64_t us)
{
	return us <= 0 ? 1 : (us + 999) / 1000;
}

void
mq_rate_set(struct mq_queue *q, int64_t us, int burst)
{
	q->rate.own_us = us > 0 ? us : 0;
	q->rate.burst = burst > 0 ? burst : BURST_DEFAULT;
	q->rate.own_spent = 0;
}

int
mq_rate_take(struct mq_queue *q, int n, int64_t *wait_ms)
{
	struct rate *r = &q->rate;
	int64_t t = q->conf.rate_us, k = n > 0 ? n : 1, now, spent, a;
	int burst = r->burst > 0 ? r->burst : BURST_DEFAULT, saved;

	*wait_ms = 0;
	if (r->own_us > 0) {
		now = clock_us(CLOCK_MONOTONIC);
		if ((a = due(r->own_us, burst, &r->own_spent, now)) == 0) {
			*wait_ms = up_ms(r->own_spent + r->own_us - now);
			return 0;
		}
		if (a < k)
			k = a;
	}
	if (t > 0) {
		if (lk(q, LK_RATE, 1, F_WRLCK) == -1)
			return -1;
		now = clock_us(CLOCK_REALTIME);
		spent = read_rate(q);
		if ((a = due(t, burst, &spent, now)) < k)
			k = a;
		/*
		 * Written even when nothing is taken: a time after now, once
		 * clamped, must stay now, or it would be clamped to a new now
		 * at every look and no token would ever come due.
		 */
		if (write_rate(q, spent + k * t) == -1) {
			saved = errno;
			unlock(q, LK_RATE);
			errno = saved;
			return -1;
		}
		unlock(q, LK_RATE);
		if (k == 0) {
			*wait_ms = up_ms(spent + t - now);
			return 0;
		}
	}
	if (r->own_us > 0)
		r->own_spent += k * r->own_us;
	return (int)k;
}

int
mq_rate_unused(struct mq_queue *q, int n)
{
	struct rate *r = &q->rate;
	int64_t t = q->conf.rate_us, spent;
	int saved, res;

	if (n <= 0)
		return 0;
	if (r->own_us > 0)
		r->own_spent -= n * r->own_us;
	if (t <= 0)
		return 0;
	if (lk(q, LK_RATE, 1, F_WRLCK) == -1)
		return -1;
	/* a record that moved on meanwhile still owes these n back */
	spent = read_rate(q);
	res = spent > n * t ? write_rate(q, spent - n * t) : 0;
	saved = errno;
	unlock(q, LK_RATE);
	errno = saved;
	return res;
}
