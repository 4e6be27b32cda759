/*
 * put.c - producing messages.
 *
 * Invariants:
 * - A body is written to tmp/ID and only its final rename makes it visible,
 *   so no consumer ever sees a partial message.
 * - An id is handed back (mq_put_ready) only once its message is as durable
 *   as the sync mode promises: sync=full fsyncs the file before the rename
 *   and the directory after it; sync=batch writes a group of files, makes
 *   their data durable with one syncfs(2), renames them all and fsyncs each
 *   touched directory once (group commit); sync=none never waits.
 * - A failed put removes its temporary file: a full disk leaves nothing
 *   half-written behind.
 * - A put with a key publishes only if the key is not known, deciding and
 *   recording under the key's lock (see key.c); a duplicate hands back the
 *   id of the message put with the key, and leaves nothing behind.
 * - A queue with subscribers is a topic: what is put to it goes to them
 *   instead (fanout.c), decided under its subscription lock, which every
 *   commit holds, before any key lock.
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

#define GROUP_MAX	1024	/* messages per group commit */

struct mq_putter {
	struct mq_queue		*q;
	struct mq_putopts	 o;
	char			 hash[MQ_KEY_HEX + 1];	/* of o.key */
	char			 ghash[MQ_KEY_HEX + 1];	/* of o.group */
	struct mq_name		*pend;		/* written, not yet published */
	size_t			 npend;
	char			(*ids)[MQ_ID_LEN + 1];
	const char		**out;
	size_t			 nout, cap;
	struct fanout		*fan;		/* the subscribers, if a topic */
	size_t			 nkeyed;	/* of pend, with a key */
};

static int	commit(struct mq_putter *);
static int	keyed_commit(struct mq_putter *);

/* Take the options of the puts to come: keys and groups go by their hash. */
static int
setopts(struct mq_putter *p, const struct mq_putopts *o)
{
	if ((o->key != NULL &&
	    (o->key[0] == '\0' || strlen(o->key) > MQ_KEY_MAX)) ||
	    (o->group != NULL &&
	    (o->group[0] == '\0' || strlen(o->group) > MQ_KEY_MAX))) {
		errno = EINVAL;
		return -1;
	}
	p->o = *o;
	if (p->o.ttl_ms < 0)
		p->o.ttl_ms = p->q->conf.ttl_ms;
	if (o->key != NULL) {
		key_hash(o->key, p->hash);
		p->o.key = p->hash;	/* the caller's string need not live on */
	}
	if (o->group != NULL) {
		key_hash(o->group, p->ghash);
		p->o.group = p->ghash;
	}
	return 0;
}

/* New options for the next puts (mq-recv: a key, priority, ttl each). */
int
mq_put_set(struct mq_putter *p, const struct mq_putopts *o)
{
	return setopts(p, o);
}

struct mq_putter *
mq_put_begin(struct mq_queue *q, const struct mq_putopts *o)
{
	struct mq_putter *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->fan = fanout_new(q, o->ttl_ms)) == NULL) {
		free(p);
		return NULL;
	}
	p->q = q;
	if (setopts(p, o) == -1) {
		fanout_free(p->fan);
		free(p);
		return NULL;
	}
	p->cap = q->conf.sync == MQ_SYNC_BATCH ? GROUP_MAX : 1;
	p->pend = calloc(p->cap, sizeof(*p->pend));
	p->ids = calloc(p->cap, sizeof(*p->ids));
	p->out = calloc(p->cap, sizeof(*p->out));
	if (p->pend == NULL || p->ids == NULL || p->out == NULL) {
		mq_put_end(p);
		return NULL;
	}
	return p;
}

