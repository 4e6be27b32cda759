/*
 * handle.c - acting on one message named by its path: ack, nack, touch,
 * kick, hold, release.
 *
 * A handle is trusted only after it checks out: its directory resolves to
 * SPOOL/QUEUE/STATE (SPOOL/QUEUE/STATE/BUCKET for ready and delayed
 * messages) of this session's spool, its last component is a valid message
 * name for that state, and the entry is a regular file with one link (never
 * a symlink, nor a hard link to something elsewhere), or a read-only one
 * whose name says it is a fan-out copy (fanout.c).  Everything after that
 * goes through the queue's directory descriptors, so nothing outside the
 * spool is ever touched.
 *
 * Invariants:
 * - A handle whose in-flight file is gone (acked, reclaimed, claimed again)
 *   fails with ESTALE and changes nothing: a new claim has a new token, so
 *   its name differs from every older handle.
 * - A touch holds the lease lock shared, so the reclaimer never returns a
 *   message to ready on a deadline it has just seen being extended.  It
 *   never lowers the deadline of a fan-out copy (set_deadline).
 * - An ack removes its message through leave() (move.c), which starts
 *   the dedup window of its key, as every road out of the spool does.
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

#define SESSION_QUEUES	16

struct mq_session {
	char			 spool[PATH_MAX];
	char			 real[PATH_MAX];	/* "" until resolved */
	char			 lastdir[PATH_MAX];	/* last queue dir seen */
	char			 lastq[MQ_QUEUE_MAX + 1];	/* its queue */
	struct mq_queue		*q[SESSION_QUEUES];
	size_t			 nq;
	struct mq_conferr	 ce;
	int			 err;		/* first failed dir sync */
};

struct mq_session *
mq_session_new(const char *spool)
{
	struct mq_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	strlcpy(s->spool, spool, sizeof(s->spool));
	return s;
}

const struct mq_conferr *
mq_session_conferr(const struct mq_session *s)
{
	return &s->ce;
}

static struct mq_queue *
session_queue(struct mq_session *s, const char *name)
{
	struct mq_queue *q;
	size_t i;

	for (i = 0; i < s->nq; i++)
		if (strcmp(s->q[i]->name, name) == 0)
			return s->q[i];
	if ((q = mq_queue_open(s->spool, name, 0, &s->ce)) == NULL)
		return NULL;
	if (s->nq == SESSION_QUEUES) {
		/* make room: what the oldest changed must be durable first */
		if (mq_sync_dirs(s->q[0]) == -1 && s->err == 0)
			s->err = errno;
		mq_queue_close(s->q[0]);
		memmove(s->q, s->q + 1, (SESSION_QUEUES - 1) * sizeof(*s->q));
		s->nq--;
	}
	s->q[s->nq++] = q;
	return q;
}

/* Whether dir names a queue of the spool that does not exist. */
static int
missing_queue(struct mq_session *s, char *dir)
{
	char real[PATH_MAX], *slash;
	int r;

	if ((slash = strrchr(dir, '/')) == NULL)
		return 0;
	*slash = '\0';
	r = realpath(dir[0] ? dir : "/", real) != NULL &&
	    strcmp(real, s->real) == 0 && mq_queue_name_ok(slash + 1);
	*slash = '/';
	return r;
}

/* A handle that checked out: the message file and where it lies. */
struct target {
	struct mq_queue	*q;
	int		 state;
	int		 fd;		/* its directory: a state's or a bucket */
	char		 rel[32];	/* that directory, relative to q->dfd */
	char		 name[MQ_NAME_MAX + 1];
	struct mq_name	 m;
};

static void
target_close(struct target *t)
{
	if (t->fd != t->q->sfd[t->state])
		close(t->fd);
}

/*
 * The error for a handle whose file is gone: a lost lease for in-flight
 * messages, as ever; for others, the message moved on meanwhile, except
 * for dead ones, where mq-kick always said there is no such message.
 */
static int
gone(int state)
{
	if (state == MQ_INFLIGHT)
		return ESTALE;
	return state == MQ_DEAD ? ENOENT : MQ_EMOVED;
}

