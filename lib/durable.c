/*
 * durable.c - the directories a command changed, made durable before it
 * reports success.  A move marks the directories it changed (mark_dirty);
 * mq_sync_dirs fsyncs each once, so a batch of moves into one bucket costs
 * one fsync.  With sync = none nothing is marked.
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

/* Remember a directory to fsync before the command reports success. */
int
mark_dirty(struct mq_queue *q, const char *rel)
{
	size_t i;

	if (q->conf.sync == MQ_SYNC_NONE)
		return 0;
	/* newest first: marks come in runs, one bucket after another */
	for (i = q->dirty.n; i-- > 0;)
		if (strcmp(q->dirty.v[i], rel) == 0)
			return 0;
	return names_push(&q->dirty.v, &q->dirty.n, &q->dirty.cap, rel);
}

int
mq_sync_dirs(struct mq_queue *q)
{
	size_t i;
	int r = 0, saved = 0;

	for (i = 0; i < q->dirty.n; i++) {
		/* a bucket removed meanwhile has nothing left to make durable */
		if (fsyncat(q->dfd, q->dirty.v[i]) == -1 && errno != ENOENT &&
		    saved == 0) {
			saved = errno;
			r = -1;
		}
	}
	dirty_close(&q->dirty);
	if (r == -1)
		errno = saved;
	return r;
}

void
dirty_close(struct dirty *d)
{
	free_names(d->v, d->n);
	d->v = NULL;
	d->n = d->cap = 0;
}
