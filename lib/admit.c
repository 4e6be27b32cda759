/*
 * admit.c - the one road into ready: a message of an ordered group takes
 * its group's turn (group.c), any other is published (move.c).  Every
 * road in goes here: a put, a fan-out copy, a put finished after a crash,
 * a kick of a dead message, a commit of a prepared one (mq-commit), a
 * replayed copy of a done one (mq-replay).  A nack, an expired lease, a
 * release and a kick of a delayed message (hasten, upkeep.c) keep the
 * group's turn they already have, and publish.
 *
 * The backlog limit (max_length, max_length_bytes, overflow in
 * mq.conf(5)) is checked here, by room(), against the count of backlog.c:
 * admit() fails with MQ_EFULL, having moved nothing, when the message
 * does not fit and overflow is reject, or when it is dead-oldest and
 * only what cannot be dropped (delayed messages, messages waiting their
 * group's turn) is over the limit; with dead-oldest the head of the
 * queue, what mq-get would take next, goes to dead/ as "overflow" first
 * (bury, retire.c).  A release takes room() too, since held messages are
 * not counted.  A message that comes back from flight (nack, expired
 * lease, unclaim) is counted and never refused: it was in the queue
 * before, and refusing it would lose it.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define ROOM_TRIES	64	/* heads dropped, recounts, per message */

struct tally {
	long long	 n, bytes;
};

static int
tally1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct tally *t = arg;

	(void)q;
	(void)dirfd;
	(void)name;
	(void)path;
	t->n++;
	t->bytes += backlog_bytes(m);
	return 0;
}

/*
 * Count the backlog anew (a stale record, mq-fsck): under the queue lock
 * exclusive, so no move is under way, except the count a road in took
 * before its rename or a road out gives back after it (backlog.c).  Call
 * holding no queue lock.
 */
int
backlog_recount(struct mq_queue *q)
{
	struct tally t = { 0, 0 };
	long long gn = 0, gb = 0;
	int r, saved;

	if (!backlog_on(q))
		return 0;
	if (lock_ex(q, LK_QUEUE) == -1)
		return -1;
	r = walk_state(q, MQ_READY, tally1, &t);
	if (r == 0)
		r = walk_state(q, MQ_DELAYED, tally1, &t);
	if (r == 0)
		r = group_count(q, &gn, &gb);
	if (r == 0)
		r = backlog_set(q, t.n + gn, t.bytes + gb);
	saved = errno;
	unlock(q, LK_QUEUE);
	errno = saved;
	return r;
}

void
heads_close(struct heads *h)
{
	close_fd(&h->fd);
	free_names(h->names, h->n);
	h->names = NULL;
	h->n = h->i = 0;
	h->bucket[0] = '\0';
}

/*
 * The first ready bucket that holds a name, in delivery order, read into
 * q->heads; one still read and not used up is kept, so that a producer
 * past the limit drops a run of heads for one listing of their bucket,
 * as a consumer claims them (get.c).  The buckets are listed each time:
 * a bucket of a higher priority made meanwhile comes first.  Buckets up
 * to past (in delivery order) were tried to the end, and are passed over.
 * 0: none.
 */
static int
head_bucket(struct mq_queue *q, const char *past)
{
	struct heads *h = &q->heads;
	char **b;
	size_t nb, i;
	int fd, r = 0;

	if (list_buckets(q, MQ_READY, &b, &nb) == -1)
		return -1;
	for (i = 0; i < nb; i++) {
		if (past[0] != '\0' && bucket_cmp(b[i], past) <= 0)
			continue;
		if (strcmp(b[i], h->bucket) == 0 && h->i < h->n) {
			r = 1;
			break;
		}
		heads_close(h);
		if ((fd = mq_opendirat(q->sfd[MQ_READY], b[i])) == -1)
			continue;
		h->fd = fd;
		strlcpy(h->bucket, b[i], sizeof(h->bucket));
		if (list_names(fd, ".", &h->names, &h->n,
		    LN_SORT | LN_FILES) == -1) {
			heads_close(h);
			r = -1;
			break;
		}
		if (h->n > 0) {
			r = 1;
			break;
		}
		/* emptied by the heads dropped, as by claims: it goes (get.c) */
		heads_close(h);
		drop_bucket(q, MQ_READY, b[i]);
	}
	free_names(b, nb);
	return r;
}

/*
 * dead-oldest: the head of the queue in delivery order goes to dead/.
 * 1: one went (or a consumer took it first: room either way); 0: ready
 * holds none.
 */