/*
 * Split the state (and, for ready and delayed messages, the bucket) off
 * dir, which ends in STATE or STATE/BUCKET.  Returns the state, one of
 * those in the mask states, or -1.
 */
static int
split_state(char *dir, unsigned states, char *bucket, size_t len)
{
	char *sd;
	int st;

	bucket[0] = '\0';
	if ((sd = strrchr(dir, '/')) == NULL)
		return -1;
	st = mq_parse_state(sd + 1);
	if (st == MQ_READY || st == MQ_DELAYED)
		return -1;	/* their messages lie in buckets */
	if (st == -1) {
		if (strlcpy(bucket, sd + 1, len) >= len)
			return -1;
		*sd = '\0';
		if ((sd = strrchr(dir, '/')) == NULL)
			return -1;
		st = mq_parse_state(sd + 1);
		if ((st != MQ_READY && st != MQ_DELAYED) ||
		    !bucket_ok(st, bucket))
			return -1;
	}
	*sd = '\0';
	return (states & 1U << st) ? st : -1;
}

/*
 * Check a handle, a path in one of the states of the mask, and find its
 * queue and file.  On success the caller ends with target_close, which
 * closes the bucket a ready or delayed handle lies in (flat states use
 * the queue's descriptors).
 */
static int
resolve(struct mq_session *s, const char *path, unsigned states,
    struct target *t)
{
	char dir[PATH_MAX], real[PATH_MAX], qname[MQ_QUEUE_MAX + 1];
	char bucket[16];
	const char *base;
	struct mq_queue *q;
	struct stat st;
	size_t n;

