/*
 * fanout.c - topics: one put delivered to every subscriber queue.
 *
 * A queue is a topic while its subs/ holds files named after queues, its
 * subscribers.  A put to a topic writes the body once, in the topic's
 * tmp/, hard-links it into each subscriber's tmp/ (or copies it there where
 * no link can be made) and publishes it in each as a message of that queue,
 * under that queue's own rules; then the body leaves the topic's tmp/.  The
 * topic keeps no message.
 *
 * Invariants:
 * - The subscribers of a message are those in subs/ when it is published:
 *   a put holds the topic's subscription lock shared from reading subs/
 *   until the message is durable in every subscriber, and mq-sub changes
 *   subs/ only with that lock exclusive.  So once mq-sub returns, every
 *   message published later goes to the new subscriber and none published
 *   before; once mq-sub -r returns, the queue gets no more.
 * - A queue becomes a topic empty of what it still has to deliver: its
 *   first subscription is refused while it holds ready (or waiting their
 *   group's turn), delayed or in-flight messages, which would otherwise be
 *   delivered from the topic beside the fan-out.  The count and the new
 *   subs/ file are made under the subscription lock exclusive, the lock a
 *   put holds from its look at subs/ until its message is published: a put
 *   that found no subscriber is counted, and one that looks later finds
 *   the subscriber.  Held and dead messages are out of delivery and do not
 *   count; mq-release and mq-kick bring them back to the topic itself.
 * - Fan-out is one level deep: a subscriber is not a topic, and a topic is
 *   no other topic's subscriber.  mq-sub checks both holding the
 *   subscription locks of both queues, so two racing mq-subs cannot build
 *   a chain between them.
 * - Copies made by link share one inode, hence one mtime, from which the
 *   lease of an in-flight copy is counted (mq(7)).  Their names carry
 *   ",f", and that time is only ever raised (set_deadline, in lease.c),
 *   under flock(2) of the file: a lease can come out longer than asked,
 *   never shorter, so no subscriber's copy is delivered twice because
 *   another's was claimed.
 *   They are read-only, so no consumer can change another's body, and only
 *   they may have more than one link (session.c).
 * - An id is handed back only once its message is durable in every
 *   subscriber.  A subscriber that fails is reported; the others keep the
 *   message, and a retry with a key fills in what is missing.
 * - With a key, each subscriber's key store decides for itself, under its
 *   key lock; all of them are taken, in name order, before any is looked
 *   at, so every copy of one key gets one id: that of the first subscriber
 *   that knows the key, or a new one.
 */
#include <sys/types.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SUBS_KEPT	16	/* subscriber queues kept open between commits */

struct sub {
	char		 name[MQ_QUEUE_MAX + 1];
	struct mq_queue	*q;		/* NULL until opened */
	int		 err;		/* why this commit failed here, or 0 */
	size_t		 durable;	/* messages of this commit made durable */
	int		 known;		/* the key is known here */
	int		 keylocked;
};

struct failure {
	char	 queue[MQ_QUEUE_MAX + 1];
	int	 err;
};

struct fanout {
	struct mq_queue	*t;
	char		 spool[PATH_MAX];
	int64_t		 ttl_ms;	/* the caller's; -1: each subscriber's */
	int		 locked;
	struct sub	*subs;
	size_t		 nsubs;
	struct failure	*fail;
	size_t		 nfail;
};

struct fanout *
fanout_new(struct mq_queue *t, int64_t ttl_ms)
{
	struct fanout *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->t = t;
	f->ttl_ms = ttl_ms;
	spool_of(t, f->spool, sizeof(f->spool));
	return f;
}

static void
close_subs(struct sub *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mq_queue_close(v[i].q);
	free(v);
}

void
fanout_free(struct fanout *f)
{
	if (f == NULL)
		return;
	fanout_end(f);
	close_subs(f->subs, f->nsubs);
	free(f->fail);
	free(f);
}

/*
 * Take the subscription lock of the topic shared and read its subscribers.
 * Returns their number (0: an ordinary queue), or -1.  Either way the
 * caller ends with fanout_end, once what it publishes is durable.  The
 * subscribers' queues stay open from one commit to the next.
 */
