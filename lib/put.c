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
	if (o->headers != NULL) {
		if (mq_headers_check(o->headers) == -1)
			return -1;
		p->hdr.len = o->headers->len;
		memcpy(p->hdr.buf, o->headers->buf, o->headers->len);
		p->o.headers = &p->hdr;
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
	/* before the fsync and the rename: as durable as the body, at once */
	if (headers_write(fd, p->o.headers) == -1 || own_file(q, fd) == -1)
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
	/* admit sends it to dead/; a reason the grammar refuses fails here */
	if (p->o.dead != NULL &&
	    strlcpy(m.reason, p->o.dead, sizeof(m.reason)) >= sizeof(m.reason)) {
		errno = EINVAL;
		goto fail;
	}
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
	else if (r > 0 && p->o.prepare) {
		/* a commit would not know which subscribers to go to */
		errno = MQ_EISTOPIC;
		r = drop(p);
	} else if (r > 0)
		r = fan_commit(p);
	else
		r = drop(p);
	p->nkeyed = 0;
	fanout_end(p->fan);
	/* a put, as an ack, drops a step of what retain let go (expire.c) */
	if (r >= 0)
		expire_step(p->q);
	return r < 0 ? -1 : 0;
}

const char *
mq_put_failure(const struct mq_putter *p, size_t i, int *err)
{
	return fanout_failure(p->fan, i, err);
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
	free(p->hnd);
	fanout_free(p->fan);
	free(p);
	return r;
}
