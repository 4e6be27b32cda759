/*
 * sub.c - subscriptions: which queues a topic fans out to (subs/ of the
 * topic, mq-sub).  See fanout.c for the fan-out itself and its
 * invariants.
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

/*
 * The subscribers of a queue, sorted.  Names that are not queue names, or
 * that name the queue itself, were not made by mq-sub: they are skipped.
 */
int
read_subs(struct mq_queue *q, char ***names, size_t *n)
{
	char **v;
	size_t nv, i, k = 0;

	*names = NULL;
	*n = 0;
	if (list_names(q->dfd, L_SUBS, &v, &nv, LN_SORT | LN_FILES) == -1)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < nv; i++) {
		if (mq_queue_name_ok(v[i]) && strcmp(v[i], q->name) != 0)
			v[k++] = v[i];
		else
			free(v[i]);
	}
	*names = v;
	*n = k;
	return 0;
}

int
mq_subscribers(struct mq_queue *q, char ***names, size_t *n)
{
	return read_subs(q, names, n);
}

/* Whether queue name is the subscriber of a topic of the spool. */
static int
subscribes(const struct mq_queue *q)
{
	char spool[PATH_MAX], path[PATH_MAX], **v;
	size_t n, i;
	int found = 0;

	spool_of(q, spool, sizeof(spool));
	if (mq_list_queues(spool, &v, &n) == -1)
		return -1;
	for (i = 0; i < n && !found; i++)
		found = strcmp(v[i], q->name) != 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s/%s/%s", spool,
		    v[i], L_SUBS, q->name) < sizeof(path) &&
		    faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	free_names(v, n);
	return found;
}

/* The subscription locks of two queues, in name order: no deadlock. */
static int
lock_pair(struct mq_queue *a, struct mq_queue *b, int type)
{
	struct mq_queue *x = a, *y = b;

	if (strcmp(a->name, b->name) > 0) {
		x = b;
		y = a;
	}
	if (lk(x, LK_SUBS, 1, type) == -1)
		return -1;
	if (lk(y, LK_SUBS, 1, type) == -1) {
		int saved = errno;

		unlock(x, LK_SUBS);
		errno = saved;
		return -1;
	}
	return 0;
}

/* Make a change to subs/ durable, unless sync is none. */
static int
sync_subs(struct mq_queue *t, int fd)
{
	if (t->conf.sync == MQ_SYNC_NONE)
		return 0;
	return fsync(fd);
}

/*
 * Whether topic t may take a subscriber: yes when it has some already (a
 * topic keeps nothing), else only if it holds nothing still to deliver:
 * ready, waiting their group's turn, delayed or in flight, counted as
 * mq-stat(1) counts them.  Otherwise MQ_ENOTEMPTY, and *pending is their
 * number.  Held and dead messages are out of delivery: they do not count.
 */
static int
may_subscribe(struct mq_queue *t, long long *pending)
{
	struct mq_stat st;
	char **v;
	size_t n;

	*pending = 0;
	if (read_subs(t, &v, &n) == -1)
		return -1;
	free_names(v, n);
	if (n > 0)
		return 0;
	if (mq_stat(t, &st) == -1)
		return -1;
	*pending = st.count[MQ_READY] + st.count[MQ_DELAYED] +
	    st.count[MQ_INFLIGHT];
	if (*pending > 0) {
		errno = MQ_ENOTEMPTY;
		return -1;
	}
	return 0;
}

/*
 * The same question without the lock, so that mq-sub can refuse before it
 * creates a subscriber's queue; only mq_subscribe's answer is binding.
 */
int
mq_subscribe_check(struct mq_queue *t, long long *pending)
{
	return may_subscribe(t, pending);
}

/*
 * Subscribe queue s to topic t: an empty file subs/NAME, made durable.
 * Subscribing twice is no error.  Fan-out stays one level deep: a queue
 * with subscribers cannot subscribe (MQ_EISTOPIC), a subscriber cannot get
 * subscribers (MQ_EISSUB).  The first subscriber of a queue that still
 * holds messages to deliver is refused (MQ_ENOTEMPTY, *pending of them).
 */
int
mq_subscribe(struct mq_queue *t, struct mq_queue *s, long long *pending)
{
	struct stat st;
	char **v;
	size_t n;
	int fd = -1, sf, r = -1, saved;

	*pending = 0;
	if (strcmp(t->name, s->name) == 0) {
		errno = MQ_EISTOPIC;
		return -1;
	}
	if (lock_pair(t, s, F_WRLCK) == -1)
		return -1;
	if (read_subs(s, &v, &n) == -1)
		goto out;
	free_names(v, n);
	if (n > 0) {
		errno = MQ_EISTOPIC;
		goto out;
	}
	if ((r = subscribes(t)) != 0) {
		if (r == 1)
			errno = MQ_EISSUB;
		r = -1;
		goto out;
	}
	r = -1;
	/*
	 * Counted under t's subscription lock, exclusive until subs/ names
	 * s: every put that saw no subscriber has published by now (it holds
	 * the lock shared until then), and every later one will see s.  The
	 * count takes t's other locks after the subscription locks, as the
	 * lock order wants; holding s's too cannot deadlock, as no one waits
	 * for a subscription lock holding any lock but the subscription lock
	 * of a queue earlier in name order.
	 */
	if (may_subscribe(t, pending) == -1)
		goto out;
	if ((fd = open_dir(t, t->dfd, L_SUBS, 1)) == -1)
		goto out;
	/* there already: subscribed, if it is a file (list_names' LN_FILES) */
	sf = mq_openat(fd, s->name, O_WRONLY | O_CREAT | O_EXCL,
	    t->conf.mode >= 0 ? t->conf.mode : 0666);
	if (sf != -1)
		close(sf);
	else if (errno != EEXIST ||
	    fstatat(fd, s->name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		goto out;
	else if (!S_ISREG(st.st_mode)) {
		errno = MQ_ENOTREG;
		goto out;
	}
	r = sync_subs(t, fd);
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	lock_pair(t, s, F_UNLCK);
	errno = saved;
	return r;
}

/* Unsubscribe a queue: ENOENT when it was not subscribed. */
int
mq_unsubscribe(struct mq_queue *t, const char *name)
{
	int fd, r = -1, saved;

	if (!mq_queue_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (lock_ex(t, LK_SUBS) == -1)
		return -1;
	if ((fd = open_dir(t, t->dfd, L_SUBS, 0)) != -1) {
		if ((r = unlinkat(fd, name, 0)) == 0)
			r = sync_subs(t, fd);
		saved = errno;
		close(fd);
		errno = saved;
	}
	saved = errno;
	unlock(t, LK_SUBS);
	errno = saved;
	return r;
}