int
fanout_begin(struct fanout *f)
{
	struct sub *nv;
	char **v;
	size_t n, i, j;

	f->nfail = 0;
	if (lock_sh(f->t, LK_SUBS) == -1)
		return -1;
	f->locked = 1;
	if (read_subs(f->t, &v, &n) == -1)
		return -1;
	if (n == 0 && f->nsubs == 0) {
		free(v);
		return 0;
	}
	if ((nv = calloc(n ? n : 1, sizeof(*nv))) == NULL) {
		free_names(v, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		strlcpy(nv[i].name, v[i], sizeof(nv[i].name));
		for (j = 0; j < f->nsubs; j++)
			if (f->subs[j].q != NULL &&
			    strcmp(f->subs[j].name, v[i]) == 0) {
				nv[i].q = f->subs[j].q;
				f->subs[j].q = NULL;
			}
	}
	free_names(v, n);
	close_subs(f->subs, f->nsubs);
	f->subs = nv;
	f->nsubs = n;
	return (int)n;
}

void
fanout_end(struct fanout *f)
{
	int saved = errno;

	if (f != NULL && f->locked)
		unlock(f->t, LK_SUBS);
	if (f != NULL)
		f->locked = 0;
	errno = saved;
}

const char *
fanout_failure(const struct fanout *f, size_t i, int *err)
{
	if (f == NULL || i >= f->nfail)
		return NULL;
	if (err != NULL)
		*err = f->fail[i].err;
	return f->fail[i].queue;
}

/*
 * Key locks of every subscriber, in name order (f->subs is sorted), then
 * what each knows: id gets the first known id, or stays "".
 */
static void
keys_lookup(struct fanout *f, const char *hash, char id[MQ_ID_LEN + 1])
{
	char known[MQ_ID_LEN + 1];
	struct sub *s;
	int r;

	id[0] = '\0';
	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (s->err != 0)
			continue;
		if (key_lock(s->q, hash, F_WRLCK) == -1) {
			s->err = errno;
			continue;
		}
		s->keylocked = 1;
	}
	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (!s->keylocked)
			continue;
		if ((r = key_lookup(s->q, hash, known, NULL)) == -1)
			s->err = errno;
		else if (r == 1) {
			s->known = 1;
			if (id[0] == '\0')
				strlcpy(id, known, MQ_ID_LEN + 1);
		}
	}
}

/* Record the key where the message was put, then drop the key locks. */
static void
keys_record(struct fanout *f, const char *hash, const char *id, size_t n)
{
	struct sub *s;

	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (!s->keylocked)
			continue;
		if (s->err == 0 && !s->known && s->durable == n &&
		    key_record(s->q, hash, id, NULL, 1) == -1)
			s->err = errno;
		key_lock(s->q, hash, F_UNLCK);
		s->keylocked = 0;
		key_sweep(s->q, hash);
	}
}

/* Publish n bodies of the topic's tmp/ in one subscriber. */
static void
publish_in(struct fanout *f, struct sub *s, const struct mq_name *m,
    size_t n, const char *id, int64_t now)
{
	struct mq_queue *q = s->q;
	struct mq_name c;
	size_t i;

	for (i = 0; i < n && s->err == 0; i++) {
		c = m[i];
		if (id != NULL)
			strlcpy(c.id, id, sizeof(c.id));
		/* a ttl from the configuration is the subscriber's own */
		if (f->ttl_ms < 0)
			c.expiry = q->conf.ttl_ms > 0 ?
			    ceil_s(now + q->conf.ttl_ms) : 0;
		if (c.size > q->conf.max_size)
			s->err = EFBIG;
		else if (place(f->t, q, m[i].id, &c.fanout) == -1)
			s->err = errno;
		else {
			pub_ahead(q, n - i);
			/* a message of an ordered group waits its turn here too */
			if (admit(q, q->tmpfd, m[i].id, &c) == -1) {
				s->err = errno;
				unlinkat(q->tmpfd, m[i].id, 0);
			} else
				s->durable++;
		}
	}
	pub_ahead(q, 0);
	/* published, and durable once the directories are */
	if (mq_sync_dirs(q) == -1) {
		if (s->err == 0)
			s->err = errno;
		s->durable = 0;
	}
}