	if (s->real[0] == '\0' && realpath(s->spool, s->real) == NULL) {
		s->real[0] = '\0';
		errno = MQ_EHANDLE;	/* no spool: nothing is in it */
		return -1;
	}
	if ((base = strrchr(path, '/')) == NULL ||
	    (size_t)(base - path) >= sizeof(dir))
		goto bad;
	memcpy(dir, path, base - path);
	dir[base - path] = '\0';
	base++;
	/* the handle's directory must be SPOOL/QUEUE/STATE[/BUCKET] */
	if ((t->state = split_state(dir, states, bucket,
	    sizeof(bucket))) == -1)
		goto bad;
	if (mq_name_parse(base, &t->m) == -1 || !name_fits(&t->m, t->state,
	    bucket[0] != '\0' ? bucket : NULL))
		goto bad;
	/*
	 * Handles come in runs from one queue (mq-get -n 100 | mq-ack):
	 * resolve a directory once.  Its queue's descriptors are already
	 * open, so a later swap of the path changes nothing we act on.
	 */
	if (s->lastq[0] != '\0' && strcmp(dir, s->lastdir) == 0)
		strlcpy(qname, s->lastq, sizeof(qname));
	else {
		if (realpath(dir[0] ? dir : "/", real) == NULL) {
			if (errno == ENOENT && missing_queue(s, dir))
				errno = MQ_ENOQUEUE;
			else
				errno = MQ_EHANDLE;
			return -1;
		}
		n = strlen(s->real);
		if (strncmp(real, s->real, n) != 0 || real[n] != '/' ||
		    strlcpy(qname, real + n + 1, sizeof(qname)) >=
		    sizeof(qname) || !mq_queue_name_ok(qname))
			goto bad;
	}
	if ((q = session_queue(s, qname)) == NULL)
		return -1;
	strlcpy(s->lastdir, dir, sizeof(s->lastdir));
	strlcpy(s->lastq, qname, sizeof(s->lastq));
	t->q = q;
	t->fd = q->sfd[t->state];
	snprintf(t->rel, sizeof(t->rel), "%s%s%s", mq_state_name(t->state),
	    bucket[0] ? "/" : "", bucket);
	if (bucket[0] != '\0' && t->fd != -1) {
		/* a symlink planted as a bucket leads nowhere */
		t->fd = mq_opendirat(t->fd, bucket);
		if (t->fd == -1 && errno != ENOENT)
			goto bad;
	}
	/* no held/ (an older queue), no bucket: the message is not there */
	if (t->fd == -1) {
		errno = gone(t->state);
		return -1;
	}
	if (fstatat(t->fd, base, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			errno = gone(t->state);
		goto fail;
	}
	/* a hard link planted in the spool would let us act on its twin */
	if (!S_ISREG(st.st_mode) || !linked_ok(&t->m, &st)) {
		errno = MQ_EHANDLE;
		goto fail;
	}
	strlcpy(t->name, base, sizeof(t->name));
	return 0;
fail:
	target_close(t);
	return -1;
bad:
	errno = MQ_EHANDLE;
	return -1;
}

/*
 * Ack a message of an ordered group: under the group's lock, and the lease
 * lock so that the reclaimer cannot take it back meanwhile, the next one
 * of the group is published first, then this one removed (see group.c).
 */
static int
ack_grouped(struct target *t)
{
	struct mq_queue *q = t->q;
	int r = -1;

	if (group_lock(q, t->m.group, F_WRLCK) == -1)
		return -1;
	if (lock_sh(q, LK_LEASE) == -1)
		goto out;
	if (faccessat(t->fd, t->name, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
		errno = errno == ENOENT ? ESTALE : errno;
	else if (group_next(q, t->m.group) == 0 && lock_sh(q, LK_QUEUE) == 0) {
		/* its next is out already: leave() has no group to free */
		r = leave(q, t->fd, t->name, &t->m, 0);
		unlock(q, LK_QUEUE);
		if (r == -1 && errno == ENOENT)
			errno = ESTALE;
	}
	unlock(q, LK_LEASE);
out:
	group_lock(q, t->m.group, F_UNLCK);
	return r == 0 ? mark_dirty(q, t->rel) : -1;
}

int
mq_ack(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	if (t.m.group[0] != '\0')
		return ack_grouped(&t);
	if (lock_sh(t.q, LK_QUEUE) == -1)
		return -1;
	r = leave(t.q, t.fd, t.name, &t.m, 1);
	unlock(t.q, LK_QUEUE);
	if (r == -1)
		return errno == ENOENT ? (errno = ESTALE, -1) : -1;
	return mark_dirty(t.q, t.rel);
}

/* Exponential backoff: backoff * 2^(attempts-1), capped. */
static int64_t
backoff(const struct mq_conf *c, int attempts)
{
	int64_t d = c->backoff_ms;
	int i;

	for (i = 1; i < attempts && d < c->backoff_max_ms; i++)
		d *= 2;
	return d < c->backoff_max_ms ? d : c->backoff_max_ms;
}

int
mq_nack(struct mq_session *s, const char *handle, int64_t delay_ms)
{
	struct target t;
	struct mq_queue *q;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	q = t.q;
	if (delay_ms < 0)
		delay_ms = backoff(&q->conf, t.m.attempts);
	if (q->conf.max_attempts > 0 &&
	    t.m.attempts >= q->conf.max_attempts) {
		r = bury(q, t.fd, t.name, &t.m, "attempts");
		if (group_flush(q) == -1 && r == 0)
			r = -1;
	} else {
		t.m.notbefore = delay_ms > 0 ?
		    ceil_s(mq_now_ms() + delay_ms) : 0;
		r = publish(q, t.fd, t.name, &t.m);
	}
	if (r == -1 && errno == ENOENT)
		errno = ESTALE;
	if (r == 0)
		r = mark_dirty(q, t.rel);
	return r;
}

/*
 * Back to ready at once, the claim's attempt undone: the message was never
 * tried (mq-forward lost its broker before the confirm came), so it must
 * not move a step closer to dead/.
 */
int
mq_unclaim(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	if (t.m.attempts > 0)
		t.m.attempts--;
	t.m.notbefore = 0;
	if ((r = publish(t.q, t.fd, t.name, &t.m)) == -1 && errno == ENOENT)
		errno = ESTALE;
	if (r == 0)
		r = mark_dirty(t.q, t.rel);
	return r;
}

/* Straight to dead/, whatever the attempts: the consumer says it never will. */
int
mq_reject(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	if ((r = bury(t.q, t.fd, t.name, &t.m, "rejected")) == -1 &&
	    errno == ENOENT)
		errno = ESTALE;
	if (group_flush(t.q) == -1 && r == 0)
		r = -1;
	if (r == 0)
		r = mark_dirty(t.q, t.rel);
	return r;
}

int
mq_touch(struct mq_session *s, const char *handle, int64_t lease_ms)
{
	struct timespec ts[2];
	struct target t;
	int64_t dl;
	int r;

	if (resolve(s, handle, 1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	if (lease_ms <= 0)
		lease_ms = t.m.lease > 0 ? t.m.lease : t.q->conf.lease_ms;
	if (lock_sh(t.q, LK_LEASE) == -1)
		return -1;
	if (lease_ms == t.m.lease) {
		/* the claim's own lease, from now: write permission will do */
		r = set_deadline(t.q, t.fd, t.name, &t.m, NULL);
	} else {
		/* another length: an mtime that ends it then (owner only) */
		dl = mq_now_ms() + lease_ms - t.m.lease;
		ts[0].tv_sec = ts[1].tv_sec = dl / 1000;
		ts[0].tv_nsec = ts[1].tv_nsec = (dl % 1000) * 1000000;
		r = set_deadline(t.q, t.fd, t.name, &t.m, ts);
	}
	unlock(t.q, LK_LEASE);
	if (r == -1 && errno == ENOENT)
		errno = ESTALE;
	return r;
}

int
mq_kick(struct mq_session *s, const char *queue, const char *path)
{
	struct target t;

	if (resolve(s, path, 1U << MQ_DEAD, &t) == -1)
		return -1;
	if (queue != NULL && strcmp(queue, t.q->name) != 0) {
		errno = MQ_EHANDLE;
		return -1;
	}
	return revive(t.q, t.name, &t.m);
}

/*
 * Hold a ready, delayed or in-flight message.  It takes the queue lock
 * shared, like every move; a claim, promote or reclaim racing for the
 * same file loses or wins by the one rename.
 */
int
mq_hold(struct mq_session *s, const char *handle, char *held, size_t len)
{
	char name[MQ_NAME_MAX + 1];
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_READY | 1U << MQ_DELAYED |
	    1U << MQ_INFLIGHT, &t) == -1)
		return -1;
	r = hold(t.q, t.fd, t.name, &t.m, name);
	if (r == -1 && errno == ENOENT &&
	    faccessat(t.fd, t.name, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
		errno = gone(t.state);
	if (r == 0)
		r = mark_dirty(t.q, t.rel);
	if (r == 0 && (size_t)snprintf(held, len, "%s/held/%s", t.q->path,
	    name) >= len) {
		errno = ENAMETOOLONG;
		r = -1;
	}
	target_close(&t);
	return r;
}

int
mq_release(struct mq_session *s, const char *handle)
{
	struct target t;
	int r;

	if (resolve(s, handle, 1U << MQ_HELD, &t) == -1)
		return -1;
	r = unhold(t.q, t.name, &t.m);
	if (r == -1 && errno == ENOENT)
		errno = MQ_EMOVED;
	return r;
}

/* Make what the session changed durable now; long-running tools call it. */
int
mq_session_sync(struct mq_session *s)
{
	size_t i;
	int err = s->err;

	s->err = 0;
	for (i = 0; i < s->nq; i++)
		if (mq_sync_dirs(s->q[i]) == -1 && err == 0)
			err = errno;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
mq_session_end(struct mq_session *s)
{
	size_t i;
	int err;

	if (s == NULL)
		return 0;
	err = s->err;
	for (i = 0; i < s->nq; i++) {
		if (mq_sync_dirs(s->q[i]) == -1 && err == 0)
			err = errno;
		mq_queue_close(s->q[i]);
	}
	free(s);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}
