/*
 * handle.c - acting on one message named by its path: ack, nack, touch,
 * kick.
 *
 * A handle is trusted only after it checks out: its directory resolves to
 * SPOOL/QUEUE/STATE of this session's spool, its last component is a valid
 * message name for that state, and the entry is a regular file with one
 * link (never a symlink, nor a hard link to something elsewhere).  Everything after that goes through the queue's directory
 * descriptors, so nothing outside the spool is ever touched.
 *
 * Invariants:
 * - A handle whose in-flight file is gone (acked, reclaimed, claimed again)
 *   fails with ESTALE and changes nothing: a new claim has a new token, so
 *   its name differs from every older handle.
 * - A touch holds the lease lock shared, so the reclaimer never returns a
 *   message to ready on a deadline it has just seen being extended.
 * - An ack of a message with a key starts the key's dedup window (key.c).
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

/*
 * Check a handle and find its queue.  name receives the file name within
 * the state directory, m its parse.
 */
static struct mq_queue *
resolve(struct mq_session *s, const char *path, int state, char *name,
    struct mq_name *m)
{
	char dir[PATH_MAX], real[PATH_MAX], qname[MQ_QUEUE_MAX + 1];
	const char *base, *sd;
	struct mq_queue *q;
	struct stat st;
	size_t n;

	if (s->real[0] == '\0' && realpath(s->spool, s->real) == NULL) {
		s->real[0] = '\0';
		errno = MQ_EHANDLE;	/* no spool: nothing is in it */
		return NULL;
	}
	if ((base = strrchr(path, '/')) == NULL ||
	    (size_t)(base - path) >= sizeof(dir))
		goto bad;
	memcpy(dir, path, base - path);
	dir[base - path] = '\0';
	base++;
	if (mq_name_parse(base, m) == -1 ||
	    (state == MQ_INFLIGHT) != (m->token[0] != '\0'))
		goto bad;
	/* the handle's directory must be SPOOL/QUEUE/<state> */
	if ((sd = strrchr(dir, '/')) == NULL ||
	    strcmp(sd + 1, mq_state_name(state)) != 0)
		goto bad;
	dir[sd - dir] = '\0';
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
			return NULL;
		}
		n = strlen(s->real);
		if (strncmp(real, s->real, n) != 0 || real[n] != '/' ||
		    strlcpy(qname, real + n + 1, sizeof(qname)) >=
		    sizeof(qname) || !mq_queue_name_ok(qname))
			goto bad;
	}
	if ((q = session_queue(s, qname)) == NULL)
		return NULL;
	strlcpy(s->lastdir, dir, sizeof(s->lastdir));
	strlcpy(s->lastq, qname, sizeof(s->lastq));
	if (fstatat(q->sfd[state], base, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			errno = state == MQ_INFLIGHT ? ESTALE : ENOENT;
		return NULL;
	}
	/* a hard link planted in the spool would let us act on its twin */
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		goto bad;
	strlcpy(name, base, MQ_NAME_MAX + 1);
	return q;
bad:
	errno = MQ_EHANDLE;
	return NULL;
}

int
mq_ack(struct mq_session *s, const char *handle)
{
	char name[MQ_NAME_MAX + 1];
	struct mq_name m;
	struct mq_queue *q;
	int r;

	if ((q = resolve(s, handle, MQ_INFLIGHT, name, &m)) == NULL)
		return -1;
	if (lock_sh(q, LK_QUEUE) == -1)
		return -1;
	r = remove_message(q, q->sfd[MQ_INFLIGHT], name, &m);
	unlock(q, LK_QUEUE);
	if (r == -1)
		return errno == ENOENT ? (errno = ESTALE, -1) : -1;
	return mark_dirty(q, "inflight");
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
	char name[MQ_NAME_MAX + 1];
	struct mq_name m;
	struct mq_queue *q;
	int r;

	if ((q = resolve(s, handle, MQ_INFLIGHT, name, &m)) == NULL)
		return -1;
	if (delay_ms < 0)
		delay_ms = backoff(&q->conf, m.attempts);
	if (q->conf.max_attempts > 0 && m.attempts >= q->conf.max_attempts)
		r = bury(q, q->sfd[MQ_INFLIGHT], name, &m, "attempts");
	else {
		m.notbefore = delay_ms > 0 ? ceil_s(mq_now_ms() + delay_ms) : 0;
		r = publish(q, q->sfd[MQ_INFLIGHT], name, &m);
	}
	if (r == -1 && errno == ENOENT)
		errno = ESTALE;
	if (r == 0)
		r = mark_dirty(q, "inflight");
	return r;
}

int
mq_touch(struct mq_session *s, const char *handle, int64_t lease_ms)
{
	char name[MQ_NAME_MAX + 1];
	struct timespec ts[2];
	struct mq_name m;
	struct mq_queue *q;
	int64_t dl;
	int r;

	if ((q = resolve(s, handle, MQ_INFLIGHT, name, &m)) == NULL)
		return -1;
	if (lock_sh(q, LK_LEASE) == -1)
		return -1;
	dl = mq_now_ms() + (lease_ms > 0 ? lease_ms : q->conf.lease_ms);
	ts[0].tv_sec = ts[1].tv_sec = dl / 1000;
	ts[0].tv_nsec = ts[1].tv_nsec = (dl % 1000) * 1000000;
	r = utimensat(q->sfd[MQ_INFLIGHT], name, ts, AT_SYMLINK_NOFOLLOW);
	unlock(q, LK_LEASE);
	if (r == -1 && errno == ENOENT)
		errno = ESTALE;
	return r;
}

int
mq_kick(struct mq_session *s, const char *queue, const char *path)
{
	char name[MQ_NAME_MAX + 1];
	struct mq_name m;
	struct mq_queue *q;

	if ((q = resolve(s, path, MQ_DEAD, name, &m)) == NULL)
		return -1;
	if (queue != NULL && strcmp(queue, q->name) != 0) {
		errno = MQ_EHANDLE;
		return -1;
	}
	return revive(q, name, &m);
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
