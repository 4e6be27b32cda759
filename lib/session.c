/*
 * session.c - handles: a path a tool was given, checked and resolved
 * to its queue and file.
 *
 * A handle is trusted only after it checks out: its directory resolves to
 * SPOOL/QUEUE/STATE (SPOOL/QUEUE/STATE/BUCKET for ready and delayed
 * messages) of this session's spool, its last component is a valid message
 * name for that state, and the entry is a regular file with one link (never
 * a symlink, nor a hard link to something elsewhere), or a read-only one
 * whose name says it is a fan-out copy (fanout.c).  Everything after that
 * goes through the queue's directory descriptors, so nothing outside the
 * spool is ever touched.  A session keeps the queues its handles named
 * open, and makes what it changed durable at its end.
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

void
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
int
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
	if (st != -1 && bucketed(st))
		return -1;	/* their messages lie in buckets */
	if (st == -1) {
		if (strlcpy(bucket, sd + 1, len) >= len)
			return -1;
		*sd = '\0';
		if ((sd = strrchr(dir, '/')) == NULL)
			return -1;
		st = mq_parse_state(sd + 1);
		if (st == -1 || !bucketed(st) || !bucket_ok(st, bucket))
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
int
resolve(struct mq_session *s, const char *path, unsigned states,
    struct target *t)
{
	char dir[PATH_MAX], real[PATH_MAX], qname[MQ_QUEUE_MAX + 1];
	char bucket[16], renamed[MQ_NAME_MAX + 1];
	const char *base;
	struct mq_queue *q;
	struct stat st;
	size_t n;
	int r;

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
	fmt_statedir(t->rel, t->state, bucket);
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
	/*
	 * A prepared message's handle holds while it is prepared: a
	 * checker's ask renames it (,a counts them), the id stays.
	 */
	r = fstatat(t->fd, base, &st, AT_SYMLINK_NOFOLLOW);
	if (r == -1 && errno == ENOENT && t->state == MQ_PREPARED) {
		if (find_id(q, MQ_PREPARED, t->m.id, &t->m, renamed) == 1) {
			base = renamed;
			r = fstatat(t->fd, base, &st, AT_SYMLINK_NOFOLLOW);
		} else
			errno = ENOENT;
	}
	if (r == -1) {
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
 * Whether resolving path as an in-flight handle would look nothing up:
 * it is SPOOL/QUEUE/inflight/NAME with the SPOOL/QUEUE the last handle
 * resolved, so resolve() calls no realpath and opens no queue, it only
 * parses the name and looks at the file.  mq_ack_many holds the queue
 * lock across such a resolve, and drops it before any other.
 */
int
resolve_cached(const struct mq_session *s, const char *path)
{
	const char *base, *sd = mq_state_name(MQ_INFLIGHT);
	size_t n = strlen(s->lastdir), k = strlen(sd);

	if (s->lastq[0] == '\0' || (base = strrchr(path, '/')) == NULL)
		return 0;
	return (size_t)(base - path) == n + 1 + k &&
	    memcmp(path, s->lastdir, n) == 0 && path[n] == '/' &&
	    memcmp(path + n + 1, sd, k) == 0;
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
