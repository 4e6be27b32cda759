/*
 * sub.c - subscriptions and their bindings changed: which queues a topic
 * fans out to (subs/ of the topic, mq-sub), and which routing keys each
 * takes.  See fanout.c for how they are read, the fan-out itself and its
 * invariants.
 *
 * A subscriber's bindings are the content of its entry, one pattern a
 * line, written whole to a new file and renamed over the entry, made
 * durable before the call returns, under the subscription lock exclusive:
 * a put, which reads them under that lock shared, sees the set before or
 * after, never half.  Only the topic's owner or root may write them,
 * since no other's are trusted (fanout.c).
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

int
mq_subscribers(struct mq_queue *q, char ***names, size_t *n)
{
	return read_subs(q, names, n);
}

/* Whether queue name is the subscriber of a topic of the spool. */
static int
subscribes(const struct mq_queue *q)
{
	char **v;
	size_t n;

	if (topics_of(q, &v, &n) == -1)
		return -1;
	free_names(v, n);
	return n > 0;
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
 * mq-stat(1) counts them, or prepared (a commit would publish it where
 * no one takes it).  Otherwise MQ_ENOTEMPTY, and *pending is their
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
	    st.count[MQ_INFLIGHT] + st.count[MQ_PREPARED];
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

/* The entry's bindings, pattern added unless there already: 1 if added. */
static int
with_binding(const char *buf, size_t len, const char *pattern, char **out,
    size_t *olen)
{
	const char *p, *nl;
	size_t pl = strlen(pattern);

	for (p = buf; buf != NULL && p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if ((size_t)(nl - p) == pl && memcmp(p, pattern, pl) == 0)
			return 0;
	}
	if (len + pl + 1 > BINDINGS_MAX) {
		errno = MQ_EPATTERN;
		return -1;
	}
	if ((*out = malloc(len + pl + 1)) == NULL)
		return -1;
	if (len > 0)
		memcpy(*out, buf, len);
	memcpy(*out + len, pattern, pl);
	(*out)[len + pl] = '\n';
	*olen = len + pl + 1;
	return 1;
}

/*
 * Replace the entry name of subs/ (fd) with one holding buf: written in
 * the topic's tmp/, as a body is, fsynced, renamed over the entry, and the
 * directory fsynced whatever the sync mode: mq-sub says it is done only
 * once it is.  Readable by all who put to the topic; written by no one
 * else (trust.c).
 */
static int
write_bindings(struct mq_queue *t, int fd, const char *name, const char *buf,
    size_t len)
{
	char id[MQ_ID_LEN + 1];
	ssize_t w;
	size_t off = 0;
	int bf, saved;

	if (geteuid() != t->owner && geteuid() != 0) {
		errno = EPERM;
		return -1;
	}
	if (mq_new_id(id) == -1)
		return -1;
	if ((bf = mq_openat(t->tmpfd, id, O_WRONLY | O_CREAT | O_EXCL,
	    0644)) == -1)
		return -1;
	if (fchmod(bf, 0644) == -1)
		goto fail;
	while (off < len) {
		if ((w = write(bf, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(bf) == -1 || close(bf) == -1) {
		bf = -1;
		goto fail;
	}
	bf = -1;
	if (renameat(t->tmpfd, id, fd, name) == 0)
		return fsync(fd);
fail:
	/* the entry is as it was: nothing half-written is left in tmp/ */
	saved = errno;
	close_fd(&bf);
	unlinkat(t->tmpfd, id, 0);
	errno = saved;
	return -1;
}

/* Add a binding to s's entry in subs/ (fd), made if missing. */
static int
add_binding(struct mq_queue *t, int fd, const char *name, const char *pattern)
{
	char why[8], *buf = NULL, *nb = NULL;
	size_t len = 0, nlen = 0;
	int r;

	if (read_bindings(t, fd, name, &buf, &len, why, sizeof(why)) == -1 &&
	    errno != ENOENT)
		return -1;
	/* the first explicit binding replaces the implicit "#" */
	if ((r = with_binding(buf, len, pattern, &nb, &nlen)) == 1)
		r = write_bindings(t, fd, name, nb, nlen);
	free(buf);
	free(nb);
	return r;
}

/*
 * Subscribe queue s to topic t: an empty file subs/NAME, made durable, or
 * with pattern, one that binds it (with the bindings it had).
 * Subscribing twice is no error.  Fan-out stays one level deep: a queue
 * with subscribers cannot subscribe (MQ_EISTOPIC), a subscriber cannot get
 * subscribers (MQ_EISSUB).  The first subscriber of a queue that still
 * holds messages to deliver is refused (MQ_ENOTEMPTY, *pending of them).
 */
int
mq_subscribe(struct mq_queue *t, struct mq_queue *s, const char *pattern,
    long long *pending)
{
	struct stat st;
	char **v;
	size_t n;
	int fd = -1, sf, r = -1, saved;

	*pending = 0;
	if (pattern != NULL && !mq_route_ok(pattern, strlen(pattern))) {
		errno = MQ_EPATTERN;
		return -1;
	}
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
	if (pattern != NULL) {
		r = add_binding(t, fd, s->name, pattern);
		goto out;
	}
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

/*
 * Remove one binding of a subscriber; without its last, the subscription
 * goes: a subscriber bound to nothing would get nothing, and an empty
 * entry is the implicit "#", everything.
 */
int
mq_unbind(struct mq_queue *t, const char *name, const char *pattern)
{
	const char *p, *nl;
	char why[8], *buf = NULL, *nb = NULL;
	size_t len, pl, k = 0;
	int fd, r = -1, saved, found = 0;

	if (!mq_queue_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (!mq_route_ok(pattern, pl = strlen(pattern))) {
		errno = MQ_EPATTERN;
		return -1;
	}
	if (lock_ex(t, LK_SUBS) == -1)
		return -1;
	if ((fd = open_dir(t, t->dfd, L_SUBS, 0)) == -1)
		goto out;
	if (read_bindings(t, fd, name, &buf, &len, why, sizeof(why)) == -1)
		goto out;
	if (buf == NULL) {
		/* the implicit "#" is its one binding */
		if (strcmp(pattern, "#") != 0) {
			r = 1;
			goto out;
		}
		if ((r = unlinkat(fd, name, 0)) == 0)
			r = fsync(fd);
		goto out;
	}
	if ((nb = malloc(len)) == NULL)
		goto out;
	for (p = buf; p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if ((size_t)(nl - p) == pl && memcmp(p, pattern, pl) == 0)
			found = 1;
		else {
			memcpy(nb + k, p, (size_t)(nl - p) + 1);
			k += (size_t)(nl - p) + 1;
		}
	}
	if (!found)
		r = 1;
	else if (k > 0)
		r = write_bindings(t, fd, name, nb, k);
	else if ((r = unlinkat(fd, name, 0)) == 0)
		r = fsync(fd);
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(buf);
	free(nb);
	unlock(t, LK_SUBS);
	errno = saved;
	return r;
}

int
mq_bindings(struct mq_queue *t, const char *name, char **buf, size_t *len,
    char *why, size_t whylen)
{
	int fd, r, saved;

	*buf = NULL;
	*len = 0;
	if ((fd = mq_opendirat(t->dfd, L_SUBS)) == -1)
		return -1;
	r = read_bindings(t, fd, name, buf, len, why, whylen);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}
