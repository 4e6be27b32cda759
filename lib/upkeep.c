/*
 * upkeep.c - the upkeep that consumers do in passing, there being no
 * daemon: delayed messages that are due are promoted, expired leases
 * returned to ready (or dead/ after max_attempts), and the groups whose
 * message died on the way released.
 *
 * Invariants:
 * - The reclaimer holds the lease lock exclusive; claims and touches hold
 *   it shared, so it never sees a claim between its rename and its mtime.
 * - Promoting holds the promote lock exclusive: one promoter at a time.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * A delayed message ready now: one whose time has come (promote), or any
 * (mq-kick -s delayed, as beanstalkd's kick: a retry's backoff or a time
 * mq-put -D or -A set is cut short), attempts and expiry kept.  A message
 * of an ordered group took its group's turn when it was put or nacked, and
 * keeps it; an expired one is dead.  Call with the promote lock held
 * exclusive: another promoter racing for the same file would find it
 * gone, and take it for moved on.
 */
int
hasten(struct mq_queue *q, int fd, const char *name, struct mq_name *m)
{
	if (m->expiry != 0 && m->expiry <= mq_now_ms() / 1000) {
		if (bury(q, fd, name, m, "expired") == -1)
			return -1;
		backlog_out(q, m);
		return 0;
	}
	m->notbefore = 0;
	return publish(q, fd, name, m);
}

/*
 * A message back from flight (an expired lease, a nack, an unclaim): it
 * is counted in the backlog again and never refused, whatever the limit:
 * it was in the queue, and a refusal would lose it.
 */
int
back(struct mq_queue *q, int fd, const char *name, struct mq_name *m)
{
	long long size = backlog_bytes(m);
	int saved;

	/* counted before the rename, as every road in (backlog.c) */
	if (backlog_add(q, 1, size, 0) == -1)
		return -1;
	if (publish(q, fd, name, m) == 0)
		return 0;
	saved = errno;
	backlog_sub(q, 1, size);
	errno = saved;
	return -1;
}

/* Delayed messages whose time has come become ready. */
static int
promote(struct mq_queue *q, int64_t now)
{
	char **buckets, **v;
	size_t nb, n, i, j;
	struct mq_name m;
	int64_t t;
	int locked = 0, fd, r = 0;

	if (list_buckets(q, MQ_DELAYED, &buckets, &nb) == -1)
		return -1;
	for (i = 0; i < nb; i++) {
		if (parse_window(buckets[i], &t) == -1 || t > now)
			continue;
		if (!locked && lock_ex(q, LK_PROMOTE) == -1) {
			r = -1;
			break;
		}
		locked = 1;
		if ((fd = mq_opendirat(q->sfd[MQ_DELAYED], buckets[i])) == -1)
			continue;
		if (list_names(fd, ".", &v, &n, LN_SORT | LN_FILES) == 0) {
			for (j = 0; j < n; j++) {
				if (mq_name_parse(v[j], &m) == -1 ||
				    !name_fits(&m, MQ_DELAYED, buckets[i]) ||
				    m.notbefore > now)
					continue;
				hasten(q, fd, v[j], &m);
			}
			free_names(v, n);
		}
		close(fd);
		/* a window that has passed gets no more messages */
		if (t + DELAY_WINDOW <= now)
			drop_bucket(q, MQ_DELAYED, buckets[i]);
	}
	if (locked)
		unlock(q, LK_PROMOTE);
	free_names(buckets, nb);
	return r;
}

static int
hasten1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct mq_name copy = *m;

	(void)path;
	if (hasten(q, dirfd, name, &copy) == -1)
		return errno == ENOENT ? 0 : -1;	/* promoted meanwhile */
	(*(long long *)arg)++;
	return 0;
}

int
mq_kick_delayed(struct mq_queue *q, long long *n)
{
	int r;

	*n = 0;
	if (lock_ex(q, LK_PROMOTE) == -1)
		return -1;
	r = walk_state(q, MQ_DELAYED, hasten1, n);
	unlock(q, LK_PROMOTE);
	/* the groups of messages that died of their expiry go on */
	if (r == 0)
		r = group_flush(q);
	if (r == 0)
		r = mq_sync_dirs(q);
	return r;
}

/* Expired leases: back to ready, or dead after max_attempts deliveries. */
static int
reclaim(struct mq_queue *q, int64_t now_ms)
{
	struct mq_name m;
	struct stat st;
	char **v;
	size_t n, i;
	int fd = q->sfd[MQ_INFLIGHT];

	if (lock_ex(q, LK_LEASE) == -1)
		return -1;
	if (list_names(fd, ".", &v, &n, LN_SORT | LN_FILES) == -1) {
		unlock(q, LK_LEASE);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (mq_name_parse(v[i], &m) == -1 ||
		    !name_fits(&m, MQ_INFLIGHT, NULL) ||
		    fstatat(fd, v[i], &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (lease_end(&st, &m) > now_ms)
			continue;
		if (q->conf.max_attempts > 0 &&
		    m.attempts >= q->conf.max_attempts)
			bury(q, fd, v[i], &m, "attempts");
		else
			back(q, fd, v[i], &m);
	}
	unlock(q, LK_LEASE);
	free_names(v, n);
	return 0;
}

int
mq_maintain(struct mq_queue *q)
{
	int64_t now = mq_now_ms();

	if (q->lockerr != 0)
		return 0;	/* read-only: nothing can move */
	if (promote(q, now / 1000) == -1 || reclaim(q, now) == -1)
		return -1;
	/* groups whose message died on the way: their next one is due */
	return group_flush(q);
}

/*
 * Upkeep once per call of a one-shot tool, and at least once a second in
 * a consumer that never runs dry (mq-work with a backlog must still
 * promote its own retries and reclaim dead workers').
 */
int
upkeep_due(struct mq_queue *q)
{
	int64_t now = mq_now_ms();

	if (q->upkeep.last != 0 && now - q->upkeep.last < 1000 &&
	    now >= q->upkeep.last)
		return 0;
	if (mq_maintain(q) == -1)
		return -1;
	q->upkeep.last = now;
	return 0;
}

/* Whatever happened meanwhile (a wait), the next claim looks afresh. */
void
upkeep_soon(struct mq_queue *q)
{
	q->upkeep.last = 0;
}
