/*
 * replay.c - done messages (done.c) copied back into ready, as a Kafka
 * consumer re-reads its log after a bad deploy (mq-replay).
 *
 * Invariants:
 * - The done message stays as it is, and can be replayed again: a replay
 *   only reads it.  One dropped meanwhile is gone (MQ_EMOVED), not half
 *   copied: the copy is made from the descriptor opened first.
 * - The copy is a new message of the destination: a new id, the body,
 *   priority, group and headers of the done message, plus the header
 *   original-id (the done message's id, or the one it carries already,
 *   when it was itself a replay), 0 attempts, no key (so dedup cannot
 *   swallow it), the destination's ttl as a put has it.  It is written in
 *   the destination's tmp/ as durable as its sync asks, and goes in
 *   through admit(), the one road into ready (its group's turn included).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int
replay1(int fromfd, const char *from, const struct mq_name *m,
    struct mq_queue *dest, char id[MQ_ID_LEN + 1])
{
	struct mq_name c;
	int saved;

	memset(&c, 0, sizeof(c));
	if (mq_new_id(c.id) == -1)
		return -1;
	c.prio = m->prio;
	c.size = m->size;
	strlcpy(c.group, m->group, sizeof(c.group));
	if (dest->conf.ttl_ms > 0)
		c.expiry = ceil_s(mq_now_ms() + dest->conf.ttl_ms);
	if (copy_file(dest, fromfd, from, c.id, MQ_HDR_ORIGINAL,
	    m->id) == -1) {
		if (errno == ENOENT)
			errno = MQ_EMOVED;	/* dropped meanwhile */
		return -1;
	}
	if (admit(dest, dest->tmpfd, c.id, &c) == -1) {
		saved = errno;
		unlinkat(dest->tmpfd, c.id, 0);
		errno = saved;
		return -1;
	}
	if (group_flush(dest) == -1)
		return -1;
	strlcpy(id, c.id, MQ_ID_LEN + 1);
	return 0;
}

int
mq_replay(struct mq_session *s, const char *path, struct mq_queue *dest,
    char id[MQ_ID_LEN + 1])
{
	struct target t;
	int r;

	if (resolve(s, path, 1U << MQ_DONE, &t) == -1)
		return -1;
	if (no_topic(dest != NULL ? dest : t.q) == -1)
		r = -1;
	else
		r = replay1(t.fd, t.name, &t.m, dest != NULL ? dest : t.q, id);
	target_close(&t);
	return r;
}

struct rangearg {
	int64_t		 since, until;
	struct mq_queue	*dest;
	long long	 n;
};

static int
replay_range1(struct mq_queue *q, int dirfd, const char *name,
    const char *path, const struct mq_name *m, void *arg)
{
	struct rangearg *a = arg;
	char id[MQ_ID_LEN + 1];

	(void)q;
	(void)path;
	if (m->done < a->since || m->done > a->until)
		return 0;
	if (replay1(dirfd, name, m, a->dest, id) == -1) {
		/* dropped while we went: not there to copy, no error */
		return errno == MQ_EMOVED ? 0 : -1;
	}
	a->n++;
	return 0;
}

/*
 * Every done message acked from since to until, window by window in time
 * order, within a window by id; only the windows that meet the range are
 * read.  dest NULL: the queue itself.
 */
int
mq_replay_all(struct mq_queue *q, int64_t since, int64_t until,
    struct mq_queue *dest, long long *n)
{
	struct rangearg a = { since, until, dest != NULL ? dest : q, 0 };
	int r;

	*n = 0;
	if (no_topic(a.dest) == -1)
		return -1;
	r = walk_windows(q, MQ_DONE, since - since % DONE_WINDOW, until,
	    replay_range1, &a);
	*n = a.n;
	if (mq_sync_dirs(a.dest) == -1 && r == 0)
		r = -1;
	return r;
}
