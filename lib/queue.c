/*
 * queue.c - the queue object put together: its core (spool.c) and the
 * part each layer keeps in it (internal.h), each with its own close.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct mq_queue *
mq_queue_open(const char *spool, const char *name, int flags,
    struct mq_conferr *ce)
{
	struct mq_queue *q;
	int saved;

	memset(ce, 0, sizeof(*ce));
	if (!mq_queue_name_ok(name)) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	/* every descriptor closed, before any road to mq_queue_close */
	spool_init_queue(q);
	q->mv.fd = q->keys.fd = q->groups.fd = q->drain.fd = q->watch.fd = -1;
	q->heads.fd = -1;
	if (spool_open_queue(q, spool, name, flags, ce) == -1) {
		saved = errno;
		mq_queue_close(q);
		errno = saved;
		return NULL;
	}
	return q;
}

void
mq_queue_close(struct mq_queue *q)
{
	if (q == NULL)
		return;
	watch_close(&q->watch);
	drain_close(&q->drain);
	heads_close(&q->heads);
	groups_close(&q->groups);
	keys_close(&q->keys);
	mv_close(&q->mv);
	dirty_close(&q->dirty);
	spool_close_queue(q);
	free(q);
}