static int
note_failures(struct fanout *f)
{
	struct failure *v;
	struct sub *s;
	int first = 0;

	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		if (s->err == 0)
			continue;
		if (first == 0)
			first = s->err;
		v = reallocarray(f->fail, f->nfail + 1, sizeof(*v));
		if (v == NULL)
			continue;	/* reported as the topic's failure */
		f->fail = v;
		strlcpy(v[f->nfail].queue, s->name, sizeof(v->queue));
		v[f->nfail++].err = s->err;
	}
	return first;
}

/*
 * A queue holds about ten descriptors: with many subscribers, they are
 * opened for each commit rather than kept, to stay far from the limit.
 */
static void
let_go(struct fanout *f)
{
	size_t i;

	if (f->nsubs <= SUBS_KEPT)
		return;
	for (i = 0; i < f->nsubs; i++) {
		mq_queue_close(f->subs[i].q);
		f->subs[i].q = NULL;
	}
}

/*
 * Fan out n bodies written to the topic's tmp/ (call between fanout_begin
 * and fanout_end, with subscribers).  The bodies leave the topic's tmp/.
 * On return m[0..*nok) are the messages durable in every subscriber, with
 * the id they have there.  Returns 0; 1 when, with a key, every subscriber
 * knew it and nothing was put; -1 when some subscriber failed (see
 * fanout_failure; none listed means all failed, with errno).
 */
int
fanout_put(struct fanout *f, struct mq_name *m, size_t n, const char *hash,
    size_t *nok)
{
	struct mq_conferr ce;
	struct mq_queue *t = f->t;
	char id[MQ_ID_LEN + 1] = "";
	struct sub *s;
	size_t i, k;
	int need = MQ_SYNC_NONE, first, all = 1;
	int64_t now = mq_now_ms();

	*nok = 0;
	for (s = f->subs; s < f->subs + f->nsubs; s++) {
		s->err = 0;
		s->durable = 0;
		s->known = 0;
		s->keylocked = 0;
		if (s->q == NULL && (s->q = mq_queue_open(f->spool, s->name,
		    MQ_CREATE, &ce)) == NULL)
			s->err = errno;
		else if (s->q->conf.sync > need)
			need = s->q->conf.sync;
	}
	for (i = 0; i < n; i++)
		if (seal(t, m[i].id, need) == -1)
			goto fail;
	if (need == MQ_SYNC_BATCH && t->conf.sync != MQ_SYNC_FULL &&
	    syncfs(t->tmpfd) == -1)
		goto fail;
	if (hash != NULL)
		keys_lookup(f, hash, id);
	if (hash != NULL && id[0] == '\0')
		strlcpy(id, m[0].id, sizeof(id));
	for (s = f->subs; s < f->subs + f->nsubs; s++)
		if (s->err == 0 && !s->known)
			publish_in(f, s, m, n, hash != NULL ? id : NULL, now);
	if (hash != NULL)
		keys_record(f, hash, id, n);
	for (i = 0; i < n; i++)
		unlinkat(t->tmpfd, m[i].id, 0);
	/* what every subscriber has, in the order put */
	for (s = f->subs; s < f->subs + f->nsubs; s++)
		all = all && s->known;
	for (i = k = 0; i < n; i++) {
		int ok = 1;

		for (s = f->subs; s < f->subs + f->nsubs; s++)
			ok = ok && (s->known || i < s->durable);
		if (ok) {
			m[k] = m[i];
			if (hash != NULL)
				strlcpy(m[k].id, id, sizeof(m[k].id));
			k++;
		}
	}
	*nok = k;
	first = note_failures(f);
	let_go(f);
	if (first != 0) {
		errno = first;
		return -1;
	}
	return hash != NULL && all ? 1 : 0;
fail:
	first = errno;
	for (i = 0; i < n; i++)
		unlinkat(t->tmpfd, m[i].id, 0);
	let_go(f);
	errno = first;
	return -1;
}