static int
drop_head(struct mq_queue *q)
{
	struct heads *h = &q->heads;
	struct mq_name m;
	char past[BUCKET_MAX] = "";
	const char *name;
	int r;

	while ((r = head_bucket(q, past)) == 1) {
		/* what is left of it is no message: on to the next bucket */
		strlcpy(past, h->bucket, sizeof(past));
		while (h->i < h->n) {
			name = h->names[h->i++];
			if (mq_name_parse(name, &m) == -1 ||
			    !name_fits(&m, MQ_READY, h->bucket))
				continue;
			if (bury_now(q, h->fd, name, &m, R_OVERFLOW) == 0) {
				backlog_out(q, &m);
				return 1;
			}
			if (errno != ENOENT)
				return -1;
			/*
			 * Claimed since the listing, which a claim counted:
			 * room, maybe; the names kept are stale, so the next
			 * drop lists the bucket afresh.
			 */
			heads_close(h);
			return 1;
		}
	}
	return r;
}

/*
 * Whether one more message would be refused now (mq-recv waits while it
 * would): 1 full, 0 room, -1 error.  Nothing is counted or dropped.
 */
int
mq_full(struct mq_queue *q)
{
	int r;

	if (!backlog_on(q))
		return 0;
	if ((r = backlog_add(q, 1, 0, BL_CHECK | BL_PEEK)) == BL_STALE) {
		if (backlog_recount(q) == -1)
			return -1;
		r = backlog_add(q, 1, 0, BL_CHECK | BL_PEEK | BL_FRESH);
	}
	if (r == BL_STALE)
		r = BL_FULL;	/* changed meanwhile: ask again later */
	return r == -1 ? -1 : r == BL_FULL;
}

/*
 * Room in the backlog for m, counted: 0, or -1 with MQ_EFULL (or another
 * errno) and nothing counted.  A caller whose move then fails gives the
 * room back (backlog_sub).  Call holding no lock but a key's.
 */
int
room(struct mq_queue *q, const struct mq_name *m)
{
	long long size = backlog_bytes(m);
	int tries, r, flags = BL_CHECK, d;

	if (!backlog_on(q) || backlog_take_ahead(q, size))
		return 0;
	/* a message larger than the whole backlog never fits: drop nothing */
	if (q->conf.max_length_bytes > 0 && size > q->conf.max_length_bytes) {
		errno = MQ_EFULL;
		return -1;
	}
	for (tries = 0; tries < ROOM_TRIES; tries++) {
		if ((r = backlog_add(q, 1, size, flags)) <= 0)
			return r;
		if (r == BL_STALE) {
			if (backlog_recount(q) == -1)
				return -1;
			flags |= BL_FRESH;
			continue;
		}
		if (q->conf.overflow != MQ_OVERFLOW_DEAD_OLDEST)
			break;
		if ((d = drop_head(q)) == -1)
			return -1;
		if (d == 0)
			break;	/* only delayed or waiting ones are over */
	}
	errno = MQ_EFULL;
	return -1;
}

/*
 * Admit a written message: its group's turn if it has a group, else ready;
 * one put dead (a reason in its name: mq_putopts.dead) goes to dead/, and
 * so does its copy in each subscriber, and its put finished after a crash.
 */
int
admit(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m)
{
	char reason[sizeof(m->reason)];

	if (m->reason[0] != '\0') {
		strlcpy(reason, m->reason, sizeof(reason));
		return entomb(q, fromfd, from, m, reason);
	}
	if (room(q, m) == -1)
		return -1;
	return enter(q, fromfd, from, m);
}

/* admit(), room taken: see internal.h. */
int
enter(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m)
{
	int r, saved;

	if (m->group[0] != '\0')
		r = group_put(q, fromfd, from, m);
	else
		r = publish(q, fromfd, from, m);
	if (r == -1) {
		saved = errno;
		backlog_out(q, m);
		errno = saved;
	}
	return r;
}

/*
 * A dead message gets a fresh start: no attempts, no expiry, no delay.
 * One that died prepared, as no checker answered for it (mq-resolve),
 * goes back to prepared/, never straight to ready: whether it is to be
 * published at all is still its checker's to say.
 */
int
revive(struct mq_queue *q, const char *from, struct mq_name *m)
{
	char name[MQ_NAME_MAX + 1];

	if (strcmp(m->reason, R_UNRESOLVED) == 0) {
		m->attempts = 0;
		if (prepare(q, q->sfd[MQ_DEAD], from, m, name) == -1)
			return -1;
		return mark_dirty(q, mq_state_name(MQ_DEAD));
	}
	m->attempts = 0;
	m->expiry = 0;
	m->notbefore = 0;
	m->reason[0] = '\0';
	/* back in its group, behind the message that is out, if any */
	if (admit(q, q->sfd[MQ_DEAD], from, m) == -1)
		return -1;
	return mark_dirty(q, mq_state_name(MQ_DEAD));
}
