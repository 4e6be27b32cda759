/*
 * state.c - operations on every message of a state: listing, counting,
 * purging, kicking, releasing.
 *
 * Invariants:
 * - Messages are visited one bucket at a time, so memory stays bounded by
 *   the bucket size for ready and delayed messages at any backlog.
 * - mq_stat and mq_purge hold the queue lock exclusive: no message moves
 *   while they count or delete, so a count never sees one message twice and
 *   a purge of one state never deletes a message that has just moved on.
 *   done/ is not counted but read from its record (done.c), which holds
 *   under that lock: mq-stat's time does not grow with what is retained.
 * - Only names that parse, and fit their state and bucket, are messages,
 *   and only buckets that meet the grammar hold any: anything else in a
 *   state directory is left alone (mq-fsck's business), never counted,
 *   listed or deleted, so nothing listed holds a byte a name cannot.
 * - A purged message leaves through retire() (retire.c), as an acked one
 *   does: its key stays known for dedup_window, and its group, if it was
 *   out in it, goes on.  A purge also sweeps expired key files.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct walkarg {
	mq_walkfn	 fn;
	void		*arg;
};

static int
walk1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct walkarg *w = arg;

	(void)q;
	(void)dirfd;
	(void)name;
	return w->fn(path, m, w->arg);
}

int
mq_walk(struct mq_queue *q, int state, mq_walkfn fn, void *arg)
{
	struct walkarg w = { fn, arg };

	return walk_state(q, state, walk1, &w);
}

struct countarg {
	struct mq_stat	*st;
	int		 state;
	long long	 blbytes;	/* the backlog's, as backlog.c counts */
};

static int
count(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct countarg *c = arg;
	struct stat sb;
	int64_t t;

	(void)q;
	(void)path;
	c->st->count[c->state]++;
	if (c->state == MQ_READY) {
		t = mq_id_time(m->id);
		if (c->st->oldest == 0 || t < c->st->oldest)
			c->st->oldest = t;
	}
	if (c->state == MQ_READY || c->state == MQ_DELAYED)
		c->blbytes += backlog_bytes(m);
	/* the size is in the name; only foreign producers cost a stat */
	if (m->size >= 0)
		c->st->bytes += m->size;
	else if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		c->st->bytes += sb.st_size;
	return 0;
}

int
mq_stat(struct mq_queue *q, struct mq_stat *st)
{
	struct countarg c;
	long long gn = 0, gb = 0;
	struct donerec d = { 0, 0, 0 };
	int r = 0, locked;

	memset(st, 0, sizeof(*st));
	if (mq_maintain(q) == -1)
		return -1;
	/* a read-only spool cannot be locked exclusive; nothing moves in it */
	locked = q->lockerr == 0;
	if (locked && lock_ex(q, LK_QUEUE) == -1)
		return -1;
	c.st = st;
	c.blbytes = 0;
	for (c.state = 0; c.state < MQ_NSTATES && r == 0; c.state++)
		if (c.state != MQ_DONE)
			r = walk_state(q, c.state, count, &c);
	/* done/ may hold a long past: its record counts it, not a scan */
	if (r == 0)
		r = done_read(q, &d);
	st->count[MQ_DONE] = d.count;
	st->done_bytes = d.bytes;
	/* waiting for their group's turn counts as ready: next in line */
	if (r == 0)
		r = group_count(q, &gn, &gb);
	st->count[MQ_READY] += gn;
	st->bytes += gb;
	c.blbytes += gb;
	/* under the same lock, so that it matches the ready count */
	st->ready_in = ready_in(q);
	st->paused = mq_paused(q);
	st->max_length = q->conf.max_length;
	st->max_length_bytes = q->conf.max_length_bytes;
	st->overflow = q->conf.overflow;
	st->backlog_known = backlog_on(q) &&
	    backlog_get(q, &st->backlog, &st->backlog_bytes) == 0;
	/*
	 * A count to be made anew (a limit just set) is what was just
	 * counted, under the queue lock exclusive: kept, as a recount would.
	 */
	if (r == 0 && locked && backlog_on(q) && !st->backlog_known &&
	    backlog_set(q, st->count[MQ_READY] + st->count[MQ_DELAYED],
	    c.blbytes) == 0) {
		st->backlog_known = 1;
		st->backlog = st->count[MQ_READY] + st->count[MQ_DELAYED];
		st->backlog_bytes = c.blbytes;
	}
	if (locked)
		unlock(q, LK_QUEUE);
	return r;
}

struct purgearg {
	int		 state;
	long long	*n;
};