static int
writeall(int fd, const void *buf, size_t len)
{
	const char *b = buf;
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, b, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Publish one written tmp file under its final name. */
static int
release(struct mq_putter *p, struct mq_name *m)
{
	int r;

	/* a message of an ordered group may have to wait its turn */
	r = admit(p->q, p->q->tmpfd, m->id, m);
	if (r == -1) {
		int saved = errno;

		unlinkat(p->q->tmpfd, m->id, 0);
		errno = saved;
	}
	return r;
}

static void
emit(struct mq_putter *p, const char *id)
{
	/* a caller that never asks (mq_put_ready) gets the latest only */
	if (p->nout == p->cap) {
		memmove(p->ids, p->ids + 1, (p->cap - 1) * sizeof(*p->ids));
		p->nout--;
	}
	strlcpy(p->ids[p->nout], id, sizeof(p->ids[0]));
	p->out[p->nout] = p->ids[p->nout];
	p->nout++;
}

/* Give up what is pending: its bodies go. */
static int
drop(struct mq_putter *p)
{
	size_t i;
	int saved = errno;

	for (i = 0; i < p->npend; i++)
		unlinkat(p->q->tmpfd, p->pend[i].id, 0);
	p->npend = 0;
	errno = saved;
	return -1;
}

/*
 * Hand what is pending to the topic's subscribers; report the ids that
 * every one of them has.  Call between fanout_begin and fanout_end.
 */
static int
fan_commit(struct mq_putter *p)
{
	size_t i, j, k, nok;
	int r = 0;

	/* in runs of one key (or none): a group commit can mix them */
	for (i = 0; i < p->npend && r == 0; i = j) {
		for (j = i + 1; j < p->npend &&
		    strcmp(p->pend[j].key, p->pend[i].key) == 0; j++)
			;
		r = fanout_put(p->fan, p->pend + i, j - i,
		    p->pend[i].key[0] != '\0' ? p->pend[i].key : NULL, &nok);
		for (k = 0; k < nok; k++)
			emit(p, p->pend[i + k].id);
	}
	/* after a failure: the runs not tried go too */
	for (; i < p->npend; i++)
		unlinkat(p->q->tmpfd, p->pend[i].id, 0);
	p->npend = p->nkeyed = 0;
	return r;
}

/*
 * Make a written body's name in tmp/ durable, before a key may name it: a
 * crash must not take it away.  Only sync=full and none come here (batch
 * decides its keys at the group's commit), and full wrote the body with
 * an fsync already.
 */
static int
tmp_durable(struct mq_queue *q)
{
	return q->conf.sync == MQ_SYNC_NONE ? 0 : fsync(q->tmpfd);
}

/*
 * Publish a written message unless its key is known, and record the key.
 * The body was read first, without the lock: a slow writer must not hold
 * up other producers of the key, and a duplicate's writer gets no SIGPIPE.
 * The lock is held from the lookup until the key file names the message,
 * so of concurrent producers with one key exactly one publishes.
 */
static int
put_keyed(struct mq_putter *p, struct mq_name *m)
{
	struct mq_queue *q = p->q;
	char orig[MQ_ID_LEN + 1], origname[MQ_NAME_MAX + 1];
	char name[MQ_NAME_MAX + 1];
	int locked, r, saved;

	/* a topic's subscribers each decide by their own keys */
	if ((r = fanout_begin(p->fan)) != 0) {
		p->pend[p->npend++] = *m;
		r = r > 0 ? fan_commit(p) : drop(p);
		fanout_end(p->fan);
		return r;
	}
	locked = key_lock(q, m->key, F_WRLCK) == 0;
	r = locked ? key_lookup(q, m->key, orig, origname) : -1;
	/* known: if its put died before publishing, finish that put */
	if (r == 1 && key_finish(q, orig, origname) == -1)
		r = -1;
	if (r == 0) {
		/* the key names the body before it is published (key.c) */
		if ((r = tmp_durable(q)) == 0 &&
		    (r = mq_name_format(m, name, sizeof(name))) == 0)
			r = key_record(q, m->key, m->id, name, 1);
		if (r == 0) {
			p->pend[p->npend++] = *m;
			/* published before the key's lock goes */
			if ((r = commit(p)) == -1) {
				saved = errno;
				key_forget(q, m->key, m->id);
				errno = saved;
			}
		} else {
			saved = errno;
			unlinkat(q->tmpfd, m->id, 0);
			errno = saved;
		}
	} else {
		/* known, or we cannot tell: the body goes */
		saved = errno;
		unlinkat(q->tmpfd, m->id, 0);
		if (r == 1)
			emit(p, orig);
		errno = saved;
	}
	saved = errno;
	if (locked)
		key_lock(q, m->key, F_UNLCK);
	fanout_end(p->fan);
	if (r == 0)
		key_sweep(q, m->key);
	errno = saved;
	return r;
}

/*
 * Write one message.  Exactly one of fd (>= 0) and buf is the source.
 */
static int
put1(struct mq_putter *p, int src, const void *buf, size_t len)
{
	struct mq_queue *q = p->q;
	struct mq_name m;
	char chunk[65536], name[MQ_NAME_MAX + 1];
	int64_t size = 0, now;
	ssize_t n;
	int fd, saved;

	if (p->npend == p->cap && mq_put_commit(p) == -1)
		return -1;
	memset(&m, 0, sizeof(m));
	if (mq_new_id(m.id) == -1)
		return -1;
	m.prio = p->o.prio;
	fd = mq_openat(q->tmpfd, m.id, O_WRONLY | O_CREAT | O_EXCL,
	    q->conf.mode >= 0 ? q->conf.mode : 0666);
	if (fd == -1)
		return -1;
	if (src < 0) {
		if ((int64_t)len > q->conf.max_size) {
			errno = EFBIG;
			goto fail;
		}
		if (writeall(fd, buf, len) == -1)
			goto fail;
		size = (int64_t)len;
	} else {
		for (;;) {
			if ((n = read(src, chunk, sizeof(chunk))) == -1) {
				if (errno == EINTR)
					continue;
				goto fail;
			}
			if (n == 0)
				break;
			if ((size += n) > q->conf.max_size) {
				errno = EFBIG;
				goto fail;
			}
			if (writeall(fd, chunk, (size_t)n) == -1)
				goto fail;
		}
	}
	if (own_file(q, fd) == -1)
		goto fail;
	if (q->conf.sync == MQ_SYNC_FULL && fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	m.size = size;
	/* a delay counts from this message: a stream's lines come late */
	now = mq_now_ms();
	m.notbefore = p->o.delay_ms > 0 ? ceil_s(now + p->o.delay_ms) :
	    p->o.notbefore;
	if (p->o.ttl_ms > 0)
		m.expiry = ceil_s(now + p->o.ttl_ms);
	if (p->o.group != NULL)
		strlcpy(m.group, p->ghash, sizeof(m.group));
	/* a due time or expiry past what a name holds: refused, not lost */
	if (mq_name_format(&m, name, sizeof(name)) == -1)
		goto fail;
	if (p->o.key != NULL) {
		strlcpy(m.key, p->hash, sizeof(m.key));
		/* batch: the group's keys are decided at its commit */
		if (q->conf.sync != MQ_SYNC_BATCH)
			return put_keyed(p, &m);
		p->nkeyed++;
	}
	p->pend[p->npend++] = m;
	if (q->conf.sync != MQ_SYNC_BATCH)
		return mq_put_commit(p);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(q->tmpfd, m.id, 0);
	errno = saved;
	return -1;
}

int
mq_put_fd(struct mq_putter *p, int fd)
{
	return put1(p, fd, NULL, 0);
}

int
mq_put_buf(struct mq_putter *p, const void *buf, size_t len)
{
	return put1(p, -1, buf, len);
}

int
mq_put_pending(const struct mq_putter *p)
{
	return (int)p->npend;
}

/*
 * Publish what is pending, or fan it out when the queue is a topic.  On
 * failure the messages not yet published are removed, so that the caller
 * can report exactly the ids it printed.
 */
int
mq_put_commit(struct mq_putter *p)
{
	int r;

	if (p->npend == 0)
		return 0;
	if ((r = fanout_begin(p->fan)) == 0)
		r = p->nkeyed > 0 ? keyed_commit(p) : commit(p);
	else if (r > 0)
		r = fan_commit(p);
	else
		r = drop(p);
	p->nkeyed = 0;
	fanout_end(p->fan);
	return r < 0 ? -1 : 0;
}

const char *
mq_put_failure(const struct mq_putter *p, size_t i, int *err)
{
	return fanout_failure(p->fan, i, err);
}

static int
commit(struct mq_putter *p)
{
	struct mq_queue *q = p->q;
	size_t i;
	int saved;

	if (p->npend == 0)
		return 0;
	/*
	 * A big group gets a bucket of its own, made before the syncfs that
	 * makes the group's data durable, so that one syncfs also covers
	 * the bucket's name: one directory fsync per group, like the floor.
	 */
	if (q->conf.sync == MQ_SYNC_BATCH && p->pend[0].notbefore == 0 &&
	    p->pend[0].group[0] == '\0' &&
	    p->npend * 2 >= (size_t)q->conf.bucket_size &&
	    private_bucket(q, p->pend[0].prio, p->npend) == -1)
		goto fail;
	if (q->conf.sync == MQ_SYNC_BATCH && syncfs(q->tmpfd) == -1)
		goto fail;
	for (i = 0; i < p->npend; i++) {
		pub_ahead(q, p->npend - i);
		if (release(p, &p->pend[i]) == -1) {
			size_t done = i;

			saved = errno;
			for (i++; i < p->npend; i++)
				unlinkat(q->tmpfd, p->pend[i].id, 0);
			/* report the ones that did make it, once durable */
			if (mq_sync_dirs(q) == 0)
				for (i = 0; i < done; i++)
					emit(p, p->pend[i].id);
			p->npend = 0;
			pub_ahead(q, 0);
			errno = saved;
			return -1;
		}
	}
	pub_ahead(q, 0);
	if (mq_sync_dirs(q) == -1)
		goto fail_published;
	for (i = 0; i < p->npend; i++)
		emit(p, p->pend[i].id);
	p->npend = 0;
	return 0;
fail:
	saved = errno;
	for (i = 0; i < p->npend; i++)
		unlinkat(q->tmpfd, p->pend[i].id, 0);
	p->npend = 0;
	errno = saved;
	return -1;
fail_published:
	/* visible but not known durable: say so rather than print the ids */
	p->npend = 0;
	return -1;
}

/*
 * A group commit with keys (sync=batch): one syncfs makes the bodies
 * durable, the keys are looked up and recorded under their locks (all
 * taken at once, in order), a second syncfs makes the records durable,
 * then the new messages are published as any group.  A message whose key
 * is known, in the spool or earlier in this group, is not published: the
 * id of the one put with the key is reported in its place.
 */
static int
keyed_commit(struct mq_putter *p)
{
	struct mq_queue *q = p->q;
	char (*dup)[MQ_ID_LEN + 1], name[MQ_NAME_MAX + 1];
	char orig[MQ_ID_LEN + 1], origname[MQ_NAME_MAX + 1];
	size_t i, k, n = p->npend, nnew = 0;
	int r = 0, saved, ours;

	if ((dup = calloc(n, sizeof(*dup))) == NULL)
		return drop(p);
	if (syncfs(q->tmpfd) == -1 ||
	    key_lock_all(q, p->pend, n, F_WRLCK) == -1) {
		free(dup);
		return drop(p);
	}
	for (i = 0; i < n && r == 0; i++) {
		if (p->pend[i].key[0] == '\0')
			continue;
		if ((r = key_lookup(q, p->pend[i].key, orig, origname)) == 1) {
			/* known: from this group, or a put that died? */
			for (k = 0, ours = 0; k < i && !ours; k++)
				ours = dup[k][0] == '\0' &&
				    strcmp(p->pend[k].id, orig) == 0;
			if (!ours && key_finish(q, orig, origname) == -1) {
				r = -1;
				break;
			}
			strlcpy(dup[i], orig, sizeof(dup[i]));
			unlinkat(q->tmpfd, p->pend[i].id, 0);
			r = 0;
		} else if (r == 0 && ((r = mq_name_format(&p->pend[i], name,
		    sizeof(name))) == -1 || (r = key_record(q, p->pend[i].key,
		    p->pend[i].id, name, 0)) == -1))
			break;
	}
	if (r == 0 && q->conf.sync != MQ_SYNC_NONE && syncfs(q->tmpfd) == -1)
		r = -1;
	/* publish the new ones, in order */
	for (i = 0; i < n && r == 0; i++) {
		if (dup[i][0] != '\0')
			continue;
		pub_ahead(q, n - i);
		if ((r = release(p, &p->pend[i])) == 0)
			nnew = i + 1;
	}
	pub_ahead(q, 0);
	saved = errno;
	if (r == -1) {
		/* what was not published goes, with its key record */
		for (k = nnew; k < n; k++) {
			if (dup[k][0] != '\0')
				continue;
			if (p->pend[k].key[0] != '\0')
				key_forget(q, p->pend[k].key, p->pend[k].id);
			unlinkat(q->tmpfd, p->pend[k].id, 0);
		}
		n = nnew;
	}
	/* report what made it, once durable; visible but not durable: none */
	if (mq_sync_dirs(q) == -1) {
		if (r == 0)
			saved = errno;
		r = -1;
		n = 0;
	}
	key_lock_all(q, p->pend, p->npend, F_UNLCK);
	for (i = 0; i < n; i++)
		emit(p, dup[i][0] != '\0' ? dup[i] : p->pend[i].id);
	for (i = 0; i < p->npend; i++)
		if (p->pend[i].key[0] != '\0') {
			key_sweep(q, p->pend[i].key);
			break;
		}
	p->npend = p->nkeyed = 0;
	free(dup);
	errno = saved;
	return r;
}

size_t
mq_put_ready(struct mq_putter *p, const char ***ids)
{
	size_t n = p->nout;

	*ids = p->out;
	p->nout = 0;
	return n;
}

int
mq_put_end(struct mq_putter *p)
{
	int r = 0;

	if (p == NULL)
		return 0;
	if (p->pend != NULL)
		r = mq_put_commit(p);
	free(p->pend);
	free(p->ids);
	free(p->out);
	fanout_free(p->fan);
	free(p);
	return r;
}
