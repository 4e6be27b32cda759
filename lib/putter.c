/*
 * putter.c - a producer's state between puts: the messages written and not
 * yet published, and the ids ready to hand back.  put.c and dedup.c fill
 * it; here is how what is pending goes: published in one group commit
 * (commit) or to a topic's subscribers (fan_commit), one at a time
 * (release), reported (emit), or given up (drop).
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Publish one written tmp file under its final name (or prepare it). */
int
release(struct mq_putter *p, struct mq_name *m)
{
	char name[MQ_NAME_MAX + 1];
	int r;

	/* a message of an ordered group may have to wait its turn */
	if (p->o.prepare)
		r = prepare(p->q, p->q->tmpfd, m->id, m, name);
	else
		r = admit(p->q, p->q->tmpfd, m->id, m);
	if (r == -1) {
		int saved = errno;

		unlinkat(p->q->tmpfd, m->id, 0);
		errno = saved;
	}
	return r;
}

/*
 * A prepared message's handle, for mq_put_ready: its name is that of the
 * pending message with the id (released into prepared/ by now).
 */
static const char *
prepared_handle(struct mq_putter *p, const char *id, size_t at)
{
	char name[MQ_NAME_MAX + 1];
	size_t i;

	if (p->hnd == NULL &&
	    (p->hnd = calloc(p->cap, sizeof(*p->hnd))) == NULL)
		return NULL;
	for (i = 0; i < p->npend; i++)
		if (strcmp(p->pend[i].id, id) == 0 &&
		    mq_name_format(&p->pend[i], name, sizeof(name)) == 0 &&
		    fmt_handle(p->hnd[at], sizeof(p->hnd[0]), p->q->path,
		    MQ_PREPARED, NULL, name) == 0)
			return p->hnd[at];
	return NULL;	/* a duplicate's: its id, as a put reports it */
}

void
emit(struct mq_putter *p, const char *id)
{
	const char *h;
	size_t i;

	/* a caller that never asks (mq_put_ready) gets the latest only */
	if (p->nout == p->cap) {
		memmove(p->ids, p->ids + 1, (p->cap - 1) * sizeof(*p->ids));
		if (p->hnd != NULL)
			memmove(p->hnd, p->hnd + 1,
			    (p->cap - 1) * sizeof(*p->hnd));
		for (i = 0; i + 1 < p->cap; i++)
			p->out[i] = p->hnd != NULL &&
			    p->out[i + 1] == p->hnd[i + 1] ? p->hnd[i] :
			    p->ids[i];
		p->nout--;
	}
	strlcpy(p->ids[p->nout], id, sizeof(p->ids[0]));
	p->out[p->nout] = p->ids[p->nout];
	if (p->o.prepare && (h = prepared_handle(p, id, p->nout)) != NULL)
		p->out[p->nout] = h;
	p->nout++;
}

/* Give up what is pending: its bodies go. */
int
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
 * every one of them has, and those that went to the topic's dead/, where
 * no binding took them (counted apart: mq-put says so).  Call between
 * fanout_begin and fanout_end.
 */
int
fan_commit(struct mq_putter *p)
{
	size_t i, j, k, nok;
	int r = 0;

	/*
	 * In runs of one key (or none): a group commit can mix them.  Routing
	 * keys are fanout_put's, message by message: mq-recv's vary in a run.
	 */
	for (i = 0; i < p->npend && r == 0; i = j) {
		for (j = i + 1; j < p->npend &&
		    strcmp(p->pend[j].key, p->pend[i].key) == 0; j++)
			;
		/*
		 * 1: every subscriber knew the run's key, and nothing was put:
		 * that run is done, as a known key's put is, and the next one
		 * goes on (it once ended the commit: mq-recv acked to the
		 * broker what it then threw away).
		 */
		r = fanout_put(p->fan, p->pend + i, j - i,
		    p->pend[i].key[0] != '\0' ? p->pend[i].key : NULL, &nok);
		if (r == 1)
			r = 0;
		for (k = 0; k < nok; k++) {
			emit(p, p->pend[i + k].id);
			/* a put made dead on purpose (mq-recv) is no news */
			if (strcmp(p->pend[i + k].reason, R_UNROUTABLE) == 0)
				p->nunroutable++;
		}
	}
	/* after a failure: the runs not tried go too */
	for (; i < p->npend; i++)
		unlinkat(p->q->tmpfd, p->pend[i].id, 0);
	p->npend = p->nkeyed = 0;
	return r;
}

long long
mq_put_unroutable(const struct mq_putter *p)
{
	return p->nunroutable;
}

int
commit(struct mq_putter *p)
{
	struct mq_queue *q = p->q;
	long long bytes;
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
	/* a limit's count taken once for the group, if it all fits */
	for (i = 0, bytes = 0; i < p->npend; i++)
		bytes += backlog_bytes(&p->pend[i]);
	backlog_ahead(q, (long long)p->npend, bytes);
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
			backlog_ahead_end(q);
			errno = saved;
			return -1;
		}
	}
	pub_ahead(q, 0);
	backlog_ahead_end(q);
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