static int
purge1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct purgearg *a = arg;
	char dir[PATH_MAX];
	const char *rel = path + strlen(q->path) + 1;

	/*
	 * out in its group unless dead (the group went on when it died),
	 * done, or prepared (it takes its turn at its commit); a purged
	 * prepared message's key is kept for dedup_window as any purged
	 * one's: a purge is no rollback that a producer retries after
	 * (mq-rm is)
	 */
	if (retire(q, dirfd, name, m, a->state != MQ_DEAD &&
	    a->state != MQ_DONE && a->state != MQ_PREPARED ? RT_OUT : 0) == -1)
		return errno == ENOENT ? 0 : -1;
	(*a->n)++;
	/* the directory the message was in: state/ or state/bucket */
	strlcpy(dir, rel, sizeof(dir));
	*strrchr(dir, '/') = '\0';
	return mark_dirty(q, dir);
}

/*
 * A waiting message goes as every message leaves (its key's deadline
 * starts); it was never out, so its group's next is not due.
 */
static int
purge_waiting1(struct mq_queue *q, int fd, const char *name, const struct mq_name *m,
    void *arg)
{
	if (retire(q, fd, name, m, 0) == -1)
		return errno == ENOENT ? 0 : -1;
	(*(long long *)arg)++;
	return 0;
}

/* mq-purge of ready: waiting messages would be next; they go too. */
static int
purge_waiting(struct mq_queue *q, long long *purged)
{
	return group_each_waiting(q, 1, purge_waiting1, purged);
}

int
mq_purge(struct mq_queue *q, int state, long long *n)
{
	struct purgearg a = { state, n };
	struct donerec none = { 0, 0, 0 };
	int r;

	*n = 0;
	if (lock_ex(q, LK_QUEUE) == -1)
		return -1;
	r = walk_state(q, state, purge1, &a);
	/* those waiting for their group's turn would be ready next */
	if (r == 0 && state == MQ_READY)
		r = purge_waiting(q, n);
	/* done/ holds no message now: a count a crash left wrong ends too */
	if (r == 0 && state == MQ_DONE)
		r = done_set(q, &none);
	unlock(q, LK_QUEUE);
	/* the backlog's count, when a limit keeps one, is what is left */
	if (r == 0 && (state == MQ_READY || state == MQ_DELAYED))
		r = backlog_recount(q);
	/* groups whose out message went: their next is due (see retire) */
	if (r == 0)
		r = group_flush(q);
	/* removal is durable once the directories are */
	if (r == 0 && *n > 0 && bucketed(state))
		r = drop_empty_buckets(q, state);
	/* expired key files are garbage: a put clears a few, a purge all */
	if (r == 0)
		key_sweep(q, NULL);
	if (r == 0)
		r = mq_sync_dirs(q);
	return r;
}

struct requeuearg {
	int		 state;		/* MQ_DEAD: kick, MQ_HELD: release */
	long long	 n;
	long long	 unroutable;	/* kicked and still unroutable */
	long long	 moved;		/* being kicked by another, or stuck */
};

static int
requeue1(struct mq_queue *q, int dirfd, const char *name, const char *path,
    const struct mq_name *m, void *arg)
{
	struct requeuearg *a = arg;
	struct mq_name copy = *m;
	int r;

	(void)dirfd;
	(void)path;
	/* no binding took it: the bindings of now decide where it goes */
	if (a->state == MQ_DEAD && strcmp(m->reason, R_UNROUTABLE) == 0) {
		if ((r = fanout_revive(q, name, &copy)) == -1 &&
		    errno == MQ_EUNROUTABLE) {
			a->unroutable++;
			return 0;
		}
		if (r == 1)
			r = revive(q, name, &copy);
	} else if (a->state == MQ_DEAD)
		r = revive(q, name, &copy);
	else if ((r = room(q, &copy)) == 0 &&
	    (r = unhold(q, name, &copy)) == -1) {
		int saved = errno;

		/* held ones are not counted: a release takes room */
		backlog_out(q, &copy);
		errno = saved;
	}
	/*
	 * Gone meanwhile: nothing to do.  Being kicked by another, or left
	 * by a kick that crashed (mq-fsck): the rest still go, and the
	 * caller hears of it at the end.
	 */
	if (r == -1 && errno == MQ_EMOVED) {
		a->moved++;
		return 0;
	}
	if (r == -1)
		return errno == ENOENT ? 0 : -1;
	a->n++;
	return 0;
}

/* Every message of dead/ or held/ back to ready (or delayed). */
static int
requeue_all(struct mq_queue *q, int state, long long *n)
{
	struct requeuearg a = { state, 0, 0, 0 };
	int r;

	r = walk_state(q, state, requeue1, &a);
	*n = a.n;
	if (mq_sync_dirs(q) == -1 && r == 0)
		r = -1;
	if (r == 0 && a.unroutable > 0) {
		errno = MQ_EUNROUTABLE;
		r = -1;
	} else if (r == 0 && a.moved > 0) {
		errno = MQ_EMOVED;
		r = -1;
	}
	return r;
}

int
mq_kick_all(struct mq_queue *q, long long *n)
{
	return requeue_all(q, MQ_DEAD, n);
}

int
mq_release_all(struct mq_queue *q, long long *n)
{
	return requeue_all(q, MQ_HELD, n);
}
